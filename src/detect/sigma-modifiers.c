/* Sigma value modifiers: the table, and compiling one detection item
 * ("Field|mod|mod": values) into a kb_sigma_pred.
 *
 * Each modifier is one row: its name, its class (how it combines with the
 * others), for value transformations the function that rewrites the values,
 * and its doc. The order of a chain matters only among transformations
 * (`wide|base64offset` encodes UTF-16 first); the position modifiers
 * (contains/startswith/endswith) wrap the final value, so `base64offset|
 * contains` means "contains one of the three encodings". */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml.h"
#include "detect/sigma-int.h"

#define MAX_VALUES 65536   /* values of one item after expansion */
#define MAX_TOKENS (1u << 20)
#define MAX_EXPAND 4096    /* alternatives from one value's placeholders */

/* A value being compiled: pattern tokens plus flags. */
typedef struct tv {
    uint16_t *tok;
    size_t n, alloc;
    uint32_t group, ord;
    uint8_t never, isnull, is_int;
    int64_t ival;
} tv;

typedef struct cstate {
    kb_ruleset *rs;
    kb_sigma_pred *p;
    tv *v;
    size_t n, alloc;
    const char **err;
} cstate;

enum mclass { M_POS, M_FLAG, M_REFLAG, M_XFORM, M_TYPE, M_TIME, M_CMP };

typedef struct modrow {
    const char *name;
    int bit;
    int cls;
    int (*xform)(cstate *cs);
    const char *doc;
} modrow;

/* ---- token vectors ----------------------------------------------------- */

static int tv_push(tv *v, uint16_t t)
{
    if (v->n == v->alloc) {
        size_t na = v->alloc ? v->alloc * 2 : 32;
        uint16_t *nt;
        if (na > MAX_TOKENS)
            return KB_ELIMIT;
        nt = kb_realloc(v->tok, na * sizeof(*nt));
        if (!nt)
            return KB_ENOMEM;
        v->tok = nt;
        v->alloc = na;
    }
    v->tok[v->n++] = t;
    return KB_OK;
}

static tv *cs_add(cstate *cs, uint32_t group)
{
    tv *v;
    if (cs->n == cs->alloc) {
        size_t na = cs->alloc ? cs->alloc * 2 : 8;
        tv *nv;
        if (na > MAX_VALUES) {
            *cs->err = "too many values after expansion";
            return NULL;
        }
        nv = kb_realloc(cs->v, na * sizeof(*nv));
        if (!nv) {
            *cs->err = "out of memory";
            return NULL;
        }
        cs->v = nv;
        cs->alloc = na;
    }
    v = &cs->v[cs->n++];
    memset(v, 0, sizeof(*v));
    v->group = group;
    return v;
}

static void cs_release(cstate *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        kb_free(cs->v[i].tok);
    kb_free(cs->v);
    cs->v = NULL;
    cs->n = cs->alloc = 0;
}

static int has_special(const tv *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->tok[i] > 255)
            return 1;
    return 0;
}

/* Sigma string to tokens: `*` and `?` are wildcards; a backslash escapes
 * `*`, `?` and itself, and is literal before anything else. */
static int parse_sigma_string(tv *v, const char *s, size_t len)
{
    int rc = KB_OK;
    for (size_t i = 0; i < len && !rc; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
                rc = tv_push(v, (unsigned char)s[++i]);
            } else {
                rc = tv_push(v, '\\');
            }
        } else if (c == '*') {
            rc = tv_push(v, KB_SIGMA_TOK_STAR);
        } else if (c == '?') {
            rc = tv_push(v, KB_SIGMA_TOK_QMARK);
        } else {
            rc = tv_push(v, (unsigned char)c);
        }
    }
    return rc;
}

/* Replaces each value's tokens by the transformation f of its literal bytes
 * (wildcards refused). f appends the outputs of one input as new values in
 * the same group; used by base64 and base64offset. */
static int literal_bytes(cstate *cs, const tv *v, kb_buf *b)
{
    if (has_special(v)) {
        *cs->err = "base64 modifiers cannot encode wildcards or windash";
        return KB_EPARSE;
    }
    kb_buf_clear(b);
    for (size_t i = 0; i < v->n; i++)
        if (kb_buf_putc(b, (char)v->tok[i]))
            return KB_ENOMEM;
    return KB_OK;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(tv *v, const unsigned char *s, size_t len, size_t from, size_t to)
{
    /* Encodes s and keeps output characters [from, to). */
    size_t k = 0;
    int rc = KB_OK;
    for (size_t i = 0; i < len && !rc; i += 3) {
        unsigned a = s[i], b = i + 1 < len ? s[i + 1] : 0, c = i + 2 < len ? s[i + 2] : 0;
        char out[4];
        out[0] = B64[a >> 2];
        out[1] = B64[((a & 3) << 4) | (b >> 4)];
        out[2] = i + 1 < len ? B64[((b & 15) << 2) | (c >> 6)] : '=';
        out[3] = i + 2 < len ? B64[c & 63] : '=';
        for (int j = 0; j < 4 && !rc; j++, k++)
            if (k >= from && k < to)
                rc = tv_push(v, (unsigned char)out[j]);
    }
    return rc;
}

static int x_base64(cstate *cs)
{
    kb_buf b;
    int rc = KB_OK;
    kb_buf_init(&b, 0);
    for (size_t i = 0; i < cs->n && !rc; i++) {
        tv *v = &cs->v[i];
        if (v->never || v->isnull)
            continue;
        if ((rc = literal_bytes(cs, v, &b)))
            break;
        v->n = 0;
        rc = b64_encode(v, (const unsigned char *)b.data, b.len, 0, SIZE_MAX);
    }
    kb_buf_release(&b);
    return rc;
}

/* The three encodings of a value at offsets 0, 1, 2 within a base64 stream,
 * cut to the characters that do not depend on the neighbours (pySigma's
 * base64offset). */
static int x_base64offset(cstate *cs)
{
    static const size_t start[3] = {0, 2, 3};
    kb_buf b, pad;
    size_t n0 = cs->n;
    int rc = KB_OK;

    kb_buf_init(&b, 0);
    kb_buf_init(&pad, 0);
    for (size_t i = 0; i < n0 && !rc; i++) {
        tv *v = &cs->v[i];
        uint32_t group = v->group;
        if (v->never || v->isnull)
            continue;
        if ((rc = literal_bytes(cs, v, &b)))
            break;
        for (size_t k = 0; k < 3 && !rc; k++) {
            size_t len = b.len + k, enclen = (len + 2) / 3 * 4, end;
            static const size_t endcut[3] = {0, 3, 2};
            tv *w;
            kb_buf_clear(&pad);
            if (kb_buf_append(&pad, "  ", k) || kb_buf_append(&pad, b.data, b.len)) {
                rc = KB_ENOMEM;
                break;
            }
            end = enclen - endcut[(b.len + k) % 3];
            if (k == 0) {
                w = &cs->v[i];
                w->n = 0;
            } else {
                if (!(w = cs_add(cs, group))) {
                    rc = KB_ELIMIT;
                    break;
                }
                v = &cs->v[i]; /* cs_add may move the array */
            }
            if (end <= start[k]) {
                w->never = 1; /* too short to give a stable fragment */
                continue;
            }
            rc = b64_encode(w, (const unsigned char *)pad.data, pad.len, start[k], end);
        }
    }
    kb_buf_release(&b);
    kb_buf_release(&pad);
    return rc;
}

/* UTF-16 encodings keep wildcards as they are and encode the literal runs
 * (UTF-8 decoded; an invalid byte counts as U+00xx). */
static int utf16(cstate *cs, int be, int bom)
{
    for (size_t i = 0; i < cs->n; i++) {
        tv *v = &cs->v[i], out;
        size_t j = 0;
        int rc = KB_OK;
        if (v->never || v->isnull)
            continue;
        memset(&out, 0, sizeof(out));
        if (bom) {
            rc = be ? tv_push(&out, 0xFE) : tv_push(&out, 0xFF);
            if (!rc)
                rc = be ? tv_push(&out, 0xFF) : tv_push(&out, 0xFE);
        }
        while (j < v->n && !rc) {
            uint32_t cp;
            uint16_t t = v->tok[j];
            if (t == KB_SIGMA_TOK_DASH) {
                *cs->err = "utf16 encodings cannot follow windash";
                kb_free(out.tok);
                return KB_EPARSE;
            }
            if (t > 255) {
                rc = tv_push(&out, t);
                j++;
                continue;
            }
            /* decode one UTF-8 sequence from literal tokens */
            {
                unsigned char c = (unsigned char)t;
                size_t need = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
                size_t k;
                cp = c;
                if (need == 9) {
                    need = 0;
                } else if (need) {
                    cp = c & (0x3F >> need);
                    for (k = 1; k <= need; k++) {
                        if (j + k >= v->n || v->tok[j + k] > 255 || (v->tok[j + k] & 0xC0) != 0x80)
                            break;
                        cp = (cp << 6) | (v->tok[j + k] & 0x3F);
                    }
                    if (k <= need) { /* invalid: take the byte alone */
                        cp = c;
                        need = 0;
                    }
                }
                j += need + 1;
            }
            {
                uint16_t units[2];
                int nu = 1;
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    units[0] = (uint16_t)(0xD800 | (cp >> 10));
                    units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
                    nu = 2;
                } else {
                    units[0] = (uint16_t)cp;
                }
                for (int u = 0; u < nu && !rc; u++) {
                    uint8_t hi = (uint8_t)(units[u] >> 8), lo = (uint8_t)(units[u] & 0xFF);
                    rc = tv_push(&out, be ? hi : lo);
                    if (!rc)
                        rc = tv_push(&out, be ? lo : hi);
                }
            }
        }
        if (rc) {
            kb_free(out.tok);
            return rc;
        }
        kb_free(v->tok);
        v->tok = out.tok;
        v->n = out.n;
        v->alloc = out.alloc;
    }
    return KB_OK;
}

static int x_utf16le(cstate *cs) { return utf16(cs, 0, 0); }
static int x_utf16be(cstate *cs) { return utf16(cs, 1, 0); }
static int x_utf16(cstate *cs) { return utf16(cs, 0, 1); }

static int is_word(uint16_t t)
{
    return t < 256 && ((t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') ||
                       (t >= '0' && t <= '9') || t == '_');
}

/* windash: a '-' or '/' that starts a word (pySigma's \B[-/]\b) becomes a
 * token matching any of - / en dash, em dash, horizontal bar. */
static int x_windash(cstate *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        tv *v = &cs->v[i];
        for (size_t j = 0; j < v->n; j++) {
            if (v->tok[j] != '-' && v->tok[j] != '/')
                continue;
            if (j > 0 && is_word(v->tok[j - 1]))
                continue;
            if (j + 1 >= v->n || !is_word(v->tok[j + 1]))
                continue;
            v->tok[j] = KB_SIGMA_TOK_DASH;
        }
    }
    return KB_OK;
}

/* expand works on the text before wildcard parsing: see add_string_value. */
static int x_none(cstate *cs)
{
    (void)cs;
    return KB_OK;
}

static const modrow MODS[] = {
    {"contains", KB_SM_CONTAINS_BIT, M_POS, NULL, "the value appears anywhere in the field"},
    {"startswith", KB_SM_STARTSWITH_BIT, M_POS, NULL, "the field starts with the value"},
    {"endswith", KB_SM_ENDSWITH_BIT, M_POS, NULL, "the field ends with the value"},
    {"all", KB_SM_ALL_BIT, M_FLAG, NULL, "all values of the list must match (AND instead of OR)"},
    {"exists", KB_SM_EXISTS_BIT, M_TYPE, NULL, "true: the field is present; false: absent"},
    {"cased", KB_SM_CASED_BIT, M_FLAG, NULL, "compare case-sensitively"},
    {"neq", KB_SM_NEQ_BIT, M_FLAG, NULL, "the field is not equal to any of the values"},
    {"windash", KB_SM_WINDASH_BIT, M_XFORM, x_windash,
     "a '-' or '/' starting a word also matches '/', '-', en dash, em dash, horizontal bar"},
    {"re", KB_SM_RE_BIT, M_TYPE, NULL, "PCRE2 regular expression, searched in the field"},
    {"i", KB_SM_RE_I_BIT, M_REFLAG, NULL, "re: case-insensitive"},
    {"m", KB_SM_RE_M_BIT, M_REFLAG, NULL, "re: ^ and $ match at line breaks"},
    {"s", KB_SM_RE_S_BIT, M_REFLAG, NULL, "re: dot matches line breaks"},
    {"base64", KB_SM_BASE64_BIT, M_XFORM, x_base64, "the value base64-encoded"},
    {"base64offset", KB_SM_BASE64OFFSET_BIT, M_XFORM, x_base64offset,
     "the value base64-encoded at each of the three offsets within a longer text"},
    {"utf16le", KB_SM_UTF16LE_BIT, M_XFORM, x_utf16le, "the value encoded as UTF-16LE"},
    {"utf16be", KB_SM_UTF16BE_BIT, M_XFORM, x_utf16be, "the value encoded as UTF-16BE"},
    {"utf16", KB_SM_UTF16_BIT, M_XFORM, x_utf16, "the value encoded as UTF-16LE with a BOM"},
    {"wide", KB_SM_WIDE_BIT, M_XFORM, x_utf16le, "alias of utf16le"},
    {"lt", KB_SM_LT_BIT, M_CMP, NULL, "the field is a number less than the value"},
    {"lte", KB_SM_LTE_BIT, M_CMP, NULL, "the field is a number less than or equal to the value"},
    {"gt", KB_SM_GT_BIT, M_CMP, NULL, "the field is a number greater than the value"},
    {"gte", KB_SM_GTE_BIT, M_CMP, NULL, "the field is a number greater than or equal to the value"},
    {"minute", KB_SM_MINUTE_BIT, M_TIME, NULL, "the minute (0-59) of the field's date-time"},
    {"hour", KB_SM_HOUR_BIT, M_TIME, NULL, "the hour (0-23) of the field's date-time"},
    {"day", KB_SM_DAY_BIT, M_TIME, NULL, "the day of month (1-31) of the field's date-time"},
    {"week", KB_SM_WEEK_BIT, M_TIME, NULL, "the ISO week (1-53) of the field's date-time"},
    {"month", KB_SM_MONTH_BIT, M_TIME, NULL, "the month (1-12) of the field's date-time"},
    {"year", KB_SM_YEAR_BIT, M_TIME, NULL, "the year of the field's date-time"},
    {"cidr", KB_SM_CIDR_BIT, M_TYPE, NULL, "the field is an IPv4/IPv6 address in the network"},
    {"expand", KB_SM_EXPAND_BIT, M_XFORM, x_none,
     "%name% placeholders replaced by the values of the placeholder file"},
    {"fieldref", KB_SM_FIELDREF_BIT, M_TYPE, NULL,
     "the value names another field; compare with that field's value"},
};

static kb_sigma_mod_info mod_info[sizeof(MODS) / sizeof(MODS[0])];
static pthread_once_t mod_info_once = PTHREAD_ONCE_INIT;

static void mod_info_init(void)
{
    for (size_t i = 0; i < sizeof(MODS) / sizeof(MODS[0]); i++) {
        mod_info[i].name = MODS[i].name;
        mod_info[i].doc = MODS[i].doc;
    }
}

const kb_sigma_mod_info *kb_sigma_modifiers(size_t *n)
{
    pthread_once(&mod_info_once, mod_info_init);
    *n = sizeof(MODS) / sizeof(MODS[0]);
    return mod_info;
}

static const modrow *find_mod(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(MODS) / sizeof(MODS[0]); i++)
        if (kb_str_eqz(s, len, MODS[i].name))
            return &MODS[i];
    return NULL;
}

/* ---- value gathering --------------------------------------------------- */

static const placeholder *find_ph(const kb_ruleset *rs, const char *s, size_t len)
{
    for (size_t i = 0; i < rs->nph; i++)
        if (kb_str_eqz(s, len, rs->ph[i].name))
            return &rs->ph[i];
    return NULL;
}

/* Adds the Sigma string s as one value (group g), or with expand, one value
 * per combination of placeholder values. */
static int add_string_value(cstate *cs, const char *s, size_t len, int expand, uint32_t g)
{
    kb_buf cur;
    int rc = KB_OK;
    /* Iterative cartesian expansion: a work list of partially expanded
     * strings, each with the offset where scanning resumes. */
    typedef struct item {
        char *s;
        size_t len, from;
    } item;
    item *work = NULL;
    size_t nw = 0, aw = 0, produced = 0;

    if (!expand) {
        tv *v = cs_add(cs, g);
        if (!v)
            return KB_ELIMIT;
        return parse_sigma_string(v, s, len);
    }
    kb_buf_init(&cur, 0);
    work = kb_malloc(sizeof(*work) * 16);
    if (!work)
        return KB_ENOMEM;
    aw = 16;
    work[0].s = kb_strndup(s, len);
    work[0].len = len;
    work[0].from = 0;
    if (!work[0].s) {
        kb_free(work);
        return KB_ENOMEM;
    }
    nw = 1;
    while (nw > 0 && !rc) {
        item it = work[--nw];
        const char *a = NULL, *b = NULL;
        for (size_t i = it.from; i < it.len; i++) {
            if (it.s[i] == '%') {
                const char *e = memchr(it.s + i + 1, '%', it.len - i - 1);
                if (e && e > it.s + i + 1) {
                    a = it.s + i;
                    b = e;
                    break;
                }
            }
        }
        if (!a) {
            tv *v = cs_add(cs, g);
            if (!v)
                rc = KB_ELIMIT;
            else
                rc = parse_sigma_string(v, it.s, it.len);
            kb_free(it.s);
            continue;
        }
        {
            const placeholder *ph = find_ph(cs->rs, a + 1, (size_t)(b - a - 1));
            if (!ph || ph->n == 0) {
                tv *v = cs_add(cs, g);
                if (!v)
                    rc = KB_ELIMIT;
                else
                    v->never = 1;
                kb_free(it.s);
                continue;
            }
            for (size_t k = 0; k < ph->n && !rc; k++) {
                size_t pre = (size_t)(a - it.s), vl = strlen(ph->vals[k]);
                if (++produced > MAX_EXPAND) {
                    *cs->err = "expand: too many placeholder combinations";
                    rc = KB_ELIMIT;
                    break;
                }
                kb_buf_clear(&cur);
                if (kb_buf_append(&cur, it.s, pre) || kb_buf_append(&cur, ph->vals[k], vl) ||
                    kb_buf_append(&cur, b + 1, it.len - pre - (size_t)(b + 1 - a))) {
                    rc = KB_ENOMEM;
                    break;
                }
                if (nw == aw) {
                    item *nwk = kb_realloc(work, aw * 2 * sizeof(*work));
                    if (!nwk) {
                        rc = KB_ENOMEM;
                        break;
                    }
                    work = nwk;
                    aw *= 2;
                }
                work[nw].s = kb_strndup(cur.data, cur.len);
                work[nw].len = cur.len;
                work[nw].from = pre + vl;
                if (!work[nw].s) {
                    rc = KB_ENOMEM;
                    break;
                }
                nw++;
            }
            kb_free(it.s);
        }
    }
    while (nw > 0)
        kb_free(work[--nw].s);
    kb_free(work);
    kb_buf_release(&cur);
    return rc;
}

/* ---- compiling an item ------------------------------------------------- */

static void *arena_copy(kb_arena *a, const void *p, size_t n)
{
    void *d = kb_arena_alloc(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* A Sigma `re` value only asks whether the subject matches, and a regex
 * matches the same subjects whether its `.*` are greedy or lazy. Greedy
 * `.*` between literals backtrack through the whole subject once per
 * literal (SigmaHQ's `\+.*\+.*\+...` takes millions of steps on a
 * PowerShell line with thirty `+`, and may reach the match limit on
 * longer ones), lazy ones stop at the next occurrence. Into out (at least
 * 2 * len + 1 bytes): re with every top-level `.*` that is neither lazy
 * nor possessive made lazy, when it has at least two of them and nothing
 * whose meaning depends on which match is found (backreferences, atomic
 * groups, verbs, conditionals, callouts, \Q quoting, extended mode).
 * Returns the new length, or 0 to keep re as it is. */
static size_t lazy_dotstar(const char *re, size_t len, char *out)
{
    size_t o = 0, n = 0;
    int depth = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (re[i] == '\\') {
            char c = re[i + 1];
            if ((c >= '1' && c <= '9') || c == 'g' || c == 'k' || c == 'Q' || c == 'K')
                return 0;
            i++;
        } else if (re[i] == '(' && (re[i + 1] == '?' || re[i + 1] == '*')) {
            if (re[i + 1] == '*')
                return 0;
            for (size_t j = i + 2; j < len && re[j] != ')' && re[j] != ':'; j++)
                if (strchr(">(Cx|PR&0123456789+-", re[j]))
                    return 0;
        }
    }
    for (size_t i = 0; i < len; i++) {
        char c = re[i];
        out[o++] = c;
        if (c == '\\') {
            if (i + 1 < len)
                out[o++] = re[++i];
            continue;
        }
        if (c == '[') {
            /* copy the class through its closing bracket */
            size_t j = i + 1;
            if (j < len && re[j] == '^')
                j++;
            if (j < len && re[j] == ']')
                j++;
            while (j < len && re[j] != ']') {
                if (re[j] == '\\')
                    j++;
                else if (re[j] == '[' && j + 1 < len && strchr(":.=", re[j + 1]))
                    return 0;
                j++;
            }
            if (j >= len)
                return 0;
            memcpy(out + o, re + i + 1, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        else if (c == '.' && depth == 0 && i + 1 < len && re[i + 1] == '*' &&
                 (i + 2 >= len || (re[i + 2] != '?' && re[i + 2] != '+'))) {
            out[o++] = '*';
            out[o++] = '?';
            i++;
            n++;
        }
    }
    return n >= 2 ? o : 0;
}

/* Keeps code (freed with the ruleset) and its source (a list in rs->arena,
 * for engines that prefilter regexes: sigma_re_source). */
static int register_re(kb_ruleset *rs, void *code, const char *src, size_t len)
{
    sigma_re_src *rsrc = kb_arena_alloc(rs->arena, sizeof(*rsrc));
    const char *copy = arena_copy(rs->arena, src, len);
    if (!rsrc || !copy)
        return KB_ENOMEM;
    if (kb_grow((void **)&rs->res, &rs->ares, rs->nres + 1, sizeof *rs->res, 64))
        return KB_ENOMEM;
    rsrc->code = code;
    rsrc->src = copy;
    rsrc->len = len;
    rsrc->next = rs->re_srcs;
    rs->re_srcs = rsrc;
    rs->res[rs->nres++] = code;
    return KB_OK;
}

const char *sigma_re_source(const kb_ruleset *rs, const void *code, size_t *len)
{
    for (const sigma_re_src *r = rs->re_srcs; r; r = r->next)
        if (r->code == code) {
            *len = r->len;
            return r->src;
        }
    return NULL;
}

static int parse_cidr(const char *s, size_t len, kb_sigma_val *v)
{
    char buf[64];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    uint64_t bits;

    if (alen >= sizeof(buf))
        return KB_EPARSE;
    memcpy(buf, s, alen);
    buf[alen] = 0;
    memset(v->net, 0, sizeof(v->net));
    if (inet_pton(AF_INET, buf, v->net) == 1) {
        v->family = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, buf, v->net) == 1) {
        v->family = 6;
        bits = 128;
    } else {
        return KB_EPARSE;
    }
    if (slash) {
        uint64_t pb;
        if (kb_parse_u64(slash + 1, len - alen - 1, &pb) || pb > bits)
            return KB_EPARSE;
        bits = pb;
    }
    v->prefix = (uint8_t)bits;
    /* clear host bits so matching can compare whole bytes */
    for (size_t b = bits; b < 128; b++)
        v->net[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    return KB_OK;
}

static int parse_number(const char *s, size_t len, double *out)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof(buf))
        return KB_EPARSE;
    if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+' || s[0] == '.'))
        return KB_EPARSE;
    memcpy(buf, s, len);
    buf[len] = 0;
    *out = strtod(buf, &end);
    return *end == 0 ? KB_OK : KB_EPARSE;
}

int sigma_number(const char *s, size_t len, double *out)
{
    return parse_number(s, len, out);
}

/* The scalar values of an item: one scalar or a list of scalars. */
static int gather_scalars(const kb_yaml_node *val, const kb_yaml_node ***out, size_t *n,
                          const kb_yaml_node **one, const char **err)
{
    if (val->kind == KB_YAML_SCALAR) {
        *one = val;
        *out = one;
        *n = 1;
        return KB_OK;
    }
    if (val->kind == KB_YAML_SEQ) {
        for (size_t i = 0; i < val->n; i++)
            if (val->items[i]->kind != KB_YAML_SCALAR) {
                *err = "a value list may only hold scalars";
                return KB_EPARSE;
            }
        if (val->n == 0) {
            *err = "empty value list";
            return KB_EPARSE;
        }
        *out = (const kb_yaml_node **)val->items;
        *n = val->n;
        return KB_OK;
    }
    *err = "a field value must be a scalar or a list of scalars";
    return KB_EPARSE;
}

static int by_group(const void *x, const void *y)
{
    const tv *a = x, *b = y;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int finish_str_values(cstate *cs, int pos_bit, int cased)
{
    kb_sigma_pred *p = cs->p;
    kb_arena *a = cs->rs->arena;

    /* keep each group's values together for `all` (stable: ord) */
    for (size_t i = 0; i < cs->n; i++)
        cs->v[i].ord = (uint32_t)i;
    if (cs->n > 1)
        qsort(cs->v, cs->n, sizeof(*cs->v), by_group);

    p->vals = kb_arena_alloc(a, (cs->n ? cs->n : 1) * sizeof(*p->vals));
    if (!p->vals)
        return KB_ENOMEM;
    memset(p->vals, 0, (cs->n ? cs->n : 1) * sizeof(*p->vals));
    p->nvals = (uint32_t)cs->n;
    for (size_t i = 0; i < cs->n; i++) {
        tv *v = &cs->v[i];
        kb_sigma_val *o = &p->vals[i];
        size_t lo, hi;
        int rc;

        o->group = v->group;
        o->never = v->never;
        o->isnull = v->isnull;
        o->is_int = v->is_int;
        o->ival = v->ival;
        o->ref = KB_FID_NONE;
        if (v->never || v->isnull)
            continue;
        if (pos_bit == KB_SM_CONTAINS_BIT || pos_bit == KB_SM_ENDSWITH_BIT) {
            if ((rc = tv_push(v, 0)))
                return rc;
            memmove(v->tok + 1, v->tok, (v->n - 1) * sizeof(*v->tok));
            v->tok[0] = KB_SIGMA_TOK_STAR;
        }
        if (pos_bit == KB_SM_CONTAINS_BIT || pos_bit == KB_SM_STARTSWITH_BIT)
            if ((rc = tv_push(v, KB_SIGMA_TOK_STAR)))
                return rc;
        if (!cased)
            for (size_t j = 0; j < v->n; j++)
                if (v->tok[j] >= 'A' && v->tok[j] <= 'Z')
                    v->tok[j] = (uint16_t)(v->tok[j] + 32);
        /* collapse runs of stars */
        {
            size_t w = 0;
            for (size_t j = 0; j < v->n; j++) {
                if (v->tok[j] == KB_SIGMA_TOK_STAR && w > 0 && v->tok[w - 1] == KB_SIGMA_TOK_STAR)
                    continue;
                v->tok[w++] = v->tok[j];
            }
            v->n = w;
        }
        o->tok = arena_copy(a, v->tok, v->n * sizeof(*v->tok));
        if (!o->tok)
            return KB_ENOMEM;
        o->ntok = (uint32_t)v->n;
        /* literal fast path */
        lo = 0;
        hi = v->n;
        if (hi > 0 && v->tok[0] == KB_SIGMA_TOK_STAR)
            lo = 1;
        if (hi > lo && v->tok[hi - 1] == KB_SIGMA_TOK_STAR)
            hi--;
        {
            int special = 0;
            for (size_t j = lo; j < hi; j++)
                if (v->tok[j] > 255)
                    special = 1;
            if (!special && !(v->n == 1 && v->tok[0] == KB_SIGMA_TOK_STAR)) {
                char *lit = kb_arena_alloc(a, hi - lo + 1);
                if (!lit)
                    return KB_ENOMEM;
                for (size_t j = lo; j < hi; j++)
                    lit[j - lo] = (char)v->tok[j];
                lit[hi - lo] = 0;
                o->lit = lit;
                o->litlen = hi - lo;
                o->anchor = (uint8_t)((lo ? 2 : 0) | (hi < v->n ? 1 : 0));
            }
        }
    }
    return KB_OK;
}

static int compile_values(cstate *cs, const kb_yaml_node *val, uint64_t mods, int pos_bit,
                          const modrow **chain, size_t nchain)
{
    kb_sigma_pred *p = cs->p;
    kb_ruleset *rs = cs->rs;
    const kb_yaml_node **vals, *one;
    size_t nv;
    int rc;

    if ((rc = gather_scalars(val, &vals, &nv, &one, cs->err)))
        return rc;

    if (p->kind == KB_SP_EXISTS) {
        int b;
        if (nv != 1 || !kb_yaml_bool(vals[0], &b)) {
            *cs->err = "exists takes true or false";
            return KB_EPARSE;
        }
        p->vals = kb_arena_alloc(rs->arena, sizeof(*p->vals));
        if (!p->vals)
            return KB_ENOMEM;
        memset(p->vals, 0, sizeof(*p->vals));
        p->vals[0].want = (uint8_t)b;
        p->nvals = 1;
        return KB_OK;
    }
    p->vals = kb_arena_alloc(rs->arena, nv * sizeof(*p->vals));
    if (!p->vals)
        return KB_ENOMEM;
    memset(p->vals, 0, nv * sizeof(*p->vals));

    if (p->kind != KB_SP_STR) {
        p->nvals = (uint32_t)nv;
        for (size_t i = 0; i < nv; i++) {
            kb_sigma_val *o = &p->vals[i];
            const kb_yaml_node *n = vals[i];
            o->group = (uint32_t)i;
            o->ref = KB_FID_NONE;
            if (kb_yaml_is_null(n)) {
                *cs->err = "null is not a valid value for this modifier";
                return KB_EPARSE;
            }
            switch (p->kind) {
            case KB_SP_RE: {
                uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
                int ec;
                PCRE2_SIZE eo;
                pcre2_code *code;
                if (mods & KB_SM(RE_I))
                    opts |= PCRE2_CASELESS;
                if (mods & KB_SM(RE_M))
                    opts |= PCRE2_MULTILINE;
                if (mods & KB_SM(RE_S))
                    opts |= PCRE2_DOTALL;
                {
                    char lazy[1024];
                    size_t ll =
                        n->len * 2 + 1 <= sizeof lazy ? lazy_dotstar(n->str, n->len, lazy) : 0;
                    code = ll ? pcre2_compile((PCRE2_SPTR)lazy, ll, opts, &ec, &eo, NULL) : NULL;
                    if (!code)
                        code = pcre2_compile((PCRE2_SPTR)n->str, n->len, opts, &ec, &eo, NULL);
                }
                if (!code) {
                    *cs->err = "invalid regular expression";
                    return KB_EPARSE;
                }
                pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
                if ((rc = register_re(rs, code, n->str, n->len))) {
                    pcre2_code_free(code);
                    return rc;
                }
                o->re = code;
                break;
            }
            case KB_SP_CIDR:
                if (parse_cidr(n->str, n->len, o)) {
                    *cs->err = "invalid CIDR network";
                    return KB_EPARSE;
                }
                break;
            case KB_SP_NUM:
                if (parse_number(n->str, n->len, &o->num)) {
                    *cs->err = "comparison modifiers need a number";
                    return KB_EPARSE;
                }
                break;
            case KB_SP_FIELDREF:
                o->ref = kb_names_intern(rs->names, n->str, n->len);
                if (o->ref == KB_FID_NONE) {
                    *cs->err = "field name table full";
                    return KB_ELIMIT;
                }
                o->lit = kb_arena_strndup(rs->arena, n->str, n->len);
                if (!o->lit)
                    return KB_ENOMEM;
                o->litlen = n->len;
                break;
            default:
                break;
            }
        }
        return KB_OK;
    }

    /* String patterns. */
    for (size_t i = 0; i < nv; i++) {
        const kb_yaml_node *n = vals[i];
        int b;
        if (kb_yaml_is_null(n)) {
            tv *v;
            if (pos_bit >= 0 || nchain) {
                *cs->err = "null cannot take modifiers";
                return KB_EPARSE;
            }
            if (!(v = cs_add(cs, (uint32_t)i)))
                return KB_ELIMIT;
            v->isnull = 1;
            continue;
        }
        if ((rc = add_string_value(cs, n->str, n->len, (mods & KB_SM(EXPAND)) != 0, (uint32_t)i)))
            return rc;
        if (pos_bit < 0 && nchain == 0 && kb_yaml_int(n, &cs->v[cs->n - 1].ival))
            cs->v[cs->n - 1].is_int = 1;
        (void)b;
    }
    for (size_t k = 0; k < nchain; k++)
        if (chain[k]->xform && (rc = chain[k]->xform(cs)))
            return rc;
    return finish_str_values(cs, pos_bit, p->cased);
}

static int compile_chain(cstate *cs, const char *key, size_t klen, const kb_yaml_node *val)
{
    kb_sigma_pred *p = cs->p;
    const char *bar = memchr(key, '|', klen);
    size_t flen = bar ? (size_t)(bar - key) : klen;
    const modrow *chain[32];
    size_t nchain = 0;
    int pos_bit = -1, ntype = 0, ntime = 0, ncmp = 0;
    uint64_t mods = 0;

    if (flen > 0) {
        p->field = kb_names_intern(cs->rs->names, key, flen);
        if (p->field == KB_FID_NONE) {
            *cs->err = "field name table full";
            return KB_ELIMIT;
        }
        p->field_name = kb_arena_strndup(cs->rs->arena, key, flen);
        if (!p->field_name)
            return KB_ENOMEM;
    } else {
        p->field = KB_FID_NONE;
    }
    /* parse modifiers */
    while (bar) {
        const char *s = bar + 1, *e = key + klen;
        const char *nb = memchr(s, '|', (size_t)(e - s));
        size_t mlen = nb ? (size_t)(nb - s) : (size_t)(e - s);
        const modrow *m = find_mod(s, mlen);
        bar = nb;
        if (!m) {
            *cs->err = "unknown modifier";
            return KB_EPARSE;
        }
        if (mods & (UINT64_C(1) << m->bit)) {
            *cs->err = "modifier repeated";
            return KB_EPARSE;
        }
        mods |= UINT64_C(1) << m->bit;
        switch (m->cls) {
        case M_POS:
            if (pos_bit >= 0) {
                *cs->err = "only one of contains/startswith/endswith";
                return KB_EPARSE;
            }
            pos_bit = m->bit;
            break;
        case M_XFORM:
            if (nchain >= sizeof(chain) / sizeof(chain[0])) {
                *cs->err = "too many modifiers";
                return KB_EPARSE;
            }
            chain[nchain++] = m;
            break;
        case M_TYPE:
            ntype++;
            break;
        case M_TIME:
            ntime++;
            p->timepart = (uint8_t)(m->bit + 1);
            break;
        case M_CMP:
            ncmp++;
            p->cmp = m->bit == KB_SM_LT_BIT    ? KB_SV_CMP_LT
                     : m->bit == KB_SM_LTE_BIT ? KB_SV_CMP_LTE
                     : m->bit == KB_SM_GT_BIT  ? KB_SV_CMP_GT
                                               : KB_SV_CMP_GTE;
            break;
        default:
            break;
        }
    }
    p->mods = mods;
    p->all = (mods & KB_SM(ALL)) != 0;
    p->cased = (mods & KB_SM(CASED)) != 0;
    p->neq = (mods & KB_SM(NEQ)) != 0;
    if (ntype > 1 || ntime > 1 || ncmp > 1 || (ntype && (ntime || ncmp))) {
        *cs->err = "incompatible modifiers";
        return KB_EPARSE;
    }
    if ((mods & (KB_SM(RE_I) | KB_SM(RE_M) | KB_SM(RE_S))) && !(mods & KB_SM(RE))) {
        *cs->err = "modifiers i, m, s only apply to re";
        return KB_EPARSE;
    }
    if (flen == 0 && (ntype || ntime || ncmp || p->neq)) {
        *cs->err = "keywords take only string modifiers";
        return KB_EPARSE;
    }
    if (ntype || ntime || ncmp) {
        int allowed_pos = (mods & KB_SM(FIELDREF)) != 0;
        if ((pos_bit >= 0 && !allowed_pos) || nchain) {
            *cs->err = "modifier cannot combine with string transformations";
            return KB_EPARSE;
        }
    }
    if (mods & KB_SM(EXISTS)) {
        if (mods & ~(KB_SM(EXISTS))) {
            *cs->err = "exists cannot combine with other modifiers";
            return KB_EPARSE;
        }
        p->kind = KB_SP_EXISTS;
    } else if (mods & KB_SM(RE)) {
        p->kind = KB_SP_RE;
    } else if (mods & KB_SM(CIDR)) {
        p->kind = KB_SP_CIDR;
    } else if (mods & KB_SM(FIELDREF)) {
        p->kind = KB_SP_FIELDREF;
    } else if (ntime || ncmp) {
        p->kind = KB_SP_NUM;
        if (!ncmp)
            p->cmp = KB_SV_CMP_EQ;
    } else {
        p->kind = KB_SP_STR;
    }
    /* A keyword without a position modifier searches for the value inside
     * the event's values. */
    if (flen == 0 && pos_bit < 0)
        pos_bit = KB_SM_CONTAINS_BIT;
    return compile_values(cs, val, mods, p->kind == KB_SP_STR ? pos_bit : -1, chain, nchain);
}

int sigma_compile_item(kb_ruleset *rs, const char *key, size_t klen,
                       const kb_yaml_node *val, kb_sigma_pred *p, const char **err)
{
    cstate cs;
    int rc;

    memset(p, 0, sizeof(*p));
    memset(&cs, 0, sizeof(cs));
    cs.rs = rs;
    cs.p = p;
    cs.err = err;
    *err = NULL;
    p->line = val->line;
    rc = compile_chain(&cs, key, klen, val);
    cs_release(&cs);
    if (rc && !*err)
        *err = rc == KB_ENOMEM ? "out of memory" : rc == KB_ELIMIT ? "value too large"
                                                                  : "invalid value";
    return rc;
}

int sigma_compile_keywords(kb_ruleset *rs, const kb_yaml_node *val, kb_sigma_pred *p,
                           const char **err)
{
    return sigma_compile_item(rs, "", 0, val, p, err);
}
