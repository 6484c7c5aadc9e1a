/* Fuzzes the hunt parser, and the compiler against an empty in-memory
 * SQLite store (field resolution, suggestions, SQL generation), with and
 * without the residual. */
#include <stdint.h>
#include <stdlib.h>

#include "store/hunt.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kb_store *st;
    kb_hunt_error err;
    kb_hunt *h;

    if (!st) {
        char e[600];
        st = kb_store_open("sqlite::memory:", e, sizeof e);
        if (!st)
            abort();
    }
    h = kb_hunt_parse((const char *)data, size, 0, &err);
    if (h) {
        kb_hunt_sql q;
        if (kb_hunt_compile(h, st, KB_TIME_NONE, &q, &err) == KB_OK &&
            kb_store_exec(st, q.sql.data, q.params, q.nparams, NULL, NULL) != KB_OK)
            abort(); /* compiled SQL must always be valid */
        kb_hunt_sql_release(&q);
        /* The residual path (raw fields and free text evaluated in C, as on
         * PostgreSQL): both of its statements must be valid too. */
        if (kb_hunt_compile_ex(h, st, KB_TIME_NONE, KB_HUNT_FORCE_RESIDUAL, &q, &err) == KB_OK &&
            kb_hunt_run(st, &q, NULL, NULL) != KB_OK)
            abort();
        kb_hunt_sql_release(&q);
        kb_hunt_free(h);
    } else if (err.pos > size || !err.msg[0]) {
        abort();
    }
    return 0;
}
