/* Indicator persistence in the store's own database, through the generic
 * exec interface (both back ends): tables intel_indicators, intel_feeds and
 * intel_state, versioned as module "intel" by kb_store_migrate_module. */
#include <string.h>

#include "intel/intel-int.h"
#include "store/store.h"

/* The intel module's schema, versioned by the store (koban_modules). Steps
 * are never edited once shipped: a change is a new step. */
static const char *const intel_v1[] = {
    "CREATE TABLE IF NOT EXISTS intel_indicators (kind TEXT NOT NULL, value TEXT NOT NULL,"
    " feed TEXT NOT NULL, confidence BIGINT, threat TEXT, first_seen BIGINT,"
    " last_seen BIGINT, valid_until BIGINT, tags TEXT, ref TEXT, descr TEXT,"
    " added BIGINT NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (kind, value, feed))",
    "CREATE INDEX IF NOT EXISTS intel_indicators_value ON intel_indicators (value)",
    "CREATE INDEX IF NOT EXISTS intel_indicators_added ON intel_indicators (added)",
    "CREATE TABLE IF NOT EXISTS intel_feeds (name TEXT PRIMARY KEY, format TEXT,"
    " source TEXT, count BIGINT, updated BIGINT)",
    "CREATE TABLE IF NOT EXISTS intel_state (key TEXT PRIMARY KEY, value TEXT)",
    NULL,
};

static const kb_store_step intel_steps[] = {
    {1, intel_v1},
};

int kb_intel_store_init(kb_store *st)
{
    return kb_store_migrate_module(st, "intel", intel_steps,
                                   sizeof intel_steps / sizeof intel_steps[0]);
}

int kb_intel_store_ready(kb_store *st)
{
    int64_t have = kb_store_scalar(
        st, "SELECT version FROM koban_modules WHERE module = 'intel'", NULL, 0, 0);
    int rc;
    if (have == intel_steps[sizeof intel_steps / sizeof intel_steps[0] - 1].version)
        return 1;
    if (have <= 0) /* no koban_modules table, or no intel row: no indicators */
        return 0;
    /* an older (or newer: refused) version: migrating writes, and fails on a
     * store opened read-only */
    return (rc = kb_intel_store_init(st)) == KB_OK ? 1 : rc;
}

static kb_sval sv_str(const char *s)
{
    return s ? KB_SV_STRV(s, strlen(s)) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0};
}

static kb_sval sv_time(int64_t t)
{
    return t == KB_TIME_NONE ? (kb_sval){KB_SV_NULL, 0, 0, NULL, 0} : KB_SV_INTV(t);
}

static int exists_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    (void)n, (void)c, (void)names;
    *(int *)ud = 1;
    return 0;
}

int kb_intel_store_put(kb_store *st, const kb_indicator *ind, int64_t now, int *is_new)
{
    static const char sql_has[] =
        "SELECT 1 FROM intel_indicators WHERE kind = ? AND value = ? AND feed = ?";
    static const char sql_put[] =
        "INSERT INTO intel_indicators (kind, value, feed, confidence, threat, first_seen,"
        " last_seen, valid_until, tags, ref, descr, added, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (kind, value, feed) DO UPDATE SET confidence = excluded.confidence,"
        " threat = excluded.threat, first_seen = excluded.first_seen,"
        " last_seen = excluded.last_seen, valid_until = excluded.valid_until,"
        " tags = excluded.tags, ref = excluded.ref, descr = excluded.descr,"
        " updated = excluded.updated";
    const kb_store_backend *be = kb_store_backend_of(st);
    const char *kn = kb_intel_kind_name(ind->kind);
    int found = 0, rc;
    kb_sval p[13] = {
        sv_str(kn), sv_str(ind->value), sv_str(ind->feed),
        ind->confidence < 0 ? (kb_sval){KB_SV_NULL, 0, 0, NULL, 0} : KB_SV_INTV(ind->confidence),
        sv_str(ind->threat), sv_time(ind->first_seen), sv_time(ind->last_seen),
        sv_time(ind->valid_until), sv_str(ind->tags), sv_str(ind->ref), sv_str(ind->desc),
        KB_SV_INTV(now), KB_SV_INTV(now),
    };
    if (is_new) {
        if ((rc = be->exec(st, sql_has, p, 3, exists_row, &found, 1)))
            return rc;
        *is_new = !found;
    }
    return be->exec(st, sql_put, p, 13, NULL, NULL, 1);
}

typedef struct each_ctx {
    kb_intel_each_fn fn;
    void *ud;
} each_ctx;

static const char *col_str(const kb_sval *c, char **keep)
{
    (void)keep;
    return c->type == KB_SV_TEXT ? c->p : NULL;
}

static int64_t col_time(const kb_sval *c)
{
    return c->type == KB_SV_INT ? c->i : KB_TIME_NONE;
}

static int each_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    each_ctx *x = ud;
    (void)names;
    if (n < 12)
        return KB_EIO;
    /* text results are NUL-terminated by both back ends (sqlite3_column_text,
     * PQgetvalue) */
    kb_indicator ind = {
        .kind = c[0].type == KB_SV_TEXT ? kb_intel_kind_find(c[0].p, c[0].len) : -1,
        .value = col_str(&c[1], NULL), .feed = col_str(&c[2], NULL),
        .confidence = c[3].type == KB_SV_INT ? (int)c[3].i : -1,
        .threat = col_str(&c[4], NULL), .first_seen = col_time(&c[5]),
        .last_seen = col_time(&c[6]), .valid_until = col_time(&c[7]),
        .tags = col_str(&c[8], NULL), .ref = col_str(&c[9], NULL),
        .desc = col_str(&c[10], NULL),
    };
    if (ind.kind < 0 || !ind.value)
        return 0;
    return x->fn(x->ud, &ind, col_time(&c[11]));
}

/* ordered: (kind, value, feed) order, through the primary key's index;
 * otherwise the table's own order (a sequential scan: loading the matcher
 * needs no order and this halves its time). */
static int store_each(kb_store *st, const char *value, int64_t since, int ordered,
                      kb_intel_each_fn fn, void *ud)
{
    static const char cols[] = "SELECT kind, value, feed, confidence, threat, first_seen,"
                               " last_seen, valid_until, tags, ref, descr, added"
                               " FROM intel_indicators";
    each_ctx x = {fn, ud};
    kb_buf q;
    kb_sval p[2];
    size_t n = 0;
    int rc;
    kb_buf_init(&q, 4096);
    rc = kb_buf_puts(&q, cols);
    if (value) {
        rc |= kb_buf_puts(&q, " WHERE value = ?");
        p[n++] = sv_str(value);
    }
    if (since != KB_TIME_NONE) {
        rc |= kb_buf_puts(&q, value ? " AND added >= ?" : " WHERE added >= ?");
        p[n++] = KB_SV_INTV(since);
    }
    if (ordered)
        rc |= kb_buf_puts(&q, " ORDER BY kind, value, feed");
    if (rc == KB_OK)
        rc = kb_store_exec(st, q.data, p, n, each_row, &x);
    else
        rc = KB_ENOMEM;
    kb_buf_release(&q);
    return rc;
}

int kb_intel_store_each(kb_store *st, const char *value, int64_t since, kb_intel_each_fn fn,
                        void *ud)
{
    return store_each(st, value, since, 1, fn, ud);
}

int kb_intel_store_feed(kb_store *st, const char *name, const char *format, const char *source,
                        uint64_t count, int64_t now)
{
    kb_sval p[5] = {sv_str(name), sv_str(format), sv_str(source), KB_SV_INTV((int64_t)count),
                    KB_SV_INTV(now)};
    return kb_store_exec(st,
                         "INSERT INTO intel_feeds (name, format, source, count, updated)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                         " format = excluded.format, source = excluded.source,"
                         " count = excluded.count, updated = excluded.updated",
                         p, 5, NULL, NULL);
}

int kb_intel_state_set(kb_store *st, const char *key, const char *val)
{
    kb_sval p[2] = {sv_str(key), sv_str(val)};
    return kb_store_exec(st,
                         "INSERT INTO intel_state (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         p, 2, NULL, NULL);
}

int kb_intel_state_get(kb_store *st, const char *key, kb_buf *out)
{
    kb_sval p = sv_str(key);
    return kb_store_text(st, "SELECT value FROM intel_state WHERE key = ?", &p, 1, out);
}

/* ---- the matcher from the store -------------------------------------------------- */

static int load_row(void *ud, const kb_indicator *ind, int64_t added)
{
    (void)added;
    int rc = kb_intel_matcher_add(ud, ind);
    return rc == KB_EINVAL ? 0 : rc; /* a row that no longer parses is skipped */
}

kb_intel_matcher *kb_intel_matcher_from_store(kb_store *st, int64_t now,
                                              const char *const *allow, size_t nallow,
                                              char *errbuf, size_t errsize)
{
    kb_intel_matcher *m = kb_intel_matcher_new(now);
    int rc;
    if (!m) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < nallow; i++) {
        const char *reason;
        if ((rc = kb_intel_matcher_allow(m, allow[i], strlen(allow[i]), &reason))) {
            snprintf(errbuf, errsize, "allowlist: '%s': %s", allow[i],
                     rc == KB_EINVAL ? reason : kb_strerror(rc));
            goto fail;
        }
    }
    if ((rc = kb_intel_store_init(st)) ||
        (rc = store_each(st, NULL, KB_TIME_NONE, 0, load_row, m))) {
        snprintf(errbuf, errsize, "loading indicators: %s",
                 rc == KB_EIO ? kb_store_errmsg(st) : kb_strerror(rc));
        goto fail;
    }
    if ((rc = kb_intel_matcher_seal(m))) {
        snprintf(errbuf, errsize, "%s", kb_strerror(rc));
        goto fail;
    }
    return m;
fail:
    kb_intel_matcher_free(m);
    return NULL;
}
