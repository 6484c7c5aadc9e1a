/* The process-wide field-name table.
 *
 * A fixed array of buckets, each a singly linked chain that only grows at
 * its head. Readers walk chains with acquire loads and no lock; writers
 * serialise on a mutex, re-check, and publish a fully built node with a
 * release store. Nodes are never moved or freed before the table is, so
 * ids and name pointers stay valid. The id-to-node index is a two-level
 * array (pages of 4096) so that growing it never moves a published page. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "event/event.h"

#define NBUCKETS 65536u
#define PAGE 4096u
#define MAXPAGES 1024u /* 4M ids at most, above any configured cap */

struct node {
    struct node *_Atomic next;
    uint64_t hash;
    kb_fid id;
    uint32_t len;
    char name[];
};

struct kb_names {
    struct node *_Atomic buckets[NBUCKETS];
    struct node **_Atomic pages[MAXPAGES];
    _Atomic uint32_t count;
    _Atomic uint64_t refused;
    size_t cap;
    uint64_t uid;
    pthread_mutex_t lock;
};

/* Serial numbers for kb_names_uid: the module's only process-wide value. */
static _Atomic uint64_t next_uid = 1;

static const char *const canon_names[] = {
#define KB_CANON_NAME(e, name) name,
    KB_CANON_MAP(KB_CANON_NAME)
#undef KB_CANON_NAME
};

const char *kb_canon_name(int c)
{
    return c >= 0 && c < KB_F_CANON_COUNT ? canon_names[c] : NULL;
}

int kb_canon_find(const char *name, size_t len)
{
    for (int c = 0; c < KB_F_CANON_COUNT; c++)
        if (kb_str_eqz(name, len, canon_names[c]))
            return c;
    return -1;
}

kb_names *kb_names_new(size_t cap)
{
    kb_names *t = kb_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cap = cap ? cap : 1000000;
    t->uid = atomic_fetch_add(&next_uid, 1);
    if (t->cap > (size_t)PAGE * MAXPAGES)
        t->cap = (size_t)PAGE * MAXPAGES;
    pthread_mutex_init(&t->lock, NULL);
    for (int c = 0; c < KB_F_CANON_COUNT; c++) {
        if (kb_names_intern(t, canon_names[c], strlen(canon_names[c])) != (kb_fid)c) {
            kb_names_free(t);
            return NULL;
        }
    }
    return t;
}

void kb_names_free(kb_names *t)
{
    if (!t)
        return;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        struct node *n = atomic_load_explicit(&t->buckets[b], memory_order_relaxed);
        while (n) {
            struct node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
            kb_free(n);
            n = next;
        }
    }
    for (unsigned p = 0; p < MAXPAGES; p++)
        kb_free(atomic_load_explicit(&t->pages[p], memory_order_relaxed));
    pthread_mutex_destroy(&t->lock);
    kb_free(t);
}

static struct node *find(const kb_names *t, uint64_t h, const char *s, size_t len)
{
    struct node *n = atomic_load_explicit(&((kb_names *)t)->buckets[h & (NBUCKETS - 1)],
                                          memory_order_acquire);
    for (; n; n = atomic_load_explicit(&n->next, memory_order_acquire))
        if (n->hash == h && n->len == len && memcmp(n->name, s, len) == 0)
            return n;
    return NULL;
}

kb_fid kb_names_lookup(const kb_names *t, const char *s, size_t len)
{
    struct node *n = find(t, kb_hash(s, len), s, len);
    return n ? n->id : KB_FID_NONE;
}

kb_fid kb_names_intern(kb_names *t, const char *s, size_t len)
{
    uint64_t h = kb_hash(s, len);
    struct node *n = find(t, h, s, len);
    kb_fid id = KB_FID_NONE;
    uint32_t count;

    if (n)
        return n->id;
    if (len > UINT32_MAX - 1)
        return KB_FID_NONE;
    pthread_mutex_lock(&t->lock);
    n = find(t, h, s, len);
    if (n) {
        id = n->id;
        goto out;
    }
    count = atomic_load_explicit(&t->count, memory_order_relaxed);
    if (count >= t->cap) {
        atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
        goto out;
    }
    if (!atomic_load_explicit(&t->pages[count / PAGE], memory_order_relaxed)) {
        struct node **page = kb_calloc(PAGE, sizeof *page);
        if (!page)
            goto out;
        atomic_store_explicit(&t->pages[count / PAGE], page, memory_order_release);
    }
    n = kb_malloc(sizeof *n + len + 1);
    if (!n)
        goto out;
    n->hash = h;
    n->id = count;
    n->len = (uint32_t)len;
    memcpy(n->name, s, len);
    n->name[len] = '\0';
    atomic_load_explicit(&t->pages[count / PAGE], memory_order_relaxed)[count % PAGE] = n;
    atomic_store_explicit(&n->next,
                          atomic_load_explicit(&t->buckets[h & (NBUCKETS - 1)],
                                               memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&t->count, count + 1, memory_order_release);
    atomic_store_explicit(&t->buckets[h & (NBUCKETS - 1)], n, memory_order_release);
    id = count;
out:
    pthread_mutex_unlock(&t->lock);
    return id;
}

const char *kb_names_str(const kb_names *t, kb_fid id, size_t *len)
{
    struct node **page;
    struct node *n;

    if (id >= atomic_load_explicit(&((kb_names *)t)->count, memory_order_acquire))
        return NULL;
    page = atomic_load_explicit(&((kb_names *)t)->pages[id / PAGE], memory_order_acquire);
    n = page[id % PAGE];
    if (len)
        *len = n->len;
    return n->name;
}

size_t kb_names_count(const kb_names *t)
{
    return atomic_load_explicit(&((kb_names *)t)->count, memory_order_acquire);
}

uint64_t kb_names_refused(const kb_names *t)
{
    return atomic_load_explicit(&((kb_names *)t)->refused, memory_order_relaxed);
}

uint64_t kb_names_uid(const kb_names *t)
{
    return t->uid;
}
