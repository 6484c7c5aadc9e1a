/* Civil-date arithmetic (Howard Hinnant's algorithms) and the timestamp
 * forms that logs write. No libc time zone state is touched: every
 * conversion is explicit, so results do not depend on TZ. */
#include <stdio.h>
#include <time.h>

#include "base/base.h"

int64_t kb_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void kb_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

int kb_time_make(int y, int mon, int day, int h, int min, int sec, int64_t nsec, int64_t *out)
{
    /* int64 nanoseconds span 1677-09-21 to 2262-04-11: whole years inside. */
    if (y < 1678 || y > 2261 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(y, mon) ||
        h < 0 || h > 23 || min < 0 || min > 59 || sec < 0 || sec > 60 || nsec < 0 ||
        nsec >= KB_NS_PER_SEC)
        return KB_EPARSE;
    int64_t days = kb_days_from_civil(y, (unsigned)mon, (unsigned)day);
    *out = ((days * 86400) + h * 3600 + min * 60 + sec) * KB_NS_PER_SEC + nsec;
    return KB_OK;
}

/* Reads exactly n digits at s[*i]. */
static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    if (*i + (size_t)n > len)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned d = (unsigned char)s[*i + (size_t)k] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + (int)d;
    }
    *i += (size_t)n;
    *out = v;
    return 0;
}

/* Fraction digits after '.' or ',': up to 9 are kept, more are read and
 * ignored. */
static int fraction(const char *s, size_t len, size_t *i, int64_t *nsec)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (n < 9) {
            v = v * 10 + (s[*i] - '0');
            n++;
        }
        (*i)++;
    }
    if (n == 0)
        return -1;
    while (n++ < 9)
        v *= 10;
    *nsec = v;
    return 0;
}

/* Zone designator: Z, +hh, +hhmm, +hh:mm; sets the offset in seconds. */
static int zone(const char *s, size_t len, size_t *i, int *off)
{
    int sign, hh, mm = 0;

    *off = 0;
    if (*i == len)
        return 0;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
        return 0;
    }
    if (s[*i] != '+' && s[*i] != '-')
        return -1;
    sign = s[*i] == '-' ? -1 : 1;
    (*i)++;
    if (digits(s, len, i, 2, &hh))
        return -1;
    if (*i < len && s[*i] == ':')
        (*i)++;
    if (*i < len && digits(s, len, i, 2, &mm))
        return -1;
    if (hh > 23 || mm > 59)
        return -1;
    *off = sign * (hh * 3600 + mm * 60);
    return 0;
}

int kb_time_parse_iso8601(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int y, mo, d, h, mi, sec = 0, off = 0;
    int64_t ns = 0, t;

    if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
        digits(s, len, &i, 2, &mo) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d))
        return KB_EPARSE;
    if (i == len) {
        h = mi = 0;
    } else {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return KB_EPARSE;
        i++;
        if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi))
            return KB_EPARSE;
        if (i < len && s[i] == ':') {
            i++;
            if (digits(s, len, &i, 2, &sec))
                return KB_EPARSE;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                if (fraction(s, len, &i, &ns))
                    return KB_EPARSE;
            }
        }
        if (i < len && s[i] == ' ')
            i++;
        if (zone(s, len, &i, &off))
            return KB_EPARSE;
    }
    if (i != len)
        return KB_EPARSE;
    if (kb_time_make(y, mo, d, h, mi, sec, ns, &t))
        return KB_EPARSE;
    *out = t - (int64_t)off * KB_NS_PER_SEC;
    return KB_OK;
}

int kb_time_parse_epoch(const char *s, size_t len, int64_t *out)
{
    size_t i = 0, int_digits;
    uint64_t u = 0; /* 19 digits fit in uint64 */
    int64_t v, ns = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (i >= 19)
            return KB_EPARSE;
        u = u * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (u > (uint64_t)INT64_MAX)
        return KB_EPARSE;
    v = (int64_t)u;
    int_digits = i;
    if (int_digits == 0)
        return KB_EPARSE;
    if (i < len && s[i] == '.') {
        i++;
        if (fraction(s, len, &i, &ns))
            return KB_EPARSE;
    }
    if (i != len)
        return KB_EPARSE;
    /* The unit follows from the number of integer digits, as log producers
     * write them: seconds (up to 10 digits: until 2286), milliseconds (13),
     * microseconds (16), nanoseconds (19). Other widths are ambiguous. */
    {
        int64_t per, sec, sub;
        switch (int_digits) {
        case 13:
            per = 1000;
            break;
        case 16:
            per = 1000000;
            break;
        case 19:
            per = KB_NS_PER_SEC;
            break;
        default:
            if (int_digits > 10)
                return KB_EPARSE;
            per = 1;
            break;
        }
        sec = v / per;
        sub = v % per;
        /* Past 2262-04-11 the nanoseconds overflow int64. */
        if (sec > INT64_MAX / KB_NS_PER_SEC - 1)
            return KB_EPARSE;
        *out = sec * KB_NS_PER_SEC + sub * (KB_NS_PER_SEC / per) + ns / per;
        return KB_OK;
    }
}

int kb_month_from_abbr(const char *s, size_t len)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    if (len < 3)
        return 0;
    for (int m = 0; m < 12; m++) {
        int ok = 1;
        for (int k = 0; k < 3; k++) {
            int c = (unsigned char)s[k];
            if (c >= 'A' && c <= 'Z')
                c += 32;
            if (c != names[m][k])
                ok = 0;
        }
        if (ok)
            return m + 1;
    }
    return 0;
}

int kb_time_infer_year(int mon, int day, int64_t ref)
{
    int y;
    unsigned m, d;
    int64_t t;

    kb_civil_from_days(ref / KB_NS_PER_SEC / 86400, &y, &m, &d);
    /* Feb 29 must exist in the year chosen; otherwise step back. */
    for (int cand = y; cand > y - 8; cand--) {
        if (kb_time_make(cand, mon, day, 0, 0, 0, 0, &t))
            continue;
        if (t <= ref + 86400 * KB_NS_PER_SEC)
            return cand;
    }
    return y;
}

size_t kb_time_format(int64_t t, char *buf, size_t size)
{
    int64_t sec = t / KB_NS_PER_SEC, ns = t % KB_NS_PER_SEC, days, rem;
    int y, n;
    unsigned m, d;

    if (ns < 0) {
        ns += KB_NS_PER_SEC;
        sec--;
    }
    days = sec / 86400;
    rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    kb_civil_from_days(days, &y, &m, &d);
    n = snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%09dZ", y, m, d, (int)(rem / 3600),
                 (int)(rem / 60 % 60), (int)(rem % 60), (int)ns);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

int64_t kb_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * KB_NS_PER_SEC + ts.tv_nsec;
}
