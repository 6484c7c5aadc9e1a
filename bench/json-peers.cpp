// json-c and simdjson peers for bench/bench_json.c: parse each line to a
// DOM and walk it to the same flat kb_event koban's flattener produces.
// (json-c is here, not in bench_json.c, because its headers clash with
// jansson's.) Recursion is fine: the inputs are trusted samples.
#include <cstdio>
#include <cstring>
#include <new>

#ifdef KB_BENCH_JSONC
#include <json-c/json.h>
#endif
#ifdef KB_BENCH_SIMDJSON
#include <simdjson.h>
#endif

extern "C" {
#include "event/event.h"
}

namespace {

struct walker {
    char name[1024];
    kb_event *ev;
    bool failed;
};

void add(walker &c, size_t nlen, kb_vtype t, const char *v, size_t vl, int flags, unsigned elem)
{
    int idx = kb_event_add(c.ev, kb_names_intern(c.ev->names, c.name, nlen), t, v, vl);
    if (idx < 0) {
        c.failed = true;
        return;
    }
    c.ev->fields[idx].flags = (uint8_t)flags;
    c.ev->fields[idx].elem = (uint16_t)elem;
}

// Appends ".key" (or "key" at the top) to the name of length nlen.
size_t push_key(walker &c, size_t nlen, const char *k, size_t kl)
{
    if (nlen + kl + 2 > sizeof c.name) {
        c.failed = true;
        return nlen;
    }
    if (nlen)
        c.name[nlen++] = '.';
    memcpy(c.name + nlen, k, kl);
    return nlen + kl;
}

} // namespace

#ifdef KB_BENCH_JSONC
namespace {

struct jctx : walker {
    json_tokener *tok;
};

void jwalk(walker &c, json_object *v, size_t nlen, int flags, unsigned elem)
{
    switch (json_object_get_type(v)) {
    case json_type_object: {
        // The lh_table walk, not json_object_iter_*: jansson exports
        // json_object_iter_next too, and one executable links both.
        json_object_object_foreach(v, k, val)
            jwalk(c, val, push_key(c, nlen, k, strlen(k)), flags, elem);
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);
        add(c, nlen, KB_V_ARRAY, "", 0, flags, elem);
        for (size_t i = 0; i < n; i++)
            jwalk(c, json_object_array_get_idx(v, i), nlen, KB_FF_ELEM, (unsigned)i);
        break;
    }
    case json_type_string:
        add(c, nlen, KB_V_STR, json_object_get_string(v), (size_t)json_object_get_string_len(v),
            flags, elem);
        break;
    case json_type_int:
    case json_type_double: {
        // json-c renders numbers back to text (doubles keep their source text).
        const char *s = json_object_get_string(v);
        add(c, nlen, json_object_get_type(v) == json_type_int ? KB_V_INT : KB_V_FLOAT, s,
            strlen(s), flags, elem);
        break;
    }
    case json_type_boolean:
        if (json_object_get_boolean(v))
            add(c, nlen, KB_V_BOOL, "true", 4, flags, elem);
        else
            add(c, nlen, KB_V_BOOL, "false", 5, flags, elem);
        break;
    case json_type_null:
        add(c, nlen, KB_V_NULL, "null", 4, flags, elem);
        break;
    }
}

} // namespace

extern "C" void *peer_jsonc_new(void)
{
    jctx *c = new (std::nothrow) jctx();
    if (c)
        c->tok = json_tokener_new();
    return c;
}

extern "C" void peer_jsonc_free(void *p)
{
    jctx *c = static_cast<jctx *>(p);
    if (c)
        json_tokener_free(c->tok);
    delete c;
}

extern "C" int peer_jsonc_run(void *p, const char *s, size_t len, kb_event *ev, int parse_only)
{
    jctx &c = *static_cast<jctx *>(p);
    json_object *root;
    int rc = 0;

    json_tokener_reset(c.tok);
    root = json_tokener_parse_ex(c.tok, s, (int)len);
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return -1;
    }
    if (!parse_only) {
        c.ev = ev;
        c.failed = false;
        jwalk(c, root, 0, 0, 0);
        rc = c.failed ? -1 : 0;
    }
    json_object_put(root);
    return rc;
}
#endif

#ifdef KB_BENCH_SIMDJSON
namespace {

struct ctx : walker {
    simdjson::dom::parser parser;
};

// Numbers: simdjson keeps binary values only; print them into the arena
// (koban stores number text).
void add_num(ctx &c, size_t nlen, kb_vtype t, const char *fmt, double d, long long i, int flags,
             unsigned elem)
{
    char num[64];
    int n = t == KB_V_INT ? snprintf(num, sizeof num, fmt, i) : snprintf(num, sizeof num, fmt, d);
    add(c, nlen, t, kb_arena_strndup(c.ev->arena, num, (size_t)n), (size_t)n, flags, elem);
}

void walk(ctx &c, simdjson::dom::element v, size_t nlen, int flags, unsigned elem)
{
    using simdjson::dom::element_type;
    switch (v.type()) {
    case element_type::OBJECT:
        for (auto kv : simdjson::dom::object(v))
            walk(c, kv.value, push_key(c, nlen, kv.key.data(), kv.key.size()), flags, elem);
        break;
    case element_type::ARRAY: {
        unsigned i = 0;
        add(c, nlen, KB_V_ARRAY, "", 0, flags, elem);
        for (auto e : simdjson::dom::array(v))
            walk(c, e, nlen, KB_FF_ELEM, i++);
        break;
    }
    case element_type::STRING: {
        std::string_view s = v.get_string().value_unsafe();
        add(c, nlen, KB_V_STR, s.data(), s.size(), flags, elem);
        break;
    }
    case element_type::INT64:
        add_num(c, nlen, KB_V_INT, "%lld", 0, (long long)v.get_int64().value_unsafe(), flags,
                elem);
        break;
    case element_type::UINT64:
        add_num(c, nlen, KB_V_INT, "%llu", 0, (long long)v.get_uint64().value_unsafe(), flags,
                elem);
        break;
    case element_type::DOUBLE:
        add_num(c, nlen, KB_V_FLOAT, "%.17g", v.get_double().value_unsafe(), 0, flags, elem);
        break;
    case element_type::BOOL:
        if (v.get_bool().value_unsafe())
            add(c, nlen, KB_V_BOOL, "true", 4, flags, elem);
        else
            add(c, nlen, KB_V_BOOL, "false", 5, flags, elem);
        break;
    case element_type::NULL_VALUE:
        add(c, nlen, KB_V_NULL, "null", 4, flags, elem);
        break;
    }
}

} // namespace

extern "C" void *peer_simdjson_new(void) { return new (std::nothrow) ctx(); }

extern "C" void peer_simdjson_free(void *p) { delete static_cast<ctx *>(p); }

extern "C" int peer_simdjson_run(void *p, const char *s, size_t len, kb_event *ev, int parse_only)
{
    ctx &c = *static_cast<ctx *>(p);
    simdjson::dom::element root;
    // The caller guarantees SIMDJSON_PADDING readable bytes after the line.
    if (c.parser.parse(s, len, false).get(root) != simdjson::SUCCESS)
        return -1;
    if (root.type() != simdjson::dom::element_type::OBJECT)
        return -1;
    if (parse_only)
        return 0;
    c.ev = ev;
    c.failed = false;
    walk(c, root, 0, 0, 0);
    return c.failed ? -1 : 0;
}
#endif
