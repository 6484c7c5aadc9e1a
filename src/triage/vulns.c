/* Vulnerability findings: one scan per host (the latest wins), CSV import,
 * the CVE check triage asks, persistence. The XML parsers live in
 * vulns-nessus.c and vulns-openvas.c and feed the same two calls
 * (vulns_host, vulns_add from vulns-int). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "triage/triage-int.h"
#include "triage/vulns-int.h"

typedef struct scan {
    const char *host, *ip, *scanner;
    int64_t scanned;
    uint32_t gen;
    int alive;
} scan;

typedef struct finding {
    kb_vuln v;
    uint32_t scan;
} finding;

struct kb_vulns {
    kb_arena *arena;
    scan *scans;
    size_t nscans, capscans;
    finding *f;
    size_t n, cap;
    uint32_t gen;
    int dirty;
};

kb_vulns *kb_vulns_new(void)
{
    kb_vulns *v = kb_calloc(1, sizeof *v);
    if (!v || !(v->arena = kb_arena_new(256 << 10, (size_t)2 << 30))) {
        kb_free(v);
        return NULL;
    }
    return v;
}

void kb_vulns_free(kb_vulns *v)
{
    if (!v)
        return;
    kb_arena_free(v->arena);
    kb_free(v->scans);
    kb_free(v->f);
    kb_free(v);
}

static const char *adup(kb_vulns *v, const char *s, size_t n, int lower)
{
    kb_str t = str_trim(s ? s : "", s ? n : 0);
    char *d = kb_arena_strndup(v->arena, t.p, t.len);
    if (d && lower)
        for (char *q = d; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    return d;
}

static int same_host(const scan *s, const char *host, const char *ip)
{
    if (host && *host && *s->host)
        return strcasecmp(s->host, host) == 0;
    if (ip && *ip && *s->ip)
        return strcmp(s->ip, ip) == 0;
    return 0;
}

/* A host names a scan when its name, its first label, or its ip matches. */
static int host_matches(const scan *s, const char *host, const char *ip)
{
    if (ip && *ip && *s->ip && strcmp(s->ip, ip) == 0)
        return 1;
    if (host && *host && *s->host) {
        size_t a = strcspn(s->host, "."), b = strcspn(host, ".");
        if (strcasecmp(s->host, host) == 0)
            return 1;
        if (a == b && strncasecmp(s->host, host, a) == 0 &&
            (!s->host[a] || !host[b]))
            return 1;
    }
    return 0;
}

void vulns_begin(kb_vulns *v)
{
    v->gen++;
}

int vulns_host(kb_vulns *v, const char *host, size_t hl, const char *ip, size_t il,
               int64_t scanned, const char *scanner, kb_import_report *rep, uint32_t *out)
{
    const char *h = adup(v, host, hl, 1), *i = adup(v, ip, il, 0);
    if (!h || !i)
        return KB_ENOMEM;
    if (!*h && !*i)
        return KB_EINVAL;
    for (size_t k = 0; k < v->nscans; k++) {
        scan *s = &v->scans[k];
        if (!s->alive || !same_host(s, h, i))
            continue;
        if (s->gen == v->gen) { /* the same host again in this import */
            *out = (uint32_t)k;
            return KB_OK;
        }
        if (s->scanned > scanned) {
            rep->skipped++;
            return KB_EEXIST; /* an newer scan is in force */
        }
        s->alive = 0;
        v->dirty = 1;
    }
    if (kb_grow((void **)&v->scans, &v->capscans, v->nscans + 1, sizeof *v->scans, 64))
        return KB_ENOMEM;
    v->scans[v->nscans] = (scan){h, i, scanner, scanned, v->gen, 1};
    *out = (uint32_t)v->nscans++;
    rep->hosts++;
    return KB_OK;
}

int vulns_add(kb_vulns *v, uint32_t sc, const char *cve, size_t cl, const char *name, size_t nl,
              const char *port, size_t pl, const char *plugin, size_t gl, double cvss)
{
    finding *f;
    if (kb_grow((void **)&v->f, &v->cap, v->n + 1, sizeof *v->f, 1024))
        return KB_ENOMEM;
    f = &v->f[v->n];
    f->scan = sc;
    f->v.host = v->scans[sc].host;
    f->v.ip = v->scans[sc].ip;
    f->v.scanner = v->scans[sc].scanner;
    f->v.scanned = v->scans[sc].scanned;
    f->v.cvss = cvss;
    if (!(f->v.cve = adup(v, cve, cl, 0)) || !(f->v.name = adup(v, name, nl, 0)) ||
        !(f->v.port = adup(v, port, pl, 0)) || !(f->v.plugin = adup(v, plugin, gl, 0)))
        return KB_ENOMEM;
    for (char *q = (char *)f->v.cve; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    v->n++;
    return KB_OK;
}

/* Adds one finding per CVE named in cves (none: one finding with cve ""). */
typedef struct cve_add {
    kb_vulns *v;
    uint32_t sc;
    const char *name, *port, *plugin;
    size_t nl, pl, gl;
    double cvss;
    int n, rc;
} cve_add;

static void on_cve(void *ud, const char *cve, size_t n)
{
    cve_add *c = ud;
    if (c->rc)
        return;
    c->rc = vulns_add(c->v, c->sc, cve, n, c->name, c->nl, c->port, c->pl, c->plugin, c->gl,
                      c->cvss);
    c->n++;
}

int vulns_add_cves(kb_vulns *v, uint32_t sc, const char *cves, size_t cvl, const char *name,
                   size_t nl, const char *port, size_t pl, const char *plugin, size_t gl,
                   double cvss, uint64_t *added)
{
    cve_add c = {v, sc, name, port, plugin, nl, pl, gl, cvss, 0, 0};
    cve_scan(cves, cvl, on_cve, &c);
    if (!c.rc && !c.n) {
        c.rc = vulns_add(v, sc, "", 0, name, nl, port, pl, plugin, gl, cvss);
        c.n = 1;
    }
    if (!c.rc)
        *added += (uint64_t)c.n;
    return c.rc;
}

void vulns_end(kb_vulns *v)
{
    size_t j = 0;
    if (!v->dirty)
        return;
    /* drop findings of replaced scans; scans stay (indexes) but are dead */
    for (size_t i = 0; i < v->n; i++)
        if (v->scans[v->f[i].scan].alive)
            v->f[j++] = v->f[i];
    v->n = j;
    v->dirty = 0;
}

size_t kb_vulns_count(const kb_vulns *v)
{
    return v->n;
}

const kb_vuln *kb_vulns_at(const kb_vulns *v, size_t i)
{
    return i < v->n ? &v->f[i].v : NULL;
}

size_t kb_vulns_hosts(const kb_vulns *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nscans; i++)
        n += v->scans[i].alive;
    return n;
}

kb_vuln_status kb_vulns_check(const kb_vulns *v, const char *host, const char *ip,
                              const char *cve, const kb_vuln **found, int64_t *scanned)
{
    int any = 0;
    *found = NULL;
    *scanned = KB_TIME_NONE;
    if (!v)
        return KB_VULN_UNKNOWN;
    for (size_t k = 0; k < v->nscans; k++) {
        if (!v->scans[k].alive || !host_matches(&v->scans[k], host, ip))
            continue;
        any = 1;
        if (*scanned == KB_TIME_NONE || v->scans[k].scanned > *scanned)
            *scanned = v->scans[k].scanned;
        for (size_t i = 0; i < v->n; i++)
            if (v->f[i].scan == k && strcasecmp(v->f[i].v.cve, cve) == 0) {
                *found = &v->f[i].v;
                return KB_VULN_VULNERABLE;
            }
    }
    return any ? KB_VULN_PATCHED : KB_VULN_UNKNOWN;
}

size_t kb_vulns_of_host(const kb_vulns *v, const char *host, const char *ip,
                        void (*fn)(void *ud, const kb_vuln *vu), void *ud)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (host_matches(&v->scans[v->f[i].scan], host, ip)) {
            if (fn)
                fn(ud, &v->f[i].v);
            n++;
        }
    return n;
}

/* ---- CSV ------------------------------------------------------------------- */

static const char *const C_HOST[] = {"host", "hostname", "dns name", "netbios name",
                                     "asset.name", "asset.host_name", NULL};
static const char *const C_IP[] = {"ip", "ip address", "host ip", "asset.display_ipv4_address",
                                   "host", NULL};
static const char *const C_CVE[] = {"cve", "cves", "definition.cve", NULL};
static const char *const C_CVSS[] = {"cvss", "cvss v3.0 base score", "cvss v3 base score",
                                     "cvss v2.0 base score", "cvss v2 base score",
                                     "definition.cvss3.base_score",
                                     "definition.cvss2.base_score", NULL};
static const char *const C_NAME[] = {"name", "plugin name", "nvt name", "definition.name",
                                     "title", NULL};
static const char *const C_PORT[] = {"port", "asset.port", "port.number", NULL};
static const char *const C_PROTO[] = {"protocol", "port protocol", "port.protocol", NULL};
static const char *const C_PLUGIN[] = {"plugin id", "plugin", "nvt oid", "definition.id",
                                       NULL};
static const char *const C_RISK[] = {"risk", "severity", "risk factor", NULL};
static const char *const C_TIME[] = {"timestamp", "last seen", "last_seen", "scan time", "last_found",
                                     "scanned", NULL};

static kb_str cellv(const csv_reader *c, int col)
{
    return col >= 0 && (size_t)col < c->n ? str_trim(c->f[col].p, c->f[col].len)
                                          : (kb_str){"", 0};
}

/* A record whose every field is empty (",,,,": spreadsheet exports pad
 * with them) is no row at all. */
static int csv_blank(const csv_reader *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (str_trim(c->f[i].p, c->f[i].len).len)
            return 0;
    return 1;
}

/* The first CVSS column (v3 before v2) that has a value. Tenable's
 * templates write scores in tenths without a point ("75" for 7.5): an
 * integer from 11 to 100 is read so. */
static int cvss_value(const csv_reader *c, const int *cols, size_t n, double *out, kb_str *bad)
{
    *out = 0;
    for (size_t k = 0; k < n; k++) {
        if (cols[k] < 0 || (size_t)cols[k] >= c->n)
            continue;
        kb_str t = str_trim(c->f[cols[k]].p, c->f[cols[k]].len);
        if (!t.len)
            continue;
        if (parse_double(t.p, t.len, out)) {
            *bad = t;
            return KB_EPARSE;
        }
        if (*out > 10 && *out <= 100 && !memchr(t.p, '.', t.len))
            *out /= 10;
        return KB_OK;
    }
    return KB_OK;
}

static int risk_is_info(kb_str r)
{
    return kb_str_ieqz(r.p, r.len, "none") || kb_str_ieqz(r.p, r.len, "info") ||
           kb_str_ieqz(r.p, r.len, "informational") || kb_str_ieqz(r.p, r.len, "log") ||
           kb_str_ieqz(r.p, r.len, "0");
}

static int import_csv(kb_vulns *v, const char *name, const char *p, size_t len,
                      kb_import_report *rep)
{
    csv_reader c;
    kb_str hdr[CSV_MAX_FIELDS];
    char *hbuf = NULL;
    size_t nh;
    int ch, ci, cc, cn, cp, cpr, cg, cr, ct, r, rc = KB_OK;
    int cvcols[8];
    size_t ncv = 0;
    int64_t now = kb_time_now();

    csv_init(&c, p, len);
    if ((r = csv_header(&c, rep, name, hdr, &hbuf, &nh)) <= 0) {
        rc = r < 0 ? KB_ENOMEM : KB_OK;
        goto out;
    }
    ch = csv_col(hdr, nh, C_HOST), ci = csv_col(hdr, nh, C_IP);
    if (ci == ch)
        ci = -1;
    cc = csv_col(hdr, nh, C_CVE);
    for (const char *const *cn2 = C_CVSS; *cn2 && ncv < 8; cn2++) {
        const char *one[2] = {*cn2, NULL};
        int col = csv_col(hdr, nh, one);
        if (col >= 0)
            cvcols[ncv++] = col;
    }
    cn = csv_col(hdr, nh, C_NAME), cp = csv_col(hdr, nh, C_PORT);
    cpr = csv_col(hdr, nh, C_PROTO), cg = csv_col(hdr, nh, C_PLUGIN);
    cr = csv_col(hdr, nh, C_RISK), ct = csv_col(hdr, nh, C_TIME);
    if ((ch < 0 && ci < 0) || (cc < 0 && cn < 0)) {
        report_bad(rep, name, 1, "not a vulnerability CSV: needs a host or IP column and a"
                                 " CVE or name column");
        rc = KB_EFORMAT;
        goto out;
    }
    vulns_begin(v);
    while ((r = csv_next(&c)) > 0) {
        kb_str host = cellv(&c, ch), ip = cellv(&c, ci), risk = cellv(&c, cr);
        kb_str cvss = {"", 0}, tm = cellv(&c, ct), cve = cellv(&c, cc);
        kb_str port = cellv(&c, cp), proto = cellv(&c, cpr);
        double score = 0;
        int64_t when = now;
        uint32_t sc;
        char portbuf[64];
        kb_ip tmp;
        if (csv_blank(&c))
            continue;
        rep->rows++;
        if (c.n != nh && c.n + 1 != nh) {
            report_bad(rep, name, c.rec_line, "%zu fields, the header has %zu", c.n, nh);
            continue;
        }
        /* a host column holding an address is the address */
        if (!ip.len && host.len && kb_ip_parse(host.p, host.len, &tmp) == KB_OK)
            ip = host, host = (kb_str){"", 0};
        if (!host.len && !ip.len) {
            report_bad(rep, name, c.rec_line, "missing host");
            continue;
        }
        if ((host.len && memchr(host.p, 0, host.len)) || (ip.len && memchr(ip.p, 0, ip.len))) {
            report_bad(rep, name, c.rec_line, "a NUL byte in the host or IP");
            continue;
        }
        if (cvss_value(&c, cvcols, ncv, &score, &cvss)) {
            report_bad(rep, name, c.rec_line, "bad CVSS score '%.*s'", (int)cvss.len, cvss.p);
            continue;
        }
        if (score < 0 || score > 10) {
            report_bad(rep, name, c.rec_line, "CVSS score out of 0-10");
            continue;
        }
        if (tm.len && time_parse_any(tm.p, tm.len, &when)) {
            report_bad(rep, name, c.rec_line, "bad time '%.*s'", (int)tm.len, tm.p);
            continue;
        }
        if (cr >= 0 ? risk_is_info(risk) : (!cve.len && score == 0)) {
            rep->skipped++;
            continue;
        }
        if (proto.len && port.len && !memchr(port.p, '/', port.len))
            snprintf(portbuf, sizeof portbuf, "%.*s/%.*s", (int)port.len, port.p,
                     (int)proto.len, proto.p);
        else
            snprintf(portbuf, sizeof portbuf, "%.*s", (int)port.len, port.p);
        rc = vulns_host(v, host.p, host.len, ip.p, ip.len, when, "csv", rep, &sc);
        if (rc == KB_EEXIST) {
            rc = KB_OK;
            continue;
        }
        if (rc)
            goto out;
        kb_str nm = cellv(&c, cn), pg = cellv(&c, cg);
        if ((rc = vulns_add_cves(v, sc, cve.p, cve.len, nm.p, nm.len, portbuf, strlen(portbuf),
                                 pg.p, pg.len, score, &rep->imported)))
            goto out;
    }
    if (r < 0)
        report_bad(rep, name, c.rec_line, "%s", c.err);
out:
    vulns_end(v);
    kb_free(hbuf);
    csv_release(&c);
    return rc;
}

int kb_vulns_import_buf(kb_vulns *v, const char *name, const char *p, size_t len,
                        kb_import_report *rep)
{
    size_t i = 0, head = len < 4096 ? len : 4096;
    while (i < len && (isspace((unsigned char)p[i]) || (unsigned char)p[i] >= 0xef))
        i++;
    if (i < len && p[i] == '<') {
        if (kb_memmem(p, head, "NessusClientData_v2", 19))
            return kb_vulns_parse_nessus(v, name, p, len, rep);
        if (kb_memmem(p, head, "<report", 7))
            return kb_vulns_parse_openvas(v, name, p, len, rep);
        report_bad(rep, name, 1, "XML that is neither a Nessus nor an OpenVAS report");
        return KB_EFORMAT;
    }
    return import_csv(v, name, p, len, rep);
}

char *triage_read_file(const char *path, size_t *len);

int kb_vulns_import_file(kb_vulns *v, const char *path, kb_import_report *rep)
{
    size_t len;
    char *p = triage_read_file(path, &len);
    int rc;
    if (!p)
        return KB_EIO;
    rc = kb_vulns_import_buf(v, path, p, len, rep);
    kb_free(p);
    return rc;
}

/* ---- persistence ------------------------------------------------------------ */

#define SV_STR(s) KB_SV_STRV((s), strlen(s))

int kb_vulns_save(kb_vulns *v, kb_store *st)
{
    int rc;
    if ((rc = kb_triage_schema(st)) || (rc = kb_store_begin(st)))
        return rc;
    if ((rc = tx_exec(st, "DELETE FROM triage_vulns", NULL, 0)) ||
        (rc = tx_exec(st, "DELETE FROM triage_vuln_scans", NULL, 0)))
        goto fail;
    for (size_t k = 0; k < v->nscans; k++) {
        const scan *s = &v->scans[k];
        if (!s->alive)
            continue;
        kb_sval p[4] = {SV_STR(s->host), SV_STR(s->ip), KB_SV_INTV(s->scanned),
                        SV_STR(s->scanner)};
        if ((rc = tx_exec(st, "INSERT INTO triage_vuln_scans (host, ip, scanned, scanner)"
                              " VALUES (?, ?, ?, ?)",
                          p, 4)))
            goto fail;
    }
    for (size_t i = 0; i < v->n; i++) {
        const kb_vuln *u = &v->f[i].v;
        kb_sval p[9] = {SV_STR(u->host), SV_STR(u->ip),     SV_STR(u->cve),
                        SV_STR(u->name), SV_STR(u->port),   SV_STR(u->plugin),
                        SV_STR(u->scanner), {KB_SV_REAL, 0, u->cvss, NULL, 0},
                        KB_SV_INTV(u->scanned)};
        if ((rc = tx_exec(st, "INSERT INTO triage_vulns (host, ip, cve, name, port, plugin,"
                              " scanner, cvss, scanned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          p, 9)))
            goto fail;
    }
    return kb_store_commit(st);
fail:
    kb_store_rollback(st);
    return rc;
}

static kb_str sv(const kb_sval *c)
{
    return c->type == KB_SV_TEXT ? (kb_str){c->p, c->len} : (kb_str){"", 0};
}

typedef struct vload {
    kb_vulns *v;
    kb_import_report rep;
    int rc;
} vload;

static int load_scan(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    vload *l = ud;
    uint32_t sc;
    (void)names;
    if (ncol < 4)
        return KB_EIO;
    kb_str h = sv(&c[0]), i = sv(&c[1]), s = sv(&c[3]);
    const char *scanner = adup(l->v, s.p, s.len, 0);
    if (!scanner)
        return KB_ENOMEM;
    int rc = vulns_host(l->v, h.p, h.len, i.p, i.len, c[2].i, scanner, &l->rep, &sc);
    return rc == KB_EEXIST || rc == KB_EINVAL ? 0 : rc;
}

static int load_vuln(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    vload *l = ud;
    kb_vulns *v = l->v;
    (void)names;
    if (ncol < 9)
        return KB_EIO;
    kb_str h = sv(&c[0]), ip = sv(&c[1]);
    for (size_t k = 0; k < v->nscans; k++) {
        const scan *s = &v->scans[k];
        if (!s->alive || !kb_str_eqz(h.p, h.len, s->host) || !kb_str_eqz(ip.p, ip.len, s->ip))
            continue;
        kb_str cve = sv(&c[2]), nm = sv(&c[3]), pt = sv(&c[4]), pg = sv(&c[5]);
        return vulns_add(v, (uint32_t)k, cve.p, cve.len, nm.p, nm.len, pt.p, pt.len, pg.p,
                         pg.len, c[7].type == KB_SV_REAL ? c[7].d : (double)c[7].i);
    }
    return 0;
}

int kb_vulns_load(kb_vulns *v, kb_store *st)
{
    vload l = {v, {0}, 0};
    int rc;
    kb_import_report_init(&l.rep);
    if ((rc = kb_triage_schema(st)))
        goto out;
    vulns_begin(v);
    if ((rc = kb_store_exec(st, "SELECT host, ip, scanned, scanner FROM triage_vuln_scans",
                            NULL, 0, load_scan, &l)) ||
        (rc = kb_store_exec(st, "SELECT host, ip, cve, name, port, plugin, scanner, cvss,"
                                " scanned FROM triage_vulns",
                            NULL, 0, load_vuln, &l)))
        goto out;
    vulns_begin(v); /* later imports are a new generation */
out:
    vulns_end(v);
    kb_import_report_release(&l.rep);
    return rc;
}
