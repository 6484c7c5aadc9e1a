/* Bindings: the playbooks that start by themselves when triage creates an
 * incident of a bound type (the configuration's `respond:` section).
 *
 * A binding starts its playbook once per incident: the caller calls
 * kb_resp_bindings_start for incidents it has just created, and a playbook
 * that already has a run for the incident (started by a binding or by
 * hand) is never started again, so triage run twice over the same alerts
 * starts nothing the second time. */
#include <string.h>

#include "respond/respond-int.h"
#include "store/store.h"
#include "triage/triage.h"

#define SV(s) KB_SV_STRV((s), strlen(s))

static int bfail(char *err, size_t errsize, const char *path, uint32_t line, const char *why)
{
    snprintf(err, errsize, "%s:%u: %s", path ? path : "respond", line, why);
    return KB_EPARSE;
}

static int scalar(const kb_yaml_node *n)
{
    return n && n->kind == KB_YAML_SCALAR && n->len && !kb_yaml_is_null(n);
}

/* A name: no control bytes (NUL included), at most 200 bytes. */
static int name_ok(const kb_yaml_node *n)
{
    if (n->len > 200)
        return 0;
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
            return 0;
    return 1;
}

void kb_resp_bindings_release(kb_resp_bindings *b)
{
    for (size_t i = 0; i < b->n; i++) {
        kb_free(b->v[i].type);
        kb_free(b->v[i].playbook);
    }
    kb_free(b->v);
    kb_free(b->source);
    kb_free(b->playbooks);
    kb_free(b->config);
    memset(b, 0, sizeof *b);
}

static int parse_binding(kb_resp_bindings *b, const char *path, const kb_yaml_node *n, char *err,
                         size_t errsize)
{
    const kb_yaml_node *type, *pb, *sev;
    kb_resp_binding *x;
    if (n->kind != KB_YAML_MAP)
        return bfail(err, errsize, path, n->line,
                     "a binding is a mapping {type: TYPE, playbook: NAME, min_severity: LEVEL}");
    for (size_t i = 0; i < n->n; i++) {
        const kb_yaml_node *k = n->items[2 * i];
        if (k->kind != KB_YAML_SCALAR || (strcmp(k->str, "type") && strcmp(k->str, "playbook") &&
                                          strcmp(k->str, "min_severity")))
            return bfail(err, errsize, path, k->line,
                         "unknown binding key (type, playbook, min_severity)");
    }
    type = kb_yaml_get(n, "type");
    pb = kb_yaml_get(n, "playbook");
    sev = kb_yaml_get(n, "min_severity");
    if (!scalar(type))
        return bfail(err, errsize, path, n->line,
                     "a binding needs the incident type (type: NAME, or \"*\" for any)");
    if (!scalar(pb))
        return bfail(err, errsize, path, n->line, "a binding needs the playbook (playbook: NAME)");
    if (!name_ok(type))
        return bfail(err, errsize, path, type->line,
                     "type: an incident type's name (no control characters, at most 200 bytes)");
    if (!name_ok(pb))
        return bfail(err, errsize, path, pb->line,
                     "playbook: a playbook's name (no control characters, at most 200 bytes)");
    if (memchr(pb->str, '/', pb->len) || pb->str[0] == '.')
        return bfail(err, errsize, path, pb->line,
                     "playbook: a playbook's name, not a path (set respond.playbooks for the"
                     " directory)");
    int ms = KB_SEV_LOW;
    if (sev && !kb_yaml_is_null(sev) &&
        (sev->kind != KB_YAML_SCALAR || (ms = kb_sev_find(sev->str, sev->len)) < 0))
        return bfail(err, errsize, path, sev->line,
                     "min_severity must be low, medium, high or critical");
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].type, type->str) == 0 && strcmp(b->v[i].playbook, pb->str) == 0)
            return bfail(err, errsize, path, n->line,
                         "this type is already bound to this playbook");
    x = &b->v[b->n];
    memset(x, 0, sizeof *x);
    x->type = kb_strndup(type->str, type->len);
    x->playbook = kb_strndup(pb->str, pb->len);
    x->min_severity = ms;
    x->line = n->line;
    if (!x->type || !x->playbook) {
        kb_free(x->type);
        kb_free(x->playbook);
        return KB_ENOMEM;
    }
    b->n++;
    return KB_OK;
}

static int parse_section(kb_resp_bindings *b, const char *path, const kb_yaml_node *r, char *err,
                         size_t errsize)
{
    static const char *const keys[] = {"auto_start", "playbooks", "config",
                                       "dry_run",    "bindings",  NULL};
    const kb_yaml_node *n;
    int v, rc;

    if (r->kind != KB_YAML_MAP)
        return bfail(
            err, errsize, path, r->line,
            "respond must be a mapping (auto_start, playbooks, config, dry_run, bindings)");
    for (size_t i = 0; i < r->n; i++) {
        const kb_yaml_node *k = r->items[2 * i];
        int ok = 0;
        for (const char *const *q = keys; *q; q++)
            ok |= k->kind == KB_YAML_SCALAR && strcmp(k->str, *q) == 0;
        if (!ok)
            return bfail(err, errsize, path, k->line,
                         "unknown respond key (auto_start, playbooks, config, dry_run, bindings)");
    }
    if ((n = kb_yaml_get(r, "auto_start")) && !kb_yaml_is_null(n)) {
        if (!kb_yaml_bool(n, &v))
            return bfail(err, errsize, path, n->line, "respond.auto_start must be true or false");
        b->enabled = v;
    }
    if ((n = kb_yaml_get(r, "dry_run")) && !kb_yaml_is_null(n)) {
        if (!kb_yaml_bool(n, &v))
            return bfail(err, errsize, path, n->line, "respond.dry_run must be true or false");
        b->dry_run = v;
    }
    const char *const pk[2] = {"playbooks", "config"};
    char **dst[2] = {&b->playbooks, &b->config};
    for (int k = 0; k < 2; k++) {
        if (!(n = kb_yaml_get(r, pk[k])) || kb_yaml_is_null(n))
            continue;
        if (!scalar(n) || memchr(n->str, '\0', n->len))
            return bfail(err, errsize, path, n->line,
                         k ? "respond.config must be the path of the respond configuration"
                           : "respond.playbooks must be a directory");
        if (!(*dst[k] = kb_strndup(n->str, n->len)))
            return KB_ENOMEM;
    }
    n = kb_yaml_get(r, "bindings");
    if (!n || kb_yaml_is_null(n))
        return KB_OK;
    if (n->kind != KB_YAML_SEQ)
        return bfail(err, errsize, path, n->line,
                     "respond.bindings must be a list of {type, playbook, min_severity}");
    if (n->n > KB_RESP_MAX_BINDINGS)
        return bfail(err, errsize, path, n->items[KB_RESP_MAX_BINDINGS]->line,
                     "too many bindings (at most 256)");
    if (n->n && !(b->v = kb_calloc(n->n, sizeof *b->v)))
        return KB_ENOMEM;
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_binding(b, path, n->items[i], err, errsize)))
            return rc;
    return KB_OK;
}

int kb_resp_bindings_parse(kb_resp_bindings *b, const char *path,
                           const struct kb_yaml_node *respond, char *err, size_t errsize)
{
    int rc;
    memset(b, 0, sizeof *b);
    b->enabled = 1;
    if (err && errsize)
        err[0] = '\0';
    if (!respond || kb_yaml_is_null(respond))
        return KB_OK;
    if (path && !(b->source = kb_strdup(path)))
        return KB_ENOMEM;
    rc = parse_section(b, path, respond, err, errsize);
    if (rc) {
        if (rc == KB_ENOMEM)
            snprintf(err, errsize, "%s", kb_strerror(rc));
        kb_resp_bindings_release(b);
        b->enabled = 1;
    }
    return rc;
}

size_t kb_resp_bindings_select(const kb_resp_bindings *b, const char *type, const char *severity,
                               size_t *idx, size_t max)
{
    int sev = severity ? kb_sev_find(severity, strlen(severity)) : -1;
    size_t n = 0;
    if (!b || !type)
        return 0;
    if (sev < 0)
        sev = KB_SEV_LOW;
    for (size_t i = 0; i < b->n && n < max; i++) {
        const kb_resp_binding *x = &b->v[i];
        int dup = 0;
        if ((strcmp(x->type, "*") != 0 && strcmp(x->type, type) != 0) || sev < x->min_severity)
            continue;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(b->v[idx[k]].playbook, x->playbook) == 0;
        if (!dup)
            idx[n++] = i;
    }
    return n;
}

/* What is recorded of an incident outside a run (run 0). */
static void incident_note(kb_store *st, int64_t incident_id, const char *kind, const char *actor,
                          const char *detail)
{
    kb_resp_timeline_add(st, 0, incident_id, kind, NULL, actor, detail);
}

int kb_resp_bindings_start(struct kb_store *st, const kb_resp_bindings *b, const char *dir,
                           int64_t incident_id, const kb_resp_opts *o, kb_resp_auto_report *rep,
                           kb_buf *diag)
{
    kb_resp_incident in;
    size_t idx[KB_RESP_MAX_BINDINGS];
    size_t n;
    kb_resp_opts ro = {"auto", NULL, 0, NULL, 0, NULL};
    kb_buf why, started;
    char err[1024];
    int rc;

    if (o)
        ro = *o;
    /* nothing to start and no channel to announce it on */
    if ((!b || !b->enabled || !b->n) && !ro.connectors)
        return KB_OK;
    if ((rc = kb_resp_schema(st)))
        return rc;
    if ((rc = kb_resp_incident_load(&in, st, incident_id)))
        return rc == KB_ENOENT ? KB_OK : rc;
    n = b && b->enabled ? kb_resp_bindings_select(b, in.type, in.severity, idx,
                                                  KB_RESP_MAX_BINDINGS)
                        : 0;
    if (!ro.actor)
        ro.actor = "auto";
    kb_buf_init(&why, 4096);
    kb_buf_init(&started, 1 << 16);
    for (size_t i = 0; i < n; i++) {
        const kb_resp_binding *x = &b->v[idx[i]];
        kb_sval p[2] = {KB_SV_INTV(incident_id), SV(x->playbook)};
        kb_playbook *pb = NULL;
        kb_buf pdiag;
        int64_t run = 0;

        kb_buf_clear(&why);
        kb_buf_printf(&why, "bound to %s incidents", x->type);
        if (x->min_severity > KB_SEV_LOW)
            kb_buf_printf(&why, " of severity %s and above", kb_sev_name(x->min_severity));
        kb_buf_printf(&why, " (%s:%u)", b->source ? b->source : "respond", x->line);
        /* once per incident: any run of this playbook for it, by a binding
         * or by hand, counts */
        int64_t have = kb_store_scalar(st,
                                       "SELECT COUNT(*) FROM resp_runs WHERE incident_id = ?"
                                       " AND playbook = ?",
                                       p, 2, -1);
        if (have < 0) {
            rc = KB_EIO;
            break;
        }
        if (have > 0) {
            if (rep)
                rep->already++;
            continue;
        }
        kb_buf_init(&pdiag, 1 << 20);
        rc = kb_playbook_find(dir, x->playbook, &pb, &pdiag);
        kb_buf_release(&pdiag);
        if (rc) {
            snprintf(err, sizeof err, "playbook %s (%s) not started: no usable playbook '%s' in %s",
                     x->playbook, why.data, x->playbook, dir);
            incident_note(st, incident_id, "auto-start-failed", ro.actor, err);
            if (diag)
                kb_buf_printf(diag, "koban: incident %lld: %s\n", (long long)incident_id, err);
            if (rep)
                rep->failed++;
            rc = KB_OK;
            continue;
        }
        err[0] = '\0';
        rc = kb_resp_run_start_why(st, pb, &in, &ro, why.data, &run, err, sizeof err);
        if (rc != KB_OK && run <= 0) {
            char d[1400];
            snprintf(d, sizeof d, "playbook %s (%s) not started: %s", x->playbook, why.data, err);
            incident_note(st, incident_id, "auto-start-failed", ro.actor, d);
            if (diag)
                kb_buf_printf(diag, "koban: incident %lld: %s\n", (long long)incident_id, d);
            if (rep)
                rep->failed++;
        } else {
            kb_buf st_name, st_status;
            kb_buf_init(&st_name, 4096);
            kb_buf_init(&st_status, 4096);
            kb_resp_run_info(st, run, &st_name, &st_status);
            if (rc != KB_OK && diag)
                kb_buf_printf(diag, "koban: incident %lld: playbook %s run %lld: %s\n",
                              (long long)incident_id, x->playbook, (long long)run, err);
            kb_buf_printf(&started, "%s%s (run %lld, %s)", started.len ? ", " : "",
                          kb_playbook_name(pb), (long long)run,
                          st_status.data ? st_status.data : "?");
            kb_buf_release(&st_name);
            kb_buf_release(&st_status);
            if (rep)
                rep->started++;
        }
        rc = KB_OK;
        kb_playbook_free(pb);
    }
    /* one message per incident through the configured channels, routed by
     * severity and type (kb_notify_send) */
    if (rc == KB_OK && ro.connectors) {
        /* kb_notify_send reads the channels from the JSON (none: nothing) */
        char *own = ro.config_json ? NULL : kb_resp_config_json(ro.connectors, err, sizeof err);
        const char *cj = ro.config_json ? ro.config_json : own;
        if (!cj && diag)
            kb_buf_printf(diag, "koban: %s\n", err);
        if (cj) {
            kb_buf text;
            kb_notify_msg m;
            kb_buf_init(&text, 1 << 16);
            if (ro.escalated)
                kb_buf_printf(&text, "%s incident %lld raised to %s: %s.",
                              in.type ? in.type : "?", (long long)incident_id,
                              in.severity ? in.severity : "?", in.title ? in.title : "");
            else
                kb_buf_printf(&text, "New %s incident %lld: %s.", in.type ? in.type : "?",
                              (long long)incident_id, in.title ? in.title : "");
            if (started.len)
                kb_buf_printf(&text, " Playbooks started: %s.", started.data);
            memset(&m, 0, sizeof m);
            m.incident_id = incident_id;
            m.title = in.title ? in.title : "";
            m.severity = in.severity ? in.severity : "medium";
            m.type = in.type ? in.type : "";
            m.text = text.data;
            int sent = kb_notify_send(st, cj, &m, diag);
            if (sent > 0 && rep)
                rep->notified += (unsigned)sent;
            kb_buf_release(&text);
        }
        free(own);
    }
    kb_buf_release(&why);
    kb_buf_release(&started);
    kb_resp_incident_release(&in);
    return rc;
}
