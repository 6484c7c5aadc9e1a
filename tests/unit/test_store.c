/* The store against real data, run once per back end: SQLite always,
 * PostgreSQL when KOBAN_PG_DSN names a server (scripts/pg-test.sh starts a
 * throw-away one; without it those tests are skipped, saying why). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "ingest/ingest.h"
#include "store/hunt.h"
#include "store/store.h"

#define DEMO "demo/incident"
#define ZEEK_DNS KOBAN_SHARED_DATA "/logs/zeek-json/zed-wrccdc-dns.json.log"

struct fixture {
    int pg;
    char dir[64];
    char dsn[1024];
    kb_store *st;
    kb_names *names;
};

static int setup(void **state, int pg)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[600];
    fx->pg = pg;
    if (pg) {
        const char *dsn = getenv("KOBAN_PG_DSN");
        PGconn *c;
        PGresult *r;
        if (!dsn || !*dsn) {
            *state = fx;
            return 0;
        }
        snprintf(fx->dsn, sizeof fx->dsn, "%s", dsn);
        c = PQconnectdb(dsn);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        r = PQexec(c, "SET client_min_messages TO warning; DROP SCHEMA public CASCADE;"
                      " CREATE SCHEMA public");
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
    } else {
        snprintf(fx->dir, sizeof fx->dir, "/tmp/koban-test-store.XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        snprintf(fx->dsn, sizeof fx->dsn, "%s/koban.db", fx->dir);
    }
    fx->st = kb_store_open(fx->dsn, err, sizeof err);
    if (!fx->st)
        fail_msg("open %s: %s", fx->dsn, err);
    fx->names = kb_names_new(0);
    *state = fx;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup(state, 0);
}

static int setup_pg(void **state)
{
    return setup(state, 1);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    kb_store_close(fx->st);
    kb_names_free(fx->names);
    if (fx->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(fx);
    return 0;
}

static struct fixture *fixture(void **state)
{
    struct fixture *fx = *state;
    if (fx->pg && !fx->st) {
        /* cmocka's skip() longjmps; say why first. */
        print_message("SKIP: KOBAN_PG_DSN is not set; run through scripts/pg-test.sh (ctest"
                      " e2e/pg) to test the PostgreSQL back end\n");
        skip();
    }
    return fx;
}

struct loadctx {
    kb_store *st;
    kb_store_load_stats stats;
};

static int on_batch(const kb_batch *b, void *ud)
{
    struct loadctx *l = ud;
    int rc = kb_store_put_batch(l->st, b, NULL, &l->stats);
    if (rc)
        print_error("put_batch: %s\n", kb_store_errmsg(l->st));
    return rc;
}

static kb_store_load_stats load(struct fixture *fx, const char *path)
{
    kb_ingest_opts o = {0};
    kb_ingest *ing = kb_ingest_new(fx->names, &o);
    struct loadctx l = {fx->st, {0}};
    assert_non_null(ing);
    assert_int_equal(kb_ingest_path(ing, path, on_batch, NULL, &l), KB_OK);
    kb_ingest_free(ing);
    return l.stats;
}

static int64_t count(struct fixture *fx, const char *sql)
{
    return kb_store_scalar(fx->st, sql, NULL, 0, -1);
}

static int count_rows(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)ncol, (void)c, (void)names;
    (*(int64_t *)ud)++;
    return 0;
}

/* Rows a hunt returns; -1 when it does not compile. */
/* Flags of kb_hunt_compile_ex for hunt(). */
static int hunt_flags;

static int64_t hunt(struct fixture *fx, const char *q)
{
    kb_hunt_error err;
    kb_hunt *h = kb_hunt_parse(q, strlen(q), kb_time_now(), &err);
    kb_hunt_sql sql;
    int64_t n = 0;
    if (!h) {
        print_error("%s: %s\n", q, err.msg);
        return -1;
    }
    if (kb_hunt_compile_ex(h, fx->st, KB_TIME_NONE, hunt_flags, &sql, &err) != KB_OK) {
        print_error("%s: %s\n", q, err.msg);
        n = -1;
    } else if (kb_hunt_run(fx->st, &sql, count_rows, &n)) {
        print_error("%s: %s\n", q, kb_store_errmsg(fx->st));
        n = -2;
    }
    kb_hunt_sql_release(&sql);
    kb_hunt_free(h);
    return n;
}

/* ---- tests ----------------------------------------------------------------- */

static void t_load_demo(void **state)
{
    struct fixture *fx = fixture(state);
    kb_store_load_stats s = load(fx, DEMO);

    assert_int_equal(kb_store_schema_version(fx->st), KB_STORE_SCHEMA_VERSION);
    assert_int_equal(s.events, 44);
    assert_int_equal(s.skipped, 0);
    assert_int_equal(s.observables, 132);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events"), 44);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM sources"), 9);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE kind = 'ip'"), 63);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE kind = 'user'"), 20);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE kind = 'hash'"), 4);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE kind = 'url'"), 9);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events WHERE format = 'zeek'"), 11);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events WHERE ls_product = 'windows'"), 6);
    assert_int_equal(count(fx, "SELECT checkpoint FROM sources WHERE path ="
                               " 'demo/incident/linux/auth.log'"),
                     count(fx, "SELECT MAX(rec_offset) FROM events WHERE line = 10 AND format ="
                               " 'syslog' AND host_name = 'bastion-1'"));
    assert_true(count(fx, "SELECT COUNT(*) FROM field_names WHERE name = 'Image'") == 1);

    /* A second load of the same files stores nothing twice. */
    s = load(fx, DEMO);
    assert_int_equal(s.events, 0);
    assert_int_equal(s.skipped, 44);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events"), 44);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables"), 132);
}

struct vals {
    char host[64], user[64];
    int64_t pid, id;
    kb_buf raw;
};

static int vals_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct vals *v = ud;
    (void)names;
    assert_int_equal(ncol, 4);
    snprintf(v->host, sizeof v->host, "%.*s", (int)c[0].len, c[0].p);
    snprintf(v->user, sizeof v->user, "%.*s", (int)c[1].len, c[1].p);
    assert_int_equal(c[2].type, KB_SV_INT);
    v->pid = c[2].i;
    /* The raw record lives in a compressed block (schema version 2). */
    assert_int_equal(c[3].type, KB_SV_INT);
    v->id = c[3].i;
    return 0;
}

static void t_values(void **state)
{
    struct fixture *fx = fixture(state);
    struct vals v = {0};
    kb_sval p = KB_SV_STRV("7353f60b1739074eb17c5f4dddefe239", 32);

    load(fx, DEMO);
    kb_buf_init(&v.raw, 0);
    assert_int_equal(kb_store_exec(fx->st, "SELECT host_name, user_name, process_pid, id FROM"
                                           " events WHERE file_hash_md5 = ?",
                                   &p, 1, vals_row, &v),
                     KB_OK);
    assert_int_equal(kb_store_raw_get(fx->st, v.id, &v.raw), KB_OK);
    assert_string_equal(v.host, "PC-0042.corp.example.com");
    assert_string_equal(v.user, "alice");
    assert_int_equal(v.pid, 6644);
    assert_non_null(strstr(v.raw.data, "powershell.exe"));
    assert_int_equal(v.raw.data[0], '{');
    kb_buf_release(&v.raw);
}

static void t_hunts(void **state)
{
    struct fixture *fx = fixture(state);
    int sqlite = kb_store_backend_of(fx->st)->raw_fields;

    load(fx, DEMO);
    assert_int_equal(hunt(fx, "host.name:bastion-1"), 10);
    assert_int_equal(hunt(fx, "host.name:bastion-1 and user.name:deploy"), 5);
    assert_int_equal(hunt(fx, "destination.ip:10.0.0.0/8"), 11);
    assert_int_equal(hunt(fx, "destination.ip:10.1.0.80"), 5);
    assert_int_equal(hunt(fx, "ip:198.51.100.23"), 8) /* grep -c in demo/incident */;
    assert_int_equal(hunt(fx, "hash:7353f60b1739074eb17c5f4dddefe239"), 1);
    assert_int_equal(hunt(fx, "file.hash.md5:7353f60b1739074eb17c5f4dddefe239"), 1);
    assert_int_equal(hunt(fx, "process.command_line:*powershell* and not user.name:svc_*"), 1);
    assert_int_equal(hunt(fx, "process.command_line:*POWERSHELL* and not user.name:alice"), 0);
    assert_int_equal(hunt(fx, "not user.name:*"), 24);
    assert_int_equal(hunt(fx, "event.outcome:failure"), 7);
    assert_int_equal(hunt(fx, "destination.port >= 1024"), 3);
    assert_int_equal(hunt(fx, "@timestamp >= 2026-11-20T09:50:00Z"), 5);
    assert_int_equal(hunt(fx, "@timestamp >= now-1h"), 0);
    assert_int_equal(hunt(fx, "(host.name:www or host.name:bastion-1) and not event.outcome:failure"),
                     hunt(fx, "host.name:www or host.name:bastion-1") - 7 +
                         hunt(fx, "event.outcome:failure and not host.name:www and not"
                                  " host.name:bastion-1"));
    assert_int_equal(hunt(fx, "| stats count() by log.format"), 7);
    assert_int_equal(hunt(fx, "| stats count() by host.name | sort -count | head 3"), 3);
    assert_int_equal(hunt(fx, "user.name:* | fields user.name, host.name | head 2"), 2);
    assert_int_equal(hunt(fx, "log.file.path:demo/incident/linux/auth.log"), 10);
    /* Raw fields and free text: SQL functions on SQLite, the residual in
     * C on PostgreSQL; hunt_flags forces the residual on SQLite too. */
    for (int pass = 0; pass < (sqlite ? 2 : 1); pass++) {
        hunt_flags = KB_HUNT_RESIDUAL | (pass ? KB_HUNT_FORCE_RESIDUAL : 0);
        assert_int_equal(hunt(fx, "Image:*powershell*"), 3);
        assert_int_equal(hunt(fx, "\"Failed password\""), 6);
        assert_int_equal(hunt(fx, "\"failed PASSWORD\" and not host.name:bastion-1"), 0);
        assert_int_equal(hunt(fx, "ParentProcessId:6644 | fields Image"), 1);
        assert_int_equal(hunt(fx, "host.name:bastion-1 and not \"Failed\""), 10 - 6);
        assert_int_equal(hunt(fx, "ProcessId >= 6000 | stats count() by Image"), 2);
        assert_int_equal(hunt(fx, "Image:* | stats count() by Image | sort -count | head 2"), 2);
        assert_int_equal(hunt(fx, "\"sshd\" or Image:*powershell* | head 4"), 4);
        assert_int_equal(hunt(fx, "Image:*nosuch*"), 0);
        assert_int_equal(hunt(fx, "Imag:*powershell*"), -1); /* unknown field */
    }
    hunt_flags = 0;
    /* Without KB_HUNT_RESIDUAL (callers that run the SQL themselves) a
     * back end without the raw functions refuses raw fields. */
    assert_int_equal(hunt(fx, "Image:*powershell*"), sqlite ? 3 : -1);
}

static int alert_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    (void)names;
    assert_int_equal(ncol, 3);
    assert_int_equal(c[0].len, 8);
    assert_memory_equal(c[0].p, "rule-one", 8);
    assert_memory_equal(c[1].p, "high", 4);
    assert_memory_equal(c[2].p, "attack.t1059,attack.execution", 29);
    (*(int *)ud)++;
    return 0;
}

static void t_alerts(void **state)
{
    struct fixture *fx = fixture(state);
    kb_store_alert a[2] = {
        {.ts = kb_time_now(), .rule_id = "rule-one", .title = "PowerShell download", .level = "high",
         .author = "koban", .tags = "attack.t1059,attack.execution", .event_id = 7, .host = "PC-0042",
         .threat = "c2", .confidence1 = 81},
        {.ts = KB_TIME_NONE, .rule_id = "rule-two", .level = "low"},
    };
    int64_t ids[2] = {0, 0};
    int rows = 0;

    assert_int_equal(kb_store_put_alerts(fx->st, a, 2, ids), KB_OK);
    assert_true(ids[0] > 0 && ids[1] == ids[0] + 1);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM alerts"), 2);
    assert_int_equal(count(fx, "SELECT event_id FROM alerts WHERE rule_id = 'rule-one'"), 7);
    assert_int_equal(kb_store_exec(fx->st, "SELECT rule_id, level, tags FROM alerts WHERE"
                                           " host = 'PC-0042'",
                                   NULL, 0, alert_row, &rows),
                     KB_OK);
    assert_int_equal(rows, 1);
    /* an indicator hit keeps its confidence (80: stored + 1) and threat type */
    assert_int_equal(count(fx, "SELECT confidence FROM alerts WHERE threat = 'c2'"), 80);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM alerts WHERE confidence IS NULL AND threat IS NULL"),
                     1);
}

static void t_prune(void **state)
{
    struct fixture *fx = fixture(state);
    uint64_t n = 0;

    load(fx, DEMO);
    assert_int_equal(kb_store_prune(fx->st, KB_TIME_NONE, "demo/incident/linux", &n), KB_OK);
    assert_int_equal(n, 10);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events"), 34);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE host = 'bastion-1'"), 0);
    /* Older than 2026-11-20T09:50:00Z: all but the last 5. */
    assert_int_equal(kb_store_prune(fx->st, INT64_C(1795168200) * KB_NS_PER_SEC, NULL, &n), KB_OK);
    assert_int_equal(n, 29);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events"), 5);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM observables WHERE event_id NOT IN"
                               " (SELECT id FROM events)"),
                     0);
    /* Blocks go with their last event, and no event loses its block. */
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM blocks b WHERE NOT EXISTS"
                               " (SELECT 1 FROM events e WHERE e.blk = b.id)"),
                     0);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events e WHERE NOT EXISTS"
                               " (SELECT 1 FROM blocks b WHERE b.id = e.blk)"),
                     0);
}

static void t_shared_zeek(void **state)
{
    struct fixture *fx = fixture(state);
    kb_store_load_stats s = load(fx, ZEEK_DNS);

    assert_int_equal(s.events, 3000);
    /* grep -c '"query":"ise.wrccdc.org"' and '"id.orig_h":"10.47.1.100"' */
    assert_int_equal(hunt(fx, "dns.question.name:ise.wrccdc.org"), 1300);
    assert_int_equal(hunt(fx, "domain:ise.wrccdc.org"), 1300);
    assert_int_equal(hunt(fx, "source.ip:10.47.1.100"), 114);
    assert_int_equal(hunt(fx, "source.ip:10.47.1.100 and destination.port:53"), 114);
    assert_int_equal(count(fx, "SELECT MIN(ts) FROM events") / KB_NS_PER_SEC, 1521911720);
    /* The raw records live in compressed blocks of KB_STORE_BLOCK_EVENTS:
     * one comes back byte for byte (line 1500 of the file, 521 bytes), and
     * a substring scan reads them all, ASCII case-insensitively. */
    /* (a batch ends its last block early: one partial block per batch) */
    assert_in_range(count(fx, "SELECT COUNT(*) FROM blocks"),
                    (3000 + KB_STORE_BLOCK_EVENTS - 1) / KB_STORE_BLOCK_EVENTS,
                    (3000 + KB_STORE_BLOCK_EVENTS - 1) / KB_STORE_BLOCK_EVENTS + 4);
    {
        kb_buf b;
        kb_buf_init(&b, 0);
        assert_int_equal(kb_store_raw_get(fx->st,
                                          count(fx, "SELECT id FROM events WHERE line = 1500"),
                                          &b),
                         KB_OK);
        assert_int_equal(b.len, 521);
        assert_memory_equal(b.data,
                            "{\"_path\":\"dns\",\"_write_ts\":\"2018-03-24T17:16:14.163278Z\"", 56);
        assert_int_equal(b.data[b.len - 1], '}');
        kb_buf_release(&b);
    }
    if (kb_store_backend_of(fx->st)->raw_fields) {
        assert_int_equal(hunt(fx, "\"ise.wrccdc.org\""), 1300);
        assert_int_equal(hunt(fx, "\"ISE.WRCCDC.ORG\""), 1300);
    }
}

/* A file that grows, then is replaced by a smaller one (rotation). */
static void t_resume_rotation(void **state)
{
    struct fixture *fx = fixture(state);
    char path[128];
    FILE *f;
    int fd;
    kb_store_load_stats s;

    snprintf(path, sizeof path, "/tmp/koban-rot.XXXXXX");
    assert_true((fd = mkstemp(path)) >= 0);
    close(fd);
    f = fopen(path, "w");
    fputs("Nov 20 08:55:01 bastion-1 sshd[4101]: Failed password for root from 198.51.100.23"
          " port 50122 ssh2\n"
          "Nov 20 08:55:02 bastion-1 sshd[4101]: Failed password for root from 198.51.100.23"
          " port 50122 ssh2\n",
          f);
    fclose(f);
    s = load(fx, path);
    assert_int_equal(s.events, 2);
    f = fopen(path, "a");
    fputs("Nov 20 08:55:03 bastion-1 sshd[4101]: Accepted password for root from 198.51.100.23"
          " port 50122 ssh2\n",
          f);
    fclose(f);
    s = load(fx, path);
    assert_int_equal(s.events, 1);
    assert_int_equal(s.skipped, 2);
    f = fopen(path, "w");
    fputs("Nov 20 09:00:00 bastion-1 sshd[4200]: Accepted password for bob from 10.1.1.1 port 1"
          " ssh2\n",
          f);
    fclose(f);
    s = load(fx, path);
    assert_int_equal(s.events, 1);
    assert_int_equal(count(fx, "SELECT COUNT(*) FROM events"), 4);
    unlink(path);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_sqlite, teardown), \
                cmocka_unit_test_setup_teardown(t, setup_pg, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(t_load_demo), BOTH(t_values),     BOTH(t_hunts),           BOTH(t_alerts),
        BOTH(t_prune),     BOTH(t_shared_zeek), BOTH(t_resume_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
