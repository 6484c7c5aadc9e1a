/* Fuzz target: the Squid native access.log decoder(s). The input is split into lines
 * and fed through one stream, so headers and records interleave as in a
 * file; every line is also sniffed. */
#include <stdint.h>
#include <string.h>

#include "event/event.h"
#include "ingest/decoders.h"

static const kb_decoder *const decs[] = {&kb_dec_squid};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kb_names *names;
    kb_arena *arena;

    if (!names && !(names = kb_names_new(100000)))
        return 0;
    if (!(arena = kb_arena_new(1 << 16, 64u << 20)))
        return 0;
    for (size_t d = 0; d < sizeof decs / sizeof decs[0]; d++) {
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
