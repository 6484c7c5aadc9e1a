/* koban store: look after the store (statistics, retention). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "store/hunt.h"
#include "store/store.h"

struct paths {
    char **v;
    size_t n, a;
    int oom;
};

static int path_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct paths *p = ud;
    char *s;
    (void)names;
    if (!ncol || c[0].type != KB_SV_TEXT)
        return 0;
    if (kb_grow((void **)&p->v, &p->a, p->n + 1, sizeof *p->v, 64))
        return p->oom = 1;
    if (!(s = kb_malloc(c[0].len + 1)))
        return p->oom = 1;
    memcpy(s, c[0].p, c[0].len);
    s[c[0].len] = 0;
    p->v[p->n++] = s;
    return 0;
}

/* `koban store prune` without options: store.retention of the
 * configuration, source by source. */
static int prune_by_config(kb_store *st, const kb_config *cfg, uint64_t *total)
{
    struct paths p = {0};
    int rc = kb_store_exec(st, "SELECT path FROM sources ORDER BY path", NULL, 0, path_row, &p);
    int64_t now = kb_time_now();
    if (rc == KB_OK && p.oom)
        rc = KB_ENOMEM;
    for (size_t i = 0; i < p.n && rc == KB_OK; i++) {
        const kb_retention *r = kb_config_retention(cfg, p.v[i]);
        uint64_t n = 0;
        if (!r || r->days == 0)
            continue;
        if ((rc = kb_store_prune(st, now - r->days * 86400 * KB_NS_PER_SEC, p.v[i], &n)) == KB_OK &&
            n)
            printf("  %llu events older than %lld days from %s\n", (unsigned long long)n,
                   (long long)r->days, p.v[i]);
        *total += n;
    }
    for (size_t i = 0; i < p.n; i++)
        kb_free(p.v[i]);
    kb_free(p.v);
    return rc;
}

int kb_cmd_store(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("store");
    const char *dsn = NULL, *source = NULL, *verb;
    int64_t age = -1;
    kb_store *st;
    kb_config cfg;
    int i, rc, status = KB_EXIT_OK, use_config = 0;

    memset(&cfg, 0, sizeof cfg);

    if (argc < 2)
        return kb_cmd_usage_error(cmd, "expected 'stats' or 'prune'");
    verb = argv[1];
    if (strcmp(verb, "stats") != 0 && strcmp(verb, "prune") != 0)
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'; expected 'stats' or 'prune'",
                                  verb);
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0 && i + 1 < argc) {
            dsn = argv[++i];
        } else if (strcmp(verb, "prune") == 0 && strcmp(a, "--older-than") == 0 && i + 1 < argc) {
            const char *d = argv[++i];
            if (kb_hunt_duration(d, strlen(d), &age) != KB_OK)
                return kb_cmd_usage_error(cmd, "--older-than: expected a duration like 30d,"
                                               " 12h or 90m, got '%s'",
                                          d);
        } else if (strcmp(verb, "prune") == 0 && strcmp(a, "--source") == 0 && i + 1 < argc) {
            source = argv[++i];
        } else {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (strcmp(verb, "prune") == 0 && age < 0 && !source) {
        if (kb_config_load(cli, &cfg) != KB_OK)
            return KB_EXIT_USAGE;
        use_config = 1;
        if (!cfg.nretention) {
            kb_config_release(&cfg);
            return kb_cmd_usage_error(cmd, "prune needs --older-than AGE and/or --source NAME,"
                                           " or store.retention in the configuration");
        }
    }
    if (!(st = kb_cmd_open_store(cli, dsn))) {
        kb_config_release(&cfg);
        return KB_EXIT_FAILURE;
    }
    if (strcmp(verb, "stats") == 0) {
        rc = kb_store_stats(st, stdout);
    } else if (use_config) {
        uint64_t n = 0;
        rc = prune_by_config(st, &cfg, &n);
        if (rc == KB_OK)
            printf("pruned %llu events (store.retention of %s)\n", (unsigned long long)n,
                   cfg.path ? cfg.path : "the configuration");
    } else {
        uint64_t n = 0;
        rc = kb_store_prune(st, age >= 0 ? kb_time_now() - age : KB_TIME_NONE, source, &n);
        if (rc == KB_OK)
            printf("pruned %llu events\n", (unsigned long long)n);
    }
    if (rc) {
        fprintf(stderr, "koban store %s: %s\n", verb, kb_store_errmsg(st));
        status = KB_EXIT_FAILURE;
    }
    kb_store_close(st);
    kb_config_release(&cfg);
    return status;
}
