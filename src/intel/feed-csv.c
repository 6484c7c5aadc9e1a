/* CSV and plain lists with a column mapping, the JSON lists of ThreatFox
 * and CrowdSec, and format sniffing. */
#include <jansson.h>
#include <string.h>

#include "intel/intel-int.h"

enum { R_IGNORE = -1, R_VALUE = 100, R_KIND, R_THREAT, R_CONF, R_FIRST, R_LAST, R_UNTIL,
       R_TAGS, R_REF, R_DESC };
/* A role below 100 is a value of that kind (KB_IOC_*). */

#define MAX_COLS 64

static int role_of(const char *s, size_t n)
{
    static const struct {
        const char *name;
        int role;
    } map[] = {
        {"value", R_VALUE},         {"ioc", R_VALUE},          {"ioc_value", R_VALUE},
        {"indicator", R_VALUE},     {"observable", R_VALUE},   {"kind", R_KIND},
        {"type", R_KIND},           {"ioc_type", R_KIND},      {"threat", R_THREAT},
        {"threat_type", R_THREAT},  {"confidence", R_CONF},    {"confidence_level", R_CONF},
        {"first_seen", R_FIRST},    {"first_seen_utc", R_FIRST}, {"dateadded", R_FIRST},
        {"last_seen", R_LAST},      {"last_seen_utc", R_LAST}, {"last_online", R_LAST},
        {"valid_until", R_UNTIL},   {"tags", R_TAGS},          {"ref", R_REF},
        {"reference", R_REF},       {"urlhaus_link", R_REF},   {"desc", R_DESC},
        {"description", R_DESC},    {"comment", R_DESC},       {"malware", R_DESC},
        {"malware_printable", R_DESC}, {"-", R_IGNORE},        {"dst_ip", KB_IOC_IP},
        {"ip_address", KB_IOC_IP},  {"url", KB_IOC_URL},       {"domain", KB_IOC_DOMAIN},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (kb_str_ieqz(s, n, map[i].name))
            return map[i].role;
    int k = kb_intel_kind_find(s, n);
    return k >= 0 ? k : R_IGNORE - 1; /* unknown */
}

/* Splits one CSV line into fields (RFC 4180 quotes on one line, "" for a
 * quote). Fields are unquoted into b; starts[i]/lens[i] index into b. */
static int split(const char *p, size_t n, kb_buf *b, size_t *starts, size_t *lens)
{
    int nf = 0;
    size_t i = 0;
    kb_buf_clear(b);
    for (;;) {
        if (nf >= MAX_COLS)
            return nf;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        starts[nf] = b->len;
        if (i < n && p[i] == '"') {
            i++;
            while (i < n) {
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"') {
                        kb_buf_putc(b, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                kb_buf_putc(b, p[i++]);
            }
            while (i < n && p[i] != ',')
                i++;
        } else {
            while (i < n && p[i] != ',')
                kb_buf_putc(b, p[i++]);
        }
        size_t e = b->len;
        while (e > starts[nf] && (b->data[e - 1] == ' ' || b->data[e - 1] == '\t'))
            e--;
        lens[nf] = e - starts[nf];
        kb_buf_putc(b, 0);
        nf++;
        if (i >= n || p[i] != ',')
            return nf;
        i++;
    }
}

static int header_roles(const kb_buf *b, const size_t *st, const size_t *ln, int nf, int *roles)
{
    int values = 0, known = 0;
    for (int i = 0; i < nf; i++) {
        int r = role_of(b->data + st[i], ln[i]);
        if (r == R_VALUE && values)
            r = R_DESC; /* "#ip,ioc": the first value column wins */
        if (r < R_IGNORE) {
            roles[i] = R_IGNORE;
            continue;
        }
        known++;
        if (r == R_VALUE || (r >= 0 && r < KB_IOC_COUNT))
            values++;
        roles[i] = r;
    }
    return values && known ? nf : 0;
}

static int parse_columns(const char *spec, int *roles, const char **err)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        int r = role_of(p, l);
        if (r < R_IGNORE || n >= MAX_COLS) {
            *err = "--columns: unknown role (value, kind, threat, confidence, first_seen, "
                   "last_seen, valid_until, tags, ref, desc, a kind name, or -)";
            return -1;
        }
        roles[n++] = r;
        p += l + (c ? 1 : 0);
    }
    return n;
}

static void set_time(const char *v, size_t n, int64_t *out)
{
    /* "2023-03-21 09:46:56 UTC" (abuse.ch) */
    if (n > 4 && kb_str_eqz(v + n - 4, 4, " UTC"))
        n -= 4;
    if (kb_time_parse_iso8601(v, n, out) && kb_time_parse_epoch(v, n, out))
        *out = KB_TIME_NONE;
}

int kb_intel_load_csv(kb_intel_sink *s, const char *buf, size_t len, const char *columns,
                      const char **err)
{
    int roles[MAX_COLS], nroles = 0, rc = KB_OK;
    size_t st[MAX_COLS], ln[MAX_COLS], pos = 0, lineno = 0;
    kb_buf f;
    char where[48];
    if (memchr(buf, 0, len > 4096 ? 4096 : len)) {
        *err = "binary data, not a CSV file or list";
        return KB_EFORMAT;
    }
    if (len && (buf[0] == '{' || buf[0] == '[')) {
        *err = "JSON, not a CSV file or list (try --format stix, misp or json)";
        return KB_EFORMAT;
    }
    if (columns && (nroles = parse_columns(columns, roles, err)) < 0)
        return KB_EUSAGE;
    kb_buf_init(&f, 1 << 20);
    while (pos < len && rc == KB_OK) {
        const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + 1;
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (lineno == 1 && n >= 3 && (unsigned char)line[0] == 0xef &&
            (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf)
            line += 3, n -= 3; /* UTF-8 BOM */
        size_t k = 0;
        while (k < n && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == n)
            continue;
        int comment = line[k] == '#' || (line[k] == '/' && k + 1 < n && line[k + 1] == '/');
        int nf = split(line + k + (line[k] == '#'), n - k - (line[k] == '#'), &f, st, ln);
        if (!nroles) {
            /* a header: a line (or '#' comment) whose fields name columns */
            if (header_roles(&f, st, ln, nf, roles)) {
                nroles = nf;
                continue;
            }
            if (comment)
                continue;
            roles[0] = R_VALUE;
            for (int i = 1; i < MAX_COLS; i++)
                roles[i] = R_IGNORE;
            nroles = MAX_COLS;
        } else if (comment) {
            continue;
        }
        kb_indicator meta = {.confidence = -1, .first_seen = KB_TIME_NONE,
                             .last_seen = KB_TIME_NONE, .valid_until = KB_TIME_NONE};
        int kind = -1;
        snprintf(where, sizeof where, "line %zu", lineno);
        for (int i = 0; i < nf && i < nroles; i++) {
            const char *v = f.data + st[i];
            if (!ln[i])
                continue;
            switch (roles[i]) {
            case R_KIND: {
                int kk = kb_intel_kind_find(v, ln[i]);
                if (kk >= 0)
                    kind = kk;
                break;
            }
            case R_THREAT: meta.threat = v; break;
            case R_CONF: {
                uint64_t c;
                if (kb_parse_u64(v, ln[i], &c) == KB_OK && c <= 100)
                    meta.confidence = (int)c;
                break;
            }
            case R_FIRST: set_time(v, ln[i], &meta.first_seen); break;
            case R_LAST: set_time(v, ln[i], &meta.last_seen); break;
            case R_UNTIL: set_time(v, ln[i], &meta.valid_until); break;
            case R_TAGS: meta.tags = v; break;
            case R_REF: meta.ref = v; break;
            case R_DESC: meta.desc = v; break;
            default: break;
            }
        }
        int any = 0;
        for (int i = 0; i < nroles && rc == KB_OK; i++) {
            int r = roles[i];
            if (r != R_VALUE && !(r >= 0 && r < KB_IOC_COUNT))
                continue;
            any = 1;
            if (i >= nf || !ln[i]) {
                kb_intel_sink_reject(s, where, "empty value");
                continue;
            }
            rc = kb_intel_sink_add(s, r == R_VALUE ? kind : r, f.data + st[i], ln[i], &meta,
                                   where);
        }
        if (!any)
            kb_intel_sink_reject(s, where, "no value column");
    }
    kb_buf_release(&f);
    return rc;
}

/* ---- JSON lists -------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void jtime(json_t *o, const char *key, int64_t *out)
{
    const char *v = jstr(o, key);
    *out = KB_TIME_NONE;
    if (v)
        set_time(v, strlen(v), out);
}

static void jjoin(json_t *arr, kb_buf *b)
{
    size_t i;
    json_t *v;
    kb_buf_clear(b);
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || b->len + json_string_length(v) > 1000)
            continue;
        if (b->len)
            kb_buf_putc(b, ',');
        kb_buf_puts(b, json_string_value(v));
    }
}

static const char *threatfox_threat(const char *t)
{
    if (!t)
        return NULL;
    if (strcmp(t, "botnet_cc") == 0)
        return "c2";
    if (strcmp(t, "payload_delivery") == 0)
        return "malware-download";
    if (strcmp(t, "payload") == 0)
        return "malware";
    return t;
}

static int threatfox_ioc(kb_intel_sink *s, json_t *o, const char *where)
{
    const char *ioc = jstr(o, "ioc"), *type = jstr(o, "ioc_type");
    kb_indicator meta = {.confidence = -1, .valid_until = KB_TIME_NONE};
    kb_buf tags;
    int kind = -1, rc;
    size_t n;
    if (!ioc) {
        kb_intel_sink_reject(s, where, "IOC without an \"ioc\" string");
        return KB_OK;
    }
    n = strlen(ioc);
    if (type && strcmp(type, "ip:port") == 0) {
        const char *c = strrchr(ioc, ':');
        if (c)
            n = (size_t)(c - ioc);
        kind = KB_IOC_IP;
    } else if (type && strcmp(type, "md5_hash") == 0) {
        kind = KB_IOC_MD5;
    } else if (type && strcmp(type, "sha256_hash") == 0) {
        kind = KB_IOC_SHA256;
    } else if (type && strcmp(type, "sha1_hash") == 0) {
        kind = KB_IOC_SHA1;
    } else if (type && strcmp(type, "url") == 0) {
        kind = KB_IOC_URL;
    } else if (type && strcmp(type, "domain") == 0) {
        kind = KB_IOC_DOMAIN;
    }
    json_t *c = json_object_get(o, "confidence_level");
    if (json_is_integer(c) && json_integer_value(c) >= 0 && json_integer_value(c) <= 100)
        meta.confidence = (int)json_integer_value(c);
    meta.threat = threatfox_threat(jstr(o, "threat_type"));
    jtime(o, "first_seen", &meta.first_seen);
    jtime(o, "last_seen", &meta.last_seen);
    meta.ref = jstr(o, "reference");
    meta.desc = jstr(o, "malware_printable");
    kb_buf_init(&tags, 4096);
    jjoin(json_object_get(o, "tags"), &tags);
    meta.tags = tags.len ? tags.data : NULL;
    rc = kb_intel_sink_add(s, kind, ioc, n, &meta, where);
    kb_buf_release(&tags);
    return rc;
}

int kb_intel_load_json_list(kb_intel_sink *s, const char *buf, size_t len, const char **err)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, 0, &je), *arr, *o;
    size_t i;
    int rc = KB_OK;
    char where[64];
    kb_buf tags;
    if (!root) {
        kb_buf_clear(&s->tmp);
        kb_buf_printf(&s->tmp, "line %d: invalid JSON: %s", je.line, je.text);
        *err = s->tmp.data;
        return KB_EFORMAT;
    }
    kb_buf_init(&tags, 4096);
    if ((arr = json_object_get(root, "items")) && json_is_array(arr)) { /* CrowdSec */
        json_array_foreach(arr, i, o) {
            const char *ip = jstr(o, "ip");
            kb_indicator meta = {.confidence = -1, .threat = "scanner",
                                 .valid_until = KB_TIME_NONE};
            snprintf(where, sizeof where, "items[%zu]", i);
            if (!ip) {
                kb_intel_sink_reject(s, where, "item without an \"ip\" string");
                continue;
            }
            jtime(o, "first_seen", &meta.first_seen);
            jtime(o, "last_seen", &meta.last_seen);
            jjoin(json_object_get(o, "scenarios"), &tags);
            meta.tags = tags.len ? tags.data : NULL;
            meta.desc = jstr(o, "asn_name");
            if ((rc = kb_intel_sink_add(s, KB_IOC_IP, ip, strlen(ip), &meta, where)))
                break;
        }
    } else if ((arr = json_object_get(root, "data")) && json_is_array(arr)) { /* ThreatFox */
        json_array_foreach(arr, i, o) {
            snprintf(where, sizeof where, "data[%zu]", i);
            if ((rc = threatfox_ioc(s, o, where)))
                break;
        }
    } else if (jstr(root, "ioc")) {
        rc = threatfox_ioc(s, root, "$");
    } else if (json_object_get(root, "api_roots") || json_object_get(root, "collections") ||
               json_object_get(root, "can_read") || json_object_get(root, "versions") ||
               json_object_get(root, "success_count")) {
        *err = "a TAXII 2.1 server response, not indicators (import the collection's URL "
               "instead: .../collections/ID/)";
        rc = KB_EFORMAT;
    } else {
        *err = "not a known JSON indicator list (ThreatFox \"data\"/\"ioc\", CrowdSec \"items\")";
        rc = KB_EFORMAT;
    }
    kb_buf_release(&tags);
    json_decref(root);
    return rc;
}

const char *kb_intel_sniff(const char *name, const char *buf, size_t len)
{
    size_t n = len > 65536 ? 65536 : len;
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    size_t l = name ? strlen(name) : 0;
    /* a .json name counts as JSON even when the text is broken, so that
     * the JSON parser names the error rather than the list reader */
    if ((i < n && (buf[i] == '{' || buf[i] == '[')) ||
        (l > 5 && kb_str_ieqz(name + l - 5, 5, ".json"))) {
        if (kb_memmem(buf, n, "\"Event\"", 7) || kb_memmem(buf, n, "\"Attribute\"", 11))
            return "misp";
        if (kb_memmem(buf, n, "\"objects\"", 9) || kb_memmem(buf, n, "\"pattern\"", 9) ||
            kb_memmem(buf, n, "\"spec_version\"", 14))
            return "stix";
        return "json";
    }
    if (l > 4 && kb_str_ieqz(name + l - 4, 4, ".csv"))
        return "csv";
    return kb_memmem(buf, n, ",", 1) ? "csv" : "list";
}
