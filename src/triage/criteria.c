/* The severity criteria: config/criteria.yaml read into a kb_triage_policy.
 * Any error refuses the whole file with "path:line: reason"; nothing of a
 * refused file is ever used. The keys are documented in the shipped file
 * and in docs/triage.md. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/yaml.h"
#include "store/hunt.h"
#include "triage/triage-policy.h"

static const char *const sev_names[KB_SEV_COUNT] = {"low", "medium", "high", "critical"};

const char *kb_sev_name(int sev)
{
    return sev >= 0 && sev < KB_SEV_COUNT ? sev_names[sev] : "?";
}

int kb_sev_find(const char *s, size_t len)
{
    for (int i = 0; i < KB_SEV_COUNT; i++)
        if (kb_str_ieqz(s, len, sev_names[i]))
            return i;
    return -1;
}

int kb_triage_level_find(const char *s, size_t len)
{
    static const char *const lv[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (kb_str_ieqz(s, len, lv[i]))
            return i;
    if (kb_str_ieqz(s, len, "info"))
        return 0;
    return -1;
}

int policy_cmp(int op, int64_t a, int64_t b)
{
    switch (op) {
    case OP_GE: return a >= b;
    case OP_GT: return a > b;
    case OP_LE: return a <= b;
    case OP_LT: return a < b;
    default: return a == b;
    }
}

const char *policy_op_name(int op)
{
    static const char *const n[] = {">=", ">", "<=", "<", "=="};
    return n[op];
}

typedef struct ld {
    kb_triage_policy *pol;
    const char *path;
    char *err;
    size_t errsize;
    int failed;
} ld;

static int fail(ld *l, const kb_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(ld *l, const kb_yaml_node *n, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (l->failed)
        return KB_EPARSE;
    l->failed = 1;
    k = snprintf(l->err, l->errsize, "%s:%u: ", l->path, n ? n->line : 0);
    if (k < 0 || (size_t)k >= l->errsize)
        return KB_EPARSE;
    va_start(ap, fmt);
    vsnprintf(l->err + k, l->errsize - (size_t)k, fmt, ap);
    va_end(ap);
    return KB_EPARSE;
}

static const char *dupn(ld *l, const kb_yaml_node *n)
{
    return kb_arena_strndup(l->pol->arena, n->str, n->len);
}

static int scalar(ld *l, const kb_yaml_node *n, const char *what)
{
    if (!n || n->kind != KB_YAML_SCALAR || kb_yaml_is_null(n))
        return fail(l, n, "%s: expected a value", what);
    return KB_OK;
}

/* A scalar or a sequence of scalars. */
static int list(ld *l, const kb_yaml_node *n, const char *what, strlist *out)
{
    size_t cnt = n->kind == KB_YAML_SEQ ? n->n : 1;
    if (n->kind == KB_YAML_MAP)
        return fail(l, n, "%s: expected a list", what);
    out->v = kb_arena_alloc(l->pol->arena, (cnt ? cnt : 1) * sizeof *out->v);
    out->n = 0;
    if (!out->v)
        return KB_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const kb_yaml_node *it = n->kind == KB_YAML_SEQ ? n->items[i] : n;
        if (scalar(l, it, what))
            return KB_EPARSE;
        if (!(out->v[out->n++] = dupn(l, it)))
            return KB_ENOMEM;
    }
    return KB_OK;
}

static int sev_of(ld *l, const kb_yaml_node *n, const char *what, int *out)
{
    if (scalar(l, n, what))
        return KB_EPARSE;
    if ((*out = kb_sev_find(n->str, n->len)) < 0)
        return fail(l, n, "%s: '%s' is not low, medium, high or critical", what, n->str);
    return KB_OK;
}

static int signal_mask(ld *l, const kb_yaml_node *n, const char *what, uint32_t *mask)
{
    strlist s;
    int rc;
    if ((rc = list(l, n, what, &s)))
        return rc;
    for (size_t i = 0; i < s.n; i++) {
        size_t k;
        for (k = 0; k < l->pol->nsig; k++)
            if (strcmp(l->pol->sig[k].name, s.v[i]) == 0)
                break;
        if (k == l->pol->nsig)
            return fail(l, n, "%s: unknown signal '%s' (define it under signals:)", what,
                        s.v[i]);
        *mask |= 1u << k;
    }
    return KB_OK;
}

/* ">= 2", "> high", "3" (meaning >= 3). Levels read as 0..4. */
static int comparison(ld *l, const kb_yaml_node *n, const char *what, int levels, int *op,
                      int64_t *num)
{
    const char *s = n->str;
    size_t len = n->len, i = 0;
    if (n->kind != KB_YAML_SCALAR || !len)
        return fail(l, n, "%s: expected a comparison like '>= 2'", what);
    *op = OP_GE;
    if (len >= 2 && s[0] == '>' && s[1] == '=')
        *op = OP_GE, i = 2;
    else if (len >= 2 && s[0] == '<' && s[1] == '=')
        *op = OP_LE, i = 2;
    else if (len >= 2 && s[0] == '=' && s[1] == '=')
        *op = OP_EQ, i = 2;
    else if (s[0] == '>')
        *op = OP_GT, i = 1;
    else if (s[0] == '<')
        *op = OP_LT, i = 1;
    kb_str v = str_trim(s + i, len - i);
    if (levels) {
        int lv = kb_triage_level_find(v.p, v.len);
        if (lv < 0)
            return fail(l, n, "%s: '%.*s' is not a level (informational..critical)", what,
                        (int)v.len, v.p);
        *num = lv;
        return KB_OK;
    }
    if (kb_parse_i64(v.p, v.len, num))
        return fail(l, n, "%s: '%.*s' is not a number", what, (int)v.len, v.p);
    return KB_OK;
}

static int matcher_of(ld *l, const kb_yaml_node *n, const char *what, matcher *m, int sigs)
{
    int rc;
    memset(m, 0, sizeof *m);
    m->min_level = -1;
    if (!n || n->kind != KB_YAML_MAP)
        return fail(l, n, "%s: expected a mapping (tags, names, threat_types, rules%s, level)",
                    what, sigs ? ", signals" : "");
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (kb_str_eqz(k->str, k->len, "tags"))
            rc = list(l, v, "tags", &m->tags);
        else if (kb_str_eqz(k->str, k->len, "names"))
            rc = list(l, v, "names", &m->names);
        else if (kb_str_eqz(k->str, k->len, "threat_types"))
            rc = list(l, v, "threat_types", &m->threats);
        else if (kb_str_eqz(k->str, k->len, "rules"))
            rc = list(l, v, "rules", &m->rules);
        else if (sigs && kb_str_eqz(k->str, k->len, "signals"))
            rc = signal_mask(l, v, "signals", &m->signals);
        else if (kb_str_eqz(k->str, k->len, "level")) {
            int op;
            int64_t num;
            if ((rc = comparison(l, v, "level", 1, &op, &num)) == KB_OK) {
                if (op != OP_GE)
                    return fail(l, v, "level: only '>= LEVEL' is allowed here");
                m->min_level = (int)num;
            }
        } else
            return fail(l, k, "%s: unknown key '%s'", what, k->str);
        if (rc)
            return rc;
    }
    return KB_OK;
}

static int signals_of(ld *l, const kb_yaml_node *n)
{
    if (n->kind != KB_YAML_MAP)
        return fail(l, n, "signals: expected a mapping of name: {tags, names, ...}");
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
        psignal *s;
        if (l->pol->nsig == POL_MAX_SIGNALS)
            return fail(l, k, "more than %d signals", POL_MAX_SIGNALS);
        s = &l->pol->sig[l->pol->nsig];
        if (scalar(l, k, "signals: a signal's name"))
            return KB_EPARSE;
        if (!(s->name = dupn(l, k)))
            return KB_ENOMEM;
        for (size_t j = 0; j < l->pol->nsig; j++)
            if (strcmp(l->pol->sig[j].name, s->name) == 0)
                return fail(l, k, "signal '%s' defined twice", s->name);
        if (matcher_of(l, v, "signal", &s->m, 0))
            return KB_EPARSE;
        l->pol->nsig++;
    }
    return KB_OK;
}

static int group_by(ld *l, const kb_yaml_node *n, ptype *t)
{
    static const char *const names[GB_COUNT] = {"host", "source-host", "user", "source",
                                                "destination"};
    strlist s;
    int rc;
    if ((rc = list(l, n, "group_by", &s)))
        return rc;
    t->ngroup = 0;
    for (size_t i = 0; i < s.n && t->ngroup < GB_COUNT; i++) {
        int k;
        for (k = 0; k < GB_COUNT; k++)
            if (strcmp(names[k], s.v[i]) == 0)
                break;
        if (k == GB_COUNT)
            return fail(l, n, "group_by: '%s' is not host, source-host, user, source or"
                              " destination",
                        s.v[i]);
        t->group_by[t->ngroup++] = k;
    }
    return KB_OK;
}

static int types_of(ld *l, const kb_yaml_node *n)
{
    kb_triage_policy *pol = l->pol;
    if (n->kind != KB_YAML_SEQ)
        return fail(l, n, "types: expected a list (highest priority first)");
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *m = n->items[i];
        ptype *t;
        int have_match = 0, have_base = 0, rc;
        if (pol->ntypes == POL_MAX_TYPES)
            return fail(l, m, "more than %d types", POL_MAX_TYPES);
        if (m->kind != KB_YAML_MAP)
            return fail(l, m, "types: each type is a mapping");
        t = &pol->types[pol->ntypes];
        memset(t, 0, sizeof *t);
        t->line = m->line;
        t->group_by[0] = GB_HOST, t->group_by[1] = GB_USER, t->group_by[2] = GB_SOURCE;
        t->ngroup = 3;
        for (size_t j = 0; j < m->n; j++) {
            const kb_yaml_node *k = m->items[2 * j], *v = m->items[2 * j + 1];
            rc = KB_OK;
            if (kb_str_eqz(k->str, k->len, "name")) {
                if (scalar(l, v, "name") || !(t->name = dupn(l, v)))
                    return KB_EPARSE;
            } else if (kb_str_eqz(k->str, k->len, "title")) {
                if (scalar(l, v, "title") || !(t->title = dupn(l, v)))
                    return KB_EPARSE;
            } else if (kb_str_eqz(k->str, k->len, "match")) {
                rc = matcher_of(l, v, "match", &t->m, 1);
                have_match = 1;
            } else if (kb_str_eqz(k->str, k->len, "detect")) {
                if (scalar(l, v, "detect"))
                    return KB_EPARSE;
                if (kb_str_eqz(v->str, v->len, "confirmed"))
                    t->confirmed = 1;
                else if (!kb_str_eqz(v->str, v->len, "alone"))
                    return fail(l, v, "detect: expected 'alone' or 'confirmed'");
            } else if (kb_str_eqz(k->str, k->len, "confirm")) {
                if (v->kind != KB_YAML_MAP)
                    return fail(l, v, "confirm: expected {all: [...], any: [...]}");
                for (size_t q = 0; q < v->n && !rc; q++) {
                    const kb_yaml_node *ck = v->items[2 * q], *cv = v->items[2 * q + 1];
                    if (kb_str_eqz(ck->str, ck->len, "all"))
                        rc = signal_mask(l, cv, "confirm.all", &t->all);
                    else if (kb_str_eqz(ck->str, ck->len, "any"))
                        rc = signal_mask(l, cv, "confirm.any", &t->any);
                    else
                        return fail(l, ck, "confirm: unknown key '%s'", ck->str);
                }
            } else if (kb_str_eqz(k->str, k->len, "group_by")) {
                rc = group_by(l, v, t);
            } else if (kb_str_eqz(k->str, k->len, "spread_by")) {
                if (scalar(l, v, "spread_by"))
                    return KB_EPARSE;
                if (kb_str_eqz(v->str, v->len, "rule"))
                    t->spread_rule = 1;
                else if (!kb_str_eqz(v->str, v->len, "entity"))
                    return fail(l, v, "spread_by: expected 'rule' or 'entity'");
            } else if (kb_str_eqz(k->str, k->len, "base")) {
                rc = sev_of(l, v, "base", &t->base);
                have_base = 1;
            } else {
                return fail(l, k, "types: unknown key '%s'", k->str);
            }
            if (rc)
                return rc;
        }
        if (!t->name)
            return fail(l, m, "type without a name");
        for (size_t j = 0; j < pol->ntypes; j++)
            if (strcmp(pol->types[j].name, t->name) == 0)
                return fail(l, m, "type '%s' defined twice", t->name);
        if (!have_match)
            return fail(l, m, "type '%s' has no match:", t->name);
        if (!have_base)
            return fail(l, m, "type '%s' has no base: severity", t->name);
        if (t->confirmed && !t->all && !t->any)
            return fail(l, m, "type '%s' is detect: confirmed but has no confirm:", t->name);
        if (!t->title)
            t->title = t->name;
        pol->ntypes++;
    }
    return KB_OK;
}

static int cond_of(ld *l, const kb_yaml_node *k, const kb_yaml_node *v, pcond *c)
{
    kb_triage_policy *pol = l->pol;
    static const struct {
        const char *key;
        int kind, cmp; /* cmp: 0 list, 1 number, 2 level, 3 bool */
    } keys[] = {
        {"type", C_TYPE, 0},           {"system_type", C_SYSTEM_TYPE, 0},
        {"criticality", C_CRITICALITY, 1}, {"asset_tags", C_ASSET_TAGS, 0},
        {"vuln", C_VULN, 0},           {"spread", C_SPREAD, 1},
        {"sources", C_SOURCES, 1},     {"level", C_LEVEL, 2},
        {"confidence", C_CONFIDENCE, 1}, {"count", C_COUNT, 1},
        {"signals", C_SIGNALS, 0},     {"unmanaged", C_UNMANAGED, 3},
    };
    size_t i;
    int rc;
    memset(c, 0, sizeof *c);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (kb_str_eqz(k->str, k->len, keys[i].key))
            break;
    if (i == sizeof keys / sizeof keys[0])
        return fail(l, k, "when: unknown input '%s' (type, system_type, criticality,"
                          " asset_tags, vuln, spread, sources, level, confidence, count,"
                          " signals, unmanaged)",
                    k->str);
    c->kind = keys[i].kind;
    c->text = keys[i].key;
    if (keys[i].cmp == 1 || keys[i].cmp == 2) {
        if (v->kind == KB_YAML_SCALAR && keys[i].cmp == 1 && kb_yaml_int(v, &c->num)) {
            c->op = OP_GE;
            return KB_OK;
        }
        return comparison(l, v, keys[i].key, keys[i].cmp == 2, &c->op, &c->num);
    }
    if (keys[i].cmp == 3) {
        int b;
        if (!kb_yaml_bool(v, &b))
            return fail(l, v, "%s: expected true or false", keys[i].key);
        c->num = b;
        return KB_OK;
    }
    if (c->kind == C_SIGNALS)
        return signal_mask(l, v, "signals", &c->mask);
    if ((rc = list(l, v, keys[i].key, &c->list)))
        return rc;
    if (c->kind == C_TYPE) {
        for (size_t j = 0; j < c->list.n; j++) {
            size_t t;
            for (t = 0; t < pol->ntypes; t++)
                if (strcmp(pol->types[t].name, c->list.v[j]) == 0)
                    break;
            if (t == pol->ntypes)
                return fail(l, v, "type: unknown incident type '%s'", c->list.v[j]);
            c->mask |= 1u << t;
        }
    } else if (c->kind == C_VULN) {
        static const char *const vn[] = {"none", "unknown", "patched", "vulnerable"};
        for (size_t j = 0; j < c->list.n; j++) {
            int t;
            for (t = 0; t < 4; t++)
                if (strcmp(vn[t], c->list.v[j]) == 0)
                    break;
            if (t == 4)
                return fail(l, v, "vuln: '%s' is not vulnerable, patched, unknown or none",
                            c->list.v[j]);
            c->mask |= 1u << t;
        }
    }
    return KB_OK;
}

static int rules_of(ld *l, const kb_yaml_node *n)
{
    kb_triage_policy *pol = l->pol;
    if (n->kind != KB_YAML_SEQ)
        return fail(l, n, "severity: expected a list of {when, set|raise|lower|min|max}");
    pol->rules = kb_arena_alloc(pol->arena, (n->n ? n->n : 1) * sizeof *pol->rules);
    if (!pol->rules)
        return KB_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *m = n->items[i];
        prule *r = &pol->rules[pol->nrules];
        int have_act = 0, rc;
        memset(r, 0, sizeof *r);
        r->line = m->line;
        if (m->kind != KB_YAML_MAP)
            return fail(l, m, "severity: each rule is a mapping");
        for (size_t j = 0; j < m->n; j++) {
            const kb_yaml_node *k = m->items[2 * j], *v = m->items[2 * j + 1];
            if (kb_str_eqz(k->str, k->len, "when")) {
                if (v->kind != KB_YAML_MAP)
                    return fail(l, v, "when: expected a mapping of inputs");
                for (size_t q = 0; q < v->n; q++) {
                    if (r->nc == POL_MAX_CONDS)
                        return fail(l, v, "when: more than %d inputs", POL_MAX_CONDS);
                    if ((rc = cond_of(l, v->items[2 * q], v->items[2 * q + 1], &r->c[r->nc])))
                        return rc;
                    r->nc++;
                }
            } else if (kb_str_eqz(k->str, k->len, "because")) {
                if (scalar(l, v, "because") || !(r->because = dupn(l, v)))
                    return KB_EPARSE;
            } else {
                static const char *const acts[] = {"set", "raise", "lower", "min", "max"};
                int a;
                for (a = 0; a < 5; a++)
                    if (kb_str_eqz(k->str, k->len, acts[a]))
                        break;
                if (a == 5)
                    return fail(l, k, "severity: unknown key '%s'", k->str);
                if (have_act)
                    return fail(l, k, "severity: one action per rule");
                have_act = 1;
                r->act = a;
                if (a == A_RAISE || a == A_LOWER) {
                    int64_t x;
                    if (!kb_yaml_int(v, &x) || x < 1 || x > 3)
                        return fail(l, v, "%s: expected 1, 2 or 3 levels", acts[a]);
                    r->val = (int)x;
                } else if ((rc = sev_of(l, v, acts[a], &r->val))) {
                    return rc;
                }
            }
        }
        if (!have_act)
            return fail(l, m, "severity rule without set, raise, lower, min or max");
        pol->nrules++;
    }
    return KB_OK;
}

static int nets_of(ld *l, const kb_yaml_node *n)
{
    strlist s;
    int rc;
    if ((rc = list(l, n, "internal_networks", &s)))
        return rc;
    for (size_t i = 0; i < s.n; i++) {
        if (l->pol->nnets == POL_MAX_NETS)
            return fail(l, n, "more than %d internal networks", POL_MAX_NETS);
        if (kb_cidr_parse(s.v[i], strlen(s.v[i]), &l->pol->nets[l->pol->nnets],
                          &l->pol->bits[l->pol->nnets]))
            return fail(l, n, "internal_networks: '%s' is not an address or ADDR/BITS", s.v[i]);
        l->pol->nnets++;
    }
    return KB_OK;
}

static int actions_of(ld *l, const kb_yaml_node *n)
{
    if (n->kind != KB_YAML_MAP)
        return fail(l, n, "actions: expected a mapping of level: [actions]");
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
        int s, rc;
        if ((rc = sev_of(l, k, "actions", &s)) || (rc = list(l, v, "actions", &l->pol->actions[s])))
            return rc;
    }
    return KB_OK;
}

/* Top-level keys in the order they must be read (signals before types,
 * types before severity): a small table, one pass per key. */
int kb_triage_policy_parse(const char *name, const char *p, size_t len, kb_triage_policy **out,
                           char *err, size_t errsize)
{
    static const char *const order[] = {"version", "window", "notify", "min_alert_level",
                                        "internal_networks", "actions", "signals", "types",
                                        "severity"};
    kb_yaml *y = NULL;
    kb_yaml_error ye = {0};
    kb_triage_policy *pol;
    const kb_yaml_node *root;
    ld l = {NULL, name, err, errsize, 0};
    int rc;

    *out = NULL;
    if (errsize)
        err[0] = 0;
    if (!(pol = kb_calloc(1, sizeof *pol)) || !(pol->arena = kb_arena_new(64 << 10, 64 << 20))) {
        kb_free(pol);
        return KB_ENOMEM;
    }
    l.pol = pol;
    pol->window = 3600 * KB_NS_PER_SEC;
    pol->notify = KB_SEV_MEDIUM;
    pol->min_level = 1;
    pol->path = kb_arena_strndup(pol->arena, name, strlen(name));
    rc = kb_yaml_parse(p, len, NULL, &y, &ye);
    if (rc) {
        snprintf(err, errsize, "%s:%u: %s", name, ye.line, ye.reason ? ye.reason : "bad YAML");
        goto fail;
    }
    if (kb_yaml_ndocs(y) != 1 || (root = kb_yaml_doc(y, 0))->kind != KB_YAML_MAP) {
        rc = fail(&l, NULL, "expected one YAML document holding a mapping");
        goto fail;
    }
    for (size_t i = 0; i < root->n; i++) {
        const kb_yaml_node *k = root->items[2 * i];
        size_t j;
        for (j = 0; j < sizeof order / sizeof order[0]; j++)
            if (kb_str_eqz(k->str, k->len, order[j]))
                break;
        if (j == sizeof order / sizeof order[0]) {
            rc = fail(&l, k, "unknown key '%s'", k->str);
            goto fail;
        }
    }
    for (size_t j = 0; j < sizeof order / sizeof order[0]; j++) {
        const kb_yaml_node *v = kb_yaml_get(root, order[j]);
        if (!v)
            continue;
        switch (j) {
        case 0: {
            int64_t ver;
            if (!kb_yaml_int(v, &ver) || ver != 1)
                rc = fail(&l, v, "version: only version 1 is known");
            break;
        }
        case 1:
            if (v->kind != KB_YAML_SCALAR ||
                kb_hunt_duration(v->str, v->len, &pol->window) || pol->window <= 0)
                rc = fail(&l, v, "window: expected a duration like 1h, 30m or 2d");
            break;
        case 2: rc = sev_of(&l, v, "notify", &pol->notify); break;
        case 3:
            if (scalar(&l, v, "min_alert_level") ||
                (pol->min_level = kb_triage_level_find(v->str, v->len)) < 0)
                rc = fail(&l, v, "min_alert_level: expected informational..critical");
            break;
        case 4: rc = nets_of(&l, v); break;
        case 5: rc = actions_of(&l, v); break;
        case 6: rc = signals_of(&l, v); break;
        case 7: rc = types_of(&l, v); break;
        default: rc = rules_of(&l, v); break;
        }
        if (rc || l.failed) {
            if (!l.failed)
                snprintf(err, errsize, "%s: %s", name, kb_strerror(rc));
            rc = rc ? rc : KB_EPARSE;
            goto fail;
        }
    }
    if (!pol->ntypes) {
        rc = fail(&l, root, "no incident types: the policy needs a types: list");
        goto fail;
    }
    kb_yaml_free(y);
    *out = pol;
    return KB_OK;
fail:
    kb_yaml_free(y);
    kb_triage_policy_free(pol);
    return rc ? rc : KB_EPARSE;
}

char *triage_read_file(const char *path, size_t *len);

int kb_triage_policy_load(const char *path, kb_triage_policy **out, char *err, size_t errsize)
{
    size_t len;
    char *p = triage_read_file(path, &len);
    int rc;
    *out = NULL;
    if (!p) {
        snprintf(err, errsize, "%s: cannot read the criteria file", path);
        return KB_EIO;
    }
    rc = kb_triage_policy_parse(path, p, len, out, err, errsize);
    kb_free(p);
    return rc;
}

void kb_triage_policy_free(kb_triage_policy *pol)
{
    if (!pol)
        return;
    kb_arena_free(pol->arena);
    kb_free(pol);
}

int kb_triage_policy_notify_level(const kb_triage_policy *pol)
{
    return pol->notify;
}

int64_t kb_triage_policy_window(const kb_triage_policy *pol)
{
    return pol->window;
}

int kb_triage_policy_internal(const kb_triage_policy *pol, const kb_ip *ip)
{
    for (size_t i = 0; i < pol->nnets; i++)
        if (kb_cidr_contains(&pol->nets[i], pol->bits[i], ip))
            return 1;
    return 0;
}
