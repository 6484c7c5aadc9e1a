/* OpenVAS / Greenbone XML reports (GMP get_reports output: an outer
 * <report> wrapping an inner <report> with <results>). Each <result> under
 * a <results> element is one finding; its CVEs come from nvt/refs/ref
 * type="cve" (GMP 8+) or the older nvt/cve text. The walk is iterative,
 * through parent pointers. */
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "triage/triage-int.h"
#include "triage/vulns-int.h"

/* Next node in document order, not descending below `stop`'s subtree. */
static xmlNode *walk_next(xmlNode *n, const xmlNode *stop, int descend)
{
    if (descend && n->children)
        return n->children;
    while (n && n != stop) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

static xmlNode *child(xmlNode *n, const char *name)
{
    for (xmlNode *c = n->children; c; c = c->next)
        if (vulns_xml_is(c, name))
            return c;
    return NULL;
}

typedef struct obufs {
    kb_buf a, b, cves, name, port, plugin, host, ip;
} obufs;

static int one_result(kb_vulns *v, const char *file, xmlNode *r, int64_t when, obufs *ob,
                      kb_import_report *rep)
{
    xmlNode *h = child(r, "host"), *nvt = child(r, "nvt"), *x;
    kb_str host = {"", 0}, ip = {"", 0}, sev, threat, nm = {"", 0}, oid = {"", 0};
    double cvss = 0;
    uint32_t sc;
    int rc;
    kb_ip tmp;

    rep->rows++;
    if (h) {
        ip = vulns_xml_text(h, &ob->ip);
        if ((x = child(h, "hostname")))
            host = vulns_xml_text(x, &ob->host);
    }
    if (ip.len && kb_ip_parse(ip.p, ip.len, &tmp) != KB_OK && !host.len)
        host = ip, ip = (kb_str){"", 0};
    if (!host.len && !ip.len) {
        report_bad(rep, file, (uint64_t)xmlGetLineNo(r), "result without a host");
        return KB_OK;
    }
    sev = (x = child(r, "severity")) ? vulns_xml_text(x, &ob->a) : (kb_str){"", 0};
    if (sev.len && parse_double(sev.p, sev.len, &cvss)) {
        report_bad(rep, file, (uint64_t)xmlGetLineNo(r), "bad severity '%.*s'", (int)sev.len,
                   sev.p);
        return KB_OK;
    }
    if (cvss > 10) {
        report_bad(rep, file, (uint64_t)xmlGetLineNo(r), "severity %.*s out of 0-10",
                   (int)sev.len, sev.p);
        return KB_OK;
    }
    threat = (x = child(r, "threat")) ? vulns_xml_text(x, &ob->b) : (kb_str){"", 0};
    if (cvss <= 0 || kb_str_ieqz(threat.p, threat.len, "log") ||
        kb_str_ieqz(threat.p, threat.len, "debug")) {
        rep->skipped++;
        return KB_OK;
    }
    if ((x = child(r, "name")))
        nm = vulns_xml_text(x, &ob->name);
    kb_buf_clear(&ob->cves);
    if (nvt) {
        xmlNode *refs = child(nvt, "refs"), *cv = child(nvt, "cve");
        oid = vulns_xml_attr(nvt, "oid", &ob->plugin);
        if (!nm.len && (x = child(nvt, "name")))
            nm = vulns_xml_text(x, &ob->name);
        if (refs)
            for (xmlNode *f = refs->children; f; f = f->next) {
                if (!vulns_xml_is(f, "ref"))
                    continue;
                kb_str t = vulns_xml_attr(f, "type", &ob->a);
                if (!kb_str_ieqz(t.p, t.len, "cve"))
                    continue;
                kb_str id = vulns_xml_attr(f, "id", &ob->a);
                kb_buf_append(&ob->cves, id.p, id.len);
                kb_buf_putc(&ob->cves, ' ');
            }
        if (cv) {
            kb_str t = vulns_xml_text(cv, &ob->a);
            if (!kb_str_ieqz(t.p, t.len, "NOCVE"))
                kb_buf_append(&ob->cves, t.p, t.len);
        }
    }
    kb_str port = (x = child(r, "port")) ? vulns_xml_text(x, &ob->port) : (kb_str){"", 0};
    rc = vulns_host(v, host.p, host.len, ip.p, ip.len, when, "openvas", rep, &sc);
    if (rc == KB_EEXIST)
        return KB_OK;
    if (rc)
        return rc;
    return vulns_add_cves(v, sc, ob->cves.data ? ob->cves.data : "", ob->cves.len, nm.p, nm.len,
                          port.p, port.len, oid.p, oid.len, cvss, &rep->imported);
}

int kb_vulns_parse_openvas(kb_vulns *v, const char *name, const char *p, size_t len,
                           kb_import_report *rep)
{
    xmlDocPtr doc = vulns_xml_read(name, p, len, rep);
    xmlNode *root, *n;
    obufs ob;
    kb_buf *all[] = {&ob.a, &ob.b, &ob.cves, &ob.name, &ob.port, &ob.plugin, &ob.host, &ob.ip};
    int64_t when = KB_TIME_NONE;
    int rc = KB_OK;

    if (!doc)
        return KB_OK;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kb_buf_init(all[i], 16 << 20);
    root = xmlDocGetRootElement(doc);
    if (!root || !vulns_xml_is(root, "report")) {
        report_bad(rep, name, 1, "not an OpenVAS/Greenbone <report> document");
        rc = KB_EFORMAT;
        goto out;
    }
    /* the scan's time: the first scan_start (or timestamp) outside results */
    for (n = root; n; n = walk_next(n, root, !vulns_xml_is(n, "results"))) {
        if (vulns_xml_is(n, "scan_start") || vulns_xml_is(n, "timestamp")) {
            kb_str t = vulns_xml_text(n, &ob.a);
            if (t.len && time_parse_any(t.p, t.len, &when) == KB_OK)
                break;
        }
    }
    if (when == KB_TIME_NONE) {
        for (n = root; n; n = walk_next(n, root, !vulns_xml_is(n, "results")))
            if (vulns_xml_is(n, "creation_time")) {
                kb_str t = vulns_xml_text(n, &ob.a);
                if (t.len && time_parse_any(t.p, t.len, &when) == KB_OK)
                    break;
            }
    }
    if (when == KB_TIME_NONE)
        when = kb_time_now();
    vulns_begin(v);
    for (n = root; n && !rc;) {
        int is_result = vulns_xml_is(n, "result") && n->parent &&
                        vulns_xml_is(n->parent, "results");
        if (is_result)
            rc = one_result(v, name, n, when, &ob, rep);
        n = walk_next(n, root, !is_result);
    }
    vulns_end(v);
out:
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kb_buf_release(all[i]);
    xmlFreeDoc(doc);
    return rc;
}
