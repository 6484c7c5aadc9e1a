/* Shared by the log decoders' fuzz targets: three drivers, one per way a
 * decoder is fed, each run on arbitrary bytes with a capped arena. A target
 * is its LLVMFuzzerTestOneInput calling one driver with its decoder(s).
 *
 *   fzd_record  one record, the whole input (fuzz_eve, fuzz_winevt,
 *               fuzz_jsonl): the sniff score is within 0..100; every
 *               canonical slot points at a field whose value is read in full.
 *   fzd_kv      a key=value format (fuzz_cef, fuzz_leef): the decoder (with
 *               its syslog-header path), then the body parser on the same
 *               bytes, then the time parsers; every field is read in full.
 *   fzd_lines   a line format (fuzz_squid, fuzz_weblog, fuzz_zeek): the input
 *               split into lines and fed through one stream per decoder, so
 *               headers and records interleave as in a file; every line is
 *               also sniffed.
 *
 * Invariants (abort() or a trap when broken): never crash, hang or read out
 * of bounds (the input is an exact-size copy or ASan-checked slices); a
 * rejected record carries a reason; fzd_record and fzd_kv also bound the
 * length of every value they check by the size of the input.
 *
 * static inline: each target uses one driver; the others cost nothing. */
#ifndef KB_DECODER_FUZZ_H
#define KB_DECODER_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "ingest/decoders.h"
#include "ingest/kv.h"

/* A copy of the input of exactly its size, so ASan sees any read past the
 * end; NULL when out of memory. */
static inline char *fzd_copy(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy && size)
        memcpy(copy, data, size);
    return copy;
}

/* Keeps fzd_record's reads of every value from being optimised away. */
static volatile unsigned fzd_sink;

static inline int fzd_record(const uint8_t *data, size_t size, const kb_decoder *dec)
{
    static kb_names *names;
    kb_decode_ctx ctx = {0};
    kb_arena *arena;
    kb_event ev;
    char *copy;
    unsigned sum = 0;
    int rc;

    if (!names)
        names = kb_names_new(100000);
    arena = kb_arena_new(4096, 1 << 20);
    copy = fzd_copy(data, size);
    if (!names || !arena || !copy)
        goto out;
    ctx.names = names;
    ctx.path = "fuzz";
    if (dec->state_new && !(ctx.state = dec->state_new()))
        goto out;
    if (dec->sniff(copy, size) < 0 || dec->sniff(copy, size) > 100)
        abort();
    kb_event_init(&ev, names, arena);
    ev.raw = copy;
    ev.raw_len = (uint32_t)size;
    rc = dec->decode(&ctx, copy, size, &ev);
    if (rc != KB_OK && rc != KB_ESKIP && !ctx.err)
        abort();
    if (rc == KB_OK) {
        for (int c = 0; c < KB_F_CANON_COUNT; c++) {
            const kb_field *f = kb_event_canon(&ev, c);
            if (!f)
                continue;
            if (ev.canon[c] >= ev.nfields || f->len > size * 3 + 64)
                abort();
            for (uint32_t i = 0; i < f->len; i++)
                sum += (unsigned char)f->val[i];
        }
        for (uint32_t i = 0; i < ev.nfields; i++)
            if (ev.fields[i].len)
                sum += (unsigned char)ev.fields[i].val[ev.fields[i].len - 1];
    }
    fzd_sink = sum;
out:
    if (dec->state_free && ctx.state)
        dec->state_free(ctx.state);
    free(copy);
    kb_arena_free(arena);
    return 0;
}

/* fzd_kv's check of one decode: a reject has a reason; every value of a
 * decoded record is no longer than the input allows and is read in full. */
static inline void fzd_kv_check(const kb_event *ev, int rc, const kb_decode_ctx *ctx, size_t size)
{
    if (rc != KB_OK && rc != KB_ESKIP && !ctx->err)
        abort();
    if (rc != KB_OK)
        return;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const kb_field *f = &ev->fields[i];
        if (f->len > size + 64) /* unescaping only shrinks; joins add a little */
            abort();
        if (f->len && !f->val)
            abort();
        /* touch every byte so ASan checks the slice */
        volatile char sink = 0;
        for (uint32_t j = 0; j < f->len; j++)
            sink ^= f->val[j];
        (void)sink;
    }
}

/* The body parser of a key=value format: kb_cef_decode_body and the like. */
typedef int (*fzd_body_fn)(kb_decode_ctx *ctx, const char *p, size_t len, kb_event *ev);

static inline int fzd_kv(const uint8_t *data, size_t size, const kb_decoder *dec, fzd_body_fn body)
{
    static kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_decode_ctx ctx = {0};
    char *copy;
    int rc;

    if (!names)
        names = kb_names_new(100000);
    arena = kb_arena_new(4096, 4 << 20);
    copy = fzd_copy(data, size);
    if (!names || !arena || !copy)
        goto out;
    kb_event_init(&ev, names, arena);
    ctx.names = names;
    ctx.ref_time = INT64_C(1464739200000000000);

    (void)dec->sniff(copy, size);
    kb_event_clear(&ev);
    rc = dec->decode(&ctx, copy, size, &ev);
    fzd_kv_check(&ev, rc, &ctx, size);

    kb_event_clear(&ev);
    ctx.err = NULL;
    rc = body(&ctx, copy, size, &ev);
    fzd_kv_check(&ev, rc, &ctx, size);

    /* the time parsers on their own */
    int64_t t;
    (void)kb_kv_parse_time(copy, size, ctx.ref_time, &t);
    if (size > 1) {
        size_t half = size / 2;
        (void)kb_kv_parse_time_fmt(copy, half, copy + half, size - half, ctx.ref_time, &t);
    }
out:
    free(copy);
    kb_arena_free(arena);
    return 0;
}

static inline int fzd_lines(const uint8_t *data, size_t size, const kb_decoder *const *decs,
                            size_t ndecs)
{
    static kb_names *names;
    kb_arena *arena;

    if (!names && !(names = kb_names_new(100000)))
        return 0;
    if (!(arena = kb_arena_new(1 << 16, 64u << 20)))
        return 0;
    for (size_t d = 0; d < ndecs; d++) {
        const kb_decoder *dec = decs[d];
        kb_decode_ctx ctx = {.names = names, .path = "fuzz.log"};
        const char *p = (const char *)data, *end = p + size;

        if (dec->state_new && !(ctx.state = dec->state_new()))
            break;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            kb_event ev;
            int rc;

            (void)dec->sniff(p, len);
            kb_event_init(&ev, names, arena);
            ev.raw = p;
            ev.raw_len = (uint32_t)len;
            ctx.err = NULL;
            rc = dec->decode(&ctx, p, len, &ev);
            /* A rejected record always says why. */
            if (rc != KB_OK && rc != KB_ESKIP && !ctx.err)
                __builtin_trap();
            kb_arena_clear(arena);
            p += len + (nl != NULL);
        }
        if (dec->state_free)
            dec->state_free(ctx.state);
    }
    kb_arena_free(arena);
    return 0;
}

#endif
