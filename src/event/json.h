/* JSON reading for events and JSON writing for output.
 *
 * The reader flattens one JSON object (one record) into an event's field
 * table without building a tree: nested objects become dotted names
 * (`alert.signature`), arrays are kept whole as a KB_V_ARRAY field and
 * each scalar element is added under the array's name with KB_FF_ELEM
 * and its position (objects inside arrays flatten under `name.key`, also
 * marked KB_FF_ELEM). Values are slices of the input; strings with escapes
 * are unescaped into the event's arena. Nesting deeper than the depth cap
 * is kept whole as raw text (KB_V_OBJECT / KB_V_ARRAY) rather than
 * refused, so a hostile record costs bounded time and memory. Parsing is
 * iterative: no recursion whose depth the input controls. */
#ifndef KB_JSON_H
#define KB_JSON_H

#include <stddef.h>

#include "base/base.h"
#include "event/event.h"

#define KB_JSON_MAX_DEPTH 64

typedef struct kb_json_error {
    const char *reason; /* static text */
    size_t offset;      /* byte offset of the problem within the input */
} kb_json_error;

/* Flattens the JSON object in p[0..len) (surrounding white space allowed)
 * into ev. `prefix` (may be NULL) is prepended to every name with a dot,
 * for decoders that nest a record under a key. Returns KB_OK, KB_EPARSE
 * (syntax error, invalid UTF-8 in a string, not an object, trailing
 * bytes) with *err filled, or KB_ELIMIT / KB_ENOMEM from the event. */
int kb_json_flatten(kb_event *ev, const char *p, size_t len, const char *prefix,
                    kb_json_error *err);

/* Writes s as a JSON string literal (with quotes) to b: control
 * characters, quote and backslash escaped; invalid UTF-8 bytes written as
 * \ufffd so the output is always valid JSON. */
int kb_json_put_str(kb_buf *b, const char *s, size_t len);

#endif
