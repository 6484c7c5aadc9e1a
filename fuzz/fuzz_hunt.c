/* Fuzzes the hunt parser, and the compiler against an empty in-memory
 * SQLite store (field resolution, suggestions, SQL generation), with and
 * without the residual; and kb_hunt_drop_unknown with every quoted value
 * unknown in turn: what it leaves must parse and print the same again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/hunt.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Drops the terms whose value starts at the quotes at[0..n); the rest must
 * parse, and print unchanged when nothing is unknown. */
static void drop_check(const kb_hunt *h, const size_t *at, size_t n)
{
    kb_buf a, b;
    kb_hunt_error err;
    kb_buf_init(&a, 4 * KB_HUNT_MAX_LEN);
    kb_buf_init(&b, 4 * KB_HUNT_MAX_LEN);
    int rc = kb_hunt_drop_unknown(h, at, n, &a, NULL);
    if (rc == KB_OK) {
        kb_hunt *h2 = kb_hunt_parse(a.data, a.len, 0, &err);
        if (!h2 || kb_hunt_drop_unknown(h2, NULL, 0, &b, NULL) != KB_OK || a.len != b.len ||
            memcmp(a.data, b.data, a.len) != 0)
            abort();
        kb_hunt_free(h2);
    } else if (rc != KB_ENOENT || n == 0) {
        abort();
    }
    kb_buf_release(&a);
    kb_buf_release(&b);
}

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
        size_t at[64], n = 0;
        for (size_t i = 0; i < size && n < 64; i++)
            if (data[i] == '"')
                at[n++] = i;
        drop_check(h, NULL, 0);
        drop_check(h, at, n);
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
