/* The compact in-memory matcher.
 *
 * Indicators are records of 64 bytes whose strings are offsets into one
 * pool. Three open-addressing tables (linear probing, load <= 1/2) map a key
 * to the head of a chain of records (one per feed, and allowlist entries):
 *   ip    16-byte address (IPv4 mapped) + prefix length: exact addresses are
 *         prefix 128; ranges are looked up once per prefix length present,
 *         longest first (few distinct lengths in practice)
 *   dig   MD5/SHA-1/SHA-256/JA3 by their first 64 bits (digests are uniform)
 *   str   every other kind by a 64-bit hash of kind + value
 * Exact IPv4 addresses have a table of their own (4-byte keys, 8-byte
 * slots), and in front of it and of the digests sits a blocked Bloom filter
 * (8-16 bits per key, two bits in one 64-bit word): most lookups are misses,
 * and a miss then costs one cache-resident word instead of a random probe
 * into tables of many megabytes. IPv4 ranges are probed only for /16
 * blocks a range covers (an 8 KB bitmap).
 * Building appends records and fills the tables in kb_intel_matcher_seal;
 * afterwards nothing is written, so lookups need no locks. */
#include <string.h>

#include "intel/intel-int.h"
#include "store/store.h"

#define ALLOW 0x80 /* rec.kind flag: an allowlist entry */
#define NIL UINT32_MAX

typedef struct rec {
    uint32_t value, feed, threat, tags, ref, desc; /* pool offsets, 0 = NULL */
    int64_t first, last, until;
    uint32_t next;  /* next record of the same key */
    int16_t conf;
    uint8_t kind;   /* KB_IOC_* | ALLOW */
    uint8_t plen;   /* ip/cidr: prefix length in the 128-bit space */
} rec;

/* Every slot carries a summary of its chain (`info`), so that the common
 * lookup (one feed's indicator, no allowlist entry, no expiry) is answered
 * from the slot alone, without touching the records:
 *   bits 0-23  indicator records in the chain (saturating)
 *   I_ALLOW    an allowlist entry is in the chain
 *   I_WALK     the chain must be walked to count (some record has a
 *              valid_until to check against the event's time, or the count
 *              saturated) */
#define I_CNT 0x00ffffffu
#define I_ALLOW (1u << 30)
#define I_WALK (1u << 31)

typedef struct ipslot {
    uint8_t a[16];
    uint8_t plen;
    uint8_t used;
    uint16_t pad;
    uint32_t head;
    uint32_t info;
} ipslot;

typedef struct v4slot {
    uint32_t a;    /* host order */
    uint32_t head; /* NIL when empty */
    uint32_t info;
    uint32_t pad;
} v4slot;

typedef struct hslot {
    uint64_t h;
    uint32_t head; /* NIL when empty */
    uint32_t info;
} hslot;

/* A digest's slot: its first 64 bits (with the kind mixed in) and its
 * bytes 8-23 inline, so that MD5, SHA-1 and JA3 are verified from the slot
 * alone; a SHA-256's bytes 24-31 are in a side array. 32 bytes: two slots
 * per cache line, none straddles one. */
typedef struct dslot {
    uint64_t h;
    uint8_t t[16];
    uint32_t head; /* NIL when empty */
    uint32_t info; /* I_* and the kind in bits 24-29 */
} dslot;

typedef struct strtab { /* interning of metadata strings while building */
    uint32_t *slot;
    size_t cap, n;
} strtab;

struct kb_intel_matcher {
    int64_t now;
    rec *recs;
    size_t nrecs, recs_cap;
    char *pool;
    size_t pool_len, pool_cap;
    strtab meta;
    ipslot *ip;
    size_t ip_mask;
    v4slot *v4;         /* exact IPv4 addresses */
    size_t v4_mask;
    uint64_t *filt;     /* Bloom filter over exact IPv4 and digest keys */
    size_t filt_mask;   /* in words */
    uint64_t v4_16[1024]; /* /16 blocks that an IPv4 range covers */
    uint64_t *v4_24;      /* /24 blocks that an IPv4 range covers (2 MB) */
    int v4_ranges;
    dslot *dig;
    hslot *str;
    uint64_t *dtail; /* per digest slot: a SHA-256's bytes 24-31 */
    size_t dig_mask, str_mask;
    uint8_t plens[130]; /* prefix lengths present, longest first */
    int nplens;
    uint32_t kinds;     /* bit per kind present */
    int has_wild;
    uint64_t indicators, keys, expired, allow;
    int sealed;
};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * UINT64_C(0x9E3779B97F4A7C15)), v;
    while (n >= 8) {
        memcpy(&v, s, 8);
        h = (h ^ v) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 31;
        s += 8, n -= 8;
    }
    v = 0;
    memcpy(&v, s, n);
    return mix(h ^ v);
}

kb_intel_matcher *kb_intel_matcher_new(int64_t now)
{
    kb_intel_matcher *m = kb_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->now = now;
    m->pool = kb_malloc(1 << 16);
    if (!m->pool) {
        kb_free(m);
        return NULL;
    }
    m->pool_cap = 1 << 16;
    m->pool[0] = 0;
    m->pool_len = 1; /* offset 0 means NULL */
    return m;
}

void kb_intel_matcher_free(kb_intel_matcher *m)
{
    if (!m)
        return;
    kb_free(m->recs);
    kb_free(m->pool);
    kb_free(m->meta.slot);
    kb_free(m->ip);
    kb_free(m->v4);
    kb_free(m->filt);
    kb_free(m->v4_24);
    kb_free(m->dig);
    kb_free(m->dtail);
    kb_free(m->str);
    kb_free(m);
}

static const char *S(const kb_intel_matcher *m, uint32_t off)
{
    return off ? m->pool + off : NULL;
}

static int pool_add(kb_intel_matcher *m, const char *s, uint32_t *off)
{
    size_t n = strlen(s) + 1;
    if (m->pool_len + n > UINT32_MAX)
        return KB_ELIMIT;
    if (m->pool_len + n > m->pool_cap) {
        size_t cap = m->pool_cap * 2;
        while (cap < m->pool_len + n)
            cap *= 2;
        char *p = kb_realloc(m->pool, cap);
        if (!p)
            return KB_ENOMEM;
        m->pool = p;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, s, n);
    *off = (uint32_t)m->pool_len;
    m->pool_len += n;
    return KB_OK;
}

/* Metadata strings (feeds, threat types, tags) repeat: intern them. */
static int meta_add(kb_intel_matcher *m, const char *s, uint32_t *off)
{
    strtab *t = &m->meta;
    if (!s || !*s) {
        *off = 0;
        return KB_OK;
    }
    if (strlen(s) > 200) /* long, likely unique: not worth a slot */
        return pool_add(m, s, off);
    if (t->n * 2 >= t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        uint32_t *ns = kb_calloc(cap, sizeof *ns);
        if (!ns)
            return KB_ENOMEM;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slot[i])
                continue;
            const char *v = m->pool + t->slot[i];
            size_t j = hash_bytes(v, strlen(v), 7) & (cap - 1);
            while (ns[j])
                j = (j + 1) & (cap - 1);
            ns[j] = t->slot[i];
        }
        kb_free(t->slot);
        t->slot = ns;
        t->cap = cap;
    }
    size_t j = hash_bytes(s, strlen(s), 7) & (t->cap - 1);
    while (t->slot[j]) {
        if (strcmp(m->pool + t->slot[j], s) == 0) {
            *off = t->slot[j];
            return KB_OK;
        }
        j = (j + 1) & (t->cap - 1);
    }
    int rc = pool_add(m, s, off);
    if (rc == KB_OK) {
        t->slot[j] = *off;
        t->n++;
    }
    return rc;
}

static int add_rec(kb_intel_matcher *m, const kb_indicator *ind, int flags)
{
    rec r;
    int rc;
    uint8_t a[16];

    if (m->sealed)
        return KB_EINVAL;
    memset(&r, 0, sizeof r);
    r.kind = (uint8_t)(ind->kind | flags);
    if (ind->kind == KB_IOC_IP || ind->kind == KB_IOC_CIDR) {
        const char *v = ind->value, *slash = strchr(v, '/');
        int fam = kb_intel_parse_ip(v, slash ? (size_t)(slash - v) : strlen(v), a);
        uint64_t bits = fam == 4 ? 32 : 128;
        if (!fam || (slash && kb_parse_u64(slash + 1, strlen(slash + 1), &bits)) ||
            bits > (fam == 4 ? 32u : 128u))
            return KB_EINVAL;
        r.plen = (uint8_t)(bits + (fam == 4 ? 96 : 0));
    } else if (ind->kind < 0 || ind->kind >= KB_IOC_COUNT || !ind->value[0]) {
        return KB_EINVAL;
    }
    if (ind->valid_until != KB_TIME_NONE && ind->valid_until < m->now && !flags) {
        m->expired++;
        return KB_OK;
    }
    if (kb_grow((void **)&m->recs, &m->recs_cap, m->nrecs + 1, sizeof *m->recs, 1024))
        return KB_ENOMEM;
    if (m->nrecs >= NIL - 1)
        return KB_ELIMIT;
    if ((rc = pool_add(m, ind->value, &r.value)) || (rc = meta_add(m, ind->feed, &r.feed)) ||
        (rc = meta_add(m, ind->threat, &r.threat)) || (rc = meta_add(m, ind->tags, &r.tags)) ||
        (rc = meta_add(m, ind->ref, &r.ref)) || (rc = meta_add(m, ind->desc, &r.desc)))
        return rc;
    r.first = ind->first_seen;
    r.last = ind->last_seen;
    r.until = ind->valid_until;
    r.conf = (int16_t)ind->confidence;
    r.next = NIL;
    m->recs[m->nrecs++] = r;
    if (flags)
        m->allow++;
    else
        m->indicators++;
    return KB_OK;
}

int kb_intel_matcher_add(kb_intel_matcher *m, const kb_indicator *ind)
{
    return add_rec(m, ind, 0);
}

int kb_intel_matcher_allow(kb_intel_matcher *m, const char *v, size_t len, const char **reason)
{
    kb_buf b;
    int kind, rc;
    kb_indicator ind = {.confidence = -1, .first_seen = KB_TIME_NONE,
                        .last_seen = KB_TIME_NONE, .valid_until = KB_TIME_NONE};
    kb_buf_init(&b, 16384);
    rc = kb_intel_normalize(-1, v, len, &b, &kind, reason);
    if (rc == KB_OK) {
        ind.kind = kind;
        ind.value = b.data;
        ind.feed = "allowlist";
        rc = add_rec(m, &ind, ALLOW);
    }
    kb_buf_release(&b);
    return rc;
}

/* ---- keys ------------------------------------------------------------------ */

static int is_digest(int kind)
{
    return kind == KB_IOC_MD5 || kind == KB_IOC_SHA1 || kind == KB_IOC_SHA256 ||
           kind == KB_IOC_JA3;
}

/* Hex digit values plus one; 0 for anything else. */
static const uint8_t hex1[256] = {
    ['0'] = 1,   ['1'] = 2,   ['2'] = 3,   ['3'] = 4,   ['4'] = 5,   ['5'] = 6,
    ['6'] = 7,   ['7'] = 8,   ['8'] = 9,   ['9'] = 10,  ['a'] = 11,  ['b'] = 12,
    ['c'] = 13,  ['d'] = 14,  ['e'] = 15,  ['f'] = 16,  ['A'] = 11,  ['B'] = 12,
    ['C'] = 13,  ['D'] = 14,  ['E'] = 15,  ['F'] = 16,
};

#define ONES8 UINT64_C(0x0101010101010101)
#define HIGH8 UINT64_C(0x8080808080808080)

/* Eight hex digits at s as 32 bits (the first digit highest), eight bytes
 * at a time: returns 1 when all are hex ('0'-'9', 'a'-'f', 'A'-'F', as
 * hex1). Each byte's range tests are additions whose carry lands in the
 * byte's top bit, exact for bytes below 0x80 (a byte at or above 0x80
 * fails the word anyway). */
static inline int hex32(const char *s, uint32_t *out)
{
    uint64_t w, l, digit, alpha, d, p, q;
    uint32_t r;
    memcpy(&w, s, 8); /* s[0] in the low byte */
    l = w | 0x20 * ONES8;                                         /* letters folded */
    digit = ((w + 0x50 * ONES8) & ~(w + 0x46 * ONES8)) & HIGH8;   /* 0x30 <= c <= 0x39 */
    alpha = ((l + 0x1f * ONES8) & ~(l + 0x19 * ONES8)) & HIGH8;   /* 0x61 <= c|0x20 <= 0x66 */
    d = (w & 0x0f * ONES8) + (alpha >> 7) * 9;                    /* each byte's value */
    p = ((d & UINT64_C(0x000f000f000f000f)) << 4) | ((d >> 8) & UINT64_C(0x000f000f000f000f));
    q = p | p >> 8;
    r = (uint32_t)((q & 0xffff) | ((q >> 16) & 0xffff0000));     /* bytes in text order */
    *out = (uint32_t)(r >> 24 | (r >> 8 & 0xff00) | (r << 8 & 0xff0000) | r << 24);
    return !(w & HIGH8) && (digit | alpha) == HIGH8;
}

/* First 64 bits of a hex digest; -1 when not hex. Branch-free. */
static int hex64(const char *s, size_t len, uint64_t *out)
{
    uint32_t hi, lo;
    int ok;
    if (len < 16)
        return -1;
    ok = hex32(s, &hi) & hex32(s + 8, &lo);
    *out = (uint64_t)hi << 32 | lo;
    return ok ? 0 : -1;
}

/* Bytes 8-31 of a hex digest (zero past its end); -1 when not hex or
 * longer than 64 digits. */
static int hex_tail(const char *s, size_t len, uint8_t t[24])
{
    unsigned bad = 0;
    size_t i = 16;
    memset(t, 0, 24);
    if (len < 16 || len > 64 || (len & 1))
        return -1;
    for (; i + 8 <= len; i += 8) { /* eight digits at a time, then pairs */
        uint32_t v;
        bad |= !hex32(s + i, &v);
        t[(i - 16) / 2] = (uint8_t)(v >> 24);
        t[(i - 16) / 2 + 1] = (uint8_t)(v >> 16);
        t[(i - 16) / 2 + 2] = (uint8_t)(v >> 8);
        t[(i - 16) / 2 + 3] = (uint8_t)v;
    }
    for (; i < len; i += 2) {
        unsigned hi = hex1[(unsigned char)s[i]], lo = hex1[(unsigned char)s[i + 1]];
        bad |= (hi == 0) | (lo == 0);
        t[(i - 16) / 2] = (uint8_t)(((hi - 1) & 15) << 4 | ((lo - 1) & 15));
    }
    return bad ? -1 : 0;
}

static uint64_t dig_key(int kind, uint64_t first64)
{
    return first64 ^ ((uint64_t)kind * UINT64_C(0x9E3779B97F4A7C15));
}

static uint64_t str_key(int kind, const char *s, size_t len)
{
    return hash_bytes(s, len, (uint64_t)kind + 1);
}

static uint64_t ip_hash(const uint8_t a[16], int plen)
{
    uint64_t lo, hi;
    memcpy(&lo, a, 8);
    memcpy(&hi, a + 8, 8);
    return mix(lo ^ mix(hi ^ (uint64_t)plen));
}

static uint64_t v4_hash(uint32_t a)
{
    return mix((uint64_t)a * UINT64_C(0x9E3779B97F4A7C15) + 0x5bd1e995);
}

static void filt_set(kb_intel_matcher *m, uint64_t h)
{
    m->filt[(h >> 32) & m->filt_mask] |=
        (UINT64_C(1) << (h & 63)) | (UINT64_C(1) << ((h >> 6) & 63));
}

static int filt_has(const kb_intel_matcher *m, uint64_t h)
{
    uint64_t bits = (UINT64_C(1) << (h & 63)) | (UINT64_C(1) << ((h >> 6) & 63));
    return (m->filt[(h >> 32) & m->filt_mask] & bits) == bits;
}

static int is_v4(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, mapped, 12) == 0;
}

static uint32_t v4_of(const uint8_t a[16])
{
    return (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
}

/* Sets bits [lo, lo + n) of a bitmap. */
static void bits_set(uint64_t *bm, uint64_t lo, uint64_t n)
{
    uint64_t hi = lo + n;
    while (lo < hi && (lo & 63)) {
        bm[lo >> 6] |= UINT64_C(1) << (lo & 63);
        lo++;
    }
    if (hi - lo >= 64) {
        memset(bm + (lo >> 6), 0xff, (size_t)((hi - lo) >> 6) * 8);
        lo += (hi - lo) & ~(uint64_t)63;
    }
    for (; lo < hi; lo++)
        bm[lo >> 6] |= UINT64_C(1) << (lo & 63);
}

static int bit_has(const uint64_t *bm, uint32_t i)
{
    return (int)(bm[i >> 6] >> (i & 63) & 1);
}

/* An IPv4 range may cover a4: its /16 block (8 KB bitmap), then its /24
 * block (2 MB bitmap) is marked. */
static int v4_range_may(const kb_intel_matcher *m, uint32_t a4)
{
    return m->v4_ranges && bit_has(m->v4_16, a4 >> 16) && bit_has(m->v4_24, a4 >> 8);
}

/* The chain summary of a slot (see I_*). */
static uint32_t chain_info(const kb_intel_matcher *m, uint32_t head)
{
    uint32_t n = 0, f = 0;
    for (uint32_t i = head; i != NIL; i = m->recs[i].next) {
        const rec *r = &m->recs[i];
        if (r->kind & ALLOW) {
            f |= I_ALLOW;
            continue;
        }
        if (r->until != KB_TIME_NONE)
            f |= I_WALK;
        if (n < I_CNT)
            n++;
        else
            f |= I_WALK;
    }
    return n | f;
}

static size_t pow2(size_t n)
{
    size_t c = 16;
    while (c < n * 2)
        c *= 2;
    return c;
}

int kb_intel_matcher_seal(kb_intel_matcher *m)
{
    size_t nip = 0, nv4 = 0, ndig = 0, nstr = 0, nr4 = 0;
    int has[129] = {0};
    if (m->sealed)
        return KB_OK;
    for (size_t i = 0; i < m->nrecs; i++) {
        int k = m->recs[i].kind & ~ALLOW;
        if ((k == KB_IOC_IP || k == KB_IOC_CIDR) && m->recs[i].plen == 128 &&
            !strchr(m->pool + m->recs[i].value, ':'))
            nv4++;
        else if (k == KB_IOC_IP || k == KB_IOC_CIDR)
            nip++, nr4 += m->recs[i].plen >= 96;
        else if (is_digest(k))
            ndig++;
        else
            nstr++;
    }
    m->ip_mask = pow2(nip) - 1;
    m->v4_mask = pow2(nv4) - 1;
    m->dig_mask = pow2(ndig) - 1;
    m->str_mask = pow2(nstr) - 1;
    /* 8 to 16 bits per key: small enough to stay in a core's L2 for a
     * million keys, about 5% false positives at 8 */
    m->filt_mask = pow2((nv4 + ndig) / 8 + 1) / 2 - 1;
    while ((m->filt_mask + 1) * 64 < (nv4 + ndig) * 8)
        m->filt_mask = m->filt_mask * 2 + 1;
    m->ip = kb_calloc(m->ip_mask + 1, sizeof *m->ip);
    m->v4 = kb_malloc((m->v4_mask + 1) * sizeof *m->v4);
    m->filt = kb_calloc(m->filt_mask + 1, sizeof *m->filt);
    m->dig = kb_malloc((m->dig_mask + 1) * sizeof *m->dig);
    m->dtail = kb_calloc(m->dig_mask + 1, sizeof *m->dtail);
    m->str = kb_malloc((m->str_mask + 1) * sizeof *m->str);
    if (nr4)
        m->v4_24 = kb_calloc((size_t)1 << 18, sizeof *m->v4_24);
    if (!m->ip || !m->v4 || !m->filt || !m->dig || !m->dtail || !m->str || (nr4 && !m->v4_24))
        return KB_ENOMEM;
    for (size_t i = 0; i <= m->v4_mask; i++)
        m->v4[i].head = NIL;
    for (size_t i = 0; i <= m->dig_mask; i++)
        m->dig[i].head = NIL;
    for (size_t i = 0; i <= m->str_mask; i++)
        m->str[i].head = NIL;
    /* insert in reverse so that chains keep insertion order */
    for (size_t ri = m->nrecs; ri-- > 0;) {
        rec *r = &m->recs[ri];
        int k = r->kind & ~ALLOW;
        const char *v = m->pool + r->value;
        if (!(r->kind & ALLOW))
            m->kinds |= 1u << k;
        if (k == KB_IOC_IP || k == KB_IOC_CIDR) {
            uint8_t a[16];
            const char *slash = strchr(v, '/');
            kb_intel_parse_ip(v, slash ? (size_t)(slash - v) : strlen(v), a);
            kb_intel_mask(a, r->plen);
            if (r->plen == 128 && is_v4(a)) {
                uint32_t a4 = v4_of(a);
                uint64_t hv = v4_hash(a4);
                size_t j = hv & m->v4_mask;
                while (m->v4[j].head != NIL && m->v4[j].a != a4)
                    j = (j + 1) & m->v4_mask;
                if (m->v4[j].head == NIL) {
                    m->v4[j].a = a4;
                    filt_set(m, hv);
                    m->keys++;
                }
                r->next = m->v4[j].head;
                m->v4[j].head = (uint32_t)ri;
                continue;
            }
            if (is_v4(a) && r->plen >= 96) { /* an IPv4 range: mark its blocks */
                uint32_t a4 = v4_of(a);
                int p4 = r->plen - 96;
                bits_set(m->v4_16, a4 >> 16, p4 < 16 ? UINT64_C(1) << (16 - p4) : 1);
                bits_set(m->v4_24, a4 >> 8, p4 < 24 ? UINT64_C(1) << (24 - p4) : 1);
                m->v4_ranges = 1;
            }
            size_t j = ip_hash(a, r->plen) & m->ip_mask;
            while (m->ip[j].used && !(m->ip[j].plen == r->plen && !memcmp(m->ip[j].a, a, 16)))
                j = (j + 1) & m->ip_mask;
            if (!m->ip[j].used) {
                memcpy(m->ip[j].a, a, 16);
                m->ip[j].plen = r->plen;
                m->ip[j].used = 1;
                m->ip[j].head = NIL;
                has[r->plen] = 1;
                m->keys++;
            }
            r->next = m->ip[j].head;
            m->ip[j].head = (uint32_t)ri;
            continue;
        }
        hslot *tab;
        size_t mask;
        uint64_t h;
        if (is_digest(k)) {
            uint64_t f = 0;
            uint8_t t[24];
            size_t j;
            hex64(v, strlen(v), &f);
            hex_tail(v, strlen(v), t);
            h = dig_key(k, f);
            filt_set(m, mix(h));
            for (j = h & m->dig_mask; m->dig[j].head != NIL; j = (j + 1) & m->dig_mask) {
                const dslot *d = &m->dig[j];
                if (d->h == h && (d->info >> 24 & 63) == (uint32_t)k &&
                    !memcmp(d->t, t, 16) && !memcmp(&m->dtail[j], t + 16, 8))
                    break;
            }
            if (m->dig[j].head == NIL) {
                m->dig[j].h = h;
                memcpy(m->dig[j].t, t, 16);
                memcpy(&m->dtail[j], t + 16, 8);
                m->dig[j].info = (uint32_t)k << 24;
                m->keys++;
            }
            r->next = m->dig[j].head;
            m->dig[j].head = (uint32_t)ri;
            continue;
        }
        h = str_key(k, v, strlen(v));
        tab = m->str;
        mask = m->str_mask;
        if (k == KB_IOC_DOMAIN && v[0] == '*')
            m->has_wild = 1;
        size_t j = h & mask;
        while (tab[j].head != NIL) {
            const rec *o = &m->recs[tab[j].head];
            if (tab[j].h == h && (o->kind & ~ALLOW) == k && strcmp(m->pool + o->value, v) == 0)
                break;
            j = (j + 1) & mask;
        }
        if (tab[j].head == NIL) {
            tab[j].h = h;
            m->keys++;
        }
        r->next = tab[j].head;
        tab[j].head = (uint32_t)ri;
    }
    for (size_t j = 0; j <= m->v4_mask; j++)
        if (m->v4[j].head != NIL)
            m->v4[j].info = chain_info(m, m->v4[j].head);
    for (size_t j = 0; j <= m->ip_mask; j++)
        if (m->ip[j].used)
            m->ip[j].info = chain_info(m, m->ip[j].head);
    for (size_t j = 0; j <= m->dig_mask; j++)
        if (m->dig[j].head != NIL)
            m->dig[j].info |= chain_info(m, m->dig[j].head);
    for (size_t j = 0; j <= m->str_mask; j++)
        if (m->str[j].head != NIL)
            m->str[j].info = chain_info(m, m->str[j].head);
    m->nplens = 0;
    for (int p = 128; p >= 1; p--)
        if (has[p])
            m->plens[m->nplens++] = (uint8_t)p;
    kb_free(m->meta.slot);
    m->meta.slot = NULL;
    m->meta.cap = m->meta.n = 0;
    m->sealed = 1;
    return KB_OK;
}

void kb_intel_matcher_stats_get(const kb_intel_matcher *m, kb_intel_matcher_stats *s)
{
    s->indicators = m->indicators;
    s->keys = m->keys;
    s->expired = m->expired;
    s->allow = m->allow;
    s->bytes = sizeof *m + m->recs_cap * sizeof(rec) + m->pool_cap +
               m->meta.cap * sizeof(uint32_t) +
               (m->ip ? (m->ip_mask + 1) * sizeof(ipslot) : 0) +
               (m->v4 ? (m->v4_mask + 1) * sizeof(v4slot) : 0) +
               (m->filt ? (m->filt_mask + 1) * sizeof(uint64_t) : 0) +
               (m->v4_24 ? ((size_t)1 << 18) * sizeof(uint64_t) : 0) +
               (m->dig ? (m->dig_mask + 1) * (sizeof(dslot) + sizeof *m->dtail) : 0) +
               (m->str ? (m->str_mask + 1) * sizeof(hslot) : 0);
}

/* ---- lookups ------------------------------------------------------------------ */

typedef struct reporter {
    kb_intel_hit_fn fn;
    void *ud;
    int field;
    const char *fname;
    const char *val;
    size_t len;
    int64_t at; /* the event's time for expiry; KB_TIME_NONE: not checked */
    int stop;   /* fn's non-zero return */
    int hits;
} reporter;

#define REPORTER(fn, ud, fname, val, len, at) {(fn), (ud), -1, (fname), (val), (len), (at), 0, 0}

/* An indicator is live at the event's time unless its valid_until is
 * before it. */
static int live(const rec *r, int64_t at)
{
    return r->until == KB_TIME_NONE || at == KB_TIME_NONE || at <= r->until;
}

/* Reports the live, non-allowlisted records of a chain. Without a callback
 * and with nothing to check, the slot's count is the answer. */
static void report(const kb_intel_matcher *m, uint32_t head, uint32_t info, reporter *rp)
{
    if (!rp->fn && !(info & I_WALK)) {
        rp->hits += (int)(info & I_CNT);
        return;
    }
    for (uint32_t i = head; i != NIL && !rp->stop; i = m->recs[i].next) {
        const rec *r = &m->recs[i];
        if ((r->kind & ALLOW) || !live(r, rp->at))
            continue;
        kb_indicator ind = {
            .kind = r->kind, .value = S(m, r->value), .feed = S(m, r->feed),
            .confidence = r->conf, .threat = S(m, r->threat), .first_seen = r->first,
            .last_seen = r->last, .valid_until = r->until, .tags = S(m, r->tags),
            .ref = S(m, r->ref), .desc = S(m, r->desc),
        };
        rp->hits++;
        if (rp->fn) {
            kb_intel_hit hit = {&ind, rp->field, rp->fname, rp->val, rp->len,
                                kb_intel_level(ind.confidence, ind.threat)};
            rp->stop = rp->fn(rp->ud, &hit);
        }
    }
}

/* The chain holds an indicator live at `at` (not only allowlist entries). */
static int chain_has_ind(const kb_intel_matcher *m, uint32_t head, uint32_t info, int64_t at)
{
    if (!(info & I_WALK))
        return (info & I_CNT) != 0;
    for (uint32_t i = head; i != NIL; i = m->recs[i].next)
        if (!(m->recs[i].kind & ALLOW) && live(&m->recs[i], at))
            return 1;
    return 0;
}

static uint32_t find_ip(const kb_intel_matcher *m, const uint8_t a[16], int plen, uint32_t *info)
{
    size_t j = ip_hash(a, plen) & m->ip_mask;
    while (m->ip[j].used) {
        if (m->ip[j].plen == plen && memcmp(m->ip[j].a, a, 16) == 0) {
            *info = m->ip[j].info;
            return m->ip[j].head;
        }
        j = (j + 1) & m->ip_mask;
    }
    return NIL;
}

/* The exact-IPv4 table without the filter (hv = v4_hash(a4)). */
static uint32_t probe_v4(const kb_intel_matcher *m, uint32_t a4, uint64_t hv, uint32_t *info)
{
    for (size_t j = hv & m->v4_mask; m->v4[j].head != NIL; j = (j + 1) & m->v4_mask)
        if (m->v4[j].a == a4) {
            *info = m->v4[j].info;
            return m->v4[j].head;
        }
    return NIL;
}

static uint32_t find_v4(const kb_intel_matcher *m, uint32_t a4, uint32_t *info)
{
    uint64_t h = v4_hash(a4);
    if (!filt_has(m, h))
        return NIL;
    return probe_v4(m, a4, h, info);
}

/* Longest matching prefix with a live indicator wins; an allowlisted
 * prefix at any length suppresses. Returns 1 when a hit was suppressed by
 * the allowlist. */
static int match_ip16(const kb_intel_matcher *m, const uint8_t a[16], int v4, reporter *rp)
{
    uint32_t best = NIL, binfo = 0, h, info = 0;
    int allowed = 0;
    if (v4) {
        uint32_t a4 = v4_of(a);
        if ((h = find_v4(m, a4, &info)) != NIL) {
            allowed |= (info & I_ALLOW) != 0;
            if (chain_has_ind(m, h, info, rp->at))
                best = h, binfo = info;
        }
        if (!v4_range_may(m, a4))
            goto out;
    }
    for (int i = 0; i < m->nplens; i++) {
        int p = m->plens[i];
        uint8_t k[16];
        if (v4 && p == 128)
            continue; /* exact IPv4 addresses are in their own table */
        if (v4 && p < 96)
            break; /* IPv4 lives under ::ffff:0:0/96 */
        memcpy(k, a, 16);
        if (p < 128)
            kb_intel_mask(k, p);
        h = find_ip(m, k, p, &info);
        if (h == NIL)
            continue;
        allowed |= (info & I_ALLOW) != 0;
        if (best == NIL && chain_has_ind(m, h, info, rp->at))
            best = h, binfo = info;
    }
out:
    if (allowed)
        return best != NIL;
    if (best != NIL)
        report(m, best, binfo, rp);
    return 0;
}

/* One IPv4 address (host order, hv = v4_hash(a4)): hits, or -1 when
 * suppressed. The common cases (no range can cover it; a miss, or a chain
 * that needs no walk and no callback) stay in the exact table. */
static int ip4_one(const kb_intel_matcher *m, uint32_t a4, uint64_t hv, reporter *rp)
{
    uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!v4_range_may(m, a4)) {
        uint32_t info = 0, h = filt_has(m, hv) ? probe_v4(m, a4, hv, &info) : NIL;
        if (h == NIL)
            return 0;
        if (!(info & (I_ALLOW | I_WALK)) && !rp->fn)
            return (int)(info & I_CNT);
    }
    a[12] = (uint8_t)(a4 >> 24), a[13] = (uint8_t)(a4 >> 16), a[14] = (uint8_t)(a4 >> 8),
    a[15] = (uint8_t)a4;
    if (match_ip16(m, a, 1, rp))
        return -1;
    return rp->hits;
}

/* The digest key of a hex value: 0 and *h set, or -1 when it is not hex. */
static int dig_hash(int kind, const char *v, size_t len, uint64_t *h)
{
    uint64_t f;
    if (hex64(v, len, &f))
        return -1;
    *h = dig_key(kind, f);
    return 0;
}

/* Probes the digest table from key h: the slot holds the first 64 bits
 * (in h), the kind (info bits 24-29) and bytes 8-23, dtail the rest of a
 * SHA-256, so a lookup never reads the records. The digest lengths are
 * fixed per kind (shorter ones are zero past their end). */
static uint32_t probe_dig(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                          uint64_t h, uint32_t *info)
{
    uint8_t t[24];
    int parsed = 0;
    for (size_t j = h & m->dig_mask; m->dig[j].head != NIL; j = (j + 1) & m->dig_mask) {
        if (m->dig[j].h != h || (m->dig[j].info >> 24 & 63) != (uint32_t)kind)
            continue;
        if (!parsed++ && hex_tail(v, len, t))
            return NIL;
        if (memcmp(m->dig[j].t, t, 16) == 0 &&
            (kind != KB_IOC_SHA256 || memcmp(&m->dtail[j], t + 16, 8) == 0)) {
            *info = m->dig[j].info & ~(UINT32_C(63) << 24);
            return m->dig[j].head;
        }
    }
    return NIL;
}

/* Probes a digest or string table from key h. */
static uint32_t probe_str(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                          uint64_t h, uint32_t *info)
{
    const hslot *tab = m->str;
    size_t mask = m->str_mask;
    if (is_digest(kind))
        return probe_dig(m, kind, v, len, h, info);
    for (size_t j = h & mask; tab[j].head != NIL; j = (j + 1) & mask) {
        if (tab[j].h != h)
            continue;
        const rec *r = &m->recs[tab[j].head];
        const char *rv = m->pool + r->value;
        if ((r->kind & ~ALLOW) != kind)
            continue;
        if (strlen(rv) == len && memcmp(rv, v, len) == 0) {
            *info = tab[j].info;
            return tab[j].head;
        }
    }
    return NIL;
}

static uint32_t find_str(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                         uint32_t *info)
{
    uint64_t h;
    if (is_digest(kind)) {
        if (dig_hash(kind, v, len, &h) || !filt_has(m, mix(h)))
            return NIL;
    } else {
        h = str_key(kind, v, len);
    }
    return probe_str(m, kind, v, len, h, info);
}

/* Exact kinds: one chain. Returns 1 when a hit was suppressed. */
static int match_str(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                     reporter *rp)
{
    uint32_t info = 0, h = find_str(m, kind, v, len, &info);
    if (h == NIL)
        return 0;
    if (info & I_ALLOW)
        return chain_has_ind(m, h, info, rp->at);
    report(m, h, info, rp);
    return 0;
}

/* A domain (normalised): itself, then "*.<suffix>" for itself and each
 * parent. The most specific live hit is reported; any allowlisted level
 * suppresses. */
static int match_domain(const kb_intel_matcher *m, const char *v, size_t len, reporter *rp)
{
    uint32_t best = NIL, binfo = 0, h, info = 0;
    int allowed = 0;
    char w[260];
    if ((h = find_str(m, KB_IOC_DOMAIN, v, len, &info)) != NIL) {
        allowed |= (info & I_ALLOW) != 0;
        if (chain_has_ind(m, h, info, rp->at))
            best = h, binfo = info;
    }
    if (!m->has_wild || len + 2 > sizeof w)
        goto out;
    w[0] = '*';
    w[1] = '.';
    for (size_t i = 0; i < len;) {
        memcpy(w + 2, v + i, len - i);
        if ((h = find_str(m, KB_IOC_DOMAIN, w, len - i + 2, &info)) != NIL) {
            allowed |= (info & I_ALLOW) != 0;
            if (best == NIL && chain_has_ind(m, h, info, rp->at))
                best = h, binfo = info;
        }
        const char *dot = memchr(v + i, '.', len - i);
        if (!dot)
            break;
        i = (size_t)(dot - v) + 1;
    }
out:
    if (allowed)
        return best != NIL;
    if (best != NIL)
        report(m, best, binfo, rp);
    return 0;
}

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int kb_intel_lookup_ip(const kb_intel_matcher *m, const uint8_t *addr, int is_v6,
                       kb_intel_hit_fn fn, void *ud)
{
    reporter rp = REPORTER(fn, ud, "ip", NULL, 0, KB_TIME_NONE);
    if (!is_v6 || memcmp(addr, v4_mapped, 12) == 0) {
        uint32_t a4 = be32(is_v6 ? addr + 12 : addr);
        return ip4_one(m, a4, v4_hash(a4), &rp);
    }
    if (match_ip16(m, addr, 0, &rp))
        return -1;
    return rp.hits;
}

int kb_intel_ip4_may(const kb_intel_matcher *m, uint32_t a4)
{
    uint64_t hv;
    uint32_t info;
    if (v4_range_may(m, a4))
        return 1;
    hv = v4_hash(a4);
    return filt_has(m, hv) && probe_v4(m, a4, hv, &info) != NIL;
}

static int digest_kind(size_t len)
{
    return len == 32 ? KB_IOC_MD5 : len == 40 ? KB_IOC_SHA1 : len == 64 ? KB_IOC_SHA256 : -1;
}

int kb_intel_lookup_hash(const kb_intel_matcher *m, const char *hex, size_t len,
                         kb_intel_hit_fn fn, void *ud)
{
    reporter rp = REPORTER(fn, ud, "hash", hex, len, KB_TIME_NONE);
    int k = digest_kind(len);
    if (k < 0)
        return 0;
    if (match_str(m, k, hex, len, &rp))
        return -1;
    return rp.hits;
}

/* ---- batches: prefetch the slots of many keys, then resolve ----------------------
 *
 * A lookup in tables of many megabytes is a chain of dependent cache misses
 * (filter word, slot, record, value). A batch issues the misses of all its
 * keys stage by stage (software prefetch), so that they overlap, and then
 * resolves each key with the single-key code: the answers are those of the
 * single lookups by construction. */

#define BATCH 32
/* GCC 12 at -O2 drops some __builtin_prefetch calls of these loops (seen in
 * the generated code: none left in the IPv4 batch), so on x86 the
 * instruction is written out. */
#if defined(__x86_64__) || defined(__i386__)
#define PREFETCH(p) __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)(p)))
#else
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#endif

static inline void pf_filt(const kb_intel_matcher *m, uint64_t h)
{
    PREFETCH(&m->filt[(h >> 32) & m->filt_mask]);
}

/* Stage 1 and 2 for an IPv4 address: filter word and /24 bitmap, then the
 * exact slot when the filter passes. */
static inline void pf_v4_1(const kb_intel_matcher *m, uint32_t a4, uint64_t hv)
{
    pf_filt(m, hv);
    if (m->v4_ranges && bit_has(m->v4_16, a4 >> 16))
        PREFETCH(&m->v4_24[a4 >> 14]);
}

static inline void pf_v4_2(const kb_intel_matcher *m, uint64_t hv)
{
    if (filt_has(m, hv))
        PREFETCH(&m->v4[hv & m->v4_mask]);
}

int kb_intel_lookup_ip4_batch(const kb_intel_matcher *m, const uint8_t *addrs, size_t n,
                              int64_t at, int *out)
{
    uint32_t a4[BATCH];
    uint64_t hv[BATCH];
    if (!m->sealed)
        return KB_EINVAL;
    for (size_t base = 0; base < n; base += BATCH) {
        size_t k = n - base < BATCH ? n - base : BATCH;
        for (size_t i = 0; i < k; i++) {
            a4[i] = be32(addrs + 4 * (base + i));
            hv[i] = v4_hash(a4[i]);
            pf_v4_1(m, a4[i], hv[i]);
        }
        for (size_t i = 0; i < k; i++)
            pf_v4_2(m, hv[i]);
        for (size_t i = 0; i < k; i++) {
            reporter rp = REPORTER(NULL, NULL, "ip", NULL, 0, at);
            out[base + i] = ip4_one(m, a4[i], hv[i], &rp);
        }
    }
    return KB_OK;
}

int kb_intel_lookup_ip_batch(const kb_intel_matcher *m, const uint8_t *addrs, size_t n,
                             int64_t at, int *out)
{
    uint32_t a4[BATCH];
    uint64_t hv[BATCH];
    uint8_t is4[BATCH];
    if (!m->sealed)
        return KB_EINVAL;
    for (size_t base = 0; base < n; base += BATCH) {
        size_t k = n - base < BATCH ? n - base : BATCH;
        for (size_t i = 0; i < k; i++) {
            const uint8_t *a = addrs + 16 * (base + i);
            is4[i] = memcmp(a, v4_mapped, 12) == 0;
            if (is4[i]) {
                a4[i] = be32(a + 12);
                hv[i] = v4_hash(a4[i]);
                pf_v4_1(m, a4[i], hv[i]);
            } else {
                if (m->nplens && m->plens[0] == 128)
                    PREFETCH(&m->ip[ip_hash(a, 128) & m->ip_mask]);
            }
        }
        for (size_t i = 0; i < k; i++)
            if (is4[i])
                pf_v4_2(m, hv[i]);
        for (size_t i = 0; i < k; i++) {
            const uint8_t *a = addrs + 16 * (base + i);
            reporter rp = REPORTER(NULL, NULL, "ip", NULL, 0, at);
            if (is4[i])
                out[base + i] = ip4_one(m, a4[i], hv[i], &rp);
            else
                out[base + i] = match_ip16(m, a, 0, &rp) ? -1 : rp.hits;
        }
    }
    return KB_OK;
}

int kb_intel_lookup_hash_batch(const kb_intel_matcher *m, const char *const *hex,
                               const size_t *lens, size_t n, int64_t at, int *out)
{
    enum { HB = 2 * BATCH }; /* few keys reach the later stages: more per batch */
    uint64_t h[HB];
    int8_t kind[HB];
    if (!m->sealed)
        return KB_EINVAL;
    for (size_t base = 0; base < n; base += HB) {
        size_t k = n - base < HB ? n - base : HB;
        /* 0: the next batch's text */
        for (size_t i = base + HB; i < base + 2 * HB && i < n; i++)
            PREFETCH(hex[i]);
        /* 1: parse, prefetch the filter word */
        for (size_t i = 0; i < k; i++) {
            int kd = digest_kind(lens[base + i]);
            kind[i] = (int8_t)kd;
            if (kd < 0 || dig_hash(kd, hex[base + i], lens[base + i], &h[i]))
                kind[i] = -1;
            else
                pf_filt(m, mix(h[i]));
        }
        /* 2: the filter, then the home slot */
        for (size_t i = 0; i < k; i++) {
            if (kind[i] < 0)
                continue;
            if (!filt_has(m, mix(h[i])))
                kind[i] = -1;
            else
                PREFETCH(&m->dig[h[i] & m->dig_mask]);
        }
        /* 3: the slot with this key, then its tail */
        for (size_t i = 0; i < k; i++) {
            int found = 0;
            if (kind[i] < 0)
                continue;
            for (size_t j = h[i] & m->dig_mask; m->dig[j].head != NIL; j = (j + 1) & m->dig_mask)
                if (m->dig[j].h == h[i]) {
                    if (kind[i] == KB_IOC_SHA256)
                        PREFETCH(&m->dtail[j]);
                    found = 1;
                    break;
                }
            if (!found)
                kind[i] = -1;
        }
        /* 4: resolve */
        for (size_t i = 0; i < k; i++) {
            reporter rp = REPORTER(NULL, NULL, "hash", hex[base + i], lens[base + i], at);
            uint32_t info = 0, c;
            if (kind[i] < 0) {
                out[base + i] = 0;
                continue;
            }
            c = probe_str(m, kind[i], hex[base + i], lens[base + i], h[i], &info);
            if (c == NIL)
                out[base + i] = 0;
            else if (info & I_ALLOW)
                out[base + i] = chain_has_ind(m, c, info, at) ? -1 : 0;
            else
                report(m, c, info, &rp), out[base + i] = rp.hits;
        }
    }
    return KB_OK;
}

int kb_intel_lookup(const kb_intel_matcher *m, int kind, const char *v, size_t len,
                    kb_intel_hit_fn fn, void *ud)
{
    char mem[8192];
    KB_INTEL_STACK_BUF(b, mem);
    const char *reason;
    int k, allowed = 0;
    reporter rp = REPORTER(fn, ud, "value", v, len, KB_TIME_NONE);
    if (kb_intel_normalize(kind, v, len, &b, &k, &reason))
        return 0;
    if (k == KB_IOC_IP || k == KB_IOC_CIDR) {
        uint8_t a[16];
        const char *slash = strchr(b.data, '/');
        int fam = kb_intel_parse_ip(b.data, slash ? (size_t)(slash - b.data) : b.len, a);
        if (k == KB_IOC_IP) {
            allowed = match_ip16(m, a, fam == 4, &rp);
        } else {
            uint32_t h, info = 0;
            uint64_t bits = 0;
            kb_parse_u64(slash + 1, strlen(slash + 1), &bits);
            h = find_ip(m, a, (int)bits + (fam == 4 ? 96 : 0), &info);
            if (h != NIL && (info & I_ALLOW))
                allowed = chain_has_ind(m, h, info, rp.at);
            else if (h != NIL)
                report(m, h, info, &rp);
        }
    } else if (k == KB_IOC_DOMAIN && b.data[0] != '*') {
        allowed = match_domain(m, b.data, b.len, &rp);
    } else {
        allowed = match_str(m, k, b.data, b.len, &rp);
    }
    return allowed ? -1 : rp.hits;
}

/* ---- events ------------------------------------------------------------------- */

typedef struct seen {
    int cls;
    const char *v;
    size_t len;
} seen;

typedef struct ev_ctx {
    const kb_intel_matcher *m;
    kb_intel_match_counts *c;
    reporter rp;
    seen done[24];
    int ndone;
} ev_ctx;

static int once(ev_ctx *x, int cls, const char *v, size_t len)
{
    for (int i = 0; i < x->ndone; i++)
        if (x->done[i].cls == cls && kb_str_eq(x->done[i].v, x->done[i].len, v, len))
            return 0;
    if (x->ndone < (int)(sizeof x->done / sizeof x->done[0]))
        x->done[x->ndone++] = (seen){cls, v, len};
    return 1;
}

static void note(ev_ctx *x, int allowed, int before)
{
    x->c->lookups++;
    if (allowed)
        x->c->suppressed++;
    x->c->hits += (uint64_t)(x->rp.hits - before);
}

static void look(ev_ctx *x, int cls, int field, const char *fname, const kb_field *f)
{
    const kb_intel_matcher *m = x->m;
    const char *v;
    size_t len;
    int before = x->rp.hits, allowed = 0;
    if (!f || f->len == 0 || f->type == KB_V_NULL || f->len > 4096 || x->rp.stop)
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
    if (!once(x, cls, v, len))
        return;
    x->rp.field = field;
    x->rp.fname = fname;
    x->rp.val = f->val;
    x->rp.len = f->len;
    switch (cls) {
    case KB_IOC_IP: {
        uint8_t a[16];
        int fam = kb_intel_parse_ip(v, len, a);
        if (!fam || !(m->kinds & ((1u << KB_IOC_IP) | (1u << KB_IOC_CIDR))))
            return;
        allowed = match_ip16(m, a, fam == 4, &x->rp);
        break;
    }
    case KB_IOC_DOMAIN: {
        char mem[256];
        size_t n = len;
        if (!(m->kinds & (1u << KB_IOC_DOMAIN)) && !m->allow)
            return;
        if (n && v[n - 1] == '.')
            n--;
        if (n == 0 || n >= sizeof mem)
            return;
        for (size_t i = 0; i < n; i++)
            mem[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] + 32) : v[i];
        allowed = match_domain(m, mem, n, &x->rp);
        break;
    }
    case KB_IOC_URL: {
        char mem[4096];
        KB_INTEL_STACK_BUF(b, mem);
        const char *reason;
        if (!(m->kinds & (1u << KB_IOC_URL)))
            return;
        if (kb_intel_norm_url(v, len, &b, &reason))
            return;
        allowed = match_str(m, KB_IOC_URL, b.data, b.len, &x->rp);
        break;
    }
    case KB_IOC_MD5: /* any digest field: by its length */
    case KB_IOC_JA3: {
        int k = cls == KB_IOC_JA3 ? KB_IOC_JA3 : digest_kind(len);
        if (k < 0 || !(m->kinds & (1u << k)))
            return;
        allowed = match_str(m, k, v, len, &x->rp);
        break;
    }
    case KB_IOC_FILENAME:
    case KB_IOC_EMAIL:
    case KB_IOC_JA4: {
        char mem[320];
        if (!(m->kinds & (1u << cls)) || len >= sizeof mem)
            return;
        for (size_t i = 0; i < len; i++)
            mem[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] + 32) : v[i];
        allowed = match_str(m, cls, mem, len, &x->rp);
        break;
    }
    case KB_IOC_UA:
        if (!(m->kinds & (1u << KB_IOC_UA)))
            return;
        allowed = match_str(m, KB_IOC_UA, v, len, &x->rp);
        break;
    default:
        return;
    }
    note(x, allowed, before);
}

int kb_intel_match(const kb_intel_matcher *m, const kb_event *ev, kb_intel_hit_fn fn, void *ud,
                   kb_intel_match_counts *counts)
{
    static const struct {
        int cls, canon;
    } fields[] = {
        {KB_IOC_IP, KB_F_SOURCE_IP},         {KB_IOC_IP, KB_F_DESTINATION_IP},
        {KB_IOC_IP, KB_F_HOST_IP},           {KB_IOC_URL, KB_F_URL_FULL},
        {KB_IOC_DOMAIN, KB_F_URL_DOMAIN},    {KB_IOC_DOMAIN, KB_F_DNS_QUESTION_NAME},
        {KB_IOC_MD5, KB_F_FILE_HASH_MD5},    {KB_IOC_MD5, KB_F_FILE_HASH_SHA1},
        {KB_IOC_MD5, KB_F_FILE_HASH_SHA256}, {KB_IOC_FILENAME, KB_F_FILE_NAME},
        {KB_IOC_FILENAME, KB_F_FILE_PATH},   {KB_IOC_UA, KB_F_USER_AGENT_ORIGINAL},
    };
    static const struct {
        int cls;
        const char *name;
    } raw[] = {
        {KB_IOC_DOMAIN, "tls.sni"}, {KB_IOC_DOMAIN, "server_name"},
        {KB_IOC_JA3, "tls.ja3.hash"}, {KB_IOC_JA3, "ja3"}, {KB_IOC_JA3, "tls.client.ja3"},
        {KB_IOC_JA4, "tls.ja4"}, {KB_IOC_JA4, "ja4"}, {KB_IOC_JA4, "tls.client.ja4"},
    };
    kb_intel_match_counts dummy = {0};
    ev_ctx x;
    x.m = m;
    x.c = counts ? counts : &dummy;
    x.rp = (reporter)REPORTER(fn, ud, NULL, NULL, 0, ev->ts);
    x.ndone = 0;
    if (!m->sealed)
        return KB_EINVAL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        look(&x, fields[i].cls, fields[i].canon, kb_canon_name(fields[i].canon),
             kb_event_canon(ev, fields[i].canon));
    {
        const kb_field *u = kb_event_canon(ev, KB_F_USER_NAME);
        if (u && u->len && memchr(u->val, '@', u->len))
            look(&x, KB_IOC_EMAIL, KB_F_USER_NAME, "user.name", u);
    }
    if (ev->names && (m->kinds & ((1u << KB_IOC_DOMAIN) | (1u << KB_IOC_JA3) |
                                  (1u << KB_IOC_JA4))))
        for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
            if (m->kinds & (1u << raw[i].cls))
                look(&x, raw[i].cls, -1, raw[i].name, kb_event_get_named(ev, raw[i].name));
    return x.rp.stop;
}

typedef struct batch_fwd {
    kb_intel_batch_hit_fn fn;
    void *ud;
    size_t idx;
} batch_fwd;

static int batch_hit(void *ud, const kb_intel_hit *hit)
{
    batch_fwd *f = ud;
    return f->fn(f->ud, f->idx, hit);
}

int kb_intel_match_batch(const kb_intel_matcher *m, const kb_event *const *evs, size_t n,
                         kb_intel_batch_hit_fn fn, void *ud, kb_intel_match_counts *counts)
{
    static const int ipf[] = {KB_F_SOURCE_IP, KB_F_DESTINATION_IP, KB_F_HOST_IP};
    static const int digf[] = {KB_F_FILE_HASH_MD5, KB_F_FILE_HASH_SHA1, KB_F_FILE_HASH_SHA256};
    enum { EB = 16, KEYS = EB * 6 };
    uint64_t hv[KEYS];
    uint8_t typ[KEYS]; /* 0 none, 1 IPv4 (hv = v4_hash), 2 digest (hv = dig key) */
    uint32_t a4[KEYS];
    int rc = KB_OK;
    if (!m->sealed)
        return KB_EINVAL;
    for (size_t base = 0; base < n && rc == KB_OK; base += EB) {
        size_t k = n - base < EB ? n - base : EB, nk = 0;
        /* 1: the events' addresses and digests, their filter words */
        for (size_t e = 0; e < k; e++) {
            const kb_event *ev = evs[base + e];
            for (size_t f = 0; f < 3; f++) {
                const kb_field *fl = kb_event_canon(ev, ipf[f]);
                uint8_t a[16];
                typ[nk] = 0;
                if (fl && fl->len && fl->len < 64 && kb_intel_parse_ip(fl->val, fl->len, a) == 4) {
                    a4[nk] = v4_of(a);
                    hv[nk] = v4_hash(a4[nk]);
                    pf_v4_1(m, a4[nk], hv[nk]);
                    typ[nk] = 1;
                }
                nk++;
            }
            for (size_t f = 0; f < 3; f++) {
                const kb_field *fl = kb_event_canon(ev, digf[f]);
                int kd = fl ? digest_kind(fl->len) : -1;
                typ[nk] = 0;
                if (kd >= 0 && (m->kinds & (1u << kd)) && !dig_hash(kd, fl->val, fl->len, &hv[nk])) {
                    pf_filt(m, mix(hv[nk]));
                    typ[nk] = 2;
                }
                nk++;
            }
        }
        /* 2: the home slots of the keys that pass the filter */
        for (size_t i = 0; i < nk; i++) {
            if (typ[i] == 1)
                pf_v4_2(m, hv[i]);
            else if (typ[i] == 2 && filt_has(m, mix(hv[i])))
                PREFETCH(&m->dig[hv[i] & m->dig_mask]);
        }
        /* 3: match each event (its keys' lines are on their way) */
        for (size_t e = 0; e < k && rc == KB_OK; e++) {
            batch_fwd f = {fn, ud, base + e};
            rc = kb_intel_match(m, evs[base + e], fn ? batch_hit : NULL, &f, counts);
        }
    }
    return rc;
}
