/* Fuzz target: the CEF decoder (with its syslog-header path), the CEF
 * body parser and the key=value time parsers over arbitrary bytes
 * (decoder-fuzz.h, fzd_kv). */
#include "decoder-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fzd_kv(data, size, &kb_dec_cef, kb_cef_decode_body);
}
