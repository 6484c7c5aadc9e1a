/* {{var}} templates with escaping by context, and validation by type.
 *
 * The rule: a value is escaped for the place it lands in, so its bytes can
 * only ever be data there. Hunt and JSON values get their quotes from us,
 * never from the template, so a template author cannot forget them. */
#include <string.h>

#include "respond/respond.h"

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

int kb_tmpl_escape(const char *v, size_t len, kb_esc ctx, int at_start, kb_buf *out,
                   const char **err)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = KB_OK;

    if (len > KB_RESP_MAX_VALUE) {
        *err = "value too long";
        return KB_EINVAL;
    }
    switch (ctx) {
    case KB_ESC_HUNT:
        for (size_t i = 0; i < len; i++)
            if (v[i] == '\0') {
                *err = "value contains a NUL byte";
                return KB_EINVAL;
            }
        rc |= kb_buf_putc(out, '"');
        for (size_t i = 0; i < len; i++) {
            if (v[i] == '"' || v[i] == '\\')
                rc |= kb_buf_putc(out, '\\');
            rc |= kb_buf_putc(out, v[i]);
        }
        rc |= kb_buf_putc(out, '"');
        break;
    case KB_ESC_JSON:
        rc |= kb_buf_putc(out, '"');
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c == '"' || c == '\\') {
                rc |= kb_buf_putc(out, '\\');
                rc |= kb_buf_putc(out, (char)c);
            } else if (c == '\n') {
                rc |= kb_buf_puts(out, "\\n");
            } else if (is_ctl(c)) {
                rc |= kb_buf_printf(out, "\\u%04x", c);
            } else {
                rc |= kb_buf_putc(out, (char)c);
            }
        }
        rc |= kb_buf_putc(out, '"');
        break;
    case KB_ESC_ARG:
        for (size_t i = 0; i < len; i++)
            if (is_ctl((unsigned char)v[i])) {
                *err = "value contains a control byte (refused in a command argument)";
                return KB_EINVAL;
            }
        if (at_start && len > 0 && v[0] == '-') {
            *err = "value starts with '-' (would read as an option)";
            return KB_EINVAL;
        }
        rc |= kb_buf_append(out, v, len);
        break;
    case KB_ESC_URL:
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)v[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                rc |= kb_buf_putc(out, (char)c);
            } else {
                rc |= kb_buf_putc(out, '%');
                rc |= kb_buf_putc(out, hex[c >> 4]);
                rc |= kb_buf_putc(out, hex[c & 15]);
            }
        }
        break;
    case KB_ESC_TEXT:
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)v[i];
            rc |= kb_buf_putc(out, is_ctl(c) && c != '\n' && c != '\t' ? '?' : (char)c);
        }
        break;
    }
    if (rc) {
        *err = "template output too large";
        return KB_ELIMIT;
    }
    return KB_OK;
}

/* Finds the next placeholder at or after i. Returns 1 with its name bounds
 * [*ns, *ne) and the end *end, 0 when none, -1 when unterminated/empty. */
static int next_placeholder(const char *t, size_t len, size_t i, size_t *start, size_t *ns,
                            size_t *ne, size_t *end)
{
    for (; i + 1 < len; i++) {
        if (t[i] != '{' || t[i + 1] != '{')
            continue;
        if (i + 3 < len && t[i + 2] == '{' && t[i + 3] == '{') {
            i += 3; /* literal {{{{ */
            continue;
        }
        size_t j = i + 2, a, b;
        while (j < len && (t[j] == ' ' || t[j] == '\t'))
            j++;
        a = j;
        while (j < len && (t[j] == '_' || t[j] == '.' || t[j] == '-' ||
                           (t[j] >= 'a' && t[j] <= 'z') || (t[j] >= 'A' && t[j] <= 'Z') ||
                           (t[j] >= '0' && t[j] <= '9')))
            j++;
        b = j;
        while (j < len && (t[j] == ' ' || t[j] == '\t'))
            j++;
        if (a == b || j + 1 >= len || t[j] != '}' || t[j + 1] != '}')
            return -1;
        *start = i, *ns = a, *ne = b, *end = j + 2;
        return 1;
    }
    return 0;
}

int kb_tmpl_each_var(const char *tmpl, size_t len,
                     void (*fn)(void *ud, const char *name, size_t nlen), void *ud,
                     const char **err)
{
    size_t i = 0, s, ns, ne, e;
    int r;
    while ((r = next_placeholder(tmpl, len, i, &s, &ns, &ne, &e)) == 1) {
        fn(ud, tmpl + ns, ne - ns);
        i = e;
    }
    if (r < 0) {
        *err = "unterminated or malformed {{ placeholder }}";
        return KB_EPARSE;
    }
    return KB_OK;
}

/* Appends literal text, turning {{{{ into {{. */
static int put_literal(kb_buf *out, const char *p, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 3 < n && p[i] == '{' && p[i + 1] == '{' && p[i + 2] == '{' && p[i + 3] == '{') {
            rc |= kb_buf_append(out, "{{", 2);
            i += 3;
            continue;
        }
        rc |= kb_buf_putc(out, p[i]);
    }
    return rc;
}

int kb_tmpl_render(const char *tmpl, size_t len, kb_esc ctx, kb_tmpl_lookup_fn fn, void *ud,
                   kb_buf *out, const char **err)
{
    return kb_tmpl_render_spans(tmpl, len, ctx, fn, ud, out, NULL, 0, NULL, err);
}

int kb_tmpl_render_spans(const char *tmpl, size_t len, kb_esc ctx, kb_tmpl_lookup_fn fn, void *ud,
                         kb_buf *out, kb_tmpl_span *spans, size_t maxspans, size_t *nspans,
                         const char **err)
{
    size_t i = 0, s, ns, ne, e, base = out->len, nsp = 0;
    int r, rc;

    if (nspans)
        *nspans = 0;

    while ((r = next_placeholder(tmpl, len, i, &s, &ns, &ne, &e)) == 1) {
        const char *v = NULL;
        size_t vlen = 0;
        int is_list = 0;
        if (put_literal(out, tmpl + i, s - i)) {
            *err = "template output too large";
            return KB_ELIMIT;
        }
        if (!fn(ud, tmpl + ns, ne - ns, &v, &vlen, &is_list)) {
            *err = "unknown variable in template";
            return KB_EINVAL;
        }
        if (is_list && ctx != KB_ESC_TEXT) {
            *err = "a list variable here needs for_each (one item at a time)";
            return KB_EINVAL;
        }
        size_t at = out->len;
        if ((rc = kb_tmpl_escape(v, vlen, ctx, out->len == base, out, err)))
            return rc;
        if (nsp < maxspans)
            spans[nsp] = (kb_tmpl_span){at, out->len, tmpl + ns, ne - ns, vlen};
        nsp++;
        if (nspans)
            *nspans = nsp;
        i = e;
    }
    if (r < 0) {
        *err = "unterminated or malformed {{ placeholder }}";
        return KB_EPARSE;
    }
    if (put_literal(out, tmpl + i, len - i)) {
        *err = "template output too large";
        return KB_ELIMIT;
    }
    return KB_OK;
}

/* ---- validation by type ------------------------------------------------------ */

static const char *const vtype_names[] = {"string", "ip", "cidr", "host", "user",
                                          "hash",   "path", "url", "int"};

int kb_vtype_find(const char *s)
{
    for (size_t i = 0; i < sizeof vtype_names / sizeof vtype_names[0]; i++)
        if (strcmp(vtype_names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *kb_vtype_name(kb_valtype t)
{
    return (size_t)t < sizeof vtype_names / sizeof vtype_names[0] ? vtype_names[t] : "?";
}

static int ipv4_ok(const char *v, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (i < len) {
        size_t d = 0;
        unsigned n = 0;
        while (i < len && v[i] >= '0' && v[i] <= '9' && d < 4) {
            n = n * 10 + (unsigned)(v[i] - '0');
            i++, d++;
        }
        if (d == 0 || d > 3 || n > 255 || (d > 1 && v[i - d] == '0'))
            return 0;
        parts++;
        if (i == len)
            break;
        if (v[i] != '.' || parts == 4)
            return 0;
        i++;
        if (i == len)
            return 0;
    }
    return parts == 4;
}

static int ipv6_ok(const char *v, size_t len)
{
    /* Hex groups and colons, at most one "::", an optional trailing IPv4. */
    size_t groups = 0, i = 0;
    int dbl = 0;
    if (len < 2 || len > 45)
        return 0;
    if (v[0] == ':' && v[1] == ':') {
        dbl = 1;
        i = 2;
    } else if (v[0] == ':') {
        return 0;
    }
    while (i < len) {
        size_t d = 0, st = i;
        while (i < len && d < 5 &&
               ((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
                (v[i] >= 'A' && v[i] <= 'F')))
            i++, d++;
        if (i < len && v[i] == '.') {
            if (!ipv4_ok(v + st, len - st))
                return 0;
            groups += 2;
            i = len;
            break;
        }
        if (d == 0 || d > 4)
            return 0;
        groups++;
        if (i == len)
            break;
        if (v[i] != ':')
            return 0;
        i++;
        if (i < len && v[i] == ':') {
            if (dbl)
                return 0;
            dbl = 1;
            i++;
            if (i == len)
                break;
        } else if (i == len) {
            return 0;
        }
    }
    return dbl ? groups < 8 : groups == 8;
}

int kb_vtype_check(kb_valtype t, const char *v, size_t len)
{
    if (len == 0 || len > KB_RESP_MAX_VALUE)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (is_ctl((unsigned char)v[i]))
            return 0;
    switch (t) {
    case KB_VT_STRING:
        return 1;
    case KB_VT_IP:
        return ipv4_ok(v, len) || ipv6_ok(v, len);
    case KB_VT_CIDR: {
        const char *sl = memchr(v, '/', len);
        if (!sl)
            return kb_vtype_check(KB_VT_IP, v, len);
        size_t al = (size_t)(sl - v), bl = len - al - 1;
        int64_t bits;
        if (kb_parse_i64(sl + 1, bl, &bits) || bits < 0 || bl > 3 || sl[1] == '+' ||
            sl[1] == '-')
            return 0;
        if (ipv4_ok(v, al))
            return bits <= 32;
        return ipv6_ok(v, al) && bits <= 128;
    }
    case KB_VT_HOST:
        if (v[0] == '-' || v[0] == '.' || len > 253)
            return 0;
        for (size_t i = 0; i < len; i++) {
            char c = v[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_'))
                return 0;
        }
        return 1;
    case KB_VT_USER:
        if (v[0] == '-' || len > 256)
            return 0;
        for (size_t i = 0; i < len; i++) {
            char c = v[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '@' || c == '\\' || c == '$'))
                return 0;
        }
        return 1;
    case KB_VT_HASH:
        if (len != 32 && len != 40 && len != 64)
            return 0;
        for (size_t i = 0; i < len; i++) {
            char c = v[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return 0;
        }
        return 1;
    case KB_VT_PATH:
        if (v[0] != '/' && !(len > 2 && v[1] == ':' && v[2] == '\\'))
            return 0;
        return kb_memmem(v, len, "..", 2) == NULL;
    case KB_VT_URL:
        if (!kb_str_has_prefix(v, len, "http://") && !kb_str_has_prefix(v, len, "https://"))
            return 0;
        for (size_t i = 0; i < len; i++)
            if (v[i] == ' ' || v[i] == '"' || v[i] == '\\')
                return 0;
        return 1;
    case KB_VT_INT: {
        int64_t n;
        return kb_parse_i64(v, len, &n) == KB_OK;
    }
    }
    return 0;
}
