/* MISP: event JSON exports ({"Event":{...}}, a bare event, or
 * {"response":[{"Event":...}]}) and the feed format (a directory or URL
 * with manifest.json and one <uuid>.json per event). Attributes with
 * to_ids true become indicators (all of them with sink->misp_all); types
 * that are not indicator kinds (text, regkey, link, ...) are skipped and
 * counted; composite types (domain|ip, filename|sha256) give one indicator
 * per part. */
#include <dirent.h>
#include <jansson.h>
#include <string.h>

#include "intel/intel-int.h"

static const struct {
    const char *type;
    int kind[2]; /* -1: part not used */
} types[] = {
    {"ip-src", {KB_IOC_IP, -1}},
    {"ip-dst", {KB_IOC_IP, -1}},
    {"ip-src|port", {KB_IOC_IP, -1}},
    {"ip-dst|port", {KB_IOC_IP, -1}},
    {"domain", {KB_IOC_DOMAIN, -1}},
    {"hostname", {KB_IOC_DOMAIN, -1}},
    {"domain|ip", {KB_IOC_DOMAIN, KB_IOC_IP}},
    {"hostname|port", {KB_IOC_DOMAIN, -1}},
    {"url", {KB_IOC_URL, -1}},
    {"email", {KB_IOC_EMAIL, -1}},
    {"email-src", {KB_IOC_EMAIL, -1}},
    {"email-dst", {KB_IOC_EMAIL, -1}},
    {"md5", {KB_IOC_MD5, -1}},
    {"sha1", {KB_IOC_SHA1, -1}},
    {"sha256", {KB_IOC_SHA256, -1}},
    {"filename", {KB_IOC_FILENAME, -1}},
    {"filename|md5", {KB_IOC_FILENAME, KB_IOC_MD5}},
    {"filename|sha1", {KB_IOC_FILENAME, KB_IOC_SHA1}},
    {"filename|sha256", {KB_IOC_FILENAME, KB_IOC_SHA256}},
    {"ja3-fingerprint-md5", {KB_IOC_JA3, -1}},
    {"ja4-fingerprint", {KB_IOC_JA4, -1}},
    {"user-agent", {KB_IOC_UA, -1}},
};

static const char *category_threat(const char *c)
{
    if (!c)
        return NULL;
    if (strcmp(c, "Payload delivery") == 0)
        return "malware-download";
    if (strcmp(c, "Artifacts dropped") == 0 || strcmp(c, "Payload installation") == 0)
        return "malware";
    if (strcmp(c, "Network activity") == 0)
        return "network-activity";
    return NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int truthy(json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), "1") == 0 || strcmp(json_string_value(v), "true") == 0;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    return 0;
}

static void tag_names(json_t *tags, kb_buf *b)
{
    size_t i;
    json_t *t;
    if (!json_is_array(tags))
        return;
    json_array_foreach(tags, i, t) {
        const char *n = jstr(t, "name");
        if (!n || b->len + strlen(n) > 1000)
            continue;
        if (b->len)
            kb_buf_putc(b, ',');
        kb_buf_puts(b, n);
    }
}

typedef struct ev_meta {
    kb_indicator base;
    kb_buf tags;
    char ref[128];
} ev_meta;

static int load_attr(kb_intel_sink *s, json_t *a, const ev_meta *em, const char *where)
{
    const char *type = jstr(a, "type"), *value = jstr(a, "value");
    size_t t;
    int rc = KB_OK;
    if (!json_is_object(a) || !type || !value) {
        kb_intel_sink_reject(s, where, "attribute without a string type and value");
        return KB_OK;
    }
    for (t = 0; t < sizeof types / sizeof types[0]; t++)
        if (strcmp(types[t].type, type) == 0)
            break;
    if (t == sizeof types / sizeof types[0] ||
        (!s->misp_all && !truthy(json_object_get(a, "to_ids")))) {
        s->skipped++;
        return KB_OK;
    }
    kb_indicator meta = em->base;
    kb_buf tags;
    kb_buf_init(&tags, 4096);
    kb_buf_append(&tags, em->tags.data, em->tags.len);
    tag_names(json_object_get(a, "Tag"), &tags);
    meta.tags = tags.len ? tags.data : NULL;
    meta.threat = category_threat(jstr(a, "category"));
    const char *fs = jstr(a, "first_seen"), *ls = jstr(a, "last_seen"), *ts = jstr(a, "timestamp");
    if (fs)
        kb_time_parse_iso8601(fs, strlen(fs), &meta.first_seen);
    if (ls)
        kb_time_parse_iso8601(ls, strlen(ls), &meta.last_seen);
    else if (ts)
        kb_time_parse_epoch(ts, strlen(ts), &meta.last_seen);
    /* split composite values at '|' */
    const char *bar = types[t].kind[1] >= 0 || strchr(type, '|') ? strchr(value, '|') : NULL;
    if (strchr(type, '|') && !bar) {
        kb_intel_sink_reject(s, where, "composite attribute value without '|'");
    } else if (bar) {
        rc = kb_intel_sink_add(s, types[t].kind[0], value, (size_t)(bar - value), &meta, where);
        if (rc == KB_OK && types[t].kind[1] >= 0)
            rc = kb_intel_sink_add(s, types[t].kind[1], bar + 1, strlen(bar + 1), &meta, where);
    } else {
        rc = kb_intel_sink_add(s, types[t].kind[0], value, strlen(value), &meta, where);
    }
    kb_buf_release(&tags);
    return rc;
}

static int load_event(kb_intel_sink *s, json_t *ev, const char *prefix)
{
    ev_meta em;
    json_t *attrs = json_object_get(ev, "Attribute"), *objs = json_object_get(ev, "Object"), *a,
           *o;
    size_t i, j;
    int rc = KB_OK;
    char where[160];
    const char *uuid = jstr(ev, "uuid"), *tl = jstr(ev, "threat_level_id");

    memset(&em, 0, sizeof em);
    em.base = (kb_indicator){.confidence = -1, .first_seen = KB_TIME_NONE,
                             .last_seen = KB_TIME_NONE, .valid_until = KB_TIME_NONE};
    if (tl)
        em.base.confidence = tl[0] == '1' ? 90 : tl[0] == '2' ? 70 : tl[0] == '3' ? 50 : -1;
    snprintf(em.ref, sizeof em.ref, "misp-event:%.60s", uuid ? uuid : "?");
    em.base.ref = em.ref;
    em.base.desc = jstr(ev, "info");
    kb_buf_init(&em.tags, 4096);
    tag_names(json_object_get(ev, "Tag"), &em.tags);
    if (attrs && !json_is_array(attrs)) {
        snprintf(where, sizeof where, "%sAttribute", prefix);
        kb_intel_sink_reject(s, where, "Attribute is not an array");
    } else {
        json_array_foreach(attrs, i, a) {
            const char *au = jstr(a, "uuid");
            snprintf(where, sizeof where, "%sAttribute[%zu]%s%.40s%s", prefix, i, au ? " (" : "",
                     au ? au : "", au ? ")" : "");
            if ((rc = load_attr(s, a, &em, where)))
                goto out;
        }
    }
    if (json_is_array(objs)) {
        json_array_foreach(objs, i, o) {
            json_t *oa = json_object_get(o, "Attribute");
            json_array_foreach(oa, j, a) {
                snprintf(where, sizeof where, "%sObject[%zu].Attribute[%zu]", prefix, i, j);
                if ((rc = load_attr(s, a, &em, where)))
                    goto out;
            }
        }
    }
out:
    kb_buf_release(&em.tags);
    return rc;
}

int kb_intel_load_misp(kb_intel_sink *s, const char *buf, size_t len, const char **err)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, 0, &je), *ev, *resp;
    int rc = KB_OK;
    if (!root) {
        kb_buf_clear(&s->tmp);
        kb_buf_printf(&s->tmp, "line %d: invalid JSON: %s", je.line, je.text);
        *err = s->tmp.data;
        return KB_EFORMAT;
    }
    if ((ev = json_object_get(root, "Event")) && json_is_object(ev)) {
        rc = load_event(s, ev, "Event.");
    } else if ((resp = json_object_get(root, "response")) && json_is_array(resp)) {
        size_t i;
        json_t *r;
        char prefix[64];
        json_array_foreach(resp, i, r) {
            snprintf(prefix, sizeof prefix, "response[%zu].Event.", i);
            if ((ev = json_object_get(r, "Event")) && json_is_object(ev) &&
                (rc = load_event(s, ev, prefix)))
                break;
        }
    } else if (json_is_object(root) &&
               (json_object_get(root, "Attribute") || json_object_get(root, "Object"))) {
        rc = load_event(s, root, "");
    } else {
        *err = "not a MISP event: no \"Event\", \"response\" or \"Attribute\" key";
        rc = KB_EFORMAT;
    }
    json_decref(root);
    return rc;
}

static int is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : kb_intel_hexval(s[i]) < 0)
            return 0;
    return 1;
}

int kb_intel_load_misp_dir(kb_intel_sink *s, const char *dir, const char **err)
{
    kb_buf path, body;
    json_error_t je;
    json_t *man = NULL, *v;
    const char *key;
    int rc = KB_OK;
    kb_buf_init(&path, 4096);
    kb_buf_init(&body, (size_t)256 << 20);
    kb_buf_printf(&path, "%s/manifest.json", dir);
    man = json_load_file(path.data, 0, &je);
    if (!man || !json_is_object(man)) {
        *err = "not a MISP feed: manifest.json missing or not a JSON object";
        rc = KB_EFORMAT;
        goto out;
    }
    json_object_foreach(man, key, v) {
        const char *e2 = NULL;
        FILE *f;
        size_t n;
        char buf[65536];
        if (!is_uuid(key, strlen(key))) {
            kb_intel_sink_reject(s, "manifest.json", "key is not an event UUID");
            continue;
        }
        kb_buf_clear(&path);
        kb_buf_printf(&path, "%s/%s.json", dir, key);
        if (!(f = fopen(path.data, "rb"))) {
            kb_intel_sink_reject(s, path.data, "event file listed in manifest.json is missing");
            continue;
        }
        kb_buf_clear(&body);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0 && kb_buf_append(&body, buf, n) == KB_OK)
            ;
        fclose(f);
        rc = kb_intel_load_misp(s, body.data, body.len, &e2);
        if (rc == KB_EFORMAT) {
            kb_intel_sink_reject(s, path.data, e2);
            rc = KB_OK;
        }
        if (rc)
            break;
    }
    /* hashes.csv (md5,event_uuid per the feed format) is only a cache:
     * check its layout and say so when it is wrong */
    kb_buf_clear(&path);
    kb_buf_printf(&path, "%s/hashes.csv", dir);
    {
        FILE *f = fopen(path.data, "rb");
        char line[256];
        if (f) {
            if (fgets(line, sizeof line, f)) {
                char *comma = strchr(line, ',');
                if (comma && is_uuid(line, (size_t)(comma - line)))
                    kb_intel_sink_reject(s, path.data,
                                         "columns reversed: event_uuid,md5 where the MISP feed "
                                         "format has md5,event_uuid (file ignored)");
            }
            fclose(f);
        }
    }
out:
    json_decref(man);
    kb_buf_release(&path);
    kb_buf_release(&body);
    return rc;
}
