/* The store above the back ends: schema and migrations, events to rows,
 * checkpoints, observables, alerts, statistics and retention. Everything
 * here talks SQL through kb_store_backend.exec with `?` placeholders. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "store/store-int.h"

const kb_store_backend *const kb_store_backends[] = {&kb_store_sqlite, &kb_store_pg, NULL};

/* ---- errors, opening ---------------------------------------------------- */

int kb_store_fail(kb_store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err, sizeof st->err, fmt, ap);
    va_end(ap);
    return KB_EIO;
}

const char *kb_store_errmsg(const kb_store *st)
{
    return st->err[0] ? st->err : "no error";
}

const kb_store_backend *kb_store_backend_of(const kb_store *st)
{
    return st->be;
}

int kb_store_exec(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                  kb_store_row_fn fn, void *ud)
{
    return st->be->exec(st, sql, params, n, fn, ud, 0);
}

int kb_sval_int(const kb_sval *c, int64_t *out)
{
    int64_t v;
    if (c->type == KB_SV_INT) {
        *out = c->i;
        return 0;
    }
    if (c->type == KB_SV_TEXT && kb_parse_i64(c->p, c->len, &v) == KB_OK) {
        *out = v;
        return 0;
    }
    return -1;
}

static int scalar_row(void *ud, size_t ncol, const kb_sval *cols, const char *const *names)
{
    (void)names;
    if (ncol)
        kb_sval_int(&cols[0], ud);
    return 1; /* first row only */
}

int64_t kb_store_scalar(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                        int64_t dflt)
{
    int64_t v = dflt;
    int rc = st->be->exec(st, sql, params, n, scalar_row, &v, 0);
    return rc == KB_OK || rc == 1 ? v : dflt;
}

static int text_row(void *ud, size_t ncol, const kb_sval *cols, const char *const *names)
{
    (void)names;
    if (ncol && cols[0].type == KB_SV_TEXT)
        kb_buf_append(ud, cols[0].p, cols[0].len);
    return 1; /* first row only */
}

int kb_store_text(kb_store *st, const char *sql, const kb_sval *params, size_t n, kb_buf *out)
{
    int rc;
    kb_buf_clear(out);
    rc = st->be->exec(st, sql, params, n, text_row, out, 0);
    return rc == 1 ? KB_OK : rc;
}

int store_id_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)names;
    if (ncol)
        kb_sval_int(&c[0], ud);
    return 0;
}

int kb_store_begin(kb_store *st)
{
    int rc = KB_OK;
    if (st->txdepth == 0 && (rc = exec0(st, st->be->begin ? st->be->begin : "BEGIN")))
        return rc;
    st->txdepth++;
    return KB_OK;
}

int kb_store_commit(kb_store *st)
{
    int rc = KB_OK;
    if (st->txdepth == 0)
        return KB_EINVAL;
    if (st->txdepth == 1 && (rc = exec0(st, "COMMIT"))) {
        char keep[sizeof st->err];
        memcpy(keep, st->err, sizeof keep);
        exec0(st, "ROLLBACK");
        memcpy(st->err, keep, sizeof keep);
        st->txdepth = 0;
        return rc;
    }
    st->txdepth--;
    return KB_OK;
}

void kb_store_rollback(kb_store *st)
{
    if (st->txdepth) {
        char keep[sizeof st->err];
        memcpy(keep, st->err, sizeof keep);
        exec0(st, "ROLLBACK");
        memcpy(st->err, keep, sizeof keep);
    }
    st->txdepth = 0;
}

static kb_store *store_open(const char *dsn, int readonly, char *errbuf, size_t errsize)
{
    kb_store *st = kb_calloc(1, sizeof *st);
    const char *arg = dsn;

    if (!st) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    if (strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0) {
        st->be = &kb_store_pg;
    } else if (strncmp(dsn, "pg:", 3) == 0) {
        st->be = &kb_store_pg;
        arg = dsn + 3;
    } else {
        st->be = &kb_store_sqlite;
        if (strncmp(dsn, "sqlite:", 7) == 0)
            arg = dsn + 7;
    }
    kb_buf_init(&st->z, 0);
    kb_buf_init(&st->scratch, 0);
    kb_buf_init(&st->block, 0);
    kb_buf_init(&st->cblock, 0);
    kb_buf_init(&st->vpool, 0);
    if (!(st->zctx = ZSTD_createCCtx())) {
        kb_store_fail(st, "out of memory");
        goto fail;
    }
    st->readonly = readonly;
    if (st->be->open(st, arg) || (readonly ? store_check_ro(st) : store_migrate(st)) ||
        store_build_sql(st))
        goto fail;
    return st;
fail:
    snprintf(errbuf, errsize, "%s", st->err[0] ? st->err : "cannot open the store");
    kb_store_close(st);
    return NULL;
}

kb_store *kb_store_open(const char *dsn, char *errbuf, size_t errsize)
{
    return store_open(dsn, 0, errbuf, errsize);
}

kb_store *kb_store_open_ro(const char *dsn, char *errbuf, size_t errsize)
{
    return store_open(dsn, 1, errbuf, errsize);
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == 0) {
            char c = path[i];
            path[i] = 0;
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                return -1;
            path[i] = c;
        }
    }
    return 0;
}

kb_store *kb_store_open_dir(const char *data_dir, char *errbuf, size_t errsize)
{
    kb_buf b;
    kb_store *st;
    if (mkdir_p(data_dir) != 0) {
        snprintf(errbuf, errsize, "%s: cannot create the data directory: %s", data_dir,
                 strerror(errno));
        return NULL;
    }
    kb_buf_init(&b, 0);
    if (kb_buf_printf(&b, "%s/koban.db", data_dir)) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    st = kb_store_open(b.data, errbuf, errsize);
    kb_buf_release(&b);
    return st;
}

void kb_store_close(kb_store *st)
{
    if (!st)
        return;
    if (st->txdepth)
        kb_store_rollback(st);
    if (st->db)
        st->be->close(st);
    ZSTD_freeCCtx(st->zctx);
    kb_buf_release(&st->z);
    kb_buf_release(&st->scratch);
    kb_buf_release(&st->block);
    kb_buf_release(&st->cblock);
    kb_buf_release(&st->vpool);
    kb_free(st->obs);
    kb_free(st->sql_ins_event);
    kb_free(st->sql_ins_event_id);
    kb_free(st->sql_ins_events);
    kb_free(st->sql_obs_multi);
    kb_free(st->sql_cnt_multi);
    kb_free(st->cnt_rows);
    kb_free(st->sql_nv_one);
    kb_free(st->sql_nv_multi);
    kb_free(st->boffs);
    kb_free(st->obs_rows);
    kb_free(st->seen);
    kb_free(st);
}

/* ---- statistics ----------------------------------------------------------- */

static void put_time(FILE *f, const kb_sval *v)
{
    char buf[40];
    int64_t t;
    if (kb_sval_int(v, &t))
        t = KB_TIME_NONE;
    if (t == KB_TIME_NONE) {
        fprintf(f, "%-24s", "-");
        return;
    }
    kb_time_format(t, buf, sizeof buf);
    if (strlen(buf) > 23) {
        buf[19] = 'Z';
        buf[20] = 0;
    }
    fprintf(f, "%-24s", buf);
}

static int stats_total_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    FILE *f = ud;
    (void)names;
    if (ncol < 5)
        return 0;
    fprintf(f, "events:       %lld\n", (long long)ival(&c[0]));
    fprintf(f, "raw bytes:    %lld (compressed %lld)\n", (long long)ival(&c[3]),
            (long long)ival(&c[4]));
    fputs("oldest:       ", f);
    put_time(f, &c[1]);
    fputs("\nnewest:       ", f);
    put_time(f, &c[2]);
    fputc('\n', f);
    return 0;
}

static int stats_source_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    FILE *f = ud;
    (void)names;
    if (ncol < 5)
        return 0;
    fprintf(f, "  %10lld  %-10.*s ", (long long)ival(&c[2]), (int)c[1].len,
            c[1].p ? c[1].p : "");
    put_time(f, &c[3]);
    put_time(f, &c[4]);
    fprintf(f, "%.*s\n", (int)c[0].len, c[0].p ? c[0].p : "");
    return 0;
}

static int stats_format_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    FILE *f = ud;
    (void)names;
    if (ncol < 2)
        return 0;
    fprintf(f, "  %10lld  %.*s\n", (long long)ival(&c[1]), (int)c[0].len, c[0].p ? c[0].p : "-");
    return 0;
}

int kb_store_stats(kb_store *st, FILE *f)
{
    kb_buf q, q2, q3;
    int rc;
    kb_buf_init(&q2, 0);
    kb_buf_init(&q3, 0);
    fprintf(f, "store:        %s, schema version %d\n", st->be->name,
            kb_store_schema_version(st));
    fprintf(f, "size:         %lld bytes\n", (long long)st->be->size(st));
    kb_buf_init(&q, 0);
    if (kb_buf_printf(&q, "SELECT COUNT(*), MIN(ts), MAX(ts), COALESCE(SUM(raw_len), 0),"
                          " COALESCE(SUM(LENGTH(raw)), 0) + (SELECT COALESCE(SUM(LENGTH(data)),"
                          " 0)%s FROM blocks) FROM %s",
                      st->be->canon_blocks ? " + COALESCE(SUM(LENGTH(cdata)), 0)" : "",
                      st->evtab) ||
        kb_buf_printf(&q2, "SELECT s.path, s.format, x.n, x.lo, x.hi FROM sources s JOIN"
                           " (SELECT source_id, COUNT(*) AS n, MIN(ts) AS lo, MAX(ts) AS hi"
                           " FROM %s GROUP BY source_id) x ON x.source_id = s.id"
                           " ORDER BY s.path",
                      st->evtab) ||
        kb_buf_printf(&q3, "SELECT format, COUNT(*) FROM %s GROUP BY format ORDER BY 2 DESC, 1",
                      st->evtab)) {
        rc = KB_ENOMEM;
        goto out;
    }
    if ((rc = kb_store_exec(st, q.data, NULL, 0, stats_total_cb, f)))
        goto out;
    fprintf(f, "observables:  %lld\n",
            (long long)kb_store_scalar(st, "SELECT COUNT(*) FROM observables", NULL, 0, 0));
    fprintf(f, "alerts:       %lld\n",
            (long long)kb_store_scalar(st, "SELECT COUNT(*) FROM alerts", NULL, 0, 0));
    fprintf(f, "per source:\n  %10s  %-10s %-24s%-24s%s\n", "EVENTS", "FORMAT", "OLDEST",
            "NEWEST", "PATH");
    if ((rc = kb_store_exec(st, q2.data, NULL, 0, stats_source_cb, f)))
        goto out;
    fputs("per format:\n", f);
    rc = kb_store_exec(st, q3.data, NULL, 0, stats_format_cb, f);
out:
    kb_buf_release(&q);
    kb_buf_release(&q2);
    kb_buf_release(&q3);
    return rc;
}

/* ---- raw records --------------------------------------------------------- */

int kb_store_raw_decompress(const void *p, size_t len, kb_buf *b)
{
    unsigned long long n = ZSTD_getFrameContentSize(p, len);
    size_t got;
    kb_buf_clear(b);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (64u << 20))
        return KB_EPARSE;
    if (kb_buf_reserve(b, (size_t)n + 1))
        return KB_ENOMEM;
    got = ZSTD_decompress(b->data, (size_t)n + 1, p, len);
    if (ZSTD_isError(got))
        return KB_EPARSE;
    b->len = got;
    b->data[got] = 0;
    return KB_OK;
}

struct raw_loc {
    int found;
    kb_buf *b;
    int rc;
    int64_t blk, boff, len;
};

static int raw_loc_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct raw_loc *r = ud;
    (void)names;
    r->found = 1;
    if (ncol < 4)
        return 0;
    if (c[0].type == KB_SV_BLOB) {
        r->rc = kb_store_raw_decompress(c[0].p, c[0].len, r->b);
        return 0;
    }
    r->blk = ival(&c[1]);
    r->boff = ival(&c[2]);
    r->len = ival(&c[3]);
    r->rc = r->blk ? KB_OK : KB_ENOENT;
    return 0;
}

static int block_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct raw_loc *r = ud;
    (void)names;
    r->found = 1;
    r->rc = ncol && c[0].type == KB_SV_BLOB ? kb_store_raw_decompress(c[0].p, c[0].len, r->b)
                                            : KB_EPARSE;
    return 0;
}

int kb_store_raw_get(kb_store *st, int64_t id, kb_buf *b)
{
    struct raw_loc r = {0, b, KB_ENOENT, 0, 0, 0};
    kb_sval p = KB_SV_INTV(id);
    int rc;

    kb_buf_clear(b);
    if ((rc = kb_store_exec(st, st->be->canon_blocks
                                    ? "SELECT raw, blk, boff, raw_len FROM ev WHERE id = ?"
                                    : "SELECT raw, blk, boff, raw_len FROM events WHERE id = ?",
                            &p, 1, raw_loc_cb, &r)))
        return rc;
    if (!r.found || r.rc != KB_OK || !r.blk)
        return r.found ? r.rc : KB_ENOENT;
    p = KB_SV_INTV(r.blk);
    r.found = 0;
    if ((rc = kb_store_exec(st, "SELECT data FROM blocks WHERE id = ?", &p, 1, block_cb, &r)))
        return rc;
    if (!r.found)
        return KB_ENOENT;
    if (r.rc != KB_OK)
        return r.rc;
    if (r.boff < 0 || r.len < 0 || (uint64_t)r.boff + (uint64_t)r.len > b->len)
        return KB_EPARSE;
    memmove(b->data, b->data + r.boff, (size_t)r.len);
    b->len = (size_t)r.len;
    b->data[b->len] = 0;
    return KB_OK;
}

struct kb_raw_extractor {
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
};

kb_raw_extractor *kb_raw_extractor_new(void)
{
    kb_raw_extractor *x = kb_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->names = kb_names_new(100000);
    x->arena = kb_arena_new(64 << 10, 64u << 20);
    if (!x->names || !x->arena) {
        kb_raw_extractor_free(x);
        return NULL;
    }
    kb_event_init(&x->ev, x->names, x->arena);
    return x;
}

void kb_raw_extractor_free(kb_raw_extractor *x)
{
    if (!x)
        return;
    kb_arena_free(x->arena);
    kb_names_free(x->names);
    kb_free(x);
}

int kb_raw_extract(kb_raw_extractor *x, const char *raw, size_t rawlen, const char *format,
                   const char *name, size_t nlen, const char **val, size_t *len)
{
    const kb_decoder *dec = kb_decoder_find(format);
    kb_decode_ctx ctx = {0};
    kb_fid id;
    const kb_field *f;

    if (!dec || dec->state_new)
        return KB_ENOENT;
    kb_arena_clear(x->arena);
    kb_event_init(&x->ev, x->names, x->arena); /* the field table lived in the arena */
    x->ev.raw = raw;
    x->ev.raw_len = (uint32_t)rawlen;
    x->ev.path = "-";
    x->ev.format = dec->name;
    ctx.names = x->names;
    ctx.path = "-";
    ctx.ref_time = kb_time_now();
    if (dec->decode(&ctx, raw, rawlen, &x->ev) != KB_OK)
        return KB_ENOENT;
    id = kb_names_lookup(x->names, name, nlen);
    if (id == KB_FID_NONE || !(f = kb_event_get(&x->ev, id)) || f->type == KB_V_NULL)
        return KB_ENOENT;
    *val = f->val;
    *len = f->len;
    return KB_OK;
}
