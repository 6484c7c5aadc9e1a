/* Store benchmark (SQLite, one core): load throughput with every index,
 * indicator pivot and host + time-window latency, raw substring scan rate,
 * and store size against raw size. Input: the shared samples (Zeek DNS and
 * weird, Suricata EVE, Windows events, syslog) replicated to KOBAN_BENCH_MB
 * (default 200) MB (one format per file: sniffing is per source), written to $TMPDIR, loaded into $TMPDIR/koban-bench.db
 * (removed afterwards unless KOBAN_BENCH_KEEP is set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-util.h"
#include "ingest/ingest.h"
#include "store/hunt.h"
#include "store/store.h"

#define D KOBAN_SHARED_DATA "/"

struct ctx {
    kb_store *st;
    kb_store_load_stats s;
};

static int on_batch(const kb_batch *b, void *ud)
{
    struct ctx *c = ud;
    if (kb_store_put_batch(c->st, b, NULL, &c->s)) {
        fprintf(stderr, "store: %s\n", kb_store_errmsg(c->st));
        return 1;
    }
    return 0;
}

static int count_cb(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    (void)n, (void)names;
    *(int64_t *)ud = c[0].type == KB_SV_INT ? c[0].i : -1;
    return 0;
}

/* CPU seconds (user + system) used by the process so far. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Mean latency in ms of a hunt over `reps` runs. */
static double time_hunt(kb_store *st, const char *q, int reps, int64_t *result)
{
    kb_hunt_error err;
    kb_hunt *h = kb_hunt_parse(q, strlen(q), kb_time_now(), &err);
    kb_hunt_sql sql;
    double t0;
    if (!h || kb_hunt_compile(h, st, KB_TIME_NONE, &sql, &err)) {
        fprintf(stderr, "%s: %s\n", q, err.msg);
        exit(1);
    }
    t0 = bench_now();
    for (int i = 0; i < reps; i++)
        kb_store_exec(st, sql.sql.data, sql.params, sql.nparams, count_cb, result);
    t0 = (bench_now() - t0) / reps * 1000;
    kb_hunt_sql_release(&sql);
    kb_hunt_free(h);
    return t0;
}

int main(void)
{
    static const char *const files[] = {
        D "logs/zeek-json/zed-wrccdc-dns.json.log", D "logs/zeek-json/zed-wrccdc-weird.json.log"};
    size_t target = bench_size(200), len, blen;
    const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512], db[512], err[600];
    char *src = bench_read_files(files, sizeof files / sizeof files[0], &len), *buf;
    kb_names *names = kb_names_new(0);
    kb_ingest_opts o = {0};
    kb_ingest *ing;
    struct ctx c = {0};
    FILE *f;
    double t0, secs, c0, cpu;
    int64_t n = 0;

    if (!src)
        return 1;
    buf = bench_replicate(src, len, target, &blen);
    snprintf(path, sizeof path, "%s/koban-bench-store.log", tmpdir);
    snprintf(db, sizeof db, "%s/koban-bench.db", tmpdir);
    unlink(db);
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, blen, f) != blen || fclose(f))
        return 1;
    free(buf);
    free(src);
    if (!(c.st = kb_store_open(db, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ing = kb_ingest_new(names, &o);
    t0 = bench_now();
    c0 = cpu_now();
    kb_ingest_path(ing, path, on_batch, NULL, &c);
    secs = bench_now() - t0;
    cpu = cpu_now() - c0;
    bench_report("load (decode + store, SQLite, all indexes)", (double)blen, (double)c.s.events,
                 secs);
    /* The machine may be shared: CPU time is the one-core figure, wall
     * time adds I/O waits and other processes. */
    printf("  %llu events, %llu observables, %.0f events/s wall, %.0f events/s per CPU"
           " second (%.2f s CPU)\n",
           (unsigned long long)c.s.events, (unsigned long long)c.s.observables,
           c.s.events / secs, c.s.events / cpu, cpu);
    if (getenv("KOBAN_BENCH_LOAD_ONLY")) { /* e.g. for valgrind --tool=callgrind */
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
        printf("store size: %.1f MB for %.1f MB raw = %.0f%%\n", size / 1e6, blen / 1e6,
               100.0 * size / blen);
    }
    printf("pivot ip (source.ip:10.47.1.100 | stats count()): %.2f ms",
           time_hunt(c.st, "source.ip:10.47.1.100 | stats count()", 20, &n));
    printf(" (%lld events)\n", (long long)n);
    printf("pivot domain (domain:ise.wrccdc.org | stats count()): %.2f ms",
           time_hunt(c.st, "domain:ise.wrccdc.org | stats count()", 20, &n));
    printf(" (%lld events)\n", (long long)n);
    printf("pivot absent hash (hash:00...): %.3f ms\n",
           time_hunt(c.st, "hash:0000000000000000000000000000beef | stats count()", 200, &n));
    printf("source + window (source.ip:10.47.1.100, 30 s): %.2f ms",
           time_hunt(c.st, "source.ip:10.47.1.100 and @timestamp >= 2018-03-24T17:15:20Z and"
                           " @timestamp <= 2018-03-24T17:15:50Z | stats count()",
                     20, &n));
    printf(" (%lld events)\n", (long long)n);
    t0 = bench_now();
    time_hunt(c.st, "\"no-such-needle-xyz\" | stats count()", 1, &n);
    secs = bench_now() - t0;
    printf("raw substring scan: %.0f events/s (%llu events in %.2f s)\n", c.s.events / secs,
           (unsigned long long)c.s.events, secs);
    kb_ingest_free(ing);
    kb_names_free(names);
    kb_store_close(c.st);
    unlink(path);
    if (!getenv("KOBAN_BENCH_KEEP")) /* keep the store to inspect it (sqlite3, dbstat) */
        unlink(db);
    return 0;
}
