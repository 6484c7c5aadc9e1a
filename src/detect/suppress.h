/* koban suppression and thresholds: the role Suricata's threshold.config
 * plays for signatures, for any rule or indicator feed.
 *
 * An entry names a rule (its id, its title, `intel:FEED` for an indicator
 * feed, or `*` for all) and does one of three things:
 *   - suppress: drop the rule's alerts whose source, destination, host or
 *     user is `value` (an address, a CIDR, a host or a user name; no value:
 *     every alert of the rule);
 *   - limit: at most one alert per key (the source, destination, host or
 *     user value) per `window`;
 *   - level: replace the rule's level.
 * Entries come from the configuration (`suppress:` in koban.yaml) and from
 * analyst exceptions (`koban tune except add`, kept in the store with a
 * reason, an author and an expiry). Nothing vanishes: a caller flags and
 * counts what kb_suppress_check drops; it does not delete it.
 *
 * Memory: the rate-limit memory is a fixed table of `cache` keys (direct
 * mapped). A key that collides with another overwrites it (policy
 * "overwrite", counted): the worst case is one alert too many, never one
 * suppressed by mistake.
 *
 * Threading: one kb_suppress per thread (kb_suppress_check updates the
 * rate-limit table). */
#ifndef KB_SUPPRESS_H
#define KB_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum { KB_SUP_SUPPRESS, KB_SUP_LIMIT, KB_SUP_LEVEL, KB_SUP_TYPE_COUNT };
/* The alert value an entry keys on. */
enum { KB_SUP_BY_NONE, KB_SUP_BY_SOURCE, KB_SUP_BY_DESTINATION, KB_SUP_BY_HOST, KB_SUP_BY_USER,
       KB_SUP_BY_COUNT };

/* "suppress", "limit", "level"; and "source", "destination", "host", "user". */
const char *kb_suppress_type_name(int type);
int kb_suppress_type_parse(const char *s);
const char *kb_suppress_by_name(int by);
int kb_suppress_by_parse(const char *s);

typedef struct kb_suppress_entry {
    int type;            /* KB_SUP_* */
    const char *rule;    /* rule id, title, `intel:FEED`, or `*` */
    int by;              /* KB_SUP_BY_* (NONE: the whole rule; limit needs one) */
    const char *value;   /* suppress: value to match (NULL: any) */
    int64_t window;      /* limit: ns */
    const char *level;   /* level: informational, low, medium, high, critical */
    const char *reason;  /* why (required for analyst exceptions) */
    const char *author;
    int64_t expires;     /* ns; KB_TIME_NONE: never */
    int64_t id;          /* the exception's id in the store; 0 from configuration */
    uint32_t line;       /* line in the configuration file, 0 otherwise */
} kb_suppress_entry;

typedef struct kb_suppress kb_suppress;

/* cache: rate-limit keys remembered (0: 65536; rounded up to a power of 2). */
kb_suppress *kb_suppress_new(size_t cache);
void kb_suppress_free(kb_suppress *s);

/* Checks and adds a copy of e. Returns KB_OK, or KB_EINVAL with *err a
 * static reason (a limit without `by` or window, a level that is not a
 * level, a bad CIDR, no rule...). */
int kb_suppress_add(kb_suppress *s, const kb_suppress_entry *e, const char **err);
size_t kb_suppress_count(const kb_suppress *s);
const kb_suppress_entry *kb_suppress_get(const kb_suppress *s, size_t i);

/* Parses "30s", "10m", "1h", "7d", "2w" into ns. KB_OK or KB_EPARSE. */
int kb_suppress_parse_duration(const char *s, size_t len, int64_t *ns);

/* Adds the entries of a `suppress:` YAML list (see config/koban.yaml). On
 * error returns KB_EPARSE with the reason in err and the line in *line. */
struct kb_yaml_node;
int kb_suppress_load_yaml(kb_suppress *s, const struct kb_yaml_node *list, char *err,
                          size_t errsize, uint32_t *line);

/* One alert to decide on (strings borrowed, NULL when unknown). */
typedef struct kb_suppress_alert {
    const char *rule_id, *title;
    int64_t ts;
    const char *value[KB_SUP_BY_COUNT]; /* indexed by KB_SUP_BY_* */
} kb_suppress_alert;

enum { KB_SUP_KEEP, KB_SUP_SUPPRESSED, KB_SUP_LIMITED };

typedef struct kb_suppress_result {
    int verdict;                     /* KB_SUP_KEEP, _SUPPRESSED, _LIMITED */
    const char *level;               /* a level override, or NULL */
    const kb_suppress_entry *entry;  /* the entry that suppressed or limited */
} kb_suppress_result;

/* Decides: the first suppress entry that matches wins, else the first
 * limit entry whose key was seen within its window, else keep; a level
 * entry that matches sets r->level in any case. Returns r->verdict. */
int kb_suppress_check(kb_suppress *s, const kb_suppress_alert *a, kb_suppress_result *r);

typedef struct kb_suppress_stats {
    uint64_t checked, suppressed, limited, overridden, overwritten;
} kb_suppress_stats;
void kb_suppress_stats_get(const kb_suppress *s, kb_suppress_stats *st);

#endif
