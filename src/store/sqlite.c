/* The SQLite back end: one database file, WAL journal, synchronous=NORMAL
 * (a committed batch survives a process crash; after a power loss the last
 * batches may roll back, never corrupt), prepared statements cached for the
 * loader's static SQL. Registers the SQL functions the hunt compiler uses:
 *   kb_raw(raw, blk, boff, len)        the raw record of an event: from its
 *                                      block (blk, boff, len), or from the
 *                                      per-record frame of a version 1 row
 *   kb_raw_has(raw, blk, boff, len, s) 1 when the record contains s
 *                                      (ASCII case-insensitive, like LIKE)
 *   kb_raw_field(text, format, name)   a raw field decoded again from a
 *                                      record
 *   kb_ip4(text)                       an IPv4 address as an integer, NULL
 *                                      when it is none
 *   kb_canon(canon, blk, coff, i)      canonical field i of a schema 3 row
 *                                      (the events view, see store.h)
 *   kb_canon_pack(i, v, ...)           encodes canonical fields (migration)
 * The record functions keep the last decompressed block (kb_canon its
 * canonical-field frame): a scan in rowid
 * order decompresses each block once. The cache is dropped at the start of
 * every statement (a block id may be reused after a rollback or a prune). */
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store-int.h"

#define STMT_CACHE 32

struct fnctx {
    sqlite3 *db;
    sqlite3_stmt *get_block; /* prepared on first use: the table may be younger */
    int64_t blk;             /* block held in raw, -1 none */
    kb_buf raw;              /* the decompressed block */
    sqlite3_stmt *get_cblock;
    int64_t cblk;            /* block whose canonical fields are in craw, -1 none */
    kb_buf craw;             /* its decompressed cdata */
    kb_buf rec;              /* a version 1 record */
    kb_buf pack;             /* kb_canon_pack's result */
    kb_raw_extractor *x;
};

struct sq {
    sqlite3 *db;
    char *path;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
    size_t ncache;
    struct fnctx *fn;
};

/* Decompresses block blk into f->raw unless it is there already. */
static int load_block(struct fnctx *f, int64_t blk)
{
    if (blk != f->blk) {
        int rc;
        f->blk = -1;
        if (!f->get_block && sqlite3_prepare_v3(f->db, "SELECT data FROM blocks WHERE id = ?", -1,
                                                SQLITE_PREPARE_PERSISTENT, &f->get_block,
                                                NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_int64(f->get_block, 1, blk);
        rc = sqlite3_step(f->get_block);
        if (rc == SQLITE_ROW && sqlite3_column_type(f->get_block, 0) == SQLITE_BLOB &&
            kb_store_raw_decompress(sqlite3_column_blob(f->get_block, 0),
                                    (size_t)sqlite3_column_bytes(f->get_block, 0),
                                    &f->raw) == KB_OK)
            f->blk = blk;
        sqlite3_reset(f->get_block);
        if (f->blk != blk)
            return -1;
    }
    return 0;
}

/* The record of the row whose (raw, blk, boff, len) are argv[0..3]. */
static int record(struct fnctx *f, sqlite3_value **argv, const char **p, size_t *n)
{
    int64_t blk, boff, len;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
        const void *z = sqlite3_value_blob(argv[0]);
        if (!z || kb_store_raw_decompress(z, (size_t)sqlite3_value_bytes(argv[0]), &f->rec))
            return -1;
        *p = f->rec.data;
        *n = f->rec.len;
        return 0;
    }
    if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER)
        return -1;
    blk = sqlite3_value_int64(argv[1]);
    boff = sqlite3_value_int64(argv[2]);
    len = sqlite3_value_int64(argv[3]);
    if (load_block(f, blk))
        return -1;
    if (boff < 0 || len < 0 || (uint64_t)boff + (uint64_t)len > f->raw.len)
        return -1;
    *p = f->raw.data + boff;
    *n = (size_t)len;
    return 0;
}

static void fn_raw(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    const char *p;
    size_t n;
    (void)argc;
    if (record(sqlite3_user_data(c), argv, &p, &n))
        sqlite3_result_null(c);
    else
        sqlite3_result_text(c, p, (int)n, SQLITE_TRANSIENT);
}

static unsigned char lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch | 0x20) : ch;
}

/* ASCII case-insensitive substring search (LIKE's semantics for %s%). */
static int has_ci(const unsigned char *h, size_t n, const unsigned char *s, size_t m)
{
    unsigned char f0, f1;
    if (m == 0)
        return 1;
    if (m > n)
        return 0;
    f0 = lower(s[0]);
    f1 = f0 >= 'a' && f0 <= 'z' ? (unsigned char)(f0 & ~0x20) : f0;
    for (size_t i = 0, last = n - m; i <= last; i++) {
        size_t k;
        if (h[i] != f0 && h[i] != f1)
            continue;
        for (k = 1; k < m && lower(h[i + k]) == lower(s[k]); k++)
            ;
        if (k == m)
            return 1;
    }
    return 0;
}

static void fn_raw_has(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    const char *p;
    size_t n;
    const unsigned char *s = sqlite3_value_text(argv[4]);
    (void)argc;
    if (!s || record(sqlite3_user_data(c), argv, &p, &n))
        sqlite3_result_null(c);
    else
        sqlite3_result_int(c, has_ci((const unsigned char *)p, n, s,
                                     (size_t)sqlite3_value_bytes(argv[4])));
}

/* Decompresses the canonical-field frame (cdata) of block blk into
 * f->craw unless it is there already. */
static int load_cblock(struct fnctx *f, int64_t blk)
{
    int rc;
    if (blk == f->cblk)
        return 0;
    f->cblk = -1;
    if (!f->get_cblock && sqlite3_prepare_v3(f->db, "SELECT cdata FROM blocks WHERE id = ?", -1,
                                             SQLITE_PREPARE_PERSISTENT, &f->get_cblock,
                                             NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(f->get_cblock, 1, blk);
    rc = sqlite3_step(f->get_cblock);
    if (rc == SQLITE_ROW && sqlite3_column_type(f->get_cblock, 0) == SQLITE_BLOB &&
        kb_store_raw_decompress(sqlite3_column_blob(f->get_cblock, 0),
                                (size_t)sqlite3_column_bytes(f->get_cblock, 0),
                                &f->craw) == KB_OK)
        f->cblk = blk;
    sqlite3_reset(f->get_cblock);
    return f->cblk == blk ? 0 : -1;
}

/* kb_canon(canon, blk, coff, i): canonical field i of a narrow row, from
 * ev.canon (migrated rows) or at coff in its block's cdata frame. */
static void fn_canon(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    struct fnctx *f = sqlite3_user_data(c);
    const uint8_t *p;
    size_t n;
    kb_sval v;
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
        p = sqlite3_value_blob(argv[0]);
        n = (size_t)sqlite3_value_bytes(argv[0]);
    } else {
        int64_t at = sqlite3_value_int64(argv[2]);
        if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER ||
            sqlite3_value_type(argv[2]) != SQLITE_INTEGER ||
            load_cblock(f, sqlite3_value_int64(argv[1])) || at < 0 ||
            (uint64_t)at > f->craw.len) {
            sqlite3_result_null(c);
            return;
        }
        p = (const uint8_t *)f->craw.data + at;
        n = f->craw.len - (size_t)at;
    }
    if (!p || kb_cenc_find(p, n, sqlite3_value_int(argv[3]), &v) != 1)
        sqlite3_result_null(c);
    else if (v.type == KB_SV_INT)
        sqlite3_result_int64(c, v.i);
    else
        sqlite3_result_text(c, v.p, (int)v.len, SQLITE_TRANSIENT);
}

/* kb_canon_pack(i1, v1, i2, v2, ...): the encoding of the non-NULL values
 * (the migration from wide rows). */
static void fn_canon_pack(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    struct fnctx *f = sqlite3_user_data(c);
    int rc = 0;
    kb_buf_clear(&f->pack);
    for (int a = 0; a + 1 < argc; a += 2) {
        int i = sqlite3_value_int(argv[a]);
        switch (sqlite3_value_type(argv[a + 1])) {
        case SQLITE_NULL:
            break;
        case SQLITE_INTEGER:
            rc |= kb_cenc_put_int(&f->pack, i, sqlite3_value_int64(argv[a + 1]));
            break;
        default: {
            const char *t = (const char *)sqlite3_value_text(argv[a + 1]);
            rc |= kb_cenc_put_text(&f->pack, i, t ? t : "",
                                    (size_t)sqlite3_value_bytes(argv[a + 1]));
        }
        }
    }
    rc |= kb_buf_putc(&f->pack, (char)KB_CANON_END);
    if (rc)
        sqlite3_result_error_nomem(c);
    else
        sqlite3_result_blob(c, f->pack.data, (int)f->pack.len, SQLITE_TRANSIENT);
}

static void fn_raw_field(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    struct fnctx *f = sqlite3_user_data(c);
    const char *raw = (const char *)sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    const char *fmt = (const char *)sqlite3_value_text(argv[1]);
    const char *name = (const char *)sqlite3_value_text(argv[2]);
    const char *val;
    size_t len;
    (void)argc;
    if (!raw || !fmt || !name ||
        kb_raw_extract(f->x, raw, (size_t)n, fmt, name, strlen(name), &val, &len) != KB_OK) {
        sqlite3_result_null(c);
        return;
    }
    sqlite3_result_text(c, val, (int)len, SQLITE_TRANSIENT);
}

static void fn_ip4(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    const unsigned char *s = sqlite3_value_text(argv[0]);
    int64_t v = 0;
    unsigned oct = 0, digits = 0, parts = 0;
    (void)argc;
    if (!s) {
        sqlite3_result_null(c);
        return;
    }
    for (;; s++) {
        if (*s >= '0' && *s <= '9' && digits < 3) {
            oct = oct * 10 + (unsigned)(*s - '0');
            digits++;
        } else if ((*s == '.' || *s == 0) && digits && oct <= 255 && parts < 4) {
            v = v * 256 + oct;
            parts++;
            oct = digits = 0;
            if (*s == 0)
                break;
        } else {
            sqlite3_result_null(c);
            return;
        }
    }
    if (parts != 4)
        sqlite3_result_null(c);
    else
        sqlite3_result_int64(c, v);
}

static void fnctx_free(void *p)
{
    struct fnctx *f = p;
    if (!f)
        return;
    kb_buf_release(&f->raw);
    kb_buf_release(&f->rec);
    kb_buf_release(&f->craw);
    sqlite3_finalize(f->get_cblock);
    kb_buf_release(&f->pack);
    sqlite3_finalize(f->get_block);
    kb_raw_extractor_free(f->x);
    kb_free(f);
}

static int sq_fail(kb_store *st, struct sq *s, const char *what)
{
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    const char *hint = code == SQLITE_BUSY || code == SQLITE_LOCKED
                           ? " (the database is locked: is another koban writing to it?)"
                       : code == SQLITE_FULL ? " (the disk is full; nothing acknowledged was lost)"
                                             : "";
    return kb_store_fail(st, "%s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db), hint);
}

static int sq_open(kb_store *st, const char *dsn)
{
    struct sq *s = kb_calloc(1, sizeof *s);
    struct fnctx *f = NULL;
    char *msg = NULL;
    static const char pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;"
                                  "PRAGMA wal_autocheckpoint=16384; PRAGMA mmap_size=268435456;";

    if (!s || !(s->path = kb_strdup(dsn)))
        goto nomem;
    st->db = s;
    if (sqlite3_open_v2(dsn, &s->db,
                        (st->readonly ? SQLITE_OPEN_READONLY
                                      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return s->db ? sq_fail(st, s, "cannot open") : kb_store_fail(st, "%s: cannot open", dsn);
    sqlite3_busy_timeout(s->db, 5000);
    /* read-only: the journal mode is the file's own (setting it writes) */
    if (sqlite3_exec(s->db, st->readonly ? strchr(pragmas, ';') + 1 : pragmas, NULL, NULL,
                     &msg) != SQLITE_OK) {
        kb_store_fail(st, "%s: %s", dsn, msg ? msg : "cannot configure");
        sqlite3_free(msg);
        return KB_EIO;
    }
    if (!(f = kb_calloc(1, sizeof *f)) || !(f->x = kb_raw_extractor_new())) {
        fnctx_free(f);
        goto nomem;
    }
    kb_buf_init(&f->raw, 64u << 20);
    kb_buf_init(&f->rec, 64u << 20);
    kb_buf_init(&f->craw, 64u << 20);
    kb_buf_init(&f->pack, 1u << 20);
    f->db = s->db;
    f->blk = -1;
    f->cblk = -1;
    s->fn = f;
    /* One context shared by the record functions; the last one frees it. */
    if (sqlite3_create_function_v2(s->db, "kb_raw", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, f,
                                   fn_raw, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "kb_raw_has", 5, SQLITE_UTF8 | SQLITE_DETERMINISTIC, f,
                                   fn_raw_has, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "kb_canon", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, f,
                                   fn_canon, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "kb_canon_pack", -1, SQLITE_UTF8, f, fn_canon_pack,
                                   NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "kb_ip4", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                   fn_ip4, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "kb_raw_field", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   f, fn_raw_field, NULL, NULL, fnctx_free) != SQLITE_OK) {
        s->fn = NULL;
        fnctx_free(f);
        return sq_fail(st, s, "cannot register functions");
    }
    return KB_OK;
nomem:
    return kb_store_fail(st, "out of memory");
}

static void sq_close(kb_store *st)
{
    struct sq *s = st->db;
    if (!s)
        return;
    for (size_t i = 0; i < s->ncache; i++)
        sqlite3_finalize(s->cache[i].stmt);
    if (s->fn) {
        sqlite3_finalize(s->fn->get_block);
        s->fn->get_block = NULL;
        sqlite3_finalize(s->fn->get_cblock);
        s->fn->get_cblock = NULL;
    }
    if (s->db) {
        /* Fold the WAL back into the database on a clean close. */
        sqlite3_close_v2(s->db);
    }
    kb_free(s->path);
    kb_free(s);
    st->db = NULL;
}

static int bind_all(sqlite3_stmt *stmt, const kb_sval *p, size_t n)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        int k = (int)i + 1;
        switch (p[i].type) {
        case KB_SV_NULL:
            rc = sqlite3_bind_null(stmt, k);
            break;
        case KB_SV_INT:
            rc = sqlite3_bind_int64(stmt, k, p[i].i);
            break;
        case KB_SV_REAL:
            rc = sqlite3_bind_double(stmt, k, p[i].d);
            break;
        case KB_SV_TEXT:
            rc = sqlite3_bind_text(stmt, k, p[i].p ? p[i].p : "", (int)p[i].len, SQLITE_STATIC);
            break;
        case KB_SV_BLOB:
            rc = sqlite3_bind_blob(stmt, k, p[i].p ? p[i].p : "", (int)p[i].len, SQLITE_STATIC);
            break;
        }
    }
    return rc;
}

static int prepare(kb_store *st, struct sq *s, const char *sql, int cache, sqlite3_stmt **out)
{
    if (cache)
        for (size_t i = 0; i < s->ncache; i++)
            if (s->cache[i].sql == sql) {
                *out = s->cache[i].stmt;
                return KB_OK;
            }
    if (sqlite3_prepare_v2(s->db, sql, -1, out, NULL) != SQLITE_OK)
        return sq_fail(st, s, "cannot prepare");
    if (cache && s->ncache < STMT_CACHE) {
        s->cache[s->ncache].sql = sql;
        s->cache[s->ncache].stmt = *out;
        s->ncache++;
    } else if (cache) {
        cache = 0;
    }
    return KB_OK;
}

static int is_cached(struct sq *s, sqlite3_stmt *stmt)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].stmt == stmt)
            return 1;
    return 0;
}

#define MAX_COLS 64

static int sq_exec(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                   kb_store_row_fn fn, void *ud, int cache)
{
    struct sq *s = st->db;
    sqlite3_stmt *stmt = NULL;
    kb_sval cols[MAX_COLS];
    const char *names[MAX_COLS];
    int rc, ret = KB_OK;

    if (s->fn)
        s->fn->blk = s->fn->cblk = -1;
    if ((rc = prepare(st, s, sql, cache, &stmt)))
        return rc;
    if (bind_all(stmt, params, n) != SQLITE_OK) {
        ret = sq_fail(st, s, "cannot bind");
        goto out;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int nc = sqlite3_column_count(stmt);
        if (!fn)
            continue;
        if (nc > MAX_COLS)
            nc = MAX_COLS;
        for (int i = 0; i < nc; i++) {
            kb_sval *v = &cols[i];
            memset(v, 0, sizeof *v);
            names[i] = sqlite3_column_name(stmt, i);
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
                v->type = KB_SV_INT;
                v->i = sqlite3_column_int64(stmt, i);
                break;
            case SQLITE_FLOAT:
                v->type = KB_SV_REAL;
                v->d = sqlite3_column_double(stmt, i);
                break;
            case SQLITE_TEXT:
                v->type = KB_SV_TEXT;
                v->p = (const char *)sqlite3_column_text(stmt, i);
                v->len = (size_t)sqlite3_column_bytes(stmt, i);
                break;
            case SQLITE_BLOB:
                v->type = KB_SV_BLOB;
                v->p = sqlite3_column_blob(stmt, i);
                v->len = (size_t)sqlite3_column_bytes(stmt, i);
                break;
            default:
                v->type = KB_SV_NULL;
            }
        }
        if ((ret = fn(ud, (size_t)nc, cols, names)))
            goto out;
    }
    if (rc != SQLITE_DONE)
        ret = sq_fail(st, s, "query failed");
out:
    if (is_cached(s, stmt)) {
        sqlite3_reset(stmt); /* every call binds every parameter again */
    } else {
        sqlite3_finalize(stmt);
    }
    return ret;
}

static int plan_row(void *ud, size_t ncol, const kb_sval *cols, const char *const *names)
{
    FILE *f = ud;
    for (size_t i = 0; i < ncol; i++)
        if (strcmp(names[i], "detail") == 0 && cols[i].type == KB_SV_TEXT)
            fprintf(f, "  %.*s\n", (int)cols[i].len, cols[i].p);
    return 0;
}

static int sq_explain(kb_store *st, const char *sql, const kb_sval *params, size_t n, FILE *f)
{
    kb_buf b;
    int rc;
    kb_buf_init(&b, 0);
    if (kb_buf_puts(&b, "EXPLAIN QUERY PLAN ") || kb_buf_puts(&b, sql)) {
        kb_buf_release(&b);
        return KB_ENOMEM;
    }
    fputs("plan (SQLite):\n", f);
    rc = sq_exec(st, b.data, params, n, plan_row, f, 0);
    kb_buf_release(&b);
    return rc;
}

static int64_t file_size(const char *path, const char *suffix)
{
    kb_buf b;
    struct stat sb;
    int64_t n = 0;
    kb_buf_init(&b, 0);
    if (kb_buf_printf(&b, "%s%s", path, suffix) == KB_OK && stat(b.data, &sb) == 0)
        n = (int64_t)sb.st_size;
    kb_buf_release(&b);
    return n;
}

static int64_t sq_size(kb_store *st)
{
    struct sq *s = st->db;
    return file_size(s->path, "") + file_size(s->path, "-wal");
}

const kb_store_backend kb_store_sqlite = {
    .name = "sqlite",
    .doc = "embedded: one file in the data directory (WAL)",
    .t_pk = "INTEGER PRIMARY KEY",
    .t_blob = "BLOB",
    .like = "LIKE",
    .raw_fields = 1,
    .t_clustered = " WITHOUT ROWID",
    .begin = "BEGIN IMMEDIATE",
    .canon_blocks = 1,
    .own_ids = 1,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .explain = sq_explain,
    .size = sq_size,
};
