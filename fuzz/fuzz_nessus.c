/* Fuzz target: the Nessus .nessus XML importer (libxml2, no network, no entities) over arbitrary bytes, then the lookups over what
 * it kept. Must never crash, hang, read out of bounds or reach the network
 * or the file system; a refused document carries a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kb_vulns *v = kb_vulns_new();
    kb_import_report rep;
    const kb_vuln *f;
    int64_t sc;
    if (!v)
        return 0;
    kb_import_report_init(&rep);
    int rc = kb_vulns_parse_nessus(v, "fuzz.nessus", (const char *)data, size, &rep);
    if (rc != KB_OK && rc != KB_EFORMAT && rc != KB_ENOMEM && rc != KB_EPARSE && rc != KB_ELIMIT)
        abort();
    if (rep.bad && !rep.errors.len)
        abort();
    for (size_t i = 0; i < kb_vulns_count(v); i++) {
        const kb_vuln *vu = kb_vulns_at(v, i);
        if (!vu || !vu->host || !vu->ip || !vu->cve || !vu->name || !vu->port || !vu->plugin)
            abort();
        if (vu->cvss < 0 || vu->cvss > 10)
            abort();
        if (*vu->cve && kb_vulns_check(v, *vu->host ? vu->host : NULL, *vu->ip ? vu->ip : NULL,
                                       vu->cve, &f, &sc) != KB_VULN_VULNERABLE)
            abort();
    }
    kb_import_report_release(&rep);
    kb_vulns_free(v);
    return 0;
}
