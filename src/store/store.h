/* koban store: every event kept, indexed for the questions of triage.
 *
 * One interface, several back ends. A back end is one row of
 * kb_store_backends[] (a vtable: open, close, exec, explain, size) and lives
 * in its own file: sqlite.c (the embedded default, one file
 * <data>/koban.db in WAL mode) and pg.c (PostgreSQL through libpq, shared by
 * several koban nodes). Everything above the vtable (schema and migrations,
 * turning events into rows, checkpoints, observables, alerts, stats, prune,
 * hunts) is written once in store.c, store-*.c and hunt-*.c against
 * `exec` (store-int.h lists the parts), with SQL that both dialects accept
 * and `?` placeholders (pg.c renumbers them to $1..$n).
 *
 * Tables (schema version KB_STORE_SCHEMA_VERSION, migrations in
 * store-schema.c):
 *   schema_version  one row per applied migration
 *   sources         one row per loaded file: path, format, inode, size,
 *                   checkpoint (offset of the last committed record), events
 *   ev              (schema 3, SQLite) the narrow event rows: id, ts,
 *                   host_name, format, source_id, rec_offset, line, the
 *                   record's place (blk, boff, raw_len, coff), raw (version 1
 *                   rows) and canon (rows migrated from version 2: their
 *                   canonical fields, encoded as in a block, uncompressed).
 *                   The other canonical fields and the Sigma logsource of
 *                   a block's records are encoded compactly (store-int.h)
 *                   in a second zstd frame of the block (blocks.cdata, at
 *                   ev.coff), so they are compressed, and listing events
 *                   decompresses only that small frame, not the records.
 *                   `events` is then a view of ev with every column below,
 *                   decoded by the SQL function kb_canon() (sqlite.c):
 *                   other SQLite clients (sqlite3, Python) read `ev`.
 *   events          canonical fields as columns (see kb_store_columns), the
 *                   decoder, the Sigma logsource, source id, offset and line,
 *                   and where the raw record is: blk (a blocks row), boff
 *                   (byte offset in the block) and raw_len. Stores of
 *                   schema version 1 kept each record alone, zstd-compressed
 *                   in the raw column; those rows keep it (blk is NULL).
 *   blocks          up to KB_STORE_BLOCK_EVENTS consecutive raw records of
 *                   one batch concatenated in one zstd frame (data), with
 *                   the first and last event id (lo, hi): similar records
 *                   compress ~10x together, ~1.5x alone
 *   obs_values      each distinct (kind, value) once, indexed on value
 *                   (index observables_kv)
 *   obs_events      (vid, event_id, fm), the primary key clustered on
 *                   (vid, event_id): a pivot on an indicator is one
 *                   observables_kv lookup and one range scan returning
 *                   event ids in order; fm (schema 3) has bit i set when
 *                   the value was in the i-th indexed field
 *                   (kb_obs_field_bit), so a pivot on one field
 *                   (source.ip:X) reads no event row
 *   obs_counts      (schema 4) (vid, fm, hr, n, lo, hi): how many
 *                   obs_events rows of value vid with field mask fm are
 *                   events of hour hr (KB_OBS_HOUR), and the range of their
 *                   event ids (lo..hi, a superset after a prune); kept by
 *                   the loader and by prune, so counting a pivot
 *                   (`source.ip:X | stats count()`) reads a few rows, not
 *                   every sighting, and listing its first or newest N
 *                   events reads only the hours that hold them
 *   observables     a view (kind, value, ts, host, event_id) joining the
 *                   two with events, for reading: every address, domain,
 *                   URL, hash, user, host, file name and process of each
 *                   event, each (kind, value) once per event
 *   field_names     every raw field name loaded (for hunts and suggestions)
 *   alerts          one rule or indicator hit on one event; an indicator hit
 *                   keeps its threat type and confidence (schema 5)
 *   incidents, cases, actions, audit   empty; later work fills them (audit
 *                   is append-only by convention)
 *
 * Crash safety: each batch of events goes in one transaction together with
 * its source's checkpoint (koban load groups batches of ~65,536 events in
 * one transaction, see kb_store_put_batch), so after a crash (SIGKILL,
 * power loss) a re-run
 * of the same load skips every record at or before the checkpoint: every
 * committed batch is there once, nothing is duplicated. A source whose
 * inode changed or that shrank below its checkpoint is a new file (log
 * rotation) and starts again from offset 0.
 *
 * Threading: a kb_store is used by one thread at a time. */
#ifndef KB_STORE_H
#define KB_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "event/event.h"
#include "ingest/ingest.h"

#define KB_STORE_SCHEMA_VERSION 5

/* Raw records per compressed block, and the block's size cap (a longer
 * record gets a block of its own). */
#define KB_STORE_BLOCK_EVENTS 128
#define KB_STORE_BLOCK_BYTES (256u << 10)

typedef struct kb_store kb_store;

/* ---- values passed to and from the back ends --------------------------- */

typedef enum { KB_SV_NULL, KB_SV_INT, KB_SV_REAL, KB_SV_TEXT, KB_SV_BLOB } kb_sval_type;

/* A bound parameter or a result column. Text and blobs are borrowed: a
 * parameter's bytes must live until exec returns, a result's only until the
 * row callback returns. */
typedef struct kb_sval {
    kb_sval_type type;
    int64_t i;
    double d;
    const char *p;
    size_t len;
} kb_sval;

#define KB_SV_INTV(v) ((kb_sval){KB_SV_INT, (v), 0, NULL, 0})
#define KB_SV_STRV(s, n) ((kb_sval){KB_SV_TEXT, 0, 0, (s), (n)})

/* Called with each result row; names are the column names. A non-zero
 * return stops the query and is returned by exec. */
typedef int (*kb_store_row_fn)(void *ud, size_t ncol, const kb_sval *cols,
                               const char *const *names);

/* ---- the back-end vtable ------------------------------------------------ */

typedef struct kb_store_backend {
    const char *name;     /* "sqlite", "pg" */
    const char *doc;
    /* Dialect: the column types and the case-insensitive LIKE. */
    const char *t_pk;     /* auto-increment 64-bit primary key */
    const char *t_blob;
    const char *like;     /* "LIKE" (SQLite, ASCII case-insensitive) or "ILIKE" */
    int raw_fields;       /* can evaluate kb_raw(...), kb_raw_has(...) and
                             kb_raw_field(text, format, name) in SQL */
    const char *t_clustered; /* table suffix for a table clustered on its
                                primary key (" WITHOUT ROWID"), or NULL */
    const char *begin;    /* statement starting a write transaction */
    int canon_blocks;     /* schema 3 narrow rows: the events table is `ev`
                             (id, ts, host_name, format, source/offset/line,
                             block position) and the other canonical fields
                             are encoded after each raw record in its block
                             (see store-int.h); `events` is a view decoding
                             them with kb_canon(). 0: `events` is the wide
                             table with every canonical column (PostgreSQL) */
    int own_ids;          /* one writer at a time (write transactions are
                             exclusive): the loader numbers events, blocks
                             and observable rows itself instead of asking
                             for each id back (RETURNING) */
    /* Connects or opens; dsn is the back end's own string (a file path, a
     * libpq conninfo). Sets the store's error message on failure. */
    int (*open)(kb_store *st, const char *dsn);
    void (*close)(kb_store *st);
    /* Runs one statement with `?` placeholders bound to params (never
     * spliced), calling fn per result row (fn may be NULL). `cache` != 0
     * keeps the prepared statement for the next call with the same sql
     * pointer (static SQL on the hot path). Returns KB_OK, the callback's
     * non-zero return, or KB_EIO with the store's error message set. */
    int (*exec)(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                kb_store_row_fn fn, void *ud, int cache);
    /* Prints the back end's query plan for sql to f. */
    int (*explain)(kb_store *st, const char *sql, const kb_sval *params, size_t n, FILE *f);
    /* Bytes the store occupies (database file(s), or the PG database). */
    int64_t (*size)(kb_store *st);
} kb_store_backend;

/* The back ends, terminated by NULL. */
extern const kb_store_backend *const kb_store_backends[];

/* ---- opening ------------------------------------------------------------ */

/* Opens a store. `dsn` picks the back end:
 *   "postgresql://..." or "postgres://..." or "pg:CONNINFO"  PostgreSQL
 *   "sqlite:PATH" or a plain path                             SQLite file
 * Creates the schema or migrates it forward. Returns NULL on failure with a
 * message in err (static or copied into errbuf, size errsize). A database
 * from a newer koban (schema version above ours) is refused. */
kb_store *kb_store_open(const char *dsn, char *errbuf, size_t errsize);
/* Opens an existing store to read only: nothing is created, migrated or
 * written (SQLite: a read-only connection, the file's journal mode kept;
 * PostgreSQL: read-only transactions). A store whose schema version is not
 * this koban's is refused. For commands that only read (a scan looking up
 * the stored indicators). */
kb_store *kb_store_open_ro(const char *dsn, char *errbuf, size_t errsize);
/* The default store of a data directory: "<dir>/koban.db" (created with
 * its directory when missing). */
kb_store *kb_store_open_dir(const char *data_dir, char *errbuf, size_t errsize);
void kb_store_close(kb_store *st);

/* The last error of st as text (valid until the next call). */
const char *kb_store_errmsg(const kb_store *st);
const kb_store_backend *kb_store_backend_of(const kb_store *st);
int kb_store_schema_version(kb_store *st);

/* Transactions (nest by counting: only the outermost begin/commit talk to
 * the back end). rollback cancels everything since the outermost begin. */
int kb_store_begin(kb_store *st);
int kb_store_commit(kb_store *st);
void kb_store_rollback(kb_store *st);

/* Raw access for hunts and tests: see kb_store_backend.exec. */
int kb_store_exec(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                  kb_store_row_fn fn, void *ud);
/* A single integer result (first column of the first row), or dflt. */
int64_t kb_store_scalar(kb_store *st, const char *sql, const kb_sval *params, size_t n,
                        int64_t dflt);
/* A single text result (first column of the first row) into out, which is
 * left empty when there is no row or the value is not text. */
int kb_store_text(kb_store *st, const char *sql, const kb_sval *params, size_t n, kb_buf *out);
/* An integer column: KB_SV_INT, or its decimal text (PostgreSQL's text
 * results). 0 and *out set, or -1 (NULL, not a number). */
int kb_sval_int(const kb_sval *c, int64_t *out);

/* ---- module tables ------------------------------------------------------- */

/* One schema version of a module's own tables: SQL statements (one per
 * entry, NULL-terminated) in the dialect both back ends accept, with {pk}
 * for an auto-increment 64-bit primary key and {blob} for a byte column. */
typedef struct kb_store_step {
    int version; /* 1, 2, ...: ascending, never edited once shipped */
    const char *const *sql;
} kb_store_step;

/* Brings module's tables to its newest version: runs each step above the
 * version recorded in koban_modules, each in its own transaction with the
 * new version. Refuses a store whose module version is newer than the
 * steps know. Modules keep their data in the store this way, never in
 * files of their own. */
int kb_store_migrate_module(kb_store *st, const char *module, const kb_store_step *steps,
                            size_t n);

/* ---- loading ------------------------------------------------------------- */

typedef struct kb_store_load_stats {
    uint64_t events;   /* inserted */
    uint64_t skipped;  /* already stored (at or before a checkpoint) */
    uint64_t observables;
    uint64_t batches;
} kb_store_load_stats;

/* Stores a decoded batch from kb_ingest in one transaction with its
 * source's checkpoint; records at or before the checkpoint are skipped.
 * ids (may be NULL) receives batch->n event ids, 0 for skipped records.
 * The source's identity (inode, size) is read from the file system by path.
 * Returns KB_OK or KB_EIO / KB_ENOMEM with nothing of the batch stored.
 * Inside a caller's transaction (kb_store_begin: koban load commits groups
 * of batches) the batch joins it, and a failure rolls the whole
 * transaction back. */
int kb_store_put_batch(kb_store *st, const kb_batch *batch, int64_t *ids,
                       kb_store_load_stats *stats);

/* Indicator kinds of the observables index. */
#define KB_OBS_KIND_MAP(X) \
    X(IP, "ip") X(DOMAIN, "domain") X(URL, "url") X(HASH, "hash") X(USER, "user") \
    X(HOST, "host") X(FILE, "file") X(PROCESS, "process")
enum {
#define KB_OBS_ENUM(e, s) KB_OBS_##e,
    KB_OBS_KIND_MAP(KB_OBS_ENUM)
#undef KB_OBS_ENUM
    KB_OBS_COUNT
};
const char *kb_obs_kind_name(int kind);
/* Kind for a name ("ip", ...), or -1. */
int kb_obs_kind_find(const char *s, size_t len);

/* obs_counts (schema 4) counts sightings per hour of @timestamp:
 * hr = ts / KB_OBS_HOUR (truncated), KB_OBS_HR_NONE for events without a
 * time. */
#define KB_OBS_HOUR 3600000000000LL
#define KB_OBS_HR_NONE (-1000000000LL)

/* The bit of canonical field canon in obs_events.fm (schema 3: the fields
 * an observable was found in, one row per (kind, value) and event), or 0
 * when the field is not indexed. */
int64_t kb_obs_field_bit(int canon);

/* ---- alerts -------------------------------------------------------------- */

/* One rule or indicator hit. Strings are borrowed (NULL allowed). */
typedef struct kb_store_alert {
    int64_t ts;          /* the event's time (ns), KB_TIME_NONE if unknown */
    const char *rule_id;
    const char *title;
    const char *level;   /* Sigma level: informational..critical */
    const char *author;
    const char *tags;    /* comma-separated Sigma tags */
    int64_t event_id;    /* from kb_store_put_batch, 0 when not stored */
    const char *host;
    /* An indicator hit: the threat type (c2, phishing, ...) and confidence
     * + 1 (0: unknown, so that zeroed rows mean "none"). */
    const char *threat;
    int confidence1;
} kb_store_alert;

/* Inserts n alerts in one transaction; ids (may be NULL) receives theirs. */
int kb_store_put_alerts(kb_store *st, const kb_store_alert *alerts, size_t n, int64_t *ids);

/* An event stored by an earlier run (koban load, or a scan whose alerts
 * came from other rules): *id is the stored event read from path at line
 * with time ts, or 0 when there is none (or ts is KB_TIME_NONE). */
int kb_store_event_at(kb_store *st, const char *path, uint64_t line, int64_t ts, int64_t *id);
/* *found = 1 when an alert of rule_id at ts on event_id is stored. */
int kb_store_alert_exists(kb_store *st, const char *rule_id, int64_t ts, int64_t event_id,
                          int *found);

/* ---- statistics and retention ------------------------------------------- */

/* Prints events, bytes, per source (events, format, oldest, newest) and
 * per format, oldest and newest to f. */
int kb_store_stats(kb_store *st, FILE *f);

/* Deletes events older than `before` (ns; KB_TIME_NONE: no age limit) from
 * sources whose path is `source`, or lies under it (NULL: every source),
 * with their observables. Alerts keep their rows (event_id dangles on
 * purpose: an alert outlives its evidence). *deleted receives the count. */
int kb_store_prune(kb_store *st, int64_t before, const char *source, uint64_t *deleted);

/* ---- the event columns ------------------------------------------------- */

/* The events table's columns for canonical fields: canonical index, column
 * name and whether the column is an integer. Terminated by name NULL. */
typedef struct kb_store_column {
    int canon;
    const char *column;
    int is_int;
} kb_store_column;
extern const kb_store_column kb_store_columns[];
/* The column for canonical field c, or NULL (log.file.path, log.offset are
 * sources.path and events.rec_offset). */
const kb_store_column *kb_store_column_of(int canon);

/* Decompresses a stored raw record (or block) into b (cleared first). */
int kb_store_raw_decompress(const void *p, size_t len, kb_buf *b);

/* The raw record of event `id` into b (cleared first, NUL-terminated).
 * Returns KB_OK, KB_ENOENT (no such event or no record) or KB_EIO /
 * KB_EPARSE (a corrupt block). */
int kb_store_raw_get(kb_store *st, int64_t id, kb_buf *b);

/* Extracts field `name` from a raw record by decoding it again with the
 * decoder `format` (stateful decoders such as Zeek TSV cannot, and give
 * KB_ENOENT). On KB_OK *val and *len point into memory valid until the next call
 * on the same helper. The helper holds a names table and an arena. */
typedef struct kb_raw_extractor kb_raw_extractor;
kb_raw_extractor *kb_raw_extractor_new(void);
void kb_raw_extractor_free(kb_raw_extractor *x);
int kb_raw_extract(kb_raw_extractor *x, const char *raw, size_t rawlen, const char *format,
                   const char *name, size_t nlen, const char **val, size_t *len);

#endif
