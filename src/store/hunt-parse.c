/* Hunt language: tokenizer and recursive-descent parser. Recursion is
 * bounded by KB_HUNT_MAX_DEPTH (parentheses and `not` count), nodes by
 * KB_HUNT_MAX_NODES, the query by KB_HUNT_MAX_LEN. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/hunt-int.h"

enum tok { T_EOF, T_LP, T_RP, T_PIPE, T_COLON, T_OP, T_COMMA, T_WORD, T_STRING, T_BAD };

typedef struct token {
    int t;
    int op;        /* HOP_* for T_OP */
    size_t pos, end;
    kb_str s;      /* word text (slice) or unescaped string (arena) */
} token;

typedef struct pstate {
    kb_hunt *h;
    size_t cur;
    int depth;
    kb_hunt_error *err;
    int failed;
} pstate;

static int fail(pstate *ps, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(pstate *ps, size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (ps->failed)
        return -1;
    ps->failed = 1;
    ps->err->pos = pos;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_word(char c, int value_mode)
{
    if (is_space(c) || c == '(' || c == ')' || c == '|' || c == '"')
        return 0;
    if (value_mode)
        return 1;
    return c != ':' && c != ',' && c != '<' && c != '>' && c != '=';
}

/* Reads the token at ps->cur without consuming it. */
static token peek(pstate *ps, int value_mode)
{
    const char *q = ps->h->q;
    size_t n = ps->h->qlen, i = ps->cur;
    token t = {0};

    while (i < n && is_space(q[i]))
        i++;
    t.pos = i;
    if (i >= n) {
        t.t = T_EOF;
        t.end = i;
        return t;
    }
    switch (q[i]) {
    case '(':
        t.t = T_LP;
        t.end = i + 1;
        return t;
    case ')':
        t.t = T_RP;
        t.end = i + 1;
        return t;
    case '|':
        t.t = T_PIPE;
        t.end = i + 1;
        return t;
    }
    if (!value_mode) {
        if (q[i] == ':' || q[i] == ',') {
            t.t = q[i] == ':' ? T_COLON : T_COMMA;
            t.end = i + 1;
            return t;
        }
        if (q[i] == '<' || q[i] == '>' || q[i] == '=') {
            int eq = i + 1 < n && q[i + 1] == '=';
            t.t = T_OP;
            t.op = q[i] == '<' ? (eq ? HOP_LE : HOP_LT) : q[i] == '>' ? (eq ? HOP_GE : HOP_GT)
                                                                      : HOP_EQ;
            t.end = i + 1 + (size_t)(eq && q[i] != '=');
            if (q[i] == '=' && eq)
                t.end = i + 2;
            return t;
        }
    }
    if (q[i] == '"') {
        /* Quoted: \" and \\ escapes; unescaped into the arena. */
        size_t j = i + 1, k = 0, e;
        char *out;
        while (j < n && q[j] != '"')
            j += q[j] == '\\' && j + 1 < n ? 2 : 1;
        if (j >= n) {
            t.t = T_BAD;
            t.end = n;
            return t;
        }
        e = j;
        if (!(out = kb_arena_alloc(ps->h->arena, e - i))) {
            t.t = T_BAD;
            t.end = n;
            return t;
        }
        for (j = i + 1; j < e; j++) {
            if (q[j] == '\\' && j + 1 < e)
                j++;
            out[k++] = q[j];
        }
        out[k] = 0;
        j = e;
        t.t = T_STRING;
        t.s = (kb_str){out, k};
        t.end = j + 1;
        return t;
    }
    {
        size_t j = i;
        while (j < n && is_word(q[j], value_mode))
            j++;
        if (j == i) {
            t.t = T_BAD;
            t.end = i + 1;
            return t;
        }
        t.t = T_WORD;
        t.s = (kb_str){q + i, j - i};
        t.end = j;
    }
    return t;
}

static token take(pstate *ps, int value_mode)
{
    token t = peek(ps, value_mode);
    ps->cur = t.end;
    return t;
}

static const char *describe(const token *t)
{
    switch (t->t) {
    case T_EOF:
        return "the end of the query";
    case T_LP:
        return "'('";
    case T_RP:
        return "')'";
    case T_PIPE:
        return "'|'";
    case T_COLON:
        return "':'";
    case T_OP:
        return "a comparison";
    case T_COMMA:
        return "','";
    case T_STRING:
        return "a quoted value";
    case T_BAD:
        return "an unterminated quote or a stray character";
    default:
        return "a word";
    }
}

static int is_kw(const token *t, const char *kw)
{
    return t->t == T_WORD && kb_str_ieqz(t->s.p, t->s.len, kw);
}

static int new_node(pstate *ps, int type, size_t pos)
{
    kb_hunt *h = ps->h;
    hnode *n;
    if (h->nnodes >= KB_HUNT_MAX_NODES)
        return fail(ps, pos, "the query has too many terms (at most %d)", KB_HUNT_MAX_NODES);
    n = &h->nodes[h->nnodes];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->a = n->b = -1;
    n->pos = pos;
    return h->nnodes++;
}

static int parse_or(pstate *ps);

static int parse_term(pstate *ps)
{
    token t = take(ps, 0), v;
    int id;

    if (t.t == T_STRING) {
        if ((id = new_node(ps, HN_TERM, t.pos)) < 0)
            return -1;
        ps->h->nodes[id].op = HOP_TEXT;
        ps->h->nodes[id].value = t.s;
        ps->h->nodes[id].quoted = 1;
        ps->h->nodes[id].vpos = t.pos;
        ps->h->nodes[id].end = t.end;
        return id;
    }
    if (t.t != T_WORD)
        return fail(ps, t.pos, "expected a field, a value, '(' or 'not', found %s", describe(&t));
    if (is_kw(&t, "and") || is_kw(&t, "or"))
        return fail(ps, t.pos, "expected a field, a value, '(' or 'not' before '%.*s'",
                    (int)t.s.len, t.s.p);
    {
        token nx = peek(ps, 0);
        if ((id = new_node(ps, HN_TERM, t.pos)) < 0)
            return -1;
        if (nx.t != T_COLON && nx.t != T_OP) {
            /* A bare word: free text. */
            ps->h->nodes[id].op = HOP_TEXT;
            ps->h->nodes[id].value = t.s;
            ps->h->nodes[id].vpos = t.pos;
            ps->h->nodes[id].end = t.end;
            return id;
        }
        ps->cur = nx.end;
        ps->h->nodes[id].field = t.s;
        ps->h->nodes[id].op = nx.t == T_COLON ? HOP_EQ : nx.op;
        v = take(ps, 1);
        if (v.t != T_WORD && v.t != T_STRING)
            return fail(ps, v.pos, "expected a value after '%.*s', found %s",
                        (int)(nx.end - nx.pos), ps->h->q + nx.pos, describe(&v));
        ps->h->nodes[id].value = v.s;
        ps->h->nodes[id].quoted = v.t == T_STRING;
        ps->h->nodes[id].vpos = v.pos;
        ps->h->nodes[id].end = v.end;
        return id;
    }
}

static int parse_unary(pstate *ps)
{
    token t = peek(ps, 0);
    int id, sub;

    if (is_kw(&t, "not") || t.t == T_LP) {
        if (++ps->depth > KB_HUNT_MAX_DEPTH)
            return fail(ps, t.pos, "the query nests deeper than %d levels", KB_HUNT_MAX_DEPTH);
        ps->cur = t.end;
        if (t.t == T_LP) {
            token r;
            if ((sub = parse_or(ps)) < 0)
                return -1;
            r = take(ps, 0);
            if (r.t != T_RP)
                return fail(ps, r.pos, "expected 'and', 'or' or ')' to close the '(' at %zu,"
                                       " found %s",
                            t.pos + 1, describe(&r));
            ps->depth--;
            return sub;
        }
        if ((sub = parse_unary(ps)) < 0)
            return -1;
        ps->depth--;
        if ((id = new_node(ps, HN_NOT, t.pos)) < 0)
            return -1;
        ps->h->nodes[id].a = sub;
        return id;
    }
    return parse_term(ps);
}

static int parse_and(pstate *ps)
{
    int left = parse_unary(ps);
    while (left >= 0) {
        token t = peek(ps, 0);
        int right, id;
        if (!is_kw(&t, "and"))
            break;
        ps->cur = t.end;
        if ((right = parse_unary(ps)) < 0 || (id = new_node(ps, HN_AND, t.pos)) < 0)
            return -1;
        ps->h->nodes[id].a = left;
        ps->h->nodes[id].b = right;
        left = id;
    }
    return left;
}

static int parse_or(pstate *ps)
{
    int left = parse_and(ps);
    while (left >= 0) {
        token t = peek(ps, 0);
        int right, id;
        if (!is_kw(&t, "or"))
            break;
        ps->cur = t.end;
        if ((right = parse_and(ps)) < 0 || (id = new_node(ps, HN_OR, t.pos)) < 0)
            return -1;
        ps->h->nodes[id].a = left;
        ps->h->nodes[id].b = right;
        left = id;
    }
    return left;
}

/* ---- pipes ---------------------------------------------------------------- */

static char *title_of(pstate *ps, const char *agg, kb_str f)
{
    size_t n = strlen(agg) + f.len + 3;
    char *t = kb_arena_alloc(ps->h->arena, n);
    if (!t)
        return NULL;
    if (f.len)
        snprintf(t, n, "%s(%.*s)", agg, (int)f.len, f.p);
    else
        snprintf(t, n, "%s", agg);
    return t;
}

/* A comma-separated list of fields into cols. */
static int field_list(pstate *ps, hcol *cols, int *ncols, const char *what)
{
    for (;;) {
        token t = take(ps, 0);
        if (t.t != T_WORD)
            return fail(ps, t.pos, "expected a field name %s, found %s", what, describe(&t));
        if (*ncols >= KB_HUNT_MAX_COLS)
            return fail(ps, t.pos, "too many fields (at most %d)", KB_HUNT_MAX_COLS);
        cols[*ncols].field = t.s;
        cols[*ncols].agg = -1;
        cols[*ncols].pos = t.pos;
        if (!(cols[*ncols].title = kb_arena_strndup(ps->h->arena, t.s.p, t.s.len)))
            return fail(ps, t.pos, "out of memory");
        (*ncols)++;
        if (peek(ps, 0).t != T_COMMA)
            return 0;
        ps->cur = peek(ps, 0).end;
    }
}

static int parse_stats(pstate *ps, size_t pos)
{
    kb_hunt *h = ps->h;
    static const char *const aggs[] = {"count", "min", "max", "dc"};
    if (h->has_stats || h->has_fields)
        return fail(ps, pos, "only one 'stats' or 'fields' per query");
    h->has_stats = 1;
    for (;;) {
        token t = take(ps, 0), lp, f = {0}, rp;
        int a = -1;
        for (int i = 0; i < 4; i++)
            if (is_kw(&t, aggs[i]))
                a = i;
        if (a < 0)
            return fail(ps, t.pos, "expected count(), min(FIELD), max(FIELD) or dc(FIELD),"
                                   " found %s",
                        describe(&t));
        lp = take(ps, 0);
        if (lp.t != T_LP)
            return fail(ps, lp.pos, "expected '(' after '%s'", aggs[a]);
        if (a != AGG_COUNT) {
            f = take(ps, 0);
            if (f.t != T_WORD)
                return fail(ps, f.pos, "expected a field name in %s()", aggs[a]);
        }
        rp = take(ps, 0);
        if (rp.t != T_RP)
            return fail(ps, rp.pos, "expected ')' after %s(%s", aggs[a],
                        a == AGG_COUNT ? "" : "FIELD");
        if (h->ncols >= KB_HUNT_MAX_COLS)
            return fail(ps, t.pos, "too many aggregates");
        h->cols[h->ncols].agg = a;
        h->cols[h->ncols].field = f.s;
        h->cols[h->ncols].pos = a == AGG_COUNT ? t.pos : f.pos;
        if (!(h->cols[h->ncols].title = title_of(ps, aggs[a], f.s)))
            return fail(ps, t.pos, "out of memory");
        h->ncols++;
        t = peek(ps, 0);
        if (t.t == T_COMMA) {
            ps->cur = t.end;
            continue;
        }
        if (is_kw(&t, "by")) {
            ps->cur = t.end;
            return field_list(ps, h->by, &h->nby, "after 'by'");
        }
        return 0;
    }
}

static int parse_sort(pstate *ps)
{
    kb_hunt *h = ps->h;
    for (;;) {
        token t = take(ps, 0);
        hsort *s;
        if (t.t != T_WORD)
            return fail(ps, t.pos, "expected a field to sort by (prefix '-' for descending),"
                                   " found %s",
                        describe(&t));
        if (h->nsorts >= 8)
            return fail(ps, t.pos, "too many sort keys (at most 8)");
        s = &h->sorts[h->nsorts++];
        s->pos = t.pos;
        s->key = t.s;
        if (t.s.len && (t.s.p[0] == '-' || t.s.p[0] == '+')) {
            s->desc = t.s.p[0] == '-';
            s->key.p++;
            s->key.len--;
            s->pos++;
        }
        if (!s->key.len)
            return fail(ps, t.pos, "expected a field after '%c'", t.s.p[0]);
        if (peek(ps, 0).t != T_COMMA)
            return 0;
        ps->cur = peek(ps, 0).end;
    }
}

static int parse_pipe(pstate *ps)
{
    token t = take(ps, 0);
    kb_hunt *h = ps->h;

    if (is_kw(&t, "stats"))
        return parse_stats(ps, t.pos);
    if (is_kw(&t, "sort"))
        return parse_sort(ps);
    if (is_kw(&t, "fields")) {
        if (h->has_stats || h->has_fields)
            return fail(ps, t.pos, "only one 'stats' or 'fields' per query");
        h->has_fields = 1;
        return field_list(ps, h->cols, &h->ncols, "after 'fields'");
    }
    if (is_kw(&t, "head") || is_kw(&t, "limit")) {
        token n = peek(ps, 0);
        int64_t v = 10;
        if (n.t == T_WORD) {
            if (kb_parse_i64(n.s.p, n.s.len, &v) != KB_OK || v < 0)
                return fail(ps, n.pos, "expected a row count after 'head', found '%.*s'",
                            (int)n.s.len, n.s.p);
            ps->cur = n.end;
        }
        if (h->head < 0 || v < h->head)
            h->head = v;
        return 0;
    }
    if (t.t == T_WORD)
        return fail(ps, t.pos, "unknown command '%.*s' after '|'; expected stats, sort, head"
                               " or fields",
                    (int)t.s.len, t.s.p);
    return fail(ps, t.pos, "expected stats, sort, head or fields after '|', found %s",
                describe(&t));
}

kb_hunt *kb_hunt_parse(const char *q, size_t len, int64_t now, kb_hunt_error *err)
{
    kb_hunt *h;
    pstate ps = {0};
    token t;

    memset(err, 0, sizeof *err);
    if (len > KB_HUNT_MAX_LEN) {
        err->pos = KB_HUNT_MAX_LEN;
        snprintf(err->msg, sizeof err->msg, "the query is longer than %d bytes", KB_HUNT_MAX_LEN);
        return NULL;
    }
    if (!(h = kb_calloc(1, sizeof *h)) || !(h->q = kb_strndup(q, len)) ||
        !(h->arena = kb_arena_new(4096, 8 * KB_HUNT_MAX_LEN + 65536))) {
        kb_hunt_free(h);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    h->qlen = len;
    h->now = now;
    h->root = -1;
    h->head = -1;
    h->pipes = len;
    ps.h = h;
    ps.err = err;
    t = peek(&ps, 0);
    if (t.t != T_EOF && t.t != T_PIPE && (h->root = parse_or(&ps)) < 0)
        goto fail;
    for (;;) {
        t = take(&ps, 0);
        if (t.t == T_EOF)
            break;
        if (t.t == T_PIPE && h->pipes == len)
            h->pipes = t.pos;
        if (t.t != T_PIPE) {
            fail(&ps, t.pos,
                 ps.h->root >= 0 ? "expected 'and', 'or', '|' or the end of the query, found %s"
                                 : "expected a query or '|', found %s",
                 t.t == T_RP ? "')' without its '('" : describe(&t));
            goto fail;
        }
        if (parse_pipe(&ps) < 0)
            goto fail;
    }
    return h;
fail:
    kb_hunt_free(h);
    return NULL;
}

void kb_hunt_free(kb_hunt *h)
{
    if (!h)
        return;
    kb_arena_free(h->arena);
    kb_free(h->q);
    kb_free(h);
}

/* ---- times -------------------------------------------------------------- */

int kb_hunt_duration(const char *s, size_t len, int64_t *out)
{
    int64_t n, unit;
    if (len < 2)
        return KB_EPARSE;
    switch (s[len - 1]) {
    case 's':
        unit = KB_NS_PER_SEC;
        break;
    case 'm':
        unit = 60 * KB_NS_PER_SEC;
        break;
    case 'h':
        unit = 3600 * KB_NS_PER_SEC;
        break;
    case 'd':
        unit = 86400 * KB_NS_PER_SEC;
        break;
    case 'w':
        unit = 7 * 86400 * KB_NS_PER_SEC;
        break;
    default:
        return KB_EPARSE;
    }
    /* at most what int64 nanoseconds hold (about 292 years) */
    if (kb_parse_i64(s, len - 1, &n) != KB_OK || n < 0 || n > INT64_MAX / unit)
        return KB_EPARSE;
    *out = n * unit;
    return KB_OK;
}

int kb_hunt_time(const char *s, size_t len, int64_t now, int64_t *out)
{
    int64_t d;
    if (kb_str_eqz(s, len, "now")) {
        *out = now;
        return KB_OK;
    }
    if (len > 4 && memcmp(s, "now-", 4) == 0) {
        if (kb_hunt_duration(s + 4, len - 4, &d))
            return KB_EPARSE;
        *out = now - d;
        return KB_OK;
    }
    if (kb_hunt_duration(s, len, &d) == KB_OK) {
        *out = now - d;
        return KB_OK;
    }
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        char buf[32];
        memcpy(buf, s, 10);
        memcpy(buf + 10, "T00:00:00Z", 10);
        return kb_time_parse_iso8601(buf, 20, out);
    }
    if (kb_time_parse_iso8601(s, len, out) == KB_OK)
        return KB_OK;
    return kb_time_parse_epoch(s, len, out);
}

int kb_hunt_distance(const char *a, size_t alen, const char *b, size_t blen, int max)
{
    int row[130];
    if (alen > 128 || blen > 128)
        return max + 1;
    for (size_t j = 0; j <= blen; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= alen; i++) {
        int prev = row[0], best;
        row[0] = (int)i;
        best = row[0];
        for (size_t j = 1; j <= blen; j++) {
            int cur = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = prev + cost;
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
            if (v < best)
                best = v;
        }
        if (best > max)
            return max + 1;
    }
    return row[blen] > max ? max + 1 : row[blen];
}

int kb_hunt_limit_default(kb_hunt *h, int64_t n)
{
    if (!h || h->has_stats || h->head >= 0 || n <= 0)
        return 0;
    h->head = n;
    return 1;
}
