/* The parsed hunt query, shared by hunt-parse.c and hunt-sql.c. */
#ifndef KB_HUNT_INT_H
#define KB_HUNT_INT_H

#include "store/hunt.h"

enum hnode_type { HN_AND, HN_OR, HN_NOT, HN_TERM };
enum hop { HOP_EQ, HOP_LT, HOP_LE, HOP_GT, HOP_GE, HOP_TEXT /* bare value */ };

typedef struct hnode {
    int type;
    int a, b;           /* children (b unused for NOT), -1 none */
    int op;             /* HOP_* for terms */
    kb_str field;       /* slice of the query */
    kb_str value;       /* unescaped, in the arena */
    int quoted;
    size_t pos;         /* byte offset of the term's field (or value) */
    size_t vpos;        /* byte offset of the value */
} hnode;

enum hagg { AGG_COUNT, AGG_MIN, AGG_MAX, AGG_DC };

typedef struct hcol {
    kb_str field;       /* the field (empty for count()) */
    int agg;            /* AGG_* in stats; -1 for plain fields */
    size_t pos;
    char *title;        /* arena */
} hcol;

typedef struct hsort {
    kb_str key;
    int desc;
    size_t pos;
} hsort;

struct kb_hunt {
    char *q;            /* copy of the query */
    size_t qlen;
    int64_t now;
    kb_arena *arena;
    hnode nodes[KB_HUNT_MAX_NODES];
    int nnodes;
    int root;           /* -1: match everything */
    int has_stats, has_fields;
    hcol cols[KB_HUNT_MAX_COLS];   /* fields, or the stats aggregates */
    int ncols;
    hcol by[KB_HUNT_MAX_COLS];     /* stats ... by */
    int nby;
    hsort sorts[8];
    int nsorts;
    int64_t head;       /* -1: none */
};

#endif
