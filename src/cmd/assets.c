/* koban assets: import, list and show the asset inventory. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "event/json.h"
#include "store/store.h"
#include "triage/triage.h"

static const kb_out_col cols[] = {{"name", 28}, {"type", 16}, {"crit", 4}, {"owner", 20},
                                  {"location", 16}, {"addresses", 0}};

static void addrs_text(const kb_asset *as, kb_buf *b)
{
    char ip[64], t[40];
    kb_buf_clear(b);
    for (size_t j = 0; j < as->naddrs; j++) {
        kb_buf_printf(b, "%s%s", j ? " " : "", kb_ip_format(&as->addrs[j].ip, ip, sizeof ip));
        if (as->addrs[j].from != KB_TIME_NONE || as->addrs[j].to != KB_TIME_NONE) {
            kb_buf_putc(b, '@');
            if (as->addrs[j].from != KB_TIME_NONE)
                kb_buf_append(b, t, kb_time_format(as->addrs[j].from, t, sizeof t));
            kb_buf_putc(b, '/');
            if (as->addrs[j].to != KB_TIME_NONE)
                kb_buf_append(b, t, kb_time_format(as->addrs[j].to, t, sizeof t));
        }
    }
}

static void print_asset(kb_out *o, const kb_asset *as, kb_buf *b)
{
    char crit[8];
    snprintf(crit, sizeof crit, "%d", as->criticality);
    if (o->fmt == KB_OUT_JSONL) {
        kb_buf j;
        kb_buf_init(&j, 0);
        addrs_text(as, b);
        const char *keys[] = {"name", "type", "owner", "department", "location", "mac", "tags",
                              "addresses", "source"};
        const char *vals[] = {as->name, as->type, as->owner, as->department, as->location,
                              as->mac, as->tags, b->data ? b->data : "", as->source};
        kb_buf_clear(&j);
        kb_buf_putc(&j, '{');
        for (int k = 0; k < 9; k++) {
            kb_buf_printf(&j, "%s\"%s\":", k ? "," : "", keys[k]);
            kb_json_put_str(&j, vals[k], strlen(vals[k]));
        }
        kb_buf_printf(&j, ",\"criticality\":%d}", as->criticality);
        kb_out_json(o, j.data, j.len);
        kb_buf_release(&j);
        return;
    }
    addrs_text(as, b);
    kb_str row[6] = {{as->name, strlen(as->name)},   {as->type, strlen(as->type)},
                     {crit, strlen(crit)},           {as->owner, strlen(as->owner)},
                     {as->location, strlen(as->location)}, {b->data ? b->data : "", b->len}};
    kb_out_row(o, row);
}

int kb_cmd_assets(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("assets");
    const char *dsn = NULL, *verb, *at = NULL;
    int fmt = -1, status = KB_EXIT_OK, nargs = 0, rc;
    char *args[256];
    kb_store *st = NULL;
    kb_assets *a = NULL;
    kb_buf b;

    if (argc < 2)
        return kb_cmd_usage_error(cmd, "expected import, list or show");
    verb = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0)
                return kb_cmd_usage_error(cmd, "-o: expected table, csv or jsonl");
        } else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (nargs < 256)
            args[nargs++] = argv[i];
    }
    if (strcmp(verb, "import") && strcmp(verb, "list") && strcmp(verb, "show"))
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'", verb);
    if (!strcmp(verb, "import") && !nargs)
        return kb_cmd_usage_error(cmd, "import needs FILE...");
    if (!strcmp(verb, "show") && nargs != 1)
        return kb_cmd_usage_error(cmd, "show needs one NAME or ADDRESS");
    kb_buf_init(&b, 0);
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (!(a = kb_assets_new()) || kb_assets_load(a, st)) {
        fprintf(stderr, "koban assets: cannot read the inventory: %s\n", kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!strcmp(verb, "import")) {
        for (int i = 0; i < nargs; i++) {
            kb_import_report rep;
            kb_import_report_init(&rep);
            rc = kb_assets_import_file(a, args[i], &rep);
            if (rep.errors.len)
                fputs(rep.errors.data, stderr);
            if (rc && rc != KB_EFORMAT) {
                fprintf(stderr, "koban assets: %s: %s\n", args[i], kb_strerror(rc));
                status = KB_EXIT_FAILURE;
            } else {
                fprintf(stderr, "%s: %llu assets imported, %llu bad rows\n", args[i],
                        (unsigned long long)rep.imported, (unsigned long long)rep.bad);
            }
            if (rep.bad && status == KB_EXIT_OK)
                status = KB_EXIT_REJECTED;
            kb_import_report_release(&rep);
        }
        if (kb_assets_save(a, st)) {
            fprintf(stderr, "koban assets: cannot save: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        } else {
            fprintf(stderr, "inventory: %zu assets\n", kb_assets_count(a));
        }
        goto out;
    }
    kb_out o;
    kb_out_init(&o, stdout, fmt >= 0 ? (kb_out_format)fmt : kb_out_default(stdout), cols, 6);
    if (!strcmp(verb, "list")) {
        for (size_t i = 0; i < kb_assets_count(a); i++)
            print_asset(&o, kb_assets_at(a, i), &b);
    } else {
        const kb_asset *as = kb_assets_by_name(a, args[0], strlen(args[0]));
        kb_ip ip;
        int64_t ts = KB_TIME_NONE;
        if (at && kb_time_parse_iso8601(at, strlen(at), &ts)) {
            kb_out_release(&o);
            status = kb_cmd_usage_error(cmd, "--at: expected an ISO 8601 time");
            goto out;
        }
        if (!as && kb_ip_parse(args[0], strlen(args[0]), &ip) == KB_OK)
            as = kb_assets_by_ip(a, &ip, ts);
        if (as)
            print_asset(&o, as, &b);
        else {
            fprintf(stderr, "koban assets: no asset '%s'\n", args[0]);
            status = KB_EXIT_REJECTED;
        }
    }
    kb_out_release(&o);
out:
    kb_buf_release(&b);
    kb_assets_free(a);
    kb_store_close(st);
    return status;
}
