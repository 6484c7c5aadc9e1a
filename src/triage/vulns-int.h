/* The calls the vulnerability parsers feed (vulns.c). */
#ifndef KB_VULNS_INT_H
#define KB_VULNS_INT_H

#include "triage/triage.h"

/* Starts an import: hosts seen again inside it keep their scan. */
void vulns_begin(kb_vulns *v);
/* Opens (or finds, within this import) the scan of a host. KB_EEXIST when a
 * newer scan of the host is in force (its findings are to be skipped),
 * KB_EINVAL when both name and address are empty. */
int vulns_host(kb_vulns *v, const char *host, size_t hl, const char *ip, size_t il,
               int64_t scanned, const char *scanner, kb_import_report *rep, uint32_t *out);
int vulns_add(kb_vulns *v, uint32_t sc, const char *cve, size_t cl, const char *name, size_t nl,
              const char *port, size_t pl, const char *plugin, size_t gl, double cvss);
/* One finding per CVE found in cves (none: one finding without a CVE);
 * *added grows by the number of findings. */
int vulns_add_cves(kb_vulns *v, uint32_t sc, const char *cves, size_t cvl, const char *name,
                   size_t nl, const char *port, size_t pl, const char *plugin, size_t gl,
                   double cvss, uint64_t *added);
/* Ends an import: findings of replaced scans are dropped. */
void vulns_end(kb_vulns *v);

/* XML helpers shared by the two XML parsers (vulns-nessus.c). */
struct _xmlDoc;
struct _xmlNode;
/* Parses p (no network, no entities, no DTD; documents declaring entities
 * are refused). NULL with a report line on failure. */
struct _xmlDoc *vulns_xml_read(const char *name, const char *p, size_t len,
                               kb_import_report *rep);
/* The direct text content of n, trimmed, into b (cleared). */
kb_str vulns_xml_text(const struct _xmlNode *n, kb_buf *b);
/* An attribute's value into b (cleared), trimmed; "" when absent. */
kb_str vulns_xml_attr(const struct _xmlNode *n, const char *name, kb_buf *b);
int vulns_xml_is(const struct _xmlNode *n, const char *name);

#endif
