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

#include "decoder-fixture.h"

#define SQ KOBAN_SHARED_DATA "/logs/squid/"

static void squid_samples(void **unused)
{
    static const struct {
        const char *file;
        dfx_counts want;
    } cases[] = {
        {"elastic-squid-access.log", {100, 0, 0}},
        {"fail2ban-squid.log", {4, 0, 0}},
        {"metron-squid.log", {2, 0, 0}},
        {"wazuh-squid_rules.log", {2, 0, 0}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        dfx_expect_counts(&kb_dec_squid, names, SQ, cases[i].file, cases[i].want);
    kb_names_free(names);
}

/* metron-squid.expected.ndjson: ip_src_addr, ip_dst_addr, method, code,
 * action, url, full_hostname, timestamp (ms), elapsed, bytes. */
static void squid_metron(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;

    dfx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(dfx_decode_line(&f, SQ "metron-squid.log", 1), KB_OK);
    assert_true(f.ev.ts == INT64_C(1461576382642000000));
    assert_string_equal(f.ev.ls.category, "proxy");
    dfx_expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_FLOAT, "1461576382.642");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "127.0.0.1");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "199.27.79.73");
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "GET");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    dfx_expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_MISS");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "http://www.cnn.com/");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.cnn.com");
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "squid");
    dfx_expect_canon(&f.ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web");
    dfx_expect_field(&f.ev, "elapsed", KB_V_INT, "161");
    dfx_expect_field(&f.ev, "bytes", KB_V_INT, "103701");
    dfx_expect_field(&f.ev, "peerstatus", KB_V_STR, "DIRECT");
    dfx_expect_field(&f.ev, "type", KB_V_STR, "text/html");
    dfx_expect_field(&f.ev, "rfc931", KB_V_NULL, "");
    /* Sigma proxy names */
    dfx_expect_field(&f.ev, "c-ip", KB_V_STR, "127.0.0.1");
    dfx_expect_field(&f.ev, "c-uri", KB_V_STR, "http://www.cnn.com/");
    dfx_expect_field(&f.ev, "cs-host", KB_V_STR, "www.cnn.com");
    dfx_expect_field(&f.ev, "r-dns", KB_V_STR, "www.cnn.com");
    dfx_expect_field(&f.ev, "cs-method", KB_V_STR, "GET");
    dfx_expect_field(&f.ev, "sc-status", KB_V_INT, "200");
    dfx_expect_field(&f.ev, "c-uri-stem", KB_V_STR, "/");
    dfx_expect_field(&f.ev, "dst_ip", KB_V_STR, "199.27.79.73");
    dfx_expect_field(&f.ev, "c-useragent", -1, NULL);
    dfx_close(&f);
    kb_names_free(names);
}

static void squid_elastic(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;

    /* CONNECT host:port, a user, a peer address. */
    dfx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(dfx_decode_line(&f, SQ "elastic-squid-access.log", 1), KB_OK);
    assert_true(f.ev.ts == INT64_C(1157689312049000000));
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "CONNECT");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "login.yahoo.com:443");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "login.yahoo.com");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "443");
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "badeyek");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "175.16.199.115");
    dfx_expect_field(&f.ev, "type", -1, NULL); /* "-" */
    dfx_expect_field(&f.ev, "elapsed", KB_V_INT, "5006");

    /* NONE/- peer: no destination; .css extension */
    assert_int_equal(dfx_decode_line(&f, SQ "elastic-squid-access.log", 4), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_HIT");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, -1, NULL);
    dfx_expect_field(&f.ev, "peerstatus", KB_V_STR, "NONE");
    dfx_expect_field(&f.ev, "c-uri-extension", KB_V_STR, "css");
    dfx_expect_field(&f.ev, "c-uri-stem", KB_V_STR, "/styles.css");
    dfx_close(&f);

    /* fail2ban: denied, host 91.188.124.227, time 2013-12-08T23:55:23 in
     * fail2ban's local zone (CET), i.e. 22:55:23Z. */
    dfx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(dfx_decode_line(&f, SQ "fail2ban-squid.log", 1), KB_OK);
    assert_true(f.ev.ts == INT64_C(1386543323000000000));
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "91.188.124.227");
    dfx_expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "TCP_DENIED");
    dfx_expect_canon(&f.ev, KB_F_EVENT_OUTCOME, KB_V_STR, "failure");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "403");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.proxy-listen.de");
    dfx_expect_field(&f.ev, "c-uri-extension", KB_V_STR, "php");
    /* NONE/405 CONNECT to an error pseudo-URL. */
    assert_int_equal(dfx_decode_line(&f, SQ "fail2ban-squid.log", 2), KB_OK);
    assert_true(f.ev.ts == INT64_C(1386543500000000000));
    dfx_expect_canon(&f.ev, KB_F_EVENT_ACTION, KB_V_STR, "NONE");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "405");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "error:method-not-allowed");
    dfx_close(&f);

    /* wazuh: a URL without scheme, a proxy-auth user. */
    dfx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(dfx_decode_line(&f, SQ "wazuh-squid_rules.log", 1), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "ahmet");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, -1, NULL);
    assert_int_equal(dfx_decode_line(&f, SQ "wazuh-squid_rules.log", 2), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "oahmet");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.ossec.net");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "407");
    dfx_close(&f);
    kb_names_free(names);
}

static void squid_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    dfx f;

    dfx_open(&f, &kb_dec_squid, names, NULL);
    assert_int_equal(dfx_decodez(&f, "   "), KB_ESKIP);
    assert_int_equal(dfx_decodez(&f, "1157689312.049 5006 10.1.2.3 TCP_MISS/200 19763"), KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid record has fewer than 9 columns");
    assert_int_equal(dfx_decodez(&f, "yesterday 5006 10.1.2.3 TCP_MISS/200 1 GET http://a/ - "
                                     "DIRECT/1.2.3.4 -"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid record does not start with an epoch time");
    assert_int_equal(dfx_decodez(&f, "1157689312.049 5006 10.1.2.3 TCP_MISS 1 GET http://a/ - "
                                     "DIRECT/1.2.3.4 -"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "squid result is not code/status");
    assert_int_equal(dfx_decode(&f,
                                "1157689312.049 5 1.2.3.4 TCP_MISS/200 1 GET http://a\0/ - "
                                "DIRECT/1.2.3.4 -",
                                74),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "NUL byte in a squid record");
    /* An IPv6 peer and client, userinfo and port in the URL. */
    assert_int_equal(dfx_decodez(&f, "1157689312.049 5 2001:db8::1 TCP_MISS/200 1 GET "
                                     "http://u:p@[2001:db8::2]:8080/a/b.tar.gz?x=1#f - "
                                     "DIRECT/2001:db8::2 application/gzip"),
                     KB_OK);
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "2001:db8::1");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "2001:db8::2");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "2001:db8::2");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "8080");
    dfx_expect_field(&f.ev, "c-uri-query", KB_V_STR, "x=1");
    dfx_expect_field(&f.ev, "c-uri-extension", KB_V_STR, "gz");
    /* A peer that is a name is no destination.ip. */
    assert_int_equal(dfx_decodez(&f, "1157689312.049 5 10.0.0.1 TCP_MISS/200 1 GET http://a/ - "
                                     "FIRSTUP_PARENT/proxy.example -"),
                     KB_OK);
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, -1, NULL);
    dfx_expect_field(&f.ev, "peerhost", KB_V_STR, "proxy.example");

    line = malloc(big);
    assert_non_null(line);
    memset(line, '9', big);
    assert_int_equal(dfx_decode(&f, line, big), KB_EPARSE);
    memcpy(line, "1157689312.049 5 10.0.0.1 TCP_MISS/200 1 GET http://a/", 54);
    memcpy(line + big - 18, " - DIRECT/1.2.3.4 ", 18);
    assert_int_equal(dfx_decode(&f, line, big), KB_OK);
    assert_int_equal(kb_event_canon(&f.ev, KB_F_URL_FULL)->len, big - 18 - 45);
    free(line);
    dfx_close(&f);
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
