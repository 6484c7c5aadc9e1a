/* Compile time of the fast Sigma matcher, tries (engine-int.h says where
 * each part is): the case-insensitive anchored literals of each slot in a
 * prefix and a suffix trie, then path-compressed. */

#include "detect/engine-int.h"


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

int engine_in_trie(const kb_sigma_pred *p, const kb_sigma_val *v)
{
    size_t lo, hi;
    int anchor;
    if (!p->cased && v->lit && v->litlen > 0 && v->anchor <= 2 && !v->never)
        return 1;
    return trie_toks(p, v, &lo, &hi, &anchor);
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
    if (kb_grow((void **)&e->tn, &e->atn, e->ntn + 1, sizeof *e->tn, 16))
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

/* Path compression of the tries just built: a node without values and
 * with one child is folded into the edge that reaches it, and the edge's
 * label takes its byte. A walk then compares a label's bytes, consecutive
 * in memory, instead of looking up one edge per byte: a dependent load
 * each, mostly outside the cache (paths share long runs such as
 * "c:\windows\system32\"). The nodes kept are renumbered, their values
 * stay where they are in tvids. */
typedef struct rawedge {
    uint32_t parent, child;
    unsigned char c;
} rawedge;

static int cmp_rawedge(const void *a, const void *b)
{
    const rawedge *x = a, *y = b;
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    return (x->c > y->c) - (x->c < y->c);
}

static int trie_compact(kb_engine *e)
{
    size_t ne = 0, nn = 0, ncap = 1024, nlab = 0, alab = 0, nsp = 0;
    rawedge *re = malloc((e->nedges + 1) * sizeof *re);
    uint32_t *first = malloc((e->ntn + 1) * sizeof *first);
    uint32_t *nch = calloc(e->ntn + 1, sizeof *nch);
    uint32_t *nid = malloc((e->ntn + 1) * sizeof *nid);
    uint32_t *stack = malloc((e->ntn + 1) * sizeof *stack);
    trie_node *tn = malloc((e->ntn + 1) * sizeof *tn);
    unsigned char *lab = NULL;
    eedge *ed = NULL;
    int rc = KB_ENOMEM;

    if (!re || !first || !nch || !nid || !stack || !tn)
        goto out;
    for (size_t i = 0; i < e->ecap; i++)
        if (e->edges[i].key) {
            uint64_t k = e->edges[i].key - 1;
            re[ne].parent = (uint32_t)(k >> 8);
            re[ne].c = (unsigned char)(k & 0xff);
            re[ne].child = e->edges[i].child;
            ne++;
        }
    qsort(re, ne, sizeof *re, cmp_rawedge);
    for (size_t i = 0; i < e->ntn; i++) {
        first[i] = UINT32_MAX;
        nid[i] = NOSLOT;
    }
    for (size_t i = ne; i-- > 0;) {
        first[re[i].parent] = (uint32_t)i;
        nch[re[i].parent]++;
    }
    while (ncap < 2 * ne + 2)
        ncap *= 2;
    if (!(ed = calloc(ncap, sizeof *ed)))
        goto out;
    for (size_t xi = 0; xi < e->nsubs; xi++) {
        uint32_t *roots[2] = {&e->subs[xi].proot, &e->subs[xi].sroot};
        for (int r = 0; r < 2; r++) {
            if (*roots[r] == NOSLOT)
                continue;
            if (nid[*roots[r]] == NOSLOT) {
                nid[*roots[r]] = (uint32_t)nn;
                tn[nn++] = e->tn[*roots[r]];
                stack[nsp++] = *roots[r];
            }
            *roots[r] = nid[*roots[r]];
        }
    }
    while (nsp) {
        uint32_t n = stack[--nsp];
        for (uint32_t k = 0; k < nch[n]; k++) {
            const rawedge *r = &re[first[n] + k];
            uint32_t x = r->child, l0 = (uint32_t)nlab, len = 0;
            uint64_t key = ((uint64_t)nid[n] << 8 | r->c) + 1;
            size_t pos;
            while (e->tn[x].npre + e->tn[x].nex == 0 && nch[x] == 1 && len < LAB_MAX &&
                   nlab < (1u << 24) - 1) {
                if (kb_grow((void **)&lab, &alab, nlab + 1, 1, 16))
                    goto out;
                lab[nlab++] = re[first[x]].c;
                len++;
                x = re[first[x]].child;
            }
            if (nid[x] == NOSLOT) {
                nid[x] = (uint32_t)nn;
                tn[nn++] = e->tn[x];
                stack[nsp++] = x;
            }
            pos = edge_pos(key, ncap);
            while (ed[pos].key)
                pos = (pos + 1) & (ncap - 1);
            ed[pos].key = key;
            ed[pos].child = nid[x];
            ed[pos].lab = len ? l0 << 8 | len : 0;
        }
    }
    free(e->edges);
    free(e->tn);
    e->edges = ed;
    e->ecap = ncap;
    e->tn = tn;
    e->ntn = e->atn = nn;
    e->tlab = lab;
    e->ntlab = nlab;
    e->nedges = 0;
    for (size_t i = 0; i < ncap; i++)
        e->nedges += ed[i].key != 0;
    ed = NULL;
    tn = NULL;
    lab = NULL;
    rc = KB_OK;
out:
    free(re);
    free(first);
    free(nch);
    free(nid);
    free(stack);
    free(tn);
    free(ed);
    free(lab);
    return rc;
}

/* Builds every slot's tries from the trie values of its HS predicates. */
int engine_build_tries(kb_engine *e)
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
            if (!engine_in_trie(p, v))
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
                if (kb_grow((void **)&terms, &aterms, nterms + 1, sizeof *terms, 16))
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
    if (e->ntn && (rc = trie_compact(e)))
        goto out;
    goto out;
nomem:
    rc = KB_ENOMEM;
out:
    free(terms);
    return rc;
}

