/* Threat-intelligence feeds over the shared samples: exact counts of
 * indicators imported, rejected (with where and why) and skipped per file,
 * specific indicators and their metadata, the store round trip
 * (idempotent), and exports that load back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "intel/intel.h"
#include "store/store.h"

#define I KOBAN_SHARED_DATA "/intel/"

typedef struct got {
    kb_indicator last;
    char value[512], ref[256], tags[512], threat[64];
    kb_buf rejects; /* "where: reason\n"... */
    kb_buf values;  /* "kind value\n"... */
} got;

static int on_add(void *ud, const kb_indicator *ind)
{
    got *g = ud;
    g->last = *ind;
    snprintf(g->value, sizeof g->value, "%s", ind->value);
    snprintf(g->ref, sizeof g->ref, "%s", ind->ref ? ind->ref : "");
    snprintf(g->tags, sizeof g->tags, "%s", ind->tags ? ind->tags : "");
    snprintf(g->threat, sizeof g->threat, "%s", ind->threat ? ind->threat : "");
    kb_buf_printf(&g->values, "%s %s\n", kb_intel_kind_name(ind->kind), ind->value);
    return 0;
}

static void on_reject(void *ud, const char *where, const char *reason)
{
    got *g = ud;
    kb_buf_printf(&g->rejects, "%s: %s\n", where, reason);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n)
        fail_msg("short read %s", path);
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Loads a file with format fmt; checks rc and the three counts. */
static void load(const char *fmt, const char *path, int want_rc, uint64_t added,
                 uint64_t rejected, uint64_t skipped, got *g)
{
    kb_intel_sink s;
    size_t len = 0;
    char *buf = NULL;
    const char *err = NULL;
    int rc;
    kb_intel_sink_init(&s);
    memset(g, 0, sizeof *g);
    kb_buf_init(&g->rejects, 1 << 24);
    kb_buf_init(&g->values, 1 << 24);
    s.add = on_add;
    s.reject = on_reject;
    s.ud = g;
    s.feed = "test";
    if (strcmp(fmt, "mispdir") == 0) {
        rc = kb_intel_load_misp_dir(&s, path, &err);
    } else {
        buf = slurp(path, &len);
        if (strcmp(fmt, "stix") == 0)
            rc = kb_intel_load_stix(&s, buf, len, &err);
        else if (strcmp(fmt, "misp") == 0)
            rc = kb_intel_load_misp(&s, buf, len, &err);
        else if (strcmp(fmt, "json") == 0)
            rc = kb_intel_load_json_list(&s, buf, len, &err);
        else
            rc = kb_intel_load_csv(&s, buf, len, NULL, &err);
    }
    if (getenv("INTEL_PRINT"))
        printf("%s: rc %d added %llu rejected %llu skipped %llu err %s\n%s", path, rc,
               (unsigned long long)s.added, (unsigned long long)s.rejected,
               (unsigned long long)s.skipped, err ? err : "",
               g->rejects.data ? g->rejects.data : "");
    if (rc != want_rc || s.added != added || s.rejected != rejected || s.skipped != skipped)
        fail_msg("%s: rc %d added %llu rejected %llu skipped %llu (err %s), want %d %llu %llu %llu",
                 path, rc, (unsigned long long)s.added, (unsigned long long)s.rejected,
                 (unsigned long long)s.skipped, err ? err : "-", want_rc,
                 (unsigned long long)added, (unsigned long long)rejected,
                 (unsigned long long)skipped);
    if (want_rc == KB_EFORMAT && !err)
        fail_msg("%s: no error message", path);
    free(buf);
    kb_intel_sink_release(&s);
}

static void done(got *g)
{
    kb_buf_release(&g->rejects);
    kb_buf_release(&g->values);
}

static void has(const kb_buf *b, const char *s)
{
    if (!b->data || !strstr(b->data, s))
        fail_msg("expected '%s' in:\n%s", s, b->data ? b->data : "(nothing)");
}

static void t_stix(void **state)
{
    got g;
    (void)state;
    load("stix", I "stix/oasis-docs-indicator-for-malicious-url.json", KB_OK, 1, 0, 0, &g);
    assert_string_equal(g.value, "http://x4z9arb.cn/4712/");
    assert_string_equal(g.ref, "indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f");
    done(&g);
    load("stix", I "stix/oasis-schemas-indicators-for-C2-with-COA.json", KB_OK, 2, 0, 0, &g);
    has(&g.values, "ip ");
    has(&g.values, "sha256 ");
    done(&g);
    /* e-mail MATCHES patterns: reported with the indicator id */
    load("stix", I "stix/oasis-schemas-malicious-email-indicator-with-attachment.json", KB_OK, 0,
         2, 0, &g);
    has(&g.rejects, "(indicator--");
    has(&g.rejects, "is not a value koban matches");
    done(&g);
    load("stix", I "stix/elevator-yara-pattern-type.json", KB_OK, 0, 1, 0, &g);
    has(&g.rejects, "pattern_type 'yara' is not supported");
    done(&g);
    load("stix", I "stix/elevator-url-in-list.json", KB_OK, 3, 0, 0, &g);
    done(&g);
    load("stix", I "stix/elevator-mandiant-apt1-appendix-g.json", KB_OK, 1020, 46, 0, &g);
    has(&g.rejects, "objects[2] (indicator--8d88dd33-1e16-4814-814e-662fb0ac842f): "
                    "object path 'unconverted_term:mandiant:observable-");
    done(&g);
    load("stix", I "stix/elevator-mandiant-apt1-appendix-g-valid.json", KB_OK, 1020, 46, 0, &g);
    has(&g.rejects, "AND/FOLLOWEDBY");
    done(&g);
    load("stix", I "stix/validator-invalid-braces.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
    load("stix", I "stix/validator-invalid-comma.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
    /* a lone identity object (a bundle of one) whose modified precedes created */
    load("stix", I "stix/validator-invalid-timestamp.json", KB_OK, 0, 1, 0, &g);
    has(&g.rejects, "objects[0] (identity--8c6af861-7b20-41ef-9b59-6344fd872a8f): modified is "
                    "earlier than created");
    done(&g);
    /* a TAXII manifest is not a bundle */
    load("stix", I "taxii/taxii2client-get-manifest-response.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
    load("stix", I "taxii/taxii2client-stix-envelope.json", KB_OK, 1, 0, 0, &g);
    done(&g);
    load("stix", I "stix/mispstix-objects-collection-stix20.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
    load("stix", I "stix/oasis-schemas-infrastructure.json", KB_OK, 0, 0, 0, &g);
    done(&g);
    load("stix", I "misp/pymisp-minimal-event.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
}

static void t_misp(void **state)
{
    got g;
    (void)state;
    load("misp", I "misp/eset-gelsemium-event.json", KB_OK, 153, 0, 1, &g);
    done(&g);
    load("misp", I "misp/eset-pypi-backdoor-event-MALFORMED.json", KB_EFORMAT, 0, 0, 0, &g);
    done(&g);
    load("misp", I "misp/eset-oceanlotus-rastls-event.json", KB_OK, 0, 0, 111, &g);
    done(&g);
    load("mispdir", I "misp/feed-crowdsec", KB_OK, 864, 1, 0, &g);
    has(&g.rejects, "hashes.csv: columns reversed");
    done(&g);
    load("stix", I "stix/mispstix-objects-collection-stix21.json", KB_OK, 1, 2, 0, &g);
    done(&g);
}

static void t_lists(void **state)
{
    got g;
    (void)state;
    load("csv", I "lists/crowdsec-feed-all-7d.txt", KB_OK, 60, 0, 0, &g);
    done(&g);
    load("csv", I "lists/crowdsec-feed-all-7d-v6-EMPTY.txt", KB_OK, 0, 0, 0, &g);
    done(&g);
    load("csv", I "lists/jayp232-c2-ips-30day.csv", KB_OK, 1318, 0, 0, &g);
    done(&g);
    load("csv", I "lists/abusech-malwarebazaar-recent-md5.txt", KB_OK, 507, 0, 0, &g);
    has(&g.values, "md5 98516400e20d10be5d0f6e2462e33df3\n");
    done(&g);
    load("json", I "lists/threatfox-api-ioc-by-id.json", KB_OK, 1, 0, 0, &g);
    assert_string_equal(g.value, "4e5902809c2d4b55dc13e686249a2ea9");
    assert_int_equal(g.last.confidence, 50);
    assert_string_equal(g.tags, "APT,gamaredon");
    done(&g);
    load("json", I "lists/crowdsec-feed-all-7d.json", KB_OK, 60, 0, 0, &g);
    done(&g);
}

static void t_sniff(void **state)
{
    (void)state;
    assert_string_equal(kb_intel_sniff("x.json", "<{\"spec_version\": \"2.1\"}>", 24), "stix");
    assert_string_equal(kb_intel_sniff("e.json", "{\"Event\": {}}", 13), "misp");
    assert_string_equal(kb_intel_sniff("l.json", "{\"items\": []}", 13), "json");
    assert_string_equal(kb_intel_sniff("a.csv", "1.2.3.4\n", 8), "csv");
    assert_string_equal(kb_intel_sniff("a.txt", "1.2.3.4\n", 8), "list");
    assert_string_equal(kb_intel_sniff("a.txt", "ip,desc\n1.2.3.4,x\n", 18), "csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_stix),
        cmocka_unit_test(t_misp),
        cmocka_unit_test(t_lists),
        cmocka_unit_test(t_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
