/* Fuzz target: the field-map loader, then the map applied to a few fixed
 * rules (aliases and variants) and the result evaluated, reference and
 * fast engine, against a small fixed event. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "detect/detect.h"
#include "detect/engine.h"
#include "event/event.h"

static const char rules[] =
    "title: a\nid: a\nlogsource: {category: dns}\n"
    "detection:\n  sel:\n    query|endswith: '.evil'\n    record_type: [TXT, null]\n"
    "  f:\n    answer|exists: false\n  condition: sel and not f\n"
    "---\n"
    "title: b\nid: b\nlogsource: {product: zeek, service: dns}\n"
    "detection:\n  sel:\n    query|re: 'ev[il]+'\n  condition: sel\n"
    "---\n"
    "title: c\nid: c\nlogsource: {category: proxy}\n"
    "detection:\n  sel:\n    c-useragent|contains: sqlmap\n  condition: sel or 1 of sel*\n";

static int on_hit(const kb_rule *r, const kb_event *ev, void *ud)
{
    (void)r, (void)ev, (void)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kb_names *names = kb_names_new(10000);
    kb_arena *arena = kb_arena_new(4096, 1 << 20);
    kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
    kb_fieldmap *fm = kb_fieldmap_new();
    kb_fieldmap_stats st;
    kb_engine *e = NULL;
    kb_engine_scratch *s = NULL;
    const char *err;
    kb_event ev;

    if (!rs || !arena || !fm)
        goto out;
    kb_ruleset_load_mem(rs, "r.yml", rules, strlen(rules), NULL, NULL);
    kb_fieldmap_load_mem(fm, "fuzz.yaml", (const char *)data, size, NULL, NULL);
    kb_ruleset_apply_fieldmap(rs, fm, &st, NULL, NULL);
    kb_event_init(&ev, names, arena);
    ev.ls.product = "zeek";
    ev.ls.service = "dns";
    kb_event_add_named(&ev, "query", 5, KB_V_STR, "a.evil", 6);
    kb_event_add_named(&ev, "qtype_name", 10, KB_V_STR, "TXT", 3);
    kb_event_add_named(&ev, "user_agent", 10, KB_V_STR, "sqlmap/1", 8);
    kb_ruleset_match(rs, &ev, 1, NULL, NULL);
    if ((e = kb_engine_new(rs, &err)) && (s = kb_engine_scratch_new(e)))
        kb_engine_match(e, s, &ev, on_hit, NULL);
out:
    if (s)
        kb_engine_scratch_free(s);
    if (e)
        kb_engine_free(e);
    kb_fieldmap_free(fm);
    kb_ruleset_free(rs);
    kb_arena_free(arena);
    kb_names_free(names);
    return 0;
}
