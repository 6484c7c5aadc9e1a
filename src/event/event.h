/* koban event model.
 *
 * An event is one decoded record. It does not copy the record: every field
 * value is a slice of the raw bytes, except values the decoder had to
 * rewrite (JSON strings with escapes, derived values such as a URL's
 * domain), which live in the batch arena. Field names are interned once
 * per process in a kb_names table, so a later stage holding a field id
 * resolves it in constant time.
 *
 * Two views resolve on the same event: the raw fields under the names the
 * record uses (`Image`, `alert.signature`, `id.orig_h`) and the canonical
 * fields named as in the Elastic Common Schema (`process.executable`,
 * `rule.name`, `source.ip`). A canonical slot usually points at the raw
 * field that carries the value (no copy); derived values are added as
 * fields under the canonical name.
 *
 * Ownership: an event borrows its record bytes and its arena; both must
 * outlive it. Nothing in an event is freed individually. */
#ifndef KB_EVENT_H
#define KB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- canonical fields -------------------------------------------------- */

/* X(ENUM, "ecs.name"). The order is the order of output. */
#define KB_CANON_MAP(X)                                              \
    X(TIMESTAMP, "@timestamp")                                       \
    X(EVENT_KIND, "event.kind")                                      \
    X(EVENT_CATEGORY, "event.category")                              \
    X(EVENT_ACTION, "event.action")                                  \
    X(EVENT_OUTCOME, "event.outcome")                                \
    X(EVENT_SEVERITY, "event.severity")                              \
    X(OBSERVER_PRODUCT, "observer.product")                          \
    X(HOST_NAME, "host.name")                                        \
    X(HOST_IP, "host.ip")                                            \
    X(USER_NAME, "user.name")                                        \
    X(USER_DOMAIN, "user.domain")                                    \
    X(SOURCE_IP, "source.ip")                                        \
    X(SOURCE_PORT, "source.port")                                    \
    X(DESTINATION_IP, "destination.ip")                              \
    X(DESTINATION_PORT, "destination.port")                          \
    X(NETWORK_TRANSPORT, "network.transport")                        \
    X(NETWORK_PROTOCOL, "network.protocol")                          \
    X(URL_FULL, "url.full")                                          \
    X(URL_DOMAIN, "url.domain")                                      \
    X(DNS_QUESTION_NAME, "dns.question.name")                        \
    X(HTTP_REQUEST_METHOD, "http.request.method")                    \
    X(HTTP_RESPONSE_STATUS_CODE, "http.response.status_code")        \
    X(USER_AGENT_ORIGINAL, "user_agent.original")                    \
    X(FILE_NAME, "file.name")                                        \
    X(FILE_PATH, "file.path")                                        \
    X(FILE_HASH_MD5, "file.hash.md5")                                \
    X(FILE_HASH_SHA1, "file.hash.sha1")                              \
    X(FILE_HASH_SHA256, "file.hash.sha256")                          \
    X(PROCESS_PID, "process.pid")                                    \
    X(PROCESS_NAME, "process.name")                                  \
    X(PROCESS_EXECUTABLE, "process.executable")                      \
    X(PROCESS_COMMAND_LINE, "process.command_line")                  \
    X(PROCESS_PARENT_EXECUTABLE, "process.parent.executable")        \
    X(PROCESS_PARENT_COMMAND_LINE, "process.parent.command_line")    \
    X(RULE_NAME, "rule.name")                                        \
    X(RULE_ID, "rule.id")                                            \
    X(MESSAGE, "message")                                            \
    X(LOG_FILE_PATH, "log.file.path")                                \
    X(LOG_OFFSET, "log.offset")

enum {
#define KB_CANON_ENUM(e, name) KB_F_##e,
    KB_CANON_MAP(KB_CANON_ENUM)
#undef KB_CANON_ENUM
    KB_F_CANON_COUNT
};

/* ECS name of canonical field c (0 <= c < KB_F_CANON_COUNT). */
const char *kb_canon_name(int c);
/* Canonical index for an ECS name, or -1. */
int kb_canon_find(const char *name, size_t len);

/* ---- interned field names ---------------------------------------------- */

typedef uint32_t kb_fid;
#define KB_FID_NONE UINT32_MAX

/* A process-wide table of field names. Created once by main (or a test)
 * and passed to every stage; canonical names are interned first, so
 * fid == KB_F_* for them. Lookups are lock-free; inserts take a mutex and
 * never move existing entries, so ids and name pointers stay valid for the
 * table's lifetime. At most `cap` names (0: 1,000,000): past the cap,
 * kb_names_intern returns KB_FID_NONE and counts the refusal, so a stream
 * of unique keys cannot exhaust memory. */
typedef struct kb_names kb_names;

kb_names *kb_names_new(size_t cap);
void kb_names_free(kb_names *t);
/* Returns the id of the name, adding it when new. Thread-safe. */
kb_fid kb_names_intern(kb_names *t, const char *s, size_t len);
/* Returns the id or KB_FID_NONE, never adds. Thread-safe. */
kb_fid kb_names_lookup(const kb_names *t, const char *s, size_t len);
/* The NUL-terminated name of id (borrowed, valid while t lives). */
const char *kb_names_str(const kb_names *t, kb_fid id, size_t *len);
size_t kb_names_count(const kb_names *t);
/* A number no other table of this process has had or will have (caches
 * keyed by table use it: a freed table's address may be reused). */
uint64_t kb_names_uid(const kb_names *t);
/* How many interns the cap refused. */
uint64_t kb_names_refused(const kb_names *t);

/* ---- values and fields ------------------------------------------------- */

typedef enum kb_vtype {
    KB_V_NULL,   /* JSON null, Zeek unset marker */
    KB_V_BOOL,   /* val is "true" or "false" */
    KB_V_INT,    /* val is the decimal text */
    KB_V_FLOAT,  /* val is the number text */
    KB_V_STR,    /* val is the decoded string (escapes resolved) */
    KB_V_ARRAY,  /* val is the raw JSON text of the array; elements follow as
                    fields of the same name with KB_FF_ELEM */
    KB_V_OBJECT  /* val is the raw JSON text; only for objects kept whole
                    (the flattener's depth cap) */
} kb_vtype;

enum {
    KB_FF_ELEM = 1,    /* an element of the array field of the same name */
    KB_FF_DERIVED = 2, /* computed by the decoder, not in the record as is */
};

typedef struct kb_field {
    kb_fid name;
    uint8_t type;  /* kb_vtype */
    uint8_t flags; /* KB_FF_* */
    uint16_t elem; /* position within its array when KB_FF_ELEM */
    uint32_t len;
    const char *val; /* not NUL-terminated */
} kb_field;

/* Sigma logsource: pointers to static strings, NULL when unknown. */
typedef struct kb_logsource {
    const char *product;
    const char *category;
    const char *service;
} kb_logsource;

#define KB_CANON_NONE UINT16_MAX
#define KB_EVENT_MAX_FIELDS 4096

typedef struct kb_event {
    const char *raw; /* the record, borrowed */
    uint32_t raw_len;
    uint32_t nfields;
    uint32_t cap;
    kb_field *fields;
    uint16_t canon[KB_F_CANON_COUNT]; /* index into fields, or KB_CANON_NONE */
    int64_t ts;          /* @timestamp, ns UTC; KB_TIME_NONE if the record has none */
    uint64_t offset;     /* byte offset of the record in its (decompressed) source */
    uint64_t line;       /* 1-based line of the record in its source */
    const char *path;    /* source path, borrowed; "-" for stdin */
    const char *format;  /* the decoder's name (static) */
    kb_logsource ls;
    kb_arena *arena; /* where fields and rewritten values live */
    kb_names *names;
} kb_event;

/* Prepares ev to receive fields; names and arena are borrowed. */
void kb_event_init(kb_event *ev, kb_names *names, kb_arena *arena);
/* Forgets the fields for the next record, keeping the field array for
 * reuse. The array lives in the arena: after kb_arena_clear, an event must
 * be prepared again with kb_event_init, not kb_event_clear. */
void kb_event_clear(kb_event *ev);

/* Makes room for n fields (at most KB_EVENT_MAX_FIELDS) in one arena
 * allocation, so that a reader that knows about how many fields its
 * records have does not grow the table by doubling (each doubling leaves
 * the old table in the arena). Returns KB_OK or KB_ENOMEM. */
int kb_event_reserve(kb_event *ev, uint32_t n);
/* Appends a field. Returns its index, or KB_ELIMIT past
 * KB_EVENT_MAX_FIELDS, or KB_ENOMEM when the arena's cap is reached. */
int kb_event_add(kb_event *ev, kb_fid name, kb_vtype type, const char *val, size_t len);
/* The same with the name as text (interned; KB_ELIMIT when the names table
 * is full). */
int kb_event_add_named(kb_event *ev, const char *name, size_t nlen, kb_vtype type,
                       const char *val, size_t len);

/* kb_event_add_named for a name with static storage (a string literal, a
 * static table's entry): its id is cached per thread by the name's
 * address, so the name is hashed once, not once per event. */
int kb_event_add_static(kb_event *ev, const char *name, kb_vtype type, const char *val, size_t len);

/* Points canonical slot c at field index idx (an alias, no copy). */
void kb_event_alias(kb_event *ev, int c, int idx);
/* Adds a field under the canonical name and points slot c at it; the value
 * is borrowed (copy it into ev->arena first if it is transient). Returns the
 * index or a KB_E* code. A later set of the same slot replaces the alias. */
int kb_event_set(kb_event *ev, int c, kb_vtype type, const char *val, size_t len);
/* kb_event_set with a copy of val into the arena. */
int kb_event_set_copy(kb_event *ev, int c, kb_vtype type, const char *val, size_t len);
/* If the raw field `name` is present, aliases canonical slot c to it and
 * returns its index; otherwise returns -1. Does nothing when c is set. */
int kb_event_map(kb_event *ev, int c, const char *name);

/* The canonical field c, or NULL. */
const kb_field *kb_event_canon(const kb_event *ev, int c);
/* The first field with this id (canonical ids resolve through the canonical
 * slots), or NULL. Array elements are found with kb_event_next. */
const kb_field *kb_event_get(const kb_event *ev, kb_fid id);
/* Iterates fields named id: pass NULL to start; returns NULL at the end.
 * For a canonical id returns the canonical field only. */
const kb_field *kb_event_next(const kb_event *ev, kb_fid id, const kb_field *prev);
/* By name; NULL if the name was never interned or the event lacks it. */
const kb_field *kb_event_get_named(const kb_event *ev, const char *name);

/* ---- fast lookups for decoders ------------------------------------------ */

/* A decoder that reads many fields of each event resolves its names once
 * and finds fields through an index instead of a name lookup and a scan
 * per field:
 *
 *     static const char *const names[N] = {"src_ip", ...};
 *     static _Thread_local kb_fid ids[N];
 *     static _Thread_local uint64_t ids_uid;
 *     kb_event_fids(ev->names, names, N, ids, &ids_uid);    (per event: cheap)
 *     kb_event_index(ev);                      (after the record's fields)
 *     i = kb_event_find(ev, ids[SRC_IP]);
 *
 * kb_event_fids interns names[0..n) into ids[0..n) once per names table:
 * *uid remembers which (kb_names_uid), so later calls return at once.
 * Returns KB_OK, or KB_ELIMIT when the table refused a name (its id is
 * KB_FID_NONE, which finds nothing; the next call tries again). */
int kb_event_fids(kb_names *t, const char *const *names, size_t n, kb_fid *ids, uint64_t *uid);

/* Indexes ev's fields by id in this thread's field index (one per thread,
 * a fixed-size table: no allocation). The index follows the event as
 * fields are appended (they are indexed on demand); it is dropped by
 * kb_event_clear/init of ev and replaced by the next kb_event_index on
 * this thread. Fields must not be renamed or removed while it is used. */
void kb_event_index(const kb_event *ev);
/* Index of the first field named id (any type, array elements included),
 * or -1. Constant time when ev is the indexed event; otherwise a scan, so
 * a result is always right. Unlike kb_event_get, canonical ids are not
 * resolved through the canonical slots: a field named so is found. */
int kb_event_find(const kb_event *ev, kb_fid id);
/* Index of the first field named id whose type is in `types` (a mask of
 * 1u << kb_vtype) and that is an array element only when `elems`, or -1.
 * Usually the first field of the name qualifies; otherwise the scan goes
 * on from there. */
int kb_event_find_typed(const kb_event *ev, kb_fid id, unsigned types, int elems);

#endif
