/* Shared helpers for koban's benchmarks: clocks, peak memory, input
 * replication, and one report line format that docs/BENCHMARKS.md quotes. */
#ifndef KB_BENCH_UTIL_H
#define KB_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic seconds. */
double bench_now(void);
/* CPU seconds used by this process (all its threads) so far. On a loaded
 * machine this is the steadier figure: wall time includes waiting for a core. */
double bench_cpu_now(void);
/* Peak resident set size of this process in MiB. */
double bench_peak_rss_mb(void);
/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *bench_read_file(const char *path, size_t *len);
/* Returns a malloc'd buffer holding whole lines of src (len bytes, which
 * must end in '\n' or gets one) repeated until it reaches at least min_bytes. */
char *bench_replicate(const char *src, size_t len, size_t min_bytes, size_t *out_len);
/* Concatenates the lines of several files (missing ones skipped) into one
 * malloc'd buffer ending in '\n'. */
char *bench_read_files(const char *const *paths, size_t n, size_t *len);
/* Prints "name: N MB in S s = X MB/s, Y events/s, peak RSS Z MB". */
void bench_report(const char *name, double bytes, double events, double secs);
/* bench_report followed by a second line "  cpu S s = X MB/s, Y events/s"
 * for the CPU seconds the measured work took. */
void bench_report_cpu(const char *name, double bytes, double events, double secs, double cpu);
/* The input size to use: $KOBAN_BENCH_MB megabytes, default `def_mb`. */
size_t bench_size(size_t def_mb);

#endif
