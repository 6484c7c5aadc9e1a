/* Fuzz target: the generic JSON Lines decoder on arbitrary bytes, one
 * record, with its per-stream state (decoder-fuzz.h, fzd_record). */
#include "decoder-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzd_record(data, size, &kb_dec_json);
}
