/* Result-code messages and line-oriented logging. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

const char *kb_strerror(int code)
{
    switch (code) {
#define KB_ERRNO_CASE(name, val, msg) \
    case KB_##name:                   \
        return msg;
        KB_ERRNO_MAP(KB_ERRNO_CASE)
#undef KB_ERRNO_CASE
    }
    return "unknown error";
}

/* The threshold is process configuration, written once by main before any
 * thread starts; reads need no lock. */
static int log_threshold = KB_LOG_WARN;

void kb_log_set_level(int level) { log_threshold = level; }
int kb_log_level(void) { return log_threshold; }

void kb_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[2048];
    va_list ap;
    int n, m;

    if (level > log_threshold || level < 0)
        return;
    n = snprintf(line, sizeof line, "koban: %s: ", names[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write(2) per line keeps lines whole across threads. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}
