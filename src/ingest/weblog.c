/* Web server access logs in the Common and Combined Log Formats that
 * Apache httpd and nginx write by default:
 *
 *   host ident user [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 200 2326 "referer" "agent"
 *
 * with an optional virtual host in front (Apache's vhost_combined:
 * "www.example.com:443 1.2.3.4 - - [...]"), a missing ident (nginx's
 * "$remote_addr - $remote_user"), "-" for absent values, \" and \xHH
 * escapes inside quoted fields, and any trailing fields (nginx extras)
 * kept whole as "extra".
 *
 * Raw fields use the names Logstash's COMBINEDAPACHELOG gives them
 * (clientip, ident, auth, timestamp, verb, request, httpversion, response,
 * bytes, agent; the referrer as http.request.referrer), and the Sigma
 * webserver names (c-ip, cs-method, cs-uri-query, cs-uri-stem, sc-status,
 * cs-user-agent, cs-referer, cs-username, ...) point at the same slices. */
#include <string.h>

#include "ingest/decoders.h"

#define WEB_MAX_PRE 4 /* fields before [time]: vhost host ident user */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_dash(kb_str s)
{
    return s.len == 1 && s.p[0] == '-';
}

/* Reads exactly n digits. */
static int num(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    if (*i + (size_t)n > len)
        return -1;
    for (int k = 0; k < n; k++) {
        if (!is_digit(s[*i + (size_t)k]))
            return -1;
        v = v * 10 + (s[*i + (size_t)k] - '0');
    }
    *i += (size_t)n;
    *out = v;
    return 0;
}

/* "10/Oct/2000:13:55:36 -0700" (day may be one digit; optional .fraction). */
static int parse_clf_time(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int d, mon, y, h, mi, sec, zh, zm, sign;
    int64_t ns = 0, t;

    if (num(s, len, &i, 2, &d) && num(s, len, &i, 1, &d))
        return KB_EPARSE;
    if (i >= len || s[i++] != '/' || i + 3 > len || !(mon = kb_month_from_abbr(s + i, 3)))
        return KB_EPARSE;
    i += 3;
    if (i >= len || s[i++] != '/' || num(s, len, &i, 4, &y) || i >= len || s[i++] != ':' ||
        num(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || num(s, len, &i, 2, &mi) ||
        i >= len || s[i++] != ':' || num(s, len, &i, 2, &sec))
        return KB_EPARSE;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        int nd = 0;
        i++;
        while (i < len && is_digit(s[i])) {
            if (nd < 9) {
                ns = ns * 10 + (s[i] - '0');
                nd++;
            }
            i++;
        }
        if (nd == 0)
            return KB_EPARSE;
        while (nd++ < 9)
            ns *= 10;
    }
    if (i < len && s[i] == ' ')
        i++;
    if (i == len) {
        zh = zm = 0;
        sign = 1;
    } else {
        if (s[i] != '+' && s[i] != '-')
            return KB_EPARSE;
        sign = s[i++] == '-' ? -1 : 1;
        if (num(s, len, &i, 2, &zh))
            return KB_EPARSE;
        if (i < len && s[i] == ':')
            i++;
        if (num(s, len, &i, 2, &zm) || i != len || zh > 23 || zm > 59)
            return KB_EPARSE;
    }
    /* int64 nanoseconds hold 1678-2261; kb_time_make does not check. */
    if (y < 1678 || y > 2261 || kb_time_make(y, mon, d, h, mi, sec, ns, &t))
        return KB_EPARSE;
    *out = t - (int64_t)sign * (zh * 3600 + zm * 60) * KB_NS_PER_SEC;
    return KB_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads a quoted field at *p (which is '"'); sets *out to its contents
 * with \" \\ and \xHH resolved (into the arena only when escaped).
 * Returns 0, -1 when unterminated, -2 out of memory. */
static int quoted(kb_event *ev, const char **p, const char *end, kb_str *out)
{
    const char *s = *p + 1, *q = s;
    int esc = 0;

    while (q < end && *q != '"') {
        if (*q == '\\' && q + 1 < end) {
            esc = 1;
            q++;
        }
        q++;
    }
    if (q >= end)
        return -1;
    *p = q + 1;
    out->p = s;
    out->len = (size_t)(q - s);
    if (esc) {
        char *o = kb_arena_alloc(ev->arena, out->len ? out->len : 1);
        size_t n = 0;
        int hi, lo;
        if (!o)
            return -2;
        for (size_t i = 0; i < out->len; i++) {
            char c = s[i];
            if (c == '\\' && i + 1 < out->len) {
                char e = s[i + 1];
                if (e == '"' || e == '\\') {
                    o[n++] = e;
                    i++;
                    continue;
                }
                if (e == 'x' && i + 3 < out->len && (hi = hexval((unsigned char)s[i + 2])) >= 0 &&
                    (lo = hexval((unsigned char)s[i + 3])) >= 0) {
                    o[n++] = (char)(hi << 4 | lo);
                    i += 3;
                    continue;
                }
            }
            o[n++] = c;
        }
        out->p = o;
        out->len = n;
    }
    return 0;
}

static const char *skip_sp(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *token(const char *p, const char *end, kb_str *out)
{
    const char *s = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    out->p = s;
    out->len = (size_t)(p - s);
    return p;
}

/* The fields before "[time]": returns how many (or -1 past the cap), and
 * leaves *p at '['. */
static int prefix(const char **p, const char *end, kb_str *pre)
{
    const char *q = skip_sp(*p, end);
    int n = 0;

    while (q < end && *q != '[') {
        if (n == WEB_MAX_PRE)
            return -1;
        q = skip_sp(token(q, end, &pre[n++]), end);
    }
    *p = q;
    return q < end ? n : -1;
}

typedef struct weblog {
    kb_str vhost, client, ident, user, time, line, method, uri, version, status, bytes, ref, ua,
        extra;
} weblog;

static int add(kb_event *ev, const char *name, kb_vtype t, kb_str v)
{
    return kb_event_add_static(ev, name, t, v.p, v.len); /* names are literals */
}

/* Splits "GET /x?y HTTP/1.1" into method, target and version; leaves them
 * empty for a request line that is not HTTP (garbage, TLS bytes, "-"). */
static void split_request(weblog *w)
{
    const char *s = w->line.p, *end = s + w->line.len, *sp, *last;

    for (sp = s; sp < end && ((*sp >= 'A' && *sp <= 'Z') || *sp == '_' || *sp == '-'); sp++)
        ;
    if (sp == s || sp >= end || *sp != ' ')
        return;
    w->method.p = s;
    w->method.len = (size_t)(sp - s);
    sp++;
    last = end;
    while (last > sp && last[-1] != ' ')
        last--;
    if (last > sp && kb_str_has_prefix(last, (size_t)(end - last), "HTTP/")) {
        w->uri.p = sp;
        w->uri.len = (size_t)(last - 1 - sp);
        w->version.p = last + 5;
        w->version.len = (size_t)(end - last - 5);
    } else {
        w->uri.p = sp;
        w->uri.len = (size_t)(end - sp);
    }
}

static int weblog_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    const char *p = line, *end = line + len, *rb;
    kb_str pre[WEB_MAX_PRE], s;
    weblog w;
    int n, rc, q, i;
    int64_t t, x;

    memset(&w, 0, sizeof w);
    if (memchr(line, '\0', len)) {
        ctx->err = "NUL byte in an access log record";
        return KB_EPARSE;
    }
    if (skip_sp(p, end) == end)
        return KB_ESKIP;
    n = prefix(&p, end, pre);
    if (n < 0) {
        ctx->err = "not an access log record: no [time] after at most 4 fields";
        return KB_EPARSE;
    }
    if (n < 2) {
        ctx->err = n == 0 ? "no client before [time]: an error log, not an access log"
                           : "access log record lacks the client and user before [time]";
        return KB_EPARSE;
    }
    /* vhost host ident user | host ident user | host user */
    i = 0;
    if (n == 4)
        w.vhost = pre[i++];
    w.client = pre[i++];
    if (n >= 3)
        w.ident = pre[i++];
    w.user = pre[i];
    rb = memchr(p, ']', (size_t)(end - p));
    if (!rb) {
        ctx->err = "access log time has no closing ']'";
        return KB_EPARSE;
    }
    w.time.p = p + 1;
    w.time.len = (size_t)(rb - p - 1);
    if (parse_clf_time(w.time.p, w.time.len, &t) != KB_OK) {
        ctx->err = "access log time is not dd/Mon/yyyy:hh:mm:ss zone";
        return KB_EPARSE;
    }
    p = skip_sp(rb + 1, end);
    if (p == end || *p != '"') {
        ctx->err = "access log record has no quoted request";
        return KB_EPARSE;
    }
    if ((q = quoted(ev, &p, end, &w.line)) < 0)
        goto quote_fail;
    p = skip_sp(p, end);
    p = skip_sp(token(p, end, &w.status), end);
    p = skip_sp(token(p, end, &w.bytes), end);
    if (w.status.len == 0 || w.bytes.len == 0) {
        ctx->err = "access log record lacks status or size";
        return KB_EPARSE;
    }
    if (!is_dash(w.status) && kb_parse_i64(w.status.p, w.status.len, &x) != KB_OK) {
        ctx->err = "access log status is not a number";
        return KB_EPARSE;
    }
    if (p < end && *p == '"') {
        if ((q = quoted(ev, &p, end, &w.ref)) < 0)
            goto quote_fail;
        p = skip_sp(p, end);
        if (p < end && *p == '"') {
            if ((q = quoted(ev, &p, end, &w.ua)) < 0)
                goto quote_fail;
            p = skip_sp(p, end);
        }
    }
    if (p < end && *p == '"') {
        /* One more quoted field (nginx's "$http_x_forwarded_for"): unquoted. */
        const char *r = p;
        kb_str one;
        if ((q = quoted(ev, &r, end, &one)) == -2)
            goto quote_fail;
        if (q == 0 && skip_sp(r, end) == end) {
            w.extra = one;
            p = end;
        }
    }
    if (p < end) {
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        w.extra.p = p;
        w.extra.len = (size_t)(e - p);
    }
    split_request(&w);
    ev->ts = t;

#define ADD(name, type, v)                                                                   \
    do {                                                                                     \
        if ((rc = add(ev, name, type, v)) < 0)                                               \
            goto fail;                                                                       \
    } while (0)
#define ADD_IF(name, type, v)                                                                \
    do {                                                                                     \
        if ((v).len && !is_dash(v))                                                          \
            ADD(name, type, v);                                                              \
    } while (0)

    if (w.vhost.len && !is_dash(w.vhost)) {
        const char *c = memchr(w.vhost.p, ':', w.vhost.len);
        kb_str host = {w.vhost.p, c ? (size_t)(c - w.vhost.p) : w.vhost.len};
        ADD("vhost", KB_V_STR, w.vhost);
        if (host.len) {
            if ((rc = add(ev, "cs-host", KB_V_STR, host)) < 0)
                goto fail;
            kb_event_alias(ev, KB_F_URL_DOMAIN, rc);
        }
        if (c && kb_parse_i64(c + 1, w.vhost.len - host.len - 1, &x) == KB_OK) {
            if ((rc = kb_event_set(ev, KB_F_DESTINATION_PORT, KB_V_INT, c + 1,
                                   w.vhost.len - host.len - 1)) < 0)
                goto fail;
            ADD("s-port", KB_V_INT, ((kb_str){c + 1, w.vhost.len - host.len - 1}));
        }
    }
    if (!is_dash(w.client)) {
        if ((rc = add(ev, "clientip", KB_V_STR, w.client)) < 0)
            goto fail;
        if (kb_decoder_is_ip(w.client.p, w.client.len))
            kb_event_alias(ev, KB_F_SOURCE_IP, rc);
        ADD("c-ip", KB_V_STR, w.client);
    }
    ADD_IF("ident", KB_V_STR, w.ident);
    if (w.user.len && !is_dash(w.user)) {
        if ((rc = add(ev, "auth", KB_V_STR, w.user)) < 0)
            goto fail;
        kb_event_alias(ev, KB_F_USER_NAME, rc);
        ADD("cs-username", KB_V_STR, w.user);
    }
    if ((rc = add(ev, "timestamp", KB_V_STR, w.time)) < 0)
        goto fail;
    kb_event_alias(ev, KB_F_TIMESTAMP, rc);
    ADD("request_line", KB_V_STR, w.line);
    if (w.method.len) {
        if ((rc = add(ev, "verb", KB_V_STR, w.method)) < 0)
            goto fail;
        kb_event_alias(ev, KB_F_HTTP_REQUEST_METHOD, rc);
        ADD("cs-method", KB_V_STR, w.method);
    }
    if (w.uri.len) {
        const char *qm = memchr(w.uri.p, '?', w.uri.len);
        kb_str stem = {w.uri.p, qm ? (size_t)(qm - w.uri.p) : w.uri.len};
        if ((rc = add(ev, "request", KB_V_STR, w.uri)) < 0)
            goto fail;
        kb_event_alias(ev, KB_F_URL_FULL, rc);
        ADD("c-uri", KB_V_STR, w.uri);
        ADD("cs-uri-query", KB_V_STR, w.uri);
        ADD("cs-uri-stem", KB_V_STR, stem);
        ADD("c-uri-stem", KB_V_STR, stem);
        if (qm) {
            s.p = qm + 1;
            s.len = w.uri.len - stem.len - 1;
            ADD("c-uri-query", KB_V_STR, s);
        }
    }
    if (w.version.len) {
        ADD("httpversion", KB_V_STR, w.version);
        s.p = w.version.p - 5;
        s.len = w.version.len + 5;
        ADD("cs-version", KB_V_STR, s);
    }
    if (!is_dash(w.status)) {
        if ((rc = add(ev, "response", KB_V_INT, w.status)) < 0)
            goto fail;
        kb_event_alias(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, rc);
        ADD("sc-status", KB_V_INT, w.status);
    }
    if (!is_dash(w.bytes)) {
        kb_vtype bt = kb_parse_i64(w.bytes.p, w.bytes.len, &x) ? KB_V_STR : KB_V_INT;
        ADD("bytes", bt, w.bytes);
        ADD("sc-bytes", bt, w.bytes);
    }
    if (w.ref.len && !is_dash(w.ref)) {
        ADD("http.request.referrer", KB_V_STR, w.ref);
        ADD("cs-referer", KB_V_STR, w.ref);
    }
    if (w.ua.len && !is_dash(w.ua)) {
        if ((rc = add(ev, "agent", KB_V_STR, w.ua)) < 0)
            goto fail;
        kb_event_alias(ev, KB_F_USER_AGENT_ORIGINAL, rc);
        ADD("cs-user-agent", KB_V_STR, w.ua);
    }
    ADD_IF("extra", KB_V_STR, w.extra);
#undef ADD_IF
#undef ADD
    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0 ||
        (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web", 3)) < 0)
        goto fail;
    ev->ls.category = "webserver";
    return KB_OK;
quote_fail:
    ctx->err = q == -1 ? "access log record has an unterminated quoted field"
                       : "out of memory for an access log record";
    return q == -1 ? KB_EPARSE : KB_ENOMEM;
fail:
    ctx->err = rc == KB_ELIMIT ? "access log record: field limit reached"
                               : "out of memory for an access log record";
    return rc;
}

/* host ident user [dd/Mon/yyyy:hh:mm:ss zone] "METHOD */
static int weblog_sniff(const char *line, size_t len)
{
    const char *p = line, *end = line + (len < 4096 ? len : 4096), *rb;
    kb_str pre[WEB_MAX_PRE];
    int n = prefix(&p, end, pre);
    int64_t t;

    if (n < 2)
        return 0;
    rb = memchr(p, ']', (size_t)(end - p));
    if (!rb || parse_clf_time(p + 1, (size_t)(rb - p - 1), &t) != KB_OK)
        return 0;
    p = skip_sp(rb + 1, end);
    if (end - p < 2 || p[0] != '"')
        return 0;
    return (p[1] >= 'A' && p[1] <= 'Z') || p[1] == '-' ? 90 : 40;
}

const kb_decoder kb_dec_weblog = {"weblog", "Apache/nginx access logs (common, combined, vhost)",
                                  weblog_sniff, weblog_decode, NULL, NULL};
