/* The fast Sigma matcher: every rule of a ruleset compiled once into
 * routing tables and merged multi-pattern automata, deciding which rules
 * match an event with far less work than evaluating each rule.
 *
 *   - routing: an event is offered only to rules whose logsource applies
 *     (product/category/service index) and whose exact-value conditions on
 *     EventID / Channel / Provider_Name can hold;
 *   - string predicates on one field are merged per field and logsource
 *     route: literals shared across rules, short literals in a table of the
 *     engine's own, longer literals and wildcard patterns in Hyperscan
 *     (case-insensitive unless cased), regexes prefiltered there and
 *     confirmed by PCRE2; what neither expresses goes to the reference
 *     predicate evaluator;
 *   - a rule is decided by its condition program (kb_sigma_program_eval)
 *     from the predicate hits.
 *
 * Results are identical to the reference evaluator (kb_rule_match with
 * kb_rule_logsource_applies); a differential test over all of
 * ../shared/data enforces it.
 *
 * Threading: a kb_engine is read-only after kb_engine_new; each thread
 * matches with its own kb_engine_scratch. */
#ifndef KB_ENGINE_H
#define KB_ENGINE_H

#include "detect/detect.h"

typedef struct kb_engine kb_engine;
typedef struct kb_engine_scratch kb_engine_scratch;

typedef struct kb_engine_stats {
    size_t rules;         /* rules compiled */
    size_t preds;         /* predicates over all rules */
    size_t hs_patterns;   /* patterns in Hyperscan databases */
    size_t hs_databases;  /* per field and logsource route (and keywords) */
    size_t fallback;      /* predicates evaluated by the reference evaluator */
    double compile_secs;
} kb_engine_stats;

/* Compiles rs (borrowed: it must outlive the engine). On failure returns
 * NULL and sets *err to a static reason. */
kb_engine *kb_engine_new(const kb_ruleset *rs, const char **err);
void kb_engine_free(kb_engine *e);
void kb_engine_stats_get(const kb_engine *e, kb_engine_stats *st);

kb_engine_scratch *kb_engine_scratch_new(const kb_engine *e);
void kb_engine_scratch_free(kb_engine_scratch *s);

/* Called for each rule that matches ev, in ruleset order. A non-zero return
 * stops matching this event. */
typedef int (*kb_engine_hit_fn)(const kb_rule *rule, const kb_event *ev, void *ud);

/* Matches one event. Returns the number of rules that matched, or a
 * negative KB_E* code. */
int kb_engine_match(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev,
                    kb_engine_hit_fn fn, void *ud);

/* sigma_glob's answer for wildcard tokens (KB_SIGMA_TOK_*) on subj, without
 * backtracking (the engine confirms `?` and windash wildcards with it). */
int kb_engine_glob(const uint16_t *tok, size_t nt, const char *subj, size_t len, int fold);

#endif
