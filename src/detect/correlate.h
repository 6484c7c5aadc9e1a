/* koban correlation: Sigma correlation rules (specification 2.x) over the
 * alerts of single-event rules, in a streaming engine with bounded memory.
 *
 * Loading. A YAML document with a `correlation:` key in a rule file is a
 * correlation rule; the Sigma loader (sigma-load.c) hands it to
 * kb_correl_load_doc, which checks its syntax and keeps it in the ruleset.
 * Rules are referenced by `id` or `name`, and may sit in files loaded later,
 * so references are checked once every file is loaded: kb_correl_resolve
 * refuses (with the reason, through the ruleset's error callback) each
 * correlation rule that names an unknown rule, groups by a field that a
 * referenced correlation does not group by, uses an alias for a rule it
 * does not reference, or takes part in a reference cycle. The other rules
 * still load.
 *
 * Types: event_count, value_count, temporal, temporal_ordered, value_sum,
 * value_avg, value_percentile. Documented choices (docs/correlation.md):
 *   - the window of a group always ends at the newest record of the group
 *     and is `timespan` long, edges included (a record exactly `timespan`
 *     before the newest is in);
 *   - conditions are evaluated when a record arrives; when one holds, one
 *     correlation alert is emitted and the group's window starts afresh (a
 *     brute force of 100 failures with `gte: 10` gives 10 alerts, not 91);
 *   - temporal and temporal_ordered count the referenced rules seen in the
 *     window (ordered: the length of the chain in `rules` order, by event
 *     time); without `condition` every rule must be seen;
 *   - value_percentile takes `percentile: P` (1..100, nearest rank) in its
 *     condition beside `field`;
 *   - a group-by field an event lacks groups as a null value.
 *
 * Streaming. kb_correl keeps, per correlation rule, a hash table of groups
 * (at most max_groups; past it the named overflow policy evicts the least
 * recently updated group, or refuses new groups, and counts it), each with
 * a fixed-size window (timestamps, or distinct values, or numbers: at most
 * the condition's threshold + 1, or max_window entries). Records may arrive
 * out of order by up to `lateness` behind the newest record seen; later
 * ones are counted and dropped. Memory is bounded by
 * kb_correl_stats.memory_cap, computed from the options.
 *
 * Threading: one kb_correl is used by one thread at a time. */
#ifndef KB_CORRELATE_H
#define KB_CORRELATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "detect/detect.h"

#define KB_CORREL_TYPE_MAP(X)                                                 \
    X(EVENT_COUNT, "event_count") X(VALUE_COUNT, "value_count")               \
    X(TEMPORAL, "temporal") X(TEMPORAL_ORDERED, "temporal_ordered")           \
    X(VALUE_SUM, "value_sum") X(VALUE_AVG, "value_avg")                       \
    X(VALUE_PERCENTILE, "value_percentile")

enum {
#define KB_CORREL_TYPE_ENUM(e, s) KB_CT_##e,
    KB_CORREL_TYPE_MAP(KB_CORREL_TYPE_ENUM)
#undef KB_CORREL_TYPE_ENUM
    KB_CT_COUNT
};

/* "event_count", ... for a KB_CT_* value. */
const char *kb_correl_type_name(int type);

/* ---- rules ---------------------------------------------------------------- */

typedef struct kb_correl_rule kb_correl_rule;

/* Loader hook: checks one correlation document (a map with `correlation`)
 * and adds it to rs. On error returns KB_EPARSE (or KB_ENOMEM / KB_ELIMIT)
 * with the reason in err (errsize bytes) and its line in *line. */
struct kb_yaml_node;
int kb_correl_load_doc(kb_ruleset *rs, const struct kb_yaml_node *doc, const char *path,
                       char *err, size_t errsize, uint32_t *line);

/* Checks the references of every correlation rule loaded and not yet
 * checked; refuses the bad ones (reported through fn, may be NULL: "path:
 * line: reason"). Returns how many were refused by this call. */
int kb_correl_resolve(kb_ruleset *rs, kb_rule_error_fn fn, void *ud);

/* Lint: for each valid correlation rule from index `from` on, each field
 * it reads from a single-event rule's alerts (group-by after aliases, the
 * condition's field) that is neither a canonical field (event/event.h) nor
 * named by that rule's detection: such a field may be absent from every
 * alert (all of them then group as null). Reported through fn ("path:
 * line: warning: ..."); the rule stays valid. Returns how many. */
int kb_correl_check_fields(const kb_ruleset *rs, size_t from, kb_rule_error_fn fn, void *ud);

/* Correlation rules of rs in load order (refused ones included: see
 * kb_correl_rule_ok). */
size_t kb_ruleset_correl_count(const kb_ruleset *rs);
const kb_correl_rule *kb_ruleset_correl(const kb_ruleset *rs, size_t i);
/* The correlation rule with this id or name, or NULL. */
const kb_correl_rule *kb_ruleset_correl_find(const kb_ruleset *rs, const char *id_or_name);

/* The single-event rule with this id or `name:`, or NULL. */
const kb_rule *kb_correl_find_rule(const kb_ruleset *rs, const char *id_or_name);

const kb_rule_meta *kb_correl_meta(const kb_correl_rule *cr);
const char *kb_correl_rule_name(const kb_correl_rule *cr); /* `name:` or NULL */
int kb_correl_rule_type(const kb_correl_rule *cr);
int64_t kb_correl_rule_timespan(const kb_correl_rule *cr); /* ns */
/* The rules it references as written (*n of them), its group-by fields as
 * written (aliases by name), its condition's field (value_* types, else
 * NULL) and whether it says `generate: true`. */
const char *const *kb_correl_rule_refs(const kb_correl_rule *cr, size_t *n);
const char *const *kb_correl_rule_group_by(const kb_correl_rule *cr, size_t *n);
const char *kb_correl_rule_field(const kb_correl_rule *cr);
int kb_correl_rule_generate(const kb_correl_rule *cr);
/* 1 once resolved and valid, 0 when refused or not yet resolved. */
int kb_correl_rule_ok(const kb_correl_rule *cr);
/* Frees the correlation rules of a ruleset (kb_ruleset_free calls it). */
struct kb_correl_set;
void kb_correl_set_free(struct kb_correl_set *set);

/* ---- the streaming engine ------------------------------------------------- */

/* What happens when a correlation rule has max_groups groups and a record
 * of a new group arrives. */
#define KB_CORREL_OVERFLOW_MAP(X) \
    X(EVICT_OLDEST, "evict-oldest") X(DROP_NEW, "drop-new")
enum {
#define KB_CORREL_OV_ENUM(e, s) KB_CORREL_##e,
    KB_CORREL_OVERFLOW_MAP(KB_CORREL_OV_ENUM)
#undef KB_CORREL_OV_ENUM
    KB_CORREL_OVERFLOW_COUNT
};
/* Policy by name ("evict-oldest", "drop-new"), or -1. */
int kb_correl_overflow_parse(const char *s);
const char *kb_correl_overflow_name(int policy);

/* A deployment's `generate` for one correlation rule (by id, `name:` or
 * title), in place of what the rule file says: `false` makes the rules it
 * references correlation inputs only (confirmed mode, docs/correlation.md)
 * without editing rule files that `koban rules install` replaces. */
typedef struct kb_correl_gen {
    const char *rule;
    int generate;
    uint32_t line; /* in gen_path, for the report of a rule that is not there */
} kb_correl_gen;

typedef struct kb_correl_opts {
    size_t max_groups;  /* per correlation rule */
    size_t max_window;  /* entries per group for value_* types, cap on counts */
    int64_t lateness;   /* ns a record may be older than the newest seen */
    int overflow;       /* KB_CORREL_EVICT_OLDEST or KB_CORREL_DROP_NEW */
    const kb_correl_gen *gen; /* generate overrides (borrowed), ngen of them */
    size_t ngen;
    const char *gen_path; /* where they were written (the configuration file) */
} kb_correl_opts;

#define KB_CORREL_DEFAULT_GROUPS 100000
#define KB_CORREL_DEFAULT_WINDOW 256
#define KB_CORREL_DEFAULT_LATENESS (300 * KB_NS_PER_SEC)

/* Fills o with the defaults above (evict-oldest). */
void kb_correl_opts_default(kb_correl_opts *o);

/* One correlation alert. Everything is borrowed for the callback only. */
typedef struct kb_correl_alert {
    const kb_correl_rule *rule;
    const kb_rule_meta *meta; /* the correlation rule's title, id, level... */
    int type;                 /* KB_CT_* */
    int64_t ts;               /* newest record of the window: when it fired */
    int64_t first_ts;         /* oldest record of the window */
    uint64_t records;         /* records in the window */
    double value;             /* the count, sum, average or percentile */
    const char *group;        /* "user.name=deploy source.ip=198.51.100.23" */
    const char *host;         /* host of the record that completed it, or NULL */
    int hidden; /* only an input of other correlations (generate: false): a
                   timeline does not show it */
} kb_correl_alert;

typedef void (*kb_correl_emit_fn)(void *ud, const kb_correl_alert *a);

typedef struct kb_correl_stats {
    uint64_t records;       /* pushed */
    uint64_t unrouted;      /* from rules no correlation references */
    uint64_t late;          /* older than the newest minus lateness: dropped */
    uint64_t untimed;       /* without a time: dropped */
    uint64_t outside;       /* older than their group's window: ignored */
    uint64_t missing_value; /* value field absent or not a number */
    uint64_t groups;        /* active groups now */
    uint64_t groups_peak;
    uint64_t evicted;       /* groups evicted by evict-oldest */
    uint64_t refused;       /* records of new groups refused by drop-new */
    uint64_t expired;       /* groups forgotten after their window passed */
    uint64_t window_full;   /* entries dropped from a full window */
    uint64_t fired;         /* correlation alerts emitted */
    uint64_t queue_full;    /* nested correlation records dropped */
    size_t memory;          /* bytes held now */
    size_t memory_cap;      /* bytes it may hold at most */
} kb_correl_stats;

typedef struct kb_correl kb_correl;

/* Resolves rs (kb_correl_resolve, reporting through efn) and builds an
 * engine for its valid correlation rules; an override of o->gen that names
 * no valid correlation rule is reported through efn (reason "config"). rs is borrowed and must outlive
 * the engine; o may be NULL (defaults). Alerts go to fn. Returns NULL on
 * out of memory. An engine without valid correlation rules is valid (it
 * routes nothing). */
kb_correl *kb_correl_new(kb_ruleset *rs, const kb_correl_opts *o, kb_correl_emit_fn fn,
                         void *ud, kb_rule_error_fn efn, void *eud);
void kb_correl_free(kb_correl *c);

/* Number of valid correlation rules in the engine. */
size_t kb_correl_count(const kb_correl *c);
/* 1 when alerts of r feed at least one correlation rule. */
int kb_correl_wants(const kb_correl *c, const kb_rule *r);
/* 0 when r feeds correlation rules and none of them says `generate: true`:
 * its alerts are correlation inputs only and a timeline does not show them.
 * 1 otherwise. */
int kb_correl_generates(const kb_correl *c, const kb_rule *r);

/* The event fields the engine reads from r's alerts, in the order
 * kb_correl_push_values takes them (*names borrowed). Returns the count. */
size_t kb_correl_fields(const kb_correl *c, const kb_rule *r, const char *const **names);

/* Pushes one alert of base rule r at time ts (ns) with host (borrowed,
 * may be NULL); vals[0..n) are the values of kb_correl_fields (p == NULL
 * when the event lacks the field). Emits correlation alerts, of this and
 * of correlations of correlations, before returning. Returns the number
 * emitted, or a negative KB_E* code. */
int kb_correl_push_values(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                          const kb_str *vals, size_t n);
/* The same, reading the values from the event r matched. */
int kb_correl_push(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                   const kb_event *ev);

/* For a batch that keeps alerts and correlates later: packs the values
 * kb_correl_push would read from ev into out (appended), and pushes such a
 * blob. A blob that does not parse is refused with KB_EPARSE. */
int kb_correl_pack(const kb_correl *c, const kb_rule *r, const kb_event *ev, kb_buf *out);
int kb_correl_push_packed(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                          const void *blob, size_t len);

/* End of input: forgets every group (conditions are decided on arrival, so
 * nothing is pending). Returns the number of groups forgotten. */
size_t kb_correl_flush(kb_correl *c);

void kb_correl_stats_get(const kb_correl *c, kb_correl_stats *st);

#endif
