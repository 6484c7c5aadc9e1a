/* Apache/nginx access-log decoder, over ../shared/data/logs/web-access and
 * the expectations beside it (crowdsec parser.assert, logstash spec). */
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

#define WEB KOBAN_SHARED_DATA "/logs/web-access/"

static void web_samples(void **unused)
{
    static const struct {
        const char *file;
        dfx_counts want;
    } cases[] = {
        /* two Apache error-log lines */
        {"crowdsec-apache2-combined.log", {7, 0, 2}},
        /* one nginx error-log line */
        {"crowdsec-nginx-combined.log", {8, 0, 1}},
        {"lnav-access.log", {3, 0, 0}},
        /* "host [time]": no identity fields (lnav's negative case) */
        {"lnav-bad-access.log", {2, 0, 1}},
        {"lnav-shop-access.log", {1000, 0, 0}},
        {"logstash-patterns-httpd.log", {3, 0, 0}},
        /* IIS W3C lines and syslog-wrapped lines are other formats */
        {"wazuh-web_rules.log", {3, 0, 7}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        dfx_expect_counts(&kb_dec_weblog, names, WEB, cases[i].file, cases[i].want);
    kb_names_free(names);
}

/* crowdsec parser.assert values: clientip, verb, request, response,
 * bytes, referrer, http_user_agent, target_fqdn, port, timestamp. */
static void web_crowdsec(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;

    dfx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-apache2-combined.log", 7), KB_OK);
    assert_string_equal(f.ev.ls.category, "webserver");
    assert_true(f.ev.ts == INT64_C(1635152752) * KB_NS_PER_SEC);
    dfx_expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_STR, "25/Oct/2021:11:05:52 +0200");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "1.2.3.4");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "website.com");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "443");
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "GET");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/web/.well-known");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "403");
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "User-agent-string");
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web");
    dfx_expect_field(&f.ev, "http.request.referrer", KB_V_STR, "abc.com");
    dfx_expect_field(&f.ev, "cs-referer", KB_V_STR, "abc.com");
    dfx_expect_field(&f.ev, "bytes", KB_V_INT, "6963");
    dfx_expect_field(&f.ev, "httpversion", KB_V_STR, "1.1");
    dfx_expect_field(&f.ev, "cs-host", KB_V_STR, "website.com");
    dfx_expect_field(&f.ev, "ident", -1, NULL);

    /* Common log format: no referrer or agent. */
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-apache2-combined.log", 6), KB_OK);
    assert_true(f.ev.ts == INT64_C(1614931298) * KB_NS_PER_SEC);
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/test/lists/sip_30d.txt");
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, -1, NULL);
    dfx_expect_field(&f.ev, "http.request.referrer", -1, NULL);
    dfx_expect_field(&f.ev, "httpversion", KB_V_STR, "1.0");

    /* Query string: the Sigma names over the parts. */
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-apache2-combined.log", 3), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/solr/admin/info/system?wt=json");
    dfx_expect_field(&f.ev, "cs-uri-query", KB_V_STR, "/solr/admin/info/system?wt=json");
    dfx_expect_field(&f.ev, "cs-uri-stem", KB_V_STR, "/solr/admin/info/system");
    dfx_expect_field(&f.ev, "c-uri-query", KB_V_STR, "wt=json");
    dfx_expect_field(&f.ev, "cs-method", KB_V_STR, "GET");
    dfx_expect_field(&f.ev, "sc-status", KB_V_INT, "500");
    dfx_expect_field(&f.ev, "c-ip", KB_V_STR, "195.54.160.135");
    dfx_expect_field(&f.ev, "cs-user-agent", KB_V_STR,
                     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                     "Gecko) Chrome/78.0.3904.108 Safari/537.36");

    /* nginx: a user; and "host - [time]" without ident. */
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-nginx-combined.log", 7), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "user123");
    dfx_expect_field(&f.ev, "cs-username", KB_V_STR, "user123");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/api/login");
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-nginx-combined.log", 8), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "192.168.1.1");
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/api/test");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    /* vhost with a port */
    assert_int_equal(dfx_decode_line(&f, WEB "crowdsec-nginx-combined.log", 6), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.crowdsec11.net");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "80");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "301");
    dfx_close(&f);
    kb_names_free(names);
}

/* logstash httpd_spec.rb: status "-", user with '@', empty referrer. */
static void web_logstash(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;

    dfx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(dfx_decode_line(&f, WEB "logstash-patterns-httpd.log", 2), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "username@example.com");
    dfx_expect_field(&f.ev, "http.request.referrer", -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "400");
    assert_int_equal(dfx_decode_line(&f, WEB "logstash-patterns-httpd.log", 3), KB_OK);
    assert_true(f.ev.ts == INT64_C(1578780327) * KB_NS_PER_SEC);
    dfx_expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "a.user");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "OPTIONS");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/remote.php/");
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "monitoring-client (v2.2)");
    dfx_expect_field(&f.ev, "bytes", KB_V_INT, "7908");
    dfx_close(&f);

    /* lnav shop: +0330 zone and a trailing nginx field ("-", absent). */
    dfx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(dfx_decode_line(&f, WEB "lnav-shop-access.log", 1), KB_OK);
    assert_true(f.ev.ts == INT64_C(1548116774) * KB_NS_PER_SEC);
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "54.36.149.41");
    dfx_expect_field(&f.ev, "extra", -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR,
                     "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)");
    dfx_close(&f);

    /* wazuh: \" inside the request line is unescaped. */
    dfx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(dfx_decode_line(&f, WEB "wazuh-web_rules.log", 9), KB_OK);
    {
        const kb_field *u = kb_event_canon(&f.ev, KB_F_URL_FULL);
        assert_non_null(u);
        assert_non_null(kb_memmem(u->val, u->len, "OR'\"XOR(if(now()", 16));
        assert_null(kb_memmem(u->val, u->len, "\\\"", 2));
        assert_true(kb_str_has_prefix(u->val, u->len, "/example?dir=asc"));
        assert_true(u->val[u->len - 1] == '1');
    }
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.example.com");
    dfx_expect_field(&f.ev, "http.request.referrer", KB_V_STR, "https://www.example.com");
    dfx_close(&f);
    kb_names_free(names);
}

static void web_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    dfx f;

    dfx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(dfx_decodez(&f, "  "), KB_ESKIP);
    assert_int_equal(dfx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log record has an unterminated quoted field");
    assert_int_equal(dfx_decodez(&f, "1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] \"GET /\" 200 1"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log time is not dd/Mon/yyyy:hh:mm:ss zone");
    assert_int_equal(dfx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\""),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log record lacks status or size");
    assert_int_equal(dfx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" OK 1"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log status is not a number");
    assert_int_equal(dfx_decodez(&f, "a b c d e [10/Oct/2000:13:55:36 -0700] \"GET /\" 200 1"),
                     KB_EPARSE);
    assert_int_equal(
        dfx_decode(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\0\" 200 1", 56),
        KB_EPARSE);
    assert_string_equal(f.ctx.err, "NUL byte in an access log record");

    /* \xHH escapes (TLS bytes sent to a plain port), no method. */
    assert_int_equal(dfx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                                     "\"\\x16\\x03\\x01\" 400 0 \"-\" \"a\\\\b\" 0.003 \"x y\""),
                     KB_OK);
    assert_true(f.ev.ts == INT64_C(971211336) * KB_NS_PER_SEC);
    dfx_expect_field(&f.ev, "request_line", KB_V_STR, "\x16\x03\x01");
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "a\\b");
    dfx_expect_field(&f.ev, "extra", KB_V_STR, "0.003 \"x y\"");
    dfx_expect_field(&f.ev, "http.request.referrer", -1, NULL);

    line = malloc(big);
    assert_non_null(line);
    memset(line, '"', big);
    assert_int_equal(dfx_decode(&f, line, big), KB_EPARSE);
    memset(line, 'a', big);
    memcpy(line, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /", 47);
    memcpy(line + big - 8, "\" 200 1 ", 8);
    assert_int_equal(dfx_decode(&f, line, big), KB_OK);
    assert_int_equal(kb_event_canon(&f.ev, KB_F_URL_FULL)->len, big - 8 - 46);
    free(line);
    dfx_close(&f);
    kb_names_free(names);
}

static void web_sniffing(void **unused)
{
    static const char *const yes[] = {
        "93.43.209.58 - - [08/Jun/2020:06:49:01 +0000] \"GET / HTTP/1.0\" 500 803 \"-\" \"-\"",
        "www.crowdsec.net 1.2.3.4 - - [08/Jun/2020:08:04:43 +0000] \"GET /solr HTTP/1.1\" 500 1",
        "10.0.0.5 - - [1/Apr/2014:00:00:01 -0500] \"POST /wp-admin HTTP/1.1\" 200 181",
    };
    static const char *const no[] = {
        "[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10:tid 1] [client 1.2.3.4:5]",
        "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT a:443 b DIRECT/1.2.3.4 -",
        "{\"ts\":1.5}",
        "",
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kb_dec_weblog.sniff(yes[i], strlen(yes[i])), 90);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(kb_dec_weblog.sniff(no[i], strlen(no[i])), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(web_samples),   cmocka_unit_test(web_crowdsec),
        cmocka_unit_test(web_logstash),  cmocka_unit_test(web_bad_input),
        cmocka_unit_test(web_sniffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
