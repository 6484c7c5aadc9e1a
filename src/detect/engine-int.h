/* The fast Sigma matcher (engine.h), internals shared by its parts:
 *   engine-int.h      the engine's and the scratch's types, the inline
 *                     helpers both sides use (tries);
 *   engine-patterns.c compile time, patterns: a value's Hyperscan
 *                     expression and longest literal run, the literal runs
 *                     a regex needs;
 *   engine-trie.c     compile time, tries: anchored literals per slot,
 *                     path-compressed;
 *   engine-compile.c  compile time, the rest: predicate modes, literal
 *                     tables, Hyperscan databases, watch sets, routing
 *                     plan, kb_engine_new/free;
 *   engine-match.c    match time: scratch, routing cache, value
 *                     confirmation, field scans, hits, rule evaluation,
 *                     kb_engine_match.
 *
 * Compile time:
 *   - every rule field becomes a slot; rules with the same logsource form a
 *     group; the string predicates of one group on one slot become one
 *     pattern set, so an event scans only the sets of the groups whose
 *     logsource applies to it;
 *   - a set finds its values through: tries (case-insensitive exact, prefix
 *     and suffix literals, and such values with windash dashes as their
 *     dash variants), a sorted integer index (EventID: 4688 compares
 *     numerically with fields that read as integers), and literals: each
 *     distinct literal has one id whose entries are the values it stands
 *     for. A substring value is its literal (windash: one literal per dash
 *     variant); a value with wildcards is found by its longest literal run
 *     and confirmed on the instance (the reference's glob); literals of
 *     two bytes or more go to a Hyperscan literal database, one-byte ones
 *     are found with memchr (eone). A set of at most LIT_FEW literals and
 *     no expression skips Hyperscan: find_from searches each. A wildcard value of literal runs and `*`
 *     is confirmed by its runs in order (glob_fits), others (`?`,
 *     windash) by kb_engine_glob (sigma_glob's answer without
 *     backtracking); keyword sets know the fewest bytes any of their
 *     patterns matches, and values shorter than that are not scanned;
 *   - a regex is found by the longest literal it requires, or else by
 *     Hyperscan in HS_FLAG_PREFILTER | HS_FLAG_UTF8 mode (scanned over
 *     valid UTF-8 only, every id hits otherwise), then confirmed by PCRE2
 *     (the reference); before PCRE2 runs, the literal runs every match
 *     needs must appear in order in an instance (regex_runs);
 *   - each predicate gets a mode: HS (decided from hits), REF (the
 *     reference evaluator, only when its field is present: an absent field
 *     gives the predicate's value on an empty event, `z`), ALWAYS (keyword
 *     predicates: reference every time), CONST (never deviates from z);
 *   - from the condition program, a watch set per rule: predicates such
 *     that the rule stays false (its value on an empty event) unless one of
 *     them deviates from z. A rule is evaluated only when a watched HS
 *     predicate got a hit or the field of a watched REF predicate is
 *     present; rules true on an empty event, or watching a keyword, are
 *     evaluated for every event their logsource admits. Where an AND lets
 *     one child be watched, pred_cost picks the one least likely to hit
 *     (substrings before anchored values, EventID last);
 *   - the EventID values a rule requires (a predicate ANDed at the top of
 *     its program with only integer values), for routing; the predicates
 *     ANDed at the top (`must`): one Hyperscan predicate of them without a
 *     hit makes the rule false before its program runs;
 *   - per logsource group, its rules, so a route visits only the rules of
 *     the groups whose logsource applies;
 *   - the pattern sets compile on COMPILE_THREADS threads.
 *   - what match time reads per hit is packed, so a hit touches few cache
 *     lines: per value its predicate, rule, group and flags (evhot, 16
 *     bytes), per predicate what eval_rule reads (ephot, 8 bytes), a trie
 *     edge's key, child and label side by side (eedge: the tries are
 *     path-compressed, trie_compact), and a literal's entries
 *     carry a copy of their values' evhot (ehot); in the scratch, a
 *     predicate's generation and hit count in one word (pstate).
 *
 * Match time, per event: gather the instances of every slot in one pass
 * over the fields (with the "name without spaces" fallback of the
 * reference), find the candidate rules and pattern sets for (logsource,
 * EventID) in a cache kept in the scratch, scan the slots' instances
 * through those sets, then evaluate the triggered rules in ruleset order:
 * hits first, then the predicates that need the reference one at a time,
 * only while the known ones leave the rule undecided (three-valued
 * evaluation of the condition program); CIDR predicates are decided here
 * (cidr_pred: each instance parsed once, not once per network).
 *
 * Tried and dropped (branch perf2, docs/BENCHMARKS.md): leaving the
 * predicates outside a rule's watch set out of the pattern sets and
 * deciding them only when the rule is evaluated (two-phase evaluation),
 * either by scanning a second, lazy set per slot on demand or by searching
 * their literals directly: on the SigmaHQ Windows sample the gating
 * predicates (Image endswith cmd.exe, powershell.exe...) hold so often
 * that both cost more than the one merged scan (+5% to +95% instructions). */
#ifndef KB_ENGINE_INT_H
#define KB_ENGINE_INT_H

#include <arpa/inet.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "detect/engine.h"
#include "detect/sigma-int.h"

enum { PM_HS, PM_REF, PM_ALWAYS, PM_CONST };

#define NOSLOT UINT32_MAX
#define COST_INF 1000000000u
#define COST_HS 1u
#define COST_REF 50u
#define COST_SHORT 20u /* HS predicate with a short literal: it hits often */
#define COST_ANCHORED 3u /* HS predicate of exact/prefix/suffix values or integers */
#define COST_EVENTID 10u /* HS predicate on EventID */
#define COST_CONFIRM 8u  /* HS predicate confirmed on hits (regexes, expressions) */
#define ROUTE_MAX 512 /* cached routing entries per scratch */
#define ROUTE_HASH 1024
#define KEY_MIN 4 /* shortest literal that prefilters a regex (else HS_FLAG_PREFILTER) */
#define RE_REPEAT_MAX 32 /* larger bounded repeats keep a regex out of Hyperscan */
#define CONFIRM_BIT 0x80000000u /* pattern id: confirm the value on a hit */
#define COMPILE_THREADS 2

typedef struct epred {
    uint32_t rule;
    uint32_t slot;   /* NOSLOT for keywords and fieldless predicates */
    uint32_t sub;    /* its pattern set (HS predicates) */
    uint32_t rx0;    /* regex runs of its values in kb_engine.rxs, or NOSLOT */
    uint32_t need;   /* hits needed: 1, or the number of value groups for `all` */
    uint32_t v0, nv; /* its values in kb_engine.vals (HS predicates) */
    uint8_t mode;    /* PM_* */
    uint8_t z;       /* value on an empty event */
    uint8_t watched; /* a deviation may make its rule match */
    uint8_t confirm; /* a Hyperscan hit is a superset: confirm with the reference */
    uint8_t all;
    uint8_t shorty;  /* HS with a literal of at most SHORT_MAX bytes */
} epred;

typedef struct evalue {
    const kb_sigma_val *v;
    uint32_t pred; /* global predicate index */
    uint32_t gid;  /* global group index (for `all`) */
    uint32_t glob; /* its wildcard runs in kb_engine.globs, or NOSLOT */
    uint8_t is_int;
    uint8_t fold; /* case-insensitive */
} evalue;

/* What a hit on a value needs, packed (16 bytes, four to a cache line):
 * built from vals and preds once they are final. */
#define VH_INT 1u
#define VH_ALL 2u
#define VH_WATCHED 4u
#define VH_CONFIRM 8u /* (in ehot) confirm the value on the instance */
#define VH_VID 8      /* flags >> VH_VID: the value's index */
typedef struct evhot {
    uint32_t pred, rule, gid;
    uint32_t flags; /* VH_*, and the value's index above VH_VID */
} evhot;

/* What deciding a rule reads of a predicate, packed (8 bytes). */
typedef struct ephot {
    uint32_t arg; /* PM_HS: hits needed; PM_REF: its slot */
    uint8_t mode, z, confirm, pad;
} ephot;

typedef struct eint {
    int64_t ival;
    uint32_t vid;
} eint;

typedef struct trie_node {
    uint32_t off;  /* into tvids: prefix (or suffix) values, then exact ones */
    uint32_t npre; /* reported whenever the walk reaches the node */
    uint32_t nex;  /* reported only when the node ends the subject */
} trie_node;

/* A trie edge (node, byte) -> child in the edge hash: one cache line holds
 * the key, the child and the edge's label: once the tries are built
 * (trie_compact), the nodes without values and with one child are folded
 * into the edge that reaches them, and the label holds their bytes, in
 * the order of the walk, in kb_engine.tlab. */
#define LAB_MAX 255u
typedef struct eedge {
    uint64_t key;   /* (node << 8 | byte) + 1; 0: empty */
    uint32_t child;
    uint32_t lab;   /* label: offset in tlab << 8 | length (0: none) */
} eedge;

typedef struct trie_term {
    uint32_t node, vid;
    uint8_t exact;
} trie_term;

typedef struct eslot {
    kb_fid fid;
    const char *name;
    uint8_t canon;
    uint32_t *presence; /* rules watching a REF predicate on this slot */
    size_t npresence, apresence;
} eslot;

/* A literal of at most SHORT_MAX bytes hits often (pred_cost, mark_shorts). */
#define SHORT_MAX 4

/* A one-byte literal of a set: found with memchr (both cases when fold)
 * instead of Hyperscan. Longer literals, however short, go to Hyperscan
 * (or to the few-literal search): a bigram table for the two- to four-byte
 * ones cost 9% more instructions and 7-9% more time on the SigmaHQ
 * Windows sample (docs/BENCHMARKS.md, fifth round). */
typedef struct eone {
    uint32_t uid;
    unsigned char c; /* lower-case when fold */
    uint8_t fold;
} eone;

typedef struct eexpr {
    char *s;
    unsigned flags;
    uint32_t uid;
    char *lit; /* a literal: its bytes (lower-case when fold), else NULL */
    uint32_t litlen;
    uint8_t fold;
} eexpr;

/* A literal of a set searched directly (sets of at most LIT_FEW literals
 * and no expression: cheaper than a Hyperscan call per instance). */
#define LIT_FEW 8
typedef struct elit {
    const char *b;
    uint32_t len, uid;
    uint8_t fold;
} elit;

/* A literal (or expression) id: its entries in kb_engine.ents. */
typedef struct euid {
    uint32_t ent0, nent;
} euid;

/* The patterns of one slot for the rules of one logsource group: an event
 * scans only the sets of the groups whose logsource applies to it. */
typedef struct esub {
    uint32_t slot, lsg;
    uint32_t *preds; /* its HS predicates (compile time) */
    size_t np, ap;
    eexpr *expr; /* to compile (compile time) */
    size_t nexpr;
    elit *flits; /* instead of db: a few literals, found by find_from */
    size_t nflits;
    eexpr *rexpr; /* regex prefilters (HS_FLAG_UTF8) */
    size_t nrexpr;
    hs_database_t *rdb; /* scanned over valid UTF-8 only; else every id hits */
    uint32_t *ruids;
    size_t nruids;
    eone *ones; /* one-byte literals */
    size_t nones;
    hs_database_t *db;
    size_t npat;
    uint32_t proot, sroot; /* prefix/exact and suffix tries, NOSLOT if none */
    uint32_t minlen; /* no pattern matches fewer bytes (keyword sets skip shorter values) */
    eint *ints;
    size_t nints;
} esub;

/* The literal runs a regex value needs (regex_runs), checked before
 * PCRE2 runs: most regexes fail on most fields for want of a literal. */
typedef struct erx {
    uint32_t run0, nrun;
    uint8_t any; /* no information: every instance may match */
    uint8_t fold;
} erx;

typedef struct erun {
    uint32_t off, len;
} erun;

/* A wildcard value made of literal runs and `*` only: it matches when the
 * runs appear in order (leftmost each), the first at the start unless
 * head, the last at the end unless tail: what sigma_glob decides, without
 * its backtracking. */
typedef struct eglob {
    uint32_t run0, nrun;
    uint8_t head, tail; /* starts / ends with `*` */
} eglob;

/* Rules with the same logsource (product, category, service). */
typedef struct elsg {
    const kb_rule *r; /* the first rule of the group: its logsource */
    uint32_t r0, nr;  /* its rules in kb_engine.lsg_rules, in ruleset order */
} elsg;

typedef struct erule {
    /* what eval_rule reads first, in the first 40 bytes */
    const kb_rule *r;
    const kb_sigma_op *prog; /* r->prog, r->nops: no kb_rule read per evaluation */
    uint32_t *must;          /* predicates ANDed at the top of its program */
    uint32_t pred0;
    uint32_t npreds;
    uint32_t nops;
    uint32_t nmust;
    uint32_t lsg;
    uint8_t always;
    uint8_t has_req; /* EventID values required */
    int64_t *req;    /* sorted */
    size_t nreq;
} erule;

struct kb_engine {
    const kb_ruleset *rs;
    kb_names *names;
    erule *rules;
    size_t nrules;
    epred *preds;
    size_t npreds;
    evalue *vals;
    size_t nvals, avals;
    evhot *vhot; /* by value: the hot part of vals and preds */
    evhot *ehot; /* by entry (parallel to ents): its value's vhot, VH_CONFIRM */
    evhot *thot; /* parallel to tvids: the terminal values' vhot (no lookup per hit) */
    ephot *phot; /* by predicate: what eval_rule reads */
    size_t ngroups;
    eslot *slots;
    size_t nslots, aslots;
    esub *subs;
    size_t nsubs, asubs;
    elsg *lsgs;
    size_t nlsgs;
    uint32_t *lsg_rules; /* rule indexes grouped by logsource group */
    euid *uids;
    size_t nuids, auids;
    erx *rxs; /* per regex value: literal runs a match needs, in order */
    size_t nrxs, arxs;
    erun *runs;
    size_t nruns, aruns;
    eglob *globs;
    size_t nglobs, aglobs;
    char *runbytes;
    size_t nrunbytes, arunbytes;
    uint32_t *ents;
    size_t nents, aents;
    uint32_t *fid2slot; /* by fid, for fids known at compile time */
    size_t nfids;
    uint32_t *canon_slots; /* slots whose fid is canonical */
    size_t ncanon;
    uint32_t *name_hash; /* slot + 1 by hash of the rule field name */
    size_t name_hash_cap;
    uint32_t eventid_slot;
    uint32_t kw_slot; /* keyword predicates: one scan over all values */
    size_t cand_bytes;
    /* tries of case-insensitive anchored literals (exact, prefix, suffix):
     * edges in one hash table keyed by node * 256 + byte */
    trie_node *tn;
    size_t ntn, atn;
    eedge *edges; /* trie edges by key: key + 1 (0 empty) and child together */
    size_t ecap, nedges;
    unsigned char *tlab; /* edge labels (trie_compact) */
    size_t ntlab;
    uint32_t *tvids; /* terminal value ids, ranges per node */
    size_t ntvids;
    kb_engine_stats st;
};

/* A predicate's hits in the current event, 4 bytes: the generation (the
 * scratch's, below 65536) above PST_SHIFT, the hit count below it. */
#define PST_SHIFT 16
#define PST_CNT 0xffffu
typedef uint32_t pstate;

typedef struct route {
    char *key[3]; /* product, category, service (copies; NULL when absent) */
    int has_id;
    int64_t id;
    uint64_t hash;
    uint8_t *cand; /* bitmap over rules */
    uint32_t *always;
    size_t nalways;
    uint32_t *scan; /* pattern sets to scan, by slot */
    size_t nscan;
} route;

struct kb_engine_scratch {
    const kb_engine *e;
    hs_scratch_t *hs;
    uint32_t gen;
    pstate *pst; /* by predicate: generation and hits */
    uint32_t *gstamp, *rstamp;
    uint32_t *slot_gen;
    uint16_t *dhead, *ahead; /* first instance + 1 per slot (direct, alias) */
    uint16_t *dnext, *anext; /* next instance + 1 per field index */
    uint32_t *present;       /* slots with instances this event */
    size_t npresent;
    uint32_t *trig;
    size_t ntrig;
    uint32_t *fidalias; /* by fid: 0 unknown, 1 none, 2 + slot */
    size_t nfidalias;
    route **routes;
    size_t nroutes;
    int32_t *route_hash; /* index into routes, -1 empty */
    route *last;
    uint8_t *mark; /* nsubs, for building routes */
    const uint8_t *cand;
    int inst_parsed; /* the instance being scanned reads as an integer */
    const char *inst; /* the instance being scanned */
    size_t inst_len;
    kb_buf kw;       /* the event's values joined by NUL bytes */
    uint8_t hits[SIGMA_MAX_PREDS];
};

/* ---- inline helpers (both sides) ---------------------------------------- */

static inline int bit_get(const uint8_t *b, uint32_t i)
{
    return (b[i >> 3] >> (i & 7)) & 1;
}

/* inline: bsearch (inline in glibc) calls it on the routing path */
static inline int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

static inline const kb_sigma_pred *pred_of(const kb_engine *e, uint32_t gp)
{
    const erule *er = &e->rules[e->preds[gp].rule];
    return &er->r->preds[gp - er->pred0];
}

static inline size_t edge_pos(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* The edge (node, c), or NULL. */
static inline const eedge *trie_edge(const kb_engine *e, uint32_t node, unsigned char c)
{
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    size_t pos = edge_pos(key, e->ecap);
    for (;;) {
        uint64_t k = e->edges[pos].key;
        if (k == key)
            return &e->edges[pos];
        if (!k)
            return NULL;
        pos = (pos + 1) & (e->ecap - 1);
    }
}

static inline uint32_t trie_child(const kb_engine *e, uint32_t node, unsigned char c)
{
    const eedge *ed = trie_edge(e, node, c);
    return ed ? ed->child : NOSLOT;
}

/* ---- shared by the compile-time parts --------------------------------- */

#define DASH_MAX 2 /* windash tokens expanded into variants (5^n literals) */
/* what KB_SIGMA_TOK_DASH matches (sigma-match.c's match_one) */
static const char *const windash[5] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};

/* The literal runs of a regex (engine_regex_runs). */
typedef struct rxcoll {
    char buf[1024];
    size_t used;
    struct {
        uint16_t off, len;
    } run[64];
    size_t nrun;
} rxcoll;

/* engine-patterns.c */
void engine_put_byte(kb_buf *b, unsigned c);
int engine_value_pattern(const kb_sigma_val *v, kb_buf *b, int *confirm);
size_t engine_value_key(const kb_sigma_val *v, size_t *off);
int engine_regex_runs(const char *re, size_t len, int caseless, rxcoll *rc, int *fold);
size_t engine_regex_key(const char *re, size_t len, int caseless, char *out, size_t cap,
                        int *fold);
int engine_regex_prefilter_ok(const char *re, size_t len, uint64_t mods);

/* engine-trie.c */
int engine_in_trie(const kb_sigma_pred *p, const kb_sigma_val *v);
int engine_build_tries(kb_engine *e);

#endif
