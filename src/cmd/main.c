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
     "                  [--engine fast|reference] [--store[=DSN]]\n"
     "                  [--fieldmap FILE | --no-fieldmap] [--no-intel]\n"
     "                  [--triage [--criteria FILE]] [-q] PATH...|-\n"
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
     "  -j N, -jN            threads (default: all cores); files are scanned in\n"
     "                       parallel, the output order does not depend on N\n"
     "  -o FORMAT            table, csv or jsonl (default: table on a terminal)\n"
     "  --output FILE        write the alerts there instead of stdout\n"
     "  --format NAME        decode every input with this decoder\n"
     "  --engine NAME        fast (default) or reference (the naive evaluator)\n"
     "  --fieldmap FILE      rule field names per event source (default: detect:\n"
     "                       fieldmap: of the configuration, DATA/fieldmap.yaml,\n"
     "                       the shipped config/fieldmap.yaml; docs/rules.md)\n"
     "  --no-fieldmap        match rules with their field names as written\n"
     "  --no-correlation     do not run the Sigma correlation rules (docs/correlation.md)\n"
     "  --store[=DSN]        also keep the events and alerts in the store (DSN,\n"
     "                       else $KOBAN_STORE, else DATA/koban.db) for koban hunt;\n"
     "                       records stored by an earlier run are not stored twice\n"
     "  --no-intel           do not match the events against the threat-intelligence\n"
     "                       indicators (those of the store: --store, $KOBAN_STORE or\n"
     "                       an existing DATA/koban.db; see koban intel import). A hit\n"
     "                       is an alert of rule intel:FEED, its level from the\n"
     "                       indicator's confidence and threat type; values on the\n"
     "                       intel.allowlist are counted, not alerted\n"
     "  --triage             print the incidents triage makes of the alerts (after\n"
     "                       correlation and suppression) instead of the alerts;\n"
     "                       saved with --store (docs/triage.md)\n"
     "  --criteria FILE      the severity criteria for --triage\n"
     "  -q                   no summary, no progress bar\n"
     "\n"
     "JSON Lines alerts carry @timestamp, rule.id, rule.name, rule.level,\n"
     "rule.author, rule.tags, rule.status, rule.references, rule.falsepositives,\n"
     "host.name, log.file.path, log.line, matched (the fields) and event;\n"
     "indicator hits also threat.feed.name, threat.indicator.kind, .value, .type,\n"
     ".confidence, .reference and .matched.field.\n"
     "Broken rules are reported as path:line: reason and skipped. Files found in\n"
     "a directory whose format is not recognised are skipped and counted.\n"
     "\n"
     "Exit status: 0 ok, 1 some input or rule was rejected, 2 usage error,\n"
     "3 store error.\n",
     kb_cmd_scan, NULL},
    {"rules", "lint, list, test and install Sigma rules",
     "usage: koban rules lint [--no-default-rules] PATH...\n"
     "       koban rules list [--rules PATH]... [--no-default-rules] [-o table|csv|jsonl]\n"
     "       koban rules test [--no-default-rules] [--fieldmap FILE | --no-fieldmap]\n"
     "                        PATH...\n"
     "       koban rules install [--name NAME] [--force] DIR|ARCHIVE|URL\n"
     "\n"
     "  lint     load rule files or directories; report each failure as\n"
     "           path:line: reason; a correlation rule's references are looked\n"
     "           up in PATH and, unless --no-default-rules, in the default rules\n"
     "  list     id, title, level, status, logsource (correlation/TYPE for a\n"
     "           correlation rule) and path of every rule (koban's own and\n"
     "           --rules PATH)\n"
     "  test     run the test cases rules carry (a `tests:` key with `match:`\n"
     "           and `nomatch:` events, or for a correlation rule lists of\n"
     "           alerts; see docs/rules.md); a log record case also meets the\n"
     "           rule through the field map, as koban scan would\n"
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
     "usage: koban hunt [--since AGE] [--limit N] [-o table|jsonl|csv] [--explain]\n"
     "                  [--store DSN] QUERY\n"
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
     "  --limit N       list at most N events (default 1000, 0: all) unless the\n"
     "                  query says | head N; stats are never capped\n"
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
     "        (a file, or every file under a directory), with their observables;\n"
     "        without options, each source's store.retention (days) from the\n"
     "        configuration (see config/koban.yaml)\n",
     kb_cmd_store, NULL},
    {"assets", "import, list and show the asset inventory",
     "usage: koban assets import [--store DSN] FILE...\n"
     "       koban assets list [-o table|csv|jsonl] [--store DSN]\n"
     "       koban assets show [--at TIME] NAME|ADDRESS\n"
     "\n"
     "import  CSV (header row; columns name, addresses, mac, owner, department,\n"
     "        location, type, criticality, tags and aliases, NetBox exports too) or\n"
     "        JSON (array or one object per line); addresses as ADDR or\n"
     "        ADDR@FROM/TO (validity, for DHCP). Bad rows: file:line: reason.\n"
     "show    by host name, or by address at --at TIME (default: any time)\n"
     "\n"
     "Exit status: 0 ok, 1 some rows were bad or nothing found, 2 usage, 3 store.\n",
     kb_cmd_assets, NULL},
    {"vulns", "import scanner reports, list findings, show a host's",
     "usage: koban vulns import [--store DSN] FILE...\n"
     "       koban vulns list [-o table|csv|jsonl]\n"
     "       koban vulns show HOST\n"
     "\n"
     "import  Nessus (.nessus XML v2), OpenVAS/Greenbone XML reports, or CSV\n"
     "        (host, cve, cvss, name, port; Nessus/Tenable/OpenVAS exports). The\n"
     "        latest scan of each host replaces the earlier one. Informational\n"
     "        findings are skipped.\n",
     kb_cmd_vulns, NULL},
    {"triage", "turn alerts into incidents with a severity; explain one",
     "usage: koban triage [--since AGE] [--alerts FILE.jsonl] [--criteria FILE]\n"
     "                    [--store DSN] [--no-save] [--no-playbooks] [-q]\n"
     "       koban triage explain ID\n"
     "       koban triage policy check|install FILE\n"
     "\n"
     "Reads the store's alerts (or `koban scan -o jsonl` output with --alerts),\n"
     "groups them into incidents by entity and time window, types them, checks\n"
     "the CVEs they name against the vulnerability scans, and decides the\n"
     "severity and required actions per the criteria file (--criteria, else\n"
     "$KOBAN_CRITERIA, DATA/criteria.yaml, the shipped config/criteria.yaml).\n"
     "Incidents at or above the policy's notify level are marked for the CSIRT.\n"
     "A new incident of a type bound in the configuration (respond.bindings)\n"
     "starts its playbooks, once per incident (--no-playbooks: none).\n"
     "\n"
     "explain  every input and every policy line that produced the level\n"
     "policy   check a criteria file, or install it as DATA/criteria.yaml (a file\n"
     "         with an error is refused whole, naming the line)\n",
     kb_cmd_triage, NULL},
    {"incidents", "list the incidents, show one with its alerts, assets and severity",
     "usage: koban incidents list [--severity LEVEL] [-o table|csv|jsonl]\n"
     "       koban incidents show ID [-o jsonl]\n",
     kb_cmd_incidents, NULL},
    {"intel", "threat intelligence: import feeds, list, export, retro-hunt",
     "usage: koban intel import [--format stix|misp|csv|list|json|taxii] [--feed NAME]\n"
     "                          [--columns ROLES] [--confidence N] [--threat TYPE] [--all]\n"
     "                          FILE|DIR|URL...\n"
     "       koban intel list [--kind KIND] [--feed NAME] [-o table|csv|jsonl]\n"
     "       koban intel show VALUE...\n"
     "       koban intel expire [--older 90d] [--purge] [--feed NAME] [--kind KIND]\n"
     "                          [--now TIME]\n"
     "       koban intel feeds\n"
     "       koban intel add VALUE... [--feed internal] [--ref incident:ID] [--kind KIND]\n"
     "                       [--confidence N] [--threat TYPE] [--valid-for 30d]\n"
     "       koban intel export --format stix|misp|csv|nft|iplist|domainlist|rpz|suricata\n"
     "                          [--name NAME] [--sid-base N] [--include-expired] [--output FILE]\n"
     "       koban intel hunt [--since 30d] [--all]\n"
     "\n"
     "  import  STIX 2.1 bundles, MISP events or feed directories (manifest.json),\n"
     "          CSV and plain lists (--columns value,threat,... maps columns),\n"
     "          ThreatFox/CrowdSec JSON, TAXII 2.1 collection URLs (incremental with\n"
     "          added_after; password in $KOBAN_TAXII_PASSWORD, --user NAME).\n"
     "          Re-importing a feed changes nothing. Bad objects are reported as\n"
     "          FILE: where: reason and the rest imported.\n"
     "  list, show, expire, feeds   what the store holds (expired indicators stay,\n"
     "          they no longer match)\n"
     "  add     internal indicators, from the company's own incidents\n"
     "  export  bundles and deployable block lists and Suricata rules (sids from\n"
     "          --sid-base or intel.suricata in the configuration)\n"
     "  hunt    look for indicators added since the last hunt in the stored\n"
     "          observables and raise an alert per past sighting\n"
     "\n"
     "Configuration (koban.yaml, section intel): allowlist: [values, CIDRs,\n"
     "'*.domains'] never alert; suricata: {sid_base: N, sid_max: N};\n"
     "default_confidence: N for feeds that carry none.\n"
     "Options: --store DSN as for 'koban load'.\n"
     "\n"
     "Exit status: 0 ok, 1 something was rejected or not found, 2 usage, 3 store error.\n",
     kb_cmd_intel, NULL},
    {"playbook", "run triage playbooks: lint, show, run, pending, answer, timeline",
     "usage: koban playbook lint FILE...\n"
     "       koban playbook list | show NAME [--dot]\n"
     "       koban playbook run NAME --incident ID|--incident-file FILE [--dry-run]\n"
     "                              [--connectors FILE]\n"
     "       koban playbook pending [--json] | answer RUN STEP VALUE | resume RUN\n"
     "       koban playbook timeline RUN|--incident ID [--json] | tick\n"
     "\n"
     "Playbooks come from --dir DIR, $KOBAN_PLAYBOOKS, DATA/playbooks or ./playbooks.\n"
     "Runs are kept in the store step by step; a killed run resumes with 'resume'.\n"
     "--connectors FILE (or $KOBAN_RESPOND_CONFIG): connectors and notification\n"
     "channels (see docs/playbooks.md); without it every action is a dry run.\n"
     "tick rolls back expired blocks and records SLA breaches.\n",
     kb_cmd_playbook, NULL},
    {"actions", "first-response actions: list, show, approve, deny, rollback",
     "usage: koban actions list [--json] | show ID | approve ID | deny ID | rollback ID\n"
     "\n"
     "Every action and rollback is in the append-only audit log with the exact\n"
     "command or request (secrets masked), who asked and who approved.\n"
     "After approve, continue the run with 'koban playbook resume RUN'.\n",
     kb_cmd_actions, NULL},
    {"tune", "suppress, rate-limit and re-level rules; per-rule statistics and advice",
     "usage: koban tune except add --rule ID|TITLE [--type suppress|limit|level]\n"
     "                  [--by source|destination|host|user] [--value V] [--window 1h]\n"
     "                  [--level LEVEL] --reason TEXT [--author NAME] [--expires 30d|never]\n"
     "       koban tune except list [--all] [-o table|csv]\n"
     "       koban tune except rm ID [--reason TEXT]\n"
     "       koban tune report [--since 30d] [-o table|jsonl]\n"
     "       koban tune apply [--since 30d] [--rule ID]... [--overrides FILE]\n"
     "\n"
     "Analyst exceptions are kept in the store with their reason, author and expiry\n"
     "(removing one records who removed it); koban scan applies them with the\n"
     "configuration's suppress: section and the overrides file (DATA/overrides.yaml).\n"
     "Suppressed alerts are counted, and stored flagged with --store.\n"
     "report: per rule the alerts, hosts, sources and analysts' verdicts since the\n"
     "given time, a recommendation with its evidence (raise rarely firing, mostly\n"
     "right rules; suppress, lower or leave to correlation noisy, mostly wrong ones)\n"
     "and the notifications (medium and above) under the recommendations.\n"
     "apply: appends the recommendations (all, or --rule ones) to the overrides file.\n"
     "  --store DSN   the store (default $KOBAN_STORE, else DATA/koban.db)\n",
     kb_cmd_tune, NULL},
    {"verdict", "record an analyst's verdict on an incident (tp, fp or benign)",
     "usage: koban verdict ID tp|fp|benign [--reason TEXT] [--author NAME] [--store DSN]\n"
     "\n"
     "Records the verdict (the latest counts) for koban tune report, which credits\n"
     "every rule of the incident with it.\n",
     kb_cmd_verdict, NULL},
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
