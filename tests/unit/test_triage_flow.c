/* Triage, the parts the demo incident needs: targetless web-log alerts that
 * join the incident on the host their source attacked, host entities found
 * by name, address or destination, a detection recorded from a decoded
 * event (koban scan --triage), tag normalisation, Tenable CSV quirks, and
 * the module's tables versioned through kb_store_migrate_module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"
#include "store/store.h"
#include "triage/triage.h"

static const char inv[] = "name,addresses,type,criticality,tags\n"
                          "www,10.1.0.80,public server,3,\n"
                          "pc-0042,10.1.20.42,user PC,2,\n"
                          "fs-01,10.1.20.10,internal server,4,\"Personal Data; PCI\"\n";

#define A(ts, rid, name, lvl, tags, rest)                                                        \
    "{\"@timestamp\":\"2026-11-20T" ts "Z\",\"rule.id\":\"" rid "\",\"rule.name\":\"" name    \
    "\",\"rule.level\":\"" lvl "\",\"rule.tags\":[" tags "]" rest "}\n"

static const char alerts[] =
    /* the web server's log names only the source */
    A("09:50:12", "r-l4j", "Log4Shell JNDI Lookup in a Web Request", "high",
      "\"attack.t1190\",\"cve.2021-44228\"", ",\"event\":{\"source.ip\":\"192.0.2.200\"}")
    /* the IDS names the destination (tags say C2 too: unconfirmed there) */
    A("09:50:12", "r-ids", "Suricata Alert of Severity 1", "high",
      "\"attack.command-and-control\",\"attack.t1190\"",
      ",\"event\":{\"source.ip\":\"192.0.2.200\",\"destination.ip\":\"10.1.0.80\"}")
    /* the perimeter firewall: its own host name is the sensor, not a victim */
    A("09:50:15", "r-cef", "Perimeter Device Blocked a High-Severity Threat", "medium",
      "\"attack.t1190\"",
      ",\"host.name\":\"fw-edge-1\",\"event\":{\"source.ip\":\"192.0.2.200\","
      "\"destination.ip\":\"10.1.0.80\",\"observer.product\":\"EdgeWall\"}")
    /* a scan from the same source: its own incident */
    A("09:49:58", "r-fw", "Connection Blocked by the Host Firewall", "low", "\"attack.t1046\"",
      ",\"host.name\":\"www\",\"event\":{\"source.ip\":\"192.0.2.200\","
      "\"destination.ip\":\"10.1.0.80\"}")
    /* a host seen by name (FQDN), by internal source address and by C2 tags */
    A("09:03:10", "r-office", "Office Application Starts a Shell", "high", "\"attack.t1204.002\"",
      ",\"host.name\":\"PC-0042.corp.example.com\"")
    A("09:08:11", "r-ids", "Suricata Alert of Severity 1", "high",
      "\"attack.command-and-control\",\"attack.t1190\"",
      ",\"event\":{\"source.ip\":\"10.1.20.42\",\"destination.ip\":\"203.0.113.66\"}")
    A("09:41:02", "r-netuse", "Net Use Mounts an Administrative Share", "medium",
      "\"attack.lateral-movement\",\"attack.t1021.002\"",
      ",\"host.name\":\"PC-0042.corp.example.com\"");

static void test_entities(void **state)
{
    kb_triage_policy *p = NULL;
    kb_assets *a = kb_assets_new();
    kb_vulns *v = kb_vulns_new();
    kb_triage_alerts *al = kb_triage_alerts_new();
    kb_triage_result *res = NULL;
    kb_import_report r;
    char err[512];
    (void)state;
    assert_int_equal(kb_triage_policy_load("config/criteria.yaml", &p, err, sizeof err), KB_OK);
    kb_import_report_init(&r);
    assert_int_equal(kb_assets_import_buf(a, "inv.csv", inv, sizeof inv - 1, &r), KB_OK);
    assert_string_equal(kb_assets_by_name(a, "fs-01", 5)->tags, "personal-data,pci");
    const char sc[] = "host,ip,cve,cvss,name,port,timestamp\n"
                      "www,10.1.0.80,CVE-2021-44228,10.0,log4j,443/tcp,2026-11-01T00:00:00Z\n";
    assert_int_equal(kb_vulns_import_buf(v, "s.csv", sc, sizeof sc - 1, &r), KB_OK);
    assert_int_equal(kb_triage_alerts_read_jsonl(al, "a.jsonl", alerts, sizeof alerts - 1, &r),
                     KB_OK);
    assert_int_equal(r.bad, 0);
    kb_import_report_release(&r);
    assert_int_equal(kb_triage_run(p, a, v, al, &res), KB_OK);
    assert_int_equal(kb_triage_result_count(res), 3);
    const kb_incident *t = kb_triage_result_at(res, 0);
    assert_string_equal(t->type, "targeted-attack");
    assert_string_equal(t->entity, "host:pc-0042");
    assert_int_equal(t->alerts, 3);
    assert_int_equal(t->severity, KB_SEV_HIGH);
    assert_non_null(strstr(t->json, "confirmed by c2 lateral-movement"));
    const kb_incident *s = kb_triage_result_at(res, 1);
    assert_string_equal(s->type, "scan");
    assert_string_equal(s->entity, "source:192.0.2.200");
    assert_int_equal(s->severity, KB_SEV_LOW);
    const kb_incident *x = kb_triage_result_at(res, 2);
    assert_string_equal(x->type, "exploit-public-server");
    assert_string_equal(x->entity, "host:www");
    assert_int_equal(x->alerts, 3);
    assert_int_equal(x->spread, 1); /* fw-edge-1 is the sensor */
    assert_int_equal(x->severity, KB_SEV_HIGH);
    /* the web log's CVE is checked on www, once */
    const char *cv = strstr(x->json, "CVE-2021-44228 on www: vulnerable (CVSS 10.0, scan 2026-11-01)");
    assert_non_null(cv);
    assert_null(strstr(cv + 1, "CVE-2021-44228 on www"));
    kb_triage_result_free(res);
    kb_triage_alerts_free(al);
    kb_vulns_free(v);
    kb_assets_free(a);
    kb_triage_policy_free(p);
}

static void test_from_event(void **state)
{
    kb_names *names = kb_names_new(1 << 12);
    kb_arena *ar = kb_arena_new(1 << 16, 1 << 20);
    kb_triage_alerts *al = kb_triage_alerts_new(), *all = kb_triage_alerts_new();
    kb_triage_policy *p = NULL;
    kb_triage_result *res = NULL;
    kb_event ev;
    char err[512];
    static const char *const tags[] = {"attack.initial-access", "attack.t1190", NULL};
    (void)state;
    kb_event_init(&ev, names, ar);
    ev.format = "weblog";
    kb_time_parse_iso8601("2026-11-20T09:50:12Z", 20, &ev.ts);
    kb_event_set(&ev, KB_F_SOURCE_IP, KB_V_STR, "192.0.2.200", 11);
    kb_event_set(&ev, KB_F_DESTINATION_IP, KB_V_STR, "10.1.0.80", 9);
    kb_event_set(&ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "scanner for cve-2021-44228 ok", 29);
    /* the observables a playbook reads: URL, file name, a hash (sha1 when
     * there is no sha256; kept in lower case) */
    kb_event_set(&ev, KB_F_URL_FULL, KB_V_STR, "http://www.example.com/x?a=\"1\"", 30);
    kb_event_set(&ev, KB_F_FILE_NAME, KB_V_STR, "shell.jsp", 9);
    kb_event_set(&ev, KB_F_FILE_HASH_SHA1, KB_V_STR, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
                 40);
    assert_int_equal(kb_triage_alerts_add_event(al, "r1", "Exploit attempt", 3, tags, &ev),
                     KB_OK);
    assert_int_equal(kb_triage_alerts_add_event(al, "r1", "Exploit attempt", 3, NULL, &ev),
                     KB_OK);
    assert_int_equal(kb_triage_alerts_append(all, al), KB_OK);
    assert_int_equal(kb_triage_alerts_count(all), 2);
    assert_int_equal(kb_triage_policy_load("config/criteria.yaml", &p, err, sizeof err), KB_OK);
    assert_int_equal(kb_triage_run(p, NULL, NULL, all, &res), KB_OK);
    assert_int_equal(kb_triage_result_count(res), 1);
    const kb_incident *x = kb_triage_result_at(res, 0);
    assert_string_equal(x->type, "exploit-public-server");
    assert_string_equal(x->entity, "destination:10.1.0.80");
    assert_int_equal(x->alerts, 2);
    assert_non_null(strstr(x->json, "\"cve\":\"CVE-2021-44228\""));
    assert_non_null(strstr(x->json, "sources 1 [weblog]"));
    assert_non_null(strstr(x->json, "\"source_ips\":[\"192.0.2.200\"],\"destination_ips\":"
                                    "[\"10.1.0.80\"],\"urls\":[\"http://www.example.com/x?a="
                                    "\\\"1\\\"\"],\"file_names\":[\"shell.jsp\"],"
                                    "\"file_hashes\":[\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"]"));
    kb_triage_result_free(res);
    kb_triage_policy_free(p);
    kb_triage_alerts_free(al);
    kb_triage_alerts_free(all);
    kb_arena_free(ar);
    kb_names_free(names);
}

static void test_tenable_csv_and_schema(void **state)
{
    kb_vulns *v = kb_vulns_new();
    kb_import_report r;
    (void)state;
    /* v3 before v2, scores in tenths, padding rows of empty fields */
    const char csv[] = "Plugin ID,CVE,CVSS v2.0 Base Score,Risk,Host,Protocol,Port,Name,"
                       "CVSS v3.0 Base Score\n"
                       "1,CVE-2024-4577,100,Critical,192.168.0.101,tcp,8080,PHP,98\n"
                       "2,CVE-2016-2183,50,High,192.168.0.100,tcp,3389,SWEET32,7.5\n"
                       ",,,,,,,,\n,,,,,,,,\n";
    kb_import_report_init(&r);
    assert_int_equal(kb_vulns_import_buf(v, "t.csv", csv, sizeof csv - 1, &r), KB_OK);
    assert_int_equal(r.rows, 2);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.imported, 2);
    assert_float_equal(kb_vulns_at(v, 0)->cvss, 9.8, 0.001);
    assert_float_equal(kb_vulns_at(v, 1)->cvss, 7.5, 0.001);
    assert_string_equal(kb_vulns_at(v, 0)->port, "8080/tcp");
    kb_import_report_release(&r);
    /* the module's tables through kb_store_migrate_module */
    char dir[] = "/tmp/kbtriage2XXXXXX", e2[600];
    assert_non_null(mkdtemp(dir));
    kb_store *st = kb_store_open_dir(dir, e2, sizeof e2);
    assert_non_null(st);
    assert_int_equal(kb_vulns_save(v, st), KB_OK);
    assert_int_equal(kb_store_scalar(st, "SELECT version FROM koban_modules WHERE module = 'triage'",
                                     NULL, 0, -1),
                     1);
    assert_int_equal(kb_triage_schema(st), KB_OK); /* again: nothing to do */
    assert_int_equal(kb_store_scalar(st, "SELECT COUNT(*) FROM triage_vulns", NULL, 0, -1), 2);
    kb_store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    kb_vulns_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_from_event),
        cmocka_unit_test(test_tenable_csv_and_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
