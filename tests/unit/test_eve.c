/* Tests for the Suricata EVE decoder, on the real samples in
 * ../shared/data/logs/suricata-eve and on broken input. */
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

#define EVE_DIR KOBAN_SHARED_DATA "/logs/suricata-eve/"

static int setup(void **state)
{
    return dfx_setup_with(state, &kb_dec_suricata);
}

/* Every line of every sample decodes; per file: lines, alerts. */
static void test_all_samples(void **state)
{
    dfx *fx = *state;
    static const struct {
        const char *file;
        int lines, alerts, stats;
    } files[] = {
        {EVE_DIR "crowdsec-eve-detect.log", 4, 4, 0},
        {EVE_DIR "crowdsec-evelog.log", 8, 4, 2},
        {EVE_DIR "elastic-eve-6-0.log", 3, 1, 0},
        {EVE_DIR "elastic-eve-small.log", 12, 1, 1},
    };
    int total = 0;

    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        FILE *f = fopen(files[k].file, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int lines = 0, alerts = 0, stats = 0;

        assert_non_null(f);
        while ((len = getline(&line, &cap, f)) > 0) {
            int rc;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            assert_int_equal(kb_dec_suricata.sniff(line, (size_t)len), 90);
            rc = dfx_decode(fx, line, (size_t)len);
            if (rc != KB_OK)
                fail_msg("%s:%d: %s", files[k].file, lines + 1, fx->ctx.err);
            lines++;
            assert_true(fx->ev.ts != KB_TIME_NONE);
            assert_non_null(kb_event_canon(&fx->ev, KB_F_TIMESTAMP));
            dfx_expect_str(fx->ev.ls.product, "suricata");
            dfx_expect_canon(&fx->ev, KB_F_OBSERVER_PRODUCT, -1, "suricata");
            if (fx->ev.ls.service && strcmp(fx->ev.ls.service, "alert") == 0) {
                alerts++;
                dfx_expect_canon(&fx->ev, KB_F_EVENT_KIND, -1, "alert");
                assert_non_null(kb_event_canon(&fx->ev, KB_F_RULE_NAME));
                assert_non_null(kb_event_canon(&fx->ev, KB_F_RULE_ID));
                assert_non_null(kb_event_canon(&fx->ev, KB_F_EVENT_SEVERITY));
            }
            if (fx->ev.ls.service && strcmp(fx->ev.ls.service, "stats") == 0)
                stats++;
            else
                assert_non_null(kb_event_canon(&fx->ev, KB_F_SOURCE_IP));
        }
        free(line);
        fclose(f);
        assert_int_equal(lines, files[k].lines);
        assert_int_equal(alerts, files[k].alerts);
        assert_int_equal(stats, files[k].stats);
        total += lines;
    }
    assert_int_equal(total, 27);
}

static void test_alert_http(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "crowdsec-eve-detect.log", 1), KB_OK);
    assert_true(ev->ts == INT64_C(1657606953415742000));
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2022-07-12T06:22:33.415742+0000");
    dfx_expect_canon(ev, KB_F_EVENT_KIND, -1, "alert");
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "intrusion_detection");
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, "allowed");
    dfx_expect_canon(ev, KB_F_EVENT_SEVERITY, -1, "1");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "1.2.3.4");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "33270");
    dfx_expect_canon(ev, KB_F_DESTINATION_IP, -1, "1.2.3.5");
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, "80");
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, "tcp");
    dfx_expect_canon(ev, KB_F_NETWORK_PROTOCOL, -1, "http");
    dfx_expect_canon(ev, KB_F_URL_DOMAIN, -1, "34.245.178.108");
    dfx_expect_canon(ev, KB_F_URL_FULL, -1,
                     "http://34.245.178.108/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh");
    dfx_expect_canon(ev, KB_F_HTTP_REQUEST_METHOD, -1, "POST");
    dfx_expect_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, "400");
    dfx_expect_canon(ev, KB_F_USER_AGENT_ORIGINAL, -1,
                     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                     "Gecko) Chrome/78.0.3904.108 Safari/537.36");
    dfx_expect_canon(
        ev, KB_F_RULE_NAME, -1,
        "ET EXPLOIT Apache HTTP Server 2.4.49 - Path Traversal Attempt (CVE-2021-41773) "
        "M2");
    dfx_expect_canon(ev, KB_F_RULE_ID, -1, "2034125");
    dfx_expect_canon(ev, KB_F_FILE_NAME, -1, "/bin/sh");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, NULL);
    dfx_expect_field(ev, "alert.rev", -1, "4");
    dfx_expect_field(ev, "alert.category", -1, "Attempted Administrator Privilege Gain");
    dfx_expect_field(ev, "alert.gid", -1, "1");
    dfx_expect_str(ev->ls.service, "alert");
    assert_null(ev->ls.category);
    dfx_expect_str(ev->format, "suricata");
}

static void test_alert_tls_and_sip(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 2), KB_OK);
    dfx_expect_canon(ev, KB_F_RULE_NAME, -1,
                     "ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)");
    dfx_expect_canon(ev, KB_F_RULE_ID, -1, "2024833");
    dfx_expect_canon(ev, KB_F_NETWORK_PROTOCOL, -1, "tls");
    dfx_expect_field(ev, "tls.sni", -1, "l2.io");
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, NULL);
    /* -0400: local time west of UTC */
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2018-07-05T15:07:20.910626-0400");
    assert_true(ev->ts == INT64_C(1530817640910626000));

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "crowdsec-eve-detect.log", 2), KB_OK);
    dfx_expect_canon(ev, KB_F_NETWORK_PROTOCOL, -1, "sip");
    dfx_expect_canon(ev, KB_F_EVENT_SEVERITY, -1, "2");
    dfx_expect_field(ev, "sip.method", -1, "OPTIONS");
    dfx_expect_field(ev, "alert.signature_id", -1, "2011716");
}

static void test_dns_fileinfo_http(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 5), KB_OK);
    assert_true(ev->ts == INT64_C(1530820280213418000));
    dfx_expect_canon(ev, KB_F_EVENT_KIND, -1, "event");
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "network");
    dfx_expect_canon(ev, KB_F_DNS_QUESTION_NAME, -1, "clients.l.google.com");
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, "udp");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "53");
    dfx_expect_str(ev->ls.service, "dns");
    dfx_expect_str(ev->ls.category, "dns");
    dfx_expect_field(ev, "dns.rrtype", -1, "A");
    dfx_expect_field(ev, "dns.rdata", -1, "175.16.199.1");

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 4), KB_OK);
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "file");
    dfx_expect_canon(ev, KB_F_FILE_NAME, -1, "/ssdp/device-desc.xml");
    dfx_expect_canon(ev, KB_F_FILE_HASH_MD5, -1, "427b7337ff37eeb24d74f47d8e04cf21");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA1, -1, "313573490192c685e9e53abef25453ed0d5e2aee");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA256, -1,
                     "f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b");
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "http://192.168.86.28/ssdp/device-desc.xml");
    dfx_expect_str(ev->ls.service, "fileinfo");

    /* Escaped slashes are unescaped. */
    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 3), KB_OK);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "http://192.168.86.28/dd.xml");
    dfx_expect_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, "200");
    dfx_expect_canon(ev, KB_F_HTTP_REQUEST_METHOD, -1, "GET");
    dfx_expect_canon(ev, KB_F_NETWORK_PROTOCOL, -1, NULL); /* no app_proto in http records */

    /* A proxy request: the URL is absolute already. */
    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 9), KB_OK);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1,
                     "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"
                     "pinrulesstl.cab?111111111111");
    dfx_expect_canon(ev, KB_F_URL_DOMAIN, -1, "ctldl.windowsupdate.com");
    dfx_expect_canon(ev, KB_F_USER_AGENT_ORIGINAL, -1, "Microsoft-CryptoAPI/10.0");

    /* A non-default port goes into the URL. */
    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 11), KB_OK);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "http://192.168.50.1:8081/uuid");
}

static void test_flow_ssh_stats(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 8), KB_OK);
    dfx_expect_str(ev->ls.service, "flow");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "fe80:0000:0000:0000:fada:0cff:fedc:87f1");
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, "547");
    dfx_expect_canon(ev, KB_F_NETWORK_PROTOCOL, -1, NULL); /* app_proto "failed" */
    dfx_expect_field(ev, "flow.state", -1, "new");

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 1), KB_OK);
    dfx_expect_str(ev->ls.service, "ssh");
    dfx_expect_field(ev, "ssh.client.software_version", -1, "OpenSSH_7.6");

    assert_int_equal(dfx_decode_line(fx, EVE_DIR "elastic-eve-small.log", 6), KB_OK);
    dfx_expect_canon(ev, KB_F_EVENT_KIND, -1, "metric");
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, NULL);
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, NULL);

    /* "-0000" zone (crowdsec's anonymised copy). */
    assert_int_equal(dfx_decode_line(fx, EVE_DIR "crowdsec-evelog.log", 6), KB_OK);
    dfx_expect_str(ev->ls.service, "flow");
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2022-07-12T05:52:18.378379-0000");
}

static void test_constructed(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    /* EVE v3 DNS request: the name is in queries[]. host present. */
    assert_int_equal(dfx_decodez(fx,
                                 "{\"timestamp\":\"2024-01-02T03:04:05.000006+0000\",\"host\":"
                                 "\"sensor1\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.1\","
                                 "\"src_port\":5353,\"dest_ip\":\"10.0.0.53\",\"dest_port\":53,"
                                 "\"proto\":\"UDP\",\"dns\":{\"version\":3,\"type\":\"request\","
                                 "\"queries\":[{\"rrname\":\"evil.example\",\"rrtype\":\"A\"}]}}"),
                     KB_OK);
    dfx_expect_canon(ev, KB_F_DNS_QUESTION_NAME, -1, "evil.example");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "sensor1");

    /* Drop and unknown event types. */
    assert_int_equal(
        dfx_decodez(fx, "{\"timestamp\":\"2024-01-02T03:04:05Z\",\"event_type\":\"drop\","
                        "\"src_ip\":\"10.0.0.1\",\"proto\":\"tcp\",\"drop\":{\"len\":60}}"),
        KB_OK);
    dfx_expect_str(ev->ls.service, "drop");
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, "tcp");
    assert_int_equal(dfx_decodez(fx,
                                 "{\"timestamp\":\"2024-01-02T03:04:05Z\",\"event_type\":\"brand_"
                                 "new\"}"),
                     KB_OK);
    assert_null(ev->ls.service);
    dfx_expect_str(ev->ls.product, "suricata");
    dfx_expect_canon(ev, KB_F_EVENT_KIND, -1, "event");
}

static void test_bad_input(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;
    const char *trunc = "{\"timestamp\":\"2022-07-12T06:22:33.415742+0000\",\"event_type\":\"al";

    assert_int_equal(dfx_decodez(fx, trunc), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, "[1,2,3]"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, ""), KB_EPARSE);
    assert_int_equal(dfx_decodez(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\"}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "no event_type string: not a Suricata EVE record");
    assert_int_equal(dfx_decodez(fx, "{\"timestamp\":\"yesterday\",\"event_type\":\"alert\"}"),
                     KB_EPARSE);
    assert_string_equal(fx->ctx.err, "missing or invalid EVE timestamp");
    assert_int_equal(dfx_decodez(fx, "{\"timestamp\":12,\"event_type\":\"alert\"}"), KB_EPARSE);
    assert_int_equal(dfx_decodez(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":7}"),
                     KB_EPARSE);

    /* Wrong types in known fields are ignored, the rest decodes. */
    assert_int_equal(dfx_decodez(fx,
                                 "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":\"alert\","
                                 "\"src_ip\":[1],\"src_port\":{\"a\":1},\"dest_port\":\"http\","
                                 "\"proto\":6,\"alert\":{\"severity\":\"high\",\"signature\":"
                                 "\"sig\",\"signature_id\":\"x\"},\"http\":{\"url\":{},"
                                 "\"hostname\":5,\"status\":99999}}"),
                     KB_OK);
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, NULL);
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, NULL);
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, NULL);
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, NULL);
    dfx_expect_canon(ev, KB_F_EVENT_SEVERITY, -1, NULL);
    dfx_expect_canon(ev, KB_F_RULE_ID, -1, NULL);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, NULL);
    dfx_expect_canon(ev, KB_F_URL_DOMAIN, -1, NULL);
    dfx_expect_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, NULL);
    dfx_expect_canon(ev, KB_F_RULE_NAME, -1, "sig");

    /* An http url without a hostname is kept as the target. */
    assert_int_equal(dfx_decodez(fx,
                                 "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":\"http\","
                                 "\"http\":{\"url\":\"/x\"}}"),
                     KB_OK);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "/x");
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(kb_dec_suricata.sniff("{\"timestamp\":\"x\",\"event_type\":\"dns\"}", 36), 90);
    assert_int_equal(kb_dec_suricata.sniff("{\"EventID\": 1}", 14), 0);
    assert_int_equal(kb_dec_suricata.sniff("<13>Jan  1 00:00:00 host x", 26), 0);
    assert_int_equal(kb_dec_suricata.sniff("", 0), 0);
    assert_string_equal(kb_dec_suricata.name, "suricata");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_samples, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_alert_http, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_alert_tls_and_sip, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_dns_fileinfo_http, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_flow_ssh_stats, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_constructed, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, dfx_teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
