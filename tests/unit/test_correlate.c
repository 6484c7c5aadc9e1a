/* Sigma correlation rules: loading, refusing, and each type driven with
 * crafted alerts, including window edges and out-of-order arrival. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/correlate.h"
#include "event/json.h"

static kb_names *names;
static char errs[4096];
static int nerrs;

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    size_t n = strlen(errs);
    (void)ud, (void)path, (void)line, (void)reason;
    nerrs++;
    snprintf(errs + n, sizeof errs - n, "%s\n", msg);
}

/* Alerts received. */
typedef struct got {
    int n;
    char title[8][128];
    char group[8][256];
    double value[8];
    int64_t ts[8], first[8];
    int hidden[8];
} got;

static void on_alert(void *ud, const kb_correl_alert *a)
{
    got *g = ud;
    if (g->n < 8) {
        snprintf(g->title[g->n], sizeof g->title[0], "%s", a->meta->title);
        snprintf(g->group[g->n], sizeof g->group[0], "%s", a->group);
        g->value[g->n] = a->value;
        g->ts[g->n] = a->ts;
        g->first[g->n] = a->first_ts;
        g->hidden[g->n] = a->hidden;
    }
    g->n++;
}

static const char base_rules[] =
    "title: A\nname: rule_a\nid: 11111111-0000-0000-0000-00000000000a\n"
    "logsource: {product: test}\ndetection: {sel: {x: a}, condition: sel}\n"
    "---\n"
    "title: B\nname: rule_b\nlogsource: {product: test}\n"
    "detection: {sel: {x: b}, condition: sel}\n"
    "---\n"
    "title: C\nname: rule_c\nlogsource: {product: test}\n"
    "detection: {sel: {x: c}, condition: sel}\n";

static kb_ruleset *load(const char *correl)
{
    kb_ruleset *rs = kb_ruleset_new(names);
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "%s---\n%s", base_rules, correl);
    errs[0] = 0;
    nerrs = 0;
    kb_ruleset_load_mem(rs, "t.yml", buf, (size_t)n, on_err, NULL);
    return rs;
}

static const kb_rule *rule_named(const kb_ruleset *rs, const char *title)
{
    for (size_t i = 0; i < kb_ruleset_count(rs); i++)
        if (strcmp(kb_rule_meta_of(kb_ruleset_rule(rs, i))->title, title) == 0)
            return kb_ruleset_rule(rs, i);
    fail_msg("no rule %s", title);
    return NULL;
}

#define SEC(x) ((int64_t)(x) * KB_NS_PER_SEC)

/* Pushes an alert of rule `title` at second `t` with "field=value;..." */
static int push(kb_correl *c, const kb_ruleset *rs, const char *title, int64_t t, const char *kv)
{
    const kb_rule *r = rule_named(rs, title);
    const char *const *fields;
    size_t nf = kb_correl_fields(c, r, &fields);
    kb_str vals[16];
    for (size_t i = 0; i < nf; i++) {
        size_t fl = strlen(fields[i]);
        const char *p = kv;
        vals[i] = (kb_str){NULL, 0};
        while (p && *p) {
            const char *eq = strchr(p, '='), *end = strchr(p, ';');
            if (!end)
                end = p + strlen(p);
            if (eq && eq < end && (size_t)(eq - p) == fl && memcmp(p, fields[i], fl) == 0)
                vals[i] = (kb_str){eq + 1, (size_t)(end - eq - 1)};
            p = *end ? end + 1 : NULL;
        }
    }
    return kb_correl_push_values(c, r, t, "h1", vals, nf);
}

static kb_correl *engine(kb_ruleset *rs, got *g, const kb_correl_opts *o)
{
    kb_correl *c = kb_correl_new(rs, o, on_alert, g, on_err, NULL);
    assert_non_null(c);
    memset(g, 0, sizeof *g);
    return c;
}

static void event_count_edges(void **state)
{
    got g;
    kb_ruleset *rs = load("title: Burst\ncorrelation:\n  type: event_count\n  rules: rule_a\n"
                          "  group-by: [user]\n  timespan: 10s\n  condition: {gte: 3}\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_int_equal(kb_correl_count(c), 1);
    /* exactly timespan apart: inside (edges included) */
    assert_int_equal(push(c, rs, "A", SEC(100), "user=bob"), 0);
    assert_int_equal(push(c, rs, "A", SEC(105), "user=bob"), 0);
    assert_int_equal(push(c, rs, "A", SEC(110), "user=bob"), 1);
    assert_string_equal(g.group[0], "user=bob");
    assert_true(g.value[0] == 3);
    assert_true(g.first[0] == SEC(100) && g.ts[0] == SEC(110));
    /* the window starts afresh; one nanosecond past the edge: out */
    assert_int_equal(push(c, rs, "A", SEC(200), "user=bob"), 0);
    assert_int_equal(push(c, rs, "A", SEC(205), "user=bob"), 0);
    assert_int_equal(kb_correl_push_values(c, rule_named(rs, "A"), SEC(210) + 1, NULL,
                                           (kb_str[]){{"bob", 3}}, 1), 0);
    assert_int_equal(push(c, rs, "A", SEC(211), "user=bob"), 1);
    /* other groups do not mix */
    assert_int_equal(push(c, rs, "A", SEC(300), "user=bob"), 0);
    assert_int_equal(push(c, rs, "A", SEC(301), "user=eve"), 0);
    assert_int_equal(push(c, rs, "A", SEC(302), "user=bob"), 0);
    /* a missing group-by field is a group of its own */
    assert_int_equal(push(c, rs, "A", SEC(303), ""), 0);
    assert_int_equal(push(c, rs, "A", SEC(304), ""), 0);
    assert_int_equal(push(c, rs, "A", SEC(305), ""), 1);
    assert_string_equal(g.group[2], "user=(none)");
    /* B is not referenced */
    assert_int_equal(push(c, rs, "B", SEC(306), ""), 0);
    {
        kb_correl_stats st;
        kb_correl_stats_get(c, &st);
        assert_int_equal(st.fired, 3);
        assert_int_equal(st.unrouted, 1);
        assert_int_equal(st.groups, 3);
    }
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void event_count_conditions(void **state)
{
    got g;
    kb_ruleset *rs = load("title: Range\ncorrelation:\n  type: event_count\n  rules: [rule_a]\n"
                          "  timespan: 1m\n  condition: {gt: 2, lte: 3}\n"
                          "---\ntitle: Exactly\ncorrelation:\n  type: event_count\n"
                          "  rules: [rule_b]\n  timespan: 1m\n  condition: {eq: 2}\n"
                          "---\ntitle: Not one\ncorrelation:\n  type: event_count\n"
                          "  rules: [rule_c]\n  timespan: 1m\n  condition: {neq: 1}\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_int_equal(push(c, rs, "A", SEC(1), ""), 0);
    assert_int_equal(push(c, rs, "A", SEC(2), ""), 0);
    assert_int_equal(push(c, rs, "A", SEC(3), ""), 1); /* 3: > 2 and <= 3 */
    assert_int_equal(push(c, rs, "B", SEC(1), ""), 0);
    assert_int_equal(push(c, rs, "B", SEC(2), ""), 1);
    assert_int_equal(push(c, rs, "C", SEC(1), ""), 0);
    assert_int_equal(push(c, rs, "C", SEC(2), ""), 1);
    assert_string_equal(g.title[2], "Not one");
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void value_count_spraying(void **state)
{
    got g;
    kb_ruleset *rs = load("title: Spray\ncorrelation:\n  type: value_count\n  rules: rule_a\n"
                          "  group-by: src\n  timespan: 5m\n  condition: {gte: 3, field: user}\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_int_equal(push(c, rs, "A", SEC(0), "src=1.2.3.4;user=a"), 0);
    assert_int_equal(push(c, rs, "A", SEC(10), "src=1.2.3.4;user=a"), 0); /* same value */
    assert_int_equal(push(c, rs, "A", SEC(20), "src=1.2.3.4;user=b"), 0);
    assert_int_equal(push(c, rs, "A", SEC(30), "src=9.9.9.9;user=c"), 0); /* other group */
    assert_int_equal(push(c, rs, "A", SEC(40), "src=1.2.3.4"), 0);       /* no value */
    /* the first 'a' leaves the window (0 < 320 - 300) but the second stays */
    assert_int_equal(push(c, rs, "A", SEC(310), "src=1.2.3.4;user=c"), 1);
    assert_string_equal(g.group[0], "src=1.2.3.4");
    assert_true(g.value[0] == 3);
    {
        kb_correl_stats st;
        kb_correl_stats_get(c, &st);
        assert_int_equal(st.missing_value, 1);
    }
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void temporal_unordered(void **state)
{
    got g;
    kb_ruleset *rs = load("title: Together\ncorrelation:\n  type: temporal\n"
                          "  rules: [rule_a, rule_b, rule_c]\n  group-by: [host]\n"
                          "  timespan: 1m\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_int_equal(push(c, rs, "C", SEC(0), "host=x"), 0);
    assert_int_equal(push(c, rs, "A", SEC(30), "host=x"), 0);
    assert_int_equal(push(c, rs, "B", SEC(61), "host=x"), 0); /* C at 0 left the window */
    assert_int_equal(push(c, rs, "C", SEC(62), "host=y"), 0); /* other host */
    assert_int_equal(push(c, rs, "C", SEC(70), "host=x"), 1);
    assert_true(g.value[0] == 3);
    assert_true(g.first[0] == SEC(30));
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void temporal_ordered_out_of_order(void **state)
{
    got g;
    kb_correl_opts o;
    kb_ruleset *rs = load("title: Chain\ncorrelation:\n  type: temporal_ordered\n"
                          "  rules: [rule_a, rule_b]\n  group-by: [host]\n  timespan: 10m\n");
    kb_correl *c;
    (void)state;
    kb_correl_opts_default(&o);
    o.lateness = SEC(60);
    c = engine(rs, &g, &o);
    assert_int_equal(nerrs, 0);
    /* B before A in time: no chain */
    assert_int_equal(push(c, rs, "B", SEC(1000), "host=x"), 0);
    assert_int_equal(push(c, rs, "A", SEC(1001), "host=x"), 0);
    /* now B after A: the chain A(1001) -> B(1002) */
    assert_int_equal(push(c, rs, "B", SEC(1002), "host=x"), 1);
    /* out of order within the lateness: B arrives first, A (earlier) after */
    assert_int_equal(push(c, rs, "B", SEC(2030), "host=y"), 0);
    assert_int_equal(push(c, rs, "A", SEC(2000), "host=y"), 1);
    assert_true(g.first[1] == SEC(2000) && g.ts[1] == SEC(2030));
    /* past the lateness: dropped and counted */
    assert_int_equal(push(c, rs, "A", SEC(1900), "host=z"), 0);
    {
        kb_correl_stats st;
        kb_correl_stats_get(c, &st);
        assert_int_equal(st.late, 1);
    }
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void value_sum_avg_percentile(void **state)
{
    got g;
    kb_ruleset *rs = load("title: Sum\ncorrelation:\n  type: value_sum\n  rules: rule_a\n"
                          "  group-by: src\n  timespan: 1h\n  condition: {gt: 1000, field: bytes}\n"
                          "---\ntitle: Avg\ncorrelation:\n  type: value_avg\n  rules: rule_b\n"
                          "  group-by: src\n  timespan: 1h\n  condition: {gte: 50, field: bytes}\n"
                          "---\ntitle: P90\ncorrelation:\n  type: value_percentile\n"
                          "  rules: rule_c\n  group-by: src\n  timespan: 1h\n"
                          "  condition: {field: ms, percentile: 90, gte: 900}\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_int_equal(push(c, rs, "A", SEC(1), "src=a;bytes=600"), 0);
    assert_int_equal(push(c, rs, "A", SEC(2), "src=a;bytes=oops"), 0); /* not a number */
    assert_int_equal(push(c, rs, "A", SEC(3), "src=a;bytes=401"), 1);
    assert_true(g.value[0] == 1001);
    assert_int_equal(push(c, rs, "B", SEC(1), "src=a;bytes=10"), 0);
    assert_int_equal(push(c, rs, "B", SEC(2), "src=a;bytes=80"), 0);  /* avg 45 */
    assert_int_equal(push(c, rs, "B", SEC(3), "src=a;bytes=60"), 1);  /* avg 50 */
    assert_true(g.value[1] == 50);
    for (int i = 0; i < 9; i++)
        assert_int_equal(push(c, rs, "C", SEC(10 + i), "src=a;ms=100"), 0);
    /* 10 values, nearest-rank 90th is the 9th smallest: still 100 */
    assert_int_equal(push(c, rs, "C", SEC(20), "src=a;ms=5000"), 0);
    assert_int_equal(push(c, rs, "C", SEC(21), "src=a;ms=5000"), 1);
    assert_true(g.value[2] == 5000);
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void aliases_and_nesting(void **state)
{
    got g;
    kb_ruleset *rs = load(
        "title: Many A\nname: many_a\ncorrelation:\n  type: event_count\n  rules: rule_a\n"
        "  group-by: [ip]\n  timespan: 10m\n  condition: {gte: 2}\n"
        "  aliases: {ip: {rule_a: src}}\n"
        "---\n"
        "title: Many A then B\nlevel: high\ncorrelation:\n  type: temporal_ordered\n"
        "  rules: [many_a, rule_b]\n  group-by: [ip]\n  timespan: 10m\n"
        "  aliases:\n    ip: {many_a: ip, rule_b: dst}\n");
    kb_correl *c = engine(rs, &g, NULL);
    (void)state;
    assert_int_equal(nerrs, 0);
    assert_false(kb_correl_generates(c, rule_named(rs, "A")));
    assert_true(kb_correl_generates(c, rule_named(rs, "C")));
    assert_int_equal(push(c, rs, "A", SEC(1), "src=10.0.0.1"), 0);
    assert_int_equal(push(c, rs, "A", SEC(2), "src=10.0.0.1"), 1); /* inner, hidden */
    assert_true(g.hidden[0]);
    assert_int_equal(push(c, rs, "B", SEC(3), "dst=10.0.0.2"), 0); /* other address */
    assert_int_equal(push(c, rs, "B", SEC(4), "dst=10.0.0.1"), 1);
    assert_string_equal(g.title[1], "Many A then B");
    assert_string_equal(g.group[1], "ip=10.0.0.1");
    assert_false(g.hidden[1]);
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

/* correlation.generate: the deployment overrides a rule's `generate`, by
 * name, id or title; an override naming no correlation rule is reported. */
static void generate_overrides(void **state)
{
    got g;
    kb_ruleset *rs = load(
        "title: Many A\nname: many_a\ncorrelation:\n  type: event_count\n  rules: rule_a\n"
        "  group-by: [ip]\n  timespan: 10m\n  condition: {gte: 2}\n  generate: true\n"
        "---\n"
        "title: Many B\nid: 22222222-0000-0000-0000-00000000000b\ncorrelation:\n"
        "  type: event_count\n  rules: rule_b\n  group-by: [ip]\n  timespan: 10m\n"
        "  condition: {gte: 2}\n"
        "---\n"
        "title: Many C\ncorrelation:\n  type: event_count\n  rules: rule_c\n"
        "  group-by: [ip]\n  timespan: 10m\n  condition: {gte: 2}\n  generate: true\n");
    kb_correl_gen gen[] = {
        {"many_a", 0, 3},                                 /* by name: off */
        {"22222222-0000-0000-0000-00000000000b", 1, 4},   /* by id: on */
        {"Many C", 0, 5},                                 /* by title: off */
        {"no_such_rule", 0, 6},
    };
    kb_correl_opts o;
    kb_correl *c;
    (void)state;
    assert_int_equal(nerrs, 0);
    /* as written: A and C shown, B an input only */
    c = engine(rs, &g, NULL);
    assert_true(kb_correl_generates(c, rule_named(rs, "A")));
    assert_false(kb_correl_generates(c, rule_named(rs, "B")));
    assert_true(kb_correl_generates(c, rule_named(rs, "C")));
    kb_correl_free(c);
    kb_correl_opts_default(&o);
    o.gen = gen;
    o.ngen = 4;
    o.gen_path = "koban.yaml";
    c = engine(rs, &g, &o);
    assert_false(kb_correl_generates(c, rule_named(rs, "A")));
    assert_true(kb_correl_generates(c, rule_named(rs, "B")));
    assert_false(kb_correl_generates(c, rule_named(rs, "C")));
    assert_int_equal(nerrs, 1);
    assert_non_null(strstr(errs, "koban.yaml:6: correlation.generate: no correlation rule with "
                                 "id, name or title 'no_such_rule'"));
    /* the correlations still fire */
    assert_int_equal(push(c, rs, "A", SEC(1), "ip=10.0.0.1"), 0);
    assert_int_equal(push(c, rs, "A", SEC(2), "ip=10.0.0.1"), 1);
    assert_string_equal(g.title[0], "Many A");
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void refused_rules(void **state)
{
    kb_ruleset *rs = load(
        "title: Typo type\ncorrelation: {type: event_cnt, rules: rule_a, timespan: 1m,"
        " condition: {gte: 1}}\n"
        "---\ntitle: No span\ncorrelation: {type: event_count, rules: rule_a,"
        " condition: {gte: 1}}\n"
        "---\ntitle: Bad key\ncorrelation: {type: event_count, rules: rule_a, timespan: 1m,"
        " groupby: [x], condition: {gte: 1}}\n"
        "---\ntitle: Bad cond\ncorrelation: {type: event_count, rules: rule_a, timespan: 1m,"
        " condition: {more: 1}}\n"
        "---\ntitle: No field\ncorrelation: {type: value_count, rules: rule_a, timespan: 1m,"
        " condition: {gte: 1}}\n"
        "---\ntitle: Unknown rule\ncorrelation: {type: event_count, rules: [rule_a, nope],"
        " timespan: 1m, condition: {gte: 1}}\n"
        "---\ntitle: Bad alias\ncorrelation: {type: event_count, rules: rule_a, timespan: 1m,"
        " group-by: ip, aliases: {ip: {rule_b: x}}, condition: {gte: 1}}\n"
        "---\ntitle: Inner\nname: inner\ncorrelation: {type: event_count, rules: rule_a,"
        " group-by: user, timespan: 1m, condition: {gte: 1}}\n"
        "---\ntitle: Outer bad field\ncorrelation: {type: event_count, rules: inner,"
        " group-by: host, timespan: 1m, condition: {gte: 1}}\n"
        "---\ntitle: Loop 1\nname: l1\ncorrelation: {type: event_count, rules: l2,"
        " timespan: 1m, condition: {gte: 1}}\n"
        "---\ntitle: Loop 2\nname: l2\ncorrelation: {type: event_count, rules: l1,"
        " timespan: 1m, condition: {gte: 1}}\n"
        "---\ntitle: Good\ncorrelation: {type: event_count, rules: rule_c, timespan: 1m,"
        " condition: {gte: 1}}\n");
    got g;
    kb_correl *c;
    (void)state;
    /* syntax errors are reported while loading */
    assert_int_equal(nerrs, 5);
    assert_non_null(strstr(errs, "t.yml:18: unknown correlation type 'event_cnt'"));
    assert_non_null(strstr(errs, "timespan must be a number and a unit"));
    assert_non_null(strstr(errs, "unknown key 'groupby' in correlation"));
    assert_non_null(strstr(errs, "unknown condition 'more'"));
    assert_non_null(strstr(errs, "value_count needs a condition with a field"));
    assert_int_equal(kb_ruleset_count(rs), 3);
    assert_int_equal(kb_ruleset_correl_count(rs), 7);
    /* references when the engine is built */
    c = engine(rs, &g, NULL);
    assert_non_null(strstr(errs, "unknown rule 'nope' in rules"));
    assert_non_null(strstr(errs, "alias 'ip' names rule 'rule_b', which is not in rules"));
    assert_non_null(strstr(errs, "unknown field 'host' for correlation 'inner'"));
    assert_non_null(strstr(errs, "cycle"));
    assert_int_equal(nerrs, 5 + 5);
    assert_int_equal(kb_correl_count(c), 2); /* Inner and Good */
    assert_int_equal(push(c, rs, "C", SEC(1), ""), 1);
    assert_string_equal(g.title[0], "Good");
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void group_cap_policies(void **state)
{
    got g;
    kb_correl_opts o;
    kb_correl_stats st;
    char kv[32];
    kb_ruleset *rs = load("title: Pair\ncorrelation: {type: event_count, rules: rule_a,"
                          " group-by: k, timespan: 1h, condition: {gte: 2}}\n");
    kb_correl *c;
    (void)state;
    kb_correl_opts_default(&o);
    o.max_groups = 100;
    c = engine(rs, &g, &o);
    for (int i = 0; i < 1000; i++) {
        snprintf(kv, sizeof kv, "k=%d", i);
        assert_int_equal(push(c, rs, "A", SEC(i), kv), 0);
    }
    kb_correl_stats_get(c, &st);
    assert_int_equal(st.groups, 100);
    assert_int_equal(st.evicted, 900);
    assert_true(st.memory <= st.memory_cap);
    /* the newest groups are kept: k=999 completes, k=0 starts again */
    assert_int_equal(push(c, rs, "A", SEC(1000), "k=999"), 1);
    assert_int_equal(push(c, rs, "A", SEC(1000), "k=0"), 0);
    kb_correl_free(c);

    o.overflow = kb_correl_overflow_parse("drop-new");
    assert_int_equal(o.overflow, KB_CORREL_DROP_NEW);
    c = engine(rs, &g, &o);
    for (int i = 0; i < 1000; i++) {
        snprintf(kv, sizeof kv, "k=%d", i);
        push(c, rs, "A", SEC(i % 10), kv);
    }
    kb_correl_stats_get(c, &st);
    assert_int_equal(st.groups, 100);
    assert_int_equal(st.refused, 900);
    assert_int_equal(push(c, rs, "A", SEC(11), "k=5"), 1); /* kept group still works */
    assert_int_equal(kb_correl_flush(c), 100);
    kb_correl_stats_get(c, &st);
    assert_int_equal(st.groups, 0);
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void expiry_keeps_memory_flat(void **state)
{
    got g;
    kb_correl_stats st;
    char kv[32];
    kb_correl_opts o;
    kb_ruleset *rs = load("title: Pair\ncorrelation: {type: event_count, rules: rule_a,"
                          " group-by: k, timespan: 10s, condition: {gte: 2}}\n");
    kb_correl *c;
    (void)state;
    kb_correl_opts_default(&o);
    o.lateness = SEC(5);
    c = engine(rs, &g, &o);
    for (int i = 0; i < 100000; i++) {
        snprintf(kv, sizeof kv, "k=%d", i);
        push(c, rs, "A", SEC(i), kv);
    }
    kb_correl_stats_get(c, &st);
    assert_true(st.groups < 40);
    assert_true(st.expired > 99000);
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static void packed_values(void **state)
{
    got g;
    kb_arena *arena = kb_arena_new(1 << 16, 0);
    kb_event ev;
    kb_json_error je;
    kb_buf b;
    const char *json = "{\"x\":\"a\",\"user\":{\"name\":\"bob\"}}";
    kb_ruleset *rs = load("title: Two\ncorrelation: {type: event_count, rules: rule_a,"
                          " group-by: [user.name, host.name], timespan: 1m,"
                          " condition: {gte: 2}}\n");
    kb_correl *c = engine(rs, &g, NULL);
    const kb_rule *a = rule_named(rs, "A");
    (void)state;
    kb_buf_init(&b, 0);
    kb_event_init(&ev, names, arena);
    assert_int_equal(kb_json_flatten(&ev, json, strlen(json), NULL, &je), KB_OK);
    assert_int_equal(kb_correl_pack(c, a, &ev, &b), KB_OK);
    assert_int_equal(kb_correl_push_packed(c, a, SEC(1), "h", b.data, b.len), 0);
    assert_int_equal(kb_correl_push(c, a, SEC(2), "h", &ev), 1);
    assert_string_equal(g.group[0], "user.name=bob host.name=(none)");
    /* a truncated blob is refused */
    assert_int_equal(kb_correl_push_packed(c, a, SEC(3), "h", b.data, b.len - 1), KB_EPARSE);
    assert_int_equal(kb_correl_push_packed(c, a, SEC(3), "h", "\xff\xff", 2), KB_EPARSE);
    kb_buf_release(&b);
    kb_arena_free(arena);
    kb_correl_free(c);
    kb_ruleset_free(rs);
}

static int setup(void **state)
{
    (void)state;
    names = kb_names_new(0);
    return names ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kb_names_free(names);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_count_edges),
        cmocka_unit_test(event_count_conditions),
        cmocka_unit_test(value_count_spraying),
        cmocka_unit_test(temporal_unordered),
        cmocka_unit_test(temporal_ordered_out_of_order),
        cmocka_unit_test(value_sum_avg_percentile),
        cmocka_unit_test(aliases_and_nesting),
        cmocka_unit_test(generate_overrides),
        cmocka_unit_test(refused_rules),
        cmocka_unit_test(group_cap_policies),
        cmocka_unit_test(expiry_keeps_memory_flat),
        cmocka_unit_test(packed_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
