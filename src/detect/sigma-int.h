/* Internals shared by the Sigma files of src/detect (not a public face:
 * other modules use detect.h). */
#ifndef KB_SIGMA_INT_H
#define KB_SIGMA_INT_H

#include "detect/detect.h"

typedef struct placeholder {
    const char *name; /* without % */
    const char **vals;
    size_t n;
} placeholder;

struct kb_rule {
    kb_rule_meta meta;
    const char *name; /* `name:` of the rule, for filters; may be NULL */
    kb_sigma_pred *preds;
    size_t npreds, apreds;
    kb_sigma_op *prog;
    size_t nops;
    const kb_rule *base; /* a field-map variant: the rule it was made from */
};

/* The source of a compiled regex (PCRE2 cannot give it back). */
typedef struct sigma_re_src {
    const void *code; /* pcre2_code_8 * */
    const char *src;  /* not NUL-terminated */
    size_t len;
    struct sigma_re_src *next;
} sigma_re_src;

struct kb_ruleset {
    kb_names *names;
    kb_arena *arena; /* compiled values, tokens, metadata strings */
    kb_rule **rules;
    size_t nrules, arules;
    placeholder *ph;
    size_t nph;
    void **res; /* pcre2 codes to free */
    size_t nres, ares;
    sigma_re_src *re_srcs; /* in arena, newest first */
    struct kb_yaml **yamls; /* kept for filter documents */
    size_t nyamls, ayamls;
    struct pending_filter *filters;
    size_t nfilters, afilters;
    struct kb_correl_set *correl; /* correlation rules (correlate-load.c) */
};

/* Compiles one detection item (key "Field|mod|mod", value node) into *p.
 * Values and tokens go to rs->arena; regexes are registered in rs. On
 * error returns KB_EPARSE (or KB_ENOMEM/KB_ELIMIT) with *err a static
 * reason and *line the offending line. */
struct kb_yaml_node;
int sigma_compile_item(kb_ruleset *rs, const char *key, size_t klen,
                       const struct kb_yaml_node *val, kb_sigma_pred *p, const char **err);
/* A keyword predicate from a list of scalar values (or one scalar). */
int sigma_compile_keywords(kb_ruleset *rs, const struct kb_yaml_node *val, kb_sigma_pred *p,
                           const char **err);

/* The source of regex `code` (a kb_sigma_val.re of this ruleset) and its
 * length, or NULL. Linear in the number of regexes. */
const char *sigma_re_source(const kb_ruleset *rs, const void *code, size_t *len);

/* Wildcard match of the whole subject against pattern tokens (literal
 * bytes, KB_SIGMA_TOK_STAR/QMARK/DASH); fold: ASCII case-insensitive, the
 * tokens already lower-cased. Greedy with one backtrack point, O(n*m) at
 * worst, no recursion. The one implementation the reference evaluator and
 * the engine share, so both decide a pattern alike. */
int sigma_glob(const uint16_t *tok, size_t nt, const char *subj, size_t len, int fold);

/* A string value (KB_SP_STR, not compared as an integer) against one
 * subject: literal fast paths by anchor, else sigma_glob. */
int sigma_str_match(const kb_sigma_val *v, const char *s, size_t len, int fold);
/* 1 when event field name ev_name (elen bytes, with spaces) is rule_name
 * once its spaces are removed ("Source Name" for SourceName): the fallback
 * both evaluators apply when the event has no field under the rule's name. */
int sigma_eq_nospace(const char *ev_name, size_t elen, const char *rule_name);

/* Parses a whole slice as a number (decimal, float, 0x hex); KB_OK or
 * KB_EPARSE. */
int sigma_number(const char *s, size_t len, double *out);

/* Maximum evaluation stack a program needs; SIZE_MAX if malformed. */
size_t sigma_prog_depth(const kb_sigma_op *ops, size_t n);
/* Appends a rule to rs (which then owns it). KB_OK or KB_ENOMEM. */
int sigma_add_rule(kb_ruleset *rs, kb_rule *r);

/* Predicates per rule at most (the evaluator keeps hits on the stack). */
#define SIGMA_MAX_PREDS 4096

#endif
