/* Helpers shared by the intel module's files (not part of its face). */
#ifndef KB_INTEL_INT_H
#define KB_INTEL_INT_H

#include <stdio.h>

#include "intel/intel.h"

/* Hex digit value or -1. */
int kb_intel_hexval(char c);
/* Address without prefix into 16 bytes (IPv4 mapped as ::ffff:a.b.c.d);
 * returns 4, 6, or 0 when s is not an address. */
int kb_intel_parse_ip(const char *s, size_t len, uint8_t out[16]);
/* Clears every bit of a past the first `bits`. */
void kb_intel_mask(uint8_t a[16], int bits);
/* URL normalisation (see kb_intel_normalize); appends to out. */
int kb_intel_norm_url(const char *s, size_t len, kb_buf *out, const char **reason);

/* A kb_buf over caller memory that never reallocates: appends past
 * size - 1 bytes fail with KB_ELIMIT (kb_buf_reserve checks the cap before
 * it would grow). For the allocation-free hot path. */
#define KB_INTEL_STACK_BUF(name, mem) \
    kb_buf name = {(mem), 0, sizeof(mem), sizeof(mem) - 1}

#endif
