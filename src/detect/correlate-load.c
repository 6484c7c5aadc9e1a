/* Loading and checking Sigma correlation rules. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/yaml.h"
#include "detect/correlate-int.h"
#include "event/event.h"
#include "detect/sigma-int.h"

static const char *const type_names[] = {
#define KB_CORREL_TYPE_NAME(e, s) s,
    KB_CORREL_TYPE_MAP(KB_CORREL_TYPE_NAME)
#undef KB_CORREL_TYPE_NAME
};

const char *kb_correl_type_name(int type)
{
    return type >= 0 && type < KB_CT_COUNT ? type_names[type] : "unknown";
}

static const char *const cond_names[CC_COUNT] = {"gt", "gte", "lt", "lte", "eq", "neq"};

void kb_correl_set_free(struct kb_correl_set *set)
{
    if (!set)
        return;
    kb_free(set->rules);
    kb_arena_free(set->arena);
    kb_free(set);
}

static struct kb_correl_set *set_of(kb_ruleset *rs)
{
    if (!rs->correl) {
        struct kb_correl_set *s = kb_calloc(1, sizeof *s);
        if (!s)
            return NULL;
        if (!(s->arena = kb_arena_new(16 << 10, 64u << 20))) {
            kb_free(s);
            return NULL;
        }
        rs->correl = s;
    }
    return rs->correl;
}

size_t kb_ruleset_correl_count(const kb_ruleset *rs)
{
    return rs && rs->correl ? rs->correl->n : 0;
}

const kb_correl_rule *kb_ruleset_correl(const kb_ruleset *rs, size_t i)
{
    return i < kb_ruleset_correl_count(rs) ? rs->correl->rules[i] : NULL;
}

const kb_correl_rule *kb_ruleset_correl_find(const kb_ruleset *rs, const char *s)
{
    for (size_t i = 0; i < kb_ruleset_correl_count(rs); i++) {
        const kb_correl_rule *cr = rs->correl->rules[i];
        if ((cr->meta.id && strcmp(cr->meta.id, s) == 0) || (cr->name && strcmp(cr->name, s) == 0))
            return cr;
    }
    return NULL;
}

const kb_rule_meta *kb_correl_meta(const kb_correl_rule *cr)
{
    return &cr->meta;
}

const char *kb_correl_rule_name(const kb_correl_rule *cr)
{
    return cr->name;
}

int kb_correl_rule_type(const kb_correl_rule *cr)
{
    return cr->type;
}

int64_t kb_correl_rule_timespan(const kb_correl_rule *cr)
{
    return cr->span;
}

const char *const *kb_correl_rule_refs(const kb_correl_rule *cr, size_t *n)
{
    *n = cr->nrefs;
    return cr->refs;
}

const char *const *kb_correl_rule_group_by(const kb_correl_rule *cr, size_t *n)
{
    *n = cr->ngroup;
    return cr->group;
}

const char *kb_correl_rule_field(const kb_correl_rule *cr)
{
    return cr->field;
}

int kb_correl_rule_generate(const kb_correl_rule *cr)
{
    return cr->generate;
}

int kb_correl_rule_ok(const kb_correl_rule *cr)
{
    return cr->state == CR_OK;
}

/* ---- the document ---------------------------------------------------------- */

typedef struct lctx {
    kb_arena *a;
    char *err;
    size_t errsize;
    uint32_t *line;
} lctx;

static int bad(lctx *c, uint32_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(lctx *c, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errsize, fmt, ap);
    va_end(ap);
    *c->line = line;
    return KB_EPARSE;
}

static const char *dup_node(lctx *c, const kb_yaml_node *n)
{
    return kb_arena_strndup(c->a, n->str, n->len);
}

/* A scalar that is a usable name (no control bytes, not empty), copied. */
static int name_of(lctx *c, const kb_yaml_node *n, const char *what, const char **out)
{
    if (!n || n->kind != KB_YAML_SCALAR || n->len == 0 || n->len > 256)
        return bad(c, n ? n->line : *c->line, "%s must be a non-empty name", what);
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
            return bad(c, n->line, "%s contains a control character", what);
    if (!(*out = dup_node(c, n)))
        return KB_ENOMEM;
    return KB_OK;
}

/* A name or a list of names. */
static int name_list(lctx *c, const kb_yaml_node *n, const char *what, size_t max,
                     const char ***out, size_t *nout)
{
    size_t cnt = n->kind == KB_YAML_SEQ ? n->n : 1;
    const char **v;
    int rc;

    if (n->kind == KB_YAML_MAP)
        return bad(c, n->line, "%s must be a name or a list of names", what);
    if (cnt == 0)
        return bad(c, n->line, "%s is empty", what);
    if (cnt > max)
        return bad(c, n->line, "%s: more than %zu entries", what, max);
    if (!(v = kb_arena_alloc(c->a, cnt * sizeof *v)))
        return KB_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const kb_yaml_node *it = n->kind == KB_YAML_SEQ ? n->items[i] : n;
        if ((rc = name_of(c, it, what, &v[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[j], v[i]) == 0)
                return bad(c, it->line, "%s names '%s' twice", what, v[i]);
    }
    *out = v;
    *nout = cnt;
    return KB_OK;
}

/* "30s", "5m", "1h", "7d", "2w": a positive number and a unit. */
static int parse_span(lctx *c, const kb_yaml_node *n, int64_t *out)
{
    int64_t v, unit;
    if (!n || n->kind != KB_YAML_SCALAR || n->len < 2)
        return bad(c, n ? n->line : *c->line, "timespan must be a number and a unit (s, m, h, d)");
    switch (n->str[n->len - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default:
        return bad(c, n->line, "timespan '%s': unknown unit (s, m, h, d or w)", n->str);
    }
    if (kb_parse_i64(n->str, n->len - 1, &v) || v <= 0)
        return bad(c, n->line, "timespan '%s' is not a positive number and a unit", n->str);
    if (v > CORREL_MAX_SPAN / KB_NS_PER_SEC / unit)
        return bad(c, n->line, "timespan '%s' is longer than a year", n->str);
    *out = v * unit * KB_NS_PER_SEC;
    return KB_OK;
}

static int parse_number(const kb_yaml_node *n, double *out)
{
    if (!n || n->kind != KB_YAML_SCALAR || !kb_yaml_is_number(n))
        return KB_EPARSE;
    return sigma_number(n->str, n->len, out);
}

static int parse_condition(lctx *c, kb_correl_rule *cr, const kb_yaml_node *cond)
{
    int rc;
    if (cond->kind != KB_YAML_MAP)
        return bad(c, cond->line, "condition must be a map such as {gte: 10}");
    for (size_t i = 0; i < cond->n; i++) {
        const kb_yaml_node *k = cond->items[2 * i], *v = cond->items[2 * i + 1];
        int found = 0;
        if (k->kind != KB_YAML_SCALAR)
            return bad(c, k->line, "condition keys must be names");
        if (strcmp(k->str, "field") == 0) {
            if ((rc = name_of(c, v, "condition field", &cr->field)))
                return rc;
            continue;
        }
        if (strcmp(k->str, "percentile") == 0) {
            if (parse_number(v, &cr->pct) || !(cr->pct > 0 && cr->pct <= 100))
                return bad(c, v->line, "percentile must be a number above 0 and at most 100");
            continue;
        }
        for (int j = 0; j < CC_COUNT; j++) {
            if (strcmp(k->str, cond_names[j]) != 0)
                continue;
            if (parse_number(v, &cr->thr[j]))
                return bad(c, v->line, "condition %s wants a number", cond_names[j]);
            cr->has[j] = 1;
            cr->has_cond = found = 1;
        }
        if (!found)
            return bad(c, k->line,
                       "unknown condition '%s' (gt, gte, lt, lte, eq, neq, field, percentile)",
                       k->str);
    }
    if (!cr->has_cond)
        return bad(c, cond->line, "condition needs one of gt, gte, lt, lte, eq, neq");
    return KB_OK;
}

static int parse_aliases(lctx *c, kb_correl_rule *cr, const kb_yaml_node *al)
{
    int rc;
    if (al->kind != KB_YAML_MAP)
        return bad(c, al->line, "aliases must map an alias to {rule: field}");
    if (al->n > CORREL_MAX_ALIASES)
        return bad(c, al->line, "more than %d aliases", CORREL_MAX_ALIASES);
    if (!(cr->aliases = kb_arena_alloc(c->a, (al->n ? al->n : 1) * sizeof *cr->aliases)))
        return KB_ENOMEM;
    for (size_t i = 0; i < al->n; i++) {
        const kb_yaml_node *k = al->items[2 * i], *m = al->items[2 * i + 1];
        correl_alias *a = &cr->aliases[i];
        if ((rc = name_of(c, k, "alias", &a->name)))
            return rc;
        if (m->kind != KB_YAML_MAP || m->n == 0)
            return bad(c, m->line, "alias '%s' must map rule names to fields", a->name);
        if (m->n > CORREL_MAX_REFS)
            return bad(c, m->line, "alias '%s': too many rules", a->name);
        a->refs = kb_arena_alloc(c->a, m->n * sizeof *a->refs);
        a->fields = kb_arena_alloc(c->a, m->n * sizeof *a->fields);
        if (!a->refs || !a->fields)
            return KB_ENOMEM;
        for (size_t j = 0; j < m->n; j++) {
            if ((rc = name_of(c, m->items[2 * j], "alias rule", &a->refs[j])) ||
                (rc = name_of(c, m->items[2 * j + 1], "alias field", &a->fields[j])))
                return rc;
        }
        a->n = m->n;
        cr->naliases++;
    }
    return KB_OK;
}

static const char *meta_copy(lctx *c, const kb_yaml_node *doc, const char *key)
{
    const kb_yaml_node *n = kb_yaml_get(doc, key);
    if (!n || n->kind != KB_YAML_SCALAR || kb_yaml_is_null(n))
        return NULL;
    return dup_node(c, n);
}

static const char *const *meta_copy_list(lctx *c, const kb_yaml_node *doc, const char *key)
{
    static const char *const none[] = {NULL};
    const kb_yaml_node *n = kb_yaml_get(doc, key);
    const char **v;
    size_t k = 0;
    if (!n || n->kind != KB_YAML_SEQ || n->n == 0)
        return none;
    if (!(v = kb_arena_alloc(c->a, (n->n + 1) * sizeof *v)))
        return none;
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->kind == KB_YAML_SCALAR)
            v[k++] = dup_node(c, n->items[i]);
    v[k] = NULL;
    return v;
}

static int load(lctx *c, kb_correl_rule *cr, const kb_yaml_node *doc, const char *path)
{
    static const char *const keys[] = {"type", "rules", "aliases", "group-by", "timespan",
                                       "condition", "generate", NULL};
    const kb_yaml_node *corr = kb_yaml_get(doc, "correlation"), *n, *title;
    int rc, v;

    title = kb_yaml_get(doc, "title");
    if (!title || title->kind != KB_YAML_SCALAR || title->len == 0)
        return bad(c, doc->line, "a correlation rule needs a title");
    if (corr->kind != KB_YAML_MAP)
        return bad(c, corr->line, "correlation must be a map");
    for (size_t i = 0; i < corr->n; i++) {
        const kb_yaml_node *k = corr->items[2 * i];
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= k->kind == KB_YAML_SCALAR && strcmp(k->str, *p) == 0;
        if (!ok)
            return bad(c, k->line, "unknown key '%s' in correlation", k->kind == KB_YAML_SCALAR
                                                                          ? k->str : "?");
    }
    n = kb_yaml_get(corr, "type");
    if (!n || n->kind != KB_YAML_SCALAR)
        return bad(c, corr->line, "correlation needs a type");
    cr->type = -1;
    for (int t = 0; t < KB_CT_COUNT; t++)
        if (strcmp(n->str, type_names[t]) == 0)
            cr->type = t;
    if (cr->type < 0)
        return bad(c, n->line, "unknown correlation type '%s'", n->str);
    if (!(n = kb_yaml_get(corr, "rules")))
        return bad(c, corr->line, "correlation needs rules");
    cr->line_rules = n->line;
    if ((rc = name_list(c, n, "rules", CORREL_MAX_REFS, &cr->refs, &cr->nrefs)))
        return rc;
    if ((cr->type == KB_CT_TEMPORAL || cr->type == KB_CT_TEMPORAL_ORDERED) && cr->nrefs < 2)
        return bad(c, n->line, "a %s correlation needs at least two rules",
                   type_names[cr->type]);
    if ((n = kb_yaml_get(corr, "group-by")) && !kb_yaml_is_null(n)) {
        cr->line_group = n->line;
        if ((rc = name_list(c, n, "group-by", CORREL_MAX_GROUP, &cr->group, &cr->ngroup)))
            return rc;
    }
    if ((rc = parse_span(c, kb_yaml_get(corr, "timespan"), &cr->span)))
        return rc;
    if ((n = kb_yaml_get(corr, "condition")) && (rc = parse_condition(c, cr, n)))
        return rc;
    switch (cr->type) {
    case KB_CT_EVENT_COUNT:
        if (!cr->has_cond)
            return bad(c, corr->line, "event_count needs a condition");
        if (cr->field)
            return bad(c, n->line, "condition field applies to value_* correlations only");
        break;
    case KB_CT_TEMPORAL:
    case KB_CT_TEMPORAL_ORDERED:
        if (cr->field)
            return bad(c, n->line, "condition field applies to value_* correlations only");
        if (!cr->has_cond) { /* every rule */
            cr->has[CC_GTE] = 1;
            cr->thr[CC_GTE] = (double)cr->nrefs;
        }
        break;
    default:
        if (!cr->has_cond || !cr->field)
            return bad(c, n ? n->line : corr->line, "%s needs a condition with a field",
                       type_names[cr->type]);
        if (cr->type == KB_CT_VALUE_PERCENTILE && cr->pct == 0)
            return bad(c, n->line, "value_percentile needs percentile: P in its condition");
        break;
    }
    if (cr->type != KB_CT_VALUE_PERCENTILE && cr->pct != 0)
        return bad(c, n->line, "percentile applies to value_percentile only");
    if ((n = kb_yaml_get(corr, "aliases")) && !kb_yaml_is_null(n) &&
        (rc = parse_aliases(c, cr, n)))
        return rc;
    /* generate: top level (the specification) or inside correlation */
    if ((n = kb_yaml_get(doc, "generate")) || (n = kb_yaml_get(corr, "generate"))) {
        if (!kb_yaml_bool(n, &v))
            return bad(c, n->line, "generate must be true or false");
        cr->generate = v;
    }
    if ((n = kb_yaml_get(doc, "name")) && (rc = name_of(c, n, "name", &cr->name)))
        return rc;
    cr->meta.title = dup_node(c, title);
    cr->meta.id = meta_copy(c, doc, "id");
    cr->meta.level = meta_copy(c, doc, "level");
    cr->meta.status = meta_copy(c, doc, "status");
    cr->meta.author = meta_copy(c, doc, "author");
    cr->meta.description = meta_copy(c, doc, "description");
    cr->meta.date = meta_copy(c, doc, "date");
    cr->meta.modified = meta_copy(c, doc, "modified");
    cr->meta.tags = meta_copy_list(c, doc, "tags");
    cr->meta.references = meta_copy_list(c, doc, "references");
    cr->meta.falsepositives = meta_copy_list(c, doc, "falsepositives");
    cr->meta.path = kb_arena_strndup(c->a, path, strlen(path));
    cr->meta.line = title->line;
    if (!cr->meta.title || !cr->meta.path)
        return KB_ENOMEM;
    return KB_OK;
}

int kb_correl_load_doc(kb_ruleset *rs, const kb_yaml_node *doc, const char *path, char *err,
                       size_t errsize, uint32_t *line)
{
    struct kb_correl_set *set = set_of(rs);
    kb_correl_rule *cr;
    lctx c;
    int rc;

    *line = doc->line;
    if (!set || !(cr = kb_arena_alloc(set->arena, sizeof *cr))) {
        snprintf(err, errsize, "out of memory");
        return KB_ENOMEM;
    }
    memset(cr, 0, sizeof *cr);
    c = (lctx){set->arena, err, errsize, line};
    if ((rc = load(&c, cr, doc, path))) {
        if (rc == KB_ENOMEM)
            snprintf(err, errsize, "out of memory");
        return rc;
    }
    if (kb_grow((void **)&set->rules, &set->cap, set->n + 1, sizeof *set->rules, 16)) {
        snprintf(err, errsize, "out of memory");
        return KB_ENOMEM;
    }
    cr->index = (uint32_t)set->n;
    set->rules[set->n++] = cr;
    return KB_OK;
}

/* ---- resolving references ------------------------------------------------- */

static const kb_rule *find_base(const kb_ruleset *rs, const char *s)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        const kb_rule *r = rs->rules[i];
        if ((r->meta.id && strcmp(r->meta.id, s) == 0) || (r->name && strcmp(r->name, s) == 0))
            return r;
    }
    return NULL;
}

const kb_rule *kb_correl_find_rule(const kb_ruleset *rs, const char *id_or_name)
{
    return rs ? find_base(rs, id_or_name) : NULL;
}

static int find_corr(const struct kb_correl_set *set, const char *s)
{
    for (size_t i = 0; i < set->n; i++) {
        const kb_correl_rule *cr = set->rules[i];
        if ((cr->meta.id && strcmp(cr->meta.id, s) == 0) || (cr->name && strcmp(cr->name, s) == 0))
            return (int)i;
    }
    return -1;
}

/* Does alias entry `ref` (as written) name input k of cr? */
static int alias_names_input(const kb_correl_rule *cr, const char *ref, size_t k)
{
    if (strcmp(ref, cr->refs[k]) == 0)
        return 1;
    if (cr->in_rule[k]) {
        const kb_rule *r = cr->in_rule[k];
        return (r->meta.id && strcmp(r->meta.id, ref) == 0) || (r->name && strcmp(r->name, ref) == 0);
    }
    return 0;
}

static void refuse(kb_correl_rule *cr, uint32_t line, const char *reason, kb_rule_error_fn fn,
                   void *ud)
{
    char msg[1200];
    cr->state = CR_REFUSED;
    snprintf(msg, sizeof msg, "%s:%u: %s", cr->meta.path, line, reason);
    if (fn)
        fn(ud, cr->meta.path, line, reason, msg);
}

/* Resolves the inputs and fields of one rule; on error fills why. */
static int resolve_one(kb_ruleset *rs, struct kb_correl_set *set, kb_correl_rule *cr, char *why,
                       size_t wsize, uint32_t *line)
{
    kb_arena *a = set->arena;
    size_t nr = cr->nrefs, ng = cr->ngroup;

    *line = cr->line_rules;
    cr->in_rule = kb_arena_alloc(a, nr * sizeof *cr->in_rule);
    cr->in_corr = kb_arena_alloc(a, nr * sizeof *cr->in_corr);
    cr->in_field = kb_arena_alloc(a, ((nr * ng) != 0 ? nr * ng : 1) * sizeof *cr->in_field);
    cr->in_value = kb_arena_alloc(a, nr * sizeof *cr->in_value);
    if (!cr->in_rule || !cr->in_corr || !cr->in_field || !cr->in_value) {
        snprintf(why, wsize, "out of memory");
        return KB_ENOMEM;
    }
    for (size_t k = 0; k < nr; k++) {
        int ci = find_corr(set, cr->refs[k]);
        cr->in_corr[k] = ci;
        cr->in_rule[k] = ci < 0 ? find_base(rs, cr->refs[k]) : NULL;
        if (ci < 0 && !cr->in_rule[k]) {
            snprintf(why, wsize, "unknown rule '%s' in rules (no rule or correlation has this "
                                 "id or name)", cr->refs[k]);
            return KB_ENOENT;
        }
        if (ci == (int)cr->index) {
            snprintf(why, wsize, "the correlation references itself");
            return KB_EINVAL;
        }
    }
    for (size_t i = 0; i < cr->naliases; i++) {
        const correl_alias *al = &cr->aliases[i];
        for (size_t j = 0; j < al->n; j++) {
            int found = 0;
            for (size_t k = 0; k < nr && !found; k++)
                found = alias_names_input(cr, al->refs[j], k);
            if (!found) {
                *line = cr->line_group;
                snprintf(why, wsize, "alias '%s' names rule '%s', which is not in rules",
                         al->name, al->refs[j]);
                return KB_ENOENT;
            }
        }
    }
    for (size_t k = 0; k < nr; k++) {
        const kb_correl_rule *in = cr->in_corr[k] >= 0 ? set->rules[cr->in_corr[k]] : NULL;
        for (size_t g = 0; g < ng; g++) {
            const char *f = cr->group[g];
            for (size_t i = 0; i < cr->naliases; i++) {
                const correl_alias *al = &cr->aliases[i];
                if (strcmp(al->name, cr->group[g]) != 0)
                    continue;
                f = NULL;
                for (size_t j = 0; j < al->n && !f; j++)
                    if (alias_names_input(cr, al->refs[j], k))
                        f = al->fields[j];
                if (!f) {
                    *line = cr->line_group;
                    snprintf(why, wsize, "alias '%s' has no field for rule '%s'", al->name,
                             cr->refs[k]);
                    return KB_ENOENT;
                }
            }
            if (in) { /* a correlation's alerts carry only its group-by values */
                int ok = 0;
                for (size_t j = 0; j < in->ngroup; j++)
                    ok |= strcmp(in->group[j], f) == 0;
                if (!ok) {
                    *line = cr->line_group;
                    snprintf(why, wsize, "unknown field '%s' for correlation '%s': it groups "
                                         "by other fields", f, cr->refs[k]);
                    return KB_ENOENT;
                }
            }
            cr->in_field[k * ng + g] = f;
        }
        cr->in_value[k] = NULL;
        if (cr->field) {
            cr->in_value[k] = cr->field;
            if (in) {
                int ok = 0;
                for (size_t j = 0; j < in->ngroup; j++)
                    ok |= strcmp(in->group[j], cr->field) == 0;
                if (!ok) {
                    snprintf(why, wsize, "unknown field '%s' for correlation '%s': it groups "
                                         "by other fields", cr->field, cr->refs[k]);
                    return KB_ENOENT;
                }
            }
        }
    }
    return KB_OK;
}

int kb_correl_resolve(kb_ruleset *rs, kb_rule_error_fn fn, void *ud)
{
    struct kb_correl_set *set = rs ? rs->correl : NULL;
    int refused = 0, changed = 1;
    char why[600];
    uint32_t line;

    if (!set)
        return 0;
    for (size_t i = 0; i < set->n; i++) {
        kb_correl_rule *cr = set->rules[i];
        if (cr->state != CR_UNRESOLVED)
            continue;
        if (resolve_one(rs, set, cr, why, sizeof why, &line)) {
            refuse(cr, line, why, fn, ud);
            refused++;
        } else {
            cr->state = CR_OK;
        }
    }
    /* A rule over a refused correlation is refused too; a cycle is found
     * by peeling rules whose inputs are all settled (no recursion). */
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < set->n; i++) {
            kb_correl_rule *cr = set->rules[i];
            if (cr->state != CR_OK)
                continue;
            for (size_t k = 0; k < cr->nrefs; k++) {
                if (cr->in_corr[k] >= 0 && set->rules[cr->in_corr[k]]->state == CR_REFUSED) {
                    snprintf(why, sizeof why, "rule '%s' in rules is a refused correlation",
                             cr->refs[k]);
                    refuse(cr, cr->line_rules, why, fn, ud);
                    refused++;
                    changed = 1;
                    break;
                }
            }
        }
    }
    {
        size_t n = set->n;
        uint8_t *done = kb_calloc(n ? n : 1, 1);
        int progress = 1;
        if (!done)
            return refused;
        while (progress) {
            progress = 0;
            for (size_t i = 0; i < n; i++) {
                const kb_correl_rule *cr = set->rules[i];
                int ready = 1;
                if (done[i] || cr->state != CR_OK)
                    continue;
                for (size_t k = 0; k < cr->nrefs && ready; k++)
                    ready = cr->in_corr[k] < 0 || done[cr->in_corr[k]];
                if (ready)
                    done[i] = 1, progress = 1;
            }
        }
        for (size_t i = 0; i < n; i++) {
            kb_correl_rule *cr = set->rules[i];
            if (cr->state == CR_OK && !done[i]) {
                refuse(cr, cr->line_rules, "correlation rules reference each other in a cycle",
                       fn, ud);
                refused++;
            }
        }
        kb_free(done);
    }
    return refused;
}

/* ---- lint: fields the inputs may not carry ---------------------------------- */

static int rule_names_field(const kb_rule *r, const char *f)
{
    size_t n;
    const kb_sigma_pred *p = kb_rule_preds(r, &n);
    for (size_t i = 0; i < n; i++)
        if (p[i].field_name && strcmp(p[i].field_name, f) == 0)
            return 1;
    return 0;
}

int kb_correl_check_fields(const kb_ruleset *rs, size_t from, kb_rule_error_fn fn, void *ud)
{
    int warned = 0;
    char why[600], msg[1200];

    for (size_t i = from; i < kb_ruleset_correl_count(rs); i++) {
        const kb_correl_rule *cr = rs->correl->rules[i];
        if (cr->state != CR_OK)
            continue;
        for (size_t k = 0; k < cr->nrefs; k++) {
            const kb_rule *r = cr->in_rule[k];
            if (!r)
                continue; /* a correlation: checked when resolved */
            for (size_t g = 0; g <= cr->ngroup; g++) {
                const char *f = g < cr->ngroup ? cr->in_field[k * cr->ngroup + g] : cr->in_value[k];
                uint32_t line = g < cr->ngroup ? cr->line_group : cr->line_rules;
                if (!f || kb_canon_find(f, strlen(f)) >= 0 || rule_names_field(r, f))
                    continue;
                snprintf(why, sizeof why,
                         "warning: %s field '%s' is neither a canonical field nor one rule '%s' "
                         "matches on: its alerts may lack it (%s)",
                         g < cr->ngroup ? "group-by" : "condition", f, cr->refs[k],
                         g < cr->ngroup ? "all would group as null" : "they would not count");
                snprintf(msg, sizeof msg, "%s:%u: %s", cr->meta.path, line, why);
                if (fn)
                    fn(ud, cr->meta.path, line, why, msg);
                warned++;
            }
        }
    }
    return warned;
}
