/* The store above the back ends: the handle (opening, which migrates the
 * schema or checks it, and closing), errors, the SQL helpers (exec,
 * scalar, text) and transactions. The other parts (store-int.h lists
 * them: schema, loading, alerts, retention, reading back) build on these;
 * everything talks SQL through kb_store_backend.exec with `?`
 * placeholders. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
