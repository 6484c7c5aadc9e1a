/* Fuzz target: the STIX 2.1 bundle loader (pattern reader included) on
 * arbitrary bytes. See intel-fuzz.h for the invariants. */
#include <stdint.h>

#include "intel-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(kb_intel_sink *s, const char *buf, size_t len, const char **err, void *arg)
{
    (void)arg;
    return kb_intel_load_stix(s, buf, len, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_run(data, size, load, NULL);
}
