/* Fuzz target: the Nessus .nessus XML importer (libxml2, no network, no
 * entities) over arbitrary bytes, then the lookups over what it kept
 * (vulns-fuzz.h). */
#include "vulns-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzv_run(data, size, kb_vulns_parse_nessus, "fuzz.nessus");
}
