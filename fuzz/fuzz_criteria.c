/* Fuzz target: the triage criteria file (config/criteria.yaml: window,
 * notify level, internal networks, actions, signals, incident types,
 * severity rules) from its text, then the policy's lookups. Must never
 * crash, hang or read out of bounds; a refused file says why and leaves
 * nothing allocated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ips[] = {"10.1.2.3", "192.168.0.1", "203.0.113.9", "::1",
                                      "fe80::1"};
    kb_triage_policy *pol = NULL;
    char err[512];
    int rc = kb_triage_policy_parse("fuzz.yaml", (const char *)data, size, &pol, err, sizeof err);
    if (rc != KB_OK) {
        if (pol || !err[0])
            abort(); /* refused: nothing kept, and a reason */
        return 0;
    }
    if (!pol)
        abort();
    if (kb_triage_policy_window(pol) <= 0)
        abort();
    (void)kb_triage_policy_notify_level(pol);
    for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++) {
        kb_ip ip;
        if (kb_ip_parse(ips[i], strlen(ips[i]), &ip) == KB_OK)
            (void)kb_triage_policy_internal(pol, &ip);
    }
    kb_triage_policy_free(pol);
    return 0;
}
