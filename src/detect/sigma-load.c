/* Sigma rule loading: YAML documents to compiled rules, filter documents,
 * placeholder files, directory walks. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/yaml.h"
#include "detect/correlate.h"
#include "detect/sigma-int.h"

#define MAX_SELECTIONS 1024
#define MAX_RULE_FILE (8u << 20)

struct pending_filter {
    const kb_yaml_node *doc; /* lives in rs->yamls */
    const char *path;
};

typedef struct report {
    kb_rule_error_fn fn;
    void *ud;
    int failed;
} report;

static void fail(report *rp, const char *path, uint32_t line, const char *reason)
{
    char msg[1024];
    rp->failed++;
    snprintf(msg, sizeof(msg), "%s:%u: %s", path, line, reason);
    if (rp->fn)
        rp->fn(rp->ud, path, line, reason, msg);
}

/* ---- ruleset ----------------------------------------------------------- */

kb_ruleset *kb_ruleset_new(kb_names *names)
{
    kb_ruleset *rs = kb_calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->names = names;
    rs->arena = kb_arena_new(1u << 20, 0);
    if (!rs->arena) {
        kb_free(rs);
        return NULL;
    }
    return rs;
}

static void rule_free(kb_rule *r)
{
    if (!r)
        return;
    kb_free(r->preds);
    kb_free(r->prog);
    kb_free(r);
}

void kb_ruleset_free(kb_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(rs->rules[i]);
    kb_free(rs->rules);
    for (size_t i = 0; i < rs->nres; i++)
        pcre2_code_free((pcre2_code *)rs->res[i]);
    kb_free(rs->res);
    for (size_t i = 0; i < rs->nyamls; i++)
        kb_yaml_free(rs->yamls[i]);
    kb_free(rs->yamls);
    kb_free(rs->filters);
    kb_free(rs->ph);
    kb_correl_set_free(rs->correl);
    kb_arena_free(rs->arena);
    kb_free(rs);
}

size_t kb_ruleset_count(const kb_ruleset *rs)
{
    return rs ? rs->nrules : 0;
}

const kb_rule *kb_ruleset_rule(const kb_ruleset *rs, size_t i)
{
    return rs && i < rs->nrules ? rs->rules[i] : NULL;
}

const kb_rule *kb_ruleset_find(const kb_ruleset *rs, const char *id)
{
    for (size_t i = 0; rs && i < rs->nrules; i++)
        if (rs->rules[i]->meta.id && strcmp(rs->rules[i]->meta.id, id) == 0)
            return rs->rules[i];
    return NULL;
}

const kb_rule_meta *kb_rule_meta_of(const kb_rule *r)
{
    return &r->meta;
}

const kb_sigma_pred *kb_rule_preds(const kb_rule *r, size_t *n)
{
    *n = r->npreds;
    return r->preds;
}

const kb_sigma_op *kb_rule_program(const kb_rule *r, size_t *n)
{
    *n = r->nops;
    return r->prog;
}

/* ---- programs ---------------------------------------------------------- */

typedef struct opvec {
    kb_sigma_op *ops;
    size_t n, alloc;
} opvec;

static int op_push(opvec *v, uint32_t op, uint32_t arg, uint32_t n)
{
    if (v->n == v->alloc) {
        size_t na = v->alloc ? v->alloc * 2 : 16;
        kb_sigma_op *no;
        if (na > (1u << 20))
            return KB_ELIMIT;
        no = kb_realloc(v->ops, na * sizeof(*no));
        if (!no)
            return KB_ENOMEM;
        v->ops = no;
        v->alloc = na;
    }
    v->ops[v->n].op = op;
    v->ops[v->n].arg = arg;
    v->ops[v->n].n = n;
    v->n++;
    return KB_OK;
}

static int op_append(opvec *v, const opvec *w)
{
    int rc = KB_OK;
    for (size_t i = 0; i < w->n && !rc; i++)
        rc = op_push(v, w->ops[i].op, w->ops[i].arg, w->ops[i].n);
    return rc;
}

/* Maximum evaluation stack a program needs; SIZE_MAX if malformed. */
size_t sigma_prog_depth(const kb_sigma_op *ops, size_t n)
{
    size_t sp = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].op == KB_SOP_PRED) {
            sp++;
        } else if (ops[i].op != KB_SOP_NOT) {
            if (ops[i].n == 0 || ops[i].n > sp)
                return SIZE_MAX;
            sp -= ops[i].n - 1;
        } else if (sp == 0) {
            return SIZE_MAX;
        }
        if (sp > max)
            max = sp;
    }
    return sp == 1 ? max : SIZE_MAX;
}

static int add_pred(kb_rule *r, size_t *idx)
{
    if (r->npreds >= SIGMA_MAX_PREDS)
        return KB_ELIMIT;
    if (kb_grow((void **)&r->preds, &r->apreds, r->npreds + 1, sizeof *r->preds, 8))
        return KB_ENOMEM;
    *idx = r->npreds++;
    return KB_OK;
}

typedef struct cerr {
    const char *reason;
    uint32_t line;
} cerr;

static int item_pred(kb_ruleset *rs, kb_rule *r, const kb_yaml_node *key, const kb_yaml_node *val,
                     opvec *frag, cerr *ce)
{
    size_t idx;
    int rc = add_pred(r, &idx);
    if (rc) {
        ce->reason = "too many detection items";
        ce->line = val->line;
        return rc;
    }
    if (key)
        rc = sigma_compile_item(rs, key->str, key->len, val, &r->preds[idx], &ce->reason);
    else
        rc = sigma_compile_keywords(rs, val, &r->preds[idx], &ce->reason);
    if (rc) {
        r->npreds--;
        ce->line = key ? key->line : val->line;
        return rc;
    }
    return op_push(frag, KB_SOP_PRED, (uint32_t)idx, 0);
}

static int map_frag(kb_ruleset *rs, kb_rule *r, const kb_yaml_node *m, opvec *frag, cerr *ce)
{
    int rc;
    if (m->n == 0) {
        ce->reason = "empty selection map";
        ce->line = m->line;
        return KB_EPARSE;
    }
    for (size_t i = 0; i < m->n; i++) {
        const kb_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
        if (k->kind != KB_YAML_SCALAR) {
            ce->reason = "a selection key must be a field name";
            ce->line = k->line;
            return KB_EPARSE;
        }
        if ((rc = item_pred(rs, r, k, v, frag, ce)))
            return rc;
        if (i > 0 && (rc = op_push(frag, KB_SOP_AND, 0, 2)))
            return rc;
    }
    return KB_OK;
}

/* A named selection: map (AND), list of maps (OR), keyword list. */
static int selection_frag(kb_ruleset *rs, kb_rule *r, const kb_yaml_node *sel, opvec *frag,
                          cerr *ce)
{
    int rc, all_scalar = 1;

    if (sel->kind == KB_YAML_MAP)
        return map_frag(rs, r, sel, frag, ce);
    if (sel->kind == KB_YAML_SCALAR) {
        if (kb_yaml_is_null(sel)) {
            ce->reason = "empty selection";
            ce->line = sel->line;
            return KB_EPARSE;
        }
        return item_pred(rs, r, NULL, sel, frag, ce);
    }
    if (sel->n == 0) {
        ce->reason = "empty selection list";
        ce->line = sel->line;
        return KB_EPARSE;
    }
    for (size_t i = 0; i < sel->n; i++)
        if (sel->items[i]->kind != KB_YAML_SCALAR)
            all_scalar = 0;
    if (all_scalar)
        return item_pred(rs, r, NULL, sel, frag, ce);
    for (size_t i = 0; i < sel->n; i++) {
        const kb_yaml_node *e = sel->items[i];
        if (e->kind == KB_YAML_MAP)
            rc = map_frag(rs, r, e, frag, ce);
        else if (e->kind == KB_YAML_SCALAR)
            rc = item_pred(rs, r, NULL, e, frag, ce);
        else {
            ce->reason = "a selection list may hold maps or keywords, not lists";
            ce->line = e->line;
            rc = KB_EPARSE;
        }
        if (rc)
            return rc;
        if (i > 0 && (rc = op_push(frag, KB_SOP_OR, 0, 2)))
            return rc;
    }
    return KB_OK;
}

static int skip_key(const kb_yaml_node *k, const char *const *skip)
{
    for (size_t i = 0; skip[i]; i++)
        if (kb_str_eqz(k->str, k->len, skip[i]))
            return 1;
    return 0;
}

/* Compiles the selections of map `det` (keys not in skip) and its
 * condition into out: the whole block's boolean value. */
static int compile_block(kb_ruleset *rs, kb_rule *r, const kb_yaml_node *det,
                         const char *const *skip, opvec *out, cerr *ce)
{
    const char *names[MAX_SELECTIONS];
    opvec frags[MAX_SELECTIONS];
    size_t nsel = 0;
    const kb_yaml_node *cond = kb_yaml_get(det, "condition");
    int rc = KB_OK;

    memset(frags, 0, sizeof(frags));
    if (!cond) {
        ce->reason = "detection has no condition";
        ce->line = det->line;
        return KB_EPARSE;
    }
    for (size_t i = 0; i < det->n; i++) {
        const kb_yaml_node *k = det->items[2 * i];
        if (k->kind != KB_YAML_SCALAR || kb_str_eqz(k->str, k->len, "condition") ||
            skip_key(k, skip))
            continue;
        if (nsel >= MAX_SELECTIONS) {
            ce->reason = "too many selections";
            ce->line = k->line;
            rc = KB_ELIMIT;
            goto out;
        }
        names[nsel] = k->str;
        rc = selection_frag(rs, r, det->items[2 * i + 1], &frags[nsel], ce);
        nsel++;
        if (rc)
            goto out;
    }
    {
        const kb_yaml_node *one = cond;
        const kb_yaml_node *const *conds = &one;
        size_t nc = 1;
        if (cond->kind == KB_YAML_SEQ) {
            conds = (const kb_yaml_node *const *)cond->items;
            nc = cond->n;
        }
        if (nc == 0) {
            ce->reason = "empty condition list";
            ce->line = cond->line;
            rc = KB_EPARSE;
            goto out;
        }
        for (size_t c = 0; c < nc; c++) {
            kb_sigma_op *prog = NULL;
            size_t nops = 0;
            if (conds[c]->kind != KB_YAML_SCALAR) {
                ce->reason = "condition must be a string or a list of strings";
                ce->line = conds[c]->line;
                rc = KB_EPARSE;
                goto out;
            }
            rc = kb_sigma_cond_parse(conds[c]->str, conds[c]->len, names, nsel, &prog, &nops,
                                     &ce->reason);
            if (rc) {
                ce->line = conds[c]->line;
                goto out;
            }
            for (size_t i = 0; i < nops && !rc; i++) {
                if (prog[i].op == KB_SOP_PRED)
                    rc = op_append(out, &frags[prog[i].arg]);
                else
                    rc = op_push(out, prog[i].op, prog[i].arg, prog[i].n);
            }
            kb_free(prog);
            if (!rc && c > 0)
                rc = op_push(out, KB_SOP_OR, 0, 2);
            if (rc) {
                ce->reason = "condition too large";
                ce->line = conds[c]->line;
                goto out;
            }
        }
    }
out:
    for (size_t i = 0; i < nsel; i++)
        kb_free(frags[i].ops);
    return rc;
}

/* ---- metadata ---------------------------------------------------------- */

static const char *meta_str(kb_ruleset *rs, const kb_yaml_node *map, const char *key)
{
    const kb_yaml_node *n = kb_yaml_get(map, key);
    if (!n || n->kind != KB_YAML_SCALAR || kb_yaml_is_null(n))
        return NULL;
    return kb_arena_strndup(rs->arena, n->str, n->len);
}

static const char *const *meta_list(kb_ruleset *rs, const kb_yaml_node *map, const char *key)
{
    static const char *const empty[1] = {NULL};
    const kb_yaml_node *n = kb_yaml_get(map, key);
    const char **out;
    size_t k = 0, cnt;

    if (!n || kb_yaml_is_null(n))
        return empty;
    cnt = n->kind == KB_YAML_SEQ ? n->n : 1;
    out = kb_arena_alloc(rs->arena, (cnt + 1) * sizeof(*out));
    if (!out)
        return empty;
    if (n->kind == KB_YAML_SCALAR) {
        out[k++] = kb_arena_strndup(rs->arena, n->str, n->len);
    } else if (n->kind == KB_YAML_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            if (n->items[i]->kind == KB_YAML_SCALAR)
                out[k++] = kb_arena_strndup(rs->arena, n->items[i]->str, n->items[i]->len);
    }
    out[k] = NULL;
    for (size_t i = 0; i < k; i++)
        if (!out[i])
            return empty;
    return out;
}

/* ---- filters ----------------------------------------------------------- */

static int filter_names_rule(const kb_yaml_node *doc, const kb_rule *r)
{
    const kb_yaml_node *f = kb_yaml_get(doc, "filter");
    const kb_yaml_node *rules = kb_yaml_get(f, "rules");
    const kb_yaml_node *one = rules;
    const kb_yaml_node *const *list = &one;
    size_t n = 1;

    if (!rules)
        return 0;
    if (rules->kind == KB_YAML_SEQ) {
        list = (const kb_yaml_node *const *)rules->items;
        n = rules->n;
    } else if (rules->kind != KB_YAML_SCALAR) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const kb_yaml_node *e = list[i];
        if (e->kind != KB_YAML_SCALAR)
            continue;
        if ((r->meta.id && kb_str_eqz(e->str, e->len, r->meta.id)) ||
            (r->name && kb_str_eqz(e->str, e->len, r->name)))
            return 1;
    }
    return 0;
}

/* ANDs the filter's block onto the rule's program. */
static int apply_filter(kb_ruleset *rs, kb_rule *r, const struct pending_filter *pf, report *rp)
{
    static const char *const skip[] = {"rules", NULL};
    const kb_yaml_node *f = kb_yaml_get(pf->doc, "filter");
    opvec ops = {r->prog, r->nops, r->nops};
    size_t np0 = r->npreds, n0 = r->nops;
    cerr ce = {NULL, 0};
    int rc;

    rc = compile_block(rs, r, f, skip, &ops, &ce);
    if (!rc)
        rc = op_push(&ops, KB_SOP_AND, 0, 2);
    if (!rc && sigma_prog_depth(ops.ops, ops.n) > KB_SIGMA_MAX_STACK) {
        rc = KB_ELIMIT;
        ce.reason = "filtered condition too deep";
    }
    r->prog = ops.ops;
    if (rc) {
        r->npreds = np0;
        r->nops = n0;
        fail(rp, pf->path, ce.line ? ce.line : f->line, ce.reason ? ce.reason : "bad filter");
        return rc;
    }
    r->nops = ops.n;
    return KB_OK;
}

static int keep_filter(kb_ruleset *rs, const kb_yaml_node *doc, const char *path)
{
    if (kb_grow((void **)&rs->filters, &rs->afilters, rs->nfilters + 1, sizeof *rs->filters, 8))
        return KB_ENOMEM;
    rs->filters[rs->nfilters].doc = doc;
    rs->filters[rs->nfilters].path = kb_arena_strndup(rs->arena, path, strlen(path));
    if (!rs->filters[rs->nfilters].path)
        return KB_ENOMEM;
    rs->nfilters++;
    return KB_OK;
}

static int keep_yaml(kb_ruleset *rs, kb_yaml *y)
{
    if (kb_grow((void **)&rs->yamls, &rs->ayamls, rs->nyamls + 1, sizeof *rs->yamls, 8))
        return KB_ENOMEM;
    rs->yamls[rs->nyamls++] = y;
    return KB_OK;
}

/* ---- rules ------------------------------------------------------------- */

int sigma_add_rule(kb_ruleset *rs, kb_rule *r)
{
    if (kb_grow((void **)&rs->rules, &rs->arules, rs->nrules + 1, sizeof *rs->rules, 256))
        return KB_ENOMEM;
    rs->rules[rs->nrules++] = r;
    return KB_OK;
}

static void load_rule(kb_ruleset *rs, const kb_yaml_node *doc, const char *path, report *rp)
{
    static const char *const skip[] = {"timeframe", NULL};
    const kb_yaml_node *title = kb_yaml_get(doc, "title");
    const kb_yaml_node *det = kb_yaml_get(doc, "detection");
    const kb_yaml_node *ls = kb_yaml_get(doc, "logsource");
    kb_rule *r = NULL;
    opvec ops = {NULL, 0, 0};
    cerr ce = {NULL, 0};
    int rc;

    if (!title || title->kind != KB_YAML_SCALAR || kb_yaml_is_null(title)) {
        fail(rp, path, doc->line, "rule has no title");
        return;
    }
    if (!det || det->kind != KB_YAML_MAP) {
        fail(rp, path, det ? det->line : doc->line, "detection must be a map");
        return;
    }
    if (ls && ls->kind != KB_YAML_MAP) {
        fail(rp, path, ls->line, "logsource must be a map");
        return;
    }
    r = kb_calloc(1, sizeof(*r));
    if (!r) {
        fail(rp, path, doc->line, "out of memory");
        return;
    }
    rc = compile_block(rs, r, det, skip, &ops, &ce);
    if (!rc && sigma_prog_depth(ops.ops, ops.n) > KB_SIGMA_MAX_STACK) {
        rc = KB_ELIMIT;
        ce.reason = "condition too deep";
        ce.line = det->line;
    }
    r->prog = ops.ops;
    r->nops = ops.n;
    if (rc) {
        fail(rp, path, ce.line ? ce.line : det->line, ce.reason ? ce.reason : "invalid detection");
        rule_free(r);
        return;
    }
    r->meta.title = meta_str(rs, doc, "title");
    r->meta.id = meta_str(rs, doc, "id");
    r->name = meta_str(rs, doc, "name");
    r->meta.level = meta_str(rs, doc, "level");
    r->meta.status = meta_str(rs, doc, "status");
    r->meta.author = meta_str(rs, doc, "author");
    r->meta.description = meta_str(rs, doc, "description");
    r->meta.date = meta_str(rs, doc, "date");
    r->meta.modified = meta_str(rs, doc, "modified");
    r->meta.tags = meta_list(rs, doc, "tags");
    r->meta.references = meta_list(rs, doc, "references");
    r->meta.falsepositives = meta_list(rs, doc, "falsepositives");
    r->meta.ls.product = meta_str(rs, ls, "product");
    r->meta.ls.category = meta_str(rs, ls, "category");
    r->meta.ls.service = meta_str(rs, ls, "service");
    r->meta.path = kb_arena_strndup(rs->arena, path, strlen(path));
    r->meta.line = title->line;
    if (!r->meta.title || !r->meta.path || sigma_add_rule(rs, r)) {
        fail(rp, path, doc->line, "out of memory");
        rule_free(r);
        return;
    }
    for (size_t i = 0; i < rs->nfilters; i++)
        if (filter_names_rule(rs->filters[i].doc, r))
            apply_filter(rs, r, &rs->filters[i], rp);
}

int kb_ruleset_load_mem(kb_ruleset *rs, const char *path, const char *p, size_t len,
                        kb_rule_error_fn fn, void *ud)
{
    report rp = {fn, ud, 0};
    kb_yaml_limits lim = {64, 200000, MAX_RULE_FILE};
    kb_yaml *y = NULL;
    kb_yaml_error ye;
    int rc, keep = 0;

    rc = kb_yaml_parse(p, len, &lim, &y, &ye);
    if (rc) {
        fail(&rp, path, ye.line, ye.reason ? ye.reason : kb_strerror(rc));
        return rp.failed;
    }
    for (size_t d = 0; d < kb_yaml_ndocs(y); d++) {
        const kb_yaml_node *doc = kb_yaml_doc(y, d);
        const kb_yaml_node *act;
        if (!doc || (doc->kind == KB_YAML_SCALAR && doc->len == 0))
            continue; /* empty document (e.g. a trailing ---) */
        if (doc->kind != KB_YAML_MAP) {
            fail(&rp, path, doc->line, "a rule document must be a map");
            continue;
        }
        act = kb_yaml_get(doc, "action");
        if (act) {
            fail(&rp, path, act->line,
                 "Sigma 1 rule collections (action: global/repeat) are not supported");
            continue;
        }
        if (kb_yaml_get(doc, "correlation")) {
            char why[600];
            uint32_t line = doc->line;
            if (kb_correl_load_doc(rs, doc, path, why, sizeof why, &line))
                fail(&rp, path, line, why);
            continue;
        }
        if (kb_yaml_get(doc, "filter")) {
            const kb_yaml_node *f = kb_yaml_get(doc, "filter");
            if (f->kind != KB_YAML_MAP || !kb_yaml_get(f, "rules")) {
                fail(&rp, path, f->line, "filter must be a map with rules, selections, condition");
                continue;
            }
            if (keep_filter(rs, doc, path)) {
                fail(&rp, path, doc->line, "out of memory");
                continue;
            }
            keep = 1;
            for (size_t i = 0; i < rs->nrules; i++)
                if (filter_names_rule(doc, rs->rules[i]))
                    apply_filter(rs, rs->rules[i], &rs->filters[rs->nfilters - 1], &rp);
            continue;
        }
        load_rule(rs, doc, path, &rp);
    }
    if (keep && keep_yaml(rs, y) == KB_OK)
        y = NULL;
    else if (keep) {
        /* cannot keep the tree: forget the filters pointing into it */
        while (rs->nfilters && rs->filters[rs->nfilters - 1].path &&
               strcmp(rs->filters[rs->nfilters - 1].path, path) == 0)
            rs->nfilters--;
    }
    kb_yaml_free(y);
    return rp.failed;
}

int kb_ruleset_load_file(kb_ruleset *rs, const char *path, kb_rule_error_fn fn, void *ud)
{
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char tmp[16384];
    size_t got;
    int rc = 0;
    report rp = {fn, ud, 0};

    if (!f) {
        fail(&rp, path, 0, "cannot open file");
        return KB_EIO;
    }
    kb_buf_init(&b, MAX_RULE_FILE);
    while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if (kb_buf_append(&b, tmp, got)) {
            fail(&rp, path, 0, "rule file too large");
            rc = KB_ELIMIT;
            goto out;
        }
    }
    if (ferror(f)) {
        fail(&rp, path, 0, "cannot read file");
        rc = KB_EIO;
        goto out;
    }
    rc = kb_ruleset_load_mem(rs, path, b.data ? b.data : "", b.len, fn, ud);
out:
    fclose(f);
    kb_buf_release(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_yaml_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

typedef struct strvec {
    char **s;
    size_t n, alloc;
} strvec;

static int sv_push(strvec *v, char *s)
{
    if (!s)
        return KB_ENOMEM;
    if (kb_grow((void **)&v->s, &v->alloc, v->n + 1, sizeof *v->s, 64)) {
        kb_free(s);
        return KB_ENOMEM;
    }
    v->s[v->n++] = s;
    return KB_OK;
}

int kb_ruleset_load_dir(kb_ruleset *rs, const char *dir, kb_rule_error_fn fn, void *ud)
{
    strvec dirs = {NULL, 0, 0}, files = {NULL, 0, 0};
    report rp = {fn, ud, 0};
    int failed = 0, rc = KB_OK;
    kb_buf path;

    kb_buf_init(&path, 4096);
    if ((rc = sv_push(&dirs, kb_strdup(dir))))
        goto out;
    while (dirs.n > 0) {
        char *d = dirs.s[--dirs.n];
        DIR *dh = opendir(d);
        struct dirent *de;
        if (!dh) {
            fail(&rp, d, 0, "cannot open directory");
            kb_free(d);
            continue;
        }
        while ((de = readdir(dh)) != NULL) {
            struct stat st;
            if (de->d_name[0] == '.')
                continue;
            kb_buf_clear(&path);
            if (kb_buf_printf(&path, "%s/%s", d, de->d_name))
                continue;
            if (stat(path.data, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode))
                rc = sv_push(&dirs, kb_strdup(path.data));
            else if (S_ISREG(st.st_mode) && has_yaml_ext(de->d_name))
                rc = sv_push(&files, kb_strdup(path.data));
            if (rc)
                break;
        }
        closedir(dh);
        kb_free(d);
        if (rc)
            goto out;
    }
    if (files.n > 1)
        qsort(files.s, files.n, sizeof(*files.s), cmp_str);
    for (size_t i = 0; i < files.n; i++) {
        int r = kb_ruleset_load_file(rs, files.s[i], fn, ud);
        failed += r < 0 ? 1 : r;
    }
out:
    if (rc)
        fail(&rp, dir, 0, "out of memory while listing");
    for (size_t i = 0; i < dirs.n; i++)
        kb_free(dirs.s[i]);
    for (size_t i = 0; i < files.n; i++)
        kb_free(files.s[i]);
    kb_free(dirs.s);
    kb_free(files.s);
    kb_buf_release(&path);
    return failed + rp.failed;
}

/* ---- placeholders ------------------------------------------------------ */

int kb_ruleset_load_placeholders(kb_ruleset *rs, const char *path, const char **err)
{
    kb_yaml *y = NULL;
    kb_yaml_error ye;
    const kb_yaml_node *root;
    int rc = kb_yaml_parse_file(path, NULL, &y, &ye);

    *err = NULL;
    if (rc) {
        *err = ye.reason ? ye.reason : "cannot read placeholder file";
        return rc;
    }
    root = kb_yaml_doc(y, 0);
    if (!root || root->kind != KB_YAML_MAP) {
        *err = "placeholder file must be a map of name: values";
        rc = KB_EPARSE;
        goto out;
    }
    {
        placeholder *np = kb_realloc(rs->ph, (rs->nph + root->n) * sizeof(*np));
        if (!np) {
            rc = KB_ENOMEM;
            goto out;
        }
        rs->ph = np;
    }
    for (size_t i = 0; i < root->n; i++) {
        const kb_yaml_node *k = root->items[2 * i], *v = root->items[2 * i + 1];
        const kb_yaml_node *const *vals = (const kb_yaml_node *const *)&v;
        size_t nv = 1, klen;
        const char *ks;
        placeholder *ph = &rs->ph[rs->nph];

        if (k->kind != KB_YAML_SCALAR || (v->kind != KB_YAML_SCALAR && v->kind != KB_YAML_SEQ)) {
            *err = "placeholder entries are name: value or name: [values]";
            rc = KB_EPARSE;
            goto out;
        }
        if (v->kind == KB_YAML_SEQ) {
            vals = (const kb_yaml_node *const *)v->items;
            nv = v->n;
        }
        ks = k->str;
        klen = k->len;
        if (klen >= 2 && ks[0] == '%' && ks[klen - 1] == '%') {
            ks++;
            klen -= 2;
        }
        ph->name = kb_arena_strndup(rs->arena, ks, klen);
        ph->vals = kb_arena_alloc(rs->arena, (nv ? nv : 1) * sizeof(*ph->vals));
        if (!ph->name || !ph->vals) {
            rc = KB_ENOMEM;
            goto out;
        }
        ph->n = 0;
        for (size_t j = 0; j < nv; j++) {
            if (vals[j]->kind != KB_YAML_SCALAR) {
                *err = "placeholder values must be scalars";
                rc = KB_EPARSE;
                goto out;
            }
            if (!(ph->vals[ph->n++] = kb_arena_strndup(rs->arena, vals[j]->str, vals[j]->len))) {
                rc = KB_ENOMEM;
                goto out;
            }
        }
        rs->nph++;
    }
out:
    if (rc && !*err)
        *err = kb_strerror(rc);
    kb_yaml_free(y);
    return rc;
}
