/* Zeek logs in both encodings Zeek writes: the tab-separated form with its
 * '#' header (#separator, #fields, #types, ...) and the JSON form
 * (LogAscii::use_json, one object per line).
 *
 * The two share the log path's mapping onto canonical fields, so the same
 * record read from conn.log or from conn.json.log yields the same
 * canonical event. Fields keep their Zeek names (ts, uid, id.orig_h, ...).
 *
 * The TSV header is per stream: the decoder's state holds the separators,
 * the markers for unset and empty values, the log path and one interned
 * field id, value type and canonical role per column, all computed once
 * per #fields / #types line rather than per record. A later header (files
 * concatenated) replaces the earlier one. */
#include <string.h>

#include "event/json.h"
#include "ingest/decoders.h"

/* ---- log paths ---------------------------------------------------------- */

/* The paths the mapping knows, in the order of the enum below. Any other
 * well-formed path is still reported as the Sigma service (interned). */
#define ZEEK_PATHS(X)                                                                        \
    X(CONN, "conn")                                                                          \
    X(DNS, "dns")                                                                            \
    X(HTTP, "http")                                                                          \
    X(FILES, "files")                                                                        \
    X(SSL, "ssl")                                                                            \
    X(X509, "x509")                                                                          \
    X(NOTICE, "notice")                                                                      \
    X(WEIRD, "weird")                                                                        \
    X(SMTP, "smtp")                                                                          \
    X(SSH, "ssh")                                                                            \
    X(FTP, "ftp")                                                                            \
    X(SMB_FILES, "smb_files")                                                                \
    X(SMB_MAPPING, "smb_mapping")                                                            \
    X(NTLM, "ntlm")                                                                          \
    X(KERBEROS, "kerberos")                                                                  \
    X(RDP, "rdp")                                                                            \
    X(DCE_RPC, "dce_rpc")                                                                    \
    X(DHCP, "dhcp")                                                                          \
    X(SIP, "sip")                                                                            \
    X(SNMP, "snmp")                                                                          \
    X(RADIUS, "radius")                                                                      \
    X(MYSQL, "mysql")                                                                        \
    X(IRC, "irc")                                                                            \
    X(TUNNEL, "tunnel")                                                                      \
    X(SOCKS, "socks")                                                                        \
    X(INTEL, "intel")                                                                        \
    X(PE, "pe")                                                                              \
    X(DPD, "dpd")                                                                            \
    X(NTP, "ntp")                                                                            \
    X(QUIC, "quic")                                                                          \
    X(OCSP, "ocsp")                                                                          \
    X(TRACEROUTE, "traceroute")                                                              \
    X(SOFTWARE, "software")                                                                  \
    X(KNOWN_HOSTS, "known_hosts")                                                            \
    X(KNOWN_SERVICES, "known_services")                                                      \
    X(KNOWN_CERTS, "known_certs")                                                            \
    X(SIGNATURES, "signatures")                                                              \
    X(CAPTURE_LOSS, "capture_loss")                                                          \
    X(STATS, "stats")                                                                        \
    X(REPORTER, "reporter")

enum {
#define ZP_ENUM(e, s) ZP_##e,
    ZEEK_PATHS(ZP_ENUM)
#undef ZP_ENUM
        ZP_COUNT,
    ZP_OTHER = -1
};

static const char *const path_names[] = {
#define ZP_NAME(e, s) s,
    ZEEK_PATHS(ZP_NAME)
#undef ZP_NAME
};

static int path_find(const char *s, size_t n)
{
    for (int i = 0; i < ZP_COUNT; i++)
        if (kb_str_eqz(s, n, path_names[i]))
            return i;
    return ZP_OTHER;
}

/* The service string for a path: static for known paths, interned (so it
 * outlives every event) for other well-formed ones, NULL otherwise. */
static const char *path_service(kb_names *names, const char *s, size_t n, int *id)
{
    kb_fid fid;

    *id = path_find(s, n);
    if (*id != ZP_OTHER)
        return path_names[*id];
    if (n == 0 || n > 64)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return NULL;
    }
    fid = kb_names_intern(names, s, n);
    return fid == KB_FID_NONE ? NULL : kb_names_str(names, fid, NULL);
}

/* The log path from a file name: "conn.log", "dns.json.log",
 * "zed-wrccdc-dns.json.log", "conn.09:00:00-10:00:00.log.gz". The stem
 * (up to the first dot) or its last '-'-separated part naming a known
 * path wins. */
static int path_from_filename(const char *path)
{
    const char *base, *dot, *end;
    size_t n;

    if (!path)
        return ZP_OTHER;
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    dot = strchr(base, '.');
    n = dot ? (size_t)(dot - base) : strlen(base);
    end = base + n;
    while (end > base) {
        const char *start = end;
        int id;
        while (start > base && start[-1] != '-')
            start--;
        if ((id = path_find(start, (size_t)(end - start))) != ZP_OTHER)
            return id;
        end = start > base ? start - 1 : base;
    }
    return ZP_OTHER;
}

/* ---- field roles -------------------------------------------------------- */

/* The Zeek field names the canonical mapping and the path inference look
 * at. Their ids are interned once per names table. */
#define ZEEK_ROLES(X)                                                                        \
    X(TS, "ts")                                                                              \
    X(UID, "uid")                                                                            \
    X(ORIG_H, "id.orig_h")                                                                   \
    X(ORIG_P, "id.orig_p")                                                                   \
    X(RESP_H, "id.resp_h")                                                                   \
    X(RESP_P, "id.resp_p")                                                                   \
    X(PROTO, "proto")                                                                        \
    X(SERVICE, "service")                                                                    \
    X(QUERY, "query")                                                                        \
    X(METHOD, "method")                                                                      \
    X(HOST, "host")                                                                          \
    X(URI, "uri")                                                                            \
    X(STATUS_CODE, "status_code")                                                            \
    X(USER_AGENT, "user_agent")                                                              \
    X(USERNAME, "username")                                                                  \
    X(USER, "user")                                                                          \
    X(MD5, "md5")                                                                            \
    X(SHA1, "sha1")                                                                          \
    X(SHA256, "sha256")                                                                      \
    X(FILENAME, "filename")                                                                  \
    X(NOTE, "note")                                                                          \
    X(MSG, "msg")                                                                            \
    X(NAME, "name")                                                                          \
    X(PATH, "path")                                                                          \
    X(PEER, "peer")                                                                          \
    X(CONN_STATE, "conn_state")                                                              \
    X(SERVER_NAME, "server_name")                                                            \
    X(JA3, "ja3")                                                                            \
    X(FUID, "fuid")                                                                          \
    X(MIME_TYPE, "mime_type")                                                                \
    X(HELO, "helo")                                                                          \
    X(MAILFROM, "mailfrom")                                                                  \
    X(AUTH_SUCCESS, "auth_success")                                                          \
    X(AUTH_ATTEMPTS, "auth_attempts")                                                        \
    X(CERT_VERSION, "certificate.version")                                                   \
    X(CERT_SUBJECT, "certificate.subject")                                                   \
    X(SRC, "src")                                                                            \
    X(DST, "dst")                                                                            \
    X(P, "p")                                                                                \
    X(LOGPATH, "_path")

enum {
#define ZR_ENUM(e, s) R_##e,
    ZEEK_ROLES(ZR_ENUM)
#undef ZR_ENUM
        R_COUNT,
    R_NONE = 0xff
};

static const char *const role_names[] = {
#define ZR_NAME(e, s) s,
    ZEEK_ROLES(ZR_NAME)
#undef ZR_NAME
};

/* A hash from field id to role, so that reading a record's roles costs
 * one probe a field. */
#define ROLE_SLOTS 256 /* a power of two, over 2 * R_COUNT */

typedef struct roles {
    uint64_t uid; /* kb_names_uid of the table the ids belong to; 0: none */
    kb_fid fid[R_COUNT];
    kb_fid slot_fid[ROLE_SLOTS]; /* KB_FID_NONE: empty */
    uint8_t slot_role[ROLE_SLOTS];
} roles;

static unsigned role_slot(kb_fid fid)
{
    return (uint32_t)(fid * 0x9E3779B1u) >> 24; /* 8 bits */
}

static int roles_load(roles *r, kb_names *names)
{
    uint64_t uid = kb_names_uid(names);

    if (r->uid == uid)
        return KB_OK;
    for (unsigned s = 0; s < ROLE_SLOTS; s++)
        r->slot_fid[s] = KB_FID_NONE;
    for (int i = 0; i < R_COUNT; i++) {
        unsigned s;
        r->fid[i] = kb_names_intern(names, role_names[i], strlen(role_names[i]));
        if (r->fid[i] == KB_FID_NONE) {
            r->uid = 0;
            return KB_ELIMIT;
        }
        /* Role names are distinct, so each id is new to the table. */
        for (s = role_slot(r->fid[i]); r->slot_fid[s] != KB_FID_NONE; s = (s + 1) % ROLE_SLOTS)
            ;
        r->slot_fid[s] = r->fid[i];
        r->slot_role[s] = (uint8_t)i;
    }
    r->uid = uid;
    return KB_OK;
}

static int role_of(const roles *r, kb_fid fid)
{
    for (unsigned s = role_slot(fid); r->slot_fid[s] != KB_FID_NONE; s = (s + 1) % ROLE_SLOTS)
        if (r->slot_fid[s] == fid)
            return r->slot_role[s];
    return R_NONE;
}

/* ---- the shared canonical mapping --------------------------------------- */

static const char *const T_TRUE = "true";
static const char *const T_FALSE = "false";

/* Whether a time text is within what int64 nanoseconds hold (years
 * 1678-2261): kb_time_make and kb_time_parse_epoch overflow past that
 * today, so hostile years are refused here first. */
static int time_in_range(const kb_field *f)
{
    size_t digits = 0;

    if (f->type == KB_V_STR) {
        int y = 0;
        if (f->len < 4)
            return 0;
        for (int i = 0; i < 4; i++) {
            if (f->val[i] < '0' || f->val[i] > '9')
                return 0;
            y = y * 10 + (f->val[i] - '0');
        }
        return y >= 1678 && y <= 2261;
    }
    while (digits < f->len && f->val[digits] >= '0' && f->val[digits] <= '9')
        digits++;
    /* Seconds below 9e9 (2255), or milliseconds (13 digits) likewise. */
    return digits <= 9 || ((digits == 10 || digits == 13) && f->val[0] < '9');
}

/* Points canonical slot c at the field with role r when it has a value. */
static void use(kb_event *ev, int c, const int *idx, int r)
{
    const kb_field *f;

    if (idx[r] < 0 || ev->canon[c] != KB_CANON_NONE)
        return;
    f = &ev->fields[idx[r]];
    if (f->type == KB_V_NULL || f->len == 0)
        return;
    kb_event_alias(ev, c, idx[r]);
}

static const kb_field *role_field(const kb_event *ev, const int *idx, int r)
{
    const kb_field *f;

    if (idx[r] < 0)
        return NULL;
    f = &ev->fields[idx[r]];
    return f->type == KB_V_NULL || f->len == 0 ? NULL : f;
}

/* The application protocol a log path stands for (ECS network.protocol). */
static const char *path_protocol(int path)
{
    switch (path) {
    case ZP_DNS: return "dns";
    case ZP_HTTP: return "http";
    case ZP_SSL: return "tls";
    case ZP_SMTP: return "smtp";
    case ZP_SSH: return "ssh";
    case ZP_FTP: return "ftp";
    case ZP_SMB_FILES:
    case ZP_SMB_MAPPING: return "smb";
    case ZP_NTLM: return "ntlm";
    case ZP_KERBEROS: return "kerberos";
    case ZP_RDP: return "rdp";
    case ZP_DCE_RPC: return "dce_rpc";
    case ZP_DHCP: return "dhcp";
    case ZP_SIP: return "sip";
    case ZP_SNMP: return "snmp";
    case ZP_RADIUS: return "radius";
    case ZP_MYSQL: return "mysql";
    case ZP_IRC: return "irc";
    case ZP_NTP: return "ntp";
    case ZP_QUIC: return "quic";
    default: return NULL;
    }
}

/* Maps the fields found (idx[role] = field index or -1) onto canonical
 * fields for log path `path`, sets the time and the logsource. */
static int zeek_map(kb_decode_ctx *ctx, kb_event *ev, int path, const char *service,
                    const int *idx)
{
    const kb_field *f, *host, *uri;
    const char *proto;
    int rc;

    ev->ls.product = "zeek";
    ev->ls.service = service;

    if ((f = role_field(ev, idx, R_TS)) && time_in_range(f)) {
        int64_t t;
        int ok = f->type == KB_V_STR ? kb_time_parse_iso8601(f->val, f->len, &t)
                                     : kb_time_parse_epoch(f->val, f->len, &t);
        if (ok == KB_OK) {
            ev->ts = t;
            kb_event_alias(ev, KB_F_TIMESTAMP, idx[R_TS]);
        }
    }

    use(ev, KB_F_SOURCE_IP, idx, R_ORIG_H);
    use(ev, KB_F_SOURCE_PORT, idx, R_ORIG_P);
    use(ev, KB_F_DESTINATION_IP, idx, R_RESP_H);
    use(ev, KB_F_DESTINATION_PORT, idx, R_RESP_P);
    use(ev, KB_F_NETWORK_TRANSPORT, idx, R_PROTO);

    switch (path) {
    case ZP_CONN:
        use(ev, KB_F_NETWORK_PROTOCOL, idx, R_SERVICE);
        break;
    case ZP_DNS:
        use(ev, KB_F_DNS_QUESTION_NAME, idx, R_QUERY);
        break;
    case ZP_HTTP:
        use(ev, KB_F_HTTP_REQUEST_METHOD, idx, R_METHOD);
        use(ev, KB_F_HTTP_RESPONSE_STATUS_CODE, idx, R_STATUS_CODE);
        use(ev, KB_F_USER_AGENT_ORIGINAL, idx, R_USER_AGENT);
        use(ev, KB_F_URL_DOMAIN, idx, R_HOST);
        use(ev, KB_F_USER_NAME, idx, R_USERNAME);
        host = role_field(ev, idx, R_HOST);
        uri = role_field(ev, idx, R_URI);
        if (uri && host && uri->val[0] == '/') {
            /* Zeek logs the Host header and the request target apart. */
            size_t n = 7 + (size_t)host->len + uri->len;
            char *u = kb_arena_alloc(ev->arena, n);
            if (!u)
                goto nomem;
            memcpy(u, "http://", 7);
            memcpy(u + 7, host->val, host->len);
            memcpy(u + 7 + host->len, uri->val, uri->len);
            if ((rc = kb_event_set(ev, KB_F_URL_FULL, KB_V_STR, u, n)) < 0)
                return rc;
        } else {
            use(ev, KB_F_URL_FULL, idx, R_URI);
        }
        break;
    case ZP_FILES:
        use(ev, KB_F_FILE_HASH_MD5, idx, R_MD5);
        use(ev, KB_F_FILE_HASH_SHA1, idx, R_SHA1);
        use(ev, KB_F_FILE_HASH_SHA256, idx, R_SHA256);
        use(ev, KB_F_FILE_NAME, idx, R_FILENAME);
        break;
    case ZP_NOTICE:
        use(ev, KB_F_RULE_NAME, idx, R_NOTE);
        use(ev, KB_F_MESSAGE, idx, R_MSG);
        use(ev, KB_F_SOURCE_IP, idx, R_SRC);
        use(ev, KB_F_DESTINATION_IP, idx, R_DST);
        use(ev, KB_F_DESTINATION_PORT, idx, R_P);
        break;
    case ZP_WEIRD:
        use(ev, KB_F_RULE_NAME, idx, R_NAME);
        break;
    case ZP_SSL:
        use(ev, KB_F_URL_DOMAIN, idx, R_SERVER_NAME);
        break;
    case ZP_SMTP:
        use(ev, KB_F_USER_AGENT_ORIGINAL, idx, R_USER_AGENT);
        break;
    case ZP_SSH:
        if ((f = role_field(ev, idx, R_AUTH_SUCCESS)) && f->type == KB_V_BOOL) {
            const char *o = kb_str_eqz(f->val, f->len, T_TRUE) ? "success" : "failure";
            if ((rc = kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, o, strlen(o))) < 0)
                return rc;
        }
        break;
    case ZP_FTP:
        use(ev, KB_F_USER_NAME, idx, R_USER);
        break;
    case ZP_NTLM:
        use(ev, KB_F_USER_NAME, idx, R_USERNAME);
        break;
    case ZP_SMB_FILES:
        use(ev, KB_F_FILE_NAME, idx, R_NAME);
        use(ev, KB_F_FILE_PATH, idx, R_PATH);
        break;
    case ZP_INTEL:
    case ZP_TRACEROUTE:
        use(ev, KB_F_SOURCE_IP, idx, R_SRC);
        use(ev, KB_F_DESTINATION_IP, idx, R_DST);
        break;
    default:
        break;
    }
    if (path != ZP_CONN && (proto = path_protocol(path)) &&
        ev->canon[KB_F_NETWORK_PROTOCOL] == KB_CANON_NONE &&
        (rc = kb_event_set(ev, KB_F_NETWORK_PROTOCOL, KB_V_STR, proto, strlen(proto))) < 0)
        return rc;

    {
        const char *kind = path == ZP_NOTICE || path == ZP_INTEL ? "alert" : "event";
        if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, kind, strlen(kind))) < 0 ||
            (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, "network", 7)) < 0 ||
            (rc = kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "zeek", 4)) < 0)
            return rc;
    }
    return KB_OK;
nomem:
    ctx->err = "out of memory for a derived value";
    return KB_ENOMEM;
}

/* The log path from the fields present, for JSON records without _path. */
static int path_from_fields(const int *idx)
{
    if (idx[R_CONN_STATE] >= 0)
        return ZP_CONN;
    if (idx[R_QUERY] >= 0 && idx[R_ORIG_H] >= 0)
        return ZP_DNS;
    if (idx[R_METHOD] >= 0 && (idx[R_HOST] >= 0 || idx[R_URI] >= 0))
        return ZP_HTTP;
    if (idx[R_NOTE] >= 0)
        return ZP_NOTICE;
    if (idx[R_NAME] >= 0 && idx[R_PEER] >= 0)
        return ZP_WEIRD;
    if (idx[R_CERT_VERSION] >= 0 || idx[R_CERT_SUBJECT] >= 0)
        return ZP_X509;
    if (idx[R_SERVER_NAME] >= 0 || idx[R_JA3] >= 0)
        return ZP_SSL;
    if (idx[R_FUID] >= 0 && idx[R_MIME_TYPE] >= 0)
        return ZP_FILES;
    if (idx[R_HELO] >= 0 || idx[R_MAILFROM] >= 0)
        return ZP_SMTP;
    if (idx[R_AUTH_SUCCESS] >= 0 || idx[R_AUTH_ATTEMPTS] >= 0)
        return ZP_SSH;
    return ZP_OTHER;
}

/* ---- TSV ------------------------------------------------------------------ */

#define ZEEK_MAX_COLS 1024
#define ZEEK_MAX_ELEMS 1024 /* set/vector elements per record */
#define ZEEK_MAX_MARK 32    /* longest separator or marker kept */

enum { C_STR, C_INT, C_FLOAT, C_BOOL };

typedef struct zcol {
    kb_fid fid;
    uint8_t vt;      /* C_*, the scalar type (or the element type) */
    uint8_t set;     /* a set[] or vector[] column */
    uint8_t role;    /* R_* or R_NONE */
} zcol;

typedef struct mark {
    char s[ZEEK_MAX_MARK];
    size_t len;
} mark;

typedef struct zeek_tsv {
    mark sep, set_sep, empty, unset;
    const char *service; /* static or interned */
    int path;            /* ZP_* */
    const char *bad;     /* why the header cannot be used, or NULL */
    uint32_t ncols;
    roles r;
    zcol cols[ZEEK_MAX_COLS];
} zeek_tsv;

static void mark_set(mark *m, const char *s, size_t n)
{
    if (n > sizeof m->s)
        n = sizeof m->s;
    memcpy(m->s, s, n);
    m->len = n;
}

static void tsv_reset(zeek_tsv *st)
{
    mark_set(&st->sep, "\t", 1);
    mark_set(&st->set_sep, ",", 1);
    mark_set(&st->empty, "(empty)", 7);
    mark_set(&st->unset, "-", 1);
    st->service = NULL;
    st->path = ZP_OTHER;
    st->bad = NULL;
    st->ncols = 0;
}

static void *tsv_state_new(void)
{
    zeek_tsv *st = kb_calloc(1, sizeof *st);
    if (st)
        tsv_reset(st);
    return st;
}

static void tsv_state_free(void *p)
{
    kb_free(p);
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

/* Resolves \xHH and \\ in s[0..n) into out (at least n bytes); returns the
 * new length. Other backslashes stay as written. */
static size_t unescape(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (s[i] == '\\' && i + 1 < n) {
            int hi, lo;
            if (s[i + 1] == '\\') {
                out[o++] = '\\';
                i += 2;
                continue;
            }
            if (s[i + 1] == 'x' && i + 3 < n && (hi = hexval((unsigned char)s[i + 2])) >= 0 &&
                (lo = hexval((unsigned char)s[i + 3])) >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 4;
                continue;
            }
        }
        out[o++] = s[i++];
    }
    return o;
}

/* Finds the next separator in p[0..n), or NULL. */
static const char *find_sep(const char *p, size_t n, const mark *sep)
{
    if (sep->len == 1)
        return memchr(p, sep->s[0], n);
    return kb_memmem(p, n, sep->s, sep->len);
}

static int classify(const char *t, size_t n, uint8_t *set)
{
    *set = 0;
    if (kb_str_has_prefix(t, n, "set[") || kb_str_has_prefix(t, n, "vector[")) {
        const char *b = memchr(t, '[', n);
        size_t off = (size_t)(b - t) + 1;
        *set = 1;
        t += off;
        n -= off;
        if (n && t[n - 1] == ']')
            n--;
    }
    if (kb_str_eqz(t, n, "time") || kb_str_eqz(t, n, "interval") || kb_str_eqz(t, n, "double"))
        return C_FLOAT;
    if (kb_str_eqz(t, n, "count") || kb_str_eqz(t, n, "int") || kb_str_eqz(t, n, "port"))
        return C_INT;
    if (kb_str_eqz(t, n, "bool"))
        return C_BOOL;
    return C_STR;
}

static void header_fields(kb_decode_ctx *ctx, zeek_tsv *st, const char *p, size_t n)
{
    uint32_t nc = 0;

    st->ncols = 0;
    st->bad = NULL;
    if (roles_load(&st->r, ctx->names) != KB_OK) {
        st->bad = "field names table is full";
        return;
    }
    for (;;) {
        const char *q = find_sep(p, n, &st->sep);
        size_t len = q ? (size_t)(q - p) : n;
        zcol *c;

        if (nc == ZEEK_MAX_COLS) {
            st->bad = "#fields header has too many columns";
            return;
        }
        if (len == 0) {
            st->bad = "#fields header has an empty column name";
            return;
        }
        c = &st->cols[nc++];
        c->fid = kb_names_intern(ctx->names, p, len);
        if (c->fid == KB_FID_NONE) {
            st->bad = "field names table is full";
            return;
        }
        c->vt = C_STR;
        c->set = 0;
        c->role = (uint8_t)role_of(&st->r, c->fid);
        if (!q)
            break;
        n -= len + st->sep.len;
        p = q + st->sep.len;
    }
    st->ncols = nc;
}

static void header_types(zeek_tsv *st, const char *p, size_t n)
{
    uint32_t i = 0;
    int have_ts = 0;

    for (uint32_t k = 0; k < st->ncols; k++)
        have_ts |= st->cols[k].role == R_TS;
    while (i < st->ncols) {
        const char *q = find_sep(p, n, &st->sep);
        size_t len = q ? (size_t)(q - p) : n;
        zcol *c = &st->cols[i++];

        c->vt = (uint8_t)classify(p, len, &c->set);
        /* A log without "ts" (custom logs) takes its first time column. */
        if (!have_ts && c->role == R_NONE && !c->set && kb_str_eqz(p, len, "time")) {
            c->role = R_TS;
            have_ts = 1;
        }
        if (!q)
            break;
        n -= len + st->sep.len;
        p = q + st->sep.len;
    }
}

static int tsv_header(kb_decode_ctx *ctx, zeek_tsv *st, const char *line, size_t len)
{
    const char *key = line + 1, *q;
    size_t klen, vlen;
    const char *val;

    if (kb_str_has_prefix(line, len, "#separator ")) {
        char buf[ZEEK_MAX_MARK];
        size_t n = len - 11;
        if (n > sizeof buf)
            n = sizeof buf;
        /* A new header: the file may be one of several concatenated. */
        tsv_reset(st);
        n = unescape(line + 11, n, buf);
        if (n > 0)
            mark_set(&st->sep, buf, n);
        return KB_ESKIP;
    }
    q = find_sep(key, len - 1, &st->sep);
    if (!q)
        return KB_ESKIP;
    klen = (size_t)(q - key);
    val = q + st->sep.len;
    vlen = len - 1 - klen - st->sep.len;
    if (kb_str_eqz(key, klen, "set_separator"))
        mark_set(&st->set_sep, val, vlen);
    else if (kb_str_eqz(key, klen, "empty_field"))
        mark_set(&st->empty, val, vlen);
    else if (kb_str_eqz(key, klen, "unset_field"))
        mark_set(&st->unset, val, vlen);
    else if (kb_str_eqz(key, klen, "path"))
        st->service = path_service(ctx->names, val, vlen, &st->path);
    else if (kb_str_eqz(key, klen, "fields"))
        header_fields(ctx, st, val, vlen);
    else if (kb_str_eqz(key, klen, "types"))
        header_types(st, val, vlen);
    return KB_ESKIP;
}

static int is_float(const char *s, size_t n)
{
    size_t i = 0;
    int digits = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        if (i == n)
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return digits && i == n;
}

/* Adds one value of type vt (escapes resolved); returns the index. */
static int add_scalar(kb_decode_ctx *ctx, kb_event *ev, kb_fid fid, int vt, const char *v,
                      size_t n)
{
    int type = KB_V_STR;

    if (memchr(v, '\\', n)) {
        char *o = kb_arena_alloc(ev->arena, n ? n : 1);
        if (!o) {
            ctx->err = "out of memory for an unescaped value";
            return KB_ENOMEM;
        }
        n = unescape(v, n, o);
        v = o;
    }
    if (vt == C_INT) {
        int64_t x;
        if (kb_parse_i64(v, n, &x) == KB_OK)
            type = KB_V_INT;
        else if (is_float(v, n))
            type = KB_V_FLOAT;
    } else if (vt == C_FLOAT) {
        if (is_float(v, n))
            type = KB_V_FLOAT;
    } else if (vt == C_BOOL) {
        if (n == 1 && v[0] == 'T') {
            v = T_TRUE;
            n = 4;
            type = KB_V_BOOL;
        } else if (n == 1 && v[0] == 'F') {
            v = T_FALSE;
            n = 5;
            type = KB_V_BOOL;
        }
    }
    return kb_event_add(ev, fid, (kb_vtype)type, v, n);
}

static int add_column(kb_decode_ctx *ctx, zeek_tsv *st, kb_event *ev, const zcol *c,
                      const char *v, size_t n, unsigned *nelems)
{
    int idx, e;
    uint16_t pos = 0;

    if (kb_str_eq(v, n, st->unset.s, st->unset.len))
        return kb_event_add(ev, c->fid, KB_V_NULL, v, 0);
    if (kb_str_eq(v, n, st->empty.s, st->empty.len))
        return kb_event_add(ev, c->fid, KB_V_STR, v, 0);
    if (!c->set)
        return add_scalar(ctx, ev, c->fid, c->vt, v, n);

    /* A set or vector: the whole value as written (escapes kept, so the
     * separators stay tellable from escaped ones), then each element. */
    if ((idx = kb_event_add(ev, c->fid, KB_V_STR, v, n)) < 0)
        return idx;
    for (;;) {
        const char *q = find_sep(v, n, &st->set_sep);
        size_t len = q ? (size_t)(q - v) : n;

        if (*nelems >= ZEEK_MAX_ELEMS)
            break;
        (*nelems)++;
        if ((e = add_scalar(ctx, ev, c->fid, c->vt, v, len)) < 0)
            return e;
        ev->fields[e].flags |= KB_FF_ELEM;
        ev->fields[e].elem = pos++;
        if (!q)
            break;
        n -= len + st->set_sep.len;
        v = q + st->set_sep.len;
    }
    return idx;
}

static int tsv_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    zeek_tsv *st = ctx->state;
    int idx[R_COUNT];
    uint32_t col = 0;
    unsigned nelems = 0;
    const char *p = line;
    size_t n = len;

    if (!st) {
        ctx->err = "zeek decoder used without its stream state";
        return KB_EINVAL;
    }
    if (len == 0)
        return KB_ESKIP;
    if (line[0] == '#')
        return tsv_header(ctx, st, line, len);
    if (st->bad) {
        ctx->err = st->bad;
        return KB_EPARSE;
    }
    if (st->ncols == 0) {
        ctx->err = "zeek data line before any #fields header";
        return KB_EPARSE;
    }
    if (memchr(line, '\0', len)) {
        ctx->err = "NUL byte in a zeek record";
        return KB_EPARSE;
    }
    for (int i = 0; i < R_COUNT; i++)
        idx[i] = -1;
    for (;;) {
        const char *q = find_sep(p, n, &st->sep);
        size_t vlen = q ? (size_t)(q - p) : n;
        const zcol *c;
        int rc;

        if (col == st->ncols) {
            ctx->err = "zeek record has more columns than #fields";
            return KB_EPARSE;
        }
        c = &st->cols[col++];
        if ((rc = add_column(ctx, st, ev, c, p, vlen, &nelems)) < 0) {
            if (!ctx->err)
                ctx->err = rc == KB_ELIMIT ? "zeek record has too many fields"
                                           : "out of memory for a zeek record";
            return rc;
        }
        if (c->role != R_NONE && idx[c->role] < 0)
            idx[c->role] = rc;
        if (!q)
            break;
        n -= vlen + st->sep.len;
        p = q + st->sep.len;
    }
    if (col != st->ncols) {
        ctx->err = "zeek record has fewer columns than #fields";
        return KB_EPARSE;
    }
    return zeek_map(ctx, ev, st->path, st->service, idx);
}

/* Zeek TSV: a "#separator" first line, or the other header lines. Data
 * lines with many tabs hint at a TSV whose header was cut off. */
static int tsv_sniff(const char *line, size_t len)
{
    static const char *const hdr[] = {"#set_separator", "#empty_field", "#unset_field",
                                      "#path",          "#open",        "#fields",
                                      "#types",         "#close"};
    size_t tabs = 0;

    if (kb_str_has_prefix(line, len, "#separator "))
        return 100;
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
        size_t k = strlen(hdr[i]);
        if (kb_str_has_prefix(line, len, hdr[i]) && len > k && line[k] == '\t')
            return 100;
    }
    if (len && line[0] != '{' && line[0] != '<') {
        for (size_t i = 0; i < len && i < 65536; i++)
            tabs += line[i] == '\t';
        if (tabs >= 10)
            return 10;
    }
    return 0;
}

const kb_decoder kb_dec_zeek = {"zeek", "Zeek logs, tab-separated with the # header",
                                tsv_sniff, tsv_decode, tsv_state_new, tsv_state_free};

/* ---- JSON ----------------------------------------------------------------- */

typedef struct zeek_json {
    roles r;
    const char *file;  /* ctx->path the cached file path inference is for */
    int file_path;     /* ZP_* inferred from that file name */
} zeek_json;

static void *json_state_new(void)
{
    zeek_json *st = kb_calloc(1, sizeof *st);
    if (st)
        st->file_path = ZP_OTHER;
    return st;
}

static void json_state_free(void *p)
{
    kb_free(p);
}

/* Some shippers wrap each record as {"<path>": {...}} (the Kafka plugin).
 * When the line has that shape, sets *key to the path and narrows
 * [*p, *p + *n) to the inner object; returns 1, else 0. */
static int unwrap(const char **p, size_t *n, kb_str *key)
{
    const char *s = *p;
    size_t len = *n, i = 0, end;

    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i++] != '{')
        return 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i++] != '"')
        return 0;
    key->p = s + i;
    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (s[i] >= '0' && s[i] <= '9')))
        i++;
    key->len = (size_t)(s + i - key->p);
    if (key->len == 0 || i >= len || s[i++] != '"')
        return 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i++] != ':')
        return 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i] != '{')
        return 0;
    end = len;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    if (end <= i || s[end - 1] != '}')
        return 0;
    end--;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    if (end <= i || s[end - 1] != '}')
        return 0;
    *p = s + i;
    *n = end - i;
    return 1;
}

/* A Splunk search export keeps the Zeek line as a string in result._raw. */
static const kb_field *splunk_raw(const kb_event *ev)
{
    const kb_field *f = kb_event_get_named(ev, "result._raw");
    return f && f->type == KB_V_STR && f->len > 1 && f->val[0] == '{' ? f : NULL;
}

static void find_roles(const zeek_json *st, const kb_event *ev, int *idx)
{
    for (int i = 0; i < R_COUNT; i++)
        idx[i] = -1;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const kb_field *f = &ev->fields[i];
        int r;
        if (f->flags & KB_FF_ELEM)
            continue;
        if ((r = role_of(&st->r, f->name)) != R_NONE && idx[r] < 0)
            idx[r] = (int)i;
    }
}

static int json_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    zeek_json *st = ctx->state;
    kb_json_error jerr = {0};
    const char *p = line, *service = NULL;
    const kb_field *raw;
    kb_str key = {0};
    size_t n = len;
    int idx[R_COUNT], path, rc, wrapped;

    if (!st) {
        ctx->err = "zeek-json decoder used without its stream state";
        return KB_EINVAL;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return KB_ESKIP;
    if ((rc = roles_load(&st->r, ctx->names)) != KB_OK) {
        ctx->err = "field names table is full";
        return rc;
    }
    wrapped = unwrap(&p, &n, &key);
    rc = kb_json_flatten(ev, p, n, NULL, &jerr);
    if (rc != KB_OK)
        goto bad_json;
    find_roles(st, ev, idx);
    if (idx[R_TS] < 0 && !wrapped && (raw = splunk_raw(ev))) {
        ev->nfields = 0;
        memset(ev->canon, 0xff, sizeof ev->canon);
        if ((rc = kb_json_flatten(ev, raw->val, raw->len, NULL, &jerr)) != KB_OK)
            goto bad_json;
        find_roles(st, ev, idx);
    }
    if (idx[R_TS] < 0) {
        ctx->err = "zeek-json record without a ts field";
        return KB_EPARSE;
    }
    path = ZP_OTHER;
    if (wrapped) {
        service = path_service(ctx->names, key.p, key.len, &path);
    } else if (idx[R_LOGPATH] >= 0 && ev->fields[idx[R_LOGPATH]].type == KB_V_STR) {
        const kb_field *f = &ev->fields[idx[R_LOGPATH]];
        service = path_service(ctx->names, f->val, f->len, &path);
    } else if ((path = path_from_fields(idx)) != ZP_OTHER) {
        service = path_names[path];
    } else {
        if (st->file != ctx->path) {
            st->file = ctx->path;
            st->file_path = path_from_filename(ctx->path);
        }
        if ((path = st->file_path) != ZP_OTHER)
            service = path_names[path];
    }
    return zeek_map(ctx, ev, path, service, idx);
bad_json:
    ctx->err = jerr.reason ? jerr.reason
               : rc == KB_ELIMIT ? "zeek-json record has too many fields"
                                 : "out of memory for a zeek-json record";
    return rc;
}

static int json_sniff(const char *line, size_t len)
{
    size_t n = len < 8192 ? len : 8192, i = 0;

    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == n || line[i] != '{')
        return 0;
    if (!kb_memmem(line, n, "\"id.orig_h\"", 11))
        return 0;
    if (kb_memmem(line, n, "\"uid\"", 5) || kb_memmem(line, n, "\"ts\"", 4))
        return 95;
    return 0;
}

const kb_decoder kb_dec_zeek_json = {"zeek-json", "Zeek logs as JSON Lines (LogAscii::use_json)",
                                     json_sniff, json_decode, json_state_new, json_state_free};
