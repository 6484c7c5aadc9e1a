/* Intel matching for `koban scan` (intel/scan-match.c): its prefilter and
 * hand-written parsers must never lose a hit the reference kb_intel_match
 * finds, on the fields both read; plus the fields only it reads, the
 * allowlist count, kinds without indicators, and -j safety (no state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intel/intel.h"
#include "intel/scan-match.h"

typedef struct hits {
    int n;
    char got[4096];
} hits;

static int on_hit(void *ud, const kb_intel_hit *h)
{
    hits *x = ud;
    size_t l = strlen(x->got);
    x->n++;
    snprintf(x->got + l, sizeof x->got - l, "%s=%s[%s];", h->fname, h->ind->value, h->ind->feed);
    return 0;
}

static const struct {
    const char *v, *feed;
} iocs[] = {
    {"203.0.113.5", "a"},
    {"198.51.100.0/24", "a"},
    {"2001:db8::66", "a"},
    {"evil.example.com", "a"},
    {"*.bad.org", "w"},
    {"http://files.example.org/shared/x.docm", "u"},
    {"http://user@files.example.org/p?q=%41", "u"},
    {"d41d8cd98f00b204e9800998ecf8427e", "h"},
    {"da39a3ee5e6b4b0d3255bfef95601890afd80709", "h"},
    {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "h"},
    {"mallory@evil.example.com", "e"},
    {"dropper.exe", "f"},
    {"BadBot/1.0", "ua"},
    {"10.9.9.9", "allowed"},
};

static kb_intel_matcher *ref;
static kb_intel_scan *fast;
static kb_names *names;

static void add_all(void)
{
    kb_buf b;
    kb_buf_init(&b, 1 << 16);
    ref = kb_intel_matcher_new(0);
    fast = kb_intel_scan_new(0);
    assert_non_null(ref);
    assert_non_null(fast);
    for (size_t i = 0; i < sizeof iocs / sizeof iocs[0]; i++) {
        const char *reason;
        int kind, want = strcmp(iocs[i].feed, "f") == 0    ? KB_IOC_FILENAME
                         : strcmp(iocs[i].feed, "ua") == 0 ? KB_IOC_UA
                         : strcmp(iocs[i].feed, "w") == 0  ? KB_IOC_DOMAIN
                                                           : -1;
        assert_int_equal(kb_intel_normalize(want, iocs[i].v, strlen(iocs[i].v), &b, &kind, &reason),
                         KB_OK);
        kb_indicator ind = {kind, b.data, iocs[i].feed, 80, "c2", KB_TIME_NONE, KB_TIME_NONE,
                            KB_TIME_NONE, NULL, NULL, NULL};
        assert_int_equal(kb_intel_matcher_add(ref, &ind), KB_OK);
        assert_int_equal(kb_intel_scan_add(fast, &ind), KB_OK);
    }
    kb_buf_release(&b);
    const char *reason;
    assert_int_equal(kb_intel_matcher_allow(ref, "10.0.0.0/8", 10, &reason), KB_OK);
    assert_int_equal(kb_intel_scan_allow(fast, "10.0.0.0/8", 10, &reason), KB_OK);
    assert_int_equal(kb_intel_matcher_seal(ref), KB_OK);
    assert_int_equal(kb_intel_scan_seal(fast, names), KB_OK);
    assert_int_equal(kb_intel_scan_indicators(fast), sizeof iocs / sizeof iocs[0]);
}

/* One event of canonical fields (c, value) pairs and raw (name, value). */
typedef struct fv {
    int canon;         /* -1: raw */
    const char *name;  /* raw name */
    const char *v;
} fv;

static void build(kb_event *ev, kb_arena *ar, const fv *f, size_t n)
{
    kb_arena_clear(ar);
    kb_event_init(ev, names, ar);
    for (size_t i = 0; i < n; i++) {
        if (f[i].canon >= 0)
            assert_true(kb_event_set(ev, f[i].canon, KB_V_STR, f[i].v, strlen(f[i].v)) >= 0);
        else
            assert_true(kb_event_add_named(ev, f[i].name, strlen(f[i].name), KB_V_STR, f[i].v,
                                           strlen(f[i].v)) >= 0);
    }
}

static void same(const fv *f, size_t n, int want_hits)
{
    kb_arena *ar = kb_arena_new(4096, 1 << 20);
    kb_event ev;
    hits a = {0, ""}, b = {0, ""};
    kb_intel_match_counts ca = {0, 0, 0}, cb = {0, 0, 0};
    build(&ev, ar, f, n);
    assert_int_equal(kb_intel_match(ref, &ev, on_hit, &a, &ca), KB_OK);
    assert_int_equal(kb_intel_scan_match(fast, &ev, on_hit, &b, &cb), KB_OK);
    if (a.n != b.n || strcmp(a.got, b.got) != 0 || a.n != want_hits)
        fail_msg("reference %d hits '%s', scan %d hits '%s', want %d", a.n, a.got, b.n, b.got,
                 want_hits);
    assert_int_equal(ca.hits, cb.hits);
    assert_int_equal(ca.suppressed, cb.suppressed);
    kb_arena_free(ar);
}

#define SAME(want, ...)                                                   \
    do {                                                                  \
        const fv f_[] = {__VA_ARGS__};                                    \
        same(f_, sizeof f_ / sizeof f_[0], want);                        \
    } while (0)

static void t_same_as_reference(void **state)
{
    (void)state;
    names = kb_names_new(0);
    add_all();
    /* addresses: exact, range, IPv6, mapped, near misses, the allowlist */
    SAME(1, {KB_F_DESTINATION_IP, NULL, "203.0.113.5"});
    SAME(1, {KB_F_SOURCE_IP, NULL, "198.51.100.77"}, {KB_F_DESTINATION_IP, NULL, "192.0.2.1"});
    SAME(1, {KB_F_SOURCE_IP, NULL, "2001:DB8::66"});
    SAME(1, {KB_F_SOURCE_IP, NULL, "::ffff:203.0.113.5"});
    SAME(0, {KB_F_SOURCE_IP, NULL, "203.0.113.50"}, {KB_F_HOST_IP, NULL, "203.0.113"});
    SAME(0, {KB_F_SOURCE_IP, NULL, "203.000.113.5"}, {KB_F_HOST_IP, NULL, "203.0.113.5 "});
    SAME(0, {KB_F_SOURCE_IP, NULL, "256.0.113.5"}, {KB_F_HOST_IP, NULL, "1.2.3.4.5"});
    SAME(0, {KB_F_SOURCE_IP, NULL, "10.9.9.9"}); /* allowlisted: suppressed, counted */
    /* the same value in two fields hits once */
    SAME(1, {KB_F_SOURCE_IP, NULL, "203.0.113.5"}, {KB_F_HOST_IP, NULL, "203.0.113.5"});
    /* domains: case, trailing dot, wildcard at any depth, near misses */
    SAME(1, {KB_F_DNS_QUESTION_NAME, NULL, "EVIL.Example.COM."});
    SAME(1, {KB_F_URL_DOMAIN, NULL, "a.b.c.bad.org"});
    SAME(1, {KB_F_URL_DOMAIN, NULL, "bad.org"});
    SAME(0, {KB_F_URL_DOMAIN, NULL, "notbad.org"}, {KB_F_DNS_QUESTION_NAME, NULL, "example.com"});
    /* URLs: scheme and host case, default port, escapes, userinfo */
    SAME(1, {KB_F_URL_FULL, NULL, "HTTP://Files.Example.ORG:80/shared/x.docm"});
    SAME(1, {KB_F_URL_FULL, NULL, "http://files.example.org/shared/x.docm#frag"});
    SAME(1, {KB_F_URL_FULL, NULL, "http://user@FILES.example.org/p?q=A"});
    SAME(1, {KB_F_URL_FULL, NULL, "http://files.example.org./shared/%78.docm"});
    SAME(0, {KB_F_URL_FULL, NULL, "http://%66iles.example.org/shared/x.docm"}); /* as the reference */
    SAME(0, {KB_F_URL_FULL, NULL, "http://files.example.org/shared/y.docm"});
    SAME(0, {KB_F_URL_FULL, NULL, "/shared/x.docm"}, {KB_F_URL_FULL, NULL, "http://"});
    SAME(0, {KB_F_URL_FULL, NULL, "http://user:pw@files.example.org/p?q=A"});
    SAME(0, {KB_F_URL_FULL, NULL, "http://[2001:db8::66]:8080/"}, {KB_F_URL_FULL, NULL, "ftp://@:/"});
    /* hashes of each length, either case */
    SAME(1, {KB_F_FILE_HASH_MD5, NULL, "D41D8CD98F00B204E9800998ECF8427E"});
    SAME(2, {KB_F_FILE_HASH_SHA1, NULL, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
         {KB_F_FILE_HASH_SHA256, NULL,
          "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"});
    SAME(0, {KB_F_FILE_HASH_MD5, NULL, "d41d8cd98f00b204e9800998ecf8427f"});
    /* file names from a name or a path, e-mail in user.name, user agents */
    SAME(1, {KB_F_FILE_PATH, NULL, "C:\\Users\\bob\\Dropper.EXE"});
    SAME(1, {KB_F_FILE_NAME, NULL, "dropper.exe"});
    SAME(1, {KB_F_USER_NAME, NULL, "Mallory@Evil.Example.com"});
    SAME(0, {KB_F_USER_NAME, NULL, "mallory"});
    SAME(1, {KB_F_USER_AGENT_ORIGINAL, NULL, "BadBot/1.0"});
    /* raw TLS fields both read */
    SAME(1, {-1, "tls.sni", "evil.example.com"});
    SAME(1, {-1, "server_name", "x.bad.org"}, {-1, "other", "evil.example.com"});
    /* everything at once */
    SAME(5, {KB_F_SOURCE_IP, NULL, "198.51.100.1"}, {KB_F_DESTINATION_IP, NULL, "203.0.113.5"},
         {KB_F_URL_FULL, NULL, "http://files.example.org/shared/x.docm"},
         {KB_F_URL_DOMAIN, NULL, "files.example.org"},
         {KB_F_DNS_QUESTION_NAME, NULL, "evil.example.com"},
         {KB_F_FILE_HASH_MD5, NULL, "d41d8cd98f00b204e9800998ecf8427e"});
}

static void t_extra_fields(void **state)
{
    (void)state;
    kb_arena *ar = kb_arena_new(4096, 1 << 20);
    kb_event ev;
    hits h = {0, ""};
    const fv f[] = {{-1, "email.from.address", "MALLORY@evil.example.com"},
                    {-1, "tls.server.name", "evil.example.com"}};
    build(&ev, ar, f, 2);
    assert_int_equal(kb_intel_scan_match(fast, &ev, on_hit, &h, NULL), KB_OK);
    assert_string_equal(h.got, "email.from.address=mallory@evil.example.com[e];"
                               "tls.server.name=evil.example.com[a];");
    kb_arena_free(ar);
}

static int stop_first(void *ud, const kb_intel_hit *h)
{
    (void)h;
    ++*(int *)ud;
    return 7;
}

static void t_stop_and_empty(void **state)
{
    (void)state;
    kb_arena *ar = kb_arena_new(4096, 1 << 20);
    kb_event ev;
    int n = 0;
    const fv f[] = {{KB_F_SOURCE_IP, NULL, "203.0.113.5"}, {KB_F_DESTINATION_IP, NULL, "198.51.100.2"}};
    build(&ev, ar, f, 2);
    assert_int_equal(kb_intel_scan_match(fast, &ev, stop_first, &n, NULL), 7);
    assert_int_equal(n, 1);
    /* a matcher with only hashes never looks at addresses */
    kb_intel_scan *h = kb_intel_scan_new(0);
    kb_indicator ind = {KB_IOC_MD5, "d41d8cd98f00b204e9800998ecf8427e", "h", 50, NULL,
                        KB_TIME_NONE, KB_TIME_NONE, KB_TIME_NONE, NULL, NULL, NULL};
    kb_intel_match_counts c = {0, 0, 0};
    assert_int_equal(kb_intel_scan_match(h, &ev, NULL, NULL, &c), KB_EINVAL); /* not sealed */
    assert_int_equal(kb_intel_scan_add(h, &ind), KB_OK);
    assert_int_equal(kb_intel_scan_seal(h, names), KB_OK);
    assert_int_equal(kb_intel_scan_match(h, &ev, NULL, NULL, &c), KB_OK);
    assert_int_equal(c.lookups, 0);
    kb_intel_scan_free(h);
    /* the IPv4 prefilter scan-match uses: addresses, ranges and allowlist
     * entries may hit, others not (host byte order) */
    assert_true(kb_intel_ip4_may(ref, 0xCB007105u));   /* 203.0.113.5 */
    assert_true(kb_intel_ip4_may(ref, 0xC63364FEu));   /* 198.51.100.254, in the /24 */
    assert_true(kb_intel_ip4_may(ref, 0x0A090909u));   /* 10.9.9.9 */
    assert_true(kb_intel_ip4_may(ref, 0x0A010203u));   /* allowlisted 10.0.0.0/8 */
    assert_false(kb_intel_ip4_may(ref, 0xCB007106u));  /* 203.0.113.6 */
    assert_false(kb_intel_ip4_may(ref, 0xC6336500u));  /* 198.51.101.0 */
    assert_false(kb_intel_ip4_may(ref, 0x08080808u));  /* 8.8.8.8 */
    kb_arena_free(ar);
    kb_intel_scan_free(fast);
    kb_intel_matcher_free(ref);
    kb_names_free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_same_as_reference),
        cmocka_unit_test(t_extra_fields),
        cmocka_unit_test(t_stop_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
