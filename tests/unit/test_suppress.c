/* Suppression, rate limits and level overrides; the `suppress:` YAML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/yaml.h"
#include "detect/suppress.h"

#define SEC(x) ((int64_t)(x) * KB_NS_PER_SEC)

static kb_suppress_alert alert(const char *rule, int64_t ts, const char *src, const char *host)
{
    kb_suppress_alert a;
    memset(&a, 0, sizeof a);
    a.rule_id = rule;
    a.title = "Some Title";
    a.ts = ts;
    a.value[KB_SUP_BY_SOURCE] = src;
    a.value[KB_SUP_BY_HOST] = host;
    return a;
}

static void suppress_by_value(void **state)
{
    kb_suppress *s = kb_suppress_new(0);
    kb_suppress_entry e = {KB_SUP_SUPPRESS, "r1", KB_SUP_BY_SOURCE, "10.1.0.0/16", 0, NULL,
                           "our scanner", "ana", KB_TIME_NONE, 7, 0};
    kb_suppress_entry h = {KB_SUP_SUPPRESS, "Some Title", KB_SUP_BY_HOST, "BACKUP-1", 0, NULL,
                           "backups", "ana", KB_TIME_NONE, 8, 0};
    kb_suppress_result r;
    kb_suppress_alert a;
    const char *err;
    (void)state;
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_OK);
    assert_int_equal(kb_suppress_add(s, &h, &err), KB_OK);
    a = alert("r1", SEC(1), "10.1.2.3", "pc");
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_SUPPRESSED);
    assert_int_equal(r.entry->id, 7);
    assert_string_equal(r.entry->reason, "our scanner");
    a = alert("r1", SEC(1), "10.2.0.1", "pc");
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    a = alert("r2", SEC(1), "10.1.2.3", "pc"); /* another rule */
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    a = alert("r2", SEC(1), NULL, "backup-1"); /* by title, host case-insensitive */
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_SUPPRESSED);
    assert_int_equal(r.entry->id, 8);
    a = alert("r1", SEC(1), NULL, "pc"); /* no source: not this entry */
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    kb_suppress_free(s);
}

static void rate_limit(void **state)
{
    kb_suppress *s = kb_suppress_new(0);
    kb_suppress_entry e = {KB_SUP_LIMIT, "*", KB_SUP_BY_SOURCE, NULL, SEC(3600), NULL, NULL,
                           NULL, KB_TIME_NONE, 0, 0};
    kb_suppress_result r;
    kb_suppress_alert a;
    kb_suppress_stats st;
    const char *err;
    (void)state;
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_OK);
    a = alert("r1", SEC(0), "1.2.3.4", NULL);
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    a.ts = SEC(100);
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_LIMITED);
    a.ts = SEC(3599);
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_LIMITED);
    a.ts = SEC(3600); /* one window after the last alert kept */
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    a = alert("r1", SEC(3601), "5.6.7.8", NULL); /* another key */
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    kb_suppress_stats_get(s, &st);
    assert_int_equal(st.limited, 2);
    assert_int_equal(st.checked, 5);
    kb_suppress_free(s);
}

static void level_override(void **state)
{
    kb_suppress *s = kb_suppress_new(0);
    kb_suppress_entry e = {KB_SUP_LEVEL, "r1", 0, NULL, 0, "low", NULL, NULL, KB_TIME_NONE, 0, 0};
    kb_suppress_result r;
    kb_suppress_alert a = alert("r1", SEC(0), NULL, NULL);
    const char *err;
    (void)state;
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_OK);
    assert_int_equal(kb_suppress_check(s, &a, &r), KB_SUP_KEEP);
    assert_string_equal(r.level, "low");
    a.rule_id = "r2";
    kb_suppress_check(s, &a, &r);
    assert_null(r.level);
    e.level = "severe";
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_EINVAL);
    assert_non_null(strstr(err, "level is"));
    e = (kb_suppress_entry){KB_SUP_LIMIT, "r1", 0, NULL, SEC(1), NULL, NULL, NULL, 0, 0, 0};
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_EINVAL);
    e = (kb_suppress_entry){KB_SUP_SUPPRESS, "r1", KB_SUP_BY_SOURCE, "10.0.0.0/33", 0, NULL,
                            NULL, NULL, 0, 0, 0};
    assert_int_equal(kb_suppress_add(s, &e, &err), KB_EINVAL);
    assert_int_equal(kb_suppress_count(s), 1);
    kb_suppress_free(s);
}

static void yaml_section(void **state)
{
    static const char good[] =
        "suppress:\n"
        "  - {rule: r1, by: destination, value: 203.0.113.10, reason: vendor update server}\n"
        "  - {rule: '*', by: source, window: 10m}\n"
        "  - {rule: r2, level: high}\n";
    static const char badkey[] = "suppress:\n  - {rule: r1, bye: source}\n";
    static const char badwin[] = "suppress:\n  - {rule: r1, by: host,\n     window: soon}\n";
    kb_yaml *y;
    kb_yaml_error ye;
    kb_suppress *s = kb_suppress_new(16);
    char err[200];
    uint32_t line = 0;
    (void)state;
    assert_int_equal(kb_yaml_parse(good, sizeof good - 1, NULL, &y, &ye), KB_OK);
    assert_int_equal(kb_suppress_load_yaml(s, kb_yaml_get(kb_yaml_doc(y, 0), "suppress"), err,
                                           sizeof err, &line), KB_OK);
    kb_yaml_free(y);
    assert_int_equal(kb_suppress_count(s), 3);
    assert_int_equal(kb_suppress_get(s, 0)->by, KB_SUP_BY_DESTINATION);
    assert_string_equal(kb_suppress_get(s, 0)->reason, "vendor update server");
    assert_int_equal(kb_suppress_get(s, 1)->type, KB_SUP_LIMIT);
    assert_true(kb_suppress_get(s, 1)->window == SEC(600));
    assert_int_equal(kb_suppress_get(s, 2)->type, KB_SUP_LEVEL);
    assert_int_equal(kb_yaml_parse(badkey, sizeof badkey - 1, NULL, &y, &ye), KB_OK);
    assert_int_equal(kb_suppress_load_yaml(s, kb_yaml_get(kb_yaml_doc(y, 0), "suppress"), err,
                                           sizeof err, &line), KB_EPARSE);
    assert_int_equal(line, 2);
    assert_non_null(strstr(err, "unknown key"));
    kb_yaml_free(y);
    assert_int_equal(kb_yaml_parse(badwin, sizeof badwin - 1, NULL, &y, &ye), KB_OK);
    assert_int_equal(kb_suppress_load_yaml(s, kb_yaml_get(kb_yaml_doc(y, 0), "suppress"), err,
                                           sizeof err, &line), KB_EPARSE);
    assert_int_equal(line, 3);
    kb_yaml_free(y);
    kb_suppress_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suppress_by_value),
        cmocka_unit_test(rate_limit),
        cmocka_unit_test(level_override),
        cmocka_unit_test(yaml_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
