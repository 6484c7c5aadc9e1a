/* Internals shared by the parts of the store and its back ends (not part
 * of the API):
 *   store-int.h     the handle's type, the constants and small helpers the
 *                   parts share;
 *   store.c         the handle: opening and closing, errors, the SQL
 *                   helpers (exec, scalar, text), transactions;
 *   store-schema.c  what is stored: the canonical columns, the observable
 *                   kinds and fields, the narrow-row encoding, and the
 *                   schema's creation and migrations;
 *   store-load.c    loading events: sources and checkpoints, blocks, event
 *                   rows, observables and their obs_counts;
 *   store-alerts.c  alerts, and finding the event an alert is about;
 *   store-prune.c   retention: deleting events and what hangs on them;
 *   store-read.c    reading back: statistics, raw records;
 *   module.c        the migrations of other modules' tables;
 *   hunt-*.c        hunts (hunt-int.h);
 *   sqlite.c, pg.c  the back ends. */
#ifndef KB_STORE_INT_H
#define KB_STORE_INT_H

#include <string.h>

#include "store/store.h"

struct kb_store {
    const kb_store_backend *be;
    void *db;          /* the back end's handle */
    int txdepth;
    int readonly;      /* opened by kb_store_open_ro: nothing is created or written */
    const char *evtab; /* "ev" (narrow rows, canon_blocks) or "events" */
    int64_t *boffs;    /* per record of the block being built: its offset in
                          block and in cblock (pairs) */
    char err[512];
    /* Per-batch scratch, reused: compressed record, observables dedup. */
    void *zctx;        /* ZSTD_CCtx */
    kb_buf z;
    kb_buf scratch;
    char *sql_ins_event; /* built once from kb_store_columns: RETURNING id */
    char *sql_ins_event_id; /* the same with the id given (own_ids) */
    char *sql_ins_events; /* EV_ROWS rows of that in one statement */
    char *sql_obs_multi;
    char *sql_nv_one, *sql_nv_multi; /* narrow ev rows: one, NV_ROWS */ /* OBS_ROWS rows of obs_events per statement */
    /* obs_events rows of the batch (vid, event id pairs), inserted sorted
     * at its end: neighbouring keys share b-tree pages. Grows to the
     * largest batch's observables (at most 14 per event). */
    int64_t *obs_rows;
    size_t nobs_rows, aobs_rows;
    /* obs_counts rows of the batch (vid, fm, n), and their upsert. */
    int64_t *cnt_rows;
    size_t acnt_rows;
    char *sql_cnt_multi;
    kb_buf block;      /* the raw records of the block being built */
    kb_buf cblock;     /* their canonical fields (narrow rows: blocks.cdata) */
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

/* The canonical fields of a narrow row (schema 3), encoded in its block's
 * second frame (blocks.cdata, at ev.coff) or in ev.canon for rows migrated
 * from schema 2: entries of
 *   text:    one byte i (index), a varint length, the bytes
 *   integer: one byte 0x80|i, a zigzag varint
 * ended by KB_CANON_END. i is the index in kb_store_columns (never ts or
 * host_name, which are ev columns) or KB_CANON_LS + 0..2 for the Sigma
 * logsource's product, category and service. */
#define KB_CANON_END 0xff
#define KB_CANON_INT 0x80
#define KB_CANON_LS 40
#define KB_CANON_COUNT (KB_CANON_LS + 3)
int kb_cenc_put_text(kb_buf *b, int i, const char *s, size_t len);
int kb_cenc_put_int(kb_buf *b, int i, int64_t v);
/* Finds entry i in the encoding at p (at most n bytes). Returns 1 with
 * *out set (text borrowed from p), 0 when absent, -1 when malformed. */
int kb_cenc_find(const uint8_t *p, size_t n, int i, kb_sval *out);

/* Sets st->err (printf-style) and returns KB_EIO. */
int kb_store_fail(kb_store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const kb_store_backend kb_store_sqlite;
extern const kb_store_backend kb_store_pg;

/* ---- what is stored (store-schema.c) ------------------------------------- */

/* The number of kb_store_columns (without its end marker); store-schema.c
 * checks it against the table. A column's index there is its index in the
 * narrow-row encoding, below the logsource's entries. */
#define NCOLS ((size_t)37)
_Static_assert(NCOLS <= KB_CANON_LS, "a column index stays below KB_CANON_LS");
_Static_assert(KB_CANON_COUNT <= KB_CANON_INT, "an entry's index leaves KB_CANON_INT free");

/* The names of the observable kinds (KB_OBS_KIND_MAP). */
extern const char *const store_obs_kinds[KB_OBS_COUNT];

/* Observables of one event: (kind, canonical field) pairs. Bit i of an
 * obs_events / obs_counts field mask (fm) is entry i: the order is part of
 * the stored data. NOBS is their number (store-schema.c checks it against
 * the table). */
struct store_obs {
    int kind, canon;
};
extern const struct store_obs store_obs_map[];
#define NOBS ((size_t)14)
_Static_assert(NOBS <= 63, "a field mask fits a positive int64_t");

/* Creates or migrates the schema to KB_STORE_SCHEMA_VERSION. */
int store_migrate(kb_store *st);
/* Checks that a store opened read-only has this koban's schema. */
int store_check_ro(kb_store *st);

/* ---- loading (store-load.c) ---------------------------------------------- */

/* Values per entry of st->obs_rows (vid, event id, fm, hour) and of
 * st->cnt_rows (vid, fm, hour, n, lo, hi). */
#define OBS_W 4
#define CNT_W 6

/* The multi-row statements the loader sends to every back end: obs_events
 * rows per INSERT (OBS_PARAMS each: vid, event id, fm) and obs_counts rows
 * per upsert (CNT_W each). A back end that binds a bounded number of
 * parameters checks them at compile time (pg.c). */
#define OBS_ROWS 32
#define OBS_PARAMS 3
#define CNT_ROWS 16

/* Builds the loader's statements (st->sql_*) and scratch for st's back end. */
int store_build_sql(kb_store *st);

/* ---- helpers (store.c) --------------------------------------------------- */

/* Row callback: the first column of the last row as an integer into
 * *(int64_t *)ud. */
int store_id_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names);

static inline int exec0(kb_store *st, const char *sql)
{
    return st->be->exec(st, sql, NULL, 0, NULL, NULL, 0);
}

static inline kb_sval str_or_null(const char *s)
{
    return s ? KB_SV_STRV(s, strlen(s)) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0};
}

static inline int64_t ival(const kb_sval *v)
{
    int64_t x;
    return kb_sval_int(v, &x) ? 0 : x;
}

#endif
