/* koban actions: list, show, approve, deny, rollback first-response actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "respond/respond.h"
#include "store/store.h"

int kb_cmd_actions(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("actions");
    const char *dsn = NULL, *sub = NULL, *idarg = NULL;
    int json = 0, status = KB_EXIT_OK;
    int64_t id = 0;
    char err[512] = "", actor[128];
    const char *user = getenv("USER");
    kb_store *st;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            json = strcmp(argv[++i], "table") != 0;
        else if (!sub)
            sub = argv[i];
        else if (!idarg)
            idarg = argv[i];
        else
            return kb_cmd_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!sub)
        return kb_cmd_usage_error(cmd, "which sub-command?");
    if (strcmp(sub, "list") && (!idarg || kb_parse_i64(idarg, strlen(idarg), &id) || id <= 0))
        return kb_cmd_usage_error(cmd, "%s needs an action id", sub);
    snprintf(actor, sizeof actor, "analyst:%s", user ? user : "?");
    kb_resp_opts o = {actor, NULL, 0, stdout, 0, NULL};
    st = kb_cmd_open_store(cli, dsn);
    if (!st)
        return KB_EXIT_FAILURE;
    if (kb_resp_schema(st)) {
        fprintf(stderr, "koban actions: store: %s\n", kb_store_errmsg(st));
        kb_store_close(st);
        return KB_EXIT_FAILURE;
    }
    int rc = KB_OK;
    if (strcmp(sub, "list") == 0)
        rc = kb_resp_actions_list(st, json, stdout);
    else if (strcmp(sub, "show") == 0)
        rc = kb_resp_action_show(st, id, stdout);
    else if (strcmp(sub, "approve") == 0 || strcmp(sub, "deny") == 0)
        rc = kb_resp_action_decide(st, id, sub[0] == 'a', &o, err, sizeof err);
    else if (strcmp(sub, "rollback") == 0)
        rc = kb_resp_action_rollback(st, id, &o, err, sizeof err);
    else {
        kb_store_close(st);
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'", sub);
    }
    if (rc) {
        fprintf(stderr, "koban actions: %s\n", *err ? err : kb_strerror(rc));
        status = rc == KB_ENOENT || rc == KB_EINVAL ? KB_EXIT_USAGE : KB_EXIT_FAILURE;
    } else if (strcmp(sub, "list") && strcmp(sub, "show")) {
        printf("action %lld: %s done\n", (long long)id, sub);
    }
    kb_store_close(st);
    return status;
}
