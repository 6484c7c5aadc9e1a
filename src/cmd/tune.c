/* koban tune: analyst exceptions (suppress, rate-limit, level) kept in the
 * store with a reason, an author and an expiry; per-rule statistics from
 * the alert history and the analysts' verdicts; recommendations with their
 * evidence and the notification volume they would give; and `apply`,
 * which writes chosen recommendations into the overrides file that `koban
 * scan` reads beside the configuration's `suppress:` section.
 *
 * `koban verdict ID tp|fp|benign` records an analyst's verdict on an
 * incident; the rules of the incident (its detail's "rules") are credited
 * with it. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/alerts.h"
#include "cmd/cmd.h"
#include "cmd/output.h"
#include "detect/suppress.h"
#include "event/json.h"
#include "store/store.h"

/* ---- the tables ---------------------------------------------------------- */

static const char *const tune_v1[] = {
    "CREATE TABLE tune_exceptions (id {pk}, created BIGINT NOT NULL, rule TEXT NOT NULL,"
    " type TEXT NOT NULL, by_field TEXT, value TEXT, window_ns BIGINT, level TEXT,"
    " reason TEXT NOT NULL, author TEXT NOT NULL, expires BIGINT, removed BIGINT,"
    " removed_by TEXT)",
    "CREATE TABLE tune_verdicts (id {pk}, ts BIGINT NOT NULL, incident_id BIGINT NOT NULL,"
    " verdict TEXT NOT NULL, author TEXT, reason TEXT)",
    "CREATE INDEX tune_verdicts_incident ON tune_verdicts (incident_id)",
    "CREATE TABLE tune_suppressed (alert_id BIGINT NOT NULL, verdict TEXT NOT NULL,"
    " exception_id BIGINT, reason TEXT)",
    "CREATE INDEX tune_suppressed_alert ON tune_suppressed (alert_id)",
    NULL,
};
static const kb_store_step tune_steps[] = {{1, tune_v1}};

int kb_tune_schema(kb_store *st)
{
    return kb_store_migrate_module(st, "tune", tune_steps, 1);
}

/* A text parameter, or NULL. */
static kb_sval sv_str(const char *s)
{
    kb_sval v = {KB_SV_NULL, 0, 0, NULL, 0};
    if (s)
        v = (kb_sval)KB_SV_STRV(s, strlen(s));
    return v;
}
#define SV_STR(s) sv_str(s)

static void audit(kb_store *st, const char *actor, const char *action, const char *detail)
{
    kb_sval p[4] = {KB_SV_INTV(kb_time_now()), SV_STR(actor), SV_STR(action), SV_STR(detail)};
    kb_store_exec(st, "INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)", p, 4,
                  NULL, NULL);
}

/* ---- exceptions ------------------------------------------------------------- */

typedef struct load_ctx {
    kb_suppress *s;
    int failed;
} load_ctx;

static char *col_str(const kb_sval *v, char *buf, size_t size)
{
    if (v->type != KB_SV_TEXT)
        return NULL;
    snprintf(buf, size, "%.*s", (int)v->len, v->p);
    return buf;
}

static int on_exception(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    load_ctx *x = ud;
    kb_suppress_entry e;
    char rule[512], type[32], by[32], value[512], level[32], reason[1024], author[256];
    const char *err;
    (void)ncol, (void)names;
    memset(&e, 0, sizeof e);
    e.id = c[0].i;
    e.rule = col_str(&c[1], rule, sizeof rule);
    e.type = kb_suppress_type_parse(col_str(&c[2], type, sizeof type) ? type : "");
    e.by = col_str(&c[3], by, sizeof by) ? kb_suppress_by_parse(by) : KB_SUP_BY_NONE;
    e.value = col_str(&c[4], value, sizeof value);
    e.window = c[5].type == KB_SV_INT ? c[5].i : 0;
    e.level = col_str(&c[6], level, sizeof level);
    e.reason = col_str(&c[7], reason, sizeof reason);
    e.author = col_str(&c[8], author, sizeof author);
    e.expires = c[9].type == KB_SV_INT ? c[9].i : KB_TIME_NONE;
    if (e.by < 0)
        e.by = KB_SUP_BY_NONE;
    if (kb_suppress_add(x->s, &e, &err))
        x->failed++;
    return 0;
}

int kb_tune_load_exceptions(kb_store *st, kb_suppress *s, int64_t now)
{
    load_ctx x = {s, 0};
    kb_sval p[1] = {KB_SV_INTV(now)};
    int rc;
    if ((rc = kb_tune_schema(st)))
        return rc;
    return kb_store_exec(st,
                         "SELECT id, rule, type, by_field, value, window_ns, level, reason,"
                         " author, expires FROM tune_exceptions WHERE removed IS NULL AND"
                         " (expires IS NULL OR expires > ?) ORDER BY id",
                         p, 1, on_exception, &x);
}

int kb_tune_flag_suppressed(kb_store *st, int64_t alert_id, const char *verdict,
                            int64_t exception_id, const char *reason)
{
    kb_sval p[4] = {KB_SV_INTV(alert_id), SV_STR(verdict), KB_SV_INTV(exception_id),
                    SV_STR(reason)};
    return kb_store_exec(st, "INSERT INTO tune_suppressed (alert_id, verdict, exception_id,"
                             " reason) VALUES (?, ?, ?, ?)", p, 4, NULL, NULL);
}

/* "30d", "12h" from now, an ISO 8601 time, or "never". */
static int parse_expiry(const char *s, int64_t *out)
{
    int64_t d;
    if (strcmp(s, "never") == 0) {
        *out = KB_TIME_NONE;
        return KB_OK;
    }
    if (kb_suppress_parse_duration(s, strlen(s), &d) == KB_OK) {
        *out = kb_time_now() + d;
        return KB_OK;
    }
    return kb_time_parse_iso8601(s, strlen(s), out);
}

static const char *me(void)
{
    const char *u = getenv("USER");
    return u && *u ? u : "unknown";
}

/* The options of a recorded decision (removing an exception, a verdict):
 * --store DSN, --author NAME and --reason TEXT in argv[first..argc). KB_OK, or
 * the exit status of the usage error it printed. */
static int decision_opts(const kb_command *cmd, int argc, char **argv, int first, const char **dsn,
                         const char **who, const char **why)
{
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            *dsn = argv[++i];
        else if (strcmp(argv[i], "--author") == 0 && i + 1 < argc)
            *who = argv[++i];
        else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
            *why = argv[++i];
        else
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
    }
    return KB_OK;
}

/* Opens the store and makes sure the tune tables exist; NULL when either
 * fails (the store is then closed). */
static kb_store *open_tune_store(const kb_cli *cli, const char *dsn)
{
    kb_store *st = kb_cmd_open_store(cli, dsn);
    if (st && kb_tune_schema(st)) {
        kb_store_close(st);
        return NULL;
    }
    return st;
}

static int except_add(const kb_cli *cli, const kb_command *cmd, int argc, char **argv)
{
    kb_suppress_entry e;
    kb_suppress *chk = NULL;
    const char *dsn = NULL, *err, *expires = "30d";
    kb_store *st = NULL;
    int64_t id;
    int rc = KB_EXIT_OK;

    memset(&e, 0, sizeof e);
    e.author = me();
    for (int i = 3; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return kb_cmd_usage_error(cmd, "%s needs a value", a);
        if (strcmp(a, "--rule") == 0)
            e.rule = v;
        else if (strcmp(a, "--type") == 0 && (e.type = kb_suppress_type_parse(v)) < 0)
            return kb_cmd_usage_error(cmd, "--type is suppress, limit or level");
        else if (strcmp(a, "--by") == 0 && (e.by = kb_suppress_by_parse(v)) < 0)
            return kb_cmd_usage_error(cmd, "--by is source, destination, host or user");
        else if (strcmp(a, "--value") == 0)
            e.value = v;
        else if (strcmp(a, "--window") == 0) {
            if (kb_suppress_parse_duration(v, strlen(v), &e.window))
                return kb_cmd_usage_error(cmd, "--window is a number and s, m, h, d or w");
            if (e.type == KB_SUP_SUPPRESS)
                e.type = KB_SUP_LIMIT;
        } else if (strcmp(a, "--level") == 0) {
            e.level = v;
            e.type = KB_SUP_LEVEL;
        } else if (strcmp(a, "--reason") == 0)
            e.reason = v;
        else if (strcmp(a, "--author") == 0)
            e.author = v;
        else if (strcmp(a, "--expires") == 0)
            expires = v;
        else if (strcmp(a, "--store") == 0)
            dsn = v;
        else if (strcmp(a, "--type") && strcmp(a, "--by"))
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
    }
    if (!e.reason || !*e.reason)
        return kb_cmd_usage_error(cmd, "an exception needs --reason");
    if (parse_expiry(expires, &e.expires))
        return kb_cmd_usage_error(cmd, "--expires is 30d, 12h, an ISO 8601 time or never");
    if (!(chk = kb_suppress_new(16)))
        return KB_EXIT_FAILURE;
    if (kb_suppress_add(chk, &e, &err)) {
        kb_suppress_free(chk);
        return kb_cmd_usage_error(cmd, "%s", err);
    }
    kb_suppress_free(chk);
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (kb_tune_schema(st)) {
        fprintf(stderr, "koban tune: store: %s\n", kb_store_errmsg(st));
        rc = KB_EXIT_FAILURE;
        goto out;
    }
    {
        const char *ty = kb_suppress_type_name(e.type);
        kb_sval p[11] = {KB_SV_INTV(kb_time_now()),
                         SV_STR(e.rule),
                         SV_STR(ty),
                         SV_STR(e.by ? kb_suppress_by_name(e.by) : NULL),
                         SV_STR(e.value),
                         e.window ? KB_SV_INTV(e.window) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
                         SV_STR(e.level),
                         SV_STR(e.reason),
                         SV_STR(e.author),
                         e.expires != KB_TIME_NONE ? KB_SV_INTV(e.expires)
                                                   : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
                         {KB_SV_NULL, 0, 0, NULL, 0}};
        kb_buf d;
        id = kb_store_scalar(st, "INSERT INTO tune_exceptions (created, rule, type, by_field,"
                                 " value, window_ns, level, reason, author, expires)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                             p, 10, 0);
        if (id <= 0) {
            fprintf(stderr, "koban tune: store: %s\n", kb_store_errmsg(st));
            rc = KB_EXIT_FAILURE;
            goto out;
        }
        kb_buf_init(&d, 0);
        kb_buf_printf(&d, "exception %lld: %s %s%s%s%s%s: %s", (long long)id, ty, e.rule,
                      e.by ? " by " : "", e.by ? kb_suppress_by_name(e.by) : "",
                      e.value ? " = " : "", e.value ? e.value : "", e.reason);
        audit(st, e.author, "tune.except.add", d.data);
        kb_buf_release(&d);
    }
    printf("exception %lld added\n", (long long)id);
out:
    kb_store_close(st);
    return rc;
}

typedef struct list_ctx {
    kb_out *o;
    kb_buf b;
} list_ctx;

static int on_list(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    list_ctx *x = ud;
    kb_str row[9];
    char ids[24], exp[40] = "never", win[24] = "";
    (void)names;
    snprintf(ids, sizeof ids, "%lld", (long long)c[0].i);
    if (c[9].type == KB_SV_INT)
        kb_time_format(c[9].i, exp, sizeof exp);
    if (c[5].type == KB_SV_INT)
        snprintf(win, sizeof win, "%llds", (long long)(c[5].i / KB_NS_PER_SEC));
    if (c[10].type == KB_SV_INT)
        snprintf(exp, sizeof exp, "removed");
    row[0] = (kb_str){ids, strlen(ids)};
    for (int k = 1; k <= 4; k++)
        row[k] = c[k].type == KB_SV_TEXT ? (kb_str){c[k].p, c[k].len} : (kb_str){"", 0};
    row[5] = c[6].type == KB_SV_TEXT ? (kb_str){c[6].p, c[6].len} : (kb_str){win, strlen(win)};
    row[6] = (kb_str){c[8].p ? c[8].p : "", c[8].p ? c[8].len : 0};
    row[7] = (kb_str){exp, strlen(exp)};
    row[8] = (kb_str){c[7].p ? c[7].p : "", c[7].p ? c[7].len : 0};
    (void)ncol;
    kb_out_row(x->o, row);
    return 0;
}

static int except_list(const kb_cli *cli, const kb_command *cmd, int argc, char **argv)
{
    static const kb_out_col cols[] = {{"ID", 5},     {"RULE", 38},  {"TYPE", 8},
                                      {"BY", 11},    {"VALUE", 18}, {"LEVEL/WIN", 10},
                                      {"AUTHOR", 10}, {"EXPIRES", 30}, {"REASON", 0}};
    const char *dsn = NULL;
    int all = 0, fmt = -1, rc;
    kb_store *st;
    kb_out o;
    list_ctx x;
    kb_sval p[1] = {KB_SV_INTV(kb_time_now())};

    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0 || fmt == KB_OUT_JSONL)
                return kb_cmd_usage_error(cmd, "-o is table or csv");
        } else
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
    }
    if (!(st = open_tune_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    kb_out_init(&o, stdout, fmt < 0 ? KB_OUT_TABLE : (kb_out_format)fmt, cols, 9);
    x.o = &o;
    rc = kb_store_exec(st,
                       all ? "SELECT id, rule, type, by_field, value, window_ns, level, reason,"
                             " author, expires, removed FROM tune_exceptions WHERE ? > 0"
                             " ORDER BY id"
                           : "SELECT id, rule, type, by_field, value, window_ns, level, reason,"
                             " author, expires, removed FROM tune_exceptions WHERE removed IS"
                             " NULL AND (expires IS NULL OR expires > ?) ORDER BY id",
                       p, 1, on_list, &x);
    kb_out_release(&o);
    kb_store_close(st);
    return rc ? KB_EXIT_FAILURE : KB_EXIT_OK;
}

static int except_rm(const kb_cli *cli, const kb_command *cmd, int argc, char **argv)
{
    const char *dsn = NULL, *who = me(), *why = NULL;
    int64_t id;
    kb_store *st;
    int rc = KB_EXIT_OK;

    if (argc < 4 || kb_parse_i64(argv[3], strlen(argv[3]), &id) || id <= 0)
        return kb_cmd_usage_error(cmd, "tune except rm wants an exception ID");
    if ((rc = decision_opts(cmd, argc, argv, 4, &dsn, &who, &why)))
        return rc;
    if (!(st = open_tune_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    {
        kb_sval q[1] = {KB_SV_INTV(id)};
        kb_sval p[3] = {KB_SV_INTV(kb_time_now()), SV_STR(who), KB_SV_INTV(id)};
        char d[512];
        if (kb_store_scalar(st, "SELECT COUNT(*) FROM tune_exceptions WHERE id = ? AND removed"
                                " IS NULL", q, 1, 0) != 1) {
            fprintf(stderr, "koban tune: no active exception %lld\n", (long long)id);
            rc = KB_EXIT_REJECTED;
            goto out;
        }
        /* recorded, not deleted: the exception keeps its history */
        if (kb_store_exec(st, "UPDATE tune_exceptions SET removed = ?, removed_by = ? WHERE id = ?",
                          p, 3, NULL, NULL)) {
            rc = KB_EXIT_FAILURE;
            goto out;
        }
        snprintf(d, sizeof d, "exception %lld removed%s%s", (long long)id, why ? ": " : "",
                 why ? why : "");
        audit(st, who, "tune.except.rm", d);
        printf("exception %lld removed\n", (long long)id);
    }
out:
    kb_store_close(st);
    return rc;
}

/* ---- statistics and recommendations ----------------------------------------- */

typedef struct rstat {
    char *id, *title, *level;
    int64_t alerts, hosts, sources, notify_alerts;
    int64_t tp, fp, benign;
    char *top_host;
    int64_t top_host_n;
    int64_t suppressed;
    /* recommendation */
    int rec; /* REC_* */
    char *rec_level;
    int64_t after; /* notifications under the recommendation */
} rstat;

enum { REC_NONE, REC_RAISE, REC_LOWER, REC_SUPPRESS_HOST, REC_LIMIT, REC_CORRELATE };
static const char *const rec_names[] = {"keep", "raise level", "lower level", "suppress host",
                                        "rate-limit", "require correlation"};

typedef struct stats {
    rstat *v;
    size_t n, cap;
    int64_t since;
    double days;
} stats;

static char *sdup(const kb_sval *v)
{
    return v->type == KB_SV_TEXT ? kb_strndup(v->p, v->len) : kb_strdup("");
}

static rstat *find_rule(stats *s, const char *id, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i].id) == len && memcmp(s->v[i].id, id, len) == 0)
            return &s->v[i];
    return NULL;
}

static int on_rule_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    stats *s = ud;
    rstat *r;
    (void)ncol, (void)names;
    if (kb_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v, 64))
        return KB_ENOMEM;
    r = &s->v[s->n++];
    memset(r, 0, sizeof *r);
    r->id = sdup(&c[0]);
    r->title = sdup(&c[1]);
    r->level = sdup(&c[2]);
    r->alerts = c[3].i;
    r->hosts = c[4].i;
    r->sources = c[5].i;
    return 0;
}

static int on_top_host(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    rstat *r = ud;
    (void)ncol, (void)names;
    if (!r->top_host) {
        r->top_host = sdup(&c[0]);
        r->top_host_n = c[1].i;
    }
    return 0;
}

/* Credits the rules of an incident (its detail's "rules": [{id}]) with a
 * verdict. */
static int on_verdict(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    stats *s = ud;
    json_t *root, *rules;
    json_error_t je;
    size_t i;
    json_t *it;
    (void)ncol, (void)names;
    if (c[1].type != KB_SV_TEXT)
        return 0;
    if (!(root = json_loadb(c[1].p, c[1].len, 0, &je)))
        return 0;
    rules = json_object_get(root, "rules");
    json_array_foreach(rules, i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        rstat *r = id ? find_rule(s, id, strlen(id)) : NULL;
        if (!r)
            continue;
        if (c[0].len == 2 && memcmp(c[0].p, "tp", 2) == 0)
            r->tp++;
        else if (c[0].len == 2 && memcmp(c[0].p, "fp", 2) == 0)
            r->fp++;
        else
            r->benign++;
    }
    json_decref(root);
    return 0;
}

static int lvl(const char *s)
{
    int l = kb_level_parse(s);
    return l < 0 ? KB_LEVEL_INFO : l;
}

static int gather(kb_store *st, stats *s)
{
    kb_sval p[1] = {KB_SV_INTV(s->since)};
    int rc;
    if ((rc = kb_tune_schema(st)))
        return rc;
    if ((rc = kb_store_exec(st,
                            "SELECT a.rule_id, MAX(a.title), MAX(a.level), COUNT(*),"
                            " COUNT(DISTINCT a.host), COUNT(DISTINCT e.source_ip)"
                            " FROM alerts a LEFT JOIN events e ON e.id = a.event_id"
                            " WHERE a.ts >= ? AND a.rule_id IS NOT NULL"
                            " GROUP BY a.rule_id ORDER BY COUNT(*) DESC, a.rule_id",
                            p, 1, on_rule_row, s)))
        return rc;
    for (size_t i = 0; i < s->n; i++) {
        rstat *r = &s->v[i];
        kb_sval q[2] = {SV_STR(r->id), KB_SV_INTV(s->since)};
        if ((rc = kb_store_exec(st, "SELECT host, COUNT(*) FROM alerts WHERE rule_id = ? AND"
                                    " ts >= ? AND host IS NOT NULL AND host <> ''"
                                    " GROUP BY host ORDER BY COUNT(*) DESC, host LIMIT 1",
                                q, 2, on_top_host, r)))
            return rc;
        r->suppressed = kb_store_scalar(st, "SELECT COUNT(*) FROM tune_suppressed t JOIN alerts a"
                                            " ON a.id = t.alert_id WHERE a.rule_id = ? AND"
                                            " a.ts >= ?", q, 2, 0);
    }
    /* the latest verdict per incident */
    return kb_store_exec(st,
                         "SELECT v.verdict, i.detail FROM tune_verdicts v JOIN incidents i"
                         " ON i.id = v.incident_id WHERE v.id IN (SELECT MAX(id) FROM"
                         " tune_verdicts GROUP BY incident_id) AND i.updated >= ?",
                         p, 1, on_verdict, s);
}

/* Decides each rule's recommendation and the notifications (alerts at
 * medium or above) it would leave. */
static void recommend(stats *s)
{
    double days = s->days < 1 ? 1 : s->days;
    int64_t total = 0;
    for (size_t i = 0; i < s->n; i++)
        total += s->v[i].alerts;
    for (size_t i = 0; i < s->n; i++) {
        rstat *r = &s->v[i];
        int64_t v = r->tp + r->fp + r->benign;
        double right = v ? (double)r->tp / (double)v : -1, per_day = (double)r->alerts / days;
        /* noisy: five a day, or at least five alerts and a quarter of all */
        int noisy = per_day >= 5 || (r->alerts >= 5 && r->alerts * 4 >= total);
        int l = lvl(r->level);
        r->notify_alerts = l >= KB_LEVEL_MEDIUM ? r->alerts : 0;
        r->after = r->notify_alerts;
        r->rec = REC_NONE;
        if (v >= 2 && right >= 0.8 && !noisy && l < KB_LEVEL_CRITICAL) {
            r->rec = REC_RAISE;
            r->rec_level = (char *)kb_level_name(l + 1);
            r->after = l + 1 >= KB_LEVEL_MEDIUM ? r->alerts : 0;
        } else if (v >= 1 && right <= 0.2 && noisy) {
            if (l <= KB_LEVEL_LOW) {
                /* weak alone: leave it to the correlation rules that use it */
                r->rec = REC_CORRELATE;
                r->rec_level = "informational";
                r->after = 0;
            } else if (r->top_host && r->top_host_n * 2 >= r->alerts) {
                r->rec = REC_SUPPRESS_HOST;
                r->after = r->alerts - r->top_host_n;
            } else {
                r->rec = REC_LOWER;
                r->rec_level = (char *)kb_level_name(l - 1);
                r->after = l - 1 >= KB_LEVEL_MEDIUM ? r->alerts : 0;
            }
        } else if (v == 0 && per_day >= 50 && r->hosts > 0) {
            /* noisy and never judged: one alert per host per hour at most */
            int64_t cap = (int64_t)ceil(days * 24.0) * r->hosts;
            if (cap < r->alerts) {
                r->rec = REC_LIMIT;
                r->after = r->notify_alerts ? cap : 0;
            }
        }
    }
}

static void stats_release(stats *s)
{
    for (size_t i = 0; i < s->n; i++) {
        kb_free(s->v[i].id);
        kb_free(s->v[i].title);
        kb_free(s->v[i].level);
        kb_free(s->v[i].top_host);
    }
    kb_free(s->v);
}

static int parse_since(const char *v, int64_t *since, double *days)
{
    int64_t d;
    if (kb_suppress_parse_duration(v, strlen(v), &d))
        return KB_EPARSE;
    *since = kb_time_now() - d;
    *days = (double)d / (86400.0 * KB_NS_PER_SEC);
    return KB_OK;
}

static void evidence(const rstat *r, const stats *s, kb_buf *b)
{
    kb_buf_clear(b);
    kb_buf_printf(b, "%lld alerts in %.0f d (%.1f/day) on %lld hosts, %lld sources",
                  (long long)r->alerts, s->days, (double)r->alerts / (s->days < 1 ? 1 : s->days),
                  (long long)r->hosts, (long long)r->sources);
    if (r->top_host && r->alerts)
        kb_buf_printf(b, "; %.0f%% on %s", 100.0 * (double)r->top_host_n / (double)r->alerts,
                      r->top_host);
    kb_buf_printf(b, "; verdicts %lld tp, %lld fp, %lld benign", (long long)r->tp,
                  (long long)r->fp, (long long)r->benign);
    if (r->suppressed)
        kb_buf_printf(b, "; %lld suppressed", (long long)r->suppressed);
}

static int tune_report(const kb_cli *cli, const kb_command *cmd, int argc, char **argv)
{
    const char *dsn = NULL;
    stats s;
    kb_store *st;
    kb_buf b;
    int json = 0;
    int64_t before = 0, after = 0;

    memset(&s, 0, sizeof s);
    parse_since("30d", &s.since, &s.days);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (parse_since(argv[++i], &s.since, &s.days))
                return kb_cmd_usage_error(cmd, "--since is a number and s, m, h, d or w");
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            dsn = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            int f = kb_out_parse(argv[++i]);
            if (f != KB_OUT_TABLE && f != KB_OUT_JSONL)
                return kb_cmd_usage_error(cmd, "-o is table or jsonl");
            json = f == KB_OUT_JSONL;
        } else {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    kb_buf_init(&b, 0);
    if (gather(st, &s)) {
        fprintf(stderr, "koban tune: store: %s\n", kb_store_errmsg(st));
        kb_store_close(st);
        stats_release(&s);
        return KB_EXIT_FAILURE;
    }
    recommend(&s);
    for (size_t i = 0; i < s.n; i++) {
        const rstat *r = &s.v[i];
        before += r->notify_alerts;
        after += r->after;
        evidence(r, &s, &b);
        if (json) {
            kb_buf jb;
            kb_buf_init(&jb, 0);
            kb_buf_puts(&jb, "{\"rule.id\":");
            kb_json_put_str(&jb, r->id, strlen(r->id));
            kb_buf_puts(&jb, ",\"rule.name\":");
            kb_json_put_str(&jb, r->title, strlen(r->title));
            kb_buf_puts(&jb, ",\"level\":");
            kb_json_put_str(&jb, r->level, strlen(r->level));
            kb_buf_printf(&jb, ",\"alerts\":%lld,\"hosts\":%lld,\"sources\":%lld,\"tp\":%lld,"
                               "\"fp\":%lld,\"benign\":%lld,\"suppressed\":%lld,"
                               "\"notifications\":%lld,\"notifications_after\":%lld,"
                               "\"recommendation\":\"%s\"",
                          (long long)r->alerts, (long long)r->hosts, (long long)r->sources,
                          (long long)r->tp, (long long)r->fp, (long long)r->benign,
                          (long long)r->suppressed, (long long)r->notify_alerts,
                          (long long)r->after, rec_names[r->rec]);
            if (r->rec_level)
                kb_buf_printf(&jb, ",\"new_level\":\"%s\"", r->rec_level);
            if (r->rec == REC_SUPPRESS_HOST) {
                kb_buf_puts(&jb, ",\"host\":");
                kb_json_put_str(&jb, r->top_host, strlen(r->top_host));
            }
            kb_buf_puts(&jb, ",\"evidence\":");
            kb_json_put_str(&jb, b.data, b.len);
            kb_buf_puts(&jb, "}\n");
            fwrite(jb.data, 1, jb.len, stdout);
            kb_buf_release(&jb);
            continue;
        }
        printf("%-8s %s (%s)\n         %s", r->level, r->title, r->id, b.data);
        if (r->rec == REC_NONE)
            printf("\n         -> keep\n");
        else if (r->rec == REC_SUPPRESS_HOST)
            printf("\n         -> suppress host %s: notifications %lld -> %lld\n", r->top_host,
                   (long long)r->notify_alerts, (long long)r->after);
        else if (r->rec_level)
            printf("\n         -> %s to %s: notifications %lld -> %lld\n", rec_names[r->rec],
                   r->rec_level, (long long)r->notify_alerts, (long long)r->after);
        else
            printf("\n         -> %s (one per host per hour): notifications %lld -> %lld\n",
                   rec_names[r->rec], (long long)r->notify_alerts, (long long)r->after);
    }
    if (!json)
        printf("%zu rules with alerts since %.0f days; notifications (medium and above): "
               "%lld now, %lld under the recommendations\n",
               s.n, s.days, (long long)before, (long long)after);
    kb_buf_release(&b);
    kb_store_close(st);
    stats_release(&s);
    return KB_EXIT_OK;
}

/* The overrides file: <data dir>/overrides.yaml unless --overrides. */
void kb_tune_overrides_path(const kb_cli *cli, kb_buf *out)
{
    kb_buf_clear(out);
    kb_buf_printf(out, "%s/overrides.yaml", cli->data_dir);
}

static int tune_apply(const kb_cli *cli, const kb_command *cmd, int argc, char **argv)
{
    const char *dsn = NULL, *path = NULL, **only = kb_calloc((size_t)argc, sizeof *only);
    size_t nonly = 0, written = 0;
    stats s;
    kb_store *st = NULL;
    kb_buf b, pb, ev;
    FILE *f = NULL;
    int rc = KB_EXIT_OK, exists;

    memset(&s, 0, sizeof s);
    kb_buf_init(&b, 0);
    kb_buf_init(&pb, 0);
    kb_buf_init(&ev, 0);
    parse_since("30d", &s.since, &s.days);
    if (!only)
        return KB_EXIT_FAILURE;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (parse_since(argv[++i], &s.since, &s.days)) {
                rc = kb_cmd_usage_error(cmd, "--since is a number and s, m, h, d or w");
                goto out;
            }
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            dsn = argv[++i];
        } else if (strcmp(argv[i], "--overrides") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc) {
            only[nonly++] = argv[++i];
        } else {
            rc = kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
            goto out;
        }
    }
    if (!path) {
        kb_tune_overrides_path(cli, &pb);
        path = pb.data;
    }
    if (!(st = kb_cmd_open_store(cli, dsn))) {
        rc = KB_EXIT_FAILURE;
        goto out;
    }
    if (gather(st, &s)) {
        fprintf(stderr, "koban tune: store: %s\n", kb_store_errmsg(st));
        rc = KB_EXIT_FAILURE;
        goto out;
    }
    recommend(&s);
    exists = access(path, F_OK) == 0;
    if (!(f = fopen(path, "a"))) {
        fprintf(stderr, "koban tune: %s: %s\n", path, strerror(errno));
        rc = KB_EXIT_FAILURE;
        goto out;
    }
    if (!exists)
        fputs("# koban overrides, written by `koban tune apply` (read by koban scan).\n"
              "# Same entries as the suppress: section of koban.yaml.\nsuppress:\n", f);
    for (size_t i = 0; i < s.n; i++) {
        const rstat *r = &s.v[i];
        int chosen = nonly == 0;
        char now[40];
        for (size_t k = 0; k < nonly; k++)
            chosen |= strcmp(only[k], r->id) == 0;
        if (!chosen || r->rec == REC_NONE)
            continue;
        evidence(r, &s, &ev);
        kb_time_format(kb_time_now(), now, sizeof now);
        kb_buf_clear(&b);
        kb_buf_printf(&b, "  - {rule: '%s', ", r->id);
        if (r->rec == REC_SUPPRESS_HOST)
            kb_buf_printf(&b, "by: host, value: '%s', ", r->top_host);
        else if (r->rec == REC_LIMIT)
            kb_buf_puts(&b, "by: host, window: 1h, ");
        else
            kb_buf_printf(&b, "level: %s, ", r->rec_level);
        kb_buf_printf(&b, "reason: '%s on %.10s: ", rec_names[r->rec], now);
        for (size_t k = 0; k < ev.len; k++) { /* YAML single quotes: '' is a quote */
            if (ev.data[k] == '\'')
                kb_buf_putc(&b, '\'');
            kb_buf_putc(&b, ev.data[k]);
        }
        kb_buf_puts(&b, "'}\n");
        fwrite(b.data, 1, b.len, f);
        printf("applied: %s %s\n", rec_names[r->rec], r->title);
        written++;
    }
    if (fclose(f) != 0)
        rc = KB_EXIT_FAILURE;
    f = NULL;
    printf("%zu overrides written to %s\n", written, path);
    if (written) {
        kb_buf_clear(&b);
        kb_buf_printf(&b, "%zu overrides written to %s", written, path);
        audit(st, me(), "tune.apply", b.data);
    }
out:
    if (f)
        fclose(f);
    kb_store_close(st);
    stats_release(&s);
    kb_free(only);
    kb_buf_release(&b);
    kb_buf_release(&pb);
    kb_buf_release(&ev);
    return rc;
}

int kb_cmd_tune(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("tune");
    if (argc < 2)
        return kb_cmd_usage_error(cmd, "tune wants except, report or apply");
    if (strcmp(argv[1], "except") == 0) {
        if (argc < 3)
            return kb_cmd_usage_error(cmd, "tune except wants add, list or rm");
        if (strcmp(argv[2], "add") == 0)
            return except_add(cli, cmd, argc, argv);
        if (strcmp(argv[2], "list") == 0)
            return except_list(cli, cmd, argc, argv);
        if (strcmp(argv[2], "rm") == 0)
            return except_rm(cli, cmd, argc, argv);
        return kb_cmd_usage_error(cmd, "tune except wants add, list or rm");
    }
    if (strcmp(argv[1], "report") == 0)
        return tune_report(cli, cmd, argc, argv);
    if (strcmp(argv[1], "apply") == 0)
        return tune_apply(cli, cmd, argc, argv);
    return kb_cmd_usage_error(cmd, "unknown tune command '%s'", argv[1]);
}

/* ---- verdicts ------------------------------------------------------------------ */

int kb_cmd_verdict(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("verdict");
    const char *dsn = NULL, *why = NULL, *who = me(), *v;
    int64_t id;
    kb_store *st;
    int rc = KB_EXIT_OK;

    if (argc < 3 || kb_parse_i64(argv[1], strlen(argv[1]), &id) || id <= 0)
        return kb_cmd_usage_error(cmd, "verdict wants an incident ID and tp, fp or benign");
    v = argv[2];
    if (strcmp(v, "tp") && strcmp(v, "fp") && strcmp(v, "benign"))
        return kb_cmd_usage_error(cmd, "the verdict is tp, fp or benign");
    if ((rc = decision_opts(cmd, argc, argv, 3, &dsn, &who, &why)))
        return rc;
    if (!(st = open_tune_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    {
        kb_sval q[1] = {KB_SV_INTV(id)};
        kb_sval p[5] = {KB_SV_INTV(kb_time_now()), KB_SV_INTV(id), SV_STR(v), SV_STR(who),
                        SV_STR(why)};
        char d[256];
        if (kb_store_scalar(st, "SELECT COUNT(*) FROM incidents WHERE id = ?", q, 1, 0) != 1) {
            fprintf(stderr, "koban verdict: no incident %lld\n", (long long)id);
            rc = KB_EXIT_REJECTED;
            goto out;
        }
        if (kb_store_exec(st, "INSERT INTO tune_verdicts (ts, incident_id, verdict, author,"
                              " reason) VALUES (?, ?, ?, ?, ?)", p, 5, NULL, NULL)) {
            fprintf(stderr, "koban verdict: store: %s\n", kb_store_errmsg(st));
            rc = KB_EXIT_FAILURE;
            goto out;
        }
        snprintf(d, sizeof d, "incident %lld: %s", (long long)id, v);
        audit(st, who, "verdict", d);
        printf("incident %lld: %s\n", (long long)id, v);
    }
out:
    kb_store_close(st);
    return rc;
}
