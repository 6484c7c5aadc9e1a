/* Fuzz target: the MISP event loader on arbitrary bytes; a first byte 'A'
 * also imports attributes whose to_ids is false. See intel-fuzz.h. */
#include <stdint.h>

#include "intel-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(kb_intel_sink *s, const char *buf, size_t len, const char **err, void *arg)
{
    (void)arg;
    s->misp_all = len && buf[0] == 'A';
    if (s->misp_all)
        buf++, len--;
    return kb_intel_load_misp(s, buf, len, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_run(data, size, load, NULL);
}
