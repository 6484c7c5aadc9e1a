/* The loaded severity policy, shared by criteria.c (which builds it) and
 * incidents.c (which applies it). Plain data in one arena. */
#ifndef KB_TRIAGE_POLICY_H
#define KB_TRIAGE_POLICY_H

#include "triage/triage-int.h"

#define POL_MAX_TYPES 32
#define POL_MAX_SIGNALS 32
#define POL_MAX_CONDS 16
#define POL_MAX_NETS 64

typedef struct strlist {
    const char **v;
    size_t n;
} strlist;

/* What an alert must carry to match a type or a signal (any of). */
typedef struct matcher {
    strlist tags;    /* exact, or a prefix when ending in '*' */
    strlist names;   /* case-insensitive substrings of the rule name */
    strlist threats; /* indicator threat types */
    strlist rules;   /* rule ids */
    uint32_t signals;
    int min_level;   /* -1: no level condition; else alerts at or above */
} matcher;

enum { GB_HOST, GB_SOURCE_HOST, GB_USER, GB_SOURCE, GB_DESTINATION, GB_COUNT };

typedef struct ptype {
    const char *name, *title;
    matcher m;
    int confirmed;      /* detect: confirmed */
    uint32_t all, any;  /* signals a confirmation needs */
    int group_by[GB_COUNT];
    int ngroup;
    int spread_rule;    /* spread_by: rule */
    int base;           /* KB_SEV_* */
    uint32_t line;
} ptype;

typedef struct psignal {
    const char *name;
    matcher m;
} psignal;

enum {
    C_TYPE, C_SYSTEM_TYPE, C_CRITICALITY, C_ASSET_TAGS, C_VULN, C_SPREAD, C_SOURCES, C_LEVEL,
    C_CONFIDENCE, C_COUNT, C_SIGNALS, C_UNMANAGED
};
enum { OP_GE, OP_GT, OP_LE, OP_LT, OP_EQ };
enum { A_SET, A_RAISE, A_LOWER, A_MIN, A_MAX };
enum { V_NONE, V_UNKNOWN, V_PATCHED, V_VULNERABLE }; /* the vuln verdict */

typedef struct pcond {
    int kind;
    int op;
    int64_t num;
    uint32_t mask; /* types, signals or vuln verdicts */
    strlist list;
    const char *text; /* as written, for explanations */
} pcond;

typedef struct prule {
    uint32_t line;
    pcond c[POL_MAX_CONDS];
    size_t nc;
    int act, val;
    const char *because;
} prule;

struct kb_triage_policy {
    kb_arena *arena;
    const char *path;
    int64_t window;
    int notify;
    int min_level;
    kb_ip nets[POL_MAX_NETS];
    int bits[POL_MAX_NETS];
    size_t nnets;
    strlist actions[KB_SEV_COUNT];
    psignal sig[POL_MAX_SIGNALS];
    size_t nsig;
    ptype types[POL_MAX_TYPES];
    size_t ntypes;
    prule *rules;
    size_t nrules;
};

int policy_cmp(int op, int64_t a, int64_t b);
const char *policy_op_name(int op);

#endif
