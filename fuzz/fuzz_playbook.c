/* Fuzz target: the playbook loader (YAML, processes, steps, conditions,
 * policy, SLA, lint), then everything a loaded playbook feeds: the outline
 * and the Graphviz graph, every step's condition over fixed variables,
 * every template rendered in each escaping context with a hostile value,
 * the policy decision and the answer check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "respond/respond-int.h"

static const char hostile[] = "a\"b'c;$(id)`x`\\ {{y}} %0a\xff";

static int look(void *ud, const char *name, size_t nlen, const char **v, size_t *len,
                int *is_list)
{
    (void)ud;
    *is_list = nlen == 4 && memcmp(name, "list", 4) == 0;
    *v = hostile;
    *len = sizeof hostile - 1;
    return 1;
}

static void render_all(const char *t, kb_buf *b)
{
    const char *e = NULL;
    if (!t)
        return;
    for (int c = KB_ESC_HUNT; c <= KB_ESC_TEXT; c++) {
        kb_buf_clear(b);
        kb_tmpl_render(t, strlen(t), (kb_esc)c, look, NULL, b, &e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    kb_playbook *pb = NULL;
    kb_buf diag, b;
    json_t *vars;

    if (!null)
        null = fopen("/dev/null", "w");
    kb_buf_init(&diag, 1u << 20);
    kb_buf_init(&b, 1u << 20);
    if (kb_playbook_parse("fuzz.yml", (const char *)data, size, &pb, &diag) != KB_OK)
        goto out;
    if (null) {
        kb_playbook_outline(pb, null);
        kb_playbook_dot(pb, null);
    }
    vars = json_pack("{s:s,s:s,s:[s,s],s:i,s:s}", "continuing", "yes", "lateral_found", "no",
                     "indicators", "203.0.113.66", "10.0.0.1", "failures", 7, "outcome", "");
    for (size_t i = 0; i < pb->nsteps; i++) {
        const pb_step *s = &pb->steps[i];
        kb_pb_cond_eval(s, vars);
        kb_buf_clear(&b);
        kb_playbook_check_answer(pb, s->id, "yes", &b);
        if (!s->proc)
            continue;
        render_all(s->proc->text, &b);
        render_all(s->proc->target, &b);
        render_all(s->proc->instructions, &b);
        for (size_t k = 0; k < s->proc->nargs; k++)
            render_all(s->proc->args[k], &b);
        if (s->proc->method == PM_ACTION && s->proc->text)
            kb_pb_policy(pb, s->proc->text, "high", "server", "domain-controller,production");
    }
    json_decref(vars);
    kb_playbook_binds(pb, "ransomware");
out:
    kb_playbook_free(pb);
    kb_buf_release(&diag);
    kb_buf_release(&b);
    return 0;
}
