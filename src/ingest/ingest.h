/* koban ingest: decoders, format detection, and reading sources.
 *
 * A decoder turns one record (one line) into an event. Each decoder is one
 * row in kb_decoders[] and lives in its own file; `koban parse --help`
 * and docs/formats.md read the same table.
 *
 * Sources are files, directories (recursive), standard input, and .gz or
 * .zst files. The reader hands the caller batches of decoded events; the
 * batch's memory (events, field tables, unescaped strings) is reused for
 * the next batch, so a stage that keeps anything copies it. */
#ifndef KB_INGEST_H
#define KB_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "event/event.h"

/* ---- decoders ---------------------------------------------------------- */

/* A user's mapping of raw field names to canonical fields (from the
 * configuration): rows in order of preference, in front of a decoder's
 * built-in aliases. Used by the generic JSON decoder. */
typedef struct kb_field_map_row {
    const char *raw; /* the record's (flattened) field name */
    int canon;       /* KB_F_* */
} kb_field_map_row;

typedef struct kb_field_map {
    const kb_field_map_row *rows;
    size_t n;
} kb_field_map;

typedef struct kb_decode_ctx {
    kb_names *names;
    const char *path;   /* source path, for messages */
    int64_t ref_time;   /* reference for year inference (file mtime or now) */
    void *state;        /* the decoder's per-stream state, from state_new */
    const char *err;    /* reason for a rejected record, set by decode */
    const kb_field_map *map; /* configured field mappings, or NULL */
} kb_decode_ctx;

typedef struct kb_decoder {
    const char *name; /* --format NAME and log.format */
    const char *doc;  /* one line: what it reads */
    /* Confidence 0..100 that this line belongs to the format. Called on
     * the first lines of a source; must be cheap and never fail. */
    int (*sniff)(const char *line, size_t len);
    /* Decodes one record. ev is cleared, with raw/path/line/offset set.
     * Returns KB_OK; KB_ESKIP for a line that is no record (a header, a
     * comment, a blank); or KB_EPARSE / KB_ELIMIT / KB_ENOMEM with
     * ctx->err naming the reason (static text). */
    int (*decode)(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev);
    /* Optional per-stream state (Zeek's #fields header). */
    void *(*state_new)(void);
    void (*state_free)(void *state);
} kb_decoder;

/* The table, terminated by a row with name NULL. */
extern const kb_decoder *const kb_decoders[];

/* The decoder called name, or NULL. */
const kb_decoder *kb_decoder_find(const char *name);

/* Picks the decoder for a source from its first lines (n lines, each a
 * slice): the decoder whose sniff scores highest summed over the lines,
 * if that is above zero. NULL when nothing recognises the input. */
const kb_decoder *kb_decoder_sniff(const kb_str *lines, size_t n);

/* ---- reading sources ---------------------------------------------------- */

typedef struct kb_ingest kb_ingest;

typedef struct kb_ingest_opts {
    const char *format;    /* force this decoder; NULL: detect per source */
    size_t max_record;     /* longest record kept (0: 16 MiB); longer ones are rejected */
    size_t batch_bytes;    /* input per batch (0: 1 MiB) */
    size_t arena_cap;      /* memory cap per batch arena (0: 256 MiB) */
    FILE *rejects;         /* rejected records are written here verbatim, or NULL */
    unsigned max_messages; /* reject messages per source before going quiet (0: 10) */
    const kb_field_map *map; /* configured field mappings (borrowed), or NULL */
} kb_ingest_opts;

/* Counters per source. */
typedef struct kb_ingest_stats {
    uint64_t bytes;    /* decompressed bytes read */
    uint64_t records;  /* lines that were records (not skipped) */
    uint64_t decoded;
    uint64_t rejected;
    uint64_t skipped;  /* headers, comments, blank lines */
} kb_ingest_stats;

typedef struct kb_batch {
    kb_event *events;
    size_t n;
    const char *path;           /* the source of every event in the batch */
    const kb_decoder *decoder;
} kb_batch;

/* Called with each batch. A non-zero return stops reading and is returned
 * by kb_ingest_path. */
typedef int (*kb_batch_fn)(const kb_batch *batch, void *ud);
/* Called once per source when it is finished (or could not be read:
 * rc != KB_OK, decoder may be NULL). */
typedef void (*kb_source_fn)(const char *path, const kb_decoder *dec,
                             const kb_ingest_stats *st, int rc, void *ud);

kb_ingest *kb_ingest_new(kb_names *names, const kb_ingest_opts *opts);
void kb_ingest_free(kb_ingest *ing);

/* Reads a file, a directory (recursively, in name order) or "-" for
 * standard input, decoding every record. Unreadable sources and
 * unrecognised formats are reported and counted, and the rest continue.
 * Returns KB_OK, or the first non-zero return of fn. */
int kb_ingest_path(kb_ingest *ing, const char *path, kb_batch_fn fn, kb_source_fn done,
                   void *ud);

/* ---- parts of a large file (parallel reading) ---------------------------- */

/* A byte range of a plain file that starts at a line start and ends after
 * a newline (or at the end of the file), with the number of its first line
 * in the file. */
typedef struct kb_ingest_part {
    uint64_t start, end;
    uint64_t first_line; /* 1-based */
} kb_ingest_part;

/* Splits a plain regular file into parts of about part_bytes (at most
 * max_parts), at line boundaries, counting the lines before each part (one
 * sequential pass over the file). The decoder is chosen once, from the
 * file's first lines (or opts.format), and given in *dec for every part.
 * Returns the number of parts, with *parts allocated (kb_free); 1 with
 * *parts NULL when the file is not to be split: smaller than 2 parts,
 * compressed, not a regular file, unrecognised (the whole-file reader
 * reports it), or Zeek TSV (records need the header); or a negative KB_E*
 * code. */
int kb_ingest_split(kb_ingest *ing, const char *path, uint64_t part_bytes, size_t max_parts,
                    kb_ingest_part **parts, const struct kb_decoder **dec);

/* Reads one part as kb_ingest_path reads a file: records numbered from
 * part->first_line, offsets from part->start, decoded by dec; done is
 * called once for the part. Parts of one file may be read by several
 * ingest objects at once. */
int kb_ingest_part_read(kb_ingest *ing, const char *path, const kb_ingest_part *part,
                        const struct kb_decoder *dec, kb_batch_fn fn, kb_source_fn done,
                        void *ud);

/* Totals over everything read so far. `sources_failed` counts sources that
 * could not be opened or recognised. */
void kb_ingest_totals(const kb_ingest *ing, kb_ingest_stats *st, uint64_t *sources_failed);

#endif
