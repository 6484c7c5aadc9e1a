#include "bench-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)(n > 0 ? n : 0) + 2);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

char *bench_read_files(const char *const *paths, size_t n, size_t *len)
{
    char *out = NULL;
    size_t total = 0;

    for (size_t i = 0; i < n; i++) {
        size_t l;
        char *b = bench_read_file(paths[i], &l), *grown;
        if (!b)
            continue;
        grown = realloc(out, total + l + 2);
        if (!grown) {
            free(b);
            break;
        }
        out = grown;
        memcpy(out + total, b, l);
        total += l;
        if (l && out[total - 1] != '\n')
            out[total++] = '\n';
        free(b);
    }
    if (out)
        out[total] = '\0';
    *len = total;
    return out;
}

char *bench_replicate(const char *src, size_t len, size_t min_bytes, size_t *out_len)
{
    size_t unit = len + (len && src[len - 1] != '\n');
    size_t copies = unit ? (min_bytes + unit - 1) / unit : 0;
    char *out;

    if (copies == 0)
        copies = 1;
    out = malloc(copies * unit + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < copies; i++) {
        memcpy(out + i * unit, src, len);
        if (unit > len)
            out[i * unit + len] = '\n';
    }
    out[copies * unit] = '\0';
    *out_len = copies * unit;
    return out;
}

void bench_report(const char *name, double bytes, double events, double secs)
{
    printf("%-28s %8.1f MB in %6.3f s = %8.1f MB/s %12.0f events/s   peak RSS %6.1f MB\n", name,
           bytes / 1e6, secs, bytes / 1e6 / secs, events / secs, bench_peak_rss_mb());
    fflush(stdout);
}

void bench_report_cpu(const char *name, double bytes, double events, double secs, double cpu)
{
    bench_report(name, bytes, events, secs);
    printf("%-28s %8s    cpu %6.3f s = %8.1f MB/s %12.0f events/s\n", "", "", cpu,
           bytes / 1e6 / cpu, events / cpu);
    fflush(stdout);
}

size_t bench_size(size_t def_mb)
{
    const char *e = getenv("KOBAN_BENCH_MB");
    long v = e ? strtol(e, NULL, 10) : 0;
    return (size_t)(v > 0 ? v : (long)def_mb) * 1000 * 1000;
}
