/* YAML tree: kinds, order, styles, lines, multi-document, limits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "base/yaml.h"

static void tree(void **state)
{
    const char *s = "b: 1\na: 'null'\nc: null\nd: [x, \"y\"]\ne:\n  - k: v\nf: |\n  lit\ng: 1.5e3\nh: True\n";
    kb_yaml *y;
    kb_yaml_error err;
    const kb_yaml_node *root, *n;
    int64_t iv;
    int b;
    (void)state;

    assert_int_equal(kb_yaml_parse(s, strlen(s), NULL, &y, &err), KB_OK);
    assert_int_equal(kb_yaml_ndocs(y), 1);
    root = kb_yaml_doc(y, 0);
    assert_int_equal(root->kind, KB_YAML_MAP);
    assert_int_equal(root->n, 8);
    /* key order kept */
    assert_string_equal(root->items[0]->str, "b");
    assert_string_equal(root->items[2]->str, "a");
    n = kb_yaml_get(root, "b");
    assert_true(kb_yaml_int(n, &iv));
    assert_int_equal(iv, 1);
    assert_int_equal(n->line, 1);
    assert_int_equal(n->col, 4);
    n = kb_yaml_get(root, "a");
    assert_int_equal(n->style, KB_YAML_SQUOTED);
    assert_false(kb_yaml_is_null(n)); /* quoted 'null' is a string */
    assert_true(kb_yaml_is_str(n));
    assert_true(kb_yaml_is_null(kb_yaml_get(root, "c")));
    n = kb_yaml_get(root, "d");
    assert_int_equal(n->kind, KB_YAML_SEQ);
    assert_int_equal(n->style, KB_YAML_FLOW);
    assert_int_equal(n->n, 2);
    assert_int_equal(n->items[1]->style, KB_YAML_DQUOTED);
    n = kb_yaml_get(root, "e");
    assert_int_equal(n->items[0]->kind, KB_YAML_MAP);
    assert_string_equal(kb_yaml_get(n->items[0], "k")->str, "v");
    assert_int_equal(kb_yaml_get(n->items[0], "k")->line, 6);
    n = kb_yaml_get(root, "f");
    assert_int_equal(n->style, KB_YAML_LITERAL);
    assert_string_equal(n->str, "lit\n");
    assert_true(kb_yaml_is_number(kb_yaml_get(root, "g")));
    assert_false(kb_yaml_int(kb_yaml_get(root, "g"), &iv));
    assert_true(kb_yaml_bool(kb_yaml_get(root, "h"), &b));
    assert_int_equal(b, 1);
    assert_null(kb_yaml_get(root, "zz"));
    kb_yaml_free(y);
}

static void multi_doc_and_tags(void **state)
{
    const char *s = "a: 1\n---\n- !!str 12\n- 12\n---\n";
    kb_yaml *y;
    kb_yaml_error err;
    const kb_yaml_node *d;
    int64_t iv;
    (void)state;
    assert_int_equal(kb_yaml_parse(s, strlen(s), NULL, &y, &err), KB_OK);
    assert_int_equal(kb_yaml_ndocs(y), 3);
    d = kb_yaml_doc(y, 1);
    assert_int_equal(d->line, 3);
    assert_non_null(d->items[0]->tag);
    assert_false(kb_yaml_int(d->items[0], &iv)); /* tagged string */
    assert_true(kb_yaml_int(d->items[1], &iv));
    assert_true(kb_yaml_is_null(kb_yaml_doc(y, 2)));
    kb_yaml_free(y);
    assert_int_equal(kb_yaml_parse("", 0, NULL, &y, &err), KB_OK);
    assert_int_equal(kb_yaml_ndocs(y), 0);
    kb_yaml_free(y);
}

static void errors_and_limits(void **state)
{
    kb_yaml *y = (kb_yaml *)1;
    kb_yaml_error err;
    kb_yaml_limits lim = {8, 100, 1000};
    kb_buf b;
    (void)state;

    assert_int_equal(kb_yaml_parse("a: [1\nb: 2\n", 11, NULL, &y, &err), KB_EPARSE);
    assert_null(y);
    assert_non_null(err.reason);
    assert_true(err.line >= 1);
    assert_int_equal(kb_yaml_parse("a: &x 1\nb: *x\n", 14, NULL, &y, &err), KB_EPARSE);
    assert_string_equal(err.reason, "YAML aliases are not supported");
    assert_int_equal(err.line, 2);
    kb_buf_init(&b, 0);
    for (int i = 0; i < 20; i++)
        kb_buf_putc(&b, '[');
    assert_int_equal(kb_yaml_parse(b.data, b.len, &lim, &y, &err), KB_ELIMIT);
    assert_string_equal(err.reason, "YAML nesting too deep");
    kb_buf_clear(&b);
    kb_buf_putc(&b, '[');
    for (int i = 0; i < 200; i++)
        kb_buf_puts(&b, "1,");
    kb_buf_putc(&b, ']');
    assert_int_equal(kb_yaml_parse(b.data, b.len, &lim, &y, &err), KB_ELIMIT);
    kb_buf_clear(&b);
    for (int i = 0; i < 2000; i++)
        kb_buf_putc(&b, 'x');
    assert_int_equal(kb_yaml_parse(b.data, b.len, &lim, &y, &err), KB_ELIMIT);
    /* a hostile depth with default limits: refused, no recursion */
    kb_buf_clear(&b);
    for (int i = 0; i < 100000; i++)
        kb_buf_putc(&b, '[');
    assert_int_equal(kb_yaml_parse(b.data, b.len, NULL, &y, &err), KB_ELIMIT);
    kb_buf_release(&b);
    assert_int_equal(kb_yaml_parse_file("/nonexistent/x.yml", NULL, &y, &err), KB_EIO);
}

static void sigma_rule_file(void **state)
{
    kb_yaml *y;
    kb_yaml_error err;
    const kb_yaml_node *det;
    (void)state;
    assert_int_equal(kb_yaml_parse_file(KOBAN_SHARED_DATA "/sigma/rules/windows/process_creation/"
                                        "proc_creation_win_susp_proc_wrong_parent.yml",
                                        NULL, &y, &err),
                     KB_OK);
    det = kb_yaml_get(kb_yaml_doc(y, 0), "detection");
    assert_non_null(det);
    assert_int_equal(det->kind, KB_YAML_MAP);
    assert_true(kb_yaml_is_null(kb_yaml_get(kb_yaml_get(det, "filter_null")->items[0], "ParentImage")));
    kb_yaml_free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tree),
        cmocka_unit_test(multi_doc_and_tags),
        cmocka_unit_test(errors_and_limits),
        cmocka_unit_test(sigma_rule_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
