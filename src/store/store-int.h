/* Internals shared by store.c and the back ends (not part of the API). */
#ifndef KB_STORE_INT_H
#define KB_STORE_INT_H

#include "store/store.h"

struct kb_store {
    const kb_store_backend *be;
    void *db;          /* the back end's handle */
    int txdepth;
    char err[512];
    /* Per-batch scratch, reused: compressed record, observables dedup. */
    void *zctx;        /* ZSTD_CCtx */
    kb_buf z;
    kb_buf scratch;
    char *sql_ins_event; /* built once from kb_store_columns */
    /* Raw field names already recorded in field_names, by kb_fid of the
     * names table they came from (bitmap; reset when the table changes). */
    const kb_names *names;
    uint8_t *seen;
    size_t nseen;
};

/* Sets st->err (printf-style) and returns KB_EIO. */
int kb_store_fail(kb_store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const kb_store_backend kb_store_sqlite;
extern const kb_store_backend kb_store_pg;

#endif
