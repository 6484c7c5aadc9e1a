/* Fuzz target: flatten arbitrary bytes into an event with a capped arena,
 * and write every resulting value back out with kb_json_put_str. Must never
 * crash, hang or read out of bounds, whatever the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_json_error err;
    kb_buf b;
    char *copy;
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
    kb_event_init(&ev, names, arena);
    rc = kb_json_flatten(&ev, copy, size, size & 1 ? "fz" : NULL, &err);
    if (rc != KB_OK && (!err.reason || err.offset > size))
        abort();
    kb_buf_init(&b, 1 << 20);
    for (uint32_t i = 0; i < ev.nfields; i++) {
        const kb_field *f = &ev.fields[i];
        if (f->len > size * 3 + 16) /* values never outgrow the input */
            abort();
        if (kb_json_put_str(&b, f->val, f->len) != KB_OK)
            break;
    }
    if (kb_utf8_valid_prefix(b.data ? b.data : "", b.len) != b.len)
        abort();
    kb_buf_release(&b);
    kb_json_put_str(&b, copy, size);
    kb_buf_release(&b);
out:
    free(copy);
    kb_arena_free(arena);
    return 0;
}
