/* Tests for the generic JSON Lines decoder: real JSON logs of other
 * formats (Zeek JSON, EVE, Windows), constructed records for the alias
 * table, and broken input. */
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

#define DATA KOBAN_SHARED_DATA "/"

static int setup(void **state)
{
    return dfx_setup_with(state, &kb_dec_json);
}

/* Every line of real JSON logs decodes; counts of events with a time and
 * a source address. */
static void test_real_files(void **state)
{
    dfx *fx = *state;
    static const struct {
        const char *file;
        int lines, with_ts, with_src;
    } files[] = {
        {DATA "logs/zeek-json/zeekdocs-conn.json.log", 2, 2, 2},
        {DATA "logs/zeek-json/elastic-conn.json.log", 18, 18, 18},
        {DATA "logs/zeek-json/zeekdocs-http.json.log", 1, 1, 1},
        {DATA "logs/suricata-eve/elastic-eve-small.log", 12, 12, 11},
        {DATA "logs/suricata-eve/crowdsec-evelog.log", 8, 8, 6},
        {DATA "windows-events/hayabusa_sample_evtx.jsonl", 15527, 15527, 0},
    };

    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        FILE *f = fopen(files[k].file, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int lines = 0, with_ts = 0, with_src = 0;

        assert_non_null(f);
        while ((len = getline(&line, &cap, f)) > 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (!len)
                continue;
            assert_int_equal(kb_dec_json.sniff(line, (size_t)len), 10);
            if (dfx_decode(fx, line, (size_t)len) != KB_OK)
                fail_msg("%s:%d: %s", files[k].file, lines + 1, fx->ctx.err);
            lines++;
            with_ts += fx->ev.ts != KB_TIME_NONE;
            with_src += kb_event_canon(&fx->ev, KB_F_SOURCE_IP) != NULL;
            dfx_expect_str(fx->ev.ls.product, NULL);
            assert_string_equal(fx->ev.format, "json");
        }
        free(line);
        fclose(f);
        assert_int_equal(lines, files[k].lines);
        assert_int_equal(with_ts, files[k].with_ts);
        assert_int_equal(with_src, files[k].with_src);
    }
}

static void test_zeek_http(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, DATA "logs/zeek-json/zeekdocs-http.json.log", 1), KB_OK);
    assert_true(ev->ts == INT64_C(1591367999512593000));
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "1591367999.512593");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "192.168.4.76");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "46378");
    dfx_expect_canon(ev, KB_F_DESTINATION_IP, -1, "31.3.245.133");
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, "80");
    dfx_expect_canon(ev, KB_F_HTTP_REQUEST_METHOD, -1, "GET");
    dfx_expect_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, "200");
    dfx_expect_canon(ev, KB_F_USER_AGENT_ORIGINAL, -1, "curl/7.47.0");
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "/");
    dfx_expect_field(ev, "status_msg", -1, "OK");
    dfx_expect_field(ev, "resp_fuids", -1, "[\"FEEsZS1w0Z0VJIb5x4\"]");
}

static void test_windows_flat(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    /* Sysmon 1 read generically: ECS-less names through the alias table. */
    assert_int_equal(dfx_decode_line(fx, DATA "windows-events/hayabusa_sample_evtx.jsonl", 6595),
                     KB_OK);
    assert_true(ev->ts == INT64_C(1653467076890032500));
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "WIN-5823BM4EN8O.mahdihtm.local");
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1,
                     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "3816");
    dfx_expect_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, -1, "C:\\Windows\\System32\\services.exe");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "NT AUTHORITY\\SYSTEM");
    dfx_expect_field(ev, "EventID", -1, "1");
}

static void test_ecs_and_aliases(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    /* ECS names map to themselves and beat aliases wherever they are. */
    assert_int_equal(
        dfx_decodez(fx, "{\"time\":\"2001-01-01T00:00:00Z\",\"src_ip\":\"9.9.9.9\","
                        "\"@timestamp\":\"2024-05-01T10:00:00.5Z\",\"source\":{\"ip\":"
                        "\"1.1.1.1\",\"port\":8080},\"destination\":{\"ip\":\"2.2.2.2\"},"
                        "\"user\":{\"name\":\"bob\",\"domain\":\"CORP\"},\"event\":"
                        "{\"action\":\"login\",\"outcome\":\"success\"},\"message\":\"hi\","
                        "\"file\":{\"hash\":{\"sha256\":\"abc\"}}}"),
        KB_OK);
    assert_true(ev->ts == INT64_C(1714557600500000000));
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2024-05-01T10:00:00.5Z");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "1.1.1.1");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "8080");
    dfx_expect_canon(ev, KB_F_DESTINATION_IP, -1, "2.2.2.2");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "bob");
    dfx_expect_canon(ev, KB_F_USER_DOMAIN, -1, "CORP");
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, "login");
    dfx_expect_canon(ev, KB_F_EVENT_OUTCOME, -1, "success");
    dfx_expect_canon(ev, KB_F_MESSAGE, -1, "hi");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA256, -1, "abc");

    /* Table order decides among aliases: timestamp before time; src_ip
     * before src. */
    assert_int_equal(
        dfx_decodez(fx, "{\"time\":\"2001-01-01T00:00:00Z\",\"src\":\"5.5.5.5\","
                        "\"timestamp\":\"2002-02-02T00:00:00Z\",\"src_ip\":\"6.6.6.6\","
                        "\"hostname\":\"h1\",\"username\":\"u1\",\"msg\":\"m\",\"pid\":12,"
                        "\"cmdline\":\"a b\",\"image\":\"/bin/a\",\"domain\":\"x.example\","
                        "\"query\":\"q.example\",\"md5\":\"00ff\",\"sha1\":\"11\","
                        "\"url\":\"http://x.example/\",\"dst_ip\":\"7.7.7.7\",\"dst_port\":"
                        "\"22\",\"proto\":\"tcp\",\"rule_id\":5,\"signature\":\"sig\"}"),
        KB_OK);
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2002-02-02T00:00:00Z");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "6.6.6.6");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "h1");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "u1");
    dfx_expect_canon(ev, KB_F_MESSAGE, -1, "m");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "12");
    dfx_expect_canon(ev, KB_F_PROCESS_COMMAND_LINE, -1, "a b");
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1, "/bin/a");
    dfx_expect_canon(ev, KB_F_URL_DOMAIN, -1, "x.example");
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, "http://x.example/");
    dfx_expect_canon(ev, KB_F_DNS_QUESTION_NAME, -1, "q.example");
    dfx_expect_canon(ev, KB_F_FILE_HASH_MD5, -1, "00ff");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA1, -1, "11");
    dfx_expect_canon(ev, KB_F_DESTINATION_IP, -1, "7.7.7.7");
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, "22");
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, "tcp");
    dfx_expect_canon(ev, KB_F_RULE_ID, -1, "5");
    dfx_expect_canon(ev, KB_F_RULE_NAME, -1, "sig");

    /* Epoch times: seconds with fraction, milliseconds, strings of them. */
    assert_int_equal(dfx_decodez(fx, "{\"ts\":1320279554.4963}"), KB_OK);
    assert_true(ev->ts == INT64_C(1320279554496300000));
    assert_int_equal(dfx_decodez(fx, "{\"timestamp\":1700000000123}"), KB_OK);
    assert_true(ev->ts == INT64_C(1700000000123000000));
    assert_int_equal(dfx_decodez(fx, "{\"date\":\"1700000000\"}"), KB_OK);
    assert_true(ev->ts == INT64_C(1700000000000000000));
    /* No time at all is fine for generic JSON. */
    assert_int_equal(dfx_decodez(fx, "{\"a\":1}"), KB_OK);
    assert_true(ev->ts == KB_TIME_NONE);
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, NULL);
}

static void test_bad_input(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decodez(fx, "{\"a\": [1, 2"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, "[{\"a\": 1}]"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, "42"), KB_EPARSE);
    assert_int_equal(dfx_decodez(fx, "{} trailing"), KB_EPARSE);
    assert_int_equal(dfx_decodez(fx, "{\"a\":\"\xff\"}"), KB_EPARSE);

    /* Wrong types in known names are ignored; a later good alias wins. */
    assert_int_equal(
        dfx_decodez(fx, "{\"src_port\":{\"a\":1},\"sport\":\"x\",\"spt\":\"99\",\"pid\":"
                        "\"abc\",\"timestamp\":\"never\",\"time\":true,\"ts\":\"2020-01-01\","
                        "\"host\":[\"a\",\"b\"],\"url\":null,\"status\":70000.5,"
                        "\"source\":{\"ip\":{\"v\":4}}}"),
        KB_OK);
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "99");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, NULL);
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2020-01-01");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, NULL);
    dfx_expect_canon(ev, KB_F_URL_FULL, -1, NULL);
    dfx_expect_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, NULL);
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, NULL);
    dfx_expect_field(ev, "source.ip.v", -1, "4");
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(kb_dec_json.sniff("{\"a\":1}", 7), 10);
    assert_int_equal(kb_dec_json.sniff("  {", 3), 10);
    assert_int_equal(kb_dec_json.sniff("[1]", 3), 0);
    assert_int_equal(kb_dec_json.sniff("Jan  1 host x", 13), 0);
    assert_int_equal(kb_dec_json.sniff("", 0), 0);
    assert_string_equal(kb_dec_json.name, "json");
}

/* Configured rows come before the built-in aliases, and a name the
 * built-ins do not know maps too. */
static void test_configured_map(void **state)
{
    (void)state;
    kb_names *names = kb_names_new(0);
    kb_arena *arena = kb_arena_new(0, 0);
    static const kb_field_map_row rows[] = {
        {"client_address", KB_F_SOURCE_IP},
        {"dst", KB_F_SOURCE_IP}, /* overrides the built-in meaning of "dst" */
        {"operator", KB_F_USER_NAME},
    };
    kb_field_map map = {rows, 3};
    kb_decode_ctx ctx = {0};
    kb_event ev;
    const char *line =
        "{\"src_ip\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"operator\":\"bob\",\"user\":\"eve\"}";
    const kb_field *f;

    ctx.names = names;
    ctx.map = &map;
    ctx.state = kb_dec_json.state_new();
    kb_event_init(&ev, names, arena);
    assert_int_equal(kb_dec_json.decode(&ctx, line, strlen(line), &ev), KB_OK);
    f = kb_event_canon(&ev, KB_F_SOURCE_IP);
    assert_non_null(f);
    assert_memory_equal(f->val, "10.0.0.2", 8); /* rank of the configured row wins */
    assert_null(kb_event_canon(&ev, KB_F_DESTINATION_IP));
    f = kb_event_canon(&ev, KB_F_USER_NAME);
    assert_non_null(f);
    assert_memory_equal(f->val, "bob", 3);
    kb_dec_json.state_free(ctx.state);
    kb_arena_free(arena);
    kb_names_free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configured_map),
        cmocka_unit_test_setup_teardown(test_real_files, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_zeek_http, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_windows_flat, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_ecs_and_aliases, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, dfx_teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
