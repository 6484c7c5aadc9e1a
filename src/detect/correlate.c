/* The streaming correlation engine: per correlation rule, a hash table of
 * groups with fixed-size windows, an LRU list for the overflow policy and
 * for forgetting groups whose window has passed.
 *
 * Routing: every rule whose alerts feed correlations is a "source" that
 * carries a list of values (the fields its targets group by or measure);
 * each target knows where its group-by values sit in that list. A
 * correlation rule that other correlations reference is a source too: its
 * values are its group-by values. Nested correlations are processed from a
 * bounded queue, never by recursion. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "detect/correlate-int.h"
#include "detect/sigma-int.h"

#define NIL UINT32_MAX
#define TEMPORAL_KEEP 4   /* timestamps kept per referenced rule in temporal windows */
#define QUEUE_CAP 256     /* nested correlation records per push */
#define MAX_SOURCE_FIELDS 256

static const char *const overflow_names[] = {
#define KB_CORREL_OV_NAME(e, s) s,
    KB_CORREL_OVERFLOW_MAP(KB_CORREL_OV_NAME)
#undef KB_CORREL_OV_NAME
};

int kb_correl_overflow_parse(const char *s)
{
    for (int i = 0; i < KB_CORREL_OVERFLOW_COUNT; i++)
        if (strcmp(s, overflow_names[i]) == 0)
            return i;
    return -1;
}

const char *kb_correl_overflow_name(int policy)
{
    return policy >= 0 && policy < KB_CORREL_OVERFLOW_COUNT ? overflow_names[policy] : "unknown";
}

void kb_correl_opts_default(kb_correl_opts *o)
{
    o->max_groups = KB_CORREL_DEFAULT_GROUPS;
    o->max_window = KB_CORREL_DEFAULT_WINDOW;
    o->lateness = KB_CORREL_DEFAULT_LATENESS;
    o->overflow = KB_CORREL_EVICT_OLDEST;
    o->gen = NULL;
    o->ngen = 0;
    o->gen_path = NULL;
}

typedef struct target {
    uint32_t table;
    uint32_t input;
    uint32_t *gpos; /* ngroup positions into the source's values */
    int32_t vpos;   /* the value field's position, or -1 */
} target;

typedef struct source {
    const kb_rule *rule; /* NULL for a correlation's own alerts */
    const char **fields;
    kb_fid *fids;
    uint32_t nf, af;
    target *t;
    uint32_t nt;
    int generate;
} source;

typedef struct gslot {
    uint64_t h1, h2;
    int64_t newest;
    uint32_t prev, next; /* LRU list (head: most recently updated); next links the free list */
    uint32_t n;          /* entries in the window */
    uint32_t live;
} gslot;

typedef struct ts_val {
    int64_t ts;
    double v;
} ts_val;

typedef struct ts_hash {
    int64_t ts;
    uint64_t h;
} ts_hash;

typedef struct ctable {
    const kb_correl_rule *cr;
    int type;
    uint32_t ninputs, ngroup;
    uint32_t cap;   /* entries per group */
    size_t psize;   /* payload bytes per group */
    uint32_t max;   /* groups at most */
    gslot *slots;
    unsigned char *pay;
    uint32_t nalloc, nused, freel;
    uint32_t *idx; /* slot + 1, 0 empty */
    uint32_t imask;
    uint32_t head, tail;
    uint32_t live;
    int32_t out; /* source index of its alerts, or -1 */
    int hidden;
    int generate; /* the rule's `generate`, or the deployment's override */
} ctable;

typedef struct qrec {
    uint32_t src;
    int64_t ts;
    const char *host;
    kb_str *vals;
    uint32_t nv;
} qrec;

struct kb_correl {
    kb_ruleset *rs;
    kb_correl_opts o;
    kb_correl_emit_fn fn;
    void *ud;
    ctable *t;
    uint32_t nt;
    source *src;
    uint32_t nsrc, asrc;
    const kb_rule **bkeys; /* base rule -> source */
    uint32_t *bvals;
    size_t bslots;
    int64_t maxts;
    kb_correl_stats st;
    kb_str *vals; /* MAX_SOURCE_FIELDS */
    double *scratch;
    kb_buf group;
    qrec q[QUEUE_CAP];
    uint32_t qn;
    kb_arena *qarena;
    kb_arena *arena; /* routing tables */
    int emitted;
};

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t mix1(uint64_t h, uint64_t x)
{
    h ^= x;
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return h ^ (h >> 29);
}

static inline uint64_t mix2(uint64_t h, uint64_t x)
{
    h += x * UINT64_C(0xC2B2AE3D27D4EB4F);
    h = (h << 31) | (h >> 33);
    return h * UINT64_C(0x165667B19E3779F9);
}

static void hash_bytes(uint64_t *h1, uint64_t *h2, const char *p, size_t len)
{
    uint64_t w;
    while (len >= 8) {
        memcpy(&w, p, 8);
        *h1 = mix1(*h1, w);
        *h2 = mix2(*h2, w);
        p += 8;
        len -= 8;
    }
    w = 0;
    memcpy(&w, p, len);
    *h1 = mix1(*h1, w ^ ((uint64_t)len << 56));
    *h2 = mix2(*h2, w + len);
}

static void hash_vals(const kb_str *vals, const uint32_t *pos, uint32_t n, uint64_t *o1,
                      uint64_t *o2)
{
    uint64_t h1 = UINT64_C(0x243F6A8885A308D3), h2 = UINT64_C(0x13198A2E03707344);
    for (uint32_t g = 0; g < n; g++) {
        const kb_str *v = &vals[pos[g]];
        if (!v->p) {
            h1 = mix1(h1, UINT64_C(0xFFFFFFFFFFFFFFFF));
            h2 = mix2(h2, UINT64_C(0xFFFFFFFFFFFFFFFF));
            continue;
        }
        h1 = mix1(h1, v->len);
        h2 = mix2(h2, v->len);
        hash_bytes(&h1, &h2, v->p, v->len);
    }
    h1 ^= h1 >> 33;
    h1 *= UINT64_C(0xff51afd7ed558ccd);
    h1 ^= h1 >> 33;
    *o1 = h1;
    *o2 = h2 ^ (h2 >> 31);
}

/* ---- building ----------------------------------------------------------- */

static size_t bslot_of(const kb_correl *c, const kb_rule *r)
{
    return (size_t)(((uintptr_t)r >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (c->bslots - 1);
}

static int32_t base_source(const kb_correl *c, const kb_rule *r)
{
    size_t h;
    if (!c->bslots)
        return -1;
    h = bslot_of(c, r);
    while (c->bkeys[h] && c->bkeys[h] != r)
        h = (h + 1) & (c->bslots - 1);
    return c->bkeys[h] ? (int32_t)c->bvals[h] : -1;
}

static int32_t new_source(kb_correl *c, const kb_rule *r)
{
    source *s;
    if (c->nsrc == c->asrc) {
        uint32_t na = c->asrc ? c->asrc * 2 : 16;
        source *ns = kb_realloc(c->src, na * sizeof *ns);
        if (!ns)
            return -1;
        c->src = ns;
        c->asrc = na;
    }
    s = &c->src[c->nsrc];
    memset(s, 0, sizeof *s);
    s->rule = r;
    return (int32_t)c->nsrc++;
}

/* Position of field f in s's values, adding it. -1 on failure. */
static int32_t source_field(kb_correl *c, source *s, const char *f)
{
    for (uint32_t i = 0; i < s->nf; i++)
        if (strcmp(s->fields[i], f) == 0)
            return (int32_t)i;
    if (s->nf >= MAX_SOURCE_FIELDS)
        return -1;
    if (s->nf == s->af) {
        uint32_t na = s->af ? s->af * 2 : 8;
        const char **nf = kb_arena_alloc(c->arena, na * sizeof *nf);
        if (!nf)
            return -1;
        if (s->nf)
            memcpy(nf, s->fields, s->nf * sizeof *nf);
        s->fields = nf;
        s->af = na;
    }
    s->fields[s->nf] = f;
    return (int32_t)s->nf++;
}

static int add_target(kb_correl *c, source *s, uint32_t table, uint32_t input)
{
    ctable *t = &c->t[table];
    const kb_correl_rule *cr = t->cr;
    target *nt = kb_arena_alloc(c->arena, (s->nt + 1) * sizeof *nt), *tg;
    if (!nt)
        return KB_ENOMEM;
    if (s->nt)
        memcpy(nt, s->t, s->nt * sizeof *nt);
    s->t = nt;
    tg = &nt[s->nt];
    tg->table = table;
    tg->input = input;
    tg->vpos = -1;
    tg->gpos = kb_arena_alloc(c->arena, (t->ngroup ? t->ngroup : 1) * sizeof *tg->gpos);
    if (!tg->gpos)
        return KB_ENOMEM;
    for (uint32_t g = 0; g < t->ngroup; g++) {
        int32_t p = source_field(c, s, cr->in_field[input * cr->ngroup + g]);
        if (p < 0)
            return KB_ELIMIT;
        tg->gpos[g] = (uint32_t)p;
    }
    if (cr->in_value[input]) {
        if ((tg->vpos = source_field(c, s, cr->in_value[input])) < 0)
            return KB_ELIMIT;
    }
    s->generate |= t->generate;
    s->nt++;
    return KB_OK;
}

/* 1 when override g names correlation rule cr (id, `name:` or title). */
static int gen_names(const kb_correl_gen *g, const kb_correl_rule *cr)
{
    const kb_rule_meta *m = kb_correl_meta(cr);
    const char *name = kb_correl_rule_name(cr);
    return g->rule && ((m->id && strcmp(m->id, g->rule) == 0) || (name && strcmp(name, g->rule) == 0) ||
                       (m->title && strcmp(m->title, g->rule) == 0));
}

static uint32_t entries_for(const kb_correl_rule *cr, size_t max_window)
{
    double hi = 1;
    uint64_t n;
    if (cr->type == KB_CT_TEMPORAL || cr->type == KB_CT_TEMPORAL_ORDERED)
        return (uint32_t)cr->nrefs * TEMPORAL_KEEP;
    if (cr->type != KB_CT_EVENT_COUNT && cr->type != KB_CT_VALUE_COUNT)
        return (uint32_t)max_window;
    /* counts: enough to tell the largest threshold from one more */
    for (int i = 0; i < CC_COUNT; i++)
        if (cr->has[i] && cr->thr[i] > hi)
            hi = cr->thr[i];
    n = hi + 2 > (double)max_window ? max_window : (uint64_t)hi + 2;
    return n < 2 ? 2 : (uint32_t)n;
}

static size_t entry_size(int type)
{
    switch (type) {
    case KB_CT_EVENT_COUNT:
    case KB_CT_TEMPORAL:
    case KB_CT_TEMPORAL_ORDERED:
        return sizeof(int64_t);
    case KB_CT_VALUE_COUNT:
        return sizeof(ts_hash);
    default:
        return sizeof(ts_val);
    }
}

kb_correl *kb_correl_new(kb_ruleset *rs, const kb_correl_opts *o, kb_correl_emit_fn fn,
                         void *ud, kb_rule_error_fn efn, void *eud)
{
    kb_correl *c = kb_calloc(1, sizeof *c);
    size_t n = kb_ruleset_correl_count(rs), nvalid = 0, nbase = 0;
    int32_t *table_of = NULL;

    if (!c)
        return NULL;
    c->rs = rs;
    if (o)
        c->o = *o;
    else
        kb_correl_opts_default(&c->o);
    if (c->o.max_groups == 0)
        c->o.max_groups = 1;
    if (c->o.max_groups > UINT32_MAX / 4)
        c->o.max_groups = UINT32_MAX / 4;
    if (c->o.max_window < 2)
        c->o.max_window = 2;
    if (c->o.max_window > 1u << 20)
        c->o.max_window = 1u << 20;
    if (c->o.lateness < 0)
        c->o.lateness = 0;
    c->fn = fn;
    c->ud = ud;
    c->maxts = KB_TIME_NONE;
    kb_buf_init(&c->group, 1 << 16);
    kb_correl_resolve(rs, efn, eud);
    c->st.memory_cap = sizeof *c + MAX_SOURCE_FIELDS * sizeof(kb_str) +
                       c->o.max_window * sizeof(double);
    c->arena = kb_arena_new(16 << 10, 0);
    c->qarena = kb_arena_new(16 << 10, 4u << 20);
    c->vals = kb_calloc(MAX_SOURCE_FIELDS, sizeof *c->vals);
    c->scratch = kb_calloc(c->o.max_window, sizeof *c->scratch);
    table_of = kb_calloc(n ? n : 1, sizeof *table_of);
    if (!c->arena || !c->qarena || !c->vals || !c->scratch || !table_of)
        goto fail;
    for (size_t i = 0; i < n; i++)
        nvalid += kb_correl_rule_ok(kb_ruleset_correl(rs, i));
    if (nvalid && !(c->t = kb_calloc(nvalid, sizeof *c->t)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const kb_correl_rule *cr = kb_ruleset_correl(rs, i);
        ctable *t;
        table_of[i] = -1;
        if (!kb_correl_rule_ok(cr))
            continue;
        table_of[i] = (int32_t)c->nt;
        t = &c->t[c->nt++];
        t->cr = cr;
        t->type = cr->type;
        t->ninputs = (uint32_t)cr->nrefs;
        t->ngroup = (uint32_t)cr->ngroup;
        t->cap = entries_for(cr, c->o.max_window);
        t->psize = t->cap * entry_size(cr->type);
        t->max = (uint32_t)c->o.max_groups;
        t->head = t->tail = t->freel = NIL;
        t->out = -1;
        t->generate = cr->generate;
        for (size_t g = 0; g < c->o.ngen; g++)
            if (gen_names(&c->o.gen[g], cr))
                t->generate = c->o.gen[g].generate;
        c->st.memory_cap += (size_t)t->max * (sizeof(gslot) + t->psize + 4 * sizeof(uint32_t));
    }
    for (size_t g = 0; g < c->o.ngen && efn; g++) {
        int found = 0;
        const char *path = c->o.gen_path ? c->o.gen_path : "config";
        char why[300], msg[1200];
        for (uint32_t ti = 0; ti < c->nt && !found; ti++)
            found = gen_names(&c->o.gen[g], c->t[ti].cr);
        if (found)
            continue;
        snprintf(why, sizeof why,
                 "correlation.generate: no correlation rule with id, name or title '%.200s'",
                 c->o.gen[g].rule ? c->o.gen[g].rule : "");
        snprintf(msg, sizeof msg, "%s:%u: %s", path, c->o.gen[g].line, why);
        efn(eud, path, c->o.gen[g].line, why, msg);
    }
    c->o.gen = NULL; /* borrowed for kb_correl_new only */
    c->o.ngen = 0;
    c->o.gen_path = NULL;
    /* sources: base rules, then correlations that others reference */
    for (uint32_t ti = 0; ti < c->nt; ti++) {
        const kb_correl_rule *cr = c->t[ti].cr;
        for (uint32_t k = 0; k < cr->nrefs; k++)
            nbase += cr->in_rule[k] != NULL;
    }
    c->bslots = 16;
    while (c->bslots < 2 * nbase + 1)
        c->bslots *= 2;
    c->bkeys = kb_calloc(c->bslots, sizeof *c->bkeys);
    c->bvals = kb_calloc(c->bslots, sizeof *c->bvals);
    if (!c->bkeys || !c->bvals)
        goto fail;
    for (uint32_t ti = 0; ti < c->nt; ti++) {
        const kb_correl_rule *cr = c->t[ti].cr;
        for (uint32_t k = 0; k < cr->nrefs; k++) {
            int32_t si;
            if (cr->in_rule[k]) {
                const kb_rule *r = cr->in_rule[k];
                if ((si = base_source(c, r)) < 0) {
                    size_t h = bslot_of(c, r);
                    if ((si = new_source(c, r)) < 0)
                        goto fail;
                    while (c->bkeys[h])
                        h = (h + 1) & (c->bslots - 1);
                    c->bkeys[h] = r;
                    c->bvals[h] = (uint32_t)si;
                }
            } else {
                ctable *in = &c->t[table_of[cr->in_corr[k]]];
                if (in->out < 0) {
                    if ((si = new_source(c, NULL)) < 0)
                        goto fail;
                    in->out = si;
                    for (uint32_t g = 0; g < in->ngroup; g++)
                        if (source_field(c, &c->src[si], in->cr->group[g]) < 0)
                            goto fail;
                }
                si = in->out;
            }
            if (add_target(c, &c->src[si], ti, k))
                goto fail;
        }
    }
    for (uint32_t ti = 0; ti < c->nt; ti++)
        c->t[ti].hidden = c->t[ti].out >= 0 && !c->src[c->t[ti].out].generate;
    for (uint32_t si = 0; si < c->nsrc; si++) {
        source *s = &c->src[si];
        if (!s->rule || !s->nf)
            continue;
        if (!(s->fids = kb_arena_alloc(c->arena, s->nf * sizeof *s->fids)))
            goto fail;
        for (uint32_t f = 0; f < s->nf; f++)
            s->fids[f] = kb_names_intern(rs->names, s->fields[f], strlen(s->fields[f]));
    }
    kb_free(table_of);
    return c;
fail:
    kb_free(table_of);
    kb_correl_free(c);
    return NULL;
}

void kb_correl_free(kb_correl *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nt; i++) {
        kb_free(c->t[i].slots);
        kb_free(c->t[i].pay);
        kb_free(c->t[i].idx);
    }
    kb_free(c->t);
    kb_free(c->src);
    kb_free(c->bkeys);
    kb_free(c->bvals);
    kb_free(c->vals);
    kb_free(c->scratch);
    kb_buf_release(&c->group);
    kb_arena_free(c->arena);
    kb_arena_free(c->qarena);
    kb_free(c);
}

size_t kb_correl_count(const kb_correl *c)
{
    return c ? c->nt : 0;
}

int kb_correl_wants(const kb_correl *c, const kb_rule *r)
{
    return c && base_source(c, r) >= 0;
}

int kb_correl_generates(const kb_correl *c, const kb_rule *r)
{
    int32_t s = c ? base_source(c, r) : -1;
    return s < 0 || c->src[s].generate;
}

size_t kb_correl_fields(const kb_correl *c, const kb_rule *r, const char *const **names)
{
    int32_t s = c ? base_source(c, r) : -1;
    if (s < 0) {
        *names = NULL;
        return 0;
    }
    *names = c->src[s].fields;
    return c->src[s].nf;
}

/* ---- group tables -------------------------------------------------------- */

static inline unsigned char *payload(ctable *t, uint32_t s)
{
    return t->pay + (size_t)s * t->psize;
}

static void lru_unlink(ctable *t, uint32_t s)
{
    gslot *g = &t->slots[s];
    if (g->prev != NIL)
        t->slots[g->prev].next = g->next;
    else
        t->head = g->next;
    if (g->next != NIL)
        t->slots[g->next].prev = g->prev;
    else
        t->tail = g->prev;
}

static void lru_front(ctable *t, uint32_t s)
{
    gslot *g = &t->slots[s];
    g->prev = NIL;
    g->next = t->head;
    if (t->head != NIL)
        t->slots[t->head].prev = s;
    t->head = s;
    if (t->tail == NIL)
        t->tail = s;
}

static int rehash(ctable *t, uint32_t isize)
{
    uint32_t *ni = kb_calloc(isize, sizeof *ni);
    if (!ni)
        return KB_ENOMEM;
    for (uint32_t s = 0; s < t->nused; s++) {
        uint32_t h;
        if (!t->slots[s].live)
            continue;
        h = (uint32_t)t->slots[s].h1 & (isize - 1);
        while (ni[h])
            h = (h + 1) & (isize - 1);
        ni[h] = s + 1;
    }
    kb_free(t->idx);
    t->idx = ni;
    t->imask = isize - 1;
    return KB_OK;
}

static int grow(ctable *t)
{
    uint32_t na = t->nalloc ? t->nalloc * 2 : 64, isize = 16;
    gslot *ns;
    unsigned char *np;
    if (na > t->max)
        na = t->max;
    if (na <= t->nalloc)
        return KB_ELIMIT;
    if (!(ns = kb_realloc(t->slots, (size_t)na * sizeof *ns)))
        return KB_ENOMEM;
    t->slots = ns;
    if (!(np = kb_realloc(t->pay, (size_t)na * t->psize)))
        return KB_ENOMEM;
    t->pay = np;
    t->nalloc = na;
    while (isize < 2 * na)
        isize *= 2;
    return rehash(t, isize);
}

static uint32_t index_find(const ctable *t, uint64_t h1, uint64_t h2, uint32_t *pos)
{
    uint32_t h = (uint32_t)h1 & t->imask;
    if (!t->idx) {
        *pos = 0;
        return NIL;
    }
    while (t->idx[h]) {
        const gslot *g = &t->slots[t->idx[h] - 1];
        if (g->h1 == h1 && g->h2 == h2) {
            *pos = h;
            return t->idx[h] - 1;
        }
        h = (h + 1) & t->imask;
    }
    *pos = h;
    return NIL;
}

/* Forgets slot s: out of the index (backward-shift deletion), the LRU list,
 * onto the free list. */
static void slot_free(kb_correl *c, ctable *t, uint32_t s)
{
    gslot *g = &t->slots[s];
    uint32_t i, j, pos;
    index_find(t, g->h1, g->h2, &pos);
    i = pos;
    j = i;
    for (;;) {
        uint32_t k;
        j = (j + 1) & t->imask;
        if (!t->idx[j])
            break;
        k = (uint32_t)t->slots[t->idx[j] - 1].h1 & t->imask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            t->idx[i] = t->idx[j];
            i = j;
        }
    }
    t->idx[i] = 0;
    lru_unlink(t, s);
    g->live = 0;
    g->next = t->freel;
    t->freel = s;
    t->live--;
    c->st.groups--;
}

/* Forgets up to two groups whose window passed long enough ago that no
 * record allowed by the lateness can reach them. */
static void expire(kb_correl *c, ctable *t)
{
    for (int k = 0; k < 2 && t->tail != NIL; k++) {
        gslot *g = &t->slots[t->tail];
        if (c->maxts == KB_TIME_NONE || g->newest >= c->maxts - c->o.lateness - t->cr->span)
            return;
        slot_free(c, t, t->tail);
        c->st.expired++;
    }
}

static void clear_payload(ctable *t, uint32_t s)
{
    t->slots[s].n = 0;
    if (t->type == KB_CT_TEMPORAL || t->type == KB_CT_TEMPORAL_ORDERED) {
        int64_t *p = (int64_t *)payload(t, s);
        for (uint32_t i = 0; i < t->cap; i++)
            p[i] = KB_TIME_NONE;
    }
}

/* The group's slot, created when new. NIL when refused (drop-new) or out
 * of memory. */
static uint32_t group_get(kb_correl *c, ctable *t, uint64_t h1, uint64_t h2, int64_t ts)
{
    uint32_t pos, s = index_find(t, h1, h2, &pos);
    gslot *g;

    if (s != NIL)
        return s;
    expire(c, t);
    if (t->freel == NIL && t->nused == t->nalloc) {
        if (t->nalloc < t->max) {
            if (grow(t))
                return NIL;
        } else if (c->o.overflow == KB_CORREL_EVICT_OLDEST && t->tail != NIL) {
            slot_free(c, t, t->tail);
            c->st.evicted++;
        } else {
            c->st.refused++;
            return NIL;
        }
    }
    if (t->freel != NIL) {
        s = t->freel;
        t->freel = t->slots[s].next;
    } else {
        s = t->nused++;
    }
    index_find(t, h1, h2, &pos); /* the table may have been rehashed or shifted */
    t->idx[pos] = s + 1;
    g = &t->slots[s];
    g->h1 = h1;
    g->h2 = h2;
    g->newest = ts;
    g->live = 1;
    lru_front(t, s);
    clear_payload(t, s);
    t->live++;
    if (++c->st.groups > c->st.groups_peak)
        c->st.groups_peak = c->st.groups;
    return s;
}

/* ---- windows ------------------------------------------------------------- */

static int cond_ok(const kb_correl_rule *cr, double v)
{
    if (cr->has[CC_GT] && !(v > cr->thr[CC_GT]))
        return 0;
    if (cr->has[CC_GTE] && !(v >= cr->thr[CC_GTE]))
        return 0;
    if (cr->has[CC_LT] && !(v < cr->thr[CC_LT]))
        return 0;
    if (cr->has[CC_LTE] && !(v <= cr->thr[CC_LTE]))
        return 0;
    if (cr->has[CC_EQ] && !(v == cr->thr[CC_EQ]))
        return 0;
    if (cr->has[CC_NEQ] && !(v != cr->thr[CC_NEQ]))
        return 0;
    return 1;
}

/* Sorted timestamps: drop those below lo, insert ts (dropping the oldest
 * when full). Returns the new count. */
static uint32_t ts_insert(kb_correl *c, int64_t *a, uint32_t n, uint32_t cap, int64_t lo,
                          int64_t ts)
{
    uint32_t k = 0, i;
    while (k < n && a[k] < lo)
        k++;
    if (k) {
        memmove(a, a + k, (n - k) * sizeof *a);
        n -= k;
    }
    if (n == cap) {
        c->st.window_full++;
        if (ts <= a[0])
            return n;
        memmove(a, a + 1, (n - 1) * sizeof *a);
        n--;
    }
    i = n;
    while (i > 0 && a[i - 1] > ts) {
        a[i] = a[i - 1];
        i--;
    }
    a[i] = ts;
    return n + 1;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

/* Updates the window of slot s with a record; returns 1 and sets *value,
 * *first when the condition holds. */
static int window_add(kb_correl *c, ctable *t, uint32_t s, const target *tg, int64_t ts,
                      const kb_str *vals, double *value, int64_t *first, uint64_t *records)
{
    gslot *g = &t->slots[s];
    const kb_correl_rule *cr = t->cr;
    unsigned char *p = payload(t, s);
    int64_t lo;
    double v = 0;

    if (ts > g->newest)
        g->newest = ts;
    lo = g->newest - cr->span;
    if (ts < lo) {
        c->st.outside++;
        return 0;
    }
    switch (t->type) {
    case KB_CT_EVENT_COUNT: {
        int64_t *a = (int64_t *)p;
        g->n = ts_insert(c, a, g->n, t->cap, lo, ts);
        v = g->n;
        *first = a[0];
        *records = g->n;
        break;
    }
    case KB_CT_VALUE_COUNT: {
        ts_hash *a = (ts_hash *)p;
        const kb_str *x = &vals[tg->vpos];
        uint64_t h1, h2;
        uint32_t m = 0, found = NIL, old = 0;
        uint32_t one = 0;
        if (!x->p) {
            c->st.missing_value++;
            return 0;
        }
        hash_vals(x, &one, 1, &h1, &h2);
        for (uint32_t i = 0; i < g->n; i++)
            if (a[i].ts >= lo)
                a[m++] = a[i];
        g->n = m;
        for (uint32_t i = 0; i < g->n; i++) {
            if (a[i].h == h1)
                found = i;
            if (a[i].ts < a[old].ts)
                old = i;
        }
        if (found != NIL) {
            if (ts > a[found].ts)
                a[found].ts = ts;
        } else if (g->n == t->cap) {
            c->st.window_full++;
            a[old] = (ts_hash){ts, h1};
        } else {
            a[g->n++] = (ts_hash){ts, h1};
        }
        v = g->n;
        *first = a[0].ts;
        for (uint32_t i = 1; i < g->n; i++)
            if (a[i].ts < *first)
                *first = a[i].ts;
        *records = g->n;
        break;
    }
    case KB_CT_TEMPORAL:
    case KB_CT_TEMPORAL_ORDERED: {
        int64_t *a = (int64_t *)p, prev = INT64_MIN;
        uint32_t seen = 0, len = 0;
        uint64_t total = 0;
        for (uint32_t in = 0; in < t->ninputs; in++) {
            int64_t *r = a + in * TEMPORAL_KEEP;
            uint32_t n = 0;
            while (n < TEMPORAL_KEEP && r[n] != KB_TIME_NONE)
                n++;
            if (in == tg->input)
                n = ts_insert(c, r, n, TEMPORAL_KEEP, lo, ts);
            else {
                uint32_t k = 0;
                while (k < n && r[k] < lo)
                    k++;
                if (k) {
                    memmove(r, r + k, (n - k) * sizeof *r);
                    n -= k;
                }
            }
            for (uint32_t i = n; i < TEMPORAL_KEEP; i++)
                r[i] = KB_TIME_NONE;
            seen += n > 0;
            total += n;
        }
        *first = g->newest;
        for (uint32_t in = 0; in < t->ninputs; in++) {
            int64_t *r = a + in * TEMPORAL_KEEP;
            if (r[0] != KB_TIME_NONE && r[0] < *first)
                *first = r[0];
        }
        if (t->type == KB_CT_TEMPORAL_ORDERED) {
            /* the longest chain in `rules` order, earliest choice first */
            for (uint32_t in = 0; in < t->ninputs; in++) {
                int64_t *r = a + in * TEMPORAL_KEEP, pick = KB_TIME_NONE;
                for (uint32_t i = 0; i < TEMPORAL_KEEP && r[i] != KB_TIME_NONE; i++)
                    if (r[i] >= prev) {
                        pick = r[i];
                        break;
                    }
                if (pick == KB_TIME_NONE)
                    break;
                prev = pick;
                len++;
            }
            v = len;
        } else {
            v = seen;
        }
        g->n = (uint32_t)total;
        *records = total;
        break;
    }
    default: { /* value_sum, value_avg, value_percentile */
        ts_val *a = (ts_val *)p;
        const kb_str *x = &vals[tg->vpos];
        double num, sum = 0;
        uint32_t k = 0, i;
        if (!x->p || sigma_number(x->p, x->len, &num)) {
            c->st.missing_value++;
            return 0;
        }
        while (k < g->n && a[k].ts < lo)
            k++;
        if (k) {
            memmove(a, a + k, (g->n - k) * sizeof *a);
            g->n -= k;
        }
        if (g->n == t->cap) {
            c->st.window_full++;
            if (ts <= a[0].ts)
                return 0;
            memmove(a, a + 1, (g->n - 1) * sizeof *a);
            g->n--;
        }
        i = g->n;
        while (i > 0 && a[i - 1].ts > ts) {
            a[i] = a[i - 1];
            i--;
        }
        a[i] = (ts_val){ts, num};
        g->n++;
        for (i = 0; i < g->n; i++)
            sum += a[i].v;
        if (t->type == KB_CT_VALUE_SUM) {
            v = sum;
        } else if (t->type == KB_CT_VALUE_AVG) {
            v = sum / g->n;
        } else {
            size_t rank;
            for (i = 0; i < g->n; i++)
                c->scratch[i] = a[i].v;
            qsort(c->scratch, g->n, sizeof *c->scratch, cmp_double);
            rank = (size_t)(cr->pct / 100.0 * g->n + 0.999999999);
            v = c->scratch[rank ? rank - 1 : 0];
        }
        *first = a[0].ts;
        *records = g->n;
        break;
    }
    }
    *value = v;
    return cond_ok(cr, v);
}

/* ---- pushing ------------------------------------------------------------- */

static void fire(kb_correl *c, ctable *t, const target *tg, uint32_t s, const kb_str *vals,
                 const char *host, double value, int64_t first, uint64_t records)
{
    const kb_correl_rule *cr = t->cr;
    gslot *g = &t->slots[s];
    kb_correl_alert a;

    c->st.fired++;
    c->emitted++;
    kb_buf_clear(&c->group);
    for (uint32_t i = 0; i < t->ngroup; i++) {
        const kb_str *v = &vals[tg->gpos[i]];
        if (i)
            kb_buf_putc(&c->group, ' ');
        kb_buf_puts(&c->group, cr->group[i]);
        kb_buf_putc(&c->group, '=');
        if (v->p)
            kb_buf_append(&c->group, v->p, v->len > 512 ? 512 : v->len);
        else
            kb_buf_puts(&c->group, "(none)");
    }
    kb_buf_putc(&c->group, '\0');
    memset(&a, 0, sizeof a);
    a.rule = cr;
    a.meta = &cr->meta;
    a.type = t->type;
    a.ts = g->newest;
    a.first_ts = first;
    a.records = records;
    a.value = value;
    a.group = c->group.data ? c->group.data : "";
    a.host = host;
    a.hidden = t->hidden;
    if (c->fn)
        c->fn(c->ud, &a);
    if (t->out >= 0) { /* an input of other correlations */
        qrec *q;
        if (c->qn == QUEUE_CAP) {
            c->st.queue_full++;
        } else {
            q = &c->q[c->qn];
            q->src = (uint32_t)t->out;
            q->ts = g->newest;
            q->host = host;
            q->nv = t->ngroup;
            q->vals = kb_arena_alloc(c->qarena, (t->ngroup ? t->ngroup : 1) * sizeof *q->vals);
            if (!q->vals) {
                c->st.queue_full++;
            } else {
                for (uint32_t i = 0; i < t->ngroup; i++) {
                    const kb_str *v = &vals[tg->gpos[i]];
                    q->vals[i].p = v->p ? kb_arena_strndup(c->qarena, v->p, v->len) : NULL;
                    q->vals[i].len = v->len;
                    if (v->p && !q->vals[i].p)
                        q->vals[i].len = 0;
                }
                c->qn++;
            }
        }
    }
    clear_payload(t, s);
}

static void deliver(kb_correl *c, const source *src, int64_t ts, const char *host,
                    const kb_str *vals)
{
    for (uint32_t k = 0; k < src->nt; k++) {
        const target *tg = &src->t[k];
        ctable *t = &c->t[tg->table];
        uint64_t h1, h2, records = 0;
        uint32_t s;
        double value = 0;
        int64_t first = ts;

        hash_vals(vals, tg->gpos, t->ngroup, &h1, &h2);
        if ((s = group_get(c, t, h1, h2, ts)) == NIL)
            continue;
        if (t->head != s) {
            lru_unlink(t, s);
            lru_front(t, s);
        }
        if (window_add(c, t, s, tg, ts, vals, &value, &first, &records))
            fire(c, t, tg, s, vals, host, value, first, records);
        else
            expire(c, t);
    }
}

int kb_correl_push_values(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                          const kb_str *vals, size_t n)
{
    int32_t si;
    c->st.records++;
    if ((si = base_source(c, r)) < 0) {
        c->st.unrouted++;
        return 0;
    }
    if (n != c->src[si].nf)
        return KB_EINVAL;
    if (ts == KB_TIME_NONE) {
        c->st.untimed++;
        return 0;
    }
    if (c->maxts == KB_TIME_NONE || ts > c->maxts)
        c->maxts = ts;
    else if (ts < c->maxts - c->o.lateness) {
        c->st.late++;
        return 0;
    }
    c->emitted = 0;
    c->qn = 0;
    kb_arena_clear(c->qarena);
    deliver(c, &c->src[si], ts, host, vals);
    /* nested correlations: breadth first from the bounded queue */
    for (uint32_t qi = 0; qi < c->qn; qi++) {
        qrec q = c->q[qi];
        deliver(c, &c->src[q.src], q.ts, q.host, q.vals);
    }
    return c->emitted;
}

/* The field a group-by or value name reads: the canonical slot, else a
 * field of that very name (a canonical name the decoder did not map), the
 * first element standing for an array. */
static const kb_field *event_value(const kb_event *ev, kb_fid id)
{
    const kb_field *f;
    int i;
    if (id == KB_FID_NONE)
        return NULL;
    if (!(f = kb_event_get(ev, id)) && (i = kb_event_find(ev, id)) >= 0)
        f = &ev->fields[i];
    if (f && f->type == KB_V_ARRAY)
        f = kb_event_next(ev, id, f);
    return f;
}

int kb_correl_push(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                   const kb_event *ev)
{
    int32_t si = base_source(c, r);
    const source *s;
    if (si < 0) {
        c->st.records++;
        c->st.unrouted++;
        return 0;
    }
    s = &c->src[si];
    for (uint32_t i = 0; i < s->nf; i++) {
        const kb_field *f = event_value(ev, s->fids[i]);
        if (f && f->type != KB_V_NULL && f->type != KB_V_ARRAY)
            c->vals[i] = (kb_str){f->val, f->len};
        else
            c->vals[i] = (kb_str){NULL, 0};
    }
    return kb_correl_push_values(c, r, ts, host, c->vals, s->nf);
}

int kb_correl_pack(const kb_correl *c, const kb_rule *r, const kb_event *ev, kb_buf *out)
{
    int32_t si = c ? base_source(c, r) : -1;
    const source *s;
    if (si < 0)
        return KB_OK;
    s = &c->src[si];
    for (uint32_t i = 0; i < s->nf; i++) {
        const kb_field *f = event_value(ev, s->fids[i]);
        uint32_t len = UINT32_MAX;
        if (f && f->type != KB_V_NULL && f->type != KB_V_ARRAY)
            len = f->len > 65535 ? 65535 : f->len;
        if (kb_buf_append(out, &len, sizeof len))
            return KB_ENOMEM;
        if (len != UINT32_MAX && kb_buf_append(out, f->val, len))
            return KB_ENOMEM;
    }
    return KB_OK;
}

int kb_correl_push_packed(kb_correl *c, const kb_rule *r, int64_t ts, const char *host,
                          const void *blob, size_t len)
{
    int32_t si = base_source(c, r);
    const char *p = blob, *end = p + len;
    const source *s;
    if (si < 0) {
        c->st.records++;
        c->st.unrouted++;
        return 0;
    }
    s = &c->src[si];
    for (uint32_t i = 0; i < s->nf; i++) {
        uint32_t n;
        if ((size_t)(end - p) < sizeof n)
            return KB_EPARSE;
        memcpy(&n, p, sizeof n);
        p += sizeof n;
        if (n == UINT32_MAX) {
            c->vals[i] = (kb_str){NULL, 0};
            continue;
        }
        if ((size_t)(end - p) < n)
            return KB_EPARSE;
        c->vals[i] = (kb_str){p, n};
        p += n;
    }
    if (p != end)
        return KB_EPARSE;
    return kb_correl_push_values(c, r, ts, host, c->vals, s->nf);
}

size_t kb_correl_flush(kb_correl *c)
{
    size_t n = 0;
    if (!c)
        return 0;
    for (uint32_t i = 0; i < c->nt; i++) {
        ctable *t = &c->t[i];
        while (t->tail != NIL) {
            slot_free(c, t, t->tail);
            n++;
        }
    }
    c->maxts = KB_TIME_NONE;
    return n;
}

void kb_correl_stats_get(const kb_correl *c, kb_correl_stats *st)
{
    size_t mem = sizeof *c + MAX_SOURCE_FIELDS * sizeof(kb_str) + c->o.max_window * sizeof(double);
    *st = c->st;
    for (uint32_t i = 0; i < c->nt; i++) {
        const ctable *t = &c->t[i];
        mem += (size_t)t->nalloc * (sizeof(gslot) + t->psize);
        mem += t->idx ? ((size_t)t->imask + 1) * sizeof(uint32_t) : 0;
    }
    st->memory = mem;
}
