/* Hunt language: field resolution and SQL generation. The SQL is built in
 * textual order (select list, FROM, WHERE, GROUP BY, ORDER BY, LIMIT) so
 * the parameters line up with the `?` placeholders. Recursion over the
 * boolean tree is bounded by KB_HUNT_MAX_NODES. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/hunt-int.h"

/* ---- fields -------------------------------------------------------------- */

enum { FR_COL, FR_OBS, FR_RAW };

typedef struct fref {
    int kind;
    char expr[64];   /* SQL expression for FR_COL */
    int is_int, is_time, is_ip;
    int obs;         /* observables kind for exact pivots, -1 none; for FR_OBS -2: any */
    int64_t fbit;    /* the field's bit in obs_events.fm, 0 none */
    kb_str raw;
} fref;

static const struct {
    const char *name, *expr;
    int is_int;
} extras[] = {
    {"log.format", "e.format", 0},          {"log.file.path", "s.path", 0},
    {"log.offset", "e.rec_offset", 1},      {"log.line", "e.line", 1},
    {"event.id", "e.id", 1},                {"logsource.product", "e.ls_product", 0},
    {"logsource.category", "e.ls_category", 0}, {"logsource.service", "e.ls_service", 0},
};
#define NEXTRAS (sizeof extras / sizeof extras[0])

/* Exact values of these canonical fields are looked up in observables. */
static int obs_of(int canon)
{
    switch (canon) {
    case KB_F_SOURCE_IP:
    case KB_F_DESTINATION_IP:
    case KB_F_HOST_IP:
        return KB_OBS_IP;
    case KB_F_URL_DOMAIN:
    case KB_F_DNS_QUESTION_NAME:
        return KB_OBS_DOMAIN;
    case KB_F_URL_FULL:
        return KB_OBS_URL;
    case KB_F_FILE_HASH_MD5:
    case KB_F_FILE_HASH_SHA1:
    case KB_F_FILE_HASH_SHA256:
        return KB_OBS_HASH;
    case KB_F_USER_NAME:
        return KB_OBS_USER;
    case KB_F_FILE_NAME:
        return KB_OBS_FILE;
    case KB_F_PROCESS_EXECUTABLE:
    case KB_F_PROCESS_PARENT_EXECUTABLE:
        return KB_OBS_PROCESS;
    default:
        /* host.name: the events (host_name, ts) index serves host + window
         * queries better than the observables detour. */
        return -1;
    }
}

const kb_hunt_event_col kb_hunt_event_cols[] = {
    {"event.id", 0},
#define EV_CANON(e, n) {n, KB_F_##e == KB_F_TIMESTAMP},
    KB_CANON_MAP(EV_CANON)
#undef EV_CANON
    {"log.format", 0},
    {"logsource.product", 0},
    {"logsource.category", 0},
    {"logsource.service", 0},
};
const size_t kb_hunt_event_ncols = sizeof kb_hunt_event_cols / sizeof kb_hunt_event_cols[0];

typedef struct cstate {
    const kb_hunt *h;
    kb_store *st;
    kb_hunt_sql *q;
    kb_hunt_error *err;
    int failed;
    struct kb_hunt_residual *res; /* compiling a query with a residual */
    int64_t wlo, whi;             /* time window of every result (window_of) */
} cstate;

static int fail(cstate *cs, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cstate *cs, size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (cs->failed)
        return -1;
    cs->failed = 1;
    cs->err->pos = pos;
    va_start(ap, fmt);
    vsnprintf(cs->err->msg, sizeof cs->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int put(cstate *cs, const char *s)
{
    if (kb_buf_puts(&cs->q->sql, s))
        return fail(cs, 0, "out of memory");
    return 0;
}

static int param(cstate *cs, kb_sval v)
{
    if (cs->q->nparams >= sizeof cs->q->params / sizeof cs->q->params[0])
        return fail(cs, 0, "the query needs too many parameters");
    cs->q->params[cs->q->nparams++] = v;
    return put(cs, "?");
}

struct suggest {
    const char *name;
    size_t len;
    int max;
    char best[3][128];
    int dist[3];
};

static void consider(struct suggest *sg, const char *cand, size_t clen)
{
    int d = kb_hunt_distance(sg->name, sg->len, cand, clen, sg->max);
    if (d > sg->max || clen >= 128)
        return;
    for (int i = 0; i < 3; i++) {
        if (sg->best[i][0] && kb_str_eqz(cand, clen, sg->best[i]))
            return;
    }
    for (int i = 0; i < 3; i++) {
        if (!sg->best[i][0] || d < sg->dist[i]) {
            for (int k = 2; k > i; k--) {
                memcpy(sg->best[k], sg->best[k - 1], sizeof sg->best[k]);
                sg->dist[k] = sg->dist[k - 1];
            }
            memcpy(sg->best[i], cand, clen);
            sg->best[i][clen] = 0;
            sg->dist[i] = d;
            return;
        }
    }
}

static int suggest_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)names;
    if (ncol && c[0].type == KB_SV_TEXT)
        consider(ud, c[0].p, c[0].len);
    return 0;
}

static int known_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)ncol, (void)c, (void)names;
    *(int *)ud = 1;
    return 0;
}

static int unknown_field(cstate *cs, kb_str f, size_t pos)
{
    struct suggest sg = {.name = f.p, .len = f.len};
    sg.max = f.len / 3 > 2 ? (int)f.len / 3 : 2;
    for (int c = 0; c < KB_F_CANON_COUNT; c++)
        consider(&sg, kb_canon_name(c), strlen(kb_canon_name(c)));
    for (size_t i = 0; i < NEXTRAS; i++)
        consider(&sg, extras[i].name, strlen(extras[i].name));
    for (int k = 0; k < KB_OBS_COUNT; k++)
        consider(&sg, kb_obs_kind_name(k), strlen(kb_obs_kind_name(k)));
    consider(&sg, "observable", 10);
    kb_store_exec(cs->st, "SELECT name FROM field_names LIMIT 100000", NULL, 0, suggest_row, &sg);
    if (!sg.best[0][0])
        return fail(cs, pos, "unknown field '%.*s' (not a canonical field and never seen while"
                             " loading)",
                    (int)f.len, f.p);
    return fail(cs, pos, "unknown field '%.*s'; did you mean %s%s%s%s%s?", (int)f.len, f.p,
                sg.best[0], sg.best[1][0] ? ", " : "", sg.best[1], sg.best[2][0] ? ", " : "",
                sg.best[2]);
}

static int resolve(cstate *cs, kb_str f, size_t pos, fref *r)
{
    int c = kb_canon_find(f.p, f.len), k;
    memset(r, 0, sizeof *r);
    r->obs = -1;
    if (c >= 0 && c != KB_F_LOG_FILE_PATH && c != KB_F_LOG_OFFSET) {
        const kb_store_column *col = kb_store_column_of(c);
        if (col) {
            r->kind = FR_COL;
            snprintf(r->expr, sizeof r->expr, "e.%s", col->column);
            r->is_int = col->is_int;
            r->is_time = c == KB_F_TIMESTAMP;
            r->is_ip = c == KB_F_SOURCE_IP || c == KB_F_DESTINATION_IP || c == KB_F_HOST_IP;
            r->obs = obs_of(c);
            r->fbit = r->obs >= 0 ? kb_obs_field_bit(c) : 0;
            return 0;
        }
    }
    for (size_t i = 0; i < NEXTRAS; i++)
        if (kb_str_eqz(f.p, f.len, extras[i].name)) {
            r->kind = FR_COL;
            snprintf(r->expr, sizeof r->expr, "%s", extras[i].expr);
            r->is_int = extras[i].is_int;
            return 0;
        }
    if ((k = kb_obs_kind_find(f.p, f.len)) >= 0 || kb_str_eqz(f.p, f.len, "observable")) {
        r->kind = FR_OBS;
        r->obs = k >= 0 ? k : -2;
        return 0;
    }
    {
        int known = 0;
        kb_sval p = KB_SV_STRV(f.p, f.len);
        kb_store_exec(cs->st, "SELECT 1 FROM field_names WHERE name = ?", &p, 1, known_row,
                      &known);
        if (!known)
            return unknown_field(cs, f, pos);
    }
    if (!kb_store_backend_of(cs->st)->raw_fields && !cs->res)
        return fail(cs, pos, "raw field '%.*s' can be searched in the SQLite store only (this"
                             " store is %s); use a canonical field",
                    (int)f.len, f.p, kb_store_backend_of(cs->st)->name);
    r->kind = FR_RAW;
    r->raw = f;
    return 0;
}

/* The raw record of an event (SQLite's kb_raw(), see sqlite.c). */
#define RAW_ARGS "e.raw, e.blk, e.boff, e.raw_len"
#define RAW_EXPR "kb_raw(" RAW_ARGS ")"

/* Writes the SQL expression of a column or raw field (with its parameter). */
static int put_expr(cstate *cs, const fref *r)
{
    if (r->kind == FR_COL)
        return put(cs, r->expr);
    if (cs->res) {
        /* Extracted in C by kb_hunt_run into kb_hunt_hits.rN. */
        struct kb_hunt_residual *res = cs->res;
        size_t k = 0;
        char col[32];
        while (k < res->nraw &&
               !kb_str_eq(res->fields[k].p, res->fields[k].len, r->raw.p, r->raw.len))
            k++;
        if (k == res->nraw) {
            if (k >= sizeof res->fields / sizeof res->fields[0])
                return fail(cs, 0, "too many raw fields in the pipes");
            res->fields[res->nraw++] = r->raw;
        }
        snprintf(col, sizeof col, "h.r%zu", k);
        return put(cs, col);
    }
    if (put(cs, "kb_raw_field(" RAW_EXPR ", e.format, ") ||
        param(cs, KB_SV_STRV(r->raw.p, r->raw.len)))
        return -1;
    return put(cs, ")");
}

/* ---- values ---------------------------------------------------------------- */

static int has_wild(const hnode *n)
{
    if (n->quoted)
        return 0;
    return memchr(n->value.p, '*', n->value.len) || memchr(n->value.p, '?', n->value.len);
}

/* A LIKE pattern: wildcards (unless literal) to % and _, the rest escaped;
 * `contains` wraps it in %...%. */
static int like_param(cstate *cs, const hnode *n, int wild, int contains)
{
    char *p = kb_arena_alloc(cs->q->arena, n->value.len * 2 + 3);
    size_t k = 0;
    if (!p)
        return fail(cs, n->vpos, "out of memory");
    if (contains)
        p[k++] = '%';
    for (size_t i = 0; i < n->value.len; i++) {
        char c = n->value.p[i];
        if (wild && c == '*')
            p[k++] = '%';
        else if (wild && c == '?')
            p[k++] = '_';
        else {
            if (c == '%' || c == '_' || c == '\\')
                p[k++] = '\\';
            p[k++] = c;
        }
    }
    if (contains)
        p[k++] = '%';
    p[k] = 0;
    return param(cs, KB_SV_STRV(p, k));
}

static int parse_cidr4(kb_str v, int64_t *lo, int64_t *hi)
{
    const char *slash = memchr(v.p, '/', v.len);
    int64_t bits, addr = 0;
    size_t i = 0, alen;
    int parts = 0;
    if (!slash)
        return -1;
    alen = (size_t)(slash - v.p);
    if (kb_parse_i64(slash + 1, v.len - alen - 1, &bits) || bits < 0 || bits > 32)
        return -1;
    while (i < alen && parts < 4) {
        size_t j = i;
        int64_t oct;
        while (j < alen && v.p[j] != '.')
            j++;
        if (j == i || j - i > 3 || kb_parse_i64(v.p + i, j - i, &oct) || oct < 0 || oct > 255)
            return -1;
        addr = addr * 256 + oct;
        parts++;
        i = j + 1;
        if (j == alen)
            break;
    }
    if (parts != 4 || i < alen)
        return -1;
    {
        int64_t mask = bits == 0 ? 0 : (int64_t)((0xffffffffu << (32 - bits)) & 0xffffffffu);
        *lo = addr & mask;
        *hi = *lo | (~mask & 0xffffffff);
    }
    return 0;
}

static const char *op_sql(int op)
{
    switch (op) {
    case HOP_LT:
        return " < ";
    case HOP_LE:
        return " <= ";
    case HOP_GT:
        return " > ";
    case HOP_GE:
        return " >= ";
    default:
        return " = ";
    }
}

/* Time bounds every result has: @timestamp comparisons among the query's
 * top-level `and` terms, and --since (inclusive, ns; none: INT64_MIN /
 * INT64_MAX). */
static void window_of(const kb_hunt *h, int id, int64_t *lo, int64_t *hi)
{
    const hnode *n = &h->nodes[id];
    int64_t v;
    if (n->type == HN_AND) {
        window_of(h, n->a, lo, hi);
        window_of(h, n->b, lo, hi);
        return;
    }
    if (n->type != HN_TERM || n->op == HOP_EQ || n->op == HOP_TEXT ||
        kb_canon_find(n->field.p, n->field.len) != KB_F_TIMESTAMP ||
        kb_hunt_time(n->value.p, n->value.len, h->now, &v) != KB_OK)
        return;
    if ((n->op == HOP_GE || (n->op == HOP_GT && v < INT64_MAX)) &&
        v + (n->op == HOP_GT) > *lo)
        *lo = v + (n->op == HOP_GT);
    if ((n->op == HOP_LE || (n->op == HOP_LT && v > INT64_MIN)) &&
        v - (n->op == HOP_LT) < *hi)
        *hi = v - (n->op == HOP_LT);
}

struct idrange {
    int64_t lo, hi, n;
};

static int idrange_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct idrange *r = ud;
    (void)names;
    if (ncol >= 3 && c[0].type == KB_SV_INT && c[1].type == KB_SV_INT && c[2].type == KB_SV_INT) {
        r->lo = c[0].i;
        r->hi = c[1].i;
        r->n = c[2].i;
    }
    return 0;
}

/* Inside an obs_events subquery of a pivot on (kind, value): when the
 * query has a time window, the event ids of the value's sightings in the
 * window's hours (obs_counts), so a frequent value is not read whole.
 * Every result lies in the window, and there the pivot is unchanged. */
static int put_window(cstate *cs, int kind, kb_str value, int64_t fbit)
{
    const char *kn = kb_obs_kind_name(kind);
    struct idrange r = {0, 0, -1};
    kb_sval p[5];
    size_t np = 0;
    kb_buf sql;
    if (cs->wlo == INT64_MIN && cs->whi == INT64_MAX)
        return 0;
    if ((cs->wlo != INT64_MIN && cs->wlo < 0) || cs->whi < 0)
        return 0; /* hours truncate toward zero: times before 1970 are not narrowed */
    p[np++] = KB_SV_STRV(kn, strlen(kn));
    p[np++] = KB_SV_STRV(value.p, value.len);
    if (fbit)
        p[np++] = KB_SV_INTV(fbit);
    p[np++] = KB_SV_INTV(cs->wlo == INT64_MIN ? KB_OBS_HR_NONE + 1 : cs->wlo / KB_OBS_HOUR);
    p[np++] = KB_SV_INTV(cs->whi / KB_OBS_HOUR);
    kb_buf_init(&sql, 0);
    kb_buf_printf(&sql,
                  "SELECT COALESCE(MIN(lo), 0), COALESCE(MAX(hi), -1), COUNT(*) FROM obs_counts"
                  " WHERE vid IN (SELECT id FROM obs_values WHERE kind = ? AND value = ?)%s AND"
                  " hr BETWEEN ? AND ?",
                  fbit ? " AND (fm & ?) <> 0" : "");
    if (!sql.data || kb_store_exec(cs->st, sql.data, p, np, idrange_row, &r) != KB_OK ||
        r.n < 0) {
        kb_buf_release(&sql);
        return 0; /* no narrowing: still correct */
    }
    kb_buf_release(&sql);
    if (put(cs, " AND event_id BETWEEN ") || param(cs, KB_SV_INTV(r.lo)) || put(cs, " AND ") ||
        param(cs, KB_SV_INTV(r.hi)))
        return -1;
    return 0;
}

static int compile_term(cstate *cs, const hnode *n)
{
    const kb_store_backend *be = kb_store_backend_of(cs->st);
    fref r;
    int wild = has_wild(n);
    char like[32];

    snprintf(like, sizeof like, " %s ", be->like);
    if (n->op == HOP_TEXT) {
        if (!be->raw_fields)
            return fail(cs, n->vpos, "free-text search over raw records needs the SQLite store"
                                     " (this store is %s)",
                        be->name);
        /* A plain substring is searched in C in the decompressed block
         * (kb_raw_has); wildcards need LIKE on the record. */
        if (!wild) {
            if (put(cs, "kb_raw_has(" RAW_ARGS ", ") ||
                param(cs, KB_SV_STRV(n->value.p, n->value.len)))
                return -1;
            return put(cs, ")");
        }
        if (put(cs, RAW_EXPR) || put(cs, like) || like_param(cs, n, wild, 1))
            return -1;
        return put(cs, " ESCAPE '\\'");
    }
    if (resolve(cs, n->field, n->pos, &r))
        return -1;
    if (r.kind == FR_OBS) {
        if (n->op != HOP_EQ)
            return fail(cs, n->pos, "'%.*s' searches the observables index and takes ':' only",
                        (int)n->field.len, n->field.p);
        if (put(cs, "e.id IN (SELECT event_id FROM obs_events WHERE vid IN (SELECT id FROM"
                    " obs_values WHERE "))
            return -1;
        if (r.obs >= 0) {
            const char *kn = kb_obs_kind_name(r.obs);
            if (put(cs, "kind = ") || param(cs, KB_SV_STRV(kn, strlen(kn))) || put(cs, " AND "))
                return -1;
        }
        if (wild) {
            if (put(cs, "value") || put(cs, like) || like_param(cs, n, 1, 0) ||
                put(cs, " ESCAPE '\\'"))
                return -1;
        } else if (put(cs, "value = ") || param(cs, KB_SV_STRV(n->value.p, n->value.len))) {
            return -1;
        }
        if (put(cs, ")") || (!wild && r.obs >= 0 && put_window(cs, r.obs, n->value, 0)))
            return -1;
        return put(cs, ")");
    }
    if (n->op == HOP_EQ && !n->quoted && kb_str_eqz(n->value.p, n->value.len, "*")) {
        if (put(cs, "(") || put_expr(cs, &r))
            return -1;
        return put(cs, " IS NOT NULL)");
    }
    if (r.is_time || r.is_int) {
        int64_t v;
        if (r.is_time ? kb_hunt_time(n->value.p, n->value.len, cs->h->now, &v)
                      : kb_parse_i64(n->value.p, n->value.len, &v))
            return fail(cs, n->vpos, r.is_time ? "expected a time (now-24h, 2024-05-01,"
                                                 " 2024-05-01T10:00:00Z) for '%.*s'"
                                               : "expected a whole number for '%.*s'",
                        (int)n->field.len, n->field.p);
        if (put(cs, "(") || put_expr(cs, &r) || put(cs, op_sql(n->op)) || param(cs, KB_SV_INTV(v)))
            return -1;
        return put(cs, ")");
    }
    if (n->op != HOP_EQ) {
        int64_t v;
        int num = kb_parse_i64(n->value.p, n->value.len, &v) == KB_OK;
        if (put(cs, "("))
            return -1;
        if (num && be->raw_fields) {
            /* A number against text: compare as numbers. */
            if (put(cs, "CAST(") || put_expr(cs, &r) || put(cs, " AS INTEGER)") ||
                put(cs, op_sql(n->op)) || param(cs, KB_SV_INTV(v)))
                return -1;
        } else if (put_expr(cs, &r) || put(cs, op_sql(n->op)) ||
                   param(cs, KB_SV_STRV(n->value.p, n->value.len))) {
            return -1;
        }
        return put(cs, ")");
    }
    if (wild) {
        if (put(cs, "(") || put_expr(cs, &r) || put(cs, like) || like_param(cs, n, 1, 0) ||
            put(cs, " ESCAPE '\\')"))
            return -1;
        return 0;
    }
    {
        int64_t lo, hi;
        if (r.is_ip && !n->quoted && parse_cidr4(n->value, &lo, &hi) == 0) {
            if (put(cs, "(kb_ip4(") || put_expr(cs, &r) || put(cs, ") BETWEEN ") ||
                param(cs, KB_SV_INTV(lo)) || put(cs, " AND ") || param(cs, KB_SV_INTV(hi)))
                return -1;
            return put(cs, ")");
        }
        if (r.is_ip && memchr(n->value.p, '/', n->value.len) && !n->quoted)
            return fail(cs, n->vpos, "expected an IPv4 address or CIDR (10.0.0.0/8) for '%.*s'"
                                     " (IPv6 ranges are not supported yet)",
                        (int)n->field.len, n->field.p);
    }
    if (r.obs >= 0 && r.fbit) {
        /* The index says which field held the value: no row to check. */
        const char *kn = kb_obs_kind_name(r.obs);
        if (put(cs, "e.id IN (SELECT event_id FROM obs_events WHERE vid IN (SELECT id FROM"
                    " obs_values WHERE kind = ") ||
            param(cs, KB_SV_STRV(kn, strlen(kn))) || put(cs, " AND value = ") ||
            param(cs, KB_SV_STRV(n->value.p, n->value.len)) || put(cs, ") AND (fm & ") ||
            param(cs, KB_SV_INTV(r.fbit)) || put(cs, ") <> 0") ||
            put_window(cs, r.obs, n->value, r.fbit) || put(cs, ")"))
            return -1;
        return 0;
    }
    if (r.obs >= 0) {
        const char *kn = kb_obs_kind_name(r.obs);
        if (put(cs, "(e.id IN (SELECT event_id FROM obs_events WHERE vid IN (SELECT id FROM"
                    " obs_values WHERE kind = ") ||
            param(cs, KB_SV_STRV(kn, strlen(kn))) || put(cs, " AND value = ") ||
            param(cs, KB_SV_STRV(n->value.p, n->value.len)) || put(cs, ")") ||
            put_window(cs, r.obs, n->value, 0) || put(cs, ") AND "))
            return -1;
    } else if (put(cs, "(")) {
        return -1;
    }
    if (put_expr(cs, &r) || put(cs, " = ") || param(cs, KB_SV_STRV(n->value.p, n->value.len)))
        return -1;
    return put(cs, ")");
}

static int compile_node(cstate *cs, int id)
{
    const hnode *n = &cs->h->nodes[id];
    switch (n->type) {
    case HN_TERM:
        return compile_term(cs, n);
    case HN_NOT:
        /* A missing field makes the inner term NULL; NOT of it is true. */
        if (put(cs, "NOT COALESCE(") || compile_node(cs, n->a))
            return -1;
        return put(cs, ", FALSE)");
    default:
        if (put(cs, "(") || compile_node(cs, n->a) || put(cs, n->type == HN_AND ? " AND " : " OR ") ||
            compile_node(cs, n->b))
            return -1;
        return put(cs, ")");
    }
}

/* ---- the residual ---------------------------------------------------------- */

/* Whether a field name is none of the columns (mirrors resolve()). */
static int is_raw_name(kb_str f)
{
    int c = kb_canon_find(f.p, f.len);
    if (c >= 0 && c != KB_F_LOG_FILE_PATH && c != KB_F_LOG_OFFSET && kb_store_column_of(c))
        return 0;
    for (size_t i = 0; i < NEXTRAS; i++)
        if (kb_str_eqz(f.p, f.len, extras[i].name))
            return 0;
    return !(kb_obs_kind_find(f.p, f.len) >= 0 || kb_str_eqz(f.p, f.len, "observable"));
}

/* Marks the subtrees holding a raw field or free-text term. */
static int mark_raw(const kb_hunt *h, int id, unsigned char *raw)
{
    const hnode *n = &h->nodes[id];
    int r;
    switch (n->type) {
    case HN_TERM:
        r = n->op == HOP_TEXT || is_raw_name(n->field);
        break;
    case HN_NOT:
        r = mark_raw(h, n->a, raw);
        break;
    default:
        r = mark_raw(h, n->a, raw);
        r = mark_raw(h, n->b, raw) || r;
    }
    raw[id] = (unsigned char)r;
    return r;
}

/* Whether the pipes read a raw field. */
static int pipes_raw(const kb_hunt *h)
{
    for (int i = 0; i < h->nby; i++)
        if (is_raw_name(h->by[i].field))
            return 1;
    for (int i = 0; i < h->ncols; i++)
        if (h->cols[i].agg != AGG_COUNT && is_raw_name(h->cols[i].field))
            return 1;
    if (!h->has_stats && !h->has_fields)
        for (int i = 0; i < h->nsorts; i++)
            if (is_raw_name(h->sorts[i].key))
                return 1;
    return 0;
}

/* Whether SQL can narrow the candidates of subtree id (a necessary
 * condition exists): raw-free subtrees, AND with one such side, OR with
 * both. A raw term, or NOT over one, says nothing. */
static int pre_needed(const struct kb_hunt_residual *res, int id)
{
    const hnode *n = &res->h->nodes[id];
    if (!res->raw[id])
        return 1;
    if (n->type == HN_AND)
        return pre_needed(res, n->a) || pre_needed(res, n->b);
    if (n->type == HN_OR)
        return pre_needed(res, n->a) && pre_needed(res, n->b);
    return 0;
}

/* Writes the necessary condition of subtree id (pre_needed(id) holds). */
static int compile_pre(cstate *cs, int id)
{
    const hnode *n = &cs->h->nodes[id];
    int na, nb;
    if (!cs->res->raw[id])
        return compile_node(cs, id);
    na = pre_needed(cs->res, n->a);
    nb = pre_needed(cs->res, n->b);
    if (na && nb)
        return put(cs, "(") || compile_pre(cs, n->a) ||
                       put(cs, n->type == HN_AND ? " AND " : " OR ") || compile_pre(cs, n->b) ||
                       put(cs, ")")
                   ? -1
                   : 0;
    return compile_pre(cs, na ? n->a : n->b);
}

/* Selects the value (1/0) of each maximal raw-free subtree under a raw one,
 * and checks the raw terms' fields. */
static int compile_cols(cstate *cs, int id)
{
    struct kb_hunt_residual *res = cs->res;
    const hnode *n = &cs->h->nodes[id];
    if (!res->raw[id]) {
        if (res->ncols >= 48)
            return fail(cs, n->pos, "too many terms next to raw fields (at most 48 groups)");
        res->col[id] = res->ncols++;
        return put(cs, ", CASE WHEN ") || compile_node(cs, id) || put(cs, " THEN 1 ELSE 0 END")
                   ? -1
                   : 0;
    }
    switch (n->type) {
    case HN_TERM:
        if (n->op != HOP_TEXT) {
            fref r;
            return resolve(cs, n->field, n->pos, &r);
        }
        return 0;
    case HN_NOT:
        return compile_cols(cs, n->a);
    default:
        return compile_cols(cs, n->a) || compile_cols(cs, n->b) ? -1 : 0;
    }
}

/* The candidates query: the event's record and the values of the SQL
 * parts, narrowed by what SQL can answer, one page of ids at a time. */
static int compile_candidates(cstate *cs, int64_t since)
{
    struct kb_hunt_residual *res = cs->res;
    const kb_hunt *h = cs->h;
    int where = 0;

    res->root = h->root >= 0 && res->raw[h->root] ? h->root : -1;
    if (put(cs, "SELECT e.id, e.format, e.raw, e.blk, e.boff, e.raw_len"))
        return -1;
    if (res->root >= 0 && compile_cols(cs, res->root))
        return -1;
    if (put(cs, " FROM events e LEFT JOIN sources s ON s.id = e.source_id WHERE "))
        return -1;
    if (h->root >= 0 && pre_needed(res, h->root)) {
        if (compile_pre(cs, h->root))
            return -1;
        where = 1;
    }
    if (since != KB_TIME_NONE &&
        (put(cs, where ? " AND e.ts >= " : "e.ts >= ") || param(cs, KB_SV_INTV(since))))
        return -1;
    if (put(cs, where || since != KB_TIME_NONE ? " AND e.id > " : "e.id > "))
        return -1;
    res->p_after = cs->q->nparams;
    if (param(cs, KB_SV_INTV(0)) || put(cs, " ORDER BY e.id LIMIT "))
        return -1;
    res->p_limit = cs->q->nparams;
    return param(cs, KB_SV_INTV(RES_PAGE));
}

/* ---- the statement ------------------------------------------------------- */

static int select_events(cstate *cs)
{
    if (put(cs, "SELECT e.id"))
        return -1;
    for (int c = 0; c < KB_F_CANON_COUNT; c++) {
        const kb_store_column *col = kb_store_column_of(c);
        if (put(cs, ", "))
            return -1;
        if (c == KB_F_LOG_FILE_PATH ? put(cs, "s.path")
            : c == KB_F_LOG_OFFSET  ? put(cs, "e.rec_offset")
            : col                   ? put(cs, "e.") || put(cs, col->column)
                                    : put(cs, "NULL"))
            return -1;
    }
    cs->q->events = 1;
    return put(cs, ", e.format, e.ls_product, e.ls_category, e.ls_service");
}

static const char *const agg_sql[] = {"COUNT(*)", "MIN(", "MAX(", "COUNT(DISTINCT "};

static int select_cols(cstate *cs)
{
    const kb_hunt *h = cs->h;
    kb_hunt_sql *q = cs->q;
    if (put(cs, "SELECT "))
        return -1;
    for (int i = 0; i < h->nby; i++) {
        fref r;
        if (resolve(cs, h->by[i].field, h->by[i].pos, &r))
            return -1;
        if (r.kind == FR_OBS)
            return fail(cs, h->by[i].pos, "'%.*s' is an observables search, not a column",
                        (int)h->by[i].field.len, h->by[i].field.p);
        if ((i && put(cs, ", ")) || put_expr(cs, &r))
            return -1;
        q->titles[q->ncols] = h->by[i].title;
        q->is_time[q->ncols++] = r.is_time;
    }
    for (int i = 0; i < h->ncols; i++) {
        const hcol *c = &h->cols[i];
        fref r = {0};
        if (q->ncols >= KB_HUNT_MAX_COLS)
            return fail(cs, c->pos, "too many output columns (at most %d)", KB_HUNT_MAX_COLS);
        if ((i || h->nby) && put(cs, ", "))
            return -1;
        if (c->agg != AGG_COUNT && resolve(cs, c->field, c->pos, &r))
            return -1;
        if (c->agg != AGG_COUNT && r.kind == FR_OBS)
            return fail(cs, c->pos, "'%.*s' is an observables search, not a column",
                        (int)c->field.len, c->field.p);
        if (c->agg >= 0) {
            if (put(cs, agg_sql[c->agg]))
                return -1;
            if (c->agg != AGG_COUNT && (put_expr(cs, &r) || put(cs, ")")))
                return -1;
        } else if (put_expr(cs, &r)) {
            return -1;
        }
        q->titles[q->ncols] = c->title;
        q->is_time[q->ncols++] = r.is_time && (c->agg < 0 || c->agg == AGG_MIN ||
                                               c->agg == AGG_MAX);
    }
    return 0;
}

/* The observables kind of a pivot term (an exact value of an indicator
 * field with its bit in *fbit, or of a kind, *fbit 0), or -1. */
static int pivot_of(const hnode *n, int64_t *fbit)
{
    int c;
    *fbit = 0;
    if (n->type != HN_TERM || n->op != HOP_EQ || has_wild(n) ||
        (!n->quoted && memchr(n->value.p, '/', n->value.len)))
        return -1;
    c = kb_canon_find(n->field.p, n->field.len);
    if (c >= 0 && kb_store_column_of(c) && obs_of(c) >= 0 && kb_obs_field_bit(c)) {
        *fbit = kb_obs_field_bit(c);
        return obs_of(c);
    }
    return c < 0 ? kb_obs_kind_find(n->field.p, n->field.len) : -1;
}

/* Hours of a value's sightings, first or newest first, until `need`
 * events are covered (see list_pivot). */
struct hours {
    int64_t need, got;
    int64_t edge;    /* the last hour taken */
    int64_t lo, hi;  /* event ids of the hours taken */
    int done, none;  /* covered; some sightings have no time */
};

static int hour_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct hours *a = ud;
    (void)names;
    if (ncol < 4 || c[0].type != KB_SV_INT || c[1].type != KB_SV_INT || c[2].type != KB_SV_INT ||
        c[3].type != KB_SV_INT)
        return a->none = 1;
    if (c[0].i == KB_OBS_HR_NONE)
        return a->none = 1;
    if (a->done && c[0].i != a->edge)
        return 1;
    if (!a->got || c[2].i < a->lo)
        a->lo = c[2].i;
    if (!a->got || c[3].i > a->hi)
        a->hi = c[3].i;
    a->got += c[1].i;
    a->edge = c[0].i;
    if (a->got >= a->need)
        a->done = 1;
    return 0;
}

/* An event listing of one pivot ordered by time (`source.ip:X | head
 * 100`, `... | sort -@timestamp | head 100`): obs_counts says which hours
 * hold the first (newest) N sightings and the range of their event ids,
 * so the query reads that slice of obs_events and those hours' events
 * instead of every sighting. Writes the WHERE clause and returns 1, or 0
 * when the query is not of that shape (or some sightings have no time). */
static int list_pivot(cstate *cs, int64_t since)
{
    const kb_hunt *h = cs->h;
    const hnode *n;
    int kind, desc = 0;
    int64_t fbit;
    const char *kn;
    kb_sval p[3];
    struct hours a = {0};
    kb_buf sql;

    if (h->has_stats || h->head < 1 || h->root < 0 || h->nsorts > 1)
        return 0;
    if (h->nsorts == 1) {
        if (!kb_str_eqz(h->sorts[0].key.p, h->sorts[0].key.len, "@timestamp"))
            return 0;
        desc = h->sorts[0].desc;
    }
    if (!desc && since != KB_TIME_NONE) /* the first N may be before it */
        return 0;
    n = &h->nodes[h->root];
    if ((kind = pivot_of(n, &fbit)) < 0)
        return 0;
    kn = kb_obs_kind_name(kind);
    p[0] = KB_SV_STRV(kn, strlen(kn));
    p[1] = KB_SV_STRV(n->value.p, n->value.len);
    p[2] = KB_SV_INTV(fbit);
    a.need = h->head;
    kb_buf_init(&sql, 0);
    /* Hours without a time first: they abort (NULLs sort differently in
     * SQLite and PostgreSQL). */
    kb_buf_printf(&sql,
                  "SELECT hr, n, lo, hi FROM obs_counts WHERE vid IN (SELECT id FROM obs_values"
                  " WHERE kind = ? AND value = ?)%s ORDER BY CASE WHEN hr = %lld THEN 0 ELSE 1"
                  " END, hr%s",
                  fbit ? " AND (fm & ?) <> 0" : "", (long long)KB_OBS_HR_NONE,
                  desc ? " DESC" : "");
    if (!sql.data ||
        kb_store_exec(cs->st, sql.data, p, fbit ? 3 : 2, hour_row, &a) < 0 || a.none ||
        !a.got || (a.done && a.edge <= 0)) {
        kb_buf_release(&sql);
        return 0;
    }
    kb_buf_release(&sql);
    /* The N ids first, from (id, ts) alone, then their rows: sorting the
     * candidates with every column decoded costs 10x more. */
    if (put(cs, " WHERE e.id IN (SELECT e2.id FROM events e2 WHERE e2.id IN (SELECT event_id"
                " FROM obs_events WHERE vid IN (SELECT id FROM obs_values WHERE kind = ") ||
        param(cs, p[0]) || put(cs, " AND value = ") || param(cs, p[1]) ||
        put(cs, ") AND event_id BETWEEN ") || param(cs, KB_SV_INTV(a.lo)) || put(cs, " AND ") ||
        param(cs, KB_SV_INTV(a.hi)))
        return -1;
    if (fbit && (put(cs, " AND (fm & ") || param(cs, p[2]) || put(cs, ") <> 0")))
        return -1;
    if (put(cs, ")"))
        return -1;
    /* Only the hours taken: the edge hour and after (before, ascending). */
    if (a.done && (desc ? put(cs, " AND e2.ts >= ") || param(cs, KB_SV_INTV(a.edge * KB_OBS_HOUR))
                        : put(cs, " AND e2.ts < ") ||
                              param(cs, KB_SV_INTV((a.edge + 1) * KB_OBS_HOUR))))
        return -1;
    if (put(cs, desc ? " ORDER BY e2.ts DESC, e2.id LIMIT " : " ORDER BY e2.ts, e2.id LIMIT ") ||
        param(cs, KB_SV_INTV(h->head)) || put(cs, ")"))
        return -1;
    return 1;
}

/* `FIELD:VALUE | stats count()` on an indicator field (or `KIND:VALUE`)
 * is one lookup in obs_counts (schema 4): the sightings of the value,
 * per field mask, kept at load time. Returns 1 when it wrote the query. */
static int count_pivot(cstate *cs, int64_t since)
{
    const kb_hunt *h = cs->h;
    const hnode *n;
    int kind;
    int64_t fbit = 0;
    const char *kn;

    if (!h->has_stats || h->ncols != 1 || h->cols[0].agg != AGG_COUNT || h->nby ||
        h->root < 0 || since != KB_TIME_NONE || h->nsorts > 1 ||
        (h->nsorts == 1 && !kb_str_eqz(h->sorts[0].key.p, h->sorts[0].key.len, h->cols[0].title)))
        return 0;
    n = &h->nodes[h->root];
    if ((kind = pivot_of(n, &fbit)) < 0)
        return 0;
    kn = kb_obs_kind_name(kind);
    if (put(cs, "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM obs_counts WHERE vid IN (SELECT "
                "id FROM"
                " obs_values WHERE kind = ") ||
        param(cs, KB_SV_STRV(kn, strlen(kn))) || put(cs, " AND value = ") ||
        param(cs, KB_SV_STRV(n->value.p, n->value.len)) || put(cs, ")"))
        return -1;
    if (fbit && (put(cs, " AND (fm & ") || param(cs, KB_SV_INTV(fbit)) || put(cs, ") <> 0")))
        return -1;
    if (h->head >= 0 && (put(cs, " LIMIT ") || param(cs, KB_SV_INTV(h->head))))
        return -1;
    cs->q->titles[0] = h->cols[0].title;
    cs->q->is_time[0] = 0;
    cs->q->ncols = 1;
    return 1;
}

int kb_hunt_compile(const kb_hunt *h, kb_store *st, int64_t since, kb_hunt_sql *q,
                    kb_hunt_error *err)
{
    return kb_hunt_compile_ex(h, st, since, 0, q, err);
}

int kb_hunt_compile_ex(const kb_hunt *h, kb_store *st, int64_t since, int flags,
                       kb_hunt_sql *q, kb_hunt_error *err)
{
    cstate cs = {h, st, q, err, 0, NULL, INT64_MIN, INT64_MAX};
    int where = 0;
    unsigned char raw[KB_HUNT_MAX_NODES] = {0};

    memset(q, 0, sizeof *q);
    memset(err, 0, sizeof *err);
    kb_buf_init(&q->sql, 1 << 20);
    if (!(q->arena = kb_arena_new(4096, 8 * KB_HUNT_MAX_LEN + 65536)))
        return fail(&cs, 0, "out of memory"), KB_ENOMEM;
    if (h->root >= 0)
        window_of(h, h->root, &cs.wlo, &cs.whi);
    if (since != KB_TIME_NONE && since > cs.wlo)
        cs.wlo = since;
    if ((flags & KB_HUNT_FORCE_RESIDUAL ||
         (flags & KB_HUNT_RESIDUAL && !kb_store_backend_of(st)->raw_fields)) &&
        ((h->root >= 0 && mark_raw(h, h->root, raw)) || pipes_raw(h))) {
        struct kb_hunt_residual *res = kb_calloc(1, sizeof *res);
        if (!res)
            return fail(&cs, 0, "out of memory"), KB_ENOMEM;
        q->res = cs.res = res;
        res->h = h;
        memcpy(res->raw, raw, sizeof raw);
        for (int i = 0; i < KB_HUNT_MAX_NODES; i++)
            res->col[i] = -1;
        if (compile_candidates(&cs, since))
            return KB_EPARSE;
        /* The candidates query moves to res; the main one reads the hits. */
        res->sql = q->sql;
        kb_buf_init(&q->sql, 1 << 20);
        memcpy(res->params, q->params, q->nparams * sizeof q->params[0]);
        res->nparams = q->nparams;
        q->nparams = 0;
    }
    if (!cs.res) {
        int cp = count_pivot(&cs, since);
        if (cp)
            return cp > 0 ? KB_OK : KB_EPARSE;
    }
    if ((h->has_stats || h->has_fields) ? select_cols(&cs) : select_events(&cs))
        return KB_EPARSE;
    if (put(&cs, cs.res ? " FROM events e JOIN kb_hunt_hits h ON h.id = e.id"
                          " LEFT JOIN sources s ON s.id = e.source_id"
                        : " FROM events e LEFT JOIN sources s ON s.id = e.source_id"))
        return KB_EPARSE;
    if (cs.res) {
        /* The filter and --since were applied to the candidates. */
    } else if (h->root >= 0) {
        int lp = list_pivot(&cs, since);
        if (lp < 0 || (!lp && (put(&cs, " WHERE ") || compile_node(&cs, h->root))))
            return KB_EPARSE;
        where = 1;
    }
    if (since != KB_TIME_NONE && !cs.res) {
        if (put(&cs, where ? " AND e.ts >= " : " WHERE e.ts >= ") ||
            param(&cs, KB_SV_INTV(since)))
            return KB_EPARSE;
    }
    if (h->has_stats && h->nby) {
        if (put(&cs, " GROUP BY "))
            return KB_EPARSE;
        for (int i = 0; i < h->nby; i++) {
            char num[16];
            snprintf(num, sizeof num, "%s%d", i ? ", " : "", i + 1);
            if (put(&cs, num))
                return KB_EPARSE;
        }
    }
    if (h->nsorts) {
        if (put(&cs, " ORDER BY "))
            return KB_EPARSE;
        for (int i = 0; i < h->nsorts; i++) {
            const hsort *s = &h->sorts[i];
            if (i && put(&cs, ", "))
                return KB_EPARSE;
            if (h->has_stats || h->has_fields) {
                int found = -1;
                char num[16];
                for (size_t c = 0; c < q->ncols && found < 0; c++)
                    if (kb_str_eqz(s->key.p, s->key.len, q->titles[c]))
                        found = (int)c;
                if (found < 0) {
                    kb_buf have;
                    kb_buf_init(&have, 4096);
                    for (size_t c = 0; c < q->ncols; c++)
                        kb_buf_printf(&have, "%s%s", c ? ", " : "", q->titles[c]);
                    fail(&cs, s->pos, "cannot sort by '%.*s': not an output column (%s)",
                         (int)s->key.len, s->key.p, have.data ? have.data : "");
                    kb_buf_release(&have);
                    return KB_EPARSE;
                }
                snprintf(num, sizeof num, "%d", found + 1);
                if (put(&cs, num))
                    return KB_EPARSE;
            } else {
                fref r;
                if (resolve(&cs, s->key, s->pos, &r))
                    return KB_EPARSE;
                if (r.kind == FR_OBS)
                    return fail(&cs, s->pos, "cannot sort by an observables search"), KB_EPARSE;
                if (put_expr(&cs, &r))
                    return KB_EPARSE;
            }
            if (s->desc && put(&cs, " DESC"))
                return KB_EPARSE;
        }
        if (!h->has_stats && put(&cs, ", e.id"))
            return KB_EPARSE;
    } else if (h->has_stats) {
        if (h->nby && put(&cs, " ORDER BY 1"))
            return KB_EPARSE;
    } else if (put(&cs, " ORDER BY e.ts, e.id")) {
        return KB_EPARSE;
    }
    if (h->head >= 0 && (put(&cs, " LIMIT ") || param(&cs, KB_SV_INTV(h->head))))
        return KB_EPARSE;
    return KB_OK;
}

void kb_hunt_sql_release(kb_hunt_sql *q)
{
    if (q->res) {
        kb_buf_release(&q->res->sql);
        kb_free(q->res);
        q->res = NULL;
    }
    kb_buf_release(&q->sql);
    kb_arena_free(q->arena);
    q->arena = NULL;
}

int kb_hunt_explain(kb_store *st, const kb_hunt_sql *q, FILE *f)
{
    int rc;
    if (q->res) {
        /* The main statement reads kb_hunt_hits: create it (empty) so the
         * back end can plan it. */
        if ((rc = kb_hunt_residual_explain(st, q, f)) ||
            (rc = kb_hunt_hits_table(st, q->res, 1)))
            return rc;
        fputs("then over the hits (kb_hunt_hits h):\n", f);
    }
    fprintf(f, "sql: %s\n", q->sql.data ? q->sql.data : "");
    for (size_t i = 0; i < q->nparams; i++) {
        const kb_sval *v = &q->params[i];
        if (v->type == KB_SV_INT)
            fprintf(f, "  ?%zu = %lld\n", i + 1, (long long)v->i);
        else if (v->type == KB_SV_TEXT)
            fprintf(f, "  ?%zu = '%.*s'\n", i + 1, (int)v->len, v->p);
        else
            fprintf(f, "  ?%zu = NULL\n", i + 1);
    }
    rc = kb_store_backend_of(st)->explain(st, q->sql.data, q->params, q->nparams, f);
    if (q->res)
        kb_hunt_hits_table(st, q->res, 0);
    return rc;
}
