/* Threat-intelligence matcher benchmark.
 *
 * 1,000,000 (KOBAN_BENCH_IOCS) indicators of mixed kinds (IPv4 34%, IPv6 4%,
 * CIDR 2%, domains 18%, URLs 10%, MD5 10%, SHA-1 8%, SHA-256 10%, e-mail
 * 2%, file names 2%) are generated as raw text, then:
 *   load     each value normalised (kb_intel_normalize) and added, then the
 *            tables sealed: wall and CPU seconds, the matcher's bytes and
 *            the process's resident-memory growth;
 *   store    (KOBAN_BENCH_STORE=1) the same indicators written to an SQLite
 *            store and loaded back with kb_intel_matcher_from_store;
 *   lookups  on one core, addresses (kb_intel_lookup_ip, 4-byte IPv4) and
 *            digests (kb_intel_lookup_hash, hex text), one at a time and in
 *            batches of 1024 (kb_intel_lookup_ip4_batch / _hash_batch), from
 *            query sets of 1 Mi distinct values of which 10% (then 1%) are
 *            indicators drawn from all of them; domains through
 *            kb_intel_lookup: lookups per second of wall and of CPU time.
 * Targets (issue 5): load < 2 s into < 200 MB; >= 20 M lookups/s per core
 * for hashes and addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "intel/intel.h"
#include "store/store.h"

/* Query sets: 1 Mi distinct addresses and 1 Mi digests, one in ten (then
 * one in a hundred) an indicator drawn from all of them, so that lookups
 * are not served from a few cached lines. */
#define QA ((size_t)1 << 20)

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mb(void)
{
    char line[128] = "", *p;
    long resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fgets(line, sizeof line, f)) {
            strtol(line, &p, 10); /* size, then resident pages */
            resident = strtol(p, NULL, 10);
        }
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static void hex(char *out, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i += 16) {
        uint64_t v = next();
        for (size_t j = 0; j < 16 && i + j < n; j++, v >>= 4)
            out[i + j] = d[v & 15];
    }
    out[n] = 0;
}

/* One raw indicator value of a kind picked by weight; writes its kind. */
static void gen(char *out, size_t cap, int *kind)
{
    unsigned r = (unsigned)(next() % 100);
    uint64_t v = next();
    if (r < 34) {
        *kind = -1;
        snprintf(out, cap, "%u.%u.%u.%u", (unsigned)(v >> 24 & 255) | 1, (unsigned)(v >> 16 & 255),
                 (unsigned)(v >> 8 & 255), (unsigned)(v & 255));
    } else if (r < 38) {
        *kind = -1;
        snprintf(out, cap, "2001:db8:%x:%x::%x", (unsigned)(v >> 48 & 0xffff),
                 (unsigned)(v >> 32 & 0xffff), (unsigned)(v & 0xffff));
    } else if (r < 40) {
        *kind = -1;
        snprintf(out, cap, "%u.%u.%u.0/24", (unsigned)(v >> 24 & 255) | 1,
                 (unsigned)(v >> 16 & 255), (unsigned)(v >> 8 & 255));
    } else if (r < 58) {
        *kind = KB_IOC_DOMAIN;
        snprintf(out, cap, "h%llx.Example-%u.COM", (unsigned long long)(v >> 20),
                 (unsigned)(v & 1023));
    } else if (r < 68) {
        *kind = KB_IOC_URL;
        snprintf(out, cap, "HTTP://x%llx.example.net:80/p/%u?q=%%41", (unsigned long long)(v >> 24),
                 (unsigned)(v & 0xffff));
    } else if (r < 78) {
        *kind = KB_IOC_MD5;
        hex(out, 32);
    } else if (r < 86) {
        *kind = KB_IOC_SHA1;
        hex(out, 40);
    } else if (r < 96) {
        *kind = KB_IOC_SHA256;
        hex(out, 64);
    } else if (r < 98) {
        *kind = KB_IOC_EMAIL;
        snprintf(out, cap, "u%llx@Mail.Example.org", (unsigned long long)(v >> 16));
    } else {
        *kind = KB_IOC_FILENAME;
        snprintf(out, cap, "C:\\Temp\\Dropper%llx.EXE", (unsigned long long)(v >> 28));
    }
}

typedef struct raw {
    char *v;
    int kind;
} raw;

static const char *const feeds[] = {"abuse-ch", "crowdsec", "internal", "misp-circl"};
static const char *const threats[] = {"c2", "malware-download", "phishing", "scanner"};

static int add_to(kb_intel_matcher *m, kb_store *st, raw *r, size_t n, kb_buf *b,
                  uint64_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        const char *reason;
        int kind;
        if (kb_intel_normalize(r[i].kind, r[i].v, strlen(r[i].v), b, &kind, &reason)) {
            (*bad)++;
            continue;
        }
        kb_indicator ind = {kind, b->data, feeds[i & 3], 50 + (int)(i % 50), threats[i % 4],
                            KB_TIME_NONE, KB_TIME_NONE, KB_TIME_NONE, NULL, NULL, NULL};
        int rc = m ? kb_intel_matcher_add(m, &ind) : kb_intel_store_put(st, &ind, 1, NULL);
        if (rc)
            return rc;
    }
    return KB_OK;
}

int main(void)
{
    size_t n = 1000000, nq = 20000000;
    const char *e = getenv("KOBAN_BENCH_IOCS");
    kb_intel_matcher *m;
    kb_intel_matcher_stats ms;
    kb_buf b;
    raw *r;
    char val[256];
    uint64_t bad = 0;
    double t0, c0, rss0, t_load, c_load;

    if (e && strtoul(e, NULL, 10) > 0)
        n = (size_t)strtoul(e, NULL, 10);
    r = calloc(n, sizeof *r);
    kb_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < n; i++) {
        gen(val, sizeof val, &r[i].kind);
        r[i].v = strdup(val);
    }
    rss0 = rss_mb();

    /* ---- load ---- */
    t0 = bench_now();
    c0 = cpu_now();
    m = kb_intel_matcher_new(0);
    if (add_to(m, NULL, r, n, &b, &bad) || kb_intel_matcher_seal(m)) {
        fprintf(stderr, "bench_intel: load failed\n");
        return 1;
    }
    t_load = bench_now() - t0;
    c_load = cpu_now() - c0;
    kb_intel_matcher_stats_get(m, &ms);
    printf("intel load: %zu raw indicators (%llu rejected) -> %llu indicators, %llu keys in "
           "%.3f s wall, %.3f s CPU; matcher %.1f MB, RSS +%.1f MB (peak %.1f MB incl. the "
           "raw input)\n",
           n, (unsigned long long)bad, (unsigned long long)ms.indicators,
           (unsigned long long)ms.keys, t_load, c_load, (double)ms.bytes / 1048576.0,
           rss_mb() - rss0, bench_peak_rss_mb());

    /* ---- lookups: addresses and digests, single and batch ---- */
    {
        /* the indicators' IPv4 addresses and digests, shuffled: hits are
         * drawn from all of them, not from a few cached lines */
        uint32_t *iv4 = malloc(n * sizeof *iv4);
        const char **idg = malloc(n * sizeof *idg);
        size_t n4 = 0, ndg = 0;
        uint32_t *addrs = malloc(QA * sizeof *addrs);
        const char **digs = malloc(QA * sizeof *digs);
        size_t *dl = malloc(QA * sizeof *dl);
        char *missbuf = malloc(QA * 65);
        int *out = malloc(QA * sizeof *out);
        uint64_t hits = 0;
        double t, c;
        int ev_only = getenv("KOBAN_BENCH_EVENTS_ONLY") != NULL; /* for profiling */
        for (size_t i = 0; i < n; i++) {
            if (r[i].kind == -1 && !strchr(r[i].v, '/') && !strchr(r[i].v, ':')) {
                unsigned p[4];
                const char *s = r[i].v;
                uint8_t a[4];
                for (int k = 0; k < 4; k++) {
                    p[k] = (unsigned)strtoul(s, (char **)&s, 10);
                    s++;
                }
                a[0] = (uint8_t)p[0], a[1] = (uint8_t)p[1], a[2] = (uint8_t)p[2],
                a[3] = (uint8_t)p[3];
                memcpy(&iv4[n4++], a, 4);
            } else if (r[i].kind >= KB_IOC_MD5 && r[i].kind <= KB_IOC_SHA256) {
                idg[ndg++] = r[i].v;
            }
        }
        for (size_t i = n4; i-- > 1;) {
            size_t j = next() % (i + 1);
            uint32_t ta = iv4[i];
            iv4[i] = iv4[j], iv4[j] = ta;
        }
        for (size_t i = ndg; i-- > 1;) {
            size_t j = next() % (i + 1);
            const char *td = idg[i];
            idg[i] = idg[j], idg[j] = td;
        }
        for (int rate = 10; rate >= 1; rate /= 10) {
            /* QA queries, one in 100/rate an indicator (distinct while the
             * indicators last), misses random; each set used in order */
            size_t nh4 = n4, nhd = ndg;
            size_t h4 = 0, hd = 0;
            for (size_t i = 0; i < QA; i++) {
                if ((int)(next() % 100) < rate && nh4 && nhd) {
                    /* in the query buffer like the misses: an event's value
                     * is in its (cached) record, not where the indicator was */
                    addrs[i] = iv4[h4++ % nh4];
                    snprintf(missbuf + 65 * i, 65, "%s", idg[hd++ % nhd]);
                    digs[i] = missbuf + 65 * i;
                } else {
                    addrs[i] = (uint32_t)next() | 0x80u;
                    hex(missbuf + 65 * i, (next() & 1) ? 64 : 32);
                    digs[i] = missbuf + 65 * i;
                }
                dl[i] = strlen(digs[i]);
            }
            /* addresses: single, then batches of 1024 */
            for (int mode = ev_only ? 2 : 0; mode < 2; mode++) {
                hits = 0;
                t = bench_now();
                c = cpu_now();
                if (!mode) {
                    for (size_t i = 0; i < nq; i++)
                        hits += (uint64_t)kb_intel_lookup_ip(
                            m, (const uint8_t *)&addrs[i & (QA - 1)], 0, NULL, NULL);
                } else {
                    for (size_t i = 0; i < nq; i += 1024) {
                        size_t o = i & (QA - 1);
                        size_t nb = nq - i < 1024 ? nq - i : 1024;
                        kb_intel_lookup_ip4_batch(m, (const uint8_t *)&addrs[o], nb,
                                                  KB_TIME_NONE, out + o);
                        for (size_t j = 0; j < nb; j++)
                            hits += (uint64_t)out[o + j];
                    }
                }
                t = bench_now() - t;
                c = cpu_now() - c;
                printf("intel lookups, IPv4, %s, 1 Mi distinct, %d%% hits: %zu in %.3f s = %.1f"
                       " M/s wall, %.1f M/s CPU (%llu hits)\n",
                       mode ? "batch of 1024" : "single", rate, nq, t, (double)nq / t / 1e6,
                       (double)nq / c / 1e6, (unsigned long long)hits);
            }
            for (int mode = ev_only ? 2 : 0; mode < 2; mode++) {
                hits = 0;
                t = bench_now();
                c = cpu_now();
                if (!mode) {
                    for (size_t i = 0; i < nq; i++)
                        hits += (uint64_t)kb_intel_lookup_hash(m, digs[i & (QA - 1)],
                                                               dl[i & (QA - 1)], NULL, NULL);
                } else {
                    for (size_t i = 0; i < nq; i += 1024) {
                        size_t o = i & (QA - 1);
                        size_t nb = nq - i < 1024 ? nq - i : 1024;
                        kb_intel_lookup_hash_batch(m, digs + o, dl + o, nb, KB_TIME_NONE,
                                                   out + o);
                        for (size_t j = 0; j < nb; j++)
                            hits += (uint64_t)out[o + j];
                    }
                }
                t = bench_now() - t;
                c = cpu_now() - c;
                printf("intel lookups, hex digests, %s, 1 Mi distinct, %d%% hits: %zu in %.3f s"
                       " = %.1f M/s wall, %.1f M/s CPU (%llu hits)\n",
                       mode ? "batch of 1024" : "single", rate, nq, t, (double)nq / t / 1e6,
                       (double)nq / c / 1e6, (unsigned long long)hits);
            }
            /* events: source and destination addresses and a file digest
             * each (the values above, as text), kb_intel_match one by one
             * and kb_intel_match_batch per block of 256 events. A block's
             * events are refilled with the next values each time (a
             * decoder's events are in cache, their values are not);
             * the refill is timed in both modes. */
            {
                enum { EB = 256 };
                kb_names *names = kb_names_new(0);
                kb_arena *ar = kb_arena_new(1 << 20, (size_t)1 << 26);
                kb_event *evs = calloc(EB, sizeof *evs);
                const kb_event **evp = malloc(EB * sizeof *evp);
                char (*txt)[16] = malloc(QA * sizeof *txt);
                size_t nev_q = nq / 10;
                for (size_t i = 0; i < QA; i++) {
                    const uint8_t *a = (const uint8_t *)&addrs[i];
                    snprintf(txt[i], 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
                }
                for (size_t i = 0; i < EB; i++) {
                    kb_event_init(&evs[i], names, ar);
                    evp[i] = &evs[i];
                }
                for (int mode = getenv("KOBAN_BENCH_EVENTS_BATCH") ? 1 : 0; mode < 2; mode++) {
                    kb_intel_match_counts mc = {0};
                    t = bench_now();
                    c = cpu_now();
                    for (size_t i = 0; i < nev_q; i += EB) {
                        size_t nb = nev_q - i < EB ? nev_q - i : EB;
                        for (size_t j = 0; j < nb; j++) {
                            size_t q = (i + j) & (QA - 1), q2 = (q + QA / 2) & (QA - 1);
                            kb_event_clear(&evs[j]);
                            kb_event_set(&evs[j], KB_F_SOURCE_IP, KB_V_STR, txt[q],
                                         strlen(txt[q]));
                            kb_event_set(&evs[j], KB_F_DESTINATION_IP, KB_V_STR, txt[q2],
                                         strlen(txt[q2]));
                            kb_event_set(&evs[j],
                                         dl[q] == 32 ? KB_F_FILE_HASH_MD5 : KB_F_FILE_HASH_SHA256,
                                         KB_V_STR, digs[q], dl[q]);
                        }
                        if (!mode)
                            for (size_t j = 0; j < nb; j++)
                                kb_intel_match(m, evp[j], NULL, NULL, &mc);
                        else
                            kb_intel_match_batch(m, evp, nb, NULL, NULL, &mc);
                    }
                    t = bench_now() - t;
                    c = cpu_now() - c;
                    printf("intel events (2 addresses + 1 digest), %s, %d%% hits: %zu events in"
                           " %.3f s = %.2f M events/s wall, %.2f M/s CPU = %.1f M lookups/s CPU"
                           " (%llu hits)\n",
                           mode ? "kb_intel_match_batch of 256" : "kb_intel_match", rate, nev_q,
                           t, (double)nev_q / t / 1e6, (double)nev_q / c / 1e6,
                           (double)mc.lookups / c / 1e6, (unsigned long long)mc.hits);
                }
                free(evs);
                free(evp);
                free(txt);
                kb_arena_free(ar);
                kb_names_free(names);
            }
        }
        /* cache-warm reference: 4096 distinct addresses */
        hits = 0;
        t = bench_now();
        c = cpu_now();
        for (size_t i = 0; i < nq; i++)
            hits += (uint64_t)kb_intel_lookup_ip(m, (const uint8_t *)&addrs[i & 4095], 0, NULL,
                                                 NULL);
        t = bench_now() - t;
        c = cpu_now() - c;
        printf("intel lookups, IPv4, single, 4096 distinct (cache-warm): %zu in %.3f s = %.1f M/s"
               " wall, %.1f M/s CPU (%llu hits)\n",
               nq, t, (double)nq / t / 1e6, (double)nq / c / 1e6, (unsigned long long)hits);
        /* domains: normalisation, parents and wildcards included */
        size_t nd2 = 0, nql = nq / 10;
        const char **doms = malloc(4096 * sizeof *doms);
        for (size_t i = 0; i < n && nd2 < 4096; i++)
            if (r[i].kind == KB_IOC_DOMAIN)
                doms[nd2++] = r[i].v;
        hits = 0;
        t = bench_now();
        c = cpu_now();
        for (size_t i = 0; i < nql; i++) {
            const char *d = doms[i % nd2];
            hits += (uint64_t)kb_intel_lookup(m, KB_IOC_DOMAIN, d, strlen(d), NULL, NULL);
        }
        t = bench_now() - t;
        c = cpu_now() - c;
        printf("intel lookups, domains (kb_intel_lookup, normalising): %zu in %.3f s = %.1f M/s"
               " wall, %.1f M/s CPU (%llu hits)\n",
               nql, t, (double)nql / t / 1e6, (double)nql / c / 1e6, (unsigned long long)hits);
        free(addrs);
        free(digs);
        free(dl);
        free(doms);
        free(iv4);
        free(idg);
        free(missbuf);
        free(out);
    }
    kb_intel_matcher_free(m);

    /* ---- through the store ---- */
    if (getenv("KOBAN_BENCH_STORE")) {
        char dir[] = "/tmp/koban-bench-intel-XXXXXX", dsn[128], err[256];
        kb_store *st;
        if (!mkdtemp(dir))
            return 1;
        snprintf(dsn, sizeof dsn, "%s/koban.db", dir);
        if (!(st = kb_store_open(dsn, err, sizeof err)) || kb_intel_store_init(st)) {
            fprintf(stderr, "bench_intel: store: %s\n", st ? kb_store_errmsg(st) : err);
            return 1;
        }
        t0 = bench_now();
        kb_store_begin(st);
        bad = 0;
        if (add_to(NULL, st, r, n, &b, &bad) || kb_store_commit(st)) {
            fprintf(stderr, "bench_intel: store put: %s\n", kb_store_errmsg(st));
            return 1;
        }
        double t_put = bench_now() - t0;
        t0 = bench_now();
        c0 = cpu_now();
        m = kb_intel_matcher_from_store(st, 0, NULL, 0, err, sizeof err);
        if (!m) {
            fprintf(stderr, "bench_intel: %s\n", err);
            return 1;
        }
        kb_intel_matcher_stats_get(m, &ms);
        printf("intel store: %zu indicators written in %.3f s; matcher loaded back from SQLite "
               "in %.3f s wall, %.3f s CPU (%llu indicators)\n",
               n, t_put, bench_now() - t0, cpu_now() - c0, (unsigned long long)ms.indicators);
        kb_intel_matcher_free(m);
        kb_store_close(st);
        unlink(dsn);
        snprintf(dsn, sizeof dsn, "%s/koban.db-wal", dir);
        unlink(dsn);
        snprintf(dsn, sizeof dsn, "%s/koban.db-shm", dir);
        unlink(dsn);
        rmdir(dir);
    }
    for (size_t i = 0; i < n; i++)
        free(r[i].v);
    free(r);
    kb_buf_release(&b);
    return 0;
}
