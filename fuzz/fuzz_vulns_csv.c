/* Fuzz target: the vulnerability importer's CSV path (kb_vulns_import_buf
 * sends anything that does not start with '<' to it: quoted fields spanning
 * lines, a header naming the columns), then the lookups over what it kept.
 * Must never crash, hang or read out of bounds; a bad row is reported with
 * a reason; every finding kept can be found again by its host. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kb_vulns *v = kb_vulns_new();
    kb_import_report rep;
    if (!v)
        return 0;
    kb_import_report_init(&rep);
    int rc = kb_vulns_import_buf(v, "fuzz.csv", (const char *)data, size, &rep);
    if (rc != KB_OK && rc != KB_EFORMAT && rc != KB_ENOMEM && rc != KB_EPARSE && rc != KB_ELIMIT)
        abort();
    if (rep.bad && !rep.errors.len)
        abort();
    for (size_t i = 0; i < kb_vulns_count(v); i++) {
        const kb_vuln *vu = kb_vulns_at(v, i);
        const kb_vuln *f = NULL;
        int64_t scanned;
        if (!vu || !vu->host || !vu->ip || !vu->cve || !vu->name || !vu->port)
            abort();
        if (vu->cvss < 0 || vu->cvss > 10)
            abort();
        if (vu->cve[0] &&
            kb_vulns_check(v, vu->host[0] ? vu->host : NULL, vu->ip[0] ? vu->ip : NULL, vu->cve,
                           &f, &scanned) != KB_VULN_VULNERABLE)
            abort();
    }
    kb_import_report_release(&rep);
    kb_vulns_free(v);
    return 0;
}
