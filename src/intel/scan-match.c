/* Indicator matching for `koban scan` (see scan-match.h): the matcher's
 * public lookups behind per-kind switches, a hash prefilter for the string
 * kinds and field ids resolved once. */
#include <string.h>

#include "intel/intel-int.h"
#include "intel/scan-match.h"
#include "store/store.h"

/* Prefilter classes (hash seeds). */
enum { C_DOMAIN = 1, C_WILD, C_URLHOST, C_EMAIL, C_FILE, C_UA, C_JA3, C_JA4 };

#define KIND(k) (1u << (k))
#define MAX_VALUE 4096

typedef struct raw_field {
    const char *name;
    int cls; /* KB_IOC_* class of lookup */
} raw_field;

/* Raw (non-canonical) fields read when their kind has indicators. */
static const raw_field raw_fields[] = {
    {"tls.sni", KB_IOC_DOMAIN},
    {"server_name", KB_IOC_DOMAIN},
    {"tls.server.name", KB_IOC_DOMAIN},
    {"email.from.address", KB_IOC_EMAIL},
    {"email.to.address", KB_IOC_EMAIL},
    {"email.sender.address", KB_IOC_EMAIL},
    {"tls.ja3.hash", KB_IOC_JA3},
    {"ja3", KB_IOC_JA3},
    {"tls.client.ja3", KB_IOC_JA3},
    {"tls.ja4", KB_IOC_JA4},
    {"ja4", KB_IOC_JA4},
    {"tls.client.ja4", KB_IOC_JA4},
};
#define NRAW (sizeof raw_fields / sizeof raw_fields[0])

/* Groups of canonical fields, read when their kinds have indicators. */
enum { G_IP = 1, G_URL = 2, G_DOMAIN = 4, G_DIGEST = 8, G_FILE = 16, G_UA = 32, G_EMAIL = 64,
       G_RAW = 128 };

struct kb_intel_scan {
    kb_intel_matcher *m;
    /* G_*: the groups of canonical fields whose kinds have indicators,
     * decided at seal */
    unsigned groups;
    unsigned kinds; /* KIND(k) for every kind with an indicator */
    int has_wild;
    uint64_t indicators;
    /* the prefilter: open addressing over non-zero 64-bit hashes */
    uint64_t *set;
    size_t set_mask;
    uint64_t *pend; /* hashes collected before seal */
    size_t npend, cpend;
    /* raw field id - want_lo -> index in raw_fields + 1 (0: not read) */
    uint8_t *want;
    kb_fid want_lo;
    uint32_t want_span; /* ids want_lo .. want_lo + want_span - 1 */
    int sealed;
};

/* A hash of the bytes with bit 0x20 set in each (ASCII letters folded to
 * lower case; a few other bytes fold together too, which only lets more
 * candidates through the prefilter, never fewer), eight bytes at a time,
 * seeded by class; never 0. Both sides of the prefilter (indicators at
 * add, event values per event) use it. */
static uint64_t lhash(int cls, const char *p, size_t n)
{
    const uint64_t fold = 0x2020202020202020ull, k = 0x9e3779b97f4a7c15ull;
    uint64_t h = ((uint64_t)cls * k) ^ (n * 0xff51afd7ed558ccdull);
    uint64_t w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ (w | fold)) * k;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ (w | (fold >> (8 * (8 - n))))) * k;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h ? h : 1;
}

static int set_has(const kb_intel_scan *s, uint64_t h)
{
    if (!s->set)
        return 0;
    for (size_t j = (size_t)(h * 0x9e3779b97f4a7c15ull >> 20) & s->set_mask; s->set[j];
         j = (j + 1) & s->set_mask)
        if (s->set[j] == h)
            return 1;
    return 0;
}

static int pend_add(kb_intel_scan *s, uint64_t h)
{
    if (s->npend == s->cpend && /* per value scanned: no call until full */
        kb_grow((void **)&s->pend, &s->cpend, s->npend + 1, sizeof *s->pend, 1024))
        return KB_ENOMEM;
    s->pend[s->npend++] = h;
    return KB_OK;
}

/* The bytes that end or split a URL's authority. */
static const uint8_t url_special[256] = {['/'] = 1, ['?'] = 1, ['#'] = 1,
                                         ['@'] = 1, [':'] = 1, [']'] = 1};

/* The host of a URL: after "scheme://" and any userinfo, before the port,
 * path, query or fragment, without trailing dots. Returns 0 when there is
 * none. */
static int url_host(const char *v, size_t len, const char **host, size_t *hlen)
{
    const char *end = v + len, *p, *q, *colon = NULL;
    const char *sep = memchr(v, ':', len);
    if (!sep || (size_t)(end - sep) < 3 || sep[1] != '/' || sep[2] != '/')
        return 0;
    p = sep + 3;
    for (q = p; q < end; q++) { /* one pass: userinfo, port, end of the authority */
        unsigned char c = (unsigned char)*q;
        if (!url_special[c]) /* most bytes: one table look-up */
            continue;
        if (c == '/' || c == '?' || c == '#')
            break;
        if (c == '@') {
            p = q + 1;
            colon = NULL;
        } else if (c == ':') {
            if (!colon)
                colon = q;
        } else { /* ']' */
            colon = NULL; /* [v6]: the colons inside are not a port */
        }
    }
    if (p < q && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(q - p));
        q = rb ? rb + 1 : q;
    } else if (colon) {
        q = colon;
    }
    while (q > p && q[-1] == '.')
        q--;
    if (q == p)
        return 0;
    *host = p;
    *hlen = (size_t)(q - p);
    return 1;
}

kb_intel_scan *kb_intel_scan_new(int64_t now)
{
    kb_intel_scan *s = kb_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (!(s->m = kb_intel_matcher_new(now))) {
        kb_free(s);
        return NULL;
    }
    return s;
}

void kb_intel_scan_free(kb_intel_scan *s)
{
    if (!s)
        return;
    kb_intel_matcher_free(s->m);
    kb_free(s->set);
    kb_free(s->pend);
    kb_free(s->want);
    kb_free(s);
}

int kb_intel_scan_add(kb_intel_scan *s, const kb_indicator *ind)
{
    const char *v = ind->value;
    size_t len = v ? strlen(v) : 0;
    uint64_t h = 0;
    int rc;
    if (s->sealed)
        return KB_EINVAL;
    if ((rc = kb_intel_matcher_add(s->m, ind)) != KB_OK)
        return rc;
    s->indicators++;
    if (ind->kind < 0 || ind->kind >= KB_IOC_COUNT)
        return KB_OK;
    s->kinds |= KIND(ind->kind);
    switch (ind->kind) {
    case KB_IOC_DOMAIN:
        if (len > 2 && v[0] == '*' && v[1] == '.') {
            s->has_wild = 1;
            h = lhash(C_WILD, v + 2, len - 2);
        } else {
            h = lhash(C_DOMAIN, v, len);
        }
        break;
    case KB_IOC_URL: {
        const char *host;
        size_t hl;
        if (url_host(v, len, &host, &hl))
            h = lhash(C_URLHOST, host, hl);
        else
            h = lhash(C_URLHOST, "", 0); /* never met; the URL cannot hit anyway */
        break;
    }
    case KB_IOC_EMAIL:
        h = lhash(C_EMAIL, v, len);
        break;
    case KB_IOC_FILENAME:
        h = lhash(C_FILE, v, len);
        break;
    case KB_IOC_UA:
        h = lhash(C_UA, v, len);
        break;
    case KB_IOC_JA3:
        h = lhash(C_JA3, v, len);
        break;
    case KB_IOC_JA4:
        h = lhash(C_JA4, v, len);
        break;
    default:
        return KB_OK;
    }
    return pend_add(s, h);
}

int kb_intel_scan_allow(kb_intel_scan *s, const char *v, size_t len, const char **reason)
{
    return kb_intel_matcher_allow(s->m, v, len, reason);
}

int kb_intel_scan_seal(kb_intel_scan *s, kb_names *names)
{
    size_t slots = 16;
    kb_fid ids[NRAW];
    kb_fid maxid = 0, minid = KB_FID_NONE;
    int rc;
    if (s->sealed)
        return KB_OK;
    if ((rc = kb_intel_matcher_seal(s->m)) != KB_OK)
        return rc;
    if (s->npend) {
        while (slots < 2 * s->npend)
            slots *= 2;
        if (!(s->set = kb_calloc(slots, sizeof *s->set)))
            return KB_ENOMEM;
        s->set_mask = slots - 1;
        for (size_t i = 0; i < s->npend; i++) {
            uint64_t h = s->pend[i];
            size_t j = (size_t)(h * 0x9e3779b97f4a7c15ull >> 20) & s->set_mask;
            while (s->set[j] && s->set[j] != h)
                j = (j + 1) & s->set_mask;
            s->set[j] = h;
        }
    }
    kb_free(s->pend);
    s->pend = NULL;
    s->npend = s->cpend = 0;
    /* raw fields: only those of kinds that have indicators */
    for (size_t i = 0; i < NRAW; i++) {
        ids[i] = KB_FID_NONE;
        if (names && (s->kinds & KIND(raw_fields[i].cls))) {
            ids[i] = kb_names_intern(names, raw_fields[i].name, strlen(raw_fields[i].name));
            if (ids[i] != KB_FID_NONE && ids[i] + 1 > maxid)
                maxid = ids[i] + 1;
            if (ids[i] != KB_FID_NONE && ids[i] < minid)
                minid = ids[i];
        }
    }
    if (maxid) {
        if (!(s->want = kb_calloc(maxid - minid, 1)))
            return KB_ENOMEM;
        s->want_lo = minid;
        s->want_span = maxid - minid;
        for (size_t i = 0; i < NRAW; i++)
            if (ids[i] != KB_FID_NONE)
                s->want[ids[i] - minid] = (uint8_t)(i + 1);
    }
    if (s->kinds & (KIND(KB_IOC_IP) | KIND(KB_IOC_CIDR)))
        s->groups |= G_IP;
    if (s->kinds & KIND(KB_IOC_URL))
        s->groups |= G_URL;
    if (s->kinds & KIND(KB_IOC_DOMAIN))
        s->groups |= G_DOMAIN;
    if (s->kinds & (KIND(KB_IOC_MD5) | KIND(KB_IOC_SHA1) | KIND(KB_IOC_SHA256)))
        s->groups |= G_DIGEST;
    if (s->kinds & KIND(KB_IOC_FILENAME))
        s->groups |= G_FILE;
    if (s->kinds & KIND(KB_IOC_UA))
        s->groups |= G_UA;
    if (s->kinds & KIND(KB_IOC_EMAIL))
        s->groups |= G_EMAIL;
    if (s->want_span) /* raw fields to read (JA3/JA4 kinds have only those) */
        s->groups |= G_RAW;
    s->sealed = 1;
    return KB_OK;
}

static int from_store_add(void *ud, const kb_indicator *ind, int64_t added)
{
    (void)added;
    int rc = kb_intel_scan_add(ud, ind);
    return rc == KB_EINVAL ? 0 : rc; /* a stored value that no longer parses: skipped */
}

kb_intel_scan *kb_intel_scan_from_store(struct kb_store *st, int64_t now,
                                        const char *const *allow, size_t nallow,
                                        kb_names *names, char *errbuf, size_t errsize)
{
    kb_intel_scan *s = kb_intel_scan_new(now);
    int rc;
    if (!s) {
        snprintf(errbuf, errsize, "%s", kb_strerror(KB_ENOMEM));
        return NULL;
    }
    /* the store is read, never modified: without intel tables there is
     * nothing to load */
    if ((rc = kb_intel_store_ready(st)) < 0 ||
        (rc == 1 &&
         (rc = kb_intel_store_each(st, NULL, KB_TIME_NONE, from_store_add, s)) != KB_OK)) {
        snprintf(errbuf, errsize, "%s", rc == KB_EIO ? kb_store_errmsg(st) : kb_strerror(rc));
        kb_intel_scan_free(s);
        return NULL;
    }
    for (size_t i = 0; i < nallow; i++) {
        const char *reason;
        if (kb_intel_scan_allow(s, allow[i], strlen(allow[i]), &reason) != KB_OK) {
            snprintf(errbuf, errsize, "allowlist '%s': %s", allow[i], reason);
            kb_intel_scan_free(s);
            return NULL;
        }
    }
    if ((rc = kb_intel_scan_seal(s, names)) != KB_OK) {
        snprintf(errbuf, errsize, "%s", kb_strerror(rc));
        kb_intel_scan_free(s);
        return NULL;
    }
    return s;
}

uint64_t kb_intel_scan_indicators(const kb_intel_scan *s)
{
    return s->indicators;
}

const kb_intel_matcher *kb_intel_scan_matcher(const kb_intel_scan *s)
{
    return s->m;
}

/* ---- per event ------------------------------------------------------------ */

typedef struct seen {
    int cls;
    const char *v;
    size_t len;
} seen;

typedef struct mctx {
    const kb_intel_scan *s;
    kb_intel_hit_fn fn;
    void *ud;
    kb_intel_match_counts *c;
    int field;
    const char *fname;
    const char *val;
    size_t len;
    int stop;
    int ndone;
    int64_t ts; /* the event's @timestamp: expiry by event time */
    seen done[16];
} mctx;

/* Hands a hit on, naming the event's field. */
static int relay(void *ud, const kb_intel_hit *h)
{
    mctx *x = ud;
    kb_intel_hit o = *h;
    o.field = x->field;
    o.fname = x->fname;
    o.val = x->val;
    o.len = x->len;
    if (x->fn && (x->stop = x->fn(x->ud, &o)) != 0)
        return x->stop;
    return 0;
}

static void account(mctx *x, int n)
{
    x->c->lookups++;
    if (n < 0)
        x->c->suppressed++;
    else
        x->c->hits += (uint64_t)n;
}

/* De-duplication of the values of one class within an event ("a value
 * found in two fields of the same class hits once"). Only values that may
 * hit get here: whether a value may hit depends on the value alone, so a
 * repeated value that cannot hit costs nothing and one that may is decided
 * once, under its first field, as kb_intel_match does. */
static int once(mctx *x, int cls, const char *v, size_t len)
{
    for (int i = 0; i < x->ndone; i++)
        if (x->done[i].cls == cls && x->done[i].len == len && memcmp(x->done[i].v, v, len) == 0)
            return 0;
    if (x->ndone < (int)(sizeof x->done / sizeof x->done[0]))
        x->done[x->ndone++] = (seen){cls, v, len};
    return 1;
}

/* Dotted-quad IPv4, strictly (no leading zeros past the first digit, each
 * octet <= 255). Returns 1 and *a4 (host byte order) on success. The value is copied
 * behind a NUL sentinel first, so the octets are read without bounds
 * checks (the sentinel is neither a digit nor a dot). */
static inline int parse_v4(const char *p, size_t n, uint32_t *a4)
{
    unsigned char b[16];
    const unsigned char *q = b;
    uint32_t a = 0;
    if (n - 7 > 8) /* 7 ..15 bytes */
        return 0;
    memcpy(b, p, 7); /* [0, 7) and [n - 8, n): all of it, in fixed-size copies */
    if (n > 7)
        memcpy(b + n - 8, p + n - 8, 8);
    b[n] = 0;
    for (int o = 0; o < 4; o++) {
        unsigned v = (unsigned)q[0] - '0', d;
        if (v > 9)
            return 0;
        if ((d = (unsigned)q[1] - '0') <= 9) {
            if (v == 0)
                return 0;
            v = v * 10 + d;
            if ((d = (unsigned)q[2] - '0') <= 9) {
                v = v * 10 + d;
                if (v > 255)
                    return 0;
                q++;
            }
            q++;
        }
        q++;
        a = a << 8 | v;
        if (o < 3 && *q++ != '.')
            return 0;
    }
    *a4 = a;
    return q == b + n;
}

/* The exact answer for a candidate (a value that may hit, said the
 * prefilter or a single lookup): the reference kb_intel_match over an
 * event of this one value in canonical slot c, so that a hit here is
 * exactly a hit there (its lower-casing, normalisation and leniency
 * included). (cls, key, klen) is the value's de-duplication key; field,
 * fname, f name the event's field for the hit. Candidates are rare; this
 * is not the hot path. */
static void exact(mctx *x, int cls, const char *key, size_t klen, int c, int field,
                  const char *fname, const kb_field *f)
{
    kb_event ev;
    kb_field one;
    kb_intel_match_counts n = {0, 0, 0};
    if (x->stop || !once(x, cls, key, klen))
        return;
    x->field = field;
    x->fname = fname;
    x->val = f->val;
    x->len = f->len;
    memset(&ev, 0, sizeof ev);
    memset(ev.canon, 0xff, sizeof ev.canon);
    one.name = (kb_fid)c;
    one.type = KB_V_STR;
    one.flags = 0;
    one.elem = 0;
    one.len = f->len;
    one.val = f->val;
    ev.fields = &one;
    ev.nfields = ev.cap = 1;
    ev.canon[c] = 0;
    ev.ts = x->ts;
    kb_intel_match(x->s->m, &ev, relay, x, &n);
    x->c->lookups++;
    x->c->hits += n.hits;
    x->c->suppressed += n.suppressed;
}

/* A field worth looking at: a non-empty scalar of at most MAX_VALUE bytes. */
static inline int usable(const kb_field *f)
{
    return f->len - 1u < MAX_VALUE &&
           !((1u << f->type) & (1u << KB_V_NULL | 1u << KB_V_ARRAY | 1u << KB_V_OBJECT));
}

/* Calls look(x, ..., f) when canonical slot c is set. */
#define SLOT(ev, c, call)                                   \
    do {                                                    \
        uint16_t i_ = (ev)->canon[c];                       \
        if (i_ != KB_CANON_NONE) {                          \
            const kb_field *f = &(ev)->fields[i_];          \
            call;                                           \
        }                                                   \
    } while (0)

static inline __attribute__((always_inline)) void look_ip(mctx *x, int field, const char *fname, const kb_field *f)
{
    uint8_t a[16];
    uint32_t a4;
    int n;
    if (!usable(f))
        return;
    if (parse_v4(f->val, f->len, &a4))
        n = kb_intel_ip4_may(x->s->m, a4);
    else if (memchr(f->val, ':', f->len) && kb_intel_parse_ip(f->val, f->len, a))
        n = kb_intel_lookup_ip(x->s->m, a, 1, NULL, NULL);
    else
        return;
    if (n == 0) /* the common case: no indicator for this address */
        x->c->lookups++;
    else /* a hit or an allowlisted one: the reference decides, at the event's time */
        exact(x, KB_IOC_IP, f->val, f->len, field, field, fname, f);
}

static inline void look_domain(mctx *x, int field, const char *fname, const kb_field *f)
{
    const kb_intel_scan *s = x->s;
    const char *v;
    size_t n;
    int cand;
    if (!usable(f))
        return;
    v = f->val;
    n = f->len;
    if (v[n - 1] == '.')
        n--;
    if (n == 0 || n >= 256)
        return;
    cand = set_has(s, lhash(C_DOMAIN, v, n));
    if (!cand && s->has_wild) {
        for (size_t i = 0; i < n && !cand;) {
            cand = set_has(s, lhash(C_WILD, v + i, n - i));
            const char *dot = memchr(v + i, '.', n - i);
            if (!dot)
                break;
            i = (size_t)(dot - v) + 1;
        }
    }
    if (!cand) {
        x->c->lookups++; /* answered by the prefilter */
        return;
    }
    exact(x, KB_IOC_DOMAIN, f->val, f->len, KB_F_DNS_QUESTION_NAME, field, fname, f);
}

static inline void look_url(mctx *x, const kb_field *f)
{
    const char *host;
    size_t hl;
    if (!usable(f))
        return;
    if (!url_host(f->val, f->len, &host, &hl) || !set_has(x->s, lhash(C_URLHOST, host, hl))) {
        x->c->lookups++; /* answered by the prefilter */
        return;
    }
    exact(x, KB_IOC_URL, f->val, f->len, KB_F_URL_FULL, KB_F_URL_FULL, "url.full", f);
}

static inline void look_digest(mctx *x, int field, const char *fname, const kb_field *f)
{
    size_t len;
    int k;
    if (!usable(f))
        return;
    len = f->len;
    k = len == 32 ? KB_IOC_MD5 : len == 40 ? KB_IOC_SHA1 : len == 64 ? KB_IOC_SHA256 : -1;
    if (k < 0 || !(x->s->kinds & KIND(k)))
        return;
    if (kb_intel_lookup_hash(x->s->m, f->val, len, NULL, NULL) == 0)
        x->c->lookups++;
    else
        exact(x, KB_IOC_MD5, f->val, len, KB_F_FILE_HASH_MD5, field, fname, f);
}

/* File names (the last component of a path), e-mail addresses, user
 * agents, JA3/JA4: the prefilter's hash of the value decides. */
static inline void look_str(mctx *x, int cls, int field, const char *fname, const kb_field *f)
{
    const char *v;
    size_t len;
    int c;
    if (!usable(f))
        return;
    v = f->val;
    len = f->len;
    if (cls == KB_IOC_FILENAME) { /* basename of a path */
        size_t b = kb_path_base(v, len);
        v += b;
        len -= b;
        if (!len)
            return;
    }
    c = cls == KB_IOC_FILENAME ? C_FILE
        : cls == KB_IOC_EMAIL  ? C_EMAIL
        : cls == KB_IOC_UA     ? C_UA
        : cls == KB_IOC_JA3    ? C_JA3
                               : C_JA4;
    if (!set_has(x->s, lhash(c, v, len))) {
        x->c->lookups++; /* answered by the prefilter */
        return;
    }
    if (cls == KB_IOC_JA3 || cls == KB_IOC_JA4) { /* raw fields only: no canonical slot */
        if (x->stop || !once(x, cls, v, len))
            return;
        x->field = field;
        x->fname = fname;
        x->val = f->val;
        x->len = f->len;
        account(x, kb_intel_lookup(x->s->m, cls, v, len, relay, x));
    } else {
        exact(x, cls, v, len,
              cls == KB_IOC_FILENAME ? KB_F_FILE_NAME
              : cls == KB_IOC_EMAIL  ? KB_F_USER_NAME
                                     : KB_F_USER_AGENT_ORIGINAL,
              field, fname, f);
    }
}

/* A raw field of class cls (see raw_fields). */
static void look_raw(mctx *x, int cls, const char *fname, const kb_field *f)
{
    if (cls == KB_IOC_DOMAIN)
        look_domain(x, -1, fname, f);
    else
        look_str(x, cls, -1, fname, f);
}

int kb_intel_scan_match(const kb_intel_scan *s, const kb_event *ev, kb_intel_hit_fn fn, void *ud,
                        kb_intel_match_counts *counts)
{
    kb_intel_match_counts dummy = {0};
    unsigned g;
    mctx x;

    if (!s->sealed)
        return KB_EINVAL;
    if (!(g = s->groups))
        return KB_OK;
    x.s = s;
    x.fn = fn;
    x.ud = ud;
    x.c = counts ? counts : &dummy;
    x.stop = 0;
    x.ndone = 0;
    x.ts = ev->ts;
    /* the canonical slots, read directly, in kb_intel_match's order (the
     * order of the hits) */
    if (g & G_IP) {
        SLOT(ev, KB_F_SOURCE_IP, look_ip(&x, KB_F_SOURCE_IP, "source.ip", f));
        SLOT(ev, KB_F_DESTINATION_IP, look_ip(&x, KB_F_DESTINATION_IP, "destination.ip", f));
        SLOT(ev, KB_F_HOST_IP, look_ip(&x, KB_F_HOST_IP, "host.ip", f));
        if (x.stop)
            return x.stop;
    }
    if (g & G_URL)
        SLOT(ev, KB_F_URL_FULL, look_url(&x, f));
    if (g & G_DOMAIN) {
        SLOT(ev, KB_F_URL_DOMAIN, look_domain(&x, KB_F_URL_DOMAIN, "url.domain", f));
        SLOT(ev, KB_F_DNS_QUESTION_NAME,
             look_domain(&x, KB_F_DNS_QUESTION_NAME, "dns.question.name", f));
    }
    if (x.stop)
        return x.stop;
    if (g & G_DIGEST) {
        SLOT(ev, KB_F_FILE_HASH_MD5, look_digest(&x, KB_F_FILE_HASH_MD5, "file.hash.md5", f));
        SLOT(ev, KB_F_FILE_HASH_SHA1, look_digest(&x, KB_F_FILE_HASH_SHA1, "file.hash.sha1", f));
        SLOT(ev, KB_F_FILE_HASH_SHA256,
             look_digest(&x, KB_F_FILE_HASH_SHA256, "file.hash.sha256", f));
        if (x.stop)
            return x.stop;
    }
    if (g & G_FILE) {
        SLOT(ev, KB_F_FILE_NAME, look_str(&x, KB_IOC_FILENAME, KB_F_FILE_NAME, "file.name", f));
        SLOT(ev, KB_F_FILE_PATH, look_str(&x, KB_IOC_FILENAME, KB_F_FILE_PATH, "file.path", f));
    }
    if (g & G_UA)
        SLOT(ev, KB_F_USER_AGENT_ORIGINAL,
             look_str(&x, KB_IOC_UA, KB_F_USER_AGENT_ORIGINAL, "user_agent.original", f));
    if (g & G_EMAIL)
        SLOT(ev, KB_F_USER_NAME,
             if (memchr(f->val, '@', f->len)) look_str(&x, KB_IOC_EMAIL, KB_F_USER_NAME,
                                                       "user.name", f));
    if (x.stop)
        return x.stop;
    if (s->want_span) {
        /* the raw fields: one pass comparing ids (interned at seal) */
        const kb_field *f = ev->fields, *end = ev->fields + ev->nfields;
        kb_fid lo = s->want_lo;
        uint32_t span = s->want_span;
        for (; f < end; f++) {
            uint8_t r;
            /* eight, then four names at a time: most events have none of
             * these */
            while (end - f >= 8 && f[0].name - lo >= span && f[1].name - lo >= span &&
                   f[2].name - lo >= span && f[3].name - lo >= span &&
                   f[4].name - lo >= span && f[5].name - lo >= span &&
                   f[6].name - lo >= span && f[7].name - lo >= span)
                f += 8;
            while (end - f >= 4 && f[0].name - lo >= span && f[1].name - lo >= span &&
                   f[2].name - lo >= span && f[3].name - lo >= span)
                f += 4;
            if (f == end)
                break;
            if (f->name - lo >= span || !(r = s->want[f->name - lo]))
                continue;
            look_raw(&x, raw_fields[r - 1].cls, raw_fields[r - 1].name, f);
            if (x.stop)
                break;
        }
    }
    return x.stop;
}
