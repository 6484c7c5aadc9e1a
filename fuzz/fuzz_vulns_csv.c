/* Fuzz target: the vulnerability importer's CSV path (kb_vulns_import_buf
 * sends anything that does not start with '<' to it: quoted fields spanning
 * lines, a header naming the columns), then the lookups over what it kept
 * (vulns-fuzz.h). */
#include "vulns-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzv_run(data, size, kb_vulns_import_buf, "fuzz.csv");
}
