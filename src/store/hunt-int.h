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
    size_t end;         /* terms: byte offset just after the value */
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
    size_t pipes;       /* byte offset of the first '|' (qlen: none) */
    int has_stats, has_fields;
    hcol cols[KB_HUNT_MAX_COLS];   /* fields, or the stats aggregates */
    int ncols;
    hcol by[KB_HUNT_MAX_COLS];     /* stats ... by */
    int nby;
    hsort sorts[8];
    int nsorts;
    int64_t head;       /* -1: none */
};

/* Rows of candidates fetched per page by kb_hunt_run (bounds memory). */
#define RES_PAGE 20000
/* Columns of the candidates query before the raw-free subtrees' values. */
#define RES_FIXED 6

struct kb_hunt_residual {
    const kb_hunt *h;
    kb_buf sql;                 /* the candidates query */
    kb_sval params[KB_HUNT_MAX_NODES * 3 + 128];
    size_t nparams;
    size_t p_after, p_limit;    /* its page parameters: e.id > ?, LIMIT ? */
    unsigned char raw[KB_HUNT_MAX_NODES]; /* the subtree holds a raw term */
    int col[KB_HUNT_MAX_NODES]; /* raw-free subtree: its 0/1 column, after
                                   RES_FIXED; -1 none */
    int ncols;
    int root;                   /* the residual predicate, -1: none */
    size_t nraw;                /* raw fields the pipes read: r0, r1, ... */
    kb_str fields[KB_HUNT_MAX_COLS * 2 + 8];
};

/* The residual of a query (raw terms evaluated in C), see kb_hunt_run. */
int kb_hunt_residual_explain(kb_store *st, const kb_hunt_sql *q, FILE *f);
/* Creates the temporary table kb_hunt_hits (id, r0, ...) afresh, or drops
 * it (create = 0). */
int kb_hunt_hits_table(kb_store *st, const struct kb_hunt_residual *res, int create);

#endif
