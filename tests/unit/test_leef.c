/* Unit tests for the LEEF decoder (src/ingest/leef.c): the IBM guide's
 * examples, the vendor quirks, and every line of the LEEF samples under the
 * shared data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/kv.h"

#include "decoder-fixture.h"

#define LEEF_DIR KOBAN_SHARED_DATA "/logs/leef/"

#define REF_2016 INT64_C(1464739200000000000) /* 2016-06-01T00:00:00Z */

static dfx fx;

static int setup(void **state)
{
    (void)state;
    dfx_open(&fx, &kb_dec_leef, NULL, "test");
    fx.ctx.ref_time = REF_2016;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dfx_close(&fx);
    return 0;
}

static int decode(const char *line)
{
    return dfx_decodez(&fx, line);
}

#define CHECK(n, v) DFX_CHECK(&fx.ev, (n), (v))

static void test_ibm_examples(void **state)
{
    (void)state;
    /* LEEF 1.0, the guide's example */
    assert_int_equal(decode("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\t"
                            "dst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\t"
                            "usrName=joe.black"),
                     KB_OK);
    CHECK("leef.version", "1.0");
    CHECK("leef.vendor", "Microsoft");
    CHECK("leef.product", "MSExchange");
    CHECK("leef.product_version", "4.0 SP1");
    CHECK("leef.event_id", "15345");
    CHECK("leef.delimiter", NULL);
    CHECK("src", "192.0.2.0");
    CHECK("cat", "anomaly");
    CHECK("source.ip", "192.0.2.0");
    CHECK("destination.ip", "172.50.123.1");
    CHECK("source.port", "81");
    CHECK("destination.port", "21");
    CHECK("user.name", "joe.black");
    CHECK("event.severity", "5");
    CHECK("rule.id", "15345");
    CHECK("observer.product", "Microsoft MSExchange");
    CHECK("event.kind", "event");
    assert_true(fx.ev.ts == KB_TIME_NONE);

    /* LEEF 2.0 with '^' and with a hex delimiter */
    assert_int_equal(decode("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^"
                            "sev=5^srcPort=81^dstPort=21^devTime=Feb 12 2015 10:21:07"),
                     KB_OK);
    CHECK("leef.version", "2.0");
    CHECK("leef.delimiter", "^");
    CHECK("dst", "10.0.0.5");
    CHECK("destination.port", "21");
    dfx_expect_ts(&fx.ev, "2015-02-12T10:21:07.000000000Z");
    assert_int_equal(decode("LEEF:2.0|Lancope|StealthWatch|1.0|41|x7C|src=10.0.1.8|dst=10.0.0.5|"
                            "msg=a \\| b"),
                     KB_OK);
    CHECK("leef.delimiter", "x7C");
    CHECK("src", "10.0.1.8");
    CHECK("message", "a | b");
    assert_int_equal(decode("LEEF:2.0|V|P|1|7|0x09|a=1\tb=x\\=y\\\\z"), KB_OK);
    CHECK("a", "1");
    CHECK("b", "x=y\\z");
    assert_int_equal(decode("LEEF:2.0|V|P|1|7||a=1\tb=2"), KB_OK);
    CHECK("b", "2");

    /* behind a syslog header (the guide's QRadar example) */
    assert_int_equal(decode("<13>Jan 18 11:07:53 192.168.1.1 LEEF:1.0|QRadar|QRM|1.0|"
                            "NEW_PORT_DISCOVERD|src=172.5.6.67\tdst=172.50.123.1\tsev=5\t"
                            "cat=anomaly\tmsg=there are spaces in this message"),
                     KB_OK);
    CHECK("host.name", "192.168.1.1");
    CHECK("message", "there are spaces in this message");
    CHECK("rule.id", "NEW_PORT_DISCOVERD");
    dfx_expect_ts(&fx.ev, "2016-01-18T11:07:53.000000000Z");
}

static void test_panda(void **state)
{
    (void)state;
    assert_int_equal(decode("LEEF:1.0|Panda Security|paps|02.47.00.0000|registrym|sev=1\t"
                            "devTime=2019-05-09 22:03:58.692466\tdevTimeFormat=yyyy-MM-dd "
                            "HH:mm:ss.SSS\tusrName=SYSTEM\tdomain=NT AUTHORITY\tsrc=192.168.0.8\t"
                            "identSrc=192.168.0.8\tidentHostName=13_2595_43\tHostName=13_2595_43\t"
                            "Path=PROGRAM_FILES_COMMONX86|\\Quest\\Client\\CSEHost.exe\t"
                            "MWName=\tParams=\"C:\\Program Files\\chrome.exe\" --type\\=renderer"),
                     KB_OK);
    CHECK("user.name", "SYSTEM");
    CHECK("user.domain", "NT AUTHORITY");
    CHECK("host.name", "13_2595_43");
    CHECK("host.ip", "192.168.0.8");
    CHECK("Path", "PROGRAM_FILES_COMMONX86|\\Quest\\Client\\CSEHost.exe");
    CHECK("MWName", "");
    CHECK("Params", "\"C:\\Program Files\\chrome.exe\" --type=renderer");
    CHECK("event.severity", "1");
    CHECK("@timestamp", "2019-05-09 22:03:58.692466");
    dfx_expect_ts(&fx.ev, "2019-05-09T22:03:58.692466000Z");
}

static void test_quirks(void **state)
{
    (void)state;
    /* Trend Micro: 2.0 without a delimiter field, spaces where tabs belong */
    assert_int_equal(decode("LEEF:2.0|Trend Micro|Deep Security Agent|<DSA version>|4000030|"
                            "cat=Anti-Malware\tname=HEU_AEGIS_CRYPT\tdesc=HEU_AEGIS_CRYPT\t"
                            "sev=6 cn1=241 cn1Label=Host ID\tdvc=10.0.0.1\t"
                            "filePath=C:\\\\Windows\\\\System32\\\\virus.exe\tact=Terminate\t"
                            "msg=Realtime"),
                     KB_OK);
    CHECK("leef.delimiter", NULL);
    CHECK("sev", "6 cn1=241 cn1Label=Host ID");
    CHECK("event.severity", "6");
    CHECK("filePath", "C:\\Windows\\System32\\virus.exe");
    CHECK("file.path", "C:\\Windows\\System32\\virus.exe");
    CHECK("rule.name", "HEU_AEGIS_CRYPT");
    CHECK("rule.id", "4000030");
    CHECK("host.ip", "10.0.0.1");
    CHECK("event.action", "Terminate");
    assert_string_equal(fx.ev.ls.category, "antivirus");

    /* CyberArk PTA: '|' between some attributes, epoch-ms devTime */
    assert_int_equal(decode("LEEF:1.0|CyberArk|PTA|14.0|1|Cat=Suspected credentials theft|sev=8|"
                            "src=src1\tuserName=mike\tdst=192.168.0.1\tdevTime=1388577600000\t"
                            "suser=mike2"),
                     KB_OK);
    CHECK("Cat", "Suspected credentials theft");
    CHECK("sev", "8");
    CHECK("src", "src1");
    CHECK("user.name", "mike");
    CHECK("event.severity", "8");
    dfx_expect_ts(&fx.ev, "2014-01-01T12:00:00.000000000Z");

    /* no tabs at all: split like CEF */
    assert_int_equal(decode("LEEF:1.0|V|P|1|2|src=1.2.3.4 msg=hello world usrName=bob"), KB_OK);
    CHECK("src", "1.2.3.4");
    CHECK("message", "hello world");
    CHECK("user.name", "bob");

    /* web: url.domain */
    assert_int_equal(decode("LEEF:1.0|V|Web Proxy|1|2|url=http://yw.olx5x9ny.org.it/HvuauRH/x.htm"
                            "\tmethod=GET\tproto=TCP"),
                     KB_OK);
    CHECK("url.domain", "yw.olx5x9ny.org.it");
    CHECK("http.request.method", "GET");
    CHECK("network.transport", "tcp");
    assert_string_equal(fx.ev.ls.category, "proxy");
}

static void test_rejects(void **state)
{
    (void)state;
    assert_int_equal(decode("LEEF:3.0|V|P|1|2|a=b"), KB_EPARSE);
    assert_string_equal(fx.ctx.err, "LEEF version is neither 1.0 nor 2.0");
    assert_int_equal(decode("LEEF:2.0|V|P|1|2|xZZ|a=b"), KB_EPARSE);
    assert_string_equal(fx.ctx.err,
                        "LEEF 2.0 delimiter is neither a character nor a hex code (xHH)");
    assert_int_equal(decode("LEEF:2.0|V|P|1|2|x00|a=b"), KB_EPARSE);
    assert_int_equal(decode("LEEF:1.0|V|P"), KB_EPARSE);
    assert_string_equal(fx.ctx.err, "LEEF header has fewer than 5 '|'-separated fields");
    assert_int_equal(decode("LEEF:1.0|V|P|\\"), KB_EPARSE);
    assert_int_equal(decode("CEF:0|a|b|c|d|e|5|"), KB_EPARSE);
    assert_string_equal(fx.ctx.err, "no 'LEEF:' marker in the line");
    assert_int_equal(decode(" \r\n"), KB_ESKIP);

    /* hostile but decodable */
    static const char nul[] = "LEEF:1.0|V\0|P|1|2|a=\0\tb\0=c";
    assert_int_equal(dfx_decode(&fx, nul, sizeof nul - 1), KB_OK);
    assert_int_equal(kb_event_get_named(&fx.ev, "a")->len, 1);
    static char big[70000];
    memcpy(big, "LEEF:1.0|V|P|1|2|", 17);
    memset(big + 17, 'k', 60000);
    memcpy(big + 60017, "=v\tx=y", 7);
    assert_int_equal(decode(big), KB_OK);
    CHECK("x", "y");
    size_t o = 17;
    for (int i = 0; o + 16 < sizeof big; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "k%d=%d\t", i, i);
    assert_int_equal(dfx_decode(&fx, big, o), KB_OK);
    assert_true(fx.ev.nfields <= KB_EVENT_MAX_FIELDS);
    CHECK("event.kind", "event");
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(kb_dec_leef.sniff("LEEF:1.0|a|b|c|d|", 17), 95);
    assert_int_equal(kb_dec_leef.sniff("<13>Jan 18 11:07:53 h LEEF:2.0|a|b|c|d|^|", 40), 95);
    assert_int_equal(kb_dec_leef.sniff("CEF:0|a|b|c|d|e|5|", 18), 0);
    assert_int_equal(kb_dec_leef.sniff("xLEEF:1.0|", 10), 0);
    assert_string_equal(kb_dec_leef.name, "leef");
}

static void test_sample_files(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int ok, rej, skip;
    } files[] = {
        {"metron-trendmicro-deepsecurity.log", 4, 0, 0},
        {"tenzir-leef1.log", 5, 0, 0},
        {"wazuh-panda_paps.log", 8, 0, 0},
    };
    /* every line as it stands in the file; every record decoded carries
     * leef.vendor, every reject a reason */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        dfx_expect_run(&fx, LEEF_DIR, files[i].file, DFX_AS_IS, "leef.vendor",
                       (dfx_counts){.ok = files[i].ok, .skip = files[i].skip, .rej = files[i].rej});
    /* tenzir's hand-made edge cases */
    assert_int_equal(decode("LEEF:1.0|Tenzir|Tenzir|4.12|42|just some random junk"), KB_OK);
    CHECK("leef.event_id", "42");
    assert_int_equal(fx.ev.nfields, 7u); /* 5 header fields, observer, event.kind */
    assert_int_equal(decode("LEEF:1.0|Tenzir|Tenzir|4.12|42|key="), KB_OK);
    CHECK("key", "");
    assert_int_equal(decode("LEEF:1.0|Tenzir|Tenzir|4.12|42|key=trailing tab next"), KB_OK);
    CHECK("key", "trailing tab next");
    assert_int_equal(decode("LEEF:1.0|Tenzir|Tenzir|4.12|42|key=yikes\t\n"), KB_OK);
    CHECK("key", "yikes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ibm_examples), cmocka_unit_test(test_panda),
        cmocka_unit_test(test_quirks),       cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_sniff),        cmocka_unit_test(test_sample_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
