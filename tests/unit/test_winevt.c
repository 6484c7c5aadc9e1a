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

#define WIN_FILE KOBAN_SHARED_DATA "/windows-events/hayabusa_sample_evtx.jsonl"

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
    return kb_dec_winevt.decode(&fx->ctx, line, len, &fx->ev);
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

static int str_is(const char *got, const char *want)
{
    return got && want ? strcmp(got, want) == 0 : got == want;
}

/* Every line decodes; logsource counts computed independently with
 * python3 over the file (Channel and EventID, the same tables). */
static void test_all_events(void **state)
{
    fixture *fx = *state;
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
        if (dec(fx, line, (size_t)len) != KB_OK)
            fail_msg("line %d: %s", lines + 1, fx->ctx.err);
        lines++;
        assert_true(ev->ts != KB_TIME_NONE);
        assert_string_equal(ev->ls.product, "windows");
        assert_non_null(kb_event_canon(ev, KB_F_HOST_NAME));
        assert_canon(ev, KB_F_EVENT_KIND, "event");
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
    fixture *fx = *state;
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
            if (dec(fx, line, (size_t)len) != KB_OK)
                fail_msg("%s: %s", path, fx->ctx.err);
            events++;
            assert_string_equal(ls->product, "windows");
            if (svc[0])
                assert_str(ls->service, svc);
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
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, WIN_FILE, 6595), KB_OK);
    assert_true(ev->ts == INT64_C(1653467076890032500));
    assert_canon(ev, KB_F_TIMESTAMP, "2022-05-25T08:24:36.890032500Z");
    assert_str(ev->ls.service, "sysmon");
    assert_str(ev->ls.category, "process_creation");
    assert_canon(ev, KB_F_OBSERVER_PRODUCT, "sysmon");
    assert_canon(ev, KB_F_EVENT_CATEGORY, "process");
    assert_canon(ev, KB_F_EVENT_ACTION, "process-created");
    assert_canon(ev, KB_F_HOST_NAME, "WIN-5823BM4EN8O.mahdihtm.local");
    assert_canon(ev, KB_F_USER_NAME, "SYSTEM");
    assert_canon(ev, KB_F_USER_DOMAIN, "NT AUTHORITY");
    assert_canon(ev, KB_F_PROCESS_PID, "3816");
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE,
                 "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    assert_canon(ev, KB_F_PROCESS_NAME, "powershell.exe");
    assert_canon(ev, KB_F_PROCESS_COMMAND_LINE,
                 "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    assert_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, "C:\\Windows\\System32\\services.exe");
    assert_canon(ev, KB_F_PROCESS_PARENT_COMMAND_LINE, "C:\\Windows\\system32\\services.exe");
    assert_canon(ev, KB_F_FILE_HASH_MD5, "b3ad5364cf04b6ab05616dd483aaf618");
    assert_canon(ev, KB_F_FILE_HASH_SHA1, "e5b0a0f4a59d6d5377332eece20f8f3df5cebe4e");
    assert_canon(ev, KB_F_FILE_HASH_SHA256,
                 "7375adedb82fd62cefc6b6fd20a704a164e056022f3b8c2e1b94f3a9b8361478");
    assert_canon(ev, KB_F_RULE_NAME, "technique_id=T1086,technique_name=PowerShell");
    assert_canon(ev, KB_F_EVENT_OUTCOME, NULL);
    assert_raw(ev, "IntegrityLevel", "System");
    assert_raw(ev, "EventID", "1");
    assert_int_equal(kb_event_get_named(ev, "EventID")->type, KB_V_INT);
}

static void test_security(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    /* 4688: new process in NewProcessName / hex NewProcessId. */
    assert_int_equal(dec_line(fx, WIN_FILE, 2622), KB_OK);
    assert_true(ev->ts == INT64_C(1474429262560546800));
    assert_str(ev->ls.service, "security");
    assert_str(ev->ls.category, "process_creation");
    assert_canon(ev, KB_F_OBSERVER_PRODUCT, "windows");
    assert_canon(ev, KB_F_PROCESS_PID, "3744"); /* 0xea0 */
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE, "C:\\Windows\\duKhLYUX.exe");
    assert_canon(ev, KB_F_PROCESS_NAME, "duKhLYUX.exe");
    assert_canon(ev, KB_F_PROCESS_COMMAND_LINE, "C:\\Windows\\duKhLYUX.exe");
    assert_canon(ev, KB_F_USER_NAME, "IE10WIN7$");
    assert_canon(ev, KB_F_USER_DOMAIN, "WORKGROUP");
    assert_canon(ev, KB_F_EVENT_OUTCOME, "success");
    assert_canon(ev, KB_F_HOST_NAME, "IE10Win7");
    assert_raw(ev, "Image", "C:\\Windows\\duKhLYUX.exe");
    assert_raw(ev, "ProcessId", "0x1e8");

    /* 4625: failed network logon. */
    assert_int_equal(dec_line(fx, WIN_FILE, 3023), KB_OK);
    assert_null(ev->ls.category);
    assert_canon(ev, KB_F_EVENT_CATEGORY, "authentication");
    assert_canon(ev, KB_F_EVENT_ACTION, "logon-failed");
    assert_canon(ev, KB_F_EVENT_OUTCOME, "failure");
    assert_canon(ev, KB_F_USER_NAME, "JcDfcZTc");
    assert_canon(ev, KB_F_USER_DOMAIN, ".");
    assert_canon(ev, KB_F_SOURCE_IP, "192.168.198.149");
    assert_canon(ev, KB_F_SOURCE_PORT, "50249");
    assert_canon(ev, KB_F_PROCESS_PID, NULL);        /* "0x0" */
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE, NULL); /* "-" */
}

static void test_powershell(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(dec_line(fx, WIN_FILE, 1), KB_OK);
    assert_str(ev->ls.service, "powershell");
    assert_str(ev->ls.category, "ps_script");
    assert_canon(ev, KB_F_EVENT_ACTION, "script-block-logged");
    assert_canon(ev, KB_F_HOST_NAME, "SEC511");
    assert_raw(ev, "ScriptBlockId", "020184e7-b8b1-4073-b6b7-dbf868048bfb");
}

/* evtx_dump (Rust) style: attributes under #attributes, named EventData. */
static void test_nested_evtx_dump(void **state)
{
    fixture *fx = *state;
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
    assert_int_equal(decs(fx, j), KB_OK);
    assert_str(ev->ls.service, "sysmon");
    assert_str(ev->ls.category, "process_creation");
    assert_raw(ev, "EventID", "1");
    assert_raw(ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
    assert_raw(ev, "Provider_Name", "Microsoft-Windows-Sysmon");
    assert_raw(ev, "Computer", "WIN-ABC");
    assert_raw(ev, "Security_UserID", "S-1-5-18");
    assert_raw(ev, "Execution_ProcessID", "1996");
    assert_raw(ev, "Image", "C:\\Windows\\System32\\cmd.exe");
    assert_raw(ev, "CommandLine", "cmd.exe /c whoami");
    assert_raw(ev, "Event.EventData.Image", "C:\\Windows\\System32\\cmd.exe");
    assert_canon(ev, KB_F_TIMESTAMP, "2019-03-18T16:57:37.223371Z");
    assert_canon(ev, KB_F_HOST_NAME, "WIN-ABC");
    assert_canon(ev, KB_F_PROCESS_PID, "4242");
    assert_canon(ev, KB_F_PROCESS_NAME, "cmd.exe");
    assert_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, "C:\\Windows\\explorer.exe");
    assert_canon(ev, KB_F_USER_NAME, "alice");
    assert_canon(ev, KB_F_USER_DOMAIN, "CORP");
    assert_canon(ev, KB_F_FILE_HASH_MD5, "aabb");
    assert_canon(ev, KB_F_FILE_HASH_SHA256, "ccdd");
    assert_canon(ev, KB_F_RULE_NAME, NULL); /* empty RuleName */
}

/* xmltodict style: @attributes, EventID with #text, Data as a list. */
static void test_nested_xmltodict(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;
    const char *j =
        "{\"Event\":{\"System\":{\"Provider\":{\"@Name\":\"Microsoft-Windows-Security-Auditing\"},"
        "\"EventID\":{\"@Qualifiers\":\"\",\"#text\":\"4688\"},\"TimeCreated\":{\"@SystemTime\":"
        "\"2020-01-01 10:00:00.123456\"},\"Channel\":\"Security\",\"Computer\":\"DC1\","
        "\"Keywords\":\"0x8020000000000000\"},\"EventData\":{\"Data\":[{\"@Name\":"
        "\"NewProcessName\",\"#text\":\"C:\\\\x\\\\evil.exe\"},{\"@Name\":\"NewProcessId\","
        "\"#text\":\"0x10\"},{\"@Name\":\"SubjectUserName\",\"#text\":\"bob\"},{\"@Name\":"
        "\"CommandLine\"},{\"@Name\":\"ParentProcessName\",\"#text\":\"C:\\\\p.exe\"}]}}}";

    assert_int_equal(decs(fx, j), KB_OK);
    assert_raw(ev, "EventID", "4688");
    assert_int_equal(kb_event_get_named(ev, "EventID")->type, KB_V_INT);
    assert_raw(ev, "Provider_Name", "Microsoft-Windows-Security-Auditing");
    assert_raw(ev, "NewProcessName", "C:\\x\\evil.exe");
    assert_raw(ev, "SubjectUserName", "bob");
    assert_raw(ev, "Image", "C:\\x\\evil.exe");
    assert_raw(ev, "ParentImage", "C:\\p.exe");
    assert_null(kb_event_get_named(ev, "CommandLine")); /* no #text */
    assert_true(ev->ts == INT64_C(1577872800123456000));
    assert_str(ev->ls.service, "security");
    assert_str(ev->ls.category, "process_creation");
    assert_canon(ev, KB_F_PROCESS_PID, "16");
    assert_canon(ev, KB_F_PROCESS_NAME, "evil.exe");
    assert_canon(ev, KB_F_PROCESS_PARENT_EXECUTABLE, "C:\\p.exe");
    assert_canon(ev, KB_F_USER_NAME, "bob");
    assert_canon(ev, KB_F_EVENT_OUTCOME, "success");
}

static void test_winlogbeat(void **state)
{
    fixture *fx = *state;
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
    assert_int_equal(decs(fx, j), KB_OK);
    assert_true(ev->ts == INT64_C(1677672000000000000));
    assert_str(ev->ls.service, "sysmon");
    assert_str(ev->ls.category, "network_connection");
    assert_raw(ev, "EventID", "3");
    assert_raw(ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
    assert_raw(ev, "Computer", "WS1");
    assert_raw(ev, "Image", "C:\\Windows\\System32\\curl.exe");
    assert_raw(ev, "DestinationPort", "443");
    assert_canon(ev, KB_F_HOST_NAME, "WS1");
    assert_canon(ev, KB_F_SOURCE_IP, "10.1.1.5");
    assert_canon(ev, KB_F_SOURCE_PORT, "50000");
    assert_canon(ev, KB_F_DESTINATION_IP, "93.184.216.34");
    assert_canon(ev, KB_F_DESTINATION_PORT, "443");
    assert_canon(ev, KB_F_NETWORK_TRANSPORT, "tcp");
    assert_canon(ev, KB_F_EVENT_CATEGORY, "network");
    assert_canon(ev, KB_F_USER_NAME, "carol");
    assert_canon(ev, KB_F_PROCESS_PID, "777");
    assert_canon(ev, KB_F_PROCESS_NAME, "curl.exe");
    assert_canon(ev, KB_F_MESSAGE, "Network connection detected");
    /* Winlogbeat's own ECS field fills what event data lacks. */
    assert_canon(ev, KB_F_PROCESS_COMMAND_LINE, "curl https://example.com");
}

static void test_bad_input(void **state)
{
    fixture *fx = *state;
    kb_event *ev = &fx->ev;

    assert_int_equal(decs(fx, "{\"EventID\": 4688, \"Channel\": \"Secu"), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, "\"EventID\""), KB_EPARSE);
    assert_non_null(fx->ctx.err);
    assert_int_equal(decs(fx, "{}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "no EventID: not a Windows event record");
    assert_int_equal(
        decs(fx, "{\"EventID\": {\"x\": 1}, \"TimeCreated\": \"2020-01-01T00:00:00Z\"}"),
        KB_EPARSE);
    assert_int_equal(decs(fx, "{\"EventID\": 1, \"Channel\": \"Security\"}"), KB_EPARSE);
    assert_string_equal(fx->ctx.err, "missing or invalid TimeCreated");
    assert_int_equal(decs(fx, "{\"EventID\": 1, \"TimeCreated\": \"soon\"}"), KB_EPARSE);

    /* A non-numeric EventID is kept but classifies nothing. */
    assert_int_equal(decs(fx, "{\"EventID\": \"abc\", \"TimeCreated\": \"2020-01-01T00:00:00Z\", "
                              "\"Channel\": \"Microsoft-Windows-Sysmon/Operational\", "
                              "\"Image\": 5, \"ProcessId\": \"0xZZ\", \"User\": [\"a\"], "
                              "\"Hashes\": \"MD5=,=x,,SHA1\", \"SourcePort\": {\"p\": 1}}"),
                     KB_OK);
    assert_str(ev->ls.service, "sysmon");
    assert_null(ev->ls.category);
    assert_canon(ev, KB_F_EVENT_ACTION, NULL);
    assert_canon(ev, KB_F_PROCESS_EXECUTABLE, NULL);
    assert_canon(ev, KB_F_PROCESS_PID, NULL);
    assert_canon(ev, KB_F_USER_NAME, NULL);
    assert_canon(ev, KB_F_FILE_HASH_MD5, NULL);
    assert_canon(ev, KB_F_SOURCE_PORT, NULL);

    /* Unknown channel: product only. */
    assert_int_equal(decs(fx, "{\"EventID\": 7, \"TimeCreated\": \"2020-01-01T00:00:00Z\", "
                              "\"Channel\": \"Setup\", \"Computer\": \"x\"}"),
                     KB_OK);
    assert_str(ev->ls.product, "windows");
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
        cmocka_unit_test_setup_teardown(test_all_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigma_regression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysmon_process_creation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security, setup, teardown),
        cmocka_unit_test_setup_teardown(test_powershell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_evtx_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_xmltodict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_winlogbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
