/* Fuzz target: the OpenVAS / Greenbone XML report importer over arbitrary
 * bytes, then the lookups over what it kept (vulns-fuzz.h). */
#include "vulns-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzv_run(data, size, kb_vulns_parse_openvas, "fuzz.xml");
}
