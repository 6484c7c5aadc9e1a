/* Store benchmark (SQLite, one core): load throughput with every index,
 * indicator pivot and address + time-window latency, raw substring scan
 * rate, and store size against raw size.
 *
 * Input: the shared Zeek JSON samples (DNS and weird, 6,000 events, ~90 s
 * of traffic) copied again and again, each copy's timestamps ("ts",
 * "_write_ts") moved 100 s later than the previous copy's, so that a time
 * window holds what it would in a real store instead of every copy. Size:
 * KOBAN_BENCH_EVENTS events (e.g. 10000000 for the 10-million-event
 * run), else KOBAN_BENCH_MB megabytes (default 200). Written to
 * $TMPDIR/koban-bench-store.log, loaded into $TMPDIR/koban-bench.db in
 * transactions of KOBAN_BENCH_GROUP events (default 65,536, as koban load
 * does); both removed afterwards unless KOBAN_BENCH_KEEP is set.
 * KOBAN_BENCH_HOST_COPIES=N adds N copies of the shared Windows events
 * sample (15,527 events with host names, 12 years apart per copy) as a
 * second source, for the host + time-window queries.
 * KOBAN_BENCH_LOAD_ONLY stops after the load (for callgrind).
 *
 * Every figure is given in CPU time (the machine may be shared) and in
 * wall time. */
#define _GNU_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "ingest/ingest.h"
#include "store/hunt.h"
#include "store/store.h"

#define D KOBAN_SHARED_DATA "/"

struct ctx {
    kb_store *st;
    kb_store_load_stats s;
    uint64_t group, pending;
    int open_tx; /* a group transaction is open */
};

static int on_batch(const kb_batch *b, void *ud)
{
    struct ctx *c = ud;
    if (!c->open_tx && kb_store_begin(c->st))
        goto fail;
    c->open_tx = 1;
    if (kb_store_put_batch(c->st, b, NULL, &c->s))
        goto fail;
    c->pending += b->n;
    if (c->pending >= c->group) {
        c->pending = 0;
        c->open_tx = 0;
        if (kb_store_commit(c->st))
            goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "store: %s\n", kb_store_errmsg(c->st));
    return 1;
}

/* Loads path into c's store in group transactions (the last committed);
 * wall and CPU seconds in *secs and *cpu. 1 when the store failed. */
static int timed_load(kb_ingest *ing, const char *path, struct ctx *c, double *secs, double *cpu)
{
    double t0 = bench_now(), c0 = bench_cpu_now();
    kb_ingest_path(ing, path, on_batch, NULL, c);
    if (c->open_tx && kb_store_commit(c->st)) {
        fprintf(stderr, "store: %s\n", kb_store_errmsg(c->st));
        return 1;
    }
    c->open_tx = 0;
    c->pending = 0;
    *secs = bench_now() - t0;
    *cpu = bench_cpu_now() - c0;
    return 0;
}

static int count_cb(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    (void)names;
    if (n == 1 && c[0].type == KB_SV_INT)
        *(int64_t *)ud = c[0].i;
    else
        (*(int64_t *)ud)++; /* rows */
    return 0;
}

/* Mean latency of a hunt over `reps` runs: *wall and return value in ms
 * (the return value is CPU time). *result: the count, or the rows. */
static double time_hunt(kb_store *st, const char *q, int reps, int64_t *result, double *wall)
{
    kb_hunt_error err;
    kb_hunt *h = kb_hunt_parse(q, strlen(q), kb_time_now(), &err);
    kb_hunt_sql sql;
    double t0, c0;
    if (!h || kb_hunt_compile(h, st, KB_TIME_NONE, &sql, &err)) {
        fprintf(stderr, "%s: %s\n", q, err.msg);
        exit(1);
    }
    t0 = bench_now();
    c0 = bench_cpu_now();
    for (int i = 0; i < reps; i++) {
        *result = 0;
        if (kb_store_exec(st, sql.sql.data, sql.params, sql.nparams, count_cb, result)) {
            fprintf(stderr, "%s: %s\n", q, kb_store_errmsg(st));
            exit(1);
        }
    }
    *wall = (bench_now() - t0) / reps * 1000;
    c0 = (bench_cpu_now() - c0) / reps * 1000;
    kb_hunt_sql_release(&sql);
    kb_hunt_free(h);
    return c0;
}

static void report_hunt(kb_store *st, const char *label, const char *q, int reps)
{
    int64_t n = 0;
    double wall, cpu = time_hunt(st, q, reps, &n, &wall);
    printf("%-34s %9.2f ms CPU %9.2f ms wall  (%lld)  %s\n", label, cpu, wall, (long long)n, q);
}

/* A timestamp to move in each copy: where it is in the sample, and its
 * time (seconds). */
struct tpos {
    size_t off;
    time_t t;
};

/* The time fields moved in each copy: Zeek's, and the Windows events'. */
static const char *const time_keys[] = {"\"ts\":\"", "\"_write_ts\":\"",
                                        "\"TimeCreated\": \""};

/* Finds every time field "YYYY-MM-DDTHH:MM:SS of the sample (n allocated
 * entries at most). */
static size_t find_times(const char *src, size_t len, struct tpos *tp, size_t n)
{
    const char *const *keys = time_keys;
    size_t k = 0;
    for (const char *p = src, *e; p < src + len && k + 2 <= n; p = e + 1) {
        e = memchr(p, '\n', (size_t)(src + len - p));
        for (size_t i = 0; i < 3 && k < n; i++) {
            const char *at = memmem(p, (size_t)(e - p), keys[i], strlen(keys[i]));
            struct tm tm = {0};
            if (!at || e - at < (long)strlen(keys[i]) + 19)
                continue;
            at += strlen(keys[i]);
            if (sscanf(at, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
                continue;
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            tp[k].off = (size_t)(at - src);
            tp[k++].t = timegm(&tm);
        }
    }
    return k;
}

/* Writes copies of src (n lines) with times moved `step` seconds per copy
 * until `events` lines (or, when 0, `bytes` bytes) are written. Returns
 * bytes written, 0 on error. */
static size_t write_input(const char *path, const char *src, size_t len, size_t lines,
                          long step, uint64_t events, size_t bytes, uint64_t *written)
{
    FILE *f = fopen(path, "wb");
    char *copy = malloc(len), last[64] = "";
    struct tpos *tp = malloc(3 * lines * sizeof *tp);
    size_t total = 0, nt;
    time_t last_t = -1;
    *written = 0;
    if (!f || !copy || !tp)
        return 0;
    nt = find_times(src, len, tp, 3 * lines);
    memcpy(copy, src, len);
    for (long k = 0; events ? *written < events : total < bytes; k++) {
        size_t take = len;
        uint64_t nl = lines;
        for (size_t i = 0; i < nt; i++) {
            time_t t = tp[i].t + k * step;
            if (t != last_t) {
                struct tm tm;
                gmtime_r(&t, &tm);
                snprintf(last, sizeof last, "%04d-%02d-%02dT%02d:%02d:%02d", (tm.tm_year + 1900) % 10000,
                         (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
                         tm.tm_sec % 100);
                last_t = t;
            }
            memcpy(copy + tp[i].off, last, 19);
        }
        if (events && *written + lines > events) { /* the last, partial copy */
            nl = events - *written;
            take = 0;
            for (uint64_t i = 0; i < nl; i++)
                take = (size_t)((char *)memchr(copy + take, '\n', len - take) - copy) + 1;
        }
        if (fwrite(copy, 1, take, f) != take)
            return 0;
        total += take;
        *written += nl;
    }
    free(copy);
    free(tp);
    return fclose(f) ? 0 : total;
}

int main(void)
{
    static const char *const files[] = {
        D "logs/zeek-json/zed-wrccdc-dns.json.log", D "logs/zeek-json/zed-wrccdc-weird.json.log"};
    const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *ev_env = getenv("KOBAN_BENCH_EVENTS"), *g_env = getenv("KOBAN_BENCH_GROUP");
    const char *h_env = getenv("KOBAN_BENCH_HOST_COPIES");
    uint64_t hcopies = h_env ? strtoull(h_env, NULL, 10) : 0;
    char wpath[512] = "";
    uint64_t want = ev_env ? strtoull(ev_env, NULL, 10) : 0, lines = 0, written;
    char path[512], db[512], err[600];
    size_t len, blen;
    char *src = bench_read_files(files, sizeof files / sizeof files[0], &len);
    kb_names *names = kb_names_new(0);
    kb_ingest_opts o = {0};
    kb_ingest *ing;
    struct ctx c = {0};
    double t0, secs, cpu;
    int64_t n = 0;

    if (!src)
        return 1;
    for (size_t i = 0; i < len; i++)
        lines += src[i] == '\n';
    c.group = g_env ? strtoull(g_env, NULL, 10) : 65536;
    snprintf(path, sizeof path, "%s/koban-bench-store.log", tmpdir);
    snprintf(db, sizeof db, "%s/koban-bench.db", tmpdir);
    unlink(db);
    t0 = bench_now();
    if (!(blen = write_input(path, src, len, lines, 100, want, bench_size(200), &written)))
        return 1;
    printf("input: %llu events, %.1f MB (%.1f s to write)\n", (unsigned long long)written,
           blen / 1e6, bench_now() - t0);
    free(src);
    if (!(c.st = kb_store_open(db, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ing = kb_ingest_new(names, &o);
    if (timed_load(ing, path, &c, &secs, &cpu))
        return 1;
    bench_report("load (decode + store, SQLite, all indexes)", (double)blen, (double)c.s.events,
                 secs);
    printf("  %llu events, %llu observables, %llu events per transaction: %.0f events/s wall,"
           " %.0f events/s per CPU second (%.2f s CPU)\n",
           (unsigned long long)c.s.events, (unsigned long long)c.s.observables,
           (unsigned long long)c.group, c.s.events / secs, c.s.events / cpu, cpu);
    if (hcopies) {
        /* The Windows sample (15,527 events of 2013-2024 with host names),
         * copied hcopies times 12 years apart, as a second source. */
        static const char *const wf[] = {D "windows-events/hayabusa_sample_evtx.jsonl"};
        size_t wlen, wsize;
        uint64_t wlines = 0, wn;
        char *w = bench_read_files(wf, 1, &wlen);
        kb_store_load_stats before = c.s;
        if (!w)
            return 1;
        for (size_t i = 0; i < wlen; i++)
            wlines += w[i] == '\n';
        snprintf(wpath, sizeof wpath, "%s/koban-bench-winevt.jsonl", tmpdir);
        if (!(wsize = write_input(wpath, w, wlen, wlines, 378691200L, wlines * hcopies, 0, &wn)))
            return 1;
        free(w);
        if (timed_load(ing, wpath, &c, &secs, &cpu))
            return 1;
        printf("load Windows events (%llu copies): %llu events, %.1f MB, %.0f events/s per CPU"
               " second (%.2f s CPU, %.2f s wall)\n",
               (unsigned long long)hcopies, (unsigned long long)(c.s.events - before.events),
               wsize / 1e6, (c.s.events - before.events) / cpu, cpu, secs);
        blen += wsize;
    }
    if (getenv("KOBAN_BENCH_LOAD_ONLY")) {
        kb_ingest_free(ing);
        kb_names_free(names);
        kb_store_close(c.st);
        unlink(path);
        unlink(db);
        return 0;
    }
    t0 = bench_now();
    kb_store_exec(c.st, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0, NULL, NULL);
    printf("  final WAL checkpoint: %.2f s\n", bench_now() - t0);
    {
        int64_t size = kb_store_backend_of(c.st)->size(c.st);
        printf("store size: %.1f MB for %.1f MB raw = %.1f%%\n", size / 1e6, blen / 1e6,
               100.0 * size / blen);
    }
    /* Pivots: an address seen once per copy of the sample, 8 times, ~114
     * times; a domain in ~1 of 5 events; an absent hash. */
    report_hunt(c.st, "pivot ip, rare: count", "ip:23.217.103.245 | stats count()", 20);
    report_hunt(c.st, "pivot ip, rare: rows", "ip:23.217.103.245", 5);
    report_hunt(c.st, "pivot ip, rare: first 100 rows", "ip:23.217.103.245 | head 100", 5);
    report_hunt(c.st, "pivot field, medium: count",
                "destination.ip:216.239.36.10 | stats count()", 20);
    report_hunt(c.st, "pivot field, frequent: count", "source.ip:10.47.1.100 | stats count()",
                5);
    report_hunt(c.st, "pivot field, frequent: first 100", "source.ip:10.47.1.100 | head 100", 5);
    report_hunt(c.st, "pivot field, frequent: newest 100",
                "source.ip:10.47.1.100 | sort -@timestamp | head 100", 5);
    report_hunt(c.st, "pivot domain, frequent: count", "domain:ise.wrccdc.org | stats count()",
                3);
    report_hunt(c.st, "pivot domain, frequent: first 100", "domain:ise.wrccdc.org | head 100", 3);
    report_hunt(c.st, "pivot domain, frequent: newest 100",
                "domain:ise.wrccdc.org | sort -@timestamp | head 100", 3);
    report_hunt(c.st, "pivot absent hash: count",
                "hash:0000000000000000000000000000beef | stats count()", 200);
    report_hunt(c.st, "address + 30 s window: count",
                "source.ip:10.47.1.100 and @timestamp >= 2018-03-24T17:15:20Z and"
                " @timestamp <= 2018-03-24T17:15:50Z | stats count()",
                20);
    report_hunt(c.st, "address + 30 s window: rows",
                "source.ip:10.47.1.100 and @timestamp >= 2018-03-24T17:15:20Z and"
                " @timestamp <= 2018-03-24T17:15:50Z",
                5);
    if (hcopies) {
        report_hunt(c.st, "host + 30 s window: count",
                    "host.name:DESKTOP-M5SN04R and @timestamp >= 2016-09-19T16:51:00Z and"
                    " @timestamp <= 2016-09-19T16:51:30Z | stats count()",
                    20);
        report_hunt(c.st, "host + 30 s window: rows",
                    "host.name:DESKTOP-M5SN04R and @timestamp >= 2016-09-19T16:51:00Z and"
                    " @timestamp <= 2016-09-19T16:51:30Z",
                    5);
        report_hunt(c.st, "host + 30 s window: first 100 rows",
                    "host.name:DESKTOP-M5SN04R and @timestamp >= 2016-09-19T16:51:00Z and"
                    " @timestamp <= 2016-09-19T16:51:30Z | head 100",
                    5);
    }
    {
        double wall, scpu = time_hunt(c.st, "\"no-such-needle-xyz\" | stats count()", 1, &n, &wall);
        printf("raw substring scan: %.0f events/s per CPU second, %.0f events/s wall (%llu"
               " events in %.2f s CPU, %.2f s wall)\n",
               c.s.events / (scpu / 1000), c.s.events / (wall / 1000),
               (unsigned long long)c.s.events, scpu / 1000, wall / 1000);
    }
    kb_ingest_free(ing);
    kb_names_free(names);
    kb_store_close(c.st);
    unlink(path);
    if (wpath[0])
        unlink(wpath);
    if (!getenv("KOBAN_BENCH_KEEP")) /* keep the store to inspect it (sqlite3, dbstat) */
        unlink(db);
    return 0;
}
