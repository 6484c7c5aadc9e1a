/* koban's own correlation rules (rules/correlation/): each loads with the
 * rest of rules/, and each runs the cases of its `tests:` key: a case is a
 * list of alerts ({rule: ID or name, at: seconds, repeat: N, every:
 * seconds, field: value...}) that must (match) or must not (nomatch) make
 * the correlation fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/yaml.h"
#include "detect/correlate.h"

/* ctest runs unit tests from the source root (CMakeLists.txt). */
#define RULES "rules"

static kb_names *names;
static kb_ruleset *rs;
static int load_errors;

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    (void)ud, (void)path, (void)line, (void)reason;
    fprintf(stderr, "%s\n", msg);
    load_errors++;
}

typedef struct push {
    const kb_rule *rule;
    int64_t ts;
    const kb_yaml_node *item;
} push;

static int push_cmp(const void *pa, const void *pb)
{
    const push *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a < b ? -1 : 1;
}

typedef struct fired {
    const char *title;
    int n;
} fired;

static void on_alert(void *ud, const kb_correl_alert *a)
{
    fired *f = ud;
    if (strcmp(a->meta->title, f->title) == 0)
        f->n++;
}

static int num(const kb_yaml_node *n, int64_t dflt)
{
    int64_t v;
    return n && kb_yaml_int(n, &v) ? (int)v : (int)dflt;
}

/* Runs one case; returns how many times `title` fired. */
static int run_case(const char *title, const kb_yaml_node *cs)
{
    fired f = {title, 0};
    kb_correl *c = kb_correl_new(rs, NULL, on_alert, &f, NULL, NULL);
    push *p = NULL;
    size_t np = 0;
    assert_non_null(c);
    assert_int_equal(cs->kind, KB_YAML_SEQ);
    for (size_t i = 0; i < cs->n; i++) {
        const kb_yaml_node *it = cs->items[i], *rn = kb_yaml_get(it, "rule");
        const kb_rule *r;
        int rep = num(kb_yaml_get(it, "repeat"), 1), every = num(kb_yaml_get(it, "every"), 1);
        int at = num(kb_yaml_get(it, "at"), 0);
        assert_non_null(rn);
        r = kb_correl_find_rule(rs, rn->str);
        if (!r)
            fail_msg("%s: case names unknown rule %s", title, rn->str);
        p = realloc(p, (np + (size_t)rep) * sizeof *p);
        assert_non_null(p);
        for (int k = 0; k < rep; k++)
            p[np++] = (push){r, (int64_t)(at + k * every) * KB_NS_PER_SEC, it};
    }
    qsort(p, np, sizeof *p, push_cmp);
    for (size_t i = 0; i < np; i++) {
        const char *const *fields;
        size_t nf = kb_correl_fields(c, p[i].rule, &fields);
        kb_str vals[64];
        assert_true(nf <= 64);
        for (size_t k = 0; k < nf; k++) {
            const kb_yaml_node *v = kb_yaml_get(p[i].item, fields[k]);
            vals[k] = v && v->kind == KB_YAML_SCALAR ? (kb_str){v->str, v->len} : (kb_str){NULL, 0};
        }
        assert_true(kb_correl_push_values(c, p[i].rule, p[i].ts, "h", vals, nf) >= 0);
    }
    free(p);
    kb_correl_free(c);
    return f.n;
}

static void shipped_rules(void **state)
{
    size_t with_tests = 0, cases = 0;
    (void)state;
    assert_int_equal(load_errors, 0);
    assert_true(kb_ruleset_correl_count(rs) >= 6);
    for (size_t i = 0; i < kb_ruleset_correl_count(rs); i++) {
        const kb_correl_rule *cr = kb_ruleset_correl(rs, i);
        const kb_rule_meta *m = kb_correl_meta(cr);
        kb_yaml *y = NULL;
        kb_yaml_error ye;
        assert_true(kb_correl_rule_ok(cr));
        if (!strstr(m->path, "/correlation/"))
            continue;
        assert_string_equal(m->author, "koban authors");
        assert_int_equal(kb_yaml_parse_file(m->path, NULL, &y, &ye), KB_OK);
        for (size_t d = 0; d < kb_yaml_ndocs(y); d++) {
            const kb_yaml_node *doc = kb_yaml_doc(y, d), *t = kb_yaml_get(doc, "title");
            const kb_yaml_node *tests = kb_yaml_get(doc, "tests"), *mt, *nm;
            if (!t || strcmp(t->str, m->title) != 0 || !tests)
                continue;
            with_tests++;
            mt = kb_yaml_get(tests, "match");
            nm = kb_yaml_get(tests, "nomatch");
            assert_non_null(mt);
            for (size_t k = 0; k < mt->n; k++, cases++)
                if (run_case(m->title, mt->items[k]) < 1)
                    fail_msg("%s: match[%zu] did not fire", m->title, k);
            for (size_t k = 0; nm && k < nm->n; k++, cases++)
                if (run_case(m->title, nm->items[k]) != 0)
                    fail_msg("%s: nomatch[%zu] fired", m->title, k);
        }
        kb_yaml_free(y);
    }
    assert_int_equal(with_tests, 7);
    fprintf(stderr, "correlation rules: %zu with tests, %zu cases\n", with_tests, cases);
}

static int setup(void **state)
{
    (void)state;
    names = kb_names_new(0);
    rs = kb_ruleset_new(names);
    if (kb_ruleset_load_dir(rs, RULES, on_err, NULL) != 0)
        return -1;
    return kb_correl_resolve(rs, on_err, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kb_ruleset_free(rs);
    kb_names_free(names);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
