/* Sigma condition parser: shunting-yard to a postfix program, no recursion.
 *
 * Grammar (precedence not > and > or, left-associative):
 *   expr    := expr 'or' expr | expr 'and' expr | 'not' expr | '(' expr ')' | operand
 *   operand := NAME | QUANT 'of' (PATTERN | 'them')
 *   QUANT   := '1' | 'any' | 'all' | a positive integer
 * NAME and PATTERN are selection names; PATTERN may use `*` (and `?`).
 * `them` means every selection whose name does not start with '_'. */
#include <string.h>

#include "detect/detect.h"

#define MAX_PAREN 64
#define MAX_OPSTACK 4096
#define MAX_PROG 65536

enum { T_END, T_LP, T_RP, T_AND, T_OR, T_NOT, T_OF, T_NAME };

typedef struct lexer {
    const char *p, *end;
    const char *tok;
    size_t tlen;
} lexer;

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '*' || c == '?' || c == '-' || c == '.' || c == '$' || c == '@' ||
           c == '#' || c == '/' || c == '\\' || c == ':' || (unsigned char)c >= 0x80;
}

/* Returns a token kind; T_NAME with tok/tlen set; -1 on a bad character. */
static int lex(lexer *lx)
{
    while (lx->p < lx->end &&
           (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
    if (lx->p >= lx->end)
        return T_END;
    if (*lx->p == '(') {
        lx->p++;
        return T_LP;
    }
    if (*lx->p == ')') {
        lx->p++;
        return T_RP;
    }
    if (!is_name_char(*lx->p))
        return -1;
    lx->tok = lx->p;
    while (lx->p < lx->end && is_name_char(*lx->p))
        lx->p++;
    lx->tlen = (size_t)(lx->p - lx->tok);
    if (kb_str_ieqz(lx->tok, lx->tlen, "and"))
        return T_AND;
    if (kb_str_ieqz(lx->tok, lx->tlen, "or"))
        return T_OR;
    if (kb_str_ieqz(lx->tok, lx->tlen, "not"))
        return T_NOT;
    if (kb_str_ieqz(lx->tok, lx->tlen, "of"))
        return T_OF;
    return T_NAME;
}

/* Glob over names: `*` any run, `?` one byte. Iterative with one backtrack
 * point, linear in practice. */
static int name_glob(const char *pat, size_t plen, const char *s, size_t slen)
{
    size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;
    while (i < slen) {
        if (p < plen && (pat[p] == '?' || pat[p] == s[i])) {
            p++, i++;
        } else if (p < plen && pat[p] == '*') {
            star_p = p++;
            star_i = i;
        } else if (star_p != (size_t)-1) {
            p = star_p + 1;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

typedef struct progbuf {
    kb_sigma_op *ops;
    size_t n, alloc;
} progbuf;

static int emit(progbuf *pg, uint32_t op, uint32_t arg, uint32_t n)
{
    if (pg->n == pg->alloc) {
        size_t na = pg->alloc ? pg->alloc * 2 : 32;
        kb_sigma_op *no;
        if (na > MAX_PROG)
            return KB_ELIMIT;
        no = kb_realloc(pg->ops, na * sizeof(*no));
        if (!no)
            return KB_ENOMEM;
        pg->ops = no;
        pg->alloc = na;
    }
    pg->ops[pg->n].op = op;
    pg->ops[pg->n].arg = arg;
    pg->ops[pg->n].n = n;
    pg->n++;
    return KB_OK;
}

/* Emits `quant of pattern`: quant 0 means all. */
static int emit_of(progbuf *pg, uint32_t quant, const char *pat, size_t plen,
                   const char *const *names, size_t nnames, const char **err)
{
    int them = kb_str_ieqz(pat, plen, "them");
    uint32_t count = 0;
    int rc;

    for (size_t i = 0; i < nnames; i++) {
        if (them ? names[i][0] == '_' : !name_glob(pat, plen, names[i], strlen(names[i])))
            continue;
        if ((rc = emit(pg, KB_SOP_PRED, (uint32_t)i, 0)))
            return rc;
        count++;
        /* 1 of / all of fold as a chain of binary ops: stack depth 2. */
        if (count > 1 && (quant == 0 || quant == 1) &&
            (rc = emit(pg, quant == 1 ? KB_SOP_OR : KB_SOP_AND, 0, 2)))
            return rc;
    }
    if (count == 0) {
        *err = "condition: no selection matches the 'of' pattern";
        return KB_EPARSE;
    }
    if (quant > 1) {
        if (count > KB_SIGMA_MAX_STACK / 2) {
            *err = "condition: too many selections for 'N of'";
            return KB_ELIMIT;
        }
        return emit(pg, KB_SOP_NOF, quant, count);
    }
    return KB_OK;
}

static int prec(int t)
{
    return t == T_NOT ? 3 : t == T_AND ? 2 : t == T_OR ? 1 : 0;
}

static int emit_operator(progbuf *pg, int t)
{
    if (t == T_NOT)
        return emit(pg, KB_SOP_NOT, 0, 1);
    return emit(pg, t == T_AND ? KB_SOP_AND : KB_SOP_OR, 0, 2);
}

int kb_sigma_cond_parse(const char *cond, size_t len, const char *const *names, size_t nnames,
                        kb_sigma_op **out, size_t *nops, const char **err)
{
    lexer lx = {cond, cond + len, NULL, 0};
    progbuf pg = {NULL, 0, 0};
    int *ops = NULL;
    size_t nop = 0, depth = 0;
    int want_operand = 1, rc = KB_OK;

    *out = NULL;
    *nops = 0;
    *err = NULL;
    ops = kb_malloc(MAX_OPSTACK * sizeof(*ops));
    if (!ops)
        return KB_ENOMEM;
    for (;;) {
        int t = lex(&lx);
        if (t < 0) {
            *err = memchr(cond, '|', len) ? "condition: aggregations ('|') are not supported; "
                                            "use a correlation rule"
                                          : "condition: unexpected character";
            rc = KB_EPARSE;
            goto out;
        }
        if (want_operand) {
            if (t == T_NOT || t == T_LP) {
                if (t == T_LP && ++depth > MAX_PAREN) {
                    *err = "condition: parentheses nested too deep";
                    rc = KB_ELIMIT;
                    goto out;
                }
                if (nop >= MAX_OPSTACK) {
                    *err = "condition: too long";
                    rc = KB_ELIMIT;
                    goto out;
                }
                ops[nop++] = t;
                continue;
            }
            if (t != T_NAME) {
                *err = t == T_END ? "condition: ends where a selection was expected"
                                  : "condition: expected a selection name";
                rc = KB_EPARSE;
                goto out;
            }
            /* QUANT of PATTERN? Peek the next token. */
            {
                lexer save = lx;
                const char *name = lx.tok;
                size_t nlen = lx.tlen;
                int t2 = lex(&lx);
                if (t2 == T_OF) {
                    uint64_t q = 0;
                    if (kb_str_ieqz(name, nlen, "all"))
                        q = 0;
                    else if (kb_str_ieqz(name, nlen, "any"))
                        q = 1;
                    else if (kb_parse_u64(name, nlen, &q) != KB_OK || q == 0 || q > 1000000) {
                        *err = "condition: expected 1, any, all or a number before 'of'";
                        rc = KB_EPARSE;
                        goto out;
                    }
                    if (lex(&lx) != T_NAME) {
                        *err = "condition: expected a name pattern or 'them' after 'of'";
                        rc = KB_EPARSE;
                        goto out;
                    }
                    rc = emit_of(&pg, (uint32_t)q, lx.tok, lx.tlen, names, nnames, err);
                    if (rc)
                        goto out;
                } else {
                    size_t i;
                    lx = save;
                    if (kb_str_ieqz(name, nlen, "them") || kb_str_ieqz(name, nlen, "all")) {
                        *err = "condition: 'them'/'all' without 'of'";
                        rc = KB_EPARSE;
                        goto out;
                    }
                    for (i = 0; i < nnames; i++)
                        if (kb_str_eqz(name, nlen, names[i]))
                            break;
                    if (i == nnames) {
                        *err = "condition: unknown selection";
                        rc = KB_EPARSE;
                        goto out;
                    }
                    if ((rc = emit(&pg, KB_SOP_PRED, (uint32_t)i, 0)))
                        goto out;
                }
            }
            want_operand = 0;
            continue;
        }
        /* After an operand: binary operator, ')' or end. */
        if (t == T_AND || t == T_OR) {
            while (nop > 0 && ops[nop - 1] != T_LP && prec(ops[nop - 1]) >= prec(t)) {
                if ((rc = emit_operator(&pg, ops[--nop])))
                    goto out;
            }
            if (nop >= MAX_OPSTACK) {
                *err = "condition: too long";
                rc = KB_ELIMIT;
                goto out;
            }
            ops[nop++] = t;
            want_operand = 1;
        } else if (t == T_RP) {
            while (nop > 0 && ops[nop - 1] != T_LP)
                if ((rc = emit_operator(&pg, ops[--nop])))
                    goto out;
            if (nop == 0) {
                *err = "condition: unbalanced ')'";
                rc = KB_EPARSE;
                goto out;
            }
            nop--;
            depth--;
        } else if (t == T_END) {
            break;
        } else {
            *err = "condition: expected 'and', 'or' or ')'";
            rc = KB_EPARSE;
            goto out;
        }
    }
    while (nop > 0) {
        if (ops[nop - 1] == T_LP) {
            *err = "condition: unbalanced '('";
            rc = KB_EPARSE;
            goto out;
        }
        if ((rc = emit_operator(&pg, ops[--nop])))
            goto out;
    }
    *out = pg.ops;
    *nops = pg.n;
    pg.ops = NULL;
out:
    if (rc && !*err)
        *err = rc == KB_ENOMEM ? "out of memory" : "condition: too long";
    kb_free(pg.ops);
    kb_free(ops);
    return rc;
}

int kb_sigma_program_eval(const kb_sigma_op *prog, size_t nops, const uint8_t *hits)
{
    uint8_t st[KB_SIGMA_MAX_STACK];
    size_t sp = 0;

    for (size_t i = 0; i < nops; i++) {
        const kb_sigma_op *o = &prog[i];
        switch (o->op) {
        case KB_SOP_PRED:
            if (sp >= KB_SIGMA_MAX_STACK)
                return 0;
            st[sp++] = hits[o->arg] ? 1 : 0;
            break;
        case KB_SOP_NOT:
            if (sp < 1)
                return 0;
            st[sp - 1] = !st[sp - 1];
            break;
        case KB_SOP_AND:
        case KB_SOP_OR:
        case KB_SOP_NOF: {
            uint32_t cnt = 0;
            uint8_t v;
            if (o->n == 0 || sp < o->n)
                return 0;
            for (uint32_t k = 0; k < o->n; k++)
                cnt += st[sp - 1 - k];
            sp -= o->n;
            if (o->op == KB_SOP_AND)
                v = cnt == o->n;
            else if (o->op == KB_SOP_OR)
                v = cnt > 0;
            else
                v = cnt >= o->arg;
            st[sp++] = v;
            break;
        }
        default:
            return 0;
        }
    }
    return sp == 1 ? st[0] : 0;
}
