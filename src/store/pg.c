/* The PostgreSQL back end (libpq): a store several koban nodes share.
 * Statements use `?` placeholders like SQLite's; they are renumbered to
 * $1..$n here (outside quoted strings) and sent with PQexecParams, values
 * always as parameters. Hot statements are prepared once per connection.
 * Text values are made valid UTF-8 (invalid bytes become U+FFFD, NUL ends
 * the value) because PostgreSQL refuses anything else in a text column.
 * The raw record is bytea (zstd); PostgreSQL cannot decompress it
 * (raw_fields = 0), so hunts on raw fields and free text evaluate that part
 * in koban over each candidate's record (hunt-run.c). */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-int.h"

#define STMT_CACHE 32
#define MAX_PARAMS 128
_Static_assert(OBS_PARAMS * OBS_ROWS <= MAX_PARAMS && CNT_W * CNT_ROWS <= MAX_PARAMS,
               "a multi-row statement of the loader binds more parameters than pg_exec takes");
#define MAX_COLS 64

struct pg {
    PGconn *conn;
    struct {
        const char *sql;
        char name[16];
    } cache[STMT_CACHE];
    size_t ncache;
    kb_buf sql;  /* renumbered statement */
    kb_buf vals; /* parameter text */
};

static const char ip4_fn[] =
    "CREATE OR REPLACE FUNCTION kb_ip4(t text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$"
    " SELECT CASE WHEN t ~ '^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"
    "(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$' THEN"
    " split_part(t, '.', 1)::bigint * 16777216 + split_part(t, '.', 2)::bigint * 65536 +"
    " split_part(t, '.', 3)::bigint * 256 + split_part(t, '.', 4)::bigint END $$";

static int pg_fail(kb_store *st, struct pg *g, const char *what, PGresult *res)
{
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    size_t n;
    if (!m || !*m)
        m = PQerrorMessage(g->conn);
    n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return kb_store_fail(st, "postgresql: %s: %.*s", what, (int)n, m);
}

static int pg_open(kb_store *st, const char *dsn)
{
    struct pg *g = kb_calloc(1, sizeof *g);
    PGresult *res;
    if (!g)
        return kb_store_fail(st, "out of memory");
    st->db = g;
    kb_buf_init(&g->sql, 0);
    kb_buf_init(&g->vals, 0);
    g->conn = PQconnectdb(dsn);
    if (!g->conn)
        return kb_store_fail(st, "postgresql: out of memory");
    if (PQstatus(g->conn) != CONNECTION_OK)
        return pg_fail(st, g, "cannot connect", NULL);
    res = PQexec(g->conn, "SET client_min_messages TO warning");
    PQclear(res);
    res = PQexec(g->conn, ip4_fn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        int rc = pg_fail(st, g, "cannot create kb_ip4()", res);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    return KB_OK;
}

static void pg_close(kb_store *st)
{
    struct pg *g = st->db;
    if (!g)
        return;
    if (g->conn)
        PQfinish(g->conn);
    kb_buf_release(&g->sql);
    kb_buf_release(&g->vals);
    kb_free(g);
    st->db = NULL;
}

/* `?` to $n outside single-quoted strings. */
static int renumber(struct pg *g, const char *sql)
{
    int q = 0, k = 0, rc = 0;
    kb_buf_clear(&g->sql);
    for (const char *p = sql; *p && !rc; p++) {
        if (*p == '\'')
            q = !q;
        if (*p == '?' && !q)
            rc = kb_buf_printf(&g->sql, "$%d", ++k);
        else
            rc = kb_buf_putc(&g->sql, *p);
    }
    return rc;
}

/* Appends a valid-UTF-8, NUL-free copy of s and a terminating NUL. */
static int put_text(kb_buf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t ok = kb_utf8_valid_prefix(s + i, len - i);
        const char *nul = memchr(s + i, 0, ok);
        if (nul) {
            return kb_buf_append(b, s + i, (size_t)(nul - (s + i))) || kb_buf_putc(b, 0)
                       ? KB_ENOMEM
                       : KB_OK;
        }
        if (kb_buf_append(b, s + i, ok))
            return KB_ENOMEM;
        i += ok;
        if (i < len) {
            if (kb_buf_append(b, "\xef\xbf\xbd", 3))
                return KB_ENOMEM;
            i++;
        }
    }
    return kb_buf_putc(b, 0);
}

static int pg_exec(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                   kb_store_row_fn fn, void *ud, int cache)
{
    struct pg *g = st->db;
    const char *values[MAX_PARAMS];
    size_t offs[MAX_PARAMS];
    int lens[MAX_PARAMS], fmts[MAX_PARAMS];
    const char *stmt_name = NULL;
    PGresult *res = NULL;
    int rc = KB_OK;

    if (n > MAX_PARAMS)
        return kb_store_fail(st, "postgresql: too many parameters (%zu)", n);
    kb_buf_clear(&g->vals);
    for (size_t i = 0; i < n; i++) {
        offs[i] = g->vals.len;
        fmts[i] = 0;
        lens[i] = 0;
        switch (params[i].type) {
        case KB_SV_NULL:
            offs[i] = SIZE_MAX;
            break;
        case KB_SV_INT:
            rc = kb_buf_printf(&g->vals, "%lld", (long long)params[i].i) || kb_buf_putc(&g->vals, 0);
            break;
        case KB_SV_REAL:
            rc = kb_buf_printf(&g->vals, "%.17g", params[i].d) || kb_buf_putc(&g->vals, 0);
            break;
        case KB_SV_TEXT:
            rc = put_text(&g->vals, params[i].p ? params[i].p : "", params[i].len);
            break;
        case KB_SV_BLOB:
            fmts[i] = 1;
            lens[i] = (int)params[i].len;
            rc = kb_buf_append(&g->vals, params[i].p ? params[i].p : "", params[i].len);
            break;
        }
        if (rc)
            return kb_store_fail(st, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        values[i] = offs[i] == SIZE_MAX ? NULL : g->vals.data + offs[i];
    if (cache) {
        for (size_t i = 0; i < g->ncache && !stmt_name; i++)
            if (g->cache[i].sql == sql)
                stmt_name = g->cache[i].name;
        if (!stmt_name && g->ncache < STMT_CACHE) {
            char *name = g->cache[g->ncache].name;
            snprintf(name, sizeof g->cache[0].name, "kb%zu", g->ncache);
            if (renumber(g, sql))
                return kb_store_fail(st, "out of memory");
            res = PQprepare(g->conn, name, g->sql.data, 0, NULL);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                rc = pg_fail(st, g, "cannot prepare", res);
                PQclear(res);
                return rc;
            }
            PQclear(res);
            g->cache[g->ncache++].sql = sql;
            stmt_name = name;
        }
    }
    if (stmt_name) {
        res = PQexecPrepared(g->conn, stmt_name, (int)n, values, lens, fmts, 0);
    } else {
        if (n == 0) {
            res = PQexecParams(g->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
        } else {
            if (renumber(g, sql))
                return kb_store_fail(st, "out of memory");
            res = PQexecParams(g->conn, g->sql.data, (int)n, NULL, values, lens, fmts, 0);
        }
    }
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
        break;
    case PGRES_TUPLES_OK: {
        int nt = PQntuples(res), nc = PQnfields(res);
        kb_sval cols[MAX_COLS];
        const char *names[MAX_COLS];
        unsigned char *un[MAX_COLS];
        if (nc > MAX_COLS)
            nc = MAX_COLS;
        for (int c = 0; c < nc; c++)
            names[c] = PQfname(res, c);
        for (int r = 0; r < nt && fn && rc == KB_OK; r++) {
            for (int c = 0; c < nc; c++) {
                kb_sval *v = &cols[c];
                Oid t = PQftype(res, c);
                memset(v, 0, sizeof *v);
                un[c] = NULL;
                if (PQgetisnull(res, r, c)) {
                    v->type = KB_SV_NULL;
                    continue;
                }
                v->p = PQgetvalue(res, r, c);
                v->len = (size_t)PQgetlength(res, r, c);
                v->type = KB_SV_TEXT;
                if ((t == 20 || t == 21 || t == 23) &&
                    kb_parse_i64(v->p, v->len, &v->i) == KB_OK) {
                    v->type = KB_SV_INT;
                } else if (t == 17) {
                    size_t ln = 0;
                    un[c] = PQunescapeBytea((const unsigned char *)v->p, &ln);
                    v->type = KB_SV_BLOB;
                    v->p = (const char *)un[c];
                    v->len = un[c] ? ln : 0;
                } else if (t == 700 || t == 701) {
                    v->type = KB_SV_REAL;
                    v->d = strtod(v->p, NULL);
                }
            }
            rc = fn(ud, (size_t)nc, cols, names);
            for (int c = 0; c < nc; c++)
                if (un[c])
                    PQfreemem(un[c]);
        }
        break;
    }
    default:
        rc = pg_fail(st, g, "query failed", res);
    }
    PQclear(res);
    return rc;
}

static int plan_row(void *ud, size_t ncol, const kb_sval *cols, const char *const *names)
{
    FILE *f = ud;
    (void)names;
    if (ncol && cols[0].type == KB_SV_TEXT)
        fprintf(f, "  %.*s\n", (int)cols[0].len, cols[0].p);
    return 0;
}

static int pg_explain(kb_store *st, const char *sql, const kb_sval *params, size_t n, FILE *f)
{
    kb_buf b;
    int rc;
    kb_buf_init(&b, 0);
    if (kb_buf_puts(&b, "EXPLAIN ") || kb_buf_puts(&b, sql)) {
        kb_buf_release(&b);
        return KB_ENOMEM;
    }
    fputs("plan (PostgreSQL):\n", f);
    rc = pg_exec(st, b.data, params, n, plan_row, f, 0);
    kb_buf_release(&b);
    return rc;
}

static int64_t pg_size(kb_store *st)
{
    return kb_store_scalar(st, "SELECT pg_database_size(current_database())", NULL, 0, 0);
}

const kb_store_backend kb_store_pg = {
    .name = "pg",
    .doc = "PostgreSQL (libpq), shared by several koban nodes",
    .t_pk = "BIGSERIAL PRIMARY KEY",
    .t_blob = "BYTEA",
    .like = "ILIKE",
    .raw_fields = 0,
    .t_clustered = NULL, /* a heap and a primary key index */
    .begin = "BEGIN",
    .own_ids = 0, /* several nodes write: ids come from the sequences */
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .explain = pg_explain,
    .size = pg_size,
};
