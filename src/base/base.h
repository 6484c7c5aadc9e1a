/* koban base: result codes, logging, arenas, growable buffers, time.
 *
 * Everything here is free of koban's other modules and of global state
 * (the log threshold is per-process configuration, set once by main). */
#ifndef KB_BASE_H
#define KB_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- result codes ------------------------------------------------------ */

/* One table generates the enum and kb_strerror() (libuv's error map). */
#define KB_ERRNO_MAP(X)                                    \
    X(OK, 0, "success")                                    \
    X(ENOMEM, -1, "out of memory")                         \
    X(EIO, -2, "input/output error")                       \
    X(EPARSE, -3, "parse error")                           \
    X(EINVAL, -4, "invalid argument")                      \
    X(ENOENT, -5, "not found")                             \
    X(ELIMIT, -6, "limit exceeded")                        \
    X(EFORMAT, -7, "unrecognised format")                  \
    X(EUSAGE, -8, "usage error")                           \
    X(EEXIST, -9, "already exists")                        \
    X(ESKIP, -10, "not a record (header or comment)")

enum {
#define KB_ERRNO_ENUM(name, val, msg) KB_##name = (val),
    KB_ERRNO_MAP(KB_ERRNO_ENUM)
#undef KB_ERRNO_ENUM
};

/* Returns a static message for a KB_* code, "unknown error" otherwise. */
const char *kb_strerror(int code);

/* ---- logging ----------------------------------------------------------- */

enum { KB_LOG_ERROR, KB_LOG_WARN, KB_LOG_INFO, KB_LOG_DEBUG };

/* Lines "koban: <level>: message" on stderr. Messages above the threshold
 * (default KB_LOG_WARN) are dropped. Thread-safe: one write per line. */
void kb_log_set_level(int level);
int kb_log_level(void);
void kb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- memory ------------------------------------------------------------ */

/* Allocation wrappers: NULL on failure like their libc namesakes; kb_free
 * accepts NULL. */
void *kb_malloc(size_t n);
void *kb_calloc(size_t n, size_t size);
void *kb_realloc(void *p, size_t n);
void kb_free(void *p);
char *kb_strndup(const char *s, size_t n);
char *kb_strdup(const char *s);

/* Grows the array *p, *cap elements of size bytes each, so that it holds at
 * least need elements: the capacity doubles, from first when the array is
 * still empty, until need fits. The old contents are kept (kb_realloc; free
 * the array with kb_free). Returns KB_OK (also when *cap already holds need)
 * or KB_ENOMEM when memory runs out or need * size would not fit in a
 * size_t; on error *p and *cap are left unchanged. Where it runs per record,
 * test n == cap first so the call is made only when the array is full. */
int kb_grow(void **p, size_t *cap, size_t need, size_t size, size_t first);

/* Arena: bump allocation in chunks, released all at once. Used per batch so
 * that decoding allocates nothing per event once warm. kb_arena_clear keeps
 * the first chunk for reuse and frees the rest. An arena has a byte cap;
 * past it kb_arena_alloc returns NULL (the caller rejects the record that
 * asked, it does not abort). */
typedef struct kb_arena kb_arena;

kb_arena *kb_arena_new(size_t chunk_size, size_t cap);
void kb_arena_free(kb_arena *a);
void kb_arena_clear(kb_arena *a);
/* 16-byte aligned, uninitialised. */
void *kb_arena_alloc(kb_arena *a, size_t n);
/* Copies n bytes and appends a NUL. */
char *kb_arena_strndup(kb_arena *a, const char *s, size_t n);
size_t kb_arena_used(const kb_arena *a);

/* Growable byte buffer with a cap (curl's dynbuf). Caller-owned struct:
 * kb_buf_init / kb_buf_release. Appends fail with KB_ELIMIT at the cap and
 * KB_ENOMEM when memory runs out; the contents stay valid either way. The
 * data is always NUL-terminated after len. */
typedef struct kb_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
} kb_buf;

void kb_buf_init(kb_buf *b, size_t cap);
void kb_buf_release(kb_buf *b);
void kb_buf_clear(kb_buf *b);
int kb_buf_reserve(kb_buf *b, size_t extra);
int kb_buf_append(kb_buf *b, const void *p, size_t n);
int kb_buf_putc(kb_buf *b, char c);
int kb_buf_puts(kb_buf *b, const char *s);
int kb_buf_printf(kb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kb_buf_vprintf(kb_buf *b, const char *fmt, va_list ap);

/* ---- strings ----------------------------------------------------------- */

/* A borrowed, not NUL-terminated slice. */
typedef struct kb_str {
    const char *p;
    size_t len;
} kb_str;

int kb_str_eq(const char *a, size_t alen, const char *b, size_t blen);
int kb_str_eqz(const char *a, size_t alen, const char *z);       /* z: C string */
int kb_str_ieqz(const char *a, size_t alen, const char *z);      /* ASCII case-insensitive */
int kb_str_has_prefix(const char *s, size_t len, const char *prefix);
const char *kb_memmem(const char *h, size_t hlen, const char *n, size_t nlen);
/* The offset of a path's last component (after the last '/' or '\\'). */
size_t kb_path_base(const char *s, size_t len);

/* Bounded integer parsing: the whole slice must be an optionally signed
 * decimal number that fits. Returns KB_OK or KB_EPARSE / KB_ELIMIT. */
int kb_parse_i64(const char *s, size_t len, int64_t *out);
int kb_parse_u64(const char *s, size_t len, uint64_t *out);

/* 64-bit FNV-1a, for hash tables over short keys. */
uint64_t kb_hash(const void *p, size_t n);

/* Length of the longest prefix of s that is valid UTF-8. */
size_t kb_utf8_valid_prefix(const char *s, size_t len);

/* ---- time -------------------------------------------------------------- */

/* Timestamps are int64 nanoseconds since 1970-01-01T00:00:00Z. */
#define KB_TIME_NONE INT64_MIN
#define KB_NS_PER_SEC INT64_C(1000000000)

/* Days since the epoch for a proleptic Gregorian date (no range checks). */
int64_t kb_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The reverse. */
void kb_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* Builds a time from broken-down UTC fields after range-checking them
 * (month 1-12, day within month, leap years, 0-23/0-59/0-60). KB_EPARSE if
 * out of range. */
int kb_time_make(int y, int mon, int day, int h, int min, int sec, int64_t nsec, int64_t *out);

/* Parses ISO 8601 / RFC 3339 date-times as logs write them:
 * "2022-07-12T06:22:33.415742+0000", "...Z", "...+02:00", a space instead of
 * 'T', 0-9 fraction digits, no zone (taken as UTC). The whole slice must be
 * consumed. */
int kb_time_parse_iso8601(const char *s, size_t len, int64_t *out);

/* Parses "1320279554.496300" (seconds with fraction) or integer seconds.
 * 13, 16 and 19 integer digits are read as milli-, micro- and nanoseconds;
 * 11, 12, 14, 15, 17, 18 digits are refused as ambiguous. */
int kb_time_parse_epoch(const char *s, size_t len, int64_t *out);

/* "Jan".."Dec" (case-insensitive, 3 letters) to 1..12, 0 if none. */
int kb_month_from_abbr(const char *s, size_t len);

/* Infers the year of a timestamp written without one (RFC 3164): the year
 * that puts month/day closest before `ref` (allowing one day of clock skew
 * into the future), so December lines read in January land last year. */
int kb_time_infer_year(int mon, int day, int64_t ref);

/* Formats as RFC 3339 UTC with 9 fraction digits ("2022-07-12T06:22:33.415742000Z")
 * into buf (at least 32 bytes); returns the length. */
size_t kb_time_format(int64_t t, char *buf, size_t size);

/* Current wall-clock time. */
int64_t kb_time_now(void);

#endif
