/* STIX 2.1 bundles (and TAXII envelopes): indicator objects whose pattern
 * is a comparison, or an OR of comparisons, on a value koban can match.
 *
 * The pattern reader is a flat token loop, not a recursive descent: since
 * only OR may join comparisons and observations, parentheses and brackets
 * only have to balance (counted, capped) and every comparison is one
 * indicator. AND, FOLLOWEDBY, qualifiers and operators other than = and IN
 * make the whole pattern unusable; it is reported with the indicator id. */
#include <jansson.h>
#include <string.h>

#include "intel/intel-int.h"

typedef enum { T_END, T_LBRACK, T_RBRACK, T_LPAREN, T_RPAREN, T_WORD, T_STRING, T_OP,
               T_COMMA, T_BAD } tok_type;

typedef struct tok {
    tok_type t;
    const char *p;
    size_t len;
} tok;

typedef struct lexer {
    const char *s;
    size_t len, i;
} lexer;

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == ':' || c == '.' || c == '*' || c == '\'';
}

static tok next(lexer *l)
{
    tok t = {T_END, NULL, 0};
    while (l->i < l->len && (l->s[l->i] == ' ' || l->s[l->i] == '\t' || l->s[l->i] == '\n' ||
                             l->s[l->i] == '\r'))
        l->i++;
    if (l->i >= l->len)
        return t;
    const char *p = l->s + l->i;
    t.p = p;
    switch (*p) {
    case '[': t.t = T_LBRACK; t.len = 1; break;
    case ']': t.t = T_RBRACK; t.len = 1; break;
    case '(': t.t = T_LPAREN; t.len = 1; break;
    case ')': t.t = T_RPAREN; t.len = 1; break;
    case ',': t.t = T_COMMA; t.len = 1; break;
    case '=': t.t = T_OP; t.len = 1; break;
    case '!': case '<': case '>':
        t.t = T_OP;
        t.len = l->i + 1 < l->len && p[1] == '=' ? 2 : 1;
        break;
    default:
        if (*p == '\'' || ((*p == 't' || *p == 'h' || *p == 'b') && l->i + 1 < l->len &&
                             p[1] == '\'')) {
            /* string (or t'', h'', b'' typed literal: reported as such) */
            size_t j = l->i + (*p == '\'' ? 1 : 2);
            while (j < l->len && l->s[j] != '\'') {
                if (l->s[j] == '\\')
                    j++;
                j++;
            }
            if (j >= l->len) {
                t.t = T_BAD;
                t.len = l->len - l->i;
            } else {
                t.t = *p == '\'' ? T_STRING : T_BAD;
                t.len = j + 1 - l->i;
            }
            break;
        }
        if (!word_char(*p)) {
            t.t = T_BAD;
            t.len = 1;
            break;
        }
        /* an object path may contain quoted keys: file:hashes.'SHA-256' */
        {
            size_t j = l->i;
            int q = 0;
            while (j < l->len && (q || word_char(l->s[j]) || l->s[j] == '[' || l->s[j] == ']')) {
                if (l->s[j] == '\'')
                    q = !q;
                if (!q && l->s[j] == ']' && (j == l->i || l->s[j - 1] != '*'))
                    break;
                if (!q && l->s[j] == '[' && !(j + 2 < l->len && l->s[j + 1] == '*'))
                    break;
                j++;
            }
            t.t = T_WORD;
            t.len = j - l->i;
        }
    }
    l->i += t.len;
    return t;
}

static int tok_is(const tok *t, const char *w)
{
    return t->t == T_WORD && kb_str_eqz(t->p, t->len, w);
}

/* The indicator kind for an object path, or -1. */
static int path_kind(const char *p, size_t n)
{
    static const struct {
        const char *path;
        int kind;
    } map[] = {
        {"ipv4-addr:value", KB_IOC_IP},
        {"ipv6-addr:value", KB_IOC_IP},
        {"domain-name:value", KB_IOC_DOMAIN},
        {"url:value", KB_IOC_URL},
        {"email-addr:value", KB_IOC_EMAIL},
        {"email-message:from_ref.value", KB_IOC_EMAIL},
        {"email-message:sender_ref.value", KB_IOC_EMAIL},
        {"file:name", KB_IOC_FILENAME},
        {"file:hashes.'SHA-256'", KB_IOC_SHA256},
        {"file:hashes.SHA256", KB_IOC_SHA256},
        {"file:hashes.'SHA256'", KB_IOC_SHA256},
        {"file:hashes.'SHA-1'", KB_IOC_SHA1},
        {"file:hashes.SHA1", KB_IOC_SHA1},
        {"file:hashes.'SHA1'", KB_IOC_SHA1},
        {"file:hashes.MD5", KB_IOC_MD5},
        {"file:hashes.'MD5'", KB_IOC_MD5},
        {"network-traffic:extensions.'tls-ext'.ja3", KB_IOC_JA3},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (kb_str_eqz(p, n, map[i].path))
            return map[i].kind;
    return -1;
}

#define MAX_TERMS 4096

typedef struct term {
    int kind;
    const char *v; /* inside the pattern, quotes excluded, escapes kept */
    size_t len;
} term;

/* Parses pattern into terms. Returns the number of terms, or -1 with
 * *why set (static text, or a message in why_buf). */
static int parse_pattern(const char *s, size_t len, term *terms, const char **why,
                         char *why_buf, size_t wbsz)
{
    lexer l = {s, len, 0};
    int n = 0, brack = 0, paren = 0;
    enum { OBS, PATH, OP, VAL, AFTER } st = OBS;
    int kind = -1, in_list = 0;
    for (;;) {
        tok t = next(&l);
        if (t.t == T_BAD) {
            *why = "invalid token in pattern";
            return -1;
        }
        if (t.t == T_WORD && (tok_is(&t, "AND") || tok_is(&t, "FOLLOWEDBY"))) {
            *why = "pattern joins comparisons with AND/FOLLOWEDBY: koban matches single values";
            return -1;
        }
        if (t.t == T_WORD && (tok_is(&t, "WITHIN") || tok_is(&t, "REPEATS") ||
                              tok_is(&t, "START") || tok_is(&t, "STOP"))) {
            *why = "pattern qualifiers (WITHIN, REPEATS, START/STOP) are not supported";
            return -1;
        }
        switch (st) {
        case OBS: /* expecting '[' or '(' */
            if (t.t == T_LPAREN && paren < 64) {
                paren++;
                continue;
            }
            if (t.t == T_LBRACK && brack == 0) {
                brack = 1;
                st = PATH;
                continue;
            }
            *why = t.t == T_END ? "empty or truncated pattern" : "expected '[' in pattern";
            return -1;
        case PATH:
            if (t.t == T_LPAREN && paren < 64) {
                paren++;
                continue;
            }
            if (t.t == T_WORD && tok_is(&t, "NOT")) {
                *why = "negated comparison (NOT) is not supported";
                return -1;
            }
            if (t.t != T_WORD || !memchr(t.p, ':', t.len)) {
                *why = "expected an object path in pattern";
                return -1;
            }
            kind = path_kind(t.p, t.len);
            if (kind < 0) {
                snprintf(why_buf, wbsz, "object path '%.*s' is not a value koban matches",
                         (int)(t.len > 80 ? 80 : t.len), t.p);
                *why = why_buf;
                return -1;
            }
            st = OP;
            continue;
        case OP:
            if (t.t == T_OP && t.len == 1 && t.p[0] == '=') {
                st = VAL;
                in_list = 0;
                continue;
            }
            if (tok_is(&t, "IN")) {
                tok p = next(&l);
                if (p.t != T_LPAREN) {
                    *why = "expected '(' after IN";
                    return -1;
                }
                st = VAL;
                in_list = 1;
                continue;
            }
            if (t.t == T_OP || tok_is(&t, "MATCHES") || tok_is(&t, "LIKE") ||
                tok_is(&t, "ISSUBSET") || tok_is(&t, "ISSUPERSET") || tok_is(&t, "NOT")) {
                snprintf(why_buf, wbsz,
                         "comparison operator '%.*s' is not supported (only = and IN)",
                         (int)(t.len > 20 ? 20 : t.len), t.p);
                *why = why_buf;
                return -1;
            }
            *why = "expected a comparison operator";
            return -1;
        case VAL:
            if (t.t != T_STRING) {
                *why = "expected a quoted string value";
                return -1;
            }
            if (n >= MAX_TERMS) {
                *why = "pattern has more than 4096 comparisons";
                return -1;
            }
            terms[n].kind = kind;
            terms[n].v = t.p + 1;
            terms[n].len = t.len - 2;
            n++;
            if (in_list) {
                tok c = next(&l);
                if (c.t == T_COMMA)
                    continue;
                if (c.t != T_RPAREN) {
                    *why = "expected ',' or ')' in IN list";
                    return -1;
                }
            }
            st = AFTER;
            continue;
        case AFTER:
            if (t.t == T_RPAREN && paren > 0) {
                paren--;
                continue;
            }
            if (t.t == T_RBRACK && brack) {
                brack = 0;
                continue;
            }
            if (tok_is(&t, "OR")) {
                st = brack ? PATH : OBS;
                continue;
            }
            if (t.t == T_END && !brack && !paren)
                return n;
            *why = t.t == T_END ? "unbalanced brackets in pattern" : "unexpected token in pattern";
            return -1;
        }
    }
}

/* Unescapes \' and \\ from a pattern string into b. */
static int unescape(const char *v, size_t len, kb_buf *b)
{
    kb_buf_clear(b);
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\\' && i + 1 < len)
            i++;
        if (kb_buf_putc(b, v[i]))
            return KB_ENOMEM;
    }
    return KB_OK;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_time(json_t *o, const char *key, int64_t *out, const char **why)
{
    json_t *v = json_object_get(o, key);
    *out = KB_TIME_NONE;
    if (!v)
        return 0;
    if (!json_is_string(v) ||
        kb_time_parse_iso8601(json_string_value(v), json_string_length(v), out)) {
        *why = key;
        return -1;
    }
    return 0;
}

/* Joins a JSON array of strings with commas into b. */
static void join(json_t *arr, kb_buf *b)
{
    size_t i;
    json_t *v;
    kb_buf_clear(b);
    if (!json_is_array(arr))
        return;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            continue;
        if (b->len)
            kb_buf_putc(b, ',');
        kb_buf_puts(b, json_string_value(v));
    }
}

static const char *threat_of(json_t *types)
{
    static const struct {
        const char *stix, *threat;
    } map[] = {
        {"malicious-activity", "malicious-activity"}, {"anomalous-activity", "anomalous"},
        {"attribution", "attribution"},   {"compromised", "compromised"},
        {"benign", "benign"},             {"unknown", NULL},
    };
    const char *t = json_is_array(types) ? json_string_value(json_array_get(types, 0)) : NULL;
    if (!t)
        return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].stix, t) == 0)
            return map[i].threat;
    return t;
}

/* Both timestamps valid and modified < created (the STIX validator's
 * "invalid timestamp" case). */
static int modified_before_created(json_t *o)
{
    const char *c = jstr(o, "created"), *m = jstr(o, "modified");
    int64_t tc, tm;
    if (!c || !m || kb_time_parse_iso8601(c, strlen(c), &tc) ||
        kb_time_parse_iso8601(m, strlen(m), &tm))
        return 0;
    return tm < tc;
}

static int load_indicator(kb_intel_sink *s, json_t *o, size_t idx, term *terms)
{
    const char *id = jstr(o, "id"), *pattern = jstr(o, "pattern"), *ptype = jstr(o, "pattern_type");
    const char *why = NULL;
    char where[192], why_buf[160];
    kb_buf tags, val;
    kb_indicator meta = {.confidence = -1};
    int rc = KB_OK, n;
    json_t *conf;

    snprintf(where, sizeof where, "objects[%zu] (%s)", idx, id ? id : "indicator without id");
    if (!pattern) {
        kb_intel_sink_reject(s, where, "indicator without a pattern");
        return KB_OK;
    }
    if (ptype && strcmp(ptype, "stix") != 0) {
        snprintf(why_buf, sizeof why_buf, "pattern_type '%.40s' is not supported (only stix)",
                 ptype);
        kb_intel_sink_reject(s, where, why_buf);
        return KB_OK;
    }
    if (parse_time(o, "valid_from", &meta.first_seen, &why) ||
        parse_time(o, "valid_until", &meta.valid_until, &why)) {
        snprintf(why_buf, sizeof why_buf, "%s is not an RFC 3339 timestamp", why);
        kb_intel_sink_reject(s, where, why_buf);
        return KB_OK;
    }
    conf = json_object_get(o, "confidence");
    if (json_is_integer(conf)) {
        json_int_t c = json_integer_value(conf);
        if (c < 0 || c > 100) {
            kb_intel_sink_reject(s, where, "confidence outside 0-100");
            return KB_OK;
        }
        meta.confidence = (int)c;
    }
    n = parse_pattern(pattern, strlen(pattern), terms, &why, why_buf, sizeof why_buf);
    if (n < 0) {
        kb_intel_sink_reject(s, where, why);
        return KB_OK;
    }
    kb_buf_init(&tags, 4096);
    kb_buf_init(&val, 16384);
    join(json_object_get(o, "labels"), &tags);
    meta.tags = tags.len ? tags.data : NULL;
    meta.threat = threat_of(json_object_get(o, "indicator_types"));
    meta.ref = id;
    meta.desc = jstr(o, "name");
    meta.last_seen = KB_TIME_NONE;
    for (int i = 0; i < n && rc == KB_OK; i++) {
        if ((rc = unescape(terms[i].v, terms[i].len, &val)))
            break;
        rc = kb_intel_sink_add(s, terms[i].kind, val.data, val.len, &meta, where);
    }
    kb_buf_release(&tags);
    kb_buf_release(&val);
    return rc;
}

int kb_intel_load_stix(kb_intel_sink *s, const char *buf, size_t len, const char **err)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je), *objs, *o;
    size_t i;
    int rc = KB_OK;
    term *terms = NULL;

    if (!root) {
        kb_buf_clear(&s->tmp);
        kb_buf_printf(&s->tmp, "line %d: invalid JSON: %s", je.line, je.text);
        *err = s->tmp.data;
        return KB_EFORMAT;
    }
    objs = json_object_get(root, "objects");
    if (!json_is_array(objs)) {
        const char *type = jstr(root, "type"), *id = jstr(root, "id");
        if (type && id && strstr(id, "--")) {
            /* one STIX object on its own: a bundle of one */
            objs = json_array();
            json_array_append(objs, root);
            json_decref(root);
            root = objs;
        } else {
            *err = "not a STIX bundle: no \"objects\" array";
            rc = KB_EFORMAT;
            goto out;
        }
    } else if (json_array_size(objs) && !json_object_get(json_array_get(objs, 0), "type") &&
               json_object_get(json_array_get(objs, 0), "date_added")) {
        *err = "a TAXII manifest (object ids and versions), not STIX objects";
        rc = KB_EFORMAT;
        goto out;
    } else if (jstr(root, "spec_version") && strcmp(jstr(root, "spec_version"), "2.1") != 0) {
        *err = "STIX 2.0 bundle (spec_version on the bundle): koban reads STIX 2.1";
        rc = KB_EFORMAT;
        goto out;
    }
    if (!(terms = kb_malloc(MAX_TERMS * sizeof *terms))) {
        rc = KB_ENOMEM;
        goto out;
    }
    json_array_foreach(objs, i, o) {
        const char *type = jstr(o, "type");
        if (!json_is_object(o) || !type) {
            char where[64];
            snprintf(where, sizeof where, "objects[%zu]", i);
            kb_intel_sink_reject(s, where, "object without a type");
            continue;
        }
        if (modified_before_created(o)) {
            char where[192];
            const char *id = jstr(o, "id");
            snprintf(where, sizeof where, "objects[%zu] (%.150s)", i, id ? id : type);
            kb_intel_sink_reject(s, where, "modified is earlier than created");
            continue;
        }
        if (strcmp(type, "indicator") != 0)
            continue;
        if ((rc = load_indicator(s, o, i, terms)))
            break;
    }
out:
    kb_free(terms);
    json_decref(root);
    return rc;
}
