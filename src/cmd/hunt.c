/* koban hunt: search the stored history with the hunt language (see
 * store/hunt.h), or ask one of the triage questions by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/output.h"
#include "event/json.h"
#include "store/hunt.h"
#include "store/store.h"

struct hunt_run {
    kb_out out;
    const kb_hunt_sql *q;
    kb_buf line;
    char times[KB_HUNT_MAX_COLS][40];
};

static const kb_out_col event_cols[] = {
    {"TIME", 24}, {"FORMAT", 9}, {"HOST", 16}, {"SOURCE", 21}, {"DESTINATION", 21},
    {"USER", 14}, {"WHAT", 0},
};

/* Index in the event row of a canonical field. */
#define EV(c) (1 + (c))

static kb_str text_of(const kb_sval *v, char *buf, size_t size, int is_time, int table)
{
    int n;
    switch (v->type) {
    case KB_SV_INT:
        if (is_time) {
            size_t k = kb_time_format(v->i, buf, size);
            if (table && k > 23) {
                buf[23] = 'Z';
                k = 24;
            }
            return (kb_str){buf, k};
        }
        n = snprintf(buf, size, "%lld", (long long)v->i);
        return (kb_str){buf, n > 0 ? (size_t)n : 0};
    case KB_SV_REAL:
        n = snprintf(buf, size, "%g", v->d);
        return (kb_str){buf, n > 0 ? (size_t)n : 0};
    case KB_SV_TEXT:
        return (kb_str){v->p, v->len};
    default:
        return (kb_str){"", 0};
    }
}

static kb_str endpoint(const kb_sval *cols, int ip, int port, char *buf, size_t size)
{
    const kb_sval *a = &cols[EV(ip)], *p = &cols[EV(port)];
    int n;
    if (a->type != KB_SV_TEXT)
        return (kb_str){"", 0};
    if (p->type == KB_SV_INT)
        n = snprintf(buf, size, "%.*s:%lld", (int)a->len, a->p, (long long)p->i);
    else
        n = snprintf(buf, size, "%.*s", (int)a->len, a->p);
    return (kb_str){buf, n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1};
}

static int event_row(struct hunt_run *r, size_t ncol, const kb_sval *c)
{
    static const int what[] = {KB_F_RULE_NAME,        KB_F_PROCESS_COMMAND_LINE,
                               KB_F_DNS_QUESTION_NAME, KB_F_URL_FULL,
                               KB_F_EVENT_ACTION,     KB_F_MESSAGE,
                               KB_F_PROCESS_EXECUTABLE};
    char ts[40], src[80], dst[80], num[32];
    kb_str row[7];
    size_t fmt_col = 1 + KB_F_CANON_COUNT;

    if (ncol < kb_hunt_event_ncols)
        return 0;
    if (r->out.fmt == KB_OUT_TABLE) {
        row[0] = text_of(&c[EV(KB_F_TIMESTAMP)], ts, sizeof ts, 1, 1);
        row[1] = text_of(&c[fmt_col], num, sizeof num, 0, 1);
        row[2] = text_of(&c[EV(KB_F_HOST_NAME)], num, sizeof num, 0, 1);
        row[3] = endpoint(c, KB_F_SOURCE_IP, KB_F_SOURCE_PORT, src, sizeof src);
        row[4] = endpoint(c, KB_F_DESTINATION_IP, KB_F_DESTINATION_PORT, dst, sizeof dst);
        row[5] = text_of(&c[EV(KB_F_USER_NAME)], num, sizeof num, 0, 1);
        row[6] = (kb_str){"", 0};
        for (size_t i = 0; i < sizeof what / sizeof what[0]; i++)
            if (c[EV(what[i])].type == KB_SV_TEXT && c[EV(what[i])].len) {
                row[6] = (kb_str){c[EV(what[i])].p, c[EV(what[i])].len};
                break;
            }
        kb_out_row(&r->out, row);
        return 0;
    }
    /* JSON Lines and CSV: every non-empty column under its ECS name. */
    kb_buf_clear(&r->line);
    if (r->out.fmt == KB_OUT_CSV) {
        kb_str vals[KB_HUNT_MAX_COLS * 2];
        char bufs[8][40];
        size_t nb = 0;
        for (size_t i = 0; i < kb_hunt_event_ncols && i < sizeof vals / sizeof vals[0]; i++) {
            char *b = nb < 8 && c[i].type == KB_SV_INT ? bufs[nb++] : ts;
            vals[i] = text_of(&c[i], b, 40, kb_hunt_event_cols[i].is_time, 0);
        }
        kb_out_row(&r->out, vals);
        return 0;
    }
    kb_buf_putc(&r->line, '{');
    for (size_t i = 0, k = 0; i < kb_hunt_event_ncols; i++) {
        if (c[i].type == KB_SV_NULL)
            continue;
        if (k++)
            kb_buf_putc(&r->line, ',');
        kb_json_put_str(&r->line, kb_hunt_event_cols[i].name, strlen(kb_hunt_event_cols[i].name));
        kb_buf_putc(&r->line, ':');
        if (c[i].type == KB_SV_INT && !kb_hunt_event_cols[i].is_time) {
            kb_buf_printf(&r->line, "%lld", (long long)c[i].i);
        } else {
            kb_str s = text_of(&c[i], ts, sizeof ts, kb_hunt_event_cols[i].is_time, 0);
            kb_json_put_str(&r->line, s.p, s.len);
        }
    }
    kb_buf_putc(&r->line, '}');
    kb_out_json(&r->out, r->line.data, r->line.len);
    return 0;
}

static int on_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct hunt_run *r = ud;
    kb_str vals[KB_HUNT_MAX_COLS];
    (void)names;

    if (r->q->events)
        return event_row(r, ncol, c);
    if (ncol > r->q->ncols)
        ncol = r->q->ncols;
    if (r->out.fmt == KB_OUT_JSONL) {
        kb_buf_clear(&r->line);
        kb_buf_putc(&r->line, '{');
        for (size_t i = 0; i < ncol; i++) {
            if (i)
                kb_buf_putc(&r->line, ',');
            kb_json_put_str(&r->line, r->q->titles[i], strlen(r->q->titles[i]));
            kb_buf_putc(&r->line, ':');
            if (c[i].type == KB_SV_NULL) {
                kb_buf_puts(&r->line, "null");
            } else if (c[i].type == KB_SV_INT && !r->q->is_time[i]) {
                kb_buf_printf(&r->line, "%lld", (long long)c[i].i);
            } else {
                kb_str s = text_of(&c[i], r->times[i], sizeof r->times[i], r->q->is_time[i], 0);
                kb_json_put_str(&r->line, s.p, s.len);
            }
        }
        kb_buf_putc(&r->line, '}');
        kb_out_json(&r->out, r->line.data, r->line.len);
        return 0;
    }
    for (size_t i = 0; i < ncol; i++)
        vals[i] = text_of(&c[i], r->times[i], sizeof r->times[i], r->q->is_time[i],
                          r->out.fmt == KB_OUT_TABLE);
    kb_out_row(&r->out, vals);
    return 0;
}

/* Appends v as a hunt string literal. */
static void quote(kb_buf *b, const char *v)
{
    kb_buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            kb_buf_putc(b, '\\');
        kb_buf_putc(b, *v);
    }
    kb_buf_putc(b, '"');
}

static int field_known(kb_store *st, const char *name)
{
    kb_sval p = KB_SV_STRV(name, strlen(name));
    return kb_store_scalar(st, "SELECT COUNT(*) FROM field_names WHERE name = ?", &p, 1, 0) > 0;
}

static const struct {
    const char *name;
    int nargs;
    const char *args;
} asks[] = {
    {"where-hash", 1, "HASH"},
    {"who-talked-to", 1, "IP"},
    {"host-activity", 3, "HOST FROM TO"},
    {"first-seen", 1, "VALUE"},
    {"process-tree", 2, "HOST PID"},
};

/* Builds the hunt query of a named question. */
static int build_ask(kb_store *st, int which, char **args, kb_buf *b)
{
    switch (which) {
    case 0:
        kb_buf_puts(b, "hash:");
        quote(b, args[0]);
        kb_buf_puts(b, " | stats count(), min(@timestamp), max(@timestamp) by host.name"
                       " | sort -count");
        break;
    case 1:
        kb_buf_puts(b, "ip:");
        quote(b, args[0]);
        kb_buf_puts(b, " | stats count(), min(@timestamp), max(@timestamp) by host.name,"
                       " source.ip, destination.ip, destination.port | sort -count");
        break;
    case 2:
        kb_buf_puts(b, "host.name:");
        quote(b, args[0]);
        kb_buf_puts(b, " and @timestamp >= ");
        quote(b, args[1]);
        kb_buf_puts(b, " and @timestamp <= ");
        quote(b, args[2]);
        kb_buf_puts(b, " | sort @timestamp");
        break;
    case 3:
        kb_buf_puts(b, "observable:");
        quote(b, args[0]);
        kb_buf_puts(b, " | sort @timestamp | head 1");
        break;
    case 4: {
        /* The process, its children (raw parent-pid fields the store has
         * seen) and, through process.parent.*, nothing more: one level
         * per question keeps it fast. */
        static const char *const ppid[] = {"ParentProcessId", "process.parent.pid", "ppid"};
        kb_buf_puts(b, "host.name:");
        quote(b, args[0]);
        kb_buf_puts(b, " and (process.pid:");
        quote(b, args[1]);
        for (size_t i = 0; i < sizeof ppid / sizeof ppid[0]; i++)
            if (field_known(st, ppid[i])) {
                kb_buf_printf(b, " or %s:", ppid[i]);
                quote(b, args[1]);
            }
        kb_buf_puts(b, ") | sort @timestamp");
        break;
    }
    }
    return b->data ? KB_OK : KB_ENOMEM;
}

static void show_error(const char *q, const kb_hunt_error *err)
{
    size_t qlen = strlen(q), pos = err->pos > qlen ? qlen : err->pos;
    fprintf(stderr, "koban hunt: error at column %zu: %s\n  %s\n  %*s^\n", pos + 1, err->msg, q,
            (int)pos, "");
}

int kb_cmd_hunt(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("hunt");
    const char *dsn = NULL;
    int fmt = -1, explain = 0, ask = -1, i, status = KB_EXIT_OK, rc;
    int64_t since = KB_TIME_NONE, now = kb_time_now();
    kb_buf query;
    kb_store *st = NULL;
    kb_hunt *h = NULL;
    kb_hunt_sql q = {0};
    kb_hunt_error err;
    struct hunt_run run = {0};
    int q_ready = 0, limited = 0, hflags;
    int64_t limit = 1000;

    kb_buf_init(&query, KB_HUNT_MAX_LEN + 1);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == 0)
            break;
        if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            int64_t d;
            const char *v = argv[++i];
            if (kb_hunt_duration(v, strlen(v), &d) == KB_OK)
                since = now - d;
            else if (kb_hunt_time(v, strlen(v), now, &since) != KB_OK)
                return kb_cmd_usage_error(cmd, "--since: expected 7d, 24h, 30m or a date, got"
                                               " '%s'",
                                          v);
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0)
                return kb_cmd_usage_error(cmd, "unknown output format '%s'", argv[i]);
        } else if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (kb_parse_i64(v, strlen(v), &limit) != KB_OK || limit < 0)
                return kb_cmd_usage_error(cmd, "--limit: expected a row count (0: no limit),"
                                               " got '%s'",
                                          v);
        } else if (strcmp(a, "--explain") == 0) {
            explain = 1;
        } else if (strcmp(a, "--store") == 0 && i + 1 < argc) {
            dsn = argv[++i];
        } else if (strcmp(a, "--ask") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            for (size_t k = 0; k < sizeof asks / sizeof asks[0]; k++)
                if (strcmp(asks[k].name, name) == 0)
                    ask = (int)k;
            if (ask < 0)
                return kb_cmd_usage_error(cmd, "no question '%s' (where-hash, who-talked-to,"
                                               " host-activity, first-seen, process-tree)",
                                          name);
        } else {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (ask >= 0 && argc - i != asks[ask].nargs)
        return kb_cmd_usage_error(cmd, "--ask %s takes %s", asks[ask].name, asks[ask].args);
    if (ask < 0 && i == argc)
        return kb_cmd_usage_error(cmd, "no query");
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (ask >= 0) {
        build_ask(st, ask, argv + i, &query);
    } else {
        for (int k = i; k < argc; k++)
            if ((k > i && kb_buf_putc(&query, ' ')) || kb_buf_puts(&query, argv[k])) {
                fprintf(stderr, "koban hunt: the query is longer than %d bytes\n",
                        KB_HUNT_MAX_LEN);
                status = KB_EXIT_USAGE;
                goto out;
            }
    }
    if (!query.data) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!(h = kb_hunt_parse(query.data, query.len, now, &err))) {
        show_error(query.data, &err);
        status = KB_EXIT_USAGE;
        goto out;
    }
    q_ready = 1;
    limited = kb_hunt_limit_default(h, limit);
    {
        /* KOBAN_HUNT_RESIDUAL=1: evaluate raw fields and free text in C on
         * SQLite too (the path PostgreSQL takes), to compare both. */
        const char *force = getenv("KOBAN_HUNT_RESIDUAL");
        hflags = KB_HUNT_RESIDUAL | (force && strcmp(force, "1") == 0 ? KB_HUNT_FORCE_RESIDUAL : 0);
    }
    if (kb_hunt_compile_ex(h, st, since, hflags, &q, &err) != KB_OK) {
        show_error(query.data, &err);
        status = KB_EXIT_USAGE;
        goto out;
    }
    if (explain) {
        printf("query: %s\n", query.data);
        if (kb_hunt_explain(st, &q, stdout) != KB_OK) {
            fprintf(stderr, "koban hunt: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        }
        goto out;
    }
    run.q = &q;
    kb_buf_init(&run.line, 0);
    {
        kb_out_col cols[KB_HUNT_MAX_COLS * 2];
        const kb_out_col *cp = event_cols;
        int ncols = (int)(sizeof event_cols / sizeof event_cols[0]);
        kb_out_format of = fmt < 0 ? kb_out_default(stdout) : (kb_out_format)fmt;
        if (q.events && of == KB_OUT_CSV) {
            for (size_t k = 0; k < kb_hunt_event_ncols && k < sizeof cols / sizeof cols[0]; k++)
                cols[k] = (kb_out_col){kb_hunt_event_cols[k].name, 0};
            cp = cols;
            ncols = (int)kb_hunt_event_ncols;
        } else if (!q.events) {
            for (size_t k = 0; k < q.ncols; k++)
                cols[k] = (kb_out_col){q.titles[k], k + 1 == q.ncols ? 0 : q.is_time[k] ? 24 : 22};
            cp = cols;
            ncols = (int)q.ncols;
        }
        kb_out_init(&run.out, stdout, of, cp, ncols);
        rc = kb_hunt_run(st, &q, on_row, &run);
        kb_out_release(&run.out);
    }
    kb_buf_release(&run.line);
    if (rc) {
        fprintf(stderr, "koban hunt: %s\n", kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
    } else if (run.out.rows == 0) {
        fprintf(stderr, "koban hunt: nothing matched\n");
    } else if (limited && (int64_t)run.out.rows >= limit) {
        fprintf(stderr, "koban hunt: showed the first %lld events; there may be more (--limit N,"
                        " --limit 0 for all, or | head N)\n",
                (long long)limit);
    }
out:
    if (q_ready)
        kb_hunt_sql_release(&q);
    kb_hunt_free(h);
    kb_store_close(st);
    kb_buf_release(&query);
    return status;
}
