/* sudo messages:
 *   "USER : TTY=pts/0 ; PWD=/home/x ; USER=root ; COMMAND=/bin/ls"
 *   "USER : 3 incorrect password attempts ; TTY=... ; COMMAND=..."
 *   "USER : user NOT in sudoers ; TTY=... ; COMMAND=..."
 *   "pam_unix(sudo:auth): authentication failure; ... ruser=U rhost= user=T"
 *   "pam_unix(sudo:session): session opened for user T by U(uid=0)"
 * user.name is the user who ran sudo; the target user is sudo.run_as.
 * COMMAND runs to the end of the line (it may itself contain " ; "). */
#include <string.h>

#include "ingest/syslog-prog.h"

static int set_static(kb_decode_ctx *ctx, kb_event *ev, int c, const char *v)
{
    int rc = kb_event_set(ev, c, KB_V_STR, v, strlen(v));
    if (rc < 0)
        ctx->err = rc == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields";
    return rc;
}

/* Adds event.kind/category/action/outcome. */
static int verdict(kb_decode_ctx *ctx, kb_event *ev, const char *cat, const char *action,
                   const char *outcome)
{
    int rc;
    if ((rc = set_static(ctx, ev, KB_F_EVENT_KIND, "event")) < 0 ||
        (rc = set_static(ctx, ev, KB_F_EVENT_CATEGORY, cat)) < 0 ||
        (rc = set_static(ctx, ev, KB_F_EVENT_ACTION, action)) < 0)
        return rc;
    if (outcome && (rc = set_static(ctx, ev, KB_F_EVENT_OUTCOME, outcome)) < 0)
        return rc;
    return KB_OK;
}

static const char *reason_action(const char *r, size_t n)
{
    if (kb_memmem(r, n, "incorrect password attempt", 26))
        return "incorrect_password";
    if (kb_memmem(r, n, "NOT in sudoers", 14))
        return "not_in_sudoers";
    if (kb_memmem(r, n, "command not allowed", 19))
        return "command_not_allowed";
    return "sudo_command";
}

/* "USER : item ; item ; ... COMMAND=rest". Returns 0 when m is not one. */
static int command_line(kb_decode_ctx *ctx, const char *m, size_t n, kb_event *ev, int *rcp)
{
    const char *sep = kb_memmem(m, n, " : ", 3), *end = m + n, *p;
    const char *reason = NULL;
    size_t reason_len = 0;
    int rc, any = 0;

    if (!sep || sep == m || memchr(m, ' ', (size_t)(sep - m)))
        return 0;
    for (p = sep + 3; p < end;) {
        const char *e = kb_memmem(p, (size_t)(end - p), " ; ", 3);
        const char *eq;
        size_t len;
        if (KB_SYSLOG_PREFIX(p, (size_t)(end - p), "COMMAND="))
            e = NULL; /* the command runs to the end */
        len = e ? (size_t)(e - p) : (size_t)(end - p);
        eq = memchr(p, '=', len);
        if (eq && eq > p && !memchr(p, ' ', (size_t)(eq - p))) {
            const char *v = eq + 1;
            size_t vl = (size_t)(p + len - v);
            any = 1;
            if (kb_str_eq(p, (size_t)(eq - p), "COMMAND", 7))
                rc = kb_syslog_put(ctx, ev, KB_F_PROCESS_COMMAND_LINE, KB_V_STR, v, vl);
            else if (kb_str_eq(p, (size_t)(eq - p), "USER", 4))
                rc = kb_syslog_raw(ctx, ev, "sudo.run_as", KB_V_STR, v, vl);
            else if (kb_str_eq(p, (size_t)(eq - p), "TTY", 3))
                rc = kb_syslog_raw(ctx, ev, "sudo.tty", KB_V_STR, v, vl);
            else if (kb_str_eq(p, (size_t)(eq - p), "PWD", 3))
                rc = kb_syslog_raw(ctx, ev, "sudo.pwd", KB_V_STR, v, vl);
            else if (kb_str_eq(p, (size_t)(eq - p), "TSID", 4))
                rc = kb_syslog_raw(ctx, ev, "sudo.tsid", KB_V_STR, v, vl);
            else
                rc = KB_OK;
            if (rc < 0) {
                *rcp = rc;
                return 1;
            }
        } else if (!reason) {
            reason = p;
            reason_len = len;
        }
        if (!e)
            break;
        p = e + 3;
    }
    if (!any)
        return 0;
    if ((rc = kb_syslog_put(ctx, ev, KB_F_USER_NAME, KB_V_STR, m, (size_t)(sep - m))) < 0 ||
        (reason &&
         (rc = kb_syslog_raw(ctx, ev, "sudo.reason", KB_V_STR, reason, reason_len)) < 0)) {
        *rcp = rc;
        return 1;
    }
    *rcp = verdict(ctx, ev, "process", reason ? reason_action(reason, reason_len) : "sudo_command",
                   reason ? "failure" : "success");
    return 1;
}

static int sudo_match(const kb_syslog_hdr *h)
{
    return kb_str_eqz(h->app.p, h->app.len, "sudo");
}

static int sudo_decode(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev)
{
    const char *m = h->msg.p, *end = h->msg.p + h->msg.len;
    size_t n = h->msg.len;
    kb_str v;
    int rc = KB_OK;

    ev->ls.product = "linux";
    ev->ls.service = "sudo";
    ev->ls.category = NULL;
    if (command_line(ctx, m, n, ev, &rc))
        return rc;
    if (KB_SYSLOG_PREFIX(m, n, "pam_unix(sudo:auth): authentication failure;")) {
        kb_str actor = {NULL, 0};
        if (kb_syslog_kv(m, n, "ruser", &v) && v.len)
            actor = v;
        else if (kb_syslog_kv(m, n, "logname", &v) && v.len)
            actor = v;
        if (kb_syslog_kv(m, n, "user", &v) && v.len) {
            if ((rc = kb_syslog_raw(ctx, ev, "sudo.run_as", KB_V_STR, v.p, v.len)) < 0)
                return rc;
            if (!actor.p)
                actor = v;
        }
        if (actor.p &&
            (rc = kb_syslog_put(ctx, ev, KB_F_USER_NAME, KB_V_STR, actor.p, actor.len)) < 0)
            return rc;
        return verdict(ctx, ev, "authentication", "authentication_failure", "failure");
    }
    if (KB_SYSLOG_PREFIX(m, n, "pam_unix(sudo:session): session ")) {
        const char *p = m + 32, *u, *e;
        int opened = KB_SYSLOG_PREFIX(p, (size_t)(end - p), "opened for user ");
        if (!opened && !KB_SYSLOG_PREFIX(p, (size_t)(end - p), "closed for user "))
            return KB_OK;
        u = p + 16;
        for (e = u; e < end && *e != ' ' && *e != '('; e++)
            ;
        if ((rc = kb_syslog_raw(ctx, ev, "sudo.run_as", KB_V_STR, u, (size_t)(e - u))) < 0)
            return rc;
        /* "by alice(uid=0)": the actor; "by (uid=0)" names nobody. */
        if (KB_SYSLOG_PREFIX(e, (size_t)(end - e), " by ")) {
            const char *a = e + 4, *ae = a;
            while (ae < end && *ae != '(' && *ae != ' ')
                ae++;
            if (ae > a) {
                u = a;
                e = ae;
            }
        }
        if (e > u &&
            (rc = kb_syslog_put(ctx, ev, KB_F_USER_NAME, KB_V_STR, u, (size_t)(e - u))) < 0)
            return rc;
        return verdict(ctx, ev, "session", opened ? "session_opened" : "session_closed", "success");
    }
    return KB_OK;
}

const kb_syslog_prog kb_syslog_prog_sudo = {"sudo", sudo_match, sudo_decode};
