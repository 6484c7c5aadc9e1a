/* Fuzz target for the syslog decoder: each input is split into lines and
 * every line is sniffed and decoded (header parser, structured data,
 * sshd/sudo/netfilter program decoders). */
#include <stdint.h>
#include <string.h>

#include "ingest/decoders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kb_names *names;
    kb_arena *arena;
    const char *p = (const char *)data, *end = p + size;

    if (!names)
        names = kb_names_new(100000);
    arena = kb_arena_new(1 << 16, 16 << 20);
    if (!names || !arena) {
        kb_arena_free(arena);
        return 0;
    }
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        kb_event ev;
        kb_decode_ctx ctx = {0};

        kb_event_init(&ev, names, arena);
        ev.raw = p;
        ev.raw_len = (uint32_t)len;
        ctx.names = names;
        ctx.ref_time = INT64_C(1717200000) * KB_NS_PER_SEC;
        (void)kb_dec_syslog.sniff(p, len);
        if (kb_dec_syslog.decode(&ctx, p, len, &ev) == KB_EPARSE && !ctx.err)
            __builtin_trap(); /* a rejection must say why */
        kb_arena_clear(arena);
        if (!nl)
            break;
        p = nl + 1;
    }
    kb_arena_free(arena);
    return 0;
}
