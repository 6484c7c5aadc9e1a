/* koban threat intelligence: indicators, their normalisation, the compact
 * in-memory matcher, feeds in (STIX 2.1, MISP, CSV/lists, TAXII 2.1) and
 * exports out (STIX, MISP, CSV, nftables, IP/domain lists, RPZ, Suricata).
 *
 * Life of an indicator:
 *   feed file / URL --kb_intel_load_*--> kb_intel_sink (normalises, rejects
 *   with a reason) --> kb_intel_store_put (rows in the store, one per
 *   kind+value+feed) --> kb_intel_matcher_load (compact, read-only tables)
 *   --> kb_intel_match per event, from any number of threads.
 *
 * Values are kept normalised (kb_intel_normalize) so that the same indicator
 * from several feeds is one key with several sources. */
#ifndef KB_INTEL_H
#define KB_INTEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "event/event.h"

struct kb_store;

/* ---- kinds ---------------------------------------------------------------- */

/* X(ENUM, "name"). ip covers IPv4 and IPv6 addresses; cidr their ranges
 * (longest-prefix match); domain is exact, "*.example.com" (kind domain)
 * matches example.com's subdomains and example.com itself. */
#define KB_IOC_KIND_MAP(X)                                                 \
    X(IP, "ip") X(CIDR, "cidr") X(DOMAIN, "domain") X(URL, "url")          \
    X(MD5, "md5") X(SHA1, "sha1") X(SHA256, "sha256") X(EMAIL, "email")    \
    X(FILENAME, "filename") X(JA3, "ja3") X(JA4, "ja4") X(UA, "user-agent")
enum {
#define KB_IOC_ENUM(e, s) KB_IOC_##e,
    KB_IOC_KIND_MAP(KB_IOC_ENUM)
#undef KB_IOC_ENUM
    KB_IOC_COUNT
};
/* "ip", ... ; "?" out of range. */
const char *kb_intel_kind_name(int kind);
/* Kind for a name (also "ipv4", "ipv6", "hostname", "sha-256", "sha-1",
 * "email-addr", "file", "ua"), or -1. Case-insensitive. */
int kb_intel_kind_find(const char *s, size_t len);

/* Normalises a value into out (cleared first, NUL-terminated):
 *   ip      inet_ntop form (IPv4-mapped IPv6 becomes IPv4)
 *   cidr    network address with host bits cleared + "/len"; a /32 (/128)
 *           becomes kind ip
 *   domain  lower case, no trailing dot, labels checked; "*." prefix kept
 *   url     scheme and host lower case (trailing dots dropped), default
 *           port dropped, %XX of unreserved characters decoded and other
 *           escapes upper-cased, a '%' that starts no escape, spaces and
 *           controls escaped, empty path "/", fragment dropped
 * Normalising a normalised value gives it back (checked by the fuzzers).
 *   hashes, ja3  lower-case hex of the exact length
 *   email   lower case, one '@', a valid domain
 *   filename  the last path component, ASCII lower case
 *   ja4, user-agent  trimmed (ja4 lower case)
 * kind: the expected kind, or -1 to guess (ip/cidr, hashes by length,
 * email, url, domain; never ja3/ja4/filename/user-agent). On success
 * returns KB_OK and sets *kind_out; otherwise KB_EINVAL and *reason (static
 * text). */
int kb_intel_normalize(int kind, const char *s, size_t len, kb_buf *out, int *kind_out,
                       const char **reason);

/* ---- indicators ------------------------------------------------------------ */

/* One indicator from one feed. Strings are borrowed (NULL: unknown). Times
 * are ns since the epoch or KB_TIME_NONE. */
typedef struct kb_indicator {
    int kind;
    const char *value;   /* normalised */
    const char *feed;
    int confidence;      /* 0-100, -1 unknown */
    const char *threat;  /* c2, malware-download, phishing, scanner, exploit, ... */
    int64_t first_seen;
    int64_t last_seen;
    int64_t valid_until; /* past it the indicator is expired: no match */
    const char *tags;    /* comma-separated */
    const char *ref;     /* source object id, URL, incident:ID */
    const char *desc;
} kb_indicator;

/* Alert level from confidence and threat type: "critical" (>= 90 and c2,
 * ransomware or exploit), "high" (>= 75, or >= 50 with such a threat),
 * "medium" (>= 50 or unknown), "low" (below 50). Static strings. */
const char *kb_intel_level(int confidence, const char *threat);

/* ---- feeds: loaders write into a sink --------------------------------------- */

/* Receives what a loader finds. kb_intel_sink_add normalises the value,
 * fills unset metadata from the sink's defaults and calls `add`; a value
 * that does not normalise is passed to `reject` with `where` (for example
 * "objects[3] (indicator--...)") and the reason. Counters are kept here. */
typedef struct kb_intel_sink {
    int (*add)(void *ud, const kb_indicator *ind);
    void (*reject)(void *ud, const char *where, const char *reason);
    void *ud;
    const char *feed;     /* default feed name */
    int confidence;       /* default confidence (-1 none) */
    const char *threat;   /* default threat type */
    int misp_all;         /* MISP: also attributes with to_ids false */
    uint64_t added, rejected, skipped;
    kb_buf tmp;           /* normalisation scratch (init with cap 0) */
} kb_intel_sink;

void kb_intel_sink_init(kb_intel_sink *s);
void kb_intel_sink_release(kb_intel_sink *s);
/* kind: expected kind or -1 to guess. meta may be NULL; its value and kind
 * are ignored. Returns KB_OK (added or rejected) or the add callback's
 * error. */
int kb_intel_sink_add(kb_intel_sink *s, int kind, const char *v, size_t len,
                      const kb_indicator *meta, const char *where);
void kb_intel_sink_reject(kb_intel_sink *s, const char *where, const char *reason);

/* Loaders. buf is the whole file. A file that is not of the format gives
 * KB_EFORMAT with *err set (static or copied text in the sink's tmp),
 * objects that are malformed are rejected one by one through the sink, the
 * rest imported. No recursion depends on the input (jansson's own depth
 * cap applies to JSON). */
int kb_intel_load_stix(kb_intel_sink *s, const char *buf, size_t len, const char **err);
int kb_intel_load_misp(kb_intel_sink *s, const char *buf, size_t len, const char **err);
/* A MISP feed directory: manifest.json and <uuid>.json per event. An event
 * file that is missing or broken is rejected with its path; hashes.csv is
 * checked for its layout (md5,event_uuid) and reported when reversed. */
int kb_intel_load_misp_dir(kb_intel_sink *s, const char *dir, const char **err);
/* CSV or a plain list. columns: NULL to read a header ("#ip,ioc",
 * "md5,sha1,sha256", "first_seen_utc,ioc_value,ioc_type,...") or take the
 * first column; otherwise a comma-separated role per column: value, kind,
 * threat, confidence, first_seen, last_seen, valid_until, tags, ref, desc,
 * or "-" (ignored); a role "md5" (any kind name) is a value of that kind.
 * '#' lines are comments (a first '#' line that names columns is a header). */
int kb_intel_load_csv(kb_intel_sink *s, const char *buf, size_t len, const char *columns,
                      const char **err);
/* ThreatFox API answers ({"data":[...]} or one IOC object) and CrowdSec
 * JSON lists ({"items":[{"ip":...}]}). */
int kb_intel_load_json_list(kb_intel_sink *s, const char *buf, size_t len, const char **err);

/* Guesses the format of a file from its first bytes and name: "stix",
 * "misp", "json" (ThreatFox/CrowdSec), "csv" or "list". */
const char *kb_intel_sniff(const char *name, const char *buf, size_t len);

/* ---- persistence (tables intel_* in the store) ------------------------------ */

/* Creates or migrates the intel tables (module "intel" of
 * kb_store_migrate_module; idempotent); call once after opening the store,
 * before the other functions. Returns KB_OK or KB_EIO with the store's
 * message set (also for tables of a newer koban). */
int kb_intel_store_init(struct kb_store *st);
/* Whether the store holds intel tables, without creating them: 1 when they
 * are at this koban's version, 0 when there are none (nothing to read), or
 * a KB_E* code when they are older and migrating them failed (a store
 * opened read-only cannot migrate). For readers such as `koban scan`. */
int kb_intel_store_ready(struct kb_store *st);
/* Inserts or updates (kind, value, feed): metadata replaced, `added`
 * (first import time) kept, so importing a feed twice changes nothing.
 * *is_new (may be NULL) is set when the row did not exist. */
int kb_intel_store_put(struct kb_store *st, const kb_indicator *ind, int64_t now, int *is_new);
/* Calls fn per stored indicator (kind, value, feed order); value_or_null
 * restricts to one normalised value; since: only rows added at or after
 * it (KB_TIME_NONE: all). fn's non-zero return stops and is returned. */
typedef int (*kb_intel_each_fn)(void *ud, const kb_indicator *ind, int64_t added);
int kb_intel_store_each(struct kb_store *st, const char *value_or_null, int64_t since,
                        kb_intel_each_fn fn, void *ud);
/* Records a feed import (name, format, source, count) / reads feeds. */
int kb_intel_store_feed(struct kb_store *st, const char *name, const char *format,
                        const char *source, uint64_t count, int64_t now);
/* Small key/value state (last hunt time, TAXII added_after). get returns
 * dflt when missing. */
int kb_intel_state_set(struct kb_store *st, const char *key, const char *val);
int kb_intel_state_get(struct kb_store *st, const char *key, kb_buf *out);

/* ---- the matcher ------------------------------------------------------------ */

/* Compact read-only tables: open addressing keyed by kind+value (exact
 * IPv4 addresses in 16-byte slots, digests by their first 64 bits with the
 * rest in a side array, other kinds by a string hash), a Bloom filter in
 * front of the address and digest tables, per-prefix-length tables for
 * CIDR ranges (longest prefix first) gated by /16 and /24 block bitmaps,
 * wildcard domains under their suffix. Each slot summarises its chain
 * (count, allowlisted, needs an expiry check) so that most lookups never
 * read an indicator record. One key holds every feed's indicator. Built
 * once, then shared by any number of threads without locks. */
typedef struct kb_intel_matcher kb_intel_matcher;

/* Empty matcher; add indicators, then kb_intel_matcher_seal. Indicators
 * whose valid_until is before `now` are skipped (and counted); with
 * KB_TIME_NONE none is, and the time of each event decides (see
 * kb_intel_match). Strings are copied. */
kb_intel_matcher *kb_intel_matcher_new(int64_t now);
void kb_intel_matcher_free(kb_intel_matcher *m);
/* ind->value must be normalised (kb_intel_normalize). KB_OK, KB_EINVAL for a
 * value that does not parse as its kind, KB_ENOMEM. */
int kb_intel_matcher_add(kb_intel_matcher *m, const kb_indicator *ind);
/* The allowlist: values, CIDRs and domains ("*.corp.example" for a whole
 * zone) that never alert. Normalised here; KB_EINVAL + reason if not. */
int kb_intel_matcher_allow(kb_intel_matcher *m, const char *v, size_t len, const char **reason);
/* Builds the lookup tables; after it the matcher is read-only. */
int kb_intel_matcher_seal(kb_intel_matcher *m);
/* Loads every unexpired indicator of the store into a new sealed matcher
 * (allowlist entries from `allow`, n of them, may be 0). NULL on error with
 * a message in errbuf. */
kb_intel_matcher *kb_intel_matcher_from_store(struct kb_store *st, int64_t now,
                                              const char *const *allow, size_t nallow,
                                              char *errbuf, size_t errsize);

typedef struct kb_intel_matcher_stats {
    uint64_t indicators; /* added (one per feed) */
    uint64_t keys;       /* distinct kind+value */
    uint64_t expired;    /* skipped at add */
    uint64_t allow;      /* allowlist entries */
    size_t bytes;        /* memory held */
} kb_intel_matcher_stats;
void kb_intel_matcher_stats_get(const kb_intel_matcher *m, kb_intel_matcher_stats *s);

/* A hit: one indicator (one feed) on one field of the event. Everything is
 * borrowed for the duration of the callback; ind's strings live as long as
 * the matcher. */
typedef struct kb_intel_hit {
    const kb_indicator *ind;
    int field;           /* canonical field (KB_F_*), or -1 for a raw field */
    const char *fname;   /* the field's name */
    const char *val;     /* the event's value, as written */
    size_t len;
    const char *level;   /* kb_intel_level(ind) */
} kb_intel_hit;
typedef int (*kb_intel_hit_fn)(void *ud, const kb_intel_hit *hit);

/* Counters the caller owns (one per thread; add them up at the end). */
typedef struct kb_intel_match_counts {
    uint64_t lookups;
    uint64_t hits;
    uint64_t suppressed; /* hits on allowlisted values */
} kb_intel_match_counts;

/* Looks up the event's source/destination/host addresses, url.full,
 * url.domain and dns.question.name (and their parent domains for wildcard
 * indicators), file hashes, file.name, user_agent.original, user.name when
 * it is an e-mail address, and when the matcher holds such kinds the raw
 * fields tls.sni / ssl server_name, tls.ja3(s).hash / ja3 / ja4. Calls fn
 * per hit (a value found in two fields hits once; fn's non-zero return
 * stops). An indicator whose valid_until is before the event's @timestamp
 * (ev->ts, when set) does not match: a longer-lived shorter prefix or
 * wildcard may then. Never allocates; safe from many threads on one sealed matcher.
 * Returns KB_OK, fn's non-zero return, or KB_EINVAL before seal; counts
 * (may be NULL) are incremented. */
int kb_intel_match(const kb_intel_matcher *m, const kb_event *ev, kb_intel_hit_fn fn, void *ud,
                   kb_intel_match_counts *counts);

/* Exact lookups for one value (any kind; normalised on the fly, parents
 * and ranges included). Calls fn per indicator; returns hits, or -1 when
 * a hit was suppressed by the allowlist (an allowlisted value that no
 * indicator covers returns 0). For tools, tests and benchmarks. Same
 * thread-safety as kb_intel_match. */
int kb_intel_lookup(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                    kb_intel_hit_fn fn, void *ud);
/* The hot-path primitives, exposed for the benchmark: an address in
 * network order (4 or 16 bytes) and a hex digest. Return hits. */
int kb_intel_lookup_ip(const kb_intel_matcher *m, const uint8_t *addr, int is_v6,
                       kb_intel_hit_fn fn, void *ud);
int kb_intel_lookup_hash(const kb_intel_matcher *m, const char *hex, size_t len,
                         kb_intel_hit_fn fn, void *ud);
/* Whether an IPv4 address (host byte order) may hit: 0 when no indicator,
 * range or allowlist entry holds it (the common case, decided by the
 * range bitmaps, the Bloom filter and at most a probe), non-zero when a
 * full lookup must decide. No callback, no reporting: a prefilter for
 * callers that confirm candidates themselves (koban scan). */
int kb_intel_ip4_may(const kb_intel_matcher *m, uint32_t a4);

/* ---- batches ------------------------------------------------------------------
 *
 * The same answers as the single lookups, for many keys at once: the cache
 * misses of a batch's keys are issued together (software prefetch of filter
 * words, slots, records and values) and overlap, which is several times
 * faster than one key after another when the tables do not fit in the
 * cache. Use them where keys come in groups (a block of decoded events, a
 * re-hunt over stored history). Same thread-safety as kb_intel_match.
 *
 * at: the time the keys were seen (ns; an event's @timestamp): indicators
 * whose valid_until is before it do not count. KB_TIME_NONE: no check
 * (what the single lookups do; the matcher's `now` applies to both).
 * out[i] receives what the single lookup returns for key i: the number of
 * indicators, 0, or -1 when the allowlist suppressed a hit. Return KB_OK,
 * or KB_EINVAL before seal. */

/* n IPv4 addresses, 4 bytes each in network order, back to back. */
int kb_intel_lookup_ip4_batch(const kb_intel_matcher *m, const uint8_t *addrs, size_t n,
                              int64_t at, int *out);
/* n addresses of 16 bytes each (IPv6, or IPv4-mapped ::ffff:a.b.c.d). */
int kb_intel_lookup_ip_batch(const kb_intel_matcher *m, const uint8_t *addrs, size_t n,
                             int64_t at, int *out);
/* n hex digests (MD5, SHA-1, SHA-256 by length; either case). */
int kb_intel_lookup_hash_batch(const kb_intel_matcher *m, const char *const *hex,
                               const size_t *lens, size_t n, int64_t at, int *out);
/* kb_intel_match over n events (each at its own @timestamp): fn receives
 * the event's index in evs with each hit, in event order. Returns KB_OK,
 * fn's non-zero return (which stops the batch), or KB_EINVAL. */
typedef int (*kb_intel_batch_hit_fn)(void *ud, size_t idx, const kb_intel_hit *hit);
int kb_intel_match_batch(const kb_intel_matcher *m, const kb_event *const *evs, size_t n,
                         kb_intel_batch_hit_fn fn, void *ud, kb_intel_match_counts *counts);

/* ---- exports ----------------------------------------------------------------- */

/* Export formats: "stix", "misp", "csv", "nft", "iplist", "domainlist",
 * "rpz", "suricata". */
typedef struct kb_intel_export_opts {
    const char *format;
    const char *name;        /* nft set / RPZ zone / MISP event info */
    uint32_t sid_base;       /* first Suricata sid (default 9100000) */
    uint32_t sid_max;        /* last usable sid (default sid_base + 999999) */
    int64_t now;
} kb_intel_export_opts;
typedef struct kb_intel_exporter kb_intel_exporter;
/* Returns NULL with *err for an unknown format. */
kb_intel_exporter *kb_intel_export_begin(FILE *f, const kb_intel_export_opts *o,
                                         const char **err);
/* Writes one indicator (kinds a format cannot carry are counted, not
 * written). The deployable forms (nft, lists, rpz, suricata) write a value
 * once when consecutive rows repeat it (kb_intel_store_each's order: one
 * row per feed). KB_ELIMIT when the sid range is exhausted. */
int kb_intel_export_add(kb_intel_exporter *x, const kb_indicator *ind);
/* Finishes the document; returns KB_OK and frees x. *written / *skipped
 * (may be NULL) receive the counts. */
int kb_intel_export_end(kb_intel_exporter *x, uint64_t *written, uint64_t *skipped);

/* ---- TAXII 2.1 ---------------------------------------------------------------- */

/* Pulls the objects of a collection URL (".../collections/ID/"), following
 * `more`/`next` pages, with added_after when not NULL; each page's STIX
 * objects go to kb_intel_load_stix. *last_added receives the newest
 * X-TAXII-Date-Added-Last (or the envelope's) for the next pull (caller
 * frees). KB_EIO with *err on transport errors. */
int kb_intel_taxii_pull(kb_intel_sink *s, const char *url, const char *added_after,
                        const char *user, const char *password, char **last_added,
                        char *err, size_t errsize);
/* GETs a URL into b (cap applies). For `intel import URL`. */
int kb_intel_fetch(const char *url, kb_buf *b, char *err, size_t errsize);

#endif
