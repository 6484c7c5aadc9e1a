/* Unit tests for src/event: name interning (also across threads), the
 * field table, canonical slots. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"

static void test_canonical_ids(void **state)
{
    (void)state;
    kb_names *t = kb_names_new(0);
    assert_non_null(t);
    assert_int_equal(kb_names_count(t), KB_F_CANON_COUNT);
    assert_int_equal(kb_names_lookup(t, "source.ip", 9), KB_F_SOURCE_IP);
    assert_int_equal(kb_names_intern(t, "@timestamp", 10), KB_F_TIMESTAMP);
    assert_string_equal(kb_canon_name(KB_F_PROCESS_COMMAND_LINE), "process.command_line");
    assert_int_equal(kb_canon_find("url.domain", 10), KB_F_URL_DOMAIN);
    assert_int_equal(kb_canon_find("nope", 4), -1);
    kb_fid id = kb_names_intern(t, "Image", 5);
    assert_int_equal(id, KB_F_CANON_COUNT);
    assert_int_equal(kb_names_intern(t, "Image", 5), id);
    size_t len;
    assert_string_equal(kb_names_str(t, id, &len), "Image");
    assert_int_equal(len, 5);
    assert_null(kb_names_str(t, 99999, NULL));
    assert_int_equal(kb_names_lookup(t, "Imag", 4), KB_FID_NONE);
    kb_names_free(t);
}

static void test_cap(void **state)
{
    (void)state;
    kb_names *t = kb_names_new(KB_F_CANON_COUNT + 2);
    assert_int_not_equal(kb_names_intern(t, "a", 1), KB_FID_NONE);
    assert_int_not_equal(kb_names_intern(t, "b", 1), KB_FID_NONE);
    assert_int_equal(kb_names_intern(t, "c", 1), KB_FID_NONE);
    assert_int_equal(kb_names_refused(t), 1);
    assert_int_not_equal(kb_names_intern(t, "a", 1), KB_FID_NONE); /* known names still resolve */
    kb_names_free(t);
}

struct worker {
    kb_names *t;
    int seed;
    kb_fid ids[2000];
};

static void *intern_many(void *arg)
{
    struct worker *w = arg;
    char name[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(name, sizeof name, "field.%d", (i * 7 + w->seed) % 2000);
        w->ids[(i * 7 + w->seed) % 2000] = kb_names_intern(w->t, name, (size_t)n);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    kb_names *t = kb_names_new(0);
    struct worker w[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        w[k].t = t;
        w[k].seed = k * 13;
        pthread_create(&th[k], NULL, intern_many, &w[k]);
    }
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    /* Every thread saw the same id for the same name, and no name twice. */
    for (int i = 0; i < 2000; i++)
        for (int k = 1; k < 4; k++)
            assert_int_equal(w[k].ids[i], w[0].ids[i]);
    assert_int_equal(kb_names_count(t), KB_F_CANON_COUNT + 2000);
    kb_names_free(t);
}

static void test_fields(void **state)
{
    (void)state;
    kb_names *t = kb_names_new(0);
    kb_arena *a = kb_arena_new(4096, 0);
    kb_event ev;
    const char *raw = "{\"Image\":\"C:\\\\x.exe\"}";
    kb_event_init(&ev, t, a);
    ev.raw = raw;

    int img = kb_event_add_named(&ev, "Image", 5, KB_V_STR, "C:\\x.exe", 8);
    assert_int_equal(img, 0);
    assert_null(kb_event_canon(&ev, KB_F_PROCESS_EXECUTABLE));
    /* Both views on one value: alias the canonical slot to the raw field. */
    assert_int_equal(kb_event_map(&ev, KB_F_PROCESS_EXECUTABLE, "Image"), 0);
    const kb_field *f = kb_event_get(&ev, KB_F_PROCESS_EXECUTABLE);
    assert_non_null(f);
    assert_ptr_equal(f, kb_event_get_named(&ev, "Image"));
    /* A derived canonical value. */
    assert_true(kb_event_set_copy(&ev, KB_F_PROCESS_NAME, KB_V_STR, "x.exe", 5) >= 0);
    f = kb_event_canon(&ev, KB_F_PROCESS_NAME);
    assert_int_equal(f->len, 5);
    assert_memory_equal(f->val, "x.exe", 5);
    assert_true(f->flags & KB_FF_DERIVED);
    assert_int_equal(kb_event_map(&ev, KB_F_PROCESS_EXECUTABLE, "Image"), -1); /* already set */

    /* Array elements are found in order with kb_event_next. */
    kb_fid tags = kb_names_intern(t, "tags", 4);
    kb_event_add(&ev, tags, KB_V_ARRAY, "[\"a\",\"b\"]", 9);
    for (int i = 0; i < 2; i++) {
        int k = kb_event_add(&ev, tags, KB_V_STR, i ? "b" : "a", 1);
        ev.fields[k].flags |= KB_FF_ELEM;
        ev.fields[k].elem = (uint16_t)i;
    }
    int n = 0;
    for (f = kb_event_next(&ev, tags, NULL); f; f = kb_event_next(&ev, tags, f))
        n++;
    assert_int_equal(n, 3);

    /* The field cap holds, with the arena's growth. */
    kb_event_clear(&ev);
    assert_int_equal(ev.nfields, 0);
    int rc = 0;
    for (int i = 0; i <= KB_EVENT_MAX_FIELDS && rc >= 0; i++)
        rc = kb_event_add(&ev, tags, KB_V_STR, "x", 1);
    assert_int_equal(rc, KB_ELIMIT);
    assert_int_equal(ev.nfields, KB_EVENT_MAX_FIELDS);
    kb_arena_free(a);
    kb_names_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_ids), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_threads), cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
