/* Internals shared by the respond module's files (not a public header). */
#ifndef KB_RESPOND_INT_H
#define KB_RESPOND_INT_H

#include <jansson.h>

#include "base/yaml.h"
#include "respond/respond.h"

enum pb_method {
    PM_HUNT,      /* hunt: QUERY (template, hunt context) */
    PM_ASK,       /* ask: {question: NAME, args: [TEMPLATE...]} */
    PM_INTEL,     /* intel: VALUE (template) */
    PM_ASSET,     /* asset: HOST (template) */
    PM_VULNS,     /* vulns: HOST (template) */
    PM_ACTION,    /* action: {kind: KIND, target: TEMPLATE, expires: 24h} */
    PM_MANUAL,    /* manual: {instructions:, checklist: [], choices: []} */
    PM_AGGREGATE, /* aggregate: [VAR, ...] -> the union of lists */
    PM_NOTIFY,    /* notify: TEXT (template) */
    PM_COUNT
};
extern const char *const kb_pb_method_names[PM_COUNT];

typedef struct pb_output {
    const char *var;
    const char *from; /* a result column, or count / found / answer / status /
                         list / type / tags / criticality / threat */
    uint32_t line;
} pb_output;

#define PB_MAX_ITEMS 64

typedef struct pb_process {
    const char *id, *name, *procedure;
    uint32_t line;
    const char *inputs[PB_MAX_ITEMS];
    size_t ninputs;
    int method;
    const char *text;   /* hunt query, intel/asset/vulns value, notify text,
                           ask question, action kind */
    const char *target; /* action target template */
    const char *args[8];
    size_t nargs;
    int64_t expires;    /* action lifetime (ns), 0: the playbook default */
    const char *instructions;
    const char *checklist[PB_MAX_ITEMS];
    size_t nchecklist;
    const char *choices[PB_MAX_ITEMS];
    size_t nchoices;     /* 0 with free_answer: any text (a reference, a name) */
    int free_answer;
    const char *sources[PB_MAX_ITEMS]; /* aggregate */
    size_t nsources;
    pb_output outs[PB_MAX_ITEMS];
    size_t nouts;
} pb_process;

/* A compiled `when:` condition in reverse Polish notation. */
/* CT_LT..CT_GE compare numbers: an integer, a list's length, a numeric text */
enum { CT_VAR, CT_EQ, CT_NE, CT_NOT, CT_AND, CT_OR, CT_STR, CT_LT, CT_LE, CT_GT, CT_GE };
typedef struct pb_cond_tok {
    int op;
    const char *s; /* CT_VAR name / CT_STR literal, arena-owned */
} pb_cond_tok;
#define PB_MAX_COND 64

typedef struct pb_step {
    const char *id;
    uint32_t line;
    const pb_process *proc;
    const char *when;
    pb_cond_tok cond[PB_MAX_COND];
    size_t ncond;
    const char *for_each;
    const char *approve; /* approval gate question, or NULL */
    const char *outcome; /* a first-response outcome label */
    int end;             /* the run ends after this step */
} pb_step;

typedef struct pb_policy {
    const char *action;     /* kind or "*" */
    const char *severity[4];
    size_t nsev;
    const char *asset_type; /* or NULL */
    const char *asset_tag;  /* or NULL */
    const char *decision;   /* auto / approve / never */
} pb_policy;

#define PB_MAX_PROCS 128
#define PB_MAX_STEPS 256

struct kb_playbook {
    kb_yaml *y;
    kb_arena *ar;
    const char *path, *name, *title, *description;
    const char *types[16];
    size_t ntypes;
    pb_process procs[PB_MAX_PROCS];
    size_t nprocs;
    pb_step steps[PB_MAX_STEPS];
    size_t nsteps;
    pb_policy policy[32];
    size_t npolicy;
    int64_t expires;           /* default block lifetime (ns) */
    int64_t sla_first, sla_analysis; /* ns */
    int64_t sla_sev[4][2]; /* per severity (low..critical): first, analysis; 0 unset */
};

/* Truthiness of a variable value (JSON): non-empty list, non-empty string
 * other than no/false/0, non-zero number. */
int kb_pb_truthy(const json_t *v);
/* Evaluates a step's condition over vars. */
int kb_pb_cond_eval(const pb_step *s, const json_t *vars);
const pb_process *kb_pb_process(const kb_playbook *pb, const char *id);

/* The policy decision for an action ("auto", "approve", "never"). */
const char *kb_pb_policy(const kb_playbook *pb, const char *kind, const char *severity,
                         const char *asset_type, const char *asset_tags);

/* actions.c, for the engine: requests an action for a run step. The action
 * row (with its rollback) is committed before the connector runs. Returns
 * KB_OK with *action_id and the status in status ("applied", "pending",
 * "denied", "never", "failed"). */
int kb_resp_action_request(struct kb_store *st, const kb_playbook *pb, int64_t run_id,
                           int64_t incident_id, const char *step_key, const char *kind,
                           const char *target, const char *severity, int64_t expires,
                           const char *incident_json, const kb_resp_opts *o,
                           int64_t *action_id, kb_buf *status, char *err, size_t errsize);
/* The status of an action. */
int kb_resp_action_status(struct kb_store *st, int64_t id, kb_buf *status);
/* Appends to the audit log (append-only; secrets already masked). */
int kb_resp_audit(struct kb_store *st, const char *actor, const char *what, const char *detail);
/* Timeline entry for a run. */
int kb_resp_timeline_add(struct kb_store *st, int64_t run_id, int64_t incident_id,
                         const char *kind, const char *step, const char *actor,
                         const char *detail);
/* kb_resp_run_start with why it started (appended to the run's "start"
 * timeline entry; NULL: nothing). */
int kb_resp_run_start_why(struct kb_store *st, const kb_playbook *pb, const kb_resp_incident *in,
                          const kb_resp_opts *o, const char *why, int64_t *run_id, char *err,
                          size_t errsize);
/* actions.c, for the connectors: a kb_tmpl_lookup_fn over a request (ud is
 * the const kb_resp_request *): {{ target }}, {{ kind }}, {{ verb }} and
 * {{ key }} (the idempotency key); 0 for any other name. */
int kb_resp_request_lookup(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                           int *is_list);
/* The respond config as JSON (from YAML), or NULL when path is NULL or
 * unreadable (err set). Caller json_decref's. */
json_t *kb_resp_config_load(const char *path, char *err, size_t errsize);
/* YAML node to JSON (depth bounded by the YAML parser's cap). */
json_t *kb_resp_yaml_to_json(const kb_yaml_node *n);

#endif
