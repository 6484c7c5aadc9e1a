/* Loading events (kb_store_put_batch): a batch's records go to compressed
 * blocks, its events to rows (narrow ev rows with their canonical fields
 * in the block, or wide events rows), its observables to obs_values,
 * obs_events and obs_counts, its raw field names to field_names, and the
 * source's checkpoint moves past it, all in one transaction. Also the
 * loader's statements, built once per handle (store_build_sql). store-int.h
 * says where the other parts are. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "store/store-int.h"

/* ---- statements ---------------------------------------------------------- */

/* zstd level of the blocks: 1 compresses log blocks almost as well as 3
 * (measured on Zeek JSON) at a lower cost per event. */
#define KB_STORE_ZSTD_LEVEL 1

#define CNT_UPSERT                                                                         \
    " ON CONFLICT (vid, fm, hr) DO UPDATE SET n = obs_counts.n + excluded.n, lo = CASE WHEN"  \
    " excluded.lo < obs_counts.lo THEN excluded.lo ELSE obs_counts.lo END, hi = CASE WHEN"    \
    " excluded.hi > obs_counts.hi THEN excluded.hi ELSE obs_counts.hi END"
#define EV_ROWS 8
/* After the canonical columns: format, ls_product, ls_category, ls_service,
 * source_id, rec_offset, line, raw_len, blk, boff. */
#define NEXTRA 10
#define EV_PARAMS (NCOLS + NEXTRA + 1)

/* The INSERT for events, with the id given (own_ids: "id, " first and no
 * RETURNING) or returned; a malloc'ed string or NULL. */
static char *event_sql(int with_id, int rows)
{
    kb_buf b;
    int rc = 0;
    kb_buf_init(&b, 0);
    rc |= kb_buf_puts(&b, with_id ? "INSERT INTO events (id, " : "INSERT INTO events (");
    for (const kb_store_column *c = kb_store_columns; c->column; c++)
        rc |= kb_buf_printf(&b, "%s, ", c->column);
    rc |= kb_buf_puts(&b, "format, ls_product, ls_category, ls_service, source_id, rec_offset,"
                          " line, raw_len, blk, boff) VALUES ");
    for (int r = 0; r < rows; r++) {
        rc |= kb_buf_puts(&b, r ? ", (" : "(");
        for (size_t i = 0; i < NCOLS + NEXTRA + (with_id ? 1 : 0); i++)
            rc |= kb_buf_puts(&b, i ? ", ?" : "?");
        rc |= kb_buf_puts(&b, ")");
    }
    rc |= kb_buf_puts(&b, with_id ? "" : " RETURNING id");
    if (rc) {
        kb_buf_release(&b);
        return NULL;
    }
    return b.data;
}

/* Narrow rows (canon_blocks): the ev columns a loader sets, NV_ROWS rows
 * per multi-row INSERT. */
#define NV_PARAMS 11
#define NV_ROWS 32

static char *narrow_sql(int rows)
{
    kb_buf b;
    int rc = 0;
    kb_buf_init(&b, 0);
    rc |= kb_buf_puts(&b, "INSERT INTO ev (id, ts, host_name, format, source_id, rec_offset,"
                          " line, raw_len, blk, boff, coff) VALUES ");
    for (int r = 0; r < rows; r++)
        rc |= kb_buf_puts(&b, r ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (rc) {
        kb_buf_release(&b);
        return NULL;
    }
    return b.data;
}

int store_build_sql(kb_store *st)
{
    kb_buf b;
    int rc = 0;
    st->evtab = st->be->canon_blocks ? "ev" : "events";
    if (st->be->canon_blocks) {
        st->sql_nv_one = narrow_sql(1);
        st->sql_nv_multi = narrow_sql(NV_ROWS);
        st->boffs = kb_malloc(2 * KB_STORE_BLOCK_EVENTS * sizeof *st->boffs);
        if (!st->sql_nv_one || !st->sql_nv_multi || !st->boffs)
            return kb_store_fail(st, "out of memory");
    }
    kb_buf_init(&b, 0);
    rc |= kb_buf_puts(&b, "INSERT INTO obs_events (vid, event_id, fm) VALUES (?, ?, ?)");
    for (int i = 1; i < OBS_ROWS; i++)
        rc |= kb_buf_puts(&b, ", (?, ?, ?)");
    st->sql_obs_multi = b.data;
    kb_buf_init(&b, 0);
    rc |= kb_buf_puts(&b, "INSERT INTO obs_counts (vid, fm, hr, n, lo, hi) VALUES"
                          " (?, ?, ?, ?, ?, ?)");
    for (int i = 1; i < CNT_ROWS; i++)
        rc |= kb_buf_puts(&b, ", (?, ?, ?, ?, ?, ?)");
    rc |= kb_buf_puts(&b, CNT_UPSERT);
    st->sql_cnt_multi = b.data;
    st->sql_ins_event = event_sql(0, 1);
    st->sql_ins_event_id = event_sql(1, 1);
    st->sql_ins_events = event_sql(1, EV_ROWS);
    if (rc || !st->sql_obs_multi || !st->sql_cnt_multi || !st->sql_ins_event ||
        !st->sql_ins_event_id || !st->sql_ins_events)
        return kb_store_fail(st, "out of memory");
    return KB_OK;
}

/* ---- loading -------------------------------------------------------------- */

struct source_row {
    int found;
    int64_t id, inode, size, checkpoint, events;
};

static int source_row_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct source_row *r = ud;
    int64_t *dst[5] = {&r->id, &r->inode, &r->size, &r->checkpoint, &r->events};
    (void)names;
    for (size_t i = 0; i < ncol && i < 5; i++)
        kb_sval_int(&c[i], dst[i]);
    r->found = 1;
    return 0;
}

static const char sql_src_get[] =
    "SELECT id, inode, size, checkpoint, events FROM sources WHERE path = ?";
static const char sql_src_new[] =
    "INSERT INTO sources (path, format, inode, size, checkpoint, updated) VALUES (?, ?, ?, ?, -1, ?)"
    " RETURNING id";
static const char sql_src_reset[] =
    "UPDATE sources SET inode = ?, size = ?, checkpoint = -1, format = ? WHERE id = ?";
static const char sql_src_ckpt[] =
    "UPDATE sources SET checkpoint = ?, line = ?, size = ?, events = events + ?, updated = ?"
    " WHERE id = ?";
static const char sql_obs_get[] = "SELECT id FROM obs_values WHERE value = ? AND kind = ?";
static const char sql_obs_new[] =
    "INSERT INTO obs_values (kind, value) VALUES (?, ?) RETURNING id";
static const char sql_obs[] = "INSERT INTO obs_events (vid, event_id, fm) VALUES (?, ?, ?)";
static const char sql_block_new[] = "INSERT INTO blocks (data) VALUES (?) RETURNING id";
static const char sql_block_ids[] = "UPDATE blocks SET lo = ?, hi = ? WHERE id = ?";
static const char sql_field[] = "INSERT INTO field_names (name) VALUES (?) ON CONFLICT DO NOTHING";


/* The value-id cache (see store-int.h): a power of two, at most half full. */
#define OBS_CACHE_SLOTS ((size_t)1 << 20)
#define OBS_CACHE_POOL ((size_t)64 << 20)

static void obs_cache_clear(kb_store *st)
{
    if (st->obs)
        memset(st->obs, 0, OBS_CACHE_SLOTS * sizeof *st->obs);
    st->nobs = 0;
    kb_buf_clear(&st->vpool);
}

/* The obs_values id of (kind, v), from the cache, the table, or a new row. */
static int obs_vid(kb_store *st, int kind, const char *v, size_t len, int64_t *vid)
{
    const size_t mask = OBS_CACHE_SLOTS - 1;
    const char *kn = store_obs_kinds[kind];
    uint64_t h;
    size_t i;
    int rc;

    if (!st->obs && !(st->obs = kb_calloc(OBS_CACHE_SLOTS, sizeof *st->obs)))
        return kb_store_fail(st, "out of memory");
    h = kb_hash(v, len) ^ ((uint64_t)kind + 1) * UINT64_C(0x9e3779b97f4a7c15);
    for (i = h & mask; st->obs[i].vid; i = (i + 1) & mask) {
        const struct obs_slot *sl = &st->obs[i];
        if (sl->hash == h && sl->len == len + 1 && st->vpool.data[sl->off] == (char)kind &&
            memcmp(st->vpool.data + sl->off + 1, v, len) == 0) {
            *vid = sl->vid;
            return KB_OK;
        }
    }
    *vid = 0;
    {
        kb_sval p[2] = {KB_SV_STRV(v, len), KB_SV_STRV(kn, strlen(kn))};
        if ((rc = st->be->exec(st, sql_obs_get, p, 2, store_id_cb, vid, 1)))
            return rc;
    }
    if (!*vid) {
        kb_sval p[2] = {KB_SV_STRV(kn, strlen(kn)), KB_SV_STRV(v, len)};
        if ((rc = st->be->exec(st, sql_obs_new, p, 2, store_id_cb, vid, 1)))
            return rc;
        if (!*vid)
            return kb_store_fail(st, "obs_values: no id returned");
    }
    if (st->nobs >= OBS_CACHE_SLOTS / 2 || st->vpool.len + len + 1 > OBS_CACHE_POOL) {
        obs_cache_clear(st);
        i = h & mask;
    }
    if (kb_buf_putc(&st->vpool, (char)kind) || kb_buf_append(&st->vpool, v, len)) {
        obs_cache_clear(st); /* not remembered; still correct */
        return KB_OK;
    }
    st->obs[i] = (struct obs_slot){h, *vid, (uint32_t)(st->vpool.len - len - 1),
                                   (uint32_t)(len + 1)};
    st->nobs++;
    return KB_OK;
}

/* The fm bit of canonical field canon (see store.h), 0 if it has none. */
int64_t kb_obs_field_bit(int canon)
{
    for (size_t i = 0; i < NOBS; i++)
        if (store_obs_map[i].canon == canon)
            return (int64_t)1 << i;
    return 0;
}

static int cmp_obs(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static const char sql_cnt[] =
    "INSERT INTO obs_counts (vid, fm, hr, n, lo, hi) VALUES (?, ?, ?, ?, ?, ?)" CNT_UPSERT;

/* Adds the batch's obs_events rows (OBS_W values each, sorted by vid) to
 * obs_counts: one (vid, fm, hr, n, lo, hi) row per distinct (vid, fm, hr),
 * CNT_ROWS per statement. */
static int flush_counts(kb_store *st, size_t n)
{
    kb_sval p[CNT_W * CNT_ROWS];
    size_t nc = 0, i = 0;
    int rc = KB_OK;
    if (st->acnt_rows < n) {
        int64_t *nr = kb_realloc(st->cnt_rows, n * CNT_W * sizeof *nr);
        if (!nr)
            return kb_store_fail(st, "out of memory");
        st->cnt_rows = nr;
        st->acnt_rows = n;
    }
    while (i < n) {
        /* One value's rows: a handful of (field mask, hour) pairs. */
        const int64_t *o = &st->obs_rows[OBS_W * i];
        int64_t vid = o[0];
        size_t first = nc;
        for (; i < n && (o = &st->obs_rows[OBS_W * i])[0] == vid; i++) {
            size_t k = first;
            int64_t *c;
            while (k < nc && (st->cnt_rows[CNT_W * k + 1] != o[2] ||
                              st->cnt_rows[CNT_W * k + 2] != o[3]))
                k++;
            c = &st->cnt_rows[CNT_W * k];
            if (k == nc) {
                c[0] = vid;
                c[1] = o[2];
                c[2] = o[3];
                c[3] = 0;
                c[4] = c[5] = o[1];
                nc++;
            }
            c[3]++;
            if (o[1] < c[4])
                c[4] = o[1];
            if (o[1] > c[5])
                c[5] = o[1];
        }
    }
    for (i = 0; i + CNT_ROWS <= nc && !rc; i += CNT_ROWS) {
        for (size_t k = 0; k < CNT_W * CNT_ROWS; k++)
            p[k] = KB_SV_INTV(st->cnt_rows[CNT_W * i + k]);
        rc = st->be->exec(st, st->sql_cnt_multi, p, CNT_W * CNT_ROWS, NULL, NULL, 1);
    }
    for (; i < nc && !rc; i++) {
        for (size_t k = 0; k < CNT_W; k++)
            p[k] = KB_SV_INTV(st->cnt_rows[CNT_W * i + k]);
        rc = st->be->exec(st, sql_cnt, p, CNT_W, NULL, NULL, 1);
    }
    return rc;
}

/* Inserts the batch's obs_events rows (vid, event id, fm) in key order,
 * OBS_ROWS per statement, the rest one by one, and counts them. */
static int flush_obs(kb_store *st)
{
    kb_sval p[OBS_PARAMS * OBS_ROWS];
    size_t n = st->nobs_rows, i = 0;
    int rc = KB_OK;
    st->nobs_rows = 0;
    qsort(st->obs_rows, n, OBS_W * sizeof *st->obs_rows, cmp_obs);
    if ((rc = flush_counts(st, n)))
        return rc;
    for (; i + OBS_ROWS <= n && !rc; i += OBS_ROWS) {
        for (size_t r = 0; r < OBS_ROWS; r++)
            for (size_t k = 0; k < OBS_PARAMS; k++)
                p[OBS_PARAMS * r + k] = KB_SV_INTV(st->obs_rows[OBS_W * (i + r) + k]);
        rc = st->be->exec(st, st->sql_obs_multi, p, OBS_PARAMS * OBS_ROWS, NULL, NULL, 1);
    }
    for (; i < n && !rc; i++) {
        for (size_t k = 0; k < OBS_PARAMS; k++)
            p[k] = KB_SV_INTV(st->obs_rows[OBS_W * i + k]);
        rc = st->be->exec(st, sql_obs, p, OBS_PARAMS, NULL, NULL, 1);
    }
    return rc;
}

static int put_observables(kb_store *st, const kb_event *ev, int64_t id,
                           kb_store_load_stats *stats)
{
    const kb_field *done[NOBS];
    int dkind[NOBS];
    size_t drow[NOBS]; /* the obs_rows entry of done[k] */
    size_t nd = 0;

    for (size_t i = 0; i < NOBS; i++) {
        const kb_field *f = kb_event_canon(ev, store_obs_map[i].canon);
        int dup = 0, rc;
        int64_t vid;
        if (!f || f->len == 0 || f->type == KB_V_NULL || f->len > 4096)
            continue;
        for (size_t k = 0; k < nd && !dup; k++) {
            dup = dkind[k] == store_obs_map[i].kind &&
                  kb_str_eq(done[k]->val, done[k]->len, f->val, f->len);
            if (dup) /* one row per (kind, value), with every field it was in */
                st->obs_rows[OBS_W * drow[k] + 2] |= (int64_t)1 << i;
        }
        if (dup)
            continue;
        done[nd] = f;
        drow[nd] = st->nobs_rows;
        dkind[nd++] = store_obs_map[i].kind;
        if ((rc = obs_vid(st, store_obs_map[i].kind, f->val, f->len, &vid)))
            return rc;
        /* checked here first: this runs for every observable */
        if (st->nobs_rows == st->aobs_rows &&
            kb_grow((void **)&st->obs_rows, &st->aobs_rows, st->nobs_rows + 1,
                    OBS_W * sizeof *st->obs_rows, 4096))
            return kb_store_fail(st, "out of memory");
        st->obs_rows[OBS_W * st->nobs_rows] = vid;
        st->obs_rows[OBS_W * st->nobs_rows + 1] = id;
        st->obs_rows[OBS_W * st->nobs_rows + 2] = (int64_t)1 << i;
        st->obs_rows[OBS_W * st->nobs_rows + 3] =
            ev->ts == KB_TIME_NONE ? KB_OBS_HR_NONE : ev->ts / KB_OBS_HOUR;
        st->nobs_rows++;
        if (stats)
            stats->observables++;
    }
    return KB_OK;
}

/* Inserts one event whose raw record is at byte boff of block blk. */
/* The parameters of one event whose raw record is at byte boff of block
 * blk into p (EV_PARAMS at most): with own_ids the id first. Returns the
 * count. Text points into the event. */
static size_t event_params(const kb_store *st, const kb_event *ev, int64_t id,
                           int64_t source_id, int64_t blk, int64_t boff, kb_sval *p)
{
    size_t k = 0;
    kb_sval null = {KB_SV_NULL, 0, 0, NULL, 0};

    if (st->be->own_ids)
        p[k++] = KB_SV_INTV(id);
    for (const kb_store_column *c = kb_store_columns; c->column; c++, k++) {
        const kb_field *f;
        if (c->canon == KB_F_TIMESTAMP) {
            p[k] = ev->ts == KB_TIME_NONE ? null : KB_SV_INTV(ev->ts);
            continue;
        }
        f = kb_event_canon(ev, c->canon);
        if (!f || f->type == KB_V_NULL) {
            p[k] = null;
        } else if (c->is_int) {
            int64_t v;
            p[k] = kb_parse_i64(f->val, f->len, &v) == KB_OK ? KB_SV_INTV(v) : null;
        } else {
            p[k] = KB_SV_STRV(f->val, f->len);
        }
    }
    p[k++] = str_or_null(ev->format);
    p[k++] = str_or_null(ev->ls.product);
    p[k++] = str_or_null(ev->ls.category);
    p[k++] = str_or_null(ev->ls.service);
    p[k++] = KB_SV_INTV(source_id);
    p[k++] = KB_SV_INTV((int64_t)ev->offset);
    p[k++] = KB_SV_INTV((int64_t)ev->line);
    p[k++] = KB_SV_INTV((int64_t)ev->raw_len);
    p[k++] = KB_SV_INTV(blk);
    p[k++] = KB_SV_INTV(boff);
    return k;
}

/* Appends the canonical fields of ev that are not ev columns, and its
 * Sigma logsource, in the narrow-row encoding (store-int.h). */
static int put_canon(kb_buf *b, const kb_event *ev)
{
    int k = 0, rc = 0;
    const char *ls[3] = {ev->ls.product, ev->ls.category, ev->ls.service};
    for (const kb_store_column *c = kb_store_columns; c->column; c++, k++) {
        const kb_field *f;
        int64_t v;
        if (c->canon == KB_F_TIMESTAMP || c->canon == KB_F_HOST_NAME)
            continue;
        f = kb_event_canon(ev, c->canon);
        if (!f || f->type == KB_V_NULL)
            continue;
        if (c->is_int)
            rc |= kb_parse_i64(f->val, f->len, &v) == KB_OK ? kb_cenc_put_int(b, k, v) : 0;
        else
            rc |= kb_cenc_put_text(b, k, f->val, f->len);
    }
    for (int i = 0; i < 3; i++)
        if (ls[i])
            rc |= kb_cenc_put_text(b, KB_CANON_LS + i, ls[i], strlen(ls[i]));
    rc |= kb_buf_putc(b, (char)KB_CANON_END);
    return rc ? KB_ENOMEM : KB_OK;
}

/* The NV_PARAMS parameters of a narrow ev row into p. */
static void narrow_params(const kb_event *ev, int64_t id, int64_t source_id, int64_t blk,
                          int64_t boff, int64_t coff, kb_sval *p)
{
    kb_sval null = {KB_SV_NULL, 0, 0, NULL, 0};
    const kb_field *h = kb_event_canon(ev, KB_F_HOST_NAME);
    p[0] = KB_SV_INTV(id);
    p[1] = ev->ts == KB_TIME_NONE ? null : KB_SV_INTV(ev->ts);
    p[2] = h && h->type != KB_V_NULL ? KB_SV_STRV(h->val, h->len) : null;
    p[3] = str_or_null(ev->format);
    p[4] = KB_SV_INTV(source_id);
    p[5] = KB_SV_INTV((int64_t)ev->offset);
    p[6] = KB_SV_INTV((int64_t)ev->line);
    p[7] = KB_SV_INTV((int64_t)ev->raw_len);
    p[8] = KB_SV_INTV(blk);
    p[9] = KB_SV_INTV(boff);
    p[10] = KB_SV_INTV(coff);
}

/* Inserts n rows of `width` parameters each, laid out one after another in
 * p: a full batch of `rows` with the multi-row statement `multi`, fewer one
 * by one with `one`. (The narrow ev rows: sql_nv_multi / sql_nv_one, NV_ROWS
 * of NV_PARAMS; the events with own_ids: sql_ins_events / sql_ins_event_id,
 * EV_ROWS of EV_PARAMS.) */
static inline int flush_rows(kb_store *st, const char *multi, const char *one, size_t rows,
                             size_t width, const kb_sval *p, size_t n)
{
    int rc = KB_OK;
    if (n == rows)
        return st->be->exec(st, multi, p, n * width, NULL, NULL, 1);
    for (size_t i = 0; i < n && !rc; i++)
        rc = st->be->exec(st, one, p + i * width, width, NULL, NULL, 1);
    return rc;
}

/* Compresses st->block into a new blocks row holding events lo..hi. With
 * own_ids *blk is the id to give it; otherwise it receives the new id (and
 * lo, hi are set once the events have theirs). */
static int put_block(kb_store *st, int64_t lo, int64_t hi, int64_t *blk)
{
    static const char sql_id[] = "INSERT INTO blocks (id, lo, hi, data) VALUES (?, ?, ?, ?)";
    static const char sql_id2[] =
        "INSERT INTO blocks (id, lo, hi, data, cdata) VALUES (?, ?, ?, ?, ?)";
    size_t bound = ZSTD_compressBound(st->block.len), zn, cn = 0;
    size_t cbound = st->cblock.len ? ZSTD_compressBound(st->cblock.len) : 0;
    kb_sval p[5];
    if (st->z.alloc < bound + cbound + 1 && kb_buf_reserve(&st->z, bound + cbound + 1))
        return kb_store_fail(st, "out of memory");
    zn = ZSTD_compressCCtx(st->zctx, st->z.data, bound, st->block.data, st->block.len,
                           KB_STORE_ZSTD_LEVEL);
    if (ZSTD_isError(zn))
        return kb_store_fail(st, "zstd: %s", ZSTD_getErrorName(zn));
    if (st->cblock.len) { /* narrow rows: their canonical fields, a frame of their own */
        cn = ZSTD_compressCCtx(st->zctx, st->z.data + zn, cbound, st->cblock.data,
                               st->cblock.len, KB_STORE_ZSTD_LEVEL);
        if (ZSTD_isError(cn))
            return kb_store_fail(st, "zstd: %s", ZSTD_getErrorName(cn));
    }
    if (st->be->own_ids) {
        p[0] = KB_SV_INTV(*blk);
        p[1] = KB_SV_INTV(lo);
        p[2] = KB_SV_INTV(hi);
        p[3] = (kb_sval){KB_SV_BLOB, 0, 0, st->z.data, zn};
        if (st->cblock.len) {
            p[4] = (kb_sval){KB_SV_BLOB, 0, 0, st->z.data + zn, cn};
            return st->be->exec(st, sql_id2, p, 5, NULL, NULL, 1);
        }
        return st->be->exec(st, sql_id, p, 4, NULL, NULL, 1);
    }
    p[0] = (kb_sval){KB_SV_BLOB, 0, 0, st->z.data, zn};
    *blk = 0;
    return st->be->exec(st, sql_block_new, p, 1, store_id_cb, blk, 1);
}

/* Records raw field names not yet in field_names. */
static int put_field_names(kb_store *st, const kb_batch *batch)
{
    kb_names *names = batch->n ? batch->events[0].names : NULL;
    size_t count;
    if (!names)
        return KB_OK;
    count = kb_names_count(names);
    if (st->names != names) {
        kb_free(st->seen);
        st->seen = NULL;
        st->nseen = 0;
        st->names = names;
    }
    if (count > st->nseen) {
        uint8_t *ns = kb_realloc(st->seen, count);
        if (!ns)
            return kb_store_fail(st, "out of memory");
        memset(ns + st->nseen, 0, count - st->nseen);
        st->seen = ns;
        st->nseen = count;
    }
    for (size_t i = 0; i < batch->n; i++) {
        const kb_event *ev = &batch->events[i];
        for (uint32_t k = 0; k < ev->nfields; k++) {
            kb_fid id = ev->fields[k].name;
            size_t len;
            const char *s;
            int rc;
            if (id < KB_F_CANON_COUNT || id >= st->nseen || st->seen[id])
                continue;
            s = kb_names_str(names, id, &len);
            {
                kb_sval p = KB_SV_STRV(s, len);
                if ((rc = st->be->exec(st, sql_field, &p, 1, NULL, NULL, 1)))
                    return rc;
            }
            st->seen[id] = 1;
        }
    }
    return KB_OK;
}

int kb_store_put_batch(kb_store *st, const kb_batch *batch, int64_t *ids,
                       kb_store_load_stats *stats)
{
    struct source_row src = {0};
    struct stat sb;
    int64_t inode = 0, size = 0, last = -1, line = 0, added = 0, next_id = 0, next_blk = 0;
    kb_sval evp[EV_ROWS * EV_PARAMS]; /* own_ids: events waiting for their INSERT */
    kb_sval nvp[NV_ROWS * NV_PARAMS]; /* narrow rows waiting for theirs */
    size_t nev = 0, nnv = 0;
    const int narrow = st->be->canon_blocks;
    const int nested = st->txdepth > 0; /* in a caller's group transaction */
    const char *path = batch->path ? batch->path : "-";
    const char *fmt = batch->decoder ? batch->decoder->name : NULL;
    int rc, tracked = strcmp(path, "-") != 0;
    uint8_t *seen_before = NULL;
    size_t nbefore = 0;

    if (ids)
        memset(ids, 0, batch->n * sizeof *ids);
    if (tracked && stat(path, &sb) == 0) {
        inode = (int64_t)sb.st_ino;
        size = (int64_t)sb.st_size;
    }
    if ((rc = kb_store_begin(st)))
        return rc;
    {
        kb_sval p = KB_SV_STRV(path, strlen(path));
        if ((rc = st->be->exec(st, sql_src_get, &p, 1, source_row_cb, &src, 1)))
            goto fail;
    }
    if (!src.found) {
        kb_sval p[5] = {KB_SV_STRV(path, strlen(path)), str_or_null(fmt), KB_SV_INTV(inode),
                        KB_SV_INTV(size), KB_SV_INTV(kb_time_now())};
        src.checkpoint = -1;
        if ((rc = st->be->exec(st, sql_src_new, p, 5, store_id_cb, &src.id, 1)))
            goto fail;
    } else if (tracked && (src.inode != inode || size < src.size)) {
        /* Rotated or truncated: a new file under the old name. */
        kb_sval p[4] = {KB_SV_INTV(inode), KB_SV_INTV(size), str_or_null(fmt),
                        KB_SV_INTV(src.id)};
        kb_log(KB_LOG_INFO, "%s: a new file (inode or size changed); loading from the start",
               path);
        src.checkpoint = -1;
        if ((rc = st->be->exec(st, sql_src_reset, p, 4, NULL, NULL, 1)))
            goto fail;
    }
    if (!tracked)
        src.checkpoint = -1;
    last = src.checkpoint;
    if (st->be->own_ids) {
        /* The write transaction is exclusive: nobody else numbers rows. */
        next_id = kb_store_scalar(st, narrow ? "SELECT COALESCE(MAX(id), 0) FROM ev"
                                             : "SELECT COALESCE(MAX(id), 0) FROM events",
                                  NULL, 0, -1) +
                  1;
        next_blk = kb_store_scalar(st, "SELECT COALESCE(MAX(id), 0) FROM blocks", NULL, 0, -1) + 1;
        if (next_id <= 0 || next_blk <= 0) {
            rc = kb_store_fail(st, "cannot read the last event id: %s", st->err);
            goto fail;
        }
    }
    for (size_t i = 0; i < batch->n;) {
        /* The next block: up to KB_STORE_BLOCK_EVENTS records to store,
         * KB_STORE_BLOCK_BYTES (unless one record alone is longer). */
        size_t end, nb = 0, j = 0;
        int64_t blk = 0, boff = 0, lo = 0, hi = 0;
        kb_buf_clear(&st->block);
        kb_buf_clear(&st->cblock);
        for (end = i; end < batch->n && nb < KB_STORE_BLOCK_EVENTS; end++) {
            const kb_event *ev = &batch->events[end];
            if (tracked && (int64_t)ev->offset <= src.checkpoint)
                continue;
            if (nb && st->block.len + ev->raw_len > KB_STORE_BLOCK_BYTES)
                break;
            if (narrow) {
                st->boffs[2 * nb] = (int64_t)st->block.len;
                st->boffs[2 * nb + 1] = (int64_t)st->cblock.len;
            }
            if (kb_buf_append(&st->block, ev->raw, ev->raw_len) ||
                (narrow && put_canon(&st->cblock, ev))) {
                rc = kb_store_fail(st, "out of memory");
                goto fail;
            }
            nb++;
        }
        blk = next_blk;
        if (nb && (rc = put_block(st, next_id, next_id + (int64_t)nb - 1, &blk)))
            goto fail;
        if (nb)
            next_blk++;
        for (; i < end; i++) {
            const kb_event *ev = &batch->events[i];
            int64_t id = next_id++;
            if (tracked && (int64_t)ev->offset <= src.checkpoint) {
                next_id--;
                if (stats)
                    stats->skipped++;
                continue;
            }
            if (narrow) {
                narrow_params(ev, id, src.id, blk, st->boffs[2 * j], st->boffs[2 * j + 1],
                              nvp + nnv * NV_PARAMS);
                j++;
                if (++nnv == NV_ROWS) {
                    nnv = 0;
                    if ((rc = flush_rows(st, st->sql_nv_multi, st->sql_nv_one, NV_ROWS, NV_PARAMS,
                                         nvp, NV_ROWS)))
                        goto fail;
                }
            } else if (st->be->own_ids) {
                event_params(st, ev, id, src.id, blk, boff, evp + nev * EV_PARAMS);
                if (++nev == EV_ROWS) {
                    nev = 0;
                    if ((rc = flush_rows(st, st->sql_ins_events, st->sql_ins_event_id, EV_ROWS,
                                         EV_PARAMS, evp, EV_ROWS)))
                        goto fail;
                }
            } else {
                kb_sval p[EV_PARAMS];
                size_t k = event_params(st, ev, 0, src.id, blk, boff, p);
                id = 0;
                if ((rc = st->be->exec(st, st->sql_ins_event, p, k, store_id_cb, &id, 1)))
                    goto fail;
            }
            if ((rc = put_observables(st, ev, id, stats)))
                goto fail;
            boff += ev->raw_len;
            if (!lo)
                lo = id;
            hi = id;
            if (ids)
                ids[i] = id;
            if ((int64_t)ev->offset > last)
                last = (int64_t)ev->offset;
            line = (int64_t)ev->line;
            added++;
        }
        if (nev) {
            rc = flush_rows(st, st->sql_ins_events, st->sql_ins_event_id, EV_ROWS, EV_PARAMS, evp,
                            nev);
            nev = 0;
            if (rc)
                goto fail;
        }
        if (nb && !st->be->own_ids) {
            kb_sval p[3] = {KB_SV_INTV(lo), KB_SV_INTV(hi), KB_SV_INTV(blk)};
            if ((rc = st->be->exec(st, sql_block_ids, p, 3, NULL, NULL, 1)))
                goto fail;
        }
    }
    if (nnv &&
        (rc = flush_rows(st, st->sql_nv_multi, st->sql_nv_one, NV_ROWS, NV_PARAMS, nvp, nnv)))
        goto fail;
    if (st->nobs_rows && (rc = flush_obs(st)))
        goto fail;
    if (st->seen && st->nseen) {
        /* Keep a copy so that a rollback forgets the names it recorded. */
        if (!(seen_before = kb_malloc(st->nseen))) {
            rc = kb_store_fail(st, "out of memory");
            goto fail;
        }
        memcpy(seen_before, st->seen, st->nseen);
        nbefore = st->nseen;
    }
    if ((rc = put_field_names(st, batch)))
        goto fail;
    if (added) {
        kb_sval p[6] = {KB_SV_INTV(last), KB_SV_INTV(line),   KB_SV_INTV(size),
                        KB_SV_INTV(added), KB_SV_INTV(kb_time_now()), KB_SV_INTV(src.id)};
        if ((rc = st->be->exec(st, sql_src_ckpt, p, 6, NULL, NULL, 1)))
            goto fail;
    }
    if ((rc = kb_store_commit(st)))
        goto fail_committed;
    if (stats) {
        stats->events += (uint64_t)added;
        stats->batches++;
    }
    kb_free(seen_before);
    return KB_OK;
fail:
    kb_store_rollback(st);
fail_committed:
    obs_cache_clear(st); /* value ids of the batch were rolled back */
    st->nobs_rows = 0;
    if (st->seen) {
        /* A rollback of a caller's group also undid earlier batches' names. */
        memset(st->seen, 0, st->nseen);
        if (seen_before && !nested)
            memcpy(st->seen, seen_before, nbefore < st->nseen ? nbefore : st->nseen);
    }
    kb_free(seen_before);
    if (ids)
        memset(ids, 0, batch->n * sizeof *ids);
    return rc;
}
