/* Compile time of the fast Sigma matcher (engine-int.h says where each part is). */

#include "detect/engine-int.h"

/* ---- helpers ----------------------------------------------------------- */

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_eint(const void *a, const void *b)
{
    const eint *x = a, *y = b;
    return x->ival < y->ival ? -1 : x->ival > y->ival;
}

/* ---- compile ----------------------------------------------------------- */

/* How a string value of an HS predicate is found:
 *   VR_TRIE  a case-insensitive anchored literal: the slot's tries;
 *   VR_LITS  a substring made of bytes and windash dashes: its literal (one
 *            per dash variant), a hit is a match;
 *   VR_KEY   the longest literal run it contains, a hit is confirmed on the
 *            instance (wildcards, cased anchors);
 *   VR_EXPR  a Hyperscan expression of the whole value (no literal in it). */
enum { VR_TRIE, VR_LITS, VR_KEY, VR_EXPR };

static int value_class(const kb_sigma_pred *p, const kb_sigma_val *v)
{
    size_t off, lo = 0, hi = v->ntok, ndash = 0;
    if (engine_in_trie(p, v))
        return VR_TRIE;
    if (v->lit && v->anchor == 3)
        return VR_LITS;
    if (!v->lit && v->ntok >= 2 && v->tok[0] == KB_SIGMA_TOK_STAR &&
        v->tok[v->ntok - 1] == KB_SIGMA_TOK_STAR) {
        while (lo < hi && v->tok[lo] == KB_SIGMA_TOK_STAR)
            lo++;
        while (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        for (size_t i = lo; i < hi && ndash <= DASH_MAX; i++) {
            if (v->tok[i] == KB_SIGMA_TOK_DASH)
                ndash++;
            else if (v->tok[i] >= 256)
                ndash = DASH_MAX + 1;
        }
        if (lo < hi && ndash <= DASH_MAX)
            return VR_LITS;
    }
    return engine_value_key(v, &off) > 0 ? VR_KEY : VR_EXPR;
}

static uint32_t slot_of(kb_engine *e, kb_fid fid, const char *name)
{
    if (fid == KB_FID_NONE || !name || fid >= e->nfids)
        return NOSLOT;
    if (e->fid2slot[fid] != NOSLOT)
        return e->fid2slot[fid];
    if (kb_grow((void **)&e->slots, &e->aslots, e->nslots + 1, sizeof *e->slots, 16))
        return NOSLOT;
    memset(&e->slots[e->nslots], 0, sizeof e->slots[0]);
    e->slots[e->nslots].fid = fid;
    e->slots[e->nslots].name = name;
    e->slots[e->nslots].canon = fid < KB_F_CANON_COUNT;
    e->fid2slot[fid] = (uint32_t)e->nslots;
    return (uint32_t)e->nslots++;
}

/* Chooses a predicate's mode and registers its values. */
static int setup_pred(kb_engine *e, uint32_t ri, uint32_t gp, const kb_sigma_pred *p,
                      const kb_event *empty, kb_buf *b)
{
    epred *ep = &e->preds[gp];
    int hs_ok;

    memset(ep, 0, sizeof *ep);
    ep->rule = ri;
    ep->z = (uint8_t)kb_sigma_pred_match(p, empty);
    ep->all = p->all;
    ep->need = 1;
    ep->slot = slot_of(e, p->field, p->field_name);
    if (p->field == KB_FID_NONE) {
        ep->mode = p->kind == KB_SP_STR ? PM_ALWAYS : PM_CONST;
        if (p->kind != KB_SP_STR || p->neq || ep->z)
            return KB_OK;
        /* plain substrings without NUL can be found in the values joined
         * by NUL bytes */
        for (uint32_t i = 0; i < p->nvals; i++) {
            const kb_sigma_val *v = &p->vals[i];
            if (v->isnull || v->is_int ||
                (!v->never && (!v->lit || v->anchor != 3 || v->litlen == 0 ||
                               memchr(v->lit, 0, v->litlen))))
                return KB_OK;
        }
        if (e->kw_slot == NOSLOT) {
            if (kb_grow((void **)&e->slots, &e->aslots, e->nslots + 1, sizeof *e->slots, 16))
                return KB_ENOMEM;
            memset(&e->slots[e->nslots], 0, sizeof e->slots[0]);
            e->slots[e->nslots].fid = KB_FID_NONE;
            e->slots[e->nslots].name = "";
            e->kw_slot = (uint32_t)e->nslots++;
        }
        ep->slot = e->kw_slot;
        hs_ok = 1;
        goto hs;
    }
    if (ep->slot == NOSLOT) {
        ep->mode = PM_ALWAYS;
        return KB_OK;
    }
    if (p->kind == KB_SP_RE && !p->neq && ep->z == 0) {
        /* a regex is prefiltered by a literal it requires, then confirmed */
        char key[256];
        int fold;
        hs_ok = p->nvals > 0;
        for (uint32_t i = 0; hs_ok && i < p->nvals; i++) {
            size_t slen;
            const char *src = p->vals[i].isnull ? NULL
                                                : sigma_re_source(e->rs, p->vals[i].re, &slen);
            if (!src || (engine_regex_key(src, slen, (p->mods & KB_SM(RE_I)) != 0, key, sizeof key,
                                   &fold) < KEY_MIN &&
                         !engine_regex_prefilter_ok(src, slen, p->mods)))
                hs_ok = 0;
        }
        if (!hs_ok) {
            ep->mode = PM_REF;
            return KB_OK;
        }
        ep->confirm = 1;
        goto hs;
    }
    hs_ok = p->kind == KB_SP_STR && !p->neq && ep->z == 0;
    for (uint32_t i = 0; hs_ok && i < p->nvals; i++) {
        int conf;
        if (p->vals[i].isnull)
            hs_ok = 0;
        else if (!p->vals[i].never && !engine_value_pattern(&p->vals[i], b, &conf))
            hs_ok = 0;
        else if (!p->vals[i].never && conf && value_class(p, &p->vals[i]) == VR_EXPR)
            ep->confirm = 1;
    }
    if (!hs_ok) {
        ep->mode = PM_REF;
        ep->confirm = 0;
        return KB_OK;
    }
hs:
    if (p->nvals > PST_CNT) {
        /* more groups than a hit state counts: the reference decides */
        ep->mode = p->field == KB_FID_NONE ? PM_ALWAYS : PM_REF;
        ep->slot = p->field == KB_FID_NONE ? NOSLOT : ep->slot;
        ep->confirm = 0;
        return KB_OK;
    }
    ep->mode = PM_HS;
    ep->v0 = (uint32_t)e->nvals;
    {
        uint32_t runs = 0, prev = 0;
        for (uint32_t i = 0; i < p->nvals; i++) {
            const kb_sigma_val *v = &p->vals[i];
            if (i == 0 || v->group != prev)
                runs++;
            prev = v->group;
            if (v->never)
                continue;
            if (kb_grow((void **)&e->vals, &e->avals, e->nvals + 1, sizeof *e->vals, 16))
                return KB_ENOMEM;
            e->vals[e->nvals].v = v;
            e->vals[e->nvals].pred = gp;
            e->vals[e->nvals].gid = (uint32_t)(e->ngroups + runs - 1);
            e->vals[e->nvals].glob = NOSLOT;
            e->vals[e->nvals].is_int = v->is_int;
            e->vals[e->nvals].fold = !p->cased;
            e->nvals++;
        }
        e->ngroups += runs;
        if (p->all)
            ep->need = runs;
    }
    ep->nv = (uint32_t)e->nvals - ep->v0;
    return KB_OK;
}

typedef struct patset {
    char **expr;
    unsigned *flags, *ids;
    size_t n, cap;
} patset;

static void patset_clear(patset *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->expr[i]);
    ps->n = 0;
}

static int patset_add(patset *ps, const char *expr, unsigned flags, unsigned id)
{
    if (ps->n == ps->cap) {
        size_t c = ps->cap ? ps->cap * 2 : 64;
        char **x = realloc(ps->expr, c * sizeof *x);
        unsigned *f, *i;
        if (!x)
            return KB_ENOMEM;
        ps->expr = x;
        if (!(f = realloc(ps->flags, c * sizeof *f)))
            return KB_ENOMEM;
        ps->flags = f;
        if (!(i = realloc(ps->ids, c * sizeof *i)))
            return KB_ENOMEM;
        ps->ids = i;
        ps->cap = c;
    }
    if (!(ps->expr[ps->n] = kb_strdup(expr)))
        return KB_ENOMEM;
    ps->flags[ps->n] = flags;
    ps->ids[ps->n] = id;
    ps->n++;
    return KB_OK;
}

/* ---- literal tables ----------------------------------------------------- */

/* A literal of a pattern set: its hits go to the entries (value id, with
 * CONFIRM_BIT when the value must be confirmed on the instance). */
typedef struct plit {
    char *bytes;
    size_t len;
    uint8_t fold;
    uint32_t uid;
} plit;

static int add_entry(kb_engine *e, uint32_t ent)
{
    if (kb_grow((void **)&e->ents, &e->aents, e->nents + 1, sizeof *e->ents, 16))
        return KB_ENOMEM;
    e->ents[e->nents++] = ent;
    return KB_OK;
}

/* A new literal id whose entries start at the current end of e->ents. */
static int new_uid(kb_engine *e, uint32_t *uid)
{
    if (kb_grow((void **)&e->uids, &e->auids, e->nuids + 1, sizeof *e->uids, 16))
        return KB_ENOMEM;
    e->uids[e->nuids].ent0 = (uint32_t)e->nents;
    e->uids[e->nuids].nent = 0;
    *uid = (uint32_t)e->nuids++;
    return KB_OK;
}

/* Per-set gathering of (literal -> entries) before the ids are assigned. */
typedef struct lgather {
    struct lrec {
        char *bytes;
        size_t len;
        uint8_t fold;
        uint32_t ent;
    } *r;
    size_t n, cap;
} lgather;

static int lgather_add(lgather *g, const char *b, size_t len, int fold, uint32_t ent)
{
    char *c;
    if (kb_grow((void **)&g->r, &g->cap, g->n + 1, sizeof *g->r, 16))
        return KB_ENOMEM;
    if (!(c = malloc(len + 1)))
        return KB_ENOMEM;
    memcpy(c, b, len);
    c[len] = 0;
    g->r[g->n].bytes = c;
    g->r[g->n].len = len;
    g->r[g->n].fold = (uint8_t)fold;
    g->r[g->n].ent = ent;
    g->n++;
    return KB_OK;
}

static int cmp_lrec(const void *a, const void *b)
{
    const struct lrec *x = a, *y = b;
    int c;
    if (x->fold != y->fold)
        return x->fold < y->fold ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if ((c = memcmp(x->bytes, y->bytes, x->len)))
        return c;
    return x->ent < y->ent ? -1 : x->ent > y->ent;
}

/* The literals of one value into g (VR_LITS, VR_KEY, regex keys). Returns
 * KB_OK, or KB_EINVAL when the value needs a whole expression. */
static int value_literals(const kb_engine *e, uint32_t vid, lgather *g)
{
    const evalue *ev = &e->vals[vid];
    const kb_sigma_pred *p = pred_of(e, ev->pred);
    const kb_sigma_val *v = ev->v;
    char buf[1024];

    if (p->kind == KB_SP_RE) {
        size_t slen, n;
        int fold = 0;
        const char *src = sigma_re_source(e->rs, v->re, &slen);
        if (!src || (n = engine_regex_key(src, slen, (p->mods & KB_SM(RE_I)) != 0, buf, 256, &fold)) <
                        KEY_MIN)
            return KB_EINVAL;
        return lgather_add(g, buf, n, fold, vid);
    }
    switch (value_class(p, v)) {
    case VR_LITS: {
        size_t lo = 0, hi, nvar = 1;
        if (v->lit)
            return lgather_add(g, v->lit, v->litlen, ev->fold, vid);
        hi = v->ntok;
        while (lo < hi && v->tok[lo] == KB_SIGMA_TOK_STAR)
            lo++;
        while (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        if ((hi - lo) * 3 > sizeof buf)
            return KB_EINVAL;
        for (size_t i = lo; i < hi; i++)
            if (v->tok[i] == KB_SIGMA_TOK_DASH)
                nvar *= 5;
        for (size_t var = 0; var < nvar; var++) {
            size_t n = 0, sel = var;
            int rc;
            for (size_t i = lo; i < hi; i++) {
                if (v->tok[i] == KB_SIGMA_TOK_DASH) {
                    const char *d = windash[sel % 5];
                    sel /= 5;
                    memcpy(buf + n, d, strlen(d));
                    n += strlen(d);
                } else {
                    buf[n++] = (char)v->tok[i];
                }
            }
            if ((rc = lgather_add(g, buf, n, ev->fold, vid)))
                return rc;
        }
        return KB_OK;
    }
    case VR_KEY: {
        size_t off, n = engine_value_key(v, &off);
        if (n > sizeof buf)
            n = sizeof buf;
        if (v->lit)
            memcpy(buf, v->lit, n);
        else
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)v->tok[off + i];
        return lgather_add(g, buf, n, ev->fold, vid | CONFIRM_BIT);
    }
    default:
        return KB_EINVAL;
    }
}

/* Plans set xi (serially): literal ids and entries, the one-byte
 * literals, and the Hyperscan expressions to compile (sub->expr). */
static int plan_sub(kb_engine *e, esub *x, kb_buf *b)
{
    lgather g = {0};
    size_t aexpr = 0, aones = 0, arexpr = 0;
    int rc = KB_OK;

    for (size_t k = 0; k < x->np; k++) {
        const epred *ep = &e->preds[x->preds[k]];
        const kb_sigma_pred *p = pred_of(e, x->preds[k]);
        if (ep->mode != PM_HS)
            continue;
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            int conf;
            uint32_t uid;
            if (p->kind != KB_SP_RE && engine_in_trie(p, e->vals[vid].v))
                continue;
            rc = value_literals(e, vid, &g);
            if (rc == KB_OK)
                continue;
            if (rc != KB_EINVAL)
                goto out;
            if (p->kind == KB_SP_RE) {
                /* a regex without a literal key: Hyperscan prefilter */
                size_t slen;
                const char *src = sigma_re_source(e->rs, e->vals[vid].v->re, &slen);
                unsigned fl = HS_FLAG_PREFILTER | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH |
                              HS_FLAG_ALLOWEMPTY;
                char *z;
                if (!src) {
                    rc = KB_EINVAL;
                    goto out;
                }
                if (p->mods & KB_SM(RE_I))
                    fl |= HS_FLAG_CASELESS;
                if (p->mods & KB_SM(RE_M))
                    fl |= HS_FLAG_MULTILINE;
                if (p->mods & KB_SM(RE_S))
                    fl |= HS_FLAG_DOTALL;
                if ((rc = new_uid(e, &uid)) || (rc = add_entry(e, vid)))
                    goto out;
                e->uids[uid].nent = 1;
                if ((rc =
                         kb_grow((void **)&x->rexpr, &arexpr, x->nrexpr + 1, sizeof *x->rexpr, 16)))
                    goto out;
                if (!(z = malloc(slen + 1))) {
                    rc = KB_ENOMEM;
                    goto out;
                }
                memcpy(z, src, slen);
                z[slen] = 0;
                x->rexpr[x->nrexpr].s = z;
                x->rexpr[x->nrexpr].flags = fl;
                x->rexpr[x->nrexpr].uid = uid;
                x->nrexpr++;
                continue;
            }
            /* a whole expression, alone under its id */
            if (!engine_value_pattern(e->vals[vid].v, b, &conf)) {
                rc = KB_ENOMEM;
                goto out;
            }
            if ((rc = new_uid(e, &uid)) || (rc = add_entry(e, vid)))
                goto out;
            e->uids[uid].nent = 1;
            if ((rc = kb_grow((void **)&x->expr, &aexpr, x->nexpr + 1, sizeof *x->expr, 16)))
                goto out;
            if (!(x->expr[x->nexpr].s = kb_strdup(b->data))) {
                rc = KB_ENOMEM;
                goto out;
            }
            x->expr[x->nexpr].flags = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL |
                                      (p->cased ? 0 : HS_FLAG_CASELESS);
            x->expr[x->nexpr].uid = uid;
            x->expr[x->nexpr].lit = NULL;
            x->nexpr++;
        }
    }
    /* one id per distinct literal */
    if (g.n)
        qsort(g.r, g.n, sizeof *g.r, cmp_lrec);
    for (size_t i = 0; i < g.n;) {
        size_t j = i;
        uint32_t uid;
        const struct lrec *r = &g.r[i];
        if ((rc = new_uid(e, &uid)))
            goto out;
        for (; j < g.n && g.r[j].fold == r->fold && g.r[j].len == r->len &&
               memcmp(g.r[j].bytes, r->bytes, r->len) == 0;
             j++)
            if (j == i || g.r[j].ent != g.r[j - 1].ent)
                if ((rc = add_entry(e, g.r[j].ent)))
                    goto out;
        e->uids[uid].nent = (uint32_t)(e->nents - e->uids[uid].ent0);
        if (r->len == 1) {
            eone *o;
            if ((rc = kb_grow((void **)&x->ones, &aones, x->nones + 1, sizeof *x->ones, 16)))
                goto out;
            o = &x->ones[x->nones++];
            o->uid = uid;
            o->fold = r->fold;
            o->c = r->fold ? lower((unsigned char)r->bytes[0]) : (unsigned char)r->bytes[0];
        } else {
            kb_buf_clear(b);
            for (size_t k = 0; k < r->len; k++)
                engine_put_byte(b, (unsigned char)r->bytes[k]);
            if (!b->data || b->len >= b->cap) {
                rc = KB_ENOMEM;
                goto out;
            }
            if ((rc = kb_grow((void **)&x->expr, &aexpr, x->nexpr + 1, sizeof *x->expr, 16)))
                goto out;
            if (!(x->expr[x->nexpr].s = kb_strdup(b->data))) {
                rc = KB_ENOMEM;
                goto out;
            }
            x->expr[x->nexpr].flags = HS_FLAG_SINGLEMATCH | (r->fold ? HS_FLAG_CASELESS : 0);
            x->expr[x->nexpr].uid = uid;
            x->expr[x->nexpr].lit = NULL;
            if (!(x->expr[x->nexpr].lit = malloc(r->len))) {
                free(x->expr[x->nexpr].s);
                rc = KB_ENOMEM;
                goto out;
            }
            for (size_t k = 0; k < r->len; k++) {
                unsigned char c = (unsigned char)r->bytes[k];
                x->expr[x->nexpr].lit[k] = (char)(r->fold ? lower(c) : c);
            }
            x->expr[x->nexpr].litlen = (uint32_t)r->len;
            x->expr[x->nexpr].fold = r->fold;
            x->nexpr++;
        }
        i = j;
    }
    x->minlen = x->nrexpr ? 1 : UINT32_MAX;
    if (x->nones)
        x->minlen = 1;
    for (size_t k = 0; k < x->nexpr; k++) {
        uint32_t m = x->expr[k].lit ? x->expr[k].litlen : 1;
        if (m < x->minlen)
            x->minlen = m;
    }
    if (x->minlen == 0 || x->minlen == UINT32_MAX)
        x->minlen = 1;
out:
    for (size_t i = 0; i < g.n; i++)
        free(g.r[i].bytes);
    free(g.r);
    return rc;
}

/* Compiles exprs[0..n) into *db; an expression Hyperscan refuses turns
 * the predicates of its entries into PM_REF and the rest is compiled again.
 * Touches only the predicates of one set (sets compile in parallel). */
static int compile_db(kb_engine *e, const esub *x, const eexpr *exprs, size_t n,
                      hs_database_t **db, size_t *npat, patset *ps)
{
    int rc = KB_OK;
    for (;;) {
        hs_compile_error_t *cerr = NULL;
        patset_clear(ps);
        for (size_t k = 0; k < n; k++) {
            const euid *u = &e->uids[exprs[k].uid];
            int live = 0;
            for (uint32_t q = 0; q < u->nent; q++)
                live |= e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
            if (live && (rc = patset_add(ps, exprs[k].s, exprs[k].flags, exprs[k].uid)))
                return rc;
        }
        if (ps->n == 0)
            return KB_OK;
        if (hs_compile_multi((const char *const *)ps->expr, ps->flags, ps->ids, (unsigned)ps->n,
                             HS_MODE_BLOCK, NULL, db, &cerr) == HS_SUCCESS) {
            *npat = ps->n;
            return KB_OK;
        }
        *db = NULL;
        if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < ps->n) {
            const euid *u = &e->uids[ps->ids[cerr->expression]];
            for (uint32_t q = 0; q < u->nent; q++)
                e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode = PM_REF;
            hs_free_compile_error(cerr);
            continue;
        }
        if (cerr)
            hs_free_compile_error(cerr);
        for (size_t k = 0; k < x->np; k++)
            if (e->preds[x->preds[k]].mode == PM_HS)
                e->preds[x->preds[k]].mode = PM_REF;
        return KB_OK;
    }
}

/* Builds set x's databases and integer index. */
static int compile_sub(kb_engine *e, esub *x, patset *ps)
{
    size_t aints = 0, npat = 0, arui = 0;
    int rc;

    if ((rc = compile_db(e, x, x->rexpr, x->nrexpr, &x->rdb, &npat, ps)))
        goto out;
    if (x->rdb)
        for (size_t k = 0; k < x->nrexpr; k++) {
            const euid *u = &e->uids[x->rexpr[k].uid];
            if (e->preds[e->vals[e->ents[u->ent0]].pred].mode != PM_HS)
                continue;
            if ((rc = kb_grow((void **)&x->ruids, &arui, x->nruids + 1, sizeof *x->ruids, 16)))
                goto out;
            x->ruids[x->nruids++] = x->rexpr[k].uid;
        }
    {
        /* a few literals and nothing else: searched directly */
        size_t nlive = 0, nlit = 0;
        for (size_t k = 0; k < x->nexpr; k++) {
            const euid *u = &e->uids[x->expr[k].uid];
            int live = 0;
            for (uint32_t q = 0; q < u->nent; q++)
                live |= e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
            nlive += live;
            nlit += live && x->expr[k].lit;
        }
        if (nlive && nlive == nlit && nlive <= LIT_FEW) {
            if (!(x->flits = calloc(nlive, sizeof *x->flits))) {
                rc = KB_ENOMEM;
                goto out;
            }
            for (size_t k = 0; k < x->nexpr; k++) {
                const euid *u = &e->uids[x->expr[k].uid];
                int live = 0;
                for (uint32_t q = 0; q < u->nent; q++)
                    live |=
                        e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
                if (!live)
                    continue;
                x->flits[x->nflits].b = x->expr[k].lit;
                x->flits[x->nflits].len = x->expr[k].litlen;
                x->flits[x->nflits].uid = x->expr[k].uid;
                x->flits[x->nflits].fold = x->expr[k].fold;
                x->nflits++;
            }
            x->npat += x->nflits;
        } else if ((rc = compile_db(e, x, x->expr, x->nexpr, &x->db, &x->npat, ps))) {
            goto out;
        }
    }
    x->npat += npat;
    for (size_t k = 0; k < x->np; k++) {
        const epred *ep = &e->preds[x->preds[k]];
        if (ep->mode != PM_HS)
            continue;
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            if (!e->vals[vid].is_int)
                continue;
            if ((rc = kb_grow((void **)&x->ints, &aints, x->nints + 1, sizeof *x->ints, 16)))
                goto out;
            x->ints[x->nints].ival = e->vals[vid].v->ival;
            x->ints[x->nints].vid = vid;
            x->nints++;
        }
    }
    if (x->nints)
        qsort(x->ints, x->nints, sizeof *x->ints, cmp_eint);
out:
    patset_clear(ps);
    return rc;
}

/* Compiles the sets from a shared counter, on COMPILE_THREADS threads. */
typedef struct compile_job {
    kb_engine *e;
    atomic_size_t next;
    atomic_int rc;
} compile_job;

static void *compile_worker(void *arg)
{
    compile_job *job = arg;
    patset ps = {0};
    size_t xi;

    while ((xi = atomic_fetch_add(&job->next, 1)) < job->e->nsubs) {
        int rc = compile_sub(job->e, &job->e->subs[xi], &ps);
        if (rc) {
            atomic_store(&job->rc, rc);
            break;
        }
    }
    free(ps.expr);
    free(ps.flags);
    free(ps.ids);
    return NULL;
}

static int compile_subs(kb_engine *e)
{
    compile_job job;
    pthread_t th[COMPILE_THREADS];
    int started = 0;

    job.e = e;
    atomic_init(&job.next, 0);
    atomic_init(&job.rc, KB_OK);
    for (int k = 1; k < COMPILE_THREADS; k++)
        if (pthread_create(&th[started], NULL, compile_worker, &job) == 0)
            started++;
    compile_worker(&job);
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    return atomic_load(&job.rc);
}

/* Cost of the trigger a predicate needs when it must be watched. */
/* The cost of watching a predicate: how often it would wake its rule up
 * for nothing, roughly. Exact, prefix and suffix values and integers
 * (Image|endswith '\\powershell.exe', EventID) hit far more often than the
 * longer substrings rules pair them with, so an AND watches the substring. */
static uint32_t pred_cost(const kb_engine *e, uint32_t gp)
{
    const epred *ep = &e->preds[gp];
    switch (ep->mode) {
    case PM_HS: {
        const kb_sigma_pred *p = pred_of(e, gp);
        int anchored = ep->nv > 0 && p->kind == KB_SP_STR;
        if (ep->shorty)
            return COST_SHORT;
        if (ep->slot != NOSLOT && ep->slot == e->eventid_slot)
            return COST_EVENTID; /* routing already checked it: it would always hit */
        int exact = 1;
        size_t minlen = SIZE_MAX;
        if (ep->confirm)
            return COST_CONFIRM;
        for (uint32_t vid = ep->v0; anchored && vid < ep->v0 + ep->nv; vid++) {
            const kb_sigma_val *v = e->vals[vid].v;
            size_t len = v->lit ? v->litlen : v->ntok;
            anchored = e->vals[vid].is_int || engine_in_trie(p, v);
            exact &= e->vals[vid].is_int || (v->lit && v->anchor == 0);
            if (len < minlen)
                minlen = len;
        }
        if (!anchored)
            return COST_HS;
        return (exact ? COST_ANCHORED - 1 : COST_ANCHORED) + (minlen <= SHORT_MAX ? 3 : 0);
    }
    case PM_REF: return COST_REF;
    case PM_CONST: return 0;
    default: return COST_INF;
    }
}

static uint32_t add_cost(uint32_t a, uint32_t b)
{
    return a + b >= COST_INF ? COST_INF : a + b;
}

typedef struct tnode {
    uint32_t op;   /* index into the program */
    uint32_t c0;   /* first child in kids */
    uint32_t n;    /* children */
    uint8_t val;   /* value on an empty event */
    uint8_t need;  /* must be watched */
    uint32_t cost; /* cost of watching it */
    uint8_t any;   /* EventID requirement: 1 = none */
    int64_t *req;
    size_t nreq;
} tnode;

/* Requirement of a predicate on EventID: every value an integer. */
static int pred_req(const kb_engine *e, uint32_t gp, int64_t **req, size_t *nreq)
{
    const epred *ep = &e->preds[gp];
    const kb_sigma_pred *p = pred_of(e, gp);
    if (e->eventid_slot == NOSLOT || ep->slot != e->eventid_slot || p->kind != KB_SP_STR ||
        p->neq || ep->mode != PM_HS || p->nvals == 0)
        return 0;
    for (uint32_t i = 0; i < p->nvals; i++)
        if (!p->vals[i].is_int || p->vals[i].isnull)
            return 0;
    if (!(*req = malloc(p->nvals * sizeof **req)))
        return 0;
    for (uint32_t i = 0; i < p->nvals; i++)
        (*req)[i] = p->vals[i].ival;
    *nreq = p->nvals;
    return 1;
}

/* Watch set, always flag and EventID requirement of one rule, from its
 * program as a tree (built iteratively: postfix order puts children before
 * their parent, so a reverse walk visits parents first). */
static int analyse_rule(kb_engine *e, uint32_t ri)
{
    erule *er = &e->rules[ri];
    const kb_rule *r = er->r;
    size_t nops = r->nops;
    tnode *t = NULL;
    uint32_t *kids = NULL, *stack = NULL;
    size_t sp = 0, nk = 0;
    int rc = KB_OK;

    if (nops == 0)
        goto always;
    t = calloc(nops, sizeof *t);
    kids = malloc(nops * sizeof *kids);
    stack = malloc(nops * sizeof *stack);
    if (!t || !kids || !stack) {
        rc = KB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nops; i++) {
        const kb_sigma_op *o = &r->prog[i];
        tnode *n = &t[i];
        uint32_t cnt = 0;
        n->op = (uint32_t)i;
        n->any = 1;
        switch (o->op) {
        case KB_SOP_PRED: {
            uint32_t gp = er->pred0 + o->arg;
            if (o->arg >= er->npreds)
                goto always;
            n->val = e->preds[gp].z;
            n->cost = pred_cost(e, gp);
            if (pred_req(e, gp, &n->req, &n->nreq))
                n->any = 0;
            break;
        }
        case KB_SOP_NOT:
            if (sp < 1)
                goto always;
            n->n = 1;
            break;
        case KB_SOP_AND:
        case KB_SOP_OR:
        case KB_SOP_NOF:
            if (o->n == 0 || sp < o->n)
                goto always;
            n->n = o->n;
            break;
        default:
            goto always;
        }
        if (n->n) {
            /* children: the top n->n stack entries, in push order */
            n->c0 = (uint32_t)nk;
            for (uint32_t k = 0; k < n->n; k++)
                kids[nk++] = stack[sp - n->n + k];
            sp -= n->n;
            for (uint32_t k = 0; k < n->n; k++)
                cnt += t[kids[n->c0 + k]].val;
            switch (o->op) {
            case KB_SOP_NOT: n->val = !t[kids[n->c0]].val; break;
            case KB_SOP_AND: n->val = cnt == n->n; break;
            case KB_SOP_OR: n->val = cnt > 0; break;
            default: n->val = cnt >= o->arg; break;
            }
            /* cost of keeping this node at its value */
            if (o->op == KB_SOP_NOT) {
                n->cost = t[kids[n->c0]].cost;
            } else {
                int pick_min = (o->op == KB_SOP_AND && !n->val) ||
                               (o->op == KB_SOP_OR && n->val);
                uint32_t c = pick_min ? COST_INF : 0;
                for (uint32_t k = 0; k < n->n; k++) {
                    const tnode *ch = &t[kids[n->c0 + k]];
                    if (ch->val != n->val)
                        continue; /* it can only push the node further */
                    c = pick_min ? (ch->cost < c ? ch->cost : c) : add_cost(c, ch->cost);
                }
                n->cost = c;
            }
            /* EventID requirement */
            if (o->op == KB_SOP_AND) {
                for (uint32_t k = 0; k < n->n; k++) {
                    tnode *ch = &t[kids[n->c0 + k]];
                    if (!ch->any && (n->any || ch->nreq < n->nreq)) {
                        n->any = 0;
                        n->req = ch->req;
                        n->nreq = ch->nreq;
                    }
                }
                if (!n->any) {
                    /* take ownership: copy, children keep theirs */
                    int64_t *c = malloc(n->nreq * sizeof *c);
                    if (!c) {
                        n->any = 1;
                        n->req = NULL;
                    } else {
                        memcpy(c, n->req, n->nreq * sizeof *c);
                        n->req = c;
                    }
                }
            } else if (o->op == KB_SOP_OR || (o->op == KB_SOP_NOF && o->arg >= 1)) {
                size_t tot = 0;
                int all_req = 1;
                for (uint32_t k = 0; k < n->n; k++) {
                    all_req &= !t[kids[n->c0 + k]].any;
                    tot += t[kids[n->c0 + k]].nreq;
                }
                if (all_req && (n->req = malloc(tot * sizeof *n->req)) != NULL) {
                    for (uint32_t k = 0; k < n->n; k++) {
                        const tnode *ch = &t[kids[n->c0 + k]];
                        memcpy(n->req + n->nreq, ch->req, ch->nreq * sizeof *ch->req);
                        n->nreq += ch->nreq;
                    }
                    n->any = 0;
                }
            }
        }
        stack[sp++] = (uint32_t)i;
    }
    if (sp != 1)
        goto always;
    {
        tnode *root = &t[stack[0]];
        if (root->val || root->cost >= COST_INF)
            goto always_req;
        root->need = 1;
        for (size_t i = nops; i-- > 0;) {
            tnode *n = &t[i];
            const kb_sigma_op *o = &r->prog[i];
            if (!n->need)
                continue;
            if (o->op == KB_SOP_PRED) {
                e->preds[er->pred0 + o->arg].watched = 1;
                continue;
            }
            if (o->op == KB_SOP_NOT) {
                t[kids[n->c0]].need = 1;
                continue;
            }
            if ((o->op == KB_SOP_AND && !n->val) || (o->op == KB_SOP_OR && n->val)) {
                uint32_t best = UINT32_MAX, bc = COST_INF + 1;
                for (uint32_t k = 0; k < n->n; k++) {
                    const tnode *ch = &t[kids[n->c0 + k]];
                    if (ch->val == n->val && ch->cost < bc) {
                        bc = ch->cost;
                        best = kids[n->c0 + k];
                    }
                }
                if (best != UINT32_MAX)
                    t[best].need = 1;
                continue;
            }
            for (uint32_t k = 0; k < n->n; k++)
                if (t[kids[n->c0 + k]].val == n->val)
                    t[kids[n->c0 + k]].need = 1;
        }
    }
    {
        /* predicates ANDed at the top (through nested ANDs): when one of
         * them is a Hyperscan predicate without a hit, the rule is false */
        uint32_t *todo = malloc(nops * sizeof *todo);
        size_t nt = 0;
        if (!todo) {
            rc = KB_ENOMEM;
            goto out;
        }
        if (r->prog[stack[0]].op == KB_SOP_AND)
            todo[nt++] = stack[0];
        while (nt) {
            const tnode *n = &t[todo[--nt]];
            for (uint32_t k = 0; k < n->n; k++) {
                uint32_t c = kids[n->c0 + k];
                const kb_sigma_op *o = &r->prog[c];
                if (o->op == KB_SOP_AND) {
                    todo[nt++] = c;
                } else if (o->op == KB_SOP_PRED) {
                    uint32_t *m = realloc(er->must, (er->nmust + 1) * sizeof *m);
                    if (!m) {
                        free(todo);
                        rc = KB_ENOMEM;
                        goto out;
                    }
                    er->must = m;
                    er->must[er->nmust++] = er->pred0 + o->arg;
                }
            }
        }
        free(todo);
    }
always_req:
    if (sp == 1 && !t[stack[0]].any && t[stack[0]].nreq) {
        tnode *root = &t[stack[0]];
        er->req = malloc(root->nreq * sizeof *er->req);
        if (er->req) {
            memcpy(er->req, root->req, root->nreq * sizeof *er->req);
            qsort(er->req, root->nreq, sizeof *er->req, cmp_i64);
            er->nreq = root->nreq;
            er->has_req = 1;
        }
    }
    if (sp == 1 && (t[stack[0]].val || t[stack[0]].cost >= COST_INF))
        er->always = 1;
    goto out;
always:
    er->always = 1;
    for (uint32_t k = 0; k < er->npreds; k++)
        e->preds[er->pred0 + k].watched = 0;
out:
    if (t)
        for (size_t i = 0; i < nops; i++)
            free(t[i].req);
    free(t);
    free(kids);
    free(stack);
    return rc;
}

/* Regex runs for the regex predicates (not negated, not `all`). */
static int add_run(kb_engine *e, const char *b, size_t len)
{
    if (kb_grow((void **)&e->runs, &e->aruns, e->nruns + 1, sizeof *e->runs, 16) ||
        kb_grow((void **)&e->runbytes, &e->arunbytes, e->nrunbytes + len, 1, 16))
        return KB_ENOMEM;
    memcpy(e->runbytes + e->nrunbytes, b, len);
    e->runs[e->nruns].off = (uint32_t)e->nrunbytes;
    e->runs[e->nruns].len = (uint32_t)len;
    e->nrunbytes += len;
    e->nruns++;
    return KB_OK;
}

/* The runs of every string value made of bytes and `*` with a `*` inside
 * or at an end (values the engine confirms on a literal hit). */
static int build_globs(kb_engine *e)
{
    for (size_t vid = 0; vid < e->nvals; vid++) {
        const kb_sigma_val *v = e->vals[vid].v;
        const kb_sigma_pred *p = pred_of(e, e->vals[vid].pred);
        eglob g;
        char buf[256];
        size_t n = 0, i;
        if (p->kind != KB_SP_STR || v->lit || v->never || v->isnull || !v->ntok)
            continue;
        for (i = 0; i < v->ntok; i++)
            if (v->tok[i] > KB_SIGMA_TOK_STAR)
                break;
        if (i < v->ntok)
            continue;
        memset(&g, 0, sizeof g);
        g.run0 = (uint32_t)e->nruns;
        g.head = v->tok[0] == KB_SIGMA_TOK_STAR;
        g.tail = v->tok[v->ntok - 1] == KB_SIGMA_TOK_STAR;
        for (i = 0; i <= v->ntok; i++) {
            if (i == v->ntok || v->tok[i] == KB_SIGMA_TOK_STAR) {
                if (n && add_run(e, buf, n))
                    return KB_ENOMEM;
                g.nrun += n > 0;
                n = 0;
            } else if (n == sizeof buf) {
                break;
            } else {
                buf[n++] = (char)v->tok[i];
            }
        }
        if (i <= v->ntok || g.nrun == 0) {
            e->nruns = g.run0; /* too long a run: sigma_glob decides */
            continue;
        }
        if (kb_grow((void **)&e->globs, &e->aglobs, e->nglobs + 1, sizeof *e->globs, 16))
            return KB_ENOMEM;
        e->globs[e->nglobs] = g;
        e->vals[vid].glob = (uint32_t)e->nglobs++;
    }
    return KB_OK;
}

static int build_rxs(kb_engine *e)
{
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        const kb_sigma_pred *p = pred_of(e, gp);
        epred *ep = &e->preds[gp];
        ep->rx0 = NOSLOT;
        if (p->kind != KB_SP_RE || p->neq || p->all || ep->slot == NOSLOT || !p->nvals)
            continue;
        ep->rx0 = (uint32_t)e->nrxs;
        for (uint32_t i = 0; i < p->nvals; i++) {
            rxcoll c;
            int fold = 0;
            size_t slen;
            const char *src = sigma_re_source(e->rs, p->vals[i].re, &slen);
            erx *x;
            if (kb_grow((void **)&e->rxs, &e->arxs, e->nrxs + 1, sizeof *e->rxs, 16))
                return KB_ENOMEM;
            x = &e->rxs[e->nrxs++];
            memset(x, 0, sizeof *x);
            memset(&c, 0, sizeof c);
            x->run0 = (uint32_t)e->nruns;
            if (!src || !engine_regex_runs(src, slen, (p->mods & KB_SM(RE_I)) != 0, &c, &fold) ||
                c.nrun == 0) {
                x->any = 1;
                continue;
            }
            x->fold = (uint8_t)fold;
            for (size_t k = 0; k < c.nrun; k++) {
                if (kb_grow((void **)&e->runs, &e->aruns, e->nruns + 1, sizeof *e->runs, 16) ||
                    kb_grow((void **)&e->runbytes, &e->arunbytes, e->nrunbytes + c.run[k].len, 1,
                            16))
                    return KB_ENOMEM;
                memcpy(e->runbytes + e->nrunbytes, c.buf + c.run[k].off, c.run[k].len);
                e->runs[e->nruns].off = (uint32_t)e->nrunbytes;
                e->runs[e->nruns].len = c.run[k].len;
                e->nrunbytes += c.run[k].len;
                e->nruns++;
            }
            x->nrun = (uint32_t)c.nrun;
        }
    }
    return KB_OK;
}

/* Marks HS predicates with a literal of at most SHORT_MAX bytes: they hit
 * often, so watch sets prefer other predicates (COST_SHORT). (Leaving them
 * to the reference instead of scanning for them was measured: the
 * reference's substring search costs more than finding them in the scan.) */
static void mark_shorts(kb_engine *e)
{
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        epred *ep = &e->preds[gp];
        const kb_sigma_pred *p = pred_of(e, gp);
        if (ep->mode != PM_HS || p->kind != KB_SP_STR || ep->slot == e->kw_slot)
            continue;
        for (uint32_t i = 0; i < p->nvals && !ep->shorty; i++) {
            const kb_sigma_val *v = &p->vals[i];
            size_t off;
            if (v->never)
                continue;
            switch (value_class(p, v)) {
            case VR_LITS:
                ep->shorty = (v->lit ? v->litlen : engine_value_key(v, &off)) <= SHORT_MAX;
                break;
            case VR_KEY: ep->shorty = engine_value_key(v, &off) <= SHORT_MAX; break;
            default: break;
            }
        }
    }
}

static int ls_same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcasecmp(a, b) == 0;
}

/* Logsource groups: rules with the same product/category/service. */
static int group_rules(kb_engine *e)
{
    size_t cap = 64, alsgs = 0;
    uint32_t *tab = NULL;
    int rc = KB_ENOMEM;

    while (cap < e->nrules * 2)
        cap *= 2;
    if (!(tab = malloc(cap * sizeof *tab)))
        return KB_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        tab[i] = NOSLOT;
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        const kb_logsource *ls = &e->rules[ri].r->meta.ls;
        const char *k[3] = {ls->product, ls->category, ls->service};
        uint64_t h = 0x9E37u;
        size_t pos;
        for (int i = 0; i < 3; i++) {
            char buf[64];
            size_t n = 0;
            for (const char *c = k[i]; c && *c && n < sizeof buf; c++)
                buf[n++] = (char)lower((unsigned char)*c);
            h = (h ^ (k[i] ? kb_hash(buf, n) : (uint64_t)i + 1)) * 0x100000001B3ull;
        }
        pos = (size_t)h & (cap - 1);
        for (;; pos = (pos + 1) & (cap - 1)) {
            const kb_logsource *o;
            if (tab[pos] == NOSLOT) {
                if (kb_grow((void **)&e->lsgs, &alsgs, e->nlsgs + 1, sizeof *e->lsgs, 16))
                    goto out;
                e->lsgs[e->nlsgs].r = e->rules[ri].r;
                e->lsgs[e->nlsgs].r0 = e->lsgs[e->nlsgs].nr = 0;
                tab[pos] = (uint32_t)e->nlsgs++;
                break;
            }
            o = &e->lsgs[tab[pos]].r->meta.ls;
            if (ls_same(o->product, ls->product) && ls_same(o->category, ls->category) &&
                ls_same(o->service, ls->service))
                break;
        }
        e->rules[ri].lsg = tab[pos];
    }
    if (!(e->lsg_rules = malloc((e->nrules + 1) * sizeof *e->lsg_rules)))
        goto out;
    for (uint32_t ri = 0; ri < e->nrules; ri++)
        e->lsgs[e->rules[ri].lsg].nr++;
    for (size_t g = 0, at = 0; g < e->nlsgs; g++) {
        e->lsgs[g].r0 = (uint32_t)at;
        at += e->lsgs[g].nr;
        e->lsgs[g].nr = 0;
    }
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        elsg *g = &e->lsgs[e->rules[ri].lsg];
        e->lsg_rules[g->r0 + g->nr++] = ri;
    }
    rc = KB_OK;
out:
    free(tab);
    return rc;
}

/* One pattern set per (slot, logsource group) holding HS predicates. */
static int make_subs(kb_engine *e)
{
    size_t cap = 64;
    uint64_t *key = NULL;
    uint32_t *val = NULL;
    int rc = KB_ENOMEM;

    while (cap < e->npreds * 2)
        cap *= 2;
    key = malloc(cap * sizeof *key);
    val = malloc(cap * sizeof *val);
    if (!key || !val)
        goto out;
    for (size_t i = 0; i < cap; i++)
        key[i] = 0;
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        epred *ep = &e->preds[gp];
        uint64_t k;
        size_t pos;
        esub *x;
        if (ep->mode != PM_HS)
            continue;
        k = ((uint64_t)ep->slot << 32 | e->rules[ep->rule].lsg) + 1;
        pos = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
        while (key[pos] && key[pos] != k)
            pos = (pos + 1) & (cap - 1);
        if (!key[pos]) {
            if (kb_grow((void **)&e->subs, &e->asubs, e->nsubs + 1, sizeof *e->subs, 16))
                goto out;
            x = &e->subs[e->nsubs];
            memset(x, 0, sizeof *x);
            x->slot = ep->slot;
            x->lsg = e->rules[ep->rule].lsg;
            x->proot = x->sroot = NOSLOT;
            key[pos] = k;
            val[pos] = (uint32_t)e->nsubs++;
        }
        ep->sub = val[pos];
        x = &e->subs[ep->sub];
        if (kb_grow((void **)&x->preds, &x->ap, x->np + 1, sizeof *x->preds, 16))
            goto out;
        x->preds[x->np++] = gp;
    }
    rc = KB_OK;
out:
    free(key);
    free(val);
    return rc;
}

static int add_presence(eslot *s, uint32_t ri)
{
    if (s->npresence && s->presence[s->npresence - 1] == ri)
        return KB_OK;
    if (kb_grow((void **)&s->presence, &s->apresence, s->npresence + 1, sizeof *s->presence, 16))
        return KB_ENOMEM;
    s->presence[s->npresence++] = ri;
    return KB_OK;
}

kb_engine *kb_engine_new(const kb_ruleset *rs, const char **err)
{
    kb_engine *e;
    kb_arena *arena = NULL;
    kb_event empty;
    kb_buf b;
    double t0 = now_secs();
    const char *why = "out of memory";

    kb_buf_init(&b, 1u << 20);
    if (!rs) {
        *err = "no ruleset";
        return NULL;
    }
    if (!(e = calloc(1, sizeof *e)))
        goto fail;
    e->rs = rs;
    e->names = rs->names;
    e->nrules = rs->nrules;
    e->eventid_slot = NOSLOT;
    e->kw_slot = NOSLOT;
    e->nfids = kb_names_count(rs->names);
    if (!(e->fid2slot = malloc((e->nfids + 1) * sizeof *e->fid2slot)))
        goto fail;
    for (size_t i = 0; i < e->nfids; i++)
        e->fid2slot[i] = NOSLOT;
    if (!(e->rules = calloc(e->nrules + 1, sizeof *e->rules)))
        goto fail;
    for (size_t i = 0; i < e->nrules; i++) {
        e->rules[i].r = rs->rules[i];
        e->rules[i].prog = rs->rules[i]->prog;
        e->rules[i].nops = (uint32_t)rs->rules[i]->nops;
        e->rules[i].pred0 = (uint32_t)e->npreds;
        e->rules[i].npreds = (uint32_t)rs->rules[i]->npreds;
        e->npreds += rs->rules[i]->npreds;
    }
    if (!(e->preds = calloc(e->npreds + 1, sizeof *e->preds)))
        goto fail;
    if (!(arena = kb_arena_new(4096, 1u << 20)))
        goto fail;
    kb_event_init(&empty, rs->names, arena);
    for (size_t i = 0; i < e->nrules; i++)
        for (uint32_t j = 0; j < e->rules[i].npreds; j++)
            if (setup_pred(e, (uint32_t)i, e->rules[i].pred0 + j, &rs->rules[i]->preds[j], &empty,
                           &b))
                goto fail;
    if (build_rxs(e) || build_globs(e))
        goto fail;
    mark_shorts(e);
    /* pattern sets: one per (slot, logsource group) */
    if (group_rules(e) || make_subs(e))
        goto fail;
    for (size_t xi = 0; xi < e->nsubs; xi++)
        if (plan_sub(e, &e->subs[xi], &b))
            goto fail;
    why = "cannot compile a pattern database";
    if (compile_subs(e))
        goto fail;
    why = "out of memory";
    if (engine_build_tries(e))
        goto fail;
    /* EventID slot, canonical slots, name hash */
    {
        kb_fid id = kb_names_lookup(rs->names, "EventID", 7);
        if (id != KB_FID_NONE && id < e->nfids)
            e->eventid_slot = e->fid2slot[id];
    }
    if (!(e->canon_slots = malloc((e->nslots + 1) * sizeof *e->canon_slots)))
        goto fail;
    e->name_hash_cap = 16;
    while (e->name_hash_cap < e->nslots * 2)
        e->name_hash_cap *= 2;
    if (!(e->name_hash = calloc(e->name_hash_cap, sizeof *e->name_hash)))
        goto fail;
    for (uint32_t si = 0; si < e->nslots; si++) {
        size_t h = (size_t)kb_hash(e->slots[si].name, strlen(e->slots[si].name)) &
                   (e->name_hash_cap - 1);
        if (e->slots[si].canon)
            e->canon_slots[e->ncanon++] = si;
        while (e->name_hash[h])
            h = (h + 1) & (e->name_hash_cap - 1);
        e->name_hash[h] = si + 1;
    }
    /* rules: watch sets, presence triggers, EventID requirements */
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        const erule *er = &e->rules[ri];
        if (analyse_rule(e, ri))
            goto fail;
        if (er->always)
            continue;
        for (uint32_t k = 0; k < er->npreds; k++) {
            const epred *ep = &e->preds[er->pred0 + k];
            if (ep->watched && ep->mode == PM_REF && add_presence(&e->slots[ep->slot], ri))
                goto fail;
        }
    }
    if (e->nvals >= (1u << (32 - VH_VID)) || !(e->vhot = calloc(e->nvals + 1, sizeof *e->vhot)) ||
        !(e->ehot = calloc(e->nents + 1, sizeof *e->ehot)))
        goto fail;
    for (size_t vi = 0; vi < e->nvals; vi++) {
        const epred *ep = &e->preds[e->vals[vi].pred];
        e->vhot[vi].pred = e->vals[vi].pred;
        e->vhot[vi].rule = ep->rule;
        e->vhot[vi].gid = e->vals[vi].gid;
        e->vhot[vi].flags = (e->vals[vi].is_int ? VH_INT : 0) | (ep->all ? VH_ALL : 0) |
                            (ep->watched ? VH_WATCHED : 0) | (uint32_t)vi << VH_VID;
    }
    for (size_t k = 0; k < e->nents; k++) {
        e->ehot[k] = e->vhot[e->ents[k] & ~CONFIRM_BIT];
        if (e->ents[k] & CONFIRM_BIT)
            e->ehot[k].flags |= VH_CONFIRM;
    }
    if (e->ntvids) {
        if (!(e->thot = malloc(e->ntvids * sizeof *e->thot)))
            goto fail;
        for (size_t k = 0; k < e->ntvids; k++)
            e->thot[k] = e->vhot[e->tvids[k]];
    }
    if (!(e->phot = calloc(e->npreds + 1, sizeof *e->phot)))
        goto fail;
    for (size_t gp = 0; gp < e->npreds; gp++) {
        const epred *ep = &e->preds[gp];
        e->phot[gp].arg = ep->mode == PM_REF ? ep->slot : ep->need;
        e->phot[gp].mode = ep->mode;
        e->phot[gp].z = ep->z;
        e->phot[gp].confirm = ep->confirm;
    }
    e->cand_bytes = (e->nrules + 7) / 8 + 1;
    e->st.rules = e->nrules;
    e->st.preds = e->npreds;
    for (size_t xi = 0; xi < e->nsubs; xi++) {
        e->st.hs_patterns += e->subs[xi].npat;
        e->st.hs_databases += (e->subs[xi].db != NULL) + (e->subs[xi].rdb != NULL);
    }
    for (uint32_t gp = 0; gp < e->npreds; gp++)
        e->st.fallback += e->preds[gp].mode == PM_REF || e->preds[gp].mode == PM_ALWAYS ||
                          e->preds[gp].confirm;
    e->st.hs_patterns += e->ntvids; /* trie and one-byte literals count as patterns */
    for (size_t xi = 0; xi < e->nsubs; xi++)
        e->st.hs_patterns += e->subs[xi].nones;
    e->st.compile_secs = now_secs() - t0;
    why = NULL;
fail:
    kb_buf_release(&b);
    kb_arena_free(arena);
    if (why) {
        *err = why;
        kb_engine_free(e);
        return NULL;
    }
    return e;
}

void kb_engine_free(kb_engine *e)
{
    if (!e)
        return;

    for (size_t si = 0; si < e->nslots; si++)
        free(e->slots[si].presence);
    for (size_t xi = 0; xi < e->nsubs; xi++) {
        hs_free_database(e->subs[xi].db);
        free(e->subs[xi].ints);
        free(e->subs[xi].preds);
        for (size_t k = 0; k < e->subs[xi].nexpr; k++) {
            free(e->subs[xi].expr[k].s);
            free(e->subs[xi].expr[k].lit);
        }
        free(e->subs[xi].flits);
        free(e->subs[xi].expr);
        for (size_t k = 0; k < e->subs[xi].nrexpr; k++)
            free(e->subs[xi].rexpr[k].s);
        free(e->subs[xi].rexpr);
        free(e->subs[xi].ruids);
        hs_free_database(e->subs[xi].rdb);
        free(e->subs[xi].ones);
    }
    free(e->uids);
    free(e->ents);
    free(e->rxs);
    free(e->runs);
    free(e->globs);
    free(e->runbytes);
    free(e->subs);
    free(e->lsgs);
    free(e->lsg_rules);
    if (e->rules)
        for (size_t i = 0; i < e->nrules; i++) {
            free(e->rules[i].req);
            free(e->rules[i].must);
        }
    free(e->slots);
    free(e->rules);
    free(e->preds);
    free(e->vals);
    free(e->vhot);
    free(e->thot);
    free(e->ehot);
    free(e->phot);
    free(e->fid2slot);
    free(e->canon_slots);
    free(e->name_hash);
    free(e->tn);
    free(e->edges);
    free(e->tlab);
    free(e->tvids);
    free(e);
}

void kb_engine_stats_get(const kb_engine *e, kb_engine_stats *st)
{
    *st = e->st;
}
