/* Fuzzes the decoder of the canonical fields a narrow event row keeps
 * after its raw record in a block (store-int.h), as read back from the
 * database: every entry index is looked up in the input, and found text
 * must lie inside it. The same bytes are then decoded through SQL
 * (kb_canon on an ev.canon value) in an in-memory SQLite store. */
#include <stdint.h>
#include <stdlib.h>

#include "store/store-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int one_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)ud, (void)names;
    if (ncol != 1 || (c[0].type != KB_SV_NULL && c[0].type != KB_SV_INT &&
                      c[0].type != KB_SV_TEXT))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kb_store *st;
    if (!st) {
        char e[600];
        if (!(st = kb_store_open("sqlite::memory:", e, sizeof e)))
            abort();
    }
    for (int i = 0; i < KB_CANON_COUNT; i++) {
        kb_sval v;
        int rc = kb_cenc_find(data, size, i, &v);
        if (rc < -1 || rc > 1)
            abort();
        if (rc == 1 && v.type == KB_SV_TEXT &&
            (v.p < (const char *)data || v.p + v.len > (const char *)data + size))
            abort();
        if (rc == 1 && v.type != KB_SV_TEXT && v.type != KB_SV_INT)
            abort();
    }
    {
        kb_sval p[2] = {{KB_SV_BLOB, 0, 0, (const char *)data, size},
                        KB_SV_INTV(size ? data[0] % KB_CANON_COUNT : 0)};
        if (kb_store_exec(st, "SELECT kb_canon(?, NULL, NULL, ?)", p, 2, one_row, NULL) != KB_OK)
            abort();
    }
    return 0;
}
