/* koban's entry point: global options, then dispatch through kb_commands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"

static const char main_usage[] =
    "usage: koban [--data DIR] [--config FILE] [-v] COMMAND [ARGS]\n"
    "\n"
    "Global options (before the command):\n"
    "  --data DIR     where koban keeps its state (also KOBAN_DATA;\n"
    "                 default $XDG_DATA_HOME/koban or ~/.local/share/koban)\n"
    "  --config FILE  configuration file (YAML)\n"
    "  -v             more messages on stderr (repeat for debug)\n"
    "\n"
    "Run 'koban help' for the commands, 'koban COMMAND --help' for one.\n";

const kb_command kb_commands[] = {
    {"help", "list the commands, or show one command's help",
     "usage: koban help [COMMAND]\n", kb_cmd_help, NULL},
    {"version", "print koban's version", "usage: koban version\n", kb_cmd_version, NULL},
    {"parse", "decode logs and print the events koban understood",
     "usage: koban parse [--format NAME] [--all] [--rejects FILE] [-o jsonl|table|csv]\n"
     "                   PATH...|-\n"
     "\n"
     "Decodes files, directories (recursively), .gz/.zst files or standard input\n"
     "('-') and prints one record per event: the canonical fields (ECS names),\n"
     "log.format and the Sigma logsource. A summary per source goes to stderr.\n"
     "\n"
     "  --format NAME   decode everything with this decoder (see below)\n"
     "  --all           also print every decoded field under its own name\n"
     "  --rejects FILE  write rejected records there, verbatim\n"
     "  -o FORMAT       jsonl, table or csv (default: table on a terminal)\n"
     "  -q              no summary\n"
     "\n"
     "Exit status: 0 all records decoded, 1 some were rejected or a source could\n"
     "not be read, 2 usage error.\n",
     kb_cmd_parse, kb_cmd_parse_help},
    {"scan", "detect: run the Sigma rules over logs and print a timeline of alerts",
     "usage: koban scan [--rules PATH]... [--no-default-rules] [--min-level LEVEL] [-j N]\n"
     "                  [-o table|csv|jsonl] [--output FILE] [--format NAME]\n"
     "                  [--engine fast|reference] [--store[=DSN]] [-q] PATH...|-\n"
     "\n"
     "Decodes files, directories (recursively), .gz/.zst files or standard input,\n"
     "runs every rule over every event and prints the alerts sorted by event time:\n"
     "time, host, level, rule and the fields of the event the rule looks at.\n"
     "A summary goes to stderr: alerts per level, top rules and hosts, events/s.\n"
     "\n"
     "  --rules PATH         also load these rules (a Sigma file or directory;\n"
     "                       repeatable): your custom signatures\n"
     "  --no-default-rules   do not load koban's own rules ($KOBAN_RULES, then\n"
     "                       DATA/rules, then the installed share/koban/rules)\n"
     "  --min-level LEVEL    informational, low, medium, high or critical\n"
     "  -j N                 threads (default: all cores); files are scanned in\n"
     "                       parallel, the output order does not depend on N\n"
     "  -o FORMAT            table, csv or jsonl (default: table on a terminal)\n"
     "  --output FILE        write the alerts there instead of stdout\n"
     "  --format NAME        decode every input with this decoder\n"
     "  --engine NAME        fast (default) or reference (the naive evaluator)\n"
     "  --store[=DSN]        also keep the events and alerts in the store (DSN,\n"
     "                       else $KOBAN_STORE, else DATA/koban.db) for koban hunt;\n"
     "                       records stored by an earlier run are not stored twice\n"
     "  -q                   no summary, no progress bar\n"
     "\n"
     "JSON Lines alerts carry @timestamp, rule.id, rule.name, rule.level,\n"
     "rule.author, rule.tags, rule.status, rule.references, rule.falsepositives,\n"
     "host.name, log.file.path, log.line, matched (the fields) and event.\n"
     "Broken rules are reported as path:line: reason and skipped. Files found in\n"
     "a directory whose format is not recognised are skipped and counted.\n"
     "\n"
     "Exit status: 0 ok, 1 some input or rule was rejected, 2 usage error,\n"
     "3 store error.\n",
     kb_cmd_scan, NULL},
    {"rules", "lint, list, test and install Sigma rules",
     "usage: koban rules lint PATH...\n"
     "       koban rules list [--rules PATH]... [--no-default-rules] [-o table|csv|jsonl]\n"
     "       koban rules test PATH...\n"
     "       koban rules install [--name NAME] [--force] DIR|ARCHIVE|URL\n"
     "\n"
     "  lint     load rule files or directories; report each failure as\n"
     "           path:line: reason\n"
     "  list     id, title, level, status, logsource and path of every rule\n"
     "           (koban's own and --rules PATH)\n"
     "  test     run the test cases rules carry (a `tests:` key with `match:`\n"
     "           and `nomatch:` events; see docs/rules.md)\n"
     "  install  copy a rule set (a directory, a .tar.gz/.tgz/.zip archive, or an\n"
     "           http(s) URL of one) into DATA/rules/NAME after checking that its\n"
     "           rules load; replaces an installed set of that name atomically\n"
     "\n"
     "Exit status: 0 ok, 1 some rule failed to load or a test failed, 2 usage.\n",
     kb_cmd_rules, NULL},
    {"load", "decode logs and keep them in the store (no detection)",
     "usage: koban load [--format NAME] [--store DSN] [-q] PATH...|-\n"
     "\n"
     "Decodes files, directories, .gz/.zst files or standard input and stores\n"
     "every event (canonical fields, observables, the raw record compressed).\n"
     "A re-run resumes after the last committed batch of each file: nothing is\n"
     "stored twice, even after a crash.\n"
     "\n"
     "  --format NAME   decode everything with this decoder\n"
     "  --store DSN     the store: a SQLite path, sqlite:PATH or postgresql://...\n"
     "                  (default $KOBAN_STORE, else DATA/koban.db)\n"
     "  -q              no summary\n"
     "\n"
     "Exit status: 0 ok, 1 some records were rejected, 2 usage, 3 store error.\n",
     kb_cmd_load, NULL},
    {"hunt", "search the stored events (hunt language or a named question)",
     "usage: koban hunt [--since AGE] [-o table|jsonl|csv] [--explain] [--store DSN] QUERY\n"
     "       koban hunt --ask QUESTION ARGS...\n"
     "\n"
     "  host.name:pc-a and destination.ip:203.0.113.5\n"
     "  process.command_line:*powershell* and not user.name:svc_*\n"
     "  destination.ip:10.0.0.0/8 and destination.port >= 1024\n"
     "  @timestamp >= now-24h and \"Failed password\"\n"
     "  event.outcome:failure | stats count() by source.ip | sort -count | head 20\n"
     "  hash:HASH | fields @timestamp, host.name, file.path\n"
     "\n"
     "Fields: canonical (ECS) names, log.format, log.file.path, logsource.*, the\n"
     "observables pseudo-fields ip, domain, url, hash, user, host, file, process,\n"
     "observable, and any raw field name seen while loading (SQLite store).\n"
     "\n"
     "Questions (--ask):\n"
     "  where-hash HASH               hosts where a file hash appeared\n"
     "  who-talked-to IP              who exchanged traffic with an address\n"
     "  host-activity HOST FROM TO    a host's events in a time window\n"
     "  first-seen VALUE              the first event with an indicator\n"
     "  process-tree HOST PID         a process and its children\n"
     "\n"
     "  --since AGE     only events newer than AGE (7d, 24h, 30m) or a date\n"
     "  --explain       print the SQL, its parameters and the query plan\n"
     "\n"
     "Exit status: 0 ok, 2 usage or query error, 3 store error.\n",
     kb_cmd_hunt, NULL},
    {"store", "store statistics and retention (stats, prune)",
     "usage: koban store stats [--store DSN]\n"
     "       koban store prune [--older-than AGE] [--source PATH] [--store DSN]\n"
     "\n"
     "stats   events, bytes, per source and per format, oldest and newest\n"
     "prune   delete events older than AGE (30d, 12h) and/or of the source PATH\n"
     "        (a file, or every file under a directory), with their observables\n",
     kb_cmd_store, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

const kb_command *kb_cmd_find(const char *name)
{
    for (const kb_command *c = kb_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

void kb_cmd_print_usage(const kb_command *cmd, FILE *f)
{
    fputs(cmd->usage, f);
    if (cmd->help_extra)
        cmd->help_extra(f);
}

int kb_cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int kb_cmd_usage_error(const kb_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "koban %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'koban %s --help'.\n", cmd->name);
    return KB_EXIT_USAGE;
}

int kb_out_parse(const char *s)
{
    if (strcmp(s, "table") == 0)
        return KB_OUT_TABLE;
    if (strcmp(s, "jsonl") == 0 || strcmp(s, "json") == 0)
        return KB_OUT_JSONL;
    if (strcmp(s, "csv") == 0)
        return KB_OUT_CSV;
    return -1;
}

kb_out_format kb_out_default(FILE *f)
{
    return isatty(fileno(f)) ? KB_OUT_TABLE : KB_OUT_JSONL;
}

int kb_cmd_help(const kb_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc > 1) {
        const kb_command *c = kb_cmd_find(argv[1]);
        if (!c) {
            fprintf(stderr, "koban: no command '%s'; see 'koban help'\n", argv[1]);
            return KB_EXIT_USAGE;
        }
        kb_cmd_print_usage(c, stdout);
        return KB_EXIT_OK;
    }
    fputs(main_usage, stdout);
    fputs("\nCommands:\n", stdout);
    for (const kb_command *c = kb_commands; c->name; c++)
        printf("  %-10s %s\n", c->name, c->summary);
    return KB_EXIT_OK;
}

int kb_cmd_version(const kb_cli *cli, int argc, char **argv)
{
    (void)cli, (void)argc, (void)argv;
    printf("koban %s\n", KOBAN_VERSION);
    return KB_EXIT_OK;
}

static char *default_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    kb_buf b;

    kb_buf_init(&b, 4096);
    if (xdg && *xdg)
        kb_buf_printf(&b, "%s/koban", xdg);
    else
        kb_buf_printf(&b, "%s/.local/share/koban", home && *home ? home : ".");
    return b.data;
}

int main(int argc, char **argv)
{
    kb_cli cli = {0};
    char *data_owned = NULL;
    const kb_command *cmd;
    int i, rc;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--data") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            if (a[2] == 'd')
                cli.data_dir = argv[++i];
            else
                cli.config_path = argv[++i];
        } else if (strncmp(a, "--data=", 7) == 0) {
            cli.data_dir = a + 7;
        } else if (strncmp(a, "--config=", 9) == 0) {
            cli.config_path = a + 9;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cli.verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            cli.verbose += 2;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return kb_cmd_help(&cli, 1, argv);
        } else if (strcmp(a, "--version") == 0) {
            return kb_cmd_version(&cli, 1, argv);
        } else {
            fprintf(stderr, "koban: unknown global option '%s'\n%s", a, main_usage);
            return KB_EXIT_USAGE;
        }
    }
    if (i == argc) {
        fputs(main_usage, stderr);
        return KB_EXIT_USAGE;
    }
    cmd = kb_cmd_find(argv[i]);
    if (!cmd) {
        fprintf(stderr, "koban: no command '%s'; see 'koban help'\n", argv[i]);
        return KB_EXIT_USAGE;
    }
    if (kb_cmd_wants_help(argc - i, argv + i)) {
        kb_cmd_print_usage(cmd, stdout);
        return KB_EXIT_OK;
    }
    if (!cli.data_dir) {
        const char *env = getenv("KOBAN_DATA");
        if (env && *env)
            cli.data_dir = env;
        else
            cli.data_dir = data_owned = default_data_dir();
    }
    kb_log_set_level(cli.verbose >= 2 ? KB_LOG_DEBUG : cli.verbose ? KB_LOG_INFO : KB_LOG_WARN);
    rc = cmd->run(&cli, argc - i, argv + i);
    kb_free(data_owned);
    return rc;
}
