/* Zeek decoders: TSV with its header, JSON, and the shared canonical
 * mapping, over the real samples in ../shared/data/logs/zeek-*. */
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

#include "decoder-fixture.h"

#define TSV KOBAN_SHARED_DATA "/logs/zeek-tsv/"
#define JSN KOBAN_SHARED_DATA "/logs/zeek-json/"

/* ---- TSV ------------------------------------------------------------------- */

static void tsv_conn_first_record(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;
    size_t n, len;
    char *buf = dfx_slurp(TSV "lnav-conn.log", &n);
    dfx_lines it = {buf, buf + n};
    const char *s;
    int rc = KB_ESKIP, headers = 0;

    dfx_open(&f, &kb_dec_zeek, names, TSV "lnav-conn.log");
    while (rc == KB_ESKIP && dfx_next_line(&it, &s, &len)) {
        rc = dfx_decode(&f, s, len);
        headers += rc == KB_ESKIP;
    }
    assert_int_equal(rc, KB_OK);
    assert_int_equal(headers, 8);
    assert_true(f.ev.ts == INT64_C(1320279554496300000));
    assert_string_equal(f.ev.ls.product, "zeek");
    assert_string_equal(f.ev.ls.service, "conn");
    assert_null(f.ev.ls.category);
    dfx_expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_FLOAT, "1320279554.496300");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "192.168.2.76");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_PORT, KB_V_INT, "52025");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "208.85.42.28");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "80");
    dfx_expect_canon(&f.ev, KB_F_NETWORK_TRANSPORT, KB_V_STR, "tcp");
    dfx_expect_canon(&f.ev, KB_F_NETWORK_PROTOCOL, -1, NULL); /* service is unset "-" */
    dfx_expect_canon(&f.ev, KB_F_EVENT_CATEGORY, KB_V_STR, "network");
    dfx_expect_canon(&f.ev, KB_F_EVENT_KIND, KB_V_STR, "event");
    dfx_expect_canon(&f.ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "zeek");
    dfx_expect_field(&f.ev, "uid", KB_V_STR, "Cg9xqq3JAcZusspA86");
    dfx_expect_field(&f.ev, "duration", KB_V_FLOAT, "2.125850");
    dfx_expect_field(&f.ev, "resp_bytes", KB_V_INT, "1092421");
    dfx_expect_field(&f.ev, "conn_state", KB_V_STR, "SF");
    dfx_expect_field(&f.ev, "history", KB_V_STR, "^dAfFa");
    dfx_expect_field(&f.ev, "local_orig", KB_V_NULL, ""); /* unset */
    dfx_expect_field(&f.ev, "service", KB_V_NULL, "");
    dfx_expect_field(&f.ev, "tunnel_parents", KB_V_STR, ""); /* (empty) */

    /* The second record has a service. */
    assert_true(dfx_next_line(&it, &s, &len));
    assert_int_equal(dfx_decode(&f, s, len), KB_OK);
    dfx_expect_canon(&f.ev, KB_F_NETWORK_PROTOCOL, KB_V_STR, "http");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_PORT, KB_V_INT, "52034");
    dfx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void tsv_http_record(void **unused)
{
    kb_names *names = kb_names_new(0);
    dfx f;
    size_t n, len;
    char *buf = dfx_slurp(TSV "lnav-http.log", &n);
    dfx_lines it = {buf, buf + n};
    const char *s;
    int rc = KB_ESKIP, seen = 0;

    dfx_open(&f, &kb_dec_zeek, names, TSV "lnav-http.log");
    while (dfx_next_line(&it, &s, &len)) {
        if ((rc = dfx_decode(&f, s, len)) == KB_OK && ++seen == 2)
            break;
    }
    assert_int_equal(rc, KB_OK);
    assert_string_equal(f.ev.ls.service, "http");
    assert_true(f.ev.ts == INT64_C(1320279566831619000));
    dfx_expect_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD, KB_V_STR, "GET");
    dfx_expect_canon(&f.ev, KB_F_URL_DOMAIN, KB_V_STR, "e.thumbs.redditmedia.com");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR,
                     "http://e.thumbs.redditmedia.com/E-pbDbmiBclPkDaX.jpg");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    dfx_expect_canon(&f.ev, KB_F_USER_AGENT_ORIGINAL, KB_V_STR,
                     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.6; rv:7.0.1) Gecko/20100101 "
                     "Firefox/7.0.1");
    dfx_expect_canon(&f.ev, KB_F_NETWORK_PROTOCOL, KB_V_STR, "http");
    dfx_expect_field(&f.ev, "referrer", KB_V_STR, "http://www.reddit.com/");
    /* vector[string] column: the value and its element. */
    dfx_expect_field(&f.ev, "resp_mime_types", KB_V_STR, "image/jpeg");
    dfx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void tsv_all_samples(void **unused)
{
    static const struct {
        const char *file;
        dfx_counts want;
    } cases[] = {
        {"lnav-conn.log", {92, 9, 0}},
        {"lnav-http.log", {197, 9, 0}},
        {"zed-wrccdc-dns.log", {3000, 8, 0}},
        {"zed-wrccdc-notice.log", {207, 9, 0}},
        {"zed-wrccdc-smtp.log", {1188, 9, 0}},
        {"zed-wrccdc-ssh.log", {22, 9, 0}},
        {"zed-wrccdc-weird.log", {3000, 8, 0}},
        {"zeek-btest-basic-dns.log", {34, 9, 0}},
        {"zeek-btest-certs-base64-x509.log", {3, 9, 0}},
        {"zeek-btest-cisco-fabric-path-conn.log", {64, 9, 0}},
        {"zeek-btest-escape-odd-url-http.log", {1, 9, 0}},
        {"zeek-btest-escape-set-separator.log", {1, 9, 0}},
        {"zeek-btest-escape-ssh.log", {5, 7, 0}},
        {"zeek-btest-http-methods-http.log", {49, 9, 0}},
        {"zeek-btest-http-methods-weird.log", {34, 9, 0}},
        {"zeek-btest-x509-files.log", {6, 9, 0}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        dfx_expect_counts(&kb_dec_zeek, names, TSV, cases[i].file, cases[i].want);
    kb_names_free(names);
}

/* Decodes a file and stops at data record number `nth` (1-based). */
static void decode_nth(dfx *f, const char *path, int nth, char **buf)
{
    size_t n, len;
    const char *s;
    dfx_lines it;
    int seen = 0;

    *buf = dfx_slurp(path, &n);
    it = (dfx_lines){*buf, *buf + n};
    if (!f->ctx.path)
        f->ctx.path = path;
    while (dfx_next_line(&it, &s, &len)) {
        int rc = dfx_decode(f, s, len);
        if (rc == KB_OK && ++seen == nth)
            return;
    }
    fail_msg("%s: fewer than %d records", path, nth);
}

static void tsv_escapes(void **unused)
{
    kb_names *names = kb_names_new(0);
    const kb_field *e;
    char *buf;
    dfx f;
    int i = 0;
    static const char *const elems[] = {",", "CC", ",,", "AA"};

    /* "#separator ||": multi-byte separator, \x7c escapes in values, and a
     * time column named "t" holding a placeholder (not a time). */
    dfx_open(&f, &kb_dec_zeek, names, "ssh.log");
    decode_nth(&f, TSV "zeek-btest-escape-ssh.log", 3, &buf);
    assert_string_equal(f.ev.ls.service, "ssh");
    dfx_expect_field(&f.ev, "status", KB_V_STR, "fa||ure");
    dfx_expect_field(&f.ev, "country", KB_V_STR, "UK");
    dfx_expect_field(&f.ev, "t", KB_V_STR, "XXXXXXXXXX.XXXXXX");
    assert_true(f.ev.ts == KB_TIME_NONE);
    dfx_expect_canon(&f.ev, KB_F_TIMESTAMP, -1, NULL);
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "1.2.3.4");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "80");
    dfx_close(&f);
    free(buf);

    /* Set elements split on the set separator before unescaping. */
    dfx_open(&f, &kb_dec_zeek, names, "test.log");
    decode_nth(&f, TSV "zeek-btest-escape-set-separator.log", 1, &buf);
    dfx_expect_field(&f.ev, "ss", KB_V_STR, "\\x2c,CC,\\x2c\\x2c,AA");
    e = kb_event_get_named(&f.ev, "ss");
    while ((e = kb_event_next(&f.ev, e->name, e))) {
        assert_true(e->flags & KB_FF_ELEM);
        assert_int_equal(e->elem, i);
        assert_true(i < 4);
        dfx_expect_val(e, KB_V_STR, elems[i++]);
    }
    assert_int_equal(i, 4);
    dfx_close(&f);
    free(buf);

    /* \xfc in a URI becomes the byte 0xfc (not valid UTF-8: kept as is). */
    dfx_open(&f, &kb_dec_zeek, names, "http.log");
    decode_nth(&f, TSV "zeek-btest-escape-odd-url-http.log", 1, &buf);
    e = kb_event_get_named(&f.ev, "uri");
    assert_non_null(e);
    assert_non_null(kb_memmem(e->val, e->len, "uurimisr\xfchma_seminar", 20));
    assert_null(kb_memmem(e->val, e->len, "\\x", 2));
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "404");
    dfx_close(&f);
    free(buf);

    /* Backslashes are written doubled. */
    dfx_open(&f, &kb_dec_zeek, names, "notice.log");
    decode_nth(&f, TSV "zed-wrccdc-notice.log", 1, &buf);
    e = kb_event_get_named(&f.ev, "sub");
    assert_non_null(e);
    assert_non_null(kb_memmem(e->val, e->len, "unstructuredName=1315656901\\,564d", 33));
    assert_non_null(kb_memmem(e->val, e->len, "O=VMware\\, Inc,", 15));
    dfx_expect_canon(&f.ev, KB_F_RULE_NAME, KB_V_STR, "SSL::Invalid_Server_Cert");
    dfx_expect_canon(&f.ev, KB_F_EVENT_KIND, KB_V_STR, "alert");
    dfx_close(&f);
    free(buf);
    kb_names_free(names);
}

static const char HDR[] = "#separator \\x09\n"
                          "#set_separator\t,\n"
                          "#empty_field\t(empty)\n"
                          "#unset_field\t-\n"
                          "#path\tdns\n"
                          "#fields\tts\tuid\tid.orig_h\tquery\tanswers\tAA\n"
                          "#types\ttime\tstring\taddr\tstring\tvector[string]\tbool\n";

static void feed_header(dfx *f, const char *hdr)
{
    const char *p = hdr;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_int_equal(dfx_decode(f, p, (size_t)(nl - p)), KB_ESKIP);
        p = nl + 1;
    }
}

static void tsv_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    dfx f;

    dfx_open(&f, &kb_dec_zeek, names, "dns.log");
    /* Data before any #fields. */
    assert_int_equal(dfx_decodez(&f, "1.0\tCx\t1.2.3.4\ta.example\t-\tT"), KB_EPARSE);
    assert_string_equal(f.ctx.err, "zeek data line before any #fields header");

    feed_header(&f, HDR);
    assert_int_equal(dfx_decodez(&f, "1.5\tCx\t1.2.3.4\ta.example\tb,c\tT"), KB_OK);
    assert_true(f.ev.ts == INT64_C(1500000000));
    dfx_expect_canon(&f.ev, KB_F_DNS_QUESTION_NAME, KB_V_STR, "a.example");
    dfx_expect_field(&f.ev, "AA", KB_V_BOOL, "true");
    assert_string_equal(f.ev.ls.service, "dns");

    assert_int_equal(dfx_decodez(&f, "1.5\tCx\t1.2.3.4\ta.example\t-"), KB_EPARSE);
    assert_string_equal(f.ctx.err, "zeek record has fewer columns than #fields");
    assert_int_equal(dfx_decodez(&f, "1.5\tCx\t1.2.3.4\ta.example\t-\tT\textra"), KB_EPARSE);
    assert_string_equal(f.ctx.err, "zeek record has more columns than #fields");
    assert_int_equal(dfx_decode(&f, "1.5\tC\0\t1.2.3.4\ta\t-\tT", 17), KB_EPARSE);
    assert_string_equal(f.ctx.err, "NUL byte in a zeek record");

    /* A 10 MB line without separators. */
    line = malloc(big);
    assert_non_null(line);
    memset(line, 'A', big);
    assert_int_equal(dfx_decode(&f, line, big), KB_EPARSE);
    assert_string_equal(f.ctx.err, "zeek record has fewer columns than #fields");
    /* A 10 MB line with a huge last column decodes, with 10 MB of elements
     * capped. */
    memcpy(line, "1.5\tCx\t1.2.3.4\ta\t", 17);
    for (size_t i = 17; i < big - 2; i += 2)
        line[i + 1] = ',';
    line[big - 2] = '\t';
    line[big - 1] = 'F';
    assert_int_equal(dfx_decode(&f, line, big), KB_OK);
    assert_true(f.ev.nfields < KB_EVENT_MAX_FIELDS);
    dfx_expect_field(&f.ev, "AA", KB_V_BOOL, "false");
    free(line);

    /* A header with more columns than the cap makes data lines rejected. */
    {
        kb_buf b;
        kb_buf_init(&b, 0);
        kb_buf_puts(&b, "#fields");
        for (int i = 0; i < 1100; i++)
            kb_buf_printf(&b, "\tc%d", i);
        assert_int_equal(dfx_decode(&f, b.data, b.len), KB_ESKIP);
        assert_int_equal(dfx_decodez(&f, "1\t2"), KB_EPARSE);
        assert_string_equal(f.ctx.err, "#fields header has too many columns");
        kb_buf_release(&b);
    }
    dfx_close(&f);
    kb_names_free(names);
}

/* Two files concatenated: the second header replaces the first, and the
 * field ids are interned per header, not per record. */
static void tsv_concatenated(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t n1, n2, len, count_before = 0;
    char *a = dfx_slurp(TSV "lnav-conn.log", &n1), *b = dfx_slurp(TSV "lnav-http.log", &n2);
    char *both = malloc(n1 + n2);
    const char *s;
    dfx_lines it;
    dfx_counts c = {0, 0, 0};
    int data = 0;
    dfx f;

    memcpy(both, a, n1);
    memcpy(both + n1, b, n2);
    it = (dfx_lines){both, both + n1 + n2};
    dfx_open(&f, &kb_dec_zeek, names, "-");
    while (dfx_next_line(&it, &s, &len)) {
        int rc = dfx_decode(&f, s, len);
        c.ok += rc == KB_OK;
        c.skip += rc == KB_ESKIP;
        c.rej += rc < 0 && rc != KB_ESKIP;
        if (rc == KB_OK && ++data == 2)
            count_before = kb_names_count(names);
        if (rc == KB_OK && data <= 92)
            assert_string_equal(f.ev.ls.service, "conn");
        if (rc == KB_OK && data == 92)
            assert_int_equal(kb_names_count(names), count_before);
        if (rc == KB_OK && data > 92) {
            assert_string_equal(f.ev.ls.service, "http");
            assert_non_null(kb_event_canon(&f.ev, KB_F_HTTP_REQUEST_METHOD));
        }
    }
    assert_int_equal(c.ok, 92 + 197);
    assert_int_equal(c.skip, 18);
    assert_int_equal(c.rej, 0);
    dfx_close(&f);
    free(both);
    free(a);
    free(b);
    kb_names_free(names);
}

/* ---- TSV and JSON agree ------------------------------------------------------ */

static void same_canon(const kb_event *t, const kb_event *j, const char *what, int rec)
{
    if (t->ts != j->ts)
        fail_msg("%s record %d: ts %lld vs %lld", what, rec, (long long)t->ts,
                 (long long)j->ts);
    assert_string_equal(t->ls.service, j->ls.service);
    assert_string_equal(t->ls.product, j->ls.product);
    for (int c = 0; c < KB_F_CANON_COUNT; c++) {
        const kb_field *a = kb_event_canon(t, c), *b = kb_event_canon(j, c);
        if (c == KB_F_TIMESTAMP)
            continue; /* the same instant, written as epoch vs ISO 8601 */
        if (!a || !b) {
            if (a || b)
                fail_msg("%s record %d: %s only in %s", what, rec, kb_canon_name(c),
                         a ? "tsv" : "json");
            continue;
        }
        if (a->type != b->type || a->len != b->len || memcmp(a->val, b->val, a->len) != 0)
            fail_msg("%s record %d: %s '%.*s'(%d) vs '%.*s'(%d)", what, rec, kb_canon_name(c),
                     (int)a->len, a->val, a->type, (int)b->len, b->val, b->type);
    }
}

static void tsv_json_agree(void **unused)
{
    static const char *const logs[] = {"dns", "notice", "smtp", "ssh", "weird"};
    static const int records[] = {3000, 207, 1188, 22, 3000};
    kb_names *names = kb_names_new(0);

    for (size_t k = 0; k < 5; k++) {
        char tp[512], jp[512];
        size_t tn, jn, tl, jl;
        char *tb, *jb;
        const char *ts, *js;
        dfx_lines ti, ji;
        dfx ft, fj;
        int rec = 0;

        snprintf(tp, sizeof tp, TSV "zed-wrccdc-%s.log", logs[k]);
        snprintf(jp, sizeof jp, JSN "zed-wrccdc-%s.json.log", logs[k]);
        tb = dfx_slurp(tp, &tn);
        jb = dfx_slurp(jp, &jn);
        ti = (dfx_lines){tb, tb + tn};
        ji = (dfx_lines){jb, jb + jn};
        dfx_open(&ft, &kb_dec_zeek, names, tp);
        dfx_open(&fj, &kb_dec_zeek_json, names, jp);
        while (dfx_next_line(&ti, &ts, &tl)) {
            int rc = dfx_decode(&ft, ts, tl);
            if (rc == KB_ESKIP)
                continue;
            assert_int_equal(rc, KB_OK);
            assert_true(dfx_next_line(&ji, &js, &jl));
            assert_int_equal(dfx_decode(&fj, js, jl), KB_OK);
            rec++;
            same_canon(&ft.ev, &fj.ev, logs[k], rec);
            assert_non_null(kb_event_canon(&ft.ev, KB_F_SOURCE_IP));
        }
        assert_false(dfx_next_line(&ji, &js, &jl));
        assert_int_equal(rec, records[k]);
        dfx_close(&ft);
        dfx_close(&fj);
        free(tb);
        free(jb);
    }
    kb_names_free(names);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_all_samples(void **unused)
{
    static const struct {
        const char *file;
        dfx_counts want;
    } cases[] = {
        {"elastic-conn.json.log", {18, 0, 0}},
        {"elastic-files.json.log", {4, 0, 0}},
        {"metron-bro-kafka-wrapped.log", {31, 0, 0}},
        {"metron-sensorstub-http-unwrapped.json.log", {1049, 0, 0}},
        {"zed-wrccdc-dns.json.log", {3000, 0, 0}},
        {"zed-wrccdc-notice.json.log", {207, 0, 0}},
        {"zed-wrccdc-smtp.json.log", {1188, 0, 0}},
        {"zed-wrccdc-ssh.json.log", {22, 0, 0}},
        {"zed-wrccdc-weird.json.log", {3000, 0, 0}},
        {"zeekdocs-conn.json.log", {2, 0, 0}},
        {"zeekdocs-dns.json.log", {4, 0, 0}},
        {"zeekdocs-http.json.log", {1, 0, 0}},
        {"zeekdocs-known-and-software.json.log", {5, 0, 0}},
        {"zeekdocs-log-formats.json.log", {9, 0, 0}},
        {"zeekdocs-ssl.json.log", {2, 0, 0}},
        {"zeekdocs-traceroute.json.log", {2, 0, 0}},
    };
    kb_names *names = kb_names_new(0);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        dfx_expect_counts(&kb_dec_zeek_json, names, JSN, cases[i].file, cases[i].want);
    kb_names_free(names);
}

static void json_paths(void **unused)
{
    kb_names *names = kb_names_new(0);
    char *buf;
    dfx f;

    /* {"http": {...}} wrapper: the key is the path. */
    dfx_open(&f, &kb_dec_zeek_json, names, "x.log");
    decode_nth(&f, JSN "metron-bro-kafka-wrapped.log", 1, &buf);
    assert_string_equal(f.ev.ls.service, "http");
    dfx_expect_canon(&f.ev, KB_F_URL_FULL, KB_V_STR, "http://www.cisco.com/");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "192.249.113.37");
    dfx_expect_canon(&f.ev, KB_F_HTTP_RESPONSE_STATUS_CODE, KB_V_INT, "200");
    assert_true(f.ev.ts == INT64_C(1402307733473000000));
    dfx_close(&f);
    free(buf);

    dfx_open(&f, &kb_dec_zeek_json, names, "x.log");
    decode_nth(&f, JSN "metron-bro-kafka-wrapped.log", 2, &buf);
    assert_string_equal(f.ev.ls.service, "dns");
    dfx_expect_canon(&f.ev, KB_F_DNS_QUESTION_NAME, KB_V_STR, "www.cisco.com");
    dfx_close(&f);
    free(buf);

    /* No _path: the field set says conn, though the file is named ssl. */
    dfx_open(&f, &kb_dec_zeek_json, names, NULL);
    decode_nth(&f, JSN "zeekdocs-ssl.json.log", 1, &buf);
    assert_string_equal(f.ev.ls.service, "conn");
    dfx_expect_canon(&f.ev, KB_F_NETWORK_PROTOCOL, KB_V_STR, "ssl");
    dfx_close(&f);
    free(buf);

    /* Fields say nothing: the file name does. */
    dfx_open(&f, &kb_dec_zeek_json, names, NULL);
    decode_nth(&f, JSN "zeekdocs-traceroute.json.log", 1, &buf);
    assert_string_equal(f.ev.ls.service, "traceroute");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "192.168.4.48");
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_IP, KB_V_STR, "216.113.20.1");
    dfx_expect_canon(&f.ev, KB_F_TIMESTAMP, KB_V_STR, "2020-12-07T05:25:13.222095Z");
    assert_true(f.ev.ts == INT64_C(1607318713222095000));
    dfx_close(&f);
    free(buf);

    /* A Splunk export line keeps the record in result._raw. */
    dfx_open(&f, &kb_dec_zeek_json, names, NULL);
    decode_nth(&f, JSN "elastic-files.json.log", 4, &buf);
    assert_string_equal(f.ev.ls.service, "files");
    dfx_expect_canon(&f.ev, KB_F_FILE_HASH_MD5, KB_V_STR, "48f0e38385112eeca5fc9ffd402eaecd");
    dfx_expect_canon(&f.ev, KB_F_FILE_HASH_SHA1, KB_V_STR,
                     "8e8321ca08b08e3726fe1d82996884eeb5f0d655");
    dfx_expect_field(&f.ev, "fuid", KB_V_STR, "F9ip9a3MDAq3XLBOn2");
    dfx_close(&f);
    free(buf);

    /* ISO 8601 ts in a conn record without _path. */
    dfx_open(&f, &kb_dec_zeek_json, names, NULL);
    decode_nth(&f, JSN "elastic-conn.json.log", 17, &buf);
    assert_string_equal(f.ev.ls.service, "conn");
    assert_true(f.ev.ts == INT64_C(1623272113160328000));
    dfx_expect_canon(&f.ev, KB_F_DESTINATION_PORT, KB_V_INT, "80");
    dfx_close(&f);
    free(buf);

    /* ssh: event.outcome from auth_success. */
    dfx_open(&f, &kb_dec_zeek_json, names, NULL);
    decode_nth(&f, JSN "zed-wrccdc-ssh.json.log", 3, &buf);
    assert_string_equal(f.ev.ls.service, "ssh");
    dfx_expect_canon(&f.ev, KB_F_EVENT_OUTCOME, KB_V_STR, "failure");
    dfx_expect_canon(&f.ev, KB_F_SOURCE_IP, KB_V_STR, "10.128.0.233");
    dfx_close(&f);
    free(buf);
    kb_names_free(names);
}

static void json_bad_input(void **unused)
{
    kb_names *names = kb_names_new(0);
    size_t big = 10u << 20;
    char *line;
    dfx f;

    dfx_open(&f, &kb_dec_zeek_json, names, "conn.log");
    assert_int_equal(dfx_decodez(&f, "   "), KB_ESKIP);
    assert_int_equal(dfx_decodez(&f, "{\"ts\":1.5,\"uid\":"), KB_EPARSE);
    assert_non_null(f.ctx.err);
    assert_int_equal(dfx_decodez(&f, "{\"uid\":\"C1\",\"id.orig_h\":\"1.2.3.4\"}"), KB_EPARSE);
    assert_string_equal(f.ctx.err, "zeek-json record without a ts field");
    assert_int_equal(dfx_decode(&f, "{\"ts\":1.5,\"uid\":\"C\0\"}", 21), KB_EPARSE);
    assert_non_null(f.ctx.err);
    assert_int_equal(dfx_decodez(&f, "[1,2]"), KB_EPARSE);
    assert_int_equal(dfx_decodez(&f, "{\"x\":{\"ts\":1}}"), KB_OK); /* wrapped, unknown path */
    assert_string_equal(f.ev.ls.service, "x");

    line = malloc(big);
    assert_non_null(line);
    memset(line, '[', big);
    assert_int_equal(dfx_decode(&f, line, big), KB_EPARSE);
    memset(line, ' ', big);
    memcpy(line, "{\"ts\":1.25,\"msg\":\"", 18);
    memset(line + 18, 'a', big - 20);
    memcpy(line + big - 2, "\"}", 2);
    assert_int_equal(dfx_decode(&f, line, big), KB_OK);
    assert_true(f.ev.ts == INT64_C(1250000000));
    free(line);
    dfx_close(&f);
    kb_names_free(names);
}

static void sniffing(void **unused)
{
    const char *tsv_data = "1320279554.496300\tCg9xqq3JAcZusspA86\t192.168.2.76\t52025\t208.85.42."
                           "28\t80\ttcp\t-\t2.125850\t0\t1092421\tSF\t-";
    const char *json = "{\"ts\":1547188415.857497,\"uid\":\"CAcJw21BbVedgFnYH3\",\"id.orig_h\":"
                       "\"192.168.86.167\"}";
    const char *squid = "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT "
                        "login.yahoo.com:443 badeyek DIRECT/175.16.199.115 -";

    assert_int_equal(kb_dec_zeek.sniff("#separator \\x09", 15), 100);
    assert_int_equal(kb_dec_zeek.sniff("#fields\tts\tuid", 14), 100);
    assert_int_equal(kb_dec_zeek.sniff(tsv_data, strlen(tsv_data)), 10);
    assert_int_equal(kb_dec_zeek.sniff(json, strlen(json)), 0);
    assert_int_equal(kb_dec_zeek.sniff(squid, strlen(squid)), 0);
    assert_int_equal(kb_dec_zeek_json.sniff(json, strlen(json)), 95);
    assert_int_equal(kb_dec_zeek_json.sniff("{\"ts\":1,\"a\":2}", 14), 0);
    assert_int_equal(kb_dec_zeek_json.sniff(tsv_data, strlen(tsv_data)), 0);
    assert_int_equal(kb_dec_zeek_json.sniff("", 0), 0);
    assert_int_equal(kb_dec_zeek.sniff("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tsv_conn_first_record), cmocka_unit_test(tsv_http_record),
        cmocka_unit_test(tsv_all_samples),       cmocka_unit_test(tsv_escapes),
        cmocka_unit_test(tsv_bad_input),         cmocka_unit_test(tsv_concatenated),
        cmocka_unit_test(tsv_json_agree),        cmocka_unit_test(json_all_samples),
        cmocka_unit_test(json_paths),            cmocka_unit_test(json_bad_input),
        cmocka_unit_test(sniffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
