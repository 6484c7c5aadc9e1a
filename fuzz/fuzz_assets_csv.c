/* Fuzz target: the asset inventory importer over arbitrary bytes (CSV with
 * quoted fields spanning lines, or JSON when the first byte says so), then
 * the lookups. Must never crash, hang or read out of bounds; every bad row
 * is reported with a reason; counts add up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kb_assets *a = kb_assets_new();
    kb_import_report rep;
    kb_ip ip;
    if (!a)
        return 0;
    kb_import_report_init(&rep);
    int rc = kb_assets_import_buf(a, "fuzz.csv", (const char *)data, size, &rep);
    if (rc != KB_OK && rc != KB_EFORMAT && rc != KB_ENOMEM)
        abort();
    if (rep.bad && !rep.errors.len)
        abort();
    if (rep.imported + rep.bad > rep.rows + 1)
        abort();
    size_t n = kb_assets_count(a);
    if (n > rep.imported)
        abort();
    for (size_t i = 0; i < n; i++) {
        const kb_asset *as = kb_assets_at(a, i);
        if (!as || !as->name || !as->type || !as->tags || !as->source)
            abort();
        if (kb_assets_by_name(a, as->name, strlen(as->name)) == NULL)
            abort();
        for (size_t j = 0; j < as->naddrs; j++)
            if (!kb_assets_by_ip(a, &as->addrs[j].ip,
                                 as->addrs[j].from != KB_TIME_NONE ? as->addrs[j].from
                                                                   : KB_TIME_NONE))
                abort();
    }
    if (size >= 4 && kb_ip_parse((const char *)data, size < 45 ? size : 45, &ip) == KB_OK)
        (void)kb_assets_by_ip(a, &ip, KB_TIME_NONE);
    kb_import_report_release(&rep);
    kb_assets_free(a);
    return 0;
}
