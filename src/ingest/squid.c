/* Squid's native access.log:
 *
 *   time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type
 *   1157689320.327   2864 10.105.21.199 TCP_MISS/200 10182 GET http://www.goonernews.com/ badeyek DIRECT/175.16.199.61 text/html
 *
 * Columns are separated by runs of spaces (elapsed is right-aligned).
 * Fields keep Squid's column names; the Sigma proxy names (c-uri, cs-host,
 * cs-method, sc-status, c-ip, r-dns, ...) are added as further fields over
 * the same slices so that Sigma proxy rules match without a mapping.
 * Squid's native format has no user agent. */
#include <string.h>

#include "ingest/decoders.h"

#define SQUID_COLS 10

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* The parts of a request URL, as slices of it. */
typedef struct url_parts {
    kb_str host, port, path, query, ext;
} url_parts;

/* Splits "scheme://user@host:port/path?query", or "host:port" for CONNECT.
 * A part that is absent has len 0. */
static void url_split(const char *u, size_t n, int connect, url_parts *o)
{
    const char *p, *end = u + n, *auth, *aend = u, *colon, *s;

    memset(o, 0, sizeof *o);
    s = kb_memmem(u, n, "://", 3);
    if (s) {
        auth = s + 3;
    } else if (connect) {
        auth = u;
    } else {
        auth = NULL;
        aend = u;
    }
    if (auth) {
        aend = auth;
        while (aend < end && *aend != '/' && *aend != '?' && *aend != '#')
            aend++;
        for (const char *a = auth; a < aend; a++)
            if (*a == '@')
                auth = a + 1;
        if (auth < aend && *auth == '[') { /* [v6]:port */
            const char *rb = memchr(auth, ']', (size_t)(aend - auth));
            colon = rb && rb + 1 < aend && rb[1] == ':' ? rb + 1 : NULL;
            o->host.p = auth + 1;
            o->host.len = rb ? (size_t)(rb - auth - 1) : 0;
        } else {
            colon = memchr(auth, ':', (size_t)(aend - auth));
            o->host.p = auth;
            o->host.len = (size_t)((colon ? colon : aend) - auth);
        }
        if (colon) {
            o->port.p = colon + 1;
            o->port.len = (size_t)(aend - colon - 1);
        }
    }
    p = aend;
    if (p < end && *p == '/') {
        const char *q = p;
        while (q < end && *q != '?' && *q != '#')
            q++;
        o->path.p = p;
        o->path.len = (size_t)(q - p);
        if (q < end && *q == '?') {
            const char *h = memchr(q + 1, '#', (size_t)(end - q - 1));
            o->query.p = q + 1;
            o->query.len = (size_t)((h ? h : end) - q - 1);
        }
        /* The extension of the last path segment. */
        for (const char *e = p + o->path.len; e > p && e[-1] != '/'; e--) {
            if (e[-1] == '.') {
                o->ext.p = e;
                o->ext.len = (size_t)(p + o->path.len - e);
                break;
            }
        }
    }
}

/* Adds a field by name; also records the index of the first add. */
static int add(kb_event *ev, const char *name, kb_vtype t, const char *v, size_t n)
{
    return kb_event_add_static(ev, name, t, v, n); /* names are literals */
}

static int squid_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    kb_str col[SQUID_COLS];
    const char *p = line, *end = line + len, *slash;
    kb_str code = {0}, status = {0}, peerstatus = {0}, peerhost = {0};
    url_parts u;
    size_t nc = 0;
    int64_t t, x;
    int rc, i_time, i_client, i_status, i_method, i_url, i_user, i_code, i_peer;
    int connect;
    kb_vtype bytes_t;

    if (memchr(line, '\0', len)) {
        ctx->err = "NUL byte in a squid record";
        return KB_EPARSE;
    }
    while (p < end && *p == ' ')
        p++;
    if (p == end)
        return KB_ESKIP;
    while (p < end && nc < SQUID_COLS) {
        const char *s = p;
        /* The last column (content type) takes the rest of the line. */
        if (nc == SQUID_COLS - 1) {
            const char *e = end;
            while (e > s && e[-1] == ' ')
                e--;
            col[nc].p = s;
            col[nc++].len = (size_t)(e - s);
            break;
        }
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        col[nc].p = s;
        col[nc++].len = (size_t)(p - s);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
    }
    if (nc < SQUID_COLS - 1) {
        ctx->err = "squid record has fewer than 9 columns";
        return KB_EPARSE;
    }
    /* Seconds below 9e9 (year 2255): kb_time_parse_epoch overflows past
     * int64 nanoseconds. */
    slash = memchr(col[0].p, '.', col[0].len);
    x = (int64_t)(slash ? (size_t)(slash - col[0].p) : col[0].len);
    if (x > 10 || (x == 10 && col[0].p[0] == '9') ||
        kb_time_parse_epoch(col[0].p, col[0].len, &t) != KB_OK) {
        ctx->err = "squid record does not start with an epoch time";
        return KB_EPARSE;
    }
    slash = memchr(col[3].p, '/', col[3].len);
    if (!slash || col[3].len == 0) {
        ctx->err = "squid result is not code/status";
        return KB_EPARSE;
    }
    code.p = col[3].p;
    code.len = (size_t)(slash - col[3].p);
    status.p = slash + 1;
    status.len = col[3].len - code.len - 1;
    slash = memchr(col[8].p, '/', col[8].len);
    if (slash) {
        peerstatus.p = col[8].p;
        peerstatus.len = (size_t)(slash - col[8].p);
        peerhost.p = slash + 1;
        peerhost.len = col[8].len - peerstatus.len - 1;
    } else {
        peerstatus = col[8];
    }
    ev->ts = t;

#define ADD(name, type, s)                                                                   \
    do {                                                                                     \
        if ((rc = add(ev, name, type, (s).p, (s).len)) < 0)                                  \
            goto fail;                                                                       \
    } while (0)
    if ((i_time = rc = add(ev, "time", KB_V_FLOAT, col[0].p, col[0].len)) < 0)
        goto fail;
    ADD("elapsed", kb_parse_i64(col[1].p, col[1].len, &x) ? KB_V_STR : KB_V_INT, col[1]);
    if ((i_client = rc = add(ev, "remotehost", KB_V_STR, col[2].p, col[2].len)) < 0)
        goto fail;
    if ((i_code = rc = add(ev, "code", KB_V_STR, code.p, code.len)) < 0)
        goto fail;
    i_status = rc = add(ev, "status", kb_parse_i64(status.p, status.len, &x) ? KB_V_STR : KB_V_INT,
                        status.p, status.len);
    if (rc < 0)
        goto fail;
    bytes_t = kb_parse_i64(col[4].p, col[4].len, &x) ? KB_V_STR : KB_V_INT;
    ADD("bytes", bytes_t, col[4]);
    if ((i_method = rc = add(ev, "method", KB_V_STR, col[5].p, col[5].len)) < 0)
        goto fail;
    if ((i_url = rc = add(ev, "url", KB_V_STR, col[6].p, col[6].len)) < 0)
        goto fail;
    i_user = -1;
    if (kb_str_eqz(col[7].p, col[7].len, "-"))
        ADD("rfc931", KB_V_NULL, ((kb_str){col[7].p, 0}));
    else if ((i_user = rc = add(ev, "rfc931", KB_V_STR, col[7].p, col[7].len)) < 0)
        goto fail;
    ADD("peerstatus", KB_V_STR, peerstatus);
    i_peer = -1;
    if (peerhost.len && !kb_str_eqz(peerhost.p, peerhost.len, "-") &&
        (i_peer = rc = add(ev, "peerhost", KB_V_STR, peerhost.p, peerhost.len)) < 0)
        goto fail;
    if (nc == SQUID_COLS && !kb_str_eqz(col[9].p, col[9].len, "-"))
        ADD("type", KB_V_STR, col[9]);

    /* Sigma proxy names over the same slices. */
    ADD("c-ip", KB_V_STR, col[2]);
    ADD("src_ip", KB_V_STR, col[2]);
    ADD("cs-method", KB_V_STR, col[5]);
    ADD("c-uri", KB_V_STR, col[6]);
    ADD("cs-uri", KB_V_STR, col[6]);
    ADD("sc-status", ev->fields[i_status].type, status);
    ADD("sc-bytes", bytes_t, col[4]);
    connect = kb_str_eqz(col[5].p, col[5].len, "CONNECT");
    url_split(col[6].p, col[6].len, connect, &u);
    if (u.host.len) {
        int i_host;
        if ((i_host = rc = add(ev, "cs-host", KB_V_STR, u.host.p, u.host.len)) < 0)
            goto fail;
        ADD("r-dns", KB_V_STR, u.host);
        kb_event_alias(ev, KB_F_URL_DOMAIN, i_host);
    }
    if (u.path.len)
        ADD("c-uri-stem", KB_V_STR, u.path);
    if (u.query.len)
        ADD("c-uri-query", KB_V_STR, u.query);
    if (u.ext.len)
        ADD("c-uri-extension", KB_V_STR, u.ext);
    if (i_peer >= 0 && kb_decoder_is_ip(peerhost.p, peerhost.len)) {
        ADD("dst_ip", KB_V_STR, peerhost);
        kb_event_alias(ev, KB_F_DESTINATION_IP, i_peer);
    }
    if (u.port.len && kb_parse_i64(u.port.p, u.port.len, &x) == KB_OK &&
        (rc = kb_event_set(ev, KB_F_DESTINATION_PORT, KB_V_INT, u.port.p, u.port.len)) < 0)
        goto fail;
#undef ADD

    kb_event_alias(ev, KB_F_TIMESTAMP, i_time);
    if (kb_decoder_is_ip(col[2].p, col[2].len))
        kb_event_alias(ev, KB_F_SOURCE_IP, i_client);
    else
        kb_event_alias(ev, KB_F_HOST_NAME, i_client);
    kb_event_alias(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, i_status);
    kb_event_alias(ev, KB_F_HTTP_REQUEST_METHOD, i_method);
    kb_event_alias(ev, KB_F_URL_FULL, i_url);
    kb_event_alias(ev, KB_F_EVENT_ACTION, i_code);
    if (i_user >= 0)
        kb_event_alias(ev, KB_F_USER_NAME, i_user);
    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0 ||
        (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web", 3)) < 0 ||
        (rc = kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "squid", 5)) < 0)
        goto fail;
    if (kb_str_has_prefix(code.p, code.len, "TCP_DENIED") ||
        kb_str_has_prefix(code.p, code.len, "UDP_DENIED")) {
        if ((rc = kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, "failure", 7)) < 0)
            goto fail;
    }
    ev->ls.category = "proxy";
    return KB_OK;
fail:
    ctx->err = rc == KB_ELIMIT ? "squid record: field limit reached"
                               : "out of memory for a squid record";
    return rc;
}

/* "1157689312.049   5006 10.105.21.199 TCP_MISS/200 ..." */
static int squid_sniff(const char *line, size_t len)
{
    size_t i = 0, k;

    while (i < len && is_digit(line[i]))
        i++;
    if (i < 9 || i > 13 || i >= len || line[i++] != '.')
        return 0;
    k = i;
    while (i < len && is_digit(line[i]))
        i++;
    if (i == k || i >= len || line[i] != ' ')
        return 0;
    while (i < len && line[i] == ' ')
        i++;
    k = i;
    while (i < len && is_digit(line[i]))
        i++;
    if (i == k || i >= len || line[i] != ' ')
        return 0;
    while (i < len && line[i] == ' ')
        i++;
    k = i;
    while (i < len && line[i] != ' ')
        i++;
    if (i == k || i >= len)
        return 0;
    i++;
    k = i;
    while (i < len && ((line[i] >= 'A' && line[i] <= 'Z') || line[i] == '_'))
        i++;
    if (i == k || i + 4 > len || line[i] != '/' || !is_digit(line[i + 1]))
        return 0;
    if (kb_str_has_prefix(line + k, len - k, "TCP_") ||
        kb_str_has_prefix(line + k, len - k, "UDP_") ||
        kb_str_has_prefix(line + k, len - k, "NONE") ||
        kb_str_has_prefix(line + k, len - k, "TAG_NONE"))
        return 90;
    return 0;
}

const kb_decoder kb_dec_squid = {"squid", "Squid native access.log", squid_sniff, squid_decode,
                                 NULL, NULL};
