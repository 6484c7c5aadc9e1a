/* The fast Sigma matcher (engine.h).
 *
 * Compile time:
 *   - every rule field becomes a slot; the string predicates of all rules
 *     on a slot become one Hyperscan database (pattern id = value id);
 *     integer values (EventID: 4688) also go to a sorted per-slot index,
 *     because they compare numerically with fields that read as integers;
 *   - each predicate gets a mode: HS (decided from Hyperscan hits), REF (the
 *     reference evaluator, only when its field is present: an absent field
 *     gives the predicate's value on an empty event, `z`), ALWAYS (keyword
 *     predicates: reference every time), CONST (never deviates from z);
 *   - from the condition program, a watch set per rule: predicates such
 *     that the rule stays false (its value on an empty event) unless one of
 *     them deviates from z. A rule is evaluated only when a watched HS
 *     predicate got a hit or the field of a watched REF predicate is
 *     present; rules true on an empty event, or watching a keyword, are
 *     evaluated for every event their logsource admits;
 *   - the EventID values a rule requires (a predicate ANDed at the top of
 *     its program with only integer values), for routing.
 *
 * Match time, per event: gather the instances of every slot in one pass
 * over the fields (with the "name without spaces" fallback of the
 * reference), find the candidate rules for (logsource, EventID) in a cache
 * kept in the scratch, scan the slots the candidates need, then evaluate
 * the triggered rules in ruleset order with kb_sigma_program_eval. */
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect/engine.h"
#include "detect/sigma-int.h"

enum { PM_HS, PM_REF, PM_ALWAYS, PM_CONST };

#define NOSLOT UINT32_MAX
#define COST_INF 1000000000u
#define COST_HS 1u
#define COST_REF 50u
#define ROUTE_MAX 512 /* cached routing entries per scratch */
#define ROUTE_HASH 1024

typedef struct epred {
    uint32_t rule;
    uint32_t slot;   /* NOSLOT for keywords and fieldless predicates */
    uint32_t need;   /* hits needed: 1, or the number of value groups for `all` */
    uint32_t v0, nv; /* its values in kb_engine.vals (HS predicates) */
    uint8_t mode;    /* PM_* */
    uint8_t z;       /* value on an empty event */
    uint8_t watched; /* a deviation may make its rule match */
    uint8_t confirm; /* a Hyperscan hit is a superset: confirm with the reference */
    uint8_t all;
} epred;

typedef struct evalue {
    const kb_sigma_val *v;
    uint32_t pred; /* global predicate index */
    uint32_t gid;  /* global group index (for `all`) */
    uint8_t is_int;
} evalue;

typedef struct eint {
    int64_t ival;
    uint32_t vid;
} eint;

typedef struct trie_node {
    uint32_t off;  /* into tvids: prefix (or suffix) values, then exact ones */
    uint32_t npre; /* reported whenever the walk reaches the node */
    uint32_t nex;  /* reported only when the node ends the subject */
} trie_node;

typedef struct trie_term {
    uint32_t node, vid;
    uint8_t exact;
} trie_term;

typedef struct eslot {
    kb_fid fid;
    const char *name;
    uint8_t canon;
    hs_database_t *db;
    size_t npat;
    uint32_t proot, sroot; /* prefix/exact and suffix tries, NOSLOT if none */
    eint *ints;
    size_t nints;
    uint32_t *presence; /* rules watching a REF predicate on this slot */
    size_t npresence, apresence;
} eslot;

typedef struct erule {
    const kb_rule *r;
    uint32_t pred0;
    uint32_t npreds;
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
    size_t ngroups;
    eslot *slots;
    size_t nslots, aslots;
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
    uint64_t *ekey; /* key + 1, 0 empty */
    uint32_t *eval;
    size_t ecap, nedges;
    uint32_t *tvids; /* terminal value ids, ranges per node */
    size_t ntvids;
    kb_engine_stats st;
};

typedef struct route {
    char *key[3]; /* product, category, service (copies; NULL when absent) */
    int has_id;
    int64_t id;
    uint64_t hash;
    uint8_t *cand; /* bitmap over rules */
    uint32_t *always;
    size_t nalways;
    uint32_t *scan; /* slots to scan */
    size_t nscan;
} route;

struct kb_engine_scratch {
    const kb_engine *e;
    hs_scratch_t *hs;
    uint32_t gen;
    uint32_t *pstamp, *pcnt, *gstamp, *rstamp;
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
    uint8_t *mark; /* nslots, for building routes */
    const uint8_t *cand;
    int inst_parsed; /* the instance being scanned reads as an integer */
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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
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

/* ---- compile ----------------------------------------------------------- */

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
    hs_ok = p->kind == KB_SP_STR && !p->neq && ep->z == 0;
    for (uint32_t i = 0; hs_ok && i < p->nvals; i++) {
        int conf;
        if (p->vals[i].isnull)
            hs_ok = 0;
        else if (!p->vals[i].never && !value_pattern(&p->vals[i], b, &conf))
            hs_ok = 0;
        else if (!p->vals[i].never && conf)
            ep->confirm = 1;
    }
    if (!hs_ok) {
        ep->mode = PM_REF;
        ep->confirm = 0;
        return KB_OK;
    }
hs:
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
            e->vals[e->nvals].is_int = v->is_int;
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
static int in_trie(const kb_sigma_pred *p, const kb_sigma_val *v)
{
    return !p->cased && v->lit && v->litlen > 0 && v->anchor <= 2 && !v->never;
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
        uint64_t k = e->ekey[pos];
        if (k == key)
            return e->eval[pos];
        if (!k)
            return NOSLOT;
        pos = (pos + 1) & (e->ecap - 1);
    }
}

static int edge_rehash(kb_engine *e)
{
    size_t ncap = e->ecap ? e->ecap * 2 : 1024;
    uint64_t *nk = calloc(ncap, sizeof *nk);
    uint32_t *nv = malloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return KB_ENOMEM;
    }
    for (size_t i = 0; i < e->ecap; i++) {
        size_t pos;
        if (!e->ekey[i])
            continue;
        pos = edge_pos(e->ekey[i], ncap);
        while (nk[pos])
            pos = (pos + 1) & (ncap - 1);
        nk[pos] = e->ekey[i];
        nv[pos] = e->eval[i];
    }
    free(e->ekey);
    free(e->eval);
    e->ekey = nk;
    e->eval = nv;
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
            while (e->ekey[pos])
                pos = (pos + 1) & (e->ecap - 1);
            e->ekey[pos] = key;
            e->eval[pos] = ch;
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
    for (size_t si = 0; si < e->nslots; si++)
        e->slots[si].proot = e->slots[si].sroot = NOSLOT;
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        const epred *ep = &e->preds[gp];
        const kb_sigma_pred *p;
        eslot *sl;
        if (ep->mode != PM_HS)
            continue;
        p = pred_of(e, gp);
        sl = &e->slots[ep->slot];
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            const kb_sigma_val *v = e->vals[vid].v;
            uint32_t *root, node;
            if (!in_trie(p, v))
                continue;
            root = v->anchor == 2 ? &sl->sroot : &sl->proot;
            if (*root == NOSLOT && (*root = trie_new_node(e)) == NOSLOT)
                goto nomem;
            if ((node = trie_insert(e, *root, v->lit, v->litlen, v->anchor == 2)) == NOSLOT)
                goto nomem;
            if (grow((void **)&terms, &aterms, nterms + 1, sizeof *terms))
                goto nomem;
            terms[nterms].node = node;
            terms[nterms].vid = vid;
            terms[nterms].exact = v->anchor == 0;
            nterms++;
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

/* Builds slot si's database and integer index from its HS predicates
 * (preds[0..np)); a pattern Hyperscan refuses turns its predicate into
 * PM_REF and the rest is compiled again. */
static int compile_slot(kb_engine *e, uint32_t si, const uint32_t *preds, size_t np, patset *ps,
                        kb_buf *b)
{
    eslot *s = &e->slots[si];
    size_t aints = 0;
    int rc = KB_OK;

    for (;;) {
        hs_compile_error_t *cerr = NULL;
        patset_clear(ps);
        for (size_t k = 0; k < np; k++) {
            const epred *ep = &e->preds[preds[k]];
            const kb_sigma_pred *p = pred_of(e, preds[k]);
            if (ep->mode != PM_HS)
                continue;
            for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
                unsigned fl = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL;
                int conf;
                if (in_trie(p, e->vals[vid].v))
                    continue;
                if (!p->cased)
                    fl |= HS_FLAG_CASELESS;
                if (!value_pattern(e->vals[vid].v, b, &conf)) {
                    rc = KB_ENOMEM;
                    goto out;
                }
                if ((rc = patset_add(ps, b->data, fl, vid)))
                    goto out;
            }
        }
        if (ps->n == 0)
            break;
        if (hs_compile_multi((const char *const *)ps->expr, ps->flags, ps->ids, (unsigned)ps->n,
                             HS_MODE_BLOCK, NULL, &s->db, &cerr) == HS_SUCCESS) {
            s->npat = ps->n;
            break;
        }
        s->db = NULL;
        if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < ps->n) {
            e->preds[e->vals[ps->ids[cerr->expression]].pred].mode = PM_REF;
            hs_free_compile_error(cerr);
            continue;
        }
        if (cerr)
            hs_free_compile_error(cerr);
        for (size_t k = 0; k < np; k++)
            if (e->preds[preds[k]].mode == PM_HS)
                e->preds[preds[k]].mode = PM_REF;
        break;
    }
    for (size_t k = 0; k < np; k++) {
        const epred *ep = &e->preds[preds[k]];
        if (ep->mode != PM_HS)
            continue;
        for (uint32_t vid = ep->v0; vid < ep->v0 + ep->nv; vid++) {
            if (!e->vals[vid].is_int)
                continue;
            if ((rc = grow((void **)&s->ints, &aints, s->nints + 1, sizeof *s->ints)))
                goto out;
            s->ints[s->nints].ival = e->vals[vid].v->ival;
            s->ints[s->nints].vid = vid;
            s->nints++;
        }
    }
    if (s->nints)
        qsort(s->ints, s->nints, sizeof *s->ints, cmp_eint);
out:
    patset_clear(ps);
    return rc;
}

/* Cost of the trigger a predicate needs when it must be watched. */
static uint32_t pred_cost(const epred *ep)
{
    switch (ep->mode) {
    case PM_HS: return COST_HS;
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
            n->cost = pred_cost(&e->preds[gp]);
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
    patset ps = {0};
    uint32_t **slot_preds = NULL;
    size_t *slot_np = NULL, *slot_ap = NULL;
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
    /* databases */
    slot_preds = calloc(e->nslots + 1, sizeof *slot_preds);
    slot_np = calloc(e->nslots + 1, sizeof *slot_np);
    slot_ap = calloc(e->nslots + 1, sizeof *slot_ap);
    if (!slot_preds || !slot_np || !slot_ap)
        goto fail;
    for (uint32_t gp = 0; gp < e->npreds; gp++) {
        uint32_t si = e->preds[gp].slot;
        if (e->preds[gp].mode != PM_HS)
            continue;
        if (grow((void **)&slot_preds[si], &slot_ap[si], slot_np[si] + 1, sizeof **slot_preds))
            goto fail;
        slot_preds[si][slot_np[si]++] = gp;
    }
    why = "cannot compile a pattern database";
    for (uint32_t si = 0; si < e->nslots; si++)
        if (slot_np[si] && compile_slot(e, si, slot_preds[si], slot_np[si], &ps, &b))
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
    e->cand_bytes = (e->nrules + 7) / 8 + 1;
    e->st.rules = e->nrules;
    e->st.preds = e->npreds;
    for (uint32_t si = 0; si < e->nslots; si++) {
        e->st.hs_patterns += e->slots[si].npat;
        e->st.hs_databases += e->slots[si].db != NULL;
    }
    for (uint32_t gp = 0; gp < e->npreds; gp++)
        e->st.fallback += e->preds[gp].mode == PM_REF || e->preds[gp].mode == PM_ALWAYS ||
                          e->preds[gp].confirm;
    e->st.hs_patterns += e->ntvids; /* trie literals count as patterns */
    e->st.compile_secs = now_secs() - t0;
    why = NULL;
fail:
    if (slot_preds)
        for (size_t si = 0; si < e->nslots; si++)
            free(slot_preds[si]);
    free(slot_preds);
    free(slot_np);
    free(slot_ap);
    free(ps.expr);
    free(ps.flags);
    free(ps.ids);
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

    for (size_t si = 0; si < e->nslots; si++) {
        hs_free_database(e->slots[si].db);
        free(e->slots[si].ints);
        free(e->slots[si].presence);
    }
    if (e->rules)
        for (size_t i = 0; i < e->nrules; i++)
            free(e->rules[i].req);
    free(e->slots);
    free(e->rules);
    free(e->preds);
    free(e->vals);
    free(e->fid2slot);
    free(e->canon_slots);
    free(e->name_hash);
    free(e->tn);
    free(e->ekey);
    free(e->eval);
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
    for (size_t si = 0; si < e->nslots; si++)
        if (e->slots[si].db && hs_alloc_scratch(e->slots[si].db, &s->hs) != HS_SUCCESS)
            goto fail;
    s->pstamp = calloc(e->npreds + 1, sizeof *s->pstamp);
    s->pcnt = calloc(e->npreds + 1, sizeof *s->pcnt);
    s->gstamp = calloc(e->ngroups + 1, sizeof *s->gstamp);
    s->rstamp = calloc(e->nrules + 1, sizeof *s->rstamp);
    s->trig = calloc(e->nrules + 1, sizeof *s->trig);
    s->slot_gen = calloc(ns, sizeof *s->slot_gen);
    s->dhead = calloc(ns, sizeof *s->dhead);
    s->ahead = calloc(ns, sizeof *s->ahead);
    s->present = calloc(ns, sizeof *s->present);
    s->mark = calloc(ns, 1);
    s->dnext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->dnext);
    s->anext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->anext);
    s->routes = calloc(ROUTE_MAX, sizeof *s->routes);
    s->route_hash = malloc(ROUTE_HASH * sizeof *s->route_hash);
    if (!s->pstamp || !s->pcnt || !s->gstamp || !s->rstamp || !s->trig || !s->slot_gen ||
        !s->dhead || !s->ahead || !s->present || !s->mark || !s->dnext || !s->anext ||
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
    free(s->pstamp);
    free(s->pcnt);
    free(s->gstamp);
    free(s->rstamp);
    free(s->trig);
    free(s->slot_gen);
    free(s->dhead);
    free(s->ahead);
    free(s->present);
    free(s->mark);
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
    memset(s->mark, 0, e->nslots + 1);
    for (uint32_t ri = 0; ri < e->nrules; ri++) {
        const erule *er = &e->rules[ri];
        if (!kb_rule_logsource_applies(er->r, ls))
            continue;
        if (er->has_req && has_id &&
            !bsearch(&id, er->req, er->nreq, sizeof *er->req, cmp_i64))
            continue;
        rt->cand[ri >> 3] |= (uint8_t)(1u << (ri & 7));
        nal += er->always;
        for (uint32_t k2 = 0; k2 < er->npreds; k2++) {
            const epred *ep = &e->preds[er->pred0 + k2];
            if (ep->mode == PM_HS && !s->mark[ep->slot]) {
                s->mark[ep->slot] = 1;
                nsc++;
            }
        }
    }
    rt->always = malloc((nal + 1) * sizeof *rt->always);
    rt->scan = malloc((nsc + 1) * sizeof *rt->scan);
    if (!rt->always || !rt->scan)
        goto fail;
    for (uint32_t ri = 0; ri < e->nrules; ri++)
        if (e->rules[ri].always && bit_get(rt->cand, ri))
            rt->always[rt->nalways++] = ri;
    for (uint32_t si = 0; si < e->nslots; si++)
        if (s->mark[si])
            rt->scan[rt->nscan++] = si;
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
    if (++s->gen == 0) {
        memset(s->pstamp, 0, (e->npreds + 1) * sizeof *s->pstamp);
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
        if ((si = fid_alias(e, s, fid)) != NOSLOT) {
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

static void value_hit(const kb_engine *e, kb_engine_scratch *s, uint32_t vid)
{
    const evalue *v = &e->vals[vid];
    const epred *p = &e->preds[v->pred];
    if (!bit_get(s->cand, p->rule))
        return;
    if (s->pstamp[v->pred] != s->gen) {
        s->pstamp[v->pred] = s->gen;
        s->pcnt[v->pred] = 0;
    }
    if (p->all) {
        if (s->gstamp[v->gid] == s->gen)
            return;
        s->gstamp[v->gid] = s->gen;
    } else if (s->pcnt[v->pred]) {
        return;
    }
    s->pcnt[v->pred]++;
    if (p->watched)
        trigger(s, p->rule);
}

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *ctx)
{
    kb_engine_scratch *s = ctx;
    (void)from;
    (void)to;
    (void)flags;
    if (s->inst_parsed && s->e->vals[id].is_int)
        return 0; /* compared numerically instead */
    value_hit(s->e, s, id);
    return 0;
}

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline void trie_hit(const kb_engine *e, kb_engine_scratch *s, uint32_t vid)
{
    if (s->inst_parsed && e->vals[vid].is_int)
        return;
    value_hit(e, s, vid);
}

static int scan_field(const kb_engine *e, kb_engine_scratch *s, const eslot *sl, const kb_field *f)
{
    if (f->type == KB_V_NULL || f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
        return KB_OK;
    s->inst_parsed = 0;
    if (sl->nints && (f->type == KB_V_INT || f->type == KB_V_STR)) {
        int64_t x;
        if (kb_parse_i64(f->val, f->len, &x) == KB_OK) {
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
                trie_hit(e, s, e->tvids[n->off + k]);
            if (i == f->len) {
                for (uint32_t k = 0; k < n->nex; k++)
                    trie_hit(e, s, e->tvids[n->off + n->npre + k]);
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
                trie_hit(e, s, e->tvids[n->off + k]);
            if (i == 0)
                break;
            if ((node = trie_child(e, node, lower(p[--i]))) == NOSLOT)
                break;
        }
    }
    if (sl->db && hs_scan(sl->db, f->len ? f->val : "", f->len, 0, s->hs, on_hit, s) != HS_SUCCESS)
        return KB_ENOMEM;
    return KB_OK;
}

static int scan_slot(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev, uint32_t si)
{
    const eslot *sl = &e->slots[si];
    uint16_t i;
    int rc;
    if (s->dhead[si]) {
        if (sl->canon)
            return scan_field(e, s, sl, &ev->fields[s->dhead[si] - 1]);
        for (i = s->dhead[si]; i; i = s->dnext[i - 1])
            if ((rc = scan_field(e, s, sl, &ev->fields[i - 1])))
                return rc;
        return KB_OK;
    }
    for (i = s->ahead[si]; i; i = s->anext[i - 1])
        if ((rc = scan_field(e, s, sl, &ev->fields[i - 1])))
            return rc;
    return KB_OK;
}

/* Keyword predicates: every string or number value, joined by NUL. */
static int scan_keywords(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev)
{
    const eslot *sl = &e->slots[e->kw_slot];
    kb_buf_clear(&s->kw);
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const kb_field *f = &ev->fields[i];
        if (f->type != KB_V_STR && f->type != KB_V_INT && f->type != KB_V_FLOAT &&
            f->type != KB_V_BOOL)
            continue;
        if (kb_buf_append(&s->kw, f->val, f->len) || kb_buf_putc(&s->kw, 0))
            return KB_ENOMEM;
    }
    s->inst_parsed = 0;
    if (sl->db && s->kw.len &&
        hs_scan(sl->db, s->kw.data, (unsigned)s->kw.len, 0, s->hs, on_hit, s) != HS_SUCCESS)
        return KB_ENOMEM;
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

static int eval_rule(const kb_engine *e, kb_engine_scratch *s, const kb_event *ev, uint32_t ri)
{
    const erule *er = &e->rules[ri];
    const kb_rule *r = er->r;
    for (uint32_t k = 0; k < er->npreds; k++) {
        uint32_t gp = er->pred0 + k;
        const epred *ep = &e->preds[gp];
        uint8_t h;
        switch (ep->mode) {
        case PM_HS:
            h = s->pstamp[gp] == s->gen && s->pcnt[gp] >= ep->need;
            if (h && ep->confirm)
                h = (uint8_t)kb_sigma_pred_match(&r->preds[k], ev);
            break;
        case PM_REF:
            h = s->slot_gen[ep->slot] == s->gen ? (uint8_t)kb_sigma_pred_match(&r->preds[k], ev)
                                                 : ep->z;
            break;
        case PM_CONST:
            h = ep->z;
            break;
        default:
            h = (uint8_t)kb_sigma_pred_match(&r->preds[k], ev);
            break;
        }
        s->hits[k] = h;
    }
    return kb_sigma_program_eval(r->prog, r->nops, s->hits);
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
    gather(e, s, ev);
    has_id = event_id(e, s, ev, &id);
    if (!(rt = route_get(e, s, &ev->ls, has_id, id)))
        return KB_ENOMEM;
    s->cand = rt->cand;
    s->ntrig = 0;
    for (size_t k = 0; k < rt->nscan; k++) {
        uint32_t si = rt->scan[k];
        if (si == e->kw_slot) {
            if ((rc = scan_keywords(e, s, ev)))
                return rc;
        } else if (s->slot_gen[si] == s->gen && (rc = scan_slot(e, s, ev, si))) {
            return rc;
        }
    }
    for (size_t k = 0; k < s->npresent; k++) {
        const eslot *sl = &e->slots[s->present[k]];
        for (size_t j = 0; j < sl->npresence; j++)
            if (bit_get(rt->cand, sl->presence[j]))
                trigger(s, sl->presence[j]);
    }
    if (s->ntrig > 1)
        qsort(s->trig, s->ntrig, sizeof *s->trig, cmp_u32);
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
