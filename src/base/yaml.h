/* A small YAML document tree over libyaml.
 *
 * kb_yaml_parse reads a YAML stream (one or more documents) into a tree of
 * nodes: scalars, sequences and mappings. Every node carries its 1-based line
 * and column so that callers can report "file:line: reason". Mappings keep
 * their key order. Scalars keep their style (plain, quoted, block) and
 * explicit tag, so a caller can tell the plain `null` or `12` from the quoted
 * string "null" or '12'.
 *
 * Parsing is event-driven with an explicit stack: no recursion, a depth cap
 * and a node cap (kb_yaml_limits), and aliases/anchors are refused (they
 * could multiply the tree: "billion laughs"). Everything a kb_yaml holds
 * lives in one arena released by kb_yaml_free. */
#ifndef KB_YAML_H
#define KB_YAML_H

#include <stddef.h>
#include <stdint.h>

enum kb_yaml_kind { KB_YAML_SCALAR, KB_YAML_SEQ, KB_YAML_MAP };

enum kb_yaml_style {
    KB_YAML_PLAIN,   /* foo, 12, null */
    KB_YAML_SQUOTED, /* 'foo' */
    KB_YAML_DQUOTED, /* "foo" */
    KB_YAML_LITERAL, /* | block */
    KB_YAML_FOLDED,  /* > block */
    KB_YAML_FLOW,    /* sequences and mappings written [a, b] / {a: b} */
    KB_YAML_BLOCK    /* sequences and mappings in block style */
};

typedef struct kb_yaml_node kb_yaml_node;
struct kb_yaml_node {
    uint8_t kind;  /* enum kb_yaml_kind */
    uint8_t style; /* enum kb_yaml_style */
    uint32_t line; /* 1-based */
    uint32_t col;  /* 1-based */
    const char *tag; /* explicit tag as written ("!!str", "tag:yaml.org,2002:int"), or NULL */
    /* Scalar: the value, NUL-terminated, len bytes (may contain NULs). */
    const char *str;
    size_t len;
    /* Sequence: n items. Mapping: n pairs, items[2*i] the key and
     * items[2*i+1] the value, in document order. */
    kb_yaml_node **items;
    size_t n;
};

typedef struct kb_yaml_limits {
    size_t max_depth; /* nesting of sequences/mappings; 0: 64 */
    size_t max_nodes; /* nodes over all documents; 0: 1,000,000 */
    size_t max_bytes; /* input size; 0: 64 MiB */
} kb_yaml_limits;

typedef struct kb_yaml_error {
    const char *reason; /* static text */
    uint32_t line;      /* 1-based; 0 when unknown */
    uint32_t col;
} kb_yaml_error;

typedef struct kb_yaml kb_yaml;

/* Parses p[0..len). lim may be NULL (defaults). On success returns KB_OK and
 * *out, which the caller frees with kb_yaml_free. On failure returns KB_EPARSE
 * (syntax, alias), KB_ELIMIT (a cap) or KB_ENOMEM, fills *err (may be NULL),
 * and sets *out to NULL. An empty stream parses to zero documents. */
int kb_yaml_parse(const char *p, size_t len, const kb_yaml_limits *lim, kb_yaml **out,
                  kb_yaml_error *err);
/* Reads the file at path and parses it. KB_EIO when it cannot be read (err
 * reason "cannot read file"). */
int kb_yaml_parse_file(const char *path, const kb_yaml_limits *lim, kb_yaml **out,
                       kb_yaml_error *err);
void kb_yaml_free(kb_yaml *y);

/* Documents of the stream (root nodes; an empty document's root is a plain
 * empty scalar). */
size_t kb_yaml_ndocs(const kb_yaml *y);
const kb_yaml_node *kb_yaml_doc(const kb_yaml *y, size_t i);

/* The value for key in a mapping (first match), or NULL. NULL-safe. */
const kb_yaml_node *kb_yaml_get(const kb_yaml_node *map, const char *key);
/* Scalar tests by YAML 1.2 core schema rules: only plain scalars without an
 * explicit string tag are typed; quoted scalars are always strings. */
int kb_yaml_is_null(const kb_yaml_node *n);  /* null, Null, NULL, ~, empty; or !!null */
int kb_yaml_is_str(const kb_yaml_node *n);   /* a scalar that is not null/bool/number */
/* Returns 1 and sets *v for true/True/TRUE/false/False/FALSE; else 0. */
int kb_yaml_bool(const kb_yaml_node *n, int *v);
/* Returns 1 and sets *v for a plain decimal integer; else 0. */
int kb_yaml_int(const kb_yaml_node *n, int64_t *v);
/* Returns 1 for a plain scalar that reads as an int or float ("1.5", "1e3"). */
int kb_yaml_is_number(const kb_yaml_node *n);

#endif
