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

#define DATA KOBAN_SHARED_DATA "/"

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
    fx->ctx.state = kb_dec_json.state_new();
    assert_non_null(fx->ctx.state);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    kb_dec_json.state_free(fx->ctx.state);
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
    return kb_dec_json.decode(&fx->ctx, line, len, &fx->ev);
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

/* Every line of real JSON logs decodes; counts of events with a time and
 * a source address. */
static void test_real_files(void **state)
{
    fixture *fx = *state;
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
            if (dec(fx, line, (size_t)len) != KB_OK)
                fail_msg("%s:%d: %s", files[k].file, lines + 1, fx->ctx.err);
            lines++;
            with_ts += fx->ev.ts != KB_TIME_NONE;
            with_src += kb_event_canon(&fx->ev, KB_F_SOURCE_IP) != NULL;
            assert_str(fx->ev.ls.product, NULL);
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
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, DATA "logs/zeek-json/zeekdocs-http.json.log", 1), KB_OK);
    assert_true(ev->ts == INT64_C(1591367999512593000));
    assert_canon(ev, KB_F_TIMESTAMP, "1591367999.512593");
    assert_canon(ev, KB_F_SOURCE_IP, "192.168.4.76");
    assert_canon(ev, KB_F_SOURCE_PORT, "46378");
    assert_canon(ev, KB_F_DESTINATION_IP, "31.3.245.133");
    assert_canon(ev, KB_F_DESTINATION_PORT, "80");
    assert_canon(ev, KB_F_HTTP_REQUEST_METHOD, "GET");
    assert_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, "200");
    assert_canon(ev, KB_F_USER_AGENT_ORIGINAL, "curl/7.47.0");
    assert_canon(ev, KB_F_URL_FULL, "/");
    assert_raw(ev, "status_msg", "OK");
    assert_raw(ev, "resp_fuids", "[\"FEEsZS1w0Z0VJIb5x4\"]");
}

static void test_windows_flat(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    /* Sysmon 1 read generically: ECS-less names through the alias table. */
    assert_int_equal(dec_line(fx, DATA "windows-events/hayabusa_sample_evtx.jsonl", 6595), KB_OK);
    assert_true(ev->ts == INT64_C(1653467076890032500));
    assert_canon(ev, KB_F_HOST_NAME, "WIN-5823BM4EN8O.mahdihtm.local");
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE,
                 "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    assert_canon(ev, KB_F_PROCESS_PID, "3816");
    assert_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, "C:\\Windows\\System32\\services.exe");
    assert_canon(ev, KB_F_USER_NAME, "NT AUTHORITY\\SYSTEM");
    assert_raw(ev, "EventID", "1");
}

static void test_ecs_and_aliases(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    /* ECS names map to themselves and beat aliases wherever they are. */
    assert_int_equal(decs(fx, "{\"time\":\"2001-01-01T00:00:00Z\",\"src_ip\":\"9.9.9.9\","
                              "\"@timestamp\":\"2024-05-01T10:00:00.5Z\",\"source\":{\"ip\":"
                              "\"1.1.1.1\",\"port\":8080},\"destination\":{\"ip\":\"2.2.2.2\"},"
                              "\"user\":{\"name\":\"bob\",\"domain\":\"CORP\"},\"event\":"
                              "{\"action\":\"login\",\"outcome\":\"success\"},\"message\":\"hi\","
                              "\"file\":{\"hash\":{\"sha256\":\"abc\"}}}"),
                     KB_OK);
    assert_true(ev->ts == INT64_C(1714557600500000000));
    assert_canon(ev, KB_F_TIMESTAMP, "2024-05-01T10:00:00.5Z");
    assert_canon(ev, KB_F_SOURCE_IP, "1.1.1.1");
    assert_canon(ev, KB_F_SOURCE_PORT, "8080");
    assert_canon(ev, KB_F_DESTINATION_IP, "2.2.2.2");
    assert_canon(ev, KB_F_USER_NAME, "bob");
    assert_canon(ev, KB_F_USER_DOMAIN, "CORP");
    assert_canon(ev, KB_F_EVENT_ACTION, "login");
    assert_canon(ev, KB_F_EVENT_OUTCOME, "success");
    assert_canon(ev, KB_F_MESSAGE, "hi");
    assert_canon(ev, KB_F_FILE_HASH_SHA256, "abc");

    /* Table order decides among aliases: timestamp before time; src_ip
     * before src. */
    assert_int_equal(decs(fx, "{\"time\":\"2001-01-01T00:00:00Z\",\"src\":\"5.5.5.5\","
                              "\"timestamp\":\"2002-02-02T00:00:00Z\",\"src_ip\":\"6.6.6.6\","
                              "\"hostname\":\"h1\",\"username\":\"u1\",\"msg\":\"m\",\"pid\":12,"
                              "\"cmdline\":\"a b\",\"image\":\"/bin/a\",\"domain\":\"x.example\","
                              "\"query\":\"q.example\",\"md5\":\"00ff\",\"sha1\":\"11\","
                              "\"url\":\"http://x.example/\",\"dst_ip\":\"7.7.7.7\",\"dst_port\":"
                              "\"22\",\"proto\":\"tcp\",\"rule_id\":5,\"signature\":\"sig\"}"),
                     KB_OK);
    assert_canon(ev, KB_F_TIMESTAMP, "2002-02-02T00:00:00Z");
    assert_canon(ev, KB_F_SOURCE_IP, "6.6.6.6");
    assert_canon(ev, KB_F_HOST_NAME, "h1");
    assert_canon(ev, KB_F_USER_NAME, "u1");
    assert_canon(ev, KB_F_MESSAGE, "m");
    assert_canon(ev, KB_F_PROCESS_PID, "12");
    assert_canon(ev, KB_F_PROCESS_COMMAND_LINE, "a b");
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE, "/bin/a");
    assert_canon(ev, KB_F_URL_DOMAIN, "x.example");
    assert_canon(ev, KB_F_URL_FULL, "http://x.example/");
    assert_canon(ev, KB_F_DNS_QUESTION_NAME, "q.example");
    assert_canon(ev, KB_F_FILE_HASH_MD5, "00ff");
    assert_canon(ev, KB_F_FILE_HASH_SHA1, "11");
    assert_canon(ev, KB_F_DESTINATION_IP, "7.7.7.7");
    assert_canon(ev, KB_F_DESTINATION_PORT, "22");
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, "tcp");
    assert_canon(ev, KB_F_RULE_ID, "5");
    assert_canon(ev, KB_F_RULE_NAME, "sig");

    /* Epoch times: seconds with fraction, milliseconds, strings of them. */
    assert_int_equal(decs(fx, "{\"ts\":1320279554.4963}"), KB_OK);
    assert_true(ev->ts == INT64_C(1320279554496300000));
    assert_int_equal(decs(fx, "{\"timestamp\":1700000000123}"), KB_OK);
    assert_true(ev->ts == INT64_C(1700000000123000000));
    assert_int_equal(decs(fx, "{\"date\":\"1700000000\"}"), KB_OK);
    assert_true(ev->ts == INT64_C(1700000000000000000));
    /* No time at all is fine for generic JSON. */
    assert_int_equal(decs(fx, "{\"a\":1}"), KB_OK);
    assert_true(ev->ts == KB_TIME_NONE);
    assert_canon(ev, KB_F_TIMESTAMP, NULL);
}

static void test_bad_input(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(decs(fx, "{\"a\": [1, 2"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, "[{\"a\": 1}]"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, "42"), KB_EPARSE);
    assert_int_equal(decs(fx, "{} trailing"), KB_EPARSE);
    assert_int_equal(decs(fx, "{\"a\":\"\xff\"}"), KB_EPARSE);

    /* Wrong types in known names are ignored; a later good alias wins. */
    assert_int_equal(decs(fx, "{\"src_port\":{\"a\":1},\"sport\":\"x\",\"spt\":\"99\",\"pid\":"
                              "\"abc\",\"timestamp\":\"never\",\"time\":true,\"ts\":\"2020-01-01\","
                              "\"host\":[\"a\",\"b\"],\"url\":null,\"status\":70000.5,"
                              "\"source\":{\"ip\":{\"v\":4}}}"),
                     KB_OK);
    assert_canon(ev, KB_F_SOURCE_PORT, "99");
    assert_canon(ev, KB_F_PROCESS_PID, NULL);
    assert_canon(ev, KB_F_TIMESTAMP, "2020-01-01");
    assert_canon(ev, KB_F_HOST_NAME, NULL);
    assert_canon(ev, KB_F_URL_FULL, NULL);
    assert_canon(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, NULL);
    assert_canon(ev, KB_F_SOURCE_IP, NULL);
    assert_raw(ev, "source.ip.v", "4");
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
        cmocka_unit_test_setup_teardown(test_real_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeek_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_windows_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecs_and_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
