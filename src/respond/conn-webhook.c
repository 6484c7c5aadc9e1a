/* The HTTP webhook connector (libcurl): method, URL (a template, values
 * URL-encoded), headers whose secrets come from ${env:NAME} or
 * ${file:PATH} and are masked in every log, a JSON body template (values as
 * JSON strings), retries with exponential backoff on connection errors,
 * timeouts and 5xx answers, and an Idempotency-Key header so a retried or
 * resumed request is applied once by the receiver. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "respond/respond-int.h"

/* Expands ${env:NAME} and ${file:PATH} in a header value; the expanded
 * secrets are added to secrets[] for masking. */
static int expand_secret(const char *v, kb_buf *out, char **secrets, size_t *ns)
{
    const char *p = v;
    while (*p) {
        const char *s = strstr(p, "${");
        if (!s) {
            kb_buf_puts(out, p);
            break;
        }
        kb_buf_append(out, p, (size_t)(s - p));
        const char *e = strchr(s, '}');
        if (!e)
            return -1;
        char ref[512];
        size_t rl = (size_t)(e - s - 2);
        if (rl >= sizeof ref)
            return -1;
        memcpy(ref, s + 2, rl);
        ref[rl] = 0;
        char *val = NULL;
        if (strncmp(ref, "env:", 4) == 0) {
            const char *ev = getenv(ref + 4);
            val = ev ? kb_strdup(ev) : NULL;
        } else if (strncmp(ref, "file:", 5) == 0) {
            FILE *f = fopen(ref + 5, "rb");
            char buf[4096];
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f)
                fclose(f);
            while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
            val = f ? kb_strndup(buf, n) : NULL;
        }
        if (!val)
            return -1;
        for (char *c = val; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = ' '; /* no header splitting through a secret */
        kb_buf_puts(out, val);
        if (*ns >= 15) { /* every secret must be masked: refuse more than we track */
            kb_free(val);
            return -1;
        }
        secrets[(*ns)++] = val;
        p = e + 1;
    }
    return 0;
}

static size_t wh_write(char *p, size_t sz, size_t n, void *ud)
{
    kb_buf_append(ud, p, sz * n);
    return sz * n;
}

int kb_resp_http(const char *method, const char *url, json_t *headers, const char *body,
                 const char *idem_key, int retries, long timeout_s, kb_buf *audit,
                 kb_buf *result, const char **err);
int kb_resp_http(const char *method, const char *url, json_t *headers, const char *body,
                 const char *idem_key, int retries, long timeout_s, kb_buf *audit,
                 kb_buf *result, const char **err)
{
    char *secrets[16] = {0};
    size_t ns = 0;
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    kb_buf h, u;
    int rc = KB_EIO;
    long status = 0;

    kb_buf_init(&h, 65536);
    kb_buf_init(&u, 65536);
    if (!c) {
        *err = "webhook: curl init failed";
        goto out;
    }
    /* a URL may carry a secret too (Slack and Teams webhook URLs do) */
    if (expand_secret(url, &u, secrets, &ns) || !u.data) {
        *err = "webhook: a URL secret (${env:..} / ${file:..}) is unavailable";
        rc = KB_EINVAL;
        goto out;
    }
    url = u.data;
    kb_buf_printf(audit, "%s %s", method, url);
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) {
        if (!json_is_string(v) || strpbrk(k, "\r\n:"))
            continue;
        kb_buf_clear(&h);
        kb_buf_printf(&h, "%s: ", k);
        if (expand_secret(json_string_value(v), &h, secrets, &ns)) {
            *err = "webhook: a header secret (${env:..} / ${file:..}) is unavailable";
            rc = KB_EINVAL;
            goto out;
        }
        hl = curl_slist_append(hl, h.data);
        kb_buf_printf(audit, "; %s", h.data);
    }
    if (body) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        kb_buf_printf(audit, "; body %s", body);
    }
    if (idem_key) {
        kb_buf_clear(&h);
        kb_buf_printf(&h, "Idempotency-Key: %s", idem_key);
        hl = curl_slist_append(hl, h.data);
        kb_buf_printf(audit, "; %s", h.data);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wh_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, result);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    for (int attempt = 0; attempt <= retries; attempt++) {
        kb_buf_clear(result);
        CURLcode cc = curl_easy_perform(c);
        status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status >= 200 && status < 300) {
            rc = KB_OK;
            kb_buf_printf(audit, "; HTTP %ld after %d attempt(s)", status, attempt + 1);
            break;
        }
        if (cc == CURLE_OK && status >= 400 && status < 500 && status != 429) {
            *err = "webhook: the receiver refused the request (4xx)";
            kb_buf_printf(audit, "; HTTP %ld (not retried)", status);
            rc = KB_EINVAL;
            break;
        }
        *err = cc != CURLE_OK ? (cc == CURLE_OPERATION_TIMEDOUT ? "webhook: timed out"
                                                                : "webhook: connection failed")
                              : "webhook: the receiver failed (5xx)";
        kb_buf_printf(audit, "; attempt %d: %s", attempt + 1,
                      cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
        if (cc == CURLE_OK)
            kb_buf_printf(audit, " %ld", status);
        if (attempt < retries) {
            struct timespec ts = {0, 100000000L << (attempt < 3 ? attempt : 3)};
            nanosleep(&ts, NULL);
        }
    }
out:
    {
        const char *sec[17] = {0};
        for (size_t i = 0; i < ns; i++)
            sec[i] = secrets[i];
        kb_resp_mask(audit, sec);
        kb_resp_mask(result, sec);
    }
    for (size_t i = 0; i < ns; i++)
        kb_free(secrets[i]);
    curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    kb_buf_release(&h);
    kb_buf_release(&u);
    return rc;
}

static int wh_run(const kb_resp_request *rq, kb_buf *audit, kb_buf *result, const char **err)
{
    json_t *cfg = json_loads(rq->config, 0, NULL);
    int rb = strcmp(rq->verb, "rollback") == 0;
    const char *url = json_string_value(json_object_get(cfg, rb ? "rollback_url" : "url"));
    const char *body = json_string_value(json_object_get(cfg, rb ? "rollback_body" : "body"));
    const char *method = json_string_value(json_object_get(cfg, rb ? "rollback_method"
                                                                    : "method"));
    json_t *r = json_object_get(cfg, "retries"), *t = json_object_get(cfg, "timeout");
    kb_buf u, b, key;
    int rc = KB_EINVAL;

    kb_buf_init(&u, 16384);
    kb_buf_init(&b, 1u << 20);
    kb_buf_init(&key, 512);
    if (!url) {
        *err = rb ? "webhook: no rollback_url configured" : "webhook: config needs a url";
        goto out;
    }
    if (kb_tmpl_render(url, strlen(url), KB_ESC_URL, kb_resp_request_lookup, (void *)rq, &u, err))
        goto out;
    if (body && kb_tmpl_render(body, strlen(body), KB_ESC_JSON, kb_resp_request_lookup, (void *)rq,
                               &b, err))
        goto out;
    kb_buf_printf(&key, "%s:%s", rq->idem_key, rq->verb);
    rc = kb_resp_http(method ? method : "POST", u.data, json_object_get(cfg, "headers"),
                      body ? (b.data ? b.data : "") : NULL, key.data,
                      json_is_integer(r) ? (int)json_integer_value(r) : 3,
                      json_is_integer(t) ? (long)json_integer_value(t) : 10, audit, result, err);
    if (rc == KB_EINVAL && !*err)
        *err = "webhook failed";
    if (rc == KB_EINVAL)
        rc = KB_EINVAL; /* 4xx: not retried by the action layer either */
out:
    kb_buf_release(&u);
    kb_buf_release(&b);
    kb_buf_release(&key);
    json_decref(cfg);
    return rc;
}

const kb_resp_connector kb_conn_webhook = {"webhook", "an HTTP request (EDR, firewall manager,"
                                                      " ticketing)", wh_run};
