/* Generic JSON Lines: any object a line, the last resort for JSON input.
 *
 * Every key is kept as flattened (`a.b.c`). Canonical fields come from
 * the names: ECS names (`source.ip`, `@timestamp`, ...) map to themselves,
 * then a table of common aliases (`src_ip`, `hostname`, `msg`, ...) fills
 * what is still empty. The table is a list of rows in order of preference;
 * configured mappings (kb_decode_ctx.map, from the user's configuration)
 * come before the built-in rows. Per stream, the rows are resolved once to
 * interned field ids, so a record's fields are matched by integer
 * comparison (see `aliases_resolve`). */
#include <stdlib.h>
#include <string.h>

#include "event/json.h"
#include "ingest/decoders.h"

#define T(t) (1u << (t))
#define T_TEXT (T(KB_V_STR))
#define T_NUM (T(KB_V_INT) | T(KB_V_STR))
#define T_ANY (T(KB_V_STR) | T(KB_V_INT) | T(KB_V_FLOAT) | T(KB_V_BOOL))

typedef struct alias_row {
    const char *name; /* the record's (flattened) field name, exact */
    int canon;        /* KB_F_* */
    unsigned types;   /* accepted value types (1 << KB_V_*) */
} alias_row;


/* Built-in aliases, most preferred first within each canonical field. */
static const alias_row builtin_rows[] = {
    {"timestamp", KB_F_TIMESTAMP, T_NUM | T(KB_V_FLOAT)},
    {"time", KB_F_TIMESTAMP, T_NUM | T(KB_V_FLOAT)},
    {"ts", KB_F_TIMESTAMP, T_NUM | T(KB_V_FLOAT)},
    {"datetime", KB_F_TIMESTAMP, T_TEXT},
    {"date", KB_F_TIMESTAMP, T_TEXT},
    {"eventTime", KB_F_TIMESTAMP, T_TEXT},
    {"EventTime", KB_F_TIMESTAMP, T_TEXT},
    {"TimeCreated", KB_F_TIMESTAMP, T_TEXT},
    {"host", KB_F_HOST_NAME, T_TEXT},
    {"hostname", KB_F_HOST_NAME, T_TEXT},
    {"host_name", KB_F_HOST_NAME, T_TEXT},
    {"Hostname", KB_F_HOST_NAME, T_TEXT},
    {"computer_name", KB_F_HOST_NAME, T_TEXT},
    {"Computer", KB_F_HOST_NAME, T_TEXT},
    {"host_ip", KB_F_HOST_IP, T_TEXT},
    {"user", KB_F_USER_NAME, T_TEXT},
    {"username", KB_F_USER_NAME, T_TEXT},
    {"user_name", KB_F_USER_NAME, T_TEXT},
    {"userName", KB_F_USER_NAME, T_TEXT},
    {"User", KB_F_USER_NAME, T_TEXT},
    {"account", KB_F_USER_NAME, T_TEXT},
    {"user_domain", KB_F_USER_DOMAIN, T_TEXT},
    {"src_ip", KB_F_SOURCE_IP, T_TEXT},
    {"srcip", KB_F_SOURCE_IP, T_TEXT},
    {"source_ip", KB_F_SOURCE_IP, T_TEXT},
    {"sourceIp", KB_F_SOURCE_IP, T_TEXT},
    {"src", KB_F_SOURCE_IP, T_TEXT},
    {"client_ip", KB_F_SOURCE_IP, T_TEXT},
    {"clientip", KB_F_SOURCE_IP, T_TEXT},
    {"id.orig_h", KB_F_SOURCE_IP, T_TEXT},
    {"src_port", KB_F_SOURCE_PORT, T_NUM},
    {"srcport", KB_F_SOURCE_PORT, T_NUM},
    {"source_port", KB_F_SOURCE_PORT, T_NUM},
    {"sport", KB_F_SOURCE_PORT, T_NUM},
    {"spt", KB_F_SOURCE_PORT, T_NUM},
    {"id.orig_p", KB_F_SOURCE_PORT, T_NUM},
    {"dst_ip", KB_F_DESTINATION_IP, T_TEXT},
    {"dest_ip", KB_F_DESTINATION_IP, T_TEXT},
    {"dstip", KB_F_DESTINATION_IP, T_TEXT},
    {"destination_ip", KB_F_DESTINATION_IP, T_TEXT},
    {"destinationIp", KB_F_DESTINATION_IP, T_TEXT},
    {"dst", KB_F_DESTINATION_IP, T_TEXT},
    {"dest", KB_F_DESTINATION_IP, T_TEXT},
    {"server_ip", KB_F_DESTINATION_IP, T_TEXT},
    {"id.resp_h", KB_F_DESTINATION_IP, T_TEXT},
    {"dst_port", KB_F_DESTINATION_PORT, T_NUM},
    {"dest_port", KB_F_DESTINATION_PORT, T_NUM},
    {"dstport", KB_F_DESTINATION_PORT, T_NUM},
    {"destination_port", KB_F_DESTINATION_PORT, T_NUM},
    {"dport", KB_F_DESTINATION_PORT, T_NUM},
    {"dpt", KB_F_DESTINATION_PORT, T_NUM},
    {"id.resp_p", KB_F_DESTINATION_PORT, T_NUM},
    {"proto", KB_F_NETWORK_TRANSPORT, T_TEXT},
    {"transport", KB_F_NETWORK_TRANSPORT, T_TEXT},
    {"app_proto", KB_F_NETWORK_PROTOCOL, T_TEXT},
    {"url", KB_F_URL_FULL, T_TEXT},
    {"uri", KB_F_URL_FULL, T_TEXT},
    {"request_url", KB_F_URL_FULL, T_TEXT},
    {"domain", KB_F_URL_DOMAIN, T_TEXT},
    {"url_domain", KB_F_URL_DOMAIN, T_TEXT},
    {"query", KB_F_DNS_QUESTION_NAME, T_TEXT},
    {"qname", KB_F_DNS_QUESTION_NAME, T_TEXT},
    {"dns_query", KB_F_DNS_QUESTION_NAME, T_TEXT},
    {"rrname", KB_F_DNS_QUESTION_NAME, T_TEXT},
    {"method", KB_F_HTTP_REQUEST_METHOD, T_TEXT},
    {"http_method", KB_F_HTTP_REQUEST_METHOD, T_TEXT},
    {"request_method", KB_F_HTTP_REQUEST_METHOD, T_TEXT},
    {"status", KB_F_HTTP_RESPONSE_STATUS_CODE, T_NUM},
    {"status_code", KB_F_HTTP_RESPONSE_STATUS_CODE, T_NUM},
    {"http_status", KB_F_HTTP_RESPONSE_STATUS_CODE, T_NUM},
    {"response_code", KB_F_HTTP_RESPONSE_STATUS_CODE, T_NUM},
    {"user_agent", KB_F_USER_AGENT_ORIGINAL, T_TEXT},
    {"useragent", KB_F_USER_AGENT_ORIGINAL, T_TEXT},
    {"userAgent", KB_F_USER_AGENT_ORIGINAL, T_TEXT},
    {"http_user_agent", KB_F_USER_AGENT_ORIGINAL, T_TEXT},
    {"filename", KB_F_FILE_NAME, T_TEXT},
    {"file_name", KB_F_FILE_NAME, T_TEXT},
    {"file_path", KB_F_FILE_PATH, T_TEXT},
    {"filepath", KB_F_FILE_PATH, T_TEXT},
    {"path", KB_F_FILE_PATH, T_TEXT},
    {"TargetFilename", KB_F_FILE_PATH, T_TEXT},
    {"md5", KB_F_FILE_HASH_MD5, T_TEXT},
    {"hash_md5", KB_F_FILE_HASH_MD5, T_TEXT},
    {"sha1", KB_F_FILE_HASH_SHA1, T_TEXT},
    {"hash_sha1", KB_F_FILE_HASH_SHA1, T_TEXT},
    {"sha256", KB_F_FILE_HASH_SHA256, T_TEXT},
    {"hash_sha256", KB_F_FILE_HASH_SHA256, T_TEXT},
    {"pid", KB_F_PROCESS_PID, T_NUM},
    {"process_id", KB_F_PROCESS_PID, T_NUM},
    {"ProcessId", KB_F_PROCESS_PID, T_NUM},
    {"process_name", KB_F_PROCESS_NAME, T_TEXT},
    {"process", KB_F_PROCESS_NAME, T_TEXT},
    {"image", KB_F_PROCESS_EXECUTABLE, T_TEXT},
    {"Image", KB_F_PROCESS_EXECUTABLE, T_TEXT},
    {"exe", KB_F_PROCESS_EXECUTABLE, T_TEXT},
    {"executable", KB_F_PROCESS_EXECUTABLE, T_TEXT},
    {"cmdline", KB_F_PROCESS_COMMAND_LINE, T_TEXT},
    {"command_line", KB_F_PROCESS_COMMAND_LINE, T_TEXT},
    {"commandline", KB_F_PROCESS_COMMAND_LINE, T_TEXT},
    {"CommandLine", KB_F_PROCESS_COMMAND_LINE, T_TEXT},
    {"cmd", KB_F_PROCESS_COMMAND_LINE, T_TEXT},
    {"parent_image", KB_F_PROCESS_PARENT_EXECUTABLE, T_TEXT},
    {"ParentImage", KB_F_PROCESS_PARENT_EXECUTABLE, T_TEXT},
    {"parent_cmdline", KB_F_PROCESS_PARENT_COMMAND_LINE, T_TEXT},
    {"parent_command_line", KB_F_PROCESS_PARENT_COMMAND_LINE, T_TEXT},
    {"ParentCommandLine", KB_F_PROCESS_PARENT_COMMAND_LINE, T_TEXT},
    {"rule_name", KB_F_RULE_NAME, T_TEXT},
    {"rule", KB_F_RULE_NAME, T_TEXT},
    {"signature", KB_F_RULE_NAME, T_TEXT},
    {"rule_id", KB_F_RULE_ID, T_NUM},
    {"signature_id", KB_F_RULE_ID, T_NUM},
    {"sid", KB_F_RULE_ID, T_NUM},
    {"action", KB_F_EVENT_ACTION, T_TEXT},
    {"outcome", KB_F_EVENT_OUTCOME, T_TEXT},
    {"severity", KB_F_EVENT_SEVERITY, T_NUM},
    {"msg", KB_F_MESSAGE, T_TEXT},
    {"log", KB_F_MESSAGE, T_TEXT},
};

/* The rows resolved to field ids for one stream: configured rows first,
 * then the built-in ones; a row's position is its rank (lower wins). */
typedef struct alias_id {
    kb_fid fid;
    int canon;
    unsigned types;
} alias_id;

typedef struct alias_state {
    int ready;
    size_t n;
    alias_id *ids; /* sorted by fid for bsearch; rank kept in .types' high bits */
    unsigned *rank;
} alias_state;

static void *state_new(void)
{
    return kb_calloc(1, sizeof(alias_state));
}

static void state_free(void *p)
{
    alias_state *st = p;
    if (!st)
        return;
    kb_free(st->ids);
    kb_free(st->rank);
    kb_free(st);
}

static int id_cmp(const void *a, const void *b)
{
    kb_fid x = ((const alias_id *)a)->fid, y = ((const alias_id *)b)->fid;
    return x < y ? -1 : x > y;
}

/* Interns every row's name once. A name listed twice keeps its first
 * (best-ranked) row. */
static int aliases_resolve(alias_state *st, kb_names *names, const kb_field_map *map)
{
    size_t nb = sizeof builtin_rows / sizeof builtin_rows[0], nm = map ? map->n : 0, k = 0;

    st->ids = kb_calloc(nb + nm, sizeof *st->ids);
    st->rank = kb_calloc(nb + nm, sizeof *st->rank);
    if (!st->ids || !st->rank)
        return KB_ENOMEM;
    for (size_t i = 0; i < nm + nb; i++) {
        const char *name = i < nm ? map->rows[i].raw : builtin_rows[i - nm].name;
        kb_fid fid = kb_names_intern(names, name, strlen(name));
        int dup = 0;
        if (fid == KB_FID_NONE || fid < KB_F_CANON_COUNT)
            continue; /* ECS names map to themselves already */
        for (size_t j = 0; j < k && !dup; j++)
            dup = st->ids[j].fid == fid;
        if (dup)
            continue;
        st->ids[k].fid = fid;
        st->ids[k].canon = i < nm ? map->rows[i].canon : builtin_rows[i - nm].canon;
        st->ids[k].types = i < nm ? T_ANY : builtin_rows[i - nm].types;
        st->rank[k] = (unsigned)i + 1; /* 0 is kept for ECS names themselves */
        k++;
    }
    /* Sort ids and ranks together: carry the rank through the sort. */
    for (size_t i = 0; i < k; i++)
        st->ids[i].types |= st->rank[i] << 8;
    qsort(st->ids, k, sizeof *st->ids, id_cmp);
    st->n = k;
    st->ready = 1;
    return KB_OK;
}

static const alias_id *alias_find(const alias_state *st, kb_fid fid, unsigned *rank)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (st->ids[mid].fid == fid) {
            *rank = st->ids[mid].types >> 8;
            return &st->ids[mid];
        }
        if (st->ids[mid].fid < fid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int sniff(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == '{' ? 10 : 0;
}

/* A port, pid or status: a JSON integer or a string of digits. */
static int numeric(const kb_field *f)
{
    uint64_t v;
    return kb_parse_u64(f->val, f->len, &v) == KB_OK;
}

static int parse_time(const kb_field *f, int64_t *out)
{
    if (f->type == KB_V_STR && kb_time_parse_iso8601(f->val, f->len, out) == KB_OK)
        return KB_OK;
    return kb_time_parse_epoch(f->val, f->len, out);
}

static int decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    kb_json_error jerr = {0};
    unsigned rank[KB_F_CANON_COUNT];
    alias_state *st = ctx->state;
    int rc;

    if (!st) {
        ctx->err = "generic JSON decoder used without its state";
        return KB_EINVAL;
    }
    if (!st->ready && (rc = aliases_resolve(st, ctx->names, ctx->map)) != KB_OK) {
        ctx->err = "out of memory resolving field mappings";
        return rc;
    }

    rc = kb_json_flatten(ev, line, len, NULL, &jerr);
    if (rc != KB_OK) {
        ctx->err = jerr.reason ? jerr.reason : "invalid JSON";
        return rc;
    }
    ev->format = kb_dec_json.name;

    /* One pass over the fields: each whole (non-element) value may claim
     * a canonical slot if its name ranks better than the current holder.
     * ECS names are interned first, so their ids are the KB_F_* indices. */
    for (int c = 0; c < KB_F_CANON_COUNT; c++)
        rank[c] = ~0u;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const kb_field *f = &ev->fields[i];
        const alias_id *row;
        unsigned r;
        int c;

        if ((f->flags & KB_FF_ELEM) || !((T_ANY >> f->type) & 1u))
            continue;
        if (f->name < KB_F_CANON_COUNT) {
            c = (int)f->name;
            r = 0;
        } else {
            if (!(row = alias_find(st, f->name, &r)) || !((row->types >> f->type) & 1u))
                continue;
            c = row->canon;
        }
        if (r >= rank[c])
            continue;
        if ((c == KB_F_SOURCE_PORT || c == KB_F_DESTINATION_PORT || c == KB_F_PROCESS_PID ||
             c == KB_F_HTTP_RESPONSE_STATUS_CODE) &&
            !numeric(f))
            continue;
        if (c == KB_F_TIMESTAMP) {
            int64_t t;
            if (parse_time(f, &t) != KB_OK)
                continue;
            ev->ts = t;
        }
        rank[c] = r;
        kb_event_alias(ev, c, (int)i);
    }
    return KB_OK;
}

const kb_decoder kb_dec_json = {
    .name = "json",
    .doc = "generic JSON Lines: fields as flattened, canonical fields from ECS names and common "
           "aliases",
    .sniff = sniff,
    .decode = decode,
    .state_new = state_new,
    .state_free = state_free,
};
