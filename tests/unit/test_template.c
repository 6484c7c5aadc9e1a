/* Templates: hostile indicators never leave their place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "respond/respond.h"
#include "store/hunt.h"

static const char hostile[] = "a\" or host.name:* or \"x'; rm -rf / $(id) `id`\n\\";

static int look(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                int *is_list)
{
    const char *val = ud;
    *is_list = 0;
    if (!kb_str_eqz(name, nlen, "ioc"))
        return 0;
    *v = val, *len = strlen(val);
    return 1;
}

static void test_hunt_literal(void **state)
{
    kb_buf b;
    const char *e = NULL;
    kb_hunt_error he;
    (void)state;
    kb_buf_init(&b, 65536);
    assert_int_equal(kb_tmpl_render("ip:{{ioc}}", 10, KB_ESC_HUNT, look, (void *)hostile, &b, &e),
                     KB_OK);
    assert_string_equal(b.data, "ip:\"a\\\" or host.name:* or \\\"x'; rm -rf / $(id) `id`\n\\\\\"");
    /* the query has exactly one term: the value stays one literal */
    kb_hunt *h = kb_hunt_parse(b.data, b.len, 0, &he);
    assert_non_null(h);
    kb_hunt_free(h);
    kb_buf_release(&b);
}

static void test_json_string(void **state)
{
    kb_buf b;
    const char *e = NULL;
    (void)state;
    kb_buf_init(&b, 65536);
    assert_int_equal(kb_tmpl_render("{\"ip\": {{ioc}}}", 15, KB_ESC_JSON, look, (void *)hostile,
                                    &b, &e), KB_OK);
    assert_string_equal(b.data,
                        "{\"ip\": \"a\\\" or host.name:* or \\\"x'; rm -rf / $(id) `id`\\n\\\\\"}");
    kb_buf_release(&b);
    /* NUL inside a value becomes \u0000 */
    kb_buf_init(&b, 64);
    assert_int_equal(kb_tmpl_escape("a\0b", 3, KB_ESC_JSON, 0, &b, &e), KB_OK);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    kb_buf_release(&b);
}

static void test_arg_and_url(void **state)
{
    kb_buf b;
    const char *e = NULL;
    (void)state;
    kb_buf_init(&b, 65536);
    /* newline refused in an argument; leading '-' refused */
    assert_int_equal(kb_tmpl_render("{{ioc}}", 7, KB_ESC_ARG, look, (void *)hostile, &b, &e),
                     KB_EINVAL);
    kb_buf_clear(&b);
    assert_int_equal(kb_tmpl_render("{{ioc}}", 7, KB_ESC_ARG, look, (void *)"-rf", &b, &e),
                     KB_EINVAL);
    kb_buf_clear(&b);
    assert_int_equal(kb_tmpl_render("--ip={{ioc}}", 12, KB_ESC_ARG, look, (void *)"1.2.3.4;id",
                                    &b, &e), KB_OK);
    assert_string_equal(b.data, "--ip=1.2.3.4;id"); /* one argv element, no shell */
    kb_buf_clear(&b);
    assert_int_equal(kb_tmpl_render("/h?q={{ioc}}", 12, KB_ESC_URL, look, (void *)"a&b=c/../$(x)\n",
                                    &b, &e), KB_OK);
    assert_string_equal(b.data, "/h?q=a%26b%3Dc%2F..%2F%24%28x%29%0A");
    kb_buf_clear(&b);
    assert_int_equal(kb_tmpl_escape("a\0b", 3, KB_ESC_HUNT, 0, &b, &e), KB_EINVAL);
    assert_int_equal(kb_tmpl_render("{{nope}}", 8, KB_ESC_TEXT, look, (void *)"x", &b, &e),
                     KB_EINVAL);
    assert_int_equal(kb_tmpl_render("{{ioc", 5, KB_ESC_TEXT, look, (void *)"x", &b, &e),
                     KB_EPARSE);
    kb_buf_release(&b);
}

static void test_vtypes(void **state)
{
    (void)state;
    assert_true(kb_vtype_check(KB_VT_IP, "203.0.113.5", 11));
    assert_true(kb_vtype_check(KB_VT_IP, "2001:db8::1", 11));
    assert_false(kb_vtype_check(KB_VT_IP, "203.0.113.5;id", 14));
    assert_false(kb_vtype_check(KB_VT_IP, "256.1.1.1", 9));
    assert_true(kb_vtype_check(KB_VT_CIDR, "10.0.0.0/8", 10));
    assert_false(kb_vtype_check(KB_VT_CIDR, "10.0.0.0/33", 11));
    assert_true(kb_vtype_check(KB_VT_HOST, "pc-0042.corp", 12));
    assert_false(kb_vtype_check(KB_VT_HOST, "-oProxy", 7));
    assert_false(kb_vtype_check(KB_VT_HOST, "pc$(id)", 7));
    assert_true(kb_vtype_check(KB_VT_HASH, "d41d8cd98f00b204e9800998ecf8427e", 32));
    assert_false(kb_vtype_check(KB_VT_PATH, "/tmp/../etc/passwd", 18));
}

/* Connectors refuse a hostile target by its type before running anything:
 * nothing is recorded as executed (the audit stays empty). */
static void test_connectors_refuse_hostile(void **state)
{
    static const char *const bad[] = {"1.2.3.4; flush ruleset", "1.2.3.4 } ; flush ruleset",
                                      "$(reboot)", "1.2.3.4\nflush ruleset", "-1.2.3.4", ""};
    kb_buf audit, result;
    (void)state;
    kb_buf_init(&audit, 65536);
    kb_buf_init(&result, 65536);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kb_resp_request nrq = {"apply", "block-destination", bad[i], "k1", 60,
                               "{\"nft\":\"/bin/false\",\"netns\":\"x\"}", NULL};
        const char *e = NULL;
        kb_buf_clear(&audit);
        assert_int_equal(kb_conn_nft.run(&nrq, &audit, &result, &e), KB_EINVAL);
        assert_string_equal(e, "nft: the target is not an address or network");
        assert_int_equal(audit.len, 0);
        kb_resp_request erq = {"apply", "block-destination", bad[i], "k1", 60,
                               "{\"program\":\"/bin/echo\",\"args\":[\"{{target}}\"]}", NULL};
        e = NULL;
        assert_int_equal(kb_conn_exec.run(&erq, &audit, &result, &e), KB_EINVAL);
        assert_string_equal(e, "exec: the target does not validate as its type");
        assert_int_equal(audit.len, 0);
    }
    /* a hostile netns name is refused too */
    kb_resp_request nrq = {"apply", "block-destination", "1.2.3.4", "k", 60,
                           "{\"nft\":\"/bin/false\",\"netns\":\"x; reboot\"}", NULL};
    const char *e = NULL;
    assert_int_equal(kb_conn_nft.run(&nrq, &audit, &result, &e), KB_EINVAL);
    assert_string_equal(e, "nft: bad netns name");
    kb_buf_release(&audit);
    kb_buf_release(&result);
}

/* A free-text target (custom action) reaches the program as exactly one
 * argv element, unchanged: no shell ever sees it. */
static void test_exec_argv_verbatim(void **state)
{
    static const char val[] = "a'; rm -rf / $(id) `id` \"x\" | & > /tmp/p";
    kb_resp_request rq = {"apply", "custom", val, "k", 0,
                          "{\"program\":\"/usr/bin/printf\",\"args\":[\"<%s>\",\"{{target}}\"]}",
                          NULL};
    kb_buf audit, result;
    const char *e = NULL;
    char want[256];
    (void)state;
    kb_buf_init(&audit, 65536);
    kb_buf_init(&result, 65536);
    assert_int_equal(kb_conn_exec.run(&rq, &audit, &result, &e), KB_OK);
    snprintf(want, sizeof want, "<%s>", val);
    assert_string_equal(result.data, want);
    /* the audit shows the vector, the value single-quoted as one word */
    assert_non_null(strstr(audit.data, "/usr/bin/printf '<%s>' 'a'\\''; rm -rf /"));
    kb_buf_release(&audit);
    kb_buf_release(&result);
}

/* Variables for the spans test: h, f (empty: unknown), d (hostile). */
static int look3(void *ud, const char *name, size_t nlen, const char **v, size_t *len, int *is_list)
{
    (void)ud;
    *is_list = 0;
    if (kb_str_eqz(name, nlen, "h"))
        *v = "pc-1";
    else if (kb_str_eqz(name, nlen, "f"))
        *v = "";
    else if (kb_str_eqz(name, nlen, "d"))
        *v = "\"\" or host.name:*";
    else
        return 0;
    *len = strlen(*v);
    return 1;
}

/* Spans say where each value landed; with them a playbook drops the hunt's
 * terms whose value is unknown (empty), and only those: a value that looks
 * like an empty literal stays one term. */
static void test_spans(void **state)
{
    static const char t[] = "host.name:{{h}} and (file.name:{{ f }} or destination.ip:{{d}})";
    kb_buf b, q;
    kb_tmpl_span sp[4];
    size_t n = 9, at[4], nat = 0, matched = 0;
    const char *e = NULL;
    kb_hunt_error he;
    (void)state;
    kb_buf_init(&b, 65536);
    kb_buf_init(&q, 65536);
    assert_int_equal(
        kb_tmpl_render_spans(t, strlen(t), KB_ESC_HUNT, look3, NULL, &b, sp, 4, &n, &e), KB_OK);
    assert_string_equal(b.data, "host.name:\"pc-1\" and (file.name:\"\" or"
                                " destination.ip:\"\\\"\\\" or host.name:*\")");
    assert_int_equal(n, 3);
    assert_int_equal(sp[0].start, 10);
    assert_int_equal(sp[0].end, 16);
    assert_int_equal(sp[0].vlen, 4);
    assert_true(kb_str_eqz(sp[1].name, sp[1].nlen, "f"));
    assert_int_equal(sp[1].vlen, 0);
    assert_int_equal(sp[1].end - sp[1].start, 2);
    assert_int_equal(sp[2].vlen, 17);
    for (size_t i = 0; i < n; i++)
        if (sp[i].vlen == 0)
            at[nat++] = sp[i].start;
    kb_hunt *h = kb_hunt_parse(b.data, b.len, 0, &he);
    assert_non_null(h);
    assert_int_equal(kb_hunt_drop_unknown(h, at, nat, &q, &matched), KB_OK);
    assert_int_equal(matched, 1);
    assert_string_equal(q.data,
                        "host.name:\"pc-1\" and destination.ip:\"\\\"\\\" or host.name:*\"");
    kb_hunt_free(h);
    /* more placeholders than room: counted, the first recorded */
    kb_buf_clear(&b);
    assert_int_equal(
        kb_tmpl_render_spans(t, strlen(t), KB_ESC_HUNT, look3, NULL, &b, sp, 1, &n, &e), KB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sp[0].start, 10);
    kb_buf_release(&b);
    kb_buf_release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hunt_literal),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_arg_and_url),
        cmocka_unit_test(test_vtypes),
        cmocka_unit_test(test_connectors_refuse_hostile),
        cmocka_unit_test(test_exec_argv_verbatim),
        cmocka_unit_test(test_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
