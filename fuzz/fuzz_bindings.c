/* Fuzz target: the configuration's respond: section (bindings of incident
 * types to playbooks) from a YAML document, then the selection for a few
 * incident types and severities. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/yaml.h"
#include "respond/respond.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"ransomware", "targeted-attack", "scan", "*", ""};
    static const char *const sevs[] = {"low", "medium", "high", "critical", "bogus"};
    kb_yaml_limits lim = {32, 100000, 1u << 20};
    kb_yaml *y = NULL;
    kb_yaml_error ye = {0};
    kb_resp_bindings b;
    char err[1024];
    size_t idx[KB_RESP_MAX_BINDINGS];

    if (kb_yaml_parse((const char *)data, size, &lim, &y, &ye) != KB_OK)
        return 0;
    const kb_yaml_node *root = kb_yaml_ndocs(y) ? kb_yaml_doc(y, 0) : NULL;
    const kb_yaml_node *r = root && root->kind == KB_YAML_MAP ? kb_yaml_get(root, "respond") : root;
    if (kb_resp_bindings_parse(&b, "fuzz.yaml", r, err, sizeof err) == KB_OK) {
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
            for (size_t s = 0; s < sizeof sevs / sizeof sevs[0]; s++) {
                size_t n =
                    kb_resp_bindings_select(&b, types[t], sevs[s], idx, KB_RESP_MAX_BINDINGS);
                for (size_t i = 0; i < n; i++)
                    if (idx[i] >= b.n || !b.v[idx[i]].playbook)
                        __builtin_trap();
            }
        kb_resp_bindings_release(&b);
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    kb_yaml_free(y);
    return 0;
}
