/* koban store: look after the store (statistics, retention). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "store/hunt.h"
#include "store/store.h"

int kb_cmd_store(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("store");
    const char *dsn = NULL, *source = NULL, *verb;
    int64_t age = -1;
    kb_store *st;
    int i, rc, status = KB_EXIT_OK;

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
    if (strcmp(verb, "prune") == 0 && age < 0 && !source)
        return kb_cmd_usage_error(cmd, "prune needs --older-than AGE and/or --source NAME");
    if (!(st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    if (strcmp(verb, "stats") == 0) {
        rc = kb_store_stats(st, stdout);
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
    return status;
}
