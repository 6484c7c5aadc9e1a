/* The decoder table, picking a decoder by name or by sniffing, and checks
 * more than one decoder shares. */
#include <string.h>

#include "ingest/decoders.h"

/* Order matters only for ties in sniffing: more specific formats first. */
const kb_decoder *const kb_decoders[] = {
    &kb_dec_suricata, &kb_dec_winevt, &kb_dec_zeek_json, &kb_dec_zeek, &kb_dec_cef,
    &kb_dec_leef,     &kb_dec_squid,  &kb_dec_weblog,    &kb_dec_syslog, &kb_dec_json,
    NULL,
};

const kb_decoder *kb_decoder_find(const char *name)
{
    for (const kb_decoder *const *d = kb_decoders; *d; d++)
        if (strcmp((*d)->name, name) == 0)
            return *d;
    return NULL;
}

const kb_decoder *kb_decoder_sniff(const kb_str *lines, size_t n)
{
    const kb_decoder *best = NULL;
    long best_score = 0;

    for (const kb_decoder *const *d = kb_decoders; *d; d++) {
        long score = 0;
        for (size_t i = 0; i < n; i++)
            score += (*d)->sniff(lines[i].p, lines[i].len);
        if (score > best_score) {
            best_score = score;
            best = *d;
        }
    }
    return best;
}

int kb_decoder_is_ip(const char *s, size_t n)
{
    size_t colons = 0, dots = 0, digits = 0;

    if (n == 0 || n > 45)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':')
            colons++;
        else if (c == '.')
            dots++;
        else if (c >= '0' && c <= '9')
            digits++;
        else if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    if (colons >= 2)
        return 1;
    if (colons || dots != 3 || digits != n - 3 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0, run = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (run == 0 || run > 3)
                return 0;
            run = 0;
        } else {
            run++;
        }
    }
    return 1;
}
