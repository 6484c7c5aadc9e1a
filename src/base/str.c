/* Slices, bounded number parsing, hashing, UTF-8 validation. */
#define _GNU_SOURCE
#include <string.h>

#include "base/base.h"

int kb_str_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

int kb_str_eqz(const char *a, size_t alen, const char *z)
{
    return kb_str_eq(a, alen, z, strlen(z));
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int kb_str_ieqz(const char *a, size_t alen, const char *z)
{
    size_t i;
    for (i = 0; i < alen; i++)
        if (!z[i] || lower((unsigned char)a[i]) != lower((unsigned char)z[i]))
            return 0;
    return z[i] == '\0';
}

int kb_str_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

const char *kb_memmem(const char *h, size_t hlen, const char *n, size_t nlen)
{
    if (nlen == 0)
        return h;
    if (nlen > hlen)
        return NULL;
    return memmem(h, hlen, n, nlen);
}

int kb_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len && s[0] == '+')
        i++;
    if (i == len)
        return KB_EPARSE;
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return KB_EPARSE;
        if (v > (UINT64_MAX - d) / 10)
            return KB_ELIMIT;
        v = v * 10 + d;
    }
    *out = v;
    return KB_OK;
}

int kb_parse_i64(const char *s, size_t len, int64_t *out)
{
    uint64_t v;
    int neg = len && s[0] == '-';
    int rc = kb_parse_u64(s + neg, len - (size_t)neg, &v);

    if (rc)
        return rc;
    if (neg && len > 1 && s[1] == '+')
        return KB_EPARSE;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return KB_ELIMIT;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return KB_ELIMIT;
        *out = (int64_t)v;
    }
    return KB_OK;
}

uint64_t kb_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

size_t kb_utf8_valid_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

size_t kb_path_base(const char *s, size_t len)
{
    size_t b = len;
    while (b && s[b - 1] != '/' && s[b - 1] != '\\')
        b--;
    return b;
}
