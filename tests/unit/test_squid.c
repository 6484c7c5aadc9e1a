/* Squid native access.log decoder, over ../shared/data/logs/squid and
 * the expectations beside it (metron's parsed output, fail2ban's times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"
#include "ingest/decoders.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct fx {
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_decode_ctx ctx;
    const kb_decoder *dec;
} fx;

static void fx_open(fx *f, const kb_decoder *d, kb_names *names, const char *path)
{
    memset(f, 0, sizeof *f);
    f->names = names;
    f->arena = kb_arena_new(1 << 16, 64u << 20);
    assert_non_null(f->arena);
    f->dec = d;
    f->ctx.names = names;
    f->ctx.path = path;
    f->ctx.state = d->state_new ? d->state_new() : NULL;
    if (d->state_new)
        assert_non_null(f->ctx.state);
}

static void fx_close(fx *f)
{
    if (f->dec->state_free)
        f->dec->state_free(f->ctx.state);
    kb_arena_free(f->arena);
}

static int fx_decode(fx *f, const char *line, size_t len)
{
    kb_arena_clear(f->arena);
    kb_event_init(&f->ev, f->names, f->arena);
    f->ev.raw = line;
    f->ev.raw_len = (uint32_t)len;
    f->ctx.err = NULL;
    return f->dec->decode(&f->ctx, line, len, &f->ev);
}

static int fx_decodez(fx *f, const char *line)
{
    return fx_decode(f, line, strlen(line));
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long sz;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)sz + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
    buf[sz] = '\0';
    fclose(fp);
    *n = (size_t)sz;
    return buf;
}

/* Line iterator over a buffer; strips \r like the reader does. */
typedef struct lines {
    const char *p, *end;
} lines;

static int next_line(lines *it, const char **s, size_t *n)
{
    const char *nl;
    if (it->p >= it->end)
        return 0;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    *s = it->p;
    *n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    it->p = nl ? nl + 1 : it->end;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    return 1;
}

typedef struct counts {
    int ok, skip, rej;
} counts;

/* Decodes every line of a file; a rejected line must carry a reason. */
static counts run_file(fx *f, const char *path)
{
    size_t n, len;
    char *buf = slurp(path, &n);
    lines it = {buf, buf + n};
    const char *s;
    counts c = {0, 0, 0};

    f->ctx.path = path;
    while (next_line(&it, &s, &len)) {
        int rc;
        if (len == 0)
            continue; /* the reader skips blank lines itself */
        rc = fx_decode(f, s, len);
        if (rc == KB_OK) {
            c.ok++;
        } else if (rc == KB_ESKIP) {
            c.skip++;
        } else {
            assert_non_null(f->ctx.err);
            c.rej++;
        }
    }
    free(buf);
    return c;
}

static void expect_val(const kb_field *f, int type, const char *want)
{
    if (!want) {
        assert_null(f);
        return;
    }
    assert_non_null(f);
    if (f->len != strlen(want) || memcmp(f->val, want, f->len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)f->len, f->val, want);
    if (type >= 0)
        assert_int_equal(f->type, type);
}

static void expect_canon(const kb_event *ev, int c, int type, const char *want)
{
    expect_val(kb_event_canon(ev, c), type, want);
}

static void expect_field(const kb_event *ev, const char *name, int type, const char *want)
{
    expect_val(kb_event_get_named(ev, name), type, want);
}

#define SQ KOBAN_SHARED_DATA "/logs/squid/"

static void squid_samples(void **unused)
{
    static const struct {
        const char *file;
        counts want;
    } cases[] = {
        {"elastic-squid-access.log", {100, 0, 0}},
        {"fail2ban-squid.log", {4, 0, 0}},
        {"metron-squid.log", {2, 0, 0}},
        {"wazuh-squid_rules.log", {2, 0, 0}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        fx f;
        counts c;
        snprintf(path, sizeof path, SQ "%s", cases[i].file);
        fx_open(&f, &kb_dec_squid, names, path);
        c = run_file(&f, path);
        if (c.ok != cases[i].want.ok || c.skip != cases[i].want.skip ||
            c.rej != cases[i].want.rej)
            fail_msg("%s: ok %d skip %d rej %d", cases[i].file, c.ok, c.skip, c.rej);
        fx_close(&f);
    }
    kb_names_free(names);
}

/* Decodes the nth (1-based) line of a sample. */
static void decode_line(fx *f, const char *path, int nth, char **buf)
{
    size_t n, len;
    const char *s;
    lines it;

    *buf = slurp(path, &n);
    it = (lines){*buf, *buf + n};
    for (int i = 1; next_line(&it, &s, &len); i++) {
        if (i == nth) {
            assert_int_equal(fx_decode(f, s, len), KB_OK);
            return;
        }
    }
    fail_msg("%s: no line %d", path, nth);
}

/* metron-squid.expected.ndjson: ip_src_addr, ip_dst_addr, method, code,
 * action, url, full_hostname, timestamp (ms), elapsed, bytes. */
static void squid_metron(void **unused)
{
    kb_names *names = kb_names_new(0);
    char *buf;
    fx f;

    fx_open(&f, &kb_dec_squid, names, NULL);
    decode_line(&f, SQ "metron-squid.log", 1, &buf);
    assert_true(f.ev.ts == INT64_C(1461576382642000000));
    assert_string_equal(f.ev.ls.category, "proxy");
    expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_FLOAT, "1461576382.642");
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "127.0.0.1");
    expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "199.27.79.73");
    expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "GET");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_MISS");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "http://www.cnn.com/");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.cnn.com");
    expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, -1, NULL);
    expect_canon(&f.ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "squid");
    expect_canon(&f.ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web");
    expect_field(&f.ev, "elapsed", KB_V_INT, "161");
    expect_field(&f.ev, "bytes", KB_V_INT, "103701");
    expect_field(&f.ev, "peerstatus", KB_V_STR, "DIRECT");
    expect_field(&f.ev, "type", KB_V_STR, "text/html");
    expect_field(&f.ev, "rfc931", KB_V_NULL, "");
    /* Sigma proxy names */
    expect_field(&f.ev, "c-ip", KB_V_STR, "127.0.0.1");
    expect_field(&f.ev, "c-uri", KB_V_STR, "http://www.cnn.com/");
    expect_field(&f.ev, "cs-host", KB_V_STR, "www.cnn.com");
    expect_field(&f.ev, "r-dns", KB_V_STR, "www.cnn.com");
    expect_field(&f.ev, "cs-method", KB_V_STR, "GET");
    expect_field(&f.ev, "sc-status", KB_V_INT, "200");
    expect_field(&f.ev, "c-uri-stem", KB_V_STR, "/");
    expect_field(&f.ev, "dst_ip", KB_V_STR, "199.27.79.73");
    expect_field(&f.ev, "c-useragent", -1, NULL);
    fx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void squid_elastic(void **unused)
{
    kb_names *names = kb_names_new(0);
    char *buf;
    fx f;

    /* CONNECT host:port, a user, a peer address. */
    fx_open(&f, &kb_dec_squid, names, NULL);
    decode_line(&f, SQ "elastic-squid-access.log", 1, &buf);
    assert_true(f.ev.ts == INT64_C(1157689312049000000));
    expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "CONNECT");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "login.yahoo.com:443");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "login.yahoo.com");
    expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "443");
    expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "badeyek");
    expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "175.16.199.115");
    expect_field(&f.ev, "type", -1, NULL); /* "-" */
    expect_field(&f.ev, "elapsed", KB_V_INT, "5006");
    free(buf);

    /* NONE/- peer: no destination; .css extension */
    decode_line(&f, SQ "elastic-squid-access.log", 4, &buf);
    expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_HIT");
    expect_canon(&f.ev, KB_F_DESTINATION_IP, -1, NULL);
    expect_field(&f.ev, "peerstatus", KB_V_STR, "NONE");
    expect_field(&f.ev, "c-uri-extension", KB_V_STR, "css");
    expect_field(&f.ev, "c-uri-stem", KB_V_STR, "/styles.css");
    fx_close(&f);
    free(buf);

    /* fail2ban: denied, host 91.188.124.227, time 2013-12-08T23:55:23 in
     * fail2ban's local zone (CET), i.e. 22:55:23Z. */
    fx_open(&f, &kb_dec_squid, names, NULL);
    decode_line(&f, SQ "fail2ban-squid.log", 1, &buf);
    assert_true(f.ev.ts == INT64_C(1386543323000000000));
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "91.188.124.227");
    expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_DENIED");
    expect_canon(&f.ev, KB_F_EVENT_OUTCOME, KB_V_STR, "failure");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "403");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.proxy-listen.de");
    expect_field(&f.ev, "c-uri-extension", KB_V_STR, "php");
    free(buf);
    /* NONE/405 CONNECT to an error pseudo-URL. */
    decode_line(&f, SQ "fail2ban-squid.log", 2, &buf);
    assert_true(f.ev.ts == INT64_C(1386543500000000000));
    expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "NONE");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "405");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "error:method-not-allowed");
    fx_close(&f);
    free(buf);

    /* wazuh: a URL without scheme, a proxy-auth user. */
    fx_open(&f, &kb_dec_squid, names, NULL);
    decode_line(&f, SQ "wazuh-squid_rules.log", 1, &buf);
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "ahmet");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, -1, NULL);
    free(buf);
    decode_line(&f, SQ "wazuh-squid_rules.log", 2, &buf);
    expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "oahmet");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.ossec.net");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "407");
    fx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void squid_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    fx f;

    fx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(fx_decodez(&f, "   "), KB_ESKIP);
    assert_int_equal(fx_decodez(&f, "1157689312.049 5006 10.1.2.3 TCP_MISS/200 19763"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid record has fewer than 9 columns");
    assert_int_equal(fx_decodez(&f, "yesterday 5006 10.1.2.3 TCP_MISS/200 1 GET http://a/ - "
                                    "DIRECT/1.2.3.4 -"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid record does not start with an epoch time");
    assert_int_equal(fx_decodez(&f, "1157689312.049 5006 10.1.2.3 TCP_MISS 1 GET http://a/ - "
                                    "DIRECT/1.2.3.4 -"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid result is not code/status");
    assert_int_equal(fx_decode(&f, "1157689312.049 5 1.2.3.4 TCP_MISS/200 1 GET http://a\0/ - "
                                   "DIRECT/1.2.3.4 -", 74), KB_EPARSE);
    assert_string_equal(f.ctx.err, "NUL byte in a squid record");
    /* An IPv6 peer and client, userinfo and port in the URL. */
    assert_int_equal(fx_decodez(&f, "1157689312.049 5 2001:db8::1 TCP_MISS/200 1 GET "
                                    "http://u:p@[2001:db8::2]:8080/a/b.tar.gz?x=1#f - "
                                    "DIRECT/2001:db8::2 application/gzip"),
                     KB_OK);
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "2001:db8::1");
    expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "2001:db8::2");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "2001:db8::2");
    expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "8080");
    expect_field(&f.ev, "c-uri-query", KB_V_STR, "x=1");
    expect_field(&f.ev, "c-uri-extension", KB_V_STR, "gz");
    /* A peer that is a name is no destination.ip. */
    assert_int_equal(fx_decodez(&f, "1157689312.049 5 10.0.0.1 TCP_MISS/200 1 GET http://a/ - "
                                    "FIRSTUP_PARENT/proxy.example -"),
                     KB_OK);
    expect_canon(&f.ev, KB_F_DESTINATION_IP, -1, NULL);
    expect_field(&f.ev, "peerhost", KB_V_STR, "proxy.example");

    line = malloc(big);
    assert_non_null(line);
    memset(line, '9', big);
    assert_int_equal(fx_decode(&f, line, big), KB_EPARSE);
    memcpy(line, "1157689312.049 5 10.0.0.1 TCP_MISS/200 1 GET http://a/", 54);
    memcpy(line + big - 18, " - DIRECT/1.2.3.4 ", 18);
    assert_int_equal(fx_decode(&f, line, big), KB_OK);
    assert_int_equal(kb_event_canon(&f.ev, KB_F_URL_FULL)->len, big - 18 - 45);
    free(line);
    fx_close(&f);
    kb_names_free(names);
}

static void squid_sniffing(void **unused)
{
    static const char *const yes[] = {
        "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 "
        "badeyek DIRECT/175.16.199.115 -",
        "1386543500.000      5 175.44.0.184 NONE/405 3364 CONNECT error:method-not-allowed - "
        "HIER_NONE/- text/html",
    };
    static const char *const no[] = {
        "93.43.209.58 - - [08/Jun/2020:06:49:01 +0000] \"GET / HTTP/1.0\" 500 803 \"-\" \"-\"",
        "{\"ts\":1.5}",
        "1157689312.049 5006 10.105.21.199 MISS 19763",
        "",
    };
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(kb_dec_squid.sniff(yes[i], strlen(yes[i])), 90);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(kb_dec_squid.sniff(no[i], strlen(no[i])), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(squid_samples),   cmocka_unit_test(squid_metron),
        cmocka_unit_test(squid_elastic),   cmocka_unit_test(squid_bad_input),
        cmocka_unit_test(squid_sniffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
