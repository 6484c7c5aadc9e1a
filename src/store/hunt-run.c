/* Hunt queries with a residual: the terms SQL cannot evaluate on this back
 * end (raw fields, free text over the raw record) are evaluated here, in C,
 * over each candidate's decompressed record, with the semantics of
 * SQLite's functions (sqlite.c): a raw field is the record decoded again
 * (kb_raw_extract), equality is exact, wildcards and free text are ASCII
 * case-insensitive like LIKE, a comparison with a number compares the
 * field as a number (SQLite's CAST AS INTEGER), a missing field is false.
 *
 * kb_hunt_run:
 *  1. the candidates query (hunt-sql.c, compile_candidates) returns, one
 *     page of RES_PAGE ids at a time, each event narrowed by the SQL part
 *     of the query: its id, decoder, record location and the value (0/1)
 *     of every raw-free subtree of the residual;
 *  2. the residual (the query's boolean tree, its raw-free subtrees read
 *     from those columns) keeps or drops each candidate; the ids kept, with
 *     the raw fields the pipes read (r0, r1, ...), go into the temporary
 *     table kb_hunt_hits;
 *  3. the main statement (pipes: fields, stats, sort, head) runs in SQL
 *     over the hits, so it sees exactly the rows the residual kept.
 * Values stay bound parameters throughout. */
#include <stdio.h>
#include <string.h>

#include "store/hunt-int.h"
#include "store/store-int.h"

/* Rows of kb_hunt_hits per INSERT (parameters at most ~100). */
#define INS_PARAMS 96

typedef struct rrun {
    kb_store *st;
    const struct kb_hunt_residual *res;
    kb_raw_extractor *x;
    int64_t blk; /* block held in `block`, -1 none */
    kb_buf block, rec, pat;
    const char *rp; /* the current row's record (NULL: not read yet) */
    size_t rn;
    int rstate; /* 0 not read, 1 read, -1 none */
    char fmt[64];
    int64_t last; /* highest id seen */
    size_t rows;  /* candidates in this page */
    uint64_t candidates, hits;
    /* This page's hits: ids, and for each the raw fields (offset into
     * vals, length, or -1 when missing). */
    int64_t *ids;
    size_t nhits;
    size_t *voff;
    int64_t *vlen;
    kb_buf vals;
    int rc;
} rrun;

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* ASCII case-insensitive substring (LIKE '%s%'): the first byte's two
 * cases are looked for first, the rest compared only there. */
static int has_ci(const char *h, size_t n, const char *s, size_t m)
{
    unsigned char f0, f1;
    if (m == 0)
        return 1;
    if (m > n)
        return 0;
    f0 = lower((unsigned char)s[0]);
    f1 = f0 >= 'a' && f0 <= 'z' ? (unsigned char)(f0 & ~0x20) : f0;
    for (size_t i = 0, last = n - m; i <= last; i++) {
        size_t k;
        if ((unsigned char)h[i] != f0 && (unsigned char)h[i] != f1)
            continue;
        for (k = 1; k < m && lower((unsigned char)h[i + k]) == lower((unsigned char)s[k]); k++)
            ;
        if (k == m)
            return 1;
    }
    return 0;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t u8len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return k <= n ? k : 1;
}

/* LIKE with the hunt's wildcards: `*` any run, `?` one character, the rest
 * ASCII case-insensitive. Greedy with one backtrack point: linear-ish. */
static int like_ci(const char *s, size_t n, const char *p, size_t m)
{
    size_t i = 0, j = 0, star_j = SIZE_MAX, star_i = 0;
    while (i < n) {
        if (j < m && p[j] == '*') {
            star_j = j++;
            star_i = i;
        } else if (j < m && p[j] == '?') {
            i += u8len(s + i, n - i);
            j++;
        } else if (j < m && lower((unsigned char)p[j]) == lower((unsigned char)s[i])) {
            i++;
            j++;
        } else if (star_j != SIZE_MAX) {
            j = star_j + 1;
            i = star_i += u8len(s + star_i, n - star_i);
        } else {
            return 0;
        }
    }
    while (j < m && p[j] == '*')
        j++;
    return j == m;
}

/* SQLite's CAST(text AS INTEGER): the leading integer, 0 when none. */
static int64_t cast_int(const char *s, size_t n)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return neg ? INT64_MIN : INT64_MAX;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return neg ? INT64_MIN : INT64_MAX;
    return neg ? -(int64_t)v : (int64_t)v;
}

static int cmp_op(int op, int c)
{
    switch (op) {
    case HOP_LT:
        return c < 0;
    case HOP_LE:
        return c <= 0;
    case HOP_GT:
        return c > 0;
    case HOP_GE:
        return c >= 0;
    default:
        return c == 0;
    }
}

/* Cached by the back end (one prepared statement for every block). */
static const char sql_block[] = "SELECT data FROM blocks WHERE id = ?";

static int block_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    rrun *r = ud;
    (void)names;
    if (ncol && c[0].type == KB_SV_BLOB &&
        kb_store_raw_decompress(c[0].p, c[0].len, &r->block) == KB_OK)
        return 1;
    return 0;
}

/* The record of the current candidate (columns c), read once per row. */
static int record(rrun *r, const kb_sval *c)
{
    if (r->rstate)
        return r->rstate > 0;
    r->rstate = -1;
    if (c[2].type == KB_SV_BLOB) {
        if (kb_store_raw_decompress(c[2].p, c[2].len, &r->rec) != KB_OK)
            return 0;
        r->rp = r->rec.data;
        r->rn = r->rec.len;
    } else if (c[3].type == KB_SV_INT && c[4].type == KB_SV_INT && c[5].type == KB_SV_INT) {
        int64_t boff = c[4].i, len = c[5].i;
        if (c[3].i != r->blk) {
            kb_sval p = KB_SV_INTV(c[3].i);
            r->blk = -1;
            if (r->st->be->exec(r->st, sql_block, &p, 1, block_row, r, 1) != 1)
                return 0;
            r->blk = c[3].i;
        }
        if (boff < 0 || len < 0 || (uint64_t)boff + (uint64_t)len > r->block.len)
            return 0;
        r->rp = r->block.data + boff;
        r->rn = (size_t)len;
    } else {
        return 0;
    }
    r->rstate = 1;
    return 1;
}

/* Raw field f of the current candidate: 1 with *v, *n set, 0 missing. */
static int raw_field(rrun *r, const kb_sval *c, kb_str f, const char **v, size_t *n)
{
    if (!record(r, c))
        return 0;
    return kb_raw_extract(r->x, r->rp, r->rn, r->fmt, f.p, f.len, v, n) == KB_OK;
}

static int term(rrun *r, const kb_sval *c, const hnode *t)
{
    const char *v;
    size_t n;
    int wild = !t->quoted &&
               (memchr(t->value.p, '*', t->value.len) || memchr(t->value.p, '?', t->value.len));
    if (t->op == HOP_TEXT) {
        if (!record(r, c))
            return 0;
        if (!wild)
            return has_ci(r->rp, r->rn, t->value.p, t->value.len);
        /* LIKE '%v%' */
        kb_buf_clear(&r->pat);
        if (kb_buf_putc(&r->pat, '*') || kb_buf_append(&r->pat, t->value.p, t->value.len) ||
            kb_buf_putc(&r->pat, '*'))
            return 0;
        return like_ci(r->rp, r->rn, r->pat.data, r->pat.len);
    }
    if (!raw_field(r, c, t->field, &v, &n))
        return 0;
    if (t->op == HOP_EQ && !t->quoted && kb_str_eqz(t->value.p, t->value.len, "*"))
        return 1;
    if (t->op != HOP_EQ) {
        int64_t num;
        if (kb_parse_i64(t->value.p, t->value.len, &num) == KB_OK) {
            int64_t x = cast_int(v, n);
            return cmp_op(t->op, x < num ? -1 : x > num);
        }
        {
            size_t m = n < t->value.len ? n : t->value.len;
            int d = memcmp(v, t->value.p, m);
            if (d == 0)
                d = n < t->value.len ? -1 : n > t->value.len;
            return cmp_op(t->op, d);
        }
    }
    if (wild)
        return like_ci(v, n, t->value.p, t->value.len);
    return n == t->value.len && memcmp(v, t->value.p, n) == 0;
}

static int eval(rrun *r, const kb_sval *c, size_t ncol, int id)
{
    const struct kb_hunt_residual *res = r->res;
    const hnode *n = &res->h->nodes[id];
    if (!res->raw[id]) {
        size_t k = RES_FIXED + (size_t)res->col[id];
        if (res->col[id] < 0 || k >= ncol)
            return 0;
        return c[k].type == KB_SV_INT ? c[k].i != 0 : 0;
    }
    switch (n->type) {
    case HN_TERM:
        return term(r, c, n);
    case HN_NOT:
        return !eval(r, c, ncol, n->a);
    case HN_AND:
        return eval(r, c, ncol, n->a) && eval(r, c, ncol, n->b);
    default:
        return eval(r, c, ncol, n->a) || eval(r, c, ncol, n->b);
    }
}

static int candidate(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    rrun *r = ud;
    const struct kb_hunt_residual *res = r->res;
    (void)names;
    if (ncol < RES_FIXED || c[0].type != KB_SV_INT)
        return 0;
    r->last = c[0].i;
    r->rows++;
    r->candidates++;
    r->rstate = 0;
    r->fmt[0] = 0;
    if (c[1].type == KB_SV_TEXT && c[1].len < sizeof r->fmt) {
        memcpy(r->fmt, c[1].p, c[1].len);
        r->fmt[c[1].len] = 0;
    }
    if (res->root >= 0 && !eval(r, c, ncol, res->root))
        return 0;
    r->ids[r->nhits] = c[0].i;
    for (size_t k = 0; k < res->nraw; k++) {
        const char *v;
        size_t n;
        size_t slot = r->nhits * res->nraw + k;
        r->vlen[slot] = -1;
        if (raw_field(r, c, res->fields[k], &v, &n)) {
            r->voff[slot] = r->vals.len;
            if (kb_buf_append(&r->vals, v, n)) {
                r->rc = KB_ENOMEM;
                return 1;
            }
            r->vlen[slot] = (int64_t)n;
        }
    }
    r->nhits++;
    r->hits++;
    return 0;
}

int kb_hunt_hits_table(kb_store *st, const struct kb_hunt_residual *res, int create)
{
    kb_buf b;
    int rc;
    const char *drop = strcmp(kb_store_backend_of(st)->name, "pg") == 0
                           ? "DROP TABLE IF EXISTS pg_temp.kb_hunt_hits"
                           : "DROP TABLE IF EXISTS temp.kb_hunt_hits";
    if ((rc = kb_store_exec(st, drop, NULL, 0, NULL, NULL)) || !create)
        return rc;
    kb_buf_init(&b, 0);
    kb_buf_puts(&b, "CREATE TEMP TABLE kb_hunt_hits (id BIGINT PRIMARY KEY");
    for (size_t k = 0; k < res->nraw; k++)
        kb_buf_printf(&b, ", r%zu TEXT", k);
    kb_buf_puts(&b, ")");
    rc = b.data ? kb_store_exec(st, b.data, NULL, 0, NULL, NULL) : KB_ENOMEM;
    kb_buf_release(&b);
    return rc;
}

/* Inserts this page's hits into kb_hunt_hits. */
static int flush(rrun *r)
{
    const struct kb_hunt_residual *res = r->res;
    size_t per = 1 + res->nraw, rows = INS_PARAMS / per ? INS_PARAMS / per : 1;
    kb_sval p[INS_PARAMS + KB_HUNT_MAX_COLS * 2 + 16];
    kb_buf sql;
    int rc = KB_OK;

    kb_buf_init(&sql, 0);
    for (size_t i = 0; i < r->nhits && rc == KB_OK; i += rows) {
        size_t m = r->nhits - i < rows ? r->nhits - i : rows, np = 0;
        kb_buf_clear(&sql);
        kb_buf_puts(&sql, "INSERT INTO kb_hunt_hits VALUES ");
        for (size_t j = 0; j < m; j++) {
            size_t h = i + j;
            kb_buf_puts(&sql, j ? ", (?" : "(?");
            p[np++] = KB_SV_INTV(r->ids[h]);
            for (size_t k = 0; k < res->nraw; k++) {
                size_t slot = h * res->nraw + k;
                kb_buf_puts(&sql, ", ?");
                p[np++] = r->vlen[slot] < 0
                              ? (kb_sval){KB_SV_NULL, 0, 0, NULL, 0}
                              : KB_SV_STRV(r->vals.data + r->voff[slot], (size_t)r->vlen[slot]);
            }
            kb_buf_puts(&sql, ")");
        }
        rc = sql.data ? kb_store_exec(r->st, sql.data, p, np, NULL, NULL) : KB_ENOMEM;
    }
    kb_buf_release(&sql);
    r->nhits = 0;
    kb_buf_clear(&r->vals);
    return rc;
}

int kb_hunt_run(kb_store *st, kb_hunt_sql *q, kb_store_row_fn fn, void *ud)
{
    struct kb_hunt_residual *res = q->res;
    rrun r;
    int rc;

    if (!res)
        return kb_store_exec(st, q->sql.data, q->params, q->nparams, fn, ud);
    memset(&r, 0, sizeof r);
    r.st = st;
    r.res = res;
    r.blk = -1;
    kb_buf_init(&r.block, 0);
    kb_buf_init(&r.rec, 0);
    kb_buf_init(&r.pat, 0);
    kb_buf_init(&r.vals, 0);
    r.x = kb_raw_extractor_new();
    r.ids = kb_malloc(RES_PAGE * sizeof *r.ids);
    r.voff = kb_malloc((res->nraw ? res->nraw : 1) * RES_PAGE * sizeof *r.voff);
    r.vlen = kb_malloc((res->nraw ? res->nraw : 1) * RES_PAGE * sizeof *r.vlen);
    if (!r.x || !r.ids || !r.voff || !r.vlen) {
        rc = kb_store_fail(st, "out of memory");
        goto out;
    }
    if ((rc = kb_hunt_hits_table(st, res, 1)))
        goto out;
    res->params[res->p_limit] = KB_SV_INTV(RES_PAGE);
    do {
        res->params[res->p_after] = KB_SV_INTV(r.last);
        r.rows = 0;
        rc = kb_store_exec(st, res->sql.data, res->params, res->nparams, candidate, &r);
        if (rc == 1 || r.rc) {
            rc = kb_store_fail(st, "out of memory");
            break;
        }
        if (rc || (rc = flush(&r)))
            break;
    } while (r.rows == RES_PAGE);
    if (rc == KB_OK)
        rc = kb_store_exec(st, q->sql.data, q->params, q->nparams, fn, ud);
    kb_hunt_hits_table(st, res, 0);
out:
    kb_raw_extractor_free(r.x);
    kb_free(r.ids);
    kb_free(r.voff);
    kb_free(r.vlen);
    kb_buf_release(&r.block);
    kb_buf_release(&r.rec);
    kb_buf_release(&r.pat);
    kb_buf_release(&r.vals);
    return rc;
}

/* ---- explain ------------------------------------------------------------- */

static void describe(const struct kb_hunt_residual *res, int id, FILE *f)
{
    const hnode *n = &res->h->nodes[id];
    static const char *const ops[] = {":", " < ", " <= ", " > ", " >= ", ""};
    if (!res->raw[id]) {
        fprintf(f, "sql#%d", res->col[id] + 1);
        return;
    }
    switch (n->type) {
    case HN_TERM:
        if (n->op == HOP_TEXT)
            fprintf(f, "text~\"%.*s\"", (int)n->value.len, n->value.p);
        else
            fprintf(f, "raw(%.*s)%s\"%.*s\"", (int)n->field.len, n->field.p, ops[n->op],
                    (int)n->value.len, n->value.p);
        break;
    case HN_NOT:
        fputs("not ", f);
        describe(res, n->a, f);
        break;
    default:
        fputc('(', f);
        describe(res, n->a, f);
        fputs(n->type == HN_AND ? " and " : " or ", f);
        describe(res, n->b, f);
        fputc(')', f);
    }
}

int kb_hunt_residual_explain(kb_store *st, const kb_hunt_sql *q, FILE *f)
{
    const struct kb_hunt_residual *res = q->res;
    fputs("residual (koban evaluates it in C over each candidate's raw record): ", f);
    if (res->root >= 0)
        describe(res, res->root, f);
    else
        fputs("none", f);
    fputc('\n', f);
    if (res->ncols)
        fputs("  sql#N: the value of a part SQL evaluates, column N of the candidates\n", f);
    if (res->nraw) {
        fputs("raw fields read for the pipes:", f);
        for (size_t k = 0; k < res->nraw; k++)
            fprintf(f, " %.*s (h.r%zu)", (int)res->fields[k].len, res->fields[k].p, k);
        fputc('\n', f);
    }
    fprintf(f, "candidates sql (pages of %d ids): %s\n", RES_PAGE,
            res->sql.data ? res->sql.data : "");
    for (size_t i = 0; i < res->nparams; i++) {
        const kb_sval *v = &res->params[i];
        if (v->type == KB_SV_INT)
            fprintf(f, "  ?%zu = %lld\n", i + 1, (long long)v->i);
        else if (v->type == KB_SV_TEXT)
            fprintf(f, "  ?%zu = '%.*s'\n", i + 1, (int)v->len, v->p);
        else
            fprintf(f, "  ?%zu = NULL\n", i + 1);
    }
    return kb_store_backend_of(st)->explain(st, res->sql.data, res->params, res->nparams, f);
}
