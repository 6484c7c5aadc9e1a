/* sshd messages: logins accepted and failed, invalid users, connections
 * closed before authentication, PAM failures. Each recognised message gets
 * event.category "authentication", an event.action, event.outcome when the
 * message states one, user.name, source.ip and source.port.
 *
 * User names are taken between the keyword and the last " from " (or the
 * address before " port "), so names with spaces survive; an attacker can
 * make the name look like anything, but never move the address. */
#include <string.h>

#include "ingest/syslog-prog.h"

typedef struct sshd_out {
    const char *action;
    const char *outcome; /* NULL: the message does not say */
    kb_str user, ip, port, method, rhost;
    int invalid;
} sshd_out;

/* Length of a string literal. */
#define LIT(s) (sizeof(s) - 1)

static kb_str mk(const char *p, size_t n)
{
    kb_str s = {p, n};
    return s;
}

static const char *rfind(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n > len)
        return NULL;
    for (size_t i = len - n + 1; i-- > 0;)
        if (memcmp(s + i, needle, n) == 0)
            return s + i;
    return NULL;
}

/* "IP[ port N]" at p: the address runs to a space, ':' followed by a space,
 * or the end. */
static void ip_port(const char *p, const char *end, sshd_out *o)
{
    const char *q = p;

    while (q < end && *q != ' ' && !(*q == ':' && (q + 1 == end || q[1] == ' ')))
        q++;
    /* An IPv4-mapped IPv6 address is the IPv4 client. */
    if (q - p > 7 && KB_SYSLOG_PREFIX(p, (size_t)(q - p), "::ffff:") &&
        memchr(p + 7, '.', (size_t)(q - p - 7)))
        p += 7;
    if (kb_syslog_is_ip(p, (size_t)(q - p)))
        o->ip = mk(p, (size_t)(q - p));
    if (end - q > 6 && memcmp(q, " port ", 6) == 0) {
        const char *d = q + 6, *e = d;
        while (e < end && *e >= '0' && *e <= '9')
            e++;
        if (kb_syslog_is_uint(d, (size_t)(e - d)))
            o->port = mk(d, (size_t)(e - d));
    }
}

/* "[invalid user ]USER from IP port N ..." */
static void user_from(const char *p, const char *end, sshd_out *o)
{
    const char *f = rfind(p, (size_t)(end - p), " from ");

    if (KB_SYSLOG_PREFIX(p, (size_t)(end - p), "invalid user ")) {
        o->invalid = 1;
        p += 13;
    } else if (KB_SYSLOG_PREFIX(p, (size_t)(end - p), "illegal user ")) {
        o->invalid = 1;
        p += 13;
    }
    if (!f || f < p) {
        if (f && f + 1 == p) /* empty user: "Invalid user  from" is "user " + " from" */
            o->user = mk(p, 0);
        if (!f)
            return;
    } else {
        o->user = mk(p, (size_t)(f - p));
    }
    ip_port(f + 6, end, o);
}

/* "[authenticating |invalid ]user USER IP port N" or "IP port N". */
static void user_ip_port(const char *p, const char *end, sshd_out *o)
{
    const char *port, *ip;
    size_t n = (size_t)(end - p);

    if (KB_SYSLOG_PREFIX(p, n, "authenticating user ")) {
        p += 20;
        o->outcome = "failure";
    } else if (KB_SYSLOG_PREFIX(p, n, "invalid user ")) {
        p += 13;
        o->invalid = 1;
        o->outcome = "failure";
    } else if (KB_SYSLOG_PREFIX(p, n, "user ")) {
        p += 5;
    } else {
        ip_port(p, end, o);
        return;
    }
    port = kb_memmem(p, (size_t)(end - p), " port ", 6);
    if (!port)
        return;
    for (ip = port; ip > p && ip[-1] != ' ';)
        ip--;
    if (ip > p)
        o->user = mk(p, (size_t)(ip - 1 - p));
    ip_port(ip, end, o);
}

/* The PAM line "authentication failure; logname= uid=0 ... rhost=H user=U". */
static void pam_failure(const char *p, size_t n, sshd_out *o)
{
    kb_str v;

    o->action = "authentication_failure";
    o->outcome = "failure";
    if (kb_syslog_kv(p, n, "rhost", &v) && v.len) {
        o->rhost = v;
        if (kb_syslog_is_ip(v.p, v.len))
            o->ip = v;
    }
    if (kb_syslog_kv(p, n, "user", &v) && v.len)
        o->user = v;
}

static void classify(const char *m, size_t n, sshd_out *o)
{
    const char *end = m + n;
    const char *p;

    /* Drop the level words sshd and PAM put in front. */
    if (KB_SYSLOG_PREFIX(m, n, "error: "))
        m += 7;
    else if (KB_SYSLOG_PREFIX(m, n, "fatal: "))
        m += 7;
    n = (size_t)(end - m);
    if (KB_SYSLOG_PREFIX(m, n, "pam_unix(sshd:")) {
        p = memchr(m, ' ', n);
        if (!p)
            return;
        m = p + 1;
        n = (size_t)(end - m);
    }

    if (KB_SYSLOG_PREFIX(m, n, "Accepted ") || KB_SYSLOG_PREFIX(m, n, "Failed ")) {
        int ok = m[0] == 'A';
        const char *w = m + (ok ? 9 : 7), *sp = memchr(w, ' ', (size_t)(end - w));
        if (!sp || !KB_SYSLOG_PREFIX(sp, (size_t)(end - sp), " for "))
            return;
        o->action = "ssh_login";
        o->outcome = ok ? "success" : "failure";
        o->method = mk(w, (size_t)(sp - w));
        user_from(sp + 5, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "Invalid user ") || KB_SYSLOG_PREFIX(m, n, "Illegal user ")) {
        o->action = "invalid_user";
        o->outcome = "failure";
        o->invalid = 1;
        user_from(m + 13, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "maximum authentication attempts exceeded for ")) {
        o->action = "max_auth_attempts";
        o->outcome = "failure";
        user_from(m + LIT("maximum authentication attempts exceeded for "), end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "Connection closed by ") ||
               KB_SYSLOG_PREFIX(m, n, "Connection reset by ")) {
        o->action = "connection_closed";
        user_ip_port(m + (m[11] == 'c' ? 21 : 20), end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "Disconnected from ")) {
        o->action = "disconnected";
        user_ip_port(m + 18, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "Received disconnect from ")) {
        o->action = "disconnected";
        ip_port(m + 25, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "authentication failure;") ||
               ((p = kb_memmem(m, n, " more authentication failures;", 30)) && p > m &&
                kb_syslog_is_uint(m, (size_t)(p - m)))) {
        pam_failure(m, n, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "session opened for user ") ||
               KB_SYSLOG_PREFIX(m, n, "session closed for user ")) {
        const char *u = m + 24, *e = u;
        while (e < end && *e != ' ' && *e != '(')
            e++;
        o->action = m[8] == 'o' ? "session_opened" : "session_closed";
        o->outcome = "success";
        o->user = mk(u, (size_t)(e - u));
    } else if (KB_SYSLOG_PREFIX(m, n, "Did not receive identification string from ")) {
        o->action = "no_identification";
        o->outcome = "failure";
        ip_port(m + LIT("Did not receive identification string from "), end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "Unable to negotiate with ")) {
        o->action = "negotiation_failed";
        o->outcome = "failure";
        ip_port(m + 25, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "User ") &&
               (p = kb_memmem(m, n, " not allowed because ", 21))) {
        o->action = "user_not_allowed";
        o->outcome = "failure";
        user_from(m + 5, p, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "PAM: Authentication failure for ")) {
        o->action = "authentication_failure";
        o->outcome = "failure";
        user_from(m + 32, end, o);
    } else if (KB_SYSLOG_PREFIX(m, n, "refused connect from ")) {
        const char *l = memchr(m, '(', n), *r = l ? memchr(l, ')', (size_t)(end - l)) : NULL;
        o->action = "connection_refused";
        o->outcome = "failure";
        if (r)
            ip_port(l + 1, r, o);
    } else {
        /* Anything else naming "ADDRESS port N" (timeouts, bad packets). */
        const char *q = m;
        while ((p = kb_memmem(q, (size_t)(end - q), " port ", 6)) != NULL) {
            const char *a = p;
            while (a > m && a[-1] != ' ')
                a--;
            ip_port(a, end, o);
            if (o->ip.len)
                break;
            o->port.len = 0;
            q = p + 6;
        }
    }
}

static int sshd_match(const kb_syslog_hdr *h)
{
    const char *a = h->app.p;
    size_t n = h->app.len;
    return n >= 4 && memcmp(a, "sshd", 4) == 0 && (n == 4 || a[4] == '-' || a[4] == '(');
}

static int sshd_decode(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev)
{
    sshd_out o;
    int rc;

    memset(&o, 0, sizeof o);
    ev->ls.product = "linux";
    ev->ls.service = "sshd";
    ev->ls.category = NULL;
    classify(h->msg.p, h->msg.len, &o);
    if (!o.action && !o.ip.len)
        return KB_OK;
    if (!o.action)
        goto addr;
    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0 ||
        (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, "authentication", 14)) < 0 ||
        (rc = kb_event_set(ev, KB_F_EVENT_ACTION, KB_V_STR, o.action, strlen(o.action))) < 0)
        goto fail;
    if (o.outcome &&
        (rc = kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, o.outcome, strlen(o.outcome))) < 0)
        goto fail;
    if (o.user.len &&
        (rc = kb_syslog_put(ctx, ev, KB_F_USER_NAME, KB_V_STR, o.user.p, o.user.len)) < 0)
        return rc;
addr:
    if (o.ip.len && (rc = kb_syslog_put(ctx, ev, KB_F_SOURCE_IP, KB_V_STR, o.ip.p, o.ip.len)) < 0)
        return rc;
    if (o.port.len &&
        (rc = kb_syslog_put(ctx, ev, KB_F_SOURCE_PORT, KB_V_INT, o.port.p, o.port.len)) < 0)
        return rc;
    if (o.method.len &&
        (rc = kb_syslog_raw(ctx, ev, "sshd.method", KB_V_STR, o.method.p, o.method.len)) < 0)
        return rc;
    if (o.rhost.len &&
        (rc = kb_syslog_raw(ctx, ev, "sshd.rhost", KB_V_STR, o.rhost.p, o.rhost.len)) < 0)
        return rc;
    if (o.invalid && (rc = kb_syslog_raw(ctx, ev, "sshd.invalid_user", KB_V_BOOL, "true", 4)) < 0)
        return rc;
    return KB_OK;
fail:
    ctx->err = rc == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields";
    return rc;
}

const kb_syslog_prog kb_syslog_prog_sshd = {"sshd", sshd_match, sshd_decode};
