/* Key=value scanning, escapes, device timestamps and canonical mapping
 * shared by the CEF and LEEF decoders. */
#include <string.h>

#include "ingest/kv.h"

/* Character classes for the scanners, one table lookup a byte. */
enum {
    C_SPACE = 1,   /* space \t \n \r \f \v */
    C_WORD = 2,    /* [A-Za-z0-9_] */
    C_BSLASH = 4,  /* \\ */
    C_EQ = 8,      /* = */
    C_KEYSTOP = 16 /* ends a dotted key component: . = | \\ [ ] and spaces */
};

/* clang-format off */
#define SP (C_SPACE | C_KEYSTOP)
#define W C_WORD
static const unsigned char cls[256] = {
    ['\t'] = SP, ['\n'] = SP, ['\v'] = SP, ['\f'] = SP, ['\r'] = SP, [' '] = SP,
    ['.'] = C_KEYSTOP, ['='] = C_EQ | C_KEYSTOP, ['|'] = C_KEYSTOP, ['\\'] = C_BSLASH | C_KEYSTOP,
    ['['] = C_KEYSTOP, [']'] = C_KEYSTOP, ['_'] = W,
    ['0'] = W, ['1'] = W, ['2'] = W, ['3'] = W, ['4'] = W, ['5'] = W, ['6'] = W, ['7'] = W,
    ['8'] = W, ['9'] = W,
    ['A'] = W, ['B'] = W, ['C'] = W, ['D'] = W, ['E'] = W, ['F'] = W, ['G'] = W, ['H'] = W,
    ['I'] = W, ['J'] = W, ['K'] = W, ['L'] = W, ['M'] = W, ['N'] = W, ['O'] = W, ['P'] = W,
    ['Q'] = W, ['R'] = W, ['S'] = W, ['T'] = W, ['U'] = W, ['V'] = W, ['W'] = W, ['X'] = W,
    ['Y'] = W, ['Z'] = W,
    ['a'] = W, ['b'] = W, ['c'] = W, ['d'] = W, ['e'] = W, ['f'] = W, ['g'] = W, ['h'] = W,
    ['i'] = W, ['j'] = W, ['k'] = W, ['l'] = W, ['m'] = W, ['n'] = W, ['o'] = W, ['p'] = W,
    ['q'] = W, ['r'] = W, ['s'] = W, ['t'] = W, ['u'] = W, ['v'] = W, ['w'] = W, ['x'] = W,
    ['y'] = W, ['z'] = W,
};
#undef SP
#undef W
/* clang-format on */

static int is_class(char c, unsigned mask)
{
    return (cls[(unsigned char)c] & mask) != 0;
}

static int is_space(char c)
{
    return is_class(c, C_SPACE);
}

static int is_word(char c)
{
    return is_class(c, C_WORD);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- field ids ----------------------------------------------------------- */

/* Interning hashes the whole key and walks a chain of the names table; a
 * record's keys repeat from record to record, so their ids are cached per
 * thread: by content for the keys of the record (checked against the
 * interned name), by address for the static names the mappings look up.
 * Both caches are bound to one names table by its uid (a freed table's
 * names must not be compared with). */
#define KEY_CACHE 1024
#define STATIC_CACHE 1024

/* A key is compared by its first and last 8 bytes (zero-padded when
 * shorter), which is the whole key up to 16 bytes: no memory outside the
 * slot is read for the common short keys. */
static _Thread_local struct key_slot {
    uint64_t uid;
    uint64_t head, tail;
    const char *name; /* the interned name (kb_names_str), for longer keys */
    uint32_t len;
    kb_fid id;     /* KB_FID_NONE: the name was absent when the table had */
    size_t absent; /* this many names (a lookup, short keys only) */
} key_cache[KEY_CACHE];

static _Thread_local struct static_slot {
    uint64_t uid;
    const char *name; /* the caller's static string */
    kb_fid id;
} static_cache[STATIC_CACHE];

/* A cheap hash of a key: its length and its first and last 8 bytes. */
/* The first and last 8 bytes of k[0..n) (zero-padded when n < 8). */
static void key_words(const char *k, size_t n, uint64_t *head, uint64_t *tail)
{
    *head = *tail = 0;
    if (n >= 8) {
        memcpy(head, k, 8);
        memcpy(tail, k + n - 8, 8);
    } else {
        /* Byte by byte: a short memcpy into the word is a library call
         * and a stalled load. */
        for (size_t i = 0; i < n; i++)
            *head |= (uint64_t)(unsigned char)k[i] << (8 * i);
    }
}

kb_fid kb_kv_name_id(kb_names *t, const char *k, size_t n, int add)
{
    uint64_t uid = kb_names_uid(t), a, b;
    struct key_slot *sl;
    size_t len;
    kb_fid id;

    key_words(k, n, &a, &b);
    /* Two ways a set: a record's keys often include a pair that share a
     * slot, and would evict each other every record. */
    sl = &key_cache[(uint32_t)(((a ^ (b * 0x9E3779B97F4A7C15u) ^ n) * 0xD6E8FEB86659FD93u) >> 32) %
                    KEY_CACHE & ~1u];
    for (int w = 0; w < 2; w++) {
        if (sl[w].head != a || sl[w].tail != b || sl[w].len != n || sl[w].uid != uid)
            continue;
        if (sl[w].id == KB_FID_NONE) {
            /* Still absent if nothing was added since (names are never
             * removed); a lookup only: an intern must add it. */
            if (!add && kb_names_count(t) == sl[w].absent)
                return KB_FID_NONE;
            continue;
        }
        if (n <= 16 || memcmp(sl[w].name + 8, k + 8, n - 16) == 0)
            return sl[w].id;
    }
    id = add ? kb_names_intern(t, k, n) : kb_names_lookup(t, k, n);
    if ((id != KB_FID_NONE || (!add && n <= 16)) && n <= UINT32_MAX) {
        sl[1] = sl[0]; /* the older entry moves to the second way */
        sl->name = id != KB_FID_NONE ? kb_names_str(t, id, &len) : NULL;
        sl->absent = id != KB_FID_NONE ? 0 : kb_names_count(t);
        sl->head = a;
        sl->tail = b;
        sl->len = (uint32_t)n;
        sl->id = id;
        sl->uid = uid;
    }
    return id;
}

/* The id of a static name (its address is the cache key), interned. */
static kb_fid static_id(kb_names *t, const char *name)
{
    uint64_t uid = kb_names_uid(t);
    struct static_slot *sl =
        &static_cache[(uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15u >> 54]; /* 10 bits */
    kb_fid id;

    if (sl->uid == uid && sl->name == name)
        return sl->id;
    id = kb_names_intern(t, name, strlen(name));
    if (id != KB_FID_NONE)
        *sl = (struct static_slot){uid, name, id};
    return id;
}

/* ---- keys and escapes --------------------------------------------------- */

size_t kb_kv_cef_key(const char *p, size_t len)
{
    size_t i = 0;

    if (len > KB_KV_KEY_MAX + 1)
        len = KB_KV_KEY_MAX + 1;
    while (i < len && is_word(p[i]))
        i++;
    if (i == 0)
        return 0;
    while (i < len && p[i] == '.') {
        size_t s = ++i;
        while (i < len && !is_class(p[i], C_KEYSTOP))
            i++;
        if (i == s)
            return 0;
    }
    if (i < len && p[i] == '[') {
        size_t s = ++i;
        while (i < len && is_digit(p[i]))
            i++;
        if (i == s || i >= len || p[i] != ']')
            return 0;
        i++;
    }
    if (i >= len || p[i] != '=' || i > KB_KV_KEY_MAX)
        return 0;
    return i;
}

/* The character an escape "\c" stands for in `mode`, or -1 if "\c" is no
 * escape there (both characters are then kept). */
static int unescaped(char c, int mode, char delim)
{
    if (c == '\\')
        return '\\';
    switch (mode) {
    case KB_KV_ESC_CEF_HDR:
        return c == '|' ? '|' : -1;
    case KB_KV_ESC_CEF_EXT:
        if (c == '=')
            return '=';
        if (c == 'n')
            return '\n';
        if (c == 'r')
            return '\r';
        return -1;
    default:
        return (c == '=' || c == delim) ? c : -1;
    }
}

int kb_kv_unescape(kb_event *ev, const char *p, size_t len, int mode, char delim, kb_str *out)
{
    const char *bs = memchr(p, '\\', len);
    char *buf;
    size_t i, n = 0;

    out->p = p;
    out->len = len;
    if (!bs)
        return KB_OK;
    for (i = (size_t)(bs - p); i + 1 < len; i++) {
        if (p[i] == '\\' && unescaped(p[i + 1], mode, delim) >= 0)
            break;
    }
    if (i + 1 >= len)
        return KB_OK; /* only backslashes that escape nothing */
    buf = kb_arena_alloc(ev->arena, len);
    if (!buf)
        return KB_ENOMEM;
    for (i = 0; i < len; i++) {
        int u;
        if (p[i] == '\\' && i + 1 < len && (u = unescaped(p[i + 1], mode, delim)) >= 0) {
            buf[n++] = (char)u;
            i++;
        } else {
            buf[n++] = p[i];
        }
    }
    out->p = buf;
    out->len = n;
    return KB_OK;
}

/* Adds one raw pair. Past the event's field cap less a reserve for the
 * derived fields (or past the names table's cap) the pair is dropped: the
 * record still decodes with what fitted. */
static int add_pair(kb_event *ev, const char *k, size_t klen, const char *v, size_t vlen, int mode,
                    char delim)
{
    kb_str u;
    int rc = kb_kv_unescape(ev, v, vlen, mode, delim, &u);

    if (rc != KB_OK)
        return rc;
    if (ev->nfields >= KB_EVENT_MAX_FIELDS - KB_KV_RESERVE)
        return KB_OK;
    rc = kb_event_add(ev, kb_kv_name_id(ev->names, k, klen, 1), KB_V_STR, u.p, u.len);
    if (rc == KB_ELIMIT)
        return KB_OK;
    return rc < 0 ? rc : KB_OK;
}

int kb_kv_add_spaced(kb_event *ev, const char *p, size_t len, int mode, const char **err)
{
    size_t i = 0, klen_next;

    while (len > 0 && is_space(p[len - 1]))
        len--;
    while (i < len && is_space(p[i]))
        i++;
    if (i == len)
        return KB_OK;
    klen_next = kb_kv_cef_key(p + i, len - i);
    if (klen_next == 0) {
        *err = "extension text does not start with key=value";
        return KB_EPARSE;
    }
    while (i < len) {
        size_t klen = klen_next;
        size_t k = i, vs = i + klen + 1, j = vs, vend = len, next = len;
        int rc;

        /* Scan the value: it ends at the whitespace before the next key=.
         * A backslash hides the next character. Every byte is visited a
         * bounded number of times: a failed key candidate is skipped. */
        while (j < len) {
            size_t w, kl;
            if (!is_class(p[j], C_SPACE | C_BSLASH)) {
                j++;
                continue;
            }
            if (p[j] == '\\') {
                j += 2;
                continue;
            }
            w = j;
            while (j < len && is_space(p[j]))
                j++;
            if (j < len && (kl = kb_kv_cef_key(p + j, len - j)) > 0) {
                vend = w;
                next = j;
                klen_next = kl;
                break;
            }
            while (j < len && !is_class(p[j], C_SPACE | C_BSLASH | C_EQ))
                j++;
        }
        if (vend > len)
            vend = len;
        rc = add_pair(ev, p + k, klen, p + vs, vend - vs, mode, 0);
        if (rc != KB_OK)
            return rc;
        i = next;
    }
    return KB_OK;
}

/* Length of "key" when p starts with key= for the '|' quirk; 0 otherwise. */
static size_t pipe_key(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && i <= KB_KV_KEY_MAX && is_word(p[i]))
        i++;
    return (i > 0 && i < len && p[i] == '=') ? i : 0;
}

int kb_kv_add_delimited(kb_event *ev, const char *p, size_t len, char delim)
{
    size_t i = 0;

    while (i < len) {
        size_t s = i, e, eq, ks, ke;
        int rc;

        while (i < len) {
            if (p[i] == '\\' && i + 1 < len) {
                i += 2;
                continue;
            }
            if (p[i] == delim)
                break;
            if (p[i] == '|' && delim != '|' && pipe_key(p + i + 1, len - i - 1) > 0)
                break;
            i++;
        }
        if (i > len)
            i = len;
        e = i;
        if (i < len)
            i++;
        eq = s;
        while (eq < e && p[eq] != '=')
            eq++;
        if (eq >= e)
            continue; /* no key: skipped */
        ks = s;
        ke = eq;
        while (ks < ke && is_space(p[ks]))
            ks++;
        while (ke > ks && is_space(p[ke - 1]))
            ke--;
        if (ke == ks || ke - ks > KB_KV_KEY_MAX)
            continue;
        if (e > eq + 1 && delim != '\r' && delim != '\n') {
            /* a last value may carry the line's CR */
            while (e > eq + 1 && (p[e - 1] == '\r' || p[e - 1] == '\n'))
                e--;
        }
        rc = add_pair(ev, p + ks, ke - ks, p + eq + 1, e - eq - 1, KB_KV_ESC_LEEF, delim);
        if (rc != KB_OK)
            return rc;
    }
    return KB_OK;
}

/* ---- time ----------------------------------------------------------------- */

/* int64 nanoseconds reach from 1677-09-21 to 2262-04-11. */
#define KV_YEAR_MIN 1678
#define KV_YEAR_MAX 2261

typedef struct tm_parts {
    int y, mon, d, h, mi, s;
    int64_t ns;
    int pm; /* -1 none, 0 am, 1 pm */
    int has_off;
    int off; /* seconds east of UTC */
} tm_parts;

static size_t digits(const char *s, size_t len, size_t max, int *v)
{
    size_t i = 0;
    int n = 0;
    while (i < len && i < max && is_digit(s[i]))
        n = n * 10 + (s[i++] - '0');
    *v = n;
    return i;
}

static size_t fraction(const char *s, size_t len, int64_t *ns)
{
    size_t i = 0;
    int64_t v = 0, scale = 100000000;
    while (i < len && is_digit(s[i])) {
        if (scale > 0) {
            v += (s[i] - '0') * scale;
            scale /= 10;
        }
        i++;
    }
    *ns = v;
    return i;
}

/* "+hh:mm", "+hhmm", "+hh" at s; returns the length or 0. */
static size_t offset(const char *s, size_t len, int *off)
{
    int h, m = 0;
    size_t i = 1, n;
    if (len < 2 || (s[0] != '+' && s[0] != '-'))
        return 0;
    n = digits(s + i, len - i, 2, &h);
    if (n != 2)
        return 0;
    i += 2;
    if (i < len && s[i] == ':')
        i++;
    n = digits(s + i, len - i, 2, &m);
    if (n == 2)
        i += 2;
    else if (s[i - 1] == ':')
        return 0;
    if (h > 23 || m > 59)
        return 0;
    *off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return i;
}

/* Zone words; offset in minutes. */
static const struct {
    const char *name;
    int min;
} zones[] = {
    {"Z", 0},       {"UTC", 0},     {"GMT", 0},     {"UT", 0},      {"EST", -300},
    {"EDT", -240},  {"CST", -360},  {"CDT", -300},  {"MST", -420},  {"MDT", -360},
    {"PST", -480},  {"PDT", -420},  {"CET", 60},    {"CEST", 120},  {"BST", 60},
    {"EET", 120},   {"EEST", 180},  {"WET", 0},     {"WEST", 60},   {"JST", 540},
    {NULL, 0},
};

/* A zone at s: a word, an offset, or a word followed by an offset
 * ("GMT+01:00"). Returns the length or 0. */
static size_t zone(const char *s, size_t len, int *off)
{
    size_t w = 0, n;
    while (w < len && is_alpha(s[w]))
        w++;
    if (w > 0) {
        int found = 0;
        for (int i = 0; zones[i].name; i++) {
            if (kb_str_ieqz(s, w, zones[i].name)) {
                *off = zones[i].min * 60;
                found = 1;
                break;
            }
        }
        if (!found)
            return 0;
        if (w < len && (s[w] == '+' || s[w] == '-') && (n = offset(s + w, len - w, off)) > 0)
            return w + n;
        return w;
    }
    return offset(s, len, off);
}

/* "HH:mm[:ss][.fff]" at s; returns the length or 0 (t untouched then). */
static size_t clock_time(const char *s, size_t len, tm_parts *out)
{
    tm_parts t = *out;
    size_t i, n;
    n = digits(s, len, 2, &t.h);
    if (n == 0 || n >= len || s[n] != ':')
        return 0;
    i = n + 1;
    n = digits(s + i, len - i, 2, &t.mi);
    if (n != 2)
        return 0;
    i += 2;
    t.s = 0;
    if (i < len && s[i] == ':') {
        n = digits(s + i + 1, len - i - 1, 2, &t.s);
        if (n != 2)
            return 0;
        i += 3;
    }
    if (i < len && (s[i] == '.' || s[i] == ',') && i + 1 < len && is_digit(s[i + 1]))
        i += 1 + fraction(s + i + 1, len - i - 1, &t.ns);
    *out = t;
    return i;
}

static int finish(tm_parts *t, int64_t ref, int64_t *out)
{
    int64_t v;
    if (t->pm >= 0) {
        if (t->h < 1 || t->h > 12)
            return KB_EPARSE;
        t->h = t->h % 12 + (t->pm ? 12 : 0);
    }
    if (t->y < 0) {
        if (t->mon < 1 || t->mon > 12 || t->d < 1 || t->d > 31)
            return KB_EPARSE;
        t->y = kb_time_infer_year(t->mon, t->d, ref);
    }
    if (t->y < KV_YEAR_MIN || t->y > KV_YEAR_MAX)
        return KB_EPARSE;
    if (kb_time_make(t->y, t->mon, t->d, t->h, t->mi, t->s, t->ns, &v) != KB_OK)
        return KB_EPARSE;
    *out = v - (int64_t)t->off * KB_NS_PER_SEC;
    return KB_OK;
}

int kb_kv_parse_time(const char *s, size_t len, int64_t ref, int64_t *out)
{
    tm_parts t = {-1, 0, 0, -1, 0, 0, 0, -1, 0, 0};
    size_t i = 0, nd = 0;

    while (len > 0 && is_space(s[len - 1]))
        len--;
    while (i < len && is_space(s[i]))
        i++;
    s += i;
    len -= i;
    if (len == 0)
        return KB_EPARSE;
    while (nd < len && is_digit(s[nd]))
        nd++;
    if (nd >= 9 && (nd == len || s[nd] == '.')) {
        /* seconds (9-10 digits) or milliseconds (13), within int64 ns */
        uint64_t v;
        if ((nd > 10 && nd != 13) || kb_parse_u64(s, nd, &v) != KB_OK)
            return KB_EPARSE;
        if ((nd == 13 ? v / 1000 : v) > UINT64_C(9223372035))
            return KB_EPARSE;
        return kb_time_parse_epoch(s, len, out);
    }
    if (nd == len)
        return KB_EPARSE;
    if (nd == 4 && s[4] == '-') {
        int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        if (y < KV_YEAR_MIN || y > KV_YEAR_MAX)
            return KB_EPARSE;
        return kb_time_parse_iso8601(s, len, out);
    }

    for (i = 0; i < len;) {
        size_t n, w = 0;
        if (is_space(s[i]) || s[i] == ',') {
            i++;
            continue;
        }
        if (is_digit(s[i])) {
            if (t.h < 0 && (n = clock_time(s + i, len - i, &t)) > 0) {
                i += n;
                continue;
            }
            int v;
            n = digits(s + i, len - i, 5, &v);
            if (n == 4 && t.y < 0)
                t.y = v;
            else if (n <= 2 && t.d == 0)
                t.d = v;
            else
                return KB_EPARSE;
            i += n;
            if (i < len && !is_space(s[i]) && s[i] != ',')
                return KB_EPARSE;
            continue;
        }
        while (i + w < len && is_alpha(s[i + w]))
            w++;
        if (w >= 3 && t.mon == 0 && kb_month_from_abbr(s + i, 3)) {
            t.mon = kb_month_from_abbr(s + i, 3);
            i += w;
            if (i < len && s[i] == '.')
                i++;
            continue;
        }
        if (w == 2 && t.h >= 0 && (kb_str_ieqz(s + i, 2, "AM") || kb_str_ieqz(s + i, 2, "PM"))) {
            t.pm = lower(s[i]) == 'p';
            i += 2;
            continue;
        }
        if (w == 2 && kb_str_ieqz(s + i, 2, "at")) {
            i += 2;
            continue;
        }
        if (t.h >= 0 && !t.has_off && (n = zone(s + i, len - i, &t.off)) > 0) {
            t.has_off = 1;
            i += n;
            continue;
        }
        return KB_EPARSE;
    }
    if (t.mon == 0 || t.d == 0 || t.h < 0)
        return KB_EPARSE;
    return finish(&t, ref, out);
}

int kb_kv_parse_time_fmt(const char *s, size_t len, const char *fmt, size_t flen, int64_t ref,
                         int64_t *out)
{
    tm_parts t = {-1, 0, 0, 0, 0, 0, 0, -1, 0, 0};
    size_t i = 0, f = 0;

    while (len > 0 && is_space(s[len - 1]))
        len--;
    while (f < flen) {
        char c = fmt[f];
        size_t run = 1, n;
        int v;

        if (c == '\'') {
            /* quoted literal; '' is a quote */
            f++;
            while (f < flen && fmt[f] != '\'') {
                if (i >= len || s[i] != fmt[f])
                    return KB_EPARSE;
                i++;
                f++;
            }
            f++;
            continue;
        }
        if (!is_alpha(c)) {
            if (c == ' ') {
                while (i < len && s[i] == ' ')
                    i++;
            } else {
                if (i >= len || s[i] != c)
                    return KB_EPARSE;
                i++;
            }
            f++;
            continue;
        }
        while (f + run < flen && fmt[f + run] == c)
            run++;
        f += run;
        switch (c) {
        case 'y':
        case 'u':
            n = digits(s + i, len - i, run == 2 ? 2 : 4, &v);
            if (n == 0)
                return KB_EPARSE;
            t.y = (n == 2) ? 2000 + v : v;
            break;
        case 'M':
        case 'L':
            if (run >= 3) {
                n = 0;
                while (i + n < len && is_alpha(s[i + n]))
                    n++;
                v = n >= 3 ? kb_month_from_abbr(s + i, 3) : 0;
                if (v == 0)
                    return KB_EPARSE;
            } else {
                n = digits(s + i, len - i, 2, &v);
            }
            t.mon = v;
            break;
        case 'd':
            n = digits(s + i, len - i, 2, &t.d);
            break;
        case 'H':
        case 'k':
        case 'K':
            n = digits(s + i, len - i, 2, &t.h);
            break;
        case 'h':
            n = digits(s + i, len - i, 2, &t.h);
            if (t.pm < 0)
                t.pm = 0;
            break;
        case 'm':
            n = digits(s + i, len - i, 2, &t.mi);
            break;
        case 's':
            n = digits(s + i, len - i, 2, &t.s);
            break;
        case 'S':
            n = fraction(s + i, len - i, &t.ns);
            break;
        case 'a':
            if (i + 2 > len || !(kb_str_ieqz(s + i, 2, "AM") || kb_str_ieqz(s + i, 2, "PM")))
                return KB_EPARSE;
            t.pm = lower(s[i]) == 'p';
            n = 2;
            break;
        case 'E':
            n = 0;
            while (i + n < len && is_alpha(s[i + n]))
                n++;
            break;
        case 'z':
        case 'Z':
        case 'X':
            n = zone(s + i, len - i, &t.off);
            break;
        default:
            return KB_EPARSE;
        }
        if (n == 0)
            return KB_EPARSE;
        i += n;
    }
    if (i != len || t.mon == 0 || t.d == 0)
        return KB_EPARSE;
    return finish(&t, ref, out);
}

/* ---- canonical mapping ---------------------------------------------------- */

/* kb_kv_find by id: from the first field of the name (the event's field
 * index, kb_event_find), or from `from` if that is before it. */
static int find_id(const kb_event *ev, uint32_t from, kb_fid id)
{
    int first;

    if (id == KB_FID_NONE || (first = kb_event_find(ev, id)) < 0)
        return -1;
    for (uint32_t i = (uint32_t)first > from ? (uint32_t)first : from; i < ev->nfields; i++)
        if (ev->fields[i].name == id && ev->fields[i].len > 0)
            return (int)i;
    return -1;
}

int kb_kv_find(const kb_event *ev, uint32_t from, const char *name)
{
    return find_id(ev, from, kb_kv_name_id(ev->names, name, strlen(name), 0));
}

int kb_kv_find_static(const kb_event *ev, uint32_t from, const char *name)
{
    return find_id(ev, from, static_id(ev->names, name));
}

/* The ids of a kb_kv_map table's keys, resolved once per names table
 * (tables are static; a thread keeps a few, CEF's and LEEF's). */
#define ROWS_MAX 48
#define ROWS_TABLES 4

static _Thread_local struct rows_ids {
    const kb_kv_map *rows;
    uint64_t uid;
    kb_fid ids[ROWS_MAX][6];
} rows_cache[ROWS_TABLES];

static const struct rows_ids *rows_ids(kb_names *t, const kb_kv_map *rows)
{
    uint64_t uid = kb_names_uid(t);
    struct rows_ids *c = &rows_cache[((uintptr_t)rows >> 4) % ROWS_TABLES];
    size_t r;

    if (c->rows == rows && c->uid == uid)
        return c;
    for (r = 0; rows[r].canon >= 0; r++) {
        if (r == ROWS_MAX)
            return NULL;
        for (int k = 0; k < 6; k++) {
            const char *key = rows[r].keys[k];
            c->ids[r][k] = key ? kb_names_intern(t, key, strlen(key)) : KB_FID_NONE;
        }
    }
    c->rows = rows;
    c->uid = uid;
    return c;
}

static int find_any(const kb_event *ev, uint32_t from, const char *const *keys)
{
    for (; keys && *keys; keys++) {
        int idx = kb_kv_find_static(ev, from, *keys);
        if (idx >= 0)
            return idx;
    }
    return -1;
}

/* The host of a URL: after "scheme://" and any "user@", up to '/', '?',
 * '#' or ':' (brackets of an IPv6 literal dropped). */
static kb_str url_host(const char *p, size_t len)
{
    const char *s = kb_memmem(p, len, "://", 3);
    const char *e, *at;
    kb_str h = {NULL, 0};

    if (s) {
        for (const char *q = p; q < s; q++)
            if (!is_alpha(*q) && !is_digit(*q) && *q != '+' && *q != '-' && *q != '.')
                return h;
        s += 3;
    } else {
        s = p;
    }
    e = s;
    while (e < p + len && *e != '/' && *e != '?' && *e != '#')
        e++;
    at = memchr(s, '@', (size_t)(e - s));
    if (at)
        s = at + 1;
    if (s < e && *s == '[') {
        const char *rb = memchr(s, ']', (size_t)(e - s));
        if (!rb)
            return h;
        h.p = s + 1;
        h.len = (size_t)(rb - s - 1);
        return h;
    }
    for (const char *q = s; q < e; q++) {
        if (*q == ':') {
            e = q;
            break;
        }
        if (is_space(*q) || *q == '"' || *q == '\'' || *q == '\\')
            return h;
    }
    h.p = s;
    h.len = (size_t)(e - s);
    return h;
}

/* ev field value lower-cased: the field itself if it is lower case already,
 * else a copy in the arena. Returns the canonical index or a KB_E* code. */
static int set_lower(kb_event *ev, int c, int idx)
{
    const kb_field *f = &ev->fields[idx];
    char *buf;
    size_t i;

    for (i = 0; i < f->len; i++)
        if (f->val[i] >= 'A' && f->val[i] <= 'Z')
            break;
    if (i == f->len) {
        kb_event_alias(ev, c, idx);
        return idx;
    }
    buf = kb_arena_alloc(ev->arena, f->len);
    if (!buf)
        return KB_ENOMEM;
    for (i = 0; i < f->len; i++)
        buf[i] = lower(f->val[i]);
    return kb_event_set(ev, c, KB_V_STR, buf, f->len);
}

static int map_transport(kb_event *ev, int idx)
{
    const kb_field *f = &ev->fields[idx];
    static const struct {
        const char *num, *name;
    } iana[] = {{"1", "icmp"}, {"6", "tcp"}, {"17", "udp"}, {"58", "ipv6-icmp"}, {NULL, NULL}};

    for (int i = 0; iana[i].num; i++)
        if (kb_str_eqz(f->val, f->len, iana[i].num))
            return kb_event_set(ev, KB_F_NETWORK_TRANSPORT, KB_V_STR, iana[i].name,
                                strlen(iana[i].name));
    return set_lower(ev, KB_F_NETWORK_TRANSPORT, idx);
}

static int map_outcome(kb_event *ev, int idx)
{
    const kb_field *f = &ev->fields[idx];
    const char *v = f->val;
    size_t n = f->len;
    static const char *const ok[] = {"success", "succeeded", "successful", "allowed", NULL};
    static const char *const bad[] = {"failure", "failed", "fail", "denied", NULL};

    if (n > 0 && v[0] == '/') { /* ArcSight writes "/Success", "/Failure" */
        v++;
        n--;
    }
    for (int i = 0; ok[i]; i++)
        if (kb_str_ieqz(v, n, ok[i]))
            return kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, "success", 7);
    for (int i = 0; bad[i]; i++)
        if (kb_str_ieqz(v, n, bad[i]))
            return kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, "failure", 7);
    if (kb_str_ieqz(v, n, "unknown"))
        return kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, "unknown", 7);
    return 0; /* not an ECS outcome: only the raw field */
}

static int is_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(p[i]) && !((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f'))
            return 0;
    return 1;
}

int kb_kv_apply(kb_event *ev, uint32_t from, const kb_kv_map *rows,
                const char *const *transport_keys,
                const char *const *protocol_keys, const char *const *outcome_keys,
                const char *const *hash_keys)
{
    int idx, rc;

    const struct rows_ids *ri = rows_ids(ev->names, rows);

    for (size_t r = 0; rows[r].canon >= 0; r++) {
        if (ri) {
            idx = -1;
            for (int k = 0; k < 6 && rows[r].keys[k] && idx < 0; k++)
                idx = find_id(ev, from, ri->ids[r][k]);
        } else {
            idx = find_any(ev, from, rows[r].keys);
        }
        if (idx >= 0)
            kb_event_alias(ev, rows[r].canon, idx);
    }
    if ((idx = find_any(ev, from, transport_keys)) >= 0 && (rc = map_transport(ev, idx)) < 0)
        return rc;
    if ((idx = find_any(ev, from, protocol_keys)) >= 0 &&
        (rc = set_lower(ev, KB_F_NETWORK_PROTOCOL, idx)) < 0)
        return rc;
    if ((idx = find_any(ev, from, outcome_keys)) >= 0 && (rc = map_outcome(ev, idx)) < 0)
        return rc;
    for (; hash_keys && *hash_keys; hash_keys++) {
        idx = kb_kv_find_static(ev, from, *hash_keys);
        if (idx < 0 || !is_hex(ev->fields[idx].val, ev->fields[idx].len))
            continue;
        switch (ev->fields[idx].len) {
        case 32:
            kb_event_alias(ev, KB_F_FILE_HASH_MD5, idx);
            break;
        case 40:
            kb_event_alias(ev, KB_F_FILE_HASH_SHA1, idx);
            break;
        case 64:
            kb_event_alias(ev, KB_F_FILE_HASH_SHA256, idx);
            break;
        }
    }
    const kb_field *url = kb_event_canon(ev, KB_F_URL_FULL);
    if (url) {
        kb_str h = url_host(url->val, url->len);
        if (h.len > 0 && (rc = kb_event_set(ev, KB_F_URL_DOMAIN, KB_V_STR, h.p, h.len)) < 0)
            return rc;
    }
    return KB_OK;
}

int kb_kv_severity(kb_event *ev, const char *s, size_t len)
{
    static const struct {
        const char *word, *num;
    } words[] = {{"Unknown", NULL}, {"Low", "3"},         {"Medium", "6"},
                 {"High", "8"},     {"Very-High", "10"},  {"VeryHigh", "10"},
                 {"Very High", "10"}, {"Critical", "10"}, {NULL, NULL}};
    size_t n = 0;
    int v = 0;
    int rc;

    while (len > 0 && is_space(s[0])) {
        s++;
        len--;
    }
    while (n < len && n < 3 && is_digit(s[n]))
        v = v * 10 + (s[n++] - '0');
    if (n > 0 && n < 3 && v <= 10 && (n == len || !is_digit(s[n]))) {
        rc = kb_event_set(ev, KB_F_EVENT_SEVERITY, KB_V_INT, s, n);
        return rc < 0 ? rc : KB_OK;
    }
    for (int i = 0; words[i].word; i++) {
        if (kb_str_ieqz(s, len, words[i].word)) {
            if (!words[i].num)
                return KB_OK;
            rc = kb_event_set(ev, KB_F_EVENT_SEVERITY, KB_V_INT, words[i].num,
                              strlen(words[i].num));
            return rc < 0 ? rc : KB_OK;
        }
    }
    return KB_OK;
}

int kb_kv_observer(kb_event *ev, kb_str vendor, kb_str product)
{
    char *buf;
    size_t n = 0;
    int rc;

    if (vendor.len == 0 && product.len == 0)
        return KB_OK;
    if (vendor.len == 0 || product.len == 0) {
        kb_str one = vendor.len ? vendor : product;
        rc = kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, one.p, one.len);
        return rc < 0 ? rc : KB_OK;
    }
    buf = kb_arena_alloc(ev->arena, vendor.len + 1 + product.len);
    if (!buf)
        return KB_ENOMEM;
    memcpy(buf, vendor.p, vendor.len);
    n = vendor.len;
    buf[n++] = ' ';
    memcpy(buf + n, product.p, product.len);
    n += product.len;
    rc = kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, buf, n);
    return rc < 0 ? rc : KB_OK;
}

const char *kb_kv_category(kb_str product, kb_str cat, kb_str name)
{
    /* Lower case; the first word of the table found in any of the three
     * texts wins. */
    static const struct {
        const char *word, *category;
        size_t len;
    } words[] = {
        {"firewall", "firewall", 8},       {"proxy", "proxy", 5},
        {"anti-malware", "antivirus", 12}, {"antimalware", "antivirus", 11},
        {"antivirus", "antivirus", 9},     {"anti-virus", "antivirus", 10},
    };
    const size_t nw = sizeof words / sizeof words[0];
    const kb_str texts[3] = {product, cat, name};
    size_t best = nw;

    /* One pass over each text: only the letters that start a word ('f',
     * 'p', 'a', either case) are tried against the table. */
    for (int t = 0; t < 3; t++) {
        const char *p = texts[t].p;
        size_t n = texts[t].len;
        for (size_t i = 0; i < n && best > 0; i++) {
            char c = (char)(p[i] | 0x20);
            if (c != 'f' && c != 'p' && c != 'a')
                continue;
            for (size_t w = 0; w < best; w++)
                if (words[w].word[0] == c && words[w].len <= n - i &&
                    kb_str_ieqz(p + i, words[w].len, words[w].word))
                    best = w;
        }
    }
    return best < nw ? words[best].category : NULL;
}

/* ---- syslog prefix -------------------------------------------------------- */

static void drop_past(kb_str *s, const char *end)
{
    if (s->p && s->p + s->len > end) {
        s->p = NULL;
        s->len = 0;
    }
}

int kb_kv_syslog_prefix(kb_decode_ctx *ctx, const char *line, size_t len, size_t body,
                        kb_event *ev)
{
    kb_syslog_hdr h;
    size_t e = body, w = 0;
    int64_t t;
    int rc;

    while (e > 0 && is_space(line[e - 1]))
        e--;
    if (e == 0)
        return KB_OK;
    if (kb_syslog_parse(ctx, line, len, &h) == KB_OK) {
        ctx->err = NULL;
        drop_past(&h.host, line + e);
        drop_past(&h.app, line + e);
        drop_past(&h.pid, line + e);
        drop_past(&h.msgid, line + e);
        drop_past(&h.sd, line + e);
        rc = kb_syslog_fill(ctx, &h, ev);
        return rc < 0 ? rc : KB_OK;
    }
    ctx->err = NULL;
    rc = kb_event_add_named(ev, "syslog.header", 13, KB_V_STR, line, e);
    if (rc < 0)
        return rc;
    while (w < e && line[w] != ' ')
        w++;
    if (kb_kv_parse_time(line, w, ctx->ref_time, &t) == KB_OK) {
        rc = kb_event_add_named(ev, "syslog.timestamp", 16, KB_V_STR, line, w);
        if (rc < 0)
            return rc;
        ev->ts = t;
        kb_event_alias(ev, KB_F_TIMESTAMP, rc);
    }
    return KB_OK;
}

const char *kb_kv_find_marker(const char *line, size_t len, size_t limit, const char *tag,
                              size_t tlen)
{
    size_t n = len < limit ? len : limit, off = 0;

    while (off < n) {
        const char *m = kb_memmem(line + off, n - off, tag, tlen);
        size_t j;
        if (!m)
            return NULL;
        j = (size_t)(m - line) + tlen;
        while (j < len && j < (size_t)(m - line) + tlen + 4 && line[j] == ' ')
            j++;
        if ((m == line || m[-1] == ' ' || m[-1] == '>') && j < len && line[j] >= '0' &&
            line[j] <= '9')
            return m;
        off = (size_t)(m - line) + tlen;
    }
    return NULL;
}
