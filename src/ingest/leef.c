/* IBM Log Event Extended Format (LEEF) 1.0 and 2.0, bare or behind a
 * syslog header:
 *
 *   LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
 *   LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value^key=value...
 *
 * The 2.0 delimiter is one character or a hex code ("x5E", "0x5E", "\t");
 * empty means tab. Devices in the wild bend this, and we follow them:
 * a 2.0 header whose sixth field already holds "key=" has no delimiter
 * field (Trend Micro Deep Security); a '|' directly followed by "key=" also
 * separates attributes (CyberArk PTA's "|sev=8|"); attributes that hold no
 * delimiter at all but several " key=" are split as CEF extensions are.
 * Values resolve \= \\ and \<delimiter>; other backslashes are kept
 * (Windows paths are common in LEEF and use single backslashes).
 *
 * Fields: the header as leef.version, leef.vendor, leef.product,
 * leef.product_version, leef.event_id, leef.delimiter (2.0); every
 * attribute under its own key. Canonical mapping: `rows` below, with the
 * LEEF predefined keys first and the CEF names many LEEF devices use as
 * fallback; event.severity from sev (1-10); @timestamp from devTime read
 * with devTimeFormat (Java SimpleDateFormat) when given, else as epoch
 * milliseconds or a common date form; rule.id is the EventID and rule.name
 * the "name" attribute; observer.product is "Vendor Product".
 *
 * Logsource: as for CEF, product and service stay NULL and the category
 * is set only when the product, cat or name says firewall, proxy or
 * anti-malware. */
#include <string.h>

#include "ingest/kv.h"

static const kb_kv_map rows[] = {
    {KB_F_SOURCE_IP, {"src", "sourceAddress", NULL}},
    {KB_F_SOURCE_PORT, {"srcPort", "spt", NULL}},
    {KB_F_DESTINATION_IP, {"dst", "destinationAddress", NULL}},
    {KB_F_DESTINATION_PORT, {"dstPort", "dpt", NULL}},
    {KB_F_USER_NAME, {"usrName", "accountName", "userName", "suser", "duser", NULL}},
    {KB_F_USER_DOMAIN, {"domain", NULL}},
    {KB_F_HOST_NAME, {"dvchost", "identHostName", NULL}},
    {KB_F_HOST_IP, {"dvc", "identSrc", NULL}},
    {KB_F_URL_FULL, {"url", "request", NULL}},
    {KB_F_HTTP_REQUEST_METHOD, {"method", "requestMethod", NULL}},
    {KB_F_USER_AGENT_ORIGINAL, {"userAgent", "requestClientApplication", NULL}},
    {KB_F_EVENT_ACTION, {"act", "action", NULL}},
    {KB_F_FILE_NAME, {"fname", "fileName", NULL}},
    {KB_F_FILE_PATH, {"filePath", NULL}},
    {KB_F_RULE_NAME, {"name", NULL}},
    {KB_F_MESSAGE, {"msg", NULL}},
    {-1, {NULL}},
};
static const char *const transport_keys[] = {"proto", NULL};
static const char *const protocol_keys[] = {"app", "applicationProtocol", NULL};
static const char *const outcome_keys[] = {"outcome", NULL};
static const char *const hash_keys[] = {"fileHash", "md5", "sha1", "sha256", NULL};

static const char *const hdr_names[5] = {
    "leef.version", "leef.vendor", "leef.product", "leef.product_version", "leef.event_id",
};

static _Thread_local kb_fid hdr_ids[5];
static _Thread_local uint64_t hdr_ids_uid;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* The 2.0 delimiter field: "", "^", "x5E", "0x5E", "\x5E", "\t". -1 if invalid. */
static int parse_delim(const char *p, size_t n)
{
    size_t i = 0;
    int v = 0;

    if (n == 0)
        return '\t';
    if (n == 1)
        return (unsigned char)p[0];
    if (n == 2 && p[0] == '\\' && p[1] == 't')
        return '\t';
    if (n >= 2 && p[0] == '\\' && (p[1] == 'x' || p[1] == 'X'))
        i = 2;
    else if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        i = 2;
    else if (p[0] == 'x' || p[0] == 'X')
        i = 1;
    else
        return -1;
    if (n - i < 1 || n - i > 2)
        return -1;
    for (; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static void map_time(kb_decode_ctx *ctx, kb_event *ev, uint32_t from)
{
    int idx = kb_kv_find_static(ev, from, "devTime");
    int fmt = kb_kv_find_static(ev, from, "devTimeFormat");
    int64_t t;

    if (idx < 0)
        return;
    const kb_field *v = &ev->fields[idx];
    if (fmt >= 0 && kb_kv_parse_time_fmt(v->val, v->len, ev->fields[fmt].val,
                                         ev->fields[fmt].len, ctx->ref_time, &t) == KB_OK) {
        ev->ts = t;
        kb_event_alias(ev, KB_F_TIMESTAMP, idx);
        return;
    }
    if (kb_kv_parse_time(v->val, v->len, ctx->ref_time, &t) == KB_OK) {
        ev->ts = t;
        kb_event_alias(ev, KB_F_TIMESTAMP, idx);
    }
}

/* Splits the attributes, see the file comment for the quirks. */
static int add_attrs(kb_event *ev, const char *p, size_t len, char delim)
{
    if (delim == '\t' && !memchr(p, '\t', len) && memchr(p, ' ', len)) {
        const char *err = NULL;
        int rc = kb_kv_add_spaced(ev, p, len, KB_KV_ESC_LEEF, &err);
        if (rc != KB_EPARSE)
            return rc;
    }
    return kb_kv_add_delimited(ev, p, len, delim);
}

int kb_leef_decode_body(kb_decode_ctx *ctx, const char *p, size_t len, kb_event *ev)
{
    kb_str hdr[5];
    int idx[5];
    size_t i, nh = 0, start;
    int delim = '\t', major, rc;
    uint32_t from;
    kb_str dfield = {NULL, 0};

    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (!kb_str_has_prefix(p, len, "LEEF:")) {
        ctx->err = "not LEEF: no 'LEEF:' marker";
        return KB_EPARSE;
    }
    i = 5;
    while (i < len && p[i] == ' ')
        i++;
    start = i;
    while (i < len && nh < 5) {
        if (p[i] == '\\' && i + 1 < len) {
            i += 2;
            continue;
        }
        if (p[i] == '|') {
            hdr[nh].p = p + start;
            hdr[nh].len = i - start;
            nh++;
            start = i + 1;
        }
        i++;
    }
    if (nh == 4 && start < len) { /* "...|EventID" with no attributes */
        hdr[4].p = p + start;
        hdr[4].len = len - start;
        nh = 5;
        start = len;
    }
    if (nh < 5) {
        ctx->err = "LEEF header has fewer than 5 '|'-separated fields";
        return KB_EPARSE;
    }
    if (kb_str_eqz(hdr[0].p, hdr[0].len, "1.0") || kb_str_eqz(hdr[0].p, hdr[0].len, "1"))
        major = 1;
    else if (kb_str_eqz(hdr[0].p, hdr[0].len, "2.0") || kb_str_eqz(hdr[0].p, hdr[0].len, "2"))
        major = 2;
    else {
        ctx->err = "LEEF version is neither 1.0 nor 2.0";
        return KB_EPARSE;
    }
    if (major == 2 && start < len) {
        size_t q = start;
        while (q < len && p[q] != '|' && p[q] != '=')
            q++;
        if (q >= len || p[q] == '|') {
            dfield.p = p + start;
            dfield.len = q - start;
            delim = parse_delim(dfield.p, dfield.len);
            if (delim <= 0 || delim == '=' || delim == '\\') {
                ctx->err = "LEEF 2.0 delimiter is neither a character nor a hex code (xHH)";
                return KB_EPARSE;
            }
            start = q < len ? q + 1 : len;
        }
    }

    kb_event_fids(ev->names, hdr_names, 5, hdr_ids, &hdr_ids_uid);
    for (int k = 0; k < 5; k++) {
        kb_str u;
        if ((rc = kb_kv_unescape(ev, hdr[k].p, hdr[k].len, KB_KV_ESC_CEF_HDR, 0, &u)) != KB_OK)
            goto fail;
        hdr[k] = u;
        idx[k] = kb_event_add(ev, hdr_ids[k], KB_V_STR, u.p, u.len);
        if (idx[k] < 0) {
            rc = idx[k];
            goto fail;
        }
    }
    if (dfield.p &&
        (rc = kb_event_add_static(ev, "leef.delimiter", KB_V_STR, dfield.p, dfield.len)) < 0)
        goto fail;

    from = ev->nfields;
    if ((rc = add_attrs(ev, p + start, len - start, (char)delim)) != KB_OK)
        goto fail;
    kb_event_index(ev); /* kb_kv_find from here on */

    if (hdr[4].len > 0)
        kb_event_alias(ev, KB_F_RULE_ID, idx[4]);
    {
        int s = kb_kv_find_static(ev, from, "sev");
        if (s >= 0 && (rc = kb_kv_severity(ev, ev->fields[s].val, ev->fields[s].len)) != KB_OK)
            goto fail;
    }
    if ((rc = kb_kv_observer(ev, hdr[1], hdr[2])) != KB_OK)
        goto fail;
    if ((rc = kb_kv_apply(ev, from, rows, transport_keys, protocol_keys, outcome_keys,
                          hash_keys)) != KB_OK)
        goto fail;
    map_time(ctx, ev, from);
    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0)
        goto fail;
    {
        int c = kb_kv_find_static(ev, from, "cat");
        int n = kb_kv_find_static(ev, from, "name");
        kb_str cat = {NULL, 0}, name = {NULL, 0};
        if (c >= 0)
            cat = (kb_str){ev->fields[c].val, ev->fields[c].len};
        if (n >= 0)
            name = (kb_str){ev->fields[n].val, ev->fields[n].len};
        ev->ls.product = NULL;
        ev->ls.service = NULL;
        ev->ls.category = kb_kv_category(hdr[2], cat, name);
    }
    return KB_OK;

fail:
    ctx->err = rc == KB_ENOMEM ? "out of memory for LEEF fields" : "too many LEEF fields";
    return rc == KB_ENOMEM ? KB_ENOMEM : KB_ELIMIT;
}

static int leef_sniff(const char *line, size_t len)
{
    return kb_kv_find_marker(line, len, 1024, "LEEF:", 5) ? 95 : 0;
}

static int leef_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    const char *m;
    size_t k = 0;
    int rc;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    while (k < len && (line[k] == ' ' || line[k] == '\t'))
        k++;
    if (k == len)
        return KB_ESKIP;
    m = kb_kv_find_marker(line, len, len, "LEEF:", 5);
    if (!m) {
        ctx->err = "no 'LEEF:' marker in the line";
        return KB_EPARSE;
    }
    if (m > line) {
        rc = kb_kv_syslog_prefix(ctx, line, len, (size_t)(m - line), ev);
        if (rc != KB_OK) {
            ctx->err = "out of memory for syslog header fields";
            return rc;
        }
    }
    return kb_leef_decode_body(ctx, m, len - (size_t)(m - line), ev);
}

const kb_decoder kb_dec_leef = {
    "leef", "IBM LEEF 1.0/2.0, bare or behind a syslog header", leef_sniff, leef_decode, NULL,
    NULL,
};
