/* Unit tests for the syslog decoder (src/ingest/syslog.c) and its program
 * decoders (sshd.c, sudo.c, netfilter.c), against the RFC 5424 examples and
 * the real samples in ../shared/data/logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/decoders.h"

#include "decoder-fixture.h"

#define LOGS KOBAN_SHARED_DATA "/logs/"

/* 2024-06-01T00:00:00Z: the reference time for year inference. */
#define REF_2024 (INT64_C(1717200000) * KB_NS_PER_SEC)

static dfx F;
static char F_val[4096]; /* get()'s copy of a value */

static int setup(void **state)
{
    (void)state;
    dfx_open(&F, &kb_dec_syslog, NULL, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dfx_close(&F);
    return 0;
}

/* Decodes one line (with the reference time given) into F.ev. */
static int dec_at(const char *line, size_t len, int64_t ref)
{
    F.ctx.ref_time = ref;
    return dfx_decode(&F, line, len);
}

static int dec(const char *line)
{
    return dec_at(line, strlen(line), REF_2024);
}

/* The value of field `name` (canonical names resolve through their slot) as
 * a C string, or NULL. */
static const char *get(const char *name)
{
    const kb_field *f;
    int c = kb_canon_find(name, strlen(name));

    f = c >= 0 ? kb_event_canon(&F.ev, c) : kb_event_get_named(&F.ev, name);
    if (!f)
        return NULL;
    assert_true(f->len < sizeof F_val);
    memcpy(F_val, f->val, f->len);
    F_val[f->len] = '\0';
    return F_val;
}

#define assert_field(name, want) assert_string_equal(get(name) ? get(name) : "(null)", want)
#define assert_no_field(name) assert_null(get(name))

static int64_t iso(const char *s)
{
    int64_t t = 0;
    assert_int_equal(kb_time_parse_iso8601(s, strlen(s), &t), KB_OK);
    return t;
}

static int count_named(const char *name)
{
    kb_fid id = kb_names_lookup(F.names, name, strlen(name));
    int n = 0;
    for (const kb_field *f = kb_event_next(&F.ev, id, NULL); f; f = kb_event_next(&F.ev, id, f))
        n++;
    return id == KB_FID_NONE ? 0 : n;
}

/* ---- RFC 5424
 * ------------------------------------------------------------------------ */

/* The four examples of RFC 5424 section 6.5 ("BOM" is the real U+FEFF). */
static void test_rfc5424_examples(void **state)
{
    (void)state;
    assert_int_equal(dec("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                         "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8"),
                     KB_OK);
    assert_field("syslog.priority", "34");
    assert_field("syslog.facility", "4");
    assert_field("syslog.facility_name", "auth");
    assert_field("syslog.severity", "2");
    assert_field("syslog.severity_name", "crit");
    assert_field("event.severity", "2");
    assert_field("syslog.version", "1");
    assert_field("host.name", "mymachine.example.com");
    assert_field("process.name", "su");
    assert_no_field("process.pid");
    assert_field("syslog.msgid", "ID47");
    assert_no_field("syslog.sd");
    assert_field("message", "'su root' failed for lonvick on /dev/pts/8");
    assert_field("@timestamp", "2003-10-11T22:14:15.003Z");
    assert_true(F.ev.ts == iso("2003-10-11T22:14:15.003Z"));
    assert_string_equal(F.ev.ls.product, "linux");
    assert_string_equal(F.ev.ls.service, "auth");

    assert_int_equal(dec("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                         "%% It's time to make the do-nuts."),
                     KB_OK);
    assert_field("syslog.facility", "20");
    assert_field("syslog.severity", "5");
    assert_field("host.name", "192.0.2.1");
    assert_field("process.name", "myproc");
    assert_field("process.pid", "8710");
    assert_no_field("syslog.msgid");
    assert_field("message", "%% It's time to make the do-nuts.");
    assert_true(F.ev.ts == iso("2003-08-24T12:14:15.000003Z"));
    assert_string_equal(F.ev.ls.service, "syslog");

    assert_int_equal(dec("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
                         "ID47 "
                         "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                         "eventID=\"1011\"] \xEF\xBB\xBF"
                         "An application event log entry..."),
                     KB_OK);
    assert_field("process.name", "evntslog");
    assert_field("syslog.msgid", "ID47");
    assert_field("syslog.sd.exampleSDID@32473.iut", "3");
    assert_field("syslog.sd.exampleSDID@32473.eventSource", "Application");
    assert_field("syslog.sd.exampleSDID@32473.eventID", "1011");
    assert_field("message", "An application event log entry...");

    assert_int_equal(dec("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
                         "ID47 "
                         "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                         "eventID=\"1011\"][examplePriority@32473 class=\"high\"]"),
                     KB_OK);
    assert_field("syslog.sd.exampleSDID@32473.eventID", "1011");
    assert_field("syslog.sd.examplePriority@32473.class", "high");
    assert_field("syslog.sd", "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                              "eventID=\"1011\"][examplePriority@32473 class=\"high\"]");
    assert_no_field("message");
}

static void test_rfc5424_sd_escapes(void **state)
{
    (void)state;
    /* \" \\ \] are escapes; any other backslash stays (RFC 5424 6.3.3). */
    assert_int_equal(dec("<13>1 2021-01-01T00:00:00+01:00 h a 1 - "
                         "[x@1 q=\"say \\\"hi\\\"\" b=\"a\\\\b\" r=\"[1\\]\" o=\"c:\\d\"] m"),
                     KB_OK);
    assert_field("syslog.sd.x@1.q", "say \"hi\"");
    assert_field("syslog.sd.x@1.b", "a\\b");
    assert_field("syslog.sd.x@1.r", "[1]");
    assert_field("syslog.sd.x@1.o", "c:\\d");
    assert_field("message", "m");
    assert_true(F.ev.ts == iso("2020-12-31T23:00:00Z"));

    /* Leniencies seen in real senders (logstash and rsyslog samples). */
    assert_int_equal(dec("<34>1 2012-12-19T01:45:54.001234Z rufus - - - [meta sequenceId=10] "
                         "BOMStack unit 3 Power supply 2 is down"),
                     KB_OK);
    assert_field("syslog.sd.meta.sequenceId", "10");
    assert_field("message", "BOMStack unit 3 Power supply 2 is down");
    assert_no_field("process.name");
    assert_int_equal(dec("<174>1 2016-12-31T23:59:60-04:00 resolver.se "
                         "prg00000[1234] - -  info: "
                         "client 10.23.53.22#63252"),
                     KB_OK);
    assert_field("process.name", "prg00000[1234]");
    assert_field("message", "info: client 10.23.53.22#63252");
    assert_true(F.ev.ts == iso("2017-01-01T04:00:00Z")); /* the leap second rolls over */

    /* Broken structured data is rejected with a reason. */
    const char *bad[] = {
        "<13>1 2021-01-01T00:00:00Z h a 1 - [x@1 q=\"unterminated] m",
        "<13>1 2021-01-01T00:00:00Z h a 1 - [x@1 q=\"v\"",
        "<13>1 2021-01-01T00:00:00Z h a 1 - [] m",
        "<13>1 2021-01-01T00:00:00Z h a 1 - [x@1 =\"v\"] m",
        "<13>1 2021-01-01T00:00:00Z h a 1 - [x@1 q=\"v\"]m",
        "<13>1 2021-01-01T00:00:00Z h a 1 - [x@1 q\"v\"] m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dec(bad[i]), KB_EPARSE);
        assert_non_null(kb_memmem(F.ctx.err, strlen(F.ctx.err), "structured data", 15));
    }
}

static void test_rfc5424_samples(void **state)
{
    (void)state;
    assert_int_equal(dec("<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan "
                         "filterlog 92653 - - "
                         "7,,,1000000102,vtnet0.5,match,block,in,4"),
                     KB_OK);
    assert_field("syslog.facility_name", "local0");
    assert_field("syslog.severity_name", "info");
    assert_field("host.name", "firewall.lan");
    assert_field("process.name", "filterlog");
    assert_field("process.pid", "92653");
    assert_field("message", "7,,,1000000102,vtnet0.5,match,block,in,4");
    assert_true(F.ev.ts == iso("2025-11-06T11:32:42.868451Z"));

    assert_int_equal(dec("<30>1 2023-09-28T12:10:12.175599+02:00 test.lab.com "
                         "systemd 153589 - - "
                         "Stopped target Default."),
                     KB_OK);
    assert_field("message", "Stopped target Default.");
    assert_true(F.ev.ts == iso("2023-09-28T10:10:12.175599Z"));
    assert_string_equal(F.ev.ls.service, "syslog");

    assert_int_equal(dec("<15>1 2021-03-06T04:07:38.251122+00:00 hostname "
                         "log_tag - 123 -  this is "
                         "debug"),
                     KB_OK);
    assert_no_field("process.pid");
    assert_field("syslog.msgid", "123");
    assert_field("message", "this is debug");
}

/* ---- RFC 3164 and variants
 * ------------------------------------------------------------- */

static void test_rfc3164_basic(void **state)
{
    (void)state;
    assert_int_equal(dec("<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: UDP "
                         "request discarded"),
                     KB_OK);
    assert_field("syslog.priority", "167");
    assert_field("syslog.facility_name", "local4");
    assert_field("syslog.severity_name", "debug");
    assert_field("host.name", "172.20.245.8");
    assert_field("process.name", "%PIX-7-710005");
    assert_field("message", "UDP request discarded");
    assert_field("@timestamp", "Mar  6 16:57:54");
    assert_true(F.ev.ts == iso("2024-03-06T16:57:54Z")); /* no zone: UTC */
    assert_no_field("syslog.version");

    /* No PRI, one-digit day, pid. */
    assert_int_equal(dec("Nov 2 15:40:14 workshop sshd[28179]: hello"), KB_OK);
    assert_no_field("syslog.priority");
    assert_field("host.name", "workshop");
    assert_field("process.name", "sshd");
    assert_field("process.pid", "28179");
    assert_true(F.ev.ts == iso("2023-11-02T15:40:14Z"));

    /* Fractional seconds, zero-padded day. */
    assert_int_equal(dec("Jul 14 12:17:01.234 precision.computer CRON[869567]: x"), KB_OK);
    assert_true(F.ev.ts == iso("2023-07-14T12:17:01.234Z"));
    assert_int_equal(dec("Aug 03 21:39:20 hostname sshd[69420]: y"), KB_OK);
    assert_true(F.ev.ts == iso("2023-08-03T21:39:20Z"));

    /* Year in the date, with and without ':' after the time, and first. */
    assert_int_equal(dec("<175>Oct 16 2009 23:47:31 hostname tag[1234] This is a message"), KB_OK);
    assert_true(F.ev.ts == iso("2009-10-16T23:47:31Z"));
    assert_field("host.name", "hostname");
    assert_field("process.name", "tag");
    assert_field("process.pid", "1234");
    assert_field("message", "This is a message");
    assert_int_equal(dec("<167>Mar 7 2008 19:06:53: example tag: testmessage"), KB_OK);
    assert_true(F.ev.ts == iso("2008-03-07T19:06:53Z"));
    assert_field("host.name", "example");
    assert_int_equal(dec("2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock begins"), KB_OK);
    assert_true(F.ev.ts == iso("2015-11-13T13:40:01Z"));
    assert_field("process.name", "rsyslogd-2177");

    /* Missing host: the word after the date is a tag. */
    assert_int_equal(dec("Jan 11 22:33:44 su: 'su root' failed for luser on /dev/pts/8"), KB_OK);
    assert_no_field("host.name");
    assert_field("process.name", "su");
    assert_field("message", "'su root' failed for luser on /dev/pts/8");

    /* Program without pid and a non-numeric pid. */
    assert_int_equal(dec("May 11 15:40:51 meow.soy.se ansible-<stdin>: Invoked with filter=*"),
                     KB_OK);
    assert_field("process.name", "ansible-<stdin>");
    assert_no_field("process.pid");
    assert_int_equal(dec("Nov  3 09:23:38 h app[abc]: z"), KB_OK);
    assert_field("syslog.procid", "abc");
    assert_no_field("process.pid");

    /* rsyslog parse-nodate: PRI and tag, no date, no host. */
    assert_int_equal(dec("<27>xapi: [error|xen3|15|Guest liveness monitor D:bca30ab3f1c1|"
                         "master_connection] Connection to master died."),
                     KB_OK);
    assert_field("syslog.facility_name", "daemon");
    assert_field("syslog.severity_name", "err");
    assert_no_field("host.name");
    assert_field("process.name", "xapi");
    assert_true(F.ev.ts == KB_TIME_NONE);
    assert_no_field("@timestamp");
}

static void test_rfc3164_iso(void **state)
{
    (void)state;
    assert_int_equal(dec("2020-05-31T00:00:45.738158+00:00 localhost systemd[1]: "
                         "Reloaded System "
                         "Logging Service."),
                     KB_OK);
    assert_true(F.ev.ts == iso("2020-05-31T00:00:45.738158Z"));
    assert_field("@timestamp", "2020-05-31T00:00:45.738158+00:00");
    assert_field("host.name", "localhost");
    assert_field("process.name", "systemd");
    assert_field("process.pid", "1");
    assert_field("message", "Reloaded System Logging Service.");

    /* macOS: a space between date and time, zone without colon. */
    assert_int_equal(dec("2020-03-24 08:38:42.344447-0700 localhost sshd[2519]: "
                         "Failed password "
                         "for root from 192.0.2.7 port 2222 ssh2"),
                     KB_OK);
    assert_true(F.ev.ts == iso("2020-03-24T15:38:42.344447Z"));
    assert_field("host.name", "localhost");
    assert_field("source.ip", "192.0.2.7");

    assert_int_equal(dec("<14>2010-08-30T23:00:05Z X4711 AAAA"), KB_OK);
    assert_field("host.name", "X4711");
    assert_field("process.name", "AAAA");
    assert_no_field("message");
}

static void test_year_inference(void **state)
{
    int64_t jan = iso("2024-01-05T00:00:00Z"), mar23 = iso("2023-03-01T00:00:00Z");
    (void)state;
    /* December read in January lands last year. */
    assert_int_equal(dec_at("Dec 31 23:59:59 h p: x", 22, jan), KB_OK);
    assert_true(F.ev.ts == iso("2023-12-31T23:59:59Z"));
    assert_int_equal(dec_at("Jan  5 10:00:00 h p: x", 22, jan), KB_OK);
    assert_true(F.ev.ts == iso("2024-01-05T10:00:00Z"));
    /* Feb 29 goes back to the last leap year. */
    assert_int_equal(dec_at("Feb 29 01:15:43: --- testing leap year ---", 41, mar23), KB_OK);
    assert_true(F.ev.ts == iso("2020-02-29T01:15:43Z"));
    assert_int_equal(dec_at("Feb 29 01:15:43 h p: x", 22, iso("2024-03-01T00:00:00Z")), KB_OK);
    assert_true(F.ev.ts == iso("2024-02-29T01:15:43Z"));
    /* A day that never exists. */
    assert_int_equal(dec("Feb 30 01:00:00 h p: x"), KB_EPARSE);
    assert_string_equal(F.ctx.err, "invalid timestamp");
}

static void test_repeated_and_mark(void **state)
{
    (void)state;
    assert_int_equal(dec("Mar 11 09:39:39: --- last message repeated 5 times ---"), KB_OK);
    assert_no_field("host.name");
    assert_no_field("process.name");
    assert_field("message", "--- last message repeated 5 times ---");
    assert_field("syslog.repeat_count", "5");
    assert_int_equal(dec("Feb 18 16:01:59 serverX last message repeated 3 times"), KB_OK);
    assert_field("host.name", "serverX");
    assert_no_field("process.name");
    assert_field("syslog.repeat_count", "3");
    assert_int_equal(dec("<167>Feb 18 16:01:59 serverX -- MARK --"), KB_OK);
    assert_field("process.name", "--");
    assert_field("message", "MARK --");
}

/* Splits "a,b,c" into at most n fields (the last keeps the rest). */
static int split(char *s, char **out, int n)
{
    int k = 0;
    out[k++] = s;
    while (k < n && (s = strchr(s, ',')) != NULL) {
        *s++ = '\0';
        out[k++] = s;
    }
    return k;
}

/* Next line of buf at *pos (without its newline); NULL at the end. */
static const char *next_line(const char *buf, size_t len, size_t *pos, size_t *ll)
{
    const char *p, *nl;
    if (*pos >= len)
        return NULL;
    p = buf + *pos;
    nl = memchr(p, '\n', len - *pos);
    *ll = nl ? (size_t)(nl - p) : len - *pos;
    *pos += *ll + 1;
    return p;
}

/* rsyslog's parser tests: the expected rendering is
 * PRI,facility,severity,timestamp,hostname,programname,syslogtag,msg. rsyslog
 * fills a missing PRI with 13 and a missing host with its own name; koban
 * leaves both absent. */
static void check_rsyslog(const char *name, int with_host)
{
    char path[512], *in, *exp;
    size_t ilen, elen, ip = 0, ep = 0, ll, el;
    const char *line, *e;
    int n = 0;

    snprintf(path, sizeof path, LOGS "syslog-parse-edge/%s.log", name);
    in = dfx_slurp(path, &ilen);
    snprintf(path, sizeof path, LOGS "syslog-parse-edge/%s.expected.txt", name);
    exp = dfx_slurp(path, &elen);
    while ((line = next_line(in, ilen, &ip, &ll)) != NULL) {
        char row[2048], *col[6], want[64];
        const char *got;
        int64_t t;
        int y, k = 0;
        unsigned mo, d;

        e = next_line(exp, elen, &ep, &el);
        assert_non_null(e);
        assert_true(el < sizeof row);
        memcpy(row, e, el);
        row[el] = '\0';
        assert_int_equal(dec_at(line, ll, REF_2024), KB_OK);
        split(row, col, with_host ? 6 : 5);
        if (line[0] == '<')
            assert_field("syslog.priority", col[k]);
        k++;
        assert_field("syslog.facility_name", line[0] == '<' ? col[k] : "(null)");
        k++;
        assert_field("syslog.severity_name", line[0] == '<' ? col[k] : "(null)");
        k++;
        /* The date, as "Mmm dd hh:mm:ss" (rsyslog's %timestamp%). */
        if (strlen(col[k]) == 15) {
            char buf[40];
            const char *tt = get("@timestamp");
            /* rsyslog renders the writer's local time; koban converts to UTC. */
            int zoned = tt && strlen(tt) > 19 && (strchr(tt + 19, '+') || strchr(tt + 19, '-'));
            t = F.ev.ts;
            assert_true(t != KB_TIME_NONE);
            kb_civil_from_days(t / KB_NS_PER_SEC / 86400, &y, &mo, &d);
            kb_time_format(t, buf, sizeof buf);
            assert_int_equal(kb_month_from_abbr(col[k], 3), (int)mo);
            assert_int_equal(strtol(col[k] + 4, NULL, 10), (long)d);
            if (!zoned)
                assert_memory_equal(col[k] + 7, buf + 11, 8);
            k++;
        }
        if (with_host) {
            if (strcmp(col[k], "<RECEIVER_HOSTNAME>") == 0)
                assert_no_field("host.name");
            else
                assert_field("host.name", col[k]);
            k++;
        }
        /* col[k] is "programname,syslogtag,msg"; the programname may hold
         * commas itself, so compare it as a prefix. */
        got = get("process.name");
        snprintf(want, sizeof want, "%s,", got ? got : "");
        if (strncmp(col[k], want, strlen(want)) != 0)
            fail_msg("%s line %d: program '%s', want prefix of '%s'", name, n + 1, want, col[k]);
        got = get("message");
        if (got && *got) {
            size_t gl = strlen(got), cl = strlen(col[k]);
            assert_true(cl >= gl);
            assert_string_equal(col[k] + cl - gl, got);
        }
        n++;
    }
    assert_null(next_line(exp, elen, &ep, &el));
    assert_true(n > 0);
    free(in);
    free(exp);
}

static void test_rsyslog_parsertests(void **state)
{
    (void)state;
    check_rsyslog("rsyslog-parsertest-parse1", 1);
    check_rsyslog("rsyslog-parsertest-parse2", 0);
    check_rsyslog("rsyslog-parsertest-parse-3164-buggyday", 1);
}

/* ---- sshd
 * ----------------------------------------------------------------------------------
 */

static void expect_auth(const char *action, const char *outcome, const char *user, const char *ip,
                        const char *port)
{
    assert_field("event.category", "authentication");
    assert_field("event.action", action);
    if (outcome)
        assert_field("event.outcome", outcome);
    else
        assert_no_field("event.outcome");
    if (user)
        assert_field("user.name", user);
    else
        assert_no_field("user.name");
    if (ip)
        assert_field("source.ip", ip);
    else
        assert_no_field("source.ip");
    if (port)
        assert_field("source.port", port);
    else
        assert_no_field("source.port");
    assert_string_equal(F.ev.ls.product, "linux");
    assert_string_equal(F.ev.ls.service, "sshd");
}

static void test_sshd(void **state)
{
    (void)state;
    assert_int_equal(dec("Sep  6 09:57:21 bullseye sshd[581]: Accepted publickey for vagrant "
                         "from "
                         "192.168.121.1 port 56296 ssh2: RSA SHA256:1M4RzhMyWuFS"),
                     KB_OK);
    expect_auth("ssh_login", "success", "vagrant", "192.168.121.1", "56296");
    assert_field("sshd.method", "publickey");
    assert_field("process.pid", "581");
    assert_int_equal(dec("Feb 23 00:13:35 localhost sshd[7483]: Accepted "
                         "password for vagrant from "
                         "192.168.33.1 port 58803 ssh2"),
                     KB_OK);
    expect_auth("ssh_login", "success", "vagrant", "192.168.33.1", "58803");
    assert_field("sshd.method", "password");
    assert_int_equal(dec("Mar  1 10:00:00 h sshd[1]: Accepted "
                         "keyboard-interactive/pam for bob "
                         "from 2001:db8::1 port 4022 ssh2"),
                     KB_OK);
    expect_auth("ssh_login", "success", "bob", "2001:db8::1", "4022");
    assert_field("sshd.method", "keyboard-interactive/pam");

    assert_int_equal(dec("Apr  6 18:51:41 eve sshd[2784424]: Failed password for "
                         "invalid user root "
                         "from 192.168.1.2 port 51182 ssh2"),
                     KB_OK);
    expect_auth("ssh_login", "failure", "root", "192.168.1.2", "51182");
    assert_field("sshd.invalid_user", "true");
    assert_int_equal(dec("Feb 20 08:35:22 slave22 sshd[5774]: Failed password for root from "
                         "89.160.20.156 port 29160 ssh2"),
                     KB_OK);
    expect_auth("ssh_login", "failure", "root", "89.160.20.156", "29160");
    assert_no_field("sshd.invalid_user");
    /* A user name with " from " in it cannot move the address. */
    assert_int_equal(dec("Feb 20 08:35:22 s sshd[1]: Failed password for invalid "
                         "user a from 6.6.6.6 "
                         "port 1 from 10.0.0.9 port 22 ssh2"),
                     KB_OK);
    expect_auth("ssh_login", "failure", "a from 6.6.6.6 port 1", "10.0.0.9", "22");

    assert_int_equal(dec("Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from "
                         "35.188.49.176 port 53502"),
                     KB_OK);
    expect_auth("invalid_user", "failure", "pascal", "35.188.49.176", "53502");
    assert_int_equal(dec("Feb 21 21:56:12 localhost sshd[3430]: Invalid user "
                         "test from 10.0.2.2"),
                     KB_OK);
    expect_auth("invalid_user", "failure", "test", "10.0.2.2", NULL);

    assert_int_equal(dec("Dec 22 14:53:37 ip-172-31-20-90 sshd[4177]: Connection closed by "
                         "authenticating user root 206.81.24.125 port 45362 [preauth]"),
                     KB_OK);
    expect_auth("connection_closed", "failure", "root", "206.81.24.125", "45362");
    assert_int_equal(dec("Aug 03 21:39:20 hostname sshd[69420]: Connection "
                         "closed by invalid user "
                         "root 206.81.24.125 port 45362 [preauth]"),
                     KB_OK);
    expect_auth("connection_closed", "failure", "root", "206.81.24.125", "45362");
    assert_int_equal(dec("Nov 19 11:28:15 myhost sshd[36648]: Connection closed "
                         "by 118.27.24.104 "
                         "port 33594 [preauth]"),
                     KB_OK);
    expect_auth("connection_closed", NULL, NULL, "118.27.24.104", "33594");
    assert_int_equal(dec("Feb 19 10:38:14 myhost sshd[3355]: Disconnected from "
                         "invalid user ftp "
                         "92.255.85.135 port 26138 [preauth]"),
                     KB_OK);
    expect_auth("disconnected", "failure", "ftp", "92.255.85.135", "26138");
    assert_int_equal(dec("Feb 19 10:38:14 myhost sshd[3355]: Disconnected from user ftp "
                         "92.255.85.135 port 26138"),
                     KB_OK);
    expect_auth("disconnected", NULL, "ftp", "92.255.85.135", "26138");

    assert_int_equal(dec("Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth): "
                         "authentication "
                         "failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.160 "
                         "user=workshop"),
                     KB_OK);
    expect_auth("authentication_failure", "failure", "workshop", "5.33.63.160", NULL);
    assert_int_equal(dec("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: "
                         "authentication failure; "
                         "logname= uid=0 euid=0 tty=NODEVssh ruser= "
                         "rhost=220-135-151-1.hinet-ip.hinet.net  user=root"),
                     KB_OK);
    expect_auth("authentication_failure", "failure", "root", NULL, NULL);
    assert_field("sshd.rhost", "220-135-151-1.hinet-ip.hinet.net");
    assert_field("process.name", "sshd(pam_unix)");

    assert_int_equal(dec("Mar  4 13:34:59 s sshd[5396]: error: maximum "
                         "authentication attempts "
                         "exceeded for invalid user admin from 192.0.2.5 port "
                         "51234 ssh2 [preauth]"),
                     KB_OK);
    expect_auth("max_auth_attempts", "failure", "admin", "192.0.2.5", "51234");
    assert_int_equal(dec("2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root "
                         "from "
                         "192.168.1.1 not allowed because not listed in AllowUsers"),
                     KB_OK);
    expect_auth("user_not_allowed", "failure", "root", "192.168.1.1", NULL);

    /* Unknown sshd messages stay plain, with the address when one is named. */
    assert_int_equal(dec("Jul  1 09:30:56 usbkey sshd[8807]: fatal: Timeout "
                         "before authentication "
                         "for 192.168.9.212 port 47056"),
                     KB_OK);
    assert_no_field("event.action");
    assert_field("source.ip", "192.168.9.212");
    assert_field("source.port", "47056");
    assert_int_equal(dec("Jul  1 09:30:56 usbkey sshd[8807]: Server listening on 0.0.0.0."), KB_OK);
    assert_no_field("event.action");
    assert_no_field("source.ip");
    assert_string_equal(F.ev.ls.service, "sshd");
}

/* crowdsec's parser.assert states sshd_client_ip and sshd_invalid_user per
 * line of crowdsec-sshd.log; they must be koban's source.ip and user.name. */
static void test_sshd_crowdsec(void **state)
{
    char *in, *as;
    size_t ilen, alen, ip = 0, ll;
    const char *line;
    int idx = 0, checked = 0;
    (void)state;

    in = dfx_slurp(LOGS "syslog-auth/crowdsec-sshd.log", &ilen);
    as = dfx_slurp(LOGS "syslog-auth/crowdsec-sshd.parser.assert", &alen);
    while ((line = next_line(in, ilen, &ip, &ll)) != NULL) {
        char key[160];
        const char *fields[][2] = {{"sshd_client_ip", "source.ip"},
                                   {"sshd_invalid_user", "user.name"}};
        if (ll == 0)
            continue;
        assert_int_equal(dec_at(line, ll, REF_2024), KB_OK);
        for (int f = 0; f < 2; f++) {
            const char *p, *q;
            int n = snprintf(key, sizeof key,
                             "[\"crowdsecurity/sshd-logs\"][%d].Evt.Parsed[\"%s\"] == \"", idx,
                             fields[f][0]);
            p = kb_memmem(as, alen, key, (size_t)n);
            if (!p)
                continue;
            p += n;
            q = strchr(p, '"');
            if (!get(fields[f][1]) || strlen(get(fields[f][1])) != (size_t)(q - p) ||
                memcmp(get(fields[f][1]), p, (size_t)(q - p)) != 0)
                fail_msg("line %d: %s is '%s', want '%.*s'", idx + 1, fields[f][1],
                         get(fields[f][1]) ? F_val : "(null)", (int)(q - p), p);
            assert_int_equal(strlen(get(fields[f][1])), (size_t)(q - p));
            assert_memory_equal(get(fields[f][1]), p, (size_t)(q - p));
            checked++;
        }
        idx++;
    }
    assert_int_equal(idx, 24);
    assert_int_equal(checked, 35);
    free(in);
    free(as);
}

/* ---- sudo
 * ----------------------------------------------------------------------------------
 */

static void test_sudo(void **state)
{
    (void)state;
    assert_int_equal(dec("Feb 21 23:35:33 localhost sudo: vagrant : TTY=pts/0 ; "
                         "PWD=/home/vagrant ; "
                         "USER=root ; COMMAND=/bin/ls"),
                     KB_OK);
    assert_field("user.name", "vagrant");
    assert_field("sudo.tty", "pts/0");
    assert_field("sudo.pwd", "/home/vagrant");
    assert_field("sudo.run_as", "root");
    assert_field("process.command_line", "/bin/ls");
    assert_field("event.action", "sudo_command");
    assert_field("event.outcome", "success");
    assert_field("event.category", "process");
    assert_no_field("sudo.reason");
    assert_string_equal(F.ev.ls.product, "linux");
    assert_string_equal(F.ev.ls.service, "sudo");

    /* Padded user; the command keeps its own " ; ". */
    assert_int_equal(dec("Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; "
                         "TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/sh -c a ; "
                         "b"),
                     KB_OK);
    assert_field("user.name", "tsg");
    assert_field("event.action", "not_in_sudoers");
    assert_field("event.outcome", "failure");
    assert_field("sudo.reason", "user NOT in sudoers");
    assert_field("process.command_line", "/bin/sh -c a ; b");

    assert_int_equal(dec("Jun 25 16:15:45 precise32 sudo:     mike : 3 incorrect "
                         "password attempts "
                         "; TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls"),
                     KB_OK);
    assert_field("user.name", "mike");
    assert_field("event.action", "incorrect_password");
    assert_field("event.outcome", "failure");

    /* No TTY; a TSID. */
    assert_int_equal(dec("Aug  6 19:42:10 server01 sudo[18432]: alice : "
                         "PWD=/home/alice ; USER=root "
                         "; COMMAND=/usr/bin/id"),
                     KB_OK);
    assert_field("user.name", "alice");
    assert_no_field("sudo.tty");
    assert_field("process.command_line", "/usr/bin/id");
    assert_int_equal(dec("Dec 30 19:36:11 rheltest sudo: cplummer : TTY=pts/2 ; "
                         "PWD=/home/cplummer1 "
                         "; USER=root ; TSID=0000UM ; COMMAND=/bin/bash"),
                     KB_OK);
    assert_field("sudo.tsid", "0000UM");
    assert_field("process.command_line", "/bin/bash");

    assert_int_equal(dec("Jun  2 19:08:43 host.name sudo[654321]: pam_unix(sudo:auth): "
                         "authentication failure; logname=bob uid=1117 euid=0 tty=/dev/pts/1 "
                         "ruser=alice rhost= user=root"),
                     KB_OK);
    assert_field("user.name", "alice");
    assert_field("sudo.run_as", "root");
    assert_field("event.category", "authentication");
    assert_field("event.action", "authentication_failure");
    assert_field("event.outcome", "failure");

    assert_int_equal(dec("Jun  2 19:08:43 h sudo: pam_unix(sudo:session): "
                         "session opened for user "
                         "root by vagrant(uid=0)"),
                     KB_OK);
    assert_field("user.name", "vagrant");
    assert_field("sudo.run_as", "root");
    assert_field("event.action", "session_opened");
    assert_int_equal(dec("Jun  2 19:08:43 h sudo: pam_unix(sudo:session): "
                         "session closed for user "
                         "root"),
                     KB_OK);
    assert_field("user.name", "root");
    assert_field("event.action", "session_closed");

    assert_int_equal(dec("Dec  7 14:53:04 vskub1master01p sudo: pam_tally2(sudo:auth): user "
                         "zbadguy (4001) tally 6, deny 5"),
                     KB_OK);
    assert_no_field("event.action");
    assert_string_equal(F.ev.ls.service, "sudo");
}

/* ---- kernel firewall
 * ---------------------------------------------------------------------------
 */

static void expect_fw(const char *action, const char *src, const char *sport, const char *dst,
                      const char *dport, const char *transport)
{
    assert_field("event.category", "network");
    if (action)
        assert_field("event.action", action);
    else
        assert_no_field("event.action");
    assert_field("source.ip", src);
    assert_field("destination.ip", dst);
    if (sport)
        assert_field("source.port", sport);
    else
        assert_no_field("source.port");
    if (dport)
        assert_field("destination.port", dport);
    else
        assert_no_field("destination.port");
    assert_field("network.transport", transport);
    assert_string_equal(F.ev.ls.product, "linux");
    assert_string_equal(F.ev.ls.category, "firewall");
    assert_null(F.ev.ls.service);
}

static void test_netfilter(void **state)
{
    (void)state;
    /* crowdsec-iptables.log line 1 and its parser.assert values. */
    assert_int_equal(dec("Jun  8 14:34:33 sd-126005 kernel: [50028442.088484] IN=enp1s0 OUT= "
                         "MAC=00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00 SRC=195.54.160.107 "
                         "DST=51.15.166.67 LEN=40 TOS=0x00 PREC=0x00 TTL=245 ID=37308 "
                         "PROTO=TCP "
                         "SPT=8080 DPT=8123 WINDOW=1024 RES=0x00 SYN URGP=0"),
                     KB_OK);
    expect_fw(NULL, "195.54.160.107", "8080", "51.15.166.67", "8123", "tcp");
    assert_field("host.name", "sd-126005");
    assert_field("process.name", "kernel");
    assert_field("netfilter.in", "enp1s0");
    assert_field("netfilter.out", "");
    assert_field("netfilter.mac", "00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00");
    assert_field("netfilter.ttl", "245");
    assert_field("netfilter.window", "1024");
    assert_field("netfilter.urgp", "0");
    assert_field("netfilter.flag", "SYN");
    assert_field("netfilter.proto", "TCP");
    assert_no_field("netfilter.prefix");
    assert_no_field("rule.name");

    assert_int_equal(dec("Sep 27 20:56:38 ubuntu-focal kernel: [  203.842973] IPTABLES-DROP: "
                         "IN=lo "
                         "OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 "
                         "DST=127.0.0.53 LEN=76 TOS=0x00 PREC=0x00 TTL=64 ID=25029 DF "
                         "PROTO=UDP "
                         "SPT=49007 DPT=53 LEN=56 "),
                     KB_OK);
    expect_fw("drop", "127.0.0.1", "49007", "127.0.0.53", "53", "udp");
    assert_field("rule.name", "IPTABLES-DROP");
    assert_int_equal(count_named("netfilter.len"), 2);
    assert_field("netfilter.len", "76"); /* the IP length comes first */

    assert_int_equal(dec("<4>Jan  1 00:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=10.0.0.1 "
                         "DST=10.0.0.2 LEN=60 PROTO=TCP SPT=5 DPT=22 SYN"),
                     KB_OK);
    expect_fw("block", "10.0.0.1", "5", "10.0.0.2", "22", "tcp");
    assert_field("rule.name", "UFW BLOCK");
    assert_field("syslog.facility_name", "kern");
    assert_int_equal(dec("Jan  1 00:00:00 gw kernel: Shorewall:net-fw:DROP:IN=eth0 OUT= "
                         "SRC=10.0.0.1 DST=10.0.0.2 PROTO=UDP SPT=5 DPT=53"),
                     KB_OK);
    expect_fw("drop", "10.0.0.1", "5", "10.0.0.2", "53", "udp");
    assert_field("rule.name", "Shorewall:net-fw:DROP");
    assert_int_equal(dec("Jan  1 00:00:00 gw kernel: FINAL_REJECT: IN=eth0 OUT= SRC=10.0.0.1 "
                         "DST=10.0.0.2 PROTO=TCP SPT=5 DPT=53"),
                     KB_OK);
    expect_fw("reject", "10.0.0.1", "5", "10.0.0.2", "53", "tcp");
    assert_int_equal(dec("Jan  1 00:00:00 gw kernel: [UFW AUDIT] IN=eth0 OUT= SRC=10.0.0.1 "
                         "DST=10.0.0.2 PROTO=TCP SPT=5 DPT=53"),
                     KB_OK);
    expect_fw("UFW AUDIT", "10.0.0.1", "5", "10.0.0.2", "53", "tcp");

    /* Ubiquiti rule-name suffixes, PRI and ISO variants (elastic samples). */
    assert_int_equal(dec("<161>Oct 10 07:25:12 Hostname kernel: [wan-lan-default-D]IN=eth0 "
                         "OUT= "
                         "MAC=90:10:20:76:8d:20:90:10:65:29:b6:2a:08:00 SRC=67.43.156.15 "
                         "DST=10.4.0.5 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=0 DF PROTO=TCP "
                         "SPT=38842 DPT=443 WINDOW=2853 RES=0x00 ACK URGP=0"),
                     KB_OK);
    expect_fw("drop", "67.43.156.15", "38842", "10.4.0.5", "443", "tcp");
    assert_field("rule.name", "wan-lan-default-D");
    assert_int_equal(count_named("netfilter.flag"), 2); /* DF, ACK */
    assert_int_equal(dec("Jan  5 20:17:01 MainFirewall kernel: [WAN_OUT-2000-A]IN=eth0 "
                         "OUT=eth2 "
                         "SRC=192.168.134.158 DST=192.168.2.25 PROTO=TCP SPT=43189 DPT=443"),
                     KB_OK);
    expect_fw("allow", "192.168.134.158", "43189", "192.168.2.25", "443", "tcp");
    assert_field("netfilter.out", "eth2");

    /* The prefix read as a tag; ICMP with the quoted packet. */
    assert_int_equal(dec("Jan  8 03:37:09 DENY: IN=eth0 OUT= "
                         "MAC=90:10:28:5f:62:24:90:10:18:5a:89:"
                         "2a:08:00 SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 "
                         "PREC=0x00 "
                         "TTL=118 ID=21684 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.168.2.83 "
                         "DST=192.168.173.191 LEN=60 TOS=0x00 PREC=0x00 TTL=54 ID=0 DF "
                         "PROTO=UDP "
                         "SPT=21458 DPT=62936 LEN=40 ]"),
                     KB_OK);
    expect_fw("block", "192.168.2.71", NULL, "192.168.2.83", NULL, "icmp");
    assert_field("rule.name", "DENY");
    assert_field("netfilter.type", "3");
    assert_field("netfilter.icmp_inner", "SRC=192.168.2.83 DST=192.168.173.191 LEN=60 TOS=0x00 "
                                         "PREC=0x00 TTL=54 ID=0 DF PROTO=UDP SPT=21458 DPT=62936 "
                                         "LEN=40 ");
    assert_int_equal(count_named("netfilter.src"), 1);

    assert_int_equal(dec("Jan 22 09:05:05 ubuntu-bionic kernel: [16571.459614] IN= OUT=lo "
                         "SRC=2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6 "
                         "DST=2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6 LEN=104 TC=0 HOPLIMIT=64 "
                         "FLOWLBL=868225 PROTO=ICMPv6 TYPE=128 CODE=0 ID=3427 SEQ=1 "),
                     KB_OK);
    expect_fw(NULL, "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6", NULL,
              "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6", NULL, "ipv6-icmp");
    assert_field("netfilter.hoplimit", "64");

    assert_int_equal(dec("Jan  5 20:17:01 firewall kernel: [4276041.728154] IN=eno1 OUT= "
                         "SRC=192.168.110.116 DST=192.168.2.25 LEN=120 PROTO=ESP "
                         "SPI=0xcb886522"),
                     KB_OK);
    expect_fw(NULL, "192.168.110.116", NULL, "192.168.2.25", NULL, "esp");
    assert_int_equal(dec("<174>1 2003-08-24T05:14:15+00:00 - - - - - IN=enx503f560021dc OUT= "
                         "SRC=192.168.81.1 DST=224.0.0.1 LEN=32 TTL=1 ID=0 PROTO=2"),
                     KB_OK);
    expect_fw(NULL, "192.168.81.1", NULL, "224.0.0.1", NULL, "igmp");
    assert_no_field("host.name");
}

static void test_netfilter_bare(void **state)
{
    (void)state;
    /* Shorewall sample: no syslog header at all. */
    assert_int_equal(dec("IN=eth2 OUT=eth2 SRC=1.2.3.4 DST=192.168.0.10 LEN=141 "
                         "TOS=0x00 PREC=0x00 "
                         "TTL=63 ID=55251 PROTO=UDP SPT=5353 DPT=5335 LEN=121"),
                     KB_OK);
    expect_fw(NULL, "1.2.3.4", "5353", "192.168.0.10", "5335", "udp");
    assert_true(F.ev.ts == KB_TIME_NONE);
    assert_field("message", "IN=eth2 OUT=eth2 SRC=1.2.3.4 DST=192.168.0.10 LEN=141 TOS=0x00 "
                            "PREC=0x00 TTL=63 ID=55251 PROTO=UDP SPT=5353 DPT=5335 LEN=121");

    /* pve-firewall.log, with crowdsec's expected values. */
    assert_int_equal(dec("0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: "
                         "IN=vmbr0.94 "
                         "MAC=24:8a:07:9a:2a:f2:24:8a:07:50:2c:9e:08:00 SRC=10.3.94.11 "
                         "DST=10.3.94.12 LEN=52 TOS=0x00 PREC=0xC0 TTL=255 ID=64317 DF "
                         "PROTO=UDP "
                         "SPT=49152 DPT=3784 LEN=32"),
                     KB_OK);
    expect_fw("drop", "10.3.94.11", "49152", "10.3.94.12", "3784", "udp");
    assert_field("pvefw.vmid", "0");
    assert_field("pvefw.loglevel", "3");
    assert_field("pvefw.chain", "PVEFW-HOST-IN");
    assert_field("rule.name", "policy DROP");
    assert_field("process.name", "pve-firewall");
    assert_field("netfilter.id", "64317");
    assert_field("netfilter.in", "vmbr0.94");
    assert_field("@timestamp", "20/Jun/2022:13:09:14 +0200");
    assert_true(F.ev.ts == iso("2022-06-20T11:09:14Z"));
    assert_int_equal(dec("101 1 tap101i0-IN 20/Jun/2022:13:13:32 +0200 "
                         "PVEFW-reject: IN=fwbr101i0 "
                         "OUT=fwbr101i0 SRC=2a0a:1580::a DST=2a0a:1580::17 "
                         "PROTO=TCP SPT=59368 "
                         "DPT=22 SYN "),
                     KB_OK);
    expect_fw("reject", "2a0a:1580::a", "59368", "2a0a:1580::17", "22", "tcp");
    assert_field("pvefw.vmid", "101");
    assert_int_equal(dec("0 5 GROUP-security1-IN 20/Jun/2022:15:52:26 +0200 IN=fwbr101i0 "
                         "OUT=fwbr101i0 SRC=10.3.95.34 DST=10.3.95.200 PROTO=TCP SPT=51606 "
                         "DPT=22"),
                     KB_OK);
    expect_fw(NULL, "10.3.95.34", "51606", "10.3.95.200", "22", "tcp");
    assert_no_field("rule.name");
}

/* ---- other programs, logsource
 * ---------------------------------------------------------------- */

static void test_plain_programs(void **state)
{
    (void)state;
    assert_int_equal(dec("<86>Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache"),
                     KB_OK);
    assert_string_equal(F.ev.ls.product, "linux");
    assert_string_equal(F.ev.ls.service, "auth"); /* facility 10, authpriv */
    assert_null(F.ev.ls.category);
    assert_no_field("event.category");
    assert_no_field("observer.product");
    assert_int_equal(dec("Jul 18 10:51:43 localhost firewalld: 2014-07-18 10:51:43 ERROR: "
                         "ZONE_ALREADY_SET"),
                     KB_OK);
    assert_string_equal(F.ev.ls.service, "syslog");
    assert_field("process.name", "firewalld");
    assert_field("message", "2014-07-18 10:51:43 ERROR: ZONE_ALREADY_SET");
}

/* ---- embedded CEF / LEEF
 * ---------------------------------------------------------------------- */

static void test_embedded_cef(void **state)
{
    const char *line = "<13>Jan 18 11:07:53 host.example CEF:0|Vendor|Product|1.0|100|Name|5|"
                       "src=10.0.0.1";
    const char *body = strstr(line, "CEF:");
    const char *leef = "<13>Jan 18 11:07:53 host.example "
                       "LEEF:1.0|Vendor|Product|1.0|ev|src=1.2.3.4";
    kb_event ev2;
    kb_decode_ctx c2 = {0};
    int want;
    (void)state;

    /* The syslog decoder hands the body to the CEF decoder: same result as
     * calling it directly, with the syslog header's fields added first. */
    kb_event_init(&ev2, F.names, F.arena);
    c2.names = F.names;
    want = kb_cef_decode_body(&c2, body, strlen(body), &ev2);
    assert_int_equal(dec(line), want);
    assert_field("host.name", "host.example");
    if (want != KB_OK)
        assert_string_equal(F.ctx.err, c2.err);
    kb_event_init(&ev2, F.names, F.arena);
    body = strstr(leef, "LEEF:");
    want = kb_leef_decode_body(&c2, body, strlen(body), &ev2);
    assert_int_equal(dec(leef), want);
    assert_field("host.name", "host.example");
}

/* ---- sniffing
 * -----------------------------------------------------------------------------------
 */

static int sniff(const char *s)
{
    return kb_dec_syslog.sniff(s, strlen(s));
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(sniff("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - x"),
                     80);
    assert_int_equal(sniff("<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: UDP"), 78);
    assert_int_equal(sniff("<27>xapi: [error|xen3|15]"), 70);
    assert_int_equal(sniff("Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal"), 70);
    assert_int_equal(sniff("Nov 2 15:40:14 workshop sshd[28179]: x"), 70);
    assert_int_equal(sniff("2020-05-31T00:00:45.698463+00:00 localhost rsyslogd: x"), 60);
    /* Not syslog, or syslog carrying CEF/LEEF (their decoders score higher). */
    assert_int_equal(sniff("{\"timestamp\":\"2022-07-12T06:22:33.415742+0000\","
                           "\"event_type\":1}"),
                     0);
    assert_int_equal(sniff("<13>Jan 18 11:07:53 host CEF:0|Vendor|Product|1.0|100|Name|5|src=1"),
                     10);
    assert_int_equal(sniff("CEF:0|Vendor|Product|1.0|100|Name|5|src=1"), 0);
    assert_int_equal(sniff("#separator \\x09"), 0);
    assert_int_equal(sniff("1320279566.452687\tC1\t10.0.0.1\t55\t10.0.0.2\t80\ttcp"), 0);
    assert_int_equal(sniff("127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET "
                           "/ HTTP/1.0\" 200 "
                           "2326"),
                     0);
    assert_int_equal(sniff("1320279554.496 12 10.0.0.1 TCP_MISS/200 1 GET "
                           "http://x/ - DIRECT/1 -"),
                     0);
    assert_int_equal(sniff(""), 0);
    assert_int_equal(sniff("<"), 0);
    assert_int_equal(sniff("<9999>x"), 0);
}

/* ---- bad input
 * ------------------------------------------------------------------------------------
 */

static void test_bad_input(void **state)
{
    static const struct {
        const char *line;
        size_t len; /* 0: strlen */
        int rc;
        const char *err; /* a word of ctx->err */
    } cases[] = {
        {"<", 0, KB_EPARSE, "PRI"},
        {"<1", 0, KB_EPARSE, "PRI"},
        {"<>", 0, KB_EPARSE, "PRI"},
        {"<99999999999999999999>Jan  1 00:00:00 h p: m", 0, KB_EPARSE, "PRI"},
        {"<1000>Jan  1 00:00:00 h p: m", 0, KB_EPARSE, "PRI"},
        {"<192>Jan  1 00:00:00 h p: m", 0, KB_EPARSE, "range"},
        {"<13>1 ", 0, KB_EPARSE, "truncated"},
        {"<13>1 2003-10-11T22:14:15.003Z", 0, KB_EPARSE, "truncated"},
        {"<13>1 2003-10-11T22:14:15.003Z h a p m", 0, KB_EPARSE, "truncated"},
        {"<13>1 2003-13-11T22:14:15.003Z h a p m - x", 0, KB_EPARSE, "timestamp"},
        {"<13>1  h a p m - x", 0, KB_EPARSE, "truncated"},
        {"Jan 32 00:00:00 h p: m", 0, KB_EPARSE, "timestamp"},
        {"Jan  1 25:00:00 h p: m", 0, KB_EPARSE, "timestamp"},
        {"2021-02-30T00:00:00Z h p: m", 0, KB_EPARSE, "timestamp"},
        {"This is a message!", 0, KB_EPARSE, "header"},
        {"\tASL Module \"com.apple.cdscheduler\" claims selected messages.", 0, KB_EPARSE,
         "header"},
        {"MMM 22 07:54:32 myhostname.myhost.com anacron[29782]: Normal exit", 0, KB_EPARSE,
         "header"},
        {"", 0, KB_ESKIP, NULL},
        {"   \r\n", 0, KB_ESKIP, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
        int rc = dec_at(cases[i].line, len, REF_2024);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].line, rc, cases[i].rc);
        if (cases[i].err) {
            assert_non_null(F.ctx.err);
            if (!kb_memmem(F.ctx.err, strlen(F.ctx.err), cases[i].err, strlen(cases[i].err)))
                fail_msg("case %zu: error '%s' lacks '%s'", i, F.ctx.err, cases[i].err);
        }
    }

    /* NUL bytes are ordinary bytes of the message. */
    {
        static const char nul[] = "<13>Jan  1 00:00:00 h p[1]: a\0b\0c";
        assert_int_equal(dec_at(nul, sizeof nul - 1, REF_2024), KB_OK);
        assert_int_equal(kb_event_canon(&F.ev, KB_F_MESSAGE)->len, 5);
        static const char nul5424[] = "<13>1 2003-10-11T22:14:15Z h\0x a - - [i a=\"\0\"] \0";
        assert_int_equal(dec_at(nul5424, sizeof nul5424 - 1, REF_2024), KB_OK);
        assert_int_equal(kb_event_get_named(&F.ev, "syslog.sd.i.a")->len, 1);
    }

    /* Every prefix of some tricky lines: no crash, a result, a reason. */
    {
        static const char *const lines[] = {
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
            "[exampleSDID@32473 iut=\"3\\\"\" eventSource=\"Application\"][p@1 "
            "c=\"h\"] BOMmsg",
            "<167>Mar  6 16:57:54 172.20.245.8 sshd[12]: Failed password for "
            "invalid user x from "
            "1.2.3.4 port 22 ssh2",
            "<4>Jan  8 03:37:09 h kernel: [ 1.2] DENY: IN=eth0 OUT= SRC=1.1.1.1 "
            "DST=2.2.2.2 "
            "PROTO=ICMP [SRC=2.2.2.2 DST=1.1.1.1 PROTO=UDP]",
            "0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=v SRC=1 "
            "DST=2",
            "Dec 30 19:36:11 rheltest sudo: c : TTY=pts/2 ; PWD=/h ; USER=root ; "
            "COMMAND=/bin/bash",
            "2020-03-24 08:38:42.344447-0700 localhost sshd[2519]: Connection "
            "closed by "
            "authenticating user root 1.2.3.4 port 45362 [preauth]",
        };
        for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++) {
            size_t n = strlen(lines[l]);
            for (size_t k = 0; k <= n; k++) {
                int rc = dec_at(lines[l], k, REF_2024);
                assert_true(rc == KB_OK || rc == KB_ESKIP || rc == KB_EPARSE);
                if (rc == KB_EPARSE)
                    assert_non_null(F.ctx.err);
            }
        }
    }

    /* Many SD elements and params: bounded by the field cap, reported. */
    {
        kb_buf b;
        kb_buf_init(&b, 1 << 20);
        assert_int_equal(kb_buf_puts(&b, "<13>1 2003-10-11T22:14:15Z h a - - "), KB_OK);
        for (int i = 0; i < 5000; i++)
            assert_int_equal(kb_buf_printf(&b, "[e%d p=\"%d\"]", i, i), KB_OK);
        assert_int_equal(dec_at(b.data, b.len, REF_2024), KB_ELIMIT);
        assert_non_null(F.ctx.err);
        kb_buf_release(&b);
    }
}

/* ---- every line of every sample
 * ---------------------------------------------------------------- */

static void test_sample_counts(void **state)
{
    /* decoded / rejected / skipped per file. The rejected lines are the
     * continuation lines of multi-line messages (no <PRI>, no date), lines
     * with a bad month ("MMM 22"), and the streams whose framing lost the
     * newlines (plaso's ForwardFormat files: one "line" of several
     * messages decodes as one, the tail line is rejected). */
    static const struct {
        const char *file;
        int ok, rejected, skipped;
    } files[] = {
        {"syslog-rfc3164/crowdsec-syslog.log", 3, 0, 1},
        {"syslog-rfc3164/lnav-bad-syslog.log", 4, 0, 0},
        {"syslog-rfc3164/lnav-syslog-macos-multiline.log", 7, 10, 0},
        {"syslog-rfc3164/lnav-syslog-mixed-times.log", 13, 0, 0},
        {"syslog-rfc3164/lnav-syslog0.log", 4, 0, 0},
        {"syslog-rfc3164/loghub-linux-2k.log", 2000, 0, 0},
        {"syslog-rfc3164/metron-syslog3164-asa.log", 100, 0, 0},
        {"syslog-rfc3164/plaso-rsyslog-default.log", 5, 0, 0},
        {"syslog-rfc3164/plaso-rsyslog-sysklogd.log", 9, 1, 0},
        {"syslog-rfc3164/plaso-rsyslog-traditional.log", 8, 3, 0},
        {"syslog-rfc3164/plaso-syslog.log", 16, 2, 0},
        {"syslog-rfc3164/wazuh-syslog.log", 6, 0, 0},
        {"syslog-rfc5424/crowdsec-pfsense-filterlog.log", 4, 0, 1},
        {"syslog-rfc5424/elastic-auth-5424.log", 1, 0, 0},
        {"syslog-rfc5424/plaso-rsyslog-protocol23.log", 9, 1, 0},
        {"syslog-auth/crowdsec-pam-sudo.log", 2, 0, 0},
        {"syslog-auth/crowdsec-sshd-success.log", 4, 0, 0},
        {"syslog-auth/crowdsec-sshd.log", 24, 0, 0},
        {"syslog-auth/elastic-auth.log", 12, 0, 0},
        {"syslog-auth/elastic-sudo-no-tty.log", 1, 0, 0},
        {"syslog-auth/fail2ban-pam-generic.log", 9, 0, 0},
        {"syslog-auth/fail2ban-sshd.log", 155, 0, 0},
        {"syslog-auth/wazuh-pam.log", 5, 0, 0},
        {"syslog-auth/wazuh-sshd.log", 71, 0, 0},
        {"syslog-auth/wazuh-su.log", 5, 0, 0},
        {"syslog-auth/wazuh-sudo.log", 8, 0, 0},
        {"syslog-parse-edge/logstash-patterns-syslog.log", 16, 0, 0},
        {"syslog-parse-edge/plaso-rsyslog-forwardformat.log", 1, 1, 0},
        {"syslog-parse-edge/plaso-rsyslog-traditionalforward.log", 1, 1, 0},
        {"syslog-parse-edge/rsyslog-parsertest-parse-3164-buggyday.log", 2, 0, 0},
        {"syslog-parse-edge/rsyslog-parsertest-parse-nodate.log", 1, 1, 0},
        {"syslog-parse-edge/rsyslog-parsertest-parse1.log", 29, 0, 0},
        {"syslog-parse-edge/rsyslog-parsertest-parse2.log", 1, 0, 0},
        {"syslog-parse-edge/rsyslog-parsertest-parse3.log", 2, 0, 0},
        {"kernel-firewall/crowdsec-iptables.log", 4, 0, 0},
        {"kernel-firewall/crowdsec-proxmox-pvefw.log", 10, 0, 0},
        {"kernel-firewall/elastic-iptables-raw.log", 24, 0, 0},
        {"kernel-firewall/logstash-patterns-shorewall.log", 2, 0, 0},
        {"kernel-firewall/wazuh-firewalld.log", 3, 0, 0},
    };
    int bad = 0;
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512], *buf;
        size_t len, pos = 0, ll;
        const char *line;
        int ok = 0, rej = 0, skip = 0, fw = 0;

        snprintf(path, sizeof path, LOGS "%s", files[i].file);
        buf = dfx_slurp(path, &len);
        while ((line = next_line(buf, len, &pos, &ll)) != NULL) {
            int rc = dec_at(line, ll, REF_2024);
            if (rc == KB_OK) {
                ok++;
                fw += F.ev.ls.category != NULL;
            } else if (rc == KB_ESKIP) {
                skip++;
            } else {
                if (getenv("SYSLOG_TEST_SHOW_REJECTS"))
                    print_message("%s: %s: %.*s\n", files[i].file, F.ctx.err, (int)ll, line);
                assert_int_equal(rc, KB_EPARSE);
                assert_non_null(F.ctx.err);
                rej++;
            }
        }
        if (ok != files[i].ok || rej != files[i].rejected || skip != files[i].skipped) {
            bad++;
            print_error("%s: %d decoded, %d rejected, %d skipped; want %d, %d, %d\n", files[i].file,
                        ok, rej, skip, files[i].ok, files[i].rejected, files[i].skipped);
        }
        /* Every decoded kernel-firewall line but firewalld's is a firewall event.
         */
        if (strncmp(files[i].file, "kernel-firewall/", 16) == 0)
            assert_int_equal(fw, strstr(files[i].file, "firewalld") ? 0 : ok);
        free(buf);
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424_examples),
        cmocka_unit_test(test_rfc5424_sd_escapes),
        cmocka_unit_test(test_rfc5424_samples),
        cmocka_unit_test(test_rfc3164_basic),
        cmocka_unit_test(test_rfc3164_iso),
        cmocka_unit_test(test_year_inference),
        cmocka_unit_test(test_repeated_and_mark),
        cmocka_unit_test(test_rsyslog_parsertests),
        cmocka_unit_test(test_sshd),
        cmocka_unit_test(test_sshd_crowdsec),
        cmocka_unit_test(test_sudo),
        cmocka_unit_test(test_netfilter),
        cmocka_unit_test(test_netfilter_bare),
        cmocka_unit_test(test_plain_programs),
        cmocka_unit_test(test_embedded_cef),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sample_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
