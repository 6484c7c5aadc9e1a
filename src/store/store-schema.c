/* What the store holds: the canonical columns (kb_store_columns), the
 * observable kinds and the fields they come from (store_obs_map, whose
 * order gives the field-mask bits), the encoding of narrow rows'
 * canonical fields (kb_cenc_*), and the schema: its creation and
 * migrations (store_migrate), and the check of a store opened read-only
 * (store_check_ro). store-int.h says where the other parts are. */
#include <string.h>

#include "store/store-int.h"

/* ---- columns ------------------------------------------------------------- */

const kb_store_column kb_store_columns[] = {
    {KB_F_TIMESTAMP, "ts", 1},
    {KB_F_EVENT_KIND, "event_kind", 0},
    {KB_F_EVENT_CATEGORY, "event_category", 0},
    {KB_F_EVENT_ACTION, "event_action", 0},
    {KB_F_EVENT_OUTCOME, "event_outcome", 0},
    {KB_F_EVENT_SEVERITY, "event_severity", 0},
    {KB_F_OBSERVER_PRODUCT, "observer_product", 0},
    {KB_F_HOST_NAME, "host_name", 0},
    {KB_F_HOST_IP, "host_ip", 0},
    {KB_F_USER_NAME, "user_name", 0},
    {KB_F_USER_DOMAIN, "user_domain", 0},
    {KB_F_SOURCE_IP, "source_ip", 0},
    {KB_F_SOURCE_PORT, "source_port", 1},
    {KB_F_DESTINATION_IP, "destination_ip", 0},
    {KB_F_DESTINATION_PORT, "destination_port", 1},
    {KB_F_NETWORK_TRANSPORT, "network_transport", 0},
    {KB_F_NETWORK_PROTOCOL, "network_protocol", 0},
    {KB_F_URL_FULL, "url_full", 0},
    {KB_F_URL_DOMAIN, "url_domain", 0},
    {KB_F_DNS_QUESTION_NAME, "dns_question_name", 0},
    {KB_F_HTTP_REQUEST_METHOD, "http_request_method", 0},
    {KB_F_HTTP_RESPONSE_STATUS_CODE, "http_response_status_code", 1},
    {KB_F_USER_AGENT_ORIGINAL, "user_agent_original", 0},
    {KB_F_FILE_NAME, "file_name", 0},
    {KB_F_FILE_PATH, "file_path", 0},
    {KB_F_FILE_HASH_MD5, "file_hash_md5", 0},
    {KB_F_FILE_HASH_SHA1, "file_hash_sha1", 0},
    {KB_F_FILE_HASH_SHA256, "file_hash_sha256", 0},
    {KB_F_PROCESS_PID, "process_pid", 1},
    {KB_F_PROCESS_NAME, "process_name", 0},
    {KB_F_PROCESS_EXECUTABLE, "process_executable", 0},
    {KB_F_PROCESS_COMMAND_LINE, "process_command_line", 0},
    {KB_F_PROCESS_PARENT_EXECUTABLE, "process_parent_executable", 0},
    {KB_F_PROCESS_PARENT_COMMAND_LINE, "process_parent_command_line", 0},
    {KB_F_RULE_NAME, "rule_name", 0},
    {KB_F_RULE_ID, "rule_id", 0},
    {KB_F_MESSAGE, "message", 0},
    {-1, NULL, 0},
};
_Static_assert(sizeof kb_store_columns / sizeof kb_store_columns[0] - 1 == NCOLS,
               "NCOLS (store-int.h) is the number of kb_store_columns");

const kb_store_column *kb_store_column_of(int canon)
{
    for (const kb_store_column *c = kb_store_columns; c->column; c++)
        if (c->canon == canon)
            return c;
    return NULL;
}

const char *const store_obs_kinds[] = {
#define KB_OBS_STR(e, s) s,
    KB_OBS_KIND_MAP(KB_OBS_STR)
#undef KB_OBS_STR
};

/* Observables of one event: (kind, canonical field) pairs. */
const struct store_obs store_obs_map[] = {
    {KB_OBS_IP, KB_F_SOURCE_IP},          {KB_OBS_IP, KB_F_DESTINATION_IP},
    {KB_OBS_IP, KB_F_HOST_IP},            {KB_OBS_DOMAIN, KB_F_URL_DOMAIN},
    {KB_OBS_DOMAIN, KB_F_DNS_QUESTION_NAME}, {KB_OBS_URL, KB_F_URL_FULL},
    {KB_OBS_HASH, KB_F_FILE_HASH_MD5},    {KB_OBS_HASH, KB_F_FILE_HASH_SHA1},
    {KB_OBS_HASH, KB_F_FILE_HASH_SHA256}, {KB_OBS_USER, KB_F_USER_NAME},
    {KB_OBS_HOST, KB_F_HOST_NAME},        {KB_OBS_FILE, KB_F_FILE_NAME},
    {KB_OBS_PROCESS, KB_F_PROCESS_EXECUTABLE}, {KB_OBS_PROCESS, KB_F_PROCESS_PARENT_EXECUTABLE},
};
_Static_assert(sizeof store_obs_map / sizeof store_obs_map[0] == NOBS,
               "NOBS (store-int.h) is the number of store_obs_map entries");

const char *kb_obs_kind_name(int kind)
{
    return kind >= 0 && kind < KB_OBS_COUNT ? store_obs_kinds[kind] : "?";
}

int kb_obs_kind_find(const char *s, size_t len)
{
    for (int k = 0; k < KB_OBS_COUNT; k++)
        if (kb_str_eqz(s, len, store_obs_kinds[k]))
            return k;
    return -1;
}

/* ---- the canonical-field encoding of narrow rows (store-int.h) ------------ */

static int put_varint(kb_buf *b, uint64_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return kb_buf_append(b, tmp, n);
}

static int get_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t c;
        if (*at >= n)
            return -1;
        c = p[(*at)++];
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int kb_cenc_put_text(kb_buf *b, int i, const char *s, size_t len)
{
    if (kb_buf_putc(b, (char)i) || put_varint(b, len) || kb_buf_append(b, s, len))
        return KB_ENOMEM;
    return KB_OK;
}

int kb_cenc_put_int(kb_buf *b, int i, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    if (kb_buf_putc(b, (char)(KB_CANON_INT | i)) || put_varint(b, z))
        return KB_ENOMEM;
    return KB_OK;
}

int kb_cenc_find(const uint8_t *p, size_t n, int i, kb_sval *out)
{
    size_t at = 0;
    while (at < n) {
        uint8_t tag = p[at++];
        uint64_t v;
        if (tag == KB_CANON_END)
            return 0;
        if ((tag & 0x7f) >= KB_CANON_COUNT || get_varint(p, n, &at, &v))
            return -1;
        if (tag & KB_CANON_INT) {
            if ((tag & 0x7f) == i) {
                *out = KB_SV_INTV((int64_t)(v >> 1) ^ -(int64_t)(v & 1));
                return 1;
            }
            continue;
        }
        if (v > n - at)
            return -1;
        if (tag == i) {
            *out = KB_SV_STRV((const char *)p + at, (size_t)v);
            return 1;
        }
        at += (size_t)v;
    }
    return -1; /* no end marker */
}

/* ---- schema ----------------------------------------------------------- */

/* Migration 1: the first tables. Built for the back end's dialect. */
static int ddl_v1(kb_store *st, kb_buf *b)
{
    const kb_store_backend *be = st->be;
    int rc = 0;

    rc |= kb_buf_printf(b,
                        "CREATE TABLE sources (id %s, path TEXT NOT NULL UNIQUE, format TEXT,"
                        " inode BIGINT NOT NULL DEFAULT 0, size BIGINT NOT NULL DEFAULT 0,"
                        " checkpoint BIGINT NOT NULL DEFAULT -1, line BIGINT NOT NULL DEFAULT 0,"
                        " events BIGINT NOT NULL DEFAULT 0, updated BIGINT);\n",
                        be->t_pk);
    rc |= kb_buf_printf(b, "CREATE TABLE events (id %s", be->t_pk);
    for (const kb_store_column *c = kb_store_columns; c->column; c++)
        rc |= kb_buf_printf(b, ", %s %s", c->column, c->is_int ? "BIGINT" : "TEXT");
    rc |= kb_buf_printf(b, ", format TEXT, ls_product TEXT, ls_category TEXT, ls_service TEXT,"
                           " source_id BIGINT, rec_offset BIGINT, line BIGINT,"
                           " raw_len BIGINT, raw %s);\n",
                        be->t_blob);
    rc |= kb_buf_puts(b,
                      "CREATE INDEX events_ts ON events (ts);\n"
                      "CREATE INDEX events_host_ts ON events (host_name, ts);\n"
                      "CREATE INDEX events_source ON events (source_id, rec_offset);\n"
                      "CREATE TABLE observables (kind TEXT NOT NULL, value TEXT NOT NULL,"
                      " ts BIGINT, host TEXT, event_id BIGINT NOT NULL);\n"
                      "CREATE INDEX observables_kv ON observables (kind, value, ts);\n"
                      "CREATE INDEX observables_v ON observables (value);\n"
                      "CREATE TABLE field_names (name TEXT PRIMARY KEY);\n");
    rc |= kb_buf_printf(b,
                        "CREATE TABLE alerts (id %s, ts BIGINT, rule_id TEXT, title TEXT,"
                        " level TEXT, author TEXT, tags TEXT, event_id BIGINT, host TEXT,"
                        " created BIGINT);\n"
                        "CREATE INDEX alerts_ts ON alerts (ts);\n"
                        "CREATE INDEX alerts_rule ON alerts (rule_id, ts);\n"
                        "CREATE TABLE incidents (id %s, created BIGINT, updated BIGINT,"
                        " type TEXT, severity TEXT, status TEXT, entity TEXT, title TEXT,"
                        " detail TEXT);\n"
                        "CREATE TABLE cases (id %s, incident_id BIGINT, created BIGINT,"
                        " status TEXT, verdict TEXT, detail TEXT);\n"
                        "CREATE TABLE actions (id %s, incident_id BIGINT, created BIGINT,"
                        " kind TEXT, target TEXT, status TEXT, detail TEXT);\n"
                        "CREATE TABLE audit (id %s, ts BIGINT NOT NULL, actor TEXT,"
                        " action TEXT NOT NULL, detail TEXT);\n",
                        be->t_pk, be->t_pk, be->t_pk, be->t_pk, be->t_pk);
    return rc ? KB_ENOMEM : KB_OK;
}

/* Migration 2: raw records compressed per block (a record alone
 * compresses ~1.5x, a block of similar ones ~10x), observables as a
 * dictionary of distinct values plus a clustered (value id, event id)
 * table, and the observables table replaced by a view of the same shape.
 * events_source and observables_v served no query and are dropped;
 * events_host_ts leaves out events without a host (network logs), which a
 * host query never asks for. */
static int ddl_v2(kb_store *st, kb_buf *b)
{
    const kb_store_backend *be = st->be;
    int rc = 0;

    rc |= kb_buf_printf(b,
                        "CREATE TABLE blocks (id %s, lo BIGINT, hi BIGINT, data %s);\n"
                        "ALTER TABLE events ADD COLUMN blk BIGINT;\n"
                        "ALTER TABLE events ADD COLUMN boff BIGINT;\n"
                        "DROP INDEX events_source;\n"
                        "DROP INDEX events_host_ts;\n"
                        "CREATE INDEX events_host_ts ON events (host_name, ts)"
                        " WHERE host_name IS NOT NULL;\n"
                        "CREATE TABLE obs_values (id %s, kind TEXT NOT NULL,"
                        " value TEXT NOT NULL);\n"
                        "CREATE TABLE obs_events (vid BIGINT NOT NULL, event_id BIGINT NOT NULL,"
                        " PRIMARY KEY (vid, event_id))%s;\n",
                        be->t_pk, be->t_blob, be->t_pk, be->t_clustered ? be->t_clustered : "");
    rc |= kb_buf_puts(b,
                      "INSERT INTO obs_values (kind, value) SELECT DISTINCT kind, value"
                      " FROM observables;\n"
                      "INSERT INTO obs_events (vid, event_id) SELECT DISTINCT v.id, o.event_id"
                      " FROM observables o JOIN obs_values v ON v.kind = o.kind AND"
                      " v.value = o.value;\n"
                      "DROP TABLE observables;\n"
                      "CREATE INDEX observables_kv ON obs_values (value);\n"
                      "CREATE VIEW observables AS SELECT v.kind AS kind, v.value AS value,"
                      " e.ts AS ts, e.host_name AS host, o.event_id AS event_id"
                      " FROM obs_events o JOIN obs_values v ON v.id = o.vid"
                      " LEFT JOIN events e ON e.id = o.event_id;\n");
    return rc ? KB_ENOMEM : KB_OK;
}

/* Migration 3 (back ends with canon_blocks): narrow event rows. The wide
 * events table (~50 mostly empty columns, ~160 bytes a row) becomes `ev`
 * with the columns queries filter or index on; new records carry their
 * other canonical fields inside their compressed block, migrated rows in
 * ev.canon (kb_canon_pack). `events` becomes a view of the old shape.
 * Other back ends keep the wide table (the version is recorded all the
 * same). */
static int ddl_v3(kb_store *st, kb_buf *b)
{
    int rc = 0, k = 0;
    static const char canon_args[] = "canon, blk, coff";

    /* Which canonical fields held each observable (bit i: store_obs_map[i]),
     * so that a pivot on one field (source.ip:X) needs no look at the row. */
    rc |= kb_buf_puts(b, "ALTER TABLE obs_events ADD COLUMN fm BIGINT NOT NULL DEFAULT 0;\n"
                         "UPDATE obs_events SET fm = COALESCE((SELECT 0");
    for (size_t i = 0; i < NOBS; i++)
        rc |= kb_buf_printf(b, " + CASE WHEN v.kind = '%s' AND e.%s = v.value THEN %lld ELSE 0"
                               " END",
                            store_obs_kinds[store_obs_map[i].kind],
                            kb_store_column_of(store_obs_map[i].canon)->column, (long long)1 << i);
    rc |= kb_buf_puts(b, " FROM obs_values v, events e WHERE v.id = obs_events.vid AND"
                         " e.id = obs_events.event_id), 0);\n");
    if (!st->be->canon_blocks)
        return rc ? KB_ENOMEM : KB_OK;
    rc |= kb_buf_puts(b, "ALTER TABLE blocks ADD COLUMN cdata BLOB;\n"
                         "CREATE TABLE ev (id INTEGER PRIMARY KEY, ts BIGINT, host_name TEXT,"
                         " format TEXT, source_id BIGINT, rec_offset BIGINT, line BIGINT,"
                         " raw_len BIGINT, blk BIGINT, boff BIGINT, coff BIGINT, raw BLOB,"
                         " canon BLOB);\n"
                         "INSERT INTO ev (id, ts, host_name, format, source_id, rec_offset, line,"
                         " raw_len, blk, boff, raw, canon) SELECT id, ts, host_name, format,"
                         " source_id, rec_offset, line, raw_len, blk, boff, raw, kb_canon_pack(");
    for (const kb_store_column *c = kb_store_columns; c->column; c++, k++) {
        if (c->canon == KB_F_TIMESTAMP || c->canon == KB_F_HOST_NAME)
            continue;
        rc |= kb_buf_printf(b, "%d, %s, ", k, c->column);
    }
    rc |= kb_buf_printf(b, "%d, ls_product, %d, ls_category, %d, ls_service) FROM events;\n",
                        KB_CANON_LS, KB_CANON_LS + 1, KB_CANON_LS + 2);
    rc |= kb_buf_puts(b, "DROP VIEW observables;\n"
                         "DROP TABLE events;\n"
                         "CREATE INDEX events_ts ON ev (ts);\n"
                         "CREATE INDEX events_host_ts ON ev (host_name, ts)"
                         " WHERE host_name IS NOT NULL;\n"
                         "CREATE VIEW events AS SELECT id");
    k = 0;
    for (const kb_store_column *c = kb_store_columns; c->column; c++, k++) {
        if (c->canon == KB_F_TIMESTAMP || c->canon == KB_F_HOST_NAME)
            rc |= kb_buf_printf(b, ", %s", c->column);
        else
            rc |= kb_buf_printf(b, ", kb_canon(%s, %d) AS %s", canon_args, k, c->column);
    }
    rc |= kb_buf_printf(b,
                        ", format, kb_canon(%s, %d) AS ls_product, kb_canon(%s, %d) AS"
                        " ls_category, kb_canon(%s, %d) AS ls_service, source_id, rec_offset,"
                        " line, raw_len, raw, blk, boff FROM ev;\n",
                        canon_args, KB_CANON_LS, canon_args, KB_CANON_LS + 1, canon_args,
                        KB_CANON_LS + 2);
    rc |= kb_buf_puts(b, "CREATE VIEW observables AS SELECT v.kind AS kind, v.value AS value,"
                         " e.ts AS ts, e.host_name AS host, o.event_id AS event_id"
                         " FROM obs_events o JOIN obs_values v ON v.id = o.vid"
                         " LEFT JOIN ev e ON e.id = o.event_id;\n");
    return rc ? KB_ENOMEM : KB_OK;
}

/* Migration 4: per (value, field mask, hour) event counts with the range
 * of their event ids, so that counting a pivot (`source.ip:X | stats
 * count()`) is a few rows however often the value was seen, and listing
 * its first or newest N events reads only the hours that hold them. Kept
 * by the loader (flush_counts) and by prune. */
static int ddl_v4(kb_store *st, kb_buf *b)
{
    const kb_store_backend *be = st->be;
    int rc = kb_buf_printf(b,
                           "CREATE TABLE obs_counts (vid BIGINT NOT NULL, fm BIGINT NOT NULL,"
                           " hr BIGINT NOT NULL, n BIGINT NOT NULL, lo BIGINT NOT NULL,"
                           " hi BIGINT NOT NULL, PRIMARY KEY (vid, fm, hr))%s;\n"
                           "INSERT INTO obs_counts (vid, fm, hr, n, lo, hi) SELECT o.vid, o.fm,"
                           " COALESCE(e.ts / %lld, %lld), COUNT(*), MIN(o.event_id),"
                           " MAX(o.event_id) FROM obs_events o LEFT JOIN %s e ON e.id ="
                           " o.event_id GROUP BY o.vid, o.fm, COALESCE(e.ts / %lld, %lld);\n",
                           be->t_clustered ? be->t_clustered : "", (long long)KB_OBS_HOUR,
                           (long long)KB_OBS_HR_NONE, be->canon_blocks ? "ev" : "events",
                           (long long)KB_OBS_HOUR, (long long)KB_OBS_HR_NONE);
    return rc ? KB_ENOMEM : KB_OK;
}

/* Migration 5: an indicator hit keeps its threat type and confidence, so
 * triage over the store rates it as `koban scan --triage` does. */
static int ddl_v5(kb_store *st, kb_buf *b)
{
    (void)st;
    return kb_buf_puts(b, "ALTER TABLE alerts ADD COLUMN threat TEXT;\n"
                          "ALTER TABLE alerts ADD COLUMN confidence BIGINT;\n")
               ? KB_ENOMEM
               : KB_OK;
}

typedef int (*migration_fn)(kb_store *st, kb_buf *b);
static const migration_fn migrations[KB_STORE_SCHEMA_VERSION] = {ddl_v1, ddl_v2, ddl_v3,
                                                                  ddl_v4, ddl_v5};

int kb_store_schema_version(kb_store *st)
{
    return (int)kb_store_scalar(st, "SELECT MAX(version) FROM schema_version", NULL, 0, 0);
}

/* Runs each statement of a ';\n'-separated script. */
static int exec_script(kb_store *st, char *sql)
{
    char *p = sql;
    while (*p) {
        char *end = strstr(p, ";\n");
        int rc;
        if (end)
            *end = 0;
        if (*p && (rc = exec0(st, p)))
            return rc;
        if (!end)
            break;
        p = end + 2;
    }
    return KB_OK;
}

int store_migrate(kb_store *st)
{
    int rc, have;
    kb_buf b;

    /* CREATE TABLE IF NOT EXISTS is idempotent; two nodes racing on a fresh
     * PostgreSQL store are serialised by the transaction below. */
    if ((rc = exec0(st, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL,"
                        " applied BIGINT NOT NULL)")))
        return rc;
    have = kb_store_schema_version(st);
    if (have > KB_STORE_SCHEMA_VERSION)
        return kb_store_fail(st, "the store has schema version %d, newer than this koban's %d;"
                                 " upgrade koban",
                             have, KB_STORE_SCHEMA_VERSION);
    kb_buf_init(&b, 0);
    for (int v = have + 1; v <= KB_STORE_SCHEMA_VERSION; v++) {
        kb_sval p[2] = {KB_SV_INTV(v), KB_SV_INTV(kb_time_now())};
        kb_buf_clear(&b);
        if ((rc = migrations[v - 1](st, &b)))
            break;
        if ((rc = kb_store_begin(st)))
            break;
        if ((b.data && (rc = exec_script(st, b.data))) ||
            (rc = st->be->exec(st, "INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                               p, 2, NULL, NULL, 0)) ||
            (rc = kb_store_commit(st))) {
            kb_store_rollback(st);
            break;
        }
    }
    kb_buf_release(&b);
    return rc;
}

/* A store opened read-only is used as it is: its schema must be this
 * koban's (nothing is migrated), and on PostgreSQL the session's
 * transactions are read-only. */
int store_check_ro(kb_store *st)
{
    int have;
    if (st->be == &kb_store_pg &&
        exec0(st, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"))
        return KB_EIO;
    have = kb_store_schema_version(st);
    if (have != KB_STORE_SCHEMA_VERSION)
        return kb_store_fail(st, "the store has schema version %d, not this koban's %d (open it "
                                 "read-write once to migrate it)",
                             have, KB_STORE_SCHEMA_VERSION);
    return KB_OK;
}
