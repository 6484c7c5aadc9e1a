/* koban respond: playbooks, first-response actions, connectors, notifications.
 *
 *   template.c     {{var}} templates rendered with escaping by context (a hunt
 *                  literal, a JSON string, a command argument, a URL
 *                  component): an indicator can never leave its place
 *   playbook.c     the YAML playbook format (processes and steps), lint with
 *                  file:line: reason, the outline and the Graphviz graph
 *   engine.c       runs: persisted step by step in the store (resp_* tables),
 *                  resumed after a crash, manual answers, approvals, the
 *                  incident timeline, SLA timers
 *   actions.c      first-response actions (block, isolate, disable, quarantine,
 *                  custom), their rollback, the policy (auto / approve /
 *                  never), expiry with automatic rollback, the audit log
 *   conn-*.c       connectors, one row each of kb_resp_connectors[]: dry-run,
 *                  exec, nft, webhook
 *   notify.c       notification bodies (Slack/Mattermost/Teams), SMTP e-mail,
 *                  syslog CEF forwarding, routing by severity and type
 *   bindings.c     incident type (and minimum severity) -> playbook: the
 *                  playbooks that start by themselves when triage creates
 *                  an incident (the configuration's respond: section)
 *
 * Everything persistent lives in the store (kb_store_migrate_module, module
 * "respond"); a handle here is used by one thread at a time. */
#ifndef KB_RESPOND_H
#define KB_RESPOND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

struct kb_store;

/* ---- values ---------------------------------------------------------------- */

/* Variables are strings or lists of strings (a yes/no is "yes" / "no"). The
 * engine keeps them as a JSON object in the run row. */
#define KB_RESP_MAX_VALUE 4096   /* longest value rendered into a template */
#define KB_RESP_MAX_LIST 1000    /* most items a list output keeps */

/* ---- templates --------------------------------------------------------------- */

/* Escaping contexts. Each one keeps the value inside its place:
 *   HUNT  a double-quoted hunt literal "..." (quotes added; \" and \\)
 *   JSON  a JSON string "..." (quotes added; control bytes as \u00XX)
 *   ARG   one argv element: inserted verbatim, but NUL and control bytes are
 *         refused, and a value at the start of the element may not begin
 *         with '-' (it would read as an option)
 *   URL   a URL component: every byte but A-Z a-z 0-9 - . _ ~ is %XX
 *   TEXT  human text: control bytes other than \n and \t become '?' */
typedef enum {
    KB_ESC_HUNT,
    KB_ESC_JSON,
    KB_ESC_ARG,
    KB_ESC_URL,
    KB_ESC_TEXT
} kb_esc;

/* Looks a variable up: sets *v and *len to the value (which may hold NULs) and
 * returns 1, or returns 0 when unknown. A list variable renders as its
 * items joined by ", " in TEXT and is refused in other contexts (use
 * for_each). */
typedef int (*kb_tmpl_lookup_fn)(void *ud, const char *name, size_t nlen, const char **v,
                                 size_t *len, int *is_list);

/* Renders tmpl[0..len) into out (appended). {{ name }} is a variable; `{{{{`
 * is a literal "{{". Returns KB_OK, or KB_EINVAL with a static reason in
 * *err (unknown variable, unterminated placeholder, a value refused by the
 * context, a list outside TEXT). */
int kb_tmpl_render(const char *tmpl, size_t len, kb_esc ctx, kb_tmpl_lookup_fn fn, void *ud,
                   kb_buf *out, const char **err);
/* Where a placeholder landed: bytes [start, end) of out hold its escaped
 * value (in HUNT, the opening quote is at start); name[0..nlen) is the
 * variable (a slice of the template); vlen the value's length before
 * escaping (0: empty). */
typedef struct kb_tmpl_span {
    size_t start, end;
    const char *name;
    size_t nlen, vlen;
} kb_tmpl_span;
/* As kb_tmpl_render, and records the first maxspans placeholders in spans
 * (in template order); *nspans (may be NULL) counts every placeholder
 * rendered, also those past maxspans. */
int kb_tmpl_render_spans(const char *tmpl, size_t len, kb_esc ctx, kb_tmpl_lookup_fn fn, void *ud,
                         kb_buf *out, kb_tmpl_span *spans, size_t maxspans, size_t *nspans,
                         const char **err);
/* Escapes one value for ctx into out (appended). Same errors. */
int kb_tmpl_escape(const char *v, size_t len, kb_esc ctx, int at_start, kb_buf *out,
                   const char **err);
/* Calls fn(ud, name, nlen) for every placeholder of tmpl; returns KB_OK or
 * KB_EPARSE (unterminated or empty placeholder, *err set). */
int kb_tmpl_each_var(const char *tmpl, size_t len,
                     void (*fn)(void *ud, const char *name, size_t nlen), void *ud,
                     const char **err);

/* ---- input validation by type (exec connector, action targets) ---------------- */

typedef enum {
    KB_VT_STRING, /* any text without control bytes */
    KB_VT_IP,     /* an IPv4 or IPv6 address */
    KB_VT_CIDR,   /* an address or ADDR/BITS */
    KB_VT_HOST,   /* a host name: letters, digits, '-', '.', '_' (no leading '-') */
    KB_VT_USER,   /* an account: letters, digits, . _ - @ \ (no leading '-') */
    KB_VT_HASH,   /* 32, 40 or 64 hex digits */
    KB_VT_PATH,   /* an absolute path without control bytes or ".." */
    KB_VT_URL,    /* http(s)://... without spaces or control bytes */
    KB_VT_INT
} kb_valtype;

/* The type named s ("ip", "host", ...) or -1. */
int kb_vtype_find(const char *s);
const char *kb_vtype_name(kb_valtype t);
/* 1 when v[0..len) is a valid value of type t. */
int kb_vtype_check(kb_valtype t, const char *v, size_t len);

/* ---- incidents as the playbook reads them ------------------------------------ */

/* The incident's variables (incident.*). Strings are owned by the struct
 * (kb_resp_incident_release frees them); NULL when unknown. */
typedef struct kb_resp_incident {
    int64_t id;       /* store incident id, 0 for an incident file */
    char *type;       /* "targeted-attack", "ransomware", ... */
    char *severity;   /* "low".."critical" */
    char *host, *user, *src_ip, *dst_ip, *url, *file_name, *file_hash, *title;
    int64_t first, last; /* the time window (ns), KB_TIME_NONE unknown */
} kb_resp_incident;

void kb_resp_incident_release(kb_resp_incident *in);
/* From a JSON object: {"id":..,"type":..,"severity":..,"host":..,"user":..,
 * "source_ip":..,"destination_ip":..,"url":..,"file_name":..,"file_hash":..,
 * "first":"ISO 8601","last":"ISO 8601","title":..}. KB_EPARSE with *err. */
int kb_resp_incident_from_json(kb_resp_incident *in, const char *p, size_t len,
                               const char **err);
/* From the store's incidents table (triage's rows). KB_ENOENT when absent. */
int kb_resp_incident_load(kb_resp_incident *in, struct kb_store *st, int64_t id);

/* ---- playbooks ---------------------------------------------------------------- */

typedef struct kb_playbook kb_playbook;

/* Lint messages: "file:line: reason\n" lines appended to diag. */
/* Parses a playbook. Returns KB_OK with *out, or KB_EPARSE (and *out NULL)
 * when any error was found; every error found is appended to diag. */
int kb_playbook_parse(const char *name, const char *p, size_t len, kb_playbook **out,
                      kb_buf *diag);
int kb_playbook_load(const char *path, kb_playbook **out, kb_buf *diag);
void kb_playbook_free(kb_playbook *pb);
const char *kb_playbook_name(const kb_playbook *pb);
const char *kb_playbook_title(const kb_playbook *pb);
const char *kb_playbook_path(const kb_playbook *pb);
/* 1 when the playbook is bound to incidents of this type. */
int kb_playbook_binds(const kb_playbook *pb, const char *type);

/* Checks an analyst's answer to step: the step must be a manual task or an
 * approval gate, and the value one of the task's choices (any text for a
 * free-text task; yes / no for a gate). KB_OK, or KB_EINVAL with the reason
 * in why. */
int kb_playbook_check_answer(const kb_playbook *pb, const char *step, const char *value,
                             kb_buf *why);

/* The readable outline and the Graphviz graph of the flow. */
void kb_playbook_outline(const kb_playbook *pb, FILE *f);
void kb_playbook_dot(const kb_playbook *pb, FILE *f);

/* Finds playbook NAME (its `name:` or file stem) in dir, or loads NAME when
 * it is a path. Errors of other files in dir are appended to diag; they do
 * not stop the search. */
int kb_playbook_find(const char *dir, const char *name, kb_playbook **out, kb_buf *diag);
/* Loads every *.yml / *.yaml of dir; fn is called per good playbook; bad
 * ones are reported in diag and counted in *bad. */
int kb_playbook_each(const char *dir, void (*fn)(void *ud, kb_playbook *pb), void *ud,
                     kb_buf *diag, int *bad);

/* ---- the engine --------------------------------------------------------------- */

typedef struct kb_resp_opts {
    const char *actor;        /* who started or answers: "cli:USER", "auto" */
    const char *connectors;   /* respond config (connectors, notify), or NULL */
    int force_dry_run;        /* every action through the dry-run connector */
    FILE *log;                /* progress lines (may be NULL) */
    int escalated;            /* kb_resp_bindings_start: the incident is not
                                 new, an update raised its severity */
    const char *config_json;  /* kb_resp_bindings_start: `connectors` already
                                 read (kb_resp_config_json), for a caller
                                 announcing many incidents; NULL: read it */
} kb_resp_opts;

/* The respond config file as compact JSON (free() it), or NULL with err. */
char *kb_resp_config_json(const char *path, char *err, size_t errsize);

/* Creates the respond tables when missing. */
int kb_resp_schema(struct kb_store *st);

/* Starts a run of pb for the incident and drives it as far as it goes.
 * *run_id receives the run. Returns KB_OK (run done or waiting), or an
 * error with the reason in err. */
int kb_resp_run_start(struct kb_store *st, const kb_playbook *pb, const kb_resp_incident *in,
                      const kb_resp_opts *o, int64_t *run_id, char *err, size_t errsize);
/* Continues a run (after a crash, an answer or an approval). pb must be the
 * run's playbook (loaded by the caller by kb_resp_run_playbook's name). */
int kb_resp_run_resume(struct kb_store *st, const kb_playbook *pb, int64_t run_id,
                       const kb_resp_opts *o, char *err, size_t errsize);
/* The playbook name and status ("running", "waiting", "done", "failed") of
 * a run into the buffers. KB_ENOENT when unknown. */
int kb_resp_run_info(struct kb_store *st, int64_t run_id, kb_buf *playbook, kb_buf *status);
/* Records an analyst's answer to a waiting manual step or approval gate. */
int kb_resp_answer(struct kb_store *st, int64_t run_id, const char *step, const char *value,
                   const char *actor, char *err, size_t errsize);
/* Prints waiting steps and actions (table or JSON Lines). */
int kb_resp_pending(struct kb_store *st, int json, FILE *f);
/* Prints the timeline of a run, or of every run of an incident (run_id 0). */
int kb_resp_timeline(struct kb_store *st, int64_t run_id, int64_t incident_id, int json,
                     FILE *f);
/* Checks expiries (rolls back due actions) and SLA deadlines (records
 * breaches). now in ns. Returns the number of things done or < 0. */
int kb_resp_tick(struct kb_store *st, const kb_resp_opts *o, int64_t now);

/* ---- bindings: playbooks that start by themselves ------------------------------- */

/* Incidents of `type` ("*": any type) at `min_severity` or above start
 * `playbook`. */
typedef struct kb_resp_binding {
    char *type;
    int min_severity; /* KB_SEV_* of triage/triage.h; KB_SEV_LOW: any */
    char *playbook;   /* a playbook's name (or file stem) in the playbook dir */
    uint32_t line;    /* where it was written */
} kb_resp_binding;

#define KB_RESP_MAX_BINDINGS 256

typedef struct kb_resp_bindings {
    kb_resp_binding *v;
    size_t n;
    char *source;    /* the configuration file, for messages */
    char *playbooks; /* respond.playbooks: the playbook directory, or NULL */
    char *config;    /* respond.config: the respond configuration file
                        (connectors, actions, notify, sla), or NULL */
    int dry_run;     /* respond.dry_run: every action through dry-run */
    int enabled;     /* respond.auto_start (default true) */
} kb_resp_bindings;

struct kb_yaml_node;
/* Reads a `respond:` section (a YAML mapping, or null: no bindings) of the
 * configuration file path: {auto_start: bool, playbooks: DIR, config: FILE,
 * dry_run: bool, bindings: [{type: T, playbook: P, min_severity: S}, ...]}.
 * The whole section is refused on any error: KB_EPARSE with
 * "path:line: reason" in err, and b left empty. */
int kb_resp_bindings_parse(kb_resp_bindings *b, const char *path,
                           const struct kb_yaml_node *respond, char *err, size_t errsize);
void kb_resp_bindings_release(kb_resp_bindings *b);
/* The bindings an incident of type at severity ("low".."critical"; NULL or
 * unknown counts as low) matches, as indices into b->v in the order they
 * were written; a playbook bound twice is selected once. Returns how many
 * were written to idx (at most max). */
size_t kb_resp_bindings_select(const kb_resp_bindings *b, const char *type,
                               const char *severity, size_t *idx, size_t max);

typedef struct kb_resp_auto_report {
    unsigned started; /* runs started */
    unsigned already; /* bound playbooks that already had a run for the incident */
    unsigned failed;  /* bound playbooks that could not start (recorded) */
    unsigned notified; /* notification channels reached */
} kb_resp_auto_report;

/* Starts the playbooks bound to incident_id (an incident of the store's
 * incidents table, just created by triage), each at most once: a playbook
 * that already has a run for this incident is not started again. dir is
 * the playbook directory. Each run proceeds as `koban playbook run` would,
 * with actor o->actor (default "auto"); its "start" entry in the incident's
 * timeline names the binding. A playbook that cannot be found or started is
 * recorded in the incident's timeline ("auto-start-failed"), reported in
 * diag ("koban: ...\n" lines) and counted; the others still start. When
 * the respond config (o->connectors) has notification channels, one message
 * announces the incident and its playbooks (routed by severity and type).
 * Returns KB_OK, or an error of the store. */
int kb_resp_bindings_start(struct kb_store *st, const kb_resp_bindings *b, const char *dir,
                           int64_t incident_id, const kb_resp_opts *o, kb_resp_auto_report *rep,
                           kb_buf *diag);

/* ---- actions ------------------------------------------------------------------ */

/* Action kinds: name, what the target must be, and the kind that undoes it. */
typedef struct kb_resp_action_kind {
    const char *name;     /* "block-destination" */
    kb_valtype target;
    const char *rollback; /* "unblock-destination", NULL: none needed */
    int expires;          /* 1: expires by default (blocks) */
    const char *doc;
} kb_resp_action_kind;
extern const kb_resp_action_kind kb_resp_action_kinds[];
const kb_resp_action_kind *kb_resp_action_kind_find(const char *name);

int kb_resp_actions_list(struct kb_store *st, int json, FILE *f);
int kb_resp_action_show(struct kb_store *st, int64_t id, FILE *f);
/* approve=1 approves (and applies), 0 denies. */
int kb_resp_action_decide(struct kb_store *st, int64_t id, int approve, const kb_resp_opts *o,
                          char *err, size_t errsize);
int kb_resp_action_rollback(struct kb_store *st, int64_t id, const kb_resp_opts *o,
                            char *err, size_t errsize);

/* ---- connectors ---------------------------------------------------------------- */

/* What a connector is asked to do: verb "apply" or "rollback" of an action
 * kind on a target, with the connector's config (a JSON object) and the
 * action's idempotency key. */
typedef struct kb_resp_request {
    const char *verb;
    const char *kind;
    const char *target;
    const char *idem_key;
    int64_t timeout_s;     /* block lifetime (0: none) */
    const char *config;    /* JSON object text of the connector instance */
    const char *incident_json; /* the incident's variables, for body templates */
} kb_resp_request;

/* A connector fills `audit` with the exact request it made (secrets
 * masked) and `result` with what came back. Returns KB_OK, or an error
 * with a static reason in *err (KB_EIO: failed, may be retried). */
typedef struct kb_resp_connector {
    const char *name;
    const char *doc;
    int (*run)(const kb_resp_request *rq, kb_buf *audit, kb_buf *result, const char **err);
} kb_resp_connector;
extern const kb_resp_connector *const kb_resp_connectors[];
const kb_resp_connector *kb_resp_connector_find(const char *name);

extern const kb_resp_connector kb_conn_dryrun;
extern const kb_resp_connector kb_conn_exec;
extern const kb_resp_connector kb_conn_nft;
extern const kb_resp_connector kb_conn_webhook;

/* Runs argv (argv[0] an absolute path) with posix_spawn, no shell, stdout
 * and stderr captured into out (capped), waiting at most timeout_ms.
 * Returns the exit status, or -1 (spawn failure / timeout; *err set). */
int kb_resp_spawn(char *const argv[], kb_buf *out, int timeout_ms, const char **err);

/* Masks secrets: every occurrence of each value in secrets (NULL-ended) in
 * b becomes "***". */
void kb_resp_mask(kb_buf *b, const char *const *secrets);

/* ---- notifications ------------------------------------------------------------ */

/* A notification about an incident: the first one, or an update. */
typedef struct kb_notify_msg {
    int64_t incident_id;
    const char *title, *severity, *type, *text;
    int update;      /* 0 first message, 1 an update to summarise */
    int64_t updates; /* kb_notify_send sets it: the number of this update */
} kb_notify_msg;

/* Bodies: "slack" ({"text":...}, also Mattermost), "teams" (MessageCard).
 * Appends the JSON to out. */
int kb_notify_body(const char *style, const kb_notify_msg *m, kb_buf *out);
/* A CEF line for a SIEM (no syslog header). */
int kb_notify_cef(const kb_notify_msg *m, kb_buf *out);
/* Sends through every channel of the respond config (JSON text) whose
 * route matches; records one thread per incident in the store (updates
 * are summarised). Returns the number of channels reached, or < 0. */
int kb_notify_send(struct kb_store *st, const char *config_json, const kb_notify_msg *m,
                   kb_buf *diag);

#endif
