/* Record output shared by the commands: tables for people, CSV for
 * spreadsheets, JSON Lines for machines. Streaming: nothing is buffered
 * beyond one row, so table columns have fixed widths (longer values are cut
 * with "..."). */
#ifndef KB_CMD_OUTPUT_H
#define KB_CMD_OUTPUT_H

#include <stdio.h>

#include "base/base.h"
#include "cmd/cmd.h"
#include "event/event.h"

typedef struct kb_out_col {
    const char *title;
    int width; /* table width; 0 for the last, unbounded column */
} kb_out_col;

typedef struct kb_out {
    FILE *f;
    kb_out_format fmt;
    const kb_out_col *cols;
    int ncols;
    int color; /* table on a terminal */
    kb_buf line;
    uint64_t rows;
} kb_out;

void kb_out_init(kb_out *o, FILE *f, kb_out_format fmt, const kb_out_col *cols, int ncols);
/* Ends the output (flushes). */
void kb_out_release(kb_out *o);
/* One table or CSV row of ncols values (NULL or len 0 print as empty). */
void kb_out_row(kb_out *o, const kb_str *vals);
/* One JSON Lines row, already rendered (without the newline). */
void kb_out_json(kb_out *o, const char *json, size_t len);

/* Appends the first max characters of s[0..len) to b (a UTF-8 sequence is
 * one character), control characters as spaces. Returns the bytes of s
 * consumed; *chars (may be NULL) receives the characters appended. */
size_t kb_out_put_chars(kb_buf *b, const char *s, size_t len, size_t max, size_t *chars);

/* Appends the CSV rendering of one value to b (quoted when needed). */
int kb_csv_put(kb_buf *b, const char *s, size_t len);

/* Renders an event as one JSON object: @timestamp, the canonical fields
 * present, log.format, logsource, and with all != 0 every decoded field
 * under its own name (a repeated key once). */
int kb_event_to_json(const kb_event *ev, int all, kb_buf *b);

#endif
