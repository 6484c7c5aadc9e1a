/* koban triage: what happened, to which of the company's assets, how far it
 * spread, and how severe that is for this company.
 *
 *   assets.c           the inventory (CSV/JSON import, lookup by name and by
 *                      address at a time, persistence in the store)
 *   vulns.c            scanner findings, latest scan per host wins; CSV
 *   vulns-nessus.c     Nessus .nessus (NessusClientData_v2) with libxml2
 *   vulns-openvas.c    OpenVAS / Greenbone XML reports with libxml2
 *   criteria.c         the severity policy (config/criteria.yaml)
 *   incidents.c        alerts in, incidents out: classification, grouping by
 *                      entity and window, confirmation, spread, enrichment,
 *                      severity with its explanation, persistence
 *
 * Persistence goes through the store's generic kb_store_exec into the
 * module's own tables (triage_assets, triage_asset_addrs, triage_vuln_scans,
 * triage_vulns; created and upgraded by kb_store_migrate_module as module
 * "triage") and the store's incidents table (detail holds the incident as
 * JSON). Both SQLite and PostgreSQL accept the SQL.
 *
 * Threading: every handle here is used by one thread at a time. */
#ifndef KB_TRIAGE_H
#define KB_TRIAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct kb_store;
struct kb_event;

/* ---- addresses ----------------------------------------------------------- */

/* An IPv4 (as ::ffff:a.b.c.d) or IPv6 address. */
typedef struct kb_ip {
    uint8_t b[16];
} kb_ip;

/* Parses an address (no brackets, no port); KB_OK or KB_EPARSE. */
int kb_ip_parse(const char *s, size_t len, kb_ip *out);
/* Parses "ADDR/BITS" (or a bare address: a host route). Bits of an IPv4
 * prefix count within the IPv4 address. */
int kb_cidr_parse(const char *s, size_t len, kb_ip *net, int *bits);
int kb_cidr_contains(const kb_ip *net, int bits, const kb_ip *ip);
/* Writes the address as text into buf (>= 46 bytes); returns buf. */
const char *kb_ip_format(const kb_ip *ip, char *buf, size_t size);

/* ---- import reports ------------------------------------------------------- */

/* What an import did. errors holds one "file:line: reason\n" per bad row
 * (capped at 64 KiB; rows past the cap are still counted in bad). */
typedef struct kb_import_report {
    uint64_t rows;     /* data rows or records seen */
    uint64_t imported; /* assets, or findings kept */
    uint64_t bad;      /* rows refused */
    uint64_t skipped;  /* rows not kept on purpose (informational findings,
                          an older scan of a host) */
    uint64_t hosts;    /* vulnerability imports: hosts whose scan was taken */
    kb_buf errors;
} kb_import_report;

void kb_import_report_init(kb_import_report *r);
void kb_import_report_release(kb_import_report *r);

/* ---- assets --------------------------------------------------------------- */

/* System types koban knows; any other non-empty type is company-defined and
 * kept as written (lower case, spaces as '-'). */
#define KB_ASSET_PUBLIC_SERVER "public-server"
#define KB_ASSET_INTERNAL_SERVER "internal-server"
#define KB_ASSET_USER_PC "user-pc"

typedef struct kb_asset_addr {
    kb_ip ip;
    int64_t from; /* valid from (ns), KB_TIME_NONE: always */
    int64_t to;   /* valid until (ns, exclusive), KB_TIME_NONE: open */
} kb_asset_addr;

/* Plain data; strings are NUL-terminated, never NULL ("" when unknown), and
 * live as long as the inventory. */
typedef struct kb_asset {
    const char *name; /* lower case */
    const char *mac, *owner, *department, *location;
    const char *type; /* see KB_ASSET_*; "" unknown */
    const char *tags; /* comma-separated, lower case */
    const char *source; /* "file:line" it came from */
    int criticality;  /* 1-5, 0 unknown */
    const kb_asset_addr *addrs;
    size_t naddrs;
} kb_asset;

typedef struct kb_assets kb_assets;

kb_assets *kb_assets_new(void);
void kb_assets_free(kb_assets *a);

/* Imports an inventory file: CSV (a header row names the columns; see
 * docs/triage.md for the names and their aliases, which include NetBox's
 * exports) or JSON (an array of objects, or one object per line), chosen by
 * the first non-blank byte. An asset whose name is already known replaces
 * the earlier one. Bad rows are reported in rep and skipped. Returns KB_OK
 * (even with bad rows), KB_EIO (unreadable), KB_EFORMAT or KB_ENOMEM. */
int kb_assets_import_file(kb_assets *a, const char *path, kb_import_report *rep);
/* The same over a buffer; `name` is used in the report. */
int kb_assets_import_buf(kb_assets *a, const char *name, const char *p, size_t len,
                         kb_import_report *rep);

size_t kb_assets_count(const kb_assets *a);
/* The i-th asset in name order (after any import, order is rebuilt). */
const kb_asset *kb_assets_at(kb_assets *a, size_t i);
/* By host name, case-insensitive; a fully-qualified name also finds the
 * asset named by its first label and the reverse. NULL when unknown. */
const kb_asset *kb_assets_by_name(kb_assets *a, const char *name, size_t len);
/* The asset holding ip at time ts (KB_TIME_NONE: any time). */
const kb_asset *kb_assets_by_ip(kb_assets *a, const kb_ip *ip, int64_t ts);

/* Stores the whole inventory (replacing what the store held) / loads it.
 * Both return KB_OK or KB_EIO with the store's message set. */
int kb_assets_save(kb_assets *a, struct kb_store *st);
int kb_assets_load(kb_assets *a, struct kb_store *st);

/* ---- vulnerabilities ------------------------------------------------------ */

/* One finding on one host, one row per CVE (cve "" when it names none). */
typedef struct kb_vuln {
    const char *host;  /* host name as the scanner wrote it (lower case), or "" */
    const char *ip;    /* address as text, or "" */
    const char *cve;   /* "CVE-2021-44228" or "" */
    const char *name;  /* finding title */
    const char *port;  /* "443/tcp", "general/tcp", "" */
    const char *plugin; /* scanner's id (Nessus plugin, OpenVAS OID) */
    const char *scanner; /* "nessus", "openvas", "csv" */
    double cvss;       /* 0 when unknown */
    int64_t scanned;   /* the scan's time of this host (ns) */
} kb_vuln;

typedef struct kb_vulns kb_vulns;

kb_vulns *kb_vulns_new(void);
void kb_vulns_free(kb_vulns *v);

/* Imports a scanner report, recognised by content: Nessus XML v2, OpenVAS /
 * Greenbone XML, or CSV (Nessus, Tenable, OpenVAS exports or koban's own
 * host,cve,cvss,name,port). Findings of severity 0 (informational) are
 * skipped and counted. The scan of each host replaces the earlier one
 * unless the earlier one is newer (then the new one is skipped). XML is read
 * without network access or entity expansion, at most 256 MiB. */
int kb_vulns_import_file(kb_vulns *v, const char *path, kb_import_report *rep);
int kb_vulns_import_buf(kb_vulns *v, const char *name, const char *p, size_t len,
                        kb_import_report *rep);

size_t kb_vulns_count(const kb_vulns *v);
const kb_vuln *kb_vulns_at(const kb_vulns *v, size_t i);
/* Hosts with a scan. */
size_t kb_vulns_hosts(const kb_vulns *v);

/* What the latest scan says of `cve` on a host known by name and/or ip
 * (either may be NULL). */
typedef enum {
    KB_VULN_UNKNOWN,    /* no scan of this host */
    KB_VULN_VULNERABLE, /* the scan found the CVE */
    KB_VULN_PATCHED     /* the host was scanned and the CVE was not found */
} kb_vuln_status;
kb_vuln_status kb_vulns_check(const kb_vulns *v, const char *host, const char *ip,
                              const char *cve, const kb_vuln **found, int64_t *scanned);
/* Calls fn for every finding on the host (name and/or ip); returns the count. */
size_t kb_vulns_of_host(const kb_vulns *v, const char *host, const char *ip,
                        void (*fn)(void *ud, const kb_vuln *vu), void *ud);

int kb_vulns_save(kb_vulns *v, struct kb_store *st);
int kb_vulns_load(kb_vulns *v, struct kb_store *st);

/* Format-specific parsers (vulns-nessus.c, vulns-openvas.c), for vulns.c and
 * the fuzz targets. */
int kb_vulns_parse_nessus(kb_vulns *v, const char *name, const char *p, size_t len,
                          kb_import_report *rep);
int kb_vulns_parse_openvas(kb_vulns *v, const char *name, const char *p, size_t len,
                           kb_import_report *rep);

/* ---- severity criteria ---------------------------------------------------- */

enum { KB_SEV_LOW, KB_SEV_MEDIUM, KB_SEV_HIGH, KB_SEV_CRITICAL, KB_SEV_COUNT };
const char *kb_sev_name(int sev);
/* "low".."critical" (case-insensitive) or -1. */
int kb_sev_find(const char *s, size_t len);

typedef struct kb_triage_policy kb_triage_policy;

/* Loads a criteria file. On any error the whole file is refused: returns
 * KB_EPARSE (or KB_EIO, KB_ENOMEM) with "path:line: reason" in err, and
 * *out NULL. */
int kb_triage_policy_load(const char *path, kb_triage_policy **out, char *err, size_t errsize);
int kb_triage_policy_parse(const char *name, const char *p, size_t len, kb_triage_policy **out,
                           char *err, size_t errsize);
void kb_triage_policy_free(kb_triage_policy *pol);
/* The level at and above which incidents are marked for notification. */
int kb_triage_policy_notify_level(const kb_triage_policy *pol);
/* The grouping window (ns). */
int64_t kb_triage_policy_window(const kb_triage_policy *pol);
/* True when ip lies in one of the policy's internal networks. */
int kb_triage_policy_internal(const kb_triage_policy *pol, const kb_ip *ip);

/* ---- alerts in ------------------------------------------------------------ */

/* One alert as triage reads it. Strings are NUL-terminated or NULL. */
typedef struct kb_triage_alert {
    int64_t ts;
    const char *rule_id, *rule_name;
    const char *tags;        /* comma-separated, lower case (Sigma tags) */
    const char *host, *user, *src_ip, *dst_ip;
    const char *source;      /* the sensor: observer.product or log.format */
    const char *threat_type; /* an indicator's threat type (ransomware, c2, ...) */
    const char *cves;        /* comma-separated CVE ids named by the alert */
    int level;               /* 0 informational, 1 low .. 4 critical */
    int confidence;          /* 0-100, -1 unknown */
    /* observables for the incident's variables (playbooks); NULL unknown */
    const char *url;         /* url.full */
    const char *file_name;   /* file.name */
    const char *file_hash;   /* file.hash.sha256, else sha1, else md5 */
} kb_triage_alert;

/* A correlation alert (koban scan: matched.correlation.group, "source.ip=
 * 10.1.20.42 host.name=pc-1") names its entity by its group-by values, not
 * by an event: the value of key in group, up to the next space, copied into
 * tmp, or NULL (absent, or "(none)"). */
const char *kb_triage_group_value(const char *group, const char *key, kb_buf *tmp);

/* A growable list of alerts whose strings live in its own arena. */
typedef struct kb_triage_alerts kb_triage_alerts;
kb_triage_alerts *kb_triage_alerts_new(void);
void kb_triage_alerts_free(kb_triage_alerts *al);
/* Copies a (strings included). KB_ENOMEM or KB_ELIMIT (cap: 50,000,000). */
int kb_triage_alerts_add(kb_triage_alerts *al, const kb_triage_alert *a);
size_t kb_triage_alerts_count(const kb_triage_alerts *al);
/* The i-th alert as added (strings owned by the list), or NULL past the
 * end. Valid until the list is changed or freed. */
const kb_triage_alert *kb_triage_alerts_at(const kb_triage_alerts *al, size_t i);
/* Reads `koban scan -o jsonl` output (or any JSON Lines alerts with
 * @timestamp, rule.*, host.name and an "event" object with ECS names).
 * CVE ids are taken from cve.* tags, the rule name and any event field.
 * Bad lines are reported in rep. Returns KB_OK or KB_ENOMEM / KB_ELIMIT. */
int kb_triage_alerts_read_jsonl(kb_triage_alerts *al, const char *name, const char *p,
                                size_t len, kb_import_report *rep);
/* Adds one detection as `koban scan` holds it: the rule's id, title, level
 * (0 informational .. 4 critical) and tags (NULL-terminated list, or NULL),
 * and the event it matched. Copied from the event: @timestamp (ev->ts),
 * host.name, user.name, source.ip, destination.ip, the sensor
 * (observer.product, else log.format, else the decoder's name), an
 * indicator's threat.indicator.type and .confidence, and every CVE id in
 * the rule title, the tags and the event's string values. Nothing of ev is
 * kept. A list is used by one thread at a time: give each scanning thread
 * its own and join them with kb_triage_alerts_append.
 * Returns KB_OK, KB_ENOMEM or KB_ELIMIT. */
int kb_triage_alerts_add_event(kb_triage_alerts *al, const char *rule_id, const char *rule_name,
                               int level, const char *const *tags, const struct kb_event *ev);
/* Appends copies of src's alerts to dst. */
int kb_triage_alerts_append(kb_triage_alerts *dst, const kb_triage_alerts *src);
/* Reads the store's alerts at or after since (ns; KB_TIME_NONE: all), with
 * the addresses and user of their events. */
int kb_triage_alerts_read_store(kb_triage_alerts *al, struct kb_store *st, int64_t since);
/* 0..4 for informational..critical (case-insensitive), -1 otherwise. */
int kb_triage_level_find(const char *s, size_t len);

/* ---- incidents ----------------------------------------------------------- */

typedef struct kb_triage_result kb_triage_result;

typedef struct kb_triage_stats {
    uint64_t alerts;        /* read */
    uint64_t context;       /* below the policy's minimum level: context only */
    uint64_t unclassified;  /* matched no incident type */
    uint64_t groups;        /* entity groups formed */
    uint64_t unconfirmed;   /* groups whose type needs confirmation that never came */
    uint64_t incidents;
    uint64_t notify;        /* incidents marked for notification */
    uint64_t per_sev[KB_SEV_COUNT];
} kb_triage_stats;

/* Runs triage over the alerts (sorted by time in place). assets and vulns
 * may be NULL. Returns KB_OK and *out (free with kb_triage_result_free). */
int kb_triage_run(const kb_triage_policy *pol, kb_assets *assets, const kb_vulns *vulns,
                  kb_triage_alerts *al, kb_triage_result **out);
void kb_triage_result_free(kb_triage_result *r);
const kb_triage_stats *kb_triage_result_stats(const kb_triage_result *r);
size_t kb_triage_result_count(const kb_triage_result *r);

/* A finished incident (plain data, owned by the result). */
typedef struct kb_incident {
    int64_t id;          /* 0 until saved */
    const char *type;    /* the type's name ("ransomware") */
    const char *entity;  /* "host:pc-0042", "source:203.0.113.5", "user:alice" */
    const char *title;
    int severity;        /* KB_SEV_* */
    int notify;
    int64_t first, last; /* ns */
    uint64_t alerts;
    size_t spread;       /* distinct hosts */
    const char *json;    /* the whole incident: rules, hosts, assets, vulns,
                            inputs, explanation, actions, and the observables
                            playbooks read (source_ips, destination_ips, urls,
                            file_names, file_hashes: at most 16 each) */
    size_t json_len;
    int created;         /* kb_triage_result_save: 1 when it inserted the
                            incident (new), 0 when it updated an existing one */
    int escalated;       /* kb_triage_result_save: an existing incident whose
                            severity this update raised */
} kb_incident;
const kb_incident *kb_triage_result_at(const kb_triage_result *r, size_t i);

/* Saves the incidents into the store's incidents table (an incident with
 * the same type, entity and first-seen time is replaced) and sets their ids
 * and `created` and `escalated` flags. */
int kb_triage_result_save(kb_triage_result *r, struct kb_store *st);

/* Brings the triage tables in the store to the newest version
 * (kb_store_migrate_module, module "triage"). Called by the save and load
 * functions. */
int kb_triage_schema(struct kb_store *st);

#endif
