/* Hunt queries with unknown values: the rule that takes their terms out.
 *
 * A playbook writes its hunts as templates (`host.name:{{incident.host}}`);
 * when the incident does not know a value, the term that compares with it
 * can decide nothing. Kept as `file.name:""` it would silently restrict the
 * hunt (nothing has an empty file name) or, as free text, widen it to every
 * record (every record contains ""). The rule, on the parse tree:
 *
 *   - an unknown term is dropped;
 *   - an `or` keeps its other branches;
 *   - a `not` over something dropped is dropped with it: an exclusion that
 *     cannot be decided excludes nothing, and the `and` around it keeps the
 *     rest;
 *   - an `and` that loses a condition (not an exclusion) is dropped as a
 *     whole: its other operands alone would match more than it asks for;
 *   - when nothing of the filter is left, the query is not rewritten: the
 *     caller must not run it (it would match everything).
 *
 * Inside, a subtree is KEEP (something is left), NEEDED (dropped, and it was
 * a condition the enclosing `and` needs) or NEUTRAL (dropped, an exclusion:
 * the enclosing `and` does without it). Recursion follows the tree, whose
 * size the parser caps at KB_HUNT_MAX_NODES (as the SQL compiler's does). */
#include <string.h>

#include "store/hunt-int.h"

enum { KEEP, NEEDED, NEUTRAL };

static int decide(const kb_hunt *h, int id, const unsigned char *unknown, unsigned char *st)
{
    const hnode *n = &h->nodes[id];
    int a, b, r;

    switch (n->type) {
    case HN_TERM:
        r = unknown[id] ? NEEDED : KEEP;
        break;
    case HN_NOT:
        r = decide(h, n->a, unknown, st) == KEEP ? KEEP : NEUTRAL;
        break;
    case HN_AND:
        a = decide(h, n->a, unknown, st);
        b = decide(h, n->b, unknown, st);
        r = a == NEEDED || b == NEEDED ? NEEDED : a == KEEP || b == KEEP ? KEEP : NEUTRAL;
        break;
    default: /* HN_OR */
        a = decide(h, n->a, unknown, st);
        b = decide(h, n->b, unknown, st);
        r = a == KEEP || b == KEEP ? KEEP : a == NEEDED || b == NEEDED ? NEEDED : NEUTRAL;
        break;
    }
    st[id] = (unsigned char)r;
    return r;
}

/* The node that prints for id: an `and` / `or` that kept one side is that
 * side. */
static int effective(const kb_hunt *h, const unsigned char *st, int id)
{
    for (;;) {
        const hnode *n = &h->nodes[id];
        if ((n->type != HN_AND && n->type != HN_OR) || (st[n->a] == KEEP && st[n->b] == KEEP))
            return id;
        id = st[n->a] == KEEP ? n->a : n->b;
    }
}

static int put_node(const kb_hunt *h, const unsigned char *st, int id, kb_buf *out);

/* A child, in parentheses when it binds more loosely than its parent
 * (`or` under `and`, `and` / `or` under `not`). */
static int put_child(const kb_hunt *h, const unsigned char *st, int id, int parent, kb_buf *out)
{
    int t = h->nodes[effective(h, st, id)].type;
    int paren =
        (parent == HN_AND && t == HN_OR) || (parent == HN_NOT && (t == HN_AND || t == HN_OR));
    int rc = 0;
    if (paren)
        rc |= kb_buf_putc(out, '(');
    rc |= put_node(h, st, id, out);
    if (paren)
        rc |= kb_buf_putc(out, ')');
    return rc;
}

static int put_node(const kb_hunt *h, const unsigned char *st, int id, kb_buf *out)
{
    const hnode *n = &h->nodes[effective(h, st, id)];
    switch (n->type) {
    case HN_TERM:
        return kb_buf_append(out, h->q + n->pos, n->end - n->pos);
    case HN_NOT:
        return kb_buf_puts(out, "not ") || put_child(h, st, n->a, HN_NOT, out);
    default:
        return put_child(h, st, n->a, n->type, out) ||
               kb_buf_puts(out, n->type == HN_AND ? " and " : " or ") ||
               put_child(h, st, n->b, n->type, out);
    }
}

int kb_hunt_drop_unknown(const kb_hunt *h, const size_t *at, size_t n, kb_buf *out, size_t *matched)
{
    unsigned char unknown[KB_HUNT_MAX_NODES] = {0}, st[KB_HUNT_MAX_NODES];
    size_t used = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < h->nnodes; k++)
            if (h->nodes[k].type == HN_TERM && h->nodes[k].vpos == at[i]) {
                unknown[k] = 1;
                used++;
                break;
            }
    if (matched)
        *matched = used;
    if (h->root >= 0 && decide(h, h->root, unknown, st) != KEEP)
        return KB_ENOENT;
    if (h->root >= 0)
        rc |= put_node(h, st, h->root, out);
    if (h->pipes < h->qlen) {
        if (h->root >= 0)
            rc |= kb_buf_putc(out, ' ');
        rc |= kb_buf_append(out, h->q + h->pipes, h->qlen - h->pipes);
    }
    if (!out->data)
        rc |= kb_buf_puts(out, "");
    return rc ? KB_ELIMIT : KB_OK;
}
