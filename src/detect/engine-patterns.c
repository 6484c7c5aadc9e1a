/* Compile time of the fast Sigma matcher, patterns (engine-int.h says where
 * each part is): a value's Hyperscan expression and its longest literal run,
 * and what a regex tells of the literals every match needs. */

#include "detect/engine-int.h"


void engine_put_byte(kb_buf *b, unsigned c)
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
int engine_value_pattern(const kb_sigma_val *v, kb_buf *b, int *confirm)
{
    kb_buf_clear(b);
    *confirm = 0;
    if (v->lit) {
        if (v->litlen == 0)
            return 0;
        if (v->anchor == 0 || v->anchor == 1)
            kb_buf_puts(b, "\\A");
        for (size_t i = 0; i < v->litlen; i++)
            engine_put_byte(b, (unsigned char)v->lit[i]);
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
                engine_put_byte(b, t);
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
size_t engine_value_key(const kb_sigma_val *v, size_t *off)
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

/* The literal runs every match of a regex contains, in order and without
 * overlap (a conservative reading of the PCRE2 syntax at the top level:
 * alternation there, or anything unusual, gives no information): into rc,
 * lower-cased when the match may ignore case (*fold set). Returns 1, or 0
 * for no information. Under caseless UTF matching `k` and `s` also match
 * U+212A and U+017F, so they end a run there; bytes >= 0x80 end a run (a
 * quantifier would apply to the whole character). */
int engine_regex_runs(const char *re, size_t len, int caseless, rxcoll *rc, int *fold)
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
size_t engine_regex_key(const char *re, size_t len, int caseless, char *out, size_t cap,
                        int *fold)
{
    rxcoll c;
    size_t best = 0;
    memset(&c, 0, sizeof c);
    if (!engine_regex_runs(re, len, caseless, &c, fold))
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
int engine_regex_prefilter_ok(const char *re, size_t len, uint64_t mods)
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

