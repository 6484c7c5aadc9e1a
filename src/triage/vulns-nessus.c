/* Nessus XML v2 (.nessus, NessusClientData_v2) and the XML helpers both
 * XML parsers share. libxml2 reads the document with no network access,
 * no DTD loading and no entity substitution; a document that declares
 * entities is refused before parsing (scanner reports never do), so
 * neither XXE nor entity expansion can happen. The tree is walked at fixed
 * depths (Report / ReportHost / ReportItem): no recursion. */
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "triage/triage-int.h"
#include "triage/vulns-int.h"

#define XML_CAP ((size_t)256 << 20)

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

xmlDocPtr vulns_xml_read(const char *name, const char *p, size_t len, kb_import_report *rep)
{
    xmlDocPtr doc;
    if (len > XML_CAP) {
        report_bad(rep, name, 1, "XML report larger than 256 MiB");
        return NULL;
    }
    if (kb_memmem(p, len, "<!ENTITY", 8)) {
        report_bad(rep, name, 1, "XML entity declarations are refused");
        return NULL;
    }
    xmlSetGenericErrorFunc(NULL, quiet);
    doc = xmlReadMemory(p, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                     XML_PARSE_NOWARNING | XML_PARSE_COMPACT);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        report_bad(rep, name, e && e->line > 0 ? (uint64_t)e->line : 1, "XML: %s",
                   e && e->message ? e->message : "not well-formed");
        /* libxml2's message ends with a newline: drop it */
        if (rep->errors.len >= 2 && rep->errors.data[rep->errors.len - 2] == '\n') {
            rep->errors.len--;
            rep->errors.data[rep->errors.len] = 0;
        }
        return NULL;
    }
    return doc;
}

kb_str vulns_xml_text(const xmlNode *n, kb_buf *b)
{
    kb_buf_clear(b);
    for (const xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            kb_buf_puts(b, (const char *)c->content);
    return str_trim(b->data ? b->data : "", b->len);
}

kb_str vulns_xml_attr(const xmlNode *n, const char *name, kb_buf *b)
{
    kb_buf_clear(b);
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && strcmp((const char *)a->name, name) == 0) {
            for (const xmlNode *c = a->children; c; c = c->next)
                if (c->type == XML_TEXT_NODE && c->content)
                    kb_buf_puts(b, (const char *)c->content);
            break;
        }
    return str_trim(b->data ? b->data : "", b->len);
}

int vulns_xml_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

typedef struct nbufs {
    kb_buf a, b, c, d, cves, name, port, plugin;
} nbufs;

static int report_host(kb_vulns *v, const char *file, xmlNode *rh, nbufs *nb,
                       kb_import_report *rep)
{
    kb_str hname = vulns_xml_attr(rh, "name", &nb->a);
    char host[512] = "", ip[64] = "";
    int64_t when = KB_TIME_NONE;
    uint32_t sc;
    int rc;
    kb_ip tmp;

    /* properties first: host-ip, host-fqdn, HOST_END */
    for (xmlNode *c = rh->children; c; c = c->next) {
        if (!vulns_xml_is(c, "HostProperties"))
            continue;
        for (xmlNode *t = c->children; t; t = t->next) {
            if (!vulns_xml_is(t, "tag"))
                continue;
            kb_str tn = vulns_xml_attr(t, "name", &nb->b);
            kb_str tv = vulns_xml_text(t, &nb->c);
            if (kb_str_eqz(tn.p, tn.len, "host-ip") && tv.len < sizeof ip)
                snprintf(ip, sizeof ip, "%.*s", (int)tv.len, tv.p);
            else if (kb_str_eqz(tn.p, tn.len, "host-fqdn") && tv.len < sizeof host)
                snprintf(host, sizeof host, "%.*s", (int)tv.len, tv.p);
            else if (kb_str_eqz(tn.p, tn.len, "HOST_END"))
                time_parse_any(tv.p, tv.len, &when);
            else if (kb_str_eqz(tn.p, tn.len, "HOST_START") && when == KB_TIME_NONE)
                time_parse_any(tv.p, tv.len, &when);
        }
    }
    /* the ReportHost name is the host as the scan was told: a name, an
     * address or (Tenable WAS) a URL */
    if (hname.len && hname.len < sizeof host) {
        if (kb_ip_parse(hname.p, hname.len, &tmp) == KB_OK) {
            if (!*ip)
                snprintf(ip, sizeof ip, "%.*s", (int)hname.len, hname.p);
        } else if (!*host) {
            snprintf(host, sizeof host, "%.*s", (int)hname.len, hname.p);
        }
    }
    if (when == KB_TIME_NONE)
        when = kb_time_now();
    if (!*host && !*ip) {
        report_bad(rep, file, (uint64_t)xmlGetLineNo(rh), "ReportHost without a name");
        return KB_OK;
    }
    rc = vulns_host(v, host, strlen(host), ip, strlen(ip), when, "nessus", rep, &sc);
    if (rc == KB_EEXIST)
        return KB_OK;
    if (rc)
        return rc;
    for (xmlNode *it = rh->children; it; it = it->next) {
        if (!vulns_xml_is(it, "ReportItem"))
            continue;
        rep->rows++;
        kb_str sev = vulns_xml_attr(it, "severity", &nb->a);
        kb_str port = vulns_xml_attr(it, "port", &nb->b);
        kb_str proto = vulns_xml_attr(it, "protocol", &nb->c);
        kb_str pname = vulns_xml_attr(it, "pluginName", &nb->name);
        kb_str pid = vulns_xml_attr(it, "pluginID", &nb->plugin);
        double cvss = 0, cvss2 = 0;
        int64_t sv;
        if (kb_parse_i64(sev.p, sev.len, &sv) || sv < 0 || sv > 4) {
            report_bad(rep, file, (uint64_t)xmlGetLineNo(it), "ReportItem severity '%.*s'",
                       (int)sev.len, sev.p);
            continue;
        }
        if (sv == 0) {
            rep->skipped++;
            continue;
        }
        kb_buf_clear(&nb->cves);
        for (xmlNode *c = it->children; c; c = c->next) {
            if (vulns_xml_is(c, "cve")) {
                kb_str t = vulns_xml_text(c, &nb->d);
                kb_buf_append(&nb->cves, t.p, t.len);
                kb_buf_putc(&nb->cves, ' ');
            } else if (vulns_xml_is(c, "cvss3_base_score")) {
                kb_str t = vulns_xml_text(c, &nb->d);
                parse_double(t.p, t.len, &cvss);
            } else if (vulns_xml_is(c, "cvss_base_score")) {
                kb_str t = vulns_xml_text(c, &nb->d);
                parse_double(t.p, t.len, &cvss2);
            }
        }
        if (cvss == 0)
            cvss = cvss2;
        if (!(cvss >= 0 && cvss <= 10)) {
            report_bad(rep, file, (uint64_t)xmlGetLineNo(it), "CVSS score out of 0-10");
            continue;
        }
        kb_buf_clear(&nb->port);
        kb_buf_printf(&nb->port, "%.*s/%.*s", (int)port.len, port.p, (int)proto.len, proto.p);
        if ((rc = vulns_add_cves(v, sc, nb->cves.data ? nb->cves.data : "", nb->cves.len,
                                 pname.p, pname.len, nb->port.data, nb->port.len, pid.p,
                                 pid.len, cvss, &rep->imported)))
            return rc;
    }
    return KB_OK;
}

int kb_vulns_parse_nessus(kb_vulns *v, const char *name, const char *p, size_t len,
                          kb_import_report *rep)
{
    xmlDocPtr doc = vulns_xml_read(name, p, len, rep);
    xmlNode *root;
    nbufs nb;
    int rc = KB_OK;
    kb_buf *all[] = {&nb.a, &nb.b, &nb.c, &nb.d, &nb.cves, &nb.name, &nb.port, &nb.plugin};

    if (!doc)
        return KB_OK; /* reported */
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kb_buf_init(all[i], 16 << 20);
    root = xmlDocGetRootElement(doc);
    if (!root || !vulns_xml_is(root, "NessusClientData_v2")) {
        report_bad(rep, name, 1, "not a NessusClientData_v2 document");
        rc = KB_EFORMAT;
        goto out;
    }
    vulns_begin(v);
    for (xmlNode *r = root->children; r && !rc; r = r->next) {
        if (!vulns_xml_is(r, "Report"))
            continue;
        for (xmlNode *h = r->children; h && !rc; h = h->next)
            if (vulns_xml_is(h, "ReportHost"))
                rc = report_host(v, name, h, &nb, rep);
    }
    vulns_end(v);
out:
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kb_buf_release(all[i]);
    xmlFreeDoc(doc);
    return rc;
}
