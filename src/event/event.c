/* Event field table: appends into the batch arena, canonical slots, and
 * the per-thread field index decoders find fields with. */
#include <string.h>

#include "event/event.h"

/* The field index: an open-addressing hash from field id to the index of
 * the first field of that id, for one event at a time. Slots are stamped
 * with a generation, so starting over for the next event costs nothing;
 * the table in use is a power of two about four times the fields indexed
 * (an event of 40 fields uses 2 KB, not the whole table), rebuilt larger
 * when appended fields fill half of it. */
#define IX_BITS_MIN 6
#define IX_BITS_MAX 13 /* 8192 slots: twice KB_EVENT_MAX_FIELDS */

struct ix_slot {
    uint32_t gen;
    kb_fid id;
    uint32_t idx;
};

struct field_index {
    const kb_event *ev; /* the indexed event, or NULL */
    uint32_t n;         /* fields indexed: ev->fields[0..n) */
    uint32_t gen;       /* stamp of the live slots */
    unsigned bits;      /* table in use: 1 << bits slots */
    struct ix_slot slot[1u << IX_BITS_MAX];
};

static _Thread_local struct field_index tix;

static inline uint32_t ix_hash(kb_fid id, unsigned bits)
{
    return (uint32_t)(id * 0x9E3779B1u) >> (32 - bits);
}

static void ix_restart(unsigned bits)
{
    if (++tix.gen == 0) {
        memset(tix.slot, 0, sizeof tix.slot);
        tix.gen = 1;
    }
    tix.bits = bits;
    tix.n = 0;
}

/* Indexes ev->fields[tix.n .. ev->nfields). */
static void ix_extend(const kb_event *ev)
{
    uint32_t n = ev->nfields;

    if (2 * n > (1u << tix.bits)) {
        unsigned bits = tix.bits;
        while (2 * n > (1u << bits) && bits < IX_BITS_MAX)
            bits++;
        ix_restart(bits);
    }
    for (uint32_t i = tix.n; i < n; i++) {
        kb_fid id = ev->fields[i].name;
        uint32_t mask = (1u << tix.bits) - 1, h = ix_hash(id, tix.bits);
        struct ix_slot *sl;
        for (;;) {
            sl = &tix.slot[h];
            if (sl->gen != tix.gen || sl->id == id)
                break;
            h = (h + 1) & mask;
        }
        if (sl->gen != tix.gen)
            *sl = (struct ix_slot){tix.gen, id, i};
    }
    tix.n = n;
}

void kb_event_init(kb_event *ev, kb_names *names, kb_arena *arena)
{
    memset(ev, 0, sizeof *ev);
    ev->names = names;
    ev->arena = arena;
    kb_event_clear(ev);
}

void kb_event_clear(kb_event *ev)
{
    if (tix.ev == ev)
        tix.ev = NULL;
    ev->raw = NULL;
    ev->raw_len = 0;
    ev->nfields = 0;
    ev->ts = KB_TIME_NONE;
    ev->format = NULL;
    ev->ls = (kb_logsource){0};
    memset(ev->canon, 0xff, sizeof ev->canon);
}

int kb_event_reserve(kb_event *ev, uint32_t n)
{
    kb_field *nf;

    if (n > KB_EVENT_MAX_FIELDS)
        n = KB_EVENT_MAX_FIELDS;
    if (n <= ev->cap)
        return KB_OK;
    /* The old array stays in the arena until the batch is cleared;
     * kb_event_add's doubling keeps that waste below the final size. */
    nf = kb_arena_alloc(ev->arena, n * sizeof *nf);
    if (!nf)
        return KB_ENOMEM;
    if (ev->nfields)
        memcpy(nf, ev->fields, ev->nfields * sizeof *nf);
    ev->fields = nf;
    ev->cap = n;
    return KB_OK;
}

int kb_event_add(kb_event *ev, kb_fid name, kb_vtype type, const char *val, size_t len)
{
    kb_field *f;

    if (name == KB_FID_NONE)
        return KB_ELIMIT;
    if (len > UINT32_MAX)
        return KB_ELIMIT;
    if (ev->nfields == ev->cap) {
        int rc;
        if (ev->cap >= KB_EVENT_MAX_FIELDS)
            return KB_ELIMIT;
        if ((rc = kb_event_reserve(ev, ev->cap ? ev->cap * 2 : 64)) != KB_OK)
            return rc;
    }
    f = &ev->fields[ev->nfields];
    f->name = name;
    f->type = (uint8_t)type;
    f->flags = 0;
    f->elem = 0;
    f->len = (uint32_t)len;
    f->val = val;
    return (int)ev->nfields++;
}

int kb_event_add_named(kb_event *ev, const char *name, size_t nlen, kb_vtype type,
                       const char *val, size_t len)
{
    return kb_event_add(ev, kb_names_intern(ev->names, name, nlen), type, val, len);
}

/* kb_event_add_static's ids, by the name's address, bound to a names
 * table by its uid. A collision only costs an intern. */
#define STATIC_SLOTS 1024

static _Thread_local struct static_slot {
    const char *name;
    uint64_t uid;
    kb_fid id;
} static_ids[STATIC_SLOTS];

int kb_event_add_static(kb_event *ev, const char *name, kb_vtype type, const char *val, size_t len)
{
    uint64_t uid = kb_names_uid(ev->names);
    /* Two ways a set: a decoder's few dozen names would otherwise have a
     * pair or two evicting each other every record. */
    struct static_slot *sl =
        &static_ids[((uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15u >> 55) * 2]; /* 9 bits */
    kb_fid id;

    if (sl[0].name == name && sl[0].uid == uid) {
        id = sl[0].id;
    } else if (sl[1].name == name && sl[1].uid == uid) {
        id = sl[1].id;
    } else {
        id = kb_names_intern(ev->names, name, strlen(name));
        if (id != KB_FID_NONE) {
            sl[1] = sl[0];
            sl[0] = (struct static_slot){name, uid, id};
        }
    }
    return kb_event_add(ev, id, type, val, len);
}

void kb_event_alias(kb_event *ev, int c, int idx)
{
    if (c >= 0 && c < KB_F_CANON_COUNT && idx >= 0 && (uint32_t)idx < ev->nfields)
        ev->canon[c] = (uint16_t)idx;
}

int kb_event_set(kb_event *ev, int c, kb_vtype type, const char *val, size_t len)
{
    int idx = kb_event_add(ev, (kb_fid)c, type, val, len);
    if (idx >= 0) {
        ev->fields[idx].flags |= KB_FF_DERIVED;
        ev->canon[c] = (uint16_t)idx;
    }
    return idx;
}

int kb_event_set_copy(kb_event *ev, int c, kb_vtype type, const char *val, size_t len)
{
    char *copy = kb_arena_strndup(ev->arena, val, len);
    if (!copy)
        return KB_ENOMEM;
    return kb_event_set(ev, c, type, copy, len);
}

int kb_event_map(kb_event *ev, int c, const char *name)
{
    kb_fid id;
    int i;

    if (ev->canon[c] != KB_CANON_NONE)
        return -1;
    id = kb_names_lookup(ev->names, name, strlen(name));
    if (id == KB_FID_NONE)
        return -1;
    i = kb_event_find_typed(ev, id, ~(1u << KB_V_NULL), 1);
    if (i >= 0)
        ev->canon[c] = (uint16_t)i;
    return i;
}

const kb_field *kb_event_canon(const kb_event *ev, int c)
{
    return ev->canon[c] == KB_CANON_NONE ? NULL : &ev->fields[ev->canon[c]];
}

const kb_field *kb_event_next(const kb_event *ev, kb_fid id, const kb_field *prev)
{
    uint32_t i;

    if (id < KB_F_CANON_COUNT)
        return prev ? NULL : kb_event_canon(ev, (int)id);
    i = prev ? (uint32_t)(prev - ev->fields) + 1 : 0;
    for (; i < ev->nfields; i++)
        if (ev->fields[i].name == id)
            return &ev->fields[i];
    return NULL;
}

const kb_field *kb_event_get(const kb_event *ev, kb_fid id)
{
    return kb_event_next(ev, id, NULL);
}

const kb_field *kb_event_get_named(const kb_event *ev, const char *name)
{
    kb_fid id = kb_names_lookup(ev->names, name, strlen(name));
    return id == KB_FID_NONE ? NULL : kb_event_get(ev, id);
}

int kb_event_fids(kb_names *t, const char *const *names, size_t n, kb_fid *ids, uint64_t *uid)
{
    uint64_t u = kb_names_uid(t);
    int rc = KB_OK;

    if (*uid == u)
        return KB_OK;
    for (size_t i = 0; i < n; i++) {
        ids[i] = kb_names_intern(t, names[i], strlen(names[i]));
        if (ids[i] == KB_FID_NONE)
            rc = KB_ELIMIT;
    }
    *uid = rc == KB_OK ? u : 0;
    return rc;
}

void kb_event_index(const kb_event *ev)
{
    unsigned bits = IX_BITS_MIN;

    /* Room for the fields a decoder appends after indexing (derived and
     * canonical ones) without a rebuild: four slots a field. */
    while (4 * ev->nfields > (1u << bits) && bits < IX_BITS_MAX)
        bits++;
    ix_restart(bits);
    tix.ev = ev;
    ix_extend(ev);
}

int kb_event_find(const kb_event *ev, kb_fid id)
{
    uint32_t mask, h;

    if (tix.ev != ev || ev->nfields < tix.n) {
        for (uint32_t i = 0; i < ev->nfields; i++)
            if (ev->fields[i].name == id)
                return (int)i;
        return -1;
    }
    if (ev->nfields > tix.n)
        ix_extend(ev);
    mask = (1u << tix.bits) - 1;
    for (h = ix_hash(id, tix.bits);; h = (h + 1) & mask) {
        const struct ix_slot *sl = &tix.slot[h];
        if (sl->gen != tix.gen)
            return -1;
        if (sl->id == id)
            return (int)sl->idx;
    }
}

int kb_event_find_typed(const kb_event *ev, kb_fid id, unsigned types, int elems)
{
    int i = kb_event_find(ev, id);

    if (i < 0)
        return -1;
    for (uint32_t j = (uint32_t)i; j < ev->nfields; j++) {
        const kb_field *f = &ev->fields[j];
        if (f->name == id && ((types >> f->type) & 1u) && (elems || !(f->flags & KB_FF_ELEM)))
            return (int)j;
    }
    return -1;
}
