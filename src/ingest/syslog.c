/* Syslog decoder: RFC 3164 and RFC 5424 headers, RFC 5424 structured data,
 * the variants files and relays actually write, and the program decoders
 * (sshd, sudo, kernel firewall) on top.
 *
 * Header forms accepted (each with or without "<PRI>"):
 *   RFC 5424   <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]
 *   RFC 3164   Mmm dd hh:mm:ss HOST TAG[PID]: MSG   ("Mmm  d", "Mmm d",
 *              ".fff" fractions, "Mmm dd yyyy hh:mm:ss", "yyyy Mmm dd ...",
 *              a ':' after the time)
 *   rsyslog    ISO 8601 / RFC 3339 in place of the 3164 date (high
 *              precision file format, "2020-03-24 08:38:42.3-0700" too)
 *   no date    "<PRI>TAG: MSG" (rsyslog parse-nodate): no host is read
 *   no host    "Mmm dd hh:mm:ss TAG[PID]: MSG" when the word after the
 *              date ends with ':' or holds '['
 * A 3164 date has no year: it is inferred from ctx->ref_time with
 * kb_time_infer_year. It has no zone either, and is taken as UTC (the
 * writer's zone is not in the record). RFC 5424 and ISO dates keep their
 * offsets and are converted to UTC.
 *
 * A line with neither <PRI> nor a date is rejected ("no syslog header"):
 * in a file it is the continuation of a multi-line message. The exception
 * is a kernel firewall line written bare (shorewall, pve-firewall.log),
 * which netfilter.c decodes. */
#include <string.h>

#include "ingest/syslog-prog.h"

/* ---- program table ------------------------------------------------------ */

static const kb_syslog_prog *const progs[] = {
    &kb_syslog_prog_netfilter,
    &kb_syslog_prog_sshd,
    &kb_syslog_prog_sudo,
};

/* ---- small helpers ---------------------------------------------------------
 */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_spaces(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

/* Reads exactly n digits at *i. */
static int read_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    if (len - *i < (size_t)n)
        return -1;
    for (int k = 0; k < n; k++) {
        if (!is_digit((unsigned char)s[*i + k]))
            return -1;
        v = v * 10 + (s[*i + k] - '0');
    }
    *i += (size_t)n;
    *out = v;
    return 0;
}

int kb_syslog_put(kb_decode_ctx *ctx, kb_event *ev, int c, kb_vtype t, const char *p, size_t n)
{
    int idx = kb_event_add(ev, (kb_fid)c, t, p, n);
    if (idx < 0) {
        ctx->err = idx == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields";
        return idx;
    }
    kb_event_alias(ev, c, idx);
    return idx;
}

int kb_syslog_raw(kb_decode_ctx *ctx, kb_event *ev, const char *name, kb_vtype t, const char *p,
                  size_t n)
{
    int idx = kb_event_add_static(ev, name, t, p, n);
    if (idx < 0)
        ctx->err =
            idx == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields or field names";
    return idx;
}

int kb_syslog_kv(const char *s, size_t len, const char *key, kb_str *val)
{
    size_t klen = strlen(key);
    const char *eq, *end = s + len;

    if (klen >= len)
        return 0;
    eq = s + klen;
    /* Jump from '=' to '=': the key ends at one (the first match in the
     * text is the first '=' that has the key before it). */
    while (eq < end && (eq = memchr(eq, '=', (size_t)(end - eq))) != NULL) {
        size_t i = (size_t)(eq - s) - klen, j;
        eq++;
        if (i > 0 && s[i - 1] != ' ' && s[i - 1] != ';')
            continue;
        if (memcmp(s + i, key, klen) != 0)
            continue;
        j = i + klen + 1;
        val->p = s + j;
        while (j < len && s[j] != ' ')
            j++;
        val->len = j - (size_t)(val->p - s);
        return 1;
    }
    return 0;
}

int kb_syslog_is_ip(const char *p, size_t n)
{
    int sep = 0;

    if (n < 2 || n > 45)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '.' || c == ':')
            sep = 1;
        else if (!is_digit(c) && !((c | 32) >= 'a' && (c | 32) <= 'f'))
            return 0;
    }
    return sep;
}

int kb_syslog_is_uint(const char *p, size_t n)
{
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)p[i]))
            return 0;
    return 1;
}

long kb_syslog_ifind(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0 || n > len)
        return n == 0 ? 0 : -1;
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n) {
            int a = (unsigned char)s[i + k], b = (unsigned char)needle[k];
            if (a >= 'A' && a <= 'Z')
                a += 32;
            if (b >= 'A' && b <= 'Z')
                b += 32;
            if (a != b)
                break;
            k++;
        }
        if (k == n)
            return (long)i;
    }
    return -1;
}

/* ---- timestamps
 * -------------------------------------------------------------- */

static int64_t ref_time(const kb_decode_ctx *ctx)
{
    return ctx->ref_time > 0 ? ctx->ref_time : kb_time_now();
}

/* kb_month_from_abbr for exactly three bytes, without a loop over the
 * months: the three letters lower-cased into one number. */
static int month3(const char *s)
{
    uint32_t k = (uint32_t)((unsigned char)s[0] | 0x20) << 16 |
                 (uint32_t)((unsigned char)s[1] | 0x20) << 8 | ((unsigned char)s[2] | 0x20);
#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    switch (k) {
    case M3('j', 'a', 'n'):
        return 1;
    case M3('f', 'e', 'b'):
        return 2;
    case M3('m', 'a', 'r'):
        return 3;
    case M3('a', 'p', 'r'):
        return 4;
    case M3('m', 'a', 'y'):
        return 5;
    case M3('j', 'u', 'n'):
        return 6;
    case M3('j', 'u', 'l'):
        return 7;
    case M3('a', 'u', 'g'):
        return 8;
    case M3('s', 'e', 'p'):
        return 9;
    case M3('o', 'c', 't'):
        return 10;
    case M3('n', 'o', 'v'):
        return 11;
    case M3('d', 'e', 'c'):
        return 12;
    }
#undef M3
    return 0;
}

/* kb_time_infer_year, remembering the last answer: a log's lines share
 * their month and day for long runs. */
static int infer_year(int mon, int day, int64_t ref)
{
    static _Thread_local struct {
        int mon, day, year;
        int64_t ref;
    } last;

    if (last.mon != mon || last.day != day || last.ref != ref) {
        last.year = kb_time_infer_year(mon, day, ref);
        last.mon = mon;
        last.day = day;
        last.ref = ref;
    }
    return last.year;
}

/* BSD date at *pi: ["yyyy "]Mmm [d]d ["yyyy "]hh:mm:ss[.f...][:]. Returns 1
 * and advances *pi when matched, 0 when the text is no BSD date, -1 when it
 * is one but out of range. ctx may be NULL (sniffing: no year inference). */
static int parse_bsd_ts(const kb_decode_ctx *ctx, const char *s, size_t len, size_t *pi,
                        int64_t *ts)
{
    size_t i = *pi;
    int year = -1, mon, day, h, mi, sec, d1;
    int64_t ns = 0;

    if (len - i >= 9 && read_digits(s, len, &i, 4, &year) == 0 && s[i] == ' ')
        i++;
    else {
        i = *pi;
        year = -1;
    }
    if (len - i < 4 || s[i + 3] != ' ')
        return 0;
    mon = month3(s + i);
    if (!mon)
        return 0;
    i += 4;
    if (i < len && s[i] == ' ')
        i++;
    if (read_digits(s, len, &i, 1, &day))
        return 0;
    if (read_digits(s, len, &i, 1, &d1) == 0)
        day = day * 10 + d1;
    if (i >= len || s[i] != ' ')
        return 0;
    i++;
    if (year < 0 && len - i >= 5 && is_digit((unsigned char)s[i + 2]) == 1 && s[i + 4] == ' ' &&
        read_digits(s, len, &i, 4, &year) == 0)
        i++; /* "Mmm dd yyyy hh:mm:ss" */
    if (read_digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
        read_digits(s, len, &i, 2, &mi) || i >= len || s[i++] != ':' ||
        read_digits(s, len, &i, 2, &sec))
        return 0;
    if (i < len && s[i] == '.' && i + 1 < len && is_digit((unsigned char)s[i + 1])) {
        int64_t scale = 100000000;
        i++;
        while (i < len && is_digit((unsigned char)s[i])) {
            ns += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
    }
    if (i < len && s[i] == ':')
        i++;
    if (i < len && s[i] != ' ')
        return 0;
    if (ctx) {
        if (year < 0)
            year = infer_year(mon, day, ref_time(ctx));
        if (kb_time_make(year, mon, day, h, mi, sec, ns, ts))
            return -1;
    }
    *pi = i;
    return 1;
}

/* ISO 8601 date at *pi up to the next space ("yyyy-mm-dd hh:mm..." joins
 * two words). Same returns as parse_bsd_ts. */
static int parse_iso_ts(const char *s, size_t len, size_t *pi, int64_t *ts, kb_str *text)
{
    size_t i = *pi, e;
    int y;

    if (read_digits(s, len, &i, 4, &y) || i >= len || s[i] != '-')
        return 0;
    e = i;
    while (e < len && s[e] != ' ')
        e++;
    if (e - *pi == 10 && len - e > 3 && is_digit((unsigned char)s[e + 1]) &&
        is_digit((unsigned char)s[e + 2]) && s[e + 3] == ':') {
        e++;
        while (e < len && s[e] != ' ')
            e++;
    }
    if (ts && kb_time_parse_iso8601(s + *pi, e - *pi, ts) != KB_OK)
        return -1;
    text->p = s + *pi;
    text->len = e - *pi;
    *pi = e;
    return 1;
}

/* ---- structured data
 * ------------------------------------------------------------ */

#define SD_NAME_MAX 64

static int add_sd_param(kb_decode_ctx *ctx, kb_event *ev, kb_str id, kb_str name, const char *v,
                        size_t vlen, int escaped)
{
    char fname[10 + 2 * SD_NAME_MAX + 2];
    size_t n = 0;
    const char *val = v;
    size_t outlen = vlen;

    memcpy(fname, "syslog.sd.", 10);
    n = 10;
    memcpy(fname + n, id.p, id.len);
    n += id.len;
    fname[n++] = '.';
    memcpy(fname + n, name.p, name.len);
    n += name.len;
    if (escaped) {
        /* RFC 5424 6.3.3: only \" \\ \] are escapes; other backslashes stay. */
        char *out = kb_arena_alloc(ev->arena, vlen + 1);
        size_t o = 0;
        if (!out) {
            ctx->err = "out of memory (batch arena cap)";
            return KB_ENOMEM;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] == '\\' && i + 1 < vlen &&
                (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']'))
                i++;
            out[o++] = v[i];
        }
        out[o] = '\0';
        val = out;
        outlen = o;
    }
    {
        int idx = kb_event_add_named(ev, fname, n, KB_V_STR, val, outlen);
        if (idx < 0) {
            ctx->err = idx == KB_ENOMEM ? "out of memory (batch arena cap)"
                                        : "too many fields or field names";
            return idx;
        }
    }
    return KB_OK;
}

/* Scans SD-ELEMENTs at s; *end gets the offset after the last ']'. With ev,
 * adds one field per SD-PARAM. Lenient where real senders are: spaces
 * after '=' and unquoted values are accepted. Returns KB_OK or KB_EPARSE
 * (or an add error). */
static int sd_scan(kb_decode_ctx *ctx, const char *s, size_t len, size_t *end, kb_event *ev)
{
    size_t i = 0;
    int elems = 0;

    while (i < len && s[i] == '[') {
        kb_str id, name;
        size_t st = ++i;
        while (i < len && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"')
            i++;
        id.p = s + st;
        id.len = i - st;
        if (id.len == 0 || id.len > SD_NAME_MAX)
            return KB_EPARSE;
        for (;;) {
            size_t vs, ve;
            int esc = 0;
            if (i >= len)
                return KB_EPARSE;
            if (s[i] == ']') {
                i++;
                break;
            }
            if (s[i] != ' ')
                return KB_EPARSE;
            i = skip_spaces(s, len, i);
            if (i < len && s[i] == ']') {
                i++;
                break;
            }
            st = i;
            while (i < len && s[i] != ' ' && s[i] != '=' && s[i] != ']' && s[i] != '"')
                i++;
            name.p = s + st;
            name.len = i - st;
            if (name.len == 0 || name.len > SD_NAME_MAX || i >= len || s[i] != '=')
                return KB_EPARSE;
            i = skip_spaces(s, len, i + 1);
            if (i < len && s[i] == '"') {
                vs = ++i;
                while (i < len && s[i] != '"') {
                    if (s[i] == '\\' && i + 1 < len) {
                        esc = 1;
                        i += 2;
                    } else {
                        i++;
                    }
                }
                if (i >= len)
                    return KB_EPARSE;
                ve = i++;
            } else {
                vs = i;
                while (i < len && s[i] != ' ' && s[i] != ']')
                    i++;
                ve = i;
            }
            if (ev) {
                int rc = add_sd_param(ctx, ev, id, name, s + vs, ve - vs, esc);
                if (rc < 0)
                    return rc;
            }
        }
        elems++;
    }
    if (!elems)
        return KB_EPARSE;
    *end = i;
    return KB_OK;
}

/* ---- header
 * ------------------------------------------------------------------------ */

static kb_str slice(const char *s, size_t a, size_t b)
{
    kb_str r = {s + a, b - a};
    return r;
}

/* RFC 5424 header field: a word; "-" is the nil value (empty slice). */
static int word5424(const char *s, size_t len, size_t *i, kb_str *out)
{
    size_t st = *i;
    while (*i < len && s[*i] != ' ')
        (*i)++;
    if (*i == st || *i >= len)
        return -1; /* empty, or the line ends before the next field */
    *out = slice(s, st, *i);
    if (out->len == 1 && out->p[0] == '-')
        out->len = 0;
    (*i)++;
    return 0;
}

static kb_str trim_msg(const char *s, size_t a, size_t len)
{
    a = skip_spaces(s, len, a);
    if (len - a >= 3 && (unsigned char)s[a] == 0xEF && (unsigned char)s[a + 1] == 0xBB &&
        (unsigned char)s[a + 2] == 0xBF)
        a += 3;
    return slice(s, a, len);
}

static int parse5424(kb_decode_ctx *ctx, const char *s, size_t len, size_t i, kb_syslog_hdr *h)
{
    kb_str ts;

    h->version = 1;
    if (word5424(s, len, &i, &ts) || word5424(s, len, &i, &h->host) ||
        word5424(s, len, &i, &h->app) || word5424(s, len, &i, &h->pid) ||
        word5424(s, len, &i, &h->msgid) || i >= len) {
        ctx->err = "truncated RFC 5424 header";
        return KB_EPARSE;
    }
    if (ts.len) {
        if (kb_time_parse_iso8601(ts.p, ts.len, &h->ts) != KB_OK) {
            ctx->err = "invalid RFC 5424 timestamp";
            return KB_EPARSE;
        }
        h->ts_text = ts;
    }
    if (s[i] == '-' && (i + 1 == len || s[i + 1] == ' ')) {
        i++;
    } else if (s[i] == '[') {
        size_t end;
        if (sd_scan(ctx, s + i, len - i, &end, NULL) != KB_OK) {
            ctx->err = "invalid RFC 5424 structured data";
            return KB_EPARSE;
        }
        h->sd = slice(s, i, i + end);
        i += end;
        if (i < len && s[i] != ' ') {
            ctx->err = "invalid RFC 5424 structured data (no space before MSG)";
            return KB_EPARSE;
        }
    }
    /* else: no SD field at all (seen from relays); the rest is the MSG. */
    h->msg = trim_msg(s, i, len);
    return KB_OK;
}

/* A host name or address: letters, digits and . - _ : (rsyslog's test). */
static int is_hostname(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (!is_digit(c) && !((c | 32) >= 'a' && (c | 32) <= 'z') && c != '.' && c != '-' &&
            c != '_' && c != ':')
            return 0;
    }
    return n > 0;
}

/* "last message repeated N times" in its spellings. */
static int is_repeat(const char *s, size_t len)
{
    size_t i = 0;
    if (KB_SYSLOG_PREFIX(s, len, "--- "))
        i = 4;
    return KB_SYSLOG_PREFIX(s + i, len - i, "last message repeated ");
}

/* TAG[PID]: at i. Sets app/pid, returns the offset of the message. */
static size_t parse_tag(const char *s, size_t len, size_t i, kb_syslog_hdr *h)
{
    size_t j = i;

    while (j < len && s[j] != ' ' && s[j] != ':' && s[j] != '[')
        j++;
    if (j == i)
        return i; /* no tag */
    h->app = slice(s, i, j);
    if (j < len && s[j] == '[') {
        size_t k = j + 1;
        while (k < len && s[k] != ']' && s[k] != ' ')
            k++;
        if (k < len && s[k] == ']') {
            h->pid = slice(s, j + 1, k);
            j = k + 1;
        }
    }
    if (j < len && s[j] == ':')
        j++;
    return j;
}

int kb_syslog_parse(kb_decode_ctx *ctx, const char *s, size_t len, kb_syslog_hdr *h)
{
    size_t i = 0;
    int r;

    memset(h, 0, sizeof *h);
    h->pri = -1;
    h->ts = KB_TIME_NONE;
    if (len > 0 && s[0] == '<') {
        int pri = 0;
        size_t j = 1;
        while (j < len && j < 5 && is_digit((unsigned char)s[j]))
            pri = pri * 10 + (s[j++] - '0');
        if (j == 1 || j >= len || s[j] != '>') {
            ctx->err = "invalid PRI: expected 1-3 digits closed by '>'";
            return KB_EPARSE;
        }
        if (pri > 191) {
            ctx->err = "PRI out of range (0-191)";
            return KB_EPARSE;
        }
        h->pri = pri;
        i = j + 1;
        if (len - i >= 2 && s[i] == '1' && s[i + 1] == ' ')
            return parse5424(ctx, s, len, i + 2, h);
        if (i < len && s[i] == ' ')
            i++; /* "<38> Mar  7 ..." */
    }

    {
        size_t st = i;
        r = parse_bsd_ts(ctx, s, len, &i, &h->ts);
        if (r > 0) {
            h->ts_text = slice(s, st, i);
            if (h->ts_text.len && h->ts_text.p[h->ts_text.len - 1] == ':')
                h->ts_text.len--;
        } else if (r == 0) {
            r = parse_iso_ts(s, len, &i, &h->ts, &h->ts_text);
        }
        if (r < 0) {
            ctx->err = "invalid timestamp";
            return KB_EPARSE;
        }
    }
    if (r == 0 && h->pri < 0) {
        ctx->err = "no syslog header (no <PRI> and no timestamp; a continuation line?)";
        return KB_EPARSE;
    }

    if (r > 0) {
        size_t hs = skip_spaces(s, len, i), he = hs;
        if (is_repeat(s + hs, len - hs)) {
            h->msg = slice(s, hs, len);
            return KB_OK;
        }
        while (he < len && s[he] != ' ')
            he++;
        /* The word after the date is the host unless it reads as a tag. */
        if (he > hs && s[he - 1] != ':' && is_hostname(s + hs, he - hs)) {
            h->host = slice(s, hs, he);
            i = he < len ? he + 1 : he;
            if (is_repeat(s + i, len - i)) {
                h->msg = slice(s, i, len);
                return KB_OK;
            }
            if (i < len && s[i] == ' ') {
                h->msg = trim_msg(s, i, len); /* two spaces: no tag */
                return KB_OK;
            }
        } else {
            i = hs;
        }
    }
    i = parse_tag(s, len, i, h);
    h->msg = trim_msg(s, i, len);
    return KB_OK;
}

/* ---- fields
 * ------------------------------------------------------------------------- */

static const char *const numbers[] = {"0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",
                                      "8",  "9",  "10", "11", "12", "13", "14", "15",
                                      "16", "17", "18", "19", "20", "21", "22", "23"};
static const char *const facility_names[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
static const char *const severity_names[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};

int kb_syslog_fill(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev)
{
    int idx;

    ev->ts = h->ts;
    if (h->ts_text.len) {
        idx = kb_syslog_raw(ctx, ev, "syslog.timestamp", KB_V_STR, h->ts_text.p, h->ts_text.len);
        if (idx < 0)
            return idx;
        kb_event_alias(ev, KB_F_TIMESTAMP, idx);
    }
    if (h->pri >= 0 && h->pri <= 191) {
        char *p = kb_arena_alloc(ev->arena, 4);
        int fac = h->pri >> 3, sev = h->pri & 7;
        size_t n = 0;
        if (!p) {
            ctx->err = "out of memory (batch arena cap)";
            return KB_ENOMEM;
        }
        if (h->pri >= 100)
            p[n++] = (char)('0' + h->pri / 100);
        if (h->pri >= 10)
            p[n++] = (char)('0' + h->pri / 10 % 10);
        p[n++] = (char)('0' + h->pri % 10);
        p[n] = '\0';
        if ((idx = kb_syslog_raw(ctx, ev, "syslog.priority", KB_V_INT, p, n)) < 0 ||
            (idx = kb_syslog_raw(ctx, ev, "syslog.facility", KB_V_INT, numbers[fac],
                                 strlen(numbers[fac]))) < 0 ||
            (idx = kb_syslog_raw(ctx, ev, "syslog.facility_name", KB_V_STR, facility_names[fac],
                                 strlen(facility_names[fac]))) < 0 ||
            (idx = kb_syslog_raw(ctx, ev, "syslog.severity", KB_V_INT, numbers[sev], 1)) < 0)
            return idx;
        kb_event_alias(ev, KB_F_EVENT_SEVERITY, idx);
        idx = kb_syslog_raw(ctx, ev, "syslog.severity_name", KB_V_STR, severity_names[sev],
                            strlen(severity_names[sev]));
        if (idx < 0)
            return idx;
    }
    if (h->version == 1) {
        idx = kb_syslog_raw(ctx, ev, "syslog.version", KB_V_INT, "1", 1);
        if (idx < 0)
            return idx;
    }
    if (h->host.len &&
        (idx = kb_syslog_put(ctx, ev, KB_F_HOST_NAME, KB_V_STR, h->host.p, h->host.len)) < 0)
        return idx;
    if (h->app.len &&
        (idx = kb_syslog_put(ctx, ev, KB_F_PROCESS_NAME, KB_V_STR, h->app.p, h->app.len)) < 0)
        return idx;
    if (h->pid.len) {
        if (kb_syslog_is_uint(h->pid.p, h->pid.len))
            idx = kb_syslog_put(ctx, ev, KB_F_PROCESS_PID, KB_V_INT, h->pid.p, h->pid.len);
        else
            idx = kb_syslog_raw(ctx, ev, "syslog.procid", KB_V_STR, h->pid.p, h->pid.len);
        if (idx < 0)
            return idx;
    }
    if (h->msgid.len &&
        (idx = kb_syslog_raw(ctx, ev, "syslog.msgid", KB_V_STR, h->msgid.p, h->msgid.len)) < 0)
        return idx;
    if (h->sd.len) {
        size_t end;
        int rc;
        if ((idx = kb_syslog_raw(ctx, ev, "syslog.sd", KB_V_STR, h->sd.p, h->sd.len)) < 0)
            return idx;
        rc = sd_scan(ctx, h->sd.p, h->sd.len, &end, ev);
        if (rc < 0) {
            if (rc == KB_EPARSE)
                ctx->err = "invalid RFC 5424 structured data";
            return rc;
        }
    }
    if (h->msg.len) {
        const char *m = h->msg.p;
        size_t n = h->msg.len;
        if ((idx = kb_syslog_put(ctx, ev, KB_F_MESSAGE, KB_V_STR, m, n)) < 0)
            return idx;
        if (is_repeat(m, n)) {
            size_t a = (size_t)(kb_memmem(m, n, "repeated ", 9) - m) + 9, b = a;
            while (b < n && is_digit((unsigned char)m[b]))
                b++;
            if (b > a &&
                (idx = kb_syslog_raw(ctx, ev, "syslog.repeat_count", KB_V_INT, m + a, b - a)) < 0)
                return idx;
        }
    }
    return KB_OK;
}

/* ---- the decoder
 * ------------------------------------------------------------------- */

static int syslog_decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    kb_syslog_hdr h;
    size_t k;
    int rc;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    for (k = 0; k < len && (line[k] == ' ' || line[k] == '\t'); k++)
        ;
    if (k == len)
        return KB_ESKIP;
    rc = kb_syslog_parse(ctx, line, len, &h);
    if (rc != KB_OK) {
        if (h.pri < 0 && kb_netfilter_bare_match(line, len))
            return kb_netfilter_decode_bare(ctx, line, len, ev);
        return rc;
    }
    if ((rc = kb_syslog_fill(ctx, &h, ev)) < 0)
        return rc;
    if (KB_SYSLOG_PREFIX(h.msg.p, h.msg.len, "CEF:"))
        return kb_cef_decode_body(ctx, h.msg.p, h.msg.len, ev);
    if (KB_SYSLOG_PREFIX(h.msg.p, h.msg.len, "LEEF:"))
        return kb_leef_decode_body(ctx, h.msg.p, h.msg.len, ev);

    ev->ls.product = "linux";
    ev->ls.service = (h.pri >> 3 == 4 || h.pri >> 3 == 10) ? "auth" : "syslog";
    for (size_t p = 0; p < sizeof progs / sizeof progs[0]; p++) {
        if (progs[p]->match(&h)) {
            rc = progs[p]->decode(ctx, &h, ev);
            break;
        }
    }
    return rc < 0 ? rc : KB_OK;
}

/* Cheap shape checks only: "<N>", "<N>1 ", a BSD or ISO date. */
static int syslog_sniff(const char *s, size_t len)
{
    size_t i = 0;
    int score = 0, r;
    int64_t ts;
    kb_str text;

    if (len > 0 && s[0] == '<') {
        size_t j = 1;
        while (j < len && j < 4 && is_digit((unsigned char)s[j]))
            j++;
        if (j == 1 || j >= len || s[j] != '>')
            return 0;
        i = j + 1;
        score = 70;
        if (len - i >= 2 && s[i] == '1' && s[i + 1] == ' ')
            score = 80;
        else if (i < len && s[i] == ' ')
            i++;
    }
    if (score < 80) {
        size_t st = i;
        r = parse_bsd_ts(NULL, s, len, &i, &ts);
        if (r > 0)
            score = score ? 78 : 70;
        else if (parse_iso_ts(s, len, &i, NULL, &text) > 0 && i < len && i - st >= 16)
            score = score ? 75 : 60;
    }
    if (score && (kb_memmem(s, len, "CEF:", 4) || kb_memmem(s, len, "LEEF:", 5)))
        return 10;
    return score;
}

const kb_decoder kb_dec_syslog = {
    "syslog",
    "syslog lines: RFC 3164, RFC 5424 (structured data), rsyslog file formats; "
    "sshd, sudo and "
    "kernel firewall (iptables, nftables, ufw) messages",
    syslog_sniff,
    syslog_decode,
    NULL,
    NULL,
};
