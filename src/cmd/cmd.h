/* The koban command line: one row per sub-command, global options, and the
 * output conventions every command that prints records shares. */
#ifndef KB_CMD_H
#define KB_CMD_H

#include <stdio.h>

#include "base/base.h"

/* Exit statuses, the same for every command. */
enum { KB_EXIT_OK = 0, KB_EXIT_REJECTED = 1, KB_EXIT_USAGE = 2, KB_EXIT_FAILURE = 3 };

/* What main parsed before the sub-command. */
typedef struct kb_cli {
    const char *data_dir;    /* --data, KOBAN_DATA, or $XDG_DATA_HOME/koban */
    const char *config_path; /* --config or NULL */
    int verbose;
} kb_cli;

typedef struct kb_command {
    const char *name;
    const char *summary; /* one line for `koban help` */
    const char *usage;   /* the full --help text */
    int (*run)(const kb_cli *cli, int argc, char **argv); /* argv[0] is the command name */
    void (*help_extra)(FILE *f); /* optional: prints tables after the usage */
} kb_command;

extern const kb_command kb_commands[];

/* Output formats for records. */
typedef enum { KB_OUT_TABLE, KB_OUT_JSONL, KB_OUT_CSV } kb_out_format;

/* Parses "table", "jsonl" or "csv"; -1 for anything else. */
int kb_out_parse(const char *s);
/* The default: a table on a terminal, JSON Lines otherwise. */
kb_out_format kb_out_default(FILE *f);

/* True when argv[i] asks for help. */
int kb_cmd_wants_help(int argc, char **argv);
/* Prints "koban <cmd>: msg" and the usage hint to stderr; returns KB_EXIT_USAGE. */
int kb_cmd_usage_error(const kb_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const kb_command *kb_cmd_find(const char *name);

int kb_cmd_help(const kb_cli *cli, int argc, char **argv);
int kb_cmd_version(const kb_cli *cli, int argc, char **argv);
int kb_cmd_parse(const kb_cli *cli, int argc, char **argv);
void kb_cmd_parse_help(FILE *f);
int kb_cmd_load(const kb_cli *cli, int argc, char **argv);
int kb_cmd_hunt(const kb_cli *cli, int argc, char **argv);
int kb_cmd_store(const kb_cli *cli, int argc, char **argv);
/* Opens the store: dsn (--store), else $KOBAN_STORE, else DATA/koban.db.
 * Prints the reason and returns NULL on failure. Close with kb_store_close. */
struct kb_store *kb_cmd_open_store(const kb_cli *cli, const char *dsn);
int kb_cmd_scan(const kb_cli *cli, int argc, char **argv);
int kb_cmd_rules(const kb_cli *cli, int argc, char **argv);
int kb_cmd_playbook(const kb_cli *cli, int argc, char **argv);
int kb_cmd_actions(const kb_cli *cli, int argc, char **argv);
int kb_cmd_intel(const kb_cli *cli, int argc, char **argv);
int kb_cmd_assets(const kb_cli *cli, int argc, char **argv);
int kb_cmd_vulns(const kb_cli *cli, int argc, char **argv);
int kb_cmd_triage(const kb_cli *cli, int argc, char **argv);
int kb_cmd_incidents(const kb_cli *cli, int argc, char **argv);
/* Triage of alerts collected elsewhere (`koban scan --triage`): see
 * src/cmd/triage.c. al is a kb_triage_alerts (triage/triage.h). */
struct kb_triage_alerts;
/* NO_PLAYBOOKS: start no bound playbook (respond.bindings); JSONL: print
 * incidents as JSON lines; NO_STORE: no store at all (see _to below) */
enum {
    KB_TRIAGE_NO_SAVE = 1,
    KB_TRIAGE_QUIET = 2,
    KB_TRIAGE_NO_PLAYBOOKS = 4,
    KB_TRIAGE_JSONL = 8,
    KB_TRIAGE_NO_STORE = 16
};
int kb_cmd_triage_alerts(const kb_cli *cli, struct kb_triage_alerts *al, const char *dsn,
                         const char *criteria, int flags);
/* The same, printing the incidents to out (KB_TRIAGE_JSONL: one JSON object
 * per incident); KB_TRIAGE_NO_STORE: no store at all (no inventory, no
 * scans, nothing saved). */
int kb_cmd_triage_alerts_to(const kb_cli *cli, struct kb_triage_alerts *al, const char *dsn,
                            const char *criteria, int flags, FILE *out);
int kb_cmd_tune(const kb_cli *cli, int argc, char **argv);
int kb_cmd_verdict(const kb_cli *cli, int argc, char **argv);
/* tune.c: the store's analyst exceptions (active, unexpired at `now`) into
 * s; flags a stored alert as suppressed or rate-limited; the overrides
 * file `koban tune apply` writes and `koban scan` reads. */
struct kb_suppress;
int kb_tune_schema(struct kb_store *st);
int kb_tune_load_exceptions(struct kb_store *st, struct kb_suppress *s, int64_t now);
int kb_tune_flag_suppressed(struct kb_store *st, int64_t alert_id, const char *verdict,
                            int64_t exception_id, const char *reason);
void kb_tune_overrides_path(const kb_cli *cli, kb_buf *out);
/* Prints cmd's usage and its extra help to f. */
void kb_cmd_print_usage(const kb_command *cmd, FILE *f);

#endif
