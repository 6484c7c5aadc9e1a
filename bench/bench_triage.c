/* Triage of 1,000,000 alerts (target < 10 s): 2,000 hosts with background
 * noise rules plus a few incidents, through the shipped criteria. */
#include <stdio.h>
#include <string.h>

#include "bench-util.h"
#include "triage/triage.h"

int main(void)
{
    kb_triage_policy *pol = NULL;
    kb_triage_alerts *al = kb_triage_alerts_new();
    kb_triage_result *res = NULL;
    char err[512], host[32], src[32], dst[32];
    static const char *const rules[][3] = {
        {"r-scan", "Port scan", "attack.t1046"},
        {"r-brute", "Failed logon burst", "attack.t1110"},
        {"r-info", "Rare user agent", "attack.discovery"},
        {"r-mal", "Malware detected", "attack.t1204"},
    };
    size_t n = bench_size(0) ? bench_size(0) * 10000 : 1000000;
    if (kb_triage_policy_load("config/criteria.yaml", &pol, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t t0 = INT64_C(1704067200) * KB_NS_PER_SEC;
    for (size_t i = 0; i < n; i++) {
        kb_triage_alert a;
        unsigned r = (unsigned)(i * 2654435761u);
        int k = (r >> 8) % 100 < 2 ? 3 : (int)((r >> 4) % 3);
        memset(&a, 0, sizeof a);
        snprintf(host, sizeof host, "pc-%04u", (r >> 12) % 2000);
        snprintf(src, sizeof src, "198.51.100.%u", (r >> 3) % 200);
        snprintf(dst, sizeof dst, "10.1.%u.%u", (r >> 5) % 8, (r >> 16) % 250);
        a.ts = t0 + (int64_t)i * (86400 * KB_NS_PER_SEC / (int64_t)n);
        a.rule_id = rules[k][0], a.rule_name = rules[k][1], a.tags = rules[k][2];
        a.host = k == 0 ? NULL : host;
        a.src_ip = src, a.dst_ip = dst;
        a.level = k == 3 ? 3 : 1;
        a.confidence = -1;
        a.source = "bench";
        if (kb_triage_alerts_add(al, &a))
            return 1;
    }
    double s = bench_now();
    if (kb_triage_run(pol, NULL, NULL, al, &res))
        return 1;
    double secs = bench_now() - s;
    const kb_triage_stats *st = kb_triage_result_stats(res);
    printf("triage: %zu alerts -> %llu incidents in %.2f s = %.0f alerts/s, peak RSS %.0f MB\n",
           n, (unsigned long long)st->incidents, secs, n / secs, bench_peak_rss_mb());
    kb_triage_result_free(res);
    kb_triage_alerts_free(al);
    kb_triage_policy_free(pol);
    return 0;
}
