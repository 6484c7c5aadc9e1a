/* Shared by the intel loaders' fuzz targets (fuzz_stix, fuzz_misp,
 * fuzz_csv_intel): a sink that checks every indicator a loader hands over
 * and every rejection, then a matcher and an exporter over them.
 *
 * Invariants (abort() when broken):
 *   - an added value is normalised: normalising it again gives itself
 *   - a rejection carries a reason
 *   - every added indicator is found again by kb_intel_lookup
 *   - loaders return KB_OK, KB_EFORMAT (with *err) or KB_EUSAGE */
#ifndef KB_INTEL_FUZZ_H
#define KB_INTEL_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel.h"

typedef struct fz {
    kb_intel_matcher *m;
    kb_buf norm;
    kb_buf values; /* kind byte + value + NUL, for the lookups */
    unsigned n;
} fz;

static int fz_add(void *ud, const kb_indicator *ind)
{
    fz *f = ud;
    const char *reason;
    int kind;
    if (!ind->value || ind->kind < 0 || ind->kind >= KB_IOC_COUNT)
        abort();
    if (kb_intel_normalize(ind->kind, ind->value, strlen(ind->value), &f->norm, &kind,
                           &reason) != KB_OK ||
        kind != ind->kind || strcmp(f->norm.data, ind->value) != 0)
        abort(); /* normalisation is not idempotent */
    if (ind->confidence < -1 || ind->confidence > 100)
        abort();
    kb_intel_matcher_stats before, after;
    kb_intel_matcher_stats_get(f->m, &before);
    if (f->n < 256 && kb_intel_matcher_add(f->m, ind) == KB_OK &&
        (kb_intel_matcher_stats_get(f->m, &after), after.indicators > before.indicators)) {
        /* kept (not expired): must be found again */
        f->n++;
        kb_buf_putc(&f->values, (char)ind->kind);
        kb_buf_puts(&f->values, ind->value);
        kb_buf_putc(&f->values, 0);
    }
    return KB_OK;
}

static void fz_reject(void *ud, const char *where, const char *reason)
{
    (void)ud;
    if (!where || !reason || !reason[0])
        abort();
}

static int fz_hit(void *ud, const kb_intel_hit *h)
{
    (void)ud;
    if (!h->ind || !h->ind->value || !h->level)
        abort();
    return 0;
}

/* Runs one loader (which fills s) and checks the aftermath. */
typedef int (*fz_loader)(kb_intel_sink *s, const char *buf, size_t len, const char **err,
                         void *arg);

static int fz_run(const uint8_t *data, size_t size, fz_loader load, void *arg)
{
    static FILE *devnull;
    static const char *const formats[] = {"stix", "misp", "csv", "nft", "iplist",
                                          "domainlist", "rpz", "suricata"};
    kb_intel_sink s;
    fz f;
    const char *err = NULL;
    char *copy = malloc(size ? size : 1);
    int rc;

    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size); /* exact size: ASan sees reads past the end */
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    memset(&f, 0, sizeof f);
    f.m = kb_intel_matcher_new(0);
    kb_buf_init(&f.norm, 1 << 16);
    kb_buf_init(&f.values, 1 << 24);
    kb_intel_sink_init(&s);
    s.add = fz_add;
    s.reject = fz_reject;
    s.ud = &f;
    s.feed = "fuzz";
    rc = load(&s, copy, size, &err, arg);
    if (rc != KB_OK && rc != KB_EFORMAT && rc != KB_EUSAGE)
        abort();
    if (rc == KB_EFORMAT && (!err || !err[0]))
        abort();
    if (kb_intel_matcher_seal(f.m) != KB_OK)
        abort();
    /* every indicator kept is found again */
    for (size_t off = 0; off < f.values.len;) {
        int kind = f.values.data[off];
        const char *v = f.values.data + off + 1;
        size_t vl = strlen(v);
        if (kb_intel_lookup(f.m, kind, v, vl, fz_hit, NULL) <= 0)
            abort();
        off += vl + 2;
    }
    /* and exported in one of the formats */
    if (devnull && f.values.len) {
        kb_intel_export_opts o = {formats[size % 8], "fuzz", 0, 0, 0};
        kb_intel_exporter *x = kb_intel_export_begin(devnull, &o, &err);
        if (!x)
            abort();
        for (size_t off = 0; off < f.values.len;) {
            kb_indicator ind = {.kind = f.values.data[off], .value = f.values.data + off + 1,
                                .feed = "fuzz", .confidence = 50, .first_seen = KB_TIME_NONE,
                                .last_seen = KB_TIME_NONE, .valid_until = KB_TIME_NONE};
            kb_intel_export_add(x, &ind);
            off += strlen(ind.value) + 2;
        }
        kb_intel_export_end(x, NULL, NULL);
    }
    kb_intel_sink_release(&s);
    kb_intel_matcher_free(f.m);
    kb_buf_release(&f.norm);
    kb_buf_release(&f.values);
    free(copy);
    return 0;
}

#endif
