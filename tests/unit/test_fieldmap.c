/* Field map units: loading (errors with line and reason), aliases for rules
 * that already see a source, variants for rules a source serves, absence
 * predicates, the fast engine agreeing with the reference evaluator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "detect/engine.h"
#include "event/json.h"

static kb_names *names;
static kb_arena *arena;
static char errs[4096];
static int nerrs;

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    (void)ud, (void)path, (void)line, (void)reason;
    nerrs++;
    strncat(errs, msg, sizeof errs - strlen(errs) - 2);
    strcat(errs, "\n");
}

static const char map_text[] =
    "version: 1\n"
    "sources:\n"
    "  - name: zeek-dns\n"                            /* 3 */
    "    events: {product: zeek, service: dns}\n"
    "    serves: [{category: dns}]\n"
    "    fields:\n"
    "      answer: answers\n"
    "      record_type: qtype_name\n"
    "  - name: eve-dns\n"                             /* 9 */
    "    events: {product: suricata, category: dns, service: dns}\n"
    "    fields:\n"
    "      query: [dns.rrname, dns.query]\n";

static const char rules_text[] =
    "title: q\nid: r-query\nlogsource: {category: dns}\n"
    "detection:\n  sel:\n    query|endswith: '.evil'\n  condition: sel\n"
    "---\n"
    "title: absent\nid: r-absent\nlogsource: {category: dns}\n"
    "detection:\n  sel:\n    x: 1\n  f:\n    query: null\n  condition: sel and f\n"
    "---\n"
    "title: txt\nid: r-txt\nlogsource: {category: dns}\n"
    "detection:\n  sel:\n    record_type: TXT\n    answer|contains: IEX\n  condition: sel\n"
    "---\n"
    "title: other\nid: r-win\nlogsource: {product: windows}\n"
    "detection:\n  sel:\n    query: a\n  condition: sel\n";

static int setup(void **state)
{
    (void)state;
    names = kb_names_new(0);
    arena = kb_arena_new(1 << 16, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kb_arena_free(arena);
    kb_names_free(names);
    return 0;
}

static kb_ruleset *mapped(kb_fieldmap_stats *st)
{
    kb_ruleset *rs = kb_ruleset_new(names);
    kb_fieldmap *fm = kb_fieldmap_new();
    assert_non_null(rs);
    assert_non_null(fm);
    assert_int_equal(kb_ruleset_load_mem(rs, "r.yml", rules_text, strlen(rules_text), on_err,
                                         NULL),
                     0);
    assert_int_equal(kb_fieldmap_load_mem(fm, "m.yaml", map_text, strlen(map_text), on_err, NULL),
                     0);
    assert_int_equal(kb_fieldmap_count(fm), 2);
    assert_int_equal(kb_ruleset_apply_fieldmap(rs, fm, st, on_err, NULL), 0);
    kb_fieldmap_free(fm); /* the rules keep no pointer into the map */
    return rs;
}

static int on_hit(const kb_rule *r, const kb_event *ev, void *ud)
{
    char *b = ud;
    (void)ev;
    strncat(b, kb_rule_meta_of(r)->id, 255 - strlen(b) - 2);
    strcat(b, ",");
    return 0;
}

/* Ids of the rules matching the event (reference evaluator, logsource
 * checked), as "id,id," ; the engine must say the same. */
static void hits(const kb_ruleset *rs, const char *json, const kb_logsource *ls, char *out,
                 size_t cap)
{
    kb_event ev;
    kb_json_error je;
    const char *err = NULL;
    kb_engine *e = kb_engine_new(rs, &err);
    kb_engine_scratch *s;
    char eng[256] = "";

    assert_non_null(e);
    s = kb_engine_scratch_new(e);
    kb_arena_clear(arena);
    kb_event_init(&ev, names, arena);
    assert_int_equal(kb_json_flatten(&ev, json, strlen(json), NULL, &je), KB_OK);
    ev.ls = *ls;
    out[0] = 0;
    for (size_t i = 0; i < kb_ruleset_count(rs); i++) {
        const kb_rule *r = kb_ruleset_rule(rs, i);
        if (kb_rule_logsource_applies(r, &ev.ls) && kb_rule_match(r, &ev)) {
            strncat(out, kb_rule_meta_of(r)->id, cap - strlen(out) - 2);
            strcat(out, ",");
        }
    }
    assert_true(kb_engine_match(e, s, &ev, on_hit, eng) >= 0);
    assert_string_equal(eng, out); /* the fast engine decides alike */
    kb_engine_scratch_free(s);
    kb_engine_free(e);
}

static void load_errors(void **state)
{
    static const char bad[] =
        "version: 1\n"
        "sources:\n"
        "  - name: a\n"
        "    events: {product: zeek, flavour: dns}\n" /* 4 */
        "    fields: {x: y}\n"
        "  - name: b\n"
        "    events: {product: zeek}\n"
        "    fields:\n"
        "      x|contains: y\n" /* 9 */
        "  - name: c\n"
        "    events: {product: zeek}\n"
        "    fields:\n"
        "      x: [y, [z]]\n" /* 13 */
        "  - events: {product: zeek}\n" /* 14: no name */
        "    fields: {x: y}\n"
        "  - name: ok\n"
        "    events: {product: zeek}\n"
        "    fields: {x: [y, z]}\n"
        "  - name: e\n"
        "    events: {product: zeek}\n" /* 20: neither fields nor serves */
        "other: 1\n";                   /* 21 */
    kb_fieldmap *fm = kb_fieldmap_new();
    (void)state;
    errs[0] = 0;
    nerrs = 0;
    nerrs = kb_fieldmap_load_mem(fm, "bad.yaml", bad, strlen(bad), on_err, NULL);
    assert_int_equal(nerrs, 6);
    assert_int_equal(kb_fieldmap_count(fm), 1);
    assert_non_null(strstr(errs, "bad.yaml:4: a logsource key is product, category or service"));
    assert_non_null(strstr(errs, "bad.yaml:9: a rule field name carries no modifiers"));
    assert_non_null(strstr(errs, "bad.yaml:13: an event field name must be a non-empty string"));
    assert_non_null(strstr(errs, "bad.yaml:14: a source needs a name"));
    assert_non_null(strstr(errs, "bad.yaml:19: a source needs fields: or serves:"));
    assert_non_null(strstr(errs, "bad.yaml:21: unknown key"));
    kb_fieldmap_free(fm);

    fm = kb_fieldmap_new();
    errs[0] = 0;
    assert_int_equal(kb_fieldmap_load_mem(fm, "y.yaml", "sources: [a\n", 12, on_err, NULL), 1);
    assert_non_null(strstr(errs, "y.yaml:"));
    assert_int_equal(kb_fieldmap_load_file(fm, "/nonexistent/fm.yaml", on_err, NULL), KB_EIO);
    kb_fieldmap_free(fm);
}

static void aliases_and_variants(void **state)
{
    kb_fieldmap_stats st;
    kb_ruleset *rs = mapped(&st);
    const kb_logsource zeek = {"zeek", NULL, "dns"}, eve = {"suricata", "dns", "dns"};
    const kb_logsource win = {"windows", "dns_query", "sysmon"};
    char got[256];
    (void)state;

    /* r-query, r-absent read `query` (eve-dns aliases); the three dns rules
     * get a variant for zeek-dns; r-win is untouched */
    assert_int_equal(st.aliased_rules, 2);
    assert_int_equal(st.variants, 3);
    assert_int_equal(kb_ruleset_count(rs), 7);
    assert_string_equal(kb_rule_meta_of(kb_ruleset_rule(rs, 4))->fieldmap, "zeek-dns");
    assert_string_equal(kb_rule_meta_of(kb_ruleset_rule(rs, 4))->ls.product, "zeek");
    assert_string_equal(kb_rule_meta_of(kb_ruleset_rule(rs, 4))->id, "r-query");
    assert_null(kb_rule_meta_of(kb_ruleset_rule(rs, 0))->fieldmap);

    /* Zeek: the rules meet the events through the variants only */
    hits(rs, "{\"query\":\"a.evil\",\"qtype_name\":\"TXT\",\"answers\":[\"x IEX y\"]}", &zeek, got,
         sizeof got);
    assert_string_equal(got, "r-query,r-txt,");
    /* Suricata: aliases; either name carries the value */
    hits(rs, "{\"dns\":{\"rrname\":\"b.evil\"}}", &eve, got, sizeof got);
    assert_string_equal(got, "r-query,");
    hits(rs, "{\"dns\":{\"query\":\"b.evil\"}}", &eve, got, sizeof got);
    assert_string_equal(got, "r-query,");
    hits(rs, "{\"query\":\"b.evil\"}", &eve, got, sizeof got);
    assert_string_equal(got, "r-query,");
    /* `query: null` holds only when every mapped name is absent */
    hits(rs, "{\"x\":1}", &eve, got, sizeof got);
    assert_string_equal(got, "r-absent,");
    hits(rs, "{\"x\":1,\"dns\":{\"rrname\":\"b\"}}", &eve, got, sizeof got);
    assert_string_equal(got, "");
    /* a source the map does not name: nothing */
    hits(rs, "{\"query\":\"a.evil\",\"QueryName\":\"a.evil\"}", &win, got, sizeof got);
    assert_string_equal(got, "");
    kb_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_errors),
        cmocka_unit_test(aliases_and_variants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
