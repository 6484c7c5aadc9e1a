/* Sigma engine units: each modifier, condition forms, edge cases, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "event/json.h"

static kb_names *names;
static kb_arena *arena;
static char last_err[512];

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    (void)ud;
    (void)path;
    (void)line;
    (void)reason;
    snprintf(last_err, sizeof(last_err), "%s", msg);
}

/* Loads one rule with the given detection body; NULL if it failed. */
static kb_ruleset *rule(const char *detection)
{
    char buf[8192];
    kb_ruleset *rs = kb_ruleset_new(names);
    int n = snprintf(buf, sizeof(buf),
                     "title: t\nid: r1\nlogsource:\n  product: windows\ndetection:\n%s\n", detection);
    last_err[0] = 0;
    if (kb_ruleset_load_mem(rs, "t.yml", buf, (size_t)n, on_err, NULL) != 0 ||
        kb_ruleset_count(rs) != 1) {
        kb_ruleset_free(rs);
        return NULL;
    }
    return rs;
}

/* Does the rule match the JSON event? */
static int m(kb_ruleset *rs, const char *json)
{
    kb_event ev;
    kb_json_error je;
    kb_arena_clear(arena);
    kb_event_init(&ev, names, arena);
    assert_int_equal(kb_json_flatten(&ev, json, strlen(json), NULL, &je), KB_OK);
    return kb_rule_match(kb_ruleset_rule(rs, 0), &ev);
}

static int setup(void **state)
{
    (void)state;
    names = kb_names_new(0);
    arena = kb_arena_new(1 << 16, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kb_arena_free(arena);
    kb_names_free(names);
    return 0;
}

static void equals_and_wildcards(void **state)
{
    /* '\\*' in a Sigma string is an escaped backslash then a wildcard */
    kb_ruleset *rs = rule("  sel:\n    Image: 'C:\\Windows\\\\*\\cmd.exe'\n    User: 'a?c'\n"
                          "  condition: sel");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"Image\":\"c:\\\\windows\\\\system32\\\\CMD.EXE\",\"User\":\"abc\"}"));
    assert_true(m(rs, "{\"Image\":\"C:\\\\Windows\\\\x\\\\cmd.exe\",\"User\":\"a\xc3\xa9" "c\"}"));
    assert_false(m(rs, "{\"Image\":\"C:\\\\Windows\\\\cmd.exe \",\"User\":\"abc\"}")); /* no trim */
    assert_false(m(rs, "{\"Image\":\"C:\\\\Windows\\\\x\\\\cmd.exe\",\"User\":\"abbc\"}"));
    assert_false(m(rs, "{\"User\":\"abc\"}"));
    kb_ruleset_free(rs);
}

static void escaped_wildcards(void **state)
{
    /* \* literal star, \? literal qmark, \\ one backslash, \W stays \W */
    kb_ruleset *rs = rule("  sel:\n    A: 'x\\*y'\n    B: 'q\\?'\n    C: 'a\\\\*'\n    D: '\\Windows'\n"
                          "  condition: sel");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"A\":\"x*y\",\"B\":\"q?\",\"C\":\"a\\\\zz\",\"D\":\"\\\\windows\"}"));
    assert_false(m(rs, "{\"A\":\"xzy\",\"B\":\"q?\",\"C\":\"a\\\\zz\",\"D\":\"\\\\windows\"}"));
    assert_false(m(rs, "{\"A\":\"x*y\",\"B\":\"qz\",\"C\":\"a\\\\zz\",\"D\":\"\\\\windows\"}"));
    assert_false(m(rs, "{\"A\":\"x*y\",\"B\":\"q?\",\"C\":\"az\",\"D\":\"\\\\windows\"}"));
    kb_ruleset_free(rs);
}

static void contains_starts_ends_all_cased(void **state)
{
    kb_ruleset *rs = rule("  sel:\n    C|contains|all: ['foo', 'bar']\n    S|startswith: 'ab'\n"
                          "    E|endswith: '.exe'\n    K|cased: 'Ab'\n  condition: sel");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"C\":\"xBARxFOOx\",\"S\":\"ABc\",\"E\":\"a.EXE\",\"K\":\"Ab\"}"));
    assert_false(m(rs, "{\"C\":\"xBARx\",\"S\":\"ABc\",\"E\":\"a.EXE\",\"K\":\"Ab\"}"));
    assert_false(m(rs, "{\"C\":\"foobar\",\"S\":\"cab\",\"E\":\"a.EXE\",\"K\":\"Ab\"}"));
    assert_false(m(rs, "{\"C\":\"foobar\",\"S\":\"ab\",\"E\":\"a.exe1\",\"K\":\"Ab\"}"));
    assert_false(m(rs, "{\"C\":\"foobar\",\"S\":\"ab\",\"E\":\"a.exe\",\"K\":\"ab\"}"));
    kb_ruleset_free(rs);
}

static void numbers_and_null(void **state)
{
    kb_ruleset *rs = rule("  sel:\n    EventID: 4688\n  nul:\n    P: null\n  condition: sel and nul");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"EventID\":4688}"));
    assert_true(m(rs, "{\"EventID\":\"4688\"}"));
    assert_true(m(rs, "{\"EventID\":4688,\"P\":null}"));
    assert_false(m(rs, "{\"EventID\":4688,\"P\":\"\"}")); /* empty is not null */
    assert_false(m(rs, "{\"EventID\":46880}"));
    kb_ruleset_free(rs);
}

static void windash(void **state)
{
    kb_ruleset *rs = rule("  sel:\n    CommandLine|windash|contains: ' -enc '\n  condition: sel");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"CommandLine\":\"ps -enc AAA\"}"));
    assert_true(m(rs, "{\"CommandLine\":\"ps /enc AAA\"}"));
    assert_true(m(rs, "{\"CommandLine\":\"ps \xe2\x80\x93" "enc AAA\"}")); /* en dash */
    assert_true(m(rs, "{\"CommandLine\":\"ps \xe2\x80\x94" "enc AAA\"}")); /* em dash */
    assert_true(m(rs, "{\"CommandLine\":\"ps \xe2\x80\x95" "enc AAA\"}")); /* horizontal bar */
    assert_false(m(rs, "{\"CommandLine\":\"ps +enc AAA\"}"));
    assert_false(m(rs, "{\"CommandLine\":\"ps enc AAA\"}"));
    kb_ruleset_free(rs);
    /* a dash inside a word is not a switch */
    rs = rule("  sel:\n    C|windash: 'a-b'\n  condition: sel");
    assert_non_null(rs);
    assert_true(m(rs, "{\"C\":\"a-b\"}"));
    assert_false(m(rs, "{\"C\":\"a/b\"}"));
    kb_ruleset_free(rs);
}

static void base64_modifiers(void **state)
{
    /* base64("hello") = aGVsbG8= */
    kb_ruleset *rs = rule("  sel:\n    D|base64: 'hello'\n  condition: sel");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"D\":\"aGVsbG8=\"}"));
    kb_ruleset_free(rs);
    /* base64offset: "hello" at offsets 0,1,2 of a stream gives aGVsbG, hlbGxv, oZWxsb
     * (pySigma's triple); check each one inside a longer text, and the
     * encodings of "xhello", "xxhello" that contain them. */
    rs = rule("  sel:\n    D|base64offset|contains: 'hello'\n  condition: sel");
    assert_non_null(rs);
    {
        size_t np;
        const kb_sigma_pred *p = kb_rule_preds(kb_ruleset_rule(rs, 0), &np);
        assert_int_equal(np, 1);
        assert_int_equal(p[0].nvals, 3);
        assert_string_equal(p[0].vals[0].lit, "agvsbg"); /* lower-cased: not cased */
        assert_string_equal(p[0].vals[1].lit, "hlbgxv");
        assert_string_equal(p[0].vals[2].lit, "ozwxsb");
    }
    assert_true(m(rs, "{\"D\":\"xx aGVsbG8= yy\"}"));  /* "hello" */
    assert_true(m(rs, "{\"D\":\"eGhlbGxv\"}"));        /* "xhello" */
    assert_true(m(rs, "{\"D\":\"eHhoZWxsbw==\"}"));    /* "xxhello" */
    assert_false(m(rs, "{\"D\":\"d29ybGQ=\"}"));       /* "world" */
    kb_ruleset_free(rs);
    /* wide|base64offset: UTF-16LE first. base64 of "h\0i\0" = aABpAA== */
    rs = rule("  sel:\n    D|wide|base64offset|contains: 'hi'\n  condition: sel");
    assert_non_null(rs);
    assert_true(m(rs, "{\"D\":\"powershell -e aABpAA==\"}"));
    kb_ruleset_free(rs);
}

static void utf16_variants(void **state)
{
    kb_ruleset *rs = rule("  le:\n    D|utf16le|base64: 'A'\n  be:\n    D|utf16be|base64: 'A'\n"
                          "  bom:\n    D|utf16|base64: 'A'\n  w:\n    D|wide|base64: 'A'\n"
                          "  condition: le");
    size_t np;
    const kb_sigma_pred *p;
    (void)state;
    assert_non_null(rs);
    p = kb_rule_preds(kb_ruleset_rule(rs, 0), &np);
    assert_int_equal(np, 4);
    /* "A\0" -> QQA= ; "\0A" -> AEE= ; FF FE 41 00 -> //5BAA== ; wide = le.
     * Stored lower-cased because the values are not `cased`. */
    assert_string_equal(p[0].vals[0].lit, "qqa=");
    assert_string_equal(p[1].vals[0].lit, "aee=");
    assert_string_equal(p[2].vals[0].lit, "//5baa==");
    assert_string_equal(p[3].vals[0].lit, "qqa=");
    kb_ruleset_free(rs);
    /* non-ASCII: U+00E9 in UTF-16LE is E9 00; base64 "6QA=" */
    rs = rule("  s:\n    D|utf16le|base64|cased: '\xc3\xa9'\n  condition: s");
    assert_non_null(rs);
    assert_true(m(rs, "{\"D\":\"6QA=\"}"));
    assert_false(m(rs, "{\"D\":\"6qa=\"}"));
    kb_ruleset_free(rs);
}

static void regex(void **state)
{
    kb_ruleset *rs = rule("  a:\n    C|re: 'ab+c'\n  b:\n    D|re|i: '^x\\d{2}$'\n  condition: a and b");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"C\":\"zzabbbc\",\"D\":\"X12\"}"));
    assert_false(m(rs, "{\"C\":\"ABC\",\"D\":\"X12\"}")); /* re is case-sensitive */
    assert_false(m(rs, "{\"C\":\"abc\",\"D\":\"X123\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re|s: 'a.b'\n  condition: a");
    assert_true(m(rs, "{\"C\":\"a\\nb\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re|m: '^b$'\n  condition: a");
    assert_true(m(rs, "{\"C\":\"a\\nb\\nc\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re: 'ab['\n  condition: a");
    assert_null(rs);
    assert_non_null(strstr(last_err, "t.yml:7: invalid regular expression"));
}

/* Top-level greedy `.*` are compiled lazy (same subjects match, no
 * backtracking through the subject): what the pattern means is kept. */
static void regex_lazy_dotstar(void **state)
{
    static const char *const plus14 =
        "\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+";
    char det[512], json[4096];
    kb_ruleset *rs;
    size_t o;
    (void)state;
    snprintf(det, sizeof det, "  a:\n    C|re: '%s'\n  condition: a", plus14);
    rs = rule(det);
    assert_non_null(rs);
    for (int n = 12; n <= 40; n++) {
        o = (size_t)snprintf(json, sizeof json, "{\"C\":\"");
        for (int k = 0; k < n; k++)
            o += (size_t)snprintf(json + o, sizeof json - o, "+ [char]%d ", k);
        snprintf(json + o, sizeof json - o, "\"}");
        assert_int_equal(m(rs, json), n >= 14);
    }
    /* fourteen `+`, but not on one line: `.` stops at a newline */
    o = (size_t)snprintf(json, sizeof json, "{\"C\":\"");
    for (int k = 0; k < 14; k++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s+a", k == 7 ? "\\n" : "");
    snprintf(json + o, sizeof json - o, "\"}");
    assert_false(m(rs, json));
    kb_ruleset_free(rs);
    /* escaped dots, classes and groups keep their meaning */
    rs = rule("  a:\n    C|re: 'a\\.*b.*c.*d'\n  condition: a");
    assert_true(m(rs, "{\"C\":\"a..bxcxd\"}"));
    assert_false(m(rs, "{\"C\":\"axbxcxd\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re: '[.*]x.*y.*z$'\n  condition: a");
    assert_true(m(rs, "{\"C\":\"*x1y2z\"}"));
    assert_false(m(rs, "{\"C\":\"ax1y2z\"}"));
    assert_false(m(rs, "{\"C\":\"*x1y2za\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re: '^(a.*b).*c.*d$'\n  condition: a");
    assert_true(m(rs, "{\"C\":\"a1b2c3d\"}"));
    assert_false(m(rs, "{\"C\":\"a1b2c3dx\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    C|re: '(\\w)\\1.*x.*y'\n  condition: a"); /* backreference: kept */
    assert_true(m(rs, "{\"C\":\"aa-x-y\"}"));
    assert_false(m(rs, "{\"C\":\"ab-x-y\"}"));
    kb_ruleset_free(rs);
}

static void catastrophic_regex(void **state)
{
    kb_ruleset *rs = rule("  a:\n    C|re: '^(a+)+$'\n  condition: a");
    char json[256];
    struct timespec t0, t1;
    double ms;
    (void)state;
    assert_non_null(rs);
    memset(json, 0, sizeof(json));
    memcpy(json, "{\"C\":\"", 6);
    memset(json + 6, 'a', 40);
    memcpy(json + 46, "b\"}", 4);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 10; i++)
        assert_false(m(rs, json));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    fprintf(stderr, "  10 catastrophic evaluations: %.1f ms, limit hits %llu\n", ms,
            (unsigned long long)kb_sigma_regex_limit_hits());
    assert_true(ms < 2000);
    assert_true(kb_sigma_regex_limit_hits() >= 10);
    kb_ruleset_free(rs);
}

static void cidr(void **state)
{
    kb_ruleset *rs = rule("  a:\n    Ip|cidr:\n      - '10.0.0.0/8'\n      - '192.168.1.0/25'\n"
                          "      - 'fe80::/10'\n      - '2001:db8::1/128'\n  condition: a");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"Ip\":\"10.255.3.4\"}"));
    assert_true(m(rs, "{\"Ip\":\"192.168.1.127\"}"));
    assert_false(m(rs, "{\"Ip\":\"192.168.1.128\"}"));
    assert_false(m(rs, "{\"Ip\":\"11.0.0.1\"}"));
    assert_true(m(rs, "{\"Ip\":\"FE80::1\"}"));
    assert_true(m(rs, "{\"Ip\":\"fe80::1%eth0\"}"));
    assert_false(m(rs, "{\"Ip\":\"fec0::1\"}"));
    assert_true(m(rs, "{\"Ip\":\"2001:db8:0::1\"}"));
    assert_false(m(rs, "{\"Ip\":\"2001:db8::2\"}"));
    assert_true(m(rs, "{\"Ip\":\"::ffff:10.1.2.3\"}")); /* v4-mapped */
    assert_false(m(rs, "{\"Ip\":\"not an ip\"}"));
    kb_ruleset_free(rs);
    assert_null(rule("  a:\n    Ip|cidr: '10.0.0.0/33'\n  condition: a"));
    assert_non_null(strstr(last_err, "invalid CIDR"));
}

static void neq_exists(void **state)
{
    kb_ruleset *rs = rule("  a:\n    U|neq: 'admin'\n  b:\n    X|exists: false\n  c:\n    Y|exists: true\n"
                          "  condition: a and b and c");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"U\":\"bob\",\"Y\":\"\"}"));
    assert_true(m(rs, "{\"Y\":1}")); /* U absent: not equal */
    assert_false(m(rs, "{\"U\":\"ADMIN\",\"Y\":1}"));
    assert_false(m(rs, "{\"U\":\"bob\",\"X\":1,\"Y\":1}"));
    assert_false(m(rs, "{\"U\":\"bob\"}"));
    kb_ruleset_free(rs);
}

static void numeric_and_time(void **state)
{
    kb_ruleset *rs = rule("  a:\n    N|gt: 10\n  b:\n    N|lte: 20.5\n  c:\n    T|hour: 14\n"
                          "  d:\n    T|week: 53\n  e:\n    T|year|gte: 2020\n"
                          "  condition: a and b and c and d and e");
    (void)state;
    assert_non_null(rs);
    /* 2021-01-01 is a Friday in ISO week 53 of 2020 */
    assert_true(m(rs, "{\"N\":\"15\",\"T\":\"2021-01-01T14:05:00Z\"}"));
    assert_true(m(rs, "{\"N\":20.5,\"T\":\"2021-01-01 14:59:59\"}"));
    assert_false(m(rs, "{\"N\":10,\"T\":\"2021-01-01T14:05:00Z\"}"));
    assert_false(m(rs, "{\"N\":21,\"T\":\"2021-01-01T14:05:00Z\"}"));
    assert_false(m(rs, "{\"N\":15,\"T\":\"2021-01-01T15:05:00Z\"}"));
    assert_false(m(rs, "{\"N\":15,\"T\":\"2021-01-04T14:05:00Z\"}")); /* week 1 */
    assert_false(m(rs, "{\"N\":\"x\",\"T\":\"2021-01-01T14:05:00Z\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    T|minute: 5\n  b:\n    T|day: 1\n  c:\n    T|month: 1\n  condition: all of them");
    assert_true(m(rs, "{\"T\":\"2021-01-01T14:05:00Z\"}"));
    assert_false(m(rs, "{\"T\":\"2021-01-02T14:05:00Z\"}"));
    kb_ruleset_free(rs);
}

static void fieldref(void **state)
{
    kb_ruleset *rs = rule("  a:\n    Image|fieldref: ParentImage\n  condition: a");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"Image\":\"C:\\\\a.exe\",\"ParentImage\":\"c:\\\\A.exe\"}"));
    assert_false(m(rs, "{\"Image\":\"C:\\\\a.exe\",\"ParentImage\":\"C:\\\\b.exe\"}"));
    assert_false(m(rs, "{\"Image\":\"C:\\\\a.exe\"}"));
    kb_ruleset_free(rs);
    rs = rule("  a:\n    Cmd|fieldref|contains: User\n  condition: a");
    assert_non_null(rs);
    assert_true(m(rs, "{\"Cmd\":\"runas bob x\",\"User\":\"BOB\"}"));
    assert_false(m(rs, "{\"Cmd\":\"runas al x\",\"User\":\"BOB\"}"));
    kb_ruleset_free(rs);
}

static void expand_placeholders(void **state)
{
    char path[] = "/tmp/koban-sigma-ph-XXXXXX";
    int fd = mkstemp(path);
    const char *txt = "'%dcs%':\n  - dc1\n  - 10.0.0.*\nsingle: x\n";
    kb_ruleset *rs = kb_ruleset_new(names);
    const char *err;
    const char *det = "title: t\nid: r1\ndetection:\n  a:\n    H|expand: '%dcs%'\n"
                      "  b:\n    K|expand|contains: 'pre-%single%'\n  u:\n    Z|expand: '%unknown%'\n"
                      "  condition: a and b and not u\n";
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, txt, strlen(txt)), (ssize_t)strlen(txt));
    close(fd);
    assert_int_equal(kb_ruleset_load_placeholders(rs, path, &err), KB_OK);
    unlink(path);
    assert_int_equal(kb_ruleset_load_mem(rs, "e.yml", det, strlen(det), on_err, NULL), 0);
    assert_true(m(rs, "{\"H\":\"DC1\",\"K\":\"zpre-x\",\"Z\":\"%unknown%\"}"));
    assert_true(m(rs, "{\"H\":\"10.0.0.7\",\"K\":\"pre-x\"}"));
    assert_false(m(rs, "{\"H\":\"dc2\",\"K\":\"pre-x\"}"));
    assert_false(m(rs, "{\"H\":\"dc1\",\"K\":\"pre-y\"}"));
    kb_ruleset_free(rs);
}

static void keywords_and_lists(void **state)
{
    kb_ruleset *rs = rule("  keywords:\n    - 'mimikatz'\n    - 'sekurlsa::'\n  condition: keywords");
    (void)state;
    assert_non_null(rs);
    assert_true(m(rs, "{\"A\":\"x\",\"B\":\"run MimiKatz now\"}"));
    assert_true(m(rs, "{\"Data\":[\"x\",\"sekurlsa::logonpasswords\"]}"));
    assert_false(m(rs, "{\"A\":\"mimi katz\"}"));
    kb_ruleset_free(rs);
    /* list of maps: OR of ANDs */
    rs = rule("  sel:\n    - A: 1\n      B: 2\n    - C: 3\n  condition: sel");
    assert_true(m(rs, "{\"A\":1,\"B\":2}"));
    assert_true(m(rs, "{\"C\":3}"));
    assert_false(m(rs, "{\"A\":1,\"C\":4}"));
    kb_ruleset_free(rs);
    /* array field: any element */
    rs = rule("  sel:\n    Data|endswith: '.dll'\n  condition: sel");
    assert_true(m(rs, "{\"Data\":[\"a\",\"b.DLL\"]}"));
    assert_false(m(rs, "{\"Data\":[\"a\",\"b.exe\"]}"));
    kb_ruleset_free(rs);
}

static void conditions(void **state)
{
    const char *sels = "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter_x:\n    X: 1\n"
                       "  _hidden:\n    H: 1\n";
    char buf[1024];
    kb_ruleset *rs;
    (void)state;

    /* precedence: not > and > or */
    snprintf(buf, sizeof(buf), "%s  condition: sel_a or sel_b and not filter_x", sels);
    rs = rule(buf);
    assert_non_null(rs);
    assert_true(m(rs, "{\"A\":1,\"X\":1}"));
    assert_false(m(rs, "{\"B\":1,\"X\":1}"));
    assert_true(m(rs, "{\"B\":1}"));
    kb_ruleset_free(rs);

    snprintf(buf, sizeof(buf), "%s  condition: (sel_a or sel_b) and not filter_x", sels);
    rs = rule(buf);
    assert_false(m(rs, "{\"A\":1,\"X\":1}"));
    kb_ruleset_free(rs);

    snprintf(buf, sizeof(buf), "%s  condition: all of sel_* and not 1 of filter_*", sels);
    rs = rule(buf);
    assert_true(m(rs, "{\"A\":1,\"B\":1}"));
    assert_false(m(rs, "{\"A\":1}"));
    assert_false(m(rs, "{\"A\":1,\"B\":1,\"X\":1}"));
    kb_ruleset_free(rs);

    /* them excludes names starting with '_' */
    snprintf(buf, sizeof(buf), "%s  condition: 1 of them", sels);
    rs = rule(buf);
    assert_false(m(rs, "{\"H\":1}"));
    assert_true(m(rs, "{\"X\":1}"));
    kb_ruleset_free(rs);

    snprintf(buf, sizeof(buf), "%s  condition: any of sel_* and 2 of them", sels);
    rs = rule(buf);
    assert_true(m(rs, "{\"A\":1,\"X\":1}"));
    assert_false(m(rs, "{\"A\":1}"));
    kb_ruleset_free(rs);

    /* a list of conditions is OR'd */
    snprintf(buf, sizeof(buf), "%s  condition:\n    - sel_a and sel_b\n    - filter_x", sels);
    rs = rule(buf);
    assert_true(m(rs, "{\"X\":1}"));
    assert_true(m(rs, "{\"A\":1,\"B\":1}"));
    assert_false(m(rs, "{\"A\":1}"));
    kb_ruleset_free(rs);

    /* errors name the line and the reason */
    snprintf(buf, sizeof(buf), "%s  condition: sel_a and nope", sels);
    assert_null(rule(buf));
    assert_non_null(strstr(last_err, "t.yml:14: condition: unknown selection"));
    snprintf(buf, sizeof(buf), "%s  condition: (sel_a", sels);
    assert_null(rule(buf));
    assert_non_null(strstr(last_err, "unbalanced"));
    snprintf(buf, sizeof(buf), "%s  condition: 1 of zz*", sels);
    assert_null(rule(buf));
    snprintf(buf, sizeof(buf), "%s  condition: sel_a | count() > 5", sels);
    assert_null(rule(buf));
    assert_non_null(strstr(last_err, "aggregations"));
}

static void deep_condition(void **state)
{
    static const char *nm[] = {"a"};
    kb_buf b;
    kb_sigma_op *ops;
    size_t n;
    const char *err;
    (void)state;

    kb_buf_init(&b, 0);
    for (int i = 0; i < 100000; i++)
        kb_buf_putc(&b, '(');
    kb_buf_puts(&b, "a");
    assert_int_equal(kb_sigma_cond_parse(b.data, b.len, nm, 1, &ops, &n, &err), KB_ELIMIT);
    assert_non_null(strstr(err, "too deep"));
    /* 60 levels are fine */
    kb_buf_clear(&b);
    for (int i = 0; i < 60; i++)
        kb_buf_puts(&b, "(not ");
    kb_buf_puts(&b, "a");
    for (int i = 0; i < 60; i++)
        kb_buf_putc(&b, ')');
    assert_int_equal(kb_sigma_cond_parse(b.data, b.len, nm, 1, &ops, &n, &err), KB_OK);
    {
        uint8_t hit = 1;
        assert_int_equal(kb_sigma_program_eval(ops, n, &hit), 1); /* even number of nots */
    }
    kb_free(ops);
    /* a very long flat chain parses and stays shallow */
    kb_buf_clear(&b);
    kb_buf_puts(&b, "a");
    for (int i = 0; i < 5000; i++)
        kb_buf_puts(&b, " and not a or a");
    assert_int_equal(kb_sigma_cond_parse(b.data, b.len, nm, 1, &ops, &n, &err), KB_OK);
    kb_free(ops);
    kb_buf_release(&b);
}

static void bad_rules_reported(void **state)
{
    kb_ruleset *rs = kb_ruleset_new(names);
    const char *y = "title: ok\nid: good\ndetection:\n  s:\n    A: 1\n  condition: s\n"
                    "---\ntitle: bad\ndetection:\n  s:\n    A|containz: 1\n  condition: s\n"
                    "---\ntitle: bad2\ndetection:\n  s:\n    A|exists: maybe\n  condition: s\n"
                    "---\ntitle: bad3\ndetection:\n  s: {}\n  condition: s\n";
    const char *y2 = "title: b\ndetection:\n  s:\n    A|containz: 1\n  condition: s\n";
    (void)state;
    assert_int_equal(kb_ruleset_load_mem(rs, "m2.yml", y2, strlen(y2), on_err, NULL), 1);
    assert_string_equal(last_err, "m2.yml:4: unknown modifier");
    assert_int_equal(kb_ruleset_load_mem(rs, "multi.yml", y, strlen(y), on_err, NULL), 3);
    assert_int_equal(kb_ruleset_count(rs), 1);
    assert_non_null(strstr(last_err, "multi.yml:22: empty selection map"));
    kb_ruleset_free(rs);
    rs = kb_ruleset_new(names);
    y = "title: x\ndetection: [unclosed\n";
    assert_int_equal(kb_ruleset_load_mem(rs, "syn.yml", y, strlen(y), on_err, NULL), 1);
    assert_non_null(strstr(last_err, "syn.yml:"));
    y = "a: &x [1]\nb: *x\n";
    assert_int_equal(kb_ruleset_load_mem(rs, "alias.yml", y, strlen(y), on_err, NULL), 1);
    assert_non_null(strstr(last_err, "alias"));
    kb_ruleset_free(rs);
}

static void filters(void **state)
{
    kb_ruleset *rs = kb_ruleset_new(names);
    const char *r = "title: base\nid: 11111111-1111-1111-1111-111111111111\nname: base_rule\n"
                    "detection:\n  s:\n    A: 1\n  condition: s\n";
    const char *f = "title: f\nlogsource:\n  product: windows\nfilter:\n  rules:\n"
                    "    - base_rule\n  selection:\n    User: svc\n  condition: not selection\n";
    (void)state;
    /* filter loaded first, rule afterwards: still applied */
    assert_int_equal(kb_ruleset_load_mem(rs, "f.yml", f, strlen(f), on_err, NULL), 0);
    assert_int_equal(kb_ruleset_load_mem(rs, "r.yml", r, strlen(r), on_err, NULL), 0);
    assert_true(m(rs, "{\"A\":1,\"User\":\"bob\"}"));
    assert_false(m(rs, "{\"A\":1,\"User\":\"SVC\"}"));
    kb_ruleset_free(rs);
}

static void logsource(void **state)
{
    kb_ruleset *rs = kb_ruleset_new(names);
    const char *r = "title: r\nlogsource:\n  product: windows\n  category: registry_event\n"
                    "detection:\n  s:\n    A: 1\n  condition: s\n";
    kb_logsource ls = {"windows", "registry_set", NULL};
    const kb_rule *rule0;
    (void)state;
    assert_int_equal(kb_ruleset_load_mem(rs, "r.yml", r, strlen(r), on_err, NULL), 0);
    rule0 = kb_ruleset_rule(rs, 0);
    assert_true(kb_rule_logsource_applies(rule0, &ls));
    ls.category = "process_creation";
    assert_false(kb_rule_logsource_applies(rule0, &ls));
    ls.category = "registry_event";
    ls.product = "linux";
    assert_false(kb_rule_logsource_applies(rule0, &ls));
    kb_ruleset_free(rs);
}

static void modifier_table(void **state)
{
    size_t n;
    const kb_sigma_mod_info *t = kb_sigma_modifiers(&n);
    (void)state;
    assert_int_equal(n, KB_SM_COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].name);
        assert_true(strlen(t[i].doc) > 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equals_and_wildcards),
        cmocka_unit_test(escaped_wildcards),
        cmocka_unit_test(contains_starts_ends_all_cased),
        cmocka_unit_test(numbers_and_null),
        cmocka_unit_test(windash),
        cmocka_unit_test(base64_modifiers),
        cmocka_unit_test(utf16_variants),
        cmocka_unit_test(regex),
        cmocka_unit_test(regex_lazy_dotstar),
        cmocka_unit_test(catastrophic_regex),
        cmocka_unit_test(cidr),
        cmocka_unit_test(neq_exists),
        cmocka_unit_test(numeric_and_time),
        cmocka_unit_test(fieldref),
        cmocka_unit_test(expand_placeholders),
        cmocka_unit_test(keywords_and_lists),
        cmocka_unit_test(conditions),
        cmocka_unit_test(deep_condition),
        cmocka_unit_test(bad_rules_reported),
        cmocka_unit_test(filters),
        cmocka_unit_test(logsource),
        cmocka_unit_test(modifier_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
