/* koban triage: alerts (from the store or a JSON Lines file of scan output)
 * into incidents, with severity per the criteria file; explain one; check
 * and install criteria files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "respond/respond.h"
#include "store/hunt.h"
#include "store/store.h"
#include "triage/triage.h"

#ifndef KOBAN_SHARE_CONFIG
#define KOBAN_SHARE_CONFIG "/usr/local/share/koban/config"
#endif

char *triage_read_file(const char *path, size_t *len);

/* --criteria, $KOBAN_CRITERIA, DATA/criteria.yaml, the installed default,
 * ./config/criteria.yaml. */
static int find_criteria(const kb_cli *cli, const char *given, kb_buf *out)
{
    const char *env = getenv("KOBAN_CRITERIA");
    kb_buf_clear(out);
    if (given)
        return kb_buf_puts(out, given);
    if (env && *env)
        return kb_buf_puts(out, env);
    kb_buf_printf(out, "%s/criteria.yaml", cli->data_dir);
    if (access(out->data, R_OK) == 0)
        return KB_OK;
    kb_buf_clear(out);
    kb_buf_puts(out, KOBAN_SHARE_CONFIG "/criteria.yaml");
    if (access(out->data, R_OK) == 0)
        return KB_OK;
    kb_buf_clear(out);
    return kb_buf_puts(out, "config/criteria.yaml");
}

static int load_policy(const kb_cli *cli, const char *given, kb_triage_policy **pol)
{
    char err[1024];
    kb_buf path;
    int rc;
    kb_buf_init(&path, 0);
    find_criteria(cli, given, &path);
    rc = kb_triage_policy_load(path.data, pol, err, sizeof err);
    if (rc)
        fprintf(stderr, "koban triage: %s\n", err);
    kb_buf_release(&path);
    return rc;
}

int kb_cmd_incidents_show_one(kb_store *st, int64_t id, int fmt, int explain_only);

/* The playbook directory of bound playbooks: respond.playbooks, else as
 * `koban playbook` finds it ($KOBAN_PLAYBOOKS, DATA/playbooks, ./playbooks). */
static const char *bound_dir(const kb_cli *cli, const kb_resp_bindings *b, kb_buf *tmp)
{
    const char *env = getenv("KOBAN_PLAYBOOKS");
    if (b->playbooks)
        return b->playbooks;
    if (env && *env)
        return env;
    kb_buf_clear(tmp);
    kb_buf_printf(tmp, "%s/playbooks", cli->data_dir);
    if (tmp->data && access(tmp->data, R_OK) == 0)
        return tmp->data;
    return "playbooks";
}

/* Starts the playbooks bound to the incidents this triage created (an
 * incident updated in place started its playbooks when it was created).
 * Returns the number of playbooks that could not start. */
static unsigned start_bound(const kb_cli *cli, const kb_config *cfg, kb_store *st,
                            kb_triage_result *res, int quiet, int no_start)
{
    const kb_resp_bindings *b = &cfg->respond;
    kb_resp_auto_report rep = {0, 0, 0, 0};
    const char *env = getenv("KOBAN_RESPOND_CONFIG");
    kb_resp_opts o = {"auto", b->config ? b->config : (env && *env ? env : NULL), b->dry_run,
                      NULL, 0, NULL};
    kb_buf dirb, diag;
    size_t created = 0;

    if ((no_start || !b->enabled || !b->n) && !o.connectors)
        return 0;
    kb_buf_init(&dirb, 4096);
    kb_buf_init(&diag, 1u << 20);
    const char *dir = bound_dir(cli, b, &dirb);
    /* the respond config read once for every incident announced (a file
     * that does not read is reported by each start, as before) */
    char cerr[1024];
    char *cj = o.connectors ? kb_resp_config_json(o.connectors, cerr, sizeof cerr) : NULL;
    o.config_json = cj;
    for (size_t i = 0; i < kb_triage_result_count(res); i++) {
        const kb_incident *in = kb_triage_result_at(res, i);
        /* new, or raised to a severity a binding may start at */
        if (!(in->created || in->escalated) || in->id <= 0)
            continue;
        created += in->created;
        o.escalated = !in->created;
        if (kb_resp_bindings_start(st, no_start ? NULL : b, dir, in->id, &o, &rep, &diag)) {
            kb_buf_printf(&diag, "koban triage: incident %lld: playbooks: %s\n", (long long)in->id,
                          kb_store_errmsg(st));
            rep.failed++;
        }
    }
    if (diag.len)
        fputs(diag.data, stderr);
    if (!quiet && (rep.started || rep.failed || rep.already))
        fprintf(stderr,
                "triage: playbooks: %u started, %u could not start%s, %u already had a run,"
                " for %zu new incidents\n",
                rep.started, rep.failed, rep.failed ? " (above)" : "", rep.already, created);
    free(cj);
    kb_buf_release(&dirb);
    kb_buf_release(&diag);
    return rep.failed;
}

static int policy_cmd(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("triage");
    kb_triage_policy *pol = NULL;
    char err[1024];
    if (argc != 2 || (strcmp(argv[0], "check") && strcmp(argv[0], "install")))
        return kb_cmd_usage_error(cmd, "policy check|install FILE");
    if (kb_triage_policy_load(argv[1], &pol, err, sizeof err)) {
        fprintf(stderr, "koban triage: %s\n", err);
        if (!strcmp(argv[0], "install"))
            fprintf(stderr, "koban triage: refused; the policy in force is unchanged\n");
        return KB_EXIT_REJECTED;
    }
    kb_triage_policy_free(pol);
    if (!strcmp(argv[0], "check")) {
        printf("%s: ok\n", argv[1]);
        return KB_EXIT_OK;
    }
    size_t len;
    char *p = triage_read_file(argv[1], &len);
    kb_buf dst, tmp;
    int status = KB_EXIT_OK;
    kb_buf_init(&dst, 0);
    kb_buf_init(&tmp, 0);
    kb_buf_printf(&dst, "%s/criteria.yaml", cli->data_dir);
    kb_buf_printf(&tmp, "%s/criteria.yaml.tmp", cli->data_dir);
    FILE *f = p ? fopen(tmp.data, "wb") : NULL;
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0 || rename(tmp.data, dst.data)) {
        fprintf(stderr, "koban triage: cannot write %s\n", dst.data);
        status = KB_EXIT_FAILURE;
    } else {
        printf("installed %s\n", dst.data);
    }
    kb_free(p);
    kb_buf_release(&dst);
    kb_buf_release(&tmp);
    return status;
}

/* Triage of a list of alerts: the policy (criteria, else the usual
 * search), the store's inventory and scans (none with KB_TRIAGE_NO_STORE),
 * the incidents saved (unless KB_TRIAGE_NO_SAVE) and printed to out (a
 * table, or with KB_TRIAGE_JSONL one JSON object per incident) with a
 * summary on stderr (unless KB_TRIAGE_QUIET). The playbooks bound to an
 * incident's type (the configuration's respond.bindings) start for every
 * incident this call created, unless KB_TRIAGE_NO_PLAYBOOKS or
 * KB_TRIAGE_NO_SAVE. `koban triage` and `koban scan --triage` both end
 * here. Returns a KB_EXIT_* status (1 when a bound playbook could not
 * start). */
int kb_cmd_triage_alerts_to(const kb_cli *cli, kb_triage_alerts *al, const char *dsn,
                            const char *criteria, int flags, FILE *out)
{
    kb_triage_policy *pol = NULL;
    kb_store *st = NULL;
    kb_assets *as = NULL;
    kb_vulns *vs = NULL;
    kb_triage_result *res = NULL;
    kb_config cfg;
    int status = KB_EXIT_OK, rc;

    if (kb_config_load(cli, &cfg) != KB_OK)
        return KB_EXIT_USAGE;
    if (load_policy(cli, criteria, &pol)) {
        kb_config_release(&cfg);
        return KB_EXIT_USAGE;
    }
    if (!(flags & KB_TRIAGE_NO_STORE)) {
        if (!(st = kb_cmd_open_store(cli, dsn))) {
            status = KB_EXIT_FAILURE;
            goto out;
        }
        if (!(as = kb_assets_new()) || !(vs = kb_vulns_new()) || kb_assets_load(as, st) ||
            kb_vulns_load(vs, st)) {
            fprintf(stderr, "koban triage: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
            goto out;
        }
    }
    if ((rc = kb_triage_run(pol, as, vs, al, &res))) {
        fprintf(stderr, "koban triage: %s\n", kb_strerror(rc));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (st && !(flags & KB_TRIAGE_NO_SAVE) && kb_triage_result_save(res, st)) {
        fprintf(stderr, "koban triage: cannot save incidents: %s\n", kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    const kb_triage_stats *s = kb_triage_result_stats(res);
    for (size_t i = 0; i < kb_triage_result_count(res); i++) {
        const kb_incident *in = kb_triage_result_at(res, i);
        char ts[40];
        if (flags & KB_TRIAGE_JSONL) {
            fwrite(in->json, 1, in->json_len, out);
            fputc('\n', out);
            continue;
        }
        kb_time_format(in->first, ts, sizeof ts);
        fprintf(out, "%-6lld %-8s %-6s %.19s  %5llu alerts  %s\n", (long long)in->id,
                kb_sev_name(in->severity), in->notify ? "notify" : "-", ts,
                (unsigned long long)in->alerts, in->title);
    }
    if (!(flags & KB_TRIAGE_QUIET))
        fprintf(stderr,
                "triage: %llu alerts -> %llu incidents (critical %llu, high %llu, medium %llu,"
                " low %llu; %llu to notify); %llu context-only, %llu unclassified, %llu"
                " groups, %llu unconfirmed\n",
                (unsigned long long)s->alerts, (unsigned long long)s->incidents,
                (unsigned long long)s->per_sev[3], (unsigned long long)s->per_sev[2],
                (unsigned long long)s->per_sev[1], (unsigned long long)s->per_sev[0],
                (unsigned long long)s->notify, (unsigned long long)s->context,
                (unsigned long long)s->unclassified, (unsigned long long)s->groups,
                (unsigned long long)s->unconfirmed);
    if (st && !(flags & KB_TRIAGE_NO_SAVE) &&
        start_bound(cli, &cfg, st, res, flags & KB_TRIAGE_QUIET, flags & KB_TRIAGE_NO_PLAYBOOKS))
        status = KB_EXIT_REJECTED;
out:
    kb_config_release(&cfg);
    kb_triage_result_free(res);
    kb_vulns_free(vs);
    kb_assets_free(as);
    kb_store_close(st);
    kb_triage_policy_free(pol);
    return status;
}

int kb_cmd_triage_alerts(const kb_cli *cli, kb_triage_alerts *al, const char *dsn,
                         const char *criteria, int flags)
{
    return kb_cmd_triage_alerts_to(cli, al, dsn, criteria, flags, stdout);
}

int kb_cmd_triage(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("triage");
    const char *dsn = NULL, *alerts = NULL, *crit = NULL;
    int64_t since = KB_TIME_NONE;
    int status = KB_EXIT_OK, flags = 0, rc, st_status;
    kb_store *st = NULL;
    kb_triage_alerts *al = NULL;

    if (argc >= 2 && !strcmp(argv[1], "policy"))
        return policy_cmd(cli, argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "explain")) {
        int64_t id;
        for (int i = 3; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--store"))
                dsn = argv[i + 1];
        if (argc < 3 || kb_parse_i64(argv[2], strlen(argv[2]), &id))
            return kb_cmd_usage_error(cmd, "explain needs an incident ID");
        if (!(st = kb_cmd_open_store(cli, dsn)))
            return KB_EXIT_FAILURE;
        rc = kb_cmd_incidents_show_one(st, id, KB_OUT_TABLE, 1);
        kb_store_close(st);
        return rc;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc)
            dsn = argv[++i];
        else if (!strcmp(argv[i], "--alerts") && i + 1 < argc)
            alerts = argv[++i];
        else if (!strcmp(argv[i], "--criteria") && i + 1 < argc)
            crit = argv[++i];
        else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
            const char *s = argv[++i];
            if (kb_hunt_time(s, strlen(s), kb_time_now(), &since))
                return kb_cmd_usage_error(cmd, "--since: expected 24h, 7d or a date");
        } else if (!strcmp(argv[i], "--no-save"))
            flags |= KB_TRIAGE_NO_SAVE;
        else if (!strcmp(argv[i], "-q"))
            flags |= KB_TRIAGE_QUIET;
        else if (!strcmp(argv[i], "--no-playbooks"))
            flags |= KB_TRIAGE_NO_PLAYBOOKS;
        else
            return kb_cmd_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
    if (!(al = kb_triage_alerts_new())) {
        fprintf(stderr, "koban triage: %s\n", kb_strerror(KB_ENOMEM));
        return KB_EXIT_FAILURE;
    }
    if (alerts) {
        size_t len;
        char *p = triage_read_file(alerts, &len);
        kb_import_report rep;
        if (!p) {
            fprintf(stderr, "koban triage: cannot read %s\n", alerts);
            status = KB_EXIT_FAILURE;
            goto out;
        }
        kb_import_report_init(&rep);
        rc = kb_triage_alerts_read_jsonl(al, alerts, p, len, &rep);
        kb_free(p);
        if (rep.errors.len)
            fputs(rep.errors.data, stderr);
        if (rep.bad)
            status = KB_EXIT_REJECTED;
        kb_import_report_release(&rep);
        if (rc) {
            fprintf(stderr, "koban triage: %s\n", kb_strerror(rc));
            status = KB_EXIT_FAILURE;
            goto out;
        }
    } else {
        if (!(st = kb_cmd_open_store(cli, dsn))) {
            status = KB_EXIT_FAILURE;
            goto out;
        }
        if ((rc = kb_triage_alerts_read_store(al, st, since))) {
            fprintf(stderr, "koban triage: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
            goto out;
        }
        kb_store_close(st);
        st = NULL;
    }
    st_status = kb_cmd_triage_alerts(cli, al, dsn, crit, flags);
    if (st_status != KB_EXIT_OK)
        status = st_status;
out:
    kb_triage_alerts_free(al);
    kb_store_close(st);
    return status;
}
