/* Fuzz target: the generic JSON Lines decoder on arbitrary bytes, with a capped
 * arena. Must never crash, hang or read out of bounds; a rejected record
 * must carry a reason; every canonical slot must point at a field whose
 * value can be read in full. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "ingest/decoders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads of every value from being optimised away. */
static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
    /* An exact-size copy so ASan sees any read past the end. */
    copy = malloc(size ? size : 1);
    if (!names || !arena || !copy)
        goto out;
    if (size)
        memcpy(copy, data, size);
    ctx.names = names;
    ctx.path = "fuzz";
    ctx.state = kb_dec_json.state_new();
    if (kb_dec_json.sniff(copy, size) < 0 || kb_dec_json.sniff(copy, size) > 100)
        abort();
    kb_event_init(&ev, names, arena);
    ev.raw = copy;
    ev.raw_len = (uint32_t)size;
    rc = kb_dec_json.decode(&ctx, copy, size, &ev);
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
    sink = sum;
out:
    kb_dec_json.state_free(ctx.state);
    free(copy);
    kb_arena_free(arena);
    return 0;
}
