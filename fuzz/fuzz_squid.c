/* Fuzz target: the Squid native access.log decoder, the input split into
 * lines of one stream (decoder-fuzz.h, fzd_lines). */
#include "decoder-fuzz.h"

static const kb_decoder *const decs[] = {&kb_dec_squid};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzd_lines(data, size, decs, sizeof decs / sizeof decs[0]);
}
