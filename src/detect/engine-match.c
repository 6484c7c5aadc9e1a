/* Match time of the fast Sigma matcher (engine-int.h says where each part is). */

#include "detect/engine-int.h"

/* ---- helpers ----------------------------------------------------------- */

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
    s->dnext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->dnext);
    s->anext = calloc(KB_EVENT_MAX_FIELDS, sizeof *s->anext);
    s->routes = calloc(ROUTE_MAX, sizeof *s->routes);
    s->route_hash = malloc(ROUTE_HASH * sizeof *s->route_hash);
    if (!s->pst || !s->gstamp || !s->rstamp || !s->trig || !s->slot_gen ||
        !s->dhead || !s->ahead || !s->present || !s->mark ||
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
                    if (sigma_eq_nospace(name, len, e->slots[si].name))
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

/* The one-byte literals of set x in the instance: memchr for each (and
 * for its upper case when folded). */
static void scan_ones(const kb_engine *e, kb_engine_scratch *s, const esub *x)
{
    const unsigned char *p = (const unsigned char *)s->inst;
    size_t n = s->inst_len;
    for (size_t k = 0; k < x->nones; k++) {
        const eone *o = &x->ones[k];
        if (memchr(p, o->c, n) || (o->fold && o->c != upper(o->c) && memchr(p, upper(o->c), n)))
            uid_hit(e, s, o->uid);
    }
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
    scan_ones(e, s, x);
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
            const eedge *ed;
            if (i == f->len) {
                for (uint32_t k = 0; k < n->nex; k++)
                    trie_hit(s, &e->thot[n->off + n->npre + k]);
                break;
            }
            if (!(ed = trie_edge(e, node, lower(p[i++]))))
                break;
            if (ed->lab) {
                /* the label: the bytes of the folded nodes */
                const unsigned char *lb = e->tlab + (ed->lab >> 8);
                uint32_t ll = ed->lab & LAB_MAX, k = 0;
                if (ll > f->len - i)
                    break;
                while (k < ll && lower(p[i + k]) == lb[k])
                    k++;
                if (k < ll)
                    break;
                i += ll;
            }
            node = ed->child;
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
            const eedge *ed;
            if (i == 0)
                break;
            if (!(ed = trie_edge(e, node, lower(p[--i]))))
                break;
            if (ed->lab) {
                const unsigned char *lb = e->tlab + (ed->lab >> 8);
                uint32_t ll = ed->lab & LAB_MAX, k = 0;
                if (ll > i)
                    break;
                while (k < ll && lower(p[i - 1 - k]) == lb[k])
                    k++;
                if (k < ll)
                    break;
                i -= ll;
            }
            node = ed->child;
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
