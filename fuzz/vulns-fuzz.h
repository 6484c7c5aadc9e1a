/* Shared by the vulnerability-report importers' fuzz targets (fuzz_nessus,
 * fuzz_openvas, fuzz_vulns_csv): one importer over arbitrary bytes, then the lookups over
 * what it kept.
 *
 * Invariants (abort() when broken): never crash, hang, read out of bounds
 * or reach the network or the file system; the importer returns KB_OK,
 * KB_EFORMAT, KB_ENOMEM, KB_EPARSE or KB_ELIMIT; a report counting refused
 * entries carries their reasons; every vulnerability kept has all its
 * strings and a CVSS score in 0..10, and one with a CVE is found again by
 * kb_vulns_check. */
#ifndef KB_VULNS_FUZZ_H
#define KB_VULNS_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "triage/triage.h"

/* An importer: kb_vulns_parse_nessus and the like. */
typedef int (*fzv_parse_fn)(kb_vulns *v, const char *name, const char *p, size_t len,
                            kb_import_report *rep);

static int fzv_run(const uint8_t *data, size_t size, fzv_parse_fn parse, const char *name)
{
    kb_vulns *v = kb_vulns_new();
    kb_import_report rep;
    const kb_vuln *f;
    int64_t sc;
    if (!v)
        return 0;
    kb_import_report_init(&rep);
    int rc = parse(v, name, (const char *)data, size, &rep);
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

#endif
