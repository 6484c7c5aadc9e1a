/* Decode benchmark: for each format, MB/s, events/s and peak RSS on one
 * core, over at least KOBAN_BENCH_MB (default 1000) MB of input built by
 * replicating the real samples in ../shared/data.
 *
 * Two figures per format, each measured in a forked child so its peak RSS
 * is its own:
 *   decode  the decoder alone over an in-memory buffer of ~8 MB of sample
 *           lines, looped until the target size (memory must stay flat);
 *   ingest  the whole reader (file, line splitting, batching, decoding)
 *           over a file of the target size written to /tmp.
 * Each line also gives the CPU time (the figure to trust on a busy machine).
 *
 * Usage: bench_decode [DECODER [decode|ingest]] runs only that decoder
 * (and only that measurement), e.g. under perf record. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "event/event.h"
#include "ingest/ingest.h"

struct format {
    const char *decoder;
    const char *files[6];
};

#define D KOBAN_SHARED_DATA "/"
static const struct format formats[] = {
    {"suricata", {D "logs/suricata-eve/elastic-eve-6-0.log", D "logs/suricata-eve/crowdsec-evelog.log",
                  D "logs/suricata-eve/elastic-eve-small.log"}},
    {"winevt", {D "windows-events/hayabusa_sample_evtx.jsonl"}},
    {"syslog", {D "logs/syslog-rfc3164/loghub-linux-2k.log", D "logs/syslog-auth/elastic-auth.log"}},
    {"cef", {D "logs/cef/metron-cyberark.cef.log", D "logs/cef/metron-palo.cef.log",
             D "logs/cef/metron-waf.cef.log", D "logs/cef/metron-adallom.cef.log"}},
    {"zeek-json", {D "logs/zeek-json/zed-wrccdc-dns.json.log", D "logs/zeek-json/zed-wrccdc-weird.json.log"}},
    {"weblog", {D "logs/web-access/lnav-shop-access.log", D "logs/web-access/crowdsec-nginx-combined.log"}},
    {"squid", {D "logs/squid/metron-squid.log", D "logs/squid/elastic-squid-access.log"}},
};

static int noop_batch(const kb_batch *b, void *ud)
{
    *(uint64_t *)ud += b->n;
    return 0;
}

static void bench_decoder(const struct format *fm, const char *buf, size_t len, size_t target)
{
    const kb_decoder *dec = kb_decoder_find(fm->decoder);
    kb_names *names = kb_names_new(0);
    /* As the reader does (source.c): a 4 MB chunk that a 1 MB batch's
     * fields fit in, and field tables reserved at the last record's size. */
    kb_arena *arena = kb_arena_new(4u << 20, 0);
    uint32_t hint = 0;
    kb_decode_ctx ctx = {.names = names, .path = "bench"};
    kb_event ev;
    double bytes = 0, events = 0, rejected = 0, t0, c0;

    ctx.ref_time = kb_time_now();
    if (dec->state_new)
        ctx.state = dec->state_new();
    t0 = bench_now();
    c0 = bench_cpu_now();
    while (bytes < (double)target) {
        size_t i = 0, since_clear = 0;
        while (i < len) {
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
            kb_event_init(&ev, names, arena);
            if (hint) /* as source.c does */
                kb_event_reserve(&ev, 16 + l / 8 < hint ? (uint32_t)(16 + l / 8) : hint);
            ev.raw = buf + i;
            ev.raw_len = (uint32_t)l;
            int rc = dec->decode(&ctx, buf + i, l, &ev);
            if (rc == KB_OK) {
                uint32_t nf = (ev.nfields + 2 + 7) & ~7u; /* + log.file.path, log.offset */
                events++;
                hint = nf >= hint ? nf : hint - hint / 8 > nf ? hint - hint / 8 : hint;
            } else if (rc != KB_ESKIP)
                rejected++;
            since_clear += l + 1;
            if (since_clear > (1u << 20)) {
                kb_arena_clear(arena);
                since_clear = 0;
            }
            i += l + 1;
        }
        kb_arena_clear(arena);
        bytes += (double)len;
    }
    char name[64];
    snprintf(name, sizeof name, "decode %s", fm->decoder);
    bench_report_cpu(name, bytes, events, bench_now() - t0, bench_cpu_now() - c0);
    if (rejected)
        printf("  (%.0f records rejected)\n", rejected);
    if (dec->state_free)
        dec->state_free(ctx.state);
    kb_arena_free(arena);
    kb_names_free(names);
}

static void bench_ingest(const struct format *fm, const char *buf, size_t len, size_t target)
{
    char path[] = "/tmp/koban-bench-XXXXXX";
    int fd = mkstemp(path);
    size_t written = 0;
    uint64_t events = 0;
    double t0, c0;

    if (fd < 0)
        return;
    /* A Zeek TSV file has its header once; others are plain repetition. */
    while (written < target) {
        if (write(fd, buf, len) != (ssize_t)len)
            break;
        written += len;
    }
    close(fd);
    {
        kb_names *names = kb_names_new(0);
        kb_ingest_opts o = {0};
        kb_ingest *ing;
        o.format = fm->decoder;
        ing = kb_ingest_new(names, &o);
        t0 = bench_now();
        c0 = bench_cpu_now();
        kb_ingest_path(ing, path, noop_batch, NULL, &events);
        char name[64];
        snprintf(name, sizeof name, "ingest %s", fm->decoder);
        bench_report_cpu(name, (double)written, (double)events, bench_now() - t0,
                         bench_cpu_now() - c0);
        kb_ingest_free(ing);
        kb_names_free(names);
    }
    unlink(path);
}

int main(int argc, char **argv)
{
    size_t target = bench_size(1000);
    const char *only = argc > 1 ? argv[1] : NULL;
    const char *mode_only = argc > 2 ? argv[2] : NULL; /* "decode" or "ingest" */

    printf("decode benchmark: %zu MB per format, one core\n", target / 1000000);
    fflush(stdout); /* before fork: the children must not print it again */
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        const struct format *fm = &formats[f];
        size_t n = 0, len, blen;
        char *src, *buf;

        if (only && strcmp(only, fm->decoder) != 0)
            continue;
        if (!kb_decoder_find(fm->decoder))
            continue;
        while (n < 6 && fm->files[n])
            n++;
        src = bench_read_files(fm->files, n, &len);
        if (!src || !len) {
            printf("%s: sample data not found, skipped\n", fm->decoder);
            free(src);
            continue;
        }
        buf = bench_replicate(src, len, 8u << 20, &blen);
        free(src);
        for (int mode = 0; mode < 2; mode++) {
            pid_t pid;
            if (mode_only && strcmp(mode_only, mode == 0 ? "decode" : "ingest") != 0)
                continue;
            pid = fork();
            if (pid == 0) {
                if (mode == 0)
                    bench_decoder(fm, buf, blen, target);
                else
                    bench_ingest(fm, buf, blen, target);
                fflush(stdout);
                _exit(0);
            }
            waitpid(pid, NULL, 0);
        }
        free(buf);
    }
    return 0;
}
