/* Internals shared by correlate-load.c and correlate.c (not a public face:
 * other modules use correlate.h). */
#ifndef KB_CORRELATE_INT_H
#define KB_CORRELATE_INT_H

#include "detect/correlate.h"

/* Caps on what one correlation rule may say. */
#define CORREL_MAX_REFS 32
#define CORREL_MAX_GROUP 16
#define CORREL_MAX_ALIASES 16
#define CORREL_MAX_SPAN (366 * 86400 * KB_NS_PER_SEC)

/* Condition bounds, each optional; all that are set must hold. */
enum { CC_GT, CC_GTE, CC_LT, CC_LTE, CC_EQ, CC_NEQ, CC_COUNT };

typedef struct correl_alias {
    const char *name;
    const char **refs;   /* rule reference as written */
    const char **fields; /* the field in that rule's events */
    size_t n;
} correl_alias;

enum { CR_UNRESOLVED, CR_OK, CR_REFUSED };

struct kb_correl_rule {
    kb_rule_meta meta;
    const char *name;
    int type;
    int generate;
    int64_t span;
    uint8_t has[CC_COUNT];
    double thr[CC_COUNT];
    int has_cond;
    const char *field; /* condition field of value_* types */
    double pct;        /* value_percentile */
    const char **refs;
    size_t nrefs;
    const char **group;
    size_t ngroup;
    correl_alias *aliases;
    size_t naliases;
    uint32_t line_rules, line_group;
    /* resolved */
    int state;
    uint32_t index;
    const kb_rule **in_rule; /* per ref: the base rule, or NULL */
    int32_t *in_corr;        /* per ref: index of the correlation rule, or -1 */
    const char **in_field;   /* nrefs x ngroup: the group-by field per input */
    const char **in_value;   /* per ref: the value field (value_*), or NULL */
};

struct kb_correl_set {
    kb_arena *arena;
    kb_correl_rule **rules;
    size_t n, cap;
};

#endif
