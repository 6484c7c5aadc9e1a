/* The playbook format: YAML with processes (input, method, procedure,
 * output) and steps that reference them, with conditions, loops, approval
 * gates and first-response outcomes. See docs/playbooks.md.
 *
 * Loading is also linting: every problem is reported as file:line: reason
 * and a playbook with any problem is refused as a whole. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "respond/respond-int.h"
#include "store/hunt.h"

const char *const kb_pb_method_names[PM_COUNT] = {"hunt",   "ask",    "intel",
                                                  "asset",  "vulns",  "action",
                                                  "manual", "aggregate", "notify"};

static const char *const incident_vars[] = {
    "incident.id",   "incident.type",      "incident.severity", "incident.host",
    "incident.user", "incident.source_ip", "incident.destination_ip", "incident.url",
    "incident.file_name", "incident.file_hash", "incident.first", "incident.last",
    "incident.title", NULL};

static const struct {
    const char *name;
    int nargs;
} ask_questions[] = {
    {"where-hash", 1}, {"who-talked-to", 1}, {"host-activity", 3},
    {"first-seen", 1}, {"process-tree", 2},
};

typedef struct lint {
    kb_playbook *pb;
    kb_buf *diag;
    int errors;
} lint;

static void err_at(lint *L, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_at(lint *L, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    L->errors++;
    if (!L->diag)
        return;
    kb_buf_printf(L->diag, "%s:%u: ", L->pb->path, line);
    va_start(ap, fmt);
    kb_buf_vprintf(L->diag, fmt, ap);
    va_end(ap);
    kb_buf_putc(L->diag, '\n');
}

static const char *scalar(lint *L, const kb_yaml_node *n, const char *what)
{
    if (!n)
        return NULL;
    if (n->kind != KB_YAML_SCALAR) {
        err_at(L, n->line, "%s must be a text value", what);
        return NULL;
    }
    if (memchr(n->str, '\0', n->len)) {
        err_at(L, n->line, "%s contains a NUL byte", what);
        return NULL;
    }
    return n->str;
}

/* Reads a list of scalars (or one scalar) into v. */
static size_t scalar_list(lint *L, const kb_yaml_node *n, const char *what, const char **v,
                          size_t cap)
{
    size_t k = 0;
    if (!n)
        return 0;
    if (n->kind == KB_YAML_SCALAR) {
        const char *s = scalar(L, n, what);
        if (s && cap)
            v[k++] = s;
        return k;
    }
    if (n->kind != KB_YAML_SEQ) {
        err_at(L, n->line, "%s must be a list", what);
        return 0;
    }
    if (n->n > cap) {
        err_at(L, n->line, "%s: more than %zu items", what, cap);
        return 0;
    }
    for (size_t i = 0; i < n->n; i++) {
        const char *s = scalar(L, n->items[i], what);
        if (s)
            v[k++] = s;
    }
    return k;
}

static void check_keys(lint *L, const kb_yaml_node *map, const char *what,
                       const char *const *known)
{
    for (size_t i = 0; map && map->kind == KB_YAML_MAP && i < map->n; i++) {
        const kb_yaml_node *k = map->items[2 * i];
        size_t j;
        for (j = 0; known[j]; j++)
            if (k->kind == KB_YAML_SCALAR && strcmp(k->str, known[j]) == 0)
                break;
        if (!known[j])
            err_at(L, k->line, "unknown key '%s' in %s", k->kind == KB_YAML_SCALAR ? k->str : "?",
                   what);
    }
}

static int duration(lint *L, const kb_yaml_node *n, const char *what, int64_t *out)
{
    const char *s = scalar(L, n, what);
    if (!s)
        return -1;
    if (kb_hunt_duration(s, strlen(s), out) || *out <= 0) {
        err_at(L, n->line, "%s: '%s' is not a duration (30m, 24h, 14d)", what, s);
        return -1;
    }
    return 0;
}

/* ---- processes ------------------------------------------------------------- */

static void parse_outputs(lint *L, pb_process *pr, const kb_yaml_node *n)
{
    if (!n)
        return;
    if (n->kind != KB_YAML_MAP) {
        err_at(L, n->line, "outputs must map variable names to what they hold");
        return;
    }
    for (size_t i = 0; i < n->n && pr->nouts < PB_MAX_ITEMS; i++) {
        const kb_yaml_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
        const char *var = scalar(L, k, "output name"), *from = scalar(L, v, "output source");
        if (!var || !from)
            continue;
        if (strncmp(var, "incident.", 9) == 0 || strcmp(var, "item") == 0) {
            err_at(L, k->line, "output '%s' would shadow an incident variable", var);
            continue;
        }
        pr->outs[pr->nouts++] = (pb_output){var, from, k->line};
    }
}

static void parse_process(lint *L, const kb_yaml_node *n)
{
    static const char *const keys[] = {"id", "name", "inputs", "method", "procedure",
                                       "outputs", NULL};
    kb_playbook *pb = L->pb;
    pb_process *pr;
    const kb_yaml_node *m;

    if (n->kind != KB_YAML_MAP) {
        err_at(L, n->line, "a process must be a mapping");
        return;
    }
    if (pb->nprocs == PB_MAX_PROCS) {
        err_at(L, n->line, "more than %d processes", PB_MAX_PROCS);
        return;
    }
    pr = &pb->procs[pb->nprocs];
    memset(pr, 0, sizeof *pr);
    pr->line = n->line;
    check_keys(L, n, "a process", keys);
    pr->id = scalar(L, kb_yaml_get(n, "id"), "id");
    pr->name = scalar(L, kb_yaml_get(n, "name"), "name");
    pr->procedure = scalar(L, kb_yaml_get(n, "procedure"), "procedure");
    if (!pr->id) {
        err_at(L, n->line, "process without an id");
        return;
    }
    for (size_t i = 0; i < pb->nprocs; i++)
        if (strcmp(pb->procs[i].id, pr->id) == 0)
            err_at(L, n->line, "process id '%s' already used on line %u", pr->id,
                   pb->procs[i].line);
    if (!pr->name)
        pr->name = pr->id;
    pr->ninputs = scalar_list(L, kb_yaml_get(n, "inputs"), "inputs", pr->inputs, PB_MAX_ITEMS);
    m = kb_yaml_get(n, "method");
    if (!m || m->kind != KB_YAML_MAP || m->n != 1) {
        err_at(L, m ? m->line : n->line,
               "process %s: method must be one of hunt, ask, intel, asset, vulns, action,"
               " manual, aggregate, notify",
               pr->id);
        pb->nprocs++;
        return;
    }
    const kb_yaml_node *mk = m->items[0], *mv = m->items[1];
    pr->method = -1;
    for (int i = 0; i < PM_COUNT; i++)
        if (mk->kind == KB_YAML_SCALAR && strcmp(mk->str, kb_pb_method_names[i]) == 0)
            pr->method = i;
    switch (pr->method) {
    case PM_HUNT: case PM_INTEL: case PM_ASSET: case PM_VULNS: case PM_NOTIFY:
        pr->text = scalar(L, mv, kb_pb_method_names[pr->method]);
        break;
    case PM_ASK: {
        static const char *const k2[] = {"question", "args", NULL};
        check_keys(L, mv, "ask", k2);
        pr->text = scalar(L, kb_yaml_get(mv, "question"), "question");
        pr->nargs = scalar_list(L, kb_yaml_get(mv, "args"), "args", pr->args, 8);
        size_t q;
        for (q = 0; pr->text && q < sizeof ask_questions / sizeof ask_questions[0]; q++)
            if (strcmp(ask_questions[q].name, pr->text) == 0)
                break;
        if (!pr->text)
            err_at(L, mv->line, "ask needs a question");
        else if (q == sizeof ask_questions / sizeof ask_questions[0])
            err_at(L, mv->line, "unknown question '%s' (where-hash, who-talked-to,"
                                " host-activity, first-seen, process-tree)", pr->text);
        else if ((int)pr->nargs != ask_questions[q].nargs)
            err_at(L, mv->line, "question %s takes %d argument(s), not %zu", pr->text,
                   ask_questions[q].nargs, pr->nargs);
        break;
    }
    case PM_ACTION: {
        static const char *const k2[] = {"kind", "target", "expires", NULL};
        check_keys(L, mv, "action", k2);
        pr->text = scalar(L, kb_yaml_get(mv, "kind"), "kind");
        pr->target = scalar(L, kb_yaml_get(mv, "target"), "target");
        if (!pr->text || !kb_resp_action_kind_find(pr->text))
            err_at(L, mv->line, "unknown action kind '%s'", pr->text ? pr->text : "");
        if (!pr->target)
            err_at(L, mv->line, "action needs a target");
        if (kb_yaml_get(mv, "expires"))
            duration(L, kb_yaml_get(mv, "expires"), "expires", &pr->expires);
        break;
    }
    case PM_MANUAL: {
        static const char *const k2[] = {"instructions", "checklist", "choices", NULL};
        check_keys(L, mv, "manual", k2);
        pr->instructions = scalar(L, kb_yaml_get(mv, "instructions"), "instructions");
        pr->nchecklist = scalar_list(L, kb_yaml_get(mv, "checklist"), "checklist",
                                     pr->checklist, PB_MAX_ITEMS);
        pr->nchoices = scalar_list(L, kb_yaml_get(mv, "choices"), "choices", pr->choices,
                                   PB_MAX_ITEMS);
        /* no choices: yes / no; an explicit empty list: free text */
        if (!pr->nchoices && kb_yaml_get(mv, "choices") &&
            kb_yaml_get(mv, "choices")->kind == KB_YAML_SEQ) {
            pr->free_answer = 1;
        } else if (!pr->nchoices) {
            pr->choices[0] = "yes", pr->choices[1] = "no";
            pr->nchoices = 2;
        }
        if (!pr->instructions)
            err_at(L, mv->line, "manual task needs instructions");
        break;
    }
    case PM_AGGREGATE:
        pr->nsources = scalar_list(L, mv, "aggregate", pr->sources, PB_MAX_ITEMS);
        if (!pr->nsources)
            err_at(L, mv->line, "aggregate needs a list of variables");
        break;
    default:
        err_at(L, mk->line, "process %s: unknown method '%s'", pr->id,
               mk->kind == KB_YAML_SCALAR ? mk->str : "?");
    }
    if ((pr->method == PM_HUNT || pr->method == PM_INTEL || pr->method == PM_ASSET ||
         pr->method == PM_VULNS || pr->method == PM_NOTIFY) && !pr->text)
        err_at(L, mv->line, "process %s: %s needs a value", pr->id,
               kb_pb_method_names[pr->method]);
    parse_outputs(L, pr, kb_yaml_get(n, "outputs"));
    pb->nprocs++;
}

/* ---- conditions ------------------------------------------------------------- */

/* `when:` grammar: or-expr of and-exprs of [not] atoms; an atom is VAR,
 * VAR == VALUE, VAR != VALUE or ( expr ). Compiled with the shunting-yard
 * algorithm (no recursion) into RPN. */
static int cond_compile(lint *L, pb_step *s, uint32_t line)
{
    const char *p = s->when;
    int ops[PB_MAX_COND], nops = 0, expect_operand = 1;
    static const int prec[] = {[CT_OR] = 1, [CT_AND] = 2, [CT_NOT] = 3, [CT_EQ] = 4,
                               [CT_NE] = 4, [CT_LT] = 4, [CT_LE] = 4, [CT_GT] = 4,
                               [CT_GE] = 4};
    enum { LPAREN = 100 };

#define EMIT(o, str)                                                   \
    do {                                                               \
        if (s->ncond == PB_MAX_COND) {                                 \
            err_at(L, line, "condition too long");                     \
            return -1;                                                 \
        }                                                              \
        s->cond[s->ncond++] = (pb_cond_tok){(o), (str)};               \
    } while (0)

    while (*p) {
        if (*p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        if (*p == '(') {
            if (!expect_operand || nops == PB_MAX_COND)
                goto bad;
            ops[nops++] = LPAREN;
            p++;
            continue;
        }
        if (*p == ')') {
            if (expect_operand)
                goto bad;
            while (nops && ops[nops - 1] != LPAREN)
                EMIT(ops[--nops], NULL);
            if (!nops)
                goto bad;
            nops--;
            p++;
            continue;
        }
        if (((p[0] == '=' || p[0] == '!') && p[1] == '=') || p[0] == '<' || p[0] == '>') {
            int op = p[0] == '=' ? CT_EQ : p[0] == '!' ? CT_NE : p[0] == '<' ? CT_LT : CT_GT;
            int len2 = p[0] == '=' || p[0] == '!' || p[1] == '=';
            if (p[1] == '=' && (op == CT_LT || op == CT_GT))
                op = op == CT_LT ? CT_LE : CT_GE;
            if (expect_operand)
                goto bad;
            while (nops && ops[nops - 1] != LPAREN && prec[ops[nops - 1]] >= prec[op])
                EMIT(ops[--nops], NULL);
            if (nops == PB_MAX_COND)
                goto bad;
            ops[nops++] = op;
            p += 1 + len2;
            expect_operand = 1;
            /* the value: a quoted string or a bare word */
            while (*p == ' ')
                p++;
            const char *st = p;
            size_t n;
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                st = p;
                while (*p && *p != q)
                    p++;
                if (!*p)
                    goto bad;
                n = (size_t)(p - st);
                p++;
            } else {
                while (*p && *p != ' ' && *p != ')')
                    p++;
                n = (size_t)(p - st);
            }
            if (n == 0)
                goto bad;
            if (op >= CT_LT) {
                int64_t num;
                if (kb_parse_i64(st, n, &num) != KB_OK)
                    goto bad; /* <, <=, >, >= take a whole number */
            }
            EMIT(CT_STR, kb_arena_strndup(L->pb->ar, st, n));
            expect_operand = 0;
            continue;
        }
        const char *st = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '(' && *p != ')' && *p != '=' &&
               *p != '!' && *p != '<' && *p != '>')
            p++;
        size_t n = (size_t)(p - st);
        if (n == 0)
            goto bad;
        if (kb_str_ieqz(st, n, "and") || kb_str_ieqz(st, n, "or")) {
            int op = kb_str_ieqz(st, n, "and") ? CT_AND : CT_OR;
            if (expect_operand)
                goto bad;
            while (nops && ops[nops - 1] != LPAREN && prec[ops[nops - 1]] >= prec[op])
                EMIT(ops[--nops], NULL);
            if (nops == PB_MAX_COND)
                goto bad;
            ops[nops++] = op;
            expect_operand = 1;
        } else if (kb_str_ieqz(st, n, "not")) {
            if (!expect_operand || nops == PB_MAX_COND)
                goto bad;
            ops[nops++] = CT_NOT;
        } else {
            if (!expect_operand)
                goto bad;
            EMIT(CT_VAR, kb_arena_strndup(L->pb->ar, st, n));
            expect_operand = 0;
        }
    }
    if (expect_operand)
        goto bad;
    while (nops) {
        if (ops[nops - 1] == LPAREN)
            goto bad;
        EMIT(ops[--nops], NULL);
    }
#undef EMIT
    return 0;
bad:
    err_at(L, line, "condition '%s' does not parse (VAR, VAR == value, VAR >= NUMBER, not,"
                    " and, or, ( ))",
           s->when);
    return -1;
}

int kb_pb_truthy(const json_t *v)
{
    if (!v)
        return 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return *s && strcmp(s, "no") != 0 && strcmp(s, "false") != 0 && strcmp(s, "0") != 0;
    }
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    return json_is_true(v);
}

int kb_pb_cond_eval(const pb_step *s, const json_t *vars)
{
    /* Stack of (truth, value) pairs; values only for VAR / STR operands. */
    int truth[PB_MAX_COND];
    const json_t *val[PB_MAX_COND];
    const char *str[PB_MAX_COND];
    size_t sp = 0;

    if (!s->ncond)
        return 1;
    for (size_t i = 0; i < s->ncond; i++) {
        const pb_cond_tok *t = &s->cond[i];
        switch (t->op) {
        case CT_VAR:
            val[sp] = json_object_get(vars, t->s);
            str[sp] = NULL;
            truth[sp] = kb_pb_truthy(val[sp]);
            sp++;
            break;
        case CT_STR:
            val[sp] = NULL;
            str[sp] = t->s;
            truth[sp++] = 1;
            break;
        case CT_NOT:
            if (sp < 1)
                return 0;
            truth[sp - 1] = !truth[sp - 1];
            val[sp - 1] = NULL;
            break;
        default: {
            if (sp < 2)
                return 0;
            int a = truth[sp - 2], b = truth[sp - 1], r;
            if (t->op == CT_AND)
                r = a && b;
            else if (t->op == CT_OR)
                r = a || b;
            else if (t->op >= CT_LT) {
                /* a number: an integer, a list's length, a numeric text;
                 * anything else (or unset) compares false */
                const json_t *v = val[sp - 2];
                const char *lit = str[sp - 1] ? str[sp - 1] : "";
                int64_t x = 0, y = 0;
                int ok = kb_parse_i64(lit, strlen(lit), &y) == KB_OK;
                if (json_is_integer(v))
                    x = json_integer_value(v);
                else if (json_is_array(v))
                    x = (int64_t)json_array_size(v);
                else if (!json_is_string(v) ||
                         kb_parse_i64(json_string_value(v), json_string_length(v), &x) != KB_OK)
                    ok = 0;
                r = ok && (t->op == CT_LT   ? x < y
                           : t->op == CT_LE ? x <= y
                           : t->op == CT_GT ? x > y
                                            : x >= y);
            } else {
                const json_t *v = val[sp - 2];
                const char *lit = str[sp - 1] ? str[sp - 1] : "";
                int eq = 0;
                if (json_is_string(v))
                    eq = strcmp(json_string_value(v), lit) == 0;
                else if (json_is_integer(v)) {
                    int64_t n;
                    eq = kb_parse_i64(lit, strlen(lit), &n) == KB_OK && n == json_integer_value(v);
                } else if (json_is_array(v)) {
                    size_t k;
                    json_t *it;
                    json_array_foreach(v, k, it) {
                        if (json_is_string(it) && strcmp(json_string_value(it), lit) == 0)
                            eq = 1;
                    }
                } else if (!v)
                    eq = *lit == '\0';
                r = t->op == CT_EQ ? eq : !eq;
            }
            sp -= 2;
            val[sp] = NULL;
            str[sp] = NULL;
            truth[sp++] = r;
        }
        }
    }
    return sp == 1 && truth[0];
}

/* ---- steps and variable checks ---------------------------------------------- */

typedef struct varset {
    const char *v[PB_MAX_STEPS * 4];
    size_t n;
} varset;

static int var_known(const varset *vs, const char *name, size_t len, int in_loop)
{
    for (size_t i = 0; incident_vars[i]; i++)
        if (kb_str_eqz(name, len, incident_vars[i]))
            return 1;
    if (in_loop && kb_str_eqz(name, len, "item"))
        return 1;
    if (kb_str_eqz(name, len, "outcome")) /* "" until an outcome step sets it */
        return 1;
    for (size_t i = 0; i < vs->n; i++)
        if (kb_str_eqz(name, len, vs->v[i]))
            return 1;
    return 0;
}

typedef struct tcheck {
    lint *L;
    const varset *vs;
    int in_loop;
    uint32_t line;
    const char *where;
} tcheck;

static void tcheck_var(void *ud, const char *name, size_t nlen)
{
    tcheck *t = ud;
    if (!var_known(t->vs, name, nlen, t->in_loop))
        t->L->errors++, kb_buf_printf(t->L->diag, "%s:%u: %s: variable '%.*s' is not set by an"
                                                  " earlier step nor by the incident%s\n",
                                      t->L->pb->path, t->line, t->where, (int)nlen, name,
                                      kb_str_eqz(name, nlen, "item") ? " (item needs for_each)"
                                                                     : "");
}

static void check_template(lint *L, const varset *vs, int in_loop, uint32_t line,
                           const char *where, const char *tmpl)
{
    tcheck t = {L, vs, in_loop, line, where};
    const char *e = NULL;
    if (tmpl && kb_tmpl_each_var(tmpl, strlen(tmpl), tcheck_var, &t, &e))
        err_at(L, line, "%s: %s", where, e);
}

/* Hunt syntax check: placeholders replaced by a harmless literal. */
static int dummy_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                        int *is_list)
{
    (void)ud, (void)name, (void)nlen;
    *v = "x", *len = 1, *is_list = 0;
    return 1;
}

static void check_hunt(lint *L, uint32_t line, const char *q)
{
    kb_buf b;
    const char *e = NULL;
    kb_hunt_error he = {0};
    kb_buf_init(&b, KB_HUNT_MAX_LEN);
    if (kb_tmpl_render(q, strlen(q), KB_ESC_HUNT, dummy_lookup, NULL, &b, &e) == KB_OK) {
        kb_hunt *h = kb_hunt_parse(b.data ? b.data : "", b.len, kb_time_now(), &he);
        if (!h)
            err_at(L, line, "hunt query does not parse at column %zu: %s", he.pos + 1, he.msg);
        kb_hunt_free(h);
    }
    kb_buf_release(&b);
}

static void parse_step(lint *L, const kb_yaml_node *n, varset *vs)
{
    static const char *const keys[] = {"id",      "process", "when", "for_each",
                                       "approve", "outcome", "end",  NULL};
    kb_playbook *pb = L->pb;
    pb_step *s;
    const char *proc;
    char idbuf[32];

    if (n->kind != KB_YAML_MAP) {
        err_at(L, n->line, "a step must be a mapping");
        return;
    }
    if (pb->nsteps == PB_MAX_STEPS) {
        err_at(L, n->line, "more than %d steps", PB_MAX_STEPS);
        return;
    }
    s = &pb->steps[pb->nsteps];
    memset(s, 0, sizeof *s);
    s->line = n->line;
    check_keys(L, n, "a step", keys);
    s->id = scalar(L, kb_yaml_get(n, "id"), "id");
    if (!s->id) {
        snprintf(idbuf, sizeof idbuf, "step%zu", pb->nsteps + 1);
        s->id = kb_arena_strndup(pb->ar, idbuf, strlen(idbuf));
    }
    for (size_t i = 0; i < pb->nsteps; i++)
        if (strcmp(pb->steps[i].id, s->id) == 0)
            err_at(L, n->line, "step id '%s' already used on line %u", s->id,
                   pb->steps[i].line);
    proc = scalar(L, kb_yaml_get(n, "process"), "process");
    s->when = scalar(L, kb_yaml_get(n, "when"), "when");
    s->for_each = scalar(L, kb_yaml_get(n, "for_each"), "for_each");
    s->approve = scalar(L, kb_yaml_get(n, "approve"), "approve");
    s->outcome = scalar(L, kb_yaml_get(n, "outcome"), "outcome");
    if (kb_yaml_get(n, "end") && !kb_yaml_bool(kb_yaml_get(n, "end"), &s->end))
        err_at(L, kb_yaml_get(n, "end")->line, "end must be true or false");
    if (proc) {
        s->proc = kb_pb_process(pb, proc);
        if (!s->proc)
            err_at(L, kb_yaml_get(n, "process")->line, "step %s: no process '%s'", s->id, proc);
    } else if (!s->outcome && !s->approve) {
        err_at(L, n->line, "step %s needs a process, an approve gate or an outcome", s->id);
    }
    if (s->when && cond_compile(L, s, kb_yaml_get(n, "when")->line) == 0)
        for (size_t i = 0; i < s->ncond; i++)
            if (s->cond[i].op == CT_VAR &&
                !var_known(vs, s->cond[i].s, strlen(s->cond[i].s), 0))
                err_at(L, kb_yaml_get(n, "when")->line,
                       "step %s: condition names '%s', which no earlier step sets", s->id,
                       s->cond[i].s);
    if (s->for_each && !var_known(vs, s->for_each, strlen(s->for_each), 0))
        err_at(L, kb_yaml_get(n, "for_each")->line,
               "step %s: for_each over '%s', which no earlier step sets", s->id, s->for_each);
    if (s->proc) {
        const pb_process *pr = s->proc;
        int loop = s->for_each != NULL;
        char where[96];
        snprintf(where, sizeof where, "step %s (process %s)", s->id, pr->id);
        for (size_t i = 0; i < pr->ninputs; i++)
            if (!var_known(vs, pr->inputs[i], strlen(pr->inputs[i]), loop))
                err_at(L, n->line, "%s: input '%s' is not set by an earlier step nor by the"
                                   " incident", where, pr->inputs[i]);
        check_template(L, vs, loop, pr->line, where, pr->text && pr->method != PM_ASK &&
                                                             pr->method != PM_ACTION
                                                         ? pr->text
                                                         : NULL);
        check_template(L, vs, loop, pr->line, where, pr->target);
        check_template(L, vs, loop, pr->line, where, pr->instructions);
        for (size_t i = 0; i < pr->nargs; i++)
            check_template(L, vs, loop, pr->line, where, pr->args[i]);
        for (size_t i = 0; i < pr->nsources; i++)
            if (!var_known(vs, pr->sources[i], strlen(pr->sources[i]), loop))
                err_at(L, pr->line, "%s: aggregate of '%s', which no earlier step sets", where,
                       pr->sources[i]);
        for (size_t i = 0; i < pr->nouts && vs->n < sizeof vs->v / sizeof vs->v[0]; i++)
            vs->v[vs->n++] = pr->outs[i].var;
    }
    if (s->approve) {
        char where[96];
        snprintf(where, sizeof where, "step %s (approval)", s->id);
        check_template(L, vs, 0, kb_yaml_get(n, "approve")->line, where,
                       s->approve);
    }
    if (s->approve && vs->n < sizeof vs->v / sizeof vs->v[0])
        vs->v[vs->n++] = s->id; /* the gate's answer is readable by its id */
    pb->nsteps++;
}

const pb_process *kb_pb_process(const kb_playbook *pb, const char *id)
{
    for (size_t i = 0; i < pb->nprocs; i++)
        if (strcmp(pb->procs[i].id, id) == 0)
            return &pb->procs[i];
    return NULL;
}

static void parse_policy(lint *L, const kb_yaml_node *n)
{
    static const char *const keys[] = {"action", "severity", "asset_type", "asset_tag",
                                       "decision", NULL};
    kb_playbook *pb = L->pb;
    if (n->kind != KB_YAML_SEQ) {
        err_at(L, n->line, "policy must be a list of rules");
        return;
    }
    for (size_t i = 0; i < n->n && pb->npolicy < 32; i++) {
        const kb_yaml_node *r = n->items[i];
        pb_policy *p = &pb->policy[pb->npolicy];
        memset(p, 0, sizeof *p);
        if (r->kind != KB_YAML_MAP) {
            err_at(L, r->line, "a policy rule must be a mapping");
            continue;
        }
        check_keys(L, r, "a policy rule", keys);
        p->action = scalar(L, kb_yaml_get(r, "action"), "action");
        p->nsev = scalar_list(L, kb_yaml_get(r, "severity"), "severity", p->severity, 4);
        p->asset_type = scalar(L, kb_yaml_get(r, "asset_type"), "asset_type");
        p->asset_tag = scalar(L, kb_yaml_get(r, "asset_tag"), "asset_tag");
        p->decision = scalar(L, kb_yaml_get(r, "decision"), "decision");
        if (!p->action)
            p->action = "*";
        if (strcmp(p->action, "*") != 0 && !kb_resp_action_kind_find(p->action))
            err_at(L, r->line, "policy: unknown action kind '%s'", p->action);
        if (!p->decision || (strcmp(p->decision, "auto") && strcmp(p->decision, "approve") &&
                             strcmp(p->decision, "never")))
            err_at(L, r->line, "policy: decision must be auto, approve or never");
        pb->npolicy++;
    }
}

const char *kb_pb_policy(const kb_playbook *pb, const char *kind, const char *severity,
                         const char *asset_type, const char *asset_tags)
{
    for (size_t i = 0; i < pb->npolicy; i++) {
        const pb_policy *p = &pb->policy[i];
        if (strcmp(p->action, "*") != 0 && strcmp(p->action, kind) != 0)
            continue;
        if (p->nsev) {
            size_t k;
            for (k = 0; k < p->nsev; k++)
                if (severity && strcmp(p->severity[k], severity) == 0)
                    break;
            if (k == p->nsev)
                continue;
        }
        if (p->asset_type && (!asset_type || strcmp(p->asset_type, asset_type) != 0))
            continue;
        if (p->asset_tag) {
            /* whole-word match in the comma-separated tags */
            const char *t = asset_tags ? asset_tags : "";
            size_t tl = strlen(p->asset_tag);
            int hit = 0;
            while (*t) {
                const char *c = strchr(t, ',');
                size_t n = c ? (size_t)(c - t) : strlen(t);
                if (n == tl && memcmp(t, p->asset_tag, n) == 0)
                    hit = 1;
                t += n + (c ? 1 : 0);
            }
            if (!hit)
                continue;
        }
        return p->decision;
    }
    return "approve";
}

int kb_playbook_parse(const char *name, const char *p, size_t len, kb_playbook **out,
                      kb_buf *diag)
{
    static const char *const keys[] = {"name",     "title",  "description", "incident_types",
                                       "expires",  "sla",    "policy",      "processes",
                                       "steps",    NULL};
    kb_playbook *pb = kb_calloc(1, sizeof *pb);
    kb_yaml_error ye = {0};
    kb_yaml_limits lim = {32, 100000, 4u << 20};
    lint L = {pb, diag, 0};
    const kb_yaml_node *root, *n;
    varset *vs = NULL;

    *out = NULL;
    if (!pb)
        return KB_ENOMEM;
    pb->ar = kb_arena_new(4096, 1u << 20);
    pb->path = pb->ar ? kb_arena_strndup(pb->ar, name, strlen(name)) : NULL;
    vs = kb_calloc(1, sizeof *vs);
    if (!pb->path || !vs) {
        kb_free(vs);
        kb_playbook_free(pb);
        return KB_ENOMEM;
    }
    pb->expires = 24 * 3600 * KB_NS_PER_SEC;
    pb->sla_first = 2 * 3600 * KB_NS_PER_SEC;
    pb->sla_analysis = 14 * 24 * 3600 * KB_NS_PER_SEC;
    if (kb_yaml_parse(p, len, &lim, &pb->y, &ye) != KB_OK) {
        err_at(&L, ye.line, "%s", ye.reason ? ye.reason : "not YAML");
        goto out;
    }
    if (kb_yaml_ndocs(pb->y) != 1 || (root = kb_yaml_doc(pb->y, 0))->kind != KB_YAML_MAP) {
        err_at(&L, 1, "a playbook is one YAML mapping");
        goto out;
    }
    check_keys(&L, root, "the playbook", keys);
    pb->name = scalar(&L, kb_yaml_get(root, "name"), "name");
    pb->title = scalar(&L, kb_yaml_get(root, "title"), "title");
    pb->description = scalar(&L, kb_yaml_get(root, "description"), "description");
    if (!pb->name)
        err_at(&L, root->line, "the playbook needs a name");
    if (!pb->title)
        pb->title = pb->name;
    pb->ntypes = scalar_list(&L, kb_yaml_get(root, "incident_types"), "incident_types",
                             pb->types, 16);
    if ((n = kb_yaml_get(root, "expires")))
        duration(&L, n, "expires", &pb->expires);
    if ((n = kb_yaml_get(root, "sla"))) {
        static const char *const k2[] = {"first_response", "analysis", "low", "medium", "high",
                                         "critical", NULL};
        static const char *const k3[] = {"first_response", "analysis", NULL};
        check_keys(&L, n, "sla", k2);
        if (kb_yaml_get(n, "first_response"))
            duration(&L, kb_yaml_get(n, "first_response"), "first_response", &pb->sla_first);
        if (kb_yaml_get(n, "analysis"))
            duration(&L, kb_yaml_get(n, "analysis"), "analysis", &pb->sla_analysis);
        /* per severity: sla: {critical: {first_response: 30m}} */
        for (int s = 0; s < 4; s++) {
            const kb_yaml_node *sv = kb_yaml_get(n, k2[2 + s]);
            if (!sv)
                continue;
            if (sv->kind != KB_YAML_MAP) {
                err_at(&L, sv->line, "sla: %s must map first_response / analysis to durations",
                       k2[2 + s]);
                continue;
            }
            check_keys(&L, sv, "sla", k3);
            for (int k = 0; k < 2; k++)
                if (kb_yaml_get(sv, k3[k]))
                    duration(&L, kb_yaml_get(sv, k3[k]), k3[k], &pb->sla_sev[s][k]);
        }
    }
    if ((n = kb_yaml_get(root, "policy")))
        parse_policy(&L, n);
    n = kb_yaml_get(root, "processes");
    if (!n || n->kind != KB_YAML_SEQ)
        err_at(&L, n ? n->line : root->line, "processes must be a list");
    else
        for (size_t i = 0; i < n->n; i++)
            parse_process(&L, n->items[i]);
    for (size_t i = 0; i < pb->nprocs; i++)
        if (pb->procs[i].method == PM_HUNT && pb->procs[i].text)
            check_hunt(&L, pb->procs[i].line, pb->procs[i].text);
    n = kb_yaml_get(root, "steps");
    if (!n || n->kind != KB_YAML_SEQ || n->n == 0)
        err_at(&L, n ? n->line : root->line, "steps must be a non-empty list");
    else
        for (size_t i = 0; i < n->n; i++)
            parse_step(&L, n->items[i], vs);
out:
    kb_free(vs);
    if (L.errors) {
        kb_playbook_free(pb);
        return KB_EPARSE;
    }
    *out = pb;
    return KB_OK;
}

int kb_playbook_load(const char *path, kb_playbook **out, kb_buf *diag)
{
    FILE *f = fopen(path, "rb");
    kb_buf b;
    char chunk[8192];
    size_t n;
    int rc;

    *out = NULL;
    if (!f) {
        if (diag)
            kb_buf_printf(diag, "%s:0: cannot open the file\n", path);
        return KB_EIO;
    }
    kb_buf_init(&b, 4u << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (kb_buf_append(&b, chunk, n)) {
            fclose(f);
            kb_buf_release(&b);
            if (diag)
                kb_buf_printf(diag, "%s:0: file larger than 4 MiB\n", path);
            return KB_ELIMIT;
        }
    fclose(f);
    rc = kb_playbook_parse(path, b.data ? b.data : "", b.len, out, diag);
    kb_buf_release(&b);
    return rc;
}

void kb_playbook_free(kb_playbook *pb)
{
    if (!pb)
        return;
    kb_yaml_free(pb->y);
    kb_arena_free(pb->ar);
    kb_free(pb);
}

const char *kb_playbook_name(const kb_playbook *pb) { return pb->name; }
const char *kb_playbook_title(const kb_playbook *pb) { return pb->title; }
const char *kb_playbook_path(const kb_playbook *pb) { return pb->path; }

int kb_playbook_check_answer(const kb_playbook *pb, const char *step, const char *value,
                             kb_buf *why)
{
    static const char *const yesno[] = {"yes", "no"};
    const char *const *ch;
    size_t n;
    for (size_t i = 0; i < pb->nsteps; i++) {
        const pb_step *s = &pb->steps[i];
        if (strcmp(s->id, step) != 0)
            continue;
        if (s->approve) {
            ch = yesno, n = 2;
        } else if (s->proc && s->proc->method == PM_MANUAL) {
            if (s->proc->free_answer)
                return *value ? KB_OK : (kb_buf_puts(why, "the answer is empty"), KB_EINVAL);
            ch = s->proc->choices, n = s->proc->nchoices;
        } else {
            kb_buf_printf(why, "step %s is not a manual task nor an approval", step);
            return KB_EINVAL;
        }
        for (size_t k = 0; k < n; k++)
            if (strcmp(ch[k], value) == 0)
                return KB_OK;
        kb_buf_printf(why, "step %s takes one of:", step);
        for (size_t k = 0; k < n; k++)
            kb_buf_printf(why, " %s", ch[k]);
        return KB_EINVAL;
    }
    kb_buf_printf(why, "playbook %s has no step '%s'", pb->name, step);
    return KB_EINVAL;
}

int kb_playbook_binds(const kb_playbook *pb, const char *type)
{
    for (size_t i = 0; type && i < pb->ntypes; i++)
        if (strcmp(pb->types[i], type) == 0)
            return 1;
    return 0;
}

static int yml_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
                           (l > 5 && strcmp(n + l - 5, ".yaml") == 0));
}

int kb_playbook_each(const char *dir, void (*fn)(void *ud, kb_playbook *pb), void *ud,
                     kb_buf *diag, int *bad)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) {
        if (diag)
            kb_buf_printf(diag, "%s:0: cannot read the directory\n", dir);
        return KB_EIO;
    }
    for (int i = 0; i < n; i++) {
        if (yml_name(ents[i]->d_name)) {
            kb_buf path;
            kb_playbook *pb = NULL;
            kb_buf_init(&path, 4096);
            kb_buf_printf(&path, "%s/%s", dir, ents[i]->d_name);
            if (path.data && kb_playbook_load(path.data, &pb, diag) == KB_OK)
                fn(ud, pb);
            else if (bad)
                (*bad)++;
            kb_buf_release(&path);
        }
        free(ents[i]);
    }
    free(ents);
    return KB_OK;
}

typedef struct find_ctx {
    const char *name;
    kb_playbook *found;
} find_ctx;

static void find_one(void *ud, kb_playbook *pb)
{
    find_ctx *fc = ud;
    const char *stem = strrchr(pb->path, '/');
    size_t nl = strlen(fc->name);
    stem = stem ? stem + 1 : pb->path;
    if (!fc->found && (strcmp(pb->name, fc->name) == 0 ||
                       (strncmp(stem, fc->name, nl) == 0 && stem[nl] == '.'))) {
        fc->found = pb;
        return;
    }
    kb_playbook_free(pb);
}

int kb_playbook_find(const char *dir, const char *name, kb_playbook **out, kb_buf *diag)
{
    find_ctx fc = {name, NULL};
    *out = NULL;
    if (strchr(name, '/') || yml_name(name))
        return kb_playbook_load(name, out, diag);
    kb_playbook_each(dir, find_one, &fc, diag, NULL);
    *out = fc.found;
    return fc.found ? KB_OK : KB_ENOENT;
}

/* ---- outline and graph ------------------------------------------------------------ */

static void put_indented(FILE *f, const char *text, const char *pre)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n)
            fprintf(f, "%s%.*s\n", pre, (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

static void method_line(const pb_process *pr, FILE *f)
{
    switch (pr->method) {
    case PM_ASK:
        fprintf(f, "ask %s", pr->text);
        for (size_t i = 0; i < pr->nargs; i++)
            fprintf(f, " %s", pr->args[i]);
        break;
    case PM_ACTION:
        fprintf(f, "action %s %s", pr->text, pr->target);
        break;
    case PM_MANUAL:
        fputs("manual task", f);
        break;
    case PM_AGGREGATE:
        fputs("aggregate", f);
        for (size_t i = 0; i < pr->nsources; i++)
            fprintf(f, " %s", pr->sources[i]);
        break;
    default:
        fprintf(f, "%s %s", kb_pb_method_names[pr->method], pr->text);
    }
}

void kb_playbook_outline(const kb_playbook *pb, FILE *f)
{
    fprintf(f, "%s — %s\n", pb->name, pb->title);
    if (pb->ntypes) {
        fputs("  runs for incidents of type:", f);
        for (size_t i = 0; i < pb->ntypes; i++)
            fprintf(f, " %s", pb->types[i]);
        fputc('\n', f);
    }
    fprintf(f, "  SLA: first response %llds, analysis %llds; blocks expire after %llds\n",
            (long long)(pb->sla_first / KB_NS_PER_SEC),
            (long long)(pb->sla_analysis / KB_NS_PER_SEC),
            (long long)(pb->expires / KB_NS_PER_SEC));
    for (int i = 0; i < 4; i++) {
        static const char *const sev[] = {"low", "medium", "high", "critical"};
        if (pb->sla_sev[i][0] || pb->sla_sev[i][1])
            fprintf(f, "  SLA for %s: first response %llds, analysis %llds\n", sev[i],
                    (long long)((pb->sla_sev[i][0] ? pb->sla_sev[i][0] : pb->sla_first) /
                                KB_NS_PER_SEC),
                    (long long)((pb->sla_sev[i][1] ? pb->sla_sev[i][1] : pb->sla_analysis) /
                                KB_NS_PER_SEC));
    }
    fputc('\n', f);
    for (size_t i = 0; i < pb->nsteps; i++) {
        const pb_step *s = &pb->steps[i];
        fprintf(f, "%2zu. [%s]", i + 1, s->id);
        if (s->proc)
            fprintf(f, " %s %s", s->proc->id, s->proc->name);
        if (s->approve)
            fprintf(f, " APPROVAL: %s", s->approve);
        if (s->outcome)
            fprintf(f, " => FIRST RESPONSE: %s", s->outcome);
        fputc('\n', f);
        if (s->when)
            fprintf(f, "      when: %s\n", s->when);
        if (s->for_each)
            fprintf(f, "      for each item of: %s\n", s->for_each);
        if (s->proc) {
            const pb_process *pr = s->proc;
            fputs("      method: ", f);
            method_line(pr, f);
            fputc('\n', f);
            if (pr->ninputs) {
                fputs("      input:", f);
                for (size_t k = 0; k < pr->ninputs; k++)
                    fprintf(f, " %s", pr->inputs[k]);
                fputc('\n', f);
            }
            if (pr->instructions)
                put_indented(f, pr->instructions, "      | ");
            for (size_t k = 0; k < pr->nchecklist; k++)
                fprintf(f, "      [ ] %s\n", pr->checklist[k]);
            if (pr->method == PM_MANUAL && pr->free_answer)
                fputs("      answer: free text\n", f);
            else if (pr->method == PM_MANUAL) {
                fputs("      answer:", f);
                for (size_t k = 0; k < pr->nchoices; k++)
                    fprintf(f, "%s%s", k ? " | " : " ", pr->choices[k]);
                fputc('\n', f);
            }
            if (pr->procedure)
                put_indented(f, pr->procedure, "      procedure: ");
            for (size_t k = 0; k < pr->nouts; k++)
                fprintf(f, "      output: %s <- %s\n", pr->outs[k].var, pr->outs[k].from);
        }
        if (s->end)
            fputs("      (end)\n", f);
    }
}

static void dot_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void kb_playbook_dot(const kb_playbook *pb, FILE *f)
{
    kb_buf lab;
    kb_buf_init(&lab, 4096);
    fputs("digraph playbook {\n  rankdir=TB;\n  node [shape=box, fontname=\"sans\"];\n", f);
    fputs("  start [shape=circle, label=\"incident\"];\n", f);
    for (size_t i = 0; i < pb->nsteps; i++) {
        const pb_step *s = &pb->steps[i];
        kb_buf_clear(&lab);
        kb_buf_printf(&lab, "%s", s->id);
        if (s->proc)
            kb_buf_printf(&lab, "\n%s %s", s->proc->id, s->proc->name);
        if (s->approve)
            kb_buf_printf(&lab, "\napproval: %s", s->approve);
        if (s->outcome)
            kb_buf_printf(&lab, "\n%s", s->outcome);
        if (s->for_each)
            kb_buf_printf(&lab, "\nfor each %s", s->for_each);
        fputs("  ", f);
        dot_str(f, s->id);
        fputs(" [label=", f);
        dot_str(f, lab.data);
        if (s->outcome)
            fputs(", shape=doubleoctagon", f);
        else if (s->proc && s->proc->method == PM_MANUAL)
            fputs(", shape=parallelogram", f);
        else if (s->approve)
            fputs(", shape=diamond", f);
        fputs("];\n", f);
    }
    /* Edges: each step to the next one, labelled with its condition; a
     * step that ends the run has no successor. */
    const char *prev = "start";
    for (size_t i = 0; i < pb->nsteps; i++) {
        const pb_step *s = &pb->steps[i];
        fputs("  ", f);
        dot_str(f, prev);
        fputs(" -> ", f);
        dot_str(f, s->id);
        if (s->when) {
            fputs(" [label=", f);
            dot_str(f, s->when);
            fputs("]", f);
        }
        fputs(";\n", f);
        /* after an ending step, the flow continues from the last
         * non-ending step (the branch not taken) */
        if (!s->end)
            prev = s->id;
    }
    fputs("}\n", f);
    kb_buf_release(&lab);
}
