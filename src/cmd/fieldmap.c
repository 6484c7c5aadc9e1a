/* The field map for `koban scan` and `koban rules test`: which file, and
 * applying it to a loaded ruleset (detect.h, kb_ruleset_apply_fieldmap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/alerts.h"
#include "cmd/config.h"

static int readable(const char *p)
{
    return access(p, R_OK) == 0;
}

/* The shipped config/fieldmap.yaml next to the executable:
 * <prefix>/bin/koban -> <prefix>/share/koban/config/fieldmap.yaml, or
 * <repo>/build-x/koban -> <repo>/config/fieldmap.yaml. */
static int shipped(kb_buf *out)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;

    if (n <= 0)
        return 0;
    exe[n] = '\0';
    if (!(slash = strrchr(exe, '/')))
        return 0;
    *slash = '\0'; /* the executable's directory */
    kb_buf_clear(out);
    if (strlen(exe) >= 4 && strcmp(exe + strlen(exe) - 4, "/bin") == 0) {
        kb_buf_printf(out, "%.*s/share/koban/config/fieldmap.yaml", (int)(strlen(exe) - 4), exe);
        if (readable(out->data))
            return 1;
    }
    if (!(slash = strrchr(exe, '/')))
        return 0;
    *slash = '\0'; /* one up: a repository's root? */
    kb_buf_clear(out);
    kb_buf_printf(out, "%s/src/cmd/cmd.h", exe);
    if (!readable(out->data))
        return 0;
    kb_buf_clear(out);
    kb_buf_printf(out, "%s/config/fieldmap.yaml", exe);
    return readable(out->data);
}

int kb_cmd_fieldmap_load(const kb_cli *cli, const char *given, kb_rule_report *rep,
                         kb_fieldmap **out, kb_buf *used)
{
    kb_config cfg;
    int lr;

    *out = NULL;
    kb_buf_clear(used);
    if (given) {
        kb_buf_puts(used, given);
    } else {
        if (kb_config_load(cli, &cfg) != KB_OK)
            return KB_EPARSE;
        if (cfg.fieldmap)
            kb_buf_puts(used, cfg.fieldmap);
        kb_config_release(&cfg);
        if (!used->len) {
            kb_buf_printf(used, "%s/fieldmap.yaml", cli->data_dir ? cli->data_dir : ".");
            if (!readable(used->data) && !shipped(used)) {
                kb_buf_clear(used);
                return KB_OK; /* no map anywhere: rules as written */
            }
        }
    }
    if (!(*out = kb_fieldmap_new()))
        return KB_ENOMEM;
    lr = kb_fieldmap_load_file(*out, used->data, kb_rule_report_fn, rep);
    if (lr < 0) { /* the file named cannot be read */
        kb_fieldmap_free(*out);
        *out = NULL;
        return lr;
    }
    return KB_OK;
}

int kb_cmd_fieldmap_apply(const kb_cli *cli, const char *given, kb_ruleset *rs,
                          kb_rule_report *rep, kb_fieldmap_stats *st, kb_buf *used)
{
    kb_fieldmap *fm = NULL;
    int rc = kb_cmd_fieldmap_load(cli, given, rep, &fm, used);

    memset(st, 0, sizeof *st);
    if (rc == KB_OK && fm)
        kb_ruleset_apply_fieldmap(rs, fm, st, kb_rule_report_fn, rep);
    kb_fieldmap_free(fm);
    return rc;
}
