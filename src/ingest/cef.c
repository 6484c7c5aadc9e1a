/* ArcSight Common Event Format (CEF), bare or behind a syslog header:
 *
 *   [<syslog header>] CEF:Version|Device Vendor|Device Product|Device Version|
 *       Signature ID|Name|Severity|key=value key=value ...
 *
 * Header fields may escape '|' and '\' with a backslash. Extension values
 * run to the whitespace before the next "key=" and resolve \= \\ \n \r;
 * other backslashes are kept as written (Logstash's codec does the same).
 *
 * Fields: the header as cef.version, cef.device_vendor, cef.device_product,
 * cef.device_version, cef.signature_id, cef.name, cef.severity; each
 * extension pair under its own key ("src", "suser", "cs1Label", "cs1");
 * and for each labelled custom field (csN/csNLabel, cnN, cfpN, c6aN,
 * deviceCustomDateN, flexStringN, ... any K with KLabel) the value again as
 * "cef.label.<label>" (quotes around the label dropped), e.g.
 * cs2Label="Safe Name" cs2=Vault -> "cef.label.Safe Name" = "Vault".
 *
 * Canonical fields: see `rows` below; user.name is the source user (suser)
 * and falls back to the destination user (duser); host.name/host.ip are
 * the reporting device (dvchost/dvc), else the syslog header's host;
 * @timestamp is rt, else start, else end (epoch ms or ArcSight dates),
 * else the syslog header's time. rule.id/rule.name are the signature ID and
 * name; event.severity is 0-10 or Low=3 Medium=6 High=8 Very-High=10;
 * observer.product is "Vendor Product"; event.kind is "event".
 *
 * Logsource: CEF says nothing about Sigma's taxonomy, so product and
 * service stay NULL; the category is set only when the device product,
 * cat or name says it plainly (firewall, proxy, antivirus). */
#include <string.h>

#include "ingest/kv.h"

static const char *const hdr_names[7] = {
    "cef.version",        "cef.device_vendor", "cef.device_product", "cef.device_version",
    "cef.signature_id",   "cef.name",          "cef.severity",
};

static _Thread_local kb_fid hdr_ids[7];
static _Thread_local uint64_t hdr_ids_uid;

static const kb_kv_map rows[] = {
    {KB_F_SOURCE_IP, {"src", "sourceAddress", NULL}},
    {KB_F_SOURCE_PORT, {"spt", "sourcePort", NULL}},
    {KB_F_DESTINATION_IP, {"dst", "destinationAddress", NULL}},
    {KB_F_DESTINATION_PORT, {"dpt", "destinationPort", NULL}},
    {KB_F_USER_NAME, {"suser", "sourceUserName", "duser", "destinationUserName", NULL}},
    {KB_F_USER_DOMAIN, {"sntdom", "sourceNtDomain", "dntdom", "destinationNtDomain", NULL}},
    {KB_F_HOST_NAME, {"dvchost", "deviceHostName", NULL}},
    {KB_F_HOST_IP, {"dvc", "deviceAddress", NULL}},
    {KB_F_URL_FULL, {"request", "requestUrl", NULL}},
    {KB_F_HTTP_REQUEST_METHOD, {"requestMethod", NULL}},
    {KB_F_USER_AGENT_ORIGINAL, {"requestClientApplication", NULL}},
    {KB_F_EVENT_ACTION, {"act", "deviceAction", NULL}},
    {KB_F_FILE_NAME, {"fname", "fileName", NULL}},
    {KB_F_FILE_PATH, {"filePath", NULL}},
    {KB_F_MESSAGE, {"msg", "message", NULL}},
    {-1, {NULL}},
};
static const char *const transport_keys[] = {"proto", "transportProtocol", NULL};
static const char *const protocol_keys[] = {"app", "applicationProtocol", NULL};
static const char *const outcome_keys[] = {"outcome", "eventOutcome", NULL};
static const char *const hash_keys[] = {"fileHash", NULL};
static const char *const time_keys[] = {"rt",    "deviceReceiptTime", "start",
                                        "startTime", "end",          "endTime", NULL};

/* Process: the device's, else the source's, else the destination's. */
static const char *const proc_keys[3][4] = {
    {"deviceProcessName", "dvcpid", "deviceProcessId", NULL},
    {"sproc", "spid", "sourceProcessName", "sourceProcessId"},
    {"dproc", "dpid", "destinationProcessName", "destinationProcessId"},
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Adds "cef.label.<label>" for every key K with a KLabel among fields
 * [from, end). Labels past the first 64 are left alone. */
static int add_labels(kb_event *ev, uint32_t from)
{
    uint32_t end = ev->nfields;
    int done = 0;
    char name[16 + KB_KV_KEY_MAX];

    for (uint32_t i = from; i < end && done < 64; i++) {
        size_t klen, llen;
        const char *key = kb_names_str(ev->names, ev->fields[i].name, &klen);
        const char *label = ev->fields[i].val;
        char base[KB_KV_KEY_MAX + 1];
        int idx;

        llen = ev->fields[i].len;
        if (klen <= 5 || klen > KB_KV_KEY_MAX || memcmp(key + klen - 5, "Label", 5) != 0)
            continue;
        while (llen > 0 && (label[0] == '"' || is_space(label[0]))) {
            label++;
            llen--;
        }
        while (llen > 0 && (label[llen - 1] == '"' || is_space(label[llen - 1])))
            llen--;
        if (llen == 0 || llen > KB_KV_KEY_MAX)
            continue;
        memcpy(base, key, klen - 5);
        base[klen - 5] = '\0';
        idx = kb_kv_find(ev, from, base);
        if (idx < 0)
            continue;
        memcpy(name, "cef.label.", 10);
        memcpy(name + 10, label, llen);
        done++;
        int rc = kb_event_add(ev, kb_kv_name_id(ev->names, name, 10 + llen, 1), KB_V_STR,
                              ev->fields[idx].val, ev->fields[idx].len);
        if (rc == KB_ENOMEM)
            return rc;
    }
    return KB_OK;
}

static void map_process(kb_event *ev, uint32_t from)
{
    for (int r = 0; r < 3; r++) {
        int name = kb_kv_find_static(ev, from, proc_keys[r][0]);
        int pid = kb_kv_find_static(ev, from, proc_keys[r][1]);
        if (name < 0 && proc_keys[r][2] && r > 0)
            name = kb_kv_find_static(ev, from, proc_keys[r][2]);
        if (pid < 0 && proc_keys[r][3])
            pid = kb_kv_find_static(ev, from, proc_keys[r][3]);
        if (r == 0 && pid < 0)
            pid = kb_kv_find_static(ev, from, proc_keys[0][2]);
        if (name < 0 && pid < 0)
            continue;
        if (name >= 0)
            kb_event_alias(ev, KB_F_PROCESS_NAME, name);
        if (pid >= 0)
            kb_event_alias(ev, KB_F_PROCESS_PID, pid);
        return;
    }
}

static void map_time(kb_decode_ctx *ctx, kb_event *ev, uint32_t from)
{
    for (int i = 0; time_keys[i]; i++) {
        int idx = kb_kv_find_static(ev, from, time_keys[i]);
        int64_t t;
        if (idx < 0)
            continue;
        if (kb_kv_parse_time(ev->fields[idx].val, ev->fields[idx].len, ctx->ref_time, &t) ==
            KB_OK) {
            ev->ts = t;
            kb_event_alias(ev, KB_F_TIMESTAMP, idx);
            return;
        }
    }
}

int kb_cef_decode_body(kb_decode_ctx *ctx, const char *p, size_t len, kb_event *ev)
{
    kb_str hdr[7];
    size_t i = 0, nh = 0, start;
    int idx[7];
    uint32_t from;
    int rc;

    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (kb_str_has_prefix(p, len, "CEF:")) {
        i = 4;
        while (i < len && p[i] == ' ')
            i++;
    } else if (!(len > 1 && p[0] >= '0' && p[0] <= '9')) {
        /* a bare "0|Vendor|..." (the "CEF:" eaten upstream) is accepted */
        ctx->err = "not CEF: no 'CEF:' marker";
        return KB_EPARSE;
    }
    start = i;
    while (i < len && nh < 7) {
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
    if (nh < 7) {
        ctx->err = "CEF header has fewer than 7 '|'-terminated fields";
        return KB_EPARSE;
    }
    if (hdr[0].len == 0 || hdr[0].len > 3 || hdr[0].p[0] < '0' || hdr[0].p[0] > '9') {
        ctx->err = "CEF version is not a number";
        return KB_EPARSE;
    }
    for (size_t k = 0; k < hdr[0].len; k++) {
        if (hdr[0].p[k] < '0' || hdr[0].p[k] > '9') {
            ctx->err = "CEF version is not a number";
            return KB_EPARSE;
        }
    }

    kb_event_fids(ev->names, hdr_names, 7, hdr_ids, &hdr_ids_uid);
    for (int k = 0; k < 7; k++) {
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

    from = ev->nfields;
    rc = kb_kv_add_spaced(ev, p + start, len - start, KB_KV_ESC_CEF_EXT, &ctx->err);
    if (rc == KB_EPARSE) {
        ctx->err = "CEF extension does not start with key=value";
        return rc;
    }
    if (rc != KB_OK)
        goto fail;
    kb_event_index(ev); /* kb_kv_find from here on */
    if ((rc = add_labels(ev, from)) != KB_OK)
        goto fail;

    if (hdr[4].len > 0)
        kb_event_alias(ev, KB_F_RULE_ID, idx[4]);
    if (hdr[5].len > 0)
        kb_event_alias(ev, KB_F_RULE_NAME, idx[5]);
    if ((rc = kb_kv_severity(ev, hdr[6].p, hdr[6].len)) != KB_OK)
        goto fail;
    if ((rc = kb_kv_observer(ev, hdr[1], hdr[2])) != KB_OK)
        goto fail;
    if ((rc = kb_kv_apply(ev, from, rows, transport_keys, protocol_keys, outcome_keys,
                          hash_keys)) != KB_OK)
        goto fail;
    map_process(ev, from);
    map_time(ctx, ev, from);
    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0)
        goto fail;

    {
        int c = kb_kv_find_static(ev, from, "cat");
        kb_str cat = {NULL, 0};
        if (c < 0)
            c = kb_kv_find_static(ev, from, "deviceEventCategory");
        if (c >= 0) {
            cat.p = ev->fields[c].val;
            cat.len = ev->fields[c].len;
        }
        ev->ls.product = NULL;
        ev->ls.service = NULL;
        ev->ls.category = kb_kv_category(hdr[2], cat, hdr[5]);
    }
    return KB_OK;

fail:
    ctx->err = rc == KB_ENOMEM ? "out of memory for CEF fields" : "too many CEF fields";
    return rc == KB_ENOMEM ? KB_ENOMEM : KB_ELIMIT;
}

static int cef_sniff(const char *line, size_t len)
{
    size_t pipes = 0;

    if (kb_kv_find_marker(line, len, 1024, "CEF:", 4))
        return 95;
    /* "0|Vendor|Product|..." with the marker lost */
    if (len > 2 && line[0] >= '0' && line[0] <= '9' && line[1] == '|') {
        for (size_t i = 0; i < len && i < 2048 && pipes < 7; i++)
            pipes += line[i] == '|';
        return pipes >= 7 ? 40 : 0;
    }
    return 0;
}

static int cef_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    const char *m;
    size_t k = 0;
    int rc;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    while (k < len && is_space(line[k]))
        k++;
    if (k == len)
        return KB_ESKIP;
    m = kb_kv_find_marker(line, len, len, "CEF:", 4);
    if (!m)
        return kb_cef_decode_body(ctx, line + k, len - k, ev);
    if (m > line) {
        rc = kb_kv_syslog_prefix(ctx, line, len, (size_t)(m - line), ev);
        if (rc != KB_OK) {
            ctx->err = "out of memory for syslog header fields";
            return rc;
        }
    }
    return kb_cef_decode_body(ctx, m, len - (size_t)(m - line), ev);
}

const kb_decoder kb_dec_cef = {
    "cef", "ArcSight CEF, bare or behind a syslog header", cef_sniff, cef_decode, NULL, NULL,
};
