/* Indicator kinds, value normalisation, alert levels and the loader sink. */
#include <arpa/inet.h>
#include <string.h>

#include "intel/intel-int.h"

static const char *const kind_names[] = {
#define KB_IOC_NAME(e, s) s,
    KB_IOC_KIND_MAP(KB_IOC_NAME)
#undef KB_IOC_NAME
};

const char *kb_intel_kind_name(int kind)
{
    return kind >= 0 && kind < KB_IOC_COUNT ? kind_names[kind] : "?";
}

int kb_intel_kind_find(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int kind;
    } alias[] = {
        {"ipv4", KB_IOC_IP},        {"ipv6", KB_IOC_IP},       {"ip-src", KB_IOC_IP},
        {"ip-dst", KB_IOC_IP},      {"hostname", KB_IOC_DOMAIN}, {"sha-256", KB_IOC_SHA256},
        {"sha-1", KB_IOC_SHA1},     {"email-addr", KB_IOC_EMAIL}, {"file", KB_IOC_FILENAME},
        {"ua", KB_IOC_UA},          {"md5_hash", KB_IOC_MD5},  {"sha1_hash", KB_IOC_SHA1},
        {"sha256_hash", KB_IOC_SHA256}, {"file_name", KB_IOC_FILENAME},
        {"useragent", KB_IOC_UA},   {"user_agent", KB_IOC_UA}, {"ja3-fingerprint-md5", KB_IOC_JA3},
    };
    for (int k = 0; k < KB_IOC_COUNT; k++)
        if (kb_str_ieqz(s, len, kind_names[k]))
            return k;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (kb_str_ieqz(s, len, alias[i].name))
            return alias[i].kind;
    return -1;
}

const char *kb_intel_level(int confidence, const char *threat)
{
    int severe = threat && (strcmp(threat, "c2") == 0 || strcmp(threat, "ransomware") == 0 ||
                            strcmp(threat, "exploit") == 0 || strcmp(threat, "botnet_cc") == 0);
    if (confidence < 0)
        return severe ? "high" : "medium";
    if (confidence >= 90 && severe)
        return "critical";
    if (confidence >= 75 || (confidence >= 50 && severe))
        return "high";
    if (confidence >= 50)
        return "medium";
    return "low";
}

/* ---- helpers ------------------------------------------------------------- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

int kb_intel_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void trim(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    *s = p;
    *len = n;
}

/* Parses an address (no prefix) into 16 bytes; IPv4 as ::ffff:a.b.c.d.
 * Returns 4 or 6, 0 if not an address. */
/* Dotted-quad IPv4 as inet_pton(AF_INET) takes it (four decimal parts of
 * at most 255, no leading zeros): 1 and out set, 0 otherwise. inet_pton
 * needs a NUL-terminated copy and costs several times more on the per-event
 * path. */
static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, nd = 0;
        if (part) {
            if (i >= len || s[i] != '.')
                return 0;
            i++;
        }
        while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 4) {
            if (nd == 1 && v == 0)
                return 0; /* a leading zero */
            v = v * 10 + (unsigned)(s[i] - '0');
            nd++;
            i++;
        }
        if (!nd || v > 255)
            return 0;
        out[part] = (uint8_t)v;
    }
    return i == len;
}

int kb_intel_parse_ip(const char *s, size_t len, uint8_t out[16])
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return 0;
    if (len <= 15 && !memchr(s, ':', len)) {
        memset(out, 0, 16);
        if (!parse_v4(s, len, out + 12))
            return 0;
        out[10] = out[11] = 0xff;
        return 4;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    memset(out, 0, 16);
    if (memchr(tmp, ':', len)) {
        /* zone ids ("fe80::1%eth0") are not indicators */
        if (inet_pton(AF_INET6, tmp, out) != 1)
            return 0;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return memcmp(out, mapped, 12) == 0 ? 4 : 6;
    }
    if (inet_pton(AF_INET, tmp, out + 12) != 1)
        return 0;
    out[10] = out[11] = 0xff;
    return 4;
}

static int put_ip(kb_buf *out, const uint8_t a[16], int fam)
{
    char tmp[INET6_ADDRSTRLEN];
    if (fam == 4)
        inet_ntop(AF_INET, a + 12, tmp, sizeof tmp);
    else
        inet_ntop(AF_INET6, a, tmp, sizeof tmp);
    return kb_buf_puts(out, tmp);
}

void kb_intel_mask(uint8_t a[16], int bits)
{
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        if (keep >= 8)
            continue;
        a[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

static int norm_ip(const char *s, size_t len, kb_buf *out, int *kind, const char **reason)
{
    uint8_t a[16];
    const char *slash = memchr(s, '/', len);
    int fam = kb_intel_parse_ip(s, slash ? (size_t)(slash - s) : len, a);
    if (!fam) {
        *reason = "not an IPv4 or IPv6 address";
        return KB_EINVAL;
    }
    if (!slash) {
        *kind = KB_IOC_IP;
        return put_ip(out, a, fam) ? KB_ENOMEM : KB_OK;
    }
    uint64_t bits;
    size_t blen = len - (size_t)(slash - s) - 1;
    if (blen == 0 || blen > 3 || kb_parse_u64(slash + 1, blen, &bits) || slash[1] == '+' ||
        slash[1] == '-' || bits > (fam == 4 ? 32u : 128u)) {
        *reason = "bad prefix length";
        return KB_EINVAL;
    }
    if (bits == 0) {
        *reason = "a /0 range matches everything";
        return KB_EINVAL;
    }
    if (bits == (fam == 4 ? 32u : 128u)) {
        *kind = KB_IOC_IP;
        return put_ip(out, a, fam) ? KB_ENOMEM : KB_OK;
    }
    kb_intel_mask(a, (int)bits + (fam == 4 ? 96 : 0));
    *kind = KB_IOC_CIDR;
    return put_ip(out, a, fam) || kb_buf_printf(out, "/%u", (unsigned)bits) ? KB_ENOMEM : KB_OK;
}

/* Domain name: labels of [a-z0-9-_] or UTF-8 bytes, 1-63 bytes each, at
 * most 253 in all, at least two labels, a last label that is not numeric. */
static int check_domain(const char *p, size_t n, const char **reason)
{
    size_t lab = 0, labels = 1, last = 0;
    int alpha_last = 0;
    if (n == 0 || n > 253) {
        *reason = n ? "domain longer than 253 bytes" : "empty domain";
        return KB_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '.') {
            if (lab == 0) {
                *reason = "empty label in domain";
                return KB_EINVAL;
            }
            lab = 0;
            labels++;
            last = i + 1;
            alpha_last = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c >= 0x80)) {
            *reason = "invalid character in domain";
            return KB_EINVAL;
        }
        alpha_last |= !(c >= '0' && c <= '9');
        if (++lab > 63) {
            *reason = "domain label longer than 63 bytes";
            return KB_EINVAL;
        }
    }
    if (lab == 0 || labels < 2) {
        *reason = lab ? "domain without a dot" : "empty label in domain";
        return KB_EINVAL;
    }
    if (!alpha_last || p[last] == '-') {
        *reason = "invalid top-level label";
        return KB_EINVAL;
    }
    return KB_OK;
}

static int norm_domain(const char *s, size_t len, kb_buf *out, const char **reason)
{
    int wild = len > 2 && s[0] == '*' && s[1] == '.';
    if (wild)
        s += 2, len -= 2;
    if (len && s[len - 1] == '.')
        len--;
    if (wild && kb_buf_puts(out, "*."))
        return KB_ENOMEM;
    size_t start = out->len;
    for (size_t i = 0; i < len; i++)
        if (kb_buf_putc(out, lower(s[i])))
            return KB_ENOMEM;
    return check_domain(out->data + start, out->len - start, reason);
}

static int norm_hex(const char *s, size_t len, size_t want, kb_buf *out, const char **reason)
{
    if (len != want) {
        *reason = want == 32 ? "MD5 hash is not 32 hex digits"
                  : want == 40 ? "SHA-1 hash is not 40 hex digits"
                               : "SHA-256 hash is not 64 hex digits";
        return KB_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (kb_intel_hexval(s[i]) < 0) {
            *reason = "hash has a non-hex digit";
            return KB_EINVAL;
        }
        if (kb_buf_putc(out, lower(s[i])))
            return KB_ENOMEM;
    }
    return KB_OK;
}

static int norm_email(const char *s, size_t len, kb_buf *out, const char **reason)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s || memchr(at + 1, '@', len - (size_t)(at - s) - 1)) {
        *reason = "not an e-mail address (one '@' after a local part)";
        return KB_EINVAL;
    }
    for (const char *p = s; p < at; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == ',') {
            *reason = "invalid character in e-mail local part";
            return KB_EINVAL;
        }
    for (size_t i = 0; i < len; i++)
        if (kb_buf_putc(out, lower(s[i])))
            return KB_ENOMEM;
    size_t dl = len - (size_t)(at - s) - 1;
    return check_domain(out->data + out->len - dl, dl, reason);
}

static int unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int kb_intel_norm_url(const char *s, size_t len, kb_buf *out, const char **reason)
{
    size_t i = 0, scheme_end;
    while (i < len && s[i] != ':' && s[i] != '/')
        i++;
    if (i == 0 || i + 2 >= len || s[i] != ':' || s[i + 1] != '/' || s[i + 2] != '/') {
        *reason = "URL without scheme://";
        return KB_EINVAL;
    }
    scheme_end = i;
    for (size_t k = 0; k < scheme_end; k++) {
        char c = lower(s[k]);
        if (!((c >= 'a' && c <= 'z') || (k && ((c >= '0' && c <= '9') || c == '+' || c == '-' ||
                                                c == '.')))) {
            *reason = "invalid URL scheme";
            return KB_EINVAL;
        }
        if (kb_buf_putc(out, c))
            return KB_ENOMEM;
    }
    if (kb_buf_puts(out, "://"))
        return KB_ENOMEM;
    i = scheme_end + 3;
    /* authority: [userinfo@]host[:port] */
    size_t a_end = i;
    while (a_end < len && s[a_end] != '/' && s[a_end] != '?' && s[a_end] != '#')
        a_end++;
    size_t h = i;
    for (size_t k = i; k < a_end; k++)
        if (s[k] == '@')
            h = k + 1;
    if (h > i && kb_buf_append(out, s + i, h - i))
        return KB_ENOMEM;
    size_t port = a_end;
    if (h < a_end && s[h] == '[') {
        const char *rb = memchr(s + h, ']', a_end - h);
        if (!rb) {
            *reason = "unterminated IPv6 literal in URL";
            return KB_EINVAL;
        }
        port = (size_t)(rb - s) + 1;
        if (port < a_end && s[port] != ':') {
            *reason = "junk after IPv6 literal in URL";
            return KB_EINVAL;
        }
    } else {
        for (size_t k = h; k < a_end; k++)
            if (s[k] == ':') {
                port = k;
                break;
            }
    }
    size_t hl = port - h;
    while (hl && s[h + hl - 1] == '.') /* "host." and "host.." are host */
        hl--;
    if (hl == 0) {
        *reason = "URL without a host";
        return KB_EINVAL;
    }
    for (size_t k = h; k < h + hl; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c <= ' ' || c == '\\' || c == '"' || c == '<' || c == '>') {
            *reason = "invalid character in URL host";
            return KB_EINVAL;
        }
        if (kb_buf_putc(out, lower((char)c)))
            return KB_ENOMEM;
    }
    if (port < a_end) {
        const char *pp = s + port + 1;
        size_t pl = a_end - port - 1;
        uint64_t pv;
        if (pl == 0) {
            /* "host:" is the default port */
        } else if (pl > 5 || kb_parse_u64(pp, pl, &pv) || *pp == '+' || *pp == '-' ||
                   pv > 65535) {
            *reason = "bad port in URL";
            return KB_EINVAL;
        } else {
            size_t sl = scheme_end;
            const char *sc = out->data;
            int dflt = (kb_str_eqz(sc, sl, "http") && pv == 80) ||
                       (kb_str_eqz(sc, sl, "https") && pv == 443) ||
                       (kb_str_eqz(sc, sl, "ftp") && pv == 21);
            if (!dflt && kb_buf_printf(out, ":%u", (unsigned)pv))
                return KB_ENOMEM;
        }
    }
    /* path and query, fragment dropped */
    i = a_end;
    if (i >= len || s[i] != '/')
        if (kb_buf_putc(out, '/'))
            return KB_ENOMEM;
    for (; i < len && s[i] != '#'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && kb_intel_hexval(s[i + 1]) >= 0 &&
            kb_intel_hexval(s[i + 2]) >= 0) {
            int v = kb_intel_hexval(s[i + 1]) * 16 + kb_intel_hexval(s[i + 2]);
            int rc = unreserved(v) ? kb_buf_putc(out, (char)v)
                                   : kb_buf_printf(out, "%%%02X", (unsigned)v);
            if (rc)
                return KB_ENOMEM;
            i += 2;
            continue;
        }
        if (c <= ' ' || c == 0x7f || c == '%') {
            /* spaces, controls and a '%' that starts no escape are
             * written escaped (so normalising twice changes nothing) */
            if (kb_buf_printf(out, "%%%02X", (unsigned)c))
                return KB_ENOMEM;
            continue;
        }
        if (kb_buf_putc(out, (char)c))
            return KB_ENOMEM;
    }
    return KB_OK;
}

static int guess(const char *s, size_t len)
{
    uint8_t a[16];
    const char *slash = memchr(s, '/', len);
    if (kb_intel_parse_ip(s, slash ? (size_t)(slash - s) : len, a))
        return KB_IOC_IP;
    if (len == 32 || len == 40 || len == 64) {
        size_t i = 0;
        while (i < len && kb_intel_hexval(s[i]) >= 0)
            i++;
        if (i == len)
            return len == 32 ? KB_IOC_MD5 : len == 40 ? KB_IOC_SHA1 : KB_IOC_SHA256;
    }
    if (kb_memmem(s, len, "://", 3))
        return KB_IOC_URL;
    if (memchr(s, '@', len))
        return KB_IOC_EMAIL;
    return KB_IOC_DOMAIN;
}

int kb_intel_normalize(int kind, const char *s, size_t len, kb_buf *out, int *kind_out,
                       const char **reason)
{
    int rc = KB_OK;
    kb_buf_clear(out);
    trim(&s, &len);
    *reason = NULL;
    if (len == 0) {
        *reason = "empty value";
        return KB_EINVAL;
    }
    if (len > 8192) {
        *reason = "value longer than 8192 bytes";
        return KB_EINVAL;
    }
    if (memchr(s, 0, len)) {
        *reason = "NUL byte in value";
        return KB_EINVAL;
    }
    if (kind < 0)
        kind = guess(s, len);
    *kind_out = kind;
    switch (kind) {
    case KB_IOC_IP:
    case KB_IOC_CIDR:
        rc = norm_ip(s, len, out, kind_out, reason);
        break;
    case KB_IOC_DOMAIN:
        rc = norm_domain(s, len, out, reason);
        break;
    case KB_IOC_URL:
        rc = kb_intel_norm_url(s, len, out, reason);
        break;
    case KB_IOC_MD5:
    case KB_IOC_JA3:
        rc = norm_hex(s, len, 32, out, reason);
        break;
    case KB_IOC_SHA1:
        rc = norm_hex(s, len, 40, out, reason);
        break;
    case KB_IOC_SHA256:
        rc = norm_hex(s, len, 64, out, reason);
        break;
    case KB_IOC_EMAIL:
        rc = norm_email(s, len, out, reason);
        break;
    case KB_IOC_FILENAME: {
        size_t b = len;
        while (b && s[b - 1] != '/' && s[b - 1] != '\\')
            b--;
        while (b < len && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
            b++; /* the name is trimmed like the whole value */
        if (b == len) {
            *reason = "file name ends with a path separator";
            return KB_EINVAL;
        }
        for (size_t i = b; i < len; i++)
            if (kb_buf_putc(out, lower(s[i])))
                return KB_ENOMEM;
        break;
    }
    case KB_IOC_JA4:
        for (size_t i = 0; i < len; i++) {
            char c = lower(s[i]);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                *reason = "JA4 fingerprint has a character outside [a-z0-9_]";
                return KB_EINVAL;
            }
            if (kb_buf_putc(out, c))
                return KB_ENOMEM;
        }
        break;
    case KB_IOC_UA:
        if (kb_buf_append(out, s, len))
            return KB_ENOMEM;
        break;
    default:
        *reason = "unknown indicator kind";
        return KB_EINVAL;
    }
    if (rc == KB_EINVAL && !*reason)
        *reason = "invalid value";
    if (rc == KB_OK && kb_utf8_valid_prefix(out->data, out->len) != out->len) {
        *reason = "value is not valid UTF-8";
        return KB_EINVAL;
    }
    return rc;
}

/* ---- the sink ---------------------------------------------------------------- */

void kb_intel_sink_init(kb_intel_sink *s)
{
    memset(s, 0, sizeof *s);
    s->confidence = -1;
    kb_buf_init(&s->tmp, 1 << 16);
}

void kb_intel_sink_release(kb_intel_sink *s)
{
    kb_buf_release(&s->tmp);
}

void kb_intel_sink_reject(kb_intel_sink *s, const char *where, const char *reason)
{
    s->rejected++;
    if (s->reject)
        s->reject(s->ud, where ? where : "", reason);
}

int kb_intel_sink_add(kb_intel_sink *s, int kind, const char *v, size_t len,
                      const kb_indicator *meta, const char *where)
{
    const char *reason;
    int k, rc;
    kb_indicator ind;
    if (meta)
        ind = *meta;
    else
        ind = (kb_indicator){.confidence = -1, .first_seen = KB_TIME_NONE,
                             .last_seen = KB_TIME_NONE, .valid_until = KB_TIME_NONE};
    rc = kb_intel_normalize(kind, v, len, &s->tmp, &k, &reason);
    if (rc == KB_ENOMEM)
        return rc;
    if (rc) {
        char msg[256];
        int vl = len > 80 ? 80 : (int)len;
        snprintf(msg, sizeof msg, "%s: '%.*s'", reason, vl, v);
        kb_intel_sink_reject(s, where, msg);
        return KB_OK;
    }
    ind.kind = k;
    ind.value = s->tmp.data;
    if (!ind.feed)
        ind.feed = s->feed ? s->feed : "default";
    if (ind.confidence < 0)
        ind.confidence = s->confidence;
    if (ind.confidence > 100)
        ind.confidence = 100;
    if (!ind.threat)
        ind.threat = s->threat;
    s->added++;
    return s->add ? s->add(s->ud, &ind) : KB_OK;
}
