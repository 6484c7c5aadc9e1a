/* Tests for the Windows event decoder: the 15,527 real events of
 * ../shared/data/windows-events (flat shape), constructed nested and
 * Winlogbeat records, and broken input. */
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

#define WIN_FILE KOBAN_SHARED_DATA "/windows-events/hayabusa_sample_evtx.jsonl"

static int setup(void **state)
{
    return dfx_setup_with(state, &kb_dec_winevt);
}

static int str_is(const char *got, const char *want)
{
    return got && want ? strcmp(got, want) == 0 : got == want;
}

/* Every line decodes; logsource counts computed independently with
 * python3 over the file (Channel and EventID, the same tables). */
static void test_all_events(void **state)
{
    dfx *fx = *state;
    static const struct {
        const char *service, *category;
        int want, got;
    } counts[] = {
        {"security", NULL, 11078, 0},
        {"application", NULL, 2362, 0},
        {"system", NULL, 868, 0},
        {"powershell", NULL, 669, 0},
        {"powershell-classic", NULL, 195, 0},
        {"sysmon", NULL, 180, 0},
        {"bitlocker", NULL, 32, 0},
        {"openssh", NULL, 20, 0},
        {"bits-client", NULL, 18, 0},
        {"printservice-operational", NULL, 16, 0},
        {"printservice-admin", NULL, 9, 0},
        {"dns-server", NULL, 7, 0},
        {"msexchange-management", NULL, 4, 0},
        {"windefend", NULL, 4, 0},
        {"capi2", NULL, 3, 0},
        {"firewall-as", NULL, 2, 0},
        {"dns-server-audit", NULL, 1, 0},
        {NULL, "process_creation", 1352, 0},
        {NULL, "ps_script", 482, 0},
        {NULL, "ps_module", 181, 0},
        {NULL, "ps_classic_script", 147, 0},
        {NULL, "ps_classic_provider_start", 39, 0},
        {NULL, "ps_classic_start", 6, 0},
        {NULL, "registry_set", 52, 0},
        {NULL, "registry_add", 19, 0},
        {NULL, "file_event", 23, 0},
        {NULL, "pipe_created", 18, 0},
        {NULL, "process_termination", 10, 0},
        {NULL, "image_load", 6, 0},
        {NULL, "process_access", 5, 0},
        {NULL, "network_connection", 4, 0},
        {NULL, "file_block_executable", 4, 0},
        {NULL, "wmi_event", 3, 0},
        {NULL, "file_delete", 2, 0},
        {NULL, "sysmon_status", 2, 0},
        {NULL, "dns_query", 1, 0},
        {NULL, "file_change", 1, 0},
    };
    size_t ncounts = sizeof counts / sizeof counts[0];
    int got[sizeof counts / sizeof counts[0]] = {0};
    int lines = 0, no_service = 0, no_category = 0, success = 0, failure = 0, md5 = 0, sha256 = 0;
    int image_pc = 0;
    FILE *f = fopen(WIN_FILE, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    assert_non_null(f);
    while ((len = getline(&line, &cap, f)) > 0) {
        const kb_event *ev = &fx->ev;
        const kb_field *o;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (lines < 200)
            assert_int_equal(kb_dec_winevt.sniff(line, (size_t)len), 90);
        if (dfx_decode(fx, line, (size_t)len) != KB_OK)
            fail_msg("line %d: %s", lines + 1, fx->ctx.err);
        lines++;
        assert_true(ev->ts != KB_TIME_NONE);
        assert_string_equal(ev->ls.product, "windows");
        assert_non_null(kb_event_canon(ev, KB_F_HOST_NAME));
        dfx_expect_canon(ev, KB_F_EVENT_KIND, -1, "event");
        no_service += !ev->ls.service;
        no_category += !ev->ls.category;
        for (size_t k = 0; k < ncounts; k++)
            if ((counts[k].service && str_is(ev->ls.service, counts[k].service)) ||
                (counts[k].category && str_is(ev->ls.category, counts[k].category)))
                got[k]++;
        if ((o = kb_event_canon(ev, KB_F_EVENT_OUTCOME))) {
            success += o->len == 7 && memcmp(o->val, "success", 7) == 0;
            failure += o->len == 7 && memcmp(o->val, "failure", 7) == 0;
        }
        md5 += kb_event_canon(ev, KB_F_FILE_HASH_MD5) != NULL;
        sha256 += kb_event_canon(ev, KB_F_FILE_HASH_SHA256) != NULL;
        if (str_is(ev->ls.category, "process_creation")) {
            /* Sigma's Image works on Sysmon 1 and Security 4688 alike. */
            assert_non_null(kb_event_get_named(ev, "Image"));
            assert_non_null(kb_event_canon(ev, KB_F_PROCESS_EXECUTABLE));
            assert_non_null(kb_event_canon(ev, KB_F_PROCESS_NAME));
            image_pc++;
        }
    }
    free(line);
    fclose(f);
    assert_int_equal(lines, 15527);
    for (size_t k = 0; k < ncounts; k++)
        if (got[k] != counts[k].want)
            fail_msg("%s/%s: %d events, expected %d", counts[k].service ? counts[k].service : "-",
                     counts[k].category ? counts[k].category : "-", got[k], counts[k].want);
    /* Setup, TerminalServices-Gateway, WinINet-Config, Key Management
     * Service: no Sigma service. */
    assert_int_equal(no_service, 59);
    assert_int_equal(no_category, 13170);
    assert_int_equal(success, 7252);
    assert_int_equal(failure, 3781);
    assert_int_equal(image_pc, 1352);
    /* 42 events carry Hashes: 32 with an MD5, all with a SHA256. */
    assert_int_equal(md5, 32);
    assert_int_equal(sha256, 42);
}

/* Reads `key: value` from the logsource block of a Sigma rule file into
 * out (empty when absent). Test code on trusted files: a line scan. */
static void rule_logsource(const char *path, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    int in_ls = 0;
    size_t klen = strlen(key);

    out[0] = '\0';
    assert_non_null(f);
    while (fgets(buf, sizeof buf, f)) {
        char *p = buf;
        if (!in_ls) {
            in_ls = strncmp(buf, "logsource:", 10) == 0;
            continue;
        }
        if (buf[0] != ' ' && buf[0] != '\t')
            break;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            size_t n;
            p += klen + 1;
            while (*p == ' ')
                p++;
            n = strcspn(p, " #\r\n");
            assert_true(n < cap);
            memcpy(out, p, n);
            out[n] = '\0';
        }
    }
    fclose(f);
}

/* SigmaHQ's regression events (EVTX converted to flat JSON): every event
 * decodes into the logsource of the rule it was recorded for. */
static void test_sigma_regression(void **state)
{
    dfx *fx = *state;
    FILE *m = fopen(KOBAN_SHARED_DATA "/sigma-regression/manifest.tsv", "r");
    char row[2048];
    int events = 0, rules = 0;

    assert_non_null(m);
    assert_non_null(fgets(row, sizeof row, m)); /* header */
    while (fgets(row, sizeof row, m)) {
        char *cols[6], *save = row, path[1024], cat[64], svc[64];
        FILE *f;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int nc = 0;

        while (nc < 6 && save) {
            cols[nc++] = save;
            save = strchr(save, '\t');
            if (save)
                *save++ = '\0';
        }
        assert_true(nc >= 4);
        snprintf(path, sizeof path, "%s/sigma/%s", KOBAN_SHARED_DATA, cols[1]);
        rule_logsource(path, "category", cat, sizeof cat);
        rule_logsource(path, "service", svc, sizeof svc);
        snprintf(path, sizeof path, "%s/sigma-regression/%s", KOBAN_SHARED_DATA, cols[2]);
        f = fopen(path, "r");
        assert_non_null(f);
        rules++;
        while ((len = getline(&line, &cap, f)) > 0) {
            const kb_logsource *ls = &fx->ev.ls;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (!len)
                continue;
            if (dfx_decode(fx, line, (size_t)len) != KB_OK)
                fail_msg("%s: %s", path, fx->ctx.err);
            events++;
            assert_string_equal(ls->product, "windows");
            if (svc[0])
                dfx_expect_str(ls->service, svc);
            if (strcmp(cat, "registry_event") == 0) {
                /* registry_event is the union of the registry categories. */
                assert_non_null(ls->category);
                assert_int_equal(strncmp(ls->category, "registry_", 9), 0);
            } else if (cat[0]) {
                if (!str_is(ls->category, cat))
                    fail_msg("%s: category %s, rule wants %s", path,
                             ls->category ? ls->category : "(none)", cat);
            }
        }
        free(line);
        fclose(f);
    }
    fclose(m);
    assert_int_equal(rules, 202);
    assert_int_equal(events, 238);
}

static void test_sysmon_process_creation(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, WIN_FILE, 6595), KB_OK);
    assert_true(ev->ts == INT64_C(1653467076890032500));
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2022-05-25T08:24:36.890032500Z");
    dfx_expect_str(ev->ls.service, "sysmon");
    dfx_expect_str(ev->ls.category, "process_creation");
    dfx_expect_canon(ev, KB_F_OBSERVER_PRODUCT, -1, "sysmon");
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "process");
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, "process-created");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "WIN-5823BM4EN8O.mahdihtm.local");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "SYSTEM");
    dfx_expect_canon(ev, KB_F_USER_DOMAIN, -1, "NT AUTHORITY");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "3816");
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1,
                     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_NAME, -1, "powershell.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_COMMAND_LINE, -1,
                     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, -1, "C:\\Windows\\System32\\services.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_PARENT_COMMAND_LINE, -1,
                     "C:\\Windows\\system32\\services.exe");
    dfx_expect_canon(ev, KB_F_FILE_HASH_MD5, -1, "b3ad5364cf04b6ab05616dd483aaf618");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA1, -1, "e5b0a0f4a59d6d5377332eece20f8f3df5cebe4e");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA256, -1,
                     "7375adedb82fd62cefc6b6fd20a704a164e056022f3b8c2e1b94f3a9b8361478");
    dfx_expect_canon(ev, KB_F_RULE_NAME, -1, "technique_id=T1086,technique_name=PowerShell");
    dfx_expect_canon(ev, KB_F_EVENT_OUTCOME, -1, NULL);
    dfx_expect_field(ev, "IntegrityLevel", -1, "System");
    dfx_expect_field(ev, "EventID", -1, "1");
    assert_int_equal(kb_event_get_named(ev, "EventID")->type, KB_V_INT);
}

static void test_security(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    /* 4688: new process in NewProcessName / hex NewProcessId. */
    assert_int_equal(dfx_decode_line(fx, WIN_FILE, 2622), KB_OK);
    assert_true(ev->ts == INT64_C(1474429262560546800));
    dfx_expect_str(ev->ls.service, "security");
    dfx_expect_str(ev->ls.category, "process_creation");
    dfx_expect_canon(ev, KB_F_OBSERVER_PRODUCT, -1, "windows");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "3744"); /* 0xea0 */
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1, "C:\\Windows\\duKhLYUX.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_NAME, -1, "duKhLYUX.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_COMMAND_LINE, -1, "C:\\Windows\\duKhLYUX.exe");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "IE10WIN7$");
    dfx_expect_canon(ev, KB_F_USER_DOMAIN, -1, "WORKGROUP");
    dfx_expect_canon(ev, KB_F_EVENT_OUTCOME, -1, "success");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "IE10Win7");
    dfx_expect_field(ev, "Image", -1, "C:\\Windows\\duKhLYUX.exe");
    dfx_expect_field(ev, "ProcessId", -1, "0x1e8");

    /* 4625: failed network logon. */
    assert_int_equal(dfx_decode_line(fx, WIN_FILE, 3023), KB_OK);
    assert_null(ev->ls.category);
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "authentication");
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, "logon-failed");
    dfx_expect_canon(ev, KB_F_EVENT_OUTCOME, -1, "failure");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "JcDfcZTc");
    dfx_expect_canon(ev, KB_F_USER_DOMAIN, -1, ".");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "192.168.198.149");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "50249");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, NULL);        /* "0x0" */
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1, NULL); /* "-" */
}

static void test_powershell(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decode_line(fx, WIN_FILE, 1), KB_OK);
    dfx_expect_str(ev->ls.service, "powershell");
    dfx_expect_str(ev->ls.category, "ps_script");
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, "script-block-logged");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "SEC511");
    dfx_expect_field(ev, "ScriptBlockId", -1, "020184e7-b8b1-4073-b6b7-dbf868048bfb");
}

/* evtx_dump (Rust) style: attributes under #attributes, named EventData. */
static void test_nested_evtx_dump(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;
    const char *j =
        "{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/"
        "event\"},\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Sysmon\","
        "\"Guid\":\"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}\"}},\"EventID\":1,\"Version\":5,"
        "\"Level\":4,\"Task\":1,\"Opcode\":0,\"Keywords\":\"0x8000000000000000\",\"TimeCreated\":"
        "{\"#attributes\":{\"SystemTime\":\"2019-03-18T16:57:37.223371Z\"}},\"EventRecordID\":3,"
        "\"Correlation\":null,\"Execution\":{\"#attributes\":{\"ProcessID\":1996,\"ThreadID\":2708}"
        "},\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Computer\":\"WIN-ABC\","
        "\"Security\":{\"#attributes\":{\"UserID\":\"S-1-5-18\"}}},\"EventData\":{\"RuleName\":"
        "\"\","
        "\"ProcessId\":4242,\"Image\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"CommandLine\":"
        "\"cmd.exe /c whoami\",\"User\":\"CORP\\\\alice\",\"Hashes\":\"MD5=AABB,SHA256=CCDD\","
        "\"ParentImage\":\"C:\\\\Windows\\\\explorer.exe\"}}}";

    assert_int_equal(kb_dec_winevt.sniff(j, strlen(j)), 90);
    assert_int_equal(dfx_decodez(fx, j), KB_OK);
    dfx_expect_str(ev->ls.service, "sysmon");
    dfx_expect_str(ev->ls.category, "process_creation");
    dfx_expect_field(ev, "EventID", -1, "1");
    dfx_expect_field(ev, "Channel", -1, "Microsoft-Windows-Sysmon/Operational");
    dfx_expect_field(ev, "Provider_Name", -1, "Microsoft-Windows-Sysmon");
    dfx_expect_field(ev, "Computer", -1, "WIN-ABC");
    dfx_expect_field(ev, "Security_UserID", -1, "S-1-5-18");
    dfx_expect_field(ev, "Execution_ProcessID", -1, "1996");
    dfx_expect_field(ev, "Image", -1, "C:\\Windows\\System32\\cmd.exe");
    dfx_expect_field(ev, "CommandLine", -1, "cmd.exe /c whoami");
    dfx_expect_field(ev, "Event.EventData.Image", -1, "C:\\Windows\\System32\\cmd.exe");
    dfx_expect_canon(ev, KB_F_TIMESTAMP, -1, "2019-03-18T16:57:37.223371Z");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "WIN-ABC");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "4242");
    dfx_expect_canon(ev, KB_F_PROCESS_NAME, -1, "cmd.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, -1, "C:\\Windows\\explorer.exe");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "alice");
    dfx_expect_canon(ev, KB_F_USER_DOMAIN, -1, "CORP");
    dfx_expect_canon(ev, KB_F_FILE_HASH_MD5, -1, "aabb");
    dfx_expect_canon(ev, KB_F_FILE_HASH_SHA256, -1, "ccdd");
    dfx_expect_canon(ev, KB_F_RULE_NAME, -1, NULL); /* empty RuleName */
}

/* xmltodict style: @attributes, EventID with #text, Data as a list. */
static void test_nested_xmltodict(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;
    const char *j =
        "{\"Event\":{\"System\":{\"Provider\":{\"@Name\":\"Microsoft-Windows-Security-Auditing\"},"
        "\"EventID\":{\"@Qualifiers\":\"\",\"#text\":\"4688\"},\"TimeCreated\":{\"@SystemTime\":"
        "\"2020-01-01 10:00:00.123456\"},\"Channel\":\"Security\",\"Computer\":\"DC1\","
        "\"Keywords\":\"0x8020000000000000\"},\"EventData\":{\"Data\":[{\"@Name\":"
        "\"NewProcessName\",\"#text\":\"C:\\\\x\\\\evil.exe\"},{\"@Name\":\"NewProcessId\","
        "\"#text\":\"0x10\"},{\"@Name\":\"SubjectUserName\",\"#text\":\"bob\"},{\"@Name\":"
        "\"CommandLine\"},{\"@Name\":\"ParentProcessName\",\"#text\":\"C:\\\\p.exe\"}]}}}";

    assert_int_equal(dfx_decodez(fx, j), KB_OK);
    dfx_expect_field(ev, "EventID", -1, "4688");
    assert_int_equal(kb_event_get_named(ev, "EventID")->type, KB_V_INT);
    dfx_expect_field(ev, "Provider_Name", -1, "Microsoft-Windows-Security-Auditing");
    dfx_expect_field(ev, "NewProcessName", -1, "C:\\x\\evil.exe");
    dfx_expect_field(ev, "SubjectUserName", -1, "bob");
    dfx_expect_field(ev, "Image", -1, "C:\\x\\evil.exe");
    dfx_expect_field(ev, "ParentImage", -1, "C:\\p.exe");
    assert_null(kb_event_get_named(ev, "CommandLine")); /* no #text */
    assert_true(ev->ts == INT64_C(1577872800123456000));
    dfx_expect_str(ev->ls.service, "security");
    dfx_expect_str(ev->ls.category, "process_creation");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "16");
    dfx_expect_canon(ev, KB_F_PROCESS_NAME, -1, "evil.exe");
    dfx_expect_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, -1, "C:\\p.exe");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "bob");
    dfx_expect_canon(ev, KB_F_EVENT_OUTCOME, -1, "success");
}

static void test_winlogbeat(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;
    const char *j =
        "{\"@timestamp\":\"2023-03-01T12:00:00.000Z\",\"event\":{\"code\":\"3\",\"provider\":"
        "\"Microsoft-Windows-Sysmon\"},\"host\":{\"name\":\"ws1.corp\"},\"winlog\":{\"event_id\":"
        "\"3\",\"channel\":\"Microsoft-Windows-Sysmon/Operational\",\"provider_name\":"
        "\"Microsoft-Windows-Sysmon\",\"computer_name\":\"WS1\",\"record_id\":\"123\","
        "\"event_data\":{\"Image\":\"C:\\\\Windows\\\\System32\\\\curl.exe\",\"SourceIp\":"
        "\"10.1.1.5\",\"SourcePort\":\"50000\",\"DestinationIp\":\"93.184.216.34\","
        "\"DestinationPort\":\"443\",\"Protocol\":\"tcp\",\"User\":\"CORP\\\\carol\","
        "\"ProcessId\":\"777\"},\"user\":{\"name\":\"SYSTEM\"}},\"message\":\"Network "
        "connection detected\",\"process\":{\"command_line\":\"curl https://example.com\"}}";

    assert_int_equal(kb_dec_winevt.sniff(j, strlen(j)), 90);
    assert_int_equal(dfx_decodez(fx, j), KB_OK);
    assert_true(ev->ts == INT64_C(1677672000000000000));
    dfx_expect_str(ev->ls.service, "sysmon");
    dfx_expect_str(ev->ls.category, "network_connection");
    dfx_expect_field(ev, "EventID", -1, "3");
    dfx_expect_field(ev, "Channel", -1, "Microsoft-Windows-Sysmon/Operational");
    dfx_expect_field(ev, "Computer", -1, "WS1");
    dfx_expect_field(ev, "Image", -1, "C:\\Windows\\System32\\curl.exe");
    dfx_expect_field(ev, "DestinationPort", -1, "443");
    dfx_expect_canon(ev, KB_F_HOST_NAME, -1, "WS1");
    dfx_expect_canon(ev, KB_F_SOURCE_IP, -1, "10.1.1.5");
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, "50000");
    dfx_expect_canon(ev, KB_F_DESTINATION_IP, -1, "93.184.216.34");
    dfx_expect_canon(ev, KB_F_DESTINATION_PORT, -1, "443");
    dfx_expect_canon(ev, KB_F_NETWORK_TRANSPORT, -1, "tcp");
    dfx_expect_canon(ev, KB_F_EVENT_CATEGORY, -1, "network");
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, "carol");
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, "777");
    dfx_expect_canon(ev, KB_F_PROCESS_NAME, -1, "curl.exe");
    dfx_expect_canon(ev, KB_F_MESSAGE, -1, "Network connection detected");
    /* Winlogbeat's own ECS field fills what event data lacks. */
    dfx_expect_canon(ev, KB_F_PROCESS_COMMAND_LINE, -1, "curl https://example.com");
}

static void test_bad_input(void **state)
{
    dfx *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dfx_decodez(fx, "{\"EventID\": 4688, \"Channel\": \"Secu"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, "\"EventID\""), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(dfx_decodez(fx, "{}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "no EventID: not a Windows event record");
    assert_int_equal(
        dfx_decodez(fx, "{\"EventID\": {\"x\": 1}, \"TimeCreated\": \"2020-01-01T00:00:00Z\"}"),
        KB_EPARSE);
    assert_int_equal(dfx_decodez(fx, "{\"EventID\": 1, \"Channel\": \"Security\"}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "missing or invalid TimeCreated");
    assert_int_equal(dfx_decodez(fx, "{\"EventID\": 1, \"TimeCreated\": \"soon\"}"), KB_EPARSE);

    /* A non-numeric EventID is kept but classifies nothing. */
    assert_int_equal(
        dfx_decodez(fx, "{\"EventID\": \"abc\", \"TimeCreated\": \"2020-01-01T00:00:00Z\", "
                        "\"Channel\": \"Microsoft-Windows-Sysmon/Operational\", "
                        "\"Image\": 5, \"ProcessId\": \"0xZZ\", \"User\": [\"a\"], "
                        "\"Hashes\": \"MD5=,=x,,SHA1\", \"SourcePort\": {\"p\": 1}}"),
        KB_OK);
    dfx_expect_str(ev->ls.service, "sysmon");
    assert_null(ev->ls.category);
    dfx_expect_canon(ev, KB_F_EVENT_ACTION, -1, NULL);
    dfx_expect_canon(ev, KB_F_PROCESS_EXECUTABLE, -1, NULL);
    dfx_expect_canon(ev, KB_F_PROCESS_PID, -1, NULL);
    dfx_expect_canon(ev, KB_F_USER_NAME, -1, NULL);
    dfx_expect_canon(ev, KB_F_FILE_HASH_MD5, -1, NULL);
    dfx_expect_canon(ev, KB_F_SOURCE_PORT, -1, NULL);

    /* Unknown channel: product only. */
    assert_int_equal(dfx_decodez(fx, "{\"EventID\": 7, \"TimeCreated\": \"2020-01-01T00:00:00Z\", "
                                     "\"Channel\": \"Setup\", \"Computer\": \"x\"}"),
                     KB_OK);
    dfx_expect_str(ev->ls.product, "windows");
    assert_null(ev->ls.service);
    assert_null(ev->ls.category);
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(kb_dec_winevt.sniff("{\"EventID\": 1}", 14), 90);
    assert_int_equal(kb_dec_winevt.sniff("{\"Event\": {\"System\": {}}}", 25), 90);
    assert_int_equal(kb_dec_winevt.sniff("{\"winlog\": {}}", 14), 90);
    assert_int_equal(kb_dec_winevt.sniff("{\"timestamp\":\"x\",\"event_type\":\"dns\"}", 36), 0);
    assert_int_equal(kb_dec_winevt.sniff("EventID", 7), 0);
    assert_int_equal(kb_dec_winevt.sniff("", 0), 0);
    assert_string_equal(kb_dec_winevt.name, "winevt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_events, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_sigma_regression, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_sysmon_process_creation, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_security, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_powershell, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_nested_evtx_dump, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_nested_xmltodict, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_winlogbeat, setup, dfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, dfx_teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
