/* The playbook engine: runs persisted step by step in the store.
 *
 * A run is a row of resp_runs holding its variables as JSON; each finished
 * step (and each iteration of a loop) is a row of resp_steps written in the
 * same transaction as the variables it produced. Driving a run walks the
 * steps in order and skips every step already recorded, so a run killed at
 * any point resumes where it stopped without repeating what was committed;
 * an iteration cut short is redone, which is safe because hunts only read
 * and actions carry an idempotency key (run:step:iteration). */
#include <string.h>

#include "intel/intel.h"
#include "respond/respond-int.h"
#include "store/hunt.h"
#include "store/store.h"
#include "triage/triage.h"

static const char *const schema_v1[] = {
    "CREATE TABLE resp_runs (id {pk}, playbook TEXT NOT NULL, incident_id BIGINT,"
    " severity TEXT, status TEXT NOT NULL, vars TEXT NOT NULL, outcome TEXT,"
    " created BIGINT, updated BIGINT, sla_first BIGINT, sla_analysis BIGINT,"
    " first_done BIGINT, breached TEXT, config TEXT)",
    "CREATE TABLE resp_steps (run_id BIGINT NOT NULL, step TEXT NOT NULL, iter BIGINT NOT NULL,"
    " status TEXT NOT NULL, started BIGINT, finished BIGINT, actor TEXT, inputs TEXT,"
    " outputs TEXT, PRIMARY KEY (run_id, step, iter))",
    "CREATE TABLE resp_answers (run_id BIGINT NOT NULL, step TEXT NOT NULL, value TEXT,"
    " actor TEXT, ts BIGINT, PRIMARY KEY (run_id, step))",
    "CREATE TABLE resp_timeline (id {pk}, run_id BIGINT, incident_id BIGINT, ts BIGINT,"
    " kind TEXT, step TEXT, actor TEXT, detail TEXT)",
    "CREATE INDEX resp_timeline_inc ON resp_timeline (incident_id, ts)",
    "CREATE TABLE resp_actions (id {pk}, run_id BIGINT, incident_id BIGINT, idem TEXT UNIQUE,"
    " kind TEXT NOT NULL, target TEXT NOT NULL, connector TEXT, conncfg TEXT, status TEXT,"
    " decision TEXT, severity TEXT, created BIGINT, expires BIGINT, updated BIGINT,"
    " attempts BIGINT, rollback TEXT, request TEXT, result TEXT, actor TEXT, playbook TEXT)",
    "CREATE TABLE resp_notify (incident_id BIGINT PRIMARY KEY, first_ts BIGINT,"
    " updates BIGINT, last_ts BIGINT)",
    NULL};

static const kb_store_step schema_steps[] = {{1, schema_v1}};

int kb_resp_schema(struct kb_store *st)
{
    return kb_store_migrate_module(st, "respond", schema_steps, 1);
}

#define SV(s) KB_SV_STRV((s), strlen(s))

/* ---- small store helpers --------------------------------------------------- */

typedef struct text_out {
    kb_buf *b;
    int found;
} text_out;

static int row_text(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    text_out *t = ud;
    (void)names;
    t->found = 1;
    for (size_t i = 0; i < ncol; i++) {
        if (i)
            kb_buf_putc(t->b, '\x1f');
        if (c[i].type == KB_SV_TEXT)
            kb_buf_append(t->b, c[i].p, c[i].len);
        else if (c[i].type == KB_SV_INT)
            kb_buf_printf(t->b, "%lld", (long long)c[i].i);
    }
    return 1; /* first row only */
}

/* First row's columns joined by \x1f into b (cleared). 1 found, 0 not, <0 error. */
static int query_text(kb_store *st, const char *sql, const kb_sval *p, size_t n, kb_buf *b)
{
    text_out t = {b, 0};
    kb_buf_clear(b);
    int rc = kb_store_exec(st, sql, p, n, row_text, &t);
    if (rc != KB_OK && rc != 1)
        return -1;
    return t.found;
}

int kb_resp_timeline_add(struct kb_store *st, int64_t run_id, int64_t incident_id,
                         const char *kind, const char *step, const char *actor,
                         const char *detail)
{
    kb_sval p[7] = {KB_SV_INTV(run_id), KB_SV_INTV(incident_id), KB_SV_INTV(kb_time_now()),
                    SV(kind), step ? SV(step) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
                    SV(actor ? actor : "koban"), SV(detail ? detail : "")};
    return kb_store_exec(st, "INSERT INTO resp_timeline (run_id, incident_id, ts, kind, step,"
                             " actor, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         p, 7, NULL, NULL);
}

/* ---- incidents ---------------------------------------------------------------- */

void kb_resp_incident_release(kb_resp_incident *in)
{
    char **f[] = {&in->type, &in->severity, &in->host, &in->user, &in->src_ip, &in->dst_ip,
                  &in->url, &in->file_name, &in->file_hash, &in->title};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        kb_free(*f[i]);
        *f[i] = NULL;
    }
}

static char *jdup(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return kb_strndup(json_string_value(v), json_string_length(v));
    if (json_is_array(v) && json_array_size(v) && json_is_string(json_array_get(v, 0)))
        return kb_strdup(json_string_value(json_array_get(v, 0)));
    return NULL;
}

static int64_t jtime(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    int64_t t;
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v) &&
        kb_time_parse_iso8601(json_string_value(v), json_string_length(v), &t) == KB_OK)
        return t;
    return KB_TIME_NONE;
}

/* The first of the keys that holds a string (or a list whose first item is
 * one). */
static char *jdup2(json_t *o, const char *k1, const char *k2)
{
    char *s = jdup(o, k1);
    return s ? s : k2 ? jdup(o, k2) : NULL;
}

static void incident_from(kb_resp_incident *in, json_t *o)
{
    json_t *id = json_object_get(o, "id");
    in->id = json_is_integer(id) ? json_integer_value(id) : 0;
    in->type = jdup(o, "type");
    in->severity = jdup(o, "severity");
    in->host = jdup2(o, "host", "hosts");
    in->user = jdup2(o, "user", "users");
    /* triage's incidents carry the observables of their alerts as lists */
    in->src_ip = jdup2(o, "source_ip", "source_ips");
    in->dst_ip = jdup2(o, "destination_ip", "destination_ips");
    if (!in->dst_ip)
        in->dst_ip = jdup(o, "external");
    in->url = jdup2(o, "url", "urls");
    in->file_name = jdup2(o, "file_name", "file_names");
    in->file_hash = jdup2(o, "file_hash", "file_hashes");
    in->title = jdup(o, "title");
    in->first = jtime(o, "first");
    in->last = jtime(o, "last");
}

int kb_resp_incident_from_json(kb_resp_incident *in, const char *p, size_t len,
                               const char **err)
{
    json_error_t je;
    json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
    memset(in, 0, sizeof *in);
    in->first = in->last = KB_TIME_NONE;
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *err = "the incident file is not a JSON object";
        return KB_EPARSE;
    }
    incident_from(in, o);
    json_decref(o);
    if (!in->type) {
        *err = "the incident has no \"type\"";
        kb_resp_incident_release(in);
        return KB_EPARSE;
    }
    return KB_OK;
}

int kb_resp_incident_load(kb_resp_incident *in, struct kb_store *st, int64_t id)
{
    kb_buf b;
    kb_sval p = KB_SV_INTV(id);
    int r;
    memset(in, 0, sizeof *in);
    in->first = in->last = KB_TIME_NONE;
    kb_buf_init(&b, 16u << 20);
    r = query_text(st, "SELECT type, severity, entity, title, created, updated, detail"
                       " FROM incidents WHERE id = ?", &p, 1, &b);
    if (r <= 0) {
        kb_buf_release(&b);
        return r < 0 ? KB_EIO : KB_ENOENT;
    }
    /* split the 7 columns */
    char *f[7] = {0};
    char *s = b.data;
    for (int i = 0; i < 7; i++) {
        f[i] = s;
        char *e = i < 6 ? memchr(s, '\x1f', b.len - (size_t)(s - b.data)) : NULL;
        if (e) {
            *e = 0;
            s = e + 1;
        } else if (i < 6) {
            break;
        }
    }
    json_t *o = f[6] ? json_loads(f[6], 0, NULL) : NULL;
    if (o)
        incident_from(in, o);
    json_decref(o);
    in->id = id;
    kb_free(in->type), in->type = kb_strdup(f[0] ? f[0] : "unknown");
    kb_free(in->severity), in->severity = kb_strdup(f[1] ? f[1] : "medium");
    /* the entity the incident is grouped by is the affected one */
    if (f[2] && strncmp(f[2], "host:", 5) == 0 && f[2][5])
        kb_free(in->host), in->host = kb_strdup(f[2] + 5);
    if (f[2] && strncmp(f[2], "user:", 5) == 0 && f[2][5])
        kb_free(in->user), in->user = kb_strdup(f[2] + 5);
    if (f[2] && strncmp(f[2], "source:", 7) == 0 && f[2][7])
        kb_free(in->src_ip), in->src_ip = kb_strdup(f[2] + 7);
    if (!in->title && f[3])
        in->title = kb_strdup(f[3]);
    if (f[4])
        kb_parse_i64(f[4], strlen(f[4]), &in->first);
    if (f[5])
        kb_parse_i64(f[5], strlen(f[5]), &in->last);
    kb_buf_release(&b);
    return KB_OK;
}

static json_t *incident_vars(const kb_resp_incident *in)
{
    json_t *o = json_object();
    char tb[40];
    struct {
        const char *k, *v;
    } f[] = {{"incident.type", in->type},           {"incident.severity", in->severity},
             {"incident.host", in->host},           {"incident.user", in->user},
             {"incident.source_ip", in->src_ip},    {"incident.destination_ip", in->dst_ip},
             {"incident.url", in->url},             {"incident.file_name", in->file_name},
             {"incident.file_hash", in->file_hash}, {"incident.title", in->title}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        json_object_set_new(o, f[i].k, json_stringn(f[i].v ? f[i].v : "",
                                                    f[i].v ? strlen(f[i].v) : 0));
    json_object_set_new(o, "incident.id", json_integer(in->id));
    json_object_set_new(o, "outcome", json_string("")); /* set by an outcome step */
    if (in->first != KB_TIME_NONE) {
        kb_time_format(in->first, tb, sizeof tb);
        json_object_set_new(o, "incident.first", json_string(tb));
    } else {
        json_object_set_new(o, "incident.first", json_string("now-24h"));
    }
    if (in->last != KB_TIME_NONE) {
        kb_time_format(in->last, tb, sizeof tb);
        json_object_set_new(o, "incident.last", json_string(tb));
    } else {
        json_object_set_new(o, "incident.last", json_string("now"));
    }
    return o;
}

/* ---- variables in templates ---------------------------------------------------- */

typedef struct lookup {
    json_t *vars;
    const char *item;
    kb_buf scratch[4];
    int next;
} lookup;

static int var_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                      int *is_list)
{
    lookup *L = ud;
    char key[256];
    json_t *j;
    if (kb_str_eqz(name, nlen, "item") && L->item) {
        *v = L->item, *len = strlen(L->item), *is_list = 0;
        return 1;
    }
    if (nlen >= sizeof key)
        return 0;
    memcpy(key, name, nlen);
    key[nlen] = 0;
    j = json_object_get(L->vars, key);
    if (!j)
        return 0;
    kb_buf *b = &L->scratch[L->next++ & 3];
    kb_buf_clear(b);
    *is_list = 0;
    if (json_is_string(j)) {
        *v = json_string_value(j), *len = json_string_length(j);
        return 1;
    }
    if (json_is_integer(j))
        kb_buf_printf(b, "%lld", (long long)json_integer_value(j));
    else if (json_is_array(j)) {
        size_t i;
        json_t *it;
        *is_list = 1;
        json_array_foreach(j, i, it) {
            if (i)
                kb_buf_puts(b, ", ");
            if (json_is_string(it))
                kb_buf_append(b, json_string_value(it), json_string_length(it));
        }
        if (!json_array_size(j))
            kb_buf_puts(b, "none"); /* lists render only as text */
    }
    *v = b->data ? b->data : "", *len = b->len;
    return 1;
}

/* ---- running processes --------------------------------------------------------- */

/* R_SKIP: not run because an input it needs is unknown (the reason in
 * detail, its outputs set to "": unknown). */
enum { R_DONE, R_WAIT, R_FAIL, R_SKIP };

typedef struct proc_ctx {
    kb_store *st;
    const kb_playbook *pb;
    int64_t run_id, incident_id;
    const char *severity;
    const pb_step *step;
    long iter;
    lookup lk;
    json_t *out;     /* the outputs of this iteration */
    kb_buf detail;   /* inputs / what was done, for the timeline */
    char *err;
    size_t errsize;
    const kb_resp_opts *o;
    const char *config; /* respond config JSON (connectors) */
    const char *incident_json;
} proc_ctx;

static void set_err(proc_ctx *c, const char *fmt, const char *a, const char *b)
{
    snprintf(c->err, c->errsize, fmt, a ? a : "", b ? b : "");
}

/* Collects hunt rows into outputs. */
typedef struct hunt_rows {
    const pb_process *pr;
    const kb_hunt_sql *q;
    int64_t rows;
    json_t *lists[PB_MAX_ITEMS];
} hunt_rows;

static int hunt_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    hunt_rows *h = ud;
    (void)names;
    h->rows++;
    for (size_t k = 0; k < h->pr->nouts; k++) {
        const char *from = h->pr->outs[k].from;
        if (!h->lists[k])
            continue;
        for (size_t i = 0; i < ncol; i++) {
            const char *cn = h->q->events ? (i < kb_hunt_event_ncols ? kb_hunt_event_cols[i].name
                                                                     : "")
                                          : (i < h->q->ncols ? h->q->titles[i] : "");
            if (strcmp(cn, from) != 0 || c[i].type == KB_SV_NULL)
                continue;
            char nb[32];
            json_t *v = NULL;
            if (c[i].type == KB_SV_TEXT && c[i].len)
                v = json_stringn(c[i].p, c[i].len);
            else if (c[i].type == KB_SV_INT) {
                snprintf(nb, sizeof nb, "%lld", (long long)c[i].i);
                v = json_string(nb);
            }
            if (!v)
                continue;
            size_t j;
            json_t *it;
            int dup = 0;
            json_array_foreach(h->lists[k], j, it) if (json_equal(it, v)) dup = 1;
            if (!dup && json_array_size(h->lists[k]) < KB_RESP_MAX_LIST)
                json_array_append(h->lists[k], v);
            json_decref(v);
        }
    }
    return 0;
}

static int run_hunt_text(proc_ctx *c, const char *q, size_t qlen)
{
    const pb_process *pr = c->step->proc;
    kb_hunt_error he = {0};
    kb_hunt_sql sql;
    hunt_rows hr = {pr, &sql, 0, {0}};
    int rc = R_FAIL;
    kb_hunt *h = kb_hunt_parse(q, qlen, kb_time_now(), &he);

    memset(&sql, 0, sizeof sql);
    kb_buf_printf(&c->detail, "hunt: %.*s", (int)qlen, q);
    if (!h) {
        snprintf(c->err, c->errsize, "hunt does not parse at column %zu: %s", he.pos + 1, he.msg);
        return R_FAIL;
    }
    /* KB_HUNT_RESIDUAL: raw fields and free text on every back end */
    if (kb_hunt_compile_ex(h, c->st, KB_TIME_NONE, KB_HUNT_RESIDUAL, &sql, &he) != KB_OK) {
        snprintf(c->err, c->errsize, "hunt: %s", he.msg);
        goto out;
    }
    for (size_t k = 0; k < pr->nouts; k++) {
        const char *f = pr->outs[k].from;
        if (strcmp(f, "count") && strcmp(f, "found"))
            hr.lists[k] = json_array();
    }
    if (kb_hunt_run(c->st, &sql, hunt_row, &hr) != KB_OK) {
        snprintf(c->err, c->errsize, "hunt failed: %s", kb_store_errmsg(c->st));
        goto out;
    }
    for (size_t k = 0; k < pr->nouts; k++) {
        const char *f = pr->outs[k].from;
        if (strcmp(f, "count") == 0)
            json_object_set_new(c->out, pr->outs[k].var, json_integer(hr.rows));
        else if (strcmp(f, "found") == 0)
            json_object_set_new(c->out, pr->outs[k].var, json_string(hr.rows ? "yes" : "no"));
        else
            json_object_set(c->out, pr->outs[k].var, hr.lists[k]);
    }
    kb_buf_printf(&c->detail, " -> %lld rows", (long long)hr.rows);
    rc = R_DONE;
out:
    for (size_t k = 0; k < PB_MAX_ITEMS; k++)
        json_decref(hr.lists[k]);
    kb_hunt_sql_release(&sql);
    kb_hunt_free(h);
    return rc;
}

/* For text an analyst reads (instructions, questions, notifications): a
 * value the run does not know (empty, or not set because its step was
 * skipped; see "inputs the run does not know" below) reads "(unknown)"
 * rather than leaving a gap in the sentence. */
static int text_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                       int *is_list)
{
    if (!var_lookup(ud, name, nlen, v, len, is_list) || *len == 0) {
        *v = "(unknown)", *len = strlen(*v), *is_list = 0;
    }
    return 1;
}

static int render(proc_ctx *c, const char *tmpl, kb_esc ctx, kb_buf *out)
{
    const char *e = NULL;
    kb_buf_clear(out);
    if (kb_tmpl_render(tmpl, strlen(tmpl), ctx, ctx == KB_ESC_TEXT ? text_lookup : var_lookup,
                       &c->lk, out, &e) != KB_OK) {
        set_err(c, "template '%s': %s", tmpl, e);
        return -1;
    }
    if (!out->data)
        kb_buf_puts(out, "");
    return 0;
}

static void err_clear(proc_ctx *c)
{
    if (c->errsize)
        c->err[0] = 0;
}

/* ---- inputs the run does not know ------------------------------------------------
 *
 * A value is unknown when it is empty (an incident field the incident does
 * not have, an output a skipped step left empty) or when no step has set it
 * (its step was skipped by its condition). Where a method's input is
 * unknown the engine neither searches for an empty value (which would
 * silently restrict a hunt, or widen it: every record contains "") nor looks
 * an empty value up: a hunt loses the terms of its unknown values by the rule
 * of kb_hunt_drop_unknown (docs/playbooks.md), and a method that cannot run
 * without the value (a hunt with no condition left, an `ask` question, an
 * intel / asset / vulns lookup) is recorded as skipped, naming the unknown
 * inputs, with its outputs empty (unknown) for the steps after it. */

/* As var_lookup, but a variable no step has set is an empty value. */
static int known_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                        int *is_list)
{
    if (var_lookup(ud, name, nlen, v, len, is_list))
        return 1;
    *v = "", *len = 0, *is_list = 0;
    return 1;
}

#define MAX_SPANS KB_HUNT_MAX_NODES

/* Renders tmpl with unset variables empty; the unknown (empty) values'
 * spans go to at[] (*nat of them) and their names, once each, to names
 * ("a, b"). Returns 0, or -1 with the error set. */
static int render_known(proc_ctx *c, const char *tmpl, kb_esc ctx, kb_buf *out, size_t *at,
                        size_t *nat, kb_buf *names)
{
    kb_tmpl_span sp[MAX_SPANS];
    size_t n = 0;
    const char *e = NULL;
    kb_buf_clear(out);
    *nat = 0;
    if (kb_tmpl_render_spans(tmpl, strlen(tmpl), ctx, known_lookup, &c->lk, out, sp, MAX_SPANS, &n,
                             &e) != KB_OK) {
        set_err(c, "template '%s': %s", tmpl, e);
        return -1;
    }
    if (!out->data)
        kb_buf_puts(out, "");
    for (size_t i = 0; i < n && i < MAX_SPANS; i++) {
        if (sp[i].vlen)
            continue;
        if (at)
            at[(*nat)++] = sp[i].start;
        else
            (*nat)++;
        /* each name once */
        int seen = 0;
        for (size_t k = 0; k < i; k++)
            if (!sp[k].vlen && sp[k].nlen == sp[i].nlen &&
                memcmp(sp[k].name, sp[i].name, sp[i].nlen) == 0)
                seen = 1;
        if (!seen)
            kb_buf_printf(names, "%s%.*s", names->len ? ", " : "", (int)sp[i].nlen, sp[i].name);
    }
    return 0;
}

/* A step not run: every output empty (unknown), the reason in detail. */
static int skip_unknown(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    for (size_t k = 0; k < pr->nouts; k++)
        json_object_set_new(c->out, pr->outs[k].var, json_string(""));
    err_clear(c);
    return R_SKIP;
}

/* A hunt method: its template rendered, the terms of unknown values taken
 * out; nothing of the condition left: not run. */
static int run_hunt(proc_ctx *c)
{
    const char *tmpl = c->step->proc->text;
    kb_buf q, left, names;
    size_t *at = kb_calloc(MAX_SPANS, sizeof *at), nat = 0;
    kb_hunt_error he = {0};
    kb_hunt *h = NULL;
    int rc = R_FAIL, r;

    kb_buf_init(&q, KB_HUNT_MAX_LEN);
    kb_buf_init(&left, 4 * KB_HUNT_MAX_LEN);
    kb_buf_init(&names, 4096);
    if (!at) {
        set_err(c, "%s%s", "out of memory", NULL);
        goto out;
    }
    if (render_known(c, tmpl, KB_ESC_HUNT, &q, at, &nat, &names))
        goto out;
    if (nat == 0) {
        rc = run_hunt_text(c, q.data, q.len);
        goto out;
    }
    if (!(h = kb_hunt_parse(q.data, q.len, kb_time_now(), &he))) {
        rc = run_hunt_text(c, q.data, q.len); /* reported as any hunt that does not parse */
        goto out;
    }
    r = kb_hunt_drop_unknown(h, at, nat, &left, NULL);
    if (r == KB_ENOENT) {
        kb_buf_printf(&c->detail, "hunt not run, unknown: %s (the hunt needs %s): %s", names.data,
                      strchr(names.data, ',') ? "them" : "it", q.data);
        rc = skip_unknown(c);
    } else if (r != KB_OK) {
        set_err(c, "hunt '%s': %s", tmpl, "too long without its unknown terms");
    } else {
        rc = run_hunt_text(c, left.data, left.len);
        kb_buf_printf(&c->detail, "; unknown: %s (dropped from the hunt)", names.data);
    }
out:
    kb_hunt_free(h);
    kb_free(at);
    kb_buf_release(&q);
    kb_buf_release(&left);
    kb_buf_release(&names);
    return rc;
}

static int run_ask(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    kb_buf q, a[3], names;
    size_t nunknown = 0;
    int rc = R_FAIL;
    kb_buf_init(&q, KB_HUNT_MAX_LEN);
    kb_buf_init(&names, 4096);
    for (int i = 0; i < 3; i++)
        kb_buf_init(&a[i], KB_RESP_MAX_VALUE * 2);
    for (size_t i = 0; i < pr->nargs && i < 3; i++) {
        size_t n = 0;
        if (render_known(c, pr->args[i], KB_ESC_HUNT, &a[i], NULL, &n, &names))
            goto out;
        nunknown += n;
    }
    if (nunknown) {
        /* every question's arguments are conditions its query needs */
        kb_buf_printf(&c->detail, "ask %s not run, unknown: %s (it needs its argument%s)", pr->text,
                      names.data, pr->nargs > 1 ? "s" : "");
        rc = skip_unknown(c);
        goto out;
    }
    if (strcmp(pr->text, "where-hash") == 0)
        kb_buf_printf(&q, "hash:%s | stats count(), min(@timestamp), max(@timestamp) by"
                          " host.name | sort -count", a[0].data);
    else if (strcmp(pr->text, "who-talked-to") == 0)
        kb_buf_printf(&q, "ip:%s | stats count() by host.name, source.ip, destination.ip,"
                          " destination.port | sort -count", a[0].data);
    else if (strcmp(pr->text, "host-activity") == 0)
        kb_buf_printf(&q, "host.name:%s and @timestamp >= %s and @timestamp <= %s"
                          " | sort @timestamp", a[0].data, a[1].data, a[2].data);
    else if (strcmp(pr->text, "first-seen") == 0)
        kb_buf_printf(&q, "observable:%s | sort @timestamp | head 1", a[0].data);
    else
        kb_buf_printf(&q, "host.name:%s and process.pid:%s | sort @timestamp", a[0].data,
                      a[1].data);
    kb_buf_printf(&c->detail, "ask %s; ", pr->text);
    rc = run_hunt_text(c, q.data, q.len);
out:
    kb_buf_release(&q);
    kb_buf_release(&names);
    for (int i = 0; i < 3; i++)
        kb_buf_release(&a[i]);
    return rc;
}

typedef struct intel_hits {
    json_t *threats, *feeds;
    int n;
} intel_hits;

static int intel_hit(void *ud, const kb_indicator *ind, int64_t added)
{
    intel_hits *h = ud;
    (void)added;
    h->n++;
    if (ind->threat)
        json_array_append_new(h->threats, json_string(ind->threat));
    if (ind->feed)
        json_array_append_new(h->feeds, json_string(ind->feed));
    return h->n >= 100;
}

static void set_outputs(proc_ctx *c, const char *const *names, json_t *const *vals, size_t n)
{
    const pb_process *pr = c->step->proc;
    for (size_t k = 0; k < pr->nouts; k++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(pr->outs[k].from, names[i]) == 0)
                json_object_set(c->out, pr->outs[k].var, vals[i]);
}

static int run_lookup(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    kb_buf v, unk;
    size_t nunknown = 0;
    int rc = R_FAIL;
    kb_buf_init(&v, KB_RESP_MAX_VALUE * 2);
    kb_buf_init(&unk, 4096);
    if (render_known(c, pr->text, KB_ESC_ARG, &v, NULL, &nunknown, &unk))
        goto out;
    if (v.len == 0) { /* nothing to look up */
        kb_buf_printf(&c->detail, "%s not run, unknown: %s (no value to look up)",
                      kb_pb_method_names[pr->method], unk.len ? unk.data : pr->text);
        rc = skip_unknown(c);
        goto out;
    }
    kb_buf_printf(&c->detail, "%s %s", kb_pb_method_names[pr->method], v.data);
    if (pr->method == PM_INTEL) {
        intel_hits h = {json_array(), json_array(), 0};
        kb_buf norm;
        int kind = -1;
        const char *why = NULL;
        kb_buf_init(&norm, 8192);
        if (kb_intel_store_init(c->st) == KB_OK &&
            kb_intel_normalize(-1, v.data, v.len, &norm, &kind, &why) == KB_OK)
            kb_intel_store_each(c->st, norm.data, KB_TIME_NONE, intel_hit, &h);
        kb_buf_release(&norm);
        json_t *found = json_string(h.n ? "yes" : "no");
        const char *names[] = {"found", "threat", "feeds"};
        json_t *vals[] = {found, h.threats, h.feeds};
        set_outputs(c, names, vals, 3);
        kb_buf_printf(&c->detail, " -> %d indicator(s)", h.n);
        json_decref(found), json_decref(h.threats), json_decref(h.feeds);
    } else if (pr->method == PM_ASSET) {
        kb_assets *as = kb_assets_new();
        const kb_asset *a = NULL;
        if (as && kb_assets_load(as, c->st) == KB_OK)
            a = kb_assets_by_name(as, v.data, v.len);
        json_t *vals[] = {json_string(a ? "yes" : "no"), json_string(a ? a->type : ""),
                          json_string(a ? a->tags : ""), json_integer(a ? a->criticality : 0),
                          json_string(a ? a->owner : "")};
        const char *names[] = {"found", "type", "tags", "criticality", "owner"};
        set_outputs(c, names, vals, 5);
        kb_buf_printf(&c->detail, " -> %s", a ? a->type : "not in the inventory");
        for (int i = 0; i < 5; i++)
            json_decref(vals[i]);
        kb_assets_free(as);
    } else {
        kb_vulns *vs = kb_vulns_new();
        json_t *cves = json_array();
        size_t n = 0;
        if (vs && kb_vulns_load(vs, c->st) == KB_OK)
            for (size_t i = 0; i < kb_vulns_count(vs); i++) {
                const kb_vuln *vu = kb_vulns_at(vs, i);
                if ((strcmp(vu->host, v.data) == 0 || strcmp(vu->ip, v.data) == 0) && *vu->cve) {
                    json_array_append_new(cves, json_string(vu->cve));
                    n++;
                }
            }
        json_t *cnt = json_integer((json_int_t)n), *found = json_string(n ? "yes" : "no");
        const char *names[] = {"count", "list", "found"};
        json_t *vals[] = {cnt, cves, found};
        set_outputs(c, names, vals, 3);
        kb_buf_printf(&c->detail, " -> %zu finding(s)", n);
        json_decref(cnt), json_decref(cves), json_decref(found);
        kb_vulns_free(vs);
    }
    rc = R_DONE;
out:
    kb_buf_release(&v);
    kb_buf_release(&unk);
    return rc;
}

static int get_answer(kb_store *st, int64_t run, const char *step, kb_buf *b)
{
    kb_sval p[2] = {KB_SV_INTV(run), SV(step)};
    return query_text(st, "SELECT value FROM resp_answers WHERE run_id = ? AND step = ?", p, 2,
                      b);
}

static int run_manual(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    kb_buf a;
    int r;
    kb_buf_init(&a, 4096);
    r = get_answer(c->st, c->run_id, c->step->id, &a);
    if (r <= 0) {
        /* what the analyst sees in `playbook pending`: the task, its
         * instructions with the run's values, and the answers it takes */
        kb_buf t;
        kb_buf_init(&t, 65536);
        kb_buf_printf(&c->detail, "%s", pr->name);
        if (pr->instructions && render(c, pr->instructions, KB_ESC_TEXT, &t) == 0) {
            while (t.len && (t.data[t.len - 1] == '\n' || t.data[t.len - 1] == ' '))
                t.data[--t.len] = 0;
            for (char *q = t.data; q && *q; q++)
                if (*q == '\n')
                    *q = ' ';
            kb_buf_printf(&c->detail, ": %s", t.data);
        }
        if (pr->free_answer) {
            kb_buf_puts(&c->detail, " [answer: free text]");
        } else {
            kb_buf_puts(&c->detail, " [answer:");
            for (size_t i = 0; i < pr->nchoices; i++)
                kb_buf_printf(&c->detail, "%s%s", i ? " | " : " ", pr->choices[i]);
            kb_buf_putc(&c->detail, ']');
        }
        kb_buf_release(&t);
        kb_buf_release(&a);
        err_clear(c);
        return r < 0 ? R_FAIL : R_WAIT;
    }
    json_t *v = json_string(a.data ? a.data : "");
    const char *names[] = {"answer"};
    set_outputs(c, names, &v, 1);
    kb_buf_printf(&c->detail, "manual: %s -> answered %s", pr->name, a.data);
    json_decref(v);
    kb_buf_release(&a);
    return R_DONE;
}

static int run_action(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    const kb_resp_action_kind *k = kb_resp_action_kind_find(pr->text);
    kb_buf t, status, key;
    int64_t aid = 0;
    int rc = R_FAIL;
    kb_buf_init(&t, KB_RESP_MAX_VALUE * 2);
    kb_buf_init(&status, 64);
    kb_buf_init(&key, 256);
    /* A target the template refuses (a control byte, a leading '-') or that
     * is not a valid value of the kind's type is refused here, before any
     * connector sees it; the refusal is recorded and the run goes on. */
    if (render(c, pr->target, KB_ESC_ARG, &t) || !kb_vtype_check(k->target, t.data, t.len)) {
        snprintf(c->err, c->errsize, "action %s: target is not a valid %s", k->name,
                 kb_vtype_name(k->target));
        kb_buf_printf(&c->detail, "action %s refused: target is not a valid %s", k->name,
                      kb_vtype_name(k->target));
        const char *names[] = {"status"};
        json_t *v = json_string("invalid");
        set_outputs(c, names, &v, 1);
        json_decref(v);
        rc = R_DONE; /* recorded; the run goes on */
        goto out;
    }
    kb_buf_printf(&key, "run%lld:%s:%ld", (long long)c->run_id, c->step->id, c->iter);
    if (kb_resp_action_request(c->st, c->pb, c->run_id, c->incident_id, key.data, k->name,
                               t.data, c->severity, pr->expires, c->incident_json, c->o, &aid,
                               &status, c->err, c->errsize) != KB_OK)
        goto out;
    kb_buf_printf(&c->detail, "action #%lld %s %s: %s", (long long)aid, k->name, t.data,
                  status.data);
    if (strcmp(status.data, "pending") == 0) {
        rc = R_WAIT;
        goto out;
    }
    json_t *v = json_string(status.data);
    const char *names[] = {"status"};
    set_outputs(c, names, &v, 1);
    json_decref(v);
    rc = R_DONE;
out:
    kb_buf_release(&t);
    kb_buf_release(&status);
    kb_buf_release(&key);
    return rc;
}

static int run_aggregate(proc_ctx *c)
{
    const pb_process *pr = c->step->proc;
    json_t *all = json_array();
    for (size_t i = 0; i < pr->nsources; i++) {
        json_t *src = json_object_get(c->lk.vars, pr->sources[i]);
        size_t k;
        json_t *it;
        if (json_is_string(src) && json_string_length(src))
            src = NULL, json_array_append_new(all, json_string(json_string_value(
                                                  json_object_get(c->lk.vars, pr->sources[i]))));
        json_array_foreach(src, k, it) {
            size_t j;
            json_t *x;
            int dup = 0;
            json_array_foreach(all, j, x) if (json_equal(x, it)) dup = 1;
            if (!dup && json_array_size(all) < KB_RESP_MAX_LIST)
                json_array_append(all, it);
        }
    }
    const char *names[] = {"list"};
    set_outputs(c, names, &all, 1);
    json_t *cnt = json_integer((json_int_t)json_array_size(all));
    const char *n2[] = {"count"};
    set_outputs(c, n2, &cnt, 1);
    kb_buf_printf(&c->detail, "aggregate -> %zu value(s)", json_array_size(all));
    json_decref(cnt);
    json_decref(all);
    return R_DONE;
}

static int run_notify(proc_ctx *c)
{
    kb_buf t;
    kb_buf_init(&t, 65536);
    if (render(c, c->step->proc->text, KB_ESC_TEXT, &t)) {
        kb_buf_release(&t);
        return R_FAIL;
    }
    kb_buf_printf(&c->detail, "notify: %s", t.data);
    if (c->config) {
        json_t *v = json_object_get(c->lk.vars, "incident.title");
        json_t *s = json_object_get(c->lk.vars, "incident.severity");
        json_t *ty = json_object_get(c->lk.vars, "incident.type");
        kb_notify_msg m = {c->incident_id, json_string_value(v), json_string_value(s),
                           json_string_value(ty), t.data, 0, 0};
        kb_buf d;
        kb_buf_init(&d, 8192);
        int n = kb_notify_send(c->st, c->config, &m, &d);
        kb_buf_printf(&c->detail, " (%d channel(s))%s%s", n < 0 ? 0 : n, d.len ? "; " : "",
                      d.len ? d.data : "");
        kb_buf_release(&d);
    }
    kb_buf_release(&t);
    return R_DONE;
}

static int run_process(proc_ctx *c)
{
    switch (c->step->proc->method) {
    case PM_HUNT:
        return run_hunt(c);
    case PM_ASK:
        return run_ask(c);
    case PM_INTEL: case PM_ASSET: case PM_VULNS:
        return run_lookup(c);
    case PM_MANUAL:
        return run_manual(c);
    case PM_ACTION:
        return run_action(c);
    case PM_AGGREGATE:
        return run_aggregate(c);
    case PM_NOTIFY:
        return run_notify(c);
    }
    return R_FAIL;
}

/* ---- driving a run --------------------------------------------------------------- */

static int step_status(kb_store *st, int64_t run, const char *step, long iter, kb_buf *b)
{
    kb_sval p[3] = {KB_SV_INTV(run), SV(step), KB_SV_INTV(iter)};
    return query_text(st, "SELECT status FROM resp_steps WHERE run_id = ? AND step = ?"
                          " AND iter = ?", p, 3, b);
}

/* Merges an iteration's outputs into the run's variables: lists are unions,
 * yes/no are or'ed, counts add up; the first iteration replaces. */
static void merge(json_t *vars, json_t *out, long iter)
{
    const char *k;
    json_t *v;
    json_object_foreach(out, k, v) {
        json_t *old = json_object_get(vars, k);
        if (iter <= 0 || !old || (json_is_string(old) && !json_string_length(old))) {
            json_object_set(vars, k, v);
        } else if (json_is_string(v) && !json_string_length(v)) {
            continue; /* an iteration that did not run keeps what the others found */
        } else if (json_is_array(old) && json_is_array(v)) {
            size_t i, j;
            json_t *it, *x;
            json_array_foreach(v, i, it) {
                int dup = 0;
                json_array_foreach(old, j, x) if (json_equal(x, it)) dup = 1;
                if (!dup && json_array_size(old) < KB_RESP_MAX_LIST)
                    json_array_append(old, it);
            }
        } else if (json_is_integer(old) && json_is_integer(v)) {
            json_object_set_new(vars, k, json_integer(json_integer_value(old) +
                                                      json_integer_value(v)));
        } else if (json_is_string(old) && json_is_string(v) &&
                   strcmp(json_string_value(v), "yes") == 0) {
            json_object_set(vars, k, v);
        } else if (!(json_is_string(v) && strcmp(json_string_value(v), "no") == 0)) {
            json_object_set(vars, k, v);
        }
    }
}

/* Commits a step (or iteration) with the run's variables. */
static int commit_step(kb_store *st, int64_t run, const char *step, long iter,
                       const char *status, int64_t started, const char *actor,
                       const char *inputs, json_t *outputs, json_t *vars)
{
    char *vj = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
    char *oj = outputs ? json_dumps(outputs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int64_t now = kb_time_now();
    int rc;
    if (!vj) {
        kb_free(oj);
        return KB_ENOMEM;
    }
    kb_sval p[9] = {KB_SV_INTV(run),      SV(step),       KB_SV_INTV(iter),
                    SV(status),           KB_SV_INTV(started), KB_SV_INTV(now),
                    SV(actor),            SV(inputs ? inputs : ""),
                    SV(oj ? oj : "{}")};
    kb_sval u[3] = {SV(vj), KB_SV_INTV(now), KB_SV_INTV(run)};
    if ((rc = kb_store_begin(st)))
        goto out;
    if ((rc = kb_store_exec(st, "INSERT INTO resp_steps (run_id, step, iter, status, started,"
                                " finished, actor, inputs, outputs) VALUES (?,?,?,?,?,?,?,?,?)",
                            p, 9, NULL, NULL)) ||
        (rc = kb_store_exec(st, "UPDATE resp_runs SET vars = ?, updated = ? WHERE id = ?", u, 3,
                            NULL, NULL))) {
        kb_store_rollback(st);
        goto out;
    }
    rc = kb_store_commit(st);
out:
    free(vj);
    free(oj);
    return rc;
}

static int set_run(kb_store *st, int64_t run, const char *status, const char *outcome)
{
    kb_sval p[4] = {SV(status), KB_SV_INTV(kb_time_now()),
                    outcome ? SV(outcome) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
                    KB_SV_INTV(run)};
    return kb_store_exec(st, outcome ? "UPDATE resp_runs SET status = ?, updated = ?,"
                                       " outcome = ? WHERE id = ?"
                                     : "UPDATE resp_runs SET status = ?, updated = ?,"
                                       " outcome = COALESCE(?, outcome) WHERE id = ?",
                         p, 4, NULL, NULL);
}

static void first_done(kb_store *st, int64_t run)
{
    kb_sval p[2] = {KB_SV_INTV(kb_time_now()), KB_SV_INTV(run)};
    kb_store_exec(st, "UPDATE resp_runs SET first_done = ? WHERE id = ? AND first_done IS NULL",
                  p, 2, NULL, NULL);
}

static void say(const kb_resp_opts *o, const char *fmt, const char *a, const char *b)
{
    if (o && o->log) {
        fprintf(o->log, fmt, a, b);
        fputc('\n', o->log);
    }
}

static int drive(kb_store *st, const kb_playbook *pb, int64_t run, const kb_resp_opts *o,
                 char *err, size_t errsize)
{
    kb_buf row, sb;
    json_t *vars = NULL;
    int rc = KB_OK, waiting = 0;
    const char *actor = o && o->actor ? o->actor : "koban";
    kb_sval rp = KB_SV_INTV(run);
    char *f[5] = {0};
    proc_ctx c;

    memset(&c, 0, sizeof c);
    kb_buf_init(&row, 64u << 20);
    kb_buf_init(&sb, 4096);
    for (int i = 0; i < 4; i++)
        kb_buf_init(&c.lk.scratch[i], 1u << 20);
    kb_buf_init(&c.detail, 1u << 20);
    if (query_text(st, "SELECT incident_id, severity, status, vars, config FROM resp_runs"
                       " WHERE id = ?", &rp, 1, &row) <= 0) {
        snprintf(err, errsize, "no run %lld", (long long)run);
        rc = KB_ENOENT;
        goto out;
    }
    {
        char *s = row.data;
        for (int i = 0; i < 5 && s; i++) {
            f[i] = s;
            char *e = strchr(s, '\x1f');
            if (e)
                *e = 0;
            s = e ? e + 1 : NULL;
        }
    }
    if (!f[3] || !(vars = json_loads(f[3], 0, NULL))) {
        snprintf(err, errsize, "run %lld: its variables are unreadable", (long long)run);
        rc = KB_EPARSE;
        goto out;
    }
    if (f[2] && strcmp(f[2], "done") == 0)
        goto out;
    c.st = st, c.pb = pb, c.run_id = run, c.o = o, c.err = err, c.errsize = errsize;
    kb_parse_i64(f[0], strlen(f[0]), &c.incident_id);
    c.severity = f[1];
    c.config = f[4] && *f[4] ? f[4] : NULL;
    c.lk.vars = vars;
    char *ij = json_dumps(vars, JSON_COMPACT);
    c.incident_json = ij;
    set_run(st, run, "running", NULL);

    for (size_t i = 0; i < pb->nsteps && !waiting; i++) {
        const pb_step *s = &pb->steps[i];
        int64_t t0 = kb_time_now();
        int r = step_status(st, run, s->id, -1, &sb);
        if (r < 0) {
            rc = KB_EIO;
            break;
        }
        if (r > 0) {
            if (strcmp(sb.data, "done") == 0 && s->end)
                break;
            continue;
        }
        c.step = s;
        if (!kb_pb_cond_eval(s, vars)) {
            commit_step(st, run, s->id, -1, "skipped", t0, actor, s->when, NULL, vars);
            kb_resp_timeline_add(st, run, c.incident_id, "skipped", s->id, actor, s->when);
            continue;
        }
        if (s->approve) {
            kb_buf a, q;
            int denied;
            kb_buf_init(&a, 4096);
            kb_buf_init(&q, 65536);
            c.lk.item = NULL;
            /* the question with the run's values (as text) */
            const char *qt = render(&c, s->approve, KB_ESC_TEXT, &q) == 0 ? q.data : s->approve;
            err[0] = 0;
            r = get_answer(st, run, s->id, &a);
            if (r <= 0) {
                kb_resp_timeline_add(st, run, c.incident_id, "waiting", s->id, actor, qt);
                say(o, "step %s waits for approval: %s", s->id, qt);
                kb_buf_release(&a);
                kb_buf_release(&q);
                waiting = 1;
                break;
            }
            json_object_set_new(vars, s->id, json_string(a.data));
            kb_buf_release(&a);
            denied = !kb_pb_truthy(json_object_get(vars, s->id));
            if (denied) {
                commit_step(st, run, s->id, -1, "denied", t0, actor, qt, NULL, vars);
                kb_resp_timeline_add(st, run, c.incident_id, "denied", s->id, actor, qt);
            }
            kb_buf_release(&q);
            if (denied)
                continue;
        }
        if (s->proc) {
            json_t *items = NULL;
            size_t nitems = 1;
            if (s->for_each) {
                items = json_object_get(vars, s->for_each);
                nitems = json_is_array(items) ? json_array_size(items)
                         : json_is_string(items) && json_string_length(items) ? 1 : 0;
            }
            for (size_t k = 0; k < nitems && !waiting; k++) {
                long iter = s->for_each ? (long)k : 0;
                r = step_status(st, run, s->id, iter, &sb);
                if (r > 0)
                    continue;
                c.iter = iter;
                c.lk.item = !s->for_each ? NULL
                            : json_is_array(items) ? json_string_value(json_array_get(items, k))
                                                   : json_string_value(items);
                c.out = json_object();
                kb_buf_clear(&c.detail);
                err[0] = 0;
                int pr = run_process(&c);
                if (pr == R_WAIT) {
                    kb_resp_timeline_add(st, run, c.incident_id, "waiting", s->id, actor,
                                         c.detail.len ? c.detail.data : s->proc->name);
                    say(o, "step %s waits: %s", s->id,
                        c.detail.len ? c.detail.data : s->proc->name);
                    waiting = 1;
                } else if (pr == R_SKIP) {
                    merge(vars, c.out, iter);
                    if ((rc = commit_step(st, run, s->id, iter, "skipped", t0, actor, c.detail.data,
                                          c.out, vars)) == KB_OK)
                        kb_resp_timeline_add(st, run, c.incident_id, "skipped", s->id, actor,
                                             c.detail.data);
                    say(o, "step %s skipped: %s", s->id, c.detail.data);
                } else if (pr == R_FAIL) {
                    kb_resp_timeline_add(st, run, c.incident_id, "failed", s->id, actor, err);
                    json_decref(c.out);
                    c.out = NULL;
                    rc = KB_EIO;
                    goto fail;
                } else {
                    merge(vars, c.out, iter);
                    char *od = json_dumps(c.out, JSON_COMPACT | JSON_SORT_KEYS);
                    kb_buf d;
                    kb_buf_init(&d, 2u << 20);
                    kb_buf_printf(&d, "%s%s%s", c.detail.data ? c.detail.data : "",
                                  od ? " => " : "", od ? od : "");
                    if ((rc = commit_step(st, run, s->id, iter, "done", t0,
                                          s->proc->method == PM_MANUAL ? "analyst" : actor,
                                          c.detail.data, c.out, vars)) == KB_OK)
                        kb_resp_timeline_add(st, run, c.incident_id, "step", s->id,
                                             s->proc->method == PM_MANUAL ? "analyst" : actor,
                                             d.data);
                    say(o, "step %s: %s", s->id, d.data ? d.data : "");
                    if (s->proc->method == PM_ACTION)
                        first_done(st, run);
                    free(od);
                    kb_buf_release(&d);
                }
                json_decref(c.out);
                c.out = NULL;
                if (rc)
                    goto fail;
            }
            if (waiting)
                break;
        }
        if (s->outcome) {
            json_object_set_new(vars, "outcome", json_string(s->outcome));
            set_run(st, run, "running", s->outcome);
            first_done(st, run);
            kb_resp_timeline_add(st, run, c.incident_id, "outcome", s->id, actor, s->outcome);
            say(o, "step %s: first response: %s", s->id, s->outcome);
        }
        if ((rc = commit_step(st, run, s->id, -1, "done", t0, actor, NULL, NULL, vars)))
            goto fail;
        if (s->end)
            break;
    }
    if (!rc) {
        set_run(st, run, waiting ? "waiting" : "done", NULL);
        if (!waiting)
            kb_resp_timeline_add(st, run, c.incident_id, "done", NULL, actor, pb->name);
    }
fail:
    if (rc) {
        if (!err[0])
            snprintf(err, errsize, "store: %s", kb_store_errmsg(st));
        set_run(st, run, "failed", NULL);
    }
    free(ij);
out:
    json_decref(vars);
    kb_buf_release(&row);
    kb_buf_release(&sb);
    kb_buf_release(&c.detail);
    for (int i = 0; i < 4; i++)
        kb_buf_release(&c.lk.scratch[i]);
    return rc;
}

/* The SLA deadlines (first response, analysis) for a severity, most specific
 * first: the respond config's sla.<severity>, its sla defaults, the
 * playbook's sla.<severity>, the playbook's defaults (2 h, 14 d). */
static void sla_for(const kb_playbook *pb, json_t *cfg, const char *sev, int64_t out[2])
{
    static const char *const sevs[] = {"low", "medium", "high", "critical"};
    static const char *const keys[] = {"first_response", "analysis"};
    json_t *c = json_object_get(cfg, "sla");
    int si = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(sevs[i], sev) == 0)
            si = i;
    for (int k = 0; k < 2; k++) {
        json_t *v = si >= 0 ? json_object_get(json_object_get(c, sevs[si]), keys[k]) : NULL;
        int64_t d;
        if (!v)
            v = json_object_get(c, keys[k]);
        out[k] = k ? pb->sla_analysis : pb->sla_first;
        if (si >= 0 && pb->sla_sev[si][k] > 0)
            out[k] = pb->sla_sev[si][k];
        if (json_is_string(v) &&
            kb_hunt_duration(json_string_value(v), json_string_length(v), &d) == KB_OK && d > 0)
            out[k] = d;
    }
}

int kb_resp_run_start(struct kb_store *st, const kb_playbook *pb, const kb_resp_incident *in,
                      const kb_resp_opts *o, int64_t *run_id, char *err, size_t errsize)
{
    return kb_resp_run_start_why(st, pb, in, o, NULL, run_id, err, errsize);
}

int kb_resp_run_start_why(struct kb_store *st, const kb_playbook *pb, const kb_resp_incident *in,
                          const kb_resp_opts *o, const char *why, int64_t *run_id, char *err,
                          size_t errsize)
{
    json_t *vars, *cfg = NULL;
    char *vj, *cj = NULL;
    int64_t now = kb_time_now(), base;
    int rc;

    if ((rc = kb_resp_schema(st))) {
        snprintf(err, errsize, "store: %s", kb_store_errmsg(st));
        return rc;
    }
    if (o && o->connectors && !(cfg = kb_resp_config_load(o->connectors, err, errsize)))
        return KB_EPARSE;
    if (cfg && o->force_dry_run)
        json_object_set_new(cfg, "force_dry_run", json_true());
    vars = incident_vars(in);
    vj = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
    cj = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(vars);
    base = in->first != KB_TIME_NONE ? in->first : now;
    const char *sev = in->severity ? in->severity : "medium";
    int64_t sla[2];
    sla_for(pb, cfg, sev, sla);
    json_decref(cfg);
    kb_sval p[9] = {SV(pb->name),
                    KB_SV_INTV(in->id),
                    SV(sev),
                    SV(vj ? vj : "{}"),
                    KB_SV_INTV(now),
                    KB_SV_INTV(now),
                    KB_SV_INTV(base + sla[0]),
                    KB_SV_INTV(base + sla[1]),
                    cj ? SV(cj) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0}};
    *run_id = kb_store_scalar(st, "INSERT INTO resp_runs (playbook, incident_id, severity,"
                                  " status, vars, created, updated, sla_first, sla_analysis,"
                                  " config) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)"
                                  " RETURNING id",
                              p, 9, 0);
    free(vj);
    free(cj);
    if (*run_id <= 0) {
        snprintf(err, errsize, "store: %s", kb_store_errmsg(st));
        return KB_EIO;
    }
    char d[1024];
    snprintf(d, sizeof d, "playbook %s started for incident %lld (%s, %s)%s%s", pb->name,
             (long long)in->id, in->type ? in->type : "?", sev, why ? ": " : "", why ? why : "");
    kb_resp_timeline_add(st, *run_id, in->id, "start", NULL, o && o->actor ? o->actor : "koban",
                         d);
    return drive(st, pb, *run_id, o, err, errsize);
}

int kb_resp_run_resume(struct kb_store *st, const kb_playbook *pb, int64_t run_id,
                       const kb_resp_opts *o, char *err, size_t errsize)
{
    int rc = kb_resp_schema(st);
    if (rc) {
        snprintf(err, errsize, "store: %s", kb_store_errmsg(st));
        return rc;
    }
    return drive(st, pb, run_id, o, err, errsize);
}

int kb_resp_run_info(struct kb_store *st, int64_t run_id, kb_buf *playbook, kb_buf *status)
{
    kb_sval p = KB_SV_INTV(run_id);
    kb_buf b;
    int r;
    if (kb_resp_schema(st))
        return KB_EIO;
    kb_buf_init(&b, 4096);
    r = query_text(st, "SELECT playbook, status FROM resp_runs WHERE id = ?", &p, 1, &b);
    if (r > 0) {
        char *sep = strchr(b.data, '\x1f');
        kb_buf_clear(playbook);
        kb_buf_clear(status);
        kb_buf_append(playbook, b.data, sep ? (size_t)(sep - b.data) : b.len);
        if (sep)
            kb_buf_puts(status, sep + 1);
    }
    kb_buf_release(&b);
    return r > 0 ? KB_OK : r < 0 ? KB_EIO : KB_ENOENT;
}

int kb_resp_answer(struct kb_store *st, int64_t run_id, const char *step, const char *value,
                   const char *actor, char *err, size_t errsize)
{
    kb_buf pbn, status;
    int rc;
    kb_buf_init(&pbn, 4096);
    kb_buf_init(&status, 64);
    rc = kb_resp_run_info(st, run_id, &pbn, &status);
    kb_buf_release(&pbn);
    if (rc) {
        snprintf(err, errsize, "no run %lld", (long long)run_id);
        kb_buf_release(&status);
        return rc;
    }
    kb_buf_release(&status);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20) {
            snprintf(err, errsize, "the answer contains a control character");
            return KB_EINVAL;
        }
    kb_sval p[5] = {KB_SV_INTV(run_id), SV(step), SV(value), SV(actor ? actor : "analyst"),
                    KB_SV_INTV(kb_time_now())};
    rc = kb_store_exec(st, "INSERT INTO resp_answers (run_id, step, value, actor, ts)"
                           " VALUES (?, ?, ?, ?, ?)", p, 5, NULL, NULL);
    if (rc) {
        snprintf(err, errsize, "step %s of run %lld is already answered", step,
                 (long long)run_id);
        return KB_EEXIST;
    }
    char d[600];
    snprintf(d, sizeof d, "answer to %s: %s", step, value);
    kb_resp_timeline_add(st, run_id, 0, "answer", step, actor, d);
    kb_resp_audit(st, actor ? actor : "analyst", "answer", d);
    return KB_OK;
}

/* ---- listings --------------------------------------------------------------------- */

typedef struct printer {
    FILE *f;
    int json;
    int n;
} printer;

static void put_json_row(FILE *f, size_t ncol, const kb_sval *c, const char *const *names)
{
    json_t *o = json_object();
    char tb[40];
    for (size_t i = 0; i < ncol; i++) {
        json_t *v;
        if (c[i].type == KB_SV_INT) {
            if (strcmp(names[i], "ts") == 0 || strcmp(names[i], "created") == 0 ||
                strcmp(names[i], "expires") == 0) {
                kb_time_format(c[i].i, tb, sizeof tb);
                v = json_string(tb);
            } else {
                v = json_integer(c[i].i);
            }
        } else if (c[i].type == KB_SV_TEXT) {
            v = json_stringn(c[i].p, c[i].len);
        } else {
            v = json_null();
        }
        json_object_set_new(o, names[i], v ? v : json_null());
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}

static int print_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    printer *pr = ud;
    char tb[40];
    pr->n++;
    if (pr->json) {
        put_json_row(pr->f, ncol, c, names);
        return 0;
    }
    for (size_t i = 0; i < ncol; i++) {
        if (i)
            fputs("  ", pr->f);
        if (c[i].type == KB_SV_INT && (strcmp(names[i], "ts") == 0 ||
                                       strcmp(names[i], "created") == 0 ||
                                       strcmp(names[i], "expires") == 0)) {
            kb_time_format(c[i].i, tb, sizeof tb);
            fprintf(pr->f, "%.19s", tb);
        } else if (c[i].type == KB_SV_INT)
            fprintf(pr->f, "%lld", (long long)c[i].i);
        else if (c[i].type == KB_SV_TEXT)
            fprintf(pr->f, "%.*s", (int)c[i].len, c[i].p);
        else
            fputs("-", pr->f);
    }
    fputc('\n', pr->f);
    return 0;
}

int kb_resp_pending(struct kb_store *st, int json, FILE *f)
{
    printer pr = {f, json, 0};
    int rc;
    if ((rc = kb_resp_schema(st)))
        return rc;
    /* waiting runs with the step they wait on (the newest "waiting" entry) */
    rc = kb_store_exec(st, "SELECT 'step' AS what, r.id AS run, r.incident_id AS incident,"
                           " r.playbook AS playbook, t.step AS step, t.detail AS detail"
                           " FROM resp_runs r JOIN resp_timeline t ON t.run_id = r.id"
                           " WHERE r.status = 'waiting' AND t.id = (SELECT MAX(id) FROM"
                           " resp_timeline WHERE run_id = r.id AND kind = 'waiting')"
                           " AND t.step NOT IN (SELECT step FROM resp_answers WHERE"
                           " run_id = r.id) ORDER BY r.id",
                       NULL, 0, print_row, &pr);
    if (!rc)
        rc = kb_store_exec(st, "SELECT 'action' AS what, id AS action, run_id AS run,"
                               " incident_id AS incident, kind, target, decision"
                               " FROM resp_actions WHERE status = 'pending' ORDER BY id",
                           NULL, 0, print_row, &pr);
    if (!json && pr.n == 0)
        fputs("nothing pending\n", f);
    return rc;
}

int kb_resp_timeline(struct kb_store *st, int64_t run_id, int64_t incident_id, int json,
                     FILE *f)
{
    printer pr = {f, json, 0};
    kb_sval p[2] = {KB_SV_INTV(run_id), KB_SV_INTV(incident_id)};
    int rc = kb_resp_schema(st);
    if (rc)
        return rc;
    if (run_id > 0)
        return kb_store_exec(st, "SELECT ts, run_id AS run, kind, step, actor, detail FROM"
                                 " resp_timeline WHERE run_id = ? ORDER BY id",
                             &p[0], 1, print_row, &pr);
    /* the incident's runs, and what was recorded of the incident outside a
     * run (a bound playbook that could not start) */
    kb_sval q[2] = {p[1], p[1]};
    return kb_store_exec(st, "SELECT ts, run_id AS run, kind, step, actor, detail FROM"
                             " resp_timeline WHERE run_id IN (SELECT id FROM resp_runs"
                             " WHERE incident_id = ?) OR (run_id = 0 AND incident_id = ?)"
                             " ORDER BY id",
                         q, 2, print_row, &pr);
}
