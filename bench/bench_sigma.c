/* Sigma matching benchmark: all rules of the three SigmaHQ folders loaded
 * and compiled once, then the Windows events of ../shared/data matched
 * until at least KOBAN_BENCH_MB (default 1000) MB of input equivalents went
 * through:
 *   engine    kb_engine_match over events decoded once into memory, one
 *             thread;
 *   engine x2 the same on two threads, each with its own scratch, taking
 *             blocks of BLOCK consecutive events from a shared counter
 *             until the target is reached (as `koban scan -j2` hands out
 *             consecutive parts of a file: a thread keeps the locality of
 *             consecutive records, and neither waits for the other);
 *   decode+   decoding each line again and matching it (the whole path;
 *             KOBAN_BENCH_DECODE=0 skips it);
 *   naive     the reference evaluator (logsource check + kb_rule_match for
 *             every rule), over as many events as fit in ~10 s
 *             (KOBAN_BENCH_NAIVE=0 skips it).
 * Each line gives wall time and CPU time (the machine may be shared: the
 * CPU-time rate is what one core does when it runs the benchmark). Prints
 * rule load and compile seconds, peak RSS after compiling, and the alert
 * counts (the engine's and the naive evaluator's must agree). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-util.h"
#include "detect/engine.h"
#include "ingest/decoders.h"
#include "ingest/ingest.h"

#define WINEVT KOBAN_SHARED_DATA "/windows-events/hayabusa_sample_evtx.jsonl"

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    (void)path;
    (void)line;
    (void)reason;
    (void)msg;
    (*(size_t *)ud)++;
}

typedef struct line {
    const char *p;
    size_t len;
} line;

static double clock_secs(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_off(const char *name)
{
    const char *v = getenv(name);
    return v && strcmp(v, "0") == 0;
}

static void report_cpu(const char *name, double bytes, double events, double wall, double cpu)
{
    bench_report(name, bytes, events, wall);
    printf("  cpu time %.3f s: %.0f events/s per core-second (%.1f MB/s)\n", cpu,
           cpu > 0 ? events / cpu : 0, cpu > 0 ? bytes / 1e6 / cpu : 0);
}

/* One thread of the multi-thread measurement: blocks of BLOCK consecutive
 * events claimed from a counter shared by the threads (block b covers
 * events (b % nblocks) * BLOCK onwards of the decoded set), until nclaim
 * blocks went through. Handing out every other event instead costs each
 * thread ~15% (measured: its core's prefetcher also pulls in the events the
 * other thread matches, and consecutive records share rules and pattern
 * sets), and koban scan never does that: its threads take consecutive
 * parts of a file. */
#define BLOCK 512
typedef struct worker {
    const kb_engine *e;
    const kb_event *evs;
    size_t nev, nblocks, nclaim;
    atomic_size_t *next;
    double bytes, events, alerts, cpu;
    int rc;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    kb_engine_scratch *s = kb_engine_scratch_new(w->e);
    double c0 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    size_t b;
    if (!s) {
        w->rc = 1;
        return NULL;
    }
    while ((b = atomic_fetch_add(w->next, 1)) < w->nclaim) {
        size_t lo = (b % w->nblocks) * BLOCK, hi = lo + BLOCK < w->nev ? lo + BLOCK : w->nev;
        for (size_t i = lo; i < hi; i++) {
            int n = kb_engine_match(w->e, s, &w->evs[i], NULL, NULL);
            if (n > 0)
                w->alerts += n;
            w->bytes += (double)w->evs[i].raw_len + 1;
        }
        w->events += (double)(hi - lo);
    }
    w->cpu = clock_secs(CLOCK_THREAD_CPUTIME_ID) - c0;
    kb_engine_scratch_free(s);
    return NULL;
}

int main(void)
{
    static const char *dirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting"};
    kb_names *names = kb_names_new(0);
    kb_ruleset *rs = kb_ruleset_new(names);
    kb_engine *e;
    kb_engine_scratch *s;
    kb_engine_stats st;
    kb_arena *arena = kb_arena_new(1u << 20, 0), *tmp = kb_arena_new(1u << 20, 0);
    kb_decode_ctx ctx = {.names = names, .path = WINEVT};
    const char *err = NULL;
    size_t failed = 0, len = 0, nlines = 0, nev = 0, target = bench_size(1000);
    char *buf, path[512];
    line *lines;
    kb_event *evs;
    double t0, c0, t_load, t_compile, c_all, bytes = 0, events = 0, alerts = 0, secs;

    t0 = bench_now();
    c0 = clock_secs(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/sigma/%s", KOBAN_SHARED_DATA, dirs[i]);
        kb_ruleset_load_dir(rs, path, on_err, &failed);
    }
    t_load = bench_now() - t0;
    t0 = bench_now();
    if (!(e = kb_engine_new(rs, &err))) {
        fprintf(stderr, "bench_sigma: engine: %s\n", err);
        return 1;
    }
    t_compile = bench_now() - t0;
    c_all = clock_secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
    kb_engine_stats_get(e, &st);
    printf("rules: %zu loaded (%zu failed) in %.3f s; engine compiled in %.3f s "
           "(load+compile %.3f s wall, %.3f s cpu); %zu predicates, %zu patterns, %zu databases, "
           "%zu by reference; peak RSS %.1f MB\n",
           kb_ruleset_count(rs), failed, t_load, t_compile, t_load + t_compile, c_all, st.preds,
           st.hs_patterns, st.hs_databases, st.fallback, bench_peak_rss_mb());
    s = kb_engine_scratch_new(e);
    if (!s || !(buf = bench_read_file(WINEVT, &len))) {
        fprintf(stderr, "bench_sigma: cannot read %s\n", WINEVT);
        return 1;
    }
    /* split and decode once */
    for (size_t i = 0; i < len; i++)
        nlines += buf[i] == '\n';
    lines = calloc(nlines + 1, sizeof *lines);
    evs = calloc(nlines + 1, sizeof *evs);
    if (!lines || !evs)
        return 1;
    for (char *p = buf, *end = buf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        kb_event *ev = &evs[nev];
        lines[nev].p = p;
        lines[nev].len = l;
        kb_event_init(ev, names, arena);
        ev->raw = p;
        ev->raw_len = (uint32_t)l;
        ev->line = nev + 1;
        ev->path = WINEVT;
        if (kb_dec_winevt.decode(&ctx, p, l, ev) == KB_OK)
            nev++;
        p += l + 1;
    }
    printf("windows events: %zu decoded from %.1f MB; target %.0f MB of input equivalents\n", nev,
           (double)len / 1e6, (double)target / 1e6);

    /* engine over decoded events; the fastest pass (CPU time) too, the
     * figure least disturbed by other load on a shared machine */
    t0 = bench_now();
    c0 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    {
        double best = 0;
        while (bytes < (double)target) {
            double p0 = clock_secs(CLOCK_THREAD_CPUTIME_ID), pc;
            for (size_t i = 0; i < nev; i++) {
                int n = kb_engine_match(e, s, &evs[i], NULL, NULL);
                if (n > 0)
                    alerts += n;
            }
            pc = clock_secs(CLOCK_THREAD_CPUTIME_ID) - p0;
            if (best == 0 || pc < best)
                best = pc;
            bytes += (double)len;
            events += (double)nev;
        }
        secs = bench_now() - t0;
        report_cpu("sigma engine (decoded)", bytes, events, secs,
                   clock_secs(CLOCK_THREAD_CPUTIME_ID) - c0);
        printf("  fastest pass: %.0f events/s per core-second (%.1f MB/s); alerts per pass: "
               "%.0f\n",
               best > 0 ? (double)nev / best : 0, best > 0 ? (double)len / 1e6 / best : 0,
               alerts / (bytes / (double)len));
    }

    /* two threads, each its own scratch, consecutive blocks of events */
    if (!env_off("KOBAN_BENCH_THREADS")) {
        worker w[2];
        pthread_t th[2];
        atomic_size_t next = 0;
        size_t nblocks = (nev + BLOCK - 1) / BLOCK, passes = 0;
        double cpu = 0, wal = 0;
        int started = 0;
        while ((double)passes * (double)len < (double)target)
            passes++;
        memset(w, 0, sizeof w);
        bytes = events = 0;
        for (int k = 0; k < 2; k++) {
            w[k].e = e;
            w[k].evs = evs;
            w[k].nev = nev;
            w[k].nblocks = nblocks;
            w[k].nclaim = nblocks * passes;
            w[k].next = &next;
        }
        t0 = bench_now();
        for (int k = 0; k < 2; k++)
            if (pthread_create(&th[k], NULL, worker_run, &w[k]) == 0)
                started++;
        for (int k = 0; k < started; k++)
            pthread_join(th[k], NULL);
        secs = bench_now() - t0;
        for (int k = 0; k < started; k++) {
            bytes += w[k].bytes;
            events += w[k].events;
            cpu += w[k].cpu;
            wal += w[k].alerts;
        }
        if (started == 2 && !w[0].rc && !w[1].rc) {
            bench_report("sigma engine (decoded, 2 threads)", bytes, events, secs);
            printf("  cpu time %.3f s over 2 threads (%.0f%% / %.0f%% of the events): %.0f "
                   "events/s on two cores (%.0f per core-second); alerts per pass %.0f\n",
                   cpu, 100 * w[0].events / events, 100 * w[1].events / events,
                   cpu > 0 ? 2 * events / cpu : 0, cpu > 0 ? events / cpu : 0,
                   wal / (double)passes);
        } else {
            printf("sigma engine (decoded, 2 threads): could not start\n");
        }
    }

    /* decode + engine */
    bytes = events = alerts = 0;
    t0 = bench_now();
    c0 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    while (!env_off("KOBAN_BENCH_DECODE") && bytes < (double)target) {
        for (size_t i = 0; i < nev; i++) {
            kb_event ev;
            int n;
            kb_arena_clear(tmp);
            kb_event_init(&ev, names, tmp);
            ev.raw = lines[i].p;
            ev.raw_len = (uint32_t)lines[i].len;
            if (kb_dec_winevt.decode(&ctx, lines[i].p, lines[i].len, &ev) != KB_OK)
                continue;
            n = kb_engine_match(e, s, &ev, NULL, NULL);
            if (n > 0)
                alerts += n;
        }
        bytes += (double)len;
        events += (double)nev;
    }
    secs = bench_now() - t0;
    if (events > 0)
        report_cpu("sigma decode+engine", bytes, events, secs,
                   clock_secs(CLOCK_THREAD_CPUTIME_ID) - c0);

    /* naive reference evaluator: bounded time (KOBAN_BENCH_NAIVE=0 skips it) */
    if (!env_off("KOBAN_BENCH_NAIVE")) {
        double eng_alerts = 0, ref_alerts = 0, nb = 0, ne = 0;
        size_t i;
        t0 = bench_now();
        for (i = 0; i < nev; i++) {
            ref_alerts += (double)kb_ruleset_match(rs, &evs[i], 1, NULL, NULL);
            nb += (double)lines[i].len + 1;
            ne++;
            if ((i & 255) == 255 && bench_now() - t0 > 10)
                break;
        }
        secs = bench_now() - t0;
        bench_report("sigma naive reference", nb, ne, secs);
        for (size_t k = 0; k < (size_t)ne; k++) {
            int n = kb_engine_match(e, s, &evs[k], NULL, NULL);
            if (n > 0)
                eng_alerts += n;
        }
        printf("  over those %.0f events: naive %.0f alerts, engine %.0f alerts%s\n", ne,
               ref_alerts, eng_alerts, ref_alerts == eng_alerts ? "" : "  MISMATCH");
    }
    kb_engine_scratch_free(s);
    kb_engine_free(e);
    kb_ruleset_free(rs);
    kb_arena_free(arena);
    kb_arena_free(tmp);
    kb_names_free(names);
    free(lines);
    free(evs);
    free(buf);
    return 0;
}
