/* The asset inventory: import (CSV, JSON), lookup by name and by address at
 * a time, persistence. Also the helpers the other triage files share
 * (CSV reader, addresses, report lines, the schema). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/json.h"
#include "store/store.h"
#include "triage/triage-int.h"

#define REPORT_CAP (64u << 10)
#define FILE_CAP ((size_t)256 << 20)
#define MAX_ADDRS 64

/* ---- small helpers ------------------------------------------------------ */

void kb_import_report_init(kb_import_report *r)
{
    memset(r, 0, sizeof *r);
    kb_buf_init(&r->errors, REPORT_CAP);
}

void kb_import_report_release(kb_import_report *r)
{
    kb_buf_release(&r->errors);
}

void report_bad(kb_import_report *r, const char *name, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    size_t mark = r->errors.len;
    r->bad++;
    if (kb_buf_printf(&r->errors, "%s:%llu: ", name, (unsigned long long)line) != KB_OK)
        goto cut;
    va_start(ap, fmt);
    if (kb_buf_vprintf(&r->errors, fmt, ap) != KB_OK) {
        va_end(ap);
        goto cut;
    }
    va_end(ap);
    if (kb_buf_putc(&r->errors, '\n') == KB_OK)
        return;
cut:
    r->errors.len = mark;
    r->errors.data[mark] = 0;
}

kb_str str_trim(const char *p, size_t len)
{
    while (len && isspace((unsigned char)*p))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    return (kb_str){p, len};
}

int str_icontains(const char *h, size_t hlen, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return 1;
    for (size_t i = 0; i + n <= hlen; i++)
        if (strncasecmp(h + i, needle, n) == 0)
            return 1;
    return 0;
}

int parse_double(const char *s, size_t len, double *out)
{
    char tmp[48];
    char *end;
    kb_str t = str_trim(s, len);
    if (!t.len || t.len >= sizeof tmp)
        return KB_EPARSE;
    memcpy(tmp, t.p, t.len);
    tmp[t.len] = 0;
    for (size_t i = 0; i < t.len; i++)
        if (!isdigit((unsigned char)tmp[i]) && tmp[i] != '.' && tmp[i] != '-')
            return KB_EPARSE;
    *out = strtod(tmp, &end);
    return *end ? KB_EPARSE : KB_OK;
}

/* "Mon Jul  1 11:40:48 2013" */
static int time_parse_ctime(const char *s, size_t len, int64_t *out)
{
    kb_str w[5];
    size_t n = 0, i = 0;
    int64_t d, y;
    int mon, h, mi, se;
    while (i < len && n < 5) {
        while (i < len && s[i] == ' ')
            i++;
        size_t st = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i > st)
            w[n++] = (kb_str){s + st, i - st};
    }
    while (i < len && s[i] == ' ')
        i++;
    if (n != 5 || i != len || !(mon = kb_month_from_abbr(w[1].p, w[1].len)) ||
        kb_parse_i64(w[2].p, w[2].len, &d) || kb_parse_i64(w[4].p, w[4].len, &y) ||
        w[3].len != 8 || w[3].p[2] != ':' || w[3].p[5] != ':')
        return KB_EPARSE;
    int64_t hh, mm, ss;
    if (kb_parse_i64(w[3].p, 2, &hh) || kb_parse_i64(w[3].p + 3, 2, &mm) ||
        kb_parse_i64(w[3].p + 6, 2, &ss))
        return KB_EPARSE;
    h = (int)hh, mi = (int)mm, se = (int)ss;
    if (y < 1970 || y > 9999 || d < 1 || d > 31)
        return KB_EPARSE;
    return kb_time_make((int)y, mon, (int)d, h, mi, se, 0, out);
}

int time_parse_any(const char *s, size_t len, int64_t *out)
{
    kb_str t = str_trim(s, len);
    if (!t.len)
        return KB_EPARSE;
    if (t.len == 10 && t.p[4] == '-' && t.p[7] == '-') {
        int64_t y, m, d;
        if (kb_parse_i64(t.p, 4, &y) || kb_parse_i64(t.p + 5, 2, &m) ||
            kb_parse_i64(t.p + 8, 2, &d))
            return KB_EPARSE;
        return kb_time_make((int)y, (int)m, (int)d, 0, 0, 0, 0, out);
    }
    if (kb_time_parse_iso8601(t.p, t.len, out) == KB_OK)
        return KB_OK;
    if (isdigit((unsigned char)t.p[0]) && kb_time_parse_epoch(t.p, t.len, out) == KB_OK)
        return KB_OK;
    return time_parse_ctime(t.p, t.len, out);
}

void cve_scan(const char *s, size_t len, void (*fn)(void *ud, const char *cve, size_t n),
              void *ud)
{
    char buf[32];
    for (size_t i = 0; i + 12 <= len; i++) {
        size_t j;
        int tag;
        if ((s[i] | 0x20) != 'c' || (s[i + 1] | 0x20) != 'v' || (s[i + 2] | 0x20) != 'e' ||
            (s[i + 3] != '-' && s[i + 3] != '.' && s[i + 3] != '_'))
            continue;
        if (i && isalnum((unsigned char)s[i - 1]))
            continue;
        tag = s[i + 3] != '-';
        for (j = i + 4; j < i + 8; j++)
            if (!isdigit((unsigned char)s[j]))
                break;
        if (j != i + 8 || (s[j] != '-' && !(tag && s[j] == '_')))
            continue;
        j++;
        size_t ds = j;
        while (j < len && j - ds < 8 && isdigit((unsigned char)s[j]))
            j++;
        if (j - ds < 4 || (j < len && isalnum((unsigned char)s[j])))
            continue;
        memcpy(buf, "CVE-", 4);
        memcpy(buf + 4, s + i + 4, 4);
        buf[8] = '-';
        memcpy(buf + 9, s + ds, j - ds);
        fn(ud, buf, 9 + (j - ds));
        i = j - 1;
    }
}

int tx_exec(kb_store *st, const char *sql, const kb_sval *p, size_t n)
{
    return kb_store_exec(st, sql, p, n, NULL, NULL);
}

/* ---- addresses ------------------------------------------------------------ */

int kb_ip_parse(const char *s, size_t len, kb_ip *out)
{
    char tmp[64];
    struct in_addr a4;
    if (!len || len >= sizeof tmp)
        return KB_EPARSE;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, tmp, &a4) == 1) {
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, &a4, 4);
        return KB_OK;
    }
    return inet_pton(AF_INET6, tmp, out->b) == 1 ? KB_OK : KB_EPARSE;
}

static int ip_is_v4(const kb_ip *ip)
{
    static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(ip->b, pre, 12) == 0;
}

int kb_cidr_parse(const char *s, size_t len, kb_ip *net, int *bits)
{
    const char *slash = memchr(s, '/', len);
    int64_t b;
    if (kb_ip_parse(s, slash ? (size_t)(slash - s) : len, net))
        return KB_EPARSE;
    if (!slash) {
        *bits = 128;
        return KB_OK;
    }
    if (kb_parse_i64(slash + 1, len - (size_t)(slash + 1 - s), &b) || b < 0 ||
        b > (ip_is_v4(net) ? 32 : 128))
        return KB_EPARSE;
    *bits = (int)b + (ip_is_v4(net) ? 96 : 0);
    return KB_OK;
}

int kb_cidr_contains(const kb_ip *net, int bits, const kb_ip *ip)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(net->b, ip->b, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->b[full] & mask) == (ip->b[full] & mask);
}

const char *kb_ip_format(const kb_ip *ip, char *buf, size_t size)
{
    if (ip_is_v4(ip))
        inet_ntop(AF_INET, ip->b + 12, buf, (socklen_t)size);
    else
        inet_ntop(AF_INET6, ip->b, buf, (socklen_t)size);
    return buf;
}

/* ---- CSV ------------------------------------------------------------------ */

void csv_init(csv_reader *c, const char *p, size_t len)
{
    size_t counts[3] = {0, 0, 0};
    const char ds[3] = {',', ';', '\t'};
    memset(c, 0, sizeof *c);
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3, len -= 3;
    c->p = p;
    c->end = p + len;
    c->line = 1;
    for (const char *q = p; q < c->end && *q != '\n'; q++)
        for (int k = 0; k < 3; k++)
            counts[k] += *q == ds[k];
    c->delim = ',';
    if (counts[1] > counts[0] && counts[1] >= counts[2])
        c->delim = ';';
    else if (counts[2] > counts[0] && counts[2] > counts[1])
        c->delim = '\t';
    kb_buf_init(&c->rec, CSV_MAX_RECORD);
}

void csv_release(csv_reader *c)
{
    kb_buf_release(&c->rec);
}

int csv_next(csv_reader *c)
{
    const char *p;
again:
    p = c->p;
    if (p >= c->end)
        return 0;
    if (*p == '\n' || (*p == '\r' && p + 1 < c->end && p[1] == '\n')) {
        c->p = p + (*p == '\r' ? 2 : 1);
        c->line++;
        goto again;
    }
    kb_buf_clear(&c->rec);
    c->n = 0;
    c->rec_line = c->line;
    for (;;) {
        if (c->n >= CSV_MAX_FIELDS) {
            c->err = "more than 256 fields";
            return -1;
        }
        c->off[c->n] = c->rec.len;
        if (p < c->end && *p == '"') {
            p++;
            for (;;) {
                const char *q = p;
                while (q < c->end && *q != '"') {
                    if (*q == '\n')
                        c->line++;
                    q++;
                }
                if (q >= c->end) {
                    c->err = "unterminated quoted field";
                    return -1;
                }
                if (kb_buf_append(&c->rec, p, (size_t)(q - p))) {
                    c->err = "record longer than 1 MiB";
                    return -1;
                }
                p = q + 1;
                if (p < c->end && *p == '"') {
                    kb_buf_putc(&c->rec, '"');
                    p++;
                    continue;
                }
                break;
            }
            /* bytes between the closing quote and the delimiter are kept */
            while (p < c->end && *p != c->delim && *p != '\n' && *p != '\r')
                kb_buf_putc(&c->rec, *p++);
        } else {
            const char *q = p;
            while (q < c->end && *q != c->delim && *q != '\n')
                q++;
            size_t n = (size_t)(q - p);
            if (n && p[n - 1] == '\r' && (q >= c->end || *q == '\n'))
                n--;
            if (kb_buf_append(&c->rec, p, n)) {
                c->err = "record longer than 1 MiB";
                return -1;
            }
            p = q;
        }
        c->n++;
        if (p < c->end && *p == c->delim) {
            p++;
            continue;
        }
        if (p < c->end && *p == '\r')
            p++;
        if (p < c->end && *p == '\n') {
            p++;
            c->line++;
        }
        break;
    }
    c->p = p;
    c->off[c->n] = c->rec.len;
    for (size_t i = 0; i < c->n; i++)
        c->f[i] = (kb_str){c->rec.data + c->off[i], c->off[i + 1] - c->off[i]};
    return 1;
}

int csv_header(csv_reader *c, kb_import_report *rep, const char *name, kb_str *hdr, char **hbuf,
               size_t *nh)
{
    int r = csv_next(c);
    if (r <= 0) {
        if (r < 0)
            report_bad(rep, name, c->rec_line, "%s", c->err);
        return 0;
    }
    *nh = c->n;
    if (!(*hbuf = kb_malloc(c->rec.len + 1)))
        return KB_ENOMEM;
    memcpy(*hbuf, c->rec.data, c->rec.len + 1);
    for (size_t i = 0; i < *nh; i++)
        hdr[i] = (kb_str){*hbuf + (c->f[i].p - c->rec.data), c->f[i].len};
    return 1;
}

int csv_col(const kb_str *hdr, size_t n, const char *const *names)
{
    for (const char *const *nm = names; *nm; nm++)
        for (size_t i = 0; i < n; i++) {
            kb_str t = str_trim(hdr[i].p, hdr[i].len);
            if (kb_str_ieqz(t.p, t.len, *nm))
                return (int)i;
        }
    return -1;
}

/* ---- the inventory --------------------------------------------------------- */

typedef struct addr_ix {
    kb_ip ip;
    int64_t from, to;
    uint32_t asset;
} addr_ix;

struct kb_assets {
    kb_arena *arena;
    kb_asset *v;
    size_t n, cap;
    /* name index: open addressing over v indexes (+1; 0 empty) */
    uint32_t *slots;
    size_t nslots;
    /* first labels of fully-qualified names (v indexes + 1), built by rebuild */
    uint32_t *lslots;
    size_t nlslots;
    addr_ix *ax;
    size_t nax;
    int dirty;
};

kb_assets *kb_assets_new(void)
{
    kb_assets *a = kb_calloc(1, sizeof *a);
    if (!a || !(a->arena = kb_arena_new(64 << 10, (size_t)1 << 30))) {
        kb_free(a);
        return NULL;
    }
    return a;
}

void kb_assets_free(kb_assets *a)
{
    if (!a)
        return;
    kb_arena_free(a->arena);
    kb_free(a->v);
    kb_free(a->slots);
    kb_free(a->lslots);
    kb_free(a->ax);
    kb_free(a);
}

size_t kb_assets_count(const kb_assets *a)
{
    return a->n;
}

static int cmp_asset(const void *x, const void *y)
{
    return strcmp(((const kb_asset *)x)->name, ((const kb_asset *)y)->name);
}

static int cmp_addr(const void *x, const void *y)
{
    const addr_ix *p = x, *q = y;
    int c = memcmp(p->ip.b, q->ip.b, 16);
    if (c)
        return c;
    return p->from < q->from ? -1 : p->from > q->from;
}

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 1099511628211ULL;
    return h;
}

/* (Re)builds the name hash over v[0..n) with room for `room` more. */
static int hash_names(kb_assets *a, size_t room)
{
    size_t ns = 16;
    while (ns < (a->n + room) * 2 + 2)
        ns *= 2;
    uint32_t *sl = kb_calloc(ns, sizeof *sl);
    if (!sl)
        return KB_ENOMEM;
    kb_free(a->slots);
    a->slots = sl, a->nslots = ns;
    for (size_t i = 0; i < a->n; i++) {
        size_t s = name_hash(a->v[i].name, strlen(a->v[i].name)) & (ns - 1);
        while (sl[s])
            s = (s + 1) & (ns - 1);
        sl[s] = (uint32_t)i + 1;
    }
    return KB_OK;
}

/* Sorts by name and rebuilds the indexes, after imports (lazily). The name
 * hash is also kept up to date on every insert (put_asset), so that an
 * import stays linear. */
static int rebuild(kb_assets *a)
{
    size_t nax = 0;
    if (!a->dirty)
        return KB_OK;
    qsort(a->v, a->n, sizeof *a->v, cmp_asset);
    if (hash_names(a, 0))
        return KB_ENOMEM;
    kb_free(a->lslots);
    a->nlslots = a->nslots;
    if (!(a->lslots = kb_calloc(a->nlslots, sizeof *a->lslots)))
        return KB_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        const char *nm = a->v[i].name, *dot = strchr(nm, '.');
        nax += a->v[i].naddrs;
        if (!dot || dot == nm)
            continue;
        size_t s = name_hash(nm, (size_t)(dot - nm)) & (a->nlslots - 1);
        while (a->lslots[s])
            s = (s + 1) & (a->nlslots - 1);
        a->lslots[s] = (uint32_t)i + 1;
    }
    kb_free(a->ax);
    a->ax = kb_malloc((nax ? nax : 1) * sizeof *a->ax);
    if (!a->ax)
        return KB_ENOMEM;
    a->nax = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < a->v[i].naddrs; j++)
            a->ax[a->nax++] = (addr_ix){a->v[i].addrs[j].ip, a->v[i].addrs[j].from,
                                        a->v[i].addrs[j].to, (uint32_t)i};
    qsort(a->ax, a->nax, sizeof *a->ax, cmp_addr);
    a->dirty = 0;
    return KB_OK;
}

const kb_asset *kb_assets_at(kb_assets *a, size_t i)
{
    if (rebuild(a) || i >= a->n)
        return NULL;
    return &a->v[i];
}

static const kb_asset *find_exact(kb_assets *a, const char *name, size_t len)
{
    if (!a->n)
        return NULL;
    size_t s = name_hash(name, len) & (a->nslots - 1);
    while (a->slots[s]) {
        const kb_asset *as = &a->v[a->slots[s] - 1];
        if (kb_str_ieqz(name, len, as->name))
            return as;
        s = (s + 1) & (a->nslots - 1);
    }
    return NULL;
}

const kb_asset *kb_assets_by_name(kb_assets *a, const char *name, size_t len)
{
    const kb_asset *as;
    const char *dot;
    if (!name || !len || rebuild(a))
        return NULL;
    if ((as = find_exact(a, name, len)))
        return as;
    /* pc-0042.corp.example.com finds pc-0042 */
    if ((dot = memchr(name, '.', len)) && dot > name &&
        (as = find_exact(a, name, (size_t)(dot - name))))
        return as;
    /* a short name finds the fully-qualified asset (the first in name order) */
    if (!dot && a->nlslots) {
        size_t s = name_hash(name, len) & (a->nlslots - 1);
        for (; a->lslots[s]; s = (s + 1) & (a->nlslots - 1)) {
            const char *nm = a->v[a->lslots[s] - 1].name;
            if (strncasecmp(nm, name, len) == 0 && nm[len] == '.')
                return &a->v[a->lslots[s] - 1];
        }
    }
    return NULL;
}

const kb_asset *kb_assets_by_ip(kb_assets *a, const kb_ip *ip, int64_t ts)
{
    size_t lo = 0, hi;
    if (rebuild(a))
        return NULL;
    hi = a->nax;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(a->ax[mid].ip.b, ip->b, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < a->nax && memcmp(a->ax[i].ip.b, ip->b, 16) == 0; i++) {
        const addr_ix *x = &a->ax[i];
        if (ts == KB_TIME_NONE || ((x->from == KB_TIME_NONE || ts >= x->from) &&
                                   (x->to == KB_TIME_NONE || ts < x->to)))
            return &a->v[x->asset];
    }
    return NULL;
}

/* An asset being built from one row. */
typedef struct row {
    kb_str name, mac, owner, dept, loc, type, tags;
    kb_str source; /* "file:line" when loaded from the store */
    int crit;
    kb_asset_addr addrs[MAX_ADDRS];
    size_t naddrs;
} row;

static char *lower_dup(kb_arena *ar, kb_str s, int dash)
{
    kb_str t = str_trim(s.p, s.len);
    char *d = kb_arena_strndup(ar, t.p ? t.p : "", t.len);
    if (!d)
        return NULL;
    for (char *q = d; *q; q++) {
        *q = (char)tolower((unsigned char)*q);
        if (dash && *q == ' ')
            *q = '-';
    }
    return d;
}

/* Host names are looked up as C strings: no NUL or other control byte. */
static int name_has_ctl(kb_str n)
{
    for (size_t i = 0; i < n.len; i++)
        if ((unsigned char)n.p[i] < 0x20 || n.p[i] == 0x7f)
            return 1;
    return 0;
}

/* Tags as policies name them: separated by ',', ';' or '|', each trimmed,
 * lower case, inner spaces and '_' as '-' ("Personal Data; PCI" ->
 * "personal-data,pci"); empty ones dropped. */
static char *norm_tags(kb_arena *ar, kb_str s)
{
    char *d = kb_arena_alloc(ar, s.len + 1);
    size_t n = 0, i = 0;
    if (!d)
        return NULL;
    while (i < s.len) {
        size_t st = i;
        while (i < s.len && s.p[i] != ',' && s.p[i] != ';' && s.p[i] != '|')
            i++;
        kb_str t = str_trim(s.p + st, i - st);
        i++;
        if (!t.len)
            continue;
        if (n)
            d[n++] = ',';
        for (size_t k = 0; k < t.len; k++) {
            char c = (char)tolower((unsigned char)t.p[k]);
            d[n++] = c == ' ' || c == '_' || c == '\t' ? '-' : c;
        }
    }
    d[n] = 0;
    return d;
}

/* Public server, internal server, user PC, or the company's own word. */
static kb_str norm_type(kb_str t)
{
    static const struct {
        const char *alias, *type;
    } map[] = {
        {"public server", KB_ASSET_PUBLIC_SERVER}, {"public-server", KB_ASSET_PUBLIC_SERVER},
        {"public", KB_ASSET_PUBLIC_SERVER},        {"dmz", KB_ASSET_PUBLIC_SERVER},
        {"internal server", KB_ASSET_INTERNAL_SERVER},
        {"internal-server", KB_ASSET_INTERNAL_SERVER},
        {"server", KB_ASSET_INTERNAL_SERVER},      {"application server", KB_ASSET_INTERNAL_SERVER},
        {"user pc", KB_ASSET_USER_PC},             {"user-pc", KB_ASSET_USER_PC},
        {"pc", KB_ASSET_USER_PC},                  {"workstation", KB_ASSET_USER_PC},
        {"laptop", KB_ASSET_USER_PC},              {"desktop", KB_ASSET_USER_PC},
    };
    t = str_trim(t.p, t.len);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (kb_str_ieqz(t.p, t.len, map[i].alias))
            return (kb_str){map[i].type, strlen(map[i].type)};
    return t;
}

/* "ADDR", "ADDR@FROM/TO", "ADDR@FROM/" or "ADDR@/TO". */
static const char *parse_addr(kb_str s, kb_asset_addr *out)
{
    const char *at = memchr(s.p, '@', s.len);
    size_t alen = at ? (size_t)(at - s.p) : s.len;
    const char *slash;
    out->from = out->to = KB_TIME_NONE;
    /* NetBox writes addresses with their prefix length: 192.168.0.1/22 */
    slash = memchr(s.p, '/', alen);
    if (kb_ip_parse(s.p, slash ? (size_t)(slash - s.p) : alen, &out->ip))
        return "bad address";
    if (!at)
        return NULL;
    kb_str v = {at + 1, s.len - alen - 1};
    const char *sep = memchr(v.p, '/', v.len);
    if (!sep)
        return "validity must be FROM/TO";
    size_t fl = (size_t)(sep - v.p), tl = v.len - fl - 1;
    if (fl && time_parse_any(v.p, fl, &out->from))
        return "bad validity start";
    if (tl && time_parse_any(sep + 1, tl, &out->to))
        return "bad validity end";
    if (out->from != KB_TIME_NONE && out->to != KB_TIME_NONE && out->to <= out->from)
        return "validity ends before it starts";
    return NULL;
}

/* Adds the addresses of a cell: separated by spaces, ';', '|' or ','. */
static const char *add_addrs(row *r, kb_str cell, kb_str *bad)
{
    size_t i = 0;
    while (i < cell.len) {
        while (i < cell.len && strchr(" ;|,\t\r\n", cell.p[i]))
            i++;
        size_t st = i;
        while (i < cell.len && !strchr(" ;|,\t\r\n", cell.p[i]))
            i++;
        if (i == st)
            break;
        if (r->naddrs >= MAX_ADDRS)
            return "more than 64 addresses";
        const char *why = parse_addr((kb_str){cell.p + st, i - st}, &r->addrs[r->naddrs]);
        if (why) {
            *bad = (kb_str){cell.p + st, i - st};
            return why;
        }
        r->naddrs++;
    }
    return NULL;
}

static int put_asset(kb_assets *a, const row *r, const char *src, uint64_t line)
{
    kb_asset as;
    kb_asset_addr *addrs = NULL;
    char where[600];
    kb_str ty = norm_type(r->type);

    memset(&as, 0, sizeof as);
    if (!(as.name = lower_dup(a->arena, r->name, 0)) ||
        !(as.mac = lower_dup(a->arena, r->mac, 0)) ||
        !(as.owner = kb_arena_strndup(a->arena, r->owner.p ? r->owner.p : "", r->owner.len)) ||
        !(as.department = kb_arena_strndup(a->arena, r->dept.p ? r->dept.p : "", r->dept.len)) ||
        !(as.location = kb_arena_strndup(a->arena, r->loc.p ? r->loc.p : "", r->loc.len)) ||
        !(as.type = lower_dup(a->arena, ty, 1)) || !(as.tags = norm_tags(a->arena, r->tags)))
        return KB_ENOMEM;
    if (r->source.len)
        snprintf(where, sizeof where, "%.*s", (int)r->source.len, r->source.p);
    else
        snprintf(where, sizeof where, "%s:%llu", src, (unsigned long long)line);
    if (!(as.source = kb_arena_strndup(a->arena, where, strlen(where))))
        return KB_ENOMEM;
    as.criticality = r->crit;
    if (r->naddrs) {
        if (!(addrs = kb_arena_alloc(a->arena, r->naddrs * sizeof *addrs)))
            return KB_ENOMEM;
        memcpy(addrs, r->addrs, r->naddrs * sizeof *addrs);
    }
    as.addrs = addrs;
    as.naddrs = r->naddrs;
    if ((a->n + 1) * 2 + 2 >= a->nslots && hash_names(a, a->n + 1))
        return KB_ENOMEM;
    const kb_asset *old = find_exact(a, as.name, strlen(as.name));
    if (old) {
        a->v[old - a->v] = as;
    } else {
        if (kb_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, 256))
            return KB_ENOMEM;
        a->v[a->n++] = as;
        size_t s = name_hash(as.name, strlen(as.name)) & (a->nslots - 1);
        while (a->slots[s])
            s = (s + 1) & (a->nslots - 1);
        a->slots[s] = (uint32_t)a->n;
    }
    a->dirty = 1;
    return KB_OK;
}

static const char *check_crit(kb_str c, int *out)
{
    int64_t v;
    kb_str t = str_trim(c.p, c.len);
    *out = 0;
    if (!t.len)
        return NULL;
    if (kb_parse_i64(t.p, t.len, &v) || v < 1 || v > 5)
        return "criticality must be 1-5";
    *out = (int)v;
    return NULL;
}

static const char *const COL_NAME[] = {"name", "host", "hostname", "host.name", "host_name",
                                       NULL};
static const char *const COL_ADDR[] = {"addresses", "address", "ip", "ips", "ip_address",
                                       "primary_ip", "primary_ip4", NULL};
static const char *const COL_MAC[] = {"mac", "mac_address", NULL};
static const char *const COL_OWNER[] = {"owner", "tenant", "contact", NULL};
static const char *const COL_DEPT[] = {"department", "dept", "division", NULL};
static const char *const COL_LOC[] = {"location", "site", "site_or_cluster", NULL};
static const char *const COL_TYPE[] = {"type", "system_type", "system type", "role", NULL};
static const char *const COL_CRIT[] = {"criticality", "crit", NULL};
static const char *const COL_TAGS[] = {"tags", "tag", NULL};

static kb_str cell(const csv_reader *c, int col)
{
    return col >= 0 && (size_t)col < c->n ? c->f[col] : (kb_str){"", 0};
}

static int import_csv(kb_assets *a, const char *name, const char *p, size_t len,
                      kb_import_report *rep)
{
    csv_reader c;
    kb_str hdr[CSV_MAX_FIELDS];
    char *hbuf = NULL;
    size_t nh;
    int cn, ca, cm, co, cd, cl, ct, cc, cg, r, rc = KB_OK;

    csv_init(&c, p, len);
    if ((r = csv_header(&c, rep, name, hdr, &hbuf, &nh)) <= 0) {
        rc = r < 0 ? KB_ENOMEM : KB_OK;
        goto out;
    }
    cn = csv_col(hdr, nh, COL_NAME), ca = csv_col(hdr, nh, COL_ADDR);
    cm = csv_col(hdr, nh, COL_MAC), co = csv_col(hdr, nh, COL_OWNER);
    cd = csv_col(hdr, nh, COL_DEPT), cl = csv_col(hdr, nh, COL_LOC);
    ct = csv_col(hdr, nh, COL_TYPE), cc = csv_col(hdr, nh, COL_CRIT);
    cg = csv_col(hdr, nh, COL_TAGS);
    if (cn < 0) {
        report_bad(rep, name, 1, "no host name column (name, host, hostname)");
        rc = KB_EFORMAT;
        goto out;
    }
    while ((r = csv_next(&c)) > 0) {
        row rw;
        kb_str badv = {"", 0};
        const char *why;
        memset(&rw, 0, sizeof rw);
        rep->rows++;
        if (c.n != nh) {
            report_bad(rep, name, c.rec_line, "%zu fields, the header has %zu", c.n, nh);
            continue;
        }
        rw.name = str_trim(cell(&c, cn).p, cell(&c, cn).len);
        if (!rw.name.len) {
            report_bad(rep, name, c.rec_line, "missing host name");
            continue;
        }
        if (name_has_ctl(rw.name)) {
            report_bad(rep, name, c.rec_line, "control character in the host name");
            continue;
        }
        if ((why = check_crit(cell(&c, cc), &rw.crit))) {
            report_bad(rep, name, c.rec_line, "%s", why);
            continue;
        }
        if ((why = add_addrs(&rw, cell(&c, ca), &badv))) {
            report_bad(rep, name, c.rec_line, "%s '%.*s'", why, (int)badv.len, badv.p);
            continue;
        }
        rw.mac = cell(&c, cm), rw.owner = cell(&c, co), rw.dept = cell(&c, cd);
        rw.loc = cell(&c, cl), rw.type = cell(&c, ct), rw.tags = cell(&c, cg);
        if ((rc = put_asset(a, &rw, name, c.rec_line)))
            goto out;
        rep->imported++;
    }
    if (r < 0)
        report_bad(rep, name, c.rec_line, "%s", c.err);
out:
    kb_free(hbuf);
    csv_release(&c);
    return rc;
}

/* JSON: one object per line or an array of objects. Objects are found with
 * a flat scanner (strings and nesting counted, no recursion) and each is
 * flattened with kb_json_flatten. */
static kb_str json_first(const kb_event *ev, const char *const *names)
{
    for (const char *const *nm = names; *nm; nm++) {
        const kb_field *f = kb_event_get_named(ev, *nm);
        if (f && f->type != KB_V_NULL && f->type != KB_V_ARRAY && f->type != KB_V_OBJECT)
            return (kb_str){f->val, f->len};
    }
    return (kb_str){"", 0};
}

static const char *json_addrs(const kb_event *ev, row *rw, kb_str *bad)
{
    static const char *const arrays[] = {"addresses", "address", "ip", "ips", NULL};
    for (const char *const *nm = arrays; *nm; nm++) {
        kb_fid id = kb_names_lookup(ev->names, *nm, strlen(*nm));
        char sub[64];
        const kb_field *f;
        if (id == KB_FID_NONE)
            goto objects;
        f = kb_event_get(ev, id);
        if (!f)
            goto objects;
        if (f->type == KB_V_STR)
            return add_addrs(rw, (kb_str){f->val, f->len}, bad);
        for (f = kb_event_next(ev, id, NULL); f; f = kb_event_next(ev, id, f))
            if ((f->flags & KB_FF_ELEM) && f->type == KB_V_STR) {
                const char *why = add_addrs(rw, (kb_str){f->val, f->len}, bad);
                if (why)
                    return why;
            }
    objects:
        /* [{"ip": "...", "from": "...", "to": "..."}] flattens to addresses.ip etc. */
        snprintf(sub, sizeof sub, "%s.ip", *nm);
        kb_fid ip = kb_names_lookup(ev->names, sub, strlen(sub));
        if (ip == KB_FID_NONE)
            continue;
        snprintf(sub, sizeof sub, "%s.from", *nm);
        kb_fid fr = kb_names_lookup(ev->names, sub, strlen(sub));
        snprintf(sub, sizeof sub, "%s.to", *nm);
        kb_fid to = kb_names_lookup(ev->names, sub, strlen(sub));
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const kb_field *g = &ev->fields[i];
            if (g->name != ip)
                continue;
            if (rw->naddrs >= MAX_ADDRS)
                return "more than 64 addresses";
            kb_asset_addr *ad = &rw->addrs[rw->naddrs];
            kb_str s = {g->val, g->len};
            const char *slash = memchr(s.p, '/', s.len);
            ad->from = ad->to = KB_TIME_NONE;
            if (kb_ip_parse(s.p, slash ? (size_t)(slash - s.p) : s.len, &ad->ip)) {
                *bad = s;
                return "bad address";
            }
            for (uint32_t j = 0; j < ev->nfields; j++) {
                const kb_field *h = &ev->fields[j];
                if (h->elem != g->elem || (h->name != fr && h->name != to) ||
                    h->type != KB_V_STR)
                    continue;
                if (time_parse_any(h->val, h->len, h->name == fr ? &ad->from : &ad->to)) {
                    *bad = (kb_str){h->val, h->len};
                    return "bad validity time";
                }
            }
            rw->naddrs++;
        }
    }
    return NULL;
}

static int json_tags(const kb_event *ev, kb_buf *b)
{
    kb_fid id = kb_names_lookup(ev->names, "tags", 4);
    const kb_field *f;
    kb_buf_clear(b);
    if (id == KB_FID_NONE || !(f = kb_event_get(ev, id)))
        return 0;
    if (f->type == KB_V_STR)
        return kb_buf_append(b, f->val, f->len);
    for (f = kb_event_next(ev, id, NULL); f; f = kb_event_next(ev, id, f))
        if ((f->flags & KB_FF_ELEM) && f->type == KB_V_STR) {
            if (b->len)
                kb_buf_putc(b, ',');
            kb_buf_append(b, f->val, f->len);
        }
    return 0;
}

static int import_json(kb_assets *a, const char *name, const char *p, size_t len,
                       kb_import_report *rep)
{
    kb_names *names = kb_names_new(4096);
    kb_arena *ar = kb_arena_new(64 << 10, 64 << 20);
    kb_buf tags;
    size_t i = 0;
    uint64_t line = 1;
    int rc = KB_OK;

    kb_buf_init(&tags, 1 << 20);
    if (!names || !ar) {
        rc = KB_ENOMEM;
        goto out;
    }
    while (i < len) {
        /* find the next top-level object */
        while (i < len && p[i] != '{') {
            if (p[i] == '\n')
                line++;
            else if (!strchr(" \t\r[],", p[i])) {
                report_bad(rep, name, line, "expected a JSON object");
                rep->rows++;
                goto out;
            }
            i++;
        }
        if (i >= len)
            break;
        size_t st = i;
        uint64_t st_line = line;
        int depth = 0, instr = 0;
        for (; i < len; i++) {
            char ch = p[i];
            if (ch == '\n')
                line++;
            if (instr) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    instr = 0;
            } else if (ch == '"') {
                instr = 1;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0) {
                    i++;
                    break;
                }
            }
        }
        rep->rows++;
        if (depth) {
            report_bad(rep, name, st_line, "unterminated JSON object");
            break;
        }
        kb_event ev;
        kb_json_error je = {0};
        row rw;
        kb_str badv = {"", 0};
        const char *why;
        kb_arena_clear(ar);
        kb_event_init(&ev, names, ar);
        if (kb_json_flatten(&ev, p + st, i - st, NULL, &je)) {
            report_bad(rep, name, st_line, "%s", je.reason ? je.reason : "bad JSON");
            continue;
        }
        memset(&rw, 0, sizeof rw);
        rw.name = str_trim(json_first(&ev, COL_NAME).p, json_first(&ev, COL_NAME).len);
        if (!rw.name.len) {
            report_bad(rep, name, st_line, "missing host name");
            continue;
        }
        if (name_has_ctl(rw.name)) {
            report_bad(rep, name, st_line, "control character in the host name");
            continue;
        }
        if ((why = check_crit(json_first(&ev, COL_CRIT), &rw.crit))) {
            report_bad(rep, name, st_line, "%s", why);
            continue;
        }
        if ((why = json_addrs(&ev, &rw, &badv))) {
            report_bad(rep, name, st_line, "%s '%.*s'", why, (int)badv.len, badv.p);
            continue;
        }
        json_tags(&ev, &tags);
        rw.mac = json_first(&ev, COL_MAC), rw.owner = json_first(&ev, COL_OWNER);
        rw.dept = json_first(&ev, COL_DEPT), rw.loc = json_first(&ev, COL_LOC);
        rw.type = json_first(&ev, COL_TYPE), rw.tags = (kb_str){tags.data, tags.len};
        if ((rc = put_asset(a, &rw, name, st_line)))
            goto out;
        rep->imported++;
    }
out:
    kb_buf_release(&tags);
    kb_arena_free(ar);
    kb_names_free(names);
    return rc;
}

int kb_assets_import_buf(kb_assets *a, const char *name, const char *p, size_t len,
                         kb_import_report *rep)
{
    size_t i = 0;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && isspace((unsigned char)p[i]))
        i++;
    if (i < len && (p[i] == '{' || p[i] == '['))
        return import_json(a, name, p, len, rep);
    return import_csv(a, name, p, len, rep);
}

/* Reads a whole file (capped); caller frees. */
char *triage_read_file(const char *path, size_t *len);
char *triage_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char tmp[65536];
    size_t n;
    if (!f)
        return NULL;
    kb_buf_init(&b, FILE_CAP);
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (kb_buf_append(&b, tmp, n)) {
            kb_buf_release(&b);
            fclose(f);
            return NULL;
        }
    if (ferror(f)) {
        kb_buf_release(&b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = b.len;
    if (!b.alloc) /* an empty file: the buffer is still the shared empty one */
        return kb_strdup("");
    return b.data;
}

int kb_assets_import_file(kb_assets *a, const char *path, kb_import_report *rep)
{
    size_t len;
    char *p = triage_read_file(path, &len);
    int rc;
    if (!p)
        return KB_EIO;
    rc = kb_assets_import_buf(a, path, p, len, rep);
    kb_free(p);
    return rc;
}

/* ---- schema and persistence ------------------------------------------------- */

/* The module's tables, by kb_store_migrate_module (recorded in the store's
 * koban_modules as "triage"). Steps are never edited once shipped. */
static const char *const schema_v1[] = {
    "CREATE TABLE triage_assets (id {pk}, name TEXT NOT NULL UNIQUE, mac TEXT,"
    " owner TEXT, department TEXT, location TEXT, type TEXT, criticality BIGINT,"
    " tags TEXT, source TEXT)",
    "CREATE TABLE triage_asset_addrs (asset_id BIGINT NOT NULL, ip TEXT NOT NULL,"
    " valid_from BIGINT, valid_to BIGINT)",
    "CREATE INDEX triage_asset_addrs_ip ON triage_asset_addrs (ip)",
    "CREATE TABLE triage_vulns (host TEXT, ip TEXT, cve TEXT, name TEXT, port TEXT,"
    " plugin TEXT, scanner TEXT, cvss REAL, scanned BIGINT)",
    "CREATE INDEX triage_vulns_host ON triage_vulns (host)",
    "CREATE TABLE triage_vuln_scans (host TEXT, ip TEXT, scanned BIGINT, scanner TEXT)",
    "CREATE INDEX triage_incidents_key ON incidents (entity, type, created)",
    NULL,
};

static const kb_store_step schema_steps[] = {{1, schema_v1}};

int kb_triage_schema(kb_store *st)
{
    return kb_store_migrate_module(st, "triage", schema_steps,
                                   sizeof schema_steps / sizeof *schema_steps);
}

#define SV_STR(s) KB_SV_STRV((s), strlen(s))

int kb_assets_save(kb_assets *a, kb_store *st)
{
    int rc;
    if ((rc = kb_triage_schema(st)) || (rc = rebuild(a)) || (rc = kb_store_begin(st)))
        return rc;
    if ((rc = tx_exec(st, "DELETE FROM triage_asset_addrs", NULL, 0)) ||
        (rc = tx_exec(st, "DELETE FROM triage_assets", NULL, 0)))
        goto fail;
    for (size_t i = 0; i < a->n; i++) {
        const kb_asset *as = &a->v[i];
        kb_sval p[9] = {SV_STR(as->name),  SV_STR(as->mac),  SV_STR(as->owner),
                        SV_STR(as->department), SV_STR(as->location), SV_STR(as->type),
                        KB_SV_INTV(as->criticality), SV_STR(as->tags), SV_STR(as->source)};
        if ((rc = tx_exec(st, "INSERT INTO triage_assets (name, mac, owner, department,"
                              " location, type, criticality, tags, source)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          p, 9)))
            goto fail;
        int64_t id = kb_store_scalar(st, "SELECT id FROM triage_assets WHERE name = ?", p, 1, 0);
        for (size_t j = 0; j < as->naddrs; j++) {
            char ip[64];
            kb_ip_format(&as->addrs[j].ip, ip, sizeof ip);
            kb_sval q[4] = {KB_SV_INTV(id), SV_STR(ip),
                            as->addrs[j].from == KB_TIME_NONE ? (kb_sval){KB_SV_NULL, 0, 0, 0, 0}
                                                               : KB_SV_INTV(as->addrs[j].from),
                            as->addrs[j].to == KB_TIME_NONE ? (kb_sval){KB_SV_NULL, 0, 0, 0, 0}
                                                             : KB_SV_INTV(as->addrs[j].to)};
            if ((rc = tx_exec(st, "INSERT INTO triage_asset_addrs (asset_id, ip, valid_from,"
                                  " valid_to) VALUES (?, ?, ?, ?)",
                              q, 4)))
                goto fail;
        }
    }
    return kb_store_commit(st);
fail:
    kb_store_rollback(st);
    return rc;
}

typedef struct load_ctx {
    kb_assets *a;
    int64_t *ids;
    row *rows;
    size_t n, cap;
    int rc;
} load_ctx;

static kb_str col_str(const kb_sval *v)
{
    return v->type == KB_SV_TEXT ? (kb_str){v->p, v->len} : (kb_str){"", 0};
}

static int load_asset_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    load_ctx *lc = ud;
    if (ncol < 10)
        return KB_EIO;
    if (lc->n == lc->cap) {
        size_t nc = lc->cap ? lc->cap * 2 : 256;
        row *nr = kb_realloc(lc->rows, nc * sizeof *nr);
        int64_t *ni = nr ? kb_realloc(lc->ids, nc * sizeof *ni) : NULL;
        if (nr)
            lc->rows = nr;
        if (!nr || !ni)
            return KB_ENOMEM;
        lc->ids = ni, lc->cap = nc;
    }
    row *r = &lc->rows[lc->n];
    memset(r, 0, sizeof *r);
    lc->ids[lc->n] = c[0].i;
    /* copy the texts into the inventory's arena now: result bytes die */
    kb_arena *ar = lc->a->arena;
    kb_str *dst[9] = {&r->name, &r->mac,  &r->owner, &r->dept,  &r->loc,
                      &r->type, NULL, &r->tags, &r->source};
    for (int k = 0; k < 9; k++) {
        if (!dst[k])
            continue;
        kb_str s = col_str(&c[1 + k]);
        char *d = kb_arena_strndup(ar, s.p ? s.p : "", s.len);
        if (!d)
            return KB_ENOMEM;
        *dst[k] = (kb_str){d, s.len};
    }
    r->crit = c[7].type == KB_SV_INT ? (int)c[7].i : 0;
    (void)names;
    lc->n++;
    return 0;
}

static int load_addr_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    load_ctx *lc = ud;
    (void)names;
    if (ncol < 4)
        return KB_EIO;
    size_t lo = 0, hi = lc->n;
    while (lo < hi) { /* ids ascend (ORDER BY id) */
        size_t mid = (lo + hi) / 2;
        if (lc->ids[mid] < c[0].i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= lc->n || lc->ids[lo] != c[0].i)
        return 0;
    row *r = &lc->rows[lo];
    if (r->naddrs >= MAX_ADDRS)
        return 0;
    kb_asset_addr *ad = &r->addrs[r->naddrs];
    kb_str s = col_str(&c[1]);
    if (kb_ip_parse(s.p, s.len, &ad->ip))
        return 0;
    ad->from = c[2].type == KB_SV_INT ? c[2].i : KB_TIME_NONE;
    ad->to = c[3].type == KB_SV_INT ? c[3].i : KB_TIME_NONE;
    r->naddrs++;
    return 0;
}

int kb_assets_load(kb_assets *a, kb_store *st)
{
    load_ctx lc = {a, NULL, NULL, 0, 0, 0};
    int rc;
    if ((rc = kb_triage_schema(st)))
        return rc;
    if ((rc = kb_store_exec(st, "SELECT id, name, mac, owner, department, location, type,"
                                " criticality, tags, source FROM triage_assets ORDER BY id",
                            NULL, 0, load_asset_row, &lc)) ||
        (rc = kb_store_exec(st, "SELECT asset_id, ip, valid_from, valid_to"
                                " FROM triage_asset_addrs",
                            NULL, 0, load_addr_row, &lc)))
        goto out;
    for (size_t i = 0; i < lc.n; i++)
        if ((rc = put_asset(a, &lc.rows[i], "store", (uint64_t)lc.ids[i])))
            goto out;
out:
    kb_free(lc.rows);
    kb_free(lc.ids);
    return rc;
}
