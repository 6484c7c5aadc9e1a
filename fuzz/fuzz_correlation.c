/* Fuzz target: the correlation rule loader and checker, then a short
 * stream of alerts through whatever loaded. The input is a YAML stream
 * (rule and correlation documents); every single-event rule that loaded
 * gets alerts from a fixed set of group-by values, out of order too. Must
 * never crash, hang or grow without bound. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "detect/correlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_alert(void *ud, const kb_correl_alert *a)
{
    size_t *n = ud;
    /* touch the strings the callback receives */
    *n += strlen(a->group) + strlen(a->meta->title) + (a->host ? strlen(a->host) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const values[] = {"10.0.0.1", "10.0.0.2", "alice", "", "443", "12.5"};
    kb_names *names = kb_names_new(10000);
    kb_ruleset *rs = names ? kb_ruleset_new(names) : NULL;
    kb_correl_opts o;
    kb_correl *c = NULL;
    size_t sink = 0;

    if (!rs)
        goto out;
    kb_ruleset_load_mem(rs, "fuzz.yml", (const char *)data, size, NULL, NULL);
    kb_correl_opts_default(&o);
    o.max_groups = 64;
    o.max_window = 32;
    o.lateness = 5 * KB_NS_PER_SEC;
    if (!(c = kb_correl_new(rs, &o, on_alert, &sink, NULL, NULL)))
        goto out;
    for (int i = 0; i < 400; i++) {
        size_t nr = kb_ruleset_count(rs);
        const kb_rule *r;
        const char *const *fields;
        kb_str vals[64];
        size_t nf;
        if (!nr)
            break;
        r = kb_ruleset_rule(rs, (size_t)i % nr);
        nf = kb_correl_fields(c, r, &fields);
        if (nf > 64)
            nf = 64;
        for (size_t k = 0; k < nf; k++) {
            const char *v = values[(i + (int)k * 3) % 6];
            vals[k] = (i + (int)k) % 7 == 0 ? (kb_str){NULL, 0} : (kb_str){v, strlen(v)};
        }
        /* mostly forward in time, sometimes back by up to 9 s */
        kb_correl_push_values(c, r, (int64_t)(i * 2 - (i % 5) * 9) * KB_NS_PER_SEC, "h", vals, nf);
    }
    kb_correl_flush(c);
out:
    kb_correl_free(c);
    kb_ruleset_free(rs);
    kb_names_free(names);
    return (int)(sink & 0);
}
