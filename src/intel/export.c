/* Exports: STIX 2.1 bundle, MISP event, CSV, and deployable forms (nftables
 * script, IP and domain lists, an RPZ zone, Suricata rules). Streaming: one
 * indicator at a time, a small header and trailer. */
#include <jansson.h>
#include <string.h>

#include "intel/intel-int.h"

enum { F_STIX, F_MISP, F_CSV, F_NFT, F_IPLIST, F_DOMAINLIST, F_RPZ, F_SURICATA };
static const char *const formats[] = {"stix", "misp", "csv", "nft", "iplist", "domainlist",
                                      "rpz", "suricata", NULL};

struct kb_intel_exporter {
    FILE *f;
    int fmt;
    kb_intel_export_opts o;
    char name[64];
    uint64_t written, skipped;
    uint32_t sid;
    int first;
    int last_kind;  /* deployable forms: the last key written, to write */
    kb_buf last;    /* a value held by several feeds once */
};

/* A stable UUID-shaped id from the indicator's key (same input, same id). */
static void key_uuid(const kb_indicator *ind, char out[37])
{
    char key[1024];
    int n = snprintf(key, sizeof key, "%d|%s|%s", ind->kind, ind->value,
                     ind->feed ? ind->feed : "");
    size_t kl = n < 0 ? 0 : (size_t)n >= sizeof key ? sizeof key - 1 : (size_t)n;
    uint64_t a = kb_hash(key, kl), b = kb_hash(key, kl) * UINT64_C(0x9E3779B97F4A7C15) ^ kl;
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)((b >> 48) & 0x3fff) | 0x8000, (unsigned long long)(b & 0xffffffffffffULL));
}

kb_intel_exporter *kb_intel_export_begin(FILE *f, const kb_intel_export_opts *o, const char **err)
{
    int fmt = -1;
    for (int i = 0; formats[i]; i++)
        if (o->format && strcmp(o->format, formats[i]) == 0)
            fmt = i;
    if (fmt < 0) {
        *err = "unknown export format (stix, misp, csv, nft, iplist, domainlist, rpz, suricata)";
        return NULL;
    }
    kb_intel_exporter *x = kb_calloc(1, sizeof *x);
    if (!x) {
        *err = "out of memory";
        return NULL;
    }
    x->f = f;
    x->fmt = fmt;
    x->o = *o;
    x->first = 1;
    x->last_kind = -1;
    kb_buf_init(&x->last, 16384);
    if (!x->o.sid_base)
        x->o.sid_base = 9100000;
    if (!x->o.sid_max)
        x->o.sid_max = x->o.sid_base + 999999;
    x->sid = x->o.sid_base;
    /* names go into nft and DNS syntax: keep [A-Za-z0-9_.-] */
    snprintf(x->name, sizeof x->name, "%s", o->name && o->name[0] ? o->name : "koban");
    for (char *p = x->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            *p = '_';
    switch (fmt) {
    case F_STIX: {
        char id[37];
        kb_indicator k = {.kind = 0, .value = x->name, .feed = "bundle"};
        key_uuid(&k, id);
        fprintf(f, "{\"type\":\"bundle\",\"id\":\"bundle--%s\",\"objects\":[", id);
        break;
    }
    case F_MISP:
        fprintf(f, "{\"Event\":{\"info\":\"%s\",\"threat_level_id\":\"2\",\"analysis\":\"2\","
                   "\"Attribute\":[",
                x->name);
        break;
    case F_CSV:
        fputs("kind,value,feed,confidence,threat,first_seen,last_seen,valid_until,tags,ref\n", f);
        break;
    case F_NFT:
        fprintf(f,
                "#!/usr/sbin/nft -f\n# koban intel export: block lists as nftables sets\n"
                "add table inet koban\n"
                "add set inet koban %s_v4 { type ipv4_addr; flags interval; auto-merge; }\n"
                "add set inet koban %s_v6 { type ipv6_addr; flags interval; auto-merge; }\n",
                x->name, x->name);
        break;
    case F_RPZ:
        fprintf(f,
                "$TTL 300\n@ IN SOA localhost. hostmaster.localhost. (%lld 3600 600 86400 300)\n"
                "  IN NS localhost.\n",
                (long long)(o->now / KB_NS_PER_SEC));
        break;
    default:
        break;
    }
    return x;
}

static void time_str(int64_t t, char *buf, size_t n)
{
    if (t == KB_TIME_NONE) {
        buf[0] = 0;
        return;
    }
    kb_time_format(t, buf, n);
}

static int put_stix(kb_intel_exporter *x, const kb_indicator *ind)
{
    static const char *const paths[KB_IOC_COUNT] = {
        [KB_IOC_IP] = "ipv4-addr:value", [KB_IOC_CIDR] = "ipv4-addr:value",
        [KB_IOC_DOMAIN] = "domain-name:value", [KB_IOC_URL] = "url:value",
        [KB_IOC_MD5] = "file:hashes.MD5", [KB_IOC_SHA1] = "file:hashes.'SHA-1'",
        [KB_IOC_SHA256] = "file:hashes.'SHA-256'", [KB_IOC_EMAIL] = "email-addr:value",
        [KB_IOC_FILENAME] = "file:name",
    };
    const char *path = paths[ind->kind];
    char id[37], ts[40];
    kb_buf pat;
    if (!path || (ind->kind == KB_IOC_DOMAIN && ind->value[0] == '*'))
        return 1;
    if ((ind->kind == KB_IOC_IP || ind->kind == KB_IOC_CIDR) && strchr(ind->value, ':'))
        path = "ipv6-addr:value";
    kb_buf_init(&pat, 1 << 16);
    kb_buf_printf(&pat, "[%s = '", path);
    for (const char *p = ind->value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            kb_buf_putc(&pat, '\\');
        kb_buf_putc(&pat, *p);
    }
    kb_buf_puts(&pat, "']");
    key_uuid(ind, id);
    json_t *o = json_object();
    kb_buf sid;
    kb_buf_init(&sid, 64);
    kb_buf_printf(&sid, "indicator--%s", id);
    json_object_set_new(o, "type", json_string("indicator"));
    json_object_set_new(o, "spec_version", json_string("2.1"));
    json_object_set_new(o, "id", json_string(sid.data));
    time_str(x->o.now, ts, sizeof ts);
    json_object_set_new(o, "created", json_string(ts));
    json_object_set_new(o, "modified", json_string(ts));
    json_object_set_new(o, "pattern", json_string(pat.data));
    json_object_set_new(o, "pattern_type", json_string("stix"));
    time_str(ind->first_seen != KB_TIME_NONE ? ind->first_seen : x->o.now, ts, sizeof ts);
    json_object_set_new(o, "valid_from", json_string(ts));
    if (ind->valid_until != KB_TIME_NONE) {
        time_str(ind->valid_until, ts, sizeof ts);
        json_object_set_new(o, "valid_until", json_string(ts));
    }
    if (ind->confidence >= 0)
        json_object_set_new(o, "confidence", json_integer(ind->confidence));
    if (ind->threat)
        json_object_set_new(o, "indicator_types", json_pack("[s]", "malicious-activity"));
    json_t *labels = json_array();
    if (ind->feed)
        json_array_append_new(labels, json_sprintf("feed:%s", ind->feed));
    if (ind->threat)
        json_array_append_new(labels, json_sprintf("threat:%s", ind->threat));
    json_object_set_new(o, "labels", labels);
    if (ind->desc)
        json_object_set_new(o, "name", json_string(ind->desc));
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fprintf(x->f, "%s%s", x->first ? "" : ",", s);
        free(s);
        x->first = 0;
    }
    json_decref(o);
    kb_buf_release(&pat);
    kb_buf_release(&sid);
    return s ? 0 : -1;
}

static int put_misp(kb_intel_exporter *x, const kb_indicator *ind)
{
    static const char *const types[KB_IOC_COUNT] = {
        [KB_IOC_IP] = "ip-dst", [KB_IOC_CIDR] = "ip-dst", [KB_IOC_DOMAIN] = "domain",
        [KB_IOC_URL] = "url", [KB_IOC_MD5] = "md5", [KB_IOC_SHA1] = "sha1",
        [KB_IOC_SHA256] = "sha256", [KB_IOC_EMAIL] = "email-src",
        [KB_IOC_FILENAME] = "filename", [KB_IOC_JA3] = "ja3-fingerprint-md5",
        [KB_IOC_UA] = "user-agent",
    };
    const char *t = types[ind->kind];
    char id[37];
    if (!t || (ind->kind == KB_IOC_DOMAIN && ind->value[0] == '*'))
        return 1;
    key_uuid(ind, id);
    json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:s}", "type", t, "value", ind->value, "category",
                          ind->kind <= KB_IOC_URL ? "Network activity" : "Payload delivery",
                          "to_ids", 1, "uuid", id);
    if (!o)
        return -1;
    json_object_set_new(o, "comment", json_sprintf("feed:%s threat:%s confidence:%d",
                                                    ind->feed ? ind->feed : "",
                                                    ind->threat ? ind->threat : "",
                                                    ind->confidence));
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        return -1;
    fprintf(x->f, "%s%s", x->first ? "" : ",", s);
    free(s);
    x->first = 0;
    return 0;
}

static void csv_field(FILE *f, const char *s, int last)
{
    if (s && strpbrk(s, ",\"\n\r")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else if (s) {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

/* Suricata content: printable ASCII except ; " \ | ; everything else as |XX|. */
static void sur_content(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == ';' || c == '"' || c == '\\' || c == '|')
            fprintf(f, "|%02X|", c);
        else
            fputc(c, f);
    }
}

static int sur_rule(kb_intel_exporter *x, const char *head, const char *what,
                    const kb_indicator *ind, const char *body)
{
    if (x->sid > x->o.sid_max)
        return KB_ELIMIT;
    fprintf(x->f, "alert %s (msg:\"koban intel %s ", head, what);
    sur_content(x->f, ind->value, strlen(ind->value) > 200 ? 200 : strlen(ind->value));
    fprintf(x->f, " feed ");
    sur_content(x->f, ind->feed ? ind->feed : "-", strlen(ind->feed ? ind->feed : "-"));
    fprintf(x->f, "\"; %ssid:%u; rev:1;", body, x->sid++);
    if (ind->confidence >= 0)
        fprintf(x->f, " metadata: confidence %d;", ind->confidence);
    fputs(")\n", x->f);
    return KB_OK;
}

static int put_suricata(kb_intel_exporter *x, const kb_indicator *ind)
{
    char body[2048];
    FILE *mf;
    int rc = KB_OK;
    if (ind->kind == KB_IOC_IP || ind->kind == KB_IOC_CIDR) {
        char head[160];
        snprintf(head, sizeof head, "ip any any <> [%s] any", ind->value);
        return sur_rule(x, head, "address", ind, "");
    }
    if (ind->kind == KB_IOC_DOMAIN) {
        int wild = ind->value[0] == '*';
        const char *d = ind->value + (wild ? 2 : 0);
        static const struct {
            const char *proto, *buffer;
        } bufs[] = {{"dns", "dns.query"}, {"tls", "tls.sni"}, {"http", "http.host"}};
        for (size_t i = 0; i < 3 && rc == KB_OK; i++) {
            if (!(mf = fmemopen(body, sizeof body, "w")))
                return KB_ENOMEM;
            fprintf(mf, "%s; %scontent:\"%s", bufs[i].buffer, wild ? "dotprefix; " : "",
                    wild ? "." : "");
            sur_content(mf, d, strlen(d));
            fprintf(mf, "\"; nocase; %sendswith; ", wild ? "" : "startswith; ");
            fclose(mf);
            char head[64];
            snprintf(head, sizeof head, "%s any any -> any any", bufs[i].proto);
            rc = sur_rule(x, head, "domain", ind, body);
        }
        return rc;
    }
    if (ind->kind == KB_IOC_URL) {
        const char *h = strstr(ind->value, "://");
        if (!h)
            return 1;
        h += 3;
        const char *path = strchr(h, '/');
        size_t hl = path ? (size_t)(path - h) : strlen(h);
        const char *colon = memchr(h, ':', hl);
        if (!path || strncmp(ind->value, "http://", 7) != 0)
            return 1; /* only cleartext HTTP URLs are visible to the IDS */
        if (!(mf = fmemopen(body, sizeof body, "w")))
            return KB_ENOMEM;
        fputs("http.host; content:\"", mf);
        sur_content(mf, h, colon ? (size_t)(colon - h) : hl);
        fputs("\"; nocase; startswith; endswith; http.uri; content:\"", mf);
        sur_content(mf, path, strlen(path) > 1000 ? 1000 : strlen(path));
        fputs("\"; startswith; endswith; ", mf);
        fclose(mf);
        return sur_rule(x, "http any any -> any any", "url", ind, body);
    }
    if (ind->kind == KB_IOC_JA3) {
        snprintf(body, sizeof body, "ja3.hash; content:\"%s\"; ", ind->value);
        return sur_rule(x, "tls any any -> any any", "ja3", ind, body);
    }
    return 1;
}

int kb_intel_export_add(kb_intel_exporter *x, const kb_indicator *ind)
{
    int r = 1;
    int ip = ind->kind == KB_IOC_IP || ind->kind == KB_IOC_CIDR;
    if (x->fmt >= F_NFT) {
        /* block lists and rules carry a value once, whichever feeds hold it
         * (rows come in kind, value order) */
        if (ind->kind == x->last_kind && strcmp(ind->value, x->last.data) == 0)
            return KB_OK;
        x->last_kind = ind->kind;
        kb_buf_clear(&x->last);
        if (kb_buf_puts(&x->last, ind->value))
            return KB_ENOMEM;
    }
    switch (x->fmt) {
    case F_STIX:
        r = put_stix(x, ind);
        break;
    case F_MISP:
        r = put_misp(x, ind);
        break;
    case F_CSV: {
        char a[40], b[40], c[40], conf[16];
        time_str(ind->first_seen, a, sizeof a);
        time_str(ind->last_seen, b, sizeof b);
        time_str(ind->valid_until, c, sizeof c);
        snprintf(conf, sizeof conf, "%d", ind->confidence);
        csv_field(x->f, kb_intel_kind_name(ind->kind), 0);
        csv_field(x->f, ind->value, 0);
        csv_field(x->f, ind->feed, 0);
        csv_field(x->f, ind->confidence >= 0 ? conf : NULL, 0);
        csv_field(x->f, ind->threat, 0);
        csv_field(x->f, a, 0);
        csv_field(x->f, b, 0);
        csv_field(x->f, c, 0);
        csv_field(x->f, ind->tags, 0);
        csv_field(x->f, ind->ref, 1);
        r = 0;
        break;
    }
    case F_NFT:
        if (ip) {
            fprintf(x->f, "add element inet koban %s_%s { %s }\n", x->name,
                    strchr(ind->value, ':') ? "v6" : "v4", ind->value);
            r = 0;
        }
        break;
    case F_IPLIST:
        if (ip) {
            fprintf(x->f, "%s\n", ind->value);
            r = 0;
        }
        break;
    case F_DOMAINLIST:
        if (ind->kind == KB_IOC_DOMAIN) {
            /* a wildcard is written ".example.com" (proxy ACL convention) */
            fprintf(x->f, "%s\n", ind->value[0] == '*' ? ind->value + 1 : ind->value);
            r = 0;
        }
        break;
    case F_RPZ:
        if (ind->kind == KB_IOC_DOMAIN) {
            fprintf(x->f, "%s CNAME .\n", ind->value);
            if (ind->value[0] == '*')
                fprintf(x->f, "%s CNAME .\n", ind->value + 2);
            r = 0;
        } else if (ip && !strchr(ind->value, ':')) {
            uint8_t a[16];
            const char *slash = strchr(ind->value, '/');
            unsigned bits = 32;
            uint64_t b;
            if (slash && kb_parse_u64(slash + 1, strlen(slash + 1), &b) == KB_OK)
                bits = (unsigned)b;
            kb_intel_parse_ip(ind->value, slash ? (size_t)(slash - ind->value)
                                                : strlen(ind->value), a);
            fprintf(x->f, "%u.%u.%u.%u.%u.rpz-ip CNAME .\n", bits, a[15], a[14], a[13], a[12]);
            r = 0;
        }
        break;
    case F_SURICATA:
        r = put_suricata(x, ind);
        if (r == KB_ELIMIT || r == KB_ENOMEM)
            return r;
        break;
    }
    if (r < 0)
        return KB_ENOMEM;
    if (r == 0)
        x->written++;
    else
        x->skipped++;
    return KB_OK;
}

int kb_intel_export_end(kb_intel_exporter *x, uint64_t *written, uint64_t *skipped)
{
    if (!x)
        return KB_EINVAL;
    if (x->fmt == F_STIX)
        fputs("]}\n", x->f);
    else if (x->fmt == F_MISP)
        fputs("]}}\n", x->f);
    if (written)
        *written = x->written;
    if (skipped)
        *skipped = x->skipped;
    int rc = ferror(x->f) ? KB_EIO : KB_OK;
    kb_buf_release(&x->last);
    kb_free(x);
    return rc;
}
