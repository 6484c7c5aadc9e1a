/* First-response actions: kinds and their rollback, the policy decision,
 * connectors with retries, expiry with automatic rollback, the audit log.
 *
 * Ordering rule (never a half-applied block without its rollback): the
 * action row, carrying its rollback and the connector configuration, is
 * committed with status "applying" BEFORE the connector runs. A crash
 * between the two leaves an "applying" row that the next run or tick
 * re-applies (connectors are idempotent) or rolls back. */
#include <string.h>
#include <time.h>

#include "respond/respond-int.h"
#include "store/store.h"
#include "triage/triage.h"

#define SV(s) KB_SV_STRV((s), strlen(s))
#define SVNULL ((kb_sval){KB_SV_NULL, 0, 0, NULL, 0})

const kb_resp_action_kind kb_resp_action_kinds[] = {
    {"block-destination", KB_VT_CIDR, "unblock-destination", 1,
     "drop traffic to an address (C2 server, exfiltration target)"},
    {"block-source", KB_VT_CIDR, "unblock-source", 1,
     "drop traffic from an address (scanner, brute forcer, infected host)"},
    {"isolate-host", KB_VT_HOST, "release-host", 0, "cut a host off the network (EDR)"},
    {"release-host", KB_VT_HOST, NULL, 0, "give an isolated host its network back"},
    {"disable-account", KB_VT_USER, "enable-account", 0, "disable a user account"},
    {"quarantine-file", KB_VT_HASH, "restore-file", 0, "quarantine a file by hash (EDR)"},
    {"custom", KB_VT_STRING, "custom-rollback", 0, "a site-defined action (exec or webhook)"},
    {"unblock-destination", KB_VT_CIDR, NULL, 0, "rollback of block-destination"},
    {"unblock-source", KB_VT_CIDR, NULL, 0, "rollback of block-source"},
    {"enable-account", KB_VT_USER, NULL, 0, "rollback of disable-account"},
    {"restore-file", KB_VT_HASH, NULL, 0, "rollback of quarantine-file"},
    {"custom-rollback", KB_VT_STRING, NULL, 0, "rollback of custom"},
    {NULL, 0, NULL, 0, NULL},
};

const kb_resp_action_kind *kb_resp_action_kind_find(const char *name)
{
    for (const kb_resp_action_kind *k = kb_resp_action_kinds; name && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

const kb_resp_connector *const kb_resp_connectors[] = {&kb_conn_dryrun, &kb_conn_exec,
                                                       &kb_conn_nft, &kb_conn_webhook, NULL};

const kb_resp_connector *kb_resp_connector_find(const char *name)
{
    for (size_t i = 0; name && kb_resp_connectors[i]; i++)
        if (strcmp(kb_resp_connectors[i]->name, name) == 0)
            return kb_resp_connectors[i];
    return NULL;
}

int kb_resp_request_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                           int *is_list)
{
    const kb_resp_request *rq = ud;
    *is_list = 0;
    if (kb_str_eqz(name, nlen, "target"))
        *v = rq->target;
    else if (kb_str_eqz(name, nlen, "kind"))
        *v = rq->kind;
    else if (kb_str_eqz(name, nlen, "verb"))
        *v = rq->verb;
    else if (kb_str_eqz(name, nlen, "key"))
        *v = rq->idem_key;
    else
        return 0;
    *len = strlen(*v);
    return 1;
}

void kb_resp_mask(kb_buf *b, const char *const *secrets)
{
    for (size_t s = 0; secrets && secrets[s]; s++) {
        size_t n = strlen(secrets[s]);
        const char *hit;
        if (n < 3) /* too short to mask without destroying the text */
            continue;
        while (b->data && (hit = kb_memmem(b->data, b->len, secrets[s], n))) {
            size_t at = (size_t)(hit - b->data);
            memcpy(b->data + at, "***", 3);
            memmove(b->data + at + 3, b->data + at + n, b->len - at - n + 1);
            b->len -= n - 3;
        }
    }
}

/* ---- configuration ------------------------------------------------------------ */

json_t *kb_resp_yaml_to_json(const kb_yaml_node *n)
{
    int64_t i;
    int bv;
    if (!n)
        return json_null();
    if (n->kind == KB_YAML_SCALAR) {
        if (n->style == KB_YAML_PLAIN && !n->tag) {
            if (kb_yaml_int(n, &i))
                return json_integer(i);
            if (kb_yaml_bool(n, &bv))
                return json_boolean(bv);
            if (kb_yaml_is_null(n))
                return json_null();
        }
        return json_stringn(n->str, n->len);
    }
    if (n->kind == KB_YAML_SEQ) {
        json_t *a = json_array();
        for (size_t k = 0; k < n->n; k++)
            json_array_append_new(a, kb_resp_yaml_to_json(n->items[k]));
        return a;
    }
    json_t *o = json_object();
    for (size_t k = 0; k < n->n; k++)
        if (n->items[2 * k]->kind == KB_YAML_SCALAR)
            json_object_set_new(o, n->items[2 * k]->str, kb_resp_yaml_to_json(n->items[2 * k + 1]));
    return o;
}

json_t *kb_resp_config_load(const char *path, char *err, size_t errsize)
{
    kb_yaml *y = NULL;
    kb_yaml_error ye = {0};
    kb_yaml_limits lim = {16, 100000, 1u << 20};
    json_t *o = NULL;
    if (!path)
        return NULL;
    if (kb_yaml_parse_file(path, &lim, &y, &ye) != KB_OK) {
        snprintf(err, errsize, "%s:%u: %s", path, ye.line, ye.reason ? ye.reason : "bad YAML");
        return NULL;
    }
    if (kb_yaml_ndocs(y) == 1 && kb_yaml_doc(y, 0)->kind == KB_YAML_MAP)
        o = kb_resp_yaml_to_json(kb_yaml_doc(y, 0));
    else
        snprintf(err, errsize, "%s:1: the respond config is one YAML mapping", path);
    kb_yaml_free(y);
    return o;
}

char *kb_resp_config_json(const char *path, char *err, size_t errsize)
{
    json_t *o = kb_resp_config_load(path, err, errsize);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* ---- audit ------------------------------------------------------------------------ */

int kb_resp_audit(struct kb_store *st, const char *actor, const char *what, const char *detail)
{
    kb_sval p[4] = {KB_SV_INTV(kb_time_now()), SV(actor ? actor : "koban"), SV(what),
                    SV(detail ? detail : "")};
    return kb_store_exec(st, "INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                         p, 4, NULL, NULL);
}

/* ---- rows as JSON ------------------------------------------------------------------ */

static int row_json_cb(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    json_t **o = ud;
    *o = json_object();
    for (size_t i = 0; i < ncol; i++) {
        json_t *v = c[i].type == KB_SV_INT    ? json_integer(c[i].i)
                    : c[i].type == KB_SV_TEXT ? json_stringn(c[i].p, c[i].len)
                                              : json_null();
        json_object_set_new(*o, names[i], v ? v : json_null());
    }
    return 1;
}

static json_t *action_row(kb_store *st, int64_t id)
{
    json_t *o = NULL;
    kb_sval p = KB_SV_INTV(id);
    kb_store_exec(st, "SELECT * FROM resp_actions WHERE id = ?", &p, 1, row_json_cb, &o);
    return o;
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- running a connector ------------------------------------------------------------ */

static int set_status(kb_store *st, int64_t id, const char *status, const char *request,
                      const char *result, int attempts)
{
    kb_sval p[6] = {SV(status), KB_SV_INTV(kb_time_now()),
                    request ? SV(request) : SVNULL, result ? SV(result) : SVNULL,
                    KB_SV_INTV(attempts), KB_SV_INTV(id)};
    return kb_store_exec(st, "UPDATE resp_actions SET status = ?, updated = ?,"
                             " request = COALESCE(?, request), result = COALESCE(?, result),"
                             " attempts = attempts + ? WHERE id = ?",
                         p, 6, NULL, NULL);
}

static const char *rq_kind_safe(json_t *a, json_t *rb, const char *verb)
{
    return strcmp(verb, "apply") == 0 ? js(a, "kind") : js(rb, "kind");
}

/* Runs verb ("apply"/"rollback") for action row a with retries; records
 * the request, result and status, and audits it. Returns KB_OK or KB_EIO. */
static int run_connector(kb_store *st, json_t *a, const char *verb, const char *actor,
                         const char *ok_status, const char *fail_status)
{
    int64_t id = json_integer_value(json_object_get(a, "id"));
    json_t *cfg = json_loads(js(a, "conncfg"), 0, NULL);
    const char *type = cfg ? json_string_value(json_object_get(cfg, "type")) : NULL;
    const kb_resp_connector *cn = kb_resp_connector_find(type ? type : "dry-run");
    json_t *rb = json_loads(js(a, "rollback"), 0, NULL);
    kb_buf audit, result, det;
    const char *e = NULL;
    int rc = KB_EIO, tries, attempt;
    int64_t expires = json_integer_value(json_object_get(a, "expires"));
    char *cj = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;

    tries = cfg && json_is_integer(json_object_get(cfg, "attempts"))
                ? (int)json_integer_value(json_object_get(cfg, "attempts"))
                : 2;
    if (tries < 1 || tries > 10)
        tries = 2;
    kb_buf_init(&audit, 1u << 20);
    kb_buf_init(&result, 1u << 20);
    kb_buf_init(&det, 2u << 20);
    if (!cn) {
        e = "unknown connector type";
        attempt = 0;
        goto done;
    }
    kb_resp_request rq = {verb,
                          strcmp(verb, "apply") == 0 ? js(a, "kind") : js(rb, "kind"),
                          js(a, "target"),
                          js(a, "idem"),
                          /* whole seconds left, rounded up (a 3 s block stays 3 s) */
                          expires > 0 ? (expires - kb_time_now() + KB_NS_PER_SEC - 1) /
                                            KB_NS_PER_SEC
                                      : 0,
                          cj ? cj : "{}",
                          NULL};
    if (strcmp(verb, "apply") == 0 && expires > 0 && rq.timeout_s <= 0)
        rq.timeout_s = 1;
    for (attempt = 1; attempt <= tries; attempt++) {
        kb_buf_clear(&audit);
        kb_buf_clear(&result);
        e = NULL;
        rc = cn->run(&rq, &audit, &result, &e);
        if (rc == KB_OK || rc != KB_EIO)
            break;
        if (attempt < tries) {
            struct timespec ts = {0, 200000000L * attempt};
            nanosleep(&ts, NULL);
        }
    }
    if (attempt > tries)
        attempt = tries;
done:
    if (rc != KB_OK && e) {
        /* keep the reason AND what the program or server said */
        kb_buf why;
        kb_buf_init(&why, 1u << 20);
        kb_buf_printf(&why, "%s%s%s", e, result.len ? ": " : "", result.len ? result.data : "");
        kb_buf_clear(&result);
        if (why.data)
            kb_buf_append(&result, why.data, why.len);
        kb_buf_release(&why);
    }
    set_status(st, id, rc == KB_OK ? ok_status : fail_status, audit.data ? audit.data : "",
               result.data ? result.data : "", attempt);
    kb_buf_printf(&det, "action #%lld %s %s %s via %s: %s%s%.*s; request: %s; attempts %d",
                  (long long)id, verb, rq_kind_safe(a, rb, verb), js(a, "target"),
                  cn ? cn->name : "?", rc == KB_OK ? "ok" : "FAILED", rc ? " - " : "",
                  rc && result.data ? (int)(result.len < 512 ? result.len : 512) : 0,
                  rc && result.data ? result.data : "",
                  audit.data ? audit.data : "", attempt);
    kb_resp_audit(st, actor, verb, det.data);
    kb_resp_timeline_add(st, json_integer_value(json_object_get(a, "run_id")),
                         json_integer_value(json_object_get(a, "incident_id")),
                         rc == KB_OK ? "action" : "action-failed", NULL, actor, det.data);
    kb_buf_release(&audit);
    kb_buf_release(&result);
    kb_buf_release(&det);
    free(cj);
    json_decref(cfg);
    json_decref(rb);
    return rc;
}

/* ---- requests, decisions, rollback ---------------------------------------------- */

/* The connector instance for an action kind from the respond config. */
static json_t *connector_for(json_t *cfg, const char *kind)
{
    json_t *name, *c;
    if (!cfg || json_is_true(json_object_get(cfg, "force_dry_run")))
        return json_pack("{s:s}", "type", "dry-run");
    name = json_object_get(json_object_get(cfg, "actions"), kind);
    if (!json_is_string(name))
        name = json_object_get(json_object_get(cfg, "actions"), "default");
    c = json_is_string(name)
            ? json_object_get(json_object_get(cfg, "connectors"), json_string_value(name))
            : NULL;
    if (!json_is_object(c))
        return json_pack("{s:s}", "type", "dry-run");
    c = json_deep_copy(c);
    if (json_is_string(name))
        json_object_set_new(c, "name", json_string(json_string_value(name)));
    return c;
}

static int64_t find_idem(kb_store *st, const char *key)
{
    kb_sval p = SV(key);
    return kb_store_scalar(st, "SELECT id FROM resp_actions WHERE idem = ?", &p, 1, 0);
}

int kb_resp_action_status(struct kb_store *st, int64_t id, kb_buf *status)
{
    json_t *a = action_row(st, id);
    kb_buf_clear(status);
    if (!a)
        return KB_ENOENT;
    kb_buf_puts(status, js(a, "status"));
    json_decref(a);
    return KB_OK;
}

static const char *public_status(const char *s)
{
    /* what the engine sees: applying -> retry happens inside, pending waits */
    return s;
}

int kb_resp_action_request(struct kb_store *st, const kb_playbook *pb, int64_t run_id,
                           int64_t incident_id, const char *step_key, const char *kind,
                           const char *target, const char *severity, int64_t expires,
                           const char *incident_json, const kb_resp_opts *o,
                           int64_t *action_id, kb_buf *status, char *err, size_t errsize)
{
    const kb_resp_action_kind *k = kb_resp_action_kind_find(kind);
    const char *actor = o && o->actor ? o->actor : "koban";
    json_t *runcfg = NULL, *conn = NULL, *a = NULL;
    const char *decision;
    char *cj = NULL, *rbj = NULL;
    int rc = KB_OK;
    (void)incident_json;

    kb_buf_clear(status);
    *action_id = find_idem(st, step_key);
    if (*action_id > 0) {
        /* idempotent: the step ran before (maybe cut short) */
        a = action_row(st, *action_id);
        if (a && strcmp(js(a, "status"), "applying") == 0) {
            run_connector(st, a, "apply", actor, "applied", "failed");
            json_decref(a);
            a = action_row(st, *action_id);
        }
        kb_buf_puts(status, a ? public_status(js(a, "status")) : "failed");
        json_decref(a);
        return KB_OK;
    }
    if (!k) {
        snprintf(err, errsize, "unknown action kind '%s'", kind);
        return KB_EINVAL;
    }
    /* the run's respond config */
    {
        kb_sval p = KB_SV_INTV(run_id);
        json_t *r = NULL;
        kb_store_exec(st, "SELECT config FROM resp_runs WHERE id = ?", &p, 1, row_json_cb, &r);
        if (r && json_is_string(json_object_get(r, "config")))
            runcfg = json_loads(js(r, "config"), 0, NULL);
        json_decref(r);
    }
    if (o && o->force_dry_run) {
        json_decref(runcfg);
        runcfg = json_pack("{s:b}", "force_dry_run", 1);
    }
    conn = connector_for(runcfg, kind);
    /* the policy: by kind, severity and the asset concerned */
    {
        kb_assets *as = kb_assets_new();
        const kb_asset *asset = NULL;
        if (as && kb_assets_load(as, st) == KB_OK) {
            if (k->target == KB_VT_HOST)
                asset = kb_assets_by_name(as, target, strlen(target));
            else if (k->target == KB_VT_CIDR) {
                kb_ip ip;
                if (kb_ip_parse(target, strlen(target), &ip) == KB_OK)
                    asset = kb_assets_by_ip(as, &ip, KB_TIME_NONE);
            }
        }
        decision = kb_pb_policy(pb, kind, severity, asset ? asset->type : NULL,
                                asset ? asset->tags : NULL);
        kb_assets_free(as);
    }
    int64_t now = kb_time_now();
    int64_t exp = k->expires ? now + (expires > 0 ? expires : pb->expires) : 0;
    json_t *rb = json_pack("{s:s?,s:s}", "kind", k->rollback, "target", target);
    rbj = json_dumps(rb, JSON_COMPACT);
    json_decref(rb);
    cj = json_dumps(conn, JSON_COMPACT);
    const char *st0 = strcmp(decision, "never") == 0     ? "never"
                      : strcmp(decision, "approve") == 0 ? "pending"
                                                         : "applying";
    const char *cname = json_string_value(json_object_get(conn, "name"));
    if (!cname)
        cname = json_string_value(json_object_get(conn, "type"));
    kb_sval p[14] = {KB_SV_INTV(run_id), KB_SV_INTV(incident_id), SV(step_key), SV(kind),
                     SV(target),         SV(cname ? cname : "dry-run"), SV(cj ? cj : "{}"),
                     SV(st0),            SV(decision),       SV(severity ? severity : ""),
                     KB_SV_INTV(now),    KB_SV_INTV(exp),    SV(rbj ? rbj : "{}"),
                     SV(actor)};
    *action_id = kb_store_scalar(st, "INSERT INTO resp_actions (run_id, incident_id, idem, kind,"
                                     " target, connector, conncfg, status, decision, severity,"
                                     " created, expires, rollback, actor, playbook, attempts,"
                                     " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                                     " NULL, 0, NULL) RETURNING id",
                                 p, 14, 0);
    if (*action_id <= 0) {
        snprintf(err, errsize, "store: %s", kb_store_errmsg(st));
        rc = KB_EIO;
        goto out;
    }
    {
        kb_buf d;
        kb_buf_init(&d, 8192);
        kb_buf_printf(&d, "action #%lld requested: %s %s (severity %s); policy %s; connector %s;"
                          " rollback %s",
                      (long long)*action_id, kind, target, severity ? severity : "?", decision,
                      cname ? cname : "dry-run", rbj ? rbj : "{}");
        kb_resp_audit(st, actor, "request", d.data);
        kb_buf_release(&d);
    }
    if (strcmp(st0, "applying") == 0) {
        a = action_row(st, *action_id);
        run_connector(st, a, "apply", actor, "applied", "failed");
        json_decref(a);
        a = action_row(st, *action_id);
        kb_buf_puts(status, a ? js(a, "status") : "failed");
    } else {
        kb_buf_puts(status, st0);
    }
out:
    json_decref(a);
    json_decref(conn);
    json_decref(runcfg);
    free(cj);
    free(rbj);
    return rc;
}

int kb_resp_action_decide(struct kb_store *st, int64_t id, int approve, const kb_resp_opts *o,
                          char *err, size_t errsize)
{
    const char *actor = o && o->actor ? o->actor : "analyst";
    json_t *a;
    int rc = KB_OK;
    if ((rc = kb_resp_schema(st)))
        return rc;
    a = action_row(st, id);
    if (!a) {
        snprintf(err, errsize, "no action %lld", (long long)id);
        return KB_ENOENT;
    }
    if (strcmp(js(a, "status"), "pending") != 0) {
        snprintf(err, errsize, "action %lld is %s, not pending", (long long)id, js(a, "status"));
        json_decref(a);
        return KB_EINVAL;
    }
    char d[512];
    snprintf(d, sizeof d, "action #%lld %s %s: %s", (long long)id, js(a, "kind"),
             js(a, "target"), approve ? "approved" : "denied");
    kb_resp_audit(st, actor, approve ? "approve" : "deny", d);
    kb_resp_timeline_add(st, json_integer_value(json_object_get(a, "run_id")),
                         json_integer_value(json_object_get(a, "incident_id")),
                         approve ? "approved" : "denied", NULL, actor, d);
    if (!approve) {
        set_status(st, id, "denied", NULL, NULL, 0);
    } else {
        /* the block's lifetime starts now */
        if (json_integer_value(json_object_get(a, "expires")) > 0) {
            int64_t life = json_integer_value(json_object_get(a, "expires")) -
                           json_integer_value(json_object_get(a, "created"));
            kb_sval p[2] = {KB_SV_INTV(kb_time_now() + life), KB_SV_INTV(id)};
            kb_store_exec(st, "UPDATE resp_actions SET expires = ? WHERE id = ?", p, 2, NULL,
                          NULL);
        }
        set_status(st, id, "applying", NULL, NULL, 0);
        json_decref(a);
        a = action_row(st, id);
        if (run_connector(st, a, "apply", actor, "applied", "failed") != KB_OK) {
            snprintf(err, errsize, "action %lld failed; see 'koban actions show %lld'",
                     (long long)id, (long long)id);
            rc = KB_EIO;
        }
    }
    json_decref(a);
    return rc;
}

static int rollback_one(kb_store *st, json_t *a, const char *actor, const char *done_status,
                        char *err, size_t errsize)
{
    int64_t id = json_integer_value(json_object_get(a, "id"));
    json_t *rb = json_loads(js(a, "rollback"), 0, NULL);
    const char *rk = rb ? json_string_value(json_object_get(rb, "kind")) : NULL;
    int rc = KB_OK;
    if (!rk) {
        /* nothing to undo (release-host, ...): just mark it */
        set_status(st, id, done_status, NULL, NULL, 0);
        kb_resp_audit(st, actor, "rollback", "no rollback needed for this kind");
    } else if (run_connector(st, a, "rollback", actor, done_status, "rollback-failed") !=
               KB_OK) {
        snprintf(err, errsize, "rollback of action %lld failed; see 'koban actions show %lld'",
                 (long long)id, (long long)id);
        rc = KB_EIO;
    }
    json_decref(rb);
    return rc;
}

int kb_resp_action_rollback(struct kb_store *st, int64_t id, const kb_resp_opts *o,
                            char *err, size_t errsize)
{
    json_t *a;
    int rc;
    if ((rc = kb_resp_schema(st)))
        return rc;
    a = action_row(st, id);
    if (!a) {
        snprintf(err, errsize, "no action %lld", (long long)id);
        return KB_ENOENT;
    }
    const char *s = js(a, "status");
    if (strcmp(s, "applied") && strcmp(s, "applying") && strcmp(s, "rollback-failed") &&
        strcmp(s, "failed")) {
        snprintf(err, errsize, "action %lld is %s: nothing to roll back", (long long)id, s);
        json_decref(a);
        return KB_EINVAL;
    }
    rc = rollback_one(st, a, o && o->actor ? o->actor : "analyst", "rolled-back", err, errsize);
    json_decref(a);
    return rc;
}

/* ---- the timer: expiry and SLA ---------------------------------------------------- */

typedef struct idlist {
    int64_t v[256];
    size_t n;
} idlist;

static int collect_id(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    idlist *l = ud;
    (void)names;
    if (ncol && c[0].type == KB_SV_INT && l->n < 256)
        l->v[l->n++] = c[0].i;
    return 0;
}

int kb_resp_tick(struct kb_store *st, const kb_resp_opts *o, int64_t now)
{
    idlist l = {{0}, 0};
    kb_sval p = KB_SV_INTV(now);
    int done = 0;
    char err[256];
    if (kb_resp_schema(st))
        return -1;
    /* blocks past their lifetime roll back by themselves */
    kb_store_exec(st, "SELECT id FROM resp_actions WHERE status IN ('applied', 'rollback-failed')"
                      " AND expires > 0 AND expires <= ? ORDER BY id",
                  &p, 1, collect_id, &l);
    for (size_t i = 0; i < l.n; i++) {
        json_t *a = action_row(st, l.v[i]);
        if (a && rollback_one(st, a, "expiry", "expired", err, sizeof err) == KB_OK)
            done++;
        json_decref(a);
    }
    /* SLA: first response and analysis deadlines */
    static const struct {
        const char *name, *sql;
    } sla[] = {
        {"first-response", "SELECT id FROM resp_runs WHERE first_done IS NULL AND sla_first <= ?"
                           " AND (breached IS NULL OR breached NOT LIKE '%first-response%')"},
        {"analysis", "SELECT id FROM resp_runs WHERE status <> 'done' AND sla_analysis <= ?"
                     " AND (breached IS NULL OR breached NOT LIKE '%analysis%')"},
    };
    for (size_t k = 0; k < 2; k++) {
        l.n = 0;
        kb_store_exec(st, sla[k].sql, &p, 1, collect_id, &l);
        for (size_t i = 0; i < l.n; i++) {
            char d[512], when[40];
            json_t *r = NULL;
            kb_sval q[2] = {SV(sla[k].name), KB_SV_INTV(l.v[i])};
            kb_store_exec(st, "SELECT incident_id, severity, playbook, config, vars,"
                              " sla_first, sla_analysis FROM resp_runs WHERE id = ?",
                          &q[1], 1, row_json_cb, &r);
            kb_store_exec(st, "UPDATE resp_runs SET breached = COALESCE(breached, '') || ' ' || ?"
                              " WHERE id = ?", q, 2, NULL, NULL);
            int64_t inc = json_integer_value(json_object_get(r, "incident_id"));
            kb_time_format(json_integer_value(json_object_get(r, k ? "sla_analysis"
                                                                   : "sla_first")),
                           when, sizeof when);
            snprintf(d, sizeof d, "SLA breached: the %s deadline (%.19s) of run %lld (%s,"
                     " incident %lld, %s) passed", sla[k].name, when, (long long)l.v[i],
                     js(r, "playbook"), (long long)inc, js(r, "severity"));
            kb_resp_timeline_add(st, l.v[i], inc, "sla-breach", NULL, "sla", d);
            kb_resp_audit(st, "sla", "sla-breach", d);
            if (o && o->log)
                fprintf(o->log, "%s\n", d);
            /* notified through the run's channels, in the incident's thread */
            if (*js(r, "config")) {
                json_t *vars = json_loads(js(r, "vars"), 0, NULL);
                kb_notify_msg m = {inc, json_string_value(json_object_get(vars, "incident.title")),
                                   js(r, "severity"),
                                   json_string_value(json_object_get(vars, "incident.type")), d, 0,
                                   0};
                kb_buf diag;
                kb_buf_init(&diag, 8192);
                int n = kb_notify_send(st, js(r, "config"), &m, &diag);
                if (o && o->log && diag.len)
                    fprintf(o->log, "notify: %s\n", diag.data);
                (void)n;
                kb_buf_release(&diag);
                json_decref(vars);
            }
            json_decref(r);
            done++;
        }
    }
    return done;
}

/* ---- listings ----------------------------------------------------------------------- */

static int list_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    FILE *f = ((void **)ud)[0];
    int json = *(int *)((void **)ud)[1];
    char tb[40];
    if (json) {
        json_t *o = NULL;
        row_json_cb(&o, ncol, c, names);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
        return 0;
    }
    /* id created kind target status decision connector expires */
    kb_time_format(c[1].i, tb, sizeof tb);
    fprintf(f, "%-5lld %.19s  %-18.*s %-28.*s %-12.*s %-8.*s %.*s", (long long)c[0].i, tb,
            (int)c[2].len, c[2].p, (int)c[3].len, c[3].p, (int)c[4].len, c[4].p, (int)c[5].len,
            c[5].p, (int)c[6].len, c[6].p);
    if (c[7].type == KB_SV_INT && c[7].i > 0) {
        kb_time_format(c[7].i, tb, sizeof tb);
        fprintf(f, "  expires %.19s", tb);
    }
    fputc('\n', f);
    return 0;
}

int kb_resp_actions_list(struct kb_store *st, int json, FILE *f)
{
    void *ud[2] = {f, &json};
    int rc = kb_resp_schema(st);
    if (rc)
        return rc;
    if (!json)
        fprintf(f, "%-5s %-20s %-18s %-28s %-12s %-8s %s\n", "ID", "CREATED", "KIND", "TARGET",
                "STATUS", "POLICY", "CONNECTOR");
    return kb_store_exec(st, "SELECT id, created, kind, target, status, decision, connector,"
                             " expires FROM resp_actions ORDER BY id",
                         NULL, 0, list_row, ud);
}

static int audit_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    FILE *f = ud;
    char tb[40];
    (void)names;
    if (ncol < 4)
        return 0;
    kb_time_format(c[0].i, tb, sizeof tb);
    fprintf(f, "  %.19s %.*s %.*s: %.*s\n", tb, (int)c[1].len, c[1].p, (int)c[2].len, c[2].p,
            (int)c[3].len, c[3].p);
    return 0;
}

int kb_resp_action_show(struct kb_store *st, int64_t id, FILE *f)
{
    json_t *a;
    int rc = kb_resp_schema(st);
    if (rc)
        return rc;
    a = action_row(st, id);
    if (!a)
        return KB_ENOENT;
    json_object_del(a, "conncfg"); /* may name secret sources; never printed */
    char *s = json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s ? s : "{}");
    free(s);
    json_decref(a);
    /* the audit trail of this action */
    char pat[64];
    snprintf(pat, sizeof pat, "%%action #%lld %%", (long long)id);
    kb_sval p = SV(pat);
    int json = 0;
    void *ud[2] = {f, &json};
    (void)ud;
    fputs("audit:\n", f);
    return kb_store_exec(st, "SELECT ts, actor, action, detail FROM audit WHERE detail LIKE ?"
                             " ORDER BY id", &p, 1, audit_row, f);
}
