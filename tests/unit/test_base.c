/* Unit tests for src/base: time, numbers, UTF-8, arenas, buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static int64_t iso(const char *s)
{
    int64_t t = 0;
    assert_int_equal(kb_time_parse_iso8601(s, strlen(s), &t), KB_OK);
    return t;
}

static void test_iso8601(void **state)
{
    (void)state;
    /* 2022-07-12T06:22:33Z is 1657606953. */
    assert_true(iso("2022-07-12T06:22:33Z") == INT64_C(1657606953) * KB_NS_PER_SEC);
    assert_true(iso("2022-07-12T06:22:33.415742+0000") ==
                INT64_C(1657606953) * KB_NS_PER_SEC + 415742000);
    assert_true(iso("2022-07-12T08:22:33+02:00") == iso("2022-07-12T06:22:33Z"));
    assert_true(iso("2022-07-12 06:22:33") == iso("2022-07-12T06:22:33Z"));
    assert_true(iso("2017-08-30T19:13:38.198482400Z") ==
                iso("2017-08-30T19:13:38Z") + 198482400);
    /* More than 9 fraction digits are read and dropped. */
    assert_true(iso("2017-08-30T19:13:38.1234567891Z") == iso("2017-08-30T19:13:38Z") + 123456789);
    assert_true(iso("1969-12-31T23:59:59Z") == -KB_NS_PER_SEC);
    assert_true(iso("2000-02-29") == INT64_C(951782400) * KB_NS_PER_SEC);

    int64_t t;
    const char *bad[] = {"2022-13-01T00:00:00Z", "2021-02-29T00:00:00Z", "2022-07-12T24:00:00Z",
                         "2022-07-12T06:22:33+25:00", "2022-07-12T06:22", "2022-07-12T06:22:33Zjunk",
                         "", "2022", "2022-07-12T06:22:33."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i == 4)
            continue; /* minutes without seconds are valid ISO 8601 */
        assert_int_equal(kb_time_parse_iso8601(bad[i], strlen(bad[i]), &t), KB_EPARSE);
    }
    assert_int_equal(kb_time_parse_iso8601(bad[4], strlen(bad[4]), &t), KB_OK);
}

static void test_epoch(void **state)
{
    int64_t t;
    (void)state;
    assert_int_equal(kb_time_parse_epoch("1320279554.496300", 17, &t), KB_OK);
    assert_true(t == INT64_C(1320279554) * KB_NS_PER_SEC + 496300000);
    assert_int_equal(kb_time_parse_epoch("1388577600000", 13, &t), KB_OK);
    assert_true(t == INT64_C(1388577600) * KB_NS_PER_SEC);
    assert_int_equal(kb_time_parse_epoch("12a", 3, &t), KB_EPARSE);
    assert_int_equal(kb_time_parse_epoch("", 0, &t), KB_EPARSE);
    assert_int_equal(kb_time_parse_epoch("99999999999999999999", 20, &t), KB_EPARSE);
    assert_int_equal(kb_time_parse_epoch("9999999999999999999", 19, &t), KB_EPARSE); /* > INT64_MAX */
    assert_int_equal(kb_time_parse_epoch("1388577600000000", 16, &t), KB_OK);      /* microseconds */
    assert_true(t == INT64_C(1388577600) * KB_NS_PER_SEC);
    assert_int_equal(kb_time_parse_epoch("1388577600000000001", 19, &t), KB_OK);   /* nanoseconds */
    assert_true(t == INT64_C(1388577600) * KB_NS_PER_SEC + 1);
    assert_int_equal(kb_time_parse_epoch("13885776000", 11, &t), KB_EPARSE);       /* ambiguous */
    assert_int_equal(kb_time_parse_epoch("9591367999.5", 12, &t), KB_EPARSE);      /* past 2262 */
    assert_int_equal(kb_time_parse_epoch("9000000000", 10, &t), KB_OK);
    assert_int_equal(kb_time_parse_epoch("9596173999592", 13, &t), KB_EPARSE);     /* ms past 2262 */
    assert_int_equal(kb_time_parse_epoch("9596173999592123", 16, &t), KB_EPARSE);  /* us past 2262 */
    assert_int_equal(kb_time_parse_epoch("1388577600123.5", 15, &t), KB_OK);       /* ms + fraction */
    assert_true(t == INT64_C(1388577600) * KB_NS_PER_SEC + 123000000 + 500000);
    /* Years outside the int64 nanosecond range are refused, not overflowed. */
    assert_int_equal(kb_time_make(2262, 12, 31, 0, 0, 0, 0, &t), KB_EPARSE);
    assert_int_equal(kb_time_make(5666, 4, 7, 0, 10, 10, 0, &t), KB_EPARSE);
    assert_int_equal(kb_time_make(2261, 12, 31, 23, 59, 59, 0, &t), KB_OK);
}

static void test_format_roundtrip(void **state)
{
    char buf[40];
    (void)state;
    int64_t t = iso("2022-07-12T06:22:33.415742+0000");
    size_t n = kb_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, "2022-07-12T06:22:33.415742000Z");
    assert_int_equal(n, 30);
    kb_time_format(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
    /* Every day of four centuries survives the civil conversion. */
    for (int64_t d = -146097; d < 146097 * 2; d += 7) {
        int y;
        unsigned m, dd;
        kb_civil_from_days(d, &y, &m, &dd);
        assert_true(kb_days_from_civil(y, m, dd) == d);
    }
}

static void test_infer_year(void **state)
{
    (void)state;
    int64_t jan2 = iso("2024-01-02T00:00:00Z");
    assert_int_equal(kb_time_infer_year(12, 31, jan2), 2023); /* last year's December */
    assert_int_equal(kb_time_infer_year(1, 1, jan2), 2024);
    assert_int_equal(kb_time_infer_year(1, 3, jan2), 2024);  /* a day of skew allowed */
    assert_int_equal(kb_time_infer_year(1, 5, jan2), 2023);
    /* Feb 29 goes back to the last leap year. */
    assert_int_equal(kb_time_infer_year(2, 29, iso("2023-06-01T00:00:00Z")), 2020);
    assert_int_equal(kb_month_from_abbr("dec", 3), 12);
    assert_int_equal(kb_month_from_abbr("Xyz", 3), 0);
}

static void test_numbers(void **state)
{
    int64_t v;
    uint64_t u;
    (void)state;
    assert_int_equal(kb_parse_i64("-42", 3, &v), KB_OK);
    assert_true(v == -42);
    assert_int_equal(kb_parse_i64("9223372036854775807", 19, &v), KB_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(kb_parse_i64("-9223372036854775808", 20, &v), KB_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(kb_parse_i64("9223372036854775808", 19, &v), KB_ELIMIT);
    assert_int_equal(kb_parse_u64("18446744073709551616", 20, &u), KB_ELIMIT);
    assert_int_equal(kb_parse_i64("1x", 2, &v), KB_EPARSE);
    assert_int_equal(kb_parse_i64("-", 1, &v), KB_EPARSE);
    assert_int_equal(kb_parse_i64("", 0, &v), KB_EPARSE);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(kb_utf8_valid_prefix("abc", 3), 3);
    assert_int_equal(kb_utf8_valid_prefix("\xe2\x82\xac", 3), 3); /* euro sign */
    assert_int_equal(kb_utf8_valid_prefix("a\xe2\x82", 3), 1);    /* truncated */
    assert_int_equal(kb_utf8_valid_prefix("a\xc0\xaf", 3), 1);    /* overlong */
    assert_int_equal(kb_utf8_valid_prefix("\xed\xa0\x80", 3), 0); /* surrogate */
    assert_int_equal(kb_utf8_valid_prefix("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    assert_int_equal(kb_utf8_valid_prefix("\xf0\x9f\x98\x80x", 5), 5);
}

static void test_arena(void **state)
{
    (void)state;
    kb_arena *a = kb_arena_new(1024, 8192);
    assert_non_null(a);
    char *p = kb_arena_alloc(a, 100);
    assert_non_null(p);
    assert_true(((uintptr_t)p & 15) == 0);
    /* An allocation above the chunk size gets its own chunk... */
    assert_non_null(kb_arena_alloc(a, 4000));
    /* ...and the cap is enforced, as a NULL, not an abort. */
    assert_null(kb_arena_alloc(a, 8000));
    char *s = kb_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    kb_arena_clear(a);
    assert_int_equal(kb_arena_used(a), 0);
    for (int i = 0; i < 100; i++)
        assert_non_null(kb_arena_alloc(a, 60));
    kb_arena_free(a);
    kb_arena_free(NULL);
}

static void test_buf(void **state)
{
    kb_buf b;
    (void)state;
    kb_buf_init(&b, 10);
    assert_string_equal(b.data, "");
    assert_int_equal(kb_buf_puts(&b, "12345"), KB_OK);
    assert_int_equal(kb_buf_printf(&b, "%d", 6789), KB_OK);
    assert_string_equal(b.data, "123456789");
    assert_int_equal(kb_buf_puts(&b, "ab"), KB_ELIMIT);
    assert_string_equal(b.data, "123456789"); /* unchanged at the cap */
    kb_buf_clear(&b);
    assert_int_equal(b.len, 0);
    kb_buf_release(&b);
    assert_string_equal(kb_strerror(KB_EPARSE), "parse error");
    assert_string_equal(kb_strerror(12345), "unknown error");
}

static void test_grow(void **state)
{
    int *a = NULL;
    size_t cap = 0;
    (void)state;

    /* Enough room already: nothing allocated. */
    assert_int_equal(kb_grow((void **)&a, &cap, 0, sizeof *a, 16), KB_OK);
    assert_null(a);
    assert_int_equal(cap, 0);
    /* Empty: starts at first, doubles until need fits. */
    assert_int_equal(kb_grow((void **)&a, &cap, 1, sizeof *a, 16), KB_OK);
    assert_non_null(a);
    assert_int_equal(cap, 16);
    assert_int_equal(kb_grow((void **)&a, &cap, 16, sizeof *a, 16), KB_OK);
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        a[i] = i;
    assert_int_equal(kb_grow((void **)&a, &cap, 17, sizeof *a, 16), KB_OK);
    assert_int_equal(cap, 32);
    assert_int_equal(kb_grow((void **)&a, &cap, 100, sizeof *a, 16), KB_OK);
    assert_int_equal(cap, 128);
    for (int i = 0; i < 16; i++) /* contents kept */
        assert_int_equal(a[i], i);
    a[127] = 127; /* the whole capacity is usable */
    kb_free(a);

    /* first = 0 starts at one element. */
    a = NULL, cap = 0;
    assert_int_equal(kb_grow((void **)&a, &cap, 3, sizeof *a, 0), KB_OK);
    assert_int_equal(cap, 4);
    /* need * size would wrap: KB_ENOMEM, array untouched. */
    assert_int_equal(kb_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof *a, 16), KB_ENOMEM);
    assert_int_equal(cap, 4);
    assert_non_null(a);
    kb_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso8601), cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_format_roundtrip), cmocka_unit_test(test_infer_year),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_arena), cmocka_unit_test(test_buf),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
