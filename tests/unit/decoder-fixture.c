/* The decoder unit tests' shared fixture; see decoder-fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "decoder-fixture.h"

void dfx_open(dfx *f, const kb_decoder *d, kb_names *names, const char *path)
{
    memset(f, 0, sizeof *f);
    f->own_names = names == NULL;
    f->names = names ? names : kb_names_new(0);
    assert_non_null(f->names);
    f->arena = kb_arena_new(1 << 16, 64u << 20);
    assert_non_null(f->arena);
    kb_event_init(&f->ev, f->names, f->arena);
    f->dec = d;
    f->ctx.names = f->names;
    f->ctx.path = path;
    f->ctx.state = d->state_new ? d->state_new() : NULL;
    if (d->state_new)
        assert_non_null(f->ctx.state);
}

void dfx_close(dfx *f)
{
    if (f->dec->state_free)
        f->dec->state_free(f->ctx.state);
    free(f->line);
    kb_arena_free(f->arena);
    if (f->own_names)
        kb_names_free(f->names);
}

int dfx_setup_with(void **state, const kb_decoder *d)
{
    dfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dfx_open(f, d, NULL, NULL);
    *state = f;
    return 0;
}

int dfx_teardown(void **state)
{
    dfx *f = *state;
    dfx_close(f);
    free(f);
    return 0;
}

int dfx_decode(dfx *f, const char *line, size_t len)
{
    /* The field table lives in the arena: clearing the arena means a fresh
     * kb_event_init, not kb_event_clear. */
    kb_arena_clear(f->arena);
    kb_event_init(&f->ev, f->names, f->arena);
    f->ev.raw = line;
    f->ev.raw_len = (uint32_t)len;
    f->ctx.err = NULL;
    return f->dec->decode(&f->ctx, line, len, &f->ev);
}

int dfx_decodez(dfx *f, const char *line)
{
    return dfx_decode(f, line, strlen(line));
}

int dfx_decode_line(dfx *f, const char *path, int n)
{
    FILE *fp = fopen(path, "r");
    ssize_t len = -1;

    if (!fp)
        fail_msg("cannot open %s", path);
    for (int i = 0; i < n; i++) {
        len = getline(&f->line, &f->line_cap, fp);
        if (len <= 0) {
            fclose(fp);
            fail_msg("%s: no line %d", path, n);
        }
    }
    fclose(fp);
    while (len > 0 && (f->line[len - 1] == '\n' || f->line[len - 1] == '\r'))
        len--;
    return dfx_decode(f, f->line, (size_t)len);
}

char *dfx_slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long sz;

    if (!fp)
        fail_msg("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)sz + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
    buf[sz] = '\0';
    fclose(fp);
    *n = (size_t)sz;
    return buf;
}

/* The next line with its line end (*n counts the \n) when keep_eol. */
static int next_line_as(dfx_lines *it, const char **s, size_t *n, int keep_eol)
{
    const char *nl;
    if (it->p >= it->end)
        return 0;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    *s = it->p;
    *n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    it->p = nl ? nl + 1 : it->end;
    if (keep_eol)
        *n += nl != NULL;
    else if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    return 1;
}

int dfx_next_line(dfx_lines *it, const char **s, size_t *n)
{
    return next_line_as(it, s, n, 0);
}

dfx_counts dfx_run_file(dfx *f, const char *path, int flags, const char *must_have)
{
    size_t n, len;
    char *buf = dfx_slurp(path, &n);
    dfx_lines it = {buf, buf + n};
    const char *s;
    dfx_counts c = {0, 0, 0};
    const char *was = f->ctx.path;
    int raw = flags & DFX_AS_IS, lineno = 0;

    f->ctx.path = path;
    while (next_line_as(&it, &s, &len, raw)) {
        int rc;
        lineno++;
        if (len == 0 && !raw)
            continue; /* the reader skips blank lines itself */
        rc = dfx_decode(f, s, len);
        if (rc == KB_OK) {
            c.ok++;
            if (must_have && !kb_event_get_named(&f->ev, must_have))
                fail_msg("%s:%d: decoded without %s", path, lineno, must_have);
        } else if (rc == KB_ESKIP) {
            c.skip++;
        } else {
            if (!f->ctx.err)
                fail_msg("%s:%d: rejected (%d) without a reason", path, lineno, rc);
            c.rej++;
        }
    }
    f->ctx.path = was; /* path may not outlive the call */
    free(buf);
    return c;
}

void dfx_expect_run(dfx *f, const char *dir, const char *file, int flags, const char *must_have,
                    dfx_counts want)
{
    char path[512];
    dfx_counts c;

    snprintf(path, sizeof path, "%s%s", dir, file);
    c = dfx_run_file(f, path, flags, must_have);
    if (c.ok != want.ok || c.skip != want.skip || c.rej != want.rej)
        fail_msg("%s: ok %d skip %d rej %d, want %d %d %d", file, c.ok, c.skip, c.rej, want.ok,
                 want.skip, want.rej);
}

void dfx_expect_counts(const kb_decoder *d, kb_names *names, const char *dir, const char *file,
                       dfx_counts want)
{
    dfx f;

    dfx_open(&f, d, names, NULL);
    dfx_expect_run(&f, dir, file, 0, NULL, want);
    dfx_close(&f);
}

/* what: the field's name for messages; line: the test's line, or 0. */
static void expect_named(const char *what, int line, const kb_field *f, int type, const char *want)
{
    char at[32] = "";

    if (line > 0)
        snprintf(at, sizeof at, "line %d: ", line);
    if (!want) {
        if (f)
            fail_msg("%s%s: want nothing, got '%.*s'", at, what, (int)f->len, f->val);
        return;
    }
    if (!f)
        fail_msg("%s%s: missing, want '%s'", at, what, want);
    if (f->len != strlen(want) || memcmp(f->val, want, f->len) != 0)
        fail_msg("%s%s: got '%.*s', want '%s'", at, what, (int)f->len, f->val, want);
    if (type >= 0 && (int)f->type != type)
        fail_msg("%s%s: type %d, want %d", at, what, (int)f->type, type);
}

void dfx_expect_val(const kb_field *f, int type, const char *want)
{
    expect_named("field", 0, f, type, want);
}

void dfx_expect_canon(const kb_event *ev, int c, int type, const char *want)
{
    expect_named(kb_canon_name(c), 0, kb_event_canon(ev, c), type, want);
}

void dfx_expect_field(const kb_event *ev, const char *name, int type, const char *want)
{
    expect_named(name, 0, kb_event_get_named(ev, name), type, want);
}

void dfx_check(const kb_event *ev, const char *name, const char *want, int lineno)
{
    int c = kb_canon_find(name, strlen(name));
    expect_named(name, lineno, c >= 0 ? kb_event_canon(ev, c) : kb_event_get_named(ev, name), -1,
                 want);
}

void dfx_expect_str(const char *got, const char *want)
{
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

void dfx_expect_ts(const kb_event *ev, const char *want)
{
    char buf[40];
    assert_true(ev->ts != KB_TIME_NONE);
    kb_time_format(ev->ts, buf, sizeof buf);
    assert_string_equal(buf, want);
}
