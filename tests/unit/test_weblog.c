/* Apache/nginx access-log decoder, over ../shared/data/logs/web-access and
 * the expectations beside it (crowdsec parser.assert, logstash spec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"
#include "ingest/decoders.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct fx {
    kb_names *names;
    kb_arena *arena;
    kb_event ev;
    kb_decode_ctx ctx;
    const kb_decoder *dec;
} fx;

static void fx_open(fx *f, const kb_decoder *d, kb_names *names, const char *path)
{
    memset(f, 0, sizeof *f);
    f->names = names;
    f->arena = kb_arena_new(1 << 16, 64u << 20);
    assert_non_null(f->arena);
    f->dec = d;
    f->ctx.names = names;
    f->ctx.path = path;
    f->ctx.state = d->state_new ? d->state_new() : NULL;
    if (d->state_new)
        assert_non_null(f->ctx.state);
}

static void fx_close(fx *f)
{
    if (f->dec->state_free)
        f->dec->state_free(f->ctx.state);
    kb_arena_free(f->arena);
}

static int fx_decode(fx *f, const char *line, size_t len)
{
    kb_arena_clear(f->arena);
    kb_event_init(&f->ev, f->names, f->arena);
    f->ev.raw = line;
    f->ev.raw_len = (uint32_t)len;
    f->ctx.err = NULL;
    return f->dec->decode(&f->ctx, line, len, &f->ev);
}

static int fx_decodez(fx *f, const char *line)
{
    return fx_decode(f, line, strlen(line));
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long sz;

    assert_non_null(fp);
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

/* Line iterator over a buffer; strips \r like the reader does. */
typedef struct lines {
    const char *p, *end;
} lines;

static int next_line(lines *it, const char **s, size_t *n)
{
    const char *nl;
    if (it->p >= it->end)
        return 0;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    *s = it->p;
    *n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    it->p = nl ? nl + 1 : it->end;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    return 1;
}

typedef struct counts {
    int ok, skip, rej;
} counts;

/* Decodes every line of a file; a rejected line must carry a reason. */
static counts run_file(fx *f, const char *path)
{
    size_t n, len;
    char *buf = slurp(path, &n);
    lines it = {buf, buf + n};
    const char *s;
    counts c = {0, 0, 0};

    f->ctx.path = path;
    while (next_line(&it, &s, &len)) {
        int rc;
        if (len == 0)
            continue; /* the reader skips blank lines itself */
        rc = fx_decode(f, s, len);
        if (rc == KB_OK) {
            c.ok++;
        } else if (rc == KB_ESKIP) {
            c.skip++;
        } else {
            assert_non_null(f->ctx.err);
            c.rej++;
        }
    }
    free(buf);
    return c;
}

static void expect_val(const kb_field *f, int type, const char *want)
{
    if (!want) {
        assert_null(f);
        return;
    }
    assert_non_null(f);
    if (f->len != strlen(want) || memcmp(f->val, want, f->len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)f->len, f->val, want);
    if (type >= 0)
        assert_int_equal(f->type, type);
}

static void expect_canon(const kb_event *ev, int c, int type, const char *want)
{
    expect_val(kb_event_canon(ev, c), type, want);
}

static void expect_field(const kb_event *ev, const char *name, int type, const char *want)
{
    expect_val(kb_event_get_named(ev, name), type, want);
}

#define WEB KOBAN_SHARED_DATA "/logs/web-access/"

static void web_samples(void **unused)
{
    static const struct {
        const char *file;
        counts want;
    } cases[] = {
        /* two Apache error-log lines */
        {"crowdsec-apache2-combined.log", {7, 0, 2}},
        /* one nginx error-log line */
        {"crowdsec-nginx-combined.log", {8, 0, 1}},
        {"lnav-access.log", {3, 0, 0}},
        /* "host [time]": no identity fields (lnav's negative case) */
        {"lnav-bad-access.log", {2, 0, 1}},
        {"lnav-shop-access.log", {1000, 0, 0}},
        {"logstash-patterns-httpd.log", {3, 0, 0}},
        /* IIS W3C lines and syslog-wrapped lines are other formats */
        {"wazuh-web_rules.log", {3, 0, 7}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        fx f;
        counts c;
        snprintf(path, sizeof path, WEB "%s", cases[i].file);
        fx_open(&f, &kb_dec_weblog, names, path);
        c = run_file(&f, path);
        if (c.ok != cases[i].want.ok || c.skip != cases[i].want.skip ||
            c.rej != cases[i].want.rej)
            fail_msg("%s: ok %d skip %d rej %d", cases[i].file, c.ok, c.skip, c.rej);
        fx_close(&f);
    }
    kb_names_free(names);
}

static void decode_line(fx *f, const char *path, int nth, char **buf)
{
    size_t n, len;
    const char *s;
    lines it;

    *buf = slurp(path, &n);
    it = (lines){*buf, *buf + n};
    for (int i = 1; next_line(&it, &s, &len); i++) {
        if (i == nth) {
            assert_int_equal(fx_decode(f, s, len), KB_OK);
            return;
        }
    }
    fail_msg("%s: no line %d", path, nth);
}

/* crowdsec parser.assert values: clientip, verb, request, response,
 * bytes, referrer, http_user_agent, target_fqdn, port, timestamp. */
static void web_crowdsec(void **unused)
{
    kb_names *names = kb_names_new(0);
    char *buf;
    fx f;

    fx_open(&f, &kb_dec_weblog, names, NULL);
    decode_line(&f, WEB "crowdsec-apache2-combined.log", 7, &buf);
    assert_string_equal(f.ev.ls.category, "webserver");
    assert_true(f.ev.ts == INT64_C(1635152752) * KB_NS_PER_SEC);
    expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_STR, "25/Oct/2021:11:05:52 +0200");
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "1.2.3.4");
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "website.com");
    expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "443");
    expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "GET");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/web/.well-known");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "403");
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "User-agent-string");
    expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    expect_canon(&f.ev, KB_F_EVENT_CATEGORY, KB_V_STR, "web");
    expect_field(&f.ev, "http.request.referrer", KB_V_STR, "abc.com");
    expect_field(&f.ev, "cs-referer", KB_V_STR, "abc.com");
    expect_field(&f.ev, "bytes", KB_V_INT, "6963");
    expect_field(&f.ev, "httpversion", KB_V_STR, "1.1");
    expect_field(&f.ev, "cs-host", KB_V_STR, "website.com");
    expect_field(&f.ev, "ident", -1, NULL);
    free(buf);

    /* Common log format: no referrer or agent. */
    decode_line(&f, WEB "crowdsec-apache2-combined.log", 6, &buf);
    assert_true(f.ev.ts == INT64_C(1614931298) * KB_NS_PER_SEC);
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/test/lists/sip_30d.txt");
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, -1, NULL);
    expect_canon(&f.ev, KB_F_URL_DOMAIN, -1, NULL);
    expect_field(&f.ev, "http.request.referrer", -1, NULL);
    expect_field(&f.ev, "httpversion", KB_V_STR, "1.0");
    free(buf);

    /* Query string: the Sigma names over the parts. */
    decode_line(&f, WEB "crowdsec-apache2-combined.log", 3, &buf);
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/solr/admin/info/system?wt=json");
    expect_field(&f.ev, "cs-uri-query", KB_V_STR, "/solr/admin/info/system?wt=json");
    expect_field(&f.ev, "cs-uri-stem", KB_V_STR, "/solr/admin/info/system");
    expect_field(&f.ev, "c-uri-query", KB_V_STR, "wt=json");
    expect_field(&f.ev, "cs-method", KB_V_STR, "GET");
    expect_field(&f.ev, "sc-status", KB_V_INT, "500");
    expect_field(&f.ev, "c-ip", KB_V_STR, "195.54.160.135");
    expect_field(&f.ev, "cs-user-agent", KB_V_STR,
                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/78.0.3904.108 Safari/537.36");
    free(buf);

    /* nginx: a user; and "host - [time]" without ident. */
    decode_line(&f, WEB "crowdsec-nginx-combined.log", 7, &buf);
    expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "user123");
    expect_field(&f.ev, "cs-username", KB_V_STR, "user123");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/api/login");
    free(buf);
    decode_line(&f, WEB "crowdsec-nginx-combined.log", 8, &buf);
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "192.168.1.1");
    expect_canon(&f.ev, KB_F_USER_NAME, -1, NULL);
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/api/test");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    free(buf);
    /* vhost with a port */
    decode_line(&f, WEB "crowdsec-nginx-combined.log", 6, &buf);
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.crowdsec11.net");
    expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "80");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "301");
    fx_close(&f);
    free(buf);
    kb_names_free(names);
}

/* logstash httpd_spec.rb: status "-", user with '@', empty referrer. */
static void web_logstash(void **unused)
{
    kb_names *names = kb_names_new(0);
    char *buf;
    fx f;

    fx_open(&f, &kb_dec_weblog, names, NULL);
    decode_line(&f, WEB "logstash-patterns-httpd.log", 2, &buf);
    expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "username@example.com");
    expect_field(&f.ev, "http.request.referrer", -1, NULL);
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "400");
    free(buf);
    decode_line(&f, WEB "logstash-patterns-httpd.log", 3, &buf);
    assert_true(f.ev.ts == INT64_C(1578780327) * KB_NS_PER_SEC);
    expect_canon(&f.ev, KB_F_USER_NAME, KB_V_STR, "a.user");
    expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, -1, NULL);
    expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "OPTIONS");
    expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "/remote.php/");
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "monitoring-client (v2.2)");
    expect_field(&f.ev, "bytes", KB_V_INT, "7908");
    fx_close(&f);
    free(buf);

    /* lnav shop: +0330 zone and a trailing nginx field ("-", absent). */
    fx_open(&f, &kb_dec_weblog, names, NULL);
    decode_line(&f, WEB "lnav-shop-access.log", 1, &buf);
    assert_true(f.ev.ts == INT64_C(1548116774) * KB_NS_PER_SEC);
    expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "54.36.149.41");
    expect_field(&f.ev, "extra", -1, NULL);
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR,
                 "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)");
    fx_close(&f);
    free(buf);

    /* wazuh: \" inside the request line is unescaped. */
    fx_open(&f, &kb_dec_weblog, names, NULL);
    decode_line(&f, WEB "wazuh-web_rules.log", 9, &buf);
    {
        const kb_field *u = kb_event_canon(&f.ev, KB_F_URL_FULL);
        assert_non_null(u);
        assert_non_null(kb_memmem(u->val, u->len, "OR'\"XOR(if(now()", 16));
        assert_null(kb_memmem(u->val, u->len, "\\\"", 2));
        assert_true(kb_str_has_prefix(u->val, u->len, "/example?dir=asc"));
        assert_true(u->val[u->len - 1] == '1');
    }
    expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "www.example.com");
    expect_field(&f.ev, "http.request.referrer", KB_V_STR, "https://www.example.com");
    fx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void web_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    fx f;

    fx_open(&f, &kb_dec_weblog, names, NULL);
    assert_int_equal(fx_decodez(&f, "  "), KB_ESKIP);
    assert_int_equal(fx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log record has an unterminated quoted field");
    assert_int_equal(fx_decodez(&f, "1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] \"GET /\" 200 1"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log time is not dd/Mon/yyyy:hh:mm:ss zone");
    assert_int_equal(fx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\""),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log record lacks status or size");
    assert_int_equal(fx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" OK 1"),
                     KB_EPARSE);
    assert_string_equal(f.ctx.err, "access log status is not a number");
    assert_int_equal(fx_decodez(&f, "a b c d e [10/Oct/2000:13:55:36 -0700] \"GET /\" 200 1"),
                     KB_EPARSE);
    assert_int_equal(fx_decode(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\0\" 200 1",
                               56), KB_EPARSE);
    assert_string_equal(f.ctx.err, "NUL byte in an access log record");

    /* \xHH escapes (TLS bytes sent to a plain port), no method. */
    assert_int_equal(fx_decodez(&f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "
                                    "\"\\x16\\x03\\x01\" 400 0 \"-\" \"a\\\\b\" 0.003 \"x y\""),
                     KB_OK);
    assert_true(f.ev.ts == INT64_C(971211336) * KB_NS_PER_SEC);
    expect_field(&f.ev, "request_line", KB_V_STR, "\x16\x03\x01");
    expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, -1, NULL);
    expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR, "a\\b");
    expect_field(&f.ev, "extra", KB_V_STR, "0.003 \"x y\"");
    expect_field(&f.ev, "http.request.referrer", -1, NULL);

    line = malloc(big);
    assert_non_null(line);
    memset(line, '"', big);
    assert_int_equal(fx_decode(&f, line, big), KB_EPARSE);
    memset(line, 'a', big);
    memcpy(line, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /", 47);
    memcpy(line + big - 8, "\" 200 1 ", 8);
    assert_int_equal(fx_decode(&f, line, big), KB_OK);
    assert_int_equal(kb_event_canon(&f.ev, KB_F_URL_FULL)->len, big - 8 - 46);
    free(line);
    fx_close(&f);
    kb_names_free(names);
}

static void web_sniffing(void **unused)
{
    static const char *const yes[] = {
        "93.43.209.58 - - [08/Jun/2020:06:49:01 +0000] \"GET / HTTP/1.0\" 500 803 \"-\" \"-\"",
        "www.crowdsec.net 1.2.3.4 - - [08/Jun/2020:08:04:43 +0000] \"GET /solr HTTP/1.1\" 500 1",
        "10.0.0.5 - - [1/Apr/2014:00:00:01 -0500] \"POST /wp-admin HTTP/1.1\" 200 181",
    };
    static const char *const no[] = {
        "[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10:tid 1] [client 1.2.3.4:5]",
        "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT a:443 b DIRECT/1.2.3.4 -",
        "{\"ts\":1.5}",
        "",
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kb_dec_weblog.sniff(yes[i], strlen(yes[i])), 90);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(kb_dec_weblog.sniff(no[i], strlen(no[i])), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(web_samples),   cmocka_unit_test(web_crowdsec),
        cmocka_unit_test(web_logstash),  cmocka_unit_test(web_bad_input),
        cmocka_unit_test(web_sniffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
