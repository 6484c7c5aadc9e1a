/* Module migrations in the store: versions recorded, steps applied once and
 * in order, a failing step rolled back whole, a newer store refused. Runs
 * on SQLite, and on PostgreSQL too when KOBAN_PG_DSN names a server
 * (tests/e2e/pg.sh starts one). */
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

static const char *const v1[] = {
    "CREATE TABLE demo_items (id {pk}, name TEXT NOT NULL, data {blob})", NULL};
static const char *const v2[] = {"ALTER TABLE demo_items ADD COLUMN seen BIGINT", NULL};
static const char *const v3_bad[] = {"CREATE TABLE demo_more (x TEXT)",
                                     "THIS IS NOT SQL", NULL};

static void check(kb_store *st)
{
    kb_store_step steps[] = {{1, v1}, {2, v2}};
    kb_sval name = KB_SV_STRV("demo", 4);

    kb_store_exec(st, "DROP TABLE IF EXISTS demo_items", NULL, 0, NULL, NULL);
    kb_store_exec(st, "DROP TABLE IF EXISTS demo_more", NULL, 0, NULL, NULL);
    kb_store_exec(st, "DELETE FROM koban_modules WHERE module = 'demo'", NULL, 0, NULL, NULL);

    assert_int_equal(kb_store_migrate_module(st, "demo", steps, 1), KB_OK);
    assert_int_equal(kb_store_scalar(st, "SELECT version FROM koban_modules WHERE module = ?",
                                     &name, 1, -1), 1);
    /* Applying again is a no-op; a new step runs alone. */
    assert_int_equal(kb_store_migrate_module(st, "demo", steps, 2), KB_OK);
    assert_int_equal(kb_store_migrate_module(st, "demo", steps, 2), KB_OK);
    assert_int_equal(kb_store_scalar(st, "SELECT version FROM koban_modules WHERE module = ?",
                                     &name, 1, -1), 2);
    assert_int_equal(kb_store_exec(st, "INSERT INTO demo_items (name, seen) VALUES ('a', 5)",
                                   NULL, 0, NULL, NULL), KB_OK);
    assert_int_equal(kb_store_scalar(st, "SELECT seen FROM demo_items WHERE name = 'a'", NULL, 0,
                                     -1), 5);

    /* A failing step leaves the module at its last whole version. */
    kb_store_step more[] = {{1, v1}, {2, v2}, {3, v3_bad}};
    assert_int_not_equal(kb_store_migrate_module(st, "demo", more, 3), KB_OK);
    assert_int_equal(kb_store_scalar(st, "SELECT version FROM koban_modules WHERE module = ?",
                                     &name, 1, -1), 2);
    assert_int_not_equal(kb_store_exec(st, "SELECT COUNT(*) FROM demo_more", NULL, 0, NULL, NULL),
                         KB_OK);

    /* A store from a newer koban is refused. */
    assert_int_not_equal(kb_store_migrate_module(st, "demo", steps, 1), KB_OK);
}

static void test_sqlite(void **state)
{
    char dir[] = "/tmp/koban-test-module-XXXXXX", err[256];
    (void)state;
    assert_non_null(mkdtemp(dir));
    kb_store *st = kb_store_open_dir(dir, err, sizeof err);
    assert_non_null(st);
    check(st);
    kb_store_close(st);
    char path[512];
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void test_pg(void **state)
{
    const char *dsn = getenv("KOBAN_PG_DSN");
    char err[256];
    (void)state;
    if (!dsn || !*dsn)
        skip();
    kb_store *st = kb_store_open(dsn, err, sizeof err);
    assert_non_null(st);
    check(st);
    kb_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sqlite), cmocka_unit_test(test_pg)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
