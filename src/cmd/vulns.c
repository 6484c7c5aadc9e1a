/* koban vulns: import scanner reports, list findings, show a host's. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/output.h"
#include "event/json.h"
#include "store/store.h"
#include "triage/triage.h"

static const kb_out_col cols[] = {{"host", 24}, {"ip", 16}, {"cve", 16}, {"cvss", 4},
                                  {"port", 12}, {"name", 0}};

static void print_vuln(kb_out *o, const kb_vuln *v)
{
    char cvss[16];
    snprintf(cvss, sizeof cvss, "%.1f", v->cvss);
    if (o->fmt == KB_OUT_JSONL) {
        kb_buf j;
        const char *keys[] = {"host", "ip", "cve", "port", "name", "plugin", "scanner"};
        const char *vals[] = {v->host, v->ip, v->cve, v->port, v->name, v->plugin, v->scanner};
        char ts[40];
        kb_buf_init(&j, 0);
        kb_buf_putc(&j, '{');
        for (int k = 0; k < 7; k++) {
            kb_buf_printf(&j, "%s\"%s\":", k ? "," : "", keys[k]);
            kb_json_put_str(&j, vals[k], strlen(vals[k]));
        }
        kb_time_format(v->scanned, ts, sizeof ts);
        kb_buf_printf(&j, ",\"cvss\":%s,\"scanned\":\"%s\"}", cvss, ts);
        kb_out_json(o, j.data, j.len);
        kb_buf_release(&j);
        return;
    }
    kb_str row[6] = {{v->host, strlen(v->host)}, {v->ip, strlen(v->ip)}, {v->cve, strlen(v->cve)},
                     {cvss, strlen(cvss)},       {v->port, strlen(v->port)},
                     {v->name, strlen(v->name)}};
    kb_out_row(o, row);
}

static void on_vuln(void *ud, const kb_vuln *v)
{
    print_vuln(ud, v);
}

int kb_cmd_vulns(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("vulns");
    const char *dsn = NULL, *verb;
    int fmt = -1, status = KB_EXIT_OK, nargs = 0, rc;
    char *args[256];
    kb_store *st = NULL;
    kb_vulns *v = NULL;

    if (argc < 2)
        return kb_cmd_usage_error(cmd, "expected import, list or show");
    verb = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0)
                return kb_cmd_usage_error(cmd, "-o: expected table, csv or jsonl");
        } else if (argv[i][0] == '-' && argv[i][1])
            return kb_cmd_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (nargs < 256)
            args[nargs++] = argv[i];
    }
    if (strcmp(verb, "import") && strcmp(verb, "list") && strcmp(verb, "show"))
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'", verb);
    if (!strcmp(verb, "import") && !nargs)
        return kb_cmd_usage_error(cmd, "import needs FILE...");
    if (!strcmp(verb, "show") && nargs != 1)
        return kb_cmd_usage_error(cmd, "show needs one HOST (name or address)");
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (!(v = kb_vulns_new()) || kb_vulns_load(v, st)) {
        fprintf(stderr, "koban vulns: cannot read the findings: %s\n", kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!strcmp(verb, "import")) {
        for (int i = 0; i < nargs; i++) {
            kb_import_report rep;
            kb_import_report_init(&rep);
            rc = kb_vulns_import_file(v, args[i], &rep);
            if (rep.errors.len)
                fputs(rep.errors.data, stderr);
            if (rc == KB_EIO) {
                fprintf(stderr, "koban vulns: %s: cannot read\n", args[i]);
                status = KB_EXIT_FAILURE;
            } else {
                fprintf(stderr,
                        "%s: %llu findings on %llu hosts, %llu skipped (informational or an"
                        " older scan), %llu bad\n",
                        args[i], (unsigned long long)rep.imported, (unsigned long long)rep.hosts,
                        (unsigned long long)rep.skipped, (unsigned long long)rep.bad);
            }
            if ((rep.bad || rc) && status == KB_EXIT_OK)
                status = KB_EXIT_REJECTED;
            kb_import_report_release(&rep);
        }
        if (kb_vulns_save(v, st)) {
            fprintf(stderr, "koban vulns: cannot save: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        } else {
            fprintf(stderr, "findings: %zu on %zu hosts\n", kb_vulns_count(v), kb_vulns_hosts(v));
        }
        goto out;
    }
    kb_out o;
    kb_out_init(&o, stdout, fmt >= 0 ? (kb_out_format)fmt : kb_out_default(stdout), cols, 6);
    if (!strcmp(verb, "list")) {
        for (size_t i = 0; i < kb_vulns_count(v); i++)
            print_vuln(&o, kb_vulns_at(v, i));
    } else if (!kb_vulns_of_host(v, args[0], args[0], on_vuln, &o)) {
        fprintf(stderr, "koban vulns: no findings for '%s'\n", args[0]);
        status = KB_EXIT_REJECTED;
    }
    kb_out_release(&o);
out:
    kb_vulns_free(v);
    kb_store_close(st);
    return status;
}
