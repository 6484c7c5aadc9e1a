/* Reading back: the statistics of `koban stats` (kb_store_stats), raw
 * records out of their compressed blocks (kb_store_raw_get,
 * kb_store_raw_decompress), and fields decoded again from a raw record
 * (kb_raw_extract). store-int.h says where the other parts are. */
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "store/store-int.h"

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
