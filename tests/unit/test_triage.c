/* Triage against the shared samples: assets, vulnerabilities, criteria,
 * incidents. Counts are those of the sample files (SOURCES.tsv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "triage/triage.h"

#define ASSETS KOBAN_SHARED_DATA "/assets/assets/"
#define VULNS KOBAN_SHARED_DATA "/vulns/"

static void test_assets_netbox(void **state)
{
    kb_assets *a = kb_assets_new();
    kb_import_report r;
    (void)state;
    kb_import_report_init(&r);
    assert_int_equal(kb_assets_import_file(a, ASSETS "netbox-demo-hosts.csv", &r), KB_OK);
    assert_int_equal(r.rows, 252);
    /* 22 devices (patch panels, PDUs) have no name in the demo data */
    assert_int_equal(r.imported, 230);
    assert_int_equal(r.bad, 22);
    assert_non_null(strstr(r.errors.data, "netbox-demo-hosts.csv:41: missing host name\n"));
    assert_int_equal(kb_assets_count(a), 228); /* two names repeat: the later row wins */
    const kb_asset *as = kb_assets_by_name(a, "DMI01-AKRON-RTR01", 17);
    assert_non_null(as);
    assert_string_equal(as->location, "DM-Akron");
    assert_string_equal(as->type, "router");
    assert_string_equal(as->owner, "Dunder-Mifflin, Inc.");
    assert_null(kb_assets_by_name(a, "nosuch", 6));
    kb_import_report_release(&r);
    /* the IP address export has no host names: every row is refused */
    kb_import_report_init(&r);
    kb_assets_import_file(a, ASSETS "netbox-demo-ipaddresses.csv", &r);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.errors.data, "netbox-demo-ipaddresses.csv:1: no host name column"));
    kb_import_report_release(&r);
    kb_assets_free(a);
}

static const char inv[] =
    "name,addresses,mac,owner,department,location,type,criticality,tags\n"
    "web-1.corp.example,203.0.113.10,,web team,IT,DC1,public server,4,\"payment,personal-data\"\n"
    "pc-0042,10.1.20.42@2024-01-01/2024-02-01 10.1.20.99@2024-02-01/,aa:bb,alice,Sales,HQ,user pc,2,\n"
    "dc-1,10.1.0.10,,it,IT,HQ,internal server,5,domain-controller\n"
    "bad-1,10.1.0.11,,,,,server,9,\n"
    ",10.1.0.12,,,,,server,3,\n"
    "bad-3,10.1.0.300,,,,,server,3,\n";

static void test_assets_csv_lookup(void **state)
{
    kb_assets *a = kb_assets_new();
    kb_import_report r;
    kb_ip ip;
    int64_t t;
    (void)state;
    kb_import_report_init(&r);
    assert_int_equal(kb_assets_import_buf(a, "inv.csv", inv, sizeof inv - 1, &r), KB_OK);
    assert_int_equal(r.imported, 3);
    assert_int_equal(r.bad, 3);
    assert_string_equal(r.errors.data, "inv.csv:5: criticality must be 1-5\n"
                                       "inv.csv:6: missing host name\n"
                                       "inv.csv:7: bad address '10.1.0.300'\n");
    kb_ip_parse("10.1.20.42", 10, &ip);
    kb_time_parse_iso8601("2024-01-15T00:00:00Z", 20, &t);
    const kb_asset *as = kb_assets_by_ip(a, &ip, t);
    assert_non_null(as);
    assert_string_equal(as->name, "pc-0042");
    assert_string_equal(as->type, "user-pc");
    kb_time_parse_iso8601("2024-03-01T00:00:00Z", 20, &t);
    assert_null(kb_assets_by_ip(a, &ip, t)); /* the lease ended */
    kb_ip_parse("10.1.20.99", 10, &ip);
    assert_ptr_equal(kb_assets_by_ip(a, &ip, t), as);
    assert_non_null(kb_assets_by_name(a, "web-1", 5)); /* short name finds the FQDN */
    assert_non_null(kb_assets_by_name(a, "dc-1.corp.example", 17));
    assert_string_equal(kb_assets_by_name(a, "web-1", 5)->tags, "payment,personal-data");
    kb_import_report_release(&r);
    /* JSON with address validity objects */
    const char js[] = "[{\"name\":\"srv-9\",\"type\":\"internal server\",\"criticality\":3,"
                      "\"tags\":[\"payment\"],\"addresses\":[{\"ip\":\"10.9.9.9\","
                      "\"from\":\"2024-01-01T00:00:00Z\"}]},{\"name\":\"x\",\"criticality\":0}]";
    kb_import_report_init(&r);
    assert_int_equal(kb_assets_import_buf(a, "inv.json", js, sizeof js - 1, &r), KB_OK);
    assert_int_equal(r.imported, 1);
    assert_int_equal(r.bad, 1);
    as = kb_assets_by_name(a, "srv-9", 5);
    assert_non_null(as);
    assert_int_equal(as->naddrs, 1);
    assert_string_equal(as->tags, "payment");
    kb_import_report_release(&r);
    kb_assets_free(a);
}

static void test_vulns_samples(void **state)
{
    kb_vulns *v = kb_vulns_new();
    kb_import_report r;
    const kb_vuln *f;
    int64_t sc;
    (void)state;
    kb_import_report_init(&r);
    assert_int_equal(kb_vulns_import_file(v, VULNS "nessus/defectdojo-nessus_v_unknown.nessus", &r),
                     KB_OK);
    assert_int_equal(r.rows, 296);
    assert_int_equal(r.hosts, 7);
    assert_int_equal(r.skipped, 266); /* severity 0 */
    assert_int_equal(r.bad, 0);
    size_t n7 = kb_vulns_count(v);
    assert_true(n7 >= 30);
    kb_import_report_release(&r);
    kb_import_report_init(&r);
    assert_int_equal(kb_vulns_import_file(v, VULNS "openvas/defectdojo-one_vuln.xml", &r), KB_OK);
    assert_int_equal(r.rows, 1);
    assert_int_equal(r.imported, 12); /* one finding naming 12 CVEs */
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.2", "CVE-2023-4573", &f, &sc),
                     KB_VULN_VULNERABLE);
    assert_float_equal(f->cvss, 10.0, 0.01);
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.2", "CVE-2021-44228", &f, &sc),
                     KB_VULN_PATCHED);
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.3", "CVE-2021-44228", &f, &sc),
                     KB_VULN_UNKNOWN);
    kb_import_report_release(&r);
    /* a CSV scan of the same host dated earlier is ignored; later replaces */
    const char old[] = "host,cve,cvss,name,port,timestamp\n"
                       "10.0.101.2,CVE-2021-44228,10.0,log4j,443,2020-01-01T00:00:00Z\n";
    kb_import_report_init(&r);
    kb_vulns_import_buf(v, "old.csv", old, sizeof old - 1, &r);
    assert_int_equal(r.skipped, 1);
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.2", "CVE-2021-44228", &f, &sc),
                     KB_VULN_PATCHED);
    kb_import_report_release(&r);
    const char neu[] = "host,cve,cvss,name,port,timestamp\n"
                       "10.0.101.2,CVE-2021-44228,10.0,log4j,443,2030-01-01T00:00:00Z\n"
                       "10.0.101.2,,x,bad,443,2030-01-01T00:00:00Z\n";
    kb_import_report_init(&r);
    kb_vulns_import_buf(v, "new.csv", neu, sizeof neu - 1, &r);
    assert_int_equal(r.bad, 1);
    assert_string_equal(r.errors.data, "new.csv:3: bad CVSS score 'x'\n");
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.2", "CVE-2021-44228", &f, &sc),
                     KB_VULN_VULNERABLE);
    assert_int_equal(kb_vulns_check(v, NULL, "10.0.101.2", "CVE-2023-4573", &f, &sc),
                     KB_VULN_PATCHED);
    kb_import_report_release(&r);
    /* a NUL byte in the IP: the row is reported, the rest imported (it used to
     * stop the whole import without a reason; found by fuzz_vulns_csv) */
    const char nul[] = "host,ip,cve,cvss,name\n"
                       "www,\0c10.0.0.1,CVE-2024-0001,5.0,x\n"
                       "db,10.0.101.9,CVE-2024-0002,5.0,y\n";
    kb_import_report_init(&r);
    assert_int_equal(kb_vulns_import_buf(v, "nul.csv", nul, sizeof nul - 1, &r), KB_OK);
    assert_int_equal(r.bad, 1);
    assert_string_equal(r.errors.data, "nul.csv:2: a NUL byte in the host or IP\n");
    assert_int_equal(kb_vulns_check(v, "db", "10.0.101.9", "CVE-2024-0002", &f, &sc),
                     KB_VULN_VULNERABLE);
    kb_import_report_release(&r);
    /* XXE refused */
    const char xxe[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
                       "\"file:///etc/passwd\">]><report><results>&x;</results></report>";
    kb_import_report_init(&r);
    kb_vulns_import_buf(v, "x.xml", xxe, sizeof xxe - 1, &r);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.errors.data, "entity declarations are refused"));
    kb_import_report_release(&r);
    kb_vulns_free(v);
}

static void test_criteria_errors(void **state)
{
    kb_triage_policy *p = NULL;
    char err[512];
    (void)state;
    assert_int_equal(kb_triage_policy_load("config/criteria.yaml", &p, err, sizeof err), KB_OK);
    assert_int_equal(kb_triage_policy_notify_level(p), KB_SEV_MEDIUM);
    kb_triage_policy_free(p);
    const char bad[] = "version: 1\ntypes:\n  - name: a\n    match: {names: [x]}\n    base: hgh\n";
    assert_int_equal(kb_triage_policy_parse("c.yaml", bad, sizeof bad - 1, &p, err, sizeof err),
                     KB_EPARSE);
    assert_null(p);
    assert_string_equal(err, "c.yaml:5: base: 'hgh' is not low, medium, high or critical");
    const char bad2[] = "version: 1\ntypes:\n  - name: a\n    match: {names: [x]}\n    base: low\n"
                        "severity:\n  - when: {type: [b]}\n    set: high\n";
    assert_int_equal(kb_triage_policy_parse("c.yaml", bad2, sizeof bad2 - 1, &p, err, sizeof err),
                     KB_EPARSE);
    assert_string_equal(err, "c.yaml:7: type: unknown incident type 'b'");
    /* a signal named by a list, not a scalar (found by fuzz_criteria: the
     * name was copied from no string) */
    const char bad3[] = "version: 1\nsignals:\n  [a, b]: {tags: [x]}\n";
    assert_int_equal(kb_triage_policy_parse("c.yaml", bad3, sizeof bad3 - 1, &p, err, sizeof err),
                     KB_EPARSE);
    assert_null(p);
    assert_string_equal(err, "c.yaml:3: signals: a signal's name: expected a value");
}

static const char alerts[] =
    /* ransomware on two hosts: one incident, critical */
    "{\"@timestamp\":\"2024-01-10T10:00:00Z\",\"rule.id\":\"r-ransom\",\"rule.name\":\"Ransomware note\",\"rule.level\":\"high\",\"rule.tags\":[\"attack.t1486\"],\"host.name\":\"pc-0042\",\"event\":{\"observer.product\":\"edr\"}}\n"
    "{\"@timestamp\":\"2024-01-10T10:05:00Z\",\"rule.id\":\"r-ransom\",\"rule.name\":\"Ransomware note\",\"rule.level\":\"high\",\"rule.tags\":[\"attack.t1486\"],\"host.name\":\"dc-1\",\"event\":{\"observer.product\":\"edr\"}}\n"
    /* log4j exploit against the public web server (vulnerable) */
    "{\"@timestamp\":\"2024-01-10T11:00:00Z\",\"rule.id\":\"r-log4j\",\"rule.name\":\"Log4Shell attempt\",\"rule.level\":\"high\",\"rule.tags\":[\"attack.t1190\",\"cve.2021-44228\"],\"event\":{\"source.ip\":\"198.51.100.7\",\"destination.ip\":\"203.0.113.10\",\"log.format\":\"eve\"}}\n"
    /* a scan from outside: 3 alerts, one incident, low */
    "{\"@timestamp\":\"2024-01-10T12:00:00Z\",\"rule.id\":\"r-scan\",\"rule.name\":\"Port scan\",\"rule.level\":\"low\",\"rule.tags\":[\"attack.t1046\"],\"event\":{\"source.ip\":\"198.51.100.9\",\"destination.ip\":\"10.1.0.10\"}}\n"
    "{\"@timestamp\":\"2024-01-10T12:01:00Z\",\"rule.id\":\"r-scan\",\"rule.name\":\"Port scan\",\"rule.level\":\"low\",\"rule.tags\":[\"attack.t1046\"],\"event\":{\"source.ip\":\"198.51.100.9\",\"destination.ip\":\"10.1.0.77\"}}\n"
    "{\"@timestamp\":\"2024-01-10T12:02:00Z\",\"rule.id\":\"r-scan\",\"rule.name\":\"Port scan\",\"rule.level\":\"low\",\"rule.tags\":[\"attack.t1046\"],\"event\":{\"source.ip\":\"198.51.100.9\",\"destination.ip\":\"10.1.0.10\"}}\n"
    /* C2 alone: needs confirmation, no incident */
    "{\"@timestamp\":\"2024-01-10T13:00:00Z\",\"rule.id\":\"r-c2\",\"rule.name\":\"Beacon to C2\",\"rule.level\":\"medium\",\"rule.tags\":[\"attack.command-and-control\"],\"host.name\":\"web-1\",\"event\":{\"source.ip\":\"203.0.113.10\",\"destination.ip\":\"192.0.2.1\"}}\n"
    "not json\n";

static void test_triage_incidents(void **state)
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
    kb_assets_import_buf(a, "inv.csv", inv, sizeof inv - 1, &r);
    const char sc[] = "host,cve,cvss,name,port,timestamp\n"
                      "203.0.113.10,CVE-2021-44228,10.0,log4j,443,2024-01-01T00:00:00Z\n";
    kb_vulns_import_buf(v, "s.csv", sc, sizeof sc - 1, &r);
    kb_import_report_release(&r);
    kb_import_report_init(&r);
    assert_int_equal(kb_triage_alerts_read_jsonl(al, "a.jsonl", alerts, sizeof alerts - 1, &r),
                     KB_OK);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.errors.data, "a.jsonl:8: "));
    kb_import_report_release(&r);
    assert_int_equal(kb_triage_run(p, a, v, al, &res), KB_OK);
    const kb_triage_stats *s = kb_triage_result_stats(res);
    assert_int_equal(s->alerts, 7);
    assert_int_equal(s->unconfirmed, 1);
    assert_int_equal(kb_triage_result_count(res), 3);
    const kb_incident *i0 = kb_triage_result_at(res, 0);
    assert_string_equal(i0->type, "ransomware");
    assert_int_equal(i0->severity, KB_SEV_CRITICAL);
    assert_int_equal(i0->spread, 2);
    assert_int_equal(i0->notify, 1);
    assert_non_null(strstr(i0->json, "ransomware spreading"));
    const kb_incident *i1 = kb_triage_result_at(res, 1);
    assert_string_equal(i1->type, "exploit-public-server");
    assert_string_equal(i1->entity, "host:web-1.corp.example"); /* the inventory name */
    assert_int_equal(i1->severity, KB_SEV_HIGH);
    assert_non_null(strstr(i1->json, "CVE-2021-44228 on web-1.corp.example: vulnerable (CVSS 10.0"));
    const kb_incident *i2 = kb_triage_result_at(res, 2);
    assert_string_equal(i2->type, "scan");
    assert_int_equal(i2->alerts, 3);
    assert_int_equal(i2->severity, KB_SEV_LOW);
    assert_int_equal(i2->notify, 0);
    assert_non_null(strstr(i2->json, "unmanaged internal address 10.1.0.77"));
    /* save into a store and read back */
    char dir[] = "/tmp/kbtriageXXXXXX", e2[600];
    assert_non_null(mkdtemp(dir));
    kb_store *st = kb_store_open_dir(dir, e2, sizeof e2);
    assert_non_null(st);
    assert_int_equal(kb_triage_result_save(res, st), KB_OK);
    assert_int_equal(kb_triage_result_save(res, st), KB_OK); /* replaced, not doubled */
    assert_int_equal(kb_store_scalar(st, "SELECT COUNT(*) FROM incidents", NULL, 0, -1), 3);
    assert_int_equal(kb_assets_save(a, st), KB_OK);
    assert_int_equal(kb_vulns_save(v, st), KB_OK);
    kb_assets *a2 = kb_assets_new();
    kb_vulns *v2 = kb_vulns_new();
    assert_int_equal(kb_assets_load(a2, st), KB_OK);
    assert_int_equal(kb_vulns_load(v2, st), KB_OK);
    assert_int_equal(kb_assets_count(a2), 3);
    assert_int_equal(kb_vulns_count(v2), 1);
    assert_string_equal(kb_assets_by_name(a2, "pc-0042", 7)->source, "inv.csv:3");
    kb_assets_free(a2);
    kb_vulns_free(v2);
    kb_store_close(st);
    kb_triage_result_free(res);
    kb_triage_alerts_free(al);
    kb_vulns_free(v);
    kb_assets_free(a);
    kb_triage_policy_free(p);
}

/* A correlation alert has no event: its group names the entity
 * (matched.correlation.group), so it joins the incident of that host. */
static void test_triage_correlation_group(void **state)
{
    static const char in[] =
        "{\"@timestamp\":\"2024-01-10T13:00:00Z\",\"rule.id\":\"r-c2\",\"rule.name\":\"Beacon to C2\",\"rule.level\":\"medium\",\"rule.tags\":[\"attack.command-and-control\"],\"event\":{\"source.ip\":\"10.1.20.42\",\"destination.ip\":\"192.0.2.1\"}}\n"
        "{\"@timestamp\":\"2024-01-10T13:20:00Z\",\"rule.id\":\"r-lat\",\"rule.name\":\"Lateral movement\",\"rule.level\":\"high\",\"rule.tags\":[\"attack.lateral-movement\"],\"host.name\":null,"
        "\"matched\":{\"correlation.type\":\"value_count\",\"correlation.group\":\"source.ip=10.1.20.42 user.name=(none)\",\"correlation.value\":3},\"event\":{}}\n";
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
    assert_int_equal(kb_triage_alerts_read_jsonl(al, "c.jsonl", in, sizeof in - 1, &r), KB_OK);
    assert_int_equal(r.bad, 0);
    kb_import_report_release(&r);
    assert_int_equal(kb_triage_run(p, a, v, al, &res), KB_OK);
    assert_int_equal(kb_triage_result_count(res), 1);
    const kb_incident *i0 = kb_triage_result_at(res, 0);
    assert_string_equal(i0->type, "targeted-attack"); /* C2 confirmed by the correlation */
    assert_string_equal(i0->entity, "host:10.1.20.42");
    assert_int_equal(i0->alerts, 2);
    assert_null(strstr(i0->json, "\"users\":[\"(none)\"]")); /* a null group value names nobody */
    kb_triage_result_free(res);
    kb_triage_alerts_free(al);
    kb_vulns_free(v);
    kb_assets_free(a);
    kb_triage_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets_netbox),    cmocka_unit_test(test_assets_csv_lookup),
        cmocka_unit_test(test_vulns_samples),    cmocka_unit_test(test_criteria_errors),
        cmocka_unit_test(test_triage_incidents), cmocka_unit_test(test_triage_correlation_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
