/* Rule directories, rule levels and alert rendering for the commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/alerts.h"
#include "cmd/output.h"
#include "event/json.h"

static const char *const level_names[KB_LEVEL_COUNT] = {"informational", "low", "medium", "high",
                                                        "critical"};

int kb_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < KB_LEVEL_COUNT; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "info") == 0)
        return KB_LEVEL_INFO;
    return -1;
}

const char *kb_level_name(int level)
{
    return level >= 0 && level < KB_LEVEL_COUNT ? level_names[level] : "informational";
}

int kb_rule_level(const kb_rule *r)
{
    int l = kb_level_parse(kb_rule_meta_of(r)->level);
    return l < 0 ? KB_LEVEL_INFO : l;
}

/* ---- rule directories -------------------------------------------------- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Cuts the last path component of b (in place); 0 when there is none. */
static int path_up(kb_buf *b)
{
    char *slash = b->len ? strrchr(b->data, '/') : NULL;
    if (!slash)
        return 0;
    if (slash == b->data)
        slash++;
    *slash = '\0';
    b->len = (size_t)(slash - b->data);
    return 1;
}

int kb_rules_shipped_dir(kb_buf *out)
{
    const char *env = getenv("KOBAN_RULES");
    char exe[4096];
    ssize_t n;
    size_t dirlen;

    kb_buf_clear(out);
    if (env && *env) {
        kb_buf_puts(out, env);
        return is_dir(out->data) ? KB_OK : KB_ENOENT;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return KB_ENOENT;
    exe[n] = '\0';
    kb_buf_puts(out, exe);
    if (!path_up(out)) /* the directory of the executable */
        goto none;
    /* <prefix>/bin/koban -> <prefix>/share/koban/rules */
    dirlen = out->len;
    if (dirlen >= 4 && strcmp(out->data + dirlen - 4, "/bin") == 0) {
        out->len = dirlen - 4;
        out->data[out->len] = '\0';
        kb_buf_puts(out, "/share/koban/rules");
        if (is_dir(out->data))
            return KB_OK;
        out->len = dirlen;
        memcpy(out->data + dirlen - 4, "/bin", 5);
    }
    /* <repo>/build-x/koban -> <repo>/rules, when <repo> is koban's tree */
    if (path_up(out)) {
        size_t base = out->len;
        kb_buf_puts(out, "/src/cmd/cmd.h");
        if (access(out->data, F_OK) == 0) {
            out->len = base;
            out->data[base] = '\0';
            kb_buf_puts(out, "/rules");
            if (is_dir(out->data))
                return KB_OK;
        }
    }
none:
    kb_buf_clear(out);
    return KB_ENOENT;
}

void kb_rules_installed_dir(const kb_cli *cli, kb_buf *out)
{
    kb_buf_clear(out);
    kb_buf_printf(out, "%s/rules", cli && cli->data_dir ? cli->data_dir : ".");
}

int kb_rules_load_default(const kb_cli *cli, kb_ruleset *rs, kb_rule_report *rep)
{
    const char *env = getenv("KOBAN_RULES");
    kb_buf b;
    int n = 0;

    kb_buf_init(&b, 8192);
    if (kb_rules_shipped_dir(&b) == KB_OK) {
        kb_rules_load_path(rs, b.data, rep);
        n++;
    }
    if (!(env && *env)) {
        kb_rules_installed_dir(cli, &b);
        if (is_dir(b.data)) {
            kb_rules_load_path(rs, b.data, rep);
            n++;
        }
    }
    kb_buf_release(&b);
    return n;
}

void kb_rule_report_fn(void *ud, const char *path, uint32_t line, const char *reason,
                       const char *msg)
{
    kb_rule_report *rep = ud;
    (void)path, (void)line, (void)reason;
    rep->failed++;
    if (rep->f)
        fprintf(rep->f, "%s\n", msg);
}

int kb_rules_load_path(kb_ruleset *rs, const char *path, kb_rule_report *rep)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        rep->failed++;
        if (rep->f)
            fprintf(rep->f, "%s: %s\n", path, strerror(errno));
        return KB_ENOENT;
    }
    if (S_ISDIR(st.st_mode))
        kb_ruleset_load_dir(rs, path, kb_rule_report_fn, rep);
    else
        kb_ruleset_load_file(rs, path, kb_rule_report_fn, rep);
    return KB_OK;
}

/* ---- one alert --------------------------------------------------------- */

#define MATCHED_MAX_FIELDS 32
#define MATCHED_TEXT_WIDTH 60

/* Appends at most width characters of s (UTF-8 aware, control characters
 * as spaces), with "..." when cut. */
static void put_cut(kb_buf *b, const char *s, size_t len, size_t width)
{
    if (kb_out_put_chars(b, s, len, width, NULL) < len)
        kb_buf_puts(b, "...");
}

/* Value and trailing-space trimmed length of a field for display. */
static size_t trimmed(const kb_field *f)
{
    size_t len = f->len;
    while (len && (f->val[len - 1] == ' ' || f->val[len - 1] == '\t'))
        len--;
    return len;
}

void kb_alert_matched(const kb_rule *r, const kb_event *ev, kb_buf *text, kb_buf *json)
{
    kb_fid seen[MATCHED_MAX_FIELDS];
    size_t nseen = 0, npreds = 0;
    const kb_sigma_pred *preds = kb_rule_preds(r, &npreds);
    int first = 1;

    if (json)
        kb_buf_putc(json, '{');
    for (size_t i = 0; i < npreds && nseen < MATCHED_MAX_FIELDS; i++) {
        const kb_sigma_pred *p = &preds[i];
        const kb_field *f;
        const char *name;
        size_t k, nlen;

        if (p->field == KB_FID_NONE || !p->field_name)
            continue;
        for (k = 0; k < nseen && seen[k] != p->field; k++)
            ;
        if (k < nseen)
            continue;
        seen[nseen++] = p->field;
        f = kb_event_get(ev, p->field);
        if (!f || f->type == KB_V_NULL)
            continue;
        if (f->type == KB_V_ARRAY) {
            /* show the first element rather than the raw JSON text */
            const kb_field *e = kb_event_next(ev, p->field, f);
            if (e && (e->flags & KB_FF_ELEM))
                f = e;
        }
        name = p->field_name;
        nlen = strlen(name);
        if (text) {
            if (!first)
                kb_buf_puts(text, " | ");
            kb_buf_append(text, name, nlen);
            kb_buf_puts(text, ": ");
            put_cut(text, f->val, trimmed(f), MATCHED_TEXT_WIDTH);
        }
        if (json) {
            if (!first)
                kb_buf_putc(json, ',');
            kb_json_put_str(json, name, nlen);
            kb_buf_putc(json, ':');
            kb_json_put_str(json, f->val, f->len);
        }
        first = 0;
    }
    if (json)
        kb_buf_putc(json, '}');
}

void kb_alert_put_list(kb_buf *b, const char *const *list)
{
    kb_buf_putc(b, '[');
    for (size_t i = 0; list && list[i]; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, list[i], strlen(list[i]));
    }
    kb_buf_putc(b, ']');
}
