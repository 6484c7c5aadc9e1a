/* YAML document tree over libyaml's event parser (see yaml.h). */
#include "base/yaml.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/base.h"

#define DEF_DEPTH 64
#define DEF_NODES 1000000
#define DEF_BYTES (64u << 20)

struct kb_yaml {
    kb_arena *arena;
    kb_yaml_node **docs;
    size_t ndocs;
};

/* An open sequence or mapping and the children gathered so far. */
typedef struct frame {
    kb_yaml_node *node;
    kb_yaml_node **kids;
    size_t n, alloc;
} frame;

static int push_kid(frame *f, kb_yaml_node *k)
{
    if (kb_grow((void **)&f->kids, &f->alloc, f->n + 1, sizeof *f->kids, 8))
        return KB_ENOMEM;
    f->kids[f->n++] = k;
    return KB_OK;
}

static kb_yaml_node *new_node(kb_arena *a, int kind, const yaml_mark_t *m, const yaml_char_t *tag)
{
    kb_yaml_node *n = kb_arena_alloc(a, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->line = (uint32_t)m->line + 1;
    n->col = (uint32_t)m->column + 1;
    if (tag) {
        n->tag = kb_arena_strndup(a, (const char *)tag, strlen((const char *)tag));
        if (!n->tag)
            return NULL;
    }
    return n;
}

static void set_err(kb_yaml_error *err, const char *reason, size_t line, size_t col)
{
    if (!err)
        return;
    err->reason = reason;
    err->line = (uint32_t)line;
    err->col = (uint32_t)col;
}

int kb_yaml_parse(const char *p, size_t len, const kb_yaml_limits *lim, kb_yaml **out,
                  kb_yaml_error *err)
{
    size_t max_depth = lim && lim->max_depth ? lim->max_depth : DEF_DEPTH;
    size_t max_nodes = lim && lim->max_nodes ? lim->max_nodes : DEF_NODES;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEF_BYTES;
    yaml_parser_t parser;
    yaml_event_t ev;
    int parser_ok = 0, have_event = 0, rc = KB_OK;
    frame *stack = NULL;
    size_t depth = 0, nodes = 0, docs_alloc = 0;
    kb_yaml_node *root = NULL;
    kb_yaml *y = NULL;
    int done = 0;

    *out = NULL;
    set_err(err, NULL, 0, 0);
    if (len > max_bytes) {
        set_err(err, "YAML input too large", 0, 0);
        return KB_ELIMIT;
    }
    y = kb_calloc(1, sizeof(*y));
    stack = kb_calloc(max_depth + 1, sizeof(*stack));
    if (!y || !stack || !(y->arena = kb_arena_new(64 * 1024, 0))) {
        rc = KB_ENOMEM;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = KB_ENOMEM;
        goto out;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)p, len);

    while (!done) {
        kb_yaml_node *n = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            set_err(err, parser.problem ? parser.problem : "YAML syntax error",
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1);
            rc = KB_EPARSE;
            goto out;
        }
        have_event = 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            root = NULL;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (kb_grow((void **)&y->docs, &docs_alloc, y->ndocs + 1, sizeof *y->docs, 4)) {
                rc = KB_ENOMEM;
                goto out;
            }
            y->docs[y->ndocs++] = root;
            break;
        case YAML_ALIAS_EVENT:
            set_err(err, "YAML aliases are not supported", ev.start_mark.line + 1,
                    ev.start_mark.column + 1);
            rc = KB_EPARSE;
            goto out;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *anchor = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.anchor
                                        : ev.type == YAML_SEQUENCE_START_EVENT
                                            ? ev.data.sequence_start.anchor
                                            : ev.data.mapping_start.anchor;
            const yaml_char_t *tag = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.tag
                                     : ev.type == YAML_SEQUENCE_START_EVENT
                                         ? ev.data.sequence_start.tag
                                         : ev.data.mapping_start.tag;
            int kind = ev.type == YAML_SCALAR_EVENT           ? KB_YAML_SCALAR
                       : ev.type == YAML_SEQUENCE_START_EVENT ? KB_YAML_SEQ
                                                              : KB_YAML_MAP;
            (void)anchor; /* anchors alone are harmless; only aliases are refused */
            if (++nodes > max_nodes) {
                set_err(err, "YAML document has too many nodes", ev.start_mark.line + 1,
                        ev.start_mark.column + 1);
                rc = KB_ELIMIT;
                goto out;
            }
            n = new_node(y->arena, kind, &ev.start_mark, tag);
            if (!n) {
                rc = KB_ENOMEM;
                goto out;
            }
            if (kind == KB_YAML_SCALAR) {
                switch (ev.data.scalar.style) {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: n->style = KB_YAML_SQUOTED; break;
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = KB_YAML_DQUOTED; break;
                case YAML_LITERAL_SCALAR_STYLE: n->style = KB_YAML_LITERAL; break;
                case YAML_FOLDED_SCALAR_STYLE: n->style = KB_YAML_FOLDED; break;
                default: n->style = KB_YAML_PLAIN; break;
                }
                n->len = ev.data.scalar.length;
                n->str = kb_arena_strndup(y->arena, (const char *)ev.data.scalar.value, n->len);
                if (!n->str) {
                    rc = KB_ENOMEM;
                    goto out;
                }
            } else {
                int flow = kind == KB_YAML_SEQ
                               ? ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                               : ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
                n->style = flow ? KB_YAML_FLOW : KB_YAML_BLOCK;
            }
            /* Attach to the open container or make it the document root. */
            if (depth > 0) {
                rc = push_kid(&stack[depth - 1], n);
                if (rc)
                    goto out;
            } else {
                root = n;
            }
            if (kind != KB_YAML_SCALAR) {
                if (depth >= max_depth) {
                    set_err(err, "YAML nesting too deep", ev.start_mark.line + 1,
                            ev.start_mark.column + 1);
                    rc = KB_ELIMIT;
                    goto out;
                }
                stack[depth].node = n;
                stack[depth].n = 0;
                depth++;
            }
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            frame *f;
            if (depth == 0) {
                rc = KB_EPARSE;
                set_err(err, "unbalanced YAML events", ev.start_mark.line + 1, 0);
                goto out;
            }
            f = &stack[--depth];
            n = f->node;
            n->n = n->kind == KB_YAML_MAP ? f->n / 2 : f->n;
            if (f->n) {
                n->items = kb_arena_alloc(y->arena, f->n * sizeof(*n->items));
                if (!n->items) {
                    rc = KB_ENOMEM;
                    goto out;
                }
                memcpy(n->items, f->kids, f->n * sizeof(*n->items));
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_event = 0;
    }
    *out = y;
    y = NULL;
out:
    if (have_event)
        yaml_event_delete(&ev);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (stack) {
        for (size_t i = 0; i <= max_depth; i++)
            kb_free(stack[i].kids);
        kb_free(stack);
    }
    if (rc == KB_ENOMEM && err && !err->reason)
        err->reason = "out of memory";
    kb_yaml_free(y);
    return rc;
}

int kb_yaml_parse_file(const char *path, const kb_yaml_limits *lim, kb_yaml **out,
                       kb_yaml_error *err)
{
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEF_BYTES;
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char tmp[16384];
    size_t got;
    int rc = KB_OK;

    *out = NULL;
    if (!f) {
        set_err(err, "cannot read file", 0, 0);
        return KB_EIO;
    }
    kb_buf_init(&b, max_bytes + 1);
    while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        rc = kb_buf_append(&b, tmp, got);
        if (rc) {
            set_err(err, rc == KB_ELIMIT ? "YAML input too large" : "out of memory", 0, 0);
            goto out;
        }
    }
    if (ferror(f)) {
        set_err(err, "cannot read file", 0, 0);
        rc = KB_EIO;
        goto out;
    }
    rc = kb_yaml_parse(b.data ? b.data : "", b.len, lim, out, err);
out:
    fclose(f);
    kb_buf_release(&b);
    return rc;
}

void kb_yaml_free(kb_yaml *y)
{
    if (!y)
        return;
    kb_arena_free(y->arena);
    kb_free(y->docs);
    kb_free(y);
}

size_t kb_yaml_ndocs(const kb_yaml *y)
{
    return y ? y->ndocs : 0;
}

const kb_yaml_node *kb_yaml_doc(const kb_yaml *y, size_t i)
{
    return y && i < y->ndocs ? y->docs[i] : NULL;
}

const kb_yaml_node *kb_yaml_get(const kb_yaml_node *map, const char *key)
{
    if (!map || map->kind != KB_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const kb_yaml_node *k = map->items[2 * i];
        if (k->kind == KB_YAML_SCALAR && kb_str_eqz(k->str, k->len, key))
            return map->items[2 * i + 1];
    }
    return NULL;
}

/* A scalar whose type comes from its text: plain and not tagged !!str. */
static int typed(const kb_yaml_node *n)
{
    if (!n || n->kind != KB_YAML_SCALAR || n->style != KB_YAML_PLAIN)
        return 0;
    if (n->tag && (strcmp(n->tag, "!!str") == 0 || strcmp(n->tag, "tag:yaml.org,2002:str") == 0))
        return 0;
    return 1;
}

static int tag_is(const kb_yaml_node *n, const char *t)
{
    char full[64];
    if (!n->tag)
        return 0;
    if (strcmp(n->tag, t) == 0)
        return 1;
    snprintf(full, sizeof(full), "tag:yaml.org,2002:%s", t + 2);
    return strcmp(n->tag, full) == 0;
}

int kb_yaml_is_null(const kb_yaml_node *n)
{
    if (!n)
        return 1;
    if (n->kind == KB_YAML_SCALAR && tag_is(n, "!!null"))
        return 1;
    if (!typed(n))
        return 0;
    return n->len == 0 || kb_str_eqz(n->str, n->len, "~") || kb_str_eqz(n->str, n->len, "null") ||
           kb_str_eqz(n->str, n->len, "Null") || kb_str_eqz(n->str, n->len, "NULL");
}

int kb_yaml_bool(const kb_yaml_node *n, int *v)
{
    static const char *t[] = {"true", "True", "TRUE"};
    static const char *f[] = {"false", "False", "FALSE"};
    if (!typed(n))
        return 0;
    for (int i = 0; i < 3; i++) {
        if (kb_str_eqz(n->str, n->len, t[i])) {
            *v = 1;
            return 1;
        }
        if (kb_str_eqz(n->str, n->len, f[i])) {
            *v = 0;
            return 1;
        }
    }
    return 0;
}

int kb_yaml_int(const kb_yaml_node *n, int64_t *v)
{
    if (!typed(n) || n->len == 0)
        return 0;
    return kb_parse_i64(n->str, n->len, v) == KB_OK;
}

int kb_yaml_is_number(const kb_yaml_node *n)
{
    size_t i = 0, digits = 0;
    int64_t iv;
    if (kb_yaml_int(n, &iv))
        return 1;
    if (!typed(n) || n->len == 0)
        return 0;
    if (n->str[i] == '-' || n->str[i] == '+')
        i++;
    while (i < n->len && n->str[i] >= '0' && n->str[i] <= '9')
        i++, digits++;
    if (i < n->len && n->str[i] == '.') {
        i++;
        while (i < n->len && n->str[i] >= '0' && n->str[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return 0;
    if (i < n->len && (n->str[i] == 'e' || n->str[i] == 'E')) {
        size_t ed = 0;
        i++;
        if (i < n->len && (n->str[i] == '-' || n->str[i] == '+'))
            i++;
        while (i < n->len && n->str[i] >= '0' && n->str[i] <= '9')
            i++, ed++;
        if (!ed)
            return 0;
    }
    return i == n->len;
}

int kb_yaml_is_str(const kb_yaml_node *n)
{
    int b;
    if (!n || n->kind != KB_YAML_SCALAR)
        return 0;
    return !kb_yaml_is_null(n) && !kb_yaml_bool(n, &b) && !kb_yaml_is_number(n);
}
