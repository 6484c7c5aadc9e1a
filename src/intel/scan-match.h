/* Indicator matching for `koban scan`: a sealed kb_intel_matcher plus what
 * the per-event path needs to stay cheap, all decided once at setup:
 *
 *   - which kinds have any indicator (a kind without one costs nothing);
 *   - the raw field ids to read (tls.sni, ja3, e-mail addresses, ...),
 *     interned once, found in one pass over the event's fields;
 *   - a prefilter of 64-bit hashes over the string kinds (domains and
 *     wildcard suffixes, URL hosts, e-mail addresses, file names, user
 *     agents, JA3/JA4): a candidate value is normalised and looked up in the
 *     matcher only when its hash is in the set, so URL normalisation runs
 *     only for URLs whose host carries a URL indicator;
 *   - IPv4 addresses parsed by hand (no inet_pton; IPv6 goes the slow way).
 *
 * Nothing is allocated per event. One kb_intel_scan is shared read-only by
 * every scanning thread; counters belong to the caller (one per thread). */
#ifndef KB_INTEL_SCAN_MATCH_H
#define KB_INTEL_SCAN_MATCH_H

#include "intel/intel.h"

typedef struct kb_intel_scan kb_intel_scan;

/* Empty; add indicators and allowlist entries, then seal. */
kb_intel_scan *kb_intel_scan_new(int64_t now);
void kb_intel_scan_free(kb_intel_scan *s);
/* As kb_intel_matcher_add (ind->value normalised). */
int kb_intel_scan_add(kb_intel_scan *s, const kb_indicator *ind);
/* As kb_intel_matcher_allow. */
int kb_intel_scan_allow(kb_intel_scan *s, const char *v, size_t len, const char **reason);
/* Builds the tables and resolves the raw field names in `names` (the
 * table the scan's events use). */
int kb_intel_scan_seal(kb_intel_scan *s, kb_names *names);
/* Every unexpired indicator of the store, the allowlist, sealed. The store
 * is only read (no intel tables: no indicators; see kb_intel_store_ready),
 * so it may be opened with kb_store_open_ro. NULL with a message in errbuf
 * on error. */
kb_intel_scan *kb_intel_scan_from_store(struct kb_store *st, int64_t now,
                                        const char *const *allow, size_t nallow,
                                        kb_names *names, char *errbuf, size_t errsize);

/* Indicators loaded (one per feed and value). */
uint64_t kb_intel_scan_indicators(const kb_intel_scan *s);
const kb_intel_matcher *kb_intel_scan_matcher(const kb_intel_scan *s);

/* Looks up the event's source, destination and host addresses, url.full
 * (by its host first), url.domain, dns.question.name, tls.sni /
 * server_name (and their parent domains for wildcard indicators), file
 * hashes, file.name and the last component of file.path, e-mail addresses
 * (user.name with an '@', email.from/to.address), user_agent.original and
 * JA3/JA4 fields. fn is called per hit with field/fname/val/len naming
 * the event's field (a value found in two fields of the same class hits
 * once); fn's non-zero return stops. Allowlisted hits are not reported but
 * counted in counts->suppressed. A value that may hit (the prefilter or a
 * single lookup says so) is decided by kb_intel_match itself, over an event
 * of that one field at ev->ts: the same hits, the same expiry by event
 * time, the same leniency. Returns KB_OK or fn's non-zero return. */
int kb_intel_scan_match(const kb_intel_scan *s, const kb_event *ev, kb_intel_hit_fn fn, void *ud,
                        kb_intel_match_counts *counts);

#endif
