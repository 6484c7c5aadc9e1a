/* A decoder under test, shared by the decoder unit tests (test_squid.c,
 * test_weblog.c, test_zeek.c, test_eve.c, test_jsonl.c, test_winevt.c,
 * test_cef.c, test_leef.c, test_syslog.c): one decoder row with its names, arena, event
 * and decode context, decoded line by line the way the reader does it, and
 * the assertions those tests make about the fields of the event.
 *
 * Every helper fails the running cmocka test (fail_msg / assert_*) rather
 * than returning an error. Include after <cmocka.h> and its prerequisites.
 * Built once into the koban_unit_fixture library (CMakeLists.txt), which
 * every unit test links. */
#ifndef KB_TEST_DECODER_FIXTURE_H
#define KB_TEST_DECODER_FIXTURE_H

#include <stddef.h>

#include "event/event.h"
#include "ingest/decoders.h"

typedef struct dfx {
    kb_names *names; /* borrowed, or owned when dfx_open was given NULL */
    kb_arena *arena; /* owned; cleared before each record */
    kb_event ev;     /* the last record decoded */
    kb_decode_ctx ctx;
    const kb_decoder *dec;
    char *line; /* the last line read by dfx_decode_line, owned */
    size_t line_cap;
    int own_names;
} dfx;

/* Prepares f to decode with d: names borrowed (NULL: a table of its own),
 * ctx.path = path (borrowed, may be NULL), and d's per-stream state. */
void dfx_open(dfx *f, const kb_decoder *d, kb_names *names, const char *path);
/* Releases what dfx_open and the decodes took. */
void dfx_close(dfx *f);

/* cmocka setup/teardown around a heap dfx in *state: dfx_setup_with(state,
 * d) opens it on d with names of its own; the tests wrap it in a
 * one-line setup naming their decoder. */
int dfx_setup_with(void **state, const kb_decoder *d);
int dfx_teardown(void **state);

/* Decodes one record from line (borrowed: the event points into it) into
 * a fresh f->ev, with ctx.err reset. Returns the decoder's result. */
int dfx_decode(dfx *f, const char *line, size_t len);
/* The same for a NUL-terminated line. */
int dfx_decodez(dfx *f, const char *line);
/* Decodes line n (1-based) of the file at path, its line end stripped,
 * kept in f->line. Fails the test when the file has fewer lines. */
int dfx_decode_line(dfx *f, const char *path, int n);

/* The whole file at path, NUL-terminated; *n is its size. Caller frees. */
char *dfx_slurp(const char *path, size_t *n);

/* Line iterator over a buffer; strips \r like the reader does. */
typedef struct dfx_lines {
    const char *p, *end;
} dfx_lines;
/* The next line (without its \n or \r\n) in *s, *n; 0 at the end. */
int dfx_next_line(dfx_lines *it, const char **s, size_t *n);

typedef struct dfx_counts {
    int ok, skip, rej;
} dfx_counts;

/* Decodes every line of the file at path like the reader: line ends
 * stripped, blank lines left out; with DFX_AS_IS each line goes to the
 * decoder as it stands in the file, with its line end, blank lines
 * included. ctx.path = path meanwhile. A rejected line must carry a reason;
 * a decoded one must carry the raw field must_have (NULL: no such check).
 * Returns the counts. */
#define DFX_AS_IS 1
dfx_counts dfx_run_file(dfx *f, const char *path, int flags, const char *must_have);
/* dfx_run_file over dir/file with f; fails, naming the file and the
 * counts, unless they are want. */
void dfx_expect_run(dfx *f, const char *dir, const char *file, int flags, const char *must_have,
                    dfx_counts want);
/* The same with a fixture of its own on d (names borrowed) and no flags. */
void dfx_expect_counts(const kb_decoder *d, kb_names *names, const char *dir, const char *file,
                       dfx_counts want);

/* Field f holds exactly want, of type `type` (-1: any); want NULL: f is
 * NULL. */
void dfx_expect_val(const kb_field *f, int type, const char *want);
/* The same for canonical field c of ev, and for the field called name. */
void dfx_expect_canon(const kb_event *ev, int c, int type, const char *want);
void dfx_expect_field(const kb_event *ev, const char *name, int type, const char *want);
/* The same for a name that is canonical or else raw, the failure naming
 * the test's source line. */
void dfx_check(const kb_event *ev, const char *name, const char *want, int lineno);
#define DFX_CHECK(ev, name, want) dfx_check((ev), (name), (want), __LINE__)
/* got equals want; want NULL: got is NULL. */
void dfx_expect_str(const char *got, const char *want);
/* ev has a time, formatted as want (kb_time_format). */
void dfx_expect_ts(const kb_event *ev, const char *want);

#endif
