/* Event field table: appends into the batch arena, canonical slots. */
#include <string.h>

#include "event/event.h"

void kb_event_init(kb_event *ev, kb_names *names, kb_arena *arena)
{
    memset(ev, 0, sizeof *ev);
    ev->names = names;
    ev->arena = arena;
    kb_event_clear(ev);
}

void kb_event_clear(kb_event *ev)
{
    ev->raw = NULL;
    ev->raw_len = 0;
    ev->nfields = 0;
    ev->ts = KB_TIME_NONE;
    ev->format = NULL;
    ev->ls = (kb_logsource){0};
    memset(ev->canon, 0xff, sizeof ev->canon);
}

int kb_event_add(kb_event *ev, kb_fid name, kb_vtype type, const char *val, size_t len)
{
    kb_field *f;

    if (name == KB_FID_NONE)
        return KB_ELIMIT;
    if (len > UINT32_MAX)
        return KB_ELIMIT;
    if (ev->nfields == ev->cap) {
        uint32_t ncap = ev->cap ? ev->cap * 2 : 64;
        kb_field *nf;
        if (ev->cap >= KB_EVENT_MAX_FIELDS)
            return KB_ELIMIT;
        if (ncap > KB_EVENT_MAX_FIELDS)
            ncap = KB_EVENT_MAX_FIELDS;
        /* The old array stays in the arena until the batch is cleared;
         * doubling keeps that waste below the final size. */
        nf = kb_arena_alloc(ev->arena, ncap * sizeof *nf);
        if (!nf)
            return KB_ENOMEM;
        if (ev->nfields)
            memcpy(nf, ev->fields, ev->nfields * sizeof *nf);
        ev->fields = nf;
        ev->cap = ncap;
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

    if (ev->canon[c] != KB_CANON_NONE)
        return -1;
    id = kb_names_lookup(ev->names, name, strlen(name));
    if (id == KB_FID_NONE)
        return -1;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].name == id && ev->fields[i].type != KB_V_NULL) {
            ev->canon[c] = (uint16_t)i;
            return (int)i;
        }
    }
    return -1;
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
