/* koban rules: lint, list, test and install Sigma rules.
 *
 * Test cases live in the rule document itself, under a `tests:` key that
 * the Sigma loader ignores (docs/rules.md):
 *
 *   tests:
 *     format: syslog            # optional: decoder for the record lines
 *     match:                    # each must fire the rule
 *       - {EventID: 1, Image: 'C:\x\powershell.exe'}   # an event's fields
 *       - 'Nov 20 08:55:01 host sshd[1]: Failed password for root ...'
 *     nomatch:                  # none may fire it
 *       - {EventID: 1, Image: 'C:\x\notepad.exe'}
 *
 * A map is an event with exactly those fields (canonical ECS names fill
 * the canonical slots), matched without the logsource check; a string is a
 * raw log record decoded by koban's decoders as `scan` would, and must also
 * meet the rule's logsource. */
#define _GNU_SOURCE /* renameat2 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/yaml.h"
#include "cmd/alerts.h"
#include "cmd/output.h"
#include "detect/correlate.h"
#include "event/json.h"
#include "ingest/ingest.h"

extern char **environ;

#define MAX_WALK_FILES 1000000u
#define MAX_DOWNLOAD ((long)512 << 20) /* a rule archive larger than this is refused */
#define TEST_MAX_FIELDS 512

/* ---- walking rule files ------------------------------------------------ */

typedef struct strvec {
    char **s;
    size_t n, cap;
} strvec;

static int sv_push(strvec *v, char *s)
{
    if (!s)
        return KB_ENOMEM;
    if (v->n >= MAX_WALK_FILES) {
        kb_free(s);
        return KB_ELIMIT;
    }
    if (kb_grow((void **)&v->s, &v->cap, v->n + 1, sizeof *v->s, 64)) {
        kb_free(s);
        return KB_ENOMEM;
    }
    v->s[v->n++] = s;
    return KB_OK;
}

static void sv_free(strvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        kb_free(v->s[i]);
    kb_free(v->s);
    memset(v, 0, sizeof *v);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

static int is_rule_file(const char *name)
{
    return has_ext(name, ".yml") || has_ext(name, ".yaml");
}

/* Regular files under root (itself when a file), sorted, without following
 * symbolic links; iterative. `all` keeps every file, else rule files only.
 * Paths are relative to root when rel is set. */
static int walk(const char *root, int all, int rel, strvec *out)
{
    strvec dirs = {0};
    struct stat st;
    int rc = KB_OK;
    size_t rootlen = strlen(root);

    if (lstat(root, &st) != 0)
        return KB_ENOENT;
    if (!S_ISDIR(st.st_mode))
        return sv_push(out, kb_strdup(rel ? "" : root));
    if ((rc = sv_push(&dirs, kb_strdup(root))))
        return rc;
    while (dirs.n && rc == KB_OK) {
        char *d = dirs.s[--dirs.n];
        DIR *dh = opendir(d);
        struct dirent *e;
        while (dh && (e = readdir(dh)) && rc == KB_OK) {
            kb_buf p;
            if (e->d_name[0] == '.')
                continue;
            kb_buf_init(&p, 0);
            kb_buf_printf(&p, "%s/%s", d, e->d_name);
            if (lstat(p.data, &st) != 0) {
                kb_buf_release(&p);
                continue;
            }
            if (S_ISDIR(st.st_mode))
                rc = sv_push(&dirs, p.data);
            else if (S_ISREG(st.st_mode) && (all || is_rule_file(e->d_name)) && rel) {
                rc = sv_push(out, kb_strdup(p.data + rootlen + 1));
                kb_buf_release(&p);
            } else if (S_ISREG(st.st_mode) && (all || is_rule_file(e->d_name)))
                rc = sv_push(out, p.data);
            else
                kb_buf_release(&p);
        }
        if (dh)
            closedir(dh);
        kb_free(d);
    }
    sv_free(&dirs);
    if (out->n > 1)
        qsort(out->s, out->n, sizeof *out->s, str_cmp);
    return rc;
}

/* ---- lint ------------------------------------------------------------ */

/* Loads the default rules into rs without reporting, and resolves their
 * correlation rules: the context a correlation rule under lint or test
 * may reference. Returns how many rules it added. */
static size_t load_context(const kb_cli *cli, kb_ruleset *rs)
{
    kb_rule_report quiet = {NULL, 0};
    kb_rules_load_default(cli, rs, &quiet);
    kb_correl_resolve(rs, NULL, NULL);
    return kb_ruleset_count(rs);
}

static int rules_lint(const kb_cli *cli, int argc, char **argv)
{
    kb_names *names = kb_names_new(0);
    kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
    kb_rule_report rep = {stdout, 0}, warn = {stdout, 0};
    int status = KB_EXIT_OK, no_default = 0, npaths = 0;
    size_t n0 = 0, c0 = 0, nc = 0;

    if (!rs) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-default-rules") == 0)
            no_default = 1;
        else
            npaths++;
    }
    if (npaths < 1) {
        status = kb_cmd_usage_error(kb_cmd_find("rules"), "lint needs a file or directory");
        goto out;
    }
    if (!no_default) {
        n0 = load_context(cli, rs);
        c0 = kb_ruleset_correl_count(rs);
    }
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--no-default-rules") != 0)
            kb_rules_load_path(rs, argv[i], &rep);
    /* references are checked once every file is loaded */
    kb_correl_resolve(rs, kb_rule_report_fn, &rep);
    warn.failed = 0;
    kb_correl_check_fields(rs, c0, kb_rule_report_fn, &warn); /* warnings: exit 0 */
    for (size_t i = c0; i < kb_ruleset_correl_count(rs); i++)
        nc += kb_correl_rule_ok(kb_ruleset_correl(rs, i));
    fprintf(stderr, "%zu rules and %zu correlation rules load, %u failed", kb_ruleset_count(rs) - n0,
            nc, rep.failed);
    if (warn.failed)
        fprintf(stderr, ", %u warnings", warn.failed);
    fputc('\n', stderr);
    if (rep.failed)
        status = KB_EXIT_REJECTED;
out:
    kb_ruleset_free(rs);
    kb_names_free(names);
    return status;
}

/* ---- list -------------------------------------------------------------- */

static const kb_out_col list_cols[] = {
    {"ID", 36}, {"TITLE", 50}, {"LEVEL", 13}, {"STATUS", 12}, {"LOGSOURCE", 32}, {"PATH", 0},
};

static kb_str zs(const char *s)
{
    return s ? (kb_str){s, strlen(s)} : (kb_str){"", 0};
}

static void put_opt(kb_buf *b, const char *key, const char *v, int comma)
{
    if (comma)
        kb_buf_putc(b, ',');
    kb_json_put_str(b, key, strlen(key));
    kb_buf_putc(b, ':');
    if (v)
        kb_json_put_str(b, v, strlen(v));
    else
        kb_buf_puts(b, "null");
}

/* A JSON array of n names. */
static void put_names(kb_buf *b, const char *const *v, size_t n)
{
    kb_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, v[i], strlen(v[i]));
    }
    kb_buf_putc(b, ']');
}

/* What a rule and a correlation rule share in `rules list -o jsonl`: the
 * opening keys (name only for correlation rules, which have one)... */
static void put_meta_head(kb_buf *b, const kb_rule_meta *m, int has_name, const char *name,
                          const char *type)
{
    kb_buf_clear(b);
    kb_buf_putc(b, '{');
    put_opt(b, "id", m->id, 0);
    put_opt(b, "title", m->title, 1);
    if (has_name)
        put_opt(b, "name", name, 1);
    put_opt(b, "level", m->level, 1);
    put_opt(b, "status", m->status, 1);
    put_opt(b, "author", m->author, 1);
    put_opt(b, "type", type, 1);
}

/* ... and the closing ones, after the caller's object has put ",\"tags\":". */
static void put_meta_tail(kb_buf *b, const kb_rule_meta *m)
{
    kb_alert_put_list(b, m->tags);
    put_opt(b, "path", m->path, 1);
    kb_buf_printf(b, ",\"line\":%u}", m->line);
}

/* One table/CSV row of `rules list`, the logsource column given. */
static void put_list_row(kb_out *o, const kb_rule_meta *m, const kb_buf *ls)
{
    kb_str row[6];
    row[0] = zs(m->id);
    row[1] = zs(m->title);
    row[2] = zs(m->level);
    row[3] = zs(m->status);
    row[4] = (kb_str){ls->data, ls->len};
    row[5] = zs(m->path);
    kb_out_row(o, row);
}

static int rules_list(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("rules");
    kb_names *names = kb_names_new(0);
    kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
    kb_rule_report rep = {stderr, 0};
    int fmt = -1, no_default = 0, status = KB_EXIT_OK;
    size_t ncorr = 0;
    kb_buf b, ls;
    kb_out o;

    kb_buf_init(&b, 0);
    kb_buf_init(&ls, 0);
    if (!rs) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-default-rules") == 0)
            no_default = 1;
    }
    if (!no_default)
        kb_rules_load_default(cli, rs, &rep);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
            kb_rules_load_path(rs, argv[++i], &rep);
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0) {
                status = kb_cmd_usage_error(cmd, "unknown output format '%s'", argv[i]);
                goto out;
            }
        } else if (strcmp(argv[i], "--no-default-rules") != 0) {
            status = kb_cmd_usage_error(cmd, "list: unknown argument '%s'", argv[i]);
            goto out;
        }
    }
    kb_correl_resolve(rs, kb_rule_report_fn, &rep); /* once every file is loaded */
    kb_out_init(&o, stdout, fmt < 0 ? kb_out_default(stdout) : (kb_out_format)fmt, list_cols,
                (int)(sizeof list_cols / sizeof *list_cols));
    for (size_t i = 0; i < kb_ruleset_count(rs); i++) {
        const kb_rule_meta *m = kb_rule_meta_of(kb_ruleset_rule(rs, i));
        if (o.fmt == KB_OUT_JSONL) {
            put_meta_head(&b, m, 0, NULL, "rule");
            kb_buf_puts(&b, ",\"logsource\":{");
            put_opt(&b, "product", m->ls.product, 0);
            put_opt(&b, "category", m->ls.category, 1);
            put_opt(&b, "service", m->ls.service, 1);
            kb_buf_puts(&b, "},\"tags\":");
            put_meta_tail(&b, m);
            kb_out_json(&o, b.data, b.len);
        } else {
            kb_buf_clear(&ls);
            kb_buf_printf(&ls, "%s/%s/%s", m->ls.product ? m->ls.product : "",
                          m->ls.category ? m->ls.category : "",
                          m->ls.service ? m->ls.service : "");
            put_list_row(&o, m, &ls);
        }
    }
    for (size_t i = 0; i < kb_ruleset_correl_count(rs); i++) {
        const kb_correl_rule *cr = kb_ruleset_correl(rs, i);
        const kb_rule_meta *m = kb_correl_meta(cr);
        const char *type = kb_correl_type_name(kb_correl_rule_type(cr));
        if (!kb_correl_rule_ok(cr))
            continue; /* refused: reported above */
        ncorr++;
        if (o.fmt == KB_OUT_JSONL) {
            const char *const *v;
            size_t n;
            put_meta_head(&b, m, 1, kb_correl_rule_name(cr), "correlation");
            kb_buf_puts(&b, ",\"correlation\":{");
            put_opt(&b, "type", type, 0);
            kb_buf_puts(&b, ",\"rules\":");
            v = kb_correl_rule_refs(cr, &n);
            put_names(&b, v, n);
            kb_buf_puts(&b, ",\"group-by\":");
            v = kb_correl_rule_group_by(cr, &n);
            put_names(&b, v, n);
            kb_buf_printf(&b, ",\"timespan_s\":%lld",
                          (long long)(kb_correl_rule_timespan(cr) / KB_NS_PER_SEC));
            put_opt(&b, "field", kb_correl_rule_field(cr), 1);
            kb_buf_printf(&b, ",\"generate\":%s},\"tags\":",
                          kb_correl_rule_generate(cr) ? "true" : "false");
            put_meta_tail(&b, m);
            kb_out_json(&o, b.data, b.len);
        } else {
            kb_buf_clear(&ls);
            kb_buf_printf(&ls, "correlation/%s", type);
            put_list_row(&o, m, &ls);
        }
    }
    kb_out_release(&o);
    fprintf(stderr, "%zu rules, %zu correlation rules, %u failed to load\n",
            kb_ruleset_count(rs), ncorr, rep.failed);
    if (rep.failed)
        status = KB_EXIT_REJECTED;
out:
    kb_buf_release(&b);
    kb_buf_release(&ls);
    kb_ruleset_free(rs);
    kb_names_free(names);
    return status;
}

/* ---- test -------------------------------------------------------------- */

typedef struct tester {
    kb_names *names;
    kb_arena *arena;
    const kb_fieldmap *fm; /* applied to each file's rules, or NULL */
    kb_ruleset *ctx; /* default rules and every file under test: what
                        correlation rules reference */
    unsigned rules, tested, cases, failed, untested;
} tester;

/* Builds ev from a YAML map of fields. Returns NULL or a static reason. */
static const char *event_from_map(tester *t, const kb_yaml_node *map, const kb_rule_meta *m,
                                  kb_event *ev)
{
    kb_buf arr;
    const char *why = NULL;

    kb_event_init(ev, t->names, t->arena);
    ev->ls = m->ls;
    ev->ts = KB_TIME_NONE;
    ev->path = "test";
    ev->format = "test";
    kb_buf_init(&arr, 1 << 20);
    for (size_t i = 0; i < map->n && !why; i++) {
        const kb_yaml_node *k = map->items[2 * i], *v = map->items[2 * i + 1];
        int c, idx, rc;
        kb_vtype type = KB_V_STR;
        int bv;
        int64_t iv;

        if (k->kind != KB_YAML_SCALAR) {
            why = "test event keys must be field names";
            break;
        }
        c = kb_canon_find(k->str, k->len);
        if (v->kind == KB_YAML_MAP) {
            why = "test event values must be scalars or lists (write nested names dotted)";
            break;
        }
        if (v->kind == KB_YAML_SEQ) {
            kb_buf_clear(&arr);
            kb_buf_putc(&arr, '[');
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j]->kind != KB_YAML_SCALAR) {
                    why = "test event lists must hold scalars";
                    break;
                }
                if (j)
                    kb_buf_putc(&arr, ',');
                kb_json_put_str(&arr, v->items[j]->str, v->items[j]->len);
            }
            kb_buf_putc(&arr, ']');
            if (why)
                break;
            {
                char *raw = kb_arena_strndup(t->arena, arr.data, arr.len);
                if (!raw || kb_event_add_named(ev, k->str, k->len, KB_V_ARRAY, raw, arr.len) < 0) {
                    why = "test event too large";
                    break;
                }
            }
            for (size_t j = 0; j < v->n; j++) {
                rc = kb_event_add_named(ev, k->str, k->len, KB_V_STR, v->items[j]->str,
                                        v->items[j]->len);
                if (rc < 0) {
                    why = "test event too large";
                    break;
                }
                ev->fields[rc].flags |= KB_FF_ELEM;
                ev->fields[rc].elem = (uint16_t)j;
            }
            continue;
        }
        if (kb_yaml_is_null(v) && v->style == KB_YAML_PLAIN)
            type = KB_V_NULL;
        else if (v->style == KB_YAML_PLAIN && kb_yaml_bool(v, &bv))
            type = KB_V_BOOL;
        else if (v->style == KB_YAML_PLAIN && kb_yaml_int(v, &iv))
            type = KB_V_INT;
        else if (v->style == KB_YAML_PLAIN && kb_yaml_is_number(v))
            type = KB_V_FLOAT;
        if (c >= 0)
            idx = kb_event_set(ev, c, type, v->str, v->len);
        else
            idx = kb_event_add_named(ev, k->str, k->len, type, v->str, v->len);
        if (idx < 0)
            why = "test event too large";
        if (c == KB_F_TIMESTAMP) {
            int64_t ts;
            if (kb_time_parse_iso8601(v->str, v->len, &ts) == KB_OK)
                ev->ts = ts;
        }
    }
    kb_buf_release(&arr);
    return why;
}

/* Decodes one raw record into ev. Returns NULL or a reason. */
static const char *event_from_record(tester *t, const kb_yaml_node *rec, const char *format,
                                     kb_event *ev)
{
    kb_str line = {rec->str, rec->len};
    const kb_decoder *dec = format ? kb_decoder_find(format) : kb_decoder_sniff(&line, 1);
    kb_decode_ctx ctx = {0};
    int rc;

    if (!dec)
        return format ? "tests: no decoder of that format" : "no decoder recognises the record";
    kb_event_init(ev, t->names, t->arena);
    ev->raw = rec->str;
    ev->raw_len = (uint32_t)rec->len;
    ev->path = "test";
    ev->line = 1;
    ev->format = dec->name;
    ctx.names = t->names;
    ctx.path = "test";
    ctx.ref_time = kb_time_now();
    if (dec->state_new && !(ctx.state = dec->state_new()))
        return "out of memory";
    rc = dec->decode(&ctx, rec->str, rec->len, ev);
    if (dec->state_free)
        dec->state_free(ctx.state);
    if (rc != KB_OK)
        return ctx.err ? ctx.err : "the decoder rejected the record";
    if (!ev->format)
        ev->format = dec->name;
    return NULL;
}

/* One test case of a rule's tests: k is 0 for match:, 1 for nomatch:, i
 * its index. Prints a failure and returns 1, or returns 0. */
typedef unsigned (*case_fn)(tester *t, void *ud, const char *path, const kb_rule_meta *m,
                            const kb_yaml_node *c, int k, size_t i);

/* Runs a rule's tests (a map with match: and nomatch: lists, shared by
 * Sigma and correlation rules) through fn; prints the failures and an ok
 * line ("what" names the kind of rule in it). Returns failures. */
static unsigned run_test_map(tester *t, const char *path, const kb_rule_meta *m,
                             const kb_yaml_node *tests, const char *what, case_fn fn, void *ud)
{
    static const char *const kinds[] = {"match", "nomatch"};
    unsigned fails = 0, n[2] = {0, 0};

    if (tests->kind != KB_YAML_MAP) {
        printf("FAIL %s:%u: %s: tests must be a map with match: and nomatch: lists\n", path,
               tests->line, m->title);
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        const kb_yaml_node *list = kb_yaml_get(tests, kinds[k]);
        if (!list)
            continue;
        if (list->kind != KB_YAML_SEQ) {
            printf("FAIL %s:%u: %s: tests.%s must be a list\n", path, list->line, m->title,
                   kinds[k]);
            fails++;
            continue;
        }
        for (size_t i = 0; i < list->n; i++) {
            n[k]++;
            t->cases++;
            fails += fn(t, ud, path, m, list->items[i], k, i);
        }
    }
    if (n[0] + n[1] == 0) {
        printf("FAIL %s:%u: %s: tests has no match: or nomatch: cases\n", path, tests->line,
               m->title);
        fails++;
    } else if (!fails) {
        printf("ok   %s: %s (%s%u match, %u nomatch)\n", path, m->title, what, n[0], n[1]);
    }
    return fails;
}

typedef struct sigma_case {
    const kb_rule *r;
    const kb_rule *const *vars; /* the rule's field-map variants */
    size_t nvars;
    const char *format;         /* tests.format: the decoder of record cases */
} sigma_case;

static unsigned sigma_case_run(tester *t, void *ud, const char *path, const kb_rule_meta *m,
                               const kb_yaml_node *c, int k, size_t i)
{
    static const char *const kinds[] = {"match", "nomatch"};
    const sigma_case *sc = ud;
    kb_event ev;
    const char *why;
    int hit;

    kb_arena_clear(t->arena);
    if (c->kind == KB_YAML_MAP)
        why = event_from_map(t, c, m, &ev);
    else if (c->kind == KB_YAML_SCALAR)
        why = event_from_record(t, c, sc->format, &ev);
    else
        why = "a test case is a map of fields or a log record string";
    if (why) {
        printf("FAIL %s:%u: %s: %s[%zu]: %s\n", path, c->line, m->title, kinds[k], i, why);
        return 1;
    }
    hit = kb_rule_match(sc->r, &ev);
    if (hit && c->kind == KB_YAML_SCALAR && !kb_rule_logsource_applies(sc->r, &ev.ls))
        hit = 0;
    /* a decoded record also meets the rule's field-map variants */
    for (size_t v = 0; !hit && c->kind == KB_YAML_SCALAR && v < sc->nvars; v++)
        hit = kb_rule_logsource_applies(sc->vars[v], &ev.ls) && kb_rule_match(sc->vars[v], &ev);
    if (hit != (k == 0)) {
        printf("FAIL %s:%u: %s: %s[%zu] %s\n", path, c->line, m->title, kinds[k], i,
               k == 0 ? "did not fire the rule" : "fired the rule");
        return 1;
    }
    return 0;
}

/* Runs one Sigma rule's cases; prints the failures. Returns failures. */
static unsigned run_cases(tester *t, const char *path, const kb_rule *r,
                          const kb_rule *const *vars, size_t nvars, const kb_yaml_node *tests)
{
    const kb_yaml_node *fmt = kb_yaml_get(tests, "format");
    sigma_case sc = {r, vars, nvars, fmt && fmt->kind == KB_YAML_SCALAR ? fmt->str : NULL};
    return run_test_map(t, path, kb_rule_meta_of(r), tests, "", sigma_case_run, &sc);
}

/* ---- correlation rule tests -------------------------------------------- */

#define CORREL_TEST_MAX_ALERTS 100000u

typedef struct ctest_push {
    const kb_rule *rule;
    int64_t ts;
    size_t seq;
    const kb_yaml_node *item;
} ctest_push;

static int ctest_cmp(const void *pa, const void *pb)
{
    const ctest_push *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

typedef struct ctest_fired {
    const kb_correl_rule *cr;
    unsigned n;
} ctest_fired;

static void ctest_on_alert(void *ud, const kb_correl_alert *a)
{
    ctest_fired *f = ud;
    if (a->rule == f->cr)
        f->n++;
}

/* An integer key of a test alert (dflt when absent); -1 when not an
 * integer in [0, max]. */
static int64_t ctest_int(const kb_yaml_node *item, const char *key, int64_t dflt, int64_t max)
{
    const kb_yaml_node *n = kb_yaml_get(item, key);
    int64_t v;
    if (!n)
        return dflt;
    if (n->kind != KB_YAML_SCALAR || !kb_yaml_int(n, &v) || v < 0 || v > max)
        return -1;
    return v;
}

/* Runs one case (a list of alerts) through a fresh engine over t->ctx;
 * *fired gets how often cr fired. Returns NULL or the reason the case is
 * malformed. */
static const char *ctest_run(tester *t, const kb_correl_rule *cr, const kb_yaml_node *cs,
                             unsigned *fired, char *why, size_t wsize)
{
    ctest_fired f = {cr, 0};
    kb_correl_opts o;
    kb_correl *c = NULL;
    ctest_push *p = NULL;
    size_t np = 0;
    const char *err = NULL;

    if (cs->kind != KB_YAML_SEQ || cs->n == 0)
        return "a correlation test case is a list of alerts {rule: ID or name, at: seconds, "
               "repeat: N, every: seconds, field: value...}";
    for (size_t i = 0; i < cs->n && !err; i++) {
        const kb_yaml_node *it = cs->items[i], *rn = kb_yaml_get(it, "rule");
        const kb_rule *r;
        int64_t at = ctest_int(it, "at", 0, 366 * 86400);
        int64_t rep = ctest_int(it, "repeat", 1, CORREL_TEST_MAX_ALERTS);
        int64_t every = ctest_int(it, "every", 1, 366 * 86400);
        ctest_push *np2;

        if (it->kind != KB_YAML_MAP || !rn || rn->kind != KB_YAML_SCALAR) {
            err = "each alert of a case is a map with rule: ID or name";
            break;
        }
        if (!(r = kb_correl_find_rule(t->ctx, rn->str))) {
            snprintf(why, wsize, "alert %zu names rule '%s', which is not loaded", i, rn->str);
            err = why;
            break;
        }
        if (at < 0 || rep < 1 || every < 0) {
            err = "at and every must be whole seconds (up to a year), repeat 1 or more";
            break;
        }
        if (np + (size_t)rep > CORREL_TEST_MAX_ALERTS) {
            err = "a case holds at most 100000 alerts";
            break;
        }
        if (!(np2 = kb_realloc(p, (np + (size_t)rep) * sizeof *p))) {
            err = "out of memory";
            break;
        }
        p = np2;
        for (int64_t k = 0; k < rep; k++, np++)
            p[np] = (ctest_push){r, (at + k * every) * KB_NS_PER_SEC, np, it};
    }
    if (!err) {
        kb_correl_opts_default(&o);
        o.max_groups = 4096;
        if (!(c = kb_correl_new(t->ctx, &o, ctest_on_alert, &f, NULL, NULL)))
            err = "out of memory";
    }
    if (!err) {
        qsort(p, np, sizeof *p, ctest_cmp);
        for (size_t i = 0; i < np && !err; i++) {
            const char *const *fields;
            size_t nf = kb_correl_fields(c, p[i].rule, &fields);
            kb_str vals[64];
            if (nf > 64) {
                err = "the correlation reads more than 64 fields";
                break;
            }
            for (size_t k = 0; k < nf; k++) {
                const kb_yaml_node *v = kb_yaml_get(p[i].item, fields[k]);
                vals[k] = v && v->kind == KB_YAML_SCALAR && !kb_yaml_is_null(v)
                              ? (kb_str){v->str, v->len}
                              : (kb_str){NULL, 0};
            }
            if (kb_correl_push_values(c, p[i].rule, p[i].ts, "test", vals, nf) < 0)
                err = "the correlation engine refused an alert";
        }
        kb_correl_flush(c);
    }
    kb_correl_free(c);
    kb_free(p);
    *fired = f.n;
    return err;
}

static unsigned correl_case_run(tester *t, void *ud, const char *path, const kb_rule_meta *m,
                                const kb_yaml_node *c, int k, size_t i)
{
    static const char *const kinds[] = {"match", "nomatch"};
    unsigned fired = 0;
    char why[600];
    const char *err = ctest_run(t, ud, c, &fired, why, sizeof why);
    if (err) {
        printf("FAIL %s:%u: %s: %s[%zu]: %s\n", path, c->line, m->title, kinds[k], i, err);
        return 1;
    }
    if (k == 0 && fired == 0) {
        printf("FAIL %s:%u: %s: %s[%zu] did not fire the correlation\n", path, c->line,
               m->title, kinds[k], i);
        return 1;
    }
    if (k == 1 && fired) {
        printf("FAIL %s:%u: %s: %s[%zu] fired the correlation (%u alerts)\n", path, c->line,
               m->title, kinds[k], i, fired);
        return 1;
    }
    return 0;
}

/* Runs one correlation rule's cases; prints the failures. Returns failures. */
static unsigned run_correl_cases(tester *t, const char *path, const kb_correl_rule *cr,
                                 const kb_yaml_node *tests)
{
    return run_test_map(t, path, kb_correl_meta(cr), tests, "correlation, ", correl_case_run,
                        (void *)cr);
}

/* The correlation rule of t->ctx loaded from this path and title line. */
static const kb_correl_rule *ctx_correl(const tester *t, const char *path, uint32_t line)
{
    for (size_t i = 0; i < kb_ruleset_correl_count(t->ctx); i++) {
        const kb_correl_rule *cr = kb_ruleset_correl(t->ctx, i);
        const kb_rule_meta *m = kb_correl_meta(cr);
        if (m->line == line && strcmp(m->path, path) == 0)
            return cr;
    }
    return NULL;
}

static void test_correl_doc(tester *t, const char *path, const kb_yaml_node *title,
                            const kb_yaml_node *tests)
{
    const kb_correl_rule *cr = ctx_correl(t, path, title->line);
    t->rules++;
    if (!tests) {
        t->untested++;
        return;
    }
    if (!cr || !kb_correl_rule_ok(cr)) {
        printf("FAIL %s:%u: the correlation rule did not load, its tests did not run\n", path,
               title->line);
        t->failed++;
        return;
    }
    t->tested++;
    t->failed += run_correl_cases(t, path, cr, tests);
}

static void test_file(tester *t, const char *path)
{
    kb_ruleset *rs = kb_ruleset_new(t->names);
    kb_rule_report rep = {stdout, 0};
    kb_yaml *y = NULL;
    kb_yaml_error ye;

    if (!rs) {
        t->failed++;
        return;
    }
    kb_ruleset_load_file(rs, path, kb_rule_report_fn, &rep);
    if (t->fm) {
        kb_fieldmap_stats st;
        kb_ruleset_apply_fieldmap(rs, t->fm, &st, kb_rule_report_fn, &rep);
    }
    t->failed += rep.failed;
    if (kb_yaml_parse_file(path, NULL, &y, &ye) != KB_OK)
        goto out; /* already reported by the loader */
    for (size_t d = 0; d < kb_yaml_ndocs(y); d++) {
        const kb_yaml_node *doc = kb_yaml_doc(y, d);
        const kb_yaml_node *title = kb_yaml_get(doc, "title");
        const kb_yaml_node *tests = kb_yaml_get(doc, "tests");
        const kb_rule *r = NULL;
        const kb_rule *vars[64];
        size_t nvars = 0;

        if (doc && doc->kind == KB_YAML_MAP && title && kb_yaml_get(doc, "correlation")) {
            test_correl_doc(t, path, title, tests);
            continue;
        }
        if (!doc || doc->kind != KB_YAML_MAP || !title || !kb_yaml_get(doc, "detection"))
            continue; /* not a rule (a filter, an empty document) */
        t->rules++;
        for (size_t i = 0; i < kb_ruleset_count(rs); i++) {
            const kb_rule *cand = kb_ruleset_rule(rs, i);
            if (kb_rule_meta_of(cand)->line != title->line)
                continue;
            if (!kb_rule_meta_of(cand)->fieldmap)
                r = cand;
            else if (nvars < sizeof vars / sizeof *vars)
                vars[nvars++] = cand; /* its field-map variants */
        }
        if (!tests) {
            t->untested++;
            continue;
        }
        if (!r) {
            printf("FAIL %s:%u: the rule did not load, its tests did not run\n", path,
                   title->line);
            t->failed++;
            continue;
        }
        t->tested++;
        t->failed += run_cases(t, path, r, vars, nvars, tests);
    }
out:
    kb_yaml_free(y);
    kb_ruleset_free(rs);
}

/* Reports a correlation rule under test refused when references are
 * checked. */
static void on_refused(void *ud, const char *path, uint32_t line, const char *reason,
                       const char *msg)
{
    tester *t = ud;
    (void)path, (void)line, (void)reason;
    printf("FAIL %s\n", msg);
    t->failed++;
}

static int rules_test(const kb_cli *cli, int argc, char **argv)
{
    tester t = {0};
    strvec files = {0};
    int status = KB_EXIT_OK, no_default = 0, npaths = 0, no_fieldmap = 0;
    const char *given = NULL;
    kb_fieldmap *fm = NULL;
    kb_rule_report rep = {stdout, 0};
    kb_buf used;

    /* options anywhere among the paths; the paths are kept in argv[0..npaths) */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-default-rules") == 0)
            no_default = 1;
        else if (strcmp(argv[i], "--no-fieldmap") == 0)
            no_fieldmap = 1;
        else if (strcmp(argv[i], "--fieldmap") == 0 && i + 1 < argc)
            given = argv[++i];
        else if (strcmp(argv[i], "--fieldmap") == 0)
            return kb_cmd_usage_error(kb_cmd_find("rules"), "test: --fieldmap wants a file");
        else
            argv[npaths++] = argv[i];
    }
    argc = npaths;
    if (npaths < 1)
        return kb_cmd_usage_error(kb_cmd_find("rules"), "test needs a file or directory");
    kb_buf_init(&used, 0);
    if (!no_fieldmap) {
        int rc = kb_cmd_fieldmap_load(cli, given, &rep, &fm, &used);
        if (rc != KB_OK) {
            if (rc != KB_EPARSE)
                printf("FAIL %s: the field map cannot be read\n", used.data);
            kb_buf_release(&used);
            return KB_EXIT_USAGE;
        }
    }
    kb_buf_release(&used);
    t.fm = fm;
    t.failed += rep.failed;
    t.names = kb_names_new(0);
    t.arena = kb_arena_new(1 << 16, 64 << 20);
    t.ctx = t.names ? kb_ruleset_new(t.names) : NULL;
    if (!t.names || !t.arena || !t.ctx) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!no_default)
        load_context(cli, t.ctx);
    for (int i = 0; i < argc; i++) {
        int rc = walk(argv[i], 0, 0, &files);
        if (rc == KB_ENOENT) {
            printf("FAIL %s: %s\n", argv[i], strerror(ENOENT));
            t.failed++;
        }
    }
    /* every file first (quietly: test_file reports load errors), so that
     * correlation rules find the rules they reference in other files */
    for (size_t k = 0; k < files.n; k++)
        kb_ruleset_load_file(t.ctx, files.s[k], NULL, NULL);
    kb_correl_resolve(t.ctx, on_refused, &t);
    for (size_t k = 0; k < files.n; k++)
        test_file(&t, files.s[k]);
    printf("%u rules, %u with tests, %u cases, %u failed, %u without tests\n", t.rules, t.tested,
           t.cases, t.failed, t.untested);
    if (t.failed)
        status = KB_EXIT_REJECTED;
out:
    kb_fieldmap_free(fm);
    sv_free(&files);
    kb_ruleset_free(t.ctx);
    kb_arena_free(t.arena);
    kb_names_free(t.names);
    return status;
}

/* ---- install ----------------------------------------------------------- */

/* Runs argv (argv[0] a program found on PATH) without a shell, with stdout
 * to /dev/null; returns its exit status or -1. */
static int run_prog(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st, rc;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void remove_tree(const char *path)
{
    char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};
    run_prog(argv);
}

static int mkdirs(const char *path)
{
    kb_buf b;
    int rc = KB_OK;
    kb_buf_init(&b, 0);
    kb_buf_puts(&b, path);
    for (size_t i = 1; i <= b.len; i++) {
        if (b.data[i] == '/' || b.data[i] == '\0') {
            char c = b.data[i];
            b.data[i] = '\0';
            if (mkdir(b.data, 0755) != 0 && errno != EEXIST)
                rc = KB_EIO;
            b.data[i] = c;
        }
    }
    kb_buf_release(&b);
    return rc;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return fwrite(p, size, n, ud);
}

/* Downloads url into path. Returns NULL or a reason (in err, static or
 * curl's text copied into errbuf). */
static const char *download(const char *url, const char *path, char *errbuf)
{
    FILE *f = fopen(path, "wb");
    CURL *c;
    CURLcode rc;
    long code = 0;
    const char *why = NULL;

    if (!f)
        return "cannot write the download";
    c = curl_easy_init();
    if (!c) {
        fclose(f);
        return "cannot start libcurl";
    }
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, MAX_DOWNLOAD);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, "koban/" KOBAN_VERSION);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK)
        why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    else if (code != 200)
        why = "the server did not answer 200 OK";
    curl_easy_cleanup(c);
    if (fclose(f) != 0 && !why)
        why = "cannot write the download";
    return why;
}

/* "gz", "zip" or NULL from the file's first bytes. */
static const char *archive_kind(const char *path)
{
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f)
        return NULL;
    n = fread(m, 1, sizeof m, f);
    fclose(f);
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return "gz";
    if (n >= 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4)
        return "zip";
    return NULL;
}

/* Copies the rule files (and licence/readme files) of src into dst,
 * regular files only: no links, devices or other oddities from archives. */
static int copy_rules(const char *src, const char *dst, size_t *copied)
{
    strvec files = {0};
    int rc = walk(src, 1, 1, &files);
    kb_buf from, to;
    char buf[65536];

    kb_buf_init(&from, 0);
    kb_buf_init(&to, 0);
    *copied = 0;
    for (size_t i = 0; i < files.n && rc == KB_OK; i++) {
        const char *rel = files.s[i], *base = strrchr(rel, '/');
        FILE *in, *out;
        size_t n;
        base = base ? base + 1 : rel;
        if (!is_rule_file(base) && strncmp(base, "LICENSE", 7) != 0 &&
            strncmp(base, "README", 6) != 0)
            continue;
        kb_buf_clear(&from);
        kb_buf_clear(&to);
        kb_buf_printf(&from, "%s/%s", src, rel);
        kb_buf_printf(&to, "%s/%s", dst, rel);
        {
            char *slash = strrchr(to.data, '/');
            *slash = '\0';
            rc = mkdirs(to.data);
            *slash = '/';
        }
        if (rc)
            break;
        if (!(in = fopen(from.data, "rb"))) {
            rc = KB_EIO;
            break;
        }
        if (!(out = fopen(to.data, "wb"))) {
            fclose(in);
            rc = KB_EIO;
            break;
        }
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                rc = KB_EIO;
        if (ferror(in))
            rc = KB_EIO;
        fclose(in);
        if (fclose(out) != 0)
            rc = KB_EIO;
        if (is_rule_file(base))
            (*copied)++;
    }
    kb_buf_release(&from);
    kb_buf_release(&to);
    sv_free(&files);
    return rc;
}

/* The default name of a rule set: the last path component without its
 * archive extension; only [A-Za-z0-9._-]. */
static void default_name(const char *src, kb_buf *out)
{
    static const char *const exts[] = {".tar.gz", ".tgz", ".zip", NULL};
    const char *end = src + strlen(src), *start;
    while (end > src && end[-1] == '/')
        end--;
    start = end;
    while (start > src && start[-1] != '/')
        start--;
    for (int i = 0; exts[i]; i++) {
        size_t e = strlen(exts[i]);
        if ((size_t)(end - start) > e && strncmp(end - e, exts[i], e) == 0) {
            end -= e;
            break;
        }
    }
    {
        const char *q = memchr(start, '?', (size_t)(end - start));
        if (q)
            end = q;
    }
    kb_buf_clear(out);
    for (const char *p = start; p < end; p++)
        kb_buf_putc(out, (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
                                 (*p == '.' && p > start)
                             ? *p
                             : '_');
    if (out->len == 0)
        kb_buf_puts(out, "rules");
}

static int valid_name(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int rules_install(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("rules");
    const char *src = NULL, *name = NULL, *why = NULL, *given;
    kb_buf root, tmp, extract, rules, final, old, nm, dl;
    char errbuf[CURL_ERROR_SIZE + 1];
    int status = KB_EXIT_OK, is_url = 0, made_tmp = 0;
    size_t copied = 0;
    struct stat st;

    kb_buf_init(&root, 0);
    kb_buf_init(&tmp, 0);
    kb_buf_init(&extract, 0);
    kb_buf_init(&rules, 0);
    kb_buf_init(&final, 0);
    kb_buf_init(&old, 0);
    kb_buf_init(&nm, 0);
    kb_buf_init(&dl, 0);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return kb_cmd_usage_error(cmd, "install: unknown option '%s'", argv[i]);
        else if (!src)
            src = argv[i];
        else
            return kb_cmd_usage_error(cmd, "install takes one directory, archive or URL");
    }
    if (!src)
        return kb_cmd_usage_error(cmd, "install needs a directory, an archive or a URL");
    if (name && !valid_name(name))
        return kb_cmd_usage_error(cmd, "--name: letters, digits, '.', '-' and '_' only");
    given = src;
    is_url = strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0;
    if (name)
        kb_buf_puts(&nm, name);
    else
        default_name(src, &nm);

    kb_rules_installed_dir(cli, &root);
    if (mkdirs(root.data)) {
        fprintf(stderr, "koban rules install: %s: cannot create: %s\n", root.data,
                strerror(errno));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    kb_buf_printf(&tmp, "%s/.tmp-%s-XXXXXX", root.data, nm.data);
    if (!mkdtemp(tmp.data)) {
        fprintf(stderr, "koban rules install: %s: %s\n", root.data, strerror(errno));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    made_tmp = 1;
    kb_buf_printf(&extract, "%s/extract", tmp.data);
    kb_buf_printf(&rules, "%s/rules", tmp.data);
    kb_buf_printf(&final, "%s/%s", root.data, nm.data);

    if (is_url) {
        kb_buf_printf(&dl, "%s/download", tmp.data);
        if ((why = download(src, dl.data, errbuf)))
            goto fail;
        src = dl.data;
    }
    if (stat(src, &st) != 0) {
        why = strerror(errno);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        if (copy_rules(src, rules.data, &copied)) {
            why = "cannot copy the rules";
            goto fail;
        }
    } else {
        const char *kind = archive_kind(src);
        int rc;
        if (!kind) {
            why = "not a directory, a .tar.gz or a .zip archive";
            goto fail;
        }
        if (mkdirs(extract.data)) {
            why = "cannot create a temporary directory";
            goto fail;
        }
        if (strcmp(kind, "gz") == 0) {
            char *av[] = {"tar", "-xzf", (char *)src, "-C", extract.data, "--no-same-owner",
                          "--no-same-permissions", NULL};
            rc = run_prog(av);
        } else {
            char *av[] = {"unzip", "-q", "-o", (char *)src, "-d", extract.data, NULL};
            rc = run_prog(av);
            if (rc < 0) {
                why = "unzip is not installed (needed for .zip archives)";
                goto fail;
            }
        }
        if (rc != 0) {
            why = "the archive could not be extracted";
            goto fail;
        }
        if (copy_rules(extract.data, rules.data, &copied)) {
            why = "cannot copy the rules";
            goto fail;
        }
        remove_tree(extract.data);
    }
    if (copied == 0) {
        why = "no rule files (*.yml, *.yaml) found";
        goto fail;
    }
    {
        /* Validate: the set must load; failures are reported. */
        kb_names *names = kb_names_new(0);
        kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
        kb_rule_report rep = {stderr, 0};
        size_t loaded;
        if (!rs) {
            kb_names_free(names);
            why = "out of memory";
            goto fail;
        }
        kb_ruleset_load_dir(rs, rules.data, kb_rule_report_fn, &rep);
        loaded = kb_ruleset_count(rs);
        kb_ruleset_free(rs);
        kb_names_free(names);
        if (loaded == 0) {
            why = "none of its rules loads";
            goto fail;
        }
        if (rep.failed)
            status = KB_EXIT_REJECTED;
        /* Swap in: the new set replaces the old one in one rename. */
        if (lstat(final.data, &st) == 0) {
            if (renameat2(AT_FDCWD, rules.data, AT_FDCWD, final.data, RENAME_EXCHANGE) != 0) {
                /* no RENAME_EXCHANGE: move the old set aside first */
                kb_buf_printf(&old, "%s/old", tmp.data);
                if (rename(final.data, old.data) != 0 || rename(rules.data, final.data) != 0) {
                    why = strerror(errno);
                    goto fail;
                }
            }
        } else if (rename(rules.data, final.data) != 0) {
            why = strerror(errno);
            goto fail;
        }
        printf("installed %zu rules (%zu files, %u failed to load) into %s\n", loaded, copied,
               rep.failed, final.data);
    }
    goto out;
fail:
    fprintf(stderr, "koban rules install: %s: %s\n", given, why);
    status = KB_EXIT_REJECTED;
out:
    if (made_tmp)
        remove_tree(tmp.data);
    kb_buf_release(&root);
    kb_buf_release(&tmp);
    kb_buf_release(&extract);
    kb_buf_release(&rules);
    kb_buf_release(&final);
    kb_buf_release(&old);
    kb_buf_release(&nm);
    kb_buf_release(&dl);
    return status;
}

/* ---- dispatch ---------------------------------------------------------- */

int kb_cmd_rules(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("rules");
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (!sub)
        return kb_cmd_usage_error(cmd, "which one: lint, list, test or install?");
    if (strcmp(sub, "lint") == 0)
        return rules_lint(cli, argc - 2, argv + 2);
    if (strcmp(sub, "list") == 0)
        return rules_list(cli, argc - 2, argv + 2);
    if (strcmp(sub, "test") == 0)
        return rules_test(cli, argc - 2, argv + 2);
    if (strcmp(sub, "install") == 0)
        return rules_install(cli, argc - 2, argv + 2);
    return kb_cmd_usage_error(cmd, "no sub-command '%s'", sub);
}
