/* The configuration file (YAML): `--config FILE`, else <data dir>/koban.yaml
 * when it exists, else built-in defaults. config/koban.yaml documents every
 * key. A file with an error is refused as a whole, naming file and line. */
#ifndef KB_CMD_CONFIG_H
#define KB_CMD_CONFIG_H

#include "cmd/cmd.h"
#include "detect/correlate.h"
#include "ingest/ingest.h"
#include "respond/respond.h"

/* intel: threat-intelligence settings, handed to the intel module. */
typedef struct kb_intel_config {
    char **allow;        /* intel.allowlist: values, CIDRs, "*.domains" (checked) */
    size_t nallow;
    uint32_t sid_base;   /* intel.suricata.sid_base; 0: the exporter's default */
    uint32_t sid_max;    /* intel.suricata.sid_max; 0: sid_base + 999999 */
    int confidence;      /* intel.default_confidence for feeds without one; -1 unset */
} kb_intel_config;

/* store.retention: days to keep each source's events. source is a path,
 * or a directory holding sources (the longest match wins), or NULL for
 * `default` (every source no other entry names). days 0: keep forever. */
typedef struct kb_retention {
    char *source;
    int64_t days;
} kb_retention;

typedef struct kb_config {
    char *path;               /* the file read, or NULL for defaults */
    kb_field_map json_map;    /* ingest.json.fields */
    kb_field_map_row *rows;   /* storage of json_map */
    char *strings;            /* storage of the rows' names */
    kb_intel_config intel;    /* intel (allow owns its strings) */
    struct kb_suppress *suppress; /* `suppress:` entries (detect/suppress.h), or NULL */
    kb_retention *retention;  /* store.retention (sources own their strings) */
    size_t nretention;
    char *fieldmap;           /* detect.fieldmap: the field-map file (a relative path is
                                 taken from the configuration file's directory), or NULL */
    kb_correl_opts correl;    /* correlation: caps (the defaults when absent), and its
                                 generate overrides (correl.gen points at correl_gen) */
    kb_correl_gen *correl_gen; /* correlation.generate (rule names owned) */
    size_t ncorrel_gen;
    kb_resp_bindings respond; /* `respond:`: playbooks started by themselves (n 0: none) */
} kb_config;

/* Loads the configuration the command line names. Returns KB_OK, or an
 * error after printing "path:line: reason" to stderr. */
int kb_config_load(const kb_cli *cli, kb_config *cfg);
/* The same from the text of a configuration (path names it in messages). */
int kb_config_load_mem(const char *path, const char *text, size_t len, kb_config *cfg);
void kb_config_release(kb_config *cfg);

/* The store.retention entry for a source path (the longest matching path
 * or directory, else `default`), or NULL when none applies. */
const kb_retention *kb_config_retention(const kb_config *cfg, const char *path);

#endif
