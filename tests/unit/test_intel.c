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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_normalize),
        cmocka_unit_test(t_matcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
