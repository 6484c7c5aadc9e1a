/* Streaming correlation throughput: alerts per second through the
 * correlation stage on one core, with 100,000 active groups, and the memory
 * it holds against its configured bound.
 *
 * Three rules (event_count, value_count, temporal_ordered) over two base
 * rules; alerts cycle over $KOBAN_BENCH_GROUPS (default 100,000) groups in
 * time order, 1 ms apart. The values are prepared before timing, so the
 * figure is the correlation stage alone (hashing, windows, conditions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"
#include "detect/correlate.h"

static const char rules[] =
    "title: Failed\nname: failed\nlogsource: {product: test}\n"
    "detection: {sel: {x: a}, condition: sel}\n"
    "---\ntitle: Success\nname: success\nlogsource: {product: test}\n"
    "detection: {sel: {x: b}, condition: sel}\n"
    "---\ntitle: Many failures\nname: many\ncorrelation: {type: event_count, rules: failed,"
    " group-by: [source.ip], timespan: 1h, condition: {gte: 20}}\n"
    "---\ntitle: Spraying\ncorrelation: {type: value_count, rules: failed,"
    " group-by: [source.ip], timespan: 1h, condition: {gte: 15, field: user.name}}\n"
    "---\ntitle: Then success\ncorrelation: {type: temporal_ordered, rules: [many, success],"
    " group-by: [source.ip], timespan: 2h}\n";

static uint64_t fired;

static void on_alert(void *ud, const kb_correl_alert *a)
{
    (void)ud, (void)a;
    fired++;
}

int main(void)
{
    kb_names *names = kb_names_new(0);
    kb_ruleset *rs = kb_ruleset_new(names);
    kb_correl_opts o;
    kb_correl *c;
    kb_correl_stats st;
    const kb_rule *failed, *success;
    const char *const *fields;
    size_t nf, groups = 100000, n = bench_size(0) ? bench_size(0) * 100000 : 20000000;
    const char *ge = getenv("KOBAN_BENCH_GROUPS");
    char (*ips)[16], users[64][8];
    kb_str *vals;
    size_t uf = 0, ipf = 0;
    double t0, c0, secs, cpu;

    if (ge && atol(ge) > 0)
        groups = (size_t)atol(ge);
    if (kb_ruleset_load_mem(rs, "bench.yml", rules, sizeof rules - 1, NULL, NULL) != 0)
        return 1;
    kb_correl_opts_default(&o);
    o.max_groups = groups;
    if (!(c = kb_correl_new(rs, &o, on_alert, NULL, NULL, NULL)) || kb_correl_count(c) != 3)
        return 1;
    failed = kb_correl_find_rule(rs, "failed");
    success = kb_correl_find_rule(rs, "success");
    nf = kb_correl_fields(c, failed, &fields);
    for (size_t i = 0; i < nf; i++) {
        if (strcmp(fields[i], "user.name") == 0)
            uf = i;
        else
            ipf = i;
    }
    ips = malloc(groups * sizeof *ips);
    vals = malloc(nf * sizeof *vals);
    if (!ips || !vals)
        return 1;
    for (size_t g = 0; g < groups; g++)
        snprintf(ips[g], sizeof ips[g], "10.%zu.%zu.%zu", g >> 16 & 255, g >> 8 & 255, g & 255);
    for (int u = 0; u < 64; u++)
        snprintf(users[u], sizeof users[u], "u%d", u);

    t0 = bench_now();
    c0 = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        size_t g = i % groups;
        int64_t ts = (int64_t)i * 1000000; /* 1 ms apart: every group stays active */
        vals[ipf] = (kb_str){ips[g], strlen(ips[g])};
        if (i % 50 == 49) {
            kb_str v = {ips[g], strlen(ips[g])};
            kb_correl_push_values(c, success, ts, NULL, &v, 1);
            continue;
        }
        vals[uf] = (kb_str){users[(i / groups) & 63], strlen(users[(i / groups) & 63])};
        kb_correl_push_values(c, failed, ts, NULL, vals, nf);
    }
    secs = bench_now() - t0;
    cpu = bench_cpu_now() - c0;
    kb_correl_stats_get(c, &st);
    bench_report_cpu("correlate", 0, (double)n, secs, cpu);
    printf("correlate: %zu alerts, %llu correlation alerts, %llu active groups (peak %llu), "
           "evicted %llu, expired %llu\n",
           n, (unsigned long long)fired, (unsigned long long)st.groups,
           (unsigned long long)st.groups_peak, (unsigned long long)st.evicted,
           (unsigned long long)st.expired);
    printf("correlate: memory %.1f MB held, bound %.1f MB (max_groups %zu per rule, "
           "max_window %zu)\n",
           (double)st.memory / 1e6, (double)st.memory_cap / 1e6, o.max_groups, o.max_window);
    kb_correl_free(c);
    kb_ruleset_free(rs);
    kb_names_free(names);
    free(ips);
    free(vals);
    return st.memory <= st.memory_cap ? 0 : 1;
}
