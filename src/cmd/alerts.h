/* What `koban scan` and `koban rules` share: where koban's rules live,
 * loading rule paths with every failure reported, rule levels, and the
 * rendering of one alert (the rule's fields that the event carries). */
#ifndef KB_CMD_ALERTS_H
#define KB_CMD_ALERTS_H

#include <stdio.h>

#include "base/base.h"
#include "cmd/cmd.h"
#include "detect/detect.h"

/* ---- rule levels ------------------------------------------------------- */

enum { KB_LEVEL_INFO, KB_LEVEL_LOW, KB_LEVEL_MEDIUM, KB_LEVEL_HIGH, KB_LEVEL_CRITICAL,
       KB_LEVEL_COUNT };

/* "informational", "low", ... "critical" (case-insensitive) to KB_LEVEL_*,
 * or -1. A rule without a level counts as informational (see kb_rule_level). */
int kb_level_parse(const char *s);
const char *kb_level_name(int level);
/* The level of a rule; informational when absent or unknown. */
int kb_rule_level(const kb_rule *r);

/* ---- rule directories -------------------------------------------------- */

/* Finds the directory of the rules koban ships: $KOBAN_RULES when set,
 * else the share directory beside the executable (<prefix>/bin/koban ->
 * <prefix>/share/koban/rules), else the source tree of a build directory
 * (<repo>/build-x/koban -> <repo>/rules). Writes the path into out (cleared
 * first) and returns KB_OK, or KB_ENOENT when none exists. */
int kb_rules_shipped_dir(kb_buf *out);

/* Where `koban rules install` puts rule sets: <data dir>/rules. */
void kb_rules_installed_dir(const kb_cli *cli, kb_buf *out);

/* Counts and prints rule failures as "path:line: reason" on f. */
typedef struct kb_rule_report {
    FILE *f;         /* where messages go (NULL: nowhere) */
    unsigned failed; /* rules or files that failed */
} kb_rule_report;

/* A kb_rule_error_fn over a kb_rule_report. */
void kb_rule_report_fn(void *ud, const char *path, uint32_t line, const char *reason,
                       const char *msg);

/* Loads a rule file or a directory of rules (recursively) into rs,
 * reporting through rep. Returns KB_OK, or KB_ENOENT when path does not
 * exist (reported too). */
int kb_rules_load_path(kb_ruleset *rs, const char *path, kb_rule_report *rep);

/* Loads the default rules: the shipped directory, and every rule set
 * installed under <data dir>/rules (unless $KOBAN_RULES is set, which then
 * names the only default). Returns the number of directories loaded (0:
 * none found). */
int kb_rules_load_default(const kb_cli *cli, kb_ruleset *rs, kb_rule_report *rep);

/* The field map (detect.h) for scan and `rules test`: `given` (--fieldmap),
 * else `detect: fieldmap:` of the configuration, else <data dir>/fieldmap.yaml,
 * else the shipped config/fieldmap.yaml; applied to rs (loaded rules). The
 * file used is written to `used` (empty: none found, rules stay as
 * written). Bad entries are reported through rep and skipped. Returns KB_OK,
 * KB_EPARSE for a bad configuration file, or a negative KB_E* code when the
 * map file cannot be read. */
int kb_cmd_fieldmap_apply(const kb_cli *cli, const char *given, kb_ruleset *rs,
                          kb_rule_report *rep, kb_fieldmap_stats *st, kb_buf *used);
/* The same lookup, loading only: *out is the map (NULL when none is found;
 * free with kb_fieldmap_free). */
int kb_cmd_fieldmap_load(const kb_cli *cli, const char *given, kb_rule_report *rep,
                         kb_fieldmap **out, kb_buf *used);

/* ---- one alert --------------------------------------------------------- */

/* Appends "Field: value | Field: value" for the fields rule r names that ev
 * carries (each field once, values cut to a readable width) to text, and
 * the same as a JSON object {"Field":"value",...} (values whole) to json.
 * Either buffer may be NULL. */
void kb_alert_matched(const kb_rule *r, const kb_event *ev, kb_buf *text, kb_buf *json);

/* Appends a JSON array of the NULL-terminated list to b. */
void kb_alert_put_list(kb_buf *b, const char *const *list);

#endif
