/* Internal to src/ingest: key=value scanning and the pieces CEF (cef.c) and
 * LEEF (leef.c) share: escapes, free-form device timestamps, and the
 * mapping of their extension keys onto canonical fields.
 *
 * Values are slices of the record; a value is copied (unescaped) into
 * ev->arena only when it holds an escape sequence. */
#ifndef KB_INGEST_KV_H
#define KB_INGEST_KV_H

#include "ingest/decoders.h"

/* Longest extension key accepted; longer runs are not keys (their text
 * stays part of the value before them). */
#define KB_KV_KEY_MAX 256

/* Field slots kept free of raw pairs for labels and derived fields. */
#define KB_KV_RESERVE 128

/* Escape dialects. */
enum {
    KB_KV_ESC_CEF_HDR, /* \| and \\ */
    KB_KV_ESC_CEF_EXT, /* \= \\ \n \r (others are kept verbatim, as ArcSight does) */
    KB_KV_ESC_LEEF     /* \= \\ and \<delimiter>; \n etc. kept (Windows paths) */
};

/* Length of a CEF extension key at p that is followed by '=', or 0. The
 * key shape is Logstash's: \w+ (\.[^.=\s|\\[\]]+)* (\[[0-9]+\])? */
size_t kb_kv_cef_key(const char *p, size_t len);

/* Resolves escapes of `mode` in p[0..len). Returns the slice itself when it
 * holds none, otherwise a copy in ev->arena. KB_OK or KB_ENOMEM. */
int kb_kv_unescape(kb_event *ev, const char *p, size_t len, int mode, char delim, kb_str *out);

/* Adds each pair of a CEF-style extension ("k1=v 1 k2=v2": a value runs to
 * the whitespace before the next key=) as a raw string field named by its
 * key. Returns KB_OK, KB_EPARSE with *err when text precedes the first key,
 * KB_ENOMEM. Pairs past the event's field cap are dropped. */
int kb_kv_add_spaced(kb_event *ev, const char *p, size_t len, int mode, const char **err);

/* Adds each pair of a delimiter-separated attribute list (LEEF). Pieces
 * without '=' are skipped. A '|' directly followed by "key=" also ends a
 * pair (a common LEEF 1.0 quirk of CyberArk and others). Returns KB_OK or
 * KB_ENOMEM. */
int kb_kv_add_delimited(kb_event *ev, const char *p, size_t len, char delim);

/* Parses a device timestamp: epoch seconds or milliseconds, ISO 8601, or
 * the ArcSight/LEEF text forms "MMM dd yyyy HH:mm:ss[.SSS] [zone]",
 * "MMM dd HH:mm:ss" (year inferred from ref), "dd MMMM yyyy HH:mm:ss",
 * "Oct 26, 2025 at 7:59:41.239 PM". Zones: Z, UTC, GMT, +hh:mm, +hhmm,
 * GMT+hh:mm and the US/European abbreviations; a named Olson zone is not
 * understood (KB_EPARSE). */
int kb_kv_parse_time(const char *s, size_t len, int64_t ref, int64_t *out);

/* Parses s with a Java SimpleDateFormat pattern (LEEF devTimeFormat):
 * y M d H h k m s S a z Z X E and 'quoted' text. S takes every digit
 * present. A pattern without a year infers it from ref. */
int kb_kv_parse_time_fmt(const char *s, size_t len, const char *fmt, size_t flen, int64_t ref,
                         int64_t *out);

/* The id of the name k[0..n) through a per-thread cache of the names
 * records use: interned when `add`, else looked up (KB_FID_NONE when the
 * table lacks it, or is full and `add`). Bound to t by its uid. */
kb_fid kb_kv_name_id(kb_names *t, const char *k, size_t n, int add);
/* Index of the first field at or after `from` named `name` with a
 * non-empty value, or -1. */
int kb_kv_find(const kb_event *ev, uint32_t from, const char *name);
/* kb_kv_find for a name with static storage (a literal, a static table's
 * entry): its id is cached per thread by its address. Constant time when
 * ev is indexed (kb_event_index). */
int kb_kv_find_static(const kb_event *ev, uint32_t from, const char *name);

/* One row of a key -> canonical mapping: the first non-empty key wins. */
typedef struct kb_kv_map {
    int canon;
    const char *keys[6];
} kb_kv_map;

/* Applies the rows (terminated by canon -1) to fields from `from` on, then
 * the derived mappings shared by CEF and LEEF: url.domain from url.full,
 * network.transport (lower case, IANA numbers 1/6/17/58 named),
 * network.protocol lower-cased, event.outcome normalised to
 * success/failure, file.hash.* by the length of `hash_keys` values.
 * KB_OK or KB_ENOMEM. */
int kb_kv_apply(kb_event *ev, uint32_t from, const kb_kv_map *rows,
                const char *const *transport_keys,
                const char *const *protocol_keys, const char *const *outcome_keys,
                const char *const *hash_keys);

/* Sets event.severity from a 0-10 number (leading digits of s) or the
 * ArcSight words Low (3), Medium (6), High (8), Very-High (10). */
int kb_kv_severity(kb_event *ev, const char *s, size_t len);

/* Sets observer.product to "vendor product" (either may be empty). */
int kb_kv_observer(kb_event *ev, kb_str vendor, kb_str product);

/* Sigma logsource category from words in the device product, the event
 * category and name: firewall, proxy, antivirus, or NULL. */
const char *kb_kv_category(kb_str product, kb_str cat, kb_str name);

/* Where a CEF/LEEF marker, tag[0..tlen) ("CEF:" or "LEEF:") followed by a digit
 * (up to four spaces may come between, as in "CEF: 0"), starts in the line:
 * at its start or after a space or '>', beginning within its first `limit`
 * bytes. NULL if nowhere. */
const char *kb_kv_find_marker(const char *line, size_t len, size_t limit, const char *tag,
                              size_t tlen);

/* Handles what precedes a CEF/LEEF marker at line[body]: a syslog header
 * when kb_syslog_parse reads one (header slices that reach into the body,
 * such as a "CEF:" read as the tag, are dropped), else the text is kept as
 * syslog.header and a leading timestamp word becomes syslog.timestamp and
 * the event's time. Clears ctx->err. KB_OK or KB_ENOMEM / KB_ELIMIT. */
int kb_kv_syslog_prefix(kb_decode_ctx *ctx, const char *line, size_t len, size_t body,
                        kb_event *ev);

#endif
