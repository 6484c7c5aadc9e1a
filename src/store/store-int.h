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
    char *sql_ins_event; /* built once from kb_store_columns: RETURNING id */
    char *sql_ins_event_id; /* the same with the id given (own_ids) */
    char *sql_ins_events; /* EV_ROWS rows of that in one statement */
    char *sql_obs_multi; /* OBS_ROWS rows of obs_events per statement */
    /* obs_events rows of the batch (vid, event id pairs), inserted sorted
     * at its end: neighbouring keys share b-tree pages. Grows to the
     * largest batch's observables (at most 14 per event). */
    int64_t *obs_rows;
    size_t nobs_rows, aobs_rows;
    kb_buf block;      /* the raw records of the block being built */
    /* Observable value ids already in obs_values: open addressing over
     * (kind, value), strings in vpool. Capped (OBS_CACHE_SLOTS entries,
     * OBS_CACHE_POOL bytes): at the cap, or after a rollback (ids of the
     * rolled-back batch are void), it is emptied and refilled from the
     * table. */
    struct obs_slot {
        uint64_t hash;
        int64_t vid;     /* 0: empty */
        uint32_t off, len;
    } *obs;
    size_t nobs;
    kb_buf vpool;
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
