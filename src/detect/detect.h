/* koban detection: Sigma rules loaded, compiled and matched over events.
 *
 * A ruleset holds compiled Sigma rules (specification 2.x). Each rule
 * compiles to plain data that a fast matcher can gather across rules:
 *
 *   - a list of predicates (kb_sigma_pred): one per detection item, i.e.
 *     one field with its modifier chain, its values after the value
 *     transformations (windash, base64, utf16, expand, ...) and its flags;
 *   - a condition program (kb_sigma_op) in postfix order over predicate
 *     indices: the detection's selections and the `condition:` folded into
 *     one boolean expression (list of maps -> OR of ANDs, `1 of x*` -> OR,
 *     `all of` -> AND, a list of conditions -> OR, filters -> AND).
 *
 * kb_sigma_program_eval decides a rule from predicate results, so a fast
 * engine computes predicate hits its own way (e.g. one Hyperscan database
 * per field) and reuses the program. kb_sigma_pred_match is the reference
 * predicate evaluator; kb_ruleset_match applies both to an event.
 *
 * Matching semantics (documented choices where the specification leaves
 * room):
 *   - strings compare whole, case-insensitively (ASCII) unless `cased`;
 *     `*` and `?` are wildcards, `\*` `\?` `\\` escape them, any other
 *     backslash is literal; `?` matches one UTF-8 character. Values are
 *     compared exactly: no trimming, so trailing spaces matter on both sides.
 *   - a plain integer in the rule (EventID: 4688) compares numerically with a
 *     field that reads as an integer, and as text otherwise.
 *   - `field: null` matches when the field is absent or a JSON null; an empty
 *     string is not null (rules write `''` separately for that).
 *   - keywords (values without a field) match when any string or number
 *     value of the event contains them (implicit `*` on both sides).
 *   - array fields match when any element matches.
 *   - a rule field absent from the event falls back to an event field whose
 *     name equals it once spaces are removed (Windows renders Defender's
 *     "Source Name" where rules write SourceName); a fast engine must do
 *     the same or map the names at decode time.
 *   - `re` is case-sensitive unless `|i`; PCRE2 with JIT and match/depth
 *     limits, a regex that hits a limit does not match (counted).
 *   - `expand` placeholders without a value (no placeholder file, or the
 *     name missing from it) match nothing.
 *   - `neq` matches when no value of the field equals any of the values
 *     (also when the field is absent).
 *
 * Threading: a loaded ruleset is read-only; kb_ruleset_match may run from
 * several threads at once on different events. */
#ifndef KB_DETECT_H
#define KB_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "event/event.h"

/* ---- modifiers --------------------------------------------------------- */

/* X(ENUM, "name"): one bit per modifier in kb_sigma_pred.mods. The table
 * with each modifier's behaviour and doc is in sigma-modifiers.c. */
#define KB_SIGMA_MOD_MAP(X)                                                  \
    X(CONTAINS, "contains") X(STARTSWITH, "startswith") X(ENDSWITH, "endswith") \
    X(ALL, "all") X(EXISTS, "exists") X(CASED, "cased") X(NEQ, "neq")        \
    X(WINDASH, "windash") X(RE, "re") X(RE_I, "i") X(RE_M, "m") X(RE_S, "s") \
    X(BASE64, "base64") X(BASE64OFFSET, "base64offset") X(UTF16LE, "utf16le") \
    X(UTF16BE, "utf16be") X(UTF16, "utf16") X(WIDE, "wide") X(LT, "lt")       \
    X(LTE, "lte") X(GT, "gt") X(GTE, "gte") X(MINUTE, "minute")              \
    X(HOUR, "hour") X(DAY, "day") X(WEEK, "week") X(MONTH, "month")          \
    X(YEAR, "year") X(CIDR, "cidr") X(EXPAND, "expand") X(FIELDREF, "fieldref")

enum {
#define KB_SIGMA_MOD_ENUM(e, name) KB_SM_##e##_BIT,
    KB_SIGMA_MOD_MAP(KB_SIGMA_MOD_ENUM)
#undef KB_SIGMA_MOD_ENUM
    KB_SM_COUNT
};
#define KB_SM(e) (UINT64_C(1) << KB_SM_##e##_BIT)

typedef struct kb_sigma_mod_info {
    const char *name;
    const char *doc;
} kb_sigma_mod_info;

/* The modifier table for help and docs: *n rows. */
const kb_sigma_mod_info *kb_sigma_modifiers(size_t *n);

/* ---- compiled rules (plain data) --------------------------------------- */

/* How a predicate compares. */
enum kb_sigma_op_kind {
    KB_SP_STR,      /* string pattern (wildcards, position from contains/...) */
    KB_SP_RE,       /* PCRE2 regex */
    KB_SP_CIDR,     /* address within a network */
    KB_SP_NUM,      /* numeric comparison (lt/lte/gt/gte), maybe over a time part */
    KB_SP_EXISTS,   /* field presence (value true/false) */
    KB_SP_NULL,     /* field absent or null */
    KB_SP_FIELDREF, /* equal to (or contains/starts/ends with) another field */
};

/* Pattern tokens: 0..255 a literal byte; these special tokens follow. */
#define KB_SIGMA_TOK_STAR 256  /* any run of bytes */
#define KB_SIGMA_TOK_QMARK 257 /* one UTF-8 character */
#define KB_SIGMA_TOK_DASH 258  /* windash: - / U+2013 U+2014 U+2015 */

enum { KB_SV_CMP_EQ, KB_SV_CMP_LT, KB_SV_CMP_LTE, KB_SV_CMP_GT, KB_SV_CMP_GTE };

typedef struct kb_sigma_val {
    /* KB_SP_STR: tokens of the full pattern (contains/startswith/endswith
     * already added their `*`); lit/litlen the literal bytes when the pattern
     * has no wildcard inside (anchor tells where: 0 exact, 1 prefix, 2 suffix,
     * 3 substring), else lit is NULL. Case-insensitive patterns are stored
     * lower-cased (ASCII). */
    uint16_t *tok;
    uint32_t ntok;
    uint8_t anchor;
    uint8_t is_int;  /* the rule wrote a plain integer: compare numerically */
    uint8_t never;   /* matches nothing (unresolved expand placeholder) */
    uint8_t isnull;  /* the rule wrote null: field absent or null */
    uint32_t group;  /* values of one group came from one rule value
                        (base64offset, expand); `all` ANDs groups, ORs within */
    const char *lit;
    size_t litlen;
    int64_t ival;
    /* KB_SP_NUM */
    double num;
    /* KB_SP_RE */
    void *re; /* pcre2_code_8 * */
    /* KB_SP_CIDR: family 4 or 6, network bytes, prefix bits */
    uint8_t family, prefix;
    uint8_t net[16];
    /* KB_SP_FIELDREF */
    kb_fid ref;
    /* KB_SP_EXISTS: 1 for exists: true */
    uint8_t want;
} kb_sigma_val;

typedef struct kb_sigma_pred {
    kb_fid field;           /* KB_FID_NONE: keyword (any value of the event) */
    const char *field_name; /* NULL for keywords */
    uint64_t mods;          /* KB_SM(...) bits as written */
    uint8_t kind;           /* enum kb_sigma_op_kind */
    uint8_t cmp;            /* KB_SV_CMP_* for KB_SP_NUM */
    uint8_t timepart;       /* 0, or KB_SM_MINUTE_BIT.. KB_SM_YEAR_BIT + 1 */
    uint8_t all;            /* values AND instead of OR */
    uint8_t cased;          /* case-sensitive */
    uint8_t neq;            /* negated */
    uint32_t line;          /* line of the detection item in the rule file */
    uint32_t nvals;
    kb_sigma_val *vals;
} kb_sigma_pred;

/* Condition program, postfix. */
enum {
    KB_SOP_PRED, /* push pred[arg] */
    KB_SOP_AND,  /* pop n, push AND */
    KB_SOP_OR,   /* pop n, push OR */
    KB_SOP_NOT,  /* pop 1, push NOT */
    KB_SOP_NOF,  /* pop n, push (count true >= arg) */
};

typedef struct kb_sigma_op {
    uint32_t op;
    uint32_t arg;
    uint32_t n;
} kb_sigma_op;

/* Evaluation stack the program may need at most (refused past it). */
#define KB_SIGMA_MAX_STACK 256

/* Runs a rule's program over predicate results (hits[i] != 0: predicate i
 * true). Returns 1 or 0. */
int kb_sigma_program_eval(const kb_sigma_op *prog, size_t nops, const uint8_t *hits);

/* The reference predicate evaluator: 1 when ev satisfies p. */
int kb_sigma_pred_match(const kb_sigma_pred *p, const kb_event *ev);

/* ---- rules ------------------------------------------------------------- */

typedef struct kb_rule kb_rule;

typedef struct kb_rule_meta {
    const char *id, *title, *level, *status, *author, *description;
    const char *date, *modified;
    const char *const *tags; /* NULL-terminated lists (never NULL) */
    const char *const *references;
    const char *const *falsepositives;
    kb_logsource ls; /* product/category/service as written, NULL if absent */
    const char *path; /* file the rule came from */
    uint32_t line;    /* line of its document start (title) */
    const char *fieldmap; /* a variant compiled for a field-map source: the
                             source's name (ls is then the source's); else NULL */
} kb_rule_meta;

const kb_rule_meta *kb_rule_meta_of(const kb_rule *r);
const kb_sigma_pred *kb_rule_preds(const kb_rule *r, size_t *n);
const kb_sigma_op *kb_rule_program(const kb_rule *r, size_t *n);
/* The reference evaluator for one rule over one event (logsource not
 * checked). */
int kb_rule_match(const kb_rule *r, const kb_event *ev);
/* 1 when the rule's logsource applies to an event with logsource ls: each
 * of product/category/service the rule names equals ls's (case-insensitive).
 * Unions: category registry_event covers registry_add, registry_set,
 * registry_rename and registry_delete. */
int kb_rule_logsource_applies(const kb_rule *r, const kb_logsource *ls);

/* ---- rulesets ---------------------------------------------------------- */

typedef struct kb_ruleset kb_ruleset;

/* Called once per rule (or file) that fails to load: "path:line: reason" is
 * given already formatted in msg, and as parts. */
typedef void (*kb_rule_error_fn)(void *ud, const char *path, uint32_t line,
                                 const char *reason, const char *msg);

/* A ruleset interns rule field names in names (borrowed; must outlive it). */
kb_ruleset *kb_ruleset_new(kb_names *names);
void kb_ruleset_free(kb_ruleset *rs);

/* Loads %name% placeholder values for `expand` from a YAML mapping
 * (name: value or name: [values]); names with or without the %...%. Load it
 * before the rules. KB_EPARSE with err set (static string) on a bad file. */
int kb_ruleset_load_placeholders(kb_ruleset *rs, const char *path, const char **err);

/* Loads the rules of one YAML file (several documents allowed; filter
 * documents apply to the rules they name, loaded before or after). Returns
 * the number of rules that failed (each reported through fn, which may be
 * NULL), or a negative KB_E* code when the file cannot be read at all (also
 * reported). */
int kb_ruleset_load_file(kb_ruleset *rs, const char *path, kb_rule_error_fn fn, void *ud);
/* Loads every *.yml / *.yaml under dir (recursively, sorted, iteratively
 * without recursion). Returns failures as above. */
int kb_ruleset_load_dir(kb_ruleset *rs, const char *dir, kb_rule_error_fn fn, void *ud);
/* Loads rules from a buffer (path only names them in messages). */
int kb_ruleset_load_mem(kb_ruleset *rs, const char *path, const char *p, size_t len,
                        kb_rule_error_fn fn, void *ud);

size_t kb_ruleset_count(const kb_ruleset *rs);
const kb_rule *kb_ruleset_rule(const kb_ruleset *rs, size_t i);
/* First rule with this id, or NULL. */
const kb_rule *kb_ruleset_find(const kb_ruleset *rs, const char *id);

/* Calls fn for each rule matching ev (the reference evaluator), in load
 * order; fn returns nonzero to stop. When check_ls is set, rules whose
 * logsource does not apply to ev->ls are skipped. Returns the number of
 * matches. */
typedef int (*kb_rule_match_fn)(void *ud, const kb_rule *r, const kb_event *ev);
size_t kb_ruleset_match(const kb_ruleset *rs, const kb_event *ev, int check_ls,
                        kb_rule_match_fn fn, void *ud);

/* ---- field mapping (fieldmap.c; format in config/fieldmap.yaml) -------- */

/* A field map: per event source (the logsource its decoder gives), the
 * rule field names that source carries under other names, and the rule
 * logsources the source also serves. Applied to a loaded ruleset at compile
 * time (kb_ruleset_apply_fieldmap), so matching costs nothing per event. */
typedef struct kb_fieldmap kb_fieldmap;

kb_fieldmap *kb_fieldmap_new(void);
void kb_fieldmap_free(kb_fieldmap *fm);
/* Loads sources from a YAML file/buffer. A bad source is reported through
 * fn ("path:line: reason") and skipped, the rest load. Returns the number
 * of errors, or a negative KB_E* code when the file cannot be read. */
int kb_fieldmap_load_file(kb_fieldmap *fm, const char *path, kb_rule_error_fn fn, void *ud);
int kb_fieldmap_load_mem(kb_fieldmap *fm, const char *path, const char *p, size_t len,
                         kb_rule_error_fn fn, void *ud);
/* Number of sources loaded. */
size_t kb_fieldmap_count(const kb_fieldmap *fm);

typedef struct kb_fieldmap_stats {
    size_t aliased_rules; /* rules rewritten in place (mapped names added) */
    size_t variants;      /* rule variants added for sources they serve */
    size_t mapped_preds;  /* predicates that read a mapped name */
} kb_fieldmap_stats;

/* Applies fm to every rule of rs (call once, after all rules and filters
 * are loaded, before kb_engine_new). A rule whose logsource applies to a
 * source's events gets the mapped names beside its own on each mapped
 * predicate; a rule whose logsource the source serves gets a variant
 * (appended to rs, same metadata, meta.fieldmap set, logsource = the
 * source's) reading the mapped names. A rule the map cannot be applied to
 * (too large once mapped) is reported through fn and left as it was.
 * Returns the number of such failures. */
int kb_ruleset_apply_fieldmap(kb_ruleset *rs, const kb_fieldmap *fm, kb_fieldmap_stats *st,
                              kb_rule_error_fn fn, void *ud);

/* Regex evaluations that hit PCRE2's match limit (process-wide count). */
uint64_t kb_sigma_regex_limit_hits(void);

/* ---- condition parser (exposed for tests and fuzzing) ------------------ */

/* Parses a Sigma condition over selection names names[0..nnames) into a
 * postfix program whose KB_SOP_PRED ops refer to selection indices (the
 * loader substitutes each selection's own program). Returns KB_OK, or
 * KB_EPARSE / KB_ELIMIT with *err a static reason. The caller frees *out
 * with kb_free. Iterative; nesting deeper than 64 is refused. */
int kb_sigma_cond_parse(const char *cond, size_t len, const char *const *names, size_t nnames,
                        kb_sigma_op **out, size_t *nops, const char **err);

#endif
