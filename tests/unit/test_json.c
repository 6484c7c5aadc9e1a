/* Tests for the JSON flattener and the JSON string writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "event/event.h"
#include "event/json.h"

typedef struct fixture {
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_json_error err;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->names = kb_names_new(0);
    fx->arena = kb_arena_new(0, 0);
    assert_non_null(fx->names);
    assert_non_null(fx->arena);
    kb_event_init(&fx->ev, fx->names, fx->arena);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    kb_arena_free(fx->arena);
    kb_names_free(fx->names);
    free(fx);
    return 0;
}

static int flat(fixture *fx, const char *json, const char *prefix)
{
    kb_event_clear(&fx->ev);
    return kb_json_flatten(&fx->ev, json, strlen(json), prefix, &fx->err);
}

/* The n-th field (0-based) named `name`, or NULL. */
static const kb_field *nth(fixture *fx, const char *name, int n)
{
    kb_fid id = kb_names_lookup(fx->names, name, strlen(name));
    const kb_field *f = NULL;
    if (id == KB_FID_NONE)
        return NULL;
    for (uint32_t i = 0; i < fx->ev.nfields; i++) {
        if (fx->ev.fields[i].name == id && n-- == 0) {
            f = &fx->ev.fields[i];
            break;
        }
    }
    return f;
}

static void assert_field(fixture *fx, const char *name, int n, kb_vtype type, const char *val)
{
    const kb_field *f = nth(fx, name, n);
    if (!f)
        fail_msg("no field %s #%d", name, n);
    assert_int_equal(f->type, type);
    assert_int_equal(f->len, strlen(val));
    assert_memory_equal(f->val, val, f->len);
}

static void test_flat_and_nested(void **state)
{
    fixture *fx = *state;
    const char *j = " {\"a\": \"x\", \"b\": {\"c\": {\"d\": 1}, \"e\": \"y\"}, \"f\": 2} \n";
    assert_int_equal(flat(fx, j, NULL), KB_OK);
    assert_int_equal(fx->ev.nfields, 4);
    assert_field(fx, "a", 0, KB_V_STR, "x");
    assert_field(fx, "b.c.d", 0, KB_V_INT, "1");
    assert_field(fx, "b.e", 0, KB_V_STR, "y");
    assert_field(fx, "f", 0, KB_V_INT, "2");
    /* Unescaped values are slices of the input. */
    assert_ptr_equal(nth(fx, "a", 0)->val, strchr(j, 'x'));
    assert_int_equal(nth(fx, "b.e", 0)->flags, 0);
    /* Empty object and empty containers. */
    assert_int_equal(flat(fx, "{}", NULL), KB_OK);
    assert_int_equal(fx->ev.nfields, 0);
    assert_int_equal(flat(fx, "{\"o\":{},\"a\":[]}", NULL), KB_OK);
    assert_int_equal(fx->ev.nfields, 1);
    assert_field(fx, "a", 0, KB_V_ARRAY, "[]");
}

static void test_scalars(void **state)
{
    fixture *fx = *state;
    assert_int_equal(flat(fx, "{\"i\":-12,\"z\":0,\"f\":1.5,\"e\":2e10,\"g\":-0.5E-3,"
                              "\"t\":true,\"n\":null,\"x\":false}",
                          NULL),
                     KB_OK);
    assert_field(fx, "i", 0, KB_V_INT, "-12");
    assert_field(fx, "z", 0, KB_V_INT, "0");
    assert_field(fx, "f", 0, KB_V_FLOAT, "1.5");
    assert_field(fx, "e", 0, KB_V_FLOAT, "2e10");
    assert_field(fx, "g", 0, KB_V_FLOAT, "-0.5E-3");
    assert_field(fx, "t", 0, KB_V_BOOL, "true");
    assert_field(fx, "x", 0, KB_V_BOOL, "false");
    assert_field(fx, "n", 0, KB_V_NULL, "null");
    /* Bad numbers and literals. */
    assert_int_equal(flat(fx, "{\"a\":01}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":1.}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":-}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":1e}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":tru}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":nul", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":+1}", NULL), KB_EPARSE);
    assert_string_equal(fx->err.reason, "unexpected character");
    assert_int_equal(fx->err.offset, 5);
}

static void test_arrays(void **state)
{
    fixture *fx = *state;
    const char *j = "{\"a\":[1,\"two\",[3,4]],"
                    "\"o\":[{\"k\":\"v0\",\"m\":{\"n\":1}},{\"k\":\"v1\"}]}";
    const kb_field *f;

    assert_int_equal(flat(fx, j, NULL), KB_OK);
    assert_field(fx, "a", 0, KB_V_ARRAY, "[1,\"two\",[3,4]]");
    assert_int_equal(nth(fx, "a", 0)->flags, 0);
    assert_field(fx, "a", 1, KB_V_INT, "1");
    assert_field(fx, "a", 2, KB_V_STR, "two");
    assert_field(fx, "a", 3, KB_V_ARRAY, "[3,4]");
    assert_field(fx, "a", 4, KB_V_INT, "3");
    assert_field(fx, "a", 5, KB_V_INT, "4");
    for (int k = 1; k <= 5; k++)
        assert_int_equal(nth(fx, "a", k)->flags, KB_FF_ELEM);
    assert_int_equal(nth(fx, "a", 1)->elem, 0);
    assert_int_equal(nth(fx, "a", 2)->elem, 1);
    assert_int_equal(nth(fx, "a", 3)->elem, 2);
    assert_int_equal(nth(fx, "a", 4)->elem, 0);
    assert_int_equal(nth(fx, "a", 5)->elem, 1);
    /* Objects inside arrays flatten under name.key, marked as elements. */
    assert_field(fx, "o", 0, KB_V_ARRAY, "[{\"k\":\"v0\",\"m\":{\"n\":1}},{\"k\":\"v1\"}]");
    assert_field(fx, "o.k", 0, KB_V_STR, "v0");
    assert_field(fx, "o.k", 1, KB_V_STR, "v1");
    assert_field(fx, "o.m.n", 0, KB_V_INT, "1");
    f = nth(fx, "o.k", 1);
    assert_int_equal(f->flags, KB_FF_ELEM);
    assert_int_equal(f->elem, 1);
    assert_int_equal(nth(fx, "o.m.n", 0)->flags, KB_FF_ELEM);
    assert_int_equal(nth(fx, "o.m.n", 0)->elem, 0);
    assert_null(nth(fx, "o", 1));
    /* kb_event_get finds the whole array first. */
    f = kb_event_get_named(&fx->ev, "a");
    assert_non_null(f);
    assert_int_equal(f->type, KB_V_ARRAY);
    assert_int_equal(flat(fx, "{\"a\":[1,]}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":[1 2]}", NULL), KB_EPARSE);
    assert_string_equal(fx->err.reason, "expected ',' or ']'");
}

static void test_escapes(void **state)
{
    fixture *fx = *state;
    const char *j = "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\","
                    "\"u\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u0041\","
                    "\"lone\":\"x\\ud800y\\udc00\","
                    "\"k\\u0065y\":1, \"utf\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}";
    const kb_field *f;

    assert_int_equal(flat(fx, j, NULL), KB_OK);
    assert_field(fx, "s", 0, KB_V_STR, "a\"b\\c/d\n\t\r\b\f");
    assert_field(fx, "u", 0, KB_V_STR, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A");
    assert_field(fx, "lone", 0, KB_V_STR, "x\xef\xbf\xbdy\xef\xbf\xbd");
    assert_field(fx, "key", 0, KB_V_INT, "1");
    assert_field(fx, "utf", 0, KB_V_STR, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Escaped strings live outside the input; plain ones point into it. */
    f = nth(fx, "s", 0);
    assert_true(f->val < j || f->val >= j + strlen(j));
    f = nth(fx, "utf", 0);
    assert_true(f->val > j && f->val < j + strlen(j));
    /* \u0000 unescapes to a NUL byte inside the value. */
    assert_int_equal(flat(fx, "{\"z\":\"a\\u0000b\"}", NULL), KB_OK);
    assert_int_equal(nth(fx, "z", 0)->len, 3);
    assert_memory_equal(nth(fx, "z", 0)->val, "a\0b", 3);
    assert_int_equal(flat(fx, "{\"a\":\"\\x\"}", NULL), KB_EPARSE);
    assert_string_equal(fx->err.reason, "bad escape in string");
    assert_int_equal(flat(fx, "{\"a\":\"\\u12g4\"}", NULL), KB_EPARSE);
    assert_int_equal(flat(fx, "{\"a\":\"\\u12\"}", NULL), KB_EPARSE);
}

static void test_invalid_utf8(void **state)
{
    fixture *fx = *state;
    static const char *bad[] = {
        "{\"a\":\"x\xff\"}",         /* never valid */
        "{\"a\":\"x\xc3\"}",         /* truncated sequence */
        "{\"a\":\"x\xc0\xaf\"}",     /* overlong */
        "{\"a\":\"x\xe0\x80\xaf\"}", /* overlong, 3 bytes */
        "{\"a\":\"x\xed\xa0\x80\"}", /* encoded surrogate */
        "{\"a\":\"x\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"x\xfe\":1}",             /* in a key */
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(flat(fx, bad[k], NULL), KB_EPARSE);
        assert_string_equal(fx->err.reason, "invalid UTF-8 in string");
        assert_true(fx->err.offset == 7 || (k == 6 && fx->err.offset == 3));
    }
}

static void test_prefix(void **state)
{
    fixture *fx = *state;
    assert_int_equal(flat(fx, "{\"a\":1,\"b\":{\"c\":[true]}}", "zeek.conn"), KB_OK);
    assert_field(fx, "zeek.conn.a", 0, KB_V_INT, "1");
    assert_field(fx, "zeek.conn.b.c", 0, KB_V_ARRAY, "[true]");
    assert_field(fx, "zeek.conn.b.c", 1, KB_V_BOOL, "true");
    assert_null(nth(fx, "a", 0));
    assert_int_equal(flat(fx, "{\"a\":1}", ""), KB_OK);
    assert_field(fx, "a", 0, KB_V_INT, "1");
}

static void test_depth_cap(void **state)
{
    fixture *fx = *state;
    char buf[1024];
    size_t n = 0;
    const kb_field *f;
    char name[256];
    size_t nl = 0;

    /* 70 nested objects: levels past KB_JSON_MAX_DEPTH are kept whole. */
    for (int d = 0; d < 70; d++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"k\":");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "1");
    for (int d = 0; d < 70; d++)
        buf[n++] = '}';
    buf[n] = '\0';
    assert_int_equal(flat(fx, buf, NULL), KB_OK);
    assert_int_equal(fx->ev.nfields, 1);
    for (int d = 0; d < KB_JSON_MAX_DEPTH; d++)
        nl += (size_t)snprintf(name + nl, sizeof name - nl, "%sk", d ? "." : "");
    f = kb_event_get_named(&fx->ev, name);
    assert_non_null(f);
    assert_int_equal(f->type, KB_V_OBJECT);
    assert_int_equal(f->val[0], '{');
    assert_int_equal(f->val[f->len - 1], '}');
    assert_int_equal(f->len, (70 - KB_JSON_MAX_DEPTH) * 6 + 1);
    assert_memory_equal(f->val, "{\"k\":{\"k\":", 10);
    /* Arrays past the cap too, with brackets inside strings ignored. */
    n = 0;
    for (int d = 0; d < KB_JSON_MAX_DEPTH; d++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"k\":");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "[\"]\",[]]");
    for (int d = 0; d < KB_JSON_MAX_DEPTH; d++)
        buf[n++] = '}';
    buf[n] = '\0';
    assert_int_equal(flat(fx, buf, NULL), KB_OK);
    f = kb_event_get_named(&fx->ev, name);
    assert_non_null(f);
    assert_int_equal(f->type, KB_V_ARRAY);
    assert_int_equal(f->len, 8);
    assert_memory_equal(f->val, "[\"]\",[]]", 8);
    assert_int_equal(fx->ev.nfields, 1);
}

static void test_deep_input_fast(void **state)
{
    fixture *fx = *state;
    size_t depth = 100000, n = 0;
    char *buf = malloc(depth * 2 + 16);
    clock_t t0 = clock();
    int rc;

    assert_non_null(buf);
    n += (size_t)snprintf(buf, 8, "{\"a\":");
    for (size_t d = 0; d < depth; d++)
        buf[n++] = '[';
    for (size_t d = 0; d < depth; d++)
        buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    rc = flat(fx, buf, NULL);
    assert_int_equal(rc, KB_OK);
    /* 63 nested array fields below the object, then one raw array. */
    assert_int_equal(fx->ev.nfields, KB_JSON_MAX_DEPTH);
    assert_int_equal(fx->ev.fields[fx->ev.nfields - 1].len, (depth - 63) * 2);
    assert_int_equal(fx->ev.fields[0].len, depth * 2);
    /* Unbalanced: one ']' short. */
    buf[n - 2] = '}';
    buf[n - 1] = '\0';
    assert_int_equal(flat(fx, buf, NULL), KB_EPARSE);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    free(buf);
}

static void test_syntax_errors(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *in;
        const char *reason;
    } cases[] = {
        {"", "empty input"},
        {"   ", "empty input"},
        {"[1]", "not a JSON object"},
        {"\"s\"", "not a JSON object"},
        {"{", "truncated JSON"},
        {"{\"a\"", "truncated JSON"},
        {"{\"a\":", "truncated JSON"},
        {"{\"a\":1", "truncated JSON"},
        {"{\"a\":\"xy", "unterminated string"},
        {"{\"a\":{\"b\":[1,2", "truncated JSON"},
        {"{\"a\" 1}", "expected ':' after key"},
        {"{a:1}", "expected a quoted key"},
        {"{\"a\":1,}", "expected a quoted key"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
        {"{\"a\":1}x", "trailing bytes after the object"},
        {"{\"a\":1}{\"b\":2}", "trailing bytes after the object"},
        {"{\"a\":\"x\ty\"}", "control character in string"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int rc = flat(fx, cases[k].in, NULL);
        if (rc != KB_EPARSE || strcmp(fx->err.reason, cases[k].reason) != 0)
            fail_msg("case %zu (%s): rc %d reason %s", k, cases[k].in, rc,
                     fx->err.reason ? fx->err.reason : "(null)");
    }
    /* Offsets point at the problem. */
    assert_int_equal(flat(fx, "{\"a\":1}  x", NULL), KB_EPARSE);
    assert_int_equal(fx->err.offset, 9);
}

static void test_nul_bytes(void **state)
{
    fixture *fx = *state;
    const char in1[] = "{\"a\":\"x\0y\"}";
    const char in2[] = "{\"a\":1}\0";
    const char in3[] = "{\"a\":1,\0\"b\":2}";

    kb_event_clear(&fx->ev);
    assert_int_equal(kb_json_flatten(&fx->ev, in1, sizeof in1 - 1, NULL, &fx->err), KB_EPARSE);
    assert_string_equal(fx->err.reason, "control character in string");
    assert_int_equal(fx->err.offset, 7);
    kb_event_clear(&fx->ev);
    assert_int_equal(kb_json_flatten(&fx->ev, in2, sizeof in2 - 1, NULL, &fx->err), KB_EPARSE);
    assert_string_equal(fx->err.reason, "trailing bytes after the object");
    kb_event_clear(&fx->ev);
    assert_int_equal(kb_json_flatten(&fx->ev, in3, sizeof in3 - 1, NULL, &fx->err), KB_EPARSE);
    /* The length bounds the parse, not a NUL. */
    kb_event_clear(&fx->ev);
    assert_int_equal(kb_json_flatten(&fx->ev, "{\"a\":1}garbage", 7, NULL, &fx->err), KB_OK);
    assert_field(fx, "a", 0, KB_V_INT, "1");
}

static void test_name_limit(void **state)
{
    fixture *fx = *state;
    char buf[2048];
    size_t n = 0;

    n += (size_t)snprintf(buf, sizeof buf, "{\"");
    memset(buf + n, 'k', 600);
    n += 600;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\":1}");
    assert_int_equal(flat(fx, buf, NULL), KB_ELIMIT);
    assert_string_equal(fx->err.reason, "field name too long");
    /* 512 bytes is fine. */
    n = (size_t)snprintf(buf, sizeof buf, "{\"");
    memset(buf + n, 'k', 512);
    n += 512;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\":1}");
    assert_int_equal(flat(fx, buf, NULL), KB_OK);
    /* Long through nesting: 60 levels of 10-byte keys. */
    n = 0;
    for (int d = 0; d < 60; d++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"kkkkkkkkkk\":");
    buf[n++] = '1';
    for (int d = 0; d < 60; d++)
        buf[n++] = '}';
    buf[n] = '\0';
    assert_int_equal(flat(fx, buf, NULL), KB_ELIMIT);
    assert_string_equal(fx->err.reason, "field name too long");
}

static void test_field_limit(void **state)
{
    fixture *fx = *state;
    size_t n = KB_EVENT_MAX_FIELDS + 10;
    char *buf = malloc(n * 2 + 16);
    size_t o = 0;

    assert_non_null(buf);
    o += (size_t)snprintf(buf, 8, "{\"a\":[");
    for (size_t k = 0; k < n; k++) {
        buf[o++] = '1';
        buf[o++] = ',';
    }
    buf[o - 1] = ']';
    buf[o++] = '}';
    buf[o] = '\0';
    assert_int_equal(flat(fx, buf, NULL), KB_ELIMIT);
    assert_string_equal(fx->err.reason, "too many fields");
    free(buf);
}

/* Line `lineno` (1-based) of a shared data file, malloc'd. */
static char *read_line(const char *rel, int lineno)
{
    char path[1024];
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = -1;

    snprintf(path, sizeof path, "%s/%s", KOBAN_SHARED_DATA, rel);
    f = fopen(path, "r");
    if (!f)
        return NULL;
    for (int k = 0; k < lineno; k++)
        if ((n = getline(&line, &cap, f)) < 0)
            break;
    fclose(f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    return line;
}

static void test_real_eve(void **state)
{
    fixture *fx = *state;
    char *line = read_line("logs/suricata-eve/elastic-eve-small.log", 2);

    if (!line)
        skip();
    assert_int_equal(flat(fx, line, NULL), KB_OK);
    assert_field(fx, "event_type", 0, KB_V_STR, "alert");
    assert_field(fx, "alert.signature", 0, KB_V_STR,
                 "ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)");
    assert_field(fx, "alert.signature_id", 0, KB_V_INT, "2024833");
    assert_field(fx, "src_port", 0, KB_V_INT, "55641");
    assert_field(fx, "tls.session_resumed", 0, KB_V_BOOL, "true");
    assert_field(fx, "flow.start", 0, KB_V_STR, "2018-07-05T15:07:19.659593-0400");
    assert_int_equal(fx->ev.nfields, 26);
    free(line);

    /* The http line has escaped slashes. */
    line = read_line("logs/suricata-eve/elastic-eve-small.log", 3);
    assert_non_null(line);
    assert_int_equal(flat(fx, line, "suricata"), KB_OK);
    assert_field(fx, "suricata.http.url", 0, KB_V_STR, "/dd.xml");
    assert_field(fx, "suricata.http.protocol", 0, KB_V_STR, "HTTP/1.1");
    free(line);
}

static void test_real_windows(void **state)
{
    fixture *fx = *state;
    char *line = read_line("windows-events/hayabusa_sample_evtx.jsonl", 2622);

    if (!line)
        skip();
    assert_int_equal(flat(fx, line, NULL), KB_OK);
    assert_field(fx, "EventID", 0, KB_V_INT, "4688");
    assert_field(fx, "Channel", 0, KB_V_STR, "Security");
    assert_field(fx, "Computer", 0, KB_V_STR, "IE10Win7");
    assert_field(fx, "NewProcessName", 0, KB_V_STR, "C:\\Windows\\duKhLYUX.exe");
    assert_field(fx, "SubjectUserName", 0, KB_V_STR, "IE10WIN7$");
    free(line);
}

/* The per-thread field-id cache must never carry ids from one names table
 * to another, even one allocated at the same address. */
static void test_cache_across_tables(void **state)
{
    const char *j = "{\"alpha\":1,\"beta\":{\"gamma\":2}}";
    (void)state;

    for (int round = 0; round < 4; round++) {
        kb_names *names = kb_names_new(0);
        kb_arena *arena = kb_arena_new(0, 0);
        kb_event ev;
        kb_json_error err;
        size_t l;

        assert_non_null(names);
        assert_non_null(arena);
        /* A different interning order per round gives different ids. */
        for (int k = 0; k < round * 3; k++) {
            char junk[16];
            int n = snprintf(junk, sizeof junk, "junk%d", k);
            kb_names_intern(names, junk, (size_t)n);
        }
        if (round & 1)
            kb_names_intern(names, "beta.gamma", 10);
        kb_event_init(&ev, names, arena);
        for (int rep = 0; rep < 2; rep++) {
            kb_event_clear(&ev);
            assert_int_equal(kb_json_flatten(&ev, j, strlen(j), NULL, &err), KB_OK);
            assert_int_equal(ev.nfields, 2);
            assert_string_equal(kb_names_str(names, ev.fields[0].name, &l), "alpha");
            assert_string_equal(kb_names_str(names, ev.fields[1].name, &l), "beta.gamma");
            assert_int_equal(ev.fields[1].name, kb_names_lookup(names, "beta.gamma", 10));
        }
        kb_arena_free(arena);
        kb_names_free(names);
    }
}

/* A full names table refuses new names with a reason. */
static void test_names_full(void **state)
{
    kb_names *names = kb_names_new(KB_F_CANON_COUNT + 2);
    kb_arena *arena = kb_arena_new(0, 0);
    kb_event ev;
    kb_json_error err;
    const char *j = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}";
    int rc;
    (void)state;

    assert_non_null(names);
    kb_event_init(&ev, names, arena);
    rc = kb_json_flatten(&ev, j, strlen(j), NULL, &err);
    assert_int_equal(rc, KB_ELIMIT);
    assert_string_equal(err.reason, "field name table full");
    /* Names already known still work. */
    kb_event_clear(&ev);
    rc = kb_json_flatten(&ev, "{\"message\":\"m\"}", 15, NULL, &err);
    assert_int_equal(rc, KB_OK);
    assert_int_equal(ev.nfields, 1);
    assert_int_equal(ev.fields[0].name, KB_F_MESSAGE);
    kb_arena_free(arena);
    kb_names_free(names);
}

/* A capped arena: escaped strings need arena room; failure is clean. */
static void test_arena_cap(void **state)
{
    kb_names *names = kb_names_new(0);
    kb_arena *arena = kb_arena_new(1024, 2048);
    kb_event ev;
    kb_json_error err;
    char buf[8192];
    size_t n = 0;
    (void)state;

    n += (size_t)snprintf(buf, sizeof buf, "{\"s\":\"");
    for (int k = 0; k < 1500; k++) {
        buf[n++] = '\\';
        buf[n++] = 'n';
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"}");
    kb_event_init(&ev, names, arena);
    assert_int_equal(kb_json_flatten(&ev, buf, n, NULL, &err), KB_ENOMEM);
    assert_string_equal(err.reason, "event arena full");
    kb_arena_free(arena);
    kb_names_free(names);
}

static void test_put_str(void **state)
{
    kb_buf b;
    (void)state;

    kb_buf_init(&b, 0);
    assert_int_equal(kb_json_put_str(&b, "plain", 5), KB_OK);
    assert_string_equal(b.data, "\"plain\"");
    kb_buf_clear(&b);
    assert_int_equal(kb_json_put_str(&b, "a\"b\\c\n\r\t\b\f\x01\x1f/", 13), KB_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\"");
    kb_buf_clear(&b);
    assert_int_equal(kb_json_put_str(&b, "a\0b", 3), KB_OK);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    kb_buf_clear(&b);
    /* Valid UTF-8 passes through; invalid bytes become \ufffd. */
    assert_int_equal(kb_json_put_str(&b, "\xc3\xa9\xf0\x9f\x98\x80x\xff\xc3", 9), KB_OK);
    assert_string_equal(b.data, "\"\xc3\xa9\xf0\x9f\x98\x80x\\ufffd\\ufffd\"");
    kb_buf_clear(&b);
    assert_int_equal(kb_json_put_str(&b, "", 0), KB_OK);
    assert_string_equal(b.data, "\"\"");
    kb_buf_clear(&b);
    /* A long run crossing the vector width, with an escape at the end. */
    assert_int_equal(kb_json_put_str(&b, "0123456789abcdefghijklmnopqrstuvwxyz\"", 37), KB_OK);
    assert_string_equal(b.data, "\"0123456789abcdefghijklmnopqrstuvwxyz\\\"\"");
    kb_buf_release(&b);
    /* At the cap: an error, not an overflow. */
    kb_buf_init(&b, 8);
    assert_int_not_equal(kb_json_put_str(&b, "0123456789", 10), KB_OK);
    kb_buf_release(&b);
}

static void test_round_trip(void **state)
{
    fixture *fx = *state;
    const char *vals[] = {"he said \"hi\"\n", "C:\\Windows\\x.exe", "\xe2\x82\xac\t\x01"};
    for (size_t k = 0; k < 3; k++) {
        kb_buf b;
        kb_buf_init(&b, 0);
        assert_int_equal(kb_buf_puts(&b, "{\"v\":"), KB_OK);
        assert_int_equal(kb_json_put_str(&b, vals[k], strlen(vals[k])), KB_OK);
        assert_int_equal(kb_buf_putc(&b, '}'), KB_OK);
        assert_int_equal(flat(fx, b.data, NULL), KB_OK);
        assert_field(fx, "v", 0, KB_V_STR, vals[k]);
        kb_buf_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flat_and_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_input_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_eve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_windows, setup, teardown),
        cmocka_unit_test(test_cache_across_tables),
        cmocka_unit_test(test_names_full),
        cmocka_unit_test(test_arena_cap),
        cmocka_unit_test_setup_teardown(test_put_str, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
