/* koban parse: decode logs and print what koban understood, so a user can
 * check their logs before detecting on them (as fail2ban-regex does). */
#include <stdio.h>
#include <string.h>

#include "cmd/config.h"
#include "cmd/output.h"
#include "event/json.h"
#include "ingest/ingest.h"

struct parse_run {
    kb_out out;
    int all;
    int quiet;
    kb_buf json;
    kb_buf summary; /* per-source lines, printed after the records */
};

static const kb_out_col table_cols[] = {
    {"TIME", 24}, {"FORMAT", 9}, {"HOST", 16}, {"SOURCE", 21}, {"DESTINATION", 21},
    {"USER", 14}, {"WHAT", 0},
};

/* "ip:port", "ip" or "" into buf. */
static kb_str endpoint(const kb_event *ev, int ip, int port, char *buf, size_t size)
{
    const kb_field *a = kb_event_canon(ev, ip), *p = kb_event_canon(ev, port);
    int n;
    if (!a)
        return (kb_str){"", 0};
    if (p)
        n = snprintf(buf, size, "%.*s:%.*s", (int)a->len, a->val, (int)p->len, p->val);
    else
        n = snprintf(buf, size, "%.*s", (int)a->len, a->val);
    return (kb_str){buf, n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1};
}

static kb_str canon_str(const kb_event *ev, int c)
{
    const kb_field *f = kb_event_canon(ev, c);
    return f ? (kb_str){f->val, f->len} : (kb_str){"", 0};
}

/* The most telling one-line summary the event has. */
static kb_str what(const kb_event *ev)
{
    static const int order[] = {KB_F_RULE_NAME,       KB_F_PROCESS_COMMAND_LINE,
                                KB_F_DNS_QUESTION_NAME, KB_F_URL_FULL,
                                KB_F_EVENT_ACTION,    KB_F_MESSAGE,
                                KB_F_PROCESS_EXECUTABLE, KB_F_URL_DOMAIN,
                                KB_F_NETWORK_PROTOCOL, KB_F_NETWORK_TRANSPORT};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const kb_field *f = kb_event_canon(ev, order[i]);
        if (f && f->len)
            return (kb_str){f->val, f->len};
    }
    return (kb_str){ev->raw, ev->raw_len};
}

static int on_batch(const kb_batch *batch, void *ud)
{
    struct parse_run *r = ud;

    for (size_t i = 0; i < batch->n; i++) {
        const kb_event *ev = &batch->events[i];
        if (r->out.fmt == KB_OUT_JSONL) {
            kb_buf_clear(&r->json);
            kb_event_to_json(ev, r->all, &r->json);
            kb_out_json(&r->out, r->json.data, r->json.len);
        } else {
            char ts[40] = "", src[80], dst[80];
            kb_str row[7];
            size_t n = ev->ts != KB_TIME_NONE ? kb_time_format(ev->ts, ts, sizeof ts) : 0;
            /* Tables show milliseconds; CSV keeps nanoseconds. */
            if (r->out.fmt == KB_OUT_TABLE && n > 23) {
                ts[23] = 'Z';
                n = 24;
            }
            row[0] = (kb_str){ts, n};
            row[1] = (kb_str){ev->format, strlen(ev->format)};
            row[2] = canon_str(ev, KB_F_HOST_NAME);
            row[3] = endpoint(ev, KB_F_SOURCE_IP, KB_F_SOURCE_PORT, src, sizeof src);
            row[4] = endpoint(ev, KB_F_DESTINATION_IP, KB_F_DESTINATION_PORT, dst, sizeof dst);
            row[5] = canon_str(ev, KB_F_USER_NAME);
            row[6] = what(ev);
            kb_out_row(&r->out, row);
        }
    }
    return 0;
}

static void on_source(const char *path, const kb_decoder *dec, const kb_ingest_stats *st, int rc,
                      void *ud)
{
    struct parse_run *r = ud;
    if (r->quiet)
        return;
    if (rc != KB_OK && !dec)
        return; /* already reported by the reader */
    kb_buf_printf(&r->summary, "%s: %s: %llu records, %llu decoded, %llu rejected, %llu skipped\n", path,
            dec ? dec->name : "?", (unsigned long long)st->records,
            (unsigned long long)st->decoded, (unsigned long long)st->rejected,
            (unsigned long long)st->skipped);
}

void kb_cmd_parse_help(FILE *f)
{
    fputs("\nDecoders (--format NAME; without it each source is sniffed):\n", f);
    for (const kb_decoder *const *d = kb_decoders; *d; d++)
        fprintf(f, "  %-10s %s\n", (*d)->name, (*d)->doc);
}

int kb_cmd_parse(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("parse");
    kb_ingest_opts opts = {0};
    struct parse_run run = {0};
    const char *rejects_path = NULL;
    int fmt = -1, i, status = KB_EXIT_OK;
    kb_names *names = NULL;
    kb_ingest *ing = NULL;
    kb_ingest_stats tot;
    uint64_t failed;
    kb_config cfg;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            opts.format = argv[++i];
            if (!kb_decoder_find(opts.format))
                return kb_cmd_usage_error(cmd, "no decoder '%s'", opts.format);
        } else if (strcmp(a, "--all") == 0) {
            run.all = 1;
        } else if (strcmp(a, "--rejects") == 0 && i + 1 < argc) {
            rejects_path = argv[++i];
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0)
                return kb_cmd_usage_error(cmd, "unknown output format '%s'", argv[i]);
        } else if (strcmp(a, "-q") == 0) {
            run.quiet = 1;
        } else {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (i == argc)
        return kb_cmd_usage_error(cmd, "no input (name files, directories or '-')");
    if (kb_config_load(cli, &cfg) != KB_OK)
        return KB_EXIT_USAGE;
    opts.map = &cfg.json_map;
    if (rejects_path && !(opts.rejects = fopen(rejects_path, "wb"))) {
        kb_config_release(&cfg);
        fprintf(stderr, "koban parse: %s: cannot write\n", rejects_path);
        return KB_EXIT_USAGE;
    }
    names = kb_names_new(0);
    ing = names ? kb_ingest_new(names, &opts) : NULL;
    if (!ing) {
        fprintf(stderr, "koban parse: out of memory\n");
        status = KB_EXIT_FAILURE;
        goto out;
    }
    kb_out_init(&run.out, stdout, fmt < 0 ? kb_out_default(stdout) : (kb_out_format)fmt,
                table_cols, (int)(sizeof table_cols / sizeof table_cols[0]));
    kb_buf_init(&run.json, 0);
    kb_buf_init(&run.summary, 0);
    for (; i < argc; i++)
        kb_ingest_path(ing, argv[i], on_batch, on_source, &run);
    kb_out_release(&run.out);
    kb_buf_release(&run.json);
    fputs(run.summary.data, stderr);
    kb_buf_release(&run.summary);
    kb_ingest_totals(ing, &tot, &failed);
    if (!run.quiet)
        fprintf(stderr, "total: %llu records, %llu decoded, %llu rejected, %llu skipped, "
                        "%llu sources failed\n",
                (unsigned long long)tot.records, (unsigned long long)tot.decoded,
                (unsigned long long)tot.rejected, (unsigned long long)tot.skipped,
                (unsigned long long)failed);
    if (tot.rejected || failed)
        status = KB_EXIT_REJECTED;
out:
    kb_ingest_free(ing);
    kb_names_free(names);
    if (opts.rejects)
        fclose(opts.rejects);
    kb_config_release(&cfg);
    return status;
}
