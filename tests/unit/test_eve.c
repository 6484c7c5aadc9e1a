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

#define EVE_DIR KOBAN_SHARED_DATA "/logs/suricata-eve/"

typedef struct fixture {
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_decode_ctx ctx;
    char *line; /* the last line read by dec_line, owned */
    size_t line_cap;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->names = kb_names_new(0);
    fx->arena = kb_arena_new(0, 0);
    assert_non_null(fx->names);
    assert_non_null(fx->arena);
    kb_event_init(&fx->ev, fx->names, fx->arena);
    fx->ctx.names = fx->names;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    free(fx->line);
    kb_arena_free(fx->arena);
    kb_names_free(fx->names);
    free(fx);
    return 0;
}

static int dec(fixture *fx, const char *line, size_t len)
{
    /* The field table lives in the arena: clearing the arena means a fresh
     * kb_event_init, not kb_event_clear. */
    kb_arena_clear(fx->arena);
    kb_event_init(&fx->ev, fx->names, fx->arena);
    fx->ctx.err = NULL;
    fx->ev.raw = line;
    fx->ev.raw_len = (uint32_t)len;
    return kb_dec_suricata.decode(&fx->ctx, line, len, &fx->ev);
}

static int decs(fixture *fx, const char *line)
{
    return dec(fx, line, strlen(line));
}

/* Decodes line n (1-based) of file. */
static int dec_line(fixture *fx, const char *file, int n)
{
    FILE *f = fopen(file, "r");
    ssize_t len = -1;

    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        len = getline(&fx->line, &fx->line_cap, f);
        assert_true(len > 0);
    }
    fclose(f);
    while (len > 0 && (fx->line[len - 1] == '\n' || fx->line[len - 1] == '\r'))
        len--;
    return dec(fx, fx->line, (size_t)len);
}

static void assert_canon(const kb_event *ev, int c, const char *want)
{
    const kb_field *f = kb_event_canon(ev, c);
    if (!want) {
        if (f)
            fail_msg("%s: expected nothing, got '%.*s'", kb_canon_name(c), (int)f->len, f->val);
        return;
    }
    if (!f)
        fail_msg("%s: missing, expected '%s'", kb_canon_name(c), want);
    if (f->len != strlen(want) || memcmp(f->val, want, f->len) != 0)
        fail_msg("%s: got '%.*s', expected '%s'", kb_canon_name(c), (int)f->len, f->val, want);
}

static void assert_raw(const kb_event *ev, const char *name, const char *want)
{
    const kb_field *f = kb_event_get_named(ev, name);
    if (!f)
        fail_msg("%s: missing", name);
    if (f->len != strlen(want) || memcmp(f->val, want, f->len) != 0)
        fail_msg("%s: got '%.*s', expected '%s'", name, (int)f->len, f->val, want);
}

static void assert_str(const char *got, const char *want)
{
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* Every line of every sample decodes; per file: lines, alerts. */
static void test_all_samples(void **state)
{
    fixture *fx = *state;
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
            rc = dec(fx, line, (size_t)len);
            if (rc != KB_OK)
                fail_msg("%s:%d: %s", files[k].file, lines + 1, fx->ctx.err);
            lines++;
            assert_true(fx->ev.ts != KB_TIME_NONE);
            assert_non_null(kb_event_canon(&fx->ev, KB_F_TIMESTAMP));
            assert_str(fx->ev.ls.product, "suricata");
            assert_canon(&fx->ev, KB_F_OBSERVER_PRODUCT, "suricata");
            if (fx->ev.ls.service && strcmp(fx->ev.ls.service, "alert") == 0) {
                alerts++;
                assert_canon(&fx->ev, KB_F_EVENT_KIND, "alert");
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
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, EVE_DIR "crowdsec-eve-detect.log", 1), KB_OK);
    assert_true(ev->ts == INT64_C(1657606953415742000));
    assert_canon(ev, KB_F_TIMESTAMP, "2022-07-12T06:22:33.415742+0000");
    assert_canon(ev, KB_F_EVENT_KIND, "alert");
    assert_canon(ev, KB_F_EVENT_CATEGORY, "intrusion_detection");
    assert_canon(ev, KB_F_EVENT_ACTION, "allowed");
    assert_canon(ev, KB_F_EVENT_SEVERITY, "1");
    assert_canon(ev, KB_F_SOURCE_IP, "1.2.3.4");
    assert_canon(ev, KB_F_SOURCE_PORT, "33270");
    assert_canon(ev, KB_F_DESTINATION_IP, "1.2.3.5");
    assert_canon(ev, KB_F_DESTINATION_PORT, "80");
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, "tcp");
    assert_canon(ev, KB_F_NETWORK_PROTOCOL, "http");
    assert_canon(ev, KB_F_URL_DOMAIN, "34.245.178.108");
    assert_canon(ev, KB_F_URL_FULL, "http://34.245.178.108/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh");
    assert_canon(ev, KB_F_HTTP_REQUEST_METHOD, "POST");
    assert_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, "400");
    assert_canon(ev, KB_F_USER_AGENT_ORIGINAL,
                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/78.0.3904.108 Safari/537.36");
    assert_canon(ev, KB_F_RULE_NAME,
                 "ET EXPLOIT Apache HTTP Server 2.4.49 - Path Traversal Attempt (CVE-2021-41773) "
                 "M2");
    assert_canon(ev, KB_F_RULE_ID, "2034125");
    assert_canon(ev, KB_F_FILE_NAME, "/bin/sh");
    assert_canon(ev, KB_F_HOST_NAME, NULL);
    assert_raw(ev, "alert.rev", "4");
    assert_raw(ev, "alert.category", "Attempted Administrator Privilege Gain");
    assert_raw(ev, "alert.gid", "1");
    assert_str(ev->ls.service, "alert");
    assert_null(ev->ls.category);
    assert_str(ev->format, "suricata");
}

static void test_alert_tls_and_sip(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 2), KB_OK);
    assert_canon(ev, KB_F_RULE_NAME, "ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)");
    assert_canon(ev, KB_F_RULE_ID, "2024833");
    assert_canon(ev, KB_F_NETWORK_PROTOCOL, "tls");
    assert_raw(ev, "tls.sni", "l2.io");
    assert_canon(ev, KB_F_URL_FULL, NULL);
    /* -0400: local time west of UTC */
    assert_canon(ev, KB_F_TIMESTAMP, "2018-07-05T15:07:20.910626-0400");
    assert_true(ev->ts == INT64_C(1530817640910626000));

    assert_int_equal(dec_line(fx, EVE_DIR "crowdsec-eve-detect.log", 2), KB_OK);
    assert_canon(ev, KB_F_NETWORK_PROTOCOL, "sip");
    assert_canon(ev, KB_F_EVENT_SEVERITY, "2");
    assert_raw(ev, "sip.method", "OPTIONS");
    assert_raw(ev, "alert.signature_id", "2011716");
}

static void test_dns_fileinfo_http(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 5), KB_OK);
    assert_true(ev->ts == INT64_C(1530820280213418000));
    assert_canon(ev, KB_F_EVENT_KIND, "event");
    assert_canon(ev, KB_F_EVENT_CATEGORY, "network");
    assert_canon(ev, KB_F_DNS_QUESTION_NAME, "clients.l.google.com");
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, "udp");
    assert_canon(ev, KB_F_SOURCE_PORT, "53");
    assert_str(ev->ls.service, "dns");
    assert_str(ev->ls.category, "dns");
    assert_raw(ev, "dns.rrtype", "A");
    assert_raw(ev, "dns.rdata", "175.16.199.1");

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 4), KB_OK);
    assert_canon(ev, KB_F_EVENT_CATEGORY, "file");
    assert_canon(ev, KB_F_FILE_NAME, "/ssdp/device-desc.xml");
    assert_canon(ev, KB_F_FILE_HASH_MD5, "427b7337ff37eeb24d74f47d8e04cf21");
    assert_canon(ev, KB_F_FILE_HASH_SHA1, "313573490192c685e9e53abef25453ed0d5e2aee");
    assert_canon(ev, KB_F_FILE_HASH_SHA256,
                 "f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b");
    assert_canon(ev, KB_F_URL_FULL, "http://192.168.86.28/ssdp/device-desc.xml");
    assert_str(ev->ls.service, "fileinfo");

    /* Escaped slashes are unescaped. */
    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 3), KB_OK);
    assert_canon(ev, KB_F_URL_FULL, "http://192.168.86.28/dd.xml");
    assert_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, "200");
    assert_canon(ev, KB_F_HTTP_REQUEST_METHOD, "GET");
    assert_canon(ev, KB_F_NETWORK_PROTOCOL, NULL); /* no app_proto in http records */

    /* A proxy request: the URL is absolute already. */
    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 9), KB_OK);
    assert_canon(ev, KB_F_URL_FULL,
                 "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/"
                 "pinrulesstl.cab?111111111111");
    assert_canon(ev, KB_F_URL_DOMAIN, "ctldl.windowsupdate.com");
    assert_canon(ev, KB_F_USER_AGENT_ORIGINAL, "Microsoft-CryptoAPI/10.0");

    /* A non-default port goes into the URL. */
    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 11), KB_OK);
    assert_canon(ev, KB_F_URL_FULL, "http://192.168.50.1:8081/uuid");
}

static void test_flow_ssh_stats(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 8), KB_OK);
    assert_str(ev->ls.service, "flow");
    assert_canon(ev, KB_F_SOURCE_IP, "fe80:0000:0000:0000:fada:0cff:fedc:87f1");
    assert_canon(ev, KB_F_DESTINATION_PORT, "547");
    assert_canon(ev, KB_F_NETWORK_PROTOCOL, NULL); /* app_proto "failed" */
    assert_raw(ev, "flow.state", "new");

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 1), KB_OK);
    assert_str(ev->ls.service, "ssh");
    assert_raw(ev, "ssh.client.software_version", "OpenSSH_7.6");

    assert_int_equal(dec_line(fx, EVE_DIR "elastic-eve-small.log", 6), KB_OK);
    assert_canon(ev, KB_F_EVENT_KIND, "metric");
    assert_canon(ev, KB_F_EVENT_CATEGORY, NULL);
    assert_canon(ev, KB_F_SOURCE_IP, NULL);

    /* "-0000" zone (crowdsec's anonymised copy). */
    assert_int_equal(dec_line(fx, EVE_DIR "crowdsec-evelog.log", 6), KB_OK);
    assert_str(ev->ls.service, "flow");
    assert_canon(ev, KB_F_TIMESTAMP, "2022-07-12T05:52:18.378379-0000");
}

static void test_constructed(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    /* EVE v3 DNS request: the name is in queries[]. host present. */
    assert_int_equal(decs(fx, "{\"timestamp\":\"2024-01-02T03:04:05.000006+0000\",\"host\":"
                              "\"sensor1\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.1\","
                              "\"src_port\":5353,\"dest_ip\":\"10.0.0.53\",\"dest_port\":53,"
                              "\"proto\":\"UDP\",\"dns\":{\"version\":3,\"type\":\"request\","
                              "\"queries\":[{\"rrname\":\"evil.example\",\"rrtype\":\"A\"}]}}"),
                     KB_OK);
    assert_canon(ev, KB_F_DNS_QUESTION_NAME, "evil.example");
    assert_canon(ev, KB_F_HOST_NAME, "sensor1");

    /* Drop and unknown event types. */
    assert_int_equal(decs(fx, "{\"timestamp\":\"2024-01-02T03:04:05Z\",\"event_type\":\"drop\","
                              "\"src_ip\":\"10.0.0.1\",\"proto\":\"tcp\",\"drop\":{\"len\":60}}"),
                     KB_OK);
    assert_str(ev->ls.service, "drop");
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, "tcp");
    assert_int_equal(decs(fx, "{\"timestamp\":\"2024-01-02T03:04:05Z\",\"event_type\":\"brand_"
                              "new\"}"),
                     KB_OK);
    assert_null(ev->ls.service);
    assert_str(ev->ls.product, "suricata");
    assert_canon(ev, KB_F_EVENT_KIND, "event");
}

static void test_bad_input(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;
    const char *trunc = "{\"timestamp\":\"2022-07-12T06:22:33.415742+0000\",\"event_type\":\"al";

    assert_int_equal(decs(fx, trunc), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, "[1,2,3]"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, ""), KB_EPARSE);
    assert_int_equal(decs(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\"}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "no event_type string: not a Suricata EVE record");
    assert_int_equal(decs(fx, "{\"timestamp\":\"yesterday\",\"event_type\":\"alert\"}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "missing or invalid EVE timestamp");
    assert_int_equal(decs(fx, "{\"timestamp\":12,\"event_type\":\"alert\"}"), KB_EPARSE);
    assert_int_equal(decs(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":7}"),
                     KB_EPARSE);

    /* Wrong types in known fields are ignored, the rest decodes. */
    assert_int_equal(decs(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":\"alert\","
                              "\"src_ip\":[1],\"src_port\":{\"a\":1},\"dest_port\":\"http\","
                              "\"proto\":6,\"alert\":{\"severity\":\"high\",\"signature\":"
                              "\"sig\",\"signature_id\":\"x\"},\"http\":{\"url\":{},"
                              "\"hostname\":5,\"status\":99999}}"),
                     KB_OK);
    assert_canon(ev, KB_F_SOURCE_IP, NULL);
    assert_canon(ev, KB_F_SOURCE_PORT, NULL);
    assert_canon(ev, KB_F_DESTINATION_PORT, NULL);
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, NULL);
    assert_canon(ev, KB_F_EVENT_SEVERITY, NULL);
    assert_canon(ev, KB_F_RULE_ID, NULL);
    assert_canon(ev, KB_F_URL_FULL, NULL);
    assert_canon(ev, KB_F_URL_DOMAIN, NULL);
    assert_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, NULL);
    assert_canon(ev, KB_F_RULE_NAME, "sig");

    /* An http url without a hostname is kept as the target. */
    assert_int_equal(decs(fx, "{\"timestamp\":\"2022-07-12T06:22:33Z\",\"event_type\":\"http\","
                              "\"http\":{\"url\":\"/x\"}}"),
                     KB_OK);
    assert_canon(ev, KB_F_URL_FULL, "/x");
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
        cmocka_unit_test_setup_teardown(test_all_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_tls_and_sip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_fileinfo_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_ssh_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
