/* The fast Sigma matcher (engine.h).
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
 *     and confirmed on the instance (the reference's glob); literals of more
 *     than SHORT_MAX bytes go to a Hyperscan literal database, shorter ones
 *     to a bigram/trigram table (they hit often and slow Hyperscan down;
 *     a set with only a few of them searches each with memchr). A set of
 *     at most LIT_FEW long literals and no expression skips Hyperscan:
 *     find_from searches each. A wildcard value of literal runs and `*`
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
 *     edge's key and child side by side (eedge), and a literal's entries
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
 * the key and the child. */
typedef struct eedge {
    uint64_t key; /* (node << 8 | byte) + 1; 0: empty */
    uint32_t child;
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

/* A literal shorter than SHORT_MAX + 1 bytes: found by the set's bigram
 * table instead of Hyperscan (short literals slow Hyperscan down most). */
#define SHORT_MAX 4
#define SHORT_FEW 6 /* at most this many two- to four-byte literals: searched one by one */
typedef struct eshort {
    uint32_t key; /* lower-cased first two bytes, or 0x10000 | byte */
    uint32_t uid;
    uint8_t len, fold;
    char b[SHORT_MAX];
} eshort;

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
    eshort *shorts; /* one-byte literals first, then the others by key */
    size_t nshort, nsingle;
    uint8_t has2, has3; /* two-byte literals, longer ones */
    uint8_t *sbits;   /* 8192 bytes: a bit per bigram with two-byte literals, then
                         8192: a bit per trigram hash with longer ones, then 8192:
                         a bit per bigram some literal starts with */
    uint32_t *hkey;   /* key hash: key (each present key is in it) */
    uint32_t *hstart; /* its first literal in shorts */
    size_t hmask;
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
    uint32_t *ustamp; /* by literal id: scan (sgen) that reported it */
    uint32_t sgen;
    unsigned char *low; /* the instance lower-cased (short literals) */
    size_t alow, low_len;
    const char *low_of;
    kb_buf kw;       /* the event's values joined by NUL bytes */
    uint8_t hits[SIGMA_MAX_PREDS];
};

/* ---- helpers ----------------------------------------------------------- */

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n;
    void *q;
    if (need <= *cap)
        return KB_OK;
    n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * size);
    if (!q)
        return KB_ENOMEM;
    *p = q;
    *cap = n;
    return KB_OK;
}

static inline int bit_get(const uint8_t *b, uint32_t i)
{
    return (b[i >> 3] >> (i & 7)) & 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_eint(const void *a, const void *b)
{
    const eint *x = a, *y = b;
    return x->ival < y->ival ? -1 : x->ival > y->ival;
}

/* The reference's rule: event name ev_name (with spaces) equals the rule
 * name once its spaces are removed. */
static int eq_nospace(const char *ev_name, size_t elen, const char *rule_name)
{
    size_t j = 0;
    int spaced = 0;
    for (size_t i = 0; i < elen; i++) {
        if (ev_name[i] == ' ') {
            spaced = 1;
            continue;
        }
        if (rule_name[j] == 0 || rule_name[j] != ev_name[i])
            return 0;
        j++;
    }
    return spaced && rule_name[j] == 0;
}

/* ---- patterns ---------------------------------------------------------- */

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

static void put_byte(kb_buf *b, unsigned c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        kb_buf_putc(b, (char)c);
    else
        kb_buf_printf(b, "\\x%02x", c);
}

/* Hyperscan expression for a string value (whole-subject semantics of the
 * reference). Returns 1 when built, 0 when the value cannot be expressed
 * (it matches the empty string); *confirm is set when the expression is a
 * superset of the value (`?`, one UTF-8 character, becomes .{1,4}). */
static int value_pattern(const kb_sigma_val *v, kb_buf *b, int *confirm)
{
    kb_buf_clear(b);
    *confirm = 0;
    if (v->lit) {
        if (v->litlen == 0)
            return 0;
        if (v->anchor == 0 || v->anchor == 1)
            kb_buf_puts(b, "\\A");
        for (size_t i = 0; i < v->litlen; i++)
            put_byte(b, (unsigned char)v->lit[i]);
        if (v->anchor == 0 || v->anchor == 2)
            kb_buf_puts(b, "\\z");
    } else {
        size_t lo = 0, hi = v->ntok;
        int star = 0;
        while (lo < hi && v->tok[lo] == KB_SIGMA_TOK_STAR)
            lo++;
        while (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        if (lo == hi)
            return 0;
        if (lo == 0)
            kb_buf_puts(b, "\\A");
        for (size_t i = lo; i < hi; i++) {
            uint16_t t = v->tok[i];
            if (t == KB_SIGMA_TOK_STAR) {
                if (!star)
                    kb_buf_puts(b, ".*");
                star = 1;
                continue;
            }
            star = 0;
            if (t < 256) {
                put_byte(b, t);
            } else if (t == KB_SIGMA_TOK_QMARK) {
                kb_buf_puts(b, ".{1,4}");
                *confirm = 1;
            } else if (t == KB_SIGMA_TOK_DASH) {
                kb_buf_puts(b, "(?:-|/|\\xe2\\x80[\\x93-\\x95])");
            } else {
                return 0;
            }
        }
        if (hi == v->ntok)
            kb_buf_puts(b, "\\z");
    }
    return b->data != NULL && b->len > 0 && b->len < b->cap;
}

/* The longest run of literal bytes of a string value (its prefilter key):
 * *off and the length, 0 when there is none. */
static size_t value_key(const kb_sigma_val *v, size_t *off)
{
    size_t best = 0, cur = 0;
    *off = 0;
    if (v->lit) {
        *off = 0;
        return v->litlen;
    }
    for (size_t i = 0; i <= v->ntok; i++) {
        if (i < v->ntok && v->tok[i] < 256) {
            cur++;
            continue;
        }
        if (cur > best) {
            best = cur;
            *off = i - cur;
        }
        cur = 0;
    }
    return best;
}

/* The literal runs every match of a regex contains, in order and without
 * overlap (a conservative reading of the PCRE2 syntax at the top level:
 * alternation there, or anything unusual, gives no information): into rc,
 * lower-cased when the match may ignore case (*fold set). Returns 1, or 0
 * for no information. Under caseless UTF matching `k` and `s` also match
 * U+212A and U+017F, so they end a run there; bytes >= 0x80 end a run (a
 * quantifier would apply to the whole character). */
typedef struct rxcoll {
    char buf[1024];
    size_t used;
    struct {
        uint16_t off, len;
    } run[64];
    size_t nrun;
} rxcoll;

/* Appends a run; 1 when full (the caller gives up: no information). */
static int rx_add(rxcoll *c, const char *s, size_t n)
{
    if (c->nrun == sizeof c->run / sizeof c->run[0] || c->used + n > sizeof c->buf)
        return 1;
    memcpy(c->buf + c->used, s, n);
    c->run[c->nrun].off = (uint16_t)c->used;
    c->run[c->nrun].len = (uint16_t)n;
    c->used += n;
    c->nrun++;
    return 0;
}

static int regex_runs(const char *re, size_t len, int caseless, rxcoll *rc, int *fold)
{
    char cur[256];
    size_t ncur = 0, i = 0;
    int depth = 0, last_lit = 0;

    /* inline options: (?i) anywhere makes the key caseless; (?x) changes
     * what whitespace means, comments are not followed: no key */
    for (size_t k = 0; k + 2 < len; k++) {
        if (re[k] == '\\') {
            k++;
            continue;
        }
        if (re[k] == '(' && re[k + 1] == '?') {
            size_t j = k + 2;
            if (re[j] == '#')
                return 0;
            for (; j < len && re[j] != ')' && re[j] != ':'; j++) {
                if (re[j] == 'x')
                    return 0;
                if (re[j] == 'i')
                    caseless = 1;
            }
        }
    }
    if (memchr(re, '\\', len) && kb_memmem(re, len, "\\Q", 2))
        return 0;
    *fold = caseless;
#define END_RUN()                                                                  \
    do {                                                                           \
        if (ncur && rx_add(rc, cur, ncur))                                         \
            return 0;                                                              \
        ncur = 0;                                                                  \
        last_lit = 0;                                                              \
    } while (0)
    while (i < len) {
        unsigned char c = (unsigned char)re[i];
        if (c == '\\') {
            unsigned char e;
            if (i + 1 >= len)
                return 0;
            e = (unsigned char)re[i + 1];
            i += 2;
            if (depth == 0 && e < 0x80 && !(e >= '0' && e <= '9') && !(e >= 'a' && e <= 'z') &&
                !(e >= 'A' && e <= 'Z') && e != ' ') {
                if (ncur == sizeof cur)
                    END_RUN();
                cur[ncur++] = (char)e;
                last_lit = 1;
            } else {
                END_RUN();
            }
            continue;
        }
        if (c == '[') {
            /* a class: skip to its end */
            END_RUN();
            i++;
            if (i < len && re[i] == '^')
                i++;
            if (i < len && re[i] == ']')
                i++;
            while (i < len && re[i] != ']') {
                if (re[i] == '\\')
                    i++;
                else if (re[i] == '[' && i + 1 < len && (re[i + 1] == ':' || re[i + 1] == '.' ||
                                                          re[i + 1] == '=')) {
                    const char *q = kb_memmem(re + i + 2, len - i - 2, ":]", 2);
                    if (re[i + 1] != ':' || !q)
                        return 0;
                    i = (size_t)(q - re) + 1;
                }
                i++;
            }
            if (i >= len)
                return 0;
            i++;
            continue;
        }
        if (c == '(') {
            END_RUN();
            depth++;
            i++;
            continue;
        }
        if (c == ')') {
            END_RUN();
            if (depth == 0)
                return 0;
            depth--;
            i++;
            continue;
        }
        if (depth > 0) {
            i++;
            continue;
        }
        if (c == '|')
            return 0;
        if (c == '*' || c == '?' || c == '+' || c == '{') {
            int optional = c == '*' || c == '?';
            if (c == '{') {
                size_t j = i + 1, lo = 0, nd = 0;
                while (j < len && re[j] >= '0' && re[j] <= '9') {
                    lo = lo * 10 + (size_t)(re[j] - '0');
                    if (lo > 100000)
                        return 0;
                    j++;
                    nd++;
                }
                if (!nd)
                    return 0; /* `{` as a literal or `{,n}`: not followed */
                if (j < len && re[j] == ',') {
                    j++;
                    while (j < len && re[j] >= '0' && re[j] <= '9')
                        j++;
                }
                if (j >= len || re[j] != '}')
                    return 0;
                optional = lo == 0;
                i = j + 1;
            } else {
                i++;
            }
            if (last_lit && optional)
                ncur--; /* the quantified character may be absent */
            END_RUN();
            if (i < len && (re[i] == '?' || re[i] == '+'))
                i++; /* lazy or possessive */
            continue;
        }
        if (c == '.' || c == '^' || c == '$' || c >= 0x80 ||
            (caseless && (c == 'k' || c == 'K' || c == 's' || c == 'S'))) {
            END_RUN();
            i++;
            continue;
        }
        if (ncur == sizeof cur)
            END_RUN();
        cur[ncur++] = (char)(caseless ? lower(c) : c);
        last_lit = 1;
        i++;
    }
    END_RUN();
#undef END_RUN
    return 1;
}

/* The longest required literal of a regex (its prefilter key) into out (at
 * most cap bytes), lower-cased when the match may ignore case (*fold).
 * Returns its length, 0 for none. */
static size_t regex_key(const char *re, size_t len, int caseless, char *out, size_t cap,
                        int *fold)
{
    rxcoll c;
    size_t best = 0;
    memset(&c, 0, sizeof c);
    if (!regex_runs(re, len, caseless, &c, fold))
        return 0;
    for (size_t k = 0; k < c.nrun; k++)
        if (c.run[k].len > best && c.run[k].len <= cap) {
            best = c.run[k].len;
            memcpy(out, c.buf + c.run[k].off, best);
        }
    return best;
}

/* 1 when a regex may go to Hyperscan as a prefilter (HS_FLAG_PREFILTER |
 * HS_FLAG_UTF8, scanned only over valid UTF-8; confirmed with PCRE2): no
 * NUL, and when it may ignore case, nothing whose case folding could reach
 * beyond ASCII under PCRE2's UTF rules (k, s, non-ASCII bytes, ranges,
 * numeric or property escapes), where Hyperscan's folding might differ. */
static int regex_prefilter_ok(const char *re, size_t len, uint64_t mods)
{
    int caseless = (mods & KB_SM(RE_I)) != 0;
    if (memchr(re, 0, len))
        return 0;
    /* large bounded repeats make Hyperscan compile slowly (and the
     * prefilter would be loose anyway) */
    for (size_t k = 0; k + 1 < len; k++) {
        size_t n = 0;
        if (re[k] == '\\') {
            k++;
            continue;
        }
        if (re[k] != '{' && re[k] != ',')
            continue;
        for (size_t j = k + 1; j < len && re[j] >= '0' && re[j] <= '9' && n <= RE_REPEAT_MAX; j++)
            n = n * 10 + (size_t)(re[j] - '0');
        if (n > RE_REPEAT_MAX)
            return 0;
    }
    for (size_t k = 0; k + 2 < len && !caseless; k++) {
        if (re[k] == '\\') {
            k++;
            continue;
        }
        if (re[k] == '(' && re[k + 1] == '?')
            for (size_t j = k + 2; j < len && re[j] != ')' && re[j] != ':'; j++)
                caseless |= re[j] == 'i';
    }
    if (!caseless)
        return 1;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)re[k];
        if (c == '\\') {
            if (k + 1 < len && strchr("xoNpPQ0123456789", re[k + 1]))
                return 0;
            k++;
            continue;
        }
        if (c >= 0x80 || c == 'k' || c == 'K' || c == 's' || c == 'S')
            return 0;
        if (c == '[')
            for (size_t j = k + 1; j < len && re[j] != ']'; j++)
                if (re[j] == '-')
                    return 0;
    }
    return 1;
}

/* Valid UTF-8 (the condition for scanning HS_FLAG_UTF8 databases). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c;
        size_t k;
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & 0x8080808080808080ull)) { /* eight ASCII bytes */
                i += 8;
                continue;
            }
        }
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3;
        else
            return 0;
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* ---- value confirmation (the reference's string semantics) -------------- */

static int eq_fold(const char *a, const char *b, size_t n, int fold)
{
    if (!fold)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)b[i])
            return 0;
    return 1;
}

/* The first occurrence of n in h (ASCII folding when fold: n lower-case),
 * or NULL: memchr for the first byte (both cases), then the rest. */
static const unsigned char *find_from(const unsigned char *h, size_t hlen, const char *n,
                                      size_t nlen, int fold)
{
    const unsigned char *end, *a, *b;
    unsigned char c, cu;
    if (nlen > hlen)
        return NULL;
    if (nlen == 0)
        return h;
    end = h + (hlen - nlen) + 1; /* candidate starts are below end */
    if (!fold) {
        /* memchr and memcmp: glibc's memmem costs ~2k instructions a call
         * on these short subjects */
        for (a = h; (a = memchr(a, (unsigned char)n[0], (size_t)(end - a))) != NULL; a++)
            if (memcmp(a + 1, n + 1, nlen - 1) == 0)
                return a;
        return NULL;
    }
    c = (unsigned char)n[0];
    cu = c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
    a = memchr(h, c, (size_t)(end - h));
    b = cu != c ? memchr(h, cu, (size_t)(end - h)) : NULL;
    while (a || b) {
        const unsigned char *q = !b || (a && a < b) ? a : b;
        if (eq_fold((const char *)q + 1, n + 1, nlen - 1, 1))
            return q;
        if (q == a)
            a = q + 1 < end ? memchr(q + 1, c, (size_t)(end - q - 1)) : NULL;
        else
            b = q + 1 < end ? memchr(q + 1, cu, (size_t)(end - q - 1)) : NULL;
    }
    return NULL;
}

/* ---- compile ----------------------------------------------------------- */

static int in_trie(const kb_sigma_pred *p, const kb_sigma_val *v);

/* How a string value of an HS predicate is found:
 *   VR_TRIE  a case-insensitive anchored literal: the slot's tries;
 *   VR_LITS  a substring made of bytes and windash dashes: its literal (one
 *            per dash variant), a hit is a match;
 *   VR_KEY   the longest literal run it contains, a hit is confirmed on the
 *            instance (wildcards, cased anchors);
 *   VR_EXPR  a Hyperscan expression of the whole value (no literal in it). */
enum { VR_TRIE, VR_LITS, VR_KEY, VR_EXPR };

#define DASH_MAX 2 /* windash tokens expanded into variants (5^n literals) */
/* what KB_SIGMA_TOK_DASH matches (sigma-match.c's match_one) */
static const char *const windash[5] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};

static int value_class(const kb_sigma_pred *p, const kb_sigma_val *v)
{
    size_t off, lo = 0, hi = v->ntok, ndash = 0;
    if (in_trie(p, v))
        return VR_TRIE;
    if (v->lit && v->anchor == 3)
        return VR_LITS;
    if (!v->lit && v->ntok >= 2 && v->tok[0] == KB_SIGMA_TOK_STAR &&
        v->tok[v->ntok - 1] == KB_SIGMA_TOK_STAR) {
        while (lo < hi && v->tok[lo] == KB_SIGMA_TOK_STAR)
            lo++;
        while (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        for (size_t i = lo; i < hi && ndash <= DASH_MAX; i++) {
            if (v->tok[i] == KB_SIGMA_TOK_DASH)
                ndash++;
            else if (v->tok[i] >= 256)
                ndash = DASH_MAX + 1;
        }
        if (lo < hi && ndash <= DASH_MAX)
            return VR_LITS;
    }
    return value_key(v, &off) > 0 ? VR_KEY : VR_EXPR;
}

static const kb_sigma_pred *pred_of(const kb_engine *e, uint32_t gp)
{
    const erule *er = &e->rules[e->preds[gp].rule];
    return &er->r->preds[gp - er->pred0];
}

static uint32_t slot_of(kb_engine *e, kb_fid fid, const char *name)
{
    if (fid == KB_FID_NONE || !name || fid >= e->nfids)
        return NOSLOT;
    if (e->fid2slot[fid] != NOSLOT)
        return e->fid2slot[fid];
    if (grow((void **)&e->slots, &e->aslots, e->nslots + 1, sizeof *e->slots))
        return NOSLOT;
    memset(&e->slots[e->nslots], 0, sizeof e->slots[0]);
    e->slots[e->nslots].fid = fid;
    e->slots[e->nslots].name = name;
    e->slots[e->nslots].canon = fid < KB_F_CANON_COUNT;
    e->fid2slot[fid] = (uint32_t)e->nslots;
    return (uint32_t)e->nslots++;
}

/* Chooses a predicate's mode and registers its values. */
static int setup_pred(kb_engine *e, uint32_t ri, uint32_t gp, const kb_sigma_pred *p,
                      const kb_event *empty, kb_buf *b)
{
    epred *ep = &e->preds[gp];
    int hs_ok;

    memset(ep, 0, sizeof *ep);
    ep->rule = ri;
    ep->z = (uint8_t)kb_sigma_pred_match(p, empty);
    ep->all = p->all;
    ep->need = 1;
    ep->slot = slot_of(e, p->field, p->field_name);
    if (p->field == KB_FID_NONE) {
        ep->mode = p->kind == KB_SP_STR ? PM_ALWAYS : PM_CONST;
        if (p->kind != KB_SP_STR || p->neq || ep->z)
            return KB_OK;
        /* plain substrings without NUL can be found in the values joined
         * by NUL bytes */
        for (uint32_t i = 0; i < p->nvals; i++) {
            const kb_sigma_val *v = &p->vals[i];
            if (v->isnull || v->is_int ||
                (!v->never && (!v->lit || v->anchor != 3 || v->litlen == 0 ||
                               memchr(v->lit, 0, v->litlen))))
                return KB_OK;
        }
        if (e->kw_slot == NOSLOT) {
            if (grow((void **)&e->slots, &e->aslots, e->nslots + 1, sizeof *e->slots))
                return KB_ENOMEM;
            memset(&e->slots[e->nslots], 0, sizeof e->slots[0]);
            e->slots[e->nslots].fid = KB_FID_NONE;
            e->slots[e->nslots].name = "";
            e->kw_slot = (uint32_t)e->nslots++;
        }
        ep->slot = e->kw_slot;
        hs_ok = 1;
        goto hs;
    }
    if (ep->slot == NOSLOT) {
        ep->mode = PM_ALWAYS;
        return KB_OK;
    }
    if (p->kind == KB_SP_RE && !p->neq && ep->z == 0) {
        /* a regex is prefiltered by a literal it requires, then confirmed */
        char key[256];
        int fold;
        hs_ok = p->nvals > 0;
        for (uint32_t i = 0; hs_ok && i < p->nvals; i++) {
            size_t slen;
            const char *src = p->vals[i].isnull ? NULL
                                                : sigma_re_source(e->rs, p->vals[i].re, &slen);
            if (!src || (regex_key(src, slen, (p->mods & KB_SM(RE_I)) != 0, key, sizeof key,
                                   &fold) < KEY_MIN &&
                         !regex_prefilter_ok(src, slen, p->mods)))
                hs_ok = 0;
        }
        if (!hs_ok) {
            ep->mode = PM_REF;
            return KB_OK;
        }
        ep->confirm = 1;
        goto hs;
    }
    hs_ok = p->kind == KB_SP_STR && !p->neq && ep->z == 0;
    for (uint32_t i = 0; hs_ok && i < p->nvals; i++) {
        int conf;
        if (p->vals[i].isnull)
            hs_ok = 0;
        else if (!p->vals[i].never && !value_pattern(&p->vals[i], b, &conf))
            hs_ok = 0;
        else if (!p->vals[i].never && conf && value_class(p, &p->vals[i]) == VR_EXPR)
            ep->confirm = 1;
    }
    if (!hs_ok) {
        ep->mode = PM_REF;
        ep->confirm = 0;
        return KB_OK;
    }
hs:
    if (p->nvals > PST_CNT) {
        /* more groups than a hit state counts: the reference decides */
        ep->mode = p->field == KB_FID_NONE ? PM_ALWAYS : PM_REF;
        ep->slot = p->field == KB_FID_NONE ? NOSLOT : ep->slot;
        ep->confirm = 0;
        return KB_OK;
    }
    ep->mode = PM_HS;
    ep->v0 = (uint32_t)e->nvals;
    {
        uint32_t runs = 0, prev = 0;
        for (uint32_t i = 0; i < p->nvals; i++) {
            const kb_sigma_val *v = &p->vals[i];
            if (i == 0 || v->group != prev)
                runs++;
            prev = v->group;
            if (v->never)
                continue;
            if (grow((void **)&e->vals, &e->avals, e->nvals + 1, sizeof *e->vals))
                return KB_ENOMEM;
            e->vals[e->nvals].v = v;
            e->vals[e->nvals].pred = gp;
            e->vals[e->nvals].gid = (uint32_t)(e->ngroups + runs - 1);
            e->vals[e->nvals].glob = NOSLOT;
            e->vals[e->nvals].is_int = v->is_int;
            e->vals[e->nvals].fold = !p->cased;
            e->nvals++;
        }
        e->ngroups += runs;
        if (p->all)
            ep->need = runs;
    }
    ep->nv = (uint32_t)e->nvals - ep->v0;
    return KB_OK;
}

typedef struct patset {
    char **expr;
    unsigned *flags, *ids;
    size_t n, cap;
} patset;

static void patset_clear(patset *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->expr[i]);
    ps->n = 0;
}

static int patset_add(patset *ps, const char *expr, unsigned flags, unsigned id)
{
    if (ps->n == ps->cap) {
        size_t c = ps->cap ? ps->cap * 2 : 64;
        char **x = realloc(ps->expr, c * sizeof *x);
        unsigned *f, *i;
        if (!x)
            return KB_ENOMEM;
        ps->expr = x;
        if (!(f = realloc(ps->flags, c * sizeof *f)))
            return KB_ENOMEM;
        ps->flags = f;
        if (!(i = realloc(ps->ids, c * sizeof *i)))
            return KB_ENOMEM;
        ps->ids = i;
        ps->cap = c;
    }
    if (!(ps->expr[ps->n] = kb_strdup(expr)))
        return KB_ENOMEM;
    ps->flags[ps->n] = flags;
    ps->ids[ps->n] = id;
    ps->n++;
    return KB_OK;
}

/* ---- tries ------------------------------------------------------------- */

/* A value the tries take: case-insensitive literal anchored at one end or
 * both (exact). */
/* A case-insensitive token value made of bytes and 1..DASH_MAX windash
 * dashes, anchored: exact, or one `*` at the end (prefix, *anchor 1) or at
 * the start (suffix, *anchor 2). Its tokens without the star are
 * [*lo, *hi); the tries take each dash variant (5^n literals), which
 * decides it as sigma_glob does (a dash is one of five fixed byte strings). */
static int trie_toks(const kb_sigma_pred *p, const kb_sigma_val *v, size_t *lo, size_t *hi,
                     int *anchor)
{
    size_t a = 0, b = v->ntok, ndash = 0;
    if (p->cased || p->kind != KB_SP_STR || v->lit || v->never || v->isnull || v->ntok < 2)
        return 0;
    *anchor = 0;
    if (v->tok[0] == KB_SIGMA_TOK_STAR) {
        a = 1;
        *anchor = 2;
    } else if (v->tok[b - 1] == KB_SIGMA_TOK_STAR) {
        b--;
        *anchor = 1;
    }
    if (a >= b)
        return 0;
    for (size_t i = a; i < b; i++) {
        if (v->tok[i] == KB_SIGMA_TOK_DASH)
            ndash++;
        else if (v->tok[i] >= 256)
            return 0;
    }
    if (ndash == 0 || ndash > DASH_MAX || (b - a) * 3 > 256)
        return 0;
    *lo = a;
    *hi = b;
    return 1;
}

static int in_trie(const kb_sigma_pred *p, const kb_sigma_val *v)
{
    size_t lo, hi;
    int anchor;
    if (!p->cased && v->lit && v->litlen > 0 && v->anchor <= 2 && !v->never)
        return 1;
    return trie_toks(p, v, &lo, &hi, &anchor);
}

static inline size_t edge_pos(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static inline uint32_t trie_child(const kb_engine *e, uint32_t node, unsigned char c)
{
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    size_t pos = edge_pos(key, e->ecap);
    for (;;) {
        uint64_t k = e->edges[pos].key;
        if (k == key)
            return e->edges[pos].child;
        if (!k)
            return NOSLOT;
        pos = (pos + 1) & (e->ecap - 1);
    }
}

static int edge_rehash(kb_engine *e)
{
    size_t ncap = e->ecap ? e->ecap * 2 : 1024;
    eedge *nk = calloc(ncap, sizeof *nk);
    if (!nk)
        return KB_ENOMEM;
    for (size_t i = 0; i < e->ecap; i++) {
        size_t pos;
        if (!e->edges[i].key)
            continue;
        pos = edge_pos(e->edges[i].key, ncap);
        while (nk[pos].key)
            pos = (pos + 1) & (ncap - 1);
        nk[pos] = e->edges[i];
    }
    free(e->edges);
    e->edges = nk;
    e->ecap = ncap;
    return KB_OK;
}

static uint32_t trie_new_node(kb_engine *e)
{
    if (grow((void **)&e->tn, &e->atn, e->ntn + 1, sizeof *e->tn))
        return NOSLOT;
    memset(&e->tn[e->ntn], 0, sizeof e->tn[0]);
    return (uint32_t)e->ntn++;
}

/* Walks (adding nodes) the path of bytes s (reversed when rev). */
static uint32_t trie_insert(kb_engine *e, uint32_t root, const char *s, size_t len, int rev)
{
    uint32_t node = root;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[rev ? len - 1 - i : i];
        uint32_t ch = trie_child(e, node, c);
        if (ch == NOSLOT) {
            uint64_t key = ((uint64_t)node << 8 | c) + 1;
            size_t pos;
            if ((e->nedges + 1) * 2 > e->ecap && edge_rehash(e))
                return NOSLOT;
            if ((ch = trie_new_node(e)) == NOSLOT)
                return NOSLOT;
            pos = edge_pos(key, e->ecap);
            while (e->edges[pos].key)
                pos = (pos + 1) & (e->ecap - 1);
            e->edges[pos].key = key;
            e->edges[pos].child = ch;
            e->nedges++;
        }
        node = ch;
    }
    return node;
}

static int cmp_term(const void *a, const void *b)
{
    const trie_term *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->exact != y->exact)
        return x->exact < y->exact ? -1 : 1;
    return x->vid < y->vid ? -1 : x->vid > y->vid;
}

/* Builds every slot's tries from the trie values of its HS predicates. */
static int build_tries(kb_engine *e)
{
    trie_term *terms = NULL;
    size_t nterms = 0, aterms = 0;
    int rc = KB_OK;

    if (edge_rehash(e))
        return KB_ENOMEM;
    for (size_t xi = 0; xi < e->nsubs; xi++)
        e->subs[xi].proot = e->subs[xi].sroot = NOSLOT;
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        const epred *ep = &e->preds[gp];
        const kb_sigma_pred *p;
        esub *sl;
        if (ep->mode != PM_HS)
            continue;
        p = pred_of(e, gp);
        sl = &e->subs[ep->sub];
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            const kb_sigma_val *v = e->vals[vid].v;
            uint32_t *root, node;
            size_t lo = 0, hi = 0, nvar = 1;
            int anchor;
            char buf[256];
            if (!in_trie(p, v))
                continue;
            if (v->lit) {
                anchor = v->anchor;
            } else {
                trie_toks(p, v, &lo, &hi, &anchor);
                for (size_t i = lo; i < hi; i++)
                    if (v->tok[i] == KB_SIGMA_TOK_DASH)
                        nvar *= 5;
            }
            root = anchor == 2 ? &sl->sroot : &sl->proot;
            if (*root == NOSLOT && (*root = trie_new_node(e)) == NOSLOT)
                goto nomem;
            for (size_t var = 0; var < nvar; var++) {
                const char *lit = v->lit;
                size_t len = v->litlen;
                if (!lit) {
                    size_t sel = var;
                    len = 0;
                    for (size_t i = lo; i < hi; i++) {
                        if (v->tok[i] == KB_SIGMA_TOK_DASH) {
                            const char *d = windash[sel % 5];
                            sel /= 5;
                            memcpy(buf + len, d, strlen(d));
                            len += strlen(d);
                        } else {
                            buf[len++] = (char)v->tok[i];
                        }
                    }
                    lit = buf;
                }
                if ((node = trie_insert(e, *root, lit, len, anchor == 2)) == NOSLOT)
                    goto nomem;
                if (grow((void **)&terms, &aterms, nterms + 1, sizeof *terms))
                    goto nomem;
                terms[nterms].node = node;
                terms[nterms].vid = vid;
                terms[nterms].exact = anchor == 0;
                nterms++;
            }
        }
    }
    if (nterms) {
        qsort(terms, nterms, sizeof *terms, cmp_term);
        if (!(e->tvids = malloc(nterms * sizeof *e->tvids)))
            goto nomem;
        for (size_t i = 0; i < nterms; i++) {
            trie_node *n = &e->tn[terms[i].node];
            if (i == 0 || terms[i - 1].node != terms[i].node)
                n->off = (uint32_t)i;
            if (terms[i].exact)
                n->nex++;
            else
                n->npre++;
            e->tvids[i] = terms[i].vid;
        }
        e->ntvids = nterms;
    }
    goto out;
nomem:
    rc = KB_ENOMEM;
out:
    free(terms);
    return rc;
}

/* ---- literal tables ----------------------------------------------------- */

/* A literal of a pattern set: its hits go to the entries (value id, with
 * CONFIRM_BIT when the value must be confirmed on the instance). */
typedef struct plit {
    char *bytes;
    size_t len;
    uint8_t fold;
    uint32_t uid;
} plit;

static int add_entry(kb_engine *e, uint32_t ent)
{
    if (grow((void **)&e->ents, &e->aents, e->nents + 1, sizeof *e->ents))
        return KB_ENOMEM;
    e->ents[e->nents++] = ent;
    return KB_OK;
}

/* A new literal id whose entries start at the current end of e->ents. */
static int new_uid(kb_engine *e, uint32_t *uid)
{
    if (grow((void **)&e->uids, &e->auids, e->nuids + 1, sizeof *e->uids))
        return KB_ENOMEM;
    e->uids[e->nuids].ent0 = (uint32_t)e->nents;
    e->uids[e->nuids].nent = 0;
    *uid = (uint32_t)e->nuids++;
    return KB_OK;
}

/* Per-set gathering of (literal -> entries) before the ids are assigned. */
typedef struct lgather {
    struct lrec {
        char *bytes;
        size_t len;
        uint8_t fold;
        uint32_t ent;
    } *r;
    size_t n, cap;
} lgather;

static int lgather_add(lgather *g, const char *b, size_t len, int fold, uint32_t ent)
{
    char *c;
    if (grow((void **)&g->r, &g->cap, g->n + 1, sizeof *g->r))
        return KB_ENOMEM;
    if (!(c = malloc(len + 1)))
        return KB_ENOMEM;
    memcpy(c, b, len);
    c[len] = 0;
    g->r[g->n].bytes = c;
    g->r[g->n].len = len;
    g->r[g->n].fold = (uint8_t)fold;
    g->r[g->n].ent = ent;
    g->n++;
    return KB_OK;
}

static int cmp_lrec(const void *a, const void *b)
{
    const struct lrec *x = a, *y = b;
    int c;
    if (x->fold != y->fold)
        return x->fold < y->fold ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if ((c = memcmp(x->bytes, y->bytes, x->len)))
        return c;
    return x->ent < y->ent ? -1 : x->ent > y->ent;
}

/* The literals of one value into g (VR_LITS, VR_KEY, regex keys). Returns
 * KB_OK, or KB_EINVAL when the value needs a whole expression. */
static int value_literals(const kb_engine *e, uint32_t vid, lgather *g)
{
    const evalue *ev = &e->vals[vid];
    const kb_sigma_pred *p = pred_of(e, ev->pred);
    const kb_sigma_val *v = ev->v;
    char buf[1024];

    if (p->kind == KB_SP_RE) {
        size_t slen, n;
        int fold = 0;
        const char *src = sigma_re_source(e->rs, v->re, &slen);
        if (!src || (n = regex_key(src, slen, (p->mods & KB_SM(RE_I)) != 0, buf, 256, &fold)) <
                        KEY_MIN)
            return KB_EINVAL;
        return lgather_add(g, buf, n, fold, vid);
    }
    switch (value_class(p, v)) {
    case VR_LITS: {
        size_t lo = 0, hi, nvar = 1;
        if (v->lit)
            return lgather_add(g, v->lit, v->litlen, ev->fold, vid);
        hi = v->ntok;
        while (lo < hi && v->tok[lo] == KB_SIGMA_TOK_STAR)
            lo++;
        while (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        if ((hi - lo) * 3 > sizeof buf)
            return KB_EINVAL;
        for (size_t i = lo; i < hi; i++)
            if (v->tok[i] == KB_SIGMA_TOK_DASH)
                nvar *= 5;
        for (size_t var = 0; var < nvar; var++) {
            size_t n = 0, sel = var;
            int rc;
            for (size_t i = lo; i < hi; i++) {
                if (v->tok[i] == KB_SIGMA_TOK_DASH) {
                    const char *d = windash[sel % 5];
                    sel /= 5;
                    memcpy(buf + n, d, strlen(d));
                    n += strlen(d);
                } else {
                    buf[n++] = (char)v->tok[i];
                }
            }
            if ((rc = lgather_add(g, buf, n, ev->fold, vid)))
                return rc;
        }
        return KB_OK;
    }
    case VR_KEY: {
        size_t off, n = value_key(v, &off);
        if (n > sizeof buf)
            n = sizeof buf;
        if (v->lit)
            memcpy(buf, v->lit, n);
        else
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)v->tok[off + i];
        return lgather_add(g, buf, n, ev->fold, vid | CONFIRM_BIT);
    }
    default:
        return KB_EINVAL;
    }
}

#define KEY3 0x1000000u

/* The key of a literal of 3 or 4 bytes: its lower-cased first three. */
static inline uint32_t short_key3(const unsigned char *b)
{
    return KEY3 | (uint32_t)lower(b[0]) << 16 | (uint32_t)lower(b[1]) << 8 | lower(b[2]);
}

static inline uint32_t key3_bit(uint32_t k3)
{
    return (k3 * 0x9E3779B1u) >> 16;
}

static int cmp_short(const void *a, const void *b)
{
    const eshort *x = a, *y = b;
    if ((x->len == 1) != (y->len == 1))
        return x->len == 1 ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Plans set xi (serially): literal ids and entries, the short-literal
 * table, and the Hyperscan expressions to compile (sub->expr). */
static int plan_sub(kb_engine *e, esub *x, kb_buf *b)
{
    lgather g = {0};
    size_t aexpr = 0, ashort = 0, arexpr = 0;
    int rc = KB_OK;

    for (size_t k = 0; k < x->np; k++) {
        const epred *ep = &e->preds[x->preds[k]];
        const kb_sigma_pred *p = pred_of(e, x->preds[k]);
        if (ep->mode != PM_HS)
            continue;
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            int conf;
            uint32_t uid;
            if (p->kind != KB_SP_RE && in_trie(p, e->vals[vid].v))
                continue;
            rc = value_literals(e, vid, &g);
            if (rc == KB_OK)
                continue;
            if (rc != KB_EINVAL)
                goto out;
            if (p->kind == KB_SP_RE) {
                /* a regex without a literal key: Hyperscan prefilter */
                size_t slen;
                const char *src = sigma_re_source(e->rs, e->vals[vid].v->re, &slen);
                unsigned fl = HS_FLAG_PREFILTER | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH |
                              HS_FLAG_ALLOWEMPTY;
                char *z;
                if (!src) {
                    rc = KB_EINVAL;
                    goto out;
                }
                if (p->mods & KB_SM(RE_I))
                    fl |= HS_FLAG_CASELESS;
                if (p->mods & KB_SM(RE_M))
                    fl |= HS_FLAG_MULTILINE;
                if (p->mods & KB_SM(RE_S))
                    fl |= HS_FLAG_DOTALL;
                if ((rc = new_uid(e, &uid)) || (rc = add_entry(e, vid)))
                    goto out;
                e->uids[uid].nent = 1;
                if ((rc = grow((void **)&x->rexpr, &arexpr, x->nrexpr + 1, sizeof *x->rexpr)))
                    goto out;
                if (!(z = malloc(slen + 1))) {
                    rc = KB_ENOMEM;
                    goto out;
                }
                memcpy(z, src, slen);
                z[slen] = 0;
                x->rexpr[x->nrexpr].s = z;
                x->rexpr[x->nrexpr].flags = fl;
                x->rexpr[x->nrexpr].uid = uid;
                x->nrexpr++;
                continue;
            }
            /* a whole expression, alone under its id */
            if (!value_pattern(e->vals[vid].v, b, &conf)) {
                rc = KB_ENOMEM;
                goto out;
            }
            if ((rc = new_uid(e, &uid)) || (rc = add_entry(e, vid)))
                goto out;
            e->uids[uid].nent = 1;
            if ((rc = grow((void **)&x->expr, &aexpr, x->nexpr + 1, sizeof *x->expr)))
                goto out;
            if (!(x->expr[x->nexpr].s = kb_strdup(b->data))) {
                rc = KB_ENOMEM;
                goto out;
            }
            x->expr[x->nexpr].flags = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL |
                                      (p->cased ? 0 : HS_FLAG_CASELESS);
            x->expr[x->nexpr].uid = uid;
            x->expr[x->nexpr].lit = NULL;
            x->nexpr++;
        }
    }
    /* one id per distinct literal */
    if (g.n)
        qsort(g.r, g.n, sizeof *g.r, cmp_lrec);
    for (size_t i = 0; i < g.n;) {
        size_t j = i;
        uint32_t uid;
        const struct lrec *r = &g.r[i];
        if ((rc = new_uid(e, &uid)))
            goto out;
        for (; j < g.n && g.r[j].fold == r->fold && g.r[j].len == r->len &&
               memcmp(g.r[j].bytes, r->bytes, r->len) == 0;
             j++)
            if (j == i || g.r[j].ent != g.r[j - 1].ent)
                if ((rc = add_entry(e, g.r[j].ent)))
                    goto out;
        e->uids[uid].nent = (uint32_t)(e->nents - e->uids[uid].ent0);
        if (r->len < SHORT_MAX + 1) {
            eshort *sh;
            if ((rc = grow((void **)&x->shorts, &ashort, x->nshort + 1, sizeof *x->shorts)))
                goto out;
            sh = &x->shorts[x->nshort++];
            memset(sh, 0, sizeof *sh);
            memcpy(sh->b, r->bytes, r->len);
            sh->len = (uint8_t)r->len;
            sh->fold = r->fold;
            sh->uid = uid;
            sh->key = r->len == 1   ? 0 /* sorts first */
                      : r->len == 2 ? (uint32_t)lower((unsigned char)r->bytes[0]) << 8 |
                                          lower((unsigned char)r->bytes[1])
                                    : short_key3((const unsigned char *)r->bytes);
            x->nsingle += r->len == 1;
        } else {
            kb_buf_clear(b);
            for (size_t k = 0; k < r->len; k++)
                put_byte(b, (unsigned char)r->bytes[k]);
            if (!b->data || b->len >= b->cap) {
                rc = KB_ENOMEM;
                goto out;
            }
            if ((rc = grow((void **)&x->expr, &aexpr, x->nexpr + 1, sizeof *x->expr)))
                goto out;
            if (!(x->expr[x->nexpr].s = kb_strdup(b->data))) {
                rc = KB_ENOMEM;
                goto out;
            }
            x->expr[x->nexpr].flags = HS_FLAG_SINGLEMATCH | (r->fold ? HS_FLAG_CASELESS : 0);
            x->expr[x->nexpr].uid = uid;
            x->expr[x->nexpr].lit = NULL;
            if (!(x->expr[x->nexpr].lit = malloc(r->len))) {
                free(x->expr[x->nexpr].s);
                rc = KB_ENOMEM;
                goto out;
            }
            for (size_t k = 0; k < r->len; k++) {
                unsigned char c = (unsigned char)r->bytes[k];
                x->expr[x->nexpr].lit[k] = (char)(r->fold ? lower(c) : c);
            }
            x->expr[x->nexpr].litlen = (uint32_t)r->len;
            x->expr[x->nexpr].fold = r->fold;
            x->nexpr++;
        }
        i = j;
    }
    if (x->nshort > x->nsingle) {
        size_t cap = 16;
        qsort(x->shorts, x->nshort, sizeof *x->shorts, cmp_short);
        while (cap < (x->nshort - x->nsingle) * 2)
            cap *= 2;
        x->sbits = calloc(3 * 8192, 1);
        x->hkey = malloc(cap * sizeof *x->hkey);
        x->hstart = malloc(cap * sizeof *x->hstart);
        if (!x->sbits || !x->hkey || !x->hstart) {
            rc = KB_ENOMEM;
            goto out;
        }
        x->hmask = cap - 1;
        for (size_t k = 0; k < cap; k++)
            x->hkey[k] = UINT32_MAX;
        for (size_t k = x->nsingle; k < x->nshort; k++) {
            uint32_t key = x->shorts[k].key;
            size_t pos;
            if (k > x->nsingle && x->shorts[k - 1].key == key)
                continue;
            if (key & KEY3) {
                uint32_t k2 = (key >> 8) & 0xffff;
                x->sbits[8192 + (key3_bit(key) >> 3)] |= (uint8_t)(1u << (key3_bit(key) & 7));
                x->sbits[16384 + (k2 >> 3)] |= (uint8_t)(1u << (k2 & 7));
                x->has3 = 1;
            } else {
                x->sbits[key >> 3] |= (uint8_t)(1u << (key & 7));
                x->sbits[16384 + (key >> 3)] |= (uint8_t)(1u << (key & 7));
                x->has2 = 1;
            }
            pos = (size_t)((key * 0x9E3779B1u) >> 16) & x->hmask;
            while (x->hkey[pos] != UINT32_MAX)
                pos = (pos + 1) & x->hmask;
            x->hkey[pos] = key;
            x->hstart[pos] = (uint32_t)k;
        }
    }
    x->minlen = x->nrexpr ? 1 : UINT32_MAX;
    for (size_t k = 0; k < x->nshort; k++)
        if (x->shorts[k].len < x->minlen)
            x->minlen = x->shorts[k].len;
    for (size_t k = 0; k < x->nexpr; k++) {
        uint32_t m = x->expr[k].lit ? x->expr[k].litlen : 1;
        if (m < x->minlen)
            x->minlen = m;
    }
    if (x->minlen == 0 || x->minlen == UINT32_MAX)
        x->minlen = 1;
out:
    for (size_t i = 0; i < g.n; i++)
        free(g.r[i].bytes);
    free(g.r);
    return rc;
}

/* Compiles exprs[0..n) into *db; an expression Hyperscan refuses turns
 * the predicates of its entries into PM_REF and the rest is compiled again.
 * Touches only the predicates of one set (sets compile in parallel). */
static int compile_db(kb_engine *e, const esub *x, const eexpr *exprs, size_t n,
                      hs_database_t **db, size_t *npat, patset *ps)
{
    int rc = KB_OK;
    for (;;) {
        hs_compile_error_t *cerr = NULL;
        patset_clear(ps);
        for (size_t k = 0; k < n; k++) {
            const euid *u = &e->uids[exprs[k].uid];
            int live = 0;
            for (uint32_t q = 0; q < u->nent; q++)
                live |= e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
            if (live && (rc = patset_add(ps, exprs[k].s, exprs[k].flags, exprs[k].uid)))
                return rc;
        }
        if (ps->n == 0)
            return KB_OK;
        if (hs_compile_multi((const char *const *)ps->expr, ps->flags, ps->ids, (unsigned)ps->n,
                             HS_MODE_BLOCK, NULL, db, &cerr) == HS_SUCCESS) {
            *npat = ps->n;
            return KB_OK;
        }
        *db = NULL;
        if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < ps->n) {
            const euid *u = &e->uids[ps->ids[cerr->expression]];
            for (uint32_t q = 0; q < u->nent; q++)
                e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode = PM_REF;
            hs_free_compile_error(cerr);
            continue;
        }
        if (cerr)
            hs_free_compile_error(cerr);
        for (size_t k = 0; k < x->np; k++)
            if (e->preds[x->preds[k]].mode == PM_HS)
                e->preds[x->preds[k]].mode = PM_REF;
        return KB_OK;
    }
}

/* Builds set x's databases and integer index. */
static int compile_sub(kb_engine *e, esub *x, patset *ps)
{
    size_t aints = 0, npat = 0, arui = 0;
    int rc;

    if ((rc = compile_db(e, x, x->rexpr, x->nrexpr, &x->rdb, &npat, ps)))
        goto out;
    if (x->rdb)
        for (size_t k = 0; k < x->nrexpr; k++) {
            const euid *u = &e->uids[x->rexpr[k].uid];
            if (e->preds[e->vals[e->ents[u->ent0]].pred].mode != PM_HS)
                continue;
            if ((rc = grow((void **)&x->ruids, &arui, x->nruids + 1, sizeof *x->ruids)))
                goto out;
            x->ruids[x->nruids++] = x->rexpr[k].uid;
        }
    {
        /* a few literals and nothing else: searched directly */
        size_t nlive = 0, nlit = 0;
        for (size_t k = 0; k < x->nexpr; k++) {
            const euid *u = &e->uids[x->expr[k].uid];
            int live = 0;
            for (uint32_t q = 0; q < u->nent; q++)
                live |= e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
            nlive += live;
            nlit += live && x->expr[k].lit;
        }
        if (nlive && nlive == nlit && nlive <= LIT_FEW) {
            if (!(x->flits = calloc(nlive, sizeof *x->flits))) {
                rc = KB_ENOMEM;
                goto out;
            }
            for (size_t k = 0; k < x->nexpr; k++) {
                const euid *u = &e->uids[x->expr[k].uid];
                int live = 0;
                for (uint32_t q = 0; q < u->nent; q++)
                    live |=
                        e->preds[e->vals[e->ents[u->ent0 + q] & ~CONFIRM_BIT].pred].mode == PM_HS;
                if (!live)
                    continue;
                x->flits[x->nflits].b = x->expr[k].lit;
                x->flits[x->nflits].len = x->expr[k].litlen;
                x->flits[x->nflits].uid = x->expr[k].uid;
                x->flits[x->nflits].fold = x->expr[k].fold;
                x->nflits++;
            }
            x->npat += x->nflits;
        } else if ((rc = compile_db(e, x, x->expr, x->nexpr, &x->db, &x->npat, ps))) {
            goto out;
        }
    }
    x->npat += npat;
    for (size_t k = 0; k < x->np; k++) {
        const epred *ep = &e->preds[x->preds[k]];
        if (ep->mode != PM_HS)
            continue;
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            if (!e->vals[vid].is_int)
                continue;
            if ((rc = grow((void **)&x->ints, &aints, x->nints + 1, sizeof *x->ints)))
                goto out;
            x->ints[x->nints].ival = e->vals[vid].v->ival;
            x->ints[x->nints].vid = vid;
            x->nints++;
        }
    }
    if (x->nints)
        qsort(x->ints, x->nints, sizeof *x->ints, cmp_eint);
out:
    patset_clear(ps);
    return rc;
}

/* Compiles the sets from a shared counter, on COMPILE_THREADS threads. */
typedef struct compile_job {
    kb_engine *e;
    atomic_size_t next;
    atomic_int rc;
} compile_job;

static void *compile_worker(void *arg)
{
    compile_job *job = arg;
    patset ps = {0};
    size_t xi;

    while ((xi = atomic_fetch_add(&job->next, 1)) < job->e->nsubs) {
        int rc = compile_sub(job->e, &job->e->subs[xi], &ps);
        if (rc) {
            atomic_store(&job->rc, rc);
            break;
        }
    }
    free(ps.expr);
    free(ps.flags);
    free(ps.ids);
    return NULL;
}

static int compile_subs(kb_engine *e)
{
    compile_job job;
    pthread_t th[COMPILE_THREADS];
    int started = 0;

    job.e = e;
    atomic_init(&job.next, 0);
    atomic_init(&job.rc, KB_OK);
    for (int k = 1; k < COMPILE_THREADS; k++)
        if (pthread_create(&th[started], NULL, compile_worker, &job) == 0)
            started++;
    compile_worker(&job);
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    return atomic_load(&job.rc);
}

/* Cost of the trigger a predicate needs when it must be watched. */
/* The cost of watching a predicate: how often it would wake its rule up
 * for nothing, roughly. Exact, prefix and suffix values and integers
 * (Image|endswith '\\powershell.exe', EventID) hit far more often than the
 * longer substrings rules pair them with, so an AND watches the substring. */
static uint32_t pred_cost(const kb_engine *e, uint32_t gp)
{
    const epred *ep = &e->preds[gp];
    switch (ep->mode) {
    case PM_HS: {
        const kb_sigma_pred *p = pred_of(e, gp);
        int anchored = ep->nv > 0 && p->kind == KB_SP_STR;
        if (ep->shorty)
            return COST_SHORT;
        if (ep->slot != NOSLOT && ep->slot == e->eventid_slot)
            return COST_EVENTID; /* routing already checked it: it would always hit */
        int exact = 1;
        size_t minlen = SIZE_MAX;
        if (ep->confirm)
            return COST_CONFIRM;
        for (uint32_t vid = ep->v0; anchored && vid < ep->v0 + ep->nv; vid++) {
            const kb_sigma_val *v = e->vals[vid].v;
            size_t len = v->lit ? v->litlen : v->ntok;
            anchored = e->vals[vid].is_int || in_trie(p, v);
            exact &= e->vals[vid].is_int || (v->lit && v->anchor == 0);
            if (len < minlen)
                minlen = len;
        }
        if (!anchored)
            return COST_HS;
        return (exact ? COST_ANCHORED - 1 : COST_ANCHORED) + (minlen <= SHORT_MAX ? 3 : 0);
    }
    case PM_REF: return COST_REF;
    case PM_CONST: return 0;
    default: return COST_INF;
    }
}

static uint32_t add_cost(uint32_t a, uint32_t b)
{
    return a + b >= COST_INF ? COST_INF : a + b;
}

typedef struct tnode {
    uint32_t op;   /* index into the program */
    uint32_t c0;   /* first child in kids */
    uint32_t n;    /* children */
    uint8_t val;   /* value on an empty event */
    uint8_t need;  /* must be watched */
    uint32_t cost; /* cost of watching it */
    uint8_t any;   /* EventID requirement: 1 = none */
    int64_t *req;
    size_t nreq;
} tnode;

/* Requirement of a predicate on EventID: every value an integer. */
static int pred_req(const kb_engine *e, uint32_t gp, int64_t **req, size_t *nreq)
{
    const epred *ep = &e->preds[gp];
    const kb_sigma_pred *p = pred_of(e, gp);
    if (e->eventid_slot == NOSLOT || ep->slot != e->eventid_slot || p->kind != KB_SP_STR ||
        p->neq || ep->mode != PM_HS || p->nvals == 0)
        return 0;
    for (uint32_t i = 0; i < p->nvals; i++)
        if (!p->vals[i].is_int || p->vals[i].isnull)
            return 0;
    if (!(*req = malloc(p->nvals * sizeof **req)))
        return 0;
    for (uint32_t i = 0; i < p->nvals; i++)
        (*req)[i] = p->vals[i].ival;
    *nreq = p->nvals;
    return 1;
}

/* Watch set, always flag and EventID requirement of one rule, from its
 * program as a tree (built iteratively: postfix order puts children before
 * their parent, so a reverse walk visits parents first). */
static int analyse_rule(kb_engine *e, uint32_t ri)
{
    erule *er = &e->rules[ri];
    const kb_rule *r = er->r;
    size_t nops = r->nops;
    tnode *t = NULL;
    uint32_t *kids = NULL, *stack = NULL;
    size_t sp = 0, nk = 0;
    int rc = KB_OK;

    if (nops == 0)
        goto always;
    t = calloc(nops, sizeof *t);
    kids = malloc(nops * sizeof *kids);
    stack = malloc(nops * sizeof *stack);
    if (!t || !kids || !stack) {
        rc = KB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nops; i++) {
        const kb_sigma_op *o = &r->prog[i];
        tnode *n = &t[i];
        uint32_t cnt = 0;
        n->op = (uint32_t)i;
        n->any = 1;
        switch (o->op) {
        case KB_SOP_PRED: {
            uint32_t gp = er->pred0 + o->arg;
            if (o->arg >= er->npreds)
                goto always;
            n->val = e->preds[gp].z;
            n->cost = pred_cost(e, gp);
            if (pred_req(e, gp, &n->req, &n->nreq))
                n->any = 0;
            break;
        }
        case KB_SOP_NOT:
            if (sp < 1)
                goto always;
            n->n = 1;
            break;
        case KB_SOP_AND:
        case KB_SOP_OR:
        case KB_SOP_NOF:
            if (o->n == 0 || sp < o->n)
                goto always;
            n->n = o->n;
            break;
        default:
            goto always;
        }
        if (n->n) {
            /* children: the top n->n stack entries, in push order */
            n->c0 = (uint32_t)nk;
            for (uint32_t k = 0; k < n->n; k++)
                kids[nk++] = stack[sp - n->n + k];
            sp -= n->n;
            for (uint32_t k = 0; k < n->n; k++)
                cnt += t[kids[n->c0 + k]].val;
            switch (o->op) {
            case KB_SOP_NOT: n->val = !t[kids[n->c0]].val; break;
            case KB_SOP_AND: n->val = cnt == n->n; break;
            case KB_SOP_OR: n->val = cnt > 0; break;
            default: n->val = cnt >= o->arg; break;
            }
            /* cost of keeping this node at its value */
            if (o->op == KB_SOP_NOT) {
                n->cost = t[kids[n->c0]].cost;
            } else {
                int pick_min = (o->op == KB_SOP_AND && !n->val) ||
                               (o->op == KB_SOP_OR && n->val);
                uint32_t c = pick_min ? COST_INF : 0;
                for (uint32_t k = 0; k < n->n; k++) {
                    const tnode *ch = &t[kids[n->c0 + k]];
                    if (ch->val != n->val)
                        continue; /* it can only push the node further */
                    c = pick_min ? (ch->cost < c ? ch->cost : c) : add_cost(c, ch->cost);
                }
                n->cost = c;
            }
            /* EventID requirement */
            if (o->op == KB_SOP_AND) {
                for (uint32_t k = 0; k < n->n; k++) {
                    tnode *ch = &t[kids[n->c0 + k]];
                    if (!ch->any && (n->any || ch->nreq < n->nreq)) {
                        n->any = 0;
                        n->req = ch->req;
                        n->nreq = ch->nreq;
                    }
                }
                if (!n->any) {
                    /* take ownership: copy, children keep theirs */
                    int64_t *c = malloc(n->nreq * sizeof *c);
                    if (!c) {
                        n->any = 1;
                        n->req = NULL;
                    } else {
                        memcpy(c, n->req, n->nreq * sizeof *c);
                        n->req = c;
                    }
                }
            } else if (o->op == KB_SOP_OR || (o->op == KB_SOP_NOF && o->arg >= 1)) {
                size_t tot = 0;
                int all_req = 1;
                for (uint32_t k = 0; k < n->n; k++) {
                    all_req &= !t[kids[n->c0 + k]].any;
                    tot += t[kids[n->c0 + k]].nreq;
                }
                if (all_req && (n->req = malloc(tot * sizeof *n->req)) != NULL) {
                    for (uint32_t k = 0; k < n->n; k++) {
                        const tnode *ch = &t[kids[n->c0 + k]];
                        memcpy(n->req + n->nreq, ch->req, ch->nreq * sizeof *ch->req);
                        n->nreq += ch->nreq;
                    }
                    n->any = 0;
                }
            }
        }
        stack[sp++] = (uint32_t)i;
    }
    if (sp != 1)
        goto always;
    {
        tnode *root = &t[stack[0]];
        if (root->val || root->cost >= COST_INF)
            goto always_req;
        root->need = 1;
        for (size_t i = nops; i-- > 0;) {
            tnode *n = &t[i];
            const kb_sigma_op *o = &r->prog[i];
            if (!n->need)
                continue;
            if (o->op == KB_SOP_PRED) {
                e->preds[er->pred0 + o->arg].watched = 1;
                continue;
            }
            if (o->op == KB_SOP_NOT) {
                t[kids[n->c0]].need = 1;
                continue;
            }
            if ((o->op == KB_SOP_AND && !n->val) || (o->op == KB_SOP_OR && n->val)) {
                uint32_t best = UINT32_MAX, bc = COST_INF + 1;
                for (uint32_t k = 0; k < n->n; k++) {
                    const tnode *ch = &t[kids[n->c0 + k]];
                    if (ch->val == n->val && ch->cost < bc) {
                        bc = ch->cost;
                        best = kids[n->c0 + k];
                    }
                }
                if (best != UINT32_MAX)
                    t[best].need = 1;
                continue;
            }
            for (uint32_t k = 0; k < n->n; k++)
                if (t[kids[n->c0 + k]].val == n->val)
                    t[kids[n->c0 + k]].need = 1;
        }
    }
    {
        /* predicates ANDed at the top (through nested ANDs): when one of
         * them is a Hyperscan predicate without a hit, the rule is false */
        uint32_t *todo = malloc(nops * sizeof *todo);
        size_t nt = 0;
        if (!todo) {
            rc = KB_ENOMEM;
            goto out;
        }
        if (r->prog[stack[0]].op == KB_SOP_AND)
            todo[nt++] = stack[0];
        while (nt) {
            const tnode *n = &t[todo[--nt]];
            for (uint32_t k = 0; k < n->n; k++) {
                uint32_t c = kids[n->c0 + k];
                const kb_sigma_op *o = &r->prog[c];
                if (o->op == KB_SOP_AND) {
                    todo[nt++] = c;
                } else if (o->op == KB_SOP_PRED) {
                    uint32_t *m = realloc(er->must, (er->nmust + 1) * sizeof *m);
                    if (!m) {
                        free(todo);
                        rc = KB_ENOMEM;
                        goto out;
                    }
                    er->must = m;
                    er->must[er->nmust++] = er->pred0 + o->arg;
                }
            }
        }
        free(todo);
    }
always_req:
    if (sp == 1 && !t[stack[0]].any && t[stack[0]].nreq) {
        tnode *root = &t[stack[0]];
        er->req = malloc(root->nreq * sizeof *er->req);
        if (er->req) {
            memcpy(er->req, root->req, root->nreq * sizeof *er->req);
            qsort(er->req, root->nreq, sizeof *er->req, cmp_i64);
            er->nreq = root->nreq;
            er->has_req = 1;
        }
    }
    if (sp == 1 && (t[stack[0]].val || t[stack[0]].cost >= COST_INF))
        er->always = 1;
    goto out;
always:
    er->always = 1;
    for (uint32_t k = 0; k < er->npreds; k++)
        e->preds[er->pred0 + k].watched = 0;
out:
    if (t)
        for (size_t i = 0; i < nops; i++)
            free(t[i].req);
    free(t);
    free(kids);
    free(stack);
    return rc;
}

/* Regex runs for the regex predicates (not negated, not `all`). */
static int add_run(kb_engine *e, const char *b, size_t len)
{
    if (grow((void **)&e->runs, &e->aruns, e->nruns + 1, sizeof *e->runs) ||
        grow((void **)&e->runbytes, &e->arunbytes, e->nrunbytes + len, 1))
        return KB_ENOMEM;
    memcpy(e->runbytes + e->nrunbytes, b, len);
    e->runs[e->nruns].off = (uint32_t)e->nrunbytes;
    e->runs[e->nruns].len = (uint32_t)len;
    e->nrunbytes += len;
    e->nruns++;
    return KB_OK;
}

/* The runs of every string value made of bytes and `*` with a `*` inside
 * or at an end (values the engine confirms on a literal hit). */
static int build_globs(kb_engine *e)
{
    for (size_t vid = 0; vid < e->nvals; vid++) {
        const kb_sigma_val *v = e->vals[vid].v;
        const kb_sigma_pred *p = pred_of(e, e->vals[vid].pred);
        eglob g;
        char buf[256];
        size_t n = 0, i;
        if (p->kind != KB_SP_STR || v->lit || v->never || v->isnull || !v->ntok)
            continue;
        for (i = 0; i < v->ntok; i++)
            if (v->tok[i] > KB_SIGMA_TOK_STAR)
                break;
        if (i < v->ntok)
            continue;
        memset(&g, 0, sizeof g);
        g.run0 = (uint32_t)e->nruns;
        g.head = v->tok[0] == KB_SIGMA_TOK_STAR;
        g.tail = v->tok[v->ntok - 1] == KB_SIGMA_TOK_STAR;
        for (i = 0; i <= v->ntok; i++) {
            if (i == v->ntok || v->tok[i] == KB_SIGMA_TOK_STAR) {
                if (n && add_run(e, buf, n))
                    return KB_ENOMEM;
                g.nrun += n > 0;
                n = 0;
            } else if (n == sizeof buf) {
                break;
            } else {
                buf[n++] = (char)v->tok[i];
            }
        }
        if (i <= v->ntok || g.nrun == 0) {
            e->nruns = g.run0; /* too long a run: sigma_glob decides */
            continue;
        }
        if (grow((void **)&e->globs, &e->aglobs, e->nglobs + 1, sizeof *e->globs))
            return KB_ENOMEM;
        e->globs[e->nglobs] = g;
        e->vals[vid].glob = (uint32_t)e->nglobs++;
    }
    return KB_OK;
}

static int build_rxs(kb_engine *e)
{
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        const kb_sigma_pred *p = pred_of(e, gp);
        epred *ep = &e->preds[gp];
        ep->rx0 = NOSLOT;
        if (p->kind != KB_SP_RE || p->neq || p->all || ep->slot == NOSLOT || !p->nvals)
            continue;
        ep->rx0 = (uint32_t)e->nrxs;
        for (uint32_t i = 0; i < p->nvals; i++) {
            rxcoll c;
            int fold = 0;
            size_t slen;
            const char *src = sigma_re_source(e->rs, p->vals[i].re, &slen);
            erx *x;
            if (grow((void **)&e->rxs, &e->arxs, e->nrxs + 1, sizeof *e->rxs))
                return KB_ENOMEM;
            x = &e->rxs[e->nrxs++];
            memset(x, 0, sizeof *x);
            memset(&c, 0, sizeof c);
            x->run0 = (uint32_t)e->nruns;
            if (!src || !regex_runs(src, slen, (p->mods & KB_SM(RE_I)) != 0, &c, &fold) ||
                c.nrun == 0) {
                x->any = 1;
                continue;
            }
            x->fold = (uint8_t)fold;
            for (size_t k = 0; k < c.nrun; k++) {
                if (grow((void **)&e->runs, &e->aruns, e->nruns + 1, sizeof *e->runs) ||
                    grow((void **)&e->runbytes, &e->arunbytes, e->nrunbytes + c.run[k].len,
                         1))
                    return KB_ENOMEM;
                memcpy(e->runbytes + e->nrunbytes, c.buf + c.run[k].off, c.run[k].len);
                e->runs[e->nruns].off = (uint32_t)e->nrunbytes;
                e->runs[e->nruns].len = c.run[k].len;
                e->nrunbytes += c.run[k].len;
                e->nruns++;
            }
            x->nrun = (uint32_t)c.nrun;
        }
    }
    return KB_OK;
}

/* Marks HS predicates with a literal of at most SHORT_MAX bytes: they hit
 * often, so watch sets prefer other predicates (COST_SHORT). (Leaving them
 * to the reference instead of scanning for them was measured: the
 * reference's substring search costs more than the short-literal scan.) */
static void mark_shorts(kb_engine *e)
{
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        epred *ep = &e->preds[gp];
        const kb_sigma_pred *p = pred_of(e, gp);
        if (ep->mode != PM_HS || p->kind != KB_SP_STR || ep->slot == e->kw_slot)
            continue;
        for (uint32_t i = 0; i < p->nvals && !ep->shorty; i++) {
            const kb_sigma_val *v = &p->vals[i];
            size_t off;
            if (v->never)
                continue;
            switch (value_class(p, v)) {
            case VR_LITS:
                ep->shorty = (v->lit ? v->litlen : value_key(v, &off)) <= SHORT_MAX;
                break;
            case VR_KEY: ep->shorty = value_key(v, &off) <= SHORT_MAX; break;
            default: break;
            }
        }
    }
}

static int ls_same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcasecmp(a, b) == 0;
}

/* Logsource groups: rules with the same product/category/service. */
static int group_rules(kb_engine *e)
{
    size_t cap = 64, alsgs = 0;
    uint32_t *tab = NULL;
    int rc = KB_ENOMEM;

    while (cap < e->nrules * 2)
        cap *= 2;
    if (!(tab = malloc(cap * sizeof *tab)))
        return KB_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        tab[i] = NOSLOT;
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        const kb_logsource *ls = &e->rules[ri].r->meta.ls;
        const char *k[3] = {ls->product, ls->category, ls->service};
        uint64_t h = 0x9E37u;
        size_t pos;
        for (int i = 0; i < 3; i++) {
            char buf[64];
            size_t n = 0;
            for (const char *c = k[i]; c && *c && n < sizeof buf; c++)
                buf[n++] = (char)lower((unsigned char)*c);
            h = (h ^ (k[i] ? kb_hash(buf, n) : (uint64_t)i + 1)) * 0x100000001B3ull;
        }
        pos = (size_t)h & (cap - 1);
        for (;; pos = (pos + 1) & (cap - 1)) {
            const kb_logsource *o;
            if (tab[pos] == NOSLOT) {
                if (grow((void **)&e->lsgs, &alsgs, e->nlsgs + 1, sizeof *e->lsgs))
                    goto out;
                e->lsgs[e->nlsgs].r = e->rules[ri].r;
                e->lsgs[e->nlsgs].r0 = e->lsgs[e->nlsgs].nr = 0;
                tab[pos] = (uint32_t)e->nlsgs++;
                break;
            }
            o = &e->lsgs[tab[pos]].r->meta.ls;
            if (ls_same(o->product, ls->product) && ls_same(o->category, ls->category) &&
                ls_same(o->service, ls->service))
                break;
        }
        e->rules[ri].lsg = tab[pos];
    }
    if (!(e->lsg_rules = malloc((e->nrules + 1) * sizeof *e->lsg_rules)))
        goto out;
    for (uint32_t ri = 0; ri < e->nrules; ri++)
        e->lsgs[e->rules[ri].lsg].nr++;
    for (size_t g = 0, at = 0; g < e->nlsgs; g++) {
        e->lsgs[g].r0 = (uint32_t)at;
        at += e->lsgs[g].nr;
        e->lsgs[g].nr = 0;
    }
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        elsg *g = &e->lsgs[e->rules[ri].lsg];
        e->lsg_rules[g->r0 + g->nr++] = ri;
    }
    rc = KB_OK;
out:
    free(tab);
    return rc;
}

/* One pattern set per (slot, logsource group) holding HS predicates. */
static int make_subs(kb_engine *e)
{
    size_t cap = 64;
    uint64_t *key = NULL;
    uint32_t *val = NULL;
    int rc = KB_ENOMEM;

    while (cap < e->npreds * 2)
        cap *= 2;
    key = malloc(cap * sizeof *key);
    val = malloc(cap * sizeof *val);
    if (!key || !val)
        goto out;
    for (size_t i = 0; i < cap; i++)
        key[i] = 0;
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        epred *ep = &e->preds[gp];
        uint64_t k;
        size_t pos;
        esub *x;
        if (ep->mode != PM_HS)
            continue;
        k = ((uint64_t)ep->slot << 32 | e->rules[ep->rule].lsg) + 1;
        pos = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
        while (key[pos] && key[pos] != k)
            pos = (pos + 1) & (cap - 1);
        if (!key[pos]) {
            if (grow((void **)&e->subs, &e->asubs, e->nsubs + 1, sizeof *e->subs))
                goto out;
            x = &e->subs[e->nsubs];
            memset(x, 0, sizeof *x);
            x->slot = ep->slot;
            x->lsg = e->rules[ep->rule].lsg;
            x->proot = x->sroot = NOSLOT;
            key[pos] = k;
            val[pos] = (uint32_t)e->nsubs++;
        }
        ep->sub = val[pos];
        x = &e->subs[ep->sub];
        if (grow((void **)&x->preds, &x->ap, x->np + 1, sizeof *x->preds))
            goto out;
        x->preds[x->np++] = gp;
    }
    rc = KB_OK;
out:
    free(key);
    free(val);
    return rc;
}

static int add_presence(eslot *s, uint32_t ri)
{
    if (s->npresence && s->presence[s->npresence - 1] == ri)
        return KB_OK;
    if (grow((void **)&s->presence, &s->apresence, s->npresence + 1, sizeof *s->presence))
        return KB_ENOMEM;
    s->presence[s->npresence++] = ri;
    return KB_OK;
}

kb_engine *kb_engine_new(const kb_ruleset *rs, const char **err)
{
    kb_engine *e;
    kb_arena *arena = NULL;
    kb_event empty;
    kb_buf b;
    double t0 = now_secs();
    const char *why = "out of memory";

    kb_buf_init(&b, 1u << 20);
    if (!rs) {
        *err = "no ruleset";
        return NULL;
    }
    if (!(e = calloc(1, sizeof *e)))
        goto fail;
    e->rs = rs;
    e->names = rs->names;
    e->nrules = rs->nrules;
    e->eventid_slot = NOSLOT;
    e->kw_slot = NOSLOT;
    e->nfids = kb_names_count(rs->names);
    if (!(e->fid2slot = malloc((e->nfids + 1) * sizeof *e->fid2slot)))
        goto fail;
    for (size_t i = 0; i < e->nfids; i++)
        e->fid2slot[i] = NOSLOT;
    if (!(e->rules = calloc(e->nrules + 1, sizeof *e->rules)))
        goto fail;
    for (size_t i = 0; i < e->nrules; i++) {
        e->rules[i].r = rs->rules[i];
        e->rules[i].prog = rs->rules[i]->prog;
        e->rules[i].nops = (uint32_t)rs->rules[i]->nops;
        e->rules[i].pred0 = (uint32_t)e->npreds;
        e->rules[i].npreds = (uint32_t)rs->rules[i]->npreds;
        e->npreds += rs->rules[i]->npreds;
    }
    if (!(e->preds = calloc(e->npreds + 1, sizeof *e->preds)))
        goto fail;
    if (!(arena = kb_arena_new(4096, 1u << 20)))
        goto fail;
    kb_event_init(&empty, rs->names, arena);
    for (size_t i = 0; i < e->nrules; i++)
        for (uint32_t j = 0; j < e->rules[i].npreds; j++)
            if (setup_pred(e, (uint32_t)i, e->rules[i].pred0 + j, &rs->rules[i]->preds[j], &empty,
                           &b))
                goto fail;
    if (build_rxs(e) || build_globs(e))
        goto fail;
    mark_shorts(e);
    /* pattern sets: one per (slot, logsource group) */
    if (group_rules(e) || make_subs(e))
        goto fail;
    for (size_t xi = 0; xi < e->nsubs; xi++)
        if (plan_sub(e, &e->subs[xi], &b))
            goto fail;
    why = "cannot compile a pattern database";
    if (compile_subs(e))
        goto fail;
    why = "out of memory";
    if (build_tries(e))
        goto fail;
    /* EventID slot, canonical slots, name hash */
    {
        kb_fid id = kb_names_lookup(rs->names, "EventID", 7);
        if (id != KB_FID_NONE && id < e->nfids)
            e->eventid_slot = e->fid2slot[id];
    }
    if (!(e->canon_slots = malloc((e->nslots + 1) * sizeof *e->canon_slots)))
        goto fail;
    e->name_hash_cap = 16;
    while (e->name_hash_cap < e->nslots * 2)
        e->name_hash_cap *= 2;
    if (!(e->name_hash = calloc(e->name_hash_cap, sizeof *e->name_hash)))
        goto fail;
    for (uint32_t si = 0; si < e->nslots; si++) {
        size_t h = (size_t)kb_hash(e->slots[si].name, strlen(e->slots[si].name)) &
                   (e->name_hash_cap - 1);
        if (e->slots[si].canon)
            e->canon_slots[e->ncanon++] = si;
        while (e->name_hash[h])
            h = (h + 1) & (e->name_hash_cap - 1);
        e->name_hash[h] = si + 1;
    }
    /* rules: watch sets, presence triggers, EventID requirements */
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        const erule *er = &e->rules[ri];
        if (analyse_rule(e, ri))
            goto fail;
        if (er->always)
            continue;
        for (uint32_t k = 0; k < er->npreds; k++) {
            const epred *ep = &e->preds[er->pred0 + k];
            if (ep->watched && ep->mode == PM_REF && add_presence(&e->slots[ep->slot], ri))
                goto fail;
        }
    }
    if (e->nvals >= (1u << (32 - VH_VID)) || !(e->vhot = calloc(e->nvals + 1, sizeof *e->vhot)) ||
        !(e->ehot = calloc(e->nents + 1, sizeof *e->ehot)))
        goto fail;
    for (size_t vi = 0; vi < e->nvals; vi++) {
        const epred *ep = &e->preds[e->vals[vi].pred];
        e->vhot[vi].pred = e->vals[vi].pred;
        e->vhot[vi].rule = ep->rule;
        e->vhot[vi].gid = e->vals[vi].gid;
        e->vhot[vi].flags = (e->vals[vi].is_int ? VH_INT : 0) | (ep->all ? VH_ALL : 0) |
                            (ep->watched ? VH_WATCHED : 0) | (uint32_t)vi << VH_VID;
    }
    for (size_t k = 0; k < e->nents; k++) {
        e->ehot[k] = e->vhot[e->ents[k] & ~CONFIRM_BIT];
        if (e->ents[k] & CONFIRM_BIT)
            e->ehot[k].flags |= VH_CONFIRM;
    }
    if (e->ntvids) {
        if (!(e->thot = malloc(e->ntvids * sizeof *e->thot)))
            goto fail;
        for (size_t k = 0; k < e->ntvids; k++)
            e->thot[k] = e->vhot[e->tvids[k]];
    }
    if (!(e->phot = calloc(e->npreds + 1, sizeof *e->phot)))
        goto fail;
    for (size_t gp = 0; gp < e->npreds; gp++) {
        const epred *ep = &e->preds[gp];
        e->phot[gp].arg = ep->mode == PM_REF ? ep->slot : ep->need;
        e->phot[gp].mode = ep->mode;
        e->phot[gp].z = ep->z;
        e->phot[gp].confirm = ep->confirm;
    }
    e->cand_bytes = (e->nrules + 7) / 8 + 1;
    e->st.rules = e->nrules;
    e->st.preds = e->npreds;
    for (size_t xi = 0; xi < e->nsubs; xi++) {
        e->st.hs_patterns += e->subs[xi].npat;
        e->st.hs_databases += (e->subs[xi].db != NULL) + (e->subs[xi].rdb != NULL);
    }
    for (uint32_t gp = 0; gp < e->npreds; gp++)
        e->st.fallback += e->preds[gp].mode == PM_REF || e->preds[gp].mode == PM_ALWAYS ||
                          e->preds[gp].confirm;
    e->st.hs_patterns += e->ntvids; /* trie and short literals count as patterns */
    for (size_t xi = 0; xi < e->nsubs; xi++)
        e->st.hs_patterns += e->subs[xi].nshort;
    e->st.compile_secs = now_secs() - t0;
    why = NULL;
fail:
    kb_buf_release(&b);
    kb_arena_free(arena);
    if (why) {
        *err = why;
        kb_engine_free(e);
        return NULL;
    }
    return e;
}

void kb_engine_free(kb_engine *e)
{
    if (!e)
        return;

    for (size_t si = 0; si < e->nslots; si++)
        free(e->slots[si].presence);
    for (size_t xi = 0; xi < e->nsubs; xi++) {
        hs_free_database(e->subs[xi].db);
        free(e->subs[xi].ints);
        free(e->subs[xi].preds);
        for (size_t k = 0; k < e->subs[xi].nexpr; k++) {
            free(e->subs[xi].expr[k].s);
            free(e->subs[xi].expr[k].lit);
        }
        free(e->subs[xi].flits);
        free(e->subs[xi].expr);
        for (size_t k = 0; k < e->subs[xi].nrexpr; k++)
            free(e->subs[xi].rexpr[k].s);
        free(e->subs[xi].rexpr);
        free(e->subs[xi].ruids);
        hs_free_database(e->subs[xi].rdb);
        free(e->subs[xi].shorts);
        free(e->subs[xi].sbits);
        free(e->subs[xi].hkey);
        free(e->subs[xi].hstart);
    }
    free(e->uids);
    free(e->ents);
    free(e->rxs);
    free(e->runs);
    free(e->globs);
    free(e->runbytes);
    free(e->subs);
    free(e->lsgs);
    free(e->lsg_rules);
    if (e->rules)
        for (size_t i = 0; i < e->nrules; i++) {
            free(e->rules[i].req);
            free(e->rules[i].must);
        }
    free(e->slots);
    free(e->rules);
    free(e->preds);
    free(e->vals);
    free(e->vhot);
    free(e->thot);
    free(e->ehot);
    free(e->phot);
    free(e->fid2slot);
    free(e->canon_slots);
    free(e->name_hash);
    free(e->tn);
    free(e->edges);
    free(e->tvids);
    free(e);
}

void kb_engine_stats_get(const kb_engine *e, kb_engine_stats *st)
{
    *st = e->st;
}

/* ---- scratch ----------------------------------------------------------- */

static void route_free(route *rt)
{
    if (!rt)
        return;
    for (int i = 0; i < 3; i++)
        free(rt->key[i]);
    free(rt->cand);
    free(rt->always);
    free(rt->scan);
    free(rt);
}

static void routes_reset(kb_engine_scratch *s)
{
    for (size_t i = 0; i < s->nroutes; i++)
        route_free(s->routes[i]);
    s->nroutes = 0;
    s->last = NULL;
    for (size_t i = 0; i < ROUTE_HASH; i++)
        s->route_hash[i] = -1;
}

kb_engine_scratch *kb_engine_scratch_new(const kb_engine *e)
{
    kb_engine_scratch *s = calloc(1, sizeof *s);
    size_t ns = e->nslots + 1;
    if (!s)
        return NULL;
    s->e = e;
    kb_buf_init(&s->kw, (size_t)KB_EVENT_MAX_FIELDS * (UINT32_MAX / KB_EVENT_MAX_FIELDS));
    for (size_t xi = 0; xi < e->nsubs; xi++)
        if ((e->subs[xi].db && hs_alloc_scratch(e->subs[xi].db, &s->hs) != HS_SUCCESS) ||
            (e->subs[xi].rdb && hs_alloc_scratch(e->subs[xi].rdb, &s->hs) != HS_SUCCESS))
            goto fail;
    s->pst = calloc(e->npreds + 1, sizeof *s->pst);
    s->gstamp = calloc(e->ngroups + 1, sizeof *s->gstamp);
    s->rstamp = calloc(e->nrules + 1, sizeof *s->rstamp);
    s->trig = calloc(e->nrules + 1, sizeof *s->trig);
    s->slot_gen = calloc(ns, sizeof *s->slot_gen);
    s->dhead = calloc(ns, sizeof *s->dhead);
    s->ahead = calloc(ns, sizeof *s->ahead);
    s->present = calloc(ns, sizeof *s->present);
    s->mark = calloc(e->nsubs + 1, 1);
    s->ustamp = calloc(e->nuids + 1, sizeof *s->ustamp);
    s->dnext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->dnext);
    s->anext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->anext);
    s->routes = calloc(ROUTE_MAX, sizeof *s->routes);
    s->route_hash = malloc(ROUTE_HASH * sizeof *s->route_hash);
    if (!s->pst || !s->gstamp || !s->rstamp || !s->trig || !s->slot_gen ||
        !s->dhead || !s->ahead || !s->present || !s->mark || !s->ustamp ||
        !s->dnext || !s->anext ||
        !s->routes || !s->route_hash)
        goto fail;
    routes_reset(s);
    return s;
fail:
    kb_engine_scratch_free(s);
    return NULL;
}

void kb_engine_scratch_free(kb_engine_scratch *s)
{
    if (!s)
        return;
    if (s->routes && s->route_hash)
        routes_reset(s);
    hs_free_scratch(s->hs);
    free(s->pst);
    free(s->gstamp);
    free(s->rstamp);
    free(s->trig);
    free(s->slot_gen);
    free(s->dhead);
    free(s->ahead);
    free(s->present);
    free(s->mark);
    free(s->ustamp);
    free(s->low);
    free(s->dnext);
    free(s->anext);
    free(s->routes);
    free(s->route_hash);
    free(s->fidalias);
    kb_buf_release(&s->kw);
    free(s);
}

/* ---- routing ----------------------------------------------------------- */

static uint64_t route_hash_of(const kb_logsource *ls, int has_id, int64_t id)
{
    const char *k[3] = {ls->product, ls->category, ls->service};
    uint64_t h = has_id ? (uint64_t)id * 0x9E3779B97F4A7C15ull : 0x51ed27ull;
    for (int i = 0; i < 3; i++)
        h = (h ^ (k[i] ? kb_hash(k[i], strlen(k[i])) : (uint64_t)i)) * 0x100000001B3ull;
    return h;
}

static int str_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int route_is(const route *rt, const kb_logsource *ls, int has_id, int64_t id)
{
    return rt->has_id == has_id && (!has_id || rt->id == id) && str_same(rt->key[0], ls->product) &&
           str_same(rt->key[1], ls->category) && str_same(rt->key[2], ls->service);
}

/* Sorts pattern sets by slot (insertion sort: routes are built rarely). */
static void scan_sort(const kb_engine *e, uint32_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && e->subs[v[j - 1]].slot > e->subs[x].slot) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static route *route_build(const kb_engine *e, kb_engine_scratch *s, const kb_logsource *ls,
                          int has_id, int64_t id, uint64_t h)
{
    route *rt = calloc(1, sizeof *rt);
    const char *k[3] = {ls->product, ls->category, ls->service};
    size_t nal = 0, nsc = 0;

    if (!rt)
        return NULL;
    rt->has_id = has_id;
    rt->id = id;
    rt->hash = h;
    for (int i = 0; i < 3; i++)
        if (k[i] && !(rt->key[i] = kb_strdup(k[i])))
            goto fail;
    if (!(rt->cand = calloc(e->cand_bytes, 1)))
        goto fail;
    memset(s->mark, 0, e->nsubs + 1);
    /* the rules of the groups whose logsource applies */
    for (size_t g = 0; g < e->nlsgs; g++) {
        if (!kb_rule_logsource_applies(e->lsgs[g].r, ls))
            continue;
        for (uint32_t j = 0; j < e->lsgs[g].nr; j++) {
            uint32_t ri = e->lsg_rules[e->lsgs[g].r0 + j];
            const erule *er = &e->rules[ri];
            if (er->has_req && has_id &&
                !bsearch(&id, er->req, er->nreq, sizeof *er->req, cmp_i64))
                continue;
            rt->cand[ri >> 3] |= (uint8_t)(1u << (ri & 7));
            nal += er->always;
            for (uint32_t k2 = 0; k2 < er->npreds; k2++) {
                const epred *ep = &e->preds[er->pred0 + k2];
                if (ep->mode == PM_HS && !s->mark[ep->sub]) {
                    s->mark[ep->sub] = 1;
                    nsc++;
                }
            }
        }
    }
    rt->always = malloc((nal + 1) * sizeof *rt->always);
    rt->scan = malloc((nsc + 1) * sizeof *rt->scan);
    if (!rt->always || !rt->scan)
        goto fail;
    /* always-evaluated rules in ruleset order: the candidate bitmap by word */
    for (size_t w = 0; w * 8 < e->nrules && rt->nalways < nal; w++) {
        uint8_t b = rt->cand[w];
        while (b) {
            uint32_t ri = (uint32_t)(w * 8 + (size_t)__builtin_ctz(b));
            b &= (uint8_t)(b - 1);
            if (e->rules[ri].always)
                rt->always[rt->nalways++] = ri;
        }
    }
    for (uint32_t xi = 0; xi < e->nsubs; xi++)
        if (s->mark[xi])
            rt->scan[rt->nscan++] = xi;
    scan_sort(e, rt->scan, rt->nscan);
    return rt;
fail:
    route_free(rt);
    return NULL;
}

static route *route_get(const kb_engine *e, kb_engine_scratch *s, const kb_logsource *ls,
                        int has_id, int64_t id)
{
    uint64_t h;
    size_t pos;
    route *rt;

    if (s->last && route_is(s->last, ls, has_id, id))
        return s->last;
    h = route_hash_of(ls, has_id, id);
    pos = (size_t)h & (ROUTE_HASH - 1);
    while (s->route_hash[pos] >= 0) {
        rt = s->routes[s->route_hash[pos]];
        if (rt->hash == h && route_is(rt, ls, has_id, id))
            return s->last = rt;
        pos = (pos + 1) & (ROUTE_HASH - 1);
    }
    if (s->nroutes == ROUTE_MAX) {
        routes_reset(s);
        pos = (size_t)h & (ROUTE_HASH - 1);
    }
    if (!(rt = route_build(e, s, ls, has_id, id, h)))
        return NULL;
    s->routes[s->nroutes] = rt;
    s->route_hash[pos] = (int32_t)s->nroutes++;
    return s->last = rt;
}

/* ---- matching ---------------------------------------------------------- */

static uint32_t name_hash_slot_lookup(const kb_engine *e, const char *s, size_t len)
{
    size_t mask = e->name_hash_cap - 1, h;
    if (!e->name_hash_cap)
        return NOSLOT;
    h = (size_t)kb_hash(s, len) & mask;
    for (;;) {
        uint32_t v = e->name_hash[h];
        if (!v)
            return NOSLOT;
        if (kb_str_eqz(s, len, e->slots[v - 1].name))
            return v - 1;
        h = (h + 1) & mask;
    }
}

/* The slot a spaced event field name stands in for, or NOSLOT. */
static uint32_t fid_alias(const kb_engine *e, kb_engine_scratch *s, kb_fid fid)
{
    uint32_t v;
    if (fid >= s->nfidalias) {
        size_t n = s->nfidalias ? s->nfidalias : 1024;
        uint32_t *q;
        while (n <= fid)
            n *= 2;
        if (!(q = realloc(s->fidalias, n * sizeof *q)))
            return NOSLOT;
        memset(q + s->nfidalias, 0, (n - s->nfidalias) * sizeof *q);
        s->fidalias = q;
        s->nfidalias = n;
    }
    v = s->fidalias[fid];
    if (!v) {
        size_t len;
        const char *name = kb_names_str(e->names, fid, &len);
        uint32_t slot = NOSLOT;
        if (name && memchr(name, ' ', len)) {
            char buf[256];
            size_t j = 0;
            if (len < sizeof(buf)) {
                for (size_t i = 0; i < len; i++)
                    if (name[i] != ' ')
                        buf[j++] = name[i];
                slot = j ? name_hash_slot_lookup(e, buf, j) : NOSLOT;
            } else {
                for (uint32_t si = 0; si < e->nslots && slot == NOSLOT; si++)
                    if (eq_nospace(name, len, e->slots[si].name))
                        slot = si;
            }
        }
        v = slot == NOSLOT ? 1 : slot + 2;
        s->fidalias[fid] = v;
    }
    return v == 1 ? NOSLOT : v - 2;
}

static void next_gen(const kb_engine *e, kb_engine_scratch *s)
{
    if (++s->gen > PST_CNT) {
        memset(s->pst, 0, (e->npreds + 1) * sizeof *s->pst);
        memset(s->gstamp, 0, (e->ngroups + 1) * sizeof *s->gstamp);
        memset(s->rstamp, 0, (e->nrules + 1) * sizeof *s->rstamp);
        memset(s->slot_gen, 0, (e->nslots + 1) * sizeof *s->slot_gen);
        s->gen = 1;
    }
}

static inline void touch(kb_engine_scratch *s, uint32_t si)
{
    if (s->slot_gen[si] != s->gen) {
        s->slot_gen[si] = s->gen;
        s->dhead[si] = 0;
        s->ahead[si] = 0;
        s->present[s->npresent++] = si;
    }
}

/* One pass over the fields: the instances of every slot. */
static void gather(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev)
{
    uint32_t nf = ev->nfields < KB_EVENT_MAX_FIELDS ? ev->nfields : KB_EVENT_MAX_FIELDS;
    s->npresent = 0;
    for (uint32_t i = 0; i < nf; i++) {
        kb_fid fid = ev->fields[i].name;
        uint32_t si;
        if (fid >= KB_F_CANON_COUNT && fid < e->nfids && (si = e->fid2slot[fid]) != NOSLOT) {
            touch(s, si);
            s->dnext[i] = s->dhead[si];
            s->dhead[si] = (uint16_t)(i + 1);
        }
        /* cached: 1 (none) wraps to NOSLOT */
        si = fid < s->nfidalias && s->fidalias[fid] ? s->fidalias[fid] - 2 : fid_alias(e, s, fid);
        if (si != NOSLOT) {
            touch(s, si);
            s->anext[i] = s->ahead[si];
            s->ahead[si] = (uint16_t)(i + 1);
        }
    }
    for (size_t k = 0; k < e->ncanon; k++) {
        uint32_t si = e->canon_slots[k];
        const kb_field *f = kb_event_canon(ev, (int)e->slots[si].fid);
        if (f) {
            touch(s, si);
            s->dhead[si] = (uint16_t)(f - ev->fields + 1);
        }
    }
}

static inline void trigger(kb_engine_scratch *s, uint32_t ri)
{
    if (s->rstamp[ri] != s->gen) {
        s->rstamp[ri] = s->gen;
        s->trig[s->ntrig++] = ri;
    }
}

static void value_hot(kb_engine_scratch *s, const evhot *v)
{
    pstate *ps, g = s->gen << PST_SHIFT;
    if (!bit_get(s->cand, v->rule))
        return;
    ps = &s->pst[v->pred];
    if ((*ps & ~PST_CNT) != g)
        *ps = g;
    if (v->flags & VH_ALL) {
        if (s->gstamp[v->gid] == s->gen)
            return;
        s->gstamp[v->gid] = s->gen;
    } else if (*ps & PST_CNT) {
        return;
    }
    ++*ps;
    if (v->flags & VH_WATCHED)
        trigger(s, v->rule);
}

static inline void value_hit(const kb_engine *e, kb_engine_scratch *s, uint32_t vid)
{
    value_hot(s, &e->vhot[vid]);
}

/* Wildcard value g (build_globs) on subject h: as sigma_glob decides. */
static int glob_fits(const kb_engine *e, const eglob *g, const unsigned char *h, size_t n, int fold)
{
    const unsigned char *p = h, *end = h + n;
    for (uint32_t k = 0; k < g->nrun; k++) {
        const erun *r = &e->runs[g->run0 + k];
        const char *rb = e->runbytes + r->off;
        if (k == 0 && !g->head) {
            if (r->len > n || !eq_fold((const char *)h, rb, r->len, fold))
                return 0;
            p = h + r->len;
        } else if (k == g->nrun - 1 && !g->tail) {
            return (size_t)(end - p) >= r->len &&
                   eq_fold((const char *)end - r->len, rb, r->len, fold);
        } else {
            const unsigned char *at = find_from(p, (size_t)(end - p), rb, r->len, fold);
            if (!at)
                return 0;
            p = at + r->len;
        }
    }
    return g->tail || p == end;
}

/* Bytes token t consumes at s (len > 0), 0 on mismatch: as sigma_glob. */
static inline size_t tok_at(uint16_t t, const unsigned char *s, size_t len, int fold)
{
    if (t < 256)
        return (fold ? lower(s[0]) : s[0]) == t;
    if (t == KB_SIGMA_TOK_QMARK) {
        size_t n = s[0] < 0x80           ? 1
                   : (s[0] >> 5) == 6  ? 2
                   : (s[0] >> 4) == 14 ? 3
                   : (s[0] >> 3) == 30 ? 4
                                       : 1;
        return n <= len ? n : 1;
    }
    if (t == KB_SIGMA_TOK_DASH) {
        if (s[0] == '-' || s[0] == '/')
            return 1;
        if (len >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x93 && s[2] <= 0x95)
            return 3;
    }
    return 0;
}

/* Tokens t[0..nt) (no star) at s: bytes consumed + 1, or 0. */
static inline size_t seg_at(const uint16_t *t, size_t nt, const unsigned char *s, size_t len,
                            int fold)
{
    size_t i = 0;
    for (size_t k = 0; k < nt; k++) {
        size_t adv;
        if (i >= len || !(adv = tok_at(t[k], s + i, len - i, fold)))
            return 0;
        i += adv;
    }
    return i + 1;
}

/* sigma_glob's answer without its backtracking: sigma_glob retries only
 * the part after the last star it passed, so it finds every star-free
 * segment at its leftmost place after the previous one, and the last one
 * (without a trailing star) at a place where it ends the subject. Tokens
 * consume a number of bytes fixed by the subject, so each try is one
 * comparison; a segment starting with a byte is looked for with memchr. */
int kb_engine_glob(const uint16_t *tok, size_t nt, const char *subj, size_t len, int fold)
{
    const unsigned char *s = (const unsigned char *)subj;
    size_t p = 0, q = 0, i = 0, r;
    while (q < nt && tok[q] != KB_SIGMA_TOK_STAR)
        q++;
    if (q == nt)
        return (r = seg_at(tok, nt, s, len, fold)) && r - 1 == len;
    if (q) {
        if (!(r = seg_at(tok, q, s, len, fold)))
            return 0;
        i = r - 1;
    }
    p = q;
    for (;;) {
        while (p < nt && tok[p] == KB_SIGMA_TOK_STAR)
            p++;
        if (p == nt)
            return 1;
        for (q = p; q < nt && tok[q] != KB_SIGMA_TOK_STAR; q++)
            ;
        for (size_t st = i;; st++) {
            if (st >= len)
                return 0;
            if (tok[p] < 256) {
                /* next place the first byte can match */
                unsigned c = tok[p];
                if (!fold || c == upper((unsigned char)c)) {
                    const unsigned char *at = memchr(s + st, (int)c, len - st);
                    if (!at)
                        return 0;
                    st = (size_t)(at - s);
                } else {
                    while (st < len && lower(s[st]) != c)
                        st++;
                    if (st == len)
                        return 0;
                }
            }
            r = seg_at(tok + p, q - p, s + st, len - st, fold);
            if (!r)
                continue;
            if (q == nt) {
                if (st + r - 1 == len)
                    return 1;
                continue;
            }
            i = st + r - 1;
            break;
        }
        p = q;
    }
}

/* Literal (or expression) uid found in the instance being scanned. */
static void uid_hit(const kb_engine *e, kb_engine_scratch *s, uint32_t uid)
{
    const euid *u = &e->uids[uid];
    for (uint32_t q = 0; q < u->nent; q++) {
        const evhot *h = &e->ehot[u->ent0 + q];
        const evalue *v;
        if (s->inst_parsed && (h->flags & VH_INT))
            continue; /* compared numerically instead */
        if (!bit_get(s->cand, h->rule))
            continue;
        v = &e->vals[h->flags >> VH_VID];
        if ((h->flags & VH_CONFIRM) &&
            !(v->glob != NOSLOT ? glob_fits(e, &e->globs[v->glob], (const unsigned char *)s->inst,
                                            s->inst_len, v->fold)
                : v->v->lit ? sigma_str_match(v->v, s->inst, s->inst_len, v->fold)
                            : kb_engine_glob(v->v->tok, v->v->ntok, s->inst, s->inst_len, v->fold)))
            continue;
        value_hot(s, h);
    }
}

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *ctx)
{
    kb_engine_scratch *s = ctx;
    (void)from;
    (void)to;
    (void)flags;
    uid_hit(s->e, s, id);
    return 0;
}

static inline void short_try(const kb_engine *e, kb_engine_scratch *s, const eshort *sh,
                             size_t i)
{
    if (sh->len > s->inst_len - i || s->ustamp[sh->uid] == s->sgen)
        return;
    if (memcmp((sh->fold ? s->low : (const unsigned char *)s->inst) + i, sh->b, sh->len) != 0)
        return;
    s->ustamp[sh->uid] = s->sgen;
    uid_hit(e, s, sh->uid);
}

/* The literals of key at position i (present in the hash when its bit is
 * set, except that a trigram bit may be set by another trigram). */
static inline void short_bucket(const kb_engine *e, kb_engine_scratch *s, const esub *x,
                                uint32_t key, size_t i)
{
    size_t pos = (size_t)((key * 0x9E3779B1u) >> 16) & x->hmask;
    while (x->hkey[pos] != key) {
        if (x->hkey[pos] == UINT32_MAX)
            return;
        pos = (pos + 1) & x->hmask;
    }
    for (uint32_t k = x->hstart[pos]; k < x->nshort && x->shorts[k].key == key; k++)
        short_try(e, s, &x->shorts[k], i);
}

/* The instance lower-cased (ASCII) into s->low, once per instance. */
static int lower_inst(kb_engine_scratch *s)
{
    const unsigned char *p = (const unsigned char *)s->inst;
    unsigned char *o;
    if (s->low_of == s->inst && s->low_len == s->inst_len)
        return KB_OK;
    if (s->inst_len + 1 > s->alow) {
        size_t n = s->alow ? s->alow : 4096;
        unsigned char *q;
        while (n < s->inst_len + 1)
            n *= 2;
        if (!(q = realloc(s->low, n)))
            return KB_ENOMEM;
        s->low = q;
        s->alow = n;
    }
    o = s->low;
    {
        /* eight bytes at a time: 0x20 added to the bytes in 'A'..'Z' */
        size_t i = 0;
        for (; i + 8 <= s->inst_len; i += 8) {
            uint64_t x, h, ge, gt, up;
            memcpy(&x, p + i, 8);
            h = x & 0x7f7f7f7f7f7f7f7full;
            ge = h + 0x3f3f3f3f3f3f3f3full; /* bit 7 set: low 7 bits >= 'A' */
            gt = h + 0x2525252525252525ull; /* bit 7 set: low 7 bits > 'Z' */
            up = ge & ~gt & ~x & 0x8080808080808080ull;
            x |= up >> 2;
            memcpy(o + i, &x, 8);
        }
        for (; i < s->inst_len; i++)
            o[i] = (unsigned char)(p[i] + (((unsigned char)(p[i] - 'A') < 26) << 5));
    }
    o[s->inst_len] = 0;
    s->low_of = s->inst;
    s->low_len = s->inst_len;
    return KB_OK;
}

/* The short literals of set x in the instance, each uid once per scan:
 * one-byte literals with memchr, longer ones by their first two or three
 * bytes (a bit per bigram or trigram hash, then a hash of the keys). */
static int scan_short(const kb_engine *e, kb_engine_scratch *s, const esub *x)
{
    const unsigned char *p = (const unsigned char *)s->inst, *l;
    size_t n = s->inst_len;
    uint32_t k2;
    if (++s->sgen == 0) {
        memset(s->ustamp, 0, (e->nuids + 1) * sizeof *s->ustamp);
        s->sgen = 1;
    }
    for (size_t k = 0; k < x->nsingle; k++) {
        const eshort *sh = &x->shorts[k];
        unsigned char c = (unsigned char)sh->b[0];
        const void *at = memchr(p, c, n);
        if (!at && sh->fold && c != (unsigned char)upper(c))
            at = memchr(p, upper(c), n);
        if (at) {
            s->ustamp[sh->uid] = s->sgen;
            uid_hit(e, s, sh->uid);
        }
    }
    if (x->nshort == x->nsingle || n < 2)
        return KB_OK;
    if (lower_inst(s))
        return KB_ENOMEM;
    l = s->low;
    if (x->nshort - x->nsingle <= SHORT_FEW) {
        /* a few literals: memchr on the first byte of each beats the byte loop */
        for (size_t k = x->nsingle; k < x->nshort; k++) {
            const eshort *sh = &x->shorts[k];
            const unsigned char *h = sh->fold ? l : p, *q = h, *end = h + n - sh->len + 1;
            if (s->ustamp[sh->uid] == s->sgen || sh->len > n)
                continue;
            while ((q = memchr(q, (unsigned char)sh->b[0], (size_t)(end - q))) &&
                   memcmp(q + 1, sh->b + 1, sh->len - 1u) != 0)
                q++;
            if (!q)
                continue;
            s->ustamp[sh->uid] = s->sgen;
            uid_hit(e, s, sh->uid);
        }
        return KB_OK;
    }
    k2 = l[0];
    for (size_t i = 0; i + 1 < n; i++) {
        k2 = (k2 << 8 | l[i + 1]) & 0xffff;
        if (!((x->sbits[16384 + (k2 >> 3)] >> (k2 & 7)) & 1))
            continue; /* no literal starts here */
        if (x->has2 && ((x->sbits[k2 >> 3] >> (k2 & 7)) & 1))
            short_bucket(e, s, x, k2, i);
        if (x->has3 && i + 2 < n) {
            uint32_t k3 = KEY3 | k2 << 8 | l[i + 2], b = key3_bit(k3);
            if ((x->sbits[8192 + (b >> 3)] >> (b & 7)) & 1)
                short_bucket(e, s, x, k3, i);
        }
    }
    return KB_OK;
}

static inline void trie_hit(kb_engine_scratch *s, const evhot *h)
{
    if (s->inst_parsed && (h->flags & VH_INT))
        return;
    value_hot(s, h);
}

/* The literals and expressions of set x over the instance s->inst. */
static int scan_inst(const kb_engine *e, kb_engine_scratch *s, const esub *x)
{
    if (x->nshort && scan_short(e, s, x))
        return KB_ENOMEM;
    for (size_t k = 0; k < x->nflits; k++)
        if (find_from((const unsigned char *)s->inst, s->inst_len, x->flits[k].b, x->flits[k].len,
                      x->flits[k].fold))
            uid_hit(e, s, x->flits[k].uid);
    if (x->db && hs_scan(x->db, s->inst, (unsigned)s->inst_len, 0, s->hs, on_hit, s) != HS_SUCCESS)
        return KB_ENOMEM;
    if (x->rdb) {
        if (utf8_valid((const unsigned char *)s->inst, s->inst_len)) {
            if (hs_scan(x->rdb, s->inst, (unsigned)s->inst_len, 0, s->hs, on_hit, s) != HS_SUCCESS)
                return KB_ENOMEM;
        } else {
            for (size_t k = 0; k < x->nruids; k++)
                uid_hit(e, s, x->ruids[k]);
        }
    }
    return KB_OK;
}

/* kb_parse_i64's answer; up to 18 bytes cannot overflow, so no checks. */
static inline int parse_int(const char *p, size_t len, int64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    int neg = 0;
    if (len == 0 || len > 18)
        return kb_parse_i64(p, len, out) == KB_OK;
    if (p[0] == '-')
        neg = i = 1;
    if (i < len && p[i] == '+') {
        if (neg)
            return 0;
        i++;
    }
    if (i == len)
        return 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static int scan_field(const kb_engine *e, kb_engine_scratch *s, const esub *sl, const kb_field *f)
{
    if (f->type == KB_V_NULL || f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
        return KB_OK;
    s->inst_parsed = 0;
    if (sl->nints && (f->type == KB_V_INT || f->type == KB_V_STR)) {
        int64_t x;
        if (parse_int(f->val, f->len, &x)) {
            size_t lo = 0, hi = sl->nints;
            s->inst_parsed = 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (sl->ints[mid].ival < x)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (; lo < sl->nints && sl->ints[lo].ival == x; lo++)
                value_hit(e, s, sl->ints[lo].vid);
        }
    }
    if (sl->proot != NOSLOT) {
        const unsigned char *p = (const unsigned char *)f->val;
        uint32_t node = sl->proot;
        size_t i = 0;
        for (;;) {
            const trie_node *n = &e->tn[node];
            for (uint32_t k = 0; k < n->npre; k++)
                trie_hit(s, &e->thot[n->off + k]);
            if (i == f->len) {
                for (uint32_t k = 0; k < n->nex; k++)
                    trie_hit(s, &e->thot[n->off + n->npre + k]);
                break;
            }
            if ((node = trie_child(e, node, lower(p[i++]))) == NOSLOT)
                break;
        }
    }
    if (sl->sroot != NOSLOT) {
        const unsigned char *p = (const unsigned char *)f->val;
        uint32_t node = sl->sroot;
        size_t i = f->len;
        for (;;) {
            const trie_node *n = &e->tn[node];
            for (uint32_t k = 0; k < n->npre; k++)
                trie_hit(s, &e->thot[n->off + k]);
            if (i == 0)
                break;
            if ((node = trie_child(e, node, lower(p[--i]))) == NOSLOT)
                break;
        }
    }
    s->inst = f->len ? f->val : "";
    s->inst_len = f->len;
    return scan_inst(e, s, sl);
}

/* The instances of slot si through the pattern sets xs[0..nx). */
static int scan_slot(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev, uint32_t si,
                     const uint32_t *xs, size_t nx)
{
    uint16_t i;
    int rc;
    if (s->dhead[si]) {
        if (e->slots[si].canon) {
            for (size_t k = 0; k < nx; k++)
                if ((rc = scan_field(e, s, &e->subs[xs[k]], &ev->fields[s->dhead[si] - 1])))
                    return rc;
            return KB_OK;
        }
        for (i = s->dhead[si]; i; i = s->dnext[i - 1])
            for (size_t k = 0; k < nx; k++)
                if ((rc = scan_field(e, s, &e->subs[xs[k]], &ev->fields[i - 1])))
                    return rc;
        return KB_OK;
    }
    for (i = s->ahead[si]; i; i = s->anext[i - 1])
        for (size_t k = 0; k < nx; k++)
            if ((rc = scan_field(e, s, &e->subs[xs[k]], &ev->fields[i - 1])))
                return rc;
    return KB_OK;
}

/* Keyword predicates: every string or number value, joined by NUL,
 * through the pattern sets xs[0..nx). Keyword literals hold no NUL, so a
 * value shorter than every pattern of the sets cannot hold one: it is
 * left out (the NUL after the previous value still separates). */
static int scan_keywords(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev,
                         const uint32_t *xs, size_t nx)
{
    int rc;
    size_t total = 0;
    uint32_t minlen = UINT32_MAX;
    char *o;
    for (size_t k = 0; k < nx; k++)
        if (e->subs[xs[k]].minlen < minlen)
            minlen = e->subs[xs[k]].minlen;
    kb_buf_clear(&s->kw);
    o = s->kw.data;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const kb_field *f = &ev->fields[i];
        if ((f->type != KB_V_STR && f->type != KB_V_INT && f->type != KB_V_FLOAT &&
             f->type != KB_V_BOOL) ||
            f->len < minlen)
            continue;
        if (total + f->len + 1 >= s->kw.alloc) {
            s->kw.len = total;
            if (kb_buf_reserve(&s->kw, (size_t)f->len + 1))
                return KB_ENOMEM;
            o = s->kw.data + total;
        }
        memcpy(o, f->val, f->len);
        o += f->len;
        *o++ = 0;
        total += (size_t)f->len + 1;
    }
    s->kw.len = total;
    s->inst_parsed = 0;
    s->inst = s->kw.data;
    s->inst_len = s->kw.len;
    if (!s->kw.len)
        return KB_OK;
    for (size_t k = 0; k < nx; k++)
        if ((rc = scan_inst(e, s, &e->subs[xs[k]])))
            return rc;
    return KB_OK;
}

/* The EventID routing key: one instance that reads as an integer. */
static int event_id(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev, int64_t *id)
{
    uint32_t si = e->eventid_slot;
    const kb_field *f;
    uint16_t i;
    if (si == NOSLOT || s->slot_gen[si] != s->gen)
        return 0;
    i = s->dhead[si] ? s->dhead[si] : s->ahead[si];
    if (!e->slots[si].canon || !s->dhead[si]) {
        uint16_t nx = s->dhead[si] ? s->dnext[i - 1] : s->anext[i - 1];
        if (nx)
            return 0;
    }
    f = &ev->fields[i - 1];
    if (f->type != KB_V_INT && f->type != KB_V_STR)
        return 0;
    return kb_parse_i64(f->val, f->len, id) == KB_OK;
}

#define H_UNKNOWN 2

/* The runs of x in order in one instance. */
static int rx_fits(const kb_engine *e, const erx *x, const kb_field *f)
{
    const unsigned char *p = (const unsigned char *)f->val, *end = p + f->len;
    if (x->any)
        return 1;
    for (uint32_t k = 0; k < x->nrun; k++) {
        const erun *r = &e->runs[x->run0 + k];
        const unsigned char *at = find_from(p, (size_t)(end - p), e->runbytes + r->off, r->len,
                                            x->fold);
        if (!at)
            return 0;
        p = at + r->len;
    }
    return 1;
}

/* 0 when regex predicate gp cannot match: no instance of its field holds
 * the runs of any of its values (then PCRE2 need not run); else 1. */
static int rx_maybe(const kb_engine *e, const kb_engine_scratch *s, const kb_event *ev, uint32_t gp)
{
    const epred *ep = &e->preds[gp];
    const kb_sigma_pred *p;
    uint32_t si = ep->slot;
    uint16_t i;
    int alias;
    if (ep->rx0 == NOSLOT)
        return 1;
    if (s->slot_gen[si] != s->gen)
        return 1; /* absent: the reference decides (cheaply) */
    p = pred_of(e, gp);
    alias = !s->dhead[si];
    i = alias ? s->ahead[si] : s->dhead[si];
    for (; i; i = alias ? s->anext[i - 1] : e->slots[si].canon ? 0 : s->dnext[i - 1]) {
        const kb_field *f = &ev->fields[i - 1];
        if (f->type == KB_V_NULL || f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
            continue;
        for (uint32_t v = 0; v < p->nvals; v++)
            if (rx_fits(e, &e->rxs[ep->rx0 + v], f))
                return 1;
    }
    return 0;
}

/* A CIDR predicate (not `all`) as kb_sigma_pred_match decides it, with
 * each instance parsed once instead of once per value: rules list many
 * networks (private ranges) against one address. */
static int cidr_pred(const kb_engine *e, const kb_engine_scratch *s, const kb_event *ev,
                     uint32_t gp)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const kb_sigma_pred *p = pred_of(e, gp);
    uint32_t si = e->preds[gp].slot;
    int any = 0, has_null = 0, r = 0;
    if (s->slot_gen[si] == s->gen) {
        int alias = !s->dhead[si];
        uint16_t i = alias ? s->ahead[si] : s->dhead[si];
        for (; i && !r; i = alias ? s->anext[i - 1] : e->slots[si].canon ? 0 : s->dnext[i - 1]) {
            const kb_field *f = &ev->fields[i - 1];
            char buf[64];
            uint8_t addr[16];
            int fam;
            if (f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
                continue;
            any = 1;
            if (f->type == KB_V_NULL) {
                has_null = 1;
                continue;
            }
            if (f->len == 0 || f->len >= sizeof buf)
                continue;
            memcpy(buf, f->val, f->len);
            buf[f->len] = 0;
            {
                char *pct = memchr(buf, '%', f->len); /* fe80::1%eth0 */
                if (pct)
                    *pct = 0;
            }
            if (inet_pton(AF_INET, buf, addr) == 1)
                fam = 4;
            else if (inet_pton(AF_INET6, buf, addr) == 1)
                fam = 6;
            else
                continue;
            for (uint32_t k = 0; k < p->nvals && !r; k++) {
                const kb_sigma_val *v = &p->vals[k];
                const uint8_t *a = addr;
                int vf = fam;
                unsigned b;
                if (v->never || v->isnull)
                    continue;
                if (fam == 6 && v->family == 4 && memcmp(addr, mapped, 12) == 0) {
                    vf = 4;
                    a = addr + 12;
                }
                if (vf != v->family)
                    continue;
                for (b = 0; b < v->prefix; b += 8) {
                    unsigned rem = v->prefix - b;
                    uint8_t mask = rem >= 8 ? 0xff : (uint8_t)(0xff << (8 - rem));
                    if ((a[b / 8] & mask) != v->net[b / 8])
                        break;
                }
                r = b >= v->prefix;
            }
        }
    }
    for (uint32_t k = 0; k < p->nvals && !r; k++)
        r = !p->vals[k].never && p->vals[k].isnull && (has_null || !any);
    return p->neq ? !r : r;
}

/* kb_sigma_program_eval in three-valued logic (H_UNKNOWN: not computed
 * yet): 0 or 1 when the known hits decide the rule whatever the unknown
 * ones are, else H_UNKNOWN. Malformed programs give 0, as there. */
static int program_eval3(const kb_sigma_op *prog, size_t nops, const uint8_t *hits)
{
    uint8_t st[KB_SIGMA_MAX_STACK];
    size_t sp = 0;

    for (size_t i = 0; i < nops; i++) {
        const kb_sigma_op *o = &prog[i];
        switch (o->op) {
        case KB_SOP_PRED:
            if (sp >= KB_SIGMA_MAX_STACK)
                return 0;
            st[sp++] = hits[o->arg];
            break;
        case KB_SOP_NOT:
            if (sp < 1)
                return 0;
            if (st[sp - 1] != H_UNKNOWN)
                st[sp - 1] = !st[sp - 1];
            break;
        case KB_SOP_AND:
        case KB_SOP_OR:
        case KB_SOP_NOF: {
            uint32_t one = 0, unk = 0;
            uint8_t v;
            if (o->n == 0 || sp < o->n)
                return 0;
            for (uint32_t k = 0; k < o->n; k++) {
                one += st[sp - 1 - k] == 1;
                unk += st[sp - 1 - k] == H_UNKNOWN;
            }
            sp -= o->n;
            if (o->op == KB_SOP_AND)
                v = one == o->n ? 1 : one + unk < o->n ? 0 : H_UNKNOWN;
            else if (o->op == KB_SOP_OR)
                v = one > 0 ? 1 : unk == 0 ? 0 : H_UNKNOWN;
            else
                v = one >= o->arg ? 1 : one + unk < o->arg ? 0 : H_UNKNOWN;
            st[sp++] = v;
            break;
        }
        default:
            return 0;
        }
    }
    return sp == 1 ? st[0] : 0;
}

/* Decides a rule: the hits Hyperscan and the indexes gave, then the
 * predicates that need the reference evaluator (regex confirmation, REF,
 * keywords) one by one, only while the known ones leave it undecided. */
/* Predicate gp (PM_HS) has its hits needed in this event. */
static inline int pst_holds(const kb_engine_scratch *s, uint32_t gp, uint32_t need)
{
    pstate p = s->pst[gp];
    return (p & ~PST_CNT) == s->gen << PST_SHIFT && (p & PST_CNT) >= need;
}

static int eval_rule(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev, uint32_t ri)
{
    const erule *er = &e->rules[ri];
    const kb_rule *r = er->r;
    int nunk = 0, v;
    for (uint32_t k = 0; k < er->nmust; k++) {
        uint32_t gp = er->must[k];
        const ephot *ep = &e->phot[gp];
        if (ep->mode == PM_HS && !ep->confirm && !pst_holds(s, gp, ep->arg))
            return 0;
    }
    for (uint32_t k = 0; k < er->npreds; k++) {
        uint32_t gp = er->pred0 + k;
        const ephot *ep = &e->phot[gp];
        uint8_t h;
        switch (ep->mode) {
        case PM_HS:
            h = (uint8_t)pst_holds(s, gp, ep->arg);
            if (h && ep->confirm)
                h = H_UNKNOWN;
            break;
        case PM_REF:
            h = s->slot_gen[ep->arg] == s->gen ? H_UNKNOWN : ep->z;
            break;
        case PM_CONST:
            h = ep->z;
            break;
        default:
            h = H_UNKNOWN;
            break;
        }
        nunk += h == H_UNKNOWN;
        s->hits[k] = h;
    }
    if (nunk == 0)
        return kb_sigma_program_eval(er->prog, er->nops, s->hits);
    v = program_eval3(er->prog, er->nops, s->hits);
    for (uint32_t k = 0; k < er->npreds && v == H_UNKNOWN; k++) {
        if (s->hits[k] != H_UNKNOWN)
            continue;
        if (r->preds[k].kind == KB_SP_CIDR && !r->preds[k].all &&
            e->preds[er->pred0 + k].slot != NOSLOT)
            s->hits[k] = (uint8_t)cidr_pred(e, s, ev, er->pred0 + k);
        else
            s->hits[k] = rx_maybe(e, s, ev, er->pred0 + k)
                             ? (uint8_t)kb_sigma_pred_match(&r->preds[k], ev)
                             : 0;
        if (--nunk == 0)
            return kb_sigma_program_eval(er->prog, er->nops, s->hits);
        v = program_eval3(er->prog, er->nops, s->hits);
    }
    return v == 1;
}

int kb_engine_match(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev,
                    kb_engine_hit_fn fn, void *ud)
{
    const route *rt;
    int64_t id = 0;
    int has_id, rc, n = 0;
    size_t a = 0, t = 0;

    if (!e || !s || !ev || s->e != e || (ev->nfields && ev->names != e->names))
        return KB_EINVAL;
    next_gen(e, s);
    s->low_of = NULL;
    gather(e, s, ev);
    has_id = event_id(e, s, ev, &id);
    if (!(rt = route_get(e, s, &ev->ls, has_id, id)))
        return KB_ENOMEM;
    s->cand = rt->cand;
    s->ntrig = 0;
    for (size_t k = 0; k < rt->nscan;) {
        uint32_t si = e->subs[rt->scan[k]].slot;
        size_t k2 = k + 1;
        while (k2 < rt->nscan && e->subs[rt->scan[k2]].slot == si)
            k2++;
        if (si == e->kw_slot) {
            if ((rc = scan_keywords(e, s, ev, rt->scan + k, k2 - k)))
                return rc;
        } else if (s->slot_gen[si] == s->gen &&
                   (rc = scan_slot(e, s, ev, si, rt->scan + k, k2 - k))) {
            return rc;
        }
        k = k2;
    }
    for (size_t k = 0; k < s->npresent; k++) {
        const eslot *sl = &e->slots[s->present[k]];
        for (size_t j = 0; j < sl->npresence; j++)
            if (bit_get(rt->cand, sl->presence[j]))
                trigger(s, sl->presence[j]);
    }
    for (size_t i = 1; i < s->ntrig; i++) {
        uint32_t x = s->trig[i];
        size_t j = i;
        while (j > 0 && s->trig[j - 1] > x) {
            s->trig[j] = s->trig[j - 1];
            j--;
        }
        s->trig[j] = x;
    }
    /* merge the always list with the triggered rules, in ruleset order */
    while (a < rt->nalways || t < s->ntrig) {
        uint32_t ri;
        if (t >= s->ntrig || (a < rt->nalways && rt->always[a] <= s->trig[t])) {
            ri = rt->always[a++];
            if (t < s->ntrig && s->trig[t] == ri)
                t++;
        } else {
            ri = s->trig[t++];
        }
        if (!eval_rule(e, s, ev, ri))
            continue;
        n++;
        if (fn && fn(e->rules[ri].r, ev, ud))
            break;
    }
    return n;
}
