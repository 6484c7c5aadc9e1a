/* Fuzz target: the Sigma rule loader (YAML, modifiers, conditions), then
 * one evaluation of whatever loaded against a small fixed event. */
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kb_names *names = kb_names_new(10000);
    kb_arena *arena = kb_arena_new(4096, 1 << 20);
    kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
    kb_event ev;

    if (!rs || !arena)
        goto out;
    kb_ruleset_load_mem(rs, "fuzz.yml", (const char *)data, size, NULL, NULL);
    kb_event_init(&ev, names, arena);
    kb_event_add_named(&ev, "Image", 5, KB_V_STR, "C:\\Windows\\cmd.exe", 18);
    kb_event_add_named(&ev, "EventID", 7, KB_V_INT, "4688", 4);
    kb_event_add_named(&ev, "CommandLine", 11, KB_V_STR, "cmd /c whoami -enc aGVsbG8=", 27);
    kb_event_add_named(&ev, "DestinationIp", 13, KB_V_STR, "10.1.2.3", 8);
    kb_event_add_named(&ev, "UtcTime", 7, KB_V_STR, "2021-01-01 14:05:00", 19);
    kb_ruleset_match(rs, &ev, 0, NULL, NULL);
out:
    kb_ruleset_free(rs);
    kb_arena_free(arena);
    kb_names_free(names);
    return 0;
}
