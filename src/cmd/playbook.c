/* koban playbook: lint, show, run, pending, answer, timeline, tick. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "respond/respond.h"
#include "store/store.h"

/* Where playbooks live: $KOBAN_PLAYBOOKS, else DATA/playbooks when it
 * exists, else ./playbooks. */
static const char *pb_dir(const kb_cli *cli, const char *opt, kb_buf *b)
{
    const char *env = getenv("KOBAN_PLAYBOOKS");
    if (opt)
        return opt;
    if (env && *env)
        return env;
    kb_buf_printf(b, "%s/playbooks", cli->data_dir);
    if (b->data && access(b->data, R_OK) == 0)
        return b->data;
    return "playbooks";
}

static int load_named(const char *dir, const char *name, kb_playbook **pb)
{
    kb_buf diag;
    int rc;
    kb_buf_init(&diag, 1u << 20);
    rc = kb_playbook_find(dir, name, pb, &diag);
    if (rc) {
        if (diag.len)
            fputs(diag.data, stderr);
        fprintf(stderr, "koban playbook: no usable playbook '%s' in %s\n", name, dir);
    }
    kb_buf_release(&diag);
    return rc;
}

static void print_name(void *ud, kb_playbook *pb)
{
    FILE *f = ud;
    fprintf(f, "%-28s %s\n", kb_playbook_name(pb), kb_playbook_title(pb));
    kb_playbook_free(pb);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char chunk[8192];
    size_t n;
    if (!f)
        return NULL;
    kb_buf_init(&b, 16u << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (kb_buf_append(&b, chunk, n))
            break;
    fclose(f);
    *len = b.len;
    return b.alloc ? b.data : kb_strdup(""); /* empty: not the shared empty buffer */
}

int kb_cmd_playbook(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("playbook");
    const char *dir_opt = NULL, *dsn = NULL, *incident_file = NULL, *connectors = NULL;
    int64_t incident = 0;
    int dot = 0, json = 0, dry = 0, i, status = KB_EXIT_OK;
    char *pos[8];
    int npos = 0;
    kb_buf dirb;
    char err[1024] = "";
    kb_store *st = NULL;
    kb_playbook *pb = NULL;
    kb_resp_opts o = {"cli", NULL, 0, stdout, 0, NULL};

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dot") == 0)
            dot = 1;
        else if (strcmp(a, "--json") == 0 || strcmp(a, "-o") == 0) {
            json = 1;
            if (a[1] == 'o' && i + 1 < argc)
                json = strcmp(argv[++i], "jsonl") == 0 || strcmp(argv[i], "json") == 0;
        } else if (strcmp(a, "--dry-run") == 0)
            dry = 1;
        else if (strcmp(a, "--dir") == 0 && i + 1 < argc)
            dir_opt = argv[++i];
        else if (strcmp(a, "--store") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(a, "--connectors") == 0 && i + 1 < argc)
            connectors = argv[++i];
        else if (strcmp(a, "--incident-file") == 0 && i + 1 < argc)
            incident_file = argv[++i];
        else if (strcmp(a, "--incident") == 0 && i + 1 < argc) {
            if (kb_parse_i64(argv[i + 1], strlen(argv[i + 1]), &incident) || incident <= 0)
                return kb_cmd_usage_error(cmd, "--incident takes an incident id");
            i++;
        } else if (a[0] == '-' && a[1])
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        else if (npos < 8)
            pos[npos++] = argv[i];
    }
    if (!connectors)
        connectors = getenv("KOBAN_RESPOND_CONFIG");
    o.connectors = connectors;
    o.force_dry_run = dry;
    if (npos == 0)
        return kb_cmd_usage_error(cmd, "which sub-command?");
    kb_buf_init(&dirb, 4096);
    const char *dir = pb_dir(cli, dir_opt, &dirb);
    const char *sub = pos[0];

    if (strcmp(sub, "lint") == 0) {
        if (npos < 2) {
            status = kb_cmd_usage_error(cmd, "lint needs FILE...");
            goto out;
        }
        for (int k = 1; k < npos; k++) {
            kb_buf diag;
            kb_buf_init(&diag, 1u << 20);
            if (kb_playbook_load(pos[k], &pb, &diag) != KB_OK) {
                fputs(diag.data ? diag.data : "", stderr);
                status = KB_EXIT_REJECTED;
            } else {
                printf("%s: ok (%s)\n", pos[k], kb_playbook_name(pb));
            }
            kb_playbook_free(pb);
            pb = NULL;
            kb_buf_release(&diag);
        }
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        kb_buf diag;
        int bad = 0;
        kb_buf_init(&diag, 1u << 20);
        kb_playbook_each(dir, print_name, stdout, &diag, &bad);
        if (diag.len)
            fputs(diag.data, stderr);
        kb_buf_release(&diag);
        status = bad ? KB_EXIT_REJECTED : KB_EXIT_OK;
        goto out;
    }
    if (strcmp(sub, "show") == 0) {
        if (npos != 2) {
            status = kb_cmd_usage_error(cmd, "show needs NAME");
            goto out;
        }
        if (load_named(dir, pos[1], &pb)) {
            status = KB_EXIT_REJECTED;
            goto out;
        }
        dot ? kb_playbook_dot(pb, stdout) : kb_playbook_outline(pb, stdout);
        goto out;
    }
    st = kb_cmd_open_store(cli, dsn);
    if (!st) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (kb_resp_schema(st)) {
        fprintf(stderr, "koban playbook: store: %s\n", kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(sub, "run") == 0) {
        kb_resp_incident in;
        const char *e = NULL;
        int64_t run = 0;
        if (npos != 2 || (!incident && !incident_file)) {
            status = kb_cmd_usage_error(cmd, "run needs NAME and --incident ID or"
                                             " --incident-file FILE");
            goto out;
        }
        if (load_named(dir, pos[1], &pb)) {
            status = KB_EXIT_REJECTED;
            goto out;
        }
        if (incident_file) {
            size_t len = 0;
            char *p = read_file(incident_file, &len);
            if (!p || kb_resp_incident_from_json(&in, p, len, &e)) {
                fprintf(stderr, "koban playbook: %s: %s\n", incident_file,
                        p ? e : "cannot read the file");
                kb_free(p);
                status = KB_EXIT_USAGE;
                goto out;
            }
            kb_free(p);
        } else if (kb_resp_incident_load(&in, st, incident)) {
            fprintf(stderr, "koban playbook: no incident %lld\n", (long long)incident);
            status = KB_EXIT_USAGE;
            goto out;
        }
        int rc = kb_resp_run_start(st, pb, &in, &o, &run, err, sizeof err);
        kb_resp_incident_release(&in);
        if (run > 0)
            printf("run %lld\n", (long long)run);
        if (rc) {
            fprintf(stderr, "koban playbook: run %lld: %s\n", (long long)run, err);
            status = KB_EXIT_FAILURE;
        }
        goto out;
    }
    if (strcmp(sub, "resume") == 0 || strcmp(sub, "answer") == 0) {
        int64_t run = 0;
        kb_buf name, stt;
        if ((strcmp(sub, "resume") == 0 && npos != 2) || (sub[0] == 'a' && npos != 4) ||
            kb_parse_i64(pos[1], strlen(pos[1]), &run)) {
            status = kb_cmd_usage_error(cmd, "resume RUN | answer RUN STEP VALUE");
            goto out;
        }
        kb_buf_init(&name, 4096);
        kb_buf_init(&stt, 64);
        if (kb_resp_run_info(st, run, &name, &stt)) {
            fprintf(stderr, "koban playbook: no run %lld\n", (long long)run);
            kb_buf_release(&name);
            kb_buf_release(&stt);
            status = KB_EXIT_USAGE;
            goto out;
        }
        if (load_named(dir, name.data, &pb)) {
            kb_buf_release(&name);
            kb_buf_release(&stt);
            status = KB_EXIT_FAILURE;
            goto out;
        }
        kb_buf_release(&name);
        kb_buf_release(&stt);
        if (sub[0] == 'a') {
            const char *user = getenv("USER");
            char actor[128];
            kb_buf why;
            kb_buf_init(&why, 4096);
            snprintf(actor, sizeof actor, "analyst:%s", user ? user : "?");
            if (kb_playbook_check_answer(pb, pos[2], pos[3], &why) != KB_OK) {
                fprintf(stderr, "koban playbook: %s\n", why.data ? why.data : "bad answer");
                kb_buf_release(&why);
                status = KB_EXIT_USAGE;
                goto out;
            }
            kb_buf_release(&why);
            if (kb_resp_answer(st, run, pos[2], pos[3], actor, err, sizeof err)) {
                fprintf(stderr, "koban playbook: %s\n", err);
                status = KB_EXIT_USAGE;
                goto out;
            }
        }
        if (kb_resp_run_resume(st, pb, run, &o, err, sizeof err)) {
            fprintf(stderr, "koban playbook: run %lld: %s\n", (long long)run, err);
            status = KB_EXIT_FAILURE;
        }
        goto out;
    }
    if (strcmp(sub, "pending") == 0) {
        kb_resp_pending(st, json, stdout);
        goto out;
    }
    if (strcmp(sub, "timeline") == 0) {
        int64_t run = 0;
        if (npos == 2 && kb_parse_i64(pos[1], strlen(pos[1]), &run)) {
            status = kb_cmd_usage_error(cmd, "timeline RUN | timeline --incident ID");
            goto out;
        }
        kb_resp_timeline(st, run, incident, json, stdout);
        goto out;
    }
    if (strcmp(sub, "tick") == 0) {
        int n = kb_resp_tick(st, &o, kb_time_now());
        printf("%d expired or breached\n", n < 0 ? 0 : n);
        goto out;
    }
    status = kb_cmd_usage_error(cmd, "unknown sub-command '%s'", sub);
out:
    kb_playbook_free(pb);
    kb_store_close(st);
    kb_buf_release(&dirb);
    return status;
}
