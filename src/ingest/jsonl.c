/* Generic JSON Lines: any object a line, the last resort for JSON input.
 *
 * Every key is kept as flattened (`a.b.c`). Canonical fields come from
 * the names: ECS names (`source.ip`, `@timestamp`, ...) map to themselves,
 * then a table of common aliases (`src_ip`, `hostname`, `msg`, ...) fills
 * what is still empty. The table is a list of rows in order of preference;
 * the lookup walks a chain of row tables, so configured mappings can later
 * be put in front of the built-in ones without touching this decoder's
 * logic (see `alias_tables`). Nothing of it is exported yet. */
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

typedef struct alias_table {
    const alias_row *rows;
    size_t n;
} alias_table;

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

/* The chain the lookup walks, first table first. Configured mappings
 * will go in front of the built-in rows here. */
static const alias_table alias_tables[] = {
    {builtin_rows, sizeof builtin_rows / sizeof builtin_rows[0]},
};

/* Rank of a field name in the chain (lower is preferred) and its row, or
 * NULL. Names are compared by length first, so a miss costs little. */
static const alias_row *alias_find(const char *name, size_t len, unsigned *rank)
{
    unsigned r = 1; /* 0 is kept for ECS names themselves */

    for (size_t t = 0; t < sizeof alias_tables / sizeof alias_tables[0]; t++) {
        for (size_t i = 0; i < alias_tables[t].n; i++, r++) {
            const alias_row *row = &alias_tables[t].rows[i];
            if (row->name[0] == name[0] && kb_str_eqz(name, len, row->name)) {
                *rank = r;
                return row;
            }
        }
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
    int rc;

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
        const alias_row *row;
        unsigned r;
        int c;

        if ((f->flags & KB_FF_ELEM) || !((T_ANY >> f->type) & 1u))
            continue;
        if (f->name < KB_F_CANON_COUNT) {
            c = (int)f->name;
            r = 0;
        } else {
            size_t nl;
            const char *n = kb_names_str(ev->names, f->name, &nl);
            if (!n || !nl || !(row = alias_find(n, nl, &r)) || !((row->types >> f->type) & 1u))
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
    .state_new = NULL,
    .state_free = NULL,
};
