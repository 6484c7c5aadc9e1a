/* koban scan's shared types: the command (scan.c) and the stages that
 * follow matching (scan-stages.c: suppression, the store, indicators,
 * triage input) see the same alert, worker and scan. Internal to src/cmd. */
#ifndef KOBAN_CMD_SCAN_INT_H
#define KOBAN_CMD_SCAN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/yaml.h"
#include "cmd/alerts.h"
#include "cmd/config.h"
#include "cmd/output.h"
#include "detect/correlate.h"
#include "detect/engine.h"
#include "detect/suppress.h"
#include "event/json.h"
#include "ingest/ingest.h"
#include "intel/scan-match.h"
#include "store/store.h"
#include "triage/triage.h"

/* Caps, each with its policy: alerts past them are counted, not kept. */
#define SCAN_MAX_ALERTS 5000000u
#define SCAN_ALERT_MEMORY ((size_t)2 << 30) /* strings kept for alerts, all workers */
#define SCAN_MAX_FILES 1000000u
#define SCAN_MAX_DEPTH 64
#define SCAN_MAX_JOBS 256
#define PROGRESS_MIN_BYTES ((uint64_t)4 << 20)

typedef struct alert {
    int64_t ts;
    uint64_t line;
    uint32_t file;      /* index into the file list */
    uint32_t rule;      /* index into the ruleset */
    const char *host;   /* in the worker's arena */
    const char *fields; /* "Field: value | ..." */
    const char *json;   /* matched fields as a JSON object (jsonl only) */
    const char *event;  /* the source event as JSON (jsonl only) */
    int64_t event_id;   /* in the store (--store), 0 when not stored */
    const char *corr;   /* correlation: the values kb_correl_pack kept, or NULL */
    uint32_t corr_len;
    uint8_t hide;                   /* correlation: an input only (or below --min-level), not shown;
                                       suppression: HIDE_SUPPRESSED / HIDE_LIMITED */
    uint8_t level_ovr;              /* suppression: a level override + 1, 0 none */
    const char *src, *dst, *user;   /* suppression: the keys (NULL unless suppressing) */
    const kb_suppress_entry *sup;   /* suppression: what suppressed or limited it */
    const struct intel_info *intel; /* an indicator hit (rule is INTEL_RULE), or NULL */
    uint32_t tri;                   /* --triage: 1 + index in worker wk's triage list, 0 none */
    uint16_t wk;
} alert;
enum { HIDE_INPUT = 1, HIDE_SUPPRESSED, HIDE_LIMITED };
#define INTEL_RULE UINT32_MAX

/* An indicator hit as an alert: a rule of its own (id intel:FEED, author
 * the feed), in the worker's arena. */
typedef struct intel_info {
    kb_rule_meta meta;
    const char *tags[4]; /* NULL-terminated */
    const char *refs[2];
    const char *threat; /* borrowed from the matcher */
    int confidence;
    int level;
    const char *json; /* the threat.* keys, each with its leading comma */
} intel_info;

typedef struct scan_file {
    char *path;
    uint64_t size;
    int from_dir; /* found by walking a directory (not named by the user) */
} scan_file;

/* One unit of reading: a whole file, or a part of a large plain file
 * (split at line boundaries so that several threads decode it). */
typedef struct scan_job {
    uint32_t file;
    int split; /* part and dec are set */
    kb_ingest_part part;
    const kb_decoder *dec; /* chosen once for the whole file */
} scan_job;

struct scan;
struct team;

typedef struct worker {
    struct scan *sc;
    struct team *team; /* helpers that match parts of this worker's batches */
    pthread_t th;
    kb_ingest *ing;
    kb_engine_scratch *scratch;
    kb_arena *arena;
    alert *alerts;
    size_t n, cap;
    kb_buf text, json, ev;
    /* the source event as JSON (jsonl), kept once for all the alerts of one
     * record: the record (file, offset, line) it was made for */
    const char *ev_json;
    uint32_t ev_file;
    uint64_t ev_off, ev_line;
    uint32_t cur;      /* file being read */
    uint64_t cur_done; /* offset in it reached so far (progress) */
    uint64_t cur_end;  /* where this job's bytes end */
    uint64_t failed_sources, unrecognised;
    uint64_t level_count[KB_LEVEL_COUNT];
    int oom;
    int running; /* its thread was started and not yet joined */
    /* --store: the batch being matched and its events' ids in the store */
    const kb_event *cur_base;
    const int64_t *cur_ids;
    int64_t *ids; /* this reader's id buffer */
    size_t ids_cap;
    kb_intel_match_counts icounts; /* intel: this thread's lookups */
    kb_triage_alerts *tri;         /* --triage: this thread's alerts */
} worker;

/* Index of a rule in the ruleset by its address: the engine reports rules,
 * not indices. Open addressing, built once, read-only while scanning. */
typedef struct rule_index {
    const kb_rule **keys;
    uint32_t *vals;
    size_t slots;
} rule_index;

/* When there are fewer files than threads, a file's reader shares each of
 * its batches with helpers: every member matches one slice of the batch,
 * and the reader waits for all before the batch memory is reused. */
typedef struct team {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen; /* bumped for each batch handed out */
    int pending;  /* helpers still working on this batch */
    int quit;
    const kb_batch *batch;
    const int64_t *ids; /* the batch's event ids in the store, or NULL */
    uint32_t file;
    int nh;
    worker **h;
} team;

typedef struct scan {
    const kb_cli *cli;
    rule_index ri;
    kb_names *names;
    kb_ruleset *rs;
    kb_engine *eng;               /* NULL: the reference evaluator */
    uint8_t *rule_level;          /* ruleset rules, then correlation rules */
    kb_correl *corr;              /* correlation (NULL: no correlation rules) */
    int corr_off;                 /* --no-correlation: inputs only (generate: false) are dropped */
    int quiet;                    /* -q: no summary lines */
    const struct alert *corr_cur; /* the alert being pushed */
    struct alert *cal;            /* correlation alerts */
    size_t ncal, acal;
    uint64_t corr_levels[KB_LEVEL_COUNT], corr_inputs;
    kb_suppress *sup; /* suppression (NULL: no entries) */
    uint64_t suppressed, limited, relevelled;
    int min_level;
    kb_out_format fmt;
    kb_ingest_opts iopts;
    scan_file *files;
    size_t nfiles;
    scan_job *jobs; /* what the readers take, in order */
    size_t njobs;
    uint64_t total_bytes;
    atomic_size_t next;     /* next job to hand out */
    atomic_size_t finished; /* jobs done */
    atomic_uint_fast64_t bytes_done;
    atomic_uint_fast64_t kept;    /* alerts kept */
    atomic_uint_fast64_t dropped; /* alerts past a cap */
    worker *w;
    int nw;  /* threads */
    int nfw; /* of which read files */
    team *teams;
    int nteams;               /* teams whose mutex and conditions are initialised */
    kb_store *store;          /* --store: events and alerts are kept here */
    pthread_mutex_t store_mu; /* one connection, shared by the readers */
    atomic_int store_failed;
    atomic_uint_fast64_t stored; /* events newly stored */
    kb_intel_scan *intel;        /* indicators (NULL: none loaded, or --no-intel) */
    int triage;                  /* --triage */
} scan;

/* scan.c */
const kb_rule_meta *alert_rule(const scan *sc, const alert *a);
int alert_level(const scan *sc, const alert *a);

/* scan-stages.c: after matching */
int suppression_setup(scan *sc, const kb_cli *cli);
void suppress_alerts(scan *sc, alert *all, size_t n);
int store_alerts(scan *sc, const alert *all, size_t n);
int intel_setup(scan *sc, const kb_cli *cli);
kb_triage_alerts *triage_input(scan *sc, const alert *all, size_t n);

#endif
