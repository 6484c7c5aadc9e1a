/* Fuzz target: CSV and plain lists (header detection, column roles,
 * quoting), the ThreatFox/CrowdSec JSON lists and format sniffing. The
 * first byte picks the reader and the column mapping. See intel-fuzz.h. */
#include <stdint.h>

#include "intel-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(kb_intel_sink *s, const char *buf, size_t len, const char **err, void *arg)
{
    static const char *const columns[] = {
        NULL, NULL, NULL, "value", "value,threat,confidence,first_seen,last_seen,valid_until",
        "ip,desc", "md5,sha1,sha256", "-,value,kind,tags,ref", "url,domain,email,filename",
        "bogus,value",
    };
    const char *f;
    unsigned pick = len ? (unsigned char)buf[0] : 0;
    (void)arg;
    if (len)
        buf++, len--;
    f = kb_intel_sniff(pick & 1 ? "feed.csv" : "feed.txt", buf, len);
    if (!f || (strcmp(f, "stix") && strcmp(f, "misp") && strcmp(f, "json") && strcmp(f, "csv") &&
               strcmp(f, "list")))
        abort();
    if ((pick >> 1) % 11 == 10)
        return kb_intel_load_json_list(s, buf, len, err);
    return kb_intel_load_csv(s, buf, len, columns[(pick >> 1) % 11 % 10], err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_run(data, size, load, NULL);
}
