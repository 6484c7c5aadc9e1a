/* Fuzz target: the Sigma condition parser and the program evaluator. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"selection", "sel_a", "sel_b", "filter_x", "_hidden", "1"};
    kb_sigma_op *ops = NULL;
    size_t n = 0;
    const char *err;
    uint8_t hits[6];

    if (kb_sigma_cond_parse((const char *)data, size, names, 6, &ops, &n, &err) == KB_OK) {
        /* every pattern of hits must evaluate without fault */
        for (unsigned mask = 0; mask < 64; mask += 21) {
            for (int i = 0; i < 6; i++)
                hits[i] = (uint8_t)((mask >> i) & 1);
            kb_sigma_program_eval(ops, n, hits);
        }
    }
    kb_free(ops);
    return 0;
}
