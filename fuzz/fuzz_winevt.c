/* Fuzz target: the Windows event JSON decoder on arbitrary bytes, one
 * record (decoder-fuzz.h, fzd_record). */
#include "decoder-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzd_record(data, size, &kb_dec_winevt);
}
