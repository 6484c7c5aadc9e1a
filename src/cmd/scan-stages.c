/* koban scan, after matching: analyst exceptions and suppression, storing
 * the alerts (--store), loading the indicators (intel_setup) and the alerts
 * triage reads (--triage). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/scan-int.h"

/* ---- suppression --------------------------------------------------------- */

/* The entries: the configuration's suppress: section, the overrides file
 * (koban tune apply) and the analysts' exceptions in the store (the --store
 * one, else DATA/koban.db when it exists). Returns an exit status. */
int suppression_setup(scan *sc, const kb_cli *cli)
{
    kb_config cfg;
    kb_buf path;
    const char *err;
    int rc = KB_EXIT_OK;

    if (kb_config_load(cli, &cfg) != KB_OK)
        return KB_EXIT_USAGE;
    kb_buf_init(&path, 0);
    if (!(sc->sup = kb_suppress_new(0))) {
        rc = KB_EXIT_FAILURE;
        goto out;
    }
    for (size_t i = 0; i < kb_suppress_count(cfg.suppress); i++)
        kb_suppress_add(sc->sup, kb_suppress_get(cfg.suppress, i), &err);
    kb_tune_overrides_path(cli, &path);
    if (access(path.data, R_OK) == 0) {
        kb_yaml *y = NULL;
        kb_yaml_error ye;
        char why[200];
        uint32_t line = 0;
        if (kb_yaml_parse_file(path.data, NULL, &y, &ye) != KB_OK ||
            kb_suppress_load_yaml(sc->sup, kb_yaml_get(kb_yaml_doc(y, 0), "suppress"), why,
                                  sizeof why, &line) != KB_OK) {
            fprintf(stderr, "koban scan: %s:%u: %s\n", path.data, y ? line : ye.line,
                    y           ? why
                    : ye.reason ? ye.reason
                                : "cannot read");
            rc = KB_EXIT_USAGE;
        }
        kb_yaml_free(y);
    }
    kb_buf_clear(&path);
    kb_buf_printf(&path, "%s/koban.db", cli->data_dir);
    if (sc->store) {
        kb_tune_load_exceptions(sc->store, sc->sup, kb_time_now());
    } else if (!getenv("KOBAN_STORE") && access(path.data, R_OK) == 0) {
        char eb[256];
        /* read only: a scan without --store never writes the store (no
         * tune tables: no exceptions) */
        kb_store *st = kb_store_open_ro(path.data, eb, sizeof eb);
        if (st && kb_tune_load_exceptions(st, sc->sup, kb_time_now()) != KB_OK &&
            kb_store_exec(st, "SELECT 1 FROM tune_exceptions LIMIT 1", NULL, 0, NULL, NULL) ==
                KB_OK)
            /* the tables are there but could not be read (an older tune
             * schema, which a read-only open cannot upgrade) */
            fprintf(stderr,
                    "koban scan: %s: analyst exceptions not applied: %s (a command that writes "
                    "the store, such as koban tune except list, upgrades it)\n",
                    path.data, kb_store_errmsg(st));
        kb_store_close(st);
    }
    if (kb_suppress_count(sc->sup) == 0) {
        kb_suppress_free(sc->sup);
        sc->sup = NULL;
    }
out:
    kb_buf_release(&path);
    kb_config_release(&cfg);
    return rc;
}

/* Decides each shown alert: suppressed and rate-limited ones are hidden and
 * counted (and stored flagged with --store); level overrides apply. */
void suppress_alerts(scan *sc, alert *all, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        alert *a = &all[k];
        const kb_rule_meta *m = alert_rule(sc, a);
        kb_suppress_alert sa;
        kb_suppress_result r;
        if (a->hide)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.rule_id = m->id;
        sa.title = m->title;
        sa.ts = a->ts;
        sa.value[KB_SUP_BY_SOURCE] = a->src;
        sa.value[KB_SUP_BY_DESTINATION] = a->dst;
        sa.value[KB_SUP_BY_HOST] = a->host && *a->host ? a->host : NULL;
        sa.value[KB_SUP_BY_USER] = a->user;
        kb_suppress_check(sc->sup, &sa, &r);
        if (r.level) {
            a->level_ovr = (uint8_t)(kb_level_parse(r.level) + 1);
            sc->relevelled++;
        }
        if (r.verdict == KB_SUP_SUPPRESSED || r.verdict == KB_SUP_LIMITED) {
            a->hide = r.verdict == KB_SUP_SUPPRESSED ? HIDE_SUPPRESSED : HIDE_LIMITED;
            a->sup = r.entry;
            if (r.verdict == KB_SUP_SUPPRESSED)
                sc->suppressed++;
            else
                sc->limited++;
        }
    }
}

static int flag_suppressed(scan *sc, const alert *all, const size_t *from, const int64_t *ids,
                           size_t k)
{
    int rc = KB_OK;
    for (size_t i = 0; i < k && rc == KB_OK; i++) {
        const alert *a = &all[from[i]];
        if (a->hide != HIDE_SUPPRESSED && a->hide != HIDE_LIMITED)
            continue;
        rc = kb_tune_flag_suppressed(sc->store, ids[i],
                                     a->hide == HIDE_SUPPRESSED ? "suppressed" : "limited",
                                     a->sup ? a->sup->id : 0, a->sup ? a->sup->reason : NULL);
    }
    return rc;
}

/* --store: the alerts of events stored by this scan, and the new alerts of
 * events an earlier run stored (koban load; a scan with other rules). */
int store_alerts(scan *sc, const alert *all, size_t n)
{
    kb_store_alert *rows = n ? kb_calloc(n, sizeof *rows) : NULL;
    kb_buf tags;
    size_t k = 0, *tag_off = n ? kb_calloc(n, sizeof *tag_off) : NULL;
    size_t *from = n ? kb_calloc(n, sizeof *from) : NULL; /* row -> alert (suppression) */
    int64_t *ids = n ? kb_calloc(n, sizeof *ids) : NULL;
    int rc = KB_OK;

    kb_buf_init(&tags, 0);
    if (n && (!rows || !tag_off || !from || !ids)) {
        rc = KB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const kb_rule_meta *m = alert_rule(sc, &all[i]);
        int64_t eid = all[i].event_id;
        if (all[i].hide == HIDE_INPUT) /* a correlation input only */
            continue;
        if (!eid) {
            /* its event was stored before (koban load, an earlier scan):
             * the alert is new unless that run stored it already */
            int found = 1;
            if (atomic_load(&sc->store_failed) ||
                kb_store_event_at(sc->store, sc->files[all[i].file].path, all[i].line, all[i].ts,
                                  &eid) != KB_OK ||
                !eid ||
                kb_store_alert_exists(sc->store, m->id ? m->id : "", all[i].ts, eid, &found) !=
                    KB_OK ||
                found)
                continue;
        }
        from[k] = i;
        tag_off[k] = tags.len;
        for (const char *const *t = m->tags; *t; t++) {
            if (t != m->tags)
                kb_buf_putc(&tags, ',');
            kb_buf_puts(&tags, *t);
        }
        kb_buf_putc(&tags, '\0');
        rows[k].ts = all[i].ts;
        rows[k].rule_id = m->id ? m->id : "";
        rows[k].title = m->title ? m->title : "";
        rows[k].level = all[i].level_ovr ? kb_level_name(all[i].level_ovr - 1)
                        : m->level       ? m->level
                                         : "";
        rows[k].author = m->author ? m->author : "";
        rows[k].event_id = eid;
        if (all[i].intel) {
            rows[k].threat = all[i].intel->threat;
            rows[k].confidence1 = all[i].intel->confidence >= 0 ? all[i].intel->confidence + 1 : 0;
        }
        rows[k].host = all[i].host;
        k++;
    }
    /* The tag strings are placed once the buffer stops growing. */
    for (size_t i = 0; i < k; i++)
        rows[i].tags = tags.data + tag_off[i];
    if (k && (rc = kb_store_put_alerts(sc->store, rows, k, ids)) == KB_OK)
        rc = flag_suppressed(sc, all, from, ids, k);
    if (rc != KB_OK)
        fprintf(stderr, "koban scan: store: %s\n", kb_store_errmsg(sc->store));
    else if (!sc->quiet)
        fprintf(stderr, "stored %llu new events and %zu alerts\n",
                (unsigned long long)atomic_load(&sc->stored), k);
out:
    kb_buf_release(&tags);
    kb_free(tag_off);
    kb_free(from);
    kb_free(ids);
    kb_free(rows);
    return rc;
}

/* ---- intel and triage ---------------------------------------------------- */

/* The indicators: those of the --store store, else of $KOBAN_STORE, else
 * of DATA/koban.db when it exists (none: no matching, no cost), with the
 * configuration's intel.allowlist. Returns an exit status. */
int intel_setup(scan *sc, const kb_cli *cli)
{
    kb_config cfg;
    kb_store *st = sc->store;
    kb_buf path;
    char err[512];
    int rc = KB_EXIT_OK;

    kb_buf_init(&path, 0);
    kb_buf_printf(&path, "%s/koban.db", cli->data_dir);
    if (!st) {
        /* a store the scan was not asked to use: read only, never created,
         * migrated or written; unusable, the scan goes on without
         * indicators */
        const char *env = getenv("KOBAN_STORE");
        const char *dsn = env && *env ? env : access(path.data, R_OK) == 0 ? path.data : NULL;
        if (dsn && !(st = kb_store_open_ro(dsn, err, sizeof err))) {
            fprintf(stderr,
                    "koban scan: intel: cannot read the store (%s), scanning without "
                    "indicators\n",
                    err);
            kb_buf_release(&path);
            return KB_EXIT_OK;
        }
    }
    kb_buf_release(&path);
    if (!st)
        return KB_EXIT_OK;
    if (kb_config_load(cli, &cfg) != KB_OK) {
        rc = KB_EXIT_USAGE;
        goto out;
    }
    sc->intel = kb_intel_scan_from_store(st, kb_time_now(), (const char *const *)cfg.intel.allow,
                                         cfg.intel.nallow, sc->names, err, sizeof err);
    kb_config_release(&cfg);
    if (!sc->intel) {
        fprintf(stderr, "koban scan: intel: %s (--no-intel scans without indicators)\n", err);
        if (strncmp(err, "allowlist", 9) == 0)
            rc = KB_EXIT_USAGE;
        else if (st == sc->store) /* --store: its failure is the scan's */
            rc = KB_EXIT_FAILURE;
    } else if (kb_intel_scan_indicators(sc->intel) == 0) {
        kb_intel_scan_free(sc->intel);
        sc->intel = NULL;
    }
out:
    if (st != sc->store)
        kb_store_close(st);
    return rc;
}

/* --triage: the shown alerts (after correlation and suppression), in time
 * order, as triage reads them. NULL when out of memory. */
kb_triage_alerts *triage_input(scan *sc, const alert *all, size_t n)
{
    kb_triage_alerts *tl = kb_triage_alerts_new();
    kb_buf tags, grp, gv[4];
    int rc = KB_OK;
    if (!tl)
        return NULL;
    kb_buf_init(&tags, 0);
    kb_buf_init(&grp, 0);
    for (int g = 0; g < 4; g++)
        kb_buf_init(&gv[g], 0);
    for (size_t k = 0; k < n && rc == KB_OK; k++) {
        const alert *a = &all[k];
        kb_triage_alert t;
        if (a->hide)
            continue;
        if (a->tri) {
            const kb_triage_alert *src = kb_triage_alerts_at(sc->w[a->wk].tri, a->tri - 1);
            if (!src)
                continue;
            t = *src;
            if (a->intel) {
                t.threat_type = a->intel->threat;
                t.confidence = a->intel->confidence;
            }
        } else { /* a correlation alert: no event of its own */
            const kb_rule_meta *m = alert_rule(sc, a);
            memset(&t, 0, sizeof t);
            kb_buf_clear(&tags);
            for (const char *const *g = m->tags; g && *g; g++) {
                if (tags.len)
                    kb_buf_putc(&tags, ',');
                kb_buf_puts(&tags, *g);
            }
            t.ts = a->ts;
            t.rule_id = m->id;
            t.rule_name = m->title;
            t.tags = tags.len ? tags.data : NULL;
            t.host = a->host && *a->host ? a->host : NULL;
            t.confidence = -1;
            /* its entity is its group (a->fields: "GROUP | type: ..."), as
             * `koban triage --alerts` reads matched.correlation.group */
            if (a->fields) {
                const char *bar = strstr(a->fields, " | ");
                kb_buf_clear(&grp);
                kb_buf_append(&grp, a->fields, bar ? (size_t)(bar - a->fields) : strlen(a->fields));
                if (!t.host)
                    t.host = kb_triage_group_value(grp.data, "host.name", &gv[0]);
                t.user = kb_triage_group_value(grp.data, "user.name", &gv[1]);
                t.src_ip = kb_triage_group_value(grp.data, "source.ip", &gv[2]);
                t.dst_ip = kb_triage_group_value(grp.data, "destination.ip", &gv[3]);
            }
        }
        t.level = alert_level(sc, a);
        rc = kb_triage_alerts_add(tl, &t);
    }
    kb_buf_release(&tags);
    kb_buf_release(&grp);
    for (int g = 0; g < 4; g++)
        kb_buf_release(&gv[g]);
    if (rc != KB_OK && rc != KB_ELIMIT) {
        kb_triage_alerts_free(tl);
        return NULL;
    }
    return tl;
}
