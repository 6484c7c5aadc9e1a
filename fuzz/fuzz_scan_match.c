/* Fuzz target: indicator matching for `koban scan` (intel/scan-match.c).
 * The input's lines are field values, given in turn to source.ip,
 * destination.ip, url.full, url.domain, dns.question.name, file hashes,
 * file.path, user.name, user_agent.original and the raw tls.sni and
 * server_name; the event is matched by kb_intel_scan_match and by the
 * reference kb_intel_match over one set of indicators. Must never crash or
 * read out of bounds, and (abort otherwise) both must report the same hits:
 * the prefilter and the hand-written parsers must never lose one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel.h"
#include "intel/scan-match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const iocs[] = {
    "203.0.113.5", "198.51.100.0/24", "2001:db8::66", "evil.example.com", "*.bad.org",
    "http://files.example.org/shared/x.docm", "http://user@files.example.org/p?q=%41",
    "https://[2001:db8::1]:8443/a", "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709", "mallory@evil.example.com", "10.9.9.9",
};
static const int kinds[] = {-1, -1, -1, -1, KB_IOC_DOMAIN, -1, -1, -1, -1, -1, -1, -1};

static kb_intel_matcher *ref;
static kb_intel_scan *fast;
static kb_names *names;

static int setup(void)
{
    kb_buf b;
    const char *reason;
    kb_buf_init(&b, 1 << 16);
    names = kb_names_new(100000);
    ref = kb_intel_matcher_new(0);
    fast = kb_intel_scan_new(0);
    if (!names || !ref || !fast)
        return -1;
    for (size_t i = 0; i < sizeof iocs / sizeof iocs[0]; i++) {
        int kind;
        if (kb_intel_normalize(kinds[i], iocs[i], strlen(iocs[i]), &b, &kind, &reason))
            abort();
        kb_indicator ind = {kind, b.data, "f", 80, "c2", KB_TIME_NONE, KB_TIME_NONE,
                            KB_TIME_NONE, NULL, NULL, NULL};
        if (kb_intel_matcher_add(ref, &ind) || kb_intel_scan_add(fast, &ind))
            abort();
    }
    {
        kb_indicator f = {KB_IOC_FILENAME, "dropper.exe", "f", 80, NULL, KB_TIME_NONE,
                          KB_TIME_NONE, KB_TIME_NONE, NULL, NULL, NULL};
        if (kb_intel_matcher_add(ref, &f) || kb_intel_scan_add(fast, &f))
            abort();
    }
    if (kb_intel_matcher_allow(ref, "10.0.0.0/8", 10, &reason) ||
        kb_intel_scan_allow(fast, "10.0.0.0/8", 10, &reason) || kb_intel_matcher_seal(ref) ||
        kb_intel_scan_seal(fast, names))
        abort();
    kb_buf_release(&b);
    return 0;
}

static int count(void *ud, const kb_intel_hit *h)
{
    (void)h;
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int canon[] = {KB_F_SOURCE_IP,      KB_F_DESTINATION_IP, KB_F_URL_FULL,
                                KB_F_URL_DOMAIN,     KB_F_DNS_QUESTION_NAME,
                                KB_F_FILE_HASH_MD5,  KB_F_FILE_HASH_SHA1, KB_F_FILE_PATH,
                                KB_F_USER_NAME,      KB_F_USER_AGENT_ORIGINAL, -1, -2};
    kb_arena *arena;
    kb_event ev;
    char *copy;
    size_t start = 0;
    int nf = 0, a = 0, b = 0;
    kb_intel_match_counts ca = {0, 0, 0}, cb = {0, 0, 0};

    if (!names && setup())
        return 0;
    arena = kb_arena_new(4096, 1 << 20);
    copy = malloc(size ? size : 1);
    if (!arena || !copy)
        goto out;
    if (size)
        memcpy(copy, data, size);
    /* NUL bytes become spaces: kb_intel_parse_ip (the reference's address
     * parser) stops at an embedded NUL, so "203.0.113.5\0junk" hits there
     * and not here; real decoders hand over no such values. */
    for (size_t i = 0; i < size; i++)
        if (!copy[i])
            copy[i] = ' ';
    kb_event_init(&ev, names, arena);
    /* each field once: the reference reads only the first field of a raw name */
    for (size_t i = 0; i <= size && nf < (int)(sizeof canon / sizeof canon[0]); i++) {
        if (i < size && copy[i] != '\n')
            continue;
        int c = canon[nf % (int)(sizeof canon / sizeof canon[0])];
        if (c >= 0)
            kb_event_set(&ev, c, KB_V_STR, copy + start, i - start);
        else
            kb_event_add_named(&ev, c == -1 ? "tls.sni" : "server_name",
                               c == -1 ? 7 : 11, KB_V_STR, copy + start, i - start);
        nf++;
        start = i + 1;
    }
    if (kb_intel_match(ref, &ev, count, &a, &ca) != KB_OK ||
        kb_intel_scan_match(fast, &ev, count, &b, &cb) != KB_OK)
        abort();
    if (a != b || ca.suppressed != cb.suppressed)
        abort();
out:
    kb_arena_free(arena);
    free(copy);
    return 0;
}
