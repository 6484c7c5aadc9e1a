/* Alerts: storing them (kb_store_put_alerts), and the lookups that keep
 * them linked to their events and unduplicated (kb_store_event_at,
 * kb_store_alert_exists). store-int.h says where the other parts are. */
#include "store/store-int.h"

/* ---- alerts ------------------------------------------------------------ */

int kb_store_put_alerts(kb_store *st, const kb_store_alert *a, size_t n, int64_t *ids)
{
    static const char sql[] = "INSERT INTO alerts (ts, rule_id, title, level, author, tags,"
                              " event_id, host, created, threat, confidence) VALUES (?, ?, ?, ?,"
                              " ?, ?, ?, ?, ?, ?, ?) RETURNING id";
    int64_t now = kb_time_now();
    int rc;
    if ((rc = kb_store_begin(st)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t id = 0;
        kb_sval p[11] = {
            a[i].ts == KB_TIME_NONE ? (kb_sval){KB_SV_NULL, 0, 0, NULL, 0} : KB_SV_INTV(a[i].ts),
            str_or_null(a[i].rule_id),
            str_or_null(a[i].title),
            str_or_null(a[i].level),
            str_or_null(a[i].author),
            str_or_null(a[i].tags),
            a[i].event_id ? KB_SV_INTV(a[i].event_id) : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
            str_or_null(a[i].host),
            KB_SV_INTV(now),
            str_or_null(a[i].threat),
            a[i].confidence1 > 0 ? KB_SV_INTV(a[i].confidence1 - 1)
                                 : (kb_sval){KB_SV_NULL, 0, 0, NULL, 0},
        };
        if ((rc = st->be->exec(st, sql, p, 11, store_id_cb, &id, 1))) {
            kb_store_rollback(st);
            return rc;
        }
        if (ids)
            ids[i] = id;
    }
    return kb_store_commit(st);
}

int kb_store_event_at(kb_store *st, const char *path, uint64_t line, int64_t ts, int64_t *id)
{
    /* events_ts narrows to the few rows of that instant */
    static const char sql[] = "SELECT id FROM events WHERE ts = ? AND line = ? AND source_id IN"
                              " (SELECT id FROM sources WHERE path = ?) ORDER BY id LIMIT 1";
    kb_sval p[3] = {KB_SV_INTV(ts), KB_SV_INTV((int64_t)line), str_or_null(path)};
    *id = 0;
    if (ts == KB_TIME_NONE || !path)
        return KB_OK;
    return st->be->exec(st, sql, p, 3, store_id_cb, id, 1);
}

int kb_store_alert_exists(kb_store *st, const char *rule_id, int64_t ts, int64_t event_id,
                          int *found)
{
    /* alerts_rule (rule_id, ts) narrows to the rule's alerts of that instant */
    static const char sql[] = "SELECT id FROM alerts WHERE rule_id = ? AND ts = ? AND event_id = ?"
                              " LIMIT 1";
    kb_sval p[3] = {str_or_null(rule_id), KB_SV_INTV(ts), KB_SV_INTV(event_id)};
    int64_t id = 0;
    int rc = st->be->exec(st, sql, p, 3, store_id_cb, &id, 1);
    *found = id != 0;
    return rc;
}
