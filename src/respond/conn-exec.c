/* The exec connector: a fixed program path and an argument vector from the
 * connector config, run with posix_spawn (never a shell). Every {{target}}
 * is validated by the action kind's type before it reaches the vector, and
 * a value may not start an element with '-'. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "respond/respond-int.h"

extern char **environ;

int kb_resp_spawn(char *const argv[], kb_buf *out, int timeout_ms, const char **err)
{
    posix_spawn_file_actions_t fa;
    int pfd[2], status = -1, rc;
    pid_t pid;
    int64_t deadline = kb_time_now() + (int64_t)timeout_ms * 1000000;

    if (!argv[0] || argv[0][0] != '/') {
        *err = "the program must be an absolute path";
        return -1;
    }
    if (pipe(pfd)) {
        *err = "pipe failed";
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc) {
        close(pfd[0]);
        *err = "cannot start the program";
        return -1;
    }
    for (;;) {
        int64_t left = (deadline - kb_time_now()) / 1000000;
        struct pollfd p = {pfd[0], POLLIN, 0};
        char buf[4096];
        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(pfd[0]);
            *err = "the program timed out";
            return -1;
        }
        int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t r = read(pfd[0], buf, sizeof buf);
        if (r <= 0)
            break;
        kb_buf_append(out, buf, (size_t)r); /* capped: the rest is dropped */
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status)
                              : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Appends argv rendered for the audit, each element quoted when needed. */
static void audit_argv(kb_buf *a, char *const *argv)
{
    for (size_t i = 0; argv[i]; i++) {
        const char *s = argv[i];
        int plain = *s != 0;
        for (const char *p = s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') ||
                  strchr("-_./:=@,{}", *p)))
                plain = 0;
        if (i)
            kb_buf_putc(a, ' ');
        if (plain) {
            kb_buf_puts(a, s);
        } else {
            kb_buf_putc(a, '\'');
            for (const char *p = s; *p; p++)
                *p == '\'' ? kb_buf_puts(a, "'\\''") : kb_buf_putc(a, *p);
            kb_buf_putc(a, '\'');
        }
    }
}

void kb_resp_audit_argv(kb_buf *a, char *const *argv);
void kb_resp_audit_argv(kb_buf *a, char *const *argv)
{
    audit_argv(a, argv);
}

static int exec_run(const kb_resp_request *rq, kb_buf *audit, kb_buf *result, const char **err)
{
    json_t *cfg = json_loads(rq->config, 0, NULL);
    json_t *args = json_object_get(cfg, strcmp(rq->verb, "rollback") == 0 ? "rollback_args"
                                                                           : "args");
    const char *prog = json_string_value(json_object_get(cfg, "program"));
    const kb_resp_action_kind *k = kb_resp_action_kind_find(rq->kind);
    json_t *tt = json_object_get(cfg, "target_type");
    kb_valtype vt = k ? k->target : KB_VT_STRING;
    char *argv[66] = {0};
    kb_buf el[64];
    size_t n = 0;
    int rc = KB_EINVAL, st;

    if (json_is_string(tt) && kb_vtype_find(json_string_value(tt)) >= 0)
        vt = (kb_valtype)kb_vtype_find(json_string_value(tt));
    for (size_t i = 0; i < 64; i++)
        kb_buf_init(&el[i], KB_RESP_MAX_VALUE * 2);
    if (!prog || prog[0] != '/') {
        *err = "exec: config needs an absolute 'program'";
        goto out;
    }
    if (!kb_vtype_check(vt, rq->target, strlen(rq->target))) {
        *err = "exec: the target does not validate as its type";
        goto out;
    }
    if (strcmp(rq->verb, "rollback") == 0 && !json_is_array(args)) {
        *err = "exec: no rollback_args configured";
        goto out;
    }
    argv[n++] = (char *)prog;
    if (json_array_size(args) > 63) {
        *err = "exec: too many arguments";
        goto out;
    }
    for (size_t i = 0; i < json_array_size(args); i++) {
        const char *t = json_string_value(json_array_get(args, i));
        if (!t) {
            *err = "exec: args must be strings";
            goto out;
        }
        if (kb_tmpl_render(t, strlen(t), KB_ESC_ARG, kb_resp_request_lookup, (void *)rq, &el[i],
                           err))
            goto out;
        if (!el[i].data)
            kb_buf_puts(&el[i], "");
        argv[n++] = el[i].data;
    }
    audit_argv(audit, argv);
    int tmo = json_is_integer(json_object_get(cfg, "timeout"))
                  ? (int)json_integer_value(json_object_get(cfg, "timeout")) * 1000
                  : 30000;
    st = kb_resp_spawn(argv, result, tmo, err);
    if (st != 0) {
        if (st > 0)
            *err = "exec: the program exited with a non-zero status";
        rc = KB_EIO;
        goto out;
    }
    rc = KB_OK;
out:
    for (size_t i = 0; i < 64; i++)
        kb_buf_release(&el[i]);
    json_decref(cfg);
    return rc;
}

const kb_resp_connector kb_conn_exec = {"exec", "a fixed program with an argument vector",
                                        exec_run};
