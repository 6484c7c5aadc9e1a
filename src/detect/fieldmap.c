/* Field mapping: rules written with one source's field names (Sigma's
 * Windows-style or generic names) made to fire on sources whose decoders
 * give the same value another name (Zeek, Suricata, Linux logs, ...).
 *
 * The map is applied once, at rule compile time, by rewriting the
 * compiled predicates; nothing is looked up per event. For each rule and
 * each section of the map:
 *
 *   - when the rule's logsource already applies to the section's events
 *     (`events:`), every predicate on a mapped field becomes "this field or
 *     one of its mapped names" (the rule is rewritten in place: aliases);
 *   - else, when the rule's logsource is one the section `serves:`, a
 *     variant of the rule is compiled for the section's events only: its
 *     logsource is the section's `events:`, its predicates read the mapped
 *     names. The variant keeps the rule's id, title and every other piece
 *     of metadata (meta.fieldmap names the section).
 *
 * A predicate over several names is true when any name satisfies it; for
 * the predicates that assert absence (only `null` values, `exists: false`,
 * `neq`) all names must (absent under every name). `fieldref` values and keywords are
 * not remapped. The file format is documented in config/fieldmap.yaml and
 * docs/rules.md. */
#include <stdio.h>
#include <string.h>

#include "base/yaml.h"
#include "detect/sigma-int.h"

#define FM_MAX_FILE (4u << 20)
#define FM_MAX_TARGETS 16

typedef struct fm_field {
    const char *from;
    const char **to;
    size_t nto;
} fm_field;

typedef struct fm_section {
    const char *name;
    kb_logsource events;
    kb_logsource *serves;
    size_t nserves;
    fm_field *fields;
    size_t nfields;
} fm_section;

struct kb_fieldmap {
    kb_arena *arena;
    fm_section *secs;
    size_t nsecs, asecs;
};

kb_fieldmap *kb_fieldmap_new(void)
{
    kb_fieldmap *fm = kb_calloc(1, sizeof *fm);
    if (!fm)
        return NULL;
    if (!(fm->arena = kb_arena_new(64u << 10, 0))) {
        kb_free(fm);
        return NULL;
    }
    return fm;
}

void kb_fieldmap_free(kb_fieldmap *fm)
{
    if (!fm)
        return;
    kb_free(fm->secs);
    kb_arena_free(fm->arena);
    kb_free(fm);
}

size_t kb_fieldmap_count(const kb_fieldmap *fm)
{
    return fm ? fm->nsecs : 0;
}

/* ---- loading ----------------------------------------------------------- */

typedef struct fm_report {
    const char *path;
    kb_rule_error_fn fn;
    void *ud;
    int failed;
} fm_report;

static void fm_fail(fm_report *rp, uint32_t line, const char *reason)
{
    char msg[1024];
    rp->failed++;
    snprintf(msg, sizeof msg, "%s:%u: %s", rp->path, line, reason);
    if (rp->fn)
        rp->fn(rp->ud, rp->path, line, reason, msg);
}

static const char *fm_str(kb_fieldmap *fm, const kb_yaml_node *n)
{
    return kb_arena_strndup(fm->arena, n->str, n->len);
}

/* {product, category, service}: scalars; other keys are refused. */
static const char *read_ls(kb_fieldmap *fm, const kb_yaml_node *m, kb_logsource *ls,
                           uint32_t *line)
{
    memset(ls, 0, sizeof *ls);
    *line = m->line;
    if (m->kind != KB_YAML_MAP)
        return "a logsource must be a map of product, category, service";
    if (m->n == 0)
        return "an empty logsource would match every event";
    for (size_t i = 0; i < m->n; i++) {
        const kb_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
        const char **slot = NULL;
        *line = k->line;
        if (k->kind == KB_YAML_SCALAR && kb_str_eqz(k->str, k->len, "product"))
            slot = &ls->product;
        else if (k->kind == KB_YAML_SCALAR && kb_str_eqz(k->str, k->len, "category"))
            slot = &ls->category;
        else if (k->kind == KB_YAML_SCALAR && kb_str_eqz(k->str, k->len, "service"))
            slot = &ls->service;
        else
            return "a logsource key is product, category or service";
        if (v->kind != KB_YAML_SCALAR || kb_yaml_is_null(v) || v->len == 0)
            return "a logsource value must be a non-empty string";
        if (!(*slot = fm_str(fm, v)))
            return "out of memory";
    }
    return NULL;
}

static const char *read_fields(kb_fieldmap *fm, const kb_yaml_node *m, fm_section *s,
                               uint32_t *line)
{
    *line = m->line;
    if (m->kind != KB_YAML_MAP)
        return "fields must be a map of rule field: event field (or a list of them)";
    if (m->n == 0)
        return "fields is empty";
    if (!(s->fields = kb_arena_alloc(fm->arena, m->n * sizeof *s->fields)))
        return "out of memory";
    for (size_t i = 0; i < m->n; i++) {
        const kb_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
        const kb_yaml_node *const *vals = &v;
        size_t nv = 1;
        fm_field *f = &s->fields[i];
        *line = k->line;
        if (k->kind != KB_YAML_SCALAR || k->len == 0 || kb_yaml_is_null(k))
            return "a rule field name must be a non-empty string";
        if (memchr(k->str, '|', k->len))
            return "a rule field name carries no modifiers ('|')";
        for (size_t j = 0; j < i; j++)
            if (kb_str_eqz(k->str, k->len, s->fields[j].from))
                return "rule field mapped twice in one section";
        if (v->kind == KB_YAML_SEQ) {
            vals = (const kb_yaml_node *const *)v->items;
            nv = v->n;
        } else if (v->kind != KB_YAML_SCALAR) {
            *line = v->line;
            return "an event field is a name or a list of names";
        }
        if (nv == 0 || nv > FM_MAX_TARGETS) {
            *line = v->line;
            return "a rule field maps to 1 to 16 event fields";
        }
        f->from = fm_str(fm, k);
        f->to = kb_arena_alloc(fm->arena, nv * sizeof *f->to);
        if (!f->from || !f->to)
            return "out of memory";
        f->nto = 0;
        for (size_t j = 0; j < nv; j++) {
            *line = vals[j]->line;
            if (vals[j]->kind != KB_YAML_SCALAR || vals[j]->len == 0 || kb_yaml_is_null(vals[j]))
                return "an event field name must be a non-empty string";
            if (!(f->to[f->nto++] = fm_str(fm, vals[j])))
                return "out of memory";
        }
    }
    s->nfields = m->n;
    return NULL;
}

static const char *read_section(kb_fieldmap *fm, const kb_yaml_node *m, fm_section *s,
                                uint32_t *line)
{
    const kb_yaml_node *name = kb_yaml_get(m, "name"), *ev = kb_yaml_get(m, "events");
    const kb_yaml_node *serves = kb_yaml_get(m, "serves"), *fields = kb_yaml_get(m, "fields");
    const char *why;

    memset(s, 0, sizeof *s);
    *line = m->line;
    if (m->kind != KB_YAML_MAP)
        return "a source must be a map with name, events, serves, fields";
    for (size_t i = 0; i < m->n; i++) {
        const kb_yaml_node *k = m->items[2 * i];
        static const char *const known[] = {"name", "events", "serves", "fields", "doc", NULL};
        int ok = 0;
        for (const char *const *q = known; *q; q++)
            ok |= k->kind == KB_YAML_SCALAR && kb_str_eqz(k->str, k->len, *q);
        if (!ok) {
            *line = k->line;
            return "unknown key (a source has name, events, serves, fields, doc)";
        }
    }
    if (!name || name->kind != KB_YAML_SCALAR || kb_yaml_is_null(name) || name->len == 0)
        return "a source needs a name";
    if (!(s->name = fm_str(fm, name)))
        return "out of memory";
    if (!ev) {
        return "a source needs events: (the logsource its decoder gives, see koban parse)";
    }
    if ((why = read_ls(fm, ev, &s->events, line)))
        return why;
    if (serves && !kb_yaml_is_null(serves)) {
        const kb_yaml_node *const *items = &serves;
        size_t n = 1;
        if (serves->kind == KB_YAML_SEQ) {
            items = (const kb_yaml_node *const *)serves->items;
            n = serves->n;
        }
        if (n && !(s->serves = kb_arena_alloc(fm->arena, n * sizeof *s->serves)))
            return "out of memory";
        for (size_t i = 0; i < n; i++)
            if ((why = read_ls(fm, items[i], &s->serves[s->nserves++], line)))
                return why;
    }
    if (!fields) {
        *line = m->line;
        if (s->nserves == 0)
            return "a source needs fields: or serves:";
        return NULL;
    }
    return read_fields(fm, fields, s, line);
}

int kb_fieldmap_load_mem(kb_fieldmap *fm, const char *path, const char *p, size_t len,
                         kb_rule_error_fn fn, void *ud)
{
    fm_report rp = {path, fn, ud, 0};
    kb_yaml_limits lim = {16, 200000, FM_MAX_FILE};
    kb_yaml *y = NULL;
    kb_yaml_error ye;
    const kb_yaml_node *root, *srcs;
    int rc = kb_yaml_parse(p, len, &lim, &y, &ye);

    if (rc) {
        fm_fail(&rp, ye.line, ye.reason ? ye.reason : kb_strerror(rc));
        return rp.failed;
    }
    if (kb_yaml_ndocs(y) != 1 || !(root = kb_yaml_doc(y, 0)) || root->kind != KB_YAML_MAP) {
        fm_fail(&rp, kb_yaml_ndocs(y) ? kb_yaml_doc(y, 0)->line : 1,
                "a field map is one YAML document: a map with sources:");
        goto out;
    }
    for (size_t i = 0; i < root->n; i++) {
        const kb_yaml_node *k = root->items[2 * i];
        if (k->kind != KB_YAML_SCALAR ||
            (!kb_str_eqz(k->str, k->len, "sources") && !kb_str_eqz(k->str, k->len, "version")))
            fm_fail(&rp, k->line, "unknown key (a field map has version and sources)");
    }
    srcs = kb_yaml_get(root, "sources");
    if (!srcs || srcs->kind != KB_YAML_SEQ) {
        fm_fail(&rp, srcs ? srcs->line : root->line, "sources: must be a list of sources");
        goto out;
    }
    for (size_t i = 0; i < srcs->n; i++) {
        fm_section s;
        uint32_t line = srcs->items[i]->line;
        const char *why = read_section(fm, srcs->items[i], &s, &line);
        if (why) {
            fm_fail(&rp, line, why);
            continue;
        }
        if (kb_grow((void **)&fm->secs, &fm->asecs, fm->nsecs + 1, sizeof *fm->secs, 16)) {
            fm_fail(&rp, line, "out of memory");
            break;
        }
        fm->secs[fm->nsecs++] = s;
    }
out:
    kb_yaml_free(y);
    return rp.failed;
}

int kb_fieldmap_load_file(kb_fieldmap *fm, const char *path, kb_rule_error_fn fn, void *ud)
{
    fm_report rp = {path, fn, ud, 0};
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char tmp[16384];
    size_t got;
    int rc;

    if (!f) {
        fm_fail(&rp, 0, "cannot open file");
        return KB_EIO;
    }
    kb_buf_init(&b, FM_MAX_FILE);
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (kb_buf_append(&b, tmp, got)) {
            fm_fail(&rp, 0, "field map too large");
            fclose(f);
            kb_buf_release(&b);
            return KB_ELIMIT;
        }
    }
    if (ferror(f)) {
        fm_fail(&rp, 0, "cannot read file");
        fclose(f);
        kb_buf_release(&b);
        return KB_EIO;
    }
    fclose(f);
    rc = kb_fieldmap_load_mem(fm, path, b.data ? b.data : "", b.len, fn, ud);
    kb_buf_release(&b);
    return rc;
}

/* ---- applying ---------------------------------------------------------- */

static const fm_field *find_field(const fm_section *s, const char *name)
{
    for (size_t i = 0; name && i < s->nfields; i++)
        if (strcmp(s->fields[i].from, name) == 0)
            return &s->fields[i];
    return NULL;
}

/* Absence-type predicates: true under several names only when true under
 * each. */
static int pred_negative(const kb_sigma_pred *p)
{
    size_t nulls = 0;
    if (p->kind == KB_SP_NULL || p->neq)
        return 1;
    if (p->kind == KB_SP_EXISTS)
        return p->nvals && p->vals[0].want == 0;
    for (size_t i = 0; i < p->nvals; i++)
        nulls += p->vals[i].isnull != 0;
    return p->nvals && nulls == p->nvals; /* `field: null` */
}

static int rename_pred(kb_ruleset *rs, kb_sigma_pred *p, const char *name)
{
    kb_fid id = kb_names_intern(rs->names, name, strlen(name));
    const char *s = kb_arena_strndup(rs->arena, name, strlen(name));
    if (id == KB_FID_NONE || !s)
        return KB_ENOMEM;
    p->field = id;
    p->field_name = s;
    return KB_OK;
}

typedef struct fm_vec {
    kb_sigma_pred *preds;
    size_t n, alloc;
    kb_sigma_op *ops;
    size_t nops, aops;
} fm_vec;

static int vec_pred(fm_vec *v, const kb_sigma_pred *p)
{
    if (v->n >= SIGMA_MAX_PREDS)
        return KB_ELIMIT;
    if (kb_grow((void **)&v->preds, &v->alloc, v->n + 1, sizeof *v->preds, 8))
        return KB_ENOMEM;
    v->preds[v->n++] = *p;
    return KB_OK;
}

static int vec_op(fm_vec *v, uint32_t op, uint32_t arg, uint32_t n)
{
    if (v->nops == v->aops) {
        size_t na = v->aops ? v->aops * 2 : 16;
        kb_sigma_op *no;
        if (na > (1u << 20))
            return KB_ELIMIT;
        if (!(no = kb_realloc(v->ops, na * sizeof *no)))
            return KB_ENOMEM;
        v->ops = no;
        v->aops = na;
    }
    v->ops[v->nops].op = op;
    v->ops[v->nops].arg = arg;
    v->ops[v->nops].n = n;
    v->nops++;
    return KB_OK;
}

/* Rewrites r's predicates and program for section s into v. replace: the
 * mapped names stand instead of the rule's name (a variant); else they are
 * added beside it (aliases). *changed counts the predicates mapped. */
static int rewrite(kb_ruleset *rs, const kb_rule *r, const fm_section *s, int replace, fm_vec *v,
                   size_t *changed)
{
    uint32_t *extra_at = NULL, *extra_n = NULL;
    int rc = KB_OK;

    *changed = 0;
    if (r->npreds &&
        (!(extra_at = kb_calloc(r->npreds, sizeof *extra_at)) ||
         !(extra_n = kb_calloc(r->npreds, sizeof *extra_n)))) {
        rc = KB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->npreds && !rc; i++)
        rc = vec_pred(v, &r->preds[i]);
    for (size_t i = 0; i < r->npreds && !rc; i++) {
        const kb_sigma_pred *p = &r->preds[i];
        const fm_field *f = p->field != KB_FID_NONE ? find_field(s, p->field_name) : NULL;
        size_t from = 0;
        if (!f)
            continue;
        (*changed)++;
        if (replace) {
            rc = rename_pred(rs, &v->preds[i], f->to[0]);
            from = 1;
        }
        extra_at[i] = (uint32_t)v->n;
        for (size_t j = from; j < f->nto && !rc; j++) {
            kb_sigma_pred q = *p;
            if (!(rc = rename_pred(rs, &q, f->to[j])))
                rc = vec_pred(v, &q);
        }
        extra_n[i] = (uint32_t)(v->n - extra_at[i]);
    }
    for (size_t i = 0; i < r->nops && !rc; i++) {
        const kb_sigma_op *o = &r->prog[i];
        uint32_t k = o->op == KB_SOP_PRED ? extra_n[o->arg] : 0;
        rc = vec_op(v, o->op, o->arg, o->n);
        for (uint32_t j = 0; j < k && !rc; j++)
            rc = vec_op(v, KB_SOP_PRED, extra_at[o->arg] + j, 0);
        if (k && !rc)
            rc = vec_op(v, pred_negative(&r->preds[o->arg]) ? KB_SOP_AND : KB_SOP_OR, 0, k + 1);
    }
    if (!rc && sigma_prog_depth(v->ops, v->nops) > KB_SIGMA_MAX_STACK)
        rc = KB_ELIMIT;
out:
    kb_free(extra_at);
    kb_free(extra_n);
    return rc;
}

static int uses_mapped(const kb_rule *r, const fm_section *s)
{
    for (size_t i = 0; i < r->npreds; i++)
        if (r->preds[i].field != KB_FID_NONE && find_field(s, r->preds[i].field_name))
            return 1;
    return 0;
}

static const char *arena_ls(kb_ruleset *rs, const char *s)
{
    return s ? kb_arena_strndup(rs->arena, s, strlen(s)) : NULL;
}

int kb_ruleset_apply_fieldmap(kb_ruleset *rs, const kb_fieldmap *fm, kb_fieldmap_stats *st,
                              kb_rule_error_fn fn, void *ud)
{
    size_t nbase = rs->nrules;
    int failed = 0;

    memset(st, 0, sizeof *st);
    if (!fm)
        return 0;
    for (size_t ri = 0; ri < nbase; ri++) {
        kb_rule *r = rs->rules[ri];
        for (size_t si = 0; si < fm->nsecs; si++) {
            const fm_section *s = &fm->secs[si];
            int native = kb_rule_logsource_applies(r, &s->events), served = 0;
            fm_vec v = {0};
            size_t changed = 0;
            int rc;

            for (size_t k = 0; !native && k < s->nserves; k++)
                served |= kb_rule_logsource_applies(r, &s->serves[k]);
            if (native ? !uses_mapped(r, s) : !served)
                continue;
            rc = rewrite(rs, r, s, !native, &v, &changed);
            if (!rc && native) {
                kb_free(r->preds);
                kb_free(r->prog);
                r->preds = v.preds;
                r->npreds = r->apreds = v.n;
                r->prog = v.ops;
                r->nops = v.nops;
                st->aliased_rules++;
                st->mapped_preds += changed;
                continue;
            }
            if (!rc) {
                kb_rule *nr = kb_calloc(1, sizeof *nr);
                if (!nr) {
                    rc = KB_ENOMEM;
                } else {
                    *nr = *r;
                    nr->preds = v.preds;
                    nr->npreds = nr->apreds = v.n;
                    nr->prog = v.ops;
                    nr->nops = v.nops;
                    nr->base = r;
                    nr->meta.fieldmap = kb_arena_strndup(rs->arena, s->name, strlen(s->name));
                    nr->meta.ls.product = arena_ls(rs, s->events.product);
                    nr->meta.ls.category = arena_ls(rs, s->events.category);
                    nr->meta.ls.service = arena_ls(rs, s->events.service);
                    v.preds = NULL;
                    v.ops = NULL;
                    if (!nr->meta.fieldmap || sigma_add_rule(rs, nr)) {
                        kb_free(nr->preds);
                        kb_free(nr->prog);
                        kb_free(nr);
                        rc = KB_ENOMEM;
                    } else {
                        st->variants++;
                        st->mapped_preds += changed;
                    }
                }
            }
            kb_free(v.preds);
            kb_free(v.ops);
            if (rc) {
                char msg[1024], why[256];
                failed++;
                snprintf(why, sizeof why, "field map source '%s' not applied: %s", s->name,
                         rc == KB_ELIMIT ? "rule too large once mapped" : kb_strerror(rc));
                snprintf(msg, sizeof msg, "%s:%u: %s", r->meta.path, r->meta.line, why);
                if (fn)
                    fn(ud, r->meta.path, r->meta.line, why, msg);
            }
        }
    }
    return failed;
}
