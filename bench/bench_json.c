/* JSON flattening throughput: koban's kb_json_flatten against maintained
 * JSON libraries doing the same job on the same lines.
 *
 * Inputs: every Suricata EVE sample (logs/suricata-eve/ *.log) and the
 * Windows JSON Lines (windows-events/hayabusa_sample_evtx.jsonl), each
 * replicated into a ~8 MB buffer that is looped over until
 * bench_size(1000) bytes have been processed, so RSS stays flat.
 *
 * Every implementation produces the same kb_event per line: dotted names
 * interned with kb_names_intern and fields added with kb_event_add (arrays
 * as KB_V_ARRAY plus KB_FF_ELEM elements). The peers (jansson, json-c,
 * simdjson) parse to a DOM and walk it; "-parse" rows parse only, as a
 * floor for what each library costs before any flattening. Peers are
 * compiled in when bench/extra.cmake finds them (KB_BENCH_JANSSON, ...);
 * json-c and simdjson live in bench/json-peers.cpp (json-c's and
 * jansson's headers cannot share a translation unit).
 *
 * Usage: bench_json [impl [input]]  impl: koban, jansson, jansson-parse,
 * json-c, json-c-parse, simdjson, simdjson-parse, all (default);
 * input: eve, windows, all. KOBAN_BENCH_MB sets the volume per run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-util.h"
#include "event/event.h"
#include "event/json.h"

#ifdef KB_BENCH_JANSSON
#include <jansson.h>
#endif

#define BUF_MB 8
#define BATCH_BYTES (1u << 20)
#define PAD 64 /* simdjson reads up to 64 bytes past a document */

/* ---- peers: common walking helpers ------------------------------------- */

typedef struct walk {
    kb_event *ev;
    char name[1024];
    int failed;
} walk;

static void add_field(walk *w, size_t nlen, kb_vtype t, const char *v, size_t vl, int flags,
                      unsigned elem)
{
    int idx = kb_event_add(w->ev, kb_names_intern(w->ev->names, w->name, nlen), t, v, vl);
    if (idx < 0) {
        w->failed = 1;
        return;
    }
    w->ev->fields[idx].flags = (uint8_t)flags;
    w->ev->fields[idx].elem = (uint16_t)elem;
}

/* Appends ".key" (or "key" at the top) to the name of length nlen. */
static size_t push_key(walk *w, size_t nlen, const char *k, size_t kl)
{
    if (nlen + kl + 2 > sizeof w->name) {
        w->failed = 1;
        return nlen;
    }
    if (nlen)
        w->name[nlen++] = '.';
    memcpy(w->name + nlen, k, kl);
    return nlen + kl;
}

#ifdef KB_BENCH_JANSSON
/* Recursion is fine in a benchmark over trusted samples. */
static void jansson_walk(walk *w, json_t *v, size_t nlen, int flags, unsigned elem)
{
    const char *k;
    size_t kl;
    json_t *c;
    char num[64];
    int n;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_keylen_foreach(v, k, kl, c) jansson_walk(w, c, push_key(w, nlen, k, kl),
                                                            flags, elem);
        break;
    case JSON_ARRAY: {
        size_t i;
        /* jansson keeps no source text; the raw array value is left empty. */
        add_field(w, nlen, KB_V_ARRAY, "", 0, flags, elem);
        json_array_foreach(v, i, c) jansson_walk(w, c, nlen, KB_FF_ELEM, (unsigned)i);
        break;
    }
    case JSON_STRING:
        add_field(w, nlen, KB_V_STR, json_string_value(v), json_string_length(v), flags, elem);
        break;
    case JSON_INTEGER:
        /* jansson keeps numbers as binary; text is what koban stores. */
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        add_field(w, nlen, KB_V_INT, kb_arena_strndup(w->ev->arena, num, (size_t)n), (size_t)n,
                  flags, elem);
        break;
    case JSON_REAL:
        n = snprintf(num, sizeof num, "%.17g", json_real_value(v));
        add_field(w, nlen, KB_V_FLOAT, kb_arena_strndup(w->ev->arena, num, (size_t)n),
                  (size_t)n, flags, elem);
        break;
    case JSON_TRUE:
        add_field(w, nlen, KB_V_BOOL, "true", 4, flags, elem);
        break;
    case JSON_FALSE:
        add_field(w, nlen, KB_V_BOOL, "false", 5, flags, elem);
        break;
    case JSON_NULL:
        add_field(w, nlen, KB_V_NULL, "null", 4, flags, elem);
        break;
    }
}
#endif

#ifdef KB_BENCH_JSONC
/* bench/json-peers.cpp */
void *peer_jsonc_new(void);
void peer_jsonc_free(void *ctx);
int peer_jsonc_run(void *ctx, const char *p, size_t len, kb_event *ev, int parse_only);
#endif
#ifdef KB_BENCH_SIMDJSON
/* bench/json-peers.cpp */
void *peer_simdjson_new(void);
void peer_simdjson_free(void *ctx);
/* Parses p[0..len) (with PAD readable bytes after it); flattens into ev
 * unless parse_only. Returns 0 or -1. */
int peer_simdjson_run(void *ctx, const char *p, size_t len, kb_event *ev, int parse_only);
#endif

/* CPU seconds of this process: on a shared machine the wall clock also
 * counts other processes' turns. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Current resident set in MB (peak RSS is set by loading the inputs). */
static double rss_now_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    char line[128], *p;
    unsigned long res = 0;

    if (!f)
        return 0;
    if (fgets(line, sizeof line, f)) {
        strtoul(line, &p, 10); /* total pages, then resident pages */
        res = strtoul(p, NULL, 10);
    }
    fclose(f);
    return (double)res * 4096.0 / 1048576.0;
}

/* ---- implementations --------------------------------------------------- */

enum impl {
    IMPL_KOBAN,
    IMPL_JANSSON,
    IMPL_JANSSON_PARSE,
    IMPL_JSONC,
    IMPL_JSONC_PARSE,
    IMPL_SIMDJSON,
    IMPL_SIMDJSON_PARSE,
    IMPL_COUNT
};

static const struct {
    const char *name;
    int available;
} impls[IMPL_COUNT] = {
    {"koban", 1},
#ifdef KB_BENCH_JANSSON
    {"jansson", 1}, {"jansson-parse", 1},
#else
    {"jansson", 0}, {"jansson-parse", 0},
#endif
#ifdef KB_BENCH_JSONC
    {"json-c", 1}, {"json-c-parse", 1},
#else
    {"json-c", 0}, {"json-c-parse", 0},
#endif
#ifdef KB_BENCH_SIMDJSON
    {"simdjson", 1}, {"simdjson-parse", 1},
#else
    {"simdjson", 0}, {"simdjson-parse", 0},
#endif
};

typedef struct runner {
    enum impl impl;
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
    walk w;
#ifdef KB_BENCH_JSONC
    void *jc;
#endif
#ifdef KB_BENCH_SIMDJSON
    void *sj;
#endif
} runner;

/* Flattens one line; returns 0 on success. */
static int run_line(runner *r, const char *p, size_t len)
{
    kb_event_clear(&r->ev);
    switch (r->impl) {
    case IMPL_KOBAN: {
        kb_json_error err;
        return kb_json_flatten(&r->ev, p, len, NULL, &err) == KB_OK ? 0 : -1;
    }
#ifdef KB_BENCH_JANSSON
    case IMPL_JANSSON:
    case IMPL_JANSSON_PARSE: {
        json_error_t jerr;
        json_t *root = json_loadb(p, len, 0, &jerr);
        int rc = root && json_is_object(root) ? 0 : -1;
        if (!rc && r->impl == IMPL_JANSSON) {
            r->w.ev = &r->ev;
            r->w.failed = 0;
            jansson_walk(&r->w, root, 0, 0, 0);
            rc = -r->w.failed;
        }
        json_decref(root);
        return rc;
    }
#endif
#ifdef KB_BENCH_JSONC
    case IMPL_JSONC:
    case IMPL_JSONC_PARSE:
        return peer_jsonc_run(r->jc, p, len, &r->ev, r->impl == IMPL_JSONC_PARSE);
#endif
#ifdef KB_BENCH_SIMDJSON
    case IMPL_SIMDJSON:
    case IMPL_SIMDJSON_PARSE:
        return peer_simdjson_run(r->sj, p, len, &r->ev, r->impl == IMPL_SIMDJSON_PARSE);
#endif
    default:
        return -1;
    }
}

static void run(enum impl impl, const char *input, const char *buf, size_t len)
{
    runner r;
    size_t target = bench_size(1000), done = 0, batch = 0;
    double events = 0, fails = 0, fields = 0, t0, t1, c0, c1, rss0 = rss_now_mb();
    char label[64];

    memset(&r, 0, sizeof r);
    r.impl = impl;
    r.names = kb_names_new(0);
    r.arena = kb_arena_new(1 << 20, 0);
    if (!r.names || !r.arena) {
        fprintf(stderr, "bench_json: out of memory\n");
        exit(1);
    }
    kb_event_init(&r.ev, r.names, r.arena);
#ifdef KB_BENCH_JSONC
    r.jc = peer_jsonc_new();
#endif
#ifdef KB_BENCH_SIMDJSON
    r.sj = peer_simdjson_new();
#endif
    t0 = bench_now();
    c0 = cpu_now();
    while (done < target) {
        const char *p = buf, *end = buf + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (ll) {
                if (run_line(&r, p, ll) == 0) {
                    events++;
                    fields += r.ev.nfields;
                } else
                    fails++;
            }
            batch += ll + 1;
            if (batch >= BATCH_BYTES) {
                kb_arena_clear(r.arena);
                kb_event_init(&r.ev, r.names, r.arena);
                batch = 0;
            }
            p += ll + 1;
        }
        done += len;
    }
    t1 = bench_now();
    c1 = cpu_now();
    snprintf(label, sizeof label, "json %s %s", impls[impl].name, input);
    bench_report(label, (double)done, events, t1 - t0);
    /* The same per implementation, or they are not doing the same work. */
    printf("  cpu %.3f s = %.1f MB/s; RSS %.1f -> %.1f MB; %.1f fields/event%s\n", c1 - c0,
           (double)done / 1e6 / (c1 - c0), rss0, rss_now_mb(), events ? fields / events : 0.0,
           impl == IMPL_JANSSON_PARSE || impl == IMPL_JSONC_PARSE || impl == IMPL_SIMDJSON_PARSE
               ? " (parse only)"
               : "");
    if (fails)
        printf("  (%.0f lines failed)\n", fails);
#ifdef KB_BENCH_JSONC
    peer_jsonc_free(r.jc);
#endif
#ifdef KB_BENCH_SIMDJSON
    peer_simdjson_free(r.sj);
#endif
    kb_arena_free(r.arena);
    kb_names_free(r.names);
}

/* The EVE samples: every *.log in the directory. */
static char *load_eve(size_t *len)
{
    const char *dir = KOBAN_SHARED_DATA "/logs/suricata-eve";
    char paths[16][512];
    const char *pp[16];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return NULL;
    while ((e = readdir(d)) && n < 16) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0) {
            snprintf(paths[n], sizeof paths[n], "%s/%s", dir, e->d_name);
            pp[n] = paths[n];
            n++;
        }
    }
    closedir(d);
    return bench_read_files(pp, n, len);
}

/* A ~BUF_MB buffer of whole lines of src, with PAD spare bytes at the end. */
static char *make_buffer(char *src, size_t len, size_t *out_len)
{
    size_t want = (size_t)BUF_MB << 20, n;
    char *rep, *padded;

    if (len > want) {
        /* Cut at a line end. */
        const char *cut = memchr(src + want, '\n', len - want);
        len = cut ? (size_t)(cut - src) + 1 : len;
        rep = bench_replicate(src, len, len, &n);
    } else {
        rep = bench_replicate(src, len, want, &n);
    }
    free(src);
    if (!rep)
        return NULL;
    padded = realloc(rep, n + PAD);
    if (!padded) {
        free(rep);
        return NULL;
    }
    memset(padded + n, 0, PAD);
    *out_len = n;
    return padded;
}

int main(int argc, char **argv)
{
    const char *want_impl = argc > 1 ? argv[1] : "all";
    const char *want_input = argc > 2 ? argv[2] : "all";
    struct {
        const char *name;
        char *buf;
        size_t len;
    } inputs[2] = {{"eve", NULL, 0}, {"windows", NULL, 0}};
    size_t len;
    char *src;

    src = load_eve(&len);
    if (src)
        inputs[0].buf = make_buffer(src, len, &inputs[0].len);
    src = bench_read_file(KOBAN_SHARED_DATA "/windows-events/hayabusa_sample_evtx.jsonl", &len);
    if (src)
        inputs[1].buf = make_buffer(src, len, &inputs[1].len);

    for (int in = 0; in < 2; in++) {
        if (strcmp(want_input, "all") != 0 && strcmp(want_input, inputs[in].name) != 0)
            continue;
        if (!inputs[in].buf) {
            printf("json: input %s missing, skipped\n", inputs[in].name);
            continue;
        }
        for (int im = 0; im < IMPL_COUNT; im++) {
            if (strcmp(want_impl, "all") != 0 && strcmp(want_impl, impls[im].name) != 0)
                continue;
            if (!impls[im].available) {
                printf("json %s: not built (library not found by bench/extra.cmake)\n",
                       impls[im].name);
                continue;
            }
            run((enum impl)im, inputs[in].name, inputs[in].buf, inputs[in].len);
        }
    }
    free(inputs[0].buf);
    free(inputs[1].buf);
    return 0;
}
