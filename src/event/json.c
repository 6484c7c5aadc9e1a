/* JSON flattening into events, and JSON string writing.
 *
 * Why hand-written rather than jansson, json-c or simdjson: koban reads one
 * JSON object per record and wants flat dotted names whose values point
 * into the line, not a tree. A DOM library builds and frees a tree per
 * record, which then has to be walked to make the same names and intern
 * them; this reader goes from bytes to fields in one pass, allocating
 * nothing but unescaped strings, and bounds depth, name length and work on
 * hostile input. bench/bench_json.c (1 GB per row, one core, Debian 12,
 * CPU-time MB/s, the same kb_event of 52.6 / 27.7 fields per record built
 * by every row; peers intern through kb_names_intern):
 *
 *                      Suricata EVE     Windows JSON
 *   koban (this file)  ~1,090 MB/s      ~1,220 MB/s   (~840k / ~1.2M events/s)
 *   simdjson 3.0.1       ~350 MB/s      ~1,060 MB/s   (DOM parse alone: 2,200-2,500 / 3,000)
 *   json-c 0.16           ~70 MB/s        ~185 MB/s   (parse alone: ~110 / ~235)
 *   jansson 2.14          ~57 MB/s         ~75 MB/s   (parse alone: ~65 / ~77)
 *
 * simdjson parses faster than this file flattens, but reaching the flat
 * event from its DOM costs more than our whole pass. The field-id cache
 * below took EVE from ~650 to ~1,090 MB/s (interning was half the time).
 *
 * The parser is a loop over an explicit stack of at most KB_JSON_MAX_DEPTH
 * frames; containers past the cap are skipped with a counter (linear, no
 * stack) and kept whole as raw text. Field names are built in a bounded
 * buffer that works as a stack too: a frame's children write after the
 * frame's own name, so popping a frame needs no copying. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "event/json.h"

#define NAME_MAX_LEN 512 /* longest dotted field name accepted */
#define CACHE_SETS 2048 /* per thread, 2 ways of 16 bytes: 64 KiB of TLS */

/* Field-id cache. Interning hashes the whole dotted name byte by byte and
 * walks a shared chain; on EVE that was half the flattening time. Records
 * of one source repeat the same few hundred names, so each thread keeps a
 * small two-way set-associative table from a cheap hash of the name (built
 * key by key from the parent's hash) to the id and the table's own copy of
 * the name.
 * A hit is confirmed by comparing the name, so a hash collision costs a
 * lookup, never a wrong id.
 *
 * The cached name pointers belong to one kb_names table, which may be freed
 * and another allocated at the same address (tests do this all the time),
 * so the cache is bound to a table by its kb_names_uid, which no other
 * table ever has; a different uid wipes the cache (rare: a process has one
 * names table). This is the
 * module's only state; it is per thread, so there is nothing to lock. */
typedef struct cache_slot {
    uint16_t tag;     /* high hash bits */
    uint16_t len;
    kb_fid fid;
    const char *name; /* the names table's copy; NULL: empty */
} cache_slot;

typedef struct fid_cache {
    uint64_t owner; /* kb_names_uid of the bound table; 0: not bound */
    cache_slot set[CACHE_SETS][2]; /* [0] most recently filled */
} fid_cache;

static _Thread_local fid_cache tcache;

enum { FR_OBJECT, FR_ARRAY };

typedef struct frame {
    uint8_t kind;     /* FR_* */
    uint8_t flags;    /* KB_FF_ELEM when inside an array */
    uint16_t elem;    /* element index inherited by the children of objects */
    uint32_t nlen;    /* length of this container's own name */
    uint32_t count;   /* members / elements so far */
    int32_t arr_idx;  /* field index of the KB_V_ARRAY field, or -1 */
    size_t start;     /* offset of '[' (arrays) */
    uint64_t h;       /* name_hash of this container's own name */
} frame;

typedef struct parser {
    const unsigned char *s;
    size_t len;
    kb_event *ev;
    kb_json_error *err;
    int cached; /* the thread's fid cache is bound to ev->names */
    char name[NAME_MAX_LEN + 16]; /* slack: name_hash reads whole words */
} parser;

static int fail(parser *ps, int code, const char *reason, size_t off)
{
    if (ps->err) {
        ps->err->reason = reason;
        ps->err->offset = off;
    }
    return code;
}

static inline int is_ws(unsigned c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline size_t skip_ws(const unsigned char *s, size_t i, size_t len)
{
    while (i < len && is_ws(s[i]))
        i++;
    return i;
}

/* Index of the first byte at or after i that is '"', '\\', a control
 * character or non-ASCII, or end. */
static inline size_t scan_plain(const unsigned char *s, size_t i, size_t end)
{
#ifdef __SSE2__
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    const __m128i sp = _mm_set1_epi8(0x20);
    while (i + 16 <= end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* Signed compare: bytes 0x00-0x1f and 0x80-0xff are both < 0x20. */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmplt_epi8(v, sp));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    while (i < end) {
        unsigned c = s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            break;
        i++;
    }
    return i;
}

/* Length of the valid UTF-8 sequence starting with a byte >= 0x80 at s[i],
 * or 0 if it is not one. */
static inline size_t utf8_seq(const unsigned char *s, size_t i, size_t end)
{
    unsigned c = s[i], c1, c2, c3;

    if (c >= 0xc2 && c <= 0xdf) {
        if (i + 1 >= end || (s[i + 1] & 0xc0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (i + 2 >= end)
            return 0;
        c1 = s[i + 1], c2 = s[i + 2];
        if ((c1 & 0xc0) != 0x80 || (c2 & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && c1 < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && c1 >= 0xa0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (i + 3 >= end)
            return 0;
        c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
        if ((c1 & 0xc0) != 0x80 || (c2 & 0xc0) != 0x80 || (c3 & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && c1 < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && c1 >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

static inline int hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

static inline int hex4(const unsigned char *s, size_t i, size_t end)
{
    int v = 0;
    if (i + 4 > end)
        return -1;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[i + (size_t)k]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* Scans the string whose opening quote is at s[i-1]. On success sets *end
 * to the offset of the closing quote and *esc when it holds escapes. */
static int scan_string(parser *ps, size_t i, size_t *end, int *esc)
{
    const unsigned char *s = ps->s;
    size_t len = ps->len;
    int has_esc = 0;

    for (;;) {
        unsigned c;
        i = scan_plain(s, i, len);
        if (i >= len)
            return fail(ps, KB_EPARSE, "unterminated string", i);
        c = s[i];
        if (c == '"') {
            *end = i;
            *esc = has_esc;
            return KB_OK;
        }
        if (c == '\\') {
            if (i + 1 >= len)
                return fail(ps, KB_EPARSE, "unterminated string", len);
            has_esc = 1;
            switch (s[i + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                i += 2;
                break;
            case 'u':
                if (hex4(s, i + 2, len) < 0)
                    return fail(ps, KB_EPARSE, "bad \\u escape in string", i);
                i += 6;
                break;
            default:
                return fail(ps, KB_EPARSE, "bad escape in string", i);
            }
        } else if (c < 0x20) {
            return fail(ps, KB_EPARSE, "control character in string", i);
        } else {
            size_t n = utf8_seq(s, i, len);
            if (!n)
                return fail(ps, KB_EPARSE, "invalid UTF-8 in string", i);
            i += n;
        }
    }
}

static inline size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Unescapes s[i..end) (already validated by scan_string) into d, which has
 * room for end - i bytes: no escape grows (\uXXXX is 6 bytes for at most 3,
 * a surrogate pair 12 for 4). Lone surrogates become U+FFFD (3 bytes, from
 * 6), so the result is always valid UTF-8. Returns the length written. */
static size_t unescape(const unsigned char *s, size_t i, size_t end, char *d)
{
    size_t o = 0;

    while (i < end) {
        size_t j = i;
        unsigned cp;
        while (j < end && s[j] != '\\')
            j++;
        memcpy(d + o, s + i, j - i);
        o += j - i;
        if (j >= end)
            break;
        switch (s[j + 1]) {
        case 'b': d[o++] = '\b'; break;
        case 'f': d[o++] = '\f'; break;
        case 'n': d[o++] = '\n'; break;
        case 'r': d[o++] = '\r'; break;
        case 't': d[o++] = '\t'; break;
        case 'u':
            cp = (unsigned)hex4(s, j + 2, end);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = -1;
                if (j + 12 <= end && s[j + 6] == '\\' && s[j + 7] == 'u')
                    lo = hex4(s, j + 8, end);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
                    j += 6;
                } else {
                    cp = 0xfffd;
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            o += put_utf8(d + o, cp);
            i = j + 6;
            continue;
        default: d[o++] = (char)s[j + 1]; break; /* " \ / */
        }
        i = j + 2;
    }
    return o;
}

/* Hash of the name bytes p[0..n) chained onto `seed` (the parent name's
 * hash), a word at a time. p must have 8 readable bytes past n (the name
 * buffer's slack, or the input after a key's closing quote); bytes past n
 * are masked off. */
static inline uint64_t name_hash(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * UINT64_C(0x9e3779b97f4a7c15));
    uint64_t w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 31;
    }
    if (n) {
        memcpy(&w, p, 8);
        w &= (UINT64_C(1) << (n * 8)) - 1; /* little and big endian alike: the first n bytes */
        h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 31;
    }
    return h ^ (h >> 29);
}

/* memcmp(a, b, n) == 0 for short names, inline: a call to memcmp cost more
 * than the compare. */
static inline int name_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;

    for (; n >= 8; a += 8, b += 8, n -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
    }
    for (; n; a++, b++, n--)
        if (*a != *b)
            return 0;
    return 1;
}

/* Binds this thread's cache to `names` (see above). Returns whether the
 * cache may be used for this call. */
static int cache_bind(kb_names *names)
{
    fid_cache *c = &tcache;
    uint64_t uid = kb_names_uid(names);

    if (c->owner != uid) {
        memset(c->set, 0, sizeof c->set);
        c->owner = uid;
    }
    return 1;
}

/* The id of ps->name[0..nlen), whose name_hash is h. */
static inline kb_fid intern(parser *ps, size_t nlen, uint64_t h)
{
    cache_slot *set;
    uint16_t tag = (uint16_t)(h >> 48);
    kb_fid id;
    size_t l;
    const char *name;

    if (!ps->cached)
        return kb_names_intern(ps->ev->names, ps->name, nlen);
    set = tcache.set[h & (CACHE_SETS - 1)];
    for (int w = 0; w < 2; w++)
        if (set[w].tag == tag && set[w].len == nlen && set[w].name &&
            name_eq(set[w].name, ps->name, nlen))
            return set[w].fid;
    id = kb_names_intern(ps->ev->names, ps->name, nlen);
    if (id != KB_FID_NONE && (name = kb_names_str(ps->ev->names, id, &l)) != NULL) {
        set[1] = set[0];
        set[0] = (cache_slot){tag, (uint16_t)l, id, name};
    }
    return id;
}

/* Adds field `name` (ps->name[0..nlen), hash h) and sets its flags.
 * Returns the field index or a KB_E* code. */
static int add(parser *ps, size_t nlen, uint64_t h, uint8_t flags, uint16_t elem, kb_vtype type,
               const char *val, size_t vlen, size_t off)
{
    kb_fid id = intern(ps, nlen, h);
    int idx;

    if (id == KB_FID_NONE)
        return fail(ps, KB_ELIMIT, "field name table full", off);
    idx = kb_event_add(ps->ev, id, type, val, vlen);
    if (idx < 0)
        return fail(ps, idx, idx == KB_ENOMEM ? "event arena full" : "too many fields", off);
    ps->ev->fields[idx].flags = flags;
    ps->ev->fields[idx].elem = elem;
    return idx;
}

/* Skips the container opening at s[i] (past the depth cap) by counting
 * brackets; strings are scanned (and validated) so brackets inside them do
 * not count. Only balance is checked, not whether `[` meets `]`: the text
 * is kept raw. Returns the offset after its closing bracket via *out. */
static int skip_container(parser *ps, size_t i, size_t *out)
{
    const unsigned char *s = ps->s;
    size_t depth = 0;

    while (i < ps->len) {
        unsigned c = s[i];
        if (c == '"') {
            size_t end;
            int esc, rc = scan_string(ps, i + 1, &end, &esc);
            if (rc)
                return rc;
            i = end + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                *out = i + 1;
                return KB_OK;
            }
        }
        i++;
    }
    return fail(ps, KB_EPARSE, "unterminated object or array", ps->len);
}

/* Number grammar of RFC 8259. Sets *end past it and *isfloat. */
static int scan_number(parser *ps, size_t i, size_t *end, int *isfloat)
{
    const unsigned char *s = ps->s;
    size_t len = ps->len, st = i;
    int fl = 0;

    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return fail(ps, KB_EPARSE, "bad number", st);
    if (s[i] == '0') {
        i++;
    } else {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && s[i] == '.') {
        fl = 1;
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return fail(ps, KB_EPARSE, "bad number", st);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        fl = 1;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return fail(ps, KB_EPARSE, "bad number", st);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *end = i;
    *isfloat = fl;
    return KB_OK;
}

int kb_json_flatten(kb_event *ev, const char *p, size_t len, const char *prefix,
                    kb_json_error *err)
{
    parser ps;
    frame st[KB_JSON_MAX_DEPTH];
    const unsigned char *s = (const unsigned char *)p;
    size_t depth = 0, i, base;
    int rc;

    ps.s = s;
    ps.len = len;
    ps.ev = ev;
    ps.err = err;
    ps.cached = cache_bind(ev->names);
    if (err) {
        err->reason = NULL;
        err->offset = 0;
    }
    base = 0;
    if (prefix && *prefix) {
        base = strlen(prefix);
        if (base + 1 > NAME_MAX_LEN)
            return fail(&ps, KB_EINVAL, "prefix too long", 0);
        memcpy(ps.name, prefix, base);
        ps.name[base++] = '.';
    }
    i = skip_ws(s, 0, len);
    if (i >= len || s[i] != '{')
        return fail(&ps, KB_EPARSE, i >= len ? "empty input" : "not a JSON object", i);
    st[0] = (frame){FR_OBJECT, 0, 0, (uint32_t)(base ? base - 1 : 0), 0, -1, i,
                    base ? name_hash(ps.name, base - 1, 0) : 0};
    depth = 1;
    i++;

    for (;;) {
        frame *f = &st[depth - 1];
        size_t nlen;
        uint8_t flags;
        uint16_t elem;
        uint64_t h;
        unsigned c;

        /* Next member or element, or the container's end. */
        i = skip_ws(s, i, len);
        if (i >= len)
            return fail(&ps, KB_EPARSE, "truncated JSON", len);
        c = s[i];
        if (c == (f->kind == FR_OBJECT ? '}' : ']'))
            goto close; /* empty container */
    member:
        if (f->kind == FR_OBJECT) {
            size_t kend, kb = depth == 1 ? base : f->nlen + 1;
            int esc;
            if (c != '"')
                return fail(&ps, KB_EPARSE, "expected a quoted key", i);
            rc = scan_string(&ps, i + 1, &kend, &esc);
            if (rc)
                return rc;
            if (kend - (i + 1) > NAME_MAX_LEN - kb)
                return fail(&ps, KB_ELIMIT, "field name too long", i);
            if (esc)
                nlen = kb + unescape(s, i + 1, kend, ps.name + kb);
            else {
                memcpy(ps.name + kb, s + i + 1, kend - (i + 1));
                nlen = kb + (kend - (i + 1));
            }
            /* Hashed from the input when it can be: reading the name buffer
             * just written by memcpy stalls on store forwarding. */
            if (!esc && kend + 8 <= len)
                h = name_hash(p + i + 1, nlen - kb, f->h);
            else
                h = name_hash(ps.name + kb, nlen - kb, f->h);
            i = skip_ws(s, kend + 1, len);
            if (i >= len)
                return fail(&ps, KB_EPARSE, "truncated JSON", len);
            if (s[i] != ':')
                return fail(&ps, KB_EPARSE, "expected ':' after key", i);
            i = skip_ws(s, i + 1, len);
            flags = f->flags;
            elem = f->elem;
        } else {
            nlen = f->nlen;
            h = f->h;
            flags = KB_FF_ELEM;
            elem = f->count > UINT16_MAX ? UINT16_MAX : (uint16_t)f->count;
        }
        f->count++;
        if (i >= len)
            return fail(&ps, KB_EPARSE, "truncated JSON", len);

        /* The value. */
        c = s[i];
        switch (c) {
        case '"': {
            size_t vend;
            int esc;
            rc = scan_string(&ps, i + 1, &vend, &esc);
            if (rc)
                return rc;
            if (esc) {
                char *d = kb_arena_alloc(ev->arena, vend - (i + 1) + 1);
                size_t dl;
                if (!d)
                    return fail(&ps, KB_ENOMEM, "event arena full", i);
                dl = unescape(s, i + 1, vend, d);
                rc = add(&ps, nlen, h, flags, elem, KB_V_STR, d, dl, i);
            } else {
                rc = add(&ps, nlen, h, flags, elem, KB_V_STR, p + i + 1, vend - (i + 1), i);
            }
            if (rc < 0)
                return rc;
            i = vend + 1;
            break;
        }
        case '{':
        case '[':
            if (depth >= KB_JSON_MAX_DEPTH) {
                size_t e;
                rc = skip_container(&ps, i, &e);
                if (rc)
                    return rc;
                rc = add(&ps, nlen, h, flags, elem, c == '{' ? KB_V_OBJECT : KB_V_ARRAY, p + i,
                         e - i, i);
                if (rc < 0)
                    return rc;
                i = e;
                break;
            }
            if (c == '{') {
                if (nlen + 1 > NAME_MAX_LEN)
                    return fail(&ps, KB_ELIMIT, "field name too long", i);
                ps.name[nlen] = '.';
                st[depth] = (frame){FR_OBJECT, flags, elem, (uint32_t)nlen, 0, -1, i, h};
            } else {
                rc = add(&ps, nlen, h, flags, elem, KB_V_ARRAY, p + i, 0, i);
                if (rc < 0)
                    return rc;
                st[depth] = (frame){FR_ARRAY, KB_FF_ELEM, 0, (uint32_t)nlen, 0, rc, i, h};
            }
            depth++;
            i++;
            continue;
        case 't':
        case 'f':
        case 'n': {
            const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
            size_t ll = c == 'f' ? 5 : 4;
            if (len - i < ll || memcmp(p + i, lit, ll) != 0)
                return fail(&ps, KB_EPARSE, len - i < ll ? "truncated JSON" : "bad literal", i);
            rc = add(&ps, nlen, h, flags, elem, c == 'n' ? KB_V_NULL : KB_V_BOOL, p + i, ll, i);
            if (rc < 0)
                return rc;
            i += ll;
            break;
        }
        default: {
            size_t e;
            int fl;
            if (c != '-' && (c < '0' || c > '9'))
                return fail(&ps, KB_EPARSE, "unexpected character", i);
            rc = scan_number(&ps, i, &e, &fl);
            if (rc)
                return rc;
            rc = add(&ps, nlen, h, flags, elem, fl ? KB_V_FLOAT : KB_V_INT, p + i, e - i, i);
            if (rc < 0)
                return rc;
            i = e;
            break;
        }
        }

    after_value:
        /* ',' and the next member, or the container's end. */
        f = &st[depth - 1];
        i = skip_ws(s, i, len);
        if (i >= len)
            return fail(&ps, KB_EPARSE, "truncated JSON", len);
        c = s[i];
        if (c == ',') {
            i = skip_ws(s, i + 1, len);
            if (i >= len)
                return fail(&ps, KB_EPARSE, "truncated JSON", len);
            c = s[i];
            goto member;
        }
        if (c != (f->kind == FR_OBJECT ? '}' : ']'))
            return fail(&ps, KB_EPARSE,
                        f->kind == FR_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'", i);
    close:
        if (f->kind == FR_ARRAY)
            ev->fields[f->arr_idx].len = (uint32_t)(i + 1 - f->start);
        i++;
        if (--depth == 0)
            break;
        goto after_value;
    }
    i = skip_ws(s, i, len);
    if (i < len)
        return fail(&ps, KB_EPARSE, "trailing bytes after the object", i);
    return KB_OK;
}

/* ---- writing ----------------------------------------------------------- */

int kb_json_put_str(kb_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int rc;

    if ((rc = kb_buf_reserve(b, len + 2)) != KB_OK)
        return rc;
    if ((rc = kb_buf_putc(b, '"')) != KB_OK)
        return rc;
    while (i < len) {
        size_t j = scan_plain(s, i, len), n;
        unsigned c;
        char esc[6];
        size_t el;

        /* Valid multi-byte UTF-8 joins the run. */
        while (j < len && s[j] >= 0x80 && (n = utf8_seq(s, j, len)) != 0)
            j = scan_plain(s, j + n, len);
        if (j > i && (rc = kb_buf_append(b, s + i, j - i)) != KB_OK)
            return rc;
        if (j >= len)
            break;
        c = s[j];
        if (c >= 0x80) {
            rc = kb_buf_append(b, "\\ufffd", 6);
            i = j + 1;
        } else {
            el = 2;
            esc[0] = '\\';
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u', esc[2] = '0', esc[3] = '0';
                esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                el = 6;
            }
            rc = kb_buf_append(b, esc, el);
            i = j + 1;
        }
        if (rc != KB_OK)
            return rc;
    }
    return kb_buf_putc(b, '"');
}
