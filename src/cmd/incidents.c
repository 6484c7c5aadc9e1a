/* koban incidents: list the incidents triage opened, show one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "event/event.h"
#include "event/json.h"
#include "respond/respond.h"
#include "store/store.h"
#include "triage/triage.h"

static const kb_out_col cols[] = {{"id", 6}, {"severity", 8}, {"status", 7}, {"first seen", 20},
                                  {"type", 22}, {"title", 0}};

typedef struct lst {
    kb_out *o;
    int64_t n;
    int explain_only;
    kb_buf *line; /* show -o jsonl: the record, completed after the query */
} lst;

static kb_str sv(const kb_sval *c, char *buf, size_t size)
{
    if (c->type == KB_SV_TEXT)
        return (kb_str){c->p, c->len};
    if (c->type == KB_SV_INT) {
        int n = snprintf(buf, size, "%lld", (long long)c->i);
        return (kb_str){buf, (size_t)n};
    }
    return (kb_str){"", 0};
}

static int list_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    lst *l = ud;
    char id[32], ts[40];
    (void)names;
    if (ncol < 7)
        return KB_EIO;
    l->n++;
    if (l->o->fmt == KB_OUT_JSONL) {
        kb_buf b;
        kb_buf_init(&b, 0);
        kb_buf_printf(&b, "{\"id\":%lld,\"status\":", (long long)c[0].i);
        kb_json_put_str(&b, c[2].p ? c[2].p : "", c[2].len);
        kb_buf_puts(&b, ",\"incident\":");
        if (c[6].type == KB_SV_TEXT)
            kb_buf_append(&b, c[6].p, c[6].len);
        else
            kb_buf_puts(&b, "null");
        kb_buf_putc(&b, '}');
        kb_out_json(l->o, b.data, b.len);
        kb_buf_release(&b);
        return 0;
    }
    size_t tn = c[3].type == KB_SV_INT ? kb_time_format(c[3].i, ts, sizeof ts) : 0;
    if (tn > 19)
        tn = 19;
    kb_str row[6] = {sv(&c[0], id, sizeof id), sv(&c[1], NULL, 0), sv(&c[2], NULL, 0),
                     {ts, tn}, sv(&c[4], NULL, 0), sv(&c[5], NULL, 0)};
    kb_out_row(l->o, row);
    return 0;
}

/* Prints a stored incident for people: its fields, then its explanation. */
static int show_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    lst *l = ud;
    kb_names *nm = kb_names_new(4096);
    kb_arena *ar = kb_arena_new(64 << 10, 64 << 20);
    kb_event ev;
    kb_json_error je = {0};
    (void)names;
    l->n++;
    if (ncol < 7 || !nm || !ar || c[6].type != KB_SV_TEXT)
        goto out;
    if (l->o && l->o->fmt == KB_OUT_JSONL && !l->explain_only) {
        kb_buf b;
        kb_buf_init(&b, 0);
        kb_buf_printf(&b, "{\"id\":%lld,\"incident\":", (long long)c[0].i);
        kb_buf_append(&b, c[6].p, c[6].len);
        if (l->line) {
            kb_buf_append(l->line, b.data, b.len);
        } else {
            kb_buf_putc(&b, '}');
            puts(b.data);
        }
        kb_buf_release(&b);
        goto out;
    }
    kb_event_init(&ev, nm, ar);
    if (kb_json_flatten(&ev, c[6].p, c[6].len, NULL, &je))
        goto out;
    if (!l->explain_only)
        printf("incident %lld\n", (long long)c[0].i);
    else
        printf("incident %lld: why %.*s\n", (long long)c[0].i, (int)c[1].len, c[1].p);
    for (uint32_t i = 0; i < ev.nfields; i++) {
        const kb_field *f = &ev.fields[i];
        size_t n;
        const char *name = kb_names_str(nm, f->name, &n);
        int is_explain = strcmp(name, "explain") == 0;
        if (f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
            continue;
        if (l->explain_only && !is_explain && strcmp(name, "actions") != 0)
            continue;
        if (is_explain)
            printf("  %.*s\n", (int)f->len, f->val);
        else
            printf("  %-22s %.*s\n", name, (int)f->len, f->val);
    }
out:
    kb_arena_free(ar);
    kb_names_free(nm);
    return 0;
}

/* The incident's timeline (its playbook runs: starts, steps, answers,
 * actions, outcomes): after the fields in a table, as "timeline":[...] in
 * the JSON record (line holds the record without its closing brace). */
static int show_timeline(kb_store *st, int64_t id, int fmt, kb_buf *line)
{
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    int rc = f ? kb_resp_timeline(st, 0, id, fmt == KB_OUT_JSONL, f) : KB_ENOMEM;
    if (f)
        fclose(f);
    if (rc) {
        fprintf(stderr, "koban incidents: timeline: %s\n", kb_store_errmsg(st));
        free(mem);
        return KB_EXIT_FAILURE;
    }
    if (line) {
        kb_buf_puts(line, ",\"timeline\":[");
        for (size_t i = 0, k = 0; mem && i < len; k++) {
            const char *nl = memchr(mem + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - mem) : len;
            if (k)
                kb_buf_putc(line, ',');
            kb_buf_append(line, mem + i, e - i);
            i = e + 1;
        }
        kb_buf_puts(line, "]}");
        puts(line->data);
    } else if (len) {
        printf("  timeline\n");
        for (size_t i = 0; i < len;) {
            const char *nl = memchr(mem + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - mem) : len;
            printf("    %.*s\n", (int)(e - i), mem + i);
            i = e + 1;
        }
    }
    free(mem);
    return KB_EXIT_OK;
}

int kb_cmd_incidents_show_one(kb_store *st, int64_t id, int fmt, int explain_only);
int kb_cmd_incidents_show_one(kb_store *st, int64_t id, int fmt, int explain_only)
{
    kb_out o;
    lst l = {&o, 0, explain_only, NULL};
    kb_sval p[1] = {KB_SV_INTV(id)};
    o.fmt = (kb_out_format)fmt;
    kb_buf line;
    kb_buf_init(&line, 0);
    if (fmt == KB_OUT_JSONL && !explain_only)
        l.line = &line;
    int rc = kb_store_exec(st, "SELECT id, severity, status, created, type, title, detail"
                               " FROM incidents WHERE id = ?",
                           p, 1, show_row, &l);
    if (rc) {
        fprintf(stderr, "koban incidents: %s\n", kb_store_errmsg(st));
        kb_buf_release(&line);
        return KB_EXIT_FAILURE;
    }
    if (!l.n) {
        fprintf(stderr, "koban incidents: no incident %lld\n", (long long)id);
        kb_buf_release(&line);
        return KB_EXIT_REJECTED;
    }
    if (!explain_only)
        rc = show_timeline(st, id, fmt, l.line);
    kb_buf_release(&line);
    return rc;
}

int kb_cmd_incidents(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("incidents");
    const char *dsn = NULL, *verb, *sev = NULL;
    int fmt = -1, status = KB_EXIT_OK, nargs = 0;
    char *args[4];
    kb_store *st;

    if (argc < 2)
        return kb_cmd_usage_error(cmd, "expected list or show");
    verb = argv[1];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc)
            dsn = argv[++i];
        else if (!strcmp(argv[i], "--severity") && i + 1 < argc)
            sev = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0)
                return kb_cmd_usage_error(cmd, "-o: expected table, csv or jsonl");
        } else if (argv[i][0] == '-')
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (nargs < 4)
            args[nargs++] = argv[i];
    }
    if (strcmp(verb, "list") && strcmp(verb, "show"))
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'", verb);
    int64_t id = 0;
    if (!strcmp(verb, "show") && (nargs != 1 || kb_parse_i64(args[0], strlen(args[0]), &id)))
        return kb_cmd_usage_error(cmd, "show needs one incident ID");
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (kb_triage_schema(st)) {
        fprintf(stderr, "koban incidents: %s\n", kb_store_errmsg(st));
        kb_store_close(st);
        return KB_EXIT_FAILURE;
    }
    if (!strcmp(verb, "show")) {
        status = kb_cmd_incidents_show_one(st, id, fmt >= 0 ? fmt : KB_OUT_TABLE, 0);
    } else {
        kb_out o;
        lst l = {&o, 0, 0, NULL};
        kb_sval p[1] = {KB_SV_STRV(sev ? sev : "", sev ? strlen(sev) : 0)};
        kb_out_init(&o, stdout, fmt >= 0 ? (kb_out_format)fmt : kb_out_default(stdout), cols, 6);
        if (kb_store_exec(st, sev ? "SELECT id, severity, status, created, type, title, detail"
                                    " FROM incidents WHERE severity = ? ORDER BY id"
                                  : "SELECT id, severity, status, created, type, title, detail"
                                    " FROM incidents ORDER BY id",
                          p, sev ? 1 : 0, list_row, &l)) {
            fprintf(stderr, "koban incidents: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        }
        kb_out_release(&o);
    }
    kb_store_close(st);
    return status;
}
