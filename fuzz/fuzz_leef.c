/* Fuzz target: the LEEF decoder (with its syslog-header path), the LEEF
 * body parser and the key=value time parsers over arbitrary bytes
 * (decoder-fuzz.h, fzd_kv). */
#include "decoder-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzd_kv(data, size, &kb_dec_leef, kb_leef_decode_body);
}
