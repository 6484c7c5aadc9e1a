/* The fast Sigma engine: unit tests on crafted rules, and the differential
 * test against the reference evaluator over all of ../shared/data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "detect/engine.h"
#include "detect/sigma-int.h"
#include "event/json.h"
#include "ingest/decoders.h"
#include "ingest/ingest.h"

#define SIGMA KOBAN_SHARED_DATA "/sigma"
#define REGR KOBAN_SHARED_DATA "/sigma-regression"
#define WINEVT KOBAN_SHARED_DATA "/windows-events/hayabusa_sample_evtx.jsonl"
#define LOGS KOBAN_SHARED_DATA "/logs"

/* ---- helpers ------------------------------------------------------------ */

typedef struct hitlist {
    const kb_rule *r[4096];
    size_t n;
} hitlist;

static int on_engine_hit(const kb_rule *r, const kb_event *ev, void *ud)
{
    hitlist *h = ud;
    (void)ev;
    if (h->n < 4096)
        h->r[h->n++] = r;
    return 0;
}

static int on_ref_hit(void *ud, const kb_rule *r, const kb_event *ev)
{
    return on_engine_hit(r, ev, ud);
}

static void on_err(void *ud, const char *path, uint32_t line, const char *reason, const char *msg)
{
    (void)ud;
    (void)path;
    (void)line;
    (void)reason;
    fprintf(stderr, "  load failure: %s\n", msg);
}

typedef struct fixture {
    kb_names *names;
    kb_arena *arena;
    kb_ruleset *rs;
    kb_engine *e;
    kb_engine_scratch *s;
} fixture;

/* Loads rules from a YAML text and compiles the engine. */
static void fx_rules(fixture *fx, const char *yaml)
{
    const char *err = NULL;
    fx->names = kb_names_new(0);
    fx->arena = kb_arena_new(1 << 16, 16u << 20);
    fx->rs = kb_ruleset_new(fx->names);
    assert_int_equal(kb_ruleset_load_mem(fx->rs, "test.yml", yaml, strlen(yaml), on_err, NULL), 0);
    fx->e = kb_engine_new(fx->rs, &err);
    assert_non_null(fx->e);
    fx->s = kb_engine_scratch_new(fx->e);
    assert_non_null(fx->s);
}

static void fx_free(fixture *fx)
{
    kb_engine_scratch_free(fx->s);
    kb_engine_free(fx->e);
    kb_ruleset_free(fx->rs);
    kb_arena_free(fx->arena);
    kb_names_free(fx->names);
}

/* Matches one JSON event (logsource windows/process_creation unless the
 * product is given) with both evaluators; asserts they agree and returns
 * the number of engine matches, hits in *h. */
static int fx_match(fixture *fx, const char *json, const char *category, hitlist *h)
{
    kb_event ev;
    kb_json_error je;
    hitlist ref = {.n = 0};
    int n;
    kb_arena_clear(fx->arena);
    kb_event_init(&ev, fx->names, fx->arena);
    assert_int_equal(kb_json_flatten(&ev, json, strlen(json), NULL, &je), KB_OK);
    ev.ls.product = "windows";
    ev.ls.category = category;
    h->n = 0;
    n = kb_engine_match(fx->e, fx->s, &ev, on_engine_hit, h);
    kb_ruleset_match(fx->rs, &ev, 1, on_ref_hit, &ref);
    assert_int_equal((size_t)n, h->n);
    assert_int_equal(ref.n, h->n);
    for (size_t i = 0; i < h->n; i++)
        assert_ptr_equal(ref.r[i], h->r[i]);
    return n;
}

/* The same with one string field given as raw bytes (invalid UTF-8 is
 * possible here, not through JSON). */
static int fx_match_field(fixture *fx, const char *name, const char *val, hitlist *h)
{
    kb_event ev;
    hitlist ref = {.n = 0};
    int n;
    kb_arena_clear(fx->arena);
    kb_event_init(&ev, fx->names, fx->arena);
    assert_true(kb_event_add_named(&ev, name, strlen(name), KB_V_STR, val, strlen(val)) >= 0);
    ev.ls.product = "windows";
    ev.ls.category = "process_creation";
    h->n = 0;
    n = kb_engine_match(fx->e, fx->s, &ev, on_engine_hit, h);
    kb_ruleset_match(fx->rs, &ev, 1, on_ref_hit, &ref);
    assert_int_equal((size_t)n, h->n);
    assert_int_equal(ref.n, h->n);
    for (size_t i = 0; i < h->n; i++)
        assert_ptr_equal(ref.r[i], h->r[i]);
    return n;
}

static const char *title_of(const hitlist *h, size_t i)
{
    return kb_rule_meta_of(h->r[i])->title;
}

/* ---- unit tests --------------------------------------------------------- */

static const char *RULES =
    "title: r0 contains\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|contains: 'mimikatz'\n"
    "  condition: sel\n"
    "---\n"
    "title: r1 startswith endswith\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    Image|endswith: '\\cmd.exe'\n"
    "    ParentImage|startswith: 'C:\\Windows\\'\n"
    "  filter:\n"
    "    User|contains: 'SYSTEM'\n"
    "  condition: sel and not filter\n"
    "---\n"
    "title: r2 all and wildcards\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|contains|all: ['-enc', 'hidden']\n"
    "    Image: '*\\power?hell.exe'\n"
    "  condition: sel\n"
    "---\n"
    "title: r3 eventid\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  sel:\n"
    "    EventID: 4625\n"
    "  condition: sel\n"
    "---\n"
    "title: r4 null and exists\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    Image|endswith: '\\x.exe'\n"
    "  filter:\n"
    "    OriginalFileName: null\n"
    "  condition: sel and not filter\n"
    "---\n"
    "title: r5 always on absence\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    Hashes|exists: true\n"
    "  condition: not sel\n"
    "---\n"
    "title: r6 windash cased\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|windash|contains: ' -urlcache '\n"
    "    Company|cased: 'Evil Corp'\n"
    "  condition: sel\n"
    "---\n"
    "title: r7 spaced field name\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    SourceName: 'Defender'\n"
    "  condition: sel\n"
    "---\n"
    "title: r8 keywords and regex\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  kw:\n"
    "    - 'needle'\n"
    "  re:\n"
    "    CommandLine|re: 'a[0-9]+z'\n"
    "  condition: kw or re\n";

static void unit_basics(void **state)
{
    fixture fx;
    hitlist h;
    kb_engine_stats st;
    (void)state;
    fx_rules(&fx, RULES);
    kb_engine_stats_get(fx.e, &st);
    assert_int_equal(st.rules, 9);
    /* the regex prefilter; sets of a few literals are searched without a
     * database (LIT_FEW), their literals still count as patterns */
    assert_true(st.hs_databases >= 1);
    assert_true(st.hs_patterns >= 8);

    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x MimiKatz y\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_string_equal(title_of(&h, 0), "r0 contains");
    /* wrong logsource: nothing */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"mimikatz\",\"Hashes\":\"a\"}",
                              "file_event", &h), 0);
    /* r1: sel and not filter */
    assert_int_equal(fx_match(&fx,
                              "{\"Image\":\"C:\\\\x\\\\CMD.EXE\",\"ParentImage\":\"c:\\\\windows\\\\"
                              "explorer.exe\",\"User\":\"bob\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_string_equal(title_of(&h, 0), "r1 startswith endswith");
    assert_int_equal(fx_match(&fx,
                              "{\"Image\":\"C:\\\\x\\\\CMD.EXE\",\"ParentImage\":\"c:\\\\windows\\\\"
                              "explorer.exe\",\"User\":\"NT AUTHORITY\\\\SYSTEM\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    /* r2: all values, ? wildcard over one UTF-8 character */
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"-w HIDDEN -enc AAA\",\"Image\":\"C:\\\\powershell.exe\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"-w HIDDEN\",\"Image\":\"C:\\\\powershell.exe\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"-enc hidden\",\"Image\":\"C:\\\\power\xc3\xa9hell.exe\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"-enc hidden\",\"Image\":\"C:\\\\powerhell.exe\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    /* r4: null filter; r5: true when Hashes is absent */
    assert_int_equal(fx_match(&fx, "{\"Image\":\"C:\\\\x.exe\"}", "process_creation", &h), 1);
    assert_string_equal(title_of(&h, 0), "r5 always on absence");
    assert_int_equal(fx_match(&fx, "{\"Image\":\"C:\\\\x.exe\",\"OriginalFileName\":\"x\"}",
                              "process_creation", &h), 2);
    assert_string_equal(title_of(&h, 0), "r4 null and exists");
    /* r6: windash accepts /, en dash; cased */
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"certutil /urlcache -f\",\"Company\":\"Evil Corp\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"certutil \xe2\x80\x93urlcache -f\",\"Company\":\"Evil "
                              "Corp\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_int_equal(fx_match(&fx,
                              "{\"CommandLine\":\"certutil /urlcache -f\",\"Company\":\"evil corp\","
                              "\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    /* r7: "Source Name" stands in for SourceName when absent */
    assert_int_equal(fx_match(&fx, "{\"Source Name\":\"defender\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_string_equal(title_of(&h, 0), "r7 spaced field name");
    assert_int_equal(fx_match(&fx, "{\"Source Name\":\"defender\",\"SourceName\":\"x\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    /* r8: keyword anywhere, regex */
    assert_int_equal(fx_match(&fx, "{\"Foo\":\"a Needle b\",\"Hashes\":\"a\"}", "process_creation",
                              &h), 1);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"xa123zx\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    assert_string_equal(title_of(&h, 0), "r8 keywords and regex");
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"xa12Zx\",\"Hashes\":\"a\"}",
                              "process_creation", &h), 0);
    /* arrays: any element */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":[\"a\",\"b mimikatz\"],\"Hashes\":\"a\"}",
                              "process_creation", &h), 1);
    fx_free(&fx);
}

/* The fast paths behind the engine: regexes prefiltered by their literal
 * runs or by Hyperscan (confirmed by PCRE2, also its match limit), short
 * literals, windash variants, cased keys, caseless k/s in regexes, invalid
 * UTF-8, and per-logsource pattern sets. Each case is checked against the
 * reference by fx_match as well as against a fixed count. */
static const char *RULES2 =
    "title: q0 regex with a long literal\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|re: 'invoke-[a-z]+expression'\n"
    "  condition: sel\n"
    "---\n"
    "title: q1 regex without literal\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|re: '\\s-[FTd]\\s'\n"
    "  condition: sel\n"
    "---\n"
    "title: q2 regex runs in order\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|re: '\\+.*\\+.*\\+.*\\+'\n"
    "  condition: sel\n"
    "---\n"
    "title: q3 caseless regex with k\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|re|i: 'mask[0-9]'\n"
    "  condition: sel\n"
    "---\n"
    "title: q4 short literals\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    ParentCommandLine|contains:\n"
    "      - ' /c'\n"
    "      - 'zq'\n"
    "      - '%'\n"
    "  condition: sel\n"
    "---\n"
    "title: q5 wildcard key confirm\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine: '*/AppData/*/Temp/?.exe*'\n"
    "  condition: sel\n"
    "---\n"
    "title: q6 cased suffix\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    Image|endswith|cased: '\\Tool.EXE'\n"
    "  condition: sel\n"
    "---\n"
    "title: q7 other logsource\n"
    "logsource: {product: windows, category: file_event}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|contains: 'mimikatz'\n"
    "  condition: sel\n"
    "---\n"
    "title: q8 windash two dashes\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|windash|contains: ' -a -b '\n"
    "  condition: sel\n";

/* The scratch's hit states carry a generation that wraps: a hit left from
 * 65,536 events earlier must not count in the event being matched. */
static void unit_generations(void **state)
{
    fixture fx;
    hitlist h;
    kb_event ev;
    kb_json_error je;
    const char *filler = "{\"Image\":\"C:\\\\y.exe\",\"Hashes\":\"a\"}";
    (void)state;
    fx_rules(&fx, RULES);
    for (int round = 0; round < 3; round++) {
        /* r2 needs both "-enc" and "hidden": one of them now, ... */
        assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x -enc y\",\"Image\":\"C:\\\\powershell.exe\","
                                       "\"Hashes\":\"a\"}",
                                  "process_creation", &h), 0);
        /* ... 65,535 events without a CommandLine ... */
        kb_arena_clear(fx.arena);
        kb_event_init(&ev, fx.names, fx.arena);
        assert_int_equal(kb_json_flatten(&ev, filler, strlen(filler), NULL, &je), KB_OK);
        ev.ls.product = "windows";
        ev.ls.category = "process_creation";
        for (int i = 0; i < 65535; i++)
            assert_int_equal(kb_engine_match(fx.e, fx.s, &ev, NULL, NULL), 0);
        /* ... then both (a stale hit state of the watched Image predicate
         * would keep the rule from being woken up) ... */
        assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"-enc hidden\",\"Image\":\"C:\\\\powershell.exe\","
                                       "\"Hashes\":\"a\"}",
                                  "process_creation", &h), 1);
        /* ... and the other one alone: no match */
        assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x hidden y\",\"Image\":\"C:\\\\powershell.exe\","
                                       "\"Hashes\":\"a\"}",
                                  "process_creation", &h), 0);
    }
    fx_free(&fx);
}

static void unit_fastpaths(void **state)
{
    fixture fx;
    hitlist h;
    const char *pc = "process_creation";
    (void)state;
    fx_rules(&fx, RULES2);
    /* q0: literal key "expression" then PCRE2 */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"Invoke-XExpression\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x invoke-abcexpression y\"}", pc,
                              &h), 1);
    assert_string_equal(title_of(&h, 0), "q0 regex with a long literal");
    /* q1: Hyperscan prefilter (valid UTF-8) or every id hits (invalid) */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"ls -T x\"}", pc, &h), 1);
    assert_string_equal(title_of(&h, 0), "q1 regex without literal");
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"ls -t x\"}", pc, &h), 0);
    assert_int_equal(fx_match_field(&fx, "CommandLine", "\xff ls -d x", &h), 1);
    assert_int_equal(fx_match_field(&fx, "CommandLine", "\xff ls -x x", &h), 0);
    assert_int_equal(fx_match_field(&fx, "CommandLine", "\xc3 ls -F\xa9", &h), 0);
    /* q2: four '+' in order, fewer is refused before PCRE2 */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"a+b+c+d+\"}", pc, &h), 1);
    assert_string_equal(title_of(&h, 0), "q2 regex runs in order");
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"a+b+c\"}", pc, &h), 0);
    /* q3: caseless k also matches KELVIN SIGN under PCRE2's UTF rules */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"MASK7\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"mas\xe2\x84\xaa" "7\"}", pc, &h),
                     1);
    assert_string_equal(title_of(&h, 0), "q3 caseless regex with k");
    /* q4: short literals, case-insensitive, once per scan */
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\"cmd /C dir\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\"ZQ\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\"50%\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\"/c z q\"}", pc, &h), 0);
    /* q5: key literal then wildcard confirmation (? is one character) */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"C:/Users/AppData/x/temp/\xc3\xa9.exe -q\"}",
                              pc, &h), 1);
    assert_string_equal(title_of(&h, 0), "q5 wildcard key confirm");
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"C:/Users/AppData/x/temp/ab.exe\"}",
                              pc, &h), 0);
    /* q6: cased suffix through a key and confirmation */
    assert_int_equal(fx_match(&fx, "{\"Image\":\"C:\\\\x\\\\Tool.EXE\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"Image\":\"C:\\\\x\\\\tool.exe\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"Image\":\"C:\\\\x\\\\Tool.EXE.bak\"}", pc, &h), 0);
    /* q7: its pattern set is scanned only for file_event */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"mimikatz\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"mimikatz\"}", "file_event", &h), 1);
    assert_string_equal(title_of(&h, 0), "q7 other logsource");
    /* q8: 25 dash variants */
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x /a \xe2\x80\x94" "b y\"}", pc,
                              &h), 1);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"x /a +b y\"}", pc, &h), 0);
    fx_free(&fx);
}

/* Anchored windash values (tries, one literal per dash variant) and
 * wildcard values confirmed by their runs in order, against the
 * reference on the edges. */
static const char *RULES3 =
    "title: w0 windash suffix\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|endswith|windash: ' /f'\n"
    "  condition: sel\n"
    "---\n"
    "title: w1 windash prefix and exact\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    - ParentCommandLine|startswith|windash: '-k -x'\n"
    "    - Image|windash: '-b'\n"
    "  condition: sel\n"
    "---\n"
    "title: w2 runs in order\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    User: '*/USER:* *'\n"
    "  condition: sel\n"
    "---\n"
    "title: w3 anchored runs\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    TargetFilename: 'C:\\\\*\\\\abab*ab'\n"
    "  condition: sel\n"
    "---\n"
    "title: w4 cased runs\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    Description|cased: '*Zx*Qy*'\n"
    "  condition: sel\n";

static void unit_wildcards(void **state)
{
    fixture fx;
    hitlist h;
    const char *pc = "process_creation";
    (void)state;
    fx_rules(&fx, RULES3);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"taskkill /F\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"taskkill \xe2\x80\x95" "f\"}", pc, &h),
                     1);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"taskkill -f \"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"taskkill +f\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"CommandLine\":\"/f\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\"/K \xe2\x80\x93X tail\"}", pc, &h),
                     1);
    assert_int_equal(fx_match(&fx, "{\"ParentCommandLine\":\" /k /x\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"Image\":\"/B\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"Image\":\"/bc\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"User\":\"net use /user:bob pw\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"User\":\"net use /user:bob\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"User\":\" x /USER:\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"User\":\"/USER: \"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"TargetFilename\":\"c:\\\\x\\\\abab\\\\ab\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"TargetFilename\":\"C:\\\\ABAB\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"TargetFilename\":\"C:\\\\\\\\ababab\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"TargetFilename\":\"C:\\\\\\\\abab\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"TargetFilename\":\"xC:\\\\\\\\abab ab\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"Description\":\"aZxbQyc\"}", pc, &h), 1);
    assert_int_equal(fx_match(&fx, "{\"Description\":\"azxbqyc\"}", pc, &h), 0);
    assert_int_equal(fx_match(&fx, "{\"Description\":\"QyZx\"}", pc, &h), 0);
    fx_free(&fx);
}

/* Tries after path compression: values sharing long runs, a value that
 * ends inside another's run, subjects that end or differ inside a folded
 * run (first byte, last byte), case, and a run longer than one label. */
static void unit_tries(void **state)
{
    static const char *vals[] = {
        "Image: 'C:\\Windows\\System32\\cmd.exe'",
        "Image: 'C:\\Windows\\System32\\cmd.exe.bak'",
        "Image|startswith: 'C:\\Windows\\System32\\'",
        "Image|startswith: 'C:\\Windows\\Sys'",
        "Image|endswith: '\\cmd.exe'",
        "Image|endswith: 'md.exe'",
        "Image|endswith: '\\System32\\cmd.exe'",
    };
    char yaml[8192], big[700], subj[800];
    size_t o = 0;
    fixture fx;
    hitlist h;
    (void)state;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        o += (size_t)snprintf(yaml + o, sizeof yaml - o,
                              "%stitle: t%zu\n"
                              "logsource: {product: windows, category: process_creation}\n"
                              "detection:\n  sel:\n    %s\n  condition: sel\n",
                              i ? "---\n" : "", i, vals[i]);
    /* one run of 600 bytes: more than one label holds */
    memset(big, 'q', 600);
    big[600] = 0;
    o += (size_t)snprintf(yaml + o, sizeof yaml - o,
                          "---\ntitle: long prefix\n"
                          "logsource: {product: windows, category: process_creation}\n"
                          "detection:\n  sel:\n    TargetFilename|startswith: 'x%sy'\n"
                          "  condition: sel\n"
                          "---\ntitle: long exact\n"
                          "logsource: {product: windows, category: process_creation}\n"
                          "detection:\n  sel:\n    TargetFilename: 'x%sy'\n  condition: sel\n",
                          big, big);
    assert_true(o < sizeof yaml);
    fx_rules(&fx, yaml);
    /* exact, both prefixes, three suffixes */
    assert_int_equal(fx_match_field(&fx, "Image", "c:\\windows\\system32\\CMD.EXE", &h), 6);
    /* the longer exact value and the two prefixes */
    assert_int_equal(fx_match_field(&fx, "Image", "C:\\Windows\\System32\\cmd.exe.bak", &h), 3);
    /* ends inside the folded run after "c:\windows\sys": one prefix */
    assert_int_equal(fx_match_field(&fx, "Image", "C:\\Windows\\System3", &h), 1);
    /* differs on the last byte of a folded run */
    assert_int_equal(fx_match_field(&fx, "Image", "C:\\Windows\\System3x\\cmd.exe", &h), 3);
    /* differs on the first byte after the branch */
    assert_int_equal(fx_match_field(&fx, "Image", "C:\\Windows\\Syx", &h), 0);
    /* suffix run folded: "\cmd.exe" ends inside "\system32\cmd.exe" */
    assert_int_equal(fx_match_field(&fx, "Image", "D:\\cmd.exe", &h), 2);
    assert_int_equal(fx_match_field(&fx, "Image", "32\\cmd.exe", &h), 2);
    assert_int_equal(fx_match_field(&fx, "Image", "\\SYSTEM32\\cmd.exe", &h), 3);
    assert_int_equal(fx_match_field(&fx, "Image", "cmd.exe", &h), 1);
    /* the 600-byte run */
    snprintf(subj, sizeof subj, "x%sy", big);
    assert_int_equal(fx_match_field(&fx, "TargetFilename", subj, &h), 2);
    snprintf(subj, sizeof subj, "X%sYz", big);
    assert_int_equal(fx_match_field(&fx, "TargetFilename", subj, &h), 1);
    snprintf(subj, sizeof subj, "x%s", big);
    assert_int_equal(fx_match_field(&fx, "TargetFilename", subj, &h), 0);
    big[300] = 'r';
    snprintf(subj, sizeof subj, "x%sy", big);
    assert_int_equal(fx_match_field(&fx, "TargetFilename", subj, &h), 0);
    fx_free(&fx);
}

static void unit_eventid(void **state)
{
    fixture fx;
    hitlist h;
    kb_event ev;
    (void)state;
    fx_rules(&fx, RULES);
    /* numeric comparison of EventID with routing on it */
    {
        static const char *evs[] = {"{\"EventID\":4625}", "{\"EventID\":\"4625\"}",
                                    "{\"EventID\":\"04625\"}", "{\"EventID\":4624}",
                                    "{\"EventID\":[4624,4625]}", "{\"EventID\":\"4625 \"}"};
        static const int want[] = {1, 1, 1, 0, 1, 0};
        for (size_t i = 0; i < 6; i++) {
            kb_json_error je;
            hitlist ref = {.n = 0};
            kb_arena_clear(fx.arena);
            kb_event_init(&ev, fx.names, fx.arena);
            assert_int_equal(kb_json_flatten(&ev, evs[i], strlen(evs[i]), NULL, &je), KB_OK);
            ev.ls.product = "windows";
            ev.ls.service = "security";
            h.n = 0;
            assert_int_equal(kb_engine_match(fx.e, fx.s, &ev, on_engine_hit, &h), want[i]);
            kb_ruleset_match(fx.rs, &ev, 1, on_ref_hit, &ref);
            assert_int_equal(ref.n, h.n);
        }
    }
    /* a names table other than the ruleset's is refused */
    {
        kb_names *other = kb_names_new(0);
        kb_arena_clear(fx.arena);
        kb_event_init(&ev, other, fx.arena);
        kb_event_add_named(&ev, "EventID", 7, KB_V_INT, "4625", 4);
        assert_int_equal(kb_engine_match(fx.e, fx.s, &ev, NULL, NULL), KB_EINVAL);
        kb_names_free(other);
    }
    (void)fx_match;
    fx_free(&fx);
}

/* Stopping early: fn returning nonzero ends matching of that event. */
static int stop_first(const kb_rule *r, const kb_event *ev, void *ud)
{
    (void)r;
    (void)ev;
    (*(int *)ud)++;
    return 1;
}

static void unit_stop(void **state)
{
    fixture fx;
    kb_event ev;
    kb_json_error je;
    int calls = 0;
    const char *j = "{\"Image\":\"C:\\\\x.exe\",\"OriginalFileName\":\"x\"}";
    (void)state;
    fx_rules(&fx, RULES);
    kb_event_init(&ev, fx.names, fx.arena);
    assert_int_equal(kb_json_flatten(&ev, j, strlen(j), NULL, &je), KB_OK);
    ev.ls.product = "windows";
    ev.ls.category = "process_creation";
    assert_int_equal(kb_engine_match(fx.e, fx.s, &ev, stop_first, &calls), 1);
    assert_int_equal(calls, 1);
    fx_free(&fx);
}

/* ---- the differential test ---------------------------------------------- */

typedef struct diff {
    const kb_ruleset *rs;
    const kb_engine *e;
    kb_engine_scratch *s;
    size_t events, alerts, mismatches, every;
    size_t seen;
} diff;

static void diff_event(diff *d, const kb_event *ev, const char *where)
{
    hitlist eng = {.n = 0}, ref = {.n = 0};
    int n;
    if (d->every > 1 && (d->seen++ % d->every) != 0)
        return;
    n = kb_engine_match(d->e, d->s, ev, on_engine_hit, &eng);
    kb_ruleset_match(d->rs, ev, 1, on_ref_hit, &ref);
    d->events++;
    d->alerts += ref.n;
    if (n < 0 || eng.n != ref.n || memcmp(eng.r, ref.r, ref.n * sizeof ref.r[0]) != 0) {
        if (d->mismatches++ < 10) {
            fprintf(stderr, "  MISMATCH %s line %llu: engine %d, reference %zu\n", where,
                    (unsigned long long)ev->line, n, ref.n);
            for (size_t i = 0; i < ref.n; i++)
                fprintf(stderr, "    ref: %s\n", kb_rule_meta_of(ref.r[i])->path);
            for (size_t i = 0; i < eng.n; i++)
                fprintf(stderr, "    eng: %s\n", kb_rule_meta_of(eng.r[i])->path);
        }
    }
}

/* Every line of a Windows JSON file through the winevt decoder. */
static void diff_winevt(diff *d, kb_names *names, kb_arena *arena, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0;
    kb_decode_ctx ctx = {.names = names, .path = path};
    assert_non_null(f);
    while ((got = getline(&line, &cap, f)) > 0) {
        kb_event ev;
        size_t len = (size_t)got;
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        kb_arena_clear(arena);
        kb_event_init(&ev, names, arena);
        ev.raw = line;
        ev.raw_len = (uint32_t)len;
        ev.line = lineno;
        ev.path = path;
        ctx.err = NULL;
        if (kb_dec_winevt.decode(&ctx, line, len, &ev) != KB_OK)
            continue;
        diff_event(d, &ev, path);
    }
    free(line);
    fclose(f);
}

static int diff_batch(const kb_batch *b, void *ud)
{
    for (size_t i = 0; i < b->n; i++)
        diff_event(ud, &b->events[i], b->path);
    return 0;
}

static void differential(void **state)
{
    static const char *dirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting"};
    kb_names *names = kb_names_new(0);
    kb_ruleset *rs = kb_ruleset_new(names);
    kb_arena *arena = kb_arena_new(1 << 16, 64u << 20);
    const char *err = NULL, *slow = getenv("KOBAN_SLOW_TESTS");
    kb_engine_stats st;
    diff d = {0};
    char path[1024];
    size_t regr_files = 0;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", SIGMA, dirs[i]);
        assert_int_equal(kb_ruleset_load_dir(rs, path, on_err, NULL), 0);
    }
    d.rs = rs;
    d.e = kb_engine_new(rs, &err);
    assert_non_null(d.e);
    d.s = kb_engine_scratch_new(d.e);
    assert_non_null(d.s);
    kb_engine_stats_get(d.e, &st);
    fprintf(stderr, "  engine: %zu rules, %zu predicates, %zu patterns in %zu databases, "
                    "%zu by reference, compiled in %.2f s\n",
            st.rules, st.preds, st.hs_patterns, st.hs_databases, st.fallback, st.compile_secs);
    /* Under sanitizers the full sweep is slow: without KOBAN_SLOW_TESTS,
     * sanitizer builds check every 7th Windows event (all others always). */
#if defined(__SANITIZE_ADDRESS__)
    d.every = slow ? 1 : 7;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    d.every = slow ? 1 : 7;
#else
    d.every = 1;
#endif
#else
    d.every = 1;
#endif
    (void)slow;
    diff_winevt(&d, names, arena, WINEVT);
    fprintf(stderr, "  windows events: %zu events, %zu alerts\n", d.events, d.alerts);
    assert_true(d.events >= 15000 / d.every);
    assert_true(d.alerts >= 5000 / d.every);
    d.every = 1;
    {
        FILE *mf = fopen(REGR "/manifest.tsv", "r");
        char line[4096];
        assert_non_null(mf);
        while (fgets(line, sizeof(line), mf)) {
            char *a = strchr(line, '\t'), *b2 = a ? strchr(a + 1, '\t') : NULL, *c;
            if (!b2 || !(c = strchr(b2 + 1, '\t')))
                continue;
            *c = 0;
            if (!strstr(b2 + 1, ".jsonl"))
                continue;
            snprintf(path, sizeof(path), "%s/%s", REGR, b2 + 1);
            diff_winevt(&d, names, arena, path);
            regr_files++;
        }
        fclose(mf);
    }
    fprintf(stderr, "  + regression samples (%zu files): %zu events, %zu alerts\n", regr_files,
            d.events, d.alerts);
    assert_true(regr_files >= 200);
    {
        kb_ingest *ing = kb_ingest_new(names, NULL);
        int level = kb_log_level();
        assert_non_null(ing);
        kb_log_set_level(-1); /* the samples' unrecognised files are not news here */
        kb_ingest_path(ing, LOGS, diff_batch, NULL, &d);
        kb_log_set_level(level);
        kb_ingest_free(ing);
    }
    fprintf(stderr, "  + logs: %zu events, %zu alerts, %zu mismatches, %.1f s cpu\n", d.events,
            d.alerts, d.mismatches, (double)clock() / CLOCKS_PER_SEC - t0);
    assert_int_equal(d.mismatches, 0);
    kb_engine_scratch_free(d.s);
    kb_engine_free((kb_engine *)d.e);
    kb_ruleset_free(rs);
    kb_arena_free(arena);
    kb_names_free(names);
}

/* kb_engine_glob gives sigma_glob's answer: random patterns of a small
 * alphabet (letters, '-', '/', an en dash, stars, `?`, windash) on random
 * subjects, both cases, plus a few fixed ones. */
static void unit_glob(void **state)
{
    static const char *bytes[] = {"a", "b", "A", "-", "/", "\xe2\x80\x93", "\xc3\xa9", " "};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    unsigned long checked = 0, matched = 0;
    (void)state;
    for (int it = 0; it < 200000; it++) {
        uint16_t tok[12];
        char subj[64];
        size_t nt, len = 0;
        int fold;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        nt = x % 9;
        fold = (int)(x >> 8) & 1;
        for (size_t k = 0; k < nt; k++) {
            unsigned r = (unsigned)(x >> (12 + 5 * (k % 10))) % 8;
            tok[k] = r < 4   ? (uint16_t)"ab-/"[r]
                     : r < 6 ? KB_SIGMA_TOK_STAR
                     : r < 7 ? KB_SIGMA_TOK_QMARK
                             : KB_SIGMA_TOK_DASH;
            if (k % 10 == 9)
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        for (unsigned k = 0, n = (unsigned)(x % 12); k < n; k++) {
            const char *b = bytes[(x >> (4 + 3 * k)) % 8];
            memcpy(subj + len, b, strlen(b));
            len += strlen(b);
        }
        {
            int want = sigma_glob(tok, nt, subj, len, fold);
            int got = kb_engine_glob(tok, nt, subj, len, fold);
            if (want != got)
                fail_msg("glob mismatch at iteration %d: want %d got %d", it, want, got);
            checked++;
            matched += (unsigned long)want;
        }
    }
    assert_true(matched > checked / 50 && matched < checked);
    {
        const uint16_t t[] = {KB_SIGMA_TOK_STAR, ' ', KB_SIGMA_TOK_DASH, 'e', KB_SIGMA_TOK_STAR};
        assert_int_equal(kb_engine_glob(t, 5, "x -E y", 6, 1), 1);
        assert_int_equal(kb_engine_glob(t, 5, "x /e", 4, 1), 1);
        assert_int_equal(kb_engine_glob(t, 5, "x \xe2\x80\x94" "e", 6, 1), 1);
        assert_int_equal(kb_engine_glob(t, 5, "x -E y", 6, 0), 0);
        assert_int_equal(kb_engine_glob(t, 5, "x e", 3, 1), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unit_basics),
        cmocka_unit_test(unit_eventid),
        cmocka_unit_test(unit_fastpaths),
        cmocka_unit_test(unit_wildcards),
        cmocka_unit_test(unit_stop),
        cmocka_unit_test(unit_glob),
        cmocka_unit_test(unit_tries),
        cmocka_unit_test(unit_generations),
        cmocka_unit_test(differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
