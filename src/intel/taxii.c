/* TAXII 2.1 collection pulls and plain URL fetches (libcurl). */
#include <curl/curl.h>
#include <jansson.h>
#include <string.h>

#include "intel/intel-int.h"

#define MAX_BODY ((size_t)256 << 20)
#define MAX_PAGES 10000

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    return kb_buf_append(ud, p, sz * n) == KB_OK ? sz * n : 0;
}

typedef struct hdrs {
    char added_last[64];
    char ctype[128]; /* Content-Type of the answer */
} hdrs;

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    static const char name[] = "x-taxii-date-added-last:";
    size_t len = sz * n;
    hdrs *h = ud;
    if (len > sizeof name - 1 && kb_str_ieqz(p, sizeof name - 1, name)) {
        const char *v = p + sizeof name - 1;
        size_t vl = len - (sizeof name - 1);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof h->added_last) {
            memcpy(h->added_last, v, vl);
            h->added_last[vl] = 0;
        }
    }
    return len;
}

static int get(const char *url, const char *accept, const char *user, const char *pw,
               kb_buf *b, hdrs *h, char *err, size_t errsize)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    long code = 0;
    int rc = KB_OK;
    char hb[160];
    if (!c) {
        snprintf(err, errsize, "curl: cannot initialise");
        return KB_ENOMEM;
    }
    kb_buf_clear(b);
    if (accept) {
        snprintf(hb, sizeof hb, "Accept: %s", accept);
        hl = curl_slist_append(hl, hb);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    if (h) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    }
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "koban/" KOBAN_VERSION);
    if (user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pw ? pw : "");
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errsize, "%s: %s", url, curl_easy_strerror(cc));
        rc = KB_EIO;
    } else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 300) {
        snprintf(err, errsize, "%s: HTTP status %ld", url, code);
        rc = KB_EIO;
    } else if (h) {
        char *ct = NULL;
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            snprintf(h->ctype, sizeof h->ctype, "%s", ct);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}

int kb_intel_fetch(const char *url, kb_buf *b, char *err, size_t errsize)
{
    return get(url, NULL, NULL, NULL, b, NULL, err, errsize);
}

/* Appends a query parameter with its value URL-escaped. */
static int add_param(kb_buf *u, const char *name, const char *val)
{
    CURL *c = curl_easy_init();
    char *e = c ? curl_easy_escape(c, val, 0) : NULL;
    int rc = e ? kb_buf_printf(u, "%c%s=%s", strchr(u->data, '?') ? '&' : '?', name, e)
               : KB_ENOMEM;
    curl_free(e);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

int kb_intel_taxii_pull(kb_intel_sink *s, const char *url, const char *added_after,
                        const char *user, const char *password, char **last_added, char *err,
                        size_t errsize)
{
    kb_buf u, body;
    char next[512] = "";
    int rc = KB_OK;
    hdrs h;
    char newest[64] = "";
    *last_added = NULL;
    kb_buf_init(&u, 8192);
    kb_buf_init(&body, MAX_BODY);
    for (int page = 0; page < MAX_PAGES; page++) {
        json_error_t je;
        json_t *env, *more;
        const char *e2 = NULL;
        kb_buf_clear(&u);
        kb_buf_puts(&u, url);
        if (u.len && u.data[u.len - 1] != '/')
            kb_buf_putc(&u, '/');
        kb_buf_puts(&u, "objects/");
        if (added_after && *added_after)
            add_param(&u, "added_after", added_after);
        if (next[0])
            add_param(&u, "next", next);
        memset(&h, 0, sizeof h);
        if ((rc = get(u.data, "application/taxii+json;version=2.1", user, password, &body, &h,
                      err, errsize)))
            break;
        if (!kb_memmem(h.ctype, strlen(h.ctype), "json", 4)) {
            snprintf(err, errsize, "%s: not a TAXII 2.1 answer (Content-Type '%s')", u.data,
                     h.ctype);
            rc = KB_EFORMAT;
            break;
        }
        if (!(env = json_loadb(body.data, body.len, 0, &je))) {
            snprintf(err, errsize, "%s: line %d: invalid JSON: %s", u.data, je.line, je.text);
            rc = KB_EFORMAT;
            break;
        }
        if (h.added_last[0] && strcmp(h.added_last, newest) > 0)
            snprintf(newest, sizeof newest, "%s", h.added_last);
        more = json_object_get(env, "more");
        const char *nx = json_string_value(json_object_get(env, "next"));
        /* a server that repeats its `next` would loop: stop there */
        int again = json_is_true(more) && nx && strlen(nx) < sizeof next && strcmp(nx, next);
        if (again)
            snprintf(next, sizeof next, "%s", nx);
        if (json_object_get(env, "objects")) {
            rc = kb_intel_load_stix(s, body.data, body.len, &e2);
            if (rc == KB_EFORMAT) {
                snprintf(err, errsize, "%s: %s", u.data, e2);
            }
        }
        json_decref(env);
        if (rc || !again)
            break;
    }
    if (rc == KB_OK && newest[0])
        *last_added = kb_strdup(newest);
    kb_buf_release(&u);
    kb_buf_release(&body);
    return rc;
}
