/* Bindings (respond.bindings): which playbooks an incident starts, the
 * section's errors with their lines, and starting once per incident. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/yaml.h"
#include "respond/respond.h"
#include "store/store.h"
#include "triage/triage.h"

/* Parses text as a configuration file and its respond: section. */
static int parse(const char *text, kb_resp_bindings *b, char *err, size_t errsize)
{
    kb_yaml *y = NULL;
    kb_yaml_error ye = {0};
    int rc;
    assert_int_equal(kb_yaml_parse(text, strlen(text), NULL, &y, &ye), KB_OK);
    rc = kb_resp_bindings_parse(b, "koban.yaml", kb_yaml_get(kb_yaml_doc(y, 0), "respond"), err,
                                errsize);
    kb_yaml_free(y);
    return rc;
}

/* The selected playbooks as "a,b,c". */
static const char *sel(const kb_resp_bindings *b, const char *type, const char *sev, char *out,
                       size_t size)
{
    size_t idx[16], n = kb_resp_bindings_select(b, type, sev, idx, 16);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, b->v[idx[i]].playbook, size - strlen(out) - 1);
    }
    return out;
}

static void test_select(void **state)
{
    kb_resp_bindings b;
    char err[512], s[256];
    (void)state;
    assert_int_equal(
        parse("ingest: {}\n"
              "respond:\n"
              "  playbooks: /srv/pb\n"
              "  bindings:\n"
              "    - {type: targeted-attack, playbook: targeted-attack}\n"
              "    - {type: ransomware, playbook: ransomware, min_severity: high}\n"
              "    - {type: '*', playbook: notify-csirt, min_severity: critical}\n"
              "    - {type: ransomware, playbook: notify-csirt}\n"
              "    - {type: brute-force, playbook: brute-force, min_severity: Medium}\n",
              &b, err, sizeof err),
        KB_OK);
    assert_int_equal(b.n, 5);
    assert_true(b.enabled);
    assert_false(b.dry_run);
    assert_string_equal(b.playbooks, "/srv/pb");
    assert_null(b.config);
    assert_int_equal(b.v[0].line, 5);
    assert_int_equal(b.v[1].min_severity, KB_SEV_HIGH);
    assert_int_equal(b.v[4].min_severity, KB_SEV_MEDIUM);
    /* by type, in the order written */
    assert_string_equal(sel(&b, "targeted-attack", "low", s, sizeof s), "targeted-attack");
    assert_string_equal(sel(&b, "targeted-attack", "critical", s, sizeof s),
                        "targeted-attack,notify-csirt");
    /* below the minimum severity: not that binding; a playbook bound twice
     * (by type and by "*") is selected once */
    assert_string_equal(sel(&b, "ransomware", "medium", s, sizeof s), "notify-csirt");
    assert_string_equal(sel(&b, "ransomware", "high", s, sizeof s), "ransomware,notify-csirt");
    assert_string_equal(sel(&b, "ransomware", "critical", s, sizeof s), "ransomware,notify-csirt");
    assert_string_equal(sel(&b, "brute-force", "low", s, sizeof s), "");
    assert_string_equal(sel(&b, "brute-force", "medium", s, sizeof s), "brute-force");
    /* an unknown severity counts as low */
    assert_string_equal(sel(&b, "brute-force", NULL, s, sizeof s), "");
    assert_string_equal(sel(&b, "brute-force", "bogus", s, sizeof s), "");
    /* unbound types, and no type: nothing */
    assert_string_equal(sel(&b, "scan", "high", s, sizeof s), "");
    assert_string_equal(sel(&b, "scan", "critical", s, sizeof s), "notify-csirt");
    assert_int_equal(kb_resp_bindings_select(&b, NULL, "critical", NULL, 0), 0);
    /* max bounds the output */
    size_t one[1];
    assert_int_equal(kb_resp_bindings_select(&b, "ransomware", "high", one, 1), 1);
    kb_resp_bindings_release(&b);

    /* no section, or an empty one: nothing bound */
    assert_int_equal(parse("intel: {}\n", &b, err, sizeof err), KB_OK);
    assert_int_equal(b.n, 0);
    assert_string_equal(sel(&b, "ransomware", "critical", s, sizeof s), "");
    kb_resp_bindings_release(&b);
    assert_int_equal(parse("respond:\n  auto_start: false\n  dry_run: true\n  config: /etc/r.yml\n"
                           "  bindings: [{type: a, playbook: b}]\n",
                           &b, err, sizeof err),
                     KB_OK);
    assert_false(b.enabled);
    assert_true(b.dry_run);
    assert_string_equal(b.config, "/etc/r.yml");
    kb_resp_bindings_release(&b);
}

static void test_errors(void **state)
{
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"respond: [a]\n", "koban.yaml:1: respond must be a mapping"},
        {"respond:\n  bindngs: []\n", "koban.yaml:2: unknown respond key"},
        {"respond:\n  bindings: {type: a}\n", "koban.yaml:2: respond.bindings must be a list"},
        {"respond:\n  bindings:\n    - ransomware\n", "koban.yaml:3: a binding is a mapping"},
        {"respond:\n  bindings:\n    - {type: a, playbook: b}\n    - {playbook: b}\n",
         "koban.yaml:4: a binding needs the incident type"},
        {"respond:\n  bindings:\n    - {type: a}\n", "koban.yaml:3: a binding needs the playbook"},
        {"respond:\n  bindings:\n    - {type: a, playbook: b, min_severity: severe}\n",
         "koban.yaml:3: min_severity must be low, medium, high or critical"},
        {"respond:\n  bindings:\n    - {type: a, playbook: b, when: x}\n",
         "koban.yaml:3: unknown binding key"},
        {"respond:\n  bindings:\n    - {type: a, playbook: ../../etc/x}\n",
         "koban.yaml:3: playbook: a playbook's name, not a path"},
        {"respond:\n  bindings:\n    - {type: a, playbook: b}\n    - {type: a, playbook: b}\n",
         "koban.yaml:4: this type is already bound to this playbook"},
        {"respond:\n  bindings:\n    - {type: \"a\\0b\", playbook: b}\n",
         "koban.yaml:3: type: an incident type's name (no control characters"},
        {"respond:\n  bindings:\n    - {type: a, playbook: \"b\\nc\"}\n",
         "koban.yaml:3: playbook: a playbook's name (no control characters"},
        {"respond:\n  auto_start: maybe\n",
         "koban.yaml:2: respond.auto_start must be true or false"},
        {"respond:\n  playbooks: [a, b]\n", "koban.yaml:2: respond.playbooks must be a directory"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kb_resp_bindings b;
        char err[512];
        assert_int_equal(parse(cases[i].yaml, &b, err, sizeof err), KB_EPARSE);
        if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, err, cases[i].err);
        assert_int_equal(b.n, 0); /* refused whole */
        assert_null(b.v);
        kb_resp_bindings_release(&b);
    }
}

static int64_t count(kb_store *st, const char *sql)
{
    return kb_store_scalar(st, sql, NULL, 0, -1);
}

static void test_start_once(void **state)
{
    char dir[] = "/tmp/kbbindXXXXXX", path[600], e[600], err[512];
    kb_resp_bindings b;
    kb_resp_auto_report rep;
    kb_resp_opts o = {"auto", NULL, 0, NULL, 0, NULL};
    kb_buf diag;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ask.yml", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("name: ask-host\n"
          "processes:\n"
          "  - id: m\n"
          "    method: {manual: {instructions: 'Call the user of {{incident.host}}'}}\n"
          "    outputs: {reached: answer}\n"
          "steps:\n"
          "  - {id: call, process: m}\n",
          f);
    fclose(f);
    kb_store *st = kb_store_open_dir(dir, e, sizeof e);
    assert_non_null(st);
    assert_int_equal(kb_triage_schema(st), KB_OK);
    assert_int_equal(
        kb_store_exec(st,
                      "INSERT INTO incidents (created, updated, type, severity, status,"
                      " entity, title, detail) VALUES (1, 2, 'ransomware', 'high',"
                      " 'new', 'host:pc-7', 'Ransomware', '{\"users\":[\"bob\"]}'),"
                      " (1, 2, 'scan', 'critical', 'new', 'source:192.0.2.1', 'Scan',"
                      " '{}')",
                      NULL, 0, NULL, NULL),
        KB_OK);
    assert_int_equal(parse("respond:\n  bindings:\n"
                           "    - {type: ransomware, playbook: ask-host}\n"
                           "    - {type: ransomware, playbook: missing}\n"
                           "    - {type: scan, playbook: ask-host, min_severity: high}\n"
                           "    - {type: scan, playbook: missing, min_severity: high}\n",
                           &b, err, sizeof err),
                     KB_OK);
    /* incident 1 (ransomware): ask-host starts, missing is recorded */
    kb_buf_init(&diag, 1 << 16);
    memset(&rep, 0, sizeof rep);
    assert_int_equal(kb_resp_bindings_start(st, &b, dir, 1, &o, &rep, &diag), KB_OK);
    assert_int_equal(rep.started, 1);
    assert_int_equal(rep.failed, 1);
    assert_int_equal(rep.already, 0);
    assert_non_null(strstr(diag.data, "koban: incident 1: playbook missing (bound to ransomware"
                                      " incidents (koban.yaml:4)) not started: no usable"
                                      " playbook 'missing'"));
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_runs WHERE incident_id = 1"), 1);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_runs WHERE incident_id = 1 AND"
                               " status = 'waiting' AND playbook = 'ask-host'"),
                     1);
    /* the incident's variables: the entity's host, the alerts' user */
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_runs WHERE incident_id = 1 AND vars"
                               " LIKE '%\"incident.host\":\"pc-7\"%' AND vars LIKE"
                               " '%\"incident.user\":\"bob\"%'"),
                     1);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_timeline WHERE incident_id = 1 AND"
                               " kind = 'start' AND actor = 'auto' AND detail LIKE '%bound to"
                               " ransomware incidents (koban.yaml:3)%'"),
                     1);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_timeline WHERE incident_id = 1 AND"
                               " run_id = 0 AND kind = 'auto-start-failed'"),
                     1);
    /* again: the run exists, nothing starts twice */
    memset(&rep, 0, sizeof rep);
    kb_buf_clear(&diag);
    assert_int_equal(kb_resp_bindings_start(st, &b, dir, 1, &o, &rep, &diag), KB_OK);
    assert_int_equal(rep.started, 0);
    assert_int_equal(rep.already, 1);
    assert_int_equal(rep.failed, 1); /* still missing, reported again */
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_runs"), 1);
    /* the other incident */
    memset(&rep, 0, sizeof rep);
    assert_int_equal(kb_resp_bindings_start(st, &b, dir, 2, &o, &rep, NULL), KB_OK);
    assert_int_equal(rep.started, 1);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM resp_runs WHERE incident_id = 2"), 1);
    /* an unknown incident, and disabled bindings: nothing */
    memset(&rep, 0, sizeof rep);
    assert_int_equal(kb_resp_bindings_start(st, &b, dir, 99, &o, &rep, NULL), KB_OK);
    b.enabled = 0;
    assert_int_equal(kb_resp_bindings_start(st, &b, dir, 1, &o, &rep, NULL), KB_OK);
    assert_int_equal(rep.started + rep.already + rep.failed, 0);
    kb_resp_bindings_release(&b);
    kb_buf_release(&diag);
    kb_store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_start_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
