/* Unit tests for the CEF decoder (src/ingest/cef.c) and the key=value
 * helpers it shares with LEEF (src/ingest/kv.c): the ArcSight guide's
 * examples, Logstash's codec edge cases, and every line of the CEF samples
 * under the shared data. */
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

#define CEF_DIR KOBAN_SHARED_DATA "/logs/cef/"

/* 2016-06-01T00:00:00Z: the reference for years the record leaves out. */
#define REF_2016 INT64_C(1464739200000000000)

static dfx fx;

static int setup(void **state)
{
    (void)state;
    dfx_open(&fx, &kb_dec_cef, NULL, "test");
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

static void test_arcsight_example(void **state)
{
    (void)state;
    assert_int_equal(decode("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|"
                            "src=10.0.0.1 dst=2.1.2.2 spt=1232"),
                     KB_OK);
    CHECK("cef.version", "0");
    CHECK("cef.device_vendor", "Security");
    CHECK("cef.device_product", "threatmanager");
    CHECK("cef.device_version", "1.0");
    CHECK("cef.signature_id", "100");
    CHECK("cef.name", "worm successfully stopped");
    CHECK("cef.severity", "10");
    CHECK("src", "10.0.0.1");
    CHECK("dst", "2.1.2.2");
    CHECK("spt", "1232");
    CHECK("source.ip", "10.0.0.1");
    CHECK("destination.ip", "2.1.2.2");
    CHECK("source.port", "1232");
    CHECK("destination.port", NULL);
    CHECK("rule.id", "100");
    CHECK("rule.name", "worm successfully stopped");
    CHECK("event.severity", "10");
    CHECK("event.kind", "event");
    CHECK("observer.product", "Security threatmanager");
    assert_int_equal(kb_event_canon(&fx.ev, KB_F_EVENT_SEVERITY)->type, KB_V_INT);
    assert_true(fx.ev.ts == KB_TIME_NONE);
    assert_null(fx.ev.ls.product);
    assert_null(fx.ev.ls.category);

    /* The guide's second example: the extension with escapes. */
    assert_int_equal(decode("CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|"
                            "src=10.0.0.1 act=blocked a \\= dst=1.1.1.1"),
                     KB_OK);
    CHECK("cef.name", "detected a | in message");
    CHECK("act", "blocked a =");
    CHECK("event.action", "blocked a =");
    CHECK("dst", "1.1.1.1");
    assert_int_equal(decode("CEF:0|security|threatmanager|1.0|100|detected a \\\\ in packet|10|"
                            "src=10.0.0.1 act=blocked a \\\\ dst=1.1.1.1"),
                     KB_OK);
    CHECK("cef.name", "detected a \\ in packet");
    CHECK("act", "blocked a \\");
}

/* Logstash codec spec expectations (logstash-codec-cef-spec-edgecases). */
static void test_logstash_header_escapes(void **state)
{
    (void)state;
    assert_int_equal(decode("CEF:0|secu\\\\rity|threat\\\\manager|1.\\\\0|10\\\\0|"
                            "tro\\\\jan successfully stopped|\\\\10|"),
                     KB_OK);
    CHECK("cef.device_vendor", "secu\\rity");
    CHECK("cef.device_product", "threat\\manager");
    CHECK("cef.device_version", "1.\\0");
    CHECK("cef.signature_id", "10\\0");
    CHECK("cef.name", "tro\\jan successfully stopped");
    CHECK("cef.severity", "\\10");
    CHECK("event.severity", NULL);

    assert_int_equal(decode("CEF:0|security\\\\\\||threatmanager\\\\|1.0|100|"
                            "trojan successfully stopped|10|"),
                     KB_OK);
    CHECK("cef.device_vendor", "security\\|");
    CHECK("cef.device_product", "threatmanager\\");

    assert_int_equal(decode("CEF:0|secu\\|rity|threatmanager\\||1.\\|0|10\\|0|"
                            "tro\\|jan successfully stopped|\\|10|"),
                     KB_OK);
    CHECK("cef.device_vendor", "secu|rity");
    CHECK("cef.device_product", "threatmanager|");
    CHECK("cef.device_version", "1.|0");
    CHECK("cef.signature_id", "10|0");
    CHECK("cef.name", "tro|jan successfully stopped");
    CHECK("cef.severity", "|10");

    assert_int_equal(decode("CEF:0|security|threatmanager|1.0|100|double backslash\\\\\\\\|10|"
                            "src=10.0.0.192"),
                     KB_OK);
    CHECK("cef.name", "double backslash\\\\");
    CHECK("cef.severity", "10");

    assert_int_equal(decode("CEF:0|security|threatmanager=equal|1.0|100|x|10|"), KB_OK);
    CHECK("cef.device_product", "threatmanager=equal");

    assert_int_equal(decode("CEF:0|||1.0|100|trojan successfully stopped|10|src=10.0.0.192"),
                     KB_OK);
    CHECK("cef.device_vendor", "");
    CHECK("cef.device_product", "");
    CHECK("observer.product", NULL);
}

static void test_logstash_extension(void **state)
{
    (void)state;
    const char *h = "CEF:0|security|threatmanager|1.0|100|trojan successfully stopped|10|";
    char line[1024];

#define EXT(s) (snprintf(line, sizeof line, "%s%s", h, (s)), decode(line))
    assert_int_equal(EXT("moo=this\\|has an escaped pipe"), KB_OK);
    CHECK("moo", "this\\|has an escaped pipe");
    assert_int_equal(EXT("moo=this|has an pipe"), KB_OK);
    CHECK("moo", "this|has an pipe");
    assert_int_equal(EXT("moo=this =has = equals\\="), KB_OK);
    CHECK("moo", "this =has = equals=");
    assert_int_equal(EXT("moo=this \\has \\ backslashs\\"), KB_OK);
    CHECK("moo", "this \\has \\ backslashs\\");
    assert_int_equal(EXT(" src=10.0.0.192  dst=12.121.122.82  spt=1232"), KB_OK);
    CHECK("source.ip", "10.0.0.192");
    CHECK("destination.ip", "12.121.122.82");
    CHECK("source.port", "1232");
    assert_int_equal(EXT("src=10.0.0.192 dst=12.121.122.82  spt=1232 dproc=InternetExplorer "
                         "x.x.x.x"),
                     KB_OK);
    CHECK("dproc", "InternetExplorer x.x.x.x");
    CHECK("process.name", "InternetExplorer x.x.x.x");
    assert_int_equal(EXT("foo=bar msg=this message has escaped equals \\= and escaped newlines "
                         "\\n escaped carriage returns \\r and escaped backslashes \\\\ in it "
                         "bar=baz"),
                     KB_OK);
    CHECK("foo", "bar");
    CHECK("message", "this message has escaped equals = and escaped newlines \n escaped "
                     "carriage returns \r and escaped backslashes \\ in it");
    CHECK("bar", "baz");
    assert_int_equal(EXT("go=start now query_string=key1\\=value1&key2\\=value3 "
                         "aa.bc&key3\\=value4 final=done"),
                     KB_OK);
    CHECK("go", "start now");
    CHECK("query_string", "key1=value1&key2=value3 aa.bc&key3=value4");
    CHECK("final", "done");
    assert_int_equal(EXT("src=10.0.0.192 additional.dotfieldName=new_value "
                         "ad.Authentification=MICROSOFT_AUTHENTICATION_PACKAGE_V1_0 "
                         "ad.Error_,Code=3221225578 dst=12.121.122.82 ad.field[0]=field0 "
                         "ad.foo.name[1]=new_name"),
                     KB_OK);
    CHECK("additional.dotfieldName", "new_value");
    CHECK("ad.Authentification", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0");
    CHECK("ad.Error_,Code", "3221225578");
    CHECK("ad.field[0]", "field0");
    CHECK("ad.foo.name[1]", "new_name");
    CHECK("destination.ip", "12.121.122.82");
    assert_int_equal(EXT("src=10.0.0.192 cs4=401 random.user Admin 0 23041A10181C0000  "
                         "/CN\\=random.user/OU\\=User Login End-Entity  /CN\\=TEST 34 "
                         "dst=12.121.122.82"),
                     KB_OK);
    CHECK("cs4", "401 random.user Admin 0 23041A10181C0000  /CN=random.user/OU=User Login "
                 "End-Entity  /CN=TEST 34");
    assert_int_equal(EXT("src=10.0.0.192 dst=12.121.122.82 proto=TCP shost=source.host.name "
                         "dhost=destination.host.name spt=11024 dpt=9200 outcome=Success "
                         "amac=00:80:48:1c:24:91"),
                     KB_OK);
    CHECK("network.transport", "tcp");
    CHECK("proto", "TCP");
    CHECK("shost", "source.host.name");
    CHECK("dhost", "destination.host.name");
    CHECK("destination.port", "9200");
    CHECK("event.outcome", "success");
    CHECK("amac", "00:80:48:1c:24:91");
    assert_int_equal(EXT("cfp15=3.1415926 cfp15Label=pi c6a12=::1 c6a12Label=localhost cn7=8191 "
                         "cn7Label=mersenne cs4=silly cs4Label=theory"),
                     KB_OK);
    CHECK("cef.label.pi", "3.1415926");
    CHECK("cef.label.localhost", "::1");
    CHECK("cef.label.mersenne", "8191");
    CHECK("cef.label.theory", "silly");
    CHECK("cs4Label", "theory");
    assert_int_equal(EXT("fileHash=1bad1dea"), KB_OK);
    CHECK("fileHash", "1bad1dea");
    CHECK("file.hash.md5", NULL);
    CHECK("file.hash.sha1", NULL);
    assert_int_equal(EXT("src=192.168.1.11 target=aaaaa\xe3\x81\x82\xe3\x81\x82" "aaaa "
                         "msg=Description Omitted"),
                     KB_OK);
    CHECK("target", "aaaaa\xe3\x81\x82\xe3\x81\x82" "aaaa");
    CHECK("message", "Description Omitted");
    /* Logstash's "split correctly" case: an unescaped '=' after text that is
     * no key stays in the value. */
    assert_int_equal(decode("CEF:0|FooBar|Web Gateway|1.2.3.45.67|200|Success|2|rt=Sep 07 2018 "
                            "14:50:39 cat=Access Log dst=1.1.1.1 dhost=foo.example.com "
                            "suser=redacted src=2.2.2.2 requestMethod=POST "
                            "request='https://foo.example.com/bar/bingo/1' "
                            "requestClientApplication='Foo-Bar/2018.1.7; "
                            "Email:user@example.com; Guid:test=' cs1= cs1Label=Foo Bar"),
                     KB_OK);
    CHECK("http.request.method", "POST");
    CHECK("url.full", "'https://foo.example.com/bar/bingo/1'");
    CHECK("user_agent.original", "'Foo-Bar/2018.1.7; Email:user@example.com; Guid:test='");
    CHECK("user.name", "redacted");
    CHECK("cat", "Access Log");
    CHECK("cs1", "");
    CHECK("cs1Label", "Foo Bar");
    CHECK("cef.label.Foo Bar", NULL); /* empty value: no label field */
    CHECK("event.severity", "2");
    dfx_expect_ts(&fx.ev, "2018-09-07T14:50:39.000000000Z");
    CHECK("@timestamp", "Sep 07 2018 14:50:39");
    /* Very-High in words, rt with milliseconds. */
    assert_int_equal(decode("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|"
                            "Very-High| eventId=1 msg=Worm successfully stopped "
                            "rt=Jul 19 2017 10:50:21.127 dvchost=client1 start="),
                     KB_OK);
    CHECK("event.severity", "10");
    CHECK("host.name", "client1");
    CHECK("start", "");
    dfx_expect_ts(&fx.ev, "2017-07-19T10:50:21.127000000Z");
#undef EXT
}

static void test_rejects(void **state)
{
    (void)state;
    assert_int_equal(decode("this is not cef"), KB_EPARSE);
    assert_non_null(fx.ctx.err);
    assert_int_equal(decode("a|b|c with several \\| escaped\\| pipes|d|bananas"), KB_EPARSE);
    assert_int_equal(decode("CEF:0|security|threatmanager|1.0|100|trojan successfully stopped|10|"
                            "this is in the extensions space but it is not valid"),
                     KB_EPARSE);
    assert_string_equal(fx.ctx.err, "CEF extension does not start with key=value");
    assert_int_equal(decode("CEF:0|a|b|c|d|e|5"), KB_EPARSE);
    assert_string_equal(fx.ctx.err, "CEF header has fewer than 7 '|'-terminated fields");
    assert_int_equal(decode("CEF:x|a|b|c|d|e|5|src=1.2.3.4"), KB_EPARSE);
    assert_string_equal(fx.ctx.err, "CEF version is not a number");
    /* an escape running off the end of the header */
    assert_int_equal(decode("CEF:0|a|b|c|d|e|\\"), KB_EPARSE);
    assert_int_equal(decode("   "), KB_ESKIP);
    assert_int_equal(decode(""), KB_ESKIP);
}

static void test_hostile(void **state)
{
    (void)state;
    static char line[70000];
    const char *h = "CEF:0|a|b|c|d|e|5|";
    size_t n = strlen(h);

    /* a key longer than the cap is no key: text before the first key */
    memcpy(line, h, n);
    memset(line + n, 'k', 300);
    memcpy(line + n + 300, "=v", 3);
    assert_int_equal(decode(line), KB_EPARSE);
    /* ...and after a key it is part of the value */
    memcpy(line + n, "src=1 ", 6);
    memset(line + n + 6, 'k', 300);
    memcpy(line + n + 306, "=v dst=2", 9);
    assert_int_equal(decode(line), KB_OK);
    CHECK("dst", "2");
    assert_int_equal(kb_event_get_named(&fx.ev, "src")->len, 1 + 1 + 300 + 2);

    /* NUL bytes inside values and header */
    static const char nul[] = "CEF:0|a\0b|c|d|e|f|5|src=1\0.2 msg=x\0y";
    assert_int_equal(dfx_decode(&fx, nul, sizeof nul - 1), KB_OK);
    assert_int_equal(kb_event_get_named(&fx.ev, "cef.device_vendor")->len, 3);
    assert_int_equal(kb_event_canon(&fx.ev, KB_F_MESSAGE)->len, 3);

    /* many pairs: more than the event's field cap, decoded up to it */
    memcpy(line, h, n);
    size_t o = n;
    for (int i = 0; o + 16 < sizeof line; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "k%d=%d ", i % 5000, i);
    assert_int_equal(dfx_decode(&fx, line, o), KB_OK);
    assert_true(fx.ev.nfields <= KB_EVENT_MAX_FIELDS);

    /* many spaces then a long non-key: must stay linear (finishes fast) */
    memcpy(line, h, n);
    memcpy(line + n, "a=", 2);
    memset(line + n + 2, ' ', 30000);
    memset(line + n + 30002, 'x', 30000);
    line[n + 60002] = '\0';
    assert_int_equal(decode(line), KB_OK);
    assert_int_equal(kb_event_get_named(&fx.ev, "a")->len, 60000);

    /* a backslash at the very end of a value and of the line */
    assert_int_equal(decode("CEF:0|a|b|c|d|e|5|src=\\"), KB_OK);
    CHECK("src", "\\");
}

static void test_samples_wrapped(void **state)
{
    (void)state;
    /* CyberArk Vault behind an RFC 3164 header (Metron's expected output) */
    static const char cyberark[] =
        "Mar 21 14:05:02 HHHPVATN1 CEF:0|Cyber-Ark|Vault|7.20.0091|295|Retrieve password|5|"
        "act=Retrieve password suser=spilgrim fname=Root\\ABC phobos3 - COMP dvc=120.99.70.3 "
        "shost=10.44.134.78 dhost= duser= externalId= app= reason= cs1Label=\"Affected User "
        "Name\" cs1= cs2Label=\"Safe Name\" cs2=Security Vulnerability Mgmt cs3Label=\"Device "
        "Type\" cs3= cs4Label=\"Database\" cs4= cs5Label=\"Other info\" cs5=101.198.70.93 "
        "cn1Label=\"Request Id\" cn1= cn2Label=\"Ticket Id\" cn2=Needed to verify config files "
        "being pulled msg=Needed to verify config files being pulled";
    assert_int_equal(decode(cyberark), KB_OK);
    CHECK("cef.device_vendor", "Cyber-Ark");
    CHECK("cef.device_product", "Vault");
    CHECK("cef.device_version", "7.20.0091");
    CHECK("cef.signature_id", "295");
    CHECK("cef.name", "Retrieve password");
    CHECK("fname", "Root\\ABC phobos3 - COMP");
    CHECK("file.name", "Root\\ABC phobos3 - COMP");
    CHECK("cef.label.Safe Name", "Security Vulnerability Mgmt");
    CHECK("cef.label.Other info", "101.198.70.93");
    CHECK("cef.label.Ticket Id", "Needed to verify config files being pulled");
    CHECK("cef.label.Affected User Name", NULL);
    CHECK("user.name", "spilgrim");
    CHECK("host.ip", "120.99.70.3");
    CHECK("host.name", "HHHPVATN1");
    CHECK("event.action", "Retrieve password");
    CHECK("message", "Needed to verify config files being pulled");
    CHECK("event.severity", "5");
    CHECK("network.protocol", NULL);
    CHECK("process.name", NULL);
    CHECK("observer.product", "Cyber-Ark Vault");
    /* Metron: "timestamp": 1458569102000 */
    assert_true(fx.ev.ts == INT64_C(1458569102000) * 1000000);

    /* Palo Alto behind "<14>" and a 3164 header, "CEF: 0" */
    static const char palo[] =
        "<14>Apr  7 10:10:10 hostname CEF: 0|Palo Alto Networks|PAN-OS|6.1.3|url|THREAT|1|"
        "rt=Apr 07 2017 00:10:10 GMT deviceExternalId=00000000 src=10.10.10.10 dst=20.20.20.20 "
        "cs1Label=Rule cs1=Trusted-to-Untrusted suser= duser= app=ssl spt=18371 dpt=443 "
        "proto=tcp act=alert request=\\\"www.example.com/\\\" cs2Label=URL Cat cs2=gambling "
        "filePath= fileHash= deviceProcessName=Device.Process.Name";
    assert_int_equal(decode(palo), KB_OK);
    CHECK("host.name", "hostname");
    CHECK("cef.version", "0");
    CHECK("network.protocol", "ssl");
    CHECK("network.transport", "tcp");
    CHECK("destination.port", "443");
    CHECK("cef.label.Rule", "Trusted-to-Untrusted");
    CHECK("cef.label.URL Cat", "gambling");
    CHECK("user.name", NULL);
    CHECK("file.path", NULL);
    CHECK("process.name", "Device.Process.Name");
    CHECK("url.full", "\\\"www.example.com/\\\"");
    CHECK("url.domain", NULL);
    dfx_expect_ts(&fx.ev, "2017-04-07T00:10:10.000000000Z");
    CHECK("@timestamp", "Apr 07 2017 00:10:10 GMT");

    /* Imperva: "<14>" alone, empty name, High in words, "31 March 2016" */
    static const char imperva[] =
        "<14>CEF:0|Imperva Inc.|SecureSphere|10.0.0.4_16|ABC - Secure Login.vm Page Rate Limit "
        "UK - Source IP||High|act=alert dst=17.43.200.42 dpt=88 duser=${Alert.username} "
        "src=10.31.45.69 spt=34435 proto=TCP rt=31 March 2016 13:04:55 cat=Alert cs1= "
        "cs1Label=Policy cs2=ABC-Secure cs2Label=ServerGroup";
    assert_int_equal(decode(imperva), KB_OK);
    CHECK("rule.id", "ABC - Secure Login.vm Page Rate Limit UK - Source IP");
    CHECK("rule.name", NULL);
    CHECK("event.severity", "8");
    CHECK("user.name", "${Alert.username}");
    CHECK("cef.label.ServerGroup", "ABC-Secure");
    dfx_expect_ts(&fx.ev, "2016-03-31T13:04:55.000000000Z");

    /* Adallom: an ISO 8601 prefix, start= in epoch ms */
    static const char adallom[] =
        "2016-04-01T09:29:11.356-0400 CEF:0|Adallom|Adallom|1.0|56fe779ee4b0459f4e9a484a|"
        "ALERT_CABINET_EVENT_MATCH_AUDIT|0|msg=Activity policy 'User download/view file' was "
        "triggered by 'person@example.com' suser=auser@example.com start=1459517280810 "
        "end=1459517280810 services=[\"APPID_SXC\"] cs6=https://abcd-remote.console.arc.com/#/"
        "alerts/56fe779ee4b0459f4e9a484a cs6Label=consoleUrl";
    assert_int_equal(decode(adallom), KB_OK);
    CHECK("user.name", "auser@example.com");
    CHECK("event.severity", "0");
    CHECK("cef.label.consoleUrl",
          "https://abcd-remote.console.arc.com/#/alerts/56fe779ee4b0459f4e9a484a");
    CHECK("services", "[\"APPID_SXC\"]");
    CHECK("host.name", NULL);
    CHECK("@timestamp", "1459517280810");
    dfx_expect_ts(&fx.ev, "2016-04-01T13:28:00.810000000Z");

    /* UniFi: "host CEF: 0|" and the marker lost altogether */
    assert_int_equal(decode("Sep  8 08:32:20 UDM-Gent CEF: 0|Ubiquiti|UniFi Network|9.4.19|201|"
                            "Threat Detected and Blocked|9|proto=TCP src=192.168.100.252 "
                            "spt=65020 dst=192.168.1.100 dpt=80 UNIFIcategory=Security "
                            "UNIFIipsSignature=ET USER_AGENTS Suspicious User Agent (BlackSun) "
                            "msg=A network intrusion attempt"),
                     KB_OK);
    CHECK("host.name", "UDM-Gent");
    CHECK("process.name", NULL);
    CHECK("cef.severity", "9");
    CHECK("UNIFIipsSignature", "ET USER_AGENTS Suspicious User Agent (BlackSun)");
    dfx_expect_ts(&fx.ev, "2015-09-08T08:32:20.000000000Z"); /* September is after June 2016 */
    assert_int_equal(decode("0|Ubiquiti|UniFi Network|9.3.45|201|Threat Detected and Blocked|7|"
                            "proto=TCP src=192.168.0.1 spt=54587"),
                     KB_OK);
    CHECK("cef.device_product", "UniFi Network");
    CHECK("source.port", "54587");

    /* Check Point: proto as a number, hashes by length, a firewall */
    assert_int_equal(decode("CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|"
                            "act=Drop cp_severity=Very-High c6a2=fd00::555 c6a2Label=Source IPv6 "
                            "Address fileHash=580a783c1cb2b20613323f715d231a69 proto=6 "
                            "request=https://user@Example.com:8443/x?y=1 rt=1545211330000"),
                     KB_OK);
    CHECK("event.severity", NULL);
    CHECK("network.transport", "tcp");
    CHECK("file.hash.md5", "580a783c1cb2b20613323f715d231a69");
    CHECK("cef.label.Source IPv6 Address", "fd00::555");
    CHECK("url.domain", "Example.com");
    assert_string_equal(fx.ev.ls.category, "firewall");
    dfx_expect_ts(&fx.ev, "2018-12-19T09:22:10.000000000Z");
}

static void test_time(void **state)
{
    (void)state;
    int64_t t;
    char buf[40];
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"1543270652000", "2018-11-26T22:17:32.000000000Z"},
        {"1543270652", "2018-11-26T22:17:32.000000000Z"},
        {"Sep 07 2018 14:50:39", "2018-09-07T14:50:39.000000000Z"},
        {"Jul 19 2017 10:50:21.127", "2017-07-19T10:50:21.127000000Z"},
        {"Apr 07 2017 00:10:10 GMT", "2017-04-07T00:10:10.000000000Z"},
        {"Apr 07 2017 00:10:10 +02:00", "2017-04-06T22:10:10.000000000Z"},
        {"Apr 07 2017 00:10:10 GMT-0500", "2017-04-07T05:10:10.000000000Z"},
        {"Apr 07 2017 00:10:10 EST", "2017-04-07T05:10:10.000000000Z"},
        {"Mar 21 14:05:02", "2016-03-21T14:05:02.000000000Z"},
        {"31 March 2016 13:04:55", "2016-03-31T13:04:55.000000000Z"},
        {"Oct 26, 2025 at 7:59:41.239 PM", "2025-10-26T19:59:41.239000000Z"},
        {"2016-04-01T09:29:11.356-0400", "2016-04-01T13:29:11.356000000Z"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (kb_kv_parse_time(ok[i].in, strlen(ok[i].in), REF_2016, &t) != KB_OK)
            fail_msg("time '%s' not parsed", ok[i].in);
        kb_time_format(t, buf, sizeof buf);
        assert_string_equal(buf, ok[i].out);
    }
    static const char *const bad[] = {
        "",           "31", "Apr 07 2017 00:10:10 Europe/Moscow", "Foo 07 2017 00:10:10",
        "Feb 30 2017 00:00:00", "Apr 07 2017", "13:00:00 PM Apr 7",
        /* past what int64 nanoseconds hold (found by fuzzing) */
        "99999999999", "9999999999999", "33333330333", "Apr 07 8017 00:10:10",
        "4038-05-09 22:03:58",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kb_kv_parse_time(bad[i], strlen(bad[i]), REF_2016, &t) == KB_OK)
            fail_msg("time '%s' parsed", bad[i]);

    static const char fmt[] = "yyyy-MM-dd HH:mm:ss.SSS";
    assert_int_equal(kb_kv_parse_time_fmt("2019-05-09 22:03:58.692466", 26, fmt, strlen(fmt),
                                          REF_2016, &t),
                     KB_OK);
    kb_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, "2019-05-09T22:03:58.692466000Z");
    static const char fmt2[] = "MMM dd yyyy HH:mm:ss z";
    assert_int_equal(kb_kv_parse_time_fmt("Jan 02 2020 03:04:05 +0100", 26, fmt2, strlen(fmt2),
                                          REF_2016, &t),
                     KB_OK);
    kb_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, "2020-01-02T02:04:05.000000000Z");
    static const char fmt3[] = "dd/MM/yyyy hh:mm:ss a";
    assert_int_equal(kb_kv_parse_time_fmt("02/01/2020 12:04:05 AM", 22, fmt3, strlen(fmt3),
                                          REF_2016, &t),
                     KB_OK);
    kb_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, "2020-01-02T00:04:05.000000000Z");
    assert_int_equal(kb_kv_parse_time_fmt("2019-05-09", 10, fmt, strlen(fmt), REF_2016, &t),
                     KB_EPARSE);
}

static void test_sniff(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "CEF:0|a|b|c|d|e|5|",
        "<14>Apr  7 10:10:10 hostname CEF: 0|Palo Alto Networks|PAN-OS|6.1.3|url|THREAT|1|",
        "Syslogdate Sysloghost CEF:0|security|threatmanager|1.0|100|x|10|src=1",
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kb_dec_cef.sniff(yes[i], strlen(yes[i])), 95);
    assert_int_equal(kb_dec_cef.sniff("0|Ubiquiti|UniFi|9|201|Threat|7|a=b", 35), 40);
    assert_int_equal(kb_dec_cef.sniff("Mar  7 host sshd[1]: Accepted", 29), 0);
    assert_int_equal(kb_dec_cef.sniff("xCEF:0|a", 8), 0);
    assert_int_equal(kb_dec_cef.sniff("LEEF:1.0|a|b|c|d|", 17), 0);
    assert_string_equal(kb_dec_cef.name, "cef");
}

static void test_sample_files(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int ok, rej, skip;
    } files[] = {
        {"logstash-codec-cef-spec-edgecases.log", 25, 1, 0},
        {"tenzir-checkpoint.cef.log", 3, 0, 1},
        {"crowdsec-unifi.cef.log", 4, 0, 0},
        {"crowdsec-unifi2.cef.log", 3, 0, 0},
        {"metron-adallom.cef.log", 1, 0, 0},
        {"metron-cyberark.cef.log", 1, 0, 0},
        {"metron-palo.cef.log", 1, 0, 0},
        {"metron-waf.cef.log", 1, 0, 0},
    };
    /* every line as it stands in the file; every record decoded carries
     * cef.device_vendor, every reject a reason */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        dfx_expect_run(&fx, CEF_DIR, files[i].file, DFX_AS_IS, "cef.device_vendor",
                       (dfx_counts){.ok = files[i].ok, .skip = files[i].skip, .rej = files[i].rej});
    /* the Check Point file's first line, in detail */
    dfx_run_file(&fx, CEF_DIR "tenzir-checkpoint.cef.log", DFX_AS_IS, "cef.device_vendor");
    assert_int_equal(decode("CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|"
                            "act=Accept rt=1543270652000 spt=49363 dpt=443 cs2Label=Rule Name "
                            "originsicname=CN\\=R80,O\\=R80_M..6u6bdo product=VPN-1 & FireWall-1 "
                            "proto=6 src=192.168.101.100 cs5Label=Matched Category "
                            "cs5=Business / Economy"),
                     KB_OK);
    CHECK("originsicname", "CN=R80,O=R80_M..6u6bdo");
    CHECK("product", "VPN-1 & FireWall-1");
    CHECK("cef.label.Matched Category", "Business / Economy");
    CHECK("cef.label.Rule Name", NULL);
    CHECK("event.action", "Accept");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arcsight_example),
        cmocka_unit_test(test_logstash_header_escapes),
        cmocka_unit_test(test_logstash_extension),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_samples_wrapped),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_sample_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
