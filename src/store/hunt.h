/* koban hunt language: a query a Kibana or Splunk user reads without a
 * manual, compiled to SQL for the store's back end.
 *
 *   host.name:pc-a and destination.ip:203.0.113.5
 *   process.command_line:*powershell* and not user.name:svc_*
 *   destination.ip:10.0.0.0/8 and destination.port >= 1024
 *   @timestamp >= now-24h and (event.outcome:failure or "Failed password")
 *   ... | stats count() by host.name | sort -count | head 20
 *   ... | fields @timestamp, host.name, Image
 *
 * Terms: FIELD:VALUE (equality; unquoted `*` and `?` are wildcards; a lone
 * `*` means the field exists; an IPv4 CIDR on an address field matches the
 * range), FIELD >= VALUE (also <=, >, <; numbers, and times for
 * @timestamp: ISO 8601, a date, `now`, `now-15m`, `now-24h`, `now-7d`), and
 * a bare quoted or unquoted VALUE (a substring of the raw record, ASCII
 * case-insensitive). `and`, `or`, `not` (case-insensitive, in that precedence), and
 * parentheses (nesting capped at KB_HUNT_MAX_DEPTH). Quoted values use
 * "..." with \" and \\ escapes and are taken literally.
 *
 * Fields:
 *  - canonical ECS names (event.h) map to columns of the events table;
 *    log.format, log.file.path, log.offset, log.line, event.id and
 *    logsource.product|category|service are columns too;
 *  - indicator fields (source.ip, destination.ip, host.ip, host.name,
 *    user.name, url.full, url.domain, dns.question.name, file hashes,
 *    file.name, process.executable) with an exact value first look up the
 *    observables index (kind, value) and then check the column, so a pivot
 *    is an index lookup however large the store; the pseudo-fields ip,
 *    domain, url, hash, user, host, file, process (any field of that kind)
 *    and observable (any kind) search the index alone; such a pivot
 *    alone under `| stats count()` is answered from obs_counts (a few rows
 *    per value), and listed by time (`| head N`, `| sort -@timestamp |
 *    head N`) it reads only the hours of obs_counts that hold the first or
 *    newest N sightings;
 *  - any other name must be a raw field name seen while loading (the
 *    field_names table); it is read from the stored record with the SQL
 *    functions kb_raw(raw, blk, boff, len), which takes the record out of
 *    its compressed block, and kb_raw_field(text, format, name), which
 *    decodes it again (see sqlite.c). We chose the SQL function over filtering in C
 *    because it keeps pipes (stats, sort, head) inside the database and
 *    every other predicate of the query still narrows the rows first.
 *    A back end without those functions (PostgreSQL: no server-side
 *    extension) runs a raw field or free-text query in two steps (see
 *    kb_hunt_run): the part of the query SQL can answer (canonical
 *    columns, observables index) selects the candidates, koban evaluates
 *    the residual predicate in C over each candidate's decompressed raw
 *    record, and the ids that match (with the raw fields the pipes read)
 *    go into a temporary table kb_hunt_hits; the pipes (stats, sort, head,
 *    fields) then run in SQL over that table, so they see exactly the
 *    rows the residual kept. KB_HUNT_FORCE_RESIDUAL (or the environment
 *    variable KOBAN_HUNT_RESIDUAL=1 for koban hunt) takes that path on
 *    SQLite as well, so both evaluators can be compared.
 *  An unknown field is an error naming the closest known names.
 *
 * Equality is exact and case-sensitive; wildcards use LIKE, which is
 * ASCII case-insensitive (ILIKE on PostgreSQL). A NOT over a missing field
 * is true (`not user.name:svc_*` keeps events without a user).
 *
 * Every value is bound as a parameter, never spliced into the SQL text. */
#ifndef KB_HUNT_H
#define KB_HUNT_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "store/store.h"

#define KB_HUNT_MAX_LEN 16384   /* longest query */
#define KB_HUNT_MAX_NODES 512   /* terms and operators */
#define KB_HUNT_MAX_DEPTH 64    /* nesting of parentheses and `not` */
#define KB_HUNT_MAX_COLS 32     /* output columns of fields / stats */

typedef struct kb_hunt kb_hunt;

typedef struct kb_hunt_error {
    size_t pos;     /* byte offset in the query of the problem */
    char msg[512];
} kb_hunt_error;

/* Parses q[0..len). `now` (ns) anchors relative times. Returns NULL with
 * *err filled on a syntax error ("expected a value after ':'") or when a
 * cap is exceeded. */
kb_hunt *kb_hunt_parse(const char *q, size_t len, int64_t now, kb_hunt_error *err);
void kb_hunt_free(kb_hunt *h);
/* Caps a query that lists events (no stats) and names no head at n rows,
 * as if it ended in `| head n`. Returns 1 when it applied the cap. */
int kb_hunt_limit_default(kb_hunt *h, int64_t n);

/* Unknown values (a playbook's hunt whose input the incident lacks; see
 * hunt-unknown.c). The terms whose value starts at one of the byte offsets
 * at[0..n) of the query are unknown and are taken out by this rule: an
 * unknown term is dropped; an `or` keeps its other branches; a `not` over
 * something dropped is dropped too (an undecidable exclusion excludes
 * nothing) and the `and` around it keeps the rest; an `and` that loses a
 * condition is dropped as a whole (what is left of it would match more than
 * it asks for). Appends the query that remains to out: the filter printed
 * from the parse tree (terms as written, `and`/`or`/`not` in lower case,
 * parentheses where needed), then the pipes as written. *matched (may be
 * NULL) receives how many offsets fell on a term's value. Returns KB_OK,
 * KB_ENOENT (out untouched) when no condition of the filter is left, so the
 * query must not run, or KB_ELIMIT when out is full. With n = 0 it prints
 * the query as parsed. Borrows h; it is not changed. */
int kb_hunt_drop_unknown(const kb_hunt *h, const size_t *at, size_t n, kb_buf *out,
                         size_t *matched);

/* A compiled query: SQL text with `?` placeholders and the values. */
typedef struct kb_hunt_sql {
    kb_buf sql;
    kb_sval params[KB_HUNT_MAX_NODES * 3 + 128];
    size_t nparams;
    int events;  /* 1: rows are events (the standard columns); 0: the
                    columns of `fields` or `stats` below */
    size_t ncols;
    const char *titles[KB_HUNT_MAX_COLS]; /* owned by the kb_hunt */
    int is_time[KB_HUNT_MAX_COLS];        /* column holds ns timestamps */
    kb_arena *arena;                      /* parameter text */
    /* Set when part of the query is evaluated in C (a raw field or free
     * text on a back end without the raw SQL functions): sql/params above
     * then read the temporary table kb_hunt_hits, which kb_hunt_run fills
     * first. Such a query must be run with kb_hunt_run. */
    struct kb_hunt_residual *res;
} kb_hunt_sql;

/* Compiles h for st's back end. `since` (ns, or KB_TIME_NONE) adds
 * @timestamp >= since. Resolves field names against the store (unknown
 * ones fail with suggestions, position set). The output must be released
 * with kb_hunt_sql_release even on failure. */
int kb_hunt_compile(const kb_hunt *h, kb_store *st, int64_t since, kb_hunt_sql *out,
                    kb_hunt_error *err);
void kb_hunt_sql_release(kb_hunt_sql *q);

/* Flags of kb_hunt_compile_ex. */
#define KB_HUNT_RESIDUAL 1       /* the caller runs the query with kb_hunt_run:
                                    raw fields and free text work on every
                                    back end (kb_hunt_compile refuses them
                                    where SQL cannot evaluate them) */
#define KB_HUNT_FORCE_RESIDUAL 2 /* evaluate raw fields and free text in C
                                    even where SQL could (tests) */
int kb_hunt_compile_ex(const kb_hunt *h, kb_store *st, int64_t since, int flags,
                       kb_hunt_sql *out, kb_hunt_error *err);

/* Runs a compiled query, calling fn per result row: one statement, or,
 * with a residual, the candidates query, the residual in C, then the
 * statement over the hits. The kb_hunt q was compiled from must still
 * exist. */
int kb_hunt_run(kb_store *st, kb_hunt_sql *q, kb_store_row_fn fn, void *ud);

/* The columns of an events row (when kb_hunt_sql.events): SQL aliases in
 * select order, with their output names. */
typedef struct kb_hunt_event_col {
    const char *name;  /* ECS name, "log.format", ... */
    int is_time;
} kb_hunt_event_col;
extern const kb_hunt_event_col kb_hunt_event_cols[];
extern const size_t kb_hunt_event_ncols;

/* Prints the SQL, the parameters and the back end's plan; with a
 * residual, first the residual predicate and the candidates query. */
int kb_hunt_explain(kb_store *st, const kb_hunt_sql *q, FILE *f);

/* Levenshtein distance between two short strings, capped at `max` + 1
 * (strings longer than 128 bytes compare as max + 1). */
int kb_hunt_distance(const char *a, size_t alen, const char *b, size_t blen, int max);

/* Parses a relative or absolute time: "now", "now-24h", "7d" (ago),
 * ISO 8601, "YYYY-MM-DD", epoch seconds. KB_EPARSE otherwise. */
int kb_hunt_time(const char *s, size_t len, int64_t now, int64_t *out);
/* Parses a duration "30d", "24h", "15m", "90s" into ns. */
int kb_hunt_duration(const char *s, size_t len, int64_t *out);

#endif
