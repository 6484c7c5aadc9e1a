/* Fuzz target: the CEF decoder (with its syslog-header path) and the
 * CEF body parser over arbitrary bytes, with a capped arena. Must never
 * crash, hang or read out of bounds; a reject must carry a reason; no value
 * may point outside the input or the arena's copies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const kb_event *ev, int rc, const kb_decode_ctx *ctx, size_t size)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
    copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    if (!names || !arena || !copy)
        goto out;
    if (size)
        memcpy(copy, data, size);
    kb_event_init(&ev, names, arena);
    ctx.names = names;
    ctx.ref_time = INT64_C(1464739200000000000);

    (void)kb_dec_cef.sniff(copy, size);
    kb_event_clear(&ev);
    rc = kb_dec_cef.decode(&ctx, copy, size, &ev);
    check(&ev, rc, &ctx, size);

    kb_event_clear(&ev);
    ctx.err = NULL;
    rc = kb_cef_decode_body(&ctx, copy, size, &ev);
    check(&ev, rc, &ctx, size);

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
