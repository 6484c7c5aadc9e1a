/* Allocation wrappers, arenas and capped growable buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void *kb_malloc(size_t n) { return malloc(n ? n : 1); }
void *kb_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *kb_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void kb_free(void *p) { free(p); }

char *kb_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *kb_strdup(const char *s) { return kb_strndup(s, strlen(s)); }

int kb_grow(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
    size_t n;
    void *q;

    if (need <= *cap)
        return KB_OK;
    if (size && need > SIZE_MAX / size)
        return KB_ENOMEM;
    n = *cap ? *cap : first ? first : 1;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (size && n > SIZE_MAX / size) /* doubling overshot: settle for need */
        n = need;
    q = kb_realloc(*p, n * size);
    if (!q)
        return KB_ENOMEM;
    *p = q;
    *cap = n;
    return KB_OK;
}

/* ---- arena ------------------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct kb_arena {
    struct chunk *head; /* current chunk; older ones follow */
    size_t chunk_size;
    size_t cap;
    size_t total; /* bytes of all chunks */
};

kb_arena *kb_arena_new(size_t chunk_size, size_t cap)
{
    kb_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->cap = cap ? cap : SIZE_MAX;
    return a;
}

static void chunks_free(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

void kb_arena_free(kb_arena *a)
{
    if (!a)
        return;
    chunks_free(a->head);
    free(a);
}

void kb_arena_clear(kb_arena *a)
{
    struct chunk *keep;

    if (!a->head)
        return;
    /* Keep the oldest chunk of the default size (the one every batch needs)
     * and free the rest, so a one-off huge record does not pin memory. */
    keep = a->head;
    while (keep->next)
        keep = keep->next;
    if (keep != a->head) {
        struct chunk *c = a->head;
        while (c != keep) {
            struct chunk *next = c->next;
            free(c);
            c = next;
        }
    }
    if (keep->size > a->chunk_size) {
        free(keep);
        a->head = NULL;
        a->total = 0;
        return;
    }
    keep->used = 0;
    a->head = keep;
    a->total = keep->size;
}

void *kb_arena_alloc(kb_arena *a, size_t n)
{
    struct chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;

    if (need < n)
        return NULL;
    if (c && c->size - c->used >= need) {
        void *p = c->data + c->used;
        c->used += need;
        return p;
    }
    {
        size_t size = need > a->chunk_size ? need : a->chunk_size;
        if (a->total + size > a->cap || a->total + size < a->total)
            return NULL;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = need;
        a->total += size;
        if (a->head && need > a->chunk_size) {
            /* Oversized one-off: put it behind the current chunk so the
             * current one keeps serving small allocations. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        return c->data;
    }
}

char *kb_arena_strndup(kb_arena *a, const char *s, size_t n)
{
    char *d = kb_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n); /* s may be NULL when n is 0 */
    d[n] = '\0';
    return d;
}

size_t kb_arena_used(const kb_arena *a)
{
    size_t used = 0;
    for (const struct chunk *c = a->head; c; c = c->next)
        used += c->used;
    return used;
}

/* ---- buffers ----------------------------------------------------------- */

static char empty_buf[1];

void kb_buf_init(kb_buf *b, size_t cap)
{
    b->data = empty_buf;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : SIZE_MAX / 2;
}

void kb_buf_release(kb_buf *b)
{
    if (b->alloc)
        free(b->data);
    b->data = empty_buf;
    b->len = b->alloc = 0;
}

void kb_buf_clear(kb_buf *b)
{
    b->len = 0;
    if (b->alloc)
        b->data[0] = '\0';
}

int kb_buf_reserve(kb_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1, n;
    char *p;

    if (need <= b->alloc)
        return KB_OK;
    if (need - 1 > b->cap || need < b->len)
        return KB_ELIMIT;
    n = b->alloc ? b->alloc : 256;
    while (n < need)
        n *= 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    p = realloc(b->alloc ? b->data : NULL, n);
    if (!p)
        return KB_ENOMEM;
    if (!b->alloc)
        p[0] = '\0';
    b->data = p;
    b->alloc = n;
    return KB_OK;
}

int kb_buf_append(kb_buf *b, const void *p, size_t n)
{
    int rc = kb_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KB_OK;
}

int kb_buf_putc(kb_buf *b, char c) { return kb_buf_append(b, &c, 1); }
int kb_buf_puts(kb_buf *b, const char *s) { return kb_buf_append(b, s, strlen(s)); }

int kb_buf_vprintf(kb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return KB_EINVAL;
    rc = kb_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return KB_OK;
}

int kb_buf_printf(kb_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = kb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}
