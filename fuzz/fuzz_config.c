/* Fuzz target: the configuration file (koban.yaml: ingest, intel, store,
 * correlation, suppress, detect, respond) from its text, then the
 * retention lookup for a few paths. A refused file must be released
 * (nothing owned left behind: leaks show under ASan), an accepted one must
 * hold what it says it holds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/var/log/auth.log", "/var/log", "x", ""};
    kb_config cfg;

    if (kb_config_load_mem("fuzz.yaml", (const char *)data, size, &cfg) != KB_OK)
        return 0;
    if (!cfg.path || cfg.correl.ngen != cfg.ncorrel_gen ||
        (cfg.ncorrel_gen && cfg.correl.gen != cfg.correl_gen))
        __builtin_trap();
    for (size_t i = 0; i < cfg.ncorrel_gen; i++)
        if (!cfg.correl_gen[i].rule || !cfg.correl_gen[i].rule[0])
            __builtin_trap();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const kb_retention *r = kb_config_retention(&cfg, paths[i]);
        if (r && r < cfg.retention)
            __builtin_trap();
    }
    kb_config_release(&cfg);
    return 0;
}
