/* Threat intelligence: normalisation, the matcher (exact, CIDR longest
 * prefix, wildcard domains, allowlist, expiry), events. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "intel/intel.h"

static void norm_ok(int kind, const char *in, int want_kind, const char *want)
{
    kb_buf b;
    int k;
    const char *reason = NULL;
    kb_buf_init(&b, 1 << 20);
    int rc = kb_intel_normalize(kind, in, strlen(in), &b, &k, &reason);
    if (rc != KB_OK || k != want_kind || strcmp(b.data, want) != 0)
        fail_msg("'%s': rc %d kind %s '%s' (%s), want %s '%s'", in, rc, kb_intel_kind_name(k),
                 b.data ? b.data : "", reason ? reason : "", kb_intel_kind_name(want_kind), want);
    kb_buf_release(&b);
}

static void norm_bad(int kind, const char *in, const char *why)
{
    kb_buf b;
    int k;
    const char *reason = NULL;
    kb_buf_init(&b, 1 << 20);
    int rc = kb_intel_normalize(kind, in, strlen(in), &b, &k, &reason);
    if (rc != KB_EINVAL || !reason || !strstr(reason, why))
        fail_msg("'%s': rc %d reason '%s', want '%s'", in, rc, reason ? reason : "", why);
    kb_buf_release(&b);
}

static void t_normalize(void **state)
{
    (void)state;
    norm_ok(-1, " 10.1.2.3 ", KB_IOC_IP, "10.1.2.3");
    norm_ok(-1, "2001:DB8:0:0::1", KB_IOC_IP, "2001:db8::1");
    norm_ok(-1, "::ffff:192.0.2.1", KB_IOC_IP, "192.0.2.1");
    norm_ok(-1, "10.1.2.3/8", KB_IOC_CIDR, "10.0.0.0/8");
    norm_ok(-1, "192.0.2.7/32", KB_IOC_IP, "192.0.2.7");
    norm_ok(-1, "2001:db8:ffff::/32", KB_IOC_CIDR, "2001:db8::/32");
    norm_ok(-1, "Evil.Example.COM.", KB_IOC_DOMAIN, "evil.example.com");
    norm_ok(-1, "*.Bad.org", KB_IOC_DOMAIN, "*.bad.org");
    norm_ok(-1, "D41D8CD98F00B204E9800998ECF8427E", KB_IOC_MD5, "d41d8cd98f00b204e9800998ecf8427e");
    norm_ok(-1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", KB_IOC_SHA1,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    norm_ok(-1, "Phish@Example.COM", KB_IOC_EMAIL, "phish@example.com");
    norm_ok(-1, "HTTP://WWW.Example.com:80/a%7Eb/%2f?q=%41#frag", KB_IOC_URL,
            "http://www.example.com/a~b/%2F?q=A");
    norm_ok(-1, "https://example.com:443", KB_IOC_URL, "https://example.com/");
    norm_ok(-1, "https://example.com:8443/x y", KB_IOC_URL, "https://example.com:8443/x%20y");
    norm_ok(KB_IOC_FILENAME, "C:\\Windows\\Temp\\EVIL.exe", KB_IOC_FILENAME, "evil.exe");
    norm_ok(KB_IOC_JA3, "E7D705A3286E19EA42F587B344EE6865", KB_IOC_JA3,
            "e7d705a3286e19ea42f587b344ee6865");
    norm_ok(KB_IOC_JA4, "t13d1516h2_8daaf6152771_02713d6af862", KB_IOC_JA4,
            "t13d1516h2_8daaf6152771_02713d6af862");
    norm_ok(KB_IOC_UA, " Mozilla/5.0 (evil) ", KB_IOC_UA, "Mozilla/5.0 (evil)");

    norm_bad(KB_IOC_IP, "300.1.2.3", "not an IPv4 or IPv6 address");
    norm_bad(-1, "10.0.0.0/33", "bad prefix length");
    norm_bad(-1, "0.0.0.0/0", "matches everything");
    norm_bad(KB_IOC_MD5, "abc", "MD5 hash is not 32 hex digits");
    norm_bad(KB_IOC_SHA256, "zz4b8b3f8a5c7e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60",
             "non-hex");
    norm_bad(KB_IOC_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd8070", "40 hex digits");
    norm_bad(-1, "not a domain!", "invalid character");
    norm_bad(-1, "localhost", "without a dot");
    norm_bad(-1, "a..b.com", "empty label");
    norm_bad(-1, "a@b@c.com", "e-mail");
    norm_bad(-1, "", "empty");
    norm_bad(KB_IOC_URL, "example.com/path", "scheme");
    norm_bad(KB_IOC_URL, "http://example.com:99999/", "bad port");
}

typedef struct hits {
    int n;
    char feeds[256];
    const char *level;
    int field;
} hits;

static int on_hit(void *ud, const kb_intel_hit *h)
{
    hits *x = ud;
    size_t l = strlen(x->feeds);
    x->n++;
    snprintf(x->feeds + l, sizeof x->feeds - l, "%s%s", l ? "," : "", h->ind->feed);
    x->level = h->level;
    x->field = h->field;
    return 0;
}

static void add(kb_intel_matcher *m, const char *v, const char *feed, int conf,
                const char *threat, int64_t until)
{
    kb_buf b;
    int k;
    const char *reason;
    kb_buf_init(&b, 1 << 16);
    assert_int_equal(kb_intel_normalize(-1, v, strlen(v), &b, &k, &reason), KB_OK);
    kb_indicator ind = {.kind = k, .value = b.data, .feed = feed, .confidence = conf,
                        .threat = threat, .first_seen = KB_TIME_NONE,
                        .last_seen = KB_TIME_NONE, .valid_until = until};
    assert_int_equal(kb_intel_matcher_add(m, &ind), KB_OK);
    kb_buf_release(&b);
}

static int lk(const kb_intel_matcher *m, const char *v, hits *h)
{
    memset(h, 0, sizeof *h);
    return kb_intel_lookup(m, -1, v, strlen(v), on_hit, h);
}

typedef struct thr {
    pthread_t id;
    const kb_intel_matcher *m;
    const kb_event *ev;
    int bad;
} thr;

static int count_hit(void *ud, const kb_intel_hit *hit)
{
    (void)hit;
    (*(int *)ud)++;
    return 0;
}

static void *run_thr(void *arg)
{
    thr *t = arg;
    for (int i = 0; i < 20000; i++) {
        kb_intel_match_counts c = {0};
        int n = 0;
        static const uint8_t a[4] = {203, 0, 113, 5};
        if (kb_intel_match(t->m, t->ev, count_hit, &n, &c) != KB_OK || n != 3 ||
            c.suppressed != 1 || kb_intel_lookup_ip(t->m, a, 0, NULL, NULL) != 2)
            t->bad++;
    }
    return NULL;
}

static void t_matcher(void **state)
{
    (void)state;
    int64_t now = INT64_C(1700000000) * KB_NS_PER_SEC;
    kb_intel_matcher *m = kb_intel_matcher_new(now);
    hits h;
    const char *reason;
    add(m, "203.0.113.5", "feedA", 90, "c2", KB_TIME_NONE);
    add(m, "203.0.113.5", "feedB", 40, "scanner", KB_TIME_NONE);
    add(m, "203.0.113.0/24", "ranges", 60, "scanner", KB_TIME_NONE);
    add(m, "203.0.0.0/16", "wide", 30, NULL, KB_TIME_NONE);
    add(m, "2001:db8::/32", "v6", 50, NULL, KB_TIME_NONE);
    add(m, "198.51.100.9", "old", 90, "c2", now - 1);
    add(m, "evil.example.com", "dom", 80, "phishing", KB_TIME_NONE);
    add(m, "*.bad.org", "wild", 70, "malware-download", KB_TIME_NONE);
    add(m, "d41d8cd98f00b204e9800998ecf8427e", "hashes", 100, "malware", KB_TIME_NONE);
    add(m, "http://www.example.com/a~b", "urls", 50, NULL, KB_TIME_NONE);
    add(m, "10.9.9.9", "internal", 50, NULL, KB_TIME_NONE);
    add(m, "corp.example.net", "internal", 50, NULL, KB_TIME_NONE);
    assert_int_equal(kb_intel_matcher_allow(m, "10.0.0.0/8", 10, &reason), KB_OK);
    assert_int_equal(kb_intel_matcher_allow(m, "*.example.net", 13, &reason), KB_OK);
    assert_int_equal(kb_intel_matcher_seal(m), KB_OK);

    kb_intel_matcher_stats s;
    kb_intel_matcher_stats_get(m, &s);
    assert_int_equal(s.indicators, 11);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.allow, 2);

    assert_int_equal(lk(m, "203.0.113.5", &h), 2); /* exact beats the ranges */
    assert_string_equal(h.feeds, "feedA,feedB");
    assert_int_equal(lk(m, "203.0.113.77", &h), 1); /* longest prefix: /24 */
    assert_string_equal(h.feeds, "ranges");
    assert_string_equal(h.level, "medium");
    assert_int_equal(lk(m, "203.0.1.1", &h), 1);
    assert_string_equal(h.feeds, "wide");
    assert_string_equal(h.level, "low");
    assert_int_equal(lk(m, "203.1.0.1", &h), 0);
    assert_int_equal(lk(m, "2001:db8:1::5", &h), 1);
    assert_int_equal(lk(m, "198.51.100.9", &h), 0); /* expired */
    assert_int_equal(lk(m, "EVIL.example.com", &h), 1);
    assert_int_equal(lk(m, "x.evil.example.com", &h), 0); /* exact only */
    assert_int_equal(lk(m, "a.b.bad.org", &h), 1);
    assert_string_equal(h.feeds, "wild");
    assert_int_equal(lk(m, "bad.org", &h), 1);
    assert_int_equal(lk(m, "notbad.org", &h), 0);
    assert_int_equal(lk(m, "D41D8CD98F00B204E9800998ECF8427E", &h), 1);
    assert_string_equal(h.level, "high");
    assert_int_equal(lk(m, "HTTP://www.EXAMPLE.com:80/a%7eb", &h), 1);
    assert_int_equal(lk(m, "10.9.9.9", &h), -1);          /* allowlisted range */
    assert_int_equal(lk(m, "corp.example.net", &h), -1);  /* allowlisted zone */
    /* an allowlisted value that no indicator covers is no suppressed hit */
    assert_int_equal(lk(m, "10.1.2.3", &h), 0);
    assert_int_equal(lk(m, "www.example.net", &h), 0);
    assert_int_equal(kb_intel_lookup_hash(m, "d41d8cd98f00b204e9800998ecf8427e", 32, NULL, NULL),
                     1);
    {
        /* hex is decoded eight digits at a time: any case mix hits; one
         * byte that is not a hex digit, at any position, misses */
        static const unsigned char bad[] = {'g', 'G', '/', ':', '@', '`', 'z', ' ', 0, 0x80, 0xb0, 0xff};
        char d[33] = "D41d8Cd98F00b204E9800998eCF8427E";
        assert_int_equal(kb_intel_lookup_hash(m, d, 32, NULL, NULL), 1);
        for (int i = 0; i < 32; i++)
            for (size_t k = 0; k < sizeof bad; k++) {
                char c = d[i];
                d[i] = (char)bad[k];
                assert_int_equal(kb_intel_lookup_hash(m, d, 32, NULL, NULL), 0);
                d[i] = c;
            }
    }
    {
        uint8_t a[4] = {203, 0, 113, 5};
        assert_int_equal(kb_intel_lookup_ip(m, a, 0, NULL, NULL), 2);
    }

    /* events */
    kb_names *names = kb_names_new(0);
    kb_arena *ar = kb_arena_new(4096, 1 << 20);
    kb_event ev;
    kb_intel_match_counts c = {0};
    kb_event_init(&ev, names, ar);
    kb_event_set(&ev, KB_F_SOURCE_IP, KB_V_STR, "10.9.9.9", 8);
    kb_event_set(&ev, KB_F_DESTINATION_IP, KB_V_STR, "203.0.113.5", 11);
    kb_event_set(&ev, KB_F_HOST_IP, KB_V_STR, "203.0.113.5", 11);
    kb_event_set(&ev, KB_F_DNS_QUESTION_NAME, KB_V_STR, "cdn.bad.org", 11);
    kb_event_set(&ev, KB_F_URL_DOMAIN, KB_V_STR, "cdn.bad.org", 11);
    kb_event_set(&ev, KB_F_FILE_PATH, KB_V_STR, "/tmp/x", 6);
    memset(&h, 0, sizeof h);
    assert_int_equal(kb_intel_match(m, &ev, on_hit, &h, &c), KB_OK);
    assert_int_equal(h.n, 3); /* 203.0.113.5 twice (two feeds, once per value) + bad.org */
    assert_string_equal(h.feeds, "feedA,feedB,wild");
    assert_int_equal(c.hits, 3);
    assert_int_equal(c.suppressed, 1);
    /* one sealed matcher, many threads at once: the same answers */
    {
        thr t[4];
        for (int i = 0; i < 4; i++) {
            t[i].m = m;
            t[i].ev = &ev;
            t[i].bad = 0;
            assert_int_equal(pthread_create(&t[i].id, NULL, run_thr, &t[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i].id, NULL);
            assert_int_equal(t[i].bad, 0);
        }
    }
    kb_arena_free(ar);
    kb_names_free(names);
    kb_intel_matcher_free(m);
}

/* ---- batches against the single lookups and a brute-force oracle ----------------- */

static uint64_t trng = 88172645463325252u;

static uint64_t tnext(void)
{
    trng ^= trng << 13;
    trng ^= trng >> 7;
    trng ^= trng << 17;
    return trng;
}

typedef struct oent {
    uint8_t a[16];
    int plen; /* in the 128-bit space */
    int64_t until;
    int allow;
} oent;

#define T0 (INT64_C(1700000000) * KB_NS_PER_SEC)

static int o_live(int64_t until, int64_t at)
{
    return until == KB_TIME_NONE || at == KB_TIME_NONE || at <= until;
}

static int o_covers(const oent *e, const uint8_t q[16])
{
    for (int b = 0; b < e->plen; b++)
        if (((e->a[b / 8] ^ q[b / 8]) >> (7 - b % 8)) & 1)
            return 0;
    return 1;
}

/* What a lookup must answer: the live indicators at the longest covering
 * prefix that has one; -1 when an allowlisted prefix covers too. */
static int o_ip(const oent *e, size_t n, const uint8_t q[16], int64_t at)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int v4 = memcmp(q, mapped, 12) == 0, best = -1, cnt = 0, allowed = 0;
    for (size_t i = 0; i < n; i++) {
        if (v4 && e[i].plen < 96)
            continue;
        if (!o_covers(&e[i], q))
            continue;
        if (e[i].allow)
            allowed = 1;
        else if (o_live(e[i].until, at) && e[i].plen > best)
            best = e[i].plen;
    }
    for (size_t i = 0; i < n; i++)
        if (!e[i].allow && e[i].plen == best && o_covers(&e[i], q) && o_live(e[i].until, at))
            cnt++;
    if (allowed)
        return best >= 0 ? -1 : 0;
    return cnt;
}

static void fmt_ip(char *out, size_t cap, const uint8_t a[16], int plen)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int n;
    if (memcmp(a, mapped, 12) == 0)
        n = snprintf(out, cap, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    else
        n = snprintf(out, cap, "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1], a[2] << 8 | a[3],
                     a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11],
                     a[12] << 8 | a[13], a[14] << 8 | a[15]);
    if (plen < 128)
        snprintf(out + n, cap - (size_t)n, "/%d", memcmp(a, mapped, 12) == 0 ? plen - 96 : plen);
}

/* A random address in a small space, so that values, ranges and queries
 * meet: IPv4 198.51.0-63.x, IPv6 2001:db8::0-3:x. */
static void rnd_addr(uint8_t a[16], int v6)
{
    uint64_t r = tnext();
    memset(a, 0, 16);
    if (!v6) {
        a[10] = a[11] = 0xff;
        a[12] = 198, a[13] = 51, a[14] = (uint8_t)(r & 63), a[15] = (uint8_t)(r >> 8);
    } else {
        a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
        a[13] = (uint8_t)(r & 3), a[15] = (uint8_t)(r >> 8);
    }
}

static void mask16(uint8_t a[16], int plen)
{
    for (int b = plen; b < 128; b++)
        a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
}

static int64_t rnd_until(void)
{
    static const int64_t u[] = {KB_TIME_NONE, KB_TIME_NONE, T0 - 100, T0, T0 + 100};
    return u[tnext() % 5];
}

static const int64_t ats[] = {KB_TIME_NONE, T0 - 200, T0, T0 + 50, T0 + 200};

typedef struct hitlog {
    char s[1 << 16];
    size_t len;
    int64_t idx;
} hitlog;

static int log_hit(void *ud, const kb_intel_hit *h)
{
    hitlog *l = ud;
    int n = snprintf(l->s + l->len, sizeof l->s - l->len, "%lld:%s:%s:%s;", (long long)l->idx,
                     h->fname, h->ind->value, h->ind->feed);
    if (n > 0 && l->len + (size_t)n < sizeof l->s)
        l->len += (size_t)n;
    return 0;
}

static int log_batch_hit(void *ud, size_t idx, const kb_intel_hit *h)
{
    hitlog *l = ud;
    l->idx = (int64_t)idx;
    return log_hit(ud, h);
}

static void t_batch(void **state)
{
    (void)state;
    enum { NE = 700, NQ = 3000, ND = 300 };
    static oent ents[NE];
    static char digs[ND][65];
    static int64_t duntil[ND];
    static uint8_t q16[NQ][16], q4[NQ][4];
    static int out[NQ];
    static char qd[NQ][65];
    const char *qdp[NQ];
    size_t qdl[NQ];
    kb_intel_matcher *m = kb_intel_matcher_new(KB_TIME_NONE);
    const char *reason;
    char v[128];
    static const char *const feeds[] = {"fa", "fb", "fc"};

    /* addresses and ranges, IPv4 and IPv6, several feeds, expiry, allowlist */
    for (int i = 0; i < NE; i++) {
        oent *e = &ents[i];
        int v6 = tnext() % 4 == 0, r = (int)(tnext() % 10);
        rnd_addr(e->a, v6);
        e->plen = r < 8 ? 128 : v6 ? 112 + (int)(tnext() % 16) : 96 + 23 + (int)(tnext() % 9);
        mask16(e->a, e->plen);
        e->until = rnd_until();
        e->allow = tnext() % 40 == 0;
        if (i > 0 && tnext() % 8 == 0) { /* the same value from another feed */
            memcpy(e->a, ents[i - 1].a, 16);
            e->plen = ents[i - 1].plen;
            e->allow = 0;
        }
        fmt_ip(v, sizeof v, e->a, e->plen);
        if (e->allow) {
            assert_int_equal(kb_intel_matcher_allow(m, v, strlen(v), &reason), KB_OK);
            continue;
        }
        add(m, v, feeds[i % 3], 50, "c2", e->until);
    }
    /* digests; some share their first 64 bits with another */
    for (int i = 0; i < ND; i++) {
        static const int lens[] = {32, 40, 64};
        size_t len = (size_t)lens[i % 3];
        for (size_t j = 0; j < len; j++)
            digs[i][j] = "0123456789abcdef"[tnext() & 15];
        digs[i][len] = 0;
        if (i >= 3 && i % 7 == 0)
            memcpy(digs[i], digs[i - 3], 16);
        duntil[i] = rnd_until();
        add(m, digs[i], feeds[i % 3], 60, "malware", duntil[i]);
    }
    assert_int_equal(kb_intel_matcher_allow(m, digs[5], strlen(digs[5]), &reason), KB_OK);
    assert_int_equal(kb_intel_matcher_seal(m), KB_OK);

    /* queries: half near the indicators, some exactly theirs */
    for (int i = 0; i < NQ; i++) {
        int v6 = i % 5 == 0;
        rnd_addr(q16[i], v6);
        if (!v6 && tnext() % 3 == 0)
            q16[i][15] = (uint8_t)(tnext() >> 3), q16[i][14] = (uint8_t)tnext();
        memcpy(q4[i], q16[i] + 12, 4);
        int d = (int)(tnext() % ND);
        size_t len = strlen(digs[d]);
        memcpy(qd[i], digs[d], len + 1);
        if (i % 3 == 1) /* a near miss: same first 64 bits, another tail */
            qd[i][len - 1] = qd[i][len - 1] == '0' ? '1' : '0';
        if (i % 5 == 2) /* upper case is the same digest */
            for (size_t j = 0; j < len; j++)
                qd[i][j] = (char)(qd[i][j] >= 'a' ? qd[i][j] - 32 : qd[i][j]);
        qdp[i] = qd[i];
        qdl[i] = len;
    }

    for (size_t t = 0; t < sizeof ats / sizeof ats[0]; t++) {
        int64_t at = ats[t];
        assert_int_equal(kb_intel_lookup_ip_batch(m, &q16[0][0], NQ, at, out), KB_OK);
        for (int i = 0; i < NQ; i++) {
            int want = o_ip(ents, NE, q16[i], at);
            if (out[i] != want) {
                fmt_ip(v, sizeof v, q16[i], 128);
                fail_msg("ip batch %s at %zu: %d, want %d", v, t, out[i], want);
            }
            if (at == KB_TIME_NONE &&
                kb_intel_lookup_ip(m, q16[i], 1, NULL, NULL) != want)
                fail_msg("ip single %d", i);
        }
        /* the IPv4 ones as 4-byte keys */
        static uint8_t k4[NQ][4];
        static int o4[NQ];
        size_t n4 = 0;
        int idx[NQ];
        for (int i = 0; i < NQ; i++)
            if (i % 5)
                memcpy(k4[n4], q4[i], 4), idx[n4++] = i;
        assert_int_equal(kb_intel_lookup_ip4_batch(m, &k4[0][0], n4, at, o4), KB_OK);
        for (size_t i = 0; i < n4; i++) {
            assert_int_equal(o4[i], out[idx[i]]);
            if (at == KB_TIME_NONE)
                assert_int_equal(kb_intel_lookup_ip(m, k4[i], 0, NULL, NULL), o4[i]);
        }
        /* digests */
        assert_int_equal(kb_intel_lookup_hash_batch(m, qdp, qdl, NQ, at, out), KB_OK);
        for (int i = 0; i < NQ; i++) {
            int want = 0, allowed = 0;
            for (int d = 0; d < ND; d++)
                if (strlen(digs[d]) == qdl[i] && strncasecmp(digs[d], qd[i], qdl[i]) == 0) {
                    want += o_live(duntil[d], at);
                    allowed |= d == 5;
                }
            if (allowed)
                want = want ? -1 : 0;
            if (out[i] != want)
                fail_msg("hash batch %s at %zu: %d, want %d", qd[i], t, out[i], want);
            if (at == KB_TIME_NONE)
                assert_int_equal(kb_intel_lookup_hash(m, qd[i], qdl[i], NULL, NULL), want);
        }
    }

    /* events: kb_intel_match_batch reports what kb_intel_match does, each
     * event at its own time */
    {
        enum { NEV = 300 };
        kb_names *names = kb_names_new(0);
        kb_arena *ar = kb_arena_new(4096, 1 << 22);
        static kb_event evs[NEV];
        const kb_event *evp[NEV];
        static char sv[NEV][3][64];
        static hitlog one, all;
        kb_intel_match_counts c1 = {0}, c2 = {0};
        for (int i = 0; i < NEV; i++) {
            kb_event_init(&evs[i], names, ar);
            fmt_ip(sv[i][0], 64, q16[i], 128);
            fmt_ip(sv[i][1], 64, q16[NQ - 1 - i], 128);
            kb_event_set(&evs[i], KB_F_SOURCE_IP, KB_V_STR, sv[i][0], strlen(sv[i][0]));
            kb_event_set(&evs[i], KB_F_DESTINATION_IP, KB_V_STR, sv[i][1], strlen(sv[i][1]));
            kb_event_set(&evs[i], qdl[i] == 32 ? KB_F_FILE_HASH_MD5 : qdl[i] == 40
                                      ? KB_F_FILE_HASH_SHA1 : KB_F_FILE_HASH_SHA256,
                         KB_V_STR, qd[i], qdl[i]);
            evs[i].ts = ats[i % 5];
            evp[i] = &evs[i];
        }
        one.len = all.len = 0;
        for (int i = 0; i < NEV; i++) {
            one.idx = i;
            assert_int_equal(kb_intel_match(m, &evs[i], log_hit, &one, &c1), KB_OK);
        }
        assert_int_equal(kb_intel_match_batch(m, evp, NEV, log_batch_hit, &all, &c2), KB_OK);
        assert_true(one.len > 100); /* the data does hit */
        assert_int_equal(one.len, all.len);
        assert_memory_equal(one.s, all.s, one.len);
        assert_int_equal(c1.lookups, c2.lookups);
        assert_int_equal(c1.hits, c2.hits);
        assert_int_equal(c1.suppressed, c2.suppressed);
        /* an expired indicator stops matching by the event's time */
        {
            kb_intel_matcher *m2 = kb_intel_matcher_new(KB_TIME_NONE);
            kb_event e;
            int n = 0;
            add(m2, "192.0.2.1", "f", 90, "c2", T0);
            assert_int_equal(kb_intel_matcher_seal(m2), KB_OK);
            kb_event_init(&e, names, ar);
            kb_event_set(&e, KB_F_SOURCE_IP, KB_V_STR, "192.0.2.1", 9);
            e.ts = T0;
            assert_int_equal(kb_intel_match(m2, &e, count_hit, &n, NULL), KB_OK);
            assert_int_equal(n, 1);
            e.ts = T0 + 1;
            assert_int_equal(kb_intel_match(m2, &e, count_hit, &n, NULL), KB_OK);
            assert_int_equal(n, 1);
            kb_intel_matcher_free(m2);
        }
        kb_arena_free(ar);
        kb_names_free(names);
    }
    kb_intel_matcher_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_normalize),
        cmocka_unit_test(t_matcher),
        cmocka_unit_test(t_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
