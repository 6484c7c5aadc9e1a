/* Notifications: webhook bodies for Slack / Mattermost ({"text": ...}) and
 * Teams (MessageCard), e-mail over SMTP (libcurl, STARTTLS when asked),
 * CEF lines to another SIEM over UDP syslog; routing by severity and
 * incident type; one thread per incident: the first message announces it,
 * later ones are marked as updates with a running count. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "respond/respond-int.h"
#include "store/store.h"

int kb_resp_http(const char *method, const char *url, json_t *headers, const char *body,
                 const char *idem_key, int retries, long timeout_s, kb_buf *audit,
                 kb_buf *result, const char **err);

static void text_of(const kb_notify_msg *m, kb_buf *t)
{
    /* one thread per incident: later messages say which update they are */
    if (m->update && m->updates > 0)
        kb_buf_printf(t, "Update %lld: ", (long long)m->updates);
    else if (m->update)
        kb_buf_puts(t, "Update: ");
    kb_buf_printf(t, "[koban] %s incident #%lld: %s", m->severity ? m->severity : "?",
                  (long long)m->incident_id, m->title ? m->title : "");
    if (m->type)
        kb_buf_printf(t, " (%s)", m->type);
    if (m->text && *m->text)
        kb_buf_printf(t, "\n%s", m->text);
}

int kb_notify_body(const char *style, const kb_notify_msg *m, kb_buf *out)
{
    kb_buf t;
    json_t *o;
    char *s;
    kb_buf_init(&t, 65536);
    text_of(m, &t);
    if (strcmp(style, "teams") == 0)
        o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "@type", "MessageCard", "@context",
                      "https://schema.org/extensions", "summary", t.data, "title",
                      m->title ? m->title : "koban incident", "text", t.data);
    else
        o = json_pack("{s:s}", "text", t.data); /* Slack and Mattermost */
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        kb_buf_puts(out, s);
    free(s);
    json_decref(o);
    kb_buf_release(&t);
    return s ? KB_OK : KB_ENOMEM;
}

static void cef_esc(kb_buf *b, const char *s, int header)
{
    for (; s && *s; s++) {
        if (*s == '\\' || (header && *s == '|') || (!header && *s == '='))
            kb_buf_putc(b, '\\');
        if (*s == '\n' || *s == '\r')
            kb_buf_puts(b, header ? " " : "\\n");
        else
            kb_buf_putc(b, *s);
    }
}

int kb_notify_cef(const kb_notify_msg *m, kb_buf *out)
{
    static const char *const sev[] = {"low", "medium", "high", "critical"};
    static const int num[] = {3, 5, 8, 10};
    int n = 5;
    for (int i = 0; i < 4; i++)
        if (m->severity && strcmp(m->severity, sev[i]) == 0)
            n = num[i];
    kb_buf_puts(out, "CEF:0|koban|koban|" KOBAN_VERSION "|");
    cef_esc(out, m->type ? m->type : "incident", 1);
    kb_buf_putc(out, '|');
    cef_esc(out, m->title ? m->title : "", 1);
    kb_buf_printf(out, "|%d|externalId=%lld msg=", n, (long long)m->incident_id);
    cef_esc(out, m->text ? m->text : "", 0);
    kb_buf_printf(out, " cs1Label=update cs1=%d", m->update);
    return KB_OK;
}

static size_t smtp_read(char *buf, size_t sz, size_t n, void *ud)
{
    kb_str *s = ud;
    size_t k = sz * n < s->len ? sz * n : s->len;
    memcpy(buf, s->p, k);
    s->p += k, s->len -= k;
    return k;
}

static int send_mail(json_t *ch, const kb_notify_msg *m, kb_buf *diag)
{
    const char *url = json_string_value(json_object_get(ch, "url"));
    const char *from = json_string_value(json_object_get(ch, "from"));
    json_t *to = json_object_get(ch, "to");
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    kb_buf msg, t;
    int rc = -1;
    kb_buf_init(&msg, 1u << 20);
    kb_buf_init(&t, 65536);
    if (!c || !url || !from || !json_array_size(to))
        goto out;
    text_of(m, &t);
    kb_buf_printf(&msg, "From: <%s>\r\nTo: ", from);
    for (size_t i = 0; i < json_array_size(to); i++) {
        const char *a = json_string_value(json_array_get(to, i));
        if (!a || strpbrk(a, "\r\n<>"))
            continue;
        rcpt = curl_slist_append(rcpt, a);
        kb_buf_printf(&msg, "%s<%s>", i ? ", " : "", a);
    }
    kb_buf_printf(&msg, "\r\nSubject: %s[koban] %s incident #%lld: ", m->update ? "Re: " : "",
                  m->severity ? m->severity : "", (long long)m->incident_id);
    /* the title is the incident's (attacker-influenced): one header line */
    for (const char *p = m->title ? m->title : ""; *p && p - m->title < 200; p++)
        kb_buf_putc(&msg, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
    kb_buf_puts(&msg, "\r\n");
    if (m->update)
        kb_buf_printf(&msg, "Message-ID: <incident-%lld-update-%lld@koban>\r\n",
                      (long long)m->incident_id, (long long)m->updates);
    else
        kb_buf_printf(&msg, "Message-ID: <incident-%lld-first@koban>\r\n",
                      (long long)m->incident_id);
    if (m->update)
        kb_buf_printf(&msg, "In-Reply-To: <incident-%lld-first@koban>\r\n",
                      (long long)m->incident_id);
    kb_buf_puts(&msg, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    for (const char *p = t.data; p && *p; p++) {
        if (*p == '\n')
            kb_buf_puts(&msg, "\r\n");
        else if (*p != '\r')
            kb_buf_putc(&msg, *p);
    }
    kb_buf_puts(&msg, "\r\n");
    kb_str body = {msg.data, msg.len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &body);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (json_is_true(json_object_get(ch, "starttls")))
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    /* the company's own CA for its mail relay; the peer is always verified */
    if (json_string_value(json_object_get(ch, "ca_file")))
        curl_easy_setopt(c, CURLOPT_CAINFO, json_string_value(json_object_get(ch, "ca_file")));
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        rc = 0;
    else
        kb_buf_printf(diag, "e-mail: %s; ", curl_easy_strerror(cc));
out:
    curl_slist_free_all(rcpt);
    if (c)
        curl_easy_cleanup(c);
    kb_buf_release(&msg);
    kb_buf_release(&t);
    return rc;
}

static int send_syslog(json_t *ch, const kb_notify_msg *m, kb_buf *diag)
{
    const char *host = json_string_value(json_object_get(ch, "host"));
    json_t *pj = json_object_get(ch, "port");
    char port[16];
    struct addrinfo hints = {0}, *ai = NULL;
    kb_buf line;
    int rc = -1, fd;
    snprintf(port, sizeof port, "%lld", json_is_integer(pj) ? (long long)json_integer_value(pj)
                                                            : 514LL);
    hints.ai_socktype = SOCK_DGRAM;
    if (!host || getaddrinfo(host, port, &hints, &ai)) {
        kb_buf_puts(diag, "syslog: bad host; ");
        return -1;
    }
    kb_buf_init(&line, 65536);
    kb_buf_puts(&line, "<116>1 - koban koban - - - ");
    kb_notify_cef(m, &line);
    fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && sendto(fd, line.data, line.len, 0, ai->ai_addr, ai->ai_addrlen) ==
                       (ssize_t)line.len)
        rc = 0;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    kb_buf_release(&line);
    return rc;
}

static int routed(json_t *ch, const kb_notify_msg *m)
{
    static const char *const order[] = {"low", "medium", "high", "critical"};
    const char *min = json_string_value(json_object_get(ch, "min_severity"));
    json_t *types = json_object_get(ch, "types");
    int ms = 1, s = 1;
    for (int i = 0; i < 4; i++) {
        if (min && strcmp(min, order[i]) == 0)
            ms = i;
        if (m->severity && strcmp(m->severity, order[i]) == 0)
            s = i;
    }
    if (s < ms)
        return 0;
    if (json_array_size(types)) {
        for (size_t i = 0; i < json_array_size(types); i++)
            if (m->type && json_string_value(json_array_get(types, i)) &&
                strcmp(json_string_value(json_array_get(types, i)), m->type) == 0)
                return 1;
        return 0;
    }
    return 1;
}

int kb_notify_send(struct kb_store *st, const char *config_json, const kb_notify_msg *m0,
                   kb_buf *diag)
{
    json_t *cfg = json_loads(config_json, 0, NULL);
    json_t *chans = json_object_get(cfg, "notify");
    kb_notify_msg m = *m0;
    int sent = 0;
    if (!json_is_array(chans)) {
        json_decref(cfg);
        return 0;
    }
    /* one thread per incident */
    if (st && m.incident_id) {
        kb_sval p = KB_SV_INTV(m.incident_id);
        int64_t n = kb_store_scalar(st, "SELECT updates FROM resp_notify WHERE incident_id = ?",
                                    &p, 1, -1);
        m.update = n >= 0;
        m.updates = n >= 0 ? n + 1 : 0;
        kb_sval q[3] = {KB_SV_INTV(m.incident_id), KB_SV_INTV(kb_time_now()),
                        KB_SV_INTV(kb_time_now())};
        if (n < 0)
            kb_store_exec(st, "INSERT INTO resp_notify (incident_id, first_ts, updates, last_ts)"
                              " VALUES (?, ?, 0, ?)", q, 3, NULL, NULL);
        else
            kb_store_exec(st, "UPDATE resp_notify SET updates = updates + 1, last_ts = ?"
                              " WHERE incident_id = ?", (kb_sval[]){q[1], q[0]}, 2, NULL,
                          NULL);
    }
    for (size_t i = 0; i < json_array_size(chans); i++) {
        json_t *ch = json_array_get(chans, i);
        const char *type = json_string_value(json_object_get(ch, "type"));
        if (!type || !routed(ch, &m))
            continue;
        if (strcmp(type, "email") == 0) {
            sent += send_mail(ch, &m, diag) == 0;
        } else if (strcmp(type, "syslog") == 0) {
            sent += send_syslog(ch, &m, diag) == 0;
        } else {
            const char *url = json_string_value(json_object_get(ch, "url"));
            kb_buf body, audit, res;
            const char *e = NULL;
            char key[64];
            kb_buf_init(&body, 1u << 20);
            kb_buf_init(&audit, 1u << 20);
            kb_buf_init(&res, 1u << 20);
            kb_notify_body(type, &m, &body);
            snprintf(key, sizeof key, "notify-%lld-%zu", (long long)m.incident_id,
                     (size_t)kb_time_now());
            if (url && kb_resp_http("POST", url, json_object_get(ch, "headers"), body.data, key,
                                    2, 10, &audit, &res, &e) == KB_OK)
                sent++;
            else
                kb_buf_printf(diag, "%s: %s; ", type, e ? e : "no url");
            kb_buf_release(&body);
            kb_buf_release(&audit);
            kb_buf_release(&res);
        }
    }
    json_decref(cfg);
    return sent;
}
