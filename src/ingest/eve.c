/* Suricata EVE JSON: one JSON object per line, every event type.
 *
 * The record is flattened as is (`alert.signature`, `http.hostname`,
 * `dns.queries.rrname`, ...), then the canonical fields are pointed at the
 * raw ones. Only three values are written into the arena: the transport
 * lower-cased ("TCP" -> "tcp") and url.full when EVE gives a path rather
 * than a whole URL.
 *
 * Logsource. Sigma has no official Suricata product; koban uses product
 * "suricata" and, like Sigma's Zeek logsources (product zeek, service dns /
 * http / conn), the EVE event_type as the service, so a rule can say
 * `product: suricata, service: alert`. The category is set only where the
 * Sigma taxonomy has a product-independent one whose meaning fits: "dns"
 * for DNS transactions. HTTP events get no category: Sigma's "proxy" and
 * "webserver" describe a proxy's or a server's own access log (c-uri,
 * cs-host, ...), and an IDS's view of the wire is neither; flows are not
 * "firewall" decisions either. */
#include <string.h>

#include "event/json.h"
#include "ingest/decoders.h"

#define T(t) (1u << (t))
#define T_TEXT (T(KB_V_STR))
#define T_NUM (T(KB_V_INT) | T(KB_V_STR))

/* The raw names the decoder reads, resolved to ids once per names table
 * and thread (kb_event_fids). */
enum {
    N_EVENT_TYPE,
    N_TIMESTAMP,
    N_HOST,
    N_SRC_IP,
    N_SRC_PORT,
    N_DEST_IP,
    N_DEST_PORT,
    N_PROTO,
    N_APP_PROTO,
    N_ALERT_ACTION,
    N_ALERT_SEVERITY,
    N_ALERT_SIGNATURE,
    N_ALERT_SIGNATURE_ID,
    N_HTTP_HOSTNAME,
    N_HTTP_URL,
    N_HTTP_HTTP_PORT,
    N_HTTP_HTTP_METHOD,
    N_HTTP_STATUS,
    N_HTTP_HTTP_USER_AGENT,
    N_DNS_RRNAME,
    N_DNS_QUERIES_RRNAME,
    N_DNS_QUERY_RRNAME,
    N_FILEINFO_FILENAME,
    N_FILES_FILENAME,
    N_FILEINFO_MD5,
    N_FILEINFO_SHA1,
    N_FILEINFO_SHA256,
    N_FILES_MD5,
    N_FILES_SHA1,
    N_FILES_SHA256,
    N_COUNT
};

static const char *const names[N_COUNT] = {
    [N_EVENT_TYPE] = "event_type",
    [N_TIMESTAMP] = "timestamp",
    [N_HOST] = "host",
    [N_SRC_IP] = "src_ip",
    [N_SRC_PORT] = "src_port",
    [N_DEST_IP] = "dest_ip",
    [N_DEST_PORT] = "dest_port",
    [N_PROTO] = "proto",
    [N_APP_PROTO] = "app_proto",
    [N_ALERT_ACTION] = "alert.action",
    [N_ALERT_SEVERITY] = "alert.severity",
    [N_ALERT_SIGNATURE] = "alert.signature",
    [N_ALERT_SIGNATURE_ID] = "alert.signature_id",
    [N_HTTP_HOSTNAME] = "http.hostname",
    [N_HTTP_URL] = "http.url",
    [N_HTTP_HTTP_PORT] = "http.http_port",
    [N_HTTP_HTTP_METHOD] = "http.http_method",
    [N_HTTP_STATUS] = "http.status",
    [N_HTTP_HTTP_USER_AGENT] = "http.http_user_agent",
    [N_DNS_RRNAME] = "dns.rrname",
    [N_DNS_QUERIES_RRNAME] = "dns.queries.rrname",
    [N_DNS_QUERY_RRNAME] = "dns.query.rrname",
    [N_FILEINFO_FILENAME] = "fileinfo.filename",
    [N_FILES_FILENAME] = "files.filename",
    [N_FILEINFO_MD5] = "fileinfo.md5",
    [N_FILEINFO_SHA1] = "fileinfo.sha1",
    [N_FILEINFO_SHA256] = "fileinfo.sha256",
    [N_FILES_MD5] = "files.md5",
    [N_FILES_SHA1] = "files.sha1",
    [N_FILES_SHA256] = "files.sha256",
};

static _Thread_local kb_fid ids[N_COUNT];
static _Thread_local uint64_t ids_uid;

/* Index of the first field called names[n] whose type is in `types`, or
 * -1. Elements of arrays count only with `elems` (a list where one value
 * is expected is a wrong type, not a choice of values). */
static int find_in(const kb_event *ev, int n, unsigned types, int elems)
{
    return kb_event_find_typed(ev, ids[n], types, elems);
}

static int find(const kb_event *ev, int n, unsigned types)
{
    return find_in(ev, n, types, 0);
}

/* Aliases slot c to the first of the names that is present with a type in
 * `types`; returns the field index or -1. */
static int map(kb_event *ev, int c, int n, unsigned types)
{
    int idx;

    if (ev->canon[c] != KB_CANON_NONE)
        return -1;
    idx = find(ev, n, types);
    if (idx >= 0)
        kb_event_alias(ev, c, idx);
    return idx;
}

/* map() for values inside arrays of objects (dns.queries[], files[]):
 * the first element's value. */
static int map_elem(kb_event *ev, int c, int n, unsigned types)
{
    int idx;

    if (ev->canon[c] != KB_CANON_NONE)
        return -1;
    idx = find_in(ev, n, types, 1);
    if (idx >= 0)
        kb_event_alias(ev, c, idx);
    return idx;
}

/* A port or status code: a JSON integer, or a string of digits. */
static int map_number(kb_event *ev, int c, int n)
{
    int idx = find(ev, n, T_NUM);
    uint64_t v;

    if (idx < 0 || ev->canon[c] != KB_CANON_NONE)
        return -1;
    if (kb_parse_u64(ev->fields[idx].val, ev->fields[idx].len, &v) != KB_OK || v > 65535)
        return -1;
    kb_event_alias(ev, c, idx);
    return idx;
}

/* EVE event types: the service string (static, for ev->ls), the ECS
 * event.category and the Sigma category. Unknown types keep service NULL:
 * ls strings must be static, and an unknown name is not a logsource. */
typedef struct eve_type {
    const char *name;
    const char *ecs_category;
    const char *sigma_category;
} eve_type;

static const eve_type eve_types[] = {
    {"alert", "intrusion_detection", NULL},
    {"anomaly", "network", NULL},
    {"drop", "network", NULL},
    {"dns", "network", "dns"},
    {"http", "network", NULL},
    {"http2", "network", NULL},
    {"tls", "network", NULL},
    {"quic", "network", NULL},
    {"ssh", "network", NULL},
    {"smtp", "network", NULL},
    {"email", "network", NULL},
    {"flow", "network", NULL},
    {"netflow", "network", NULL},
    {"fileinfo", "file", NULL},
    {"ftp", "network", NULL},
    {"ftp_data", "network", NULL},
    {"smb", "network", NULL},
    {"nfs", "network", NULL},
    {"dcerpc", "network", NULL},
    {"krb5", "network", NULL},
    {"dhcp", "network", NULL},
    {"snmp", "network", NULL},
    {"sip", "network", NULL},
    {"rdp", "network", NULL},
    {"rfb", "network", NULL},
    {"mqtt", "network", NULL},
    {"ike", "network", NULL},
    {"ldap", "network", NULL},
    {"modbus", "network", NULL},
    {"dnp3", "network", NULL},
    {"enip", "network", NULL},
    {"tftp", "network", NULL},
    {"pgsql", "network", NULL},
    {"mdns", "network", "dns"},
    {"llmnr", "network", "dns"},
    {"bittorrent_dht", "network", NULL},
    {"websocket", "network", NULL},
    {"arp", "network", NULL},
    {"frame", "network", NULL},
    {"stats", NULL, NULL},
};

static const eve_type *eve_type_find(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof eve_types / sizeof eve_types[0]; i++)
        if (kb_str_eqz(s, len, eve_types[i].name))
            return &eve_types[i];
    return NULL;
}

static int sniff(const char *line, size_t len)
{
    size_t i = 0, n;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != '{')
        return 0;
    n = len - i < 512 ? len - i : 512;
    if (kb_memmem(line + i, n, "\"event_type\"", 12) && kb_memmem(line + i, n, "\"timestamp\"", 11))
        return 90;
    return 0;
}

/* network.transport: the proto lower-cased ("TCP" -> "tcp"); the slice is
 * reused when it already is. */
static int set_transport(kb_event *ev)
{
    int idx = find(ev, N_PROTO, T_TEXT);
    const kb_field *f;
    char *low;
    int upper = 0;

    if (idx < 0)
        return KB_OK;
    f = &ev->fields[idx];
    for (uint32_t i = 0; i < f->len; i++)
        upper |= f->val[i] >= 'A' && f->val[i] <= 'Z';
    if (!upper) {
        kb_event_alias(ev, KB_F_NETWORK_TRANSPORT, idx);
        return KB_OK;
    }
    low = kb_arena_alloc(ev->arena, f->len + 1);
    if (!low)
        return KB_ENOMEM;
    for (uint32_t i = 0; i < f->len; i++) {
        char ch = f->val[i];
        low[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    low[f->len] = '\0';
    idx = kb_event_set(ev, KB_F_NETWORK_TRANSPORT, KB_V_STR, low, f->len);
    return idx < 0 ? idx : KB_OK;
}

/* url.full and url.domain from http.hostname and http.url. EVE writes the
 * request target as sent: usually a path ("/index.html"), a whole URL for
 * proxy requests. */
static int set_url(kb_event *ev)
{
    int ih = map(ev, KB_F_URL_DOMAIN, N_HTTP_HOSTNAME, T_TEXT);
    int iu = find(ev, N_HTTP_URL, T_TEXT);
    int ip;
    const kb_field *h, *u, *port;
    size_t n, o = 0;
    char *s;

    if (iu < 0)
        return KB_OK;
    u = &ev->fields[iu];
    if (kb_memmem(u->val, u->len < 16 ? u->len : 16, "://", 3) || ih < 0) {
        /* Absolute already, or no host to make it so: the target is all
         * there is (a relative one still names the resource). */
        kb_event_alias(ev, KB_F_URL_FULL, iu);
        return KB_OK;
    }
    h = &ev->fields[ih];
    ip = find(ev, N_HTTP_HTTP_PORT, T(KB_V_INT));
    port = ip >= 0 && !kb_str_eqz(ev->fields[ip].val, ev->fields[ip].len, "80") ? &ev->fields[ip]
                                                                                : NULL;
    n = 7 + h->len + (port ? 1 + port->len : 0) + (u->len && u->val[0] != '/' ? 1 : 0) + u->len;
    s = kb_arena_alloc(ev->arena, n + 1);
    if (!s)
        return KB_ENOMEM;
    memcpy(s, "http://", 7);
    o = 7;
    memcpy(s + o, h->val, h->len);
    o += h->len;
    if (port) {
        s[o++] = ':';
        memcpy(s + o, port->val, port->len);
        o += port->len;
    }
    if (u->len && u->val[0] != '/')
        s[o++] = '/';
    memcpy(s + o, u->val, u->len);
    o += u->len;
    s[o] = '\0';
    ip = kb_event_set(ev, KB_F_URL_FULL, KB_V_STR, s, o);
    return ip < 0 ? ip : KB_OK;
}

static int decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    kb_json_error jerr = {0};
    const eve_type *et;
    const kb_field *f;
    int rc, idx;

    rc = kb_json_flatten(ev, line, len, NULL, &jerr);
    if (rc != KB_OK) {
        ctx->err = jerr.reason ? jerr.reason : "invalid JSON";
        return rc;
    }
    ev->format = kb_dec_suricata.name;
    kb_event_fids(ev->names, names, N_COUNT, ids, &ids_uid);
    kb_event_index(ev);

    idx = find(ev, N_EVENT_TYPE, T_TEXT);
    if (idx < 0) {
        ctx->err = "no event_type string: not a Suricata EVE record";
        return KB_EPARSE;
    }
    f = &ev->fields[idx];
    et = eve_type_find(f->val, f->len);

    idx = find(ev, N_TIMESTAMP, T_TEXT);
    if (idx < 0 ||
        kb_time_parse_iso8601(ev->fields[idx].val, ev->fields[idx].len, &ev->ts) != KB_OK) {
        ev->ts = KB_TIME_NONE;
        ctx->err = "missing or invalid EVE timestamp";
        return KB_EPARSE;
    }
    kb_event_alias(ev, KB_F_TIMESTAMP, idx);

    ev->ls.product = "suricata";
    ev->ls.service = et ? et->name : NULL;
    ev->ls.category = et ? et->sigma_category : NULL;

    if ((rc = kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "suricata", 8)) < 0)
        goto fail;
    if (kb_str_eqz(f->val, f->len, "alert"))
        rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "alert", 5);
    else if (kb_str_eqz(f->val, f->len, "stats"))
        rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "metric", 6);
    else
        rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5);
    if (rc < 0)
        goto fail;
    if (et && et->ecs_category &&
        (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, et->ecs_category,
                           strlen(et->ecs_category))) < 0)
        goto fail;

    map(ev, KB_F_HOST_NAME, N_HOST, T_TEXT);
    map(ev, KB_F_SOURCE_IP, N_SRC_IP, T_TEXT);
    map_number(ev, KB_F_SOURCE_PORT, N_SRC_PORT);
    map(ev, KB_F_DESTINATION_IP, N_DEST_IP, T_TEXT);
    map_number(ev, KB_F_DESTINATION_PORT, N_DEST_PORT);
    if ((rc = set_transport(ev)) != KB_OK)
        goto fail;
    idx = find(ev, N_APP_PROTO, T_TEXT);
    if (idx >= 0 && !kb_str_eqz(ev->fields[idx].val, ev->fields[idx].len, "failed"))
        kb_event_alias(ev, KB_F_NETWORK_PROTOCOL, idx);

    /* The alert. */
    map(ev, KB_F_EVENT_ACTION, N_ALERT_ACTION, T_TEXT);
    map(ev, KB_F_EVENT_SEVERITY, N_ALERT_SEVERITY, T(KB_V_INT));
    map(ev, KB_F_RULE_NAME, N_ALERT_SIGNATURE, T_TEXT);
    map(ev, KB_F_RULE_ID, N_ALERT_SIGNATURE_ID, T(KB_V_INT));

    /* Application layer. */
    if ((rc = set_url(ev)) != KB_OK)
        goto fail;
    map(ev, KB_F_HTTP_REQUEST_METHOD, N_HTTP_HTTP_METHOD, T_TEXT);
    map_number(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, N_HTTP_STATUS);
    map(ev, KB_F_USER_AGENT_ORIGINAL, N_HTTP_HTTP_USER_AGENT, T_TEXT);
    /* EVE v1 puts one query per record in dns.rrname; v2/v3 requests list
     * them in dns.queries[] and Suricata 8 answers in dns.query[]. */
    map(ev, KB_F_DNS_QUESTION_NAME, N_DNS_RRNAME, T_TEXT);
    map_elem(ev, KB_F_DNS_QUESTION_NAME, N_DNS_QUERIES_RRNAME, T_TEXT);
    map_elem(ev, KB_F_DNS_QUESTION_NAME, N_DNS_QUERY_RRNAME, T_TEXT);

    /* Files: fileinfo events, or the files[] an alert carries. */
    map(ev, KB_F_FILE_NAME, N_FILEINFO_FILENAME, T_TEXT);
    map_elem(ev, KB_F_FILE_NAME, N_FILES_FILENAME, T_TEXT);
    map(ev, KB_F_FILE_HASH_MD5, N_FILEINFO_MD5, T_TEXT);
    map(ev, KB_F_FILE_HASH_SHA1, N_FILEINFO_SHA1, T_TEXT);
    map(ev, KB_F_FILE_HASH_SHA256, N_FILEINFO_SHA256, T_TEXT);
    map_elem(ev, KB_F_FILE_HASH_MD5, N_FILES_MD5, T_TEXT);
    map_elem(ev, KB_F_FILE_HASH_SHA1, N_FILES_SHA1, T_TEXT);
    map_elem(ev, KB_F_FILE_HASH_SHA256, N_FILES_SHA256, T_TEXT);
    return KB_OK;

fail:
    ctx->err = rc == KB_ENOMEM ? "event arena full" : "too many fields";
    return rc;
}

const kb_decoder kb_dec_suricata = {
    .name = "suricata",
    .doc = "Suricata EVE JSON (alert, dns, http, tls, flow, fileinfo, ... one object a line)",
    .sniff = sniff,
    .decode = decode,
    .state_new = NULL,
    .state_free = NULL,
};
