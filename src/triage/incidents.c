/* Alerts in, incidents out. Each alert is classified once per distinct rule
 * (types and signals from the policy, cached), resolved to assets (by host
 * name, by address at the alert's time), and added to the open group of its
 * entity; a group closes when its entity is quiet for the policy's window.
 * Finished groups get their type (confirmed where the type needs it), are
 * merged across hosts where the type spreads by rule, enriched with the
 * vulnerability check of the CVEs they name, and given a severity by the
 * policy with every input and policy line written down. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/json.h"
#include "store/store.h"
#include "triage/triage-policy.h"

#define MAX_ALERTS 50000000u
#define SET_CAP 256     /* hosts, assets per incident */
#define SMALL_CAP 16    /* users, sources, cves, addresses */
#define RULE_CAP 64

/* ---- the alert list with interned strings -------------------------------- */

typedef struct ialert {
    kb_triage_alert a;
    uint32_t cls; /* classification cache slot */
} ialert;

struct kb_triage_alerts {
    kb_arena *arena;
    ialert *v;
    size_t n, cap;
    const char **slots; /* interned strings */
    size_t nslots, nused;
};

kb_triage_alerts *kb_triage_alerts_new(void)
{
    kb_triage_alerts *al = kb_calloc(1, sizeof *al);
    if (!al || !(al->arena = kb_arena_new(1 << 20, (size_t)8 << 30)) ||
        !(al->slots = kb_calloc(al->nslots = 4096, sizeof *al->slots))) {
        if (al)
            kb_arena_free(al->arena);
        kb_free(al);
        return NULL;
    }
    return al;
}

void kb_triage_alerts_free(kb_triage_alerts *al)
{
    if (!al)
        return;
    kb_arena_free(al->arena);
    kb_free(al->v);
    kb_free(al->slots);
    kb_free(al);
}

size_t kb_triage_alerts_count(const kb_triage_alerts *al)
{
    return al->n;
}

const kb_triage_alert *kb_triage_alerts_at(const kb_triage_alerts *al, size_t i)
{
    return i < al->n ? &al->v[i].a : NULL;
}

static const char *intern(kb_triage_alerts *al, const char *s, size_t n, int lower)
{
    char tmp[256];
    uint64_t h;
    size_t i;
    if (!s || !n)
        return NULL;
    if (lower && n < sizeof tmp) {
        for (i = 0; i < n; i++)
            tmp[i] = (char)tolower((unsigned char)s[i]);
        s = tmp;
    }
    if (al->nused * 2 >= al->nslots) {
        size_t nn = al->nslots * 2;
        const char **ns = kb_calloc(nn, sizeof *ns);
        if (!ns)
            return NULL;
        for (i = 0; i < al->nslots; i++)
            if (al->slots[i]) {
                size_t k = kb_hash(al->slots[i], strlen(al->slots[i])) & (nn - 1);
                while (ns[k])
                    k = (k + 1) & (nn - 1);
                ns[k] = al->slots[i];
            }
        kb_free(al->slots);
        al->slots = ns, al->nslots = nn;
    }
    h = kb_hash(s, n);
    for (i = h & (al->nslots - 1); al->slots[i]; i = (i + 1) & (al->nslots - 1))
        if (kb_str_eqz(s, n, al->slots[i]))
            return al->slots[i];
    char *d = kb_arena_strndup(al->arena, s, n);
    if (!d)
        return NULL;
    al->slots[i] = d;
    al->nused++;
    return d;
}

static const char *iz(kb_triage_alerts *al, const char *s, int lower)
{
    return s ? intern(al, s, strlen(s), lower) : NULL;
}

int kb_triage_alerts_add(kb_triage_alerts *al, const kb_triage_alert *a)
{
    ialert *x;
    if (al->n >= MAX_ALERTS)
        return KB_ELIMIT;
    if (al->n == al->cap && /* per alert: no call until full */
        kb_grow((void **)&al->v, &al->cap, al->n + 1, sizeof *al->v, 4096))
        return KB_ENOMEM;
    x = &al->v[al->n];
    x->a = *a;
    x->cls = 0;
    x->a.rule_id = iz(al, a->rule_id, 0);
    x->a.rule_name = iz(al, a->rule_name, 0);
    x->a.tags = iz(al, a->tags, 1);
    x->a.host = iz(al, a->host, 1);
    x->a.user = iz(al, a->user, 1);
    x->a.src_ip = iz(al, a->src_ip, 0);
    x->a.dst_ip = iz(al, a->dst_ip, 0);
    x->a.source = iz(al, a->source, 1);
    x->a.threat_type = iz(al, a->threat_type, 1);
    x->a.cves = iz(al, a->cves, 0);
    x->a.url = iz(al, a->url, 0);
    x->a.file_name = iz(al, a->file_name, 0);
    x->a.file_hash = iz(al, a->file_hash, 1);
    al->n++;
    return KB_OK;
}

/* ---- reading alerts ---------------------------------------------------------- */

static void cve_collect(void *ud, const char *cve, size_t n)
{
    kb_buf *b = ud;
    if (b->len > 512 || (b->data && kb_memmem(b->data, b->len, cve, n)))
        return;
    if (b->len)
        kb_buf_putc(b, ',');
    kb_buf_append(b, cve, n);
}

static const char *fstr(const kb_event *ev, const char *name, kb_buf *tmp)
{
    /* by id over the table: canonical names are not aliased by the flattener */
    kb_fid id = kb_names_lookup(ev->names, name, strlen(name));
    const kb_field *f = NULL;
    for (uint32_t i = 0; id != KB_FID_NONE && i < ev->nfields && !f; i++)
        if (ev->fields[i].name == id)
            f = &ev->fields[i];
    if (!f || f->type == KB_V_NULL || f->type == KB_V_ARRAY || f->type == KB_V_OBJECT || !f->len)
        return NULL;
    kb_buf_clear(tmp);
    kb_buf_append(tmp, f->val, f->len);
    return tmp->data;
}

const char *kb_triage_group_value(const char *group, const char *key, kb_buf *tmp)
{
    size_t kl = strlen(key);
    for (const char *p = group; p && *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > kl + 1 && memcmp(p, key, kl) == 0 && p[kl] == '=' &&
            !(n - kl - 1 == 6 && memcmp(p + kl + 1, "(none)", 6) == 0)) {
            kb_buf_clear(tmp);
            kb_buf_append(tmp, p + kl + 1, n - kl - 1);
            return tmp->data;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

int kb_triage_alerts_read_jsonl(kb_triage_alerts *al, const char *name, const char *p,
                                size_t len, kb_import_report *rep)
{
    kb_names *names = kb_names_new(1 << 16);
    kb_arena *ar = kb_arena_new(64 << 10, 64 << 20);
    kb_buf t[14], tags, cves;
    uint64_t line = 0;
    size_t i = 0;
    int rc = KB_OK;

    for (int k = 0; k < 14; k++)
        kb_buf_init(&t[k], 1 << 20);
    kb_buf_init(&tags, 1 << 16);
    kb_buf_init(&cves, 4096);
    if (!names || !ar) {
        rc = KB_ENOMEM;
        goto out;
    }
    while (i < len) {
        const char *nl = memchr(p + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - p) : len;
        kb_str ln = str_trim(p + i, e - i);
        kb_event ev;
        kb_json_error je = {0};
        kb_triage_alert a;
        const char *v;
        line++;
        i = e + 1;
        if (!ln.len)
            continue;
        rep->rows++;
        kb_arena_clear(ar);
        kb_event_init(&ev, names, ar);
        if (kb_json_flatten(&ev, ln.p, ln.len, NULL, &je)) {
            report_bad(rep, name, line, "%s", je.reason ? je.reason : "bad JSON");
            continue;
        }
        memset(&a, 0, sizeof a);
        a.ts = KB_TIME_NONE;
        a.confidence = -1;
        if (!(v = fstr(&ev, "@timestamp", &t[0])) || kb_time_parse_iso8601(v, strlen(v), &a.ts)) {
            report_bad(rep, name, line, "alert without a valid @timestamp");
            continue;
        }
        a.rule_id = fstr(&ev, "rule.id", &t[1]);
        a.rule_name = fstr(&ev, "rule.name", &t[2]);
        if (!a.rule_id && !a.rule_name) {
            report_bad(rep, name, line, "alert without rule.id or rule.name");
            continue;
        }
        a.level = 2;
        if ((v = fstr(&ev, "rule.level", &t[3])) && (a.level = kb_triage_level_find(v, strlen(v))) < 0) {
            report_bad(rep, name, line, "unknown rule.level '%s'", v);
            continue;
        }
        kb_buf_clear(&tags);
        kb_fid tid = kb_names_lookup(names, "rule.tags", 9);
        if (tid != KB_FID_NONE)
            for (uint32_t k = 0; k < ev.nfields; k++) {
                const kb_field *f = &ev.fields[k];
                if (f->name == tid && f->type == KB_V_STR) {
                    if (tags.len)
                        kb_buf_putc(&tags, ',');
                    kb_buf_append(&tags, f->val, f->len);
                }
            }
        a.tags = tags.len ? tags.data : NULL;
        if (!(a.host = fstr(&ev, "host.name", &t[4])))
            a.host = fstr(&ev, "event.host.name", &t[4]);
        if (!(a.user = fstr(&ev, "event.user.name", &t[5])))
            a.user = fstr(&ev, "user.name", &t[5]);
        if (!(a.src_ip = fstr(&ev, "event.source.ip", &t[6])))
            a.src_ip = fstr(&ev, "source.ip", &t[6]);
        if (!(a.dst_ip = fstr(&ev, "event.destination.ip", &t[7])))
            a.dst_ip = fstr(&ev, "destination.ip", &t[7]);
        kb_buf grp;
        kb_buf_init(&grp, 256);
        if ((v = fstr(&ev, "matched.correlation.group", &grp))) {
            /* a correlation alert: its group names the entity */
            if (!a.host)
                a.host = kb_triage_group_value(v, "host.name", &t[4]);
            if (!a.user)
                a.user = kb_triage_group_value(v, "user.name", &t[5]);
            if (!a.src_ip)
                a.src_ip = kb_triage_group_value(v, "source.ip", &t[6]);
            if (!a.dst_ip)
                a.dst_ip = kb_triage_group_value(v, "destination.ip", &t[7]);
        }
        kb_buf_release(&grp);
        if (!(a.source = fstr(&ev, "event.observer.product", &t[8])) &&
            !(a.source = fstr(&ev, "event.log.format", &t[8])))
            a.source = fstr(&ev, "observer.product", &t[8]);
        if (!(a.threat_type = fstr(&ev, "threat.indicator.type", &t[9])))
            a.threat_type = fstr(&ev, "threat_type", &t[9]);
        if (!(a.url = fstr(&ev, "event.url.full", &t[11])))
            a.url = fstr(&ev, "url.full", &t[11]);
        if (!(a.file_name = fstr(&ev, "event.file.name", &t[12])))
            a.file_name = fstr(&ev, "file.name", &t[12]);
        static const char *const hashes[] = {"event.file.hash.sha256", "file.hash.sha256",
                                             "event.file.hash.sha1",   "file.hash.sha1",
                                             "event.file.hash.md5",    "file.hash.md5"};
        for (size_t k = 0; k < 6 && !a.file_hash; k++)
            a.file_hash = fstr(&ev, hashes[k], &t[13]);
        if ((v = fstr(&ev, "threat.indicator.confidence", &t[10]))) {
            int64_t c;
            if (kb_parse_i64(v, strlen(v), &c) == KB_OK && c >= 0 && c <= 100)
                a.confidence = (int)c;
        }
        kb_buf_clear(&cves);
        if (a.rule_name)
            cve_scan(a.rule_name, strlen(a.rule_name), cve_collect, &cves);
        if (tags.len)
            cve_scan(tags.data, tags.len, cve_collect, &cves);
        for (uint32_t k = 0; k < ev.nfields; k++) {
            const kb_field *f = &ev.fields[k];
            size_t nlen;
            const char *fn = kb_names_str(names, f->name, &nlen);
            if (f->type == KB_V_STR && f->len >= 13 && nlen > 6 && memcmp(fn, "event.", 6) == 0)
                cve_scan(f->val, f->len, cve_collect, &cves);
        }
        a.cves = cves.len ? cves.data : NULL;
        if ((rc = kb_triage_alerts_add(al, &a)))
            goto out;
    }
out:
    for (int k = 0; k < 14; k++)
        kb_buf_release(&t[k]);
    kb_buf_release(&tags);
    kb_buf_release(&cves);
    kb_arena_free(ar);
    kb_names_free(names);
    return rc;
}

/* A field's value into a bounded buffer (NULL when absent or empty). */
static const char *fval(const kb_field *f, char *buf, size_t size)
{
    if (!f || f->type == KB_V_NULL || f->type == KB_V_ARRAY || f->type == KB_V_OBJECT || !f->len)
        return NULL;
    size_t n = f->len < size ? f->len : size - 1;
    memcpy(buf, f->val, n);
    buf[n] = 0;
    return buf;
}

static const kb_field *fnamed(const kb_event *ev, const char *name)
{
    kb_fid id = ev->names ? kb_names_lookup(ev->names, name, strlen(name)) : KB_FID_NONE;
    return id == KB_FID_NONE ? NULL : kb_event_get(ev, id);
}

int kb_triage_alerts_add_event(kb_triage_alerts *al, const char *rule_id, const char *rule_name,
                               int level, const char *const *tags, const kb_event *ev)
{
    char host[256], user[256], src[64], dst[64], sensor[128], threat[64], conf[16];
    char url[1024], fname[256], fhash[160];
    kb_triage_alert a;
    kb_buf tg, cves;
    int rc;

    memset(&a, 0, sizeof a);
    kb_buf_init(&tg, 1 << 16);
    kb_buf_init(&cves, 4096);
    a.ts = ev->ts;
    a.rule_id = rule_id;
    a.rule_name = rule_name;
    a.level = level < 0 ? 0 : level > 4 ? 4 : level;
    a.confidence = -1;
    for (size_t i = 0; tags && tags[i]; i++) {
        if (tg.len)
            kb_buf_putc(&tg, ',');
        kb_buf_puts(&tg, tags[i]);
    }
    a.tags = tg.len ? tg.data : NULL;
    a.host = fval(kb_event_canon(ev, KB_F_HOST_NAME), host, sizeof host);
    a.user = fval(kb_event_canon(ev, KB_F_USER_NAME), user, sizeof user);
    a.src_ip = fval(kb_event_canon(ev, KB_F_SOURCE_IP), src, sizeof src);
    a.dst_ip = fval(kb_event_canon(ev, KB_F_DESTINATION_IP), dst, sizeof dst);
    if (!(a.source = fval(kb_event_canon(ev, KB_F_OBSERVER_PRODUCT), sensor, sizeof sensor)) &&
        !(a.source = fval(fnamed(ev, "log.format"), sensor, sizeof sensor)))
        a.source = ev->format;
    a.threat_type = fval(fnamed(ev, "threat.indicator.type"), threat, sizeof threat);
    a.url = fval(kb_event_canon(ev, KB_F_URL_FULL), url, sizeof url);
    a.file_name = fval(kb_event_canon(ev, KB_F_FILE_NAME), fname, sizeof fname);
    if (!(a.file_hash = fval(kb_event_canon(ev, KB_F_FILE_HASH_SHA256), fhash, sizeof fhash)) &&
        !(a.file_hash = fval(kb_event_canon(ev, KB_F_FILE_HASH_SHA1), fhash, sizeof fhash)))
        a.file_hash = fval(kb_event_canon(ev, KB_F_FILE_HASH_MD5), fhash, sizeof fhash);
    const char *cv = fval(fnamed(ev, "threat.indicator.confidence"), conf, sizeof conf);
    int64_t c;
    if (cv && kb_parse_i64(cv, strlen(cv), &c) == KB_OK && c >= 0 && c <= 100)
        a.confidence = (int)c;
    if (rule_name)
        cve_scan(rule_name, strlen(rule_name), cve_collect, &cves);
    if (tg.len)
        cve_scan(tg.data, tg.len, cve_collect, &cves);
    for (uint32_t k = 0; k < ev->nfields; k++) {
        const kb_field *f = &ev->fields[k];
        if (f->type == KB_V_STR && f->len >= 13)
            cve_scan(f->val, f->len, cve_collect, &cves);
    }
    a.cves = cves.len ? cves.data : NULL;
    rc = kb_triage_alerts_add(al, &a);
    kb_buf_release(&tg);
    kb_buf_release(&cves);
    return rc;
}

int kb_triage_alerts_append(kb_triage_alerts *dst, const kb_triage_alerts *src)
{
    int rc = KB_OK;
    for (size_t i = 0; i < src->n && rc == KB_OK; i++)
        rc = kb_triage_alerts_add(dst, &src->v[i].a);
    return rc;
}

typedef struct sload {
    kb_triage_alerts *al;
    kb_buf s[16];
    int rc;
} sload;

static const char *col(const kb_sval *c, kb_buf *b)
{
    if (c->type != KB_SV_TEXT || !c->len)
        return NULL;
    kb_buf_clear(b);
    kb_buf_append(b, c->p, c->len);
    return b->data;
}

static int store_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    sload *l = ud;
    kb_triage_alert a;
    kb_buf cves;
    int rc;
    (void)names;
    if (ncol < 19)
        return KB_EIO;
    memset(&a, 0, sizeof a);
    a.ts = c[0].type == KB_SV_INT ? c[0].i : KB_TIME_NONE;
    a.rule_id = col(&c[1], &l->s[0]);
    a.rule_name = col(&c[2], &l->s[1]);
    const char *lv = col(&c[3], &l->s[2]);
    a.level = lv ? kb_triage_level_find(lv, strlen(lv)) : 2;
    if (a.level < 0)
        a.level = 2;
    a.tags = col(&c[4], &l->s[3]);
    a.host = col(&c[5], &l->s[4]);
    a.user = col(&c[6], &l->s[5]);
    a.src_ip = col(&c[7], &l->s[6]);
    a.dst_ip = col(&c[8], &l->s[7]);
    if (!(a.source = col(&c[9], &l->s[8])))
        a.source = col(&c[10], &l->s[8]);
    int64_t conf;
    if (kb_sval_int(&c[18], &conf))
        conf = -1;
    a.confidence = conf >= 0 && conf <= 100 ? (int)conf : -1;
    a.threat_type = col(&c[17], &l->s[9]);
    a.url = col(&c[12], &l->s[12]);
    a.file_name = col(&c[13], &l->s[13]);
    if (!(a.file_hash = col(&c[14], &l->s[14])) && !(a.file_hash = col(&c[15], &l->s[14])))
        a.file_hash = col(&c[16], &l->s[14]);
    kb_buf_init(&cves, 4096);
    if (a.rule_name)
        cve_scan(a.rule_name, strlen(a.rule_name), cve_collect, &cves);
    if (a.tags)
        cve_scan(a.tags, strlen(a.tags), cve_collect, &cves);
    if (c[11].type == KB_SV_TEXT)
        cve_scan(c[11].p, c[11].len, cve_collect, &cves);
    a.cves = cves.len ? cves.data : NULL;
    rc = kb_triage_alerts_add(l->al, &a);
    kb_buf_release(&cves);
    return rc;
}

int kb_triage_alerts_read_store(kb_triage_alerts *al, kb_store *st, int64_t since)
{
    sload l;
    kb_sval p[1] = {KB_SV_INTV(since == KB_TIME_NONE ? INT64_MIN + 1 : since)};
    int rc;
    memset(&l, 0, sizeof l);
    l.al = al;
    for (int k = 0; k < 16; k++)
        kb_buf_init(&l.s[k], 1 << 20);
    rc = kb_store_exec(st,
                       "SELECT a.ts, a.rule_id, a.title, a.level, a.tags, a.host, e.user_name,"
                       " e.source_ip, e.destination_ip, e.observer_product, e.format, e.message,"
                       " e.url_full, e.file_name, e.file_hash_sha256, e.file_hash_sha1,"
                       " e.file_hash_md5, a.threat, a.confidence FROM alerts a LEFT JOIN events e"
                       " ON e.id = a.event_id"
                       " WHERE a.ts >= ? ORDER BY a.ts",
                       p, 1, store_row, &l);
    for (int k = 0; k < 16; k++)
        kb_buf_release(&l.s[k]);
    return rc;
}

/* ---- classification ------------------------------------------------------------- */

typedef struct cls {
    const char *rule_id, *rule_name, *tags, *threat;
    int level;
    uint32_t types, signals;
} cls;

typedef struct clscache {
    cls *v;
    size_t n, cap; /* v[0] unused */
    uint32_t *slots;
    size_t nslots;
} clscache;

static int tag_in(const char *tags, const char *pat)
{
    size_t pl = strlen(pat);
    int prefix = pl && pat[pl - 1] == '*';
    if (prefix)
        pl--;
    for (const char *p = tags; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        kb_str t = str_trim(p, n);
        if (prefix ? (t.len >= pl && strncasecmp(t.p, pat, pl) == 0)
                   : (t.len == pl && strncasecmp(t.p, pat, pl) == 0))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int match(const matcher *m, const cls *c, uint32_t signals)
{
    if (m->min_level >= 0 && c->level < m->min_level)
        return 0;
    if (m->min_level >= 0 && !m->tags.n && !m->names.n && !m->threats.n && !m->rules.n &&
        !m->signals)
        return 1;
    if (m->signals & signals)
        return 1;
    for (size_t i = 0; i < m->tags.n; i++)
        if (c->tags && tag_in(c->tags, m->tags.v[i]))
            return 1;
    for (size_t i = 0; i < m->names.n; i++)
        if (c->rule_name && str_icontains(c->rule_name, strlen(c->rule_name), m->names.v[i]))
            return 1;
    for (size_t i = 0; i < m->threats.n; i++)
        if (c->threat && strcasecmp(c->threat, m->threats.v[i]) == 0)
            return 1;
    for (size_t i = 0; i < m->rules.n; i++)
        if (c->rule_id && strcmp(c->rule_id, m->rules.v[i]) == 0)
            return 1;
    return 0;
}

static uint32_t classify(const kb_triage_policy *pol, clscache *cc, const kb_triage_alert *a)
{
    uint64_t h = (uintptr_t)a->rule_id * 31 + (uintptr_t)a->rule_name * 17 +
                 (uintptr_t)a->tags * 7 + (uintptr_t)a->threat_type * 3 + (uint64_t)a->level;
    h ^= h >> 29;
    h *= 0x9e3779b97f4a7c15ULL;
    size_t s;
    if (cc->n * 2 + 2 >= cc->nslots) {
        size_t nn = cc->nslots ? cc->nslots * 2 : 1024;
        uint32_t *ns = kb_calloc(nn, sizeof *ns);
        if (!ns)
            return 0;
        kb_free(cc->slots);
        cc->slots = ns, cc->nslots = nn;
        for (size_t i = 1; i < cc->n; i++) {
            cls *c = &cc->v[i];
            uint64_t g = (uintptr_t)c->rule_id * 31 + (uintptr_t)c->rule_name * 17 +
                         (uintptr_t)c->tags * 7 + (uintptr_t)c->threat * 3 + (uint64_t)c->level;
            g ^= g >> 29;
            g *= 0x9e3779b97f4a7c15ULL;
            size_t k = g & (nn - 1);
            while (ns[k])
                k = (k + 1) & (nn - 1);
            ns[k] = (uint32_t)i;
        }
    }
    for (s = h & (cc->nslots - 1); cc->slots[s]; s = (s + 1) & (cc->nslots - 1)) {
        cls *c = &cc->v[cc->slots[s]];
        if (c->rule_id == a->rule_id && c->rule_name == a->rule_name && c->tags == a->tags &&
            c->threat == a->threat_type && c->level == a->level)
            return cc->slots[s];
    }
    if (cc->n == 0)
        cc->n = 1;
    if (kb_grow((void **)&cc->v, &cc->cap, cc->n + 1, sizeof *cc->v, 256))
        return 0;
    cls *c = &cc->v[cc->n];
    *c = (cls){a->rule_id, a->rule_name, a->tags, a->threat_type, a->level, 0, 0};
    for (size_t i = 0; i < pol->nsig; i++)
        if (match(&pol->sig[i].m, c, 0))
            c->signals |= 1u << i;
    for (size_t i = 0; i < pol->ntypes; i++)
        if (match(&pol->types[i].m, c, c->signals))
            c->types |= 1u << i;
    cc->slots[s] = (uint32_t)cc->n;
    return (uint32_t)cc->n++;
}

/* ---- groups ------------------------------------------------------------------------ */

typedef struct pset {
    const void **v;
    uint32_t n, cap, over;
} pset;

static int pset_add(kb_arena *ar, pset *s, const void *p, uint32_t limit)
{
    if (!p)
        return 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i] == p)
            return 0;
    if (s->n >= limit) {
        s->over++;
        return 0;
    }
    if (s->n == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 4;
        const void **nv = kb_arena_alloc(ar, nc * sizeof *nv);
        if (!nv)
            return KB_ENOMEM;
        if (s->n)
            memcpy(nv, s->v, s->n * sizeof *nv);
        s->v = nv, s->cap = nc;
    }
    s->v[s->n++] = p;
    return 1;
}

typedef struct rstat {
    const ialert *first;
    uint64_t count;
    int64_t first_ts, last_ts;
} rstat;

typedef struct cvet {
    const char *cve;
    const kb_asset *asset;
    const char *host, *ip;
} cvet;

typedef struct group {
    int gb;
    int kt; /* the type whose grouping made a source/user key, else -1 */
    const char *key;
    int64_t first, last;
    uint64_t count;
    uint32_t types, signals;
    int maxlevel, maxconf;
    rstat *rules;
    uint32_t nrules, caprules, rules_over;
    pset hosts, assets, users, sources, ext, unmanaged;
    pset srcs, dsts, urls, fnames, fhashes; /* observables for playbooks */
    cvet cv[SMALL_CAP];
    uint32_t ncv;
    int type;  /* chosen, -1 none */
    int dead;  /* merged into another */
    struct group *next; /* open-group chain */
} group;

typedef struct gslot {
    const char *key;
    int gb, kt;
    group *g;
} gslot;

typedef struct run {
    const kb_triage_policy *pol;
    kb_assets *assets;
    const kb_vulns *vulns;
    kb_arena *ar;
    clscache cc;
    group **groups;
    size_t ngroups, capgroups;
    gslot *open;
    size_t nopen, nslots;
    /* address cache: interned ip string -> parsed, internal */
    struct ipc {
        const char *s;
        kb_ip ip;
        int ok, internal;
    } *ipc, scratch[3];
    size_t nipc, nipc_used, nscratch;
} run;

static struct ipc *ip_of(run *r, const char *s)
{
    if (!s)
        return NULL;
    uint64_t h = ((uintptr_t)s >> 4) * 0x9e3779b97f4a7c15ULL;
    size_t k = (h >> 20) & (r->nipc - 1);
    while (r->ipc[k].s && r->ipc[k].s != s)
        k = (k + 1) & (r->nipc - 1);
    if (!r->ipc[k].s && r->nipc_used * 2 >= r->nipc) {
        /* the cache is full: parse without caching */
        struct ipc *x = &r->scratch[r->nscratch++ % 3];
        x->s = s;
        x->ok = kb_ip_parse(s, strlen(s), &x->ip) == KB_OK;
        x->internal = x->ok && kb_triage_policy_internal(r->pol, &x->ip);
        return x->ok ? x : NULL;
    }
    if (!r->ipc[k].s) {
        r->nipc_used++;
        r->ipc[k].s = s;
        r->ipc[k].ok = kb_ip_parse(s, strlen(s), &r->ipc[k].ip) == KB_OK;
        r->ipc[k].internal = r->ipc[k].ok && kb_triage_policy_internal(r->pol, &r->ipc[k].ip);
    }
    return r->ipc[k].ok ? &r->ipc[k] : NULL;
}

static uint64_t slot_hash(const char *key, int gb, int kt)
{
    return ((uintptr_t)key >> 3) * 0x9e3779b97f4a7c15ULL + (uint64_t)gb * 977 +
           (uint64_t)(kt + 1) * 131;
}

static group *open_group(run *r, int gb, int kt, const char *key, int64_t ts)
{
    uint64_t h = slot_hash(key, gb, kt);
    size_t k;
    if (r->nopen * 2 + 2 >= r->nslots) {
        size_t nn = r->nslots ? r->nslots * 2 : 4096;
        gslot *ns = kb_calloc(nn, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < r->nslots; i++)
            if (r->open[i].key) {
                uint64_t g = slot_hash(r->open[i].key, r->open[i].gb, r->open[i].kt);
                size_t j = (g >> 16) & (nn - 1);
                while (ns[j].key)
                    j = (j + 1) & (nn - 1);
                ns[j] = r->open[i];
            }
        kb_free(r->open);
        r->open = ns, r->nslots = nn;
    }
    for (k = (h >> 16) & (r->nslots - 1); r->open[k].key; k = (k + 1) & (r->nslots - 1))
        if (r->open[k].key == key && r->open[k].gb == gb && r->open[k].kt == kt)
            break;
    if (r->open[k].key && ts - r->open[k].g->last <= r->pol->window)
        return r->open[k].g;
    group *g = kb_arena_alloc(r->ar, sizeof *g);
    if (!g)
        return NULL;
    memset(g, 0, sizeof *g);
    g->gb = gb, g->kt = kt, g->key = key, g->first = g->last = ts, g->type = -1;
    g->maxconf = -1;
    if (!r->open[k].key)
        r->nopen++;
    r->open[k] = (gslot){key, gb, kt, g};
    if (kb_grow((void **)&r->groups, &r->capgroups, r->ngroups + 1, sizeof *r->groups, 1024))
        return NULL;
    r->groups[r->ngroups++] = g;
    return g;
}

static int add_rule(run *r, group *g, const ialert *x)
{
    for (uint32_t i = 0; i < g->nrules; i++) {
        const kb_triage_alert *f = &g->rules[i].first->a;
        if (f->rule_id == x->a.rule_id && f->rule_name == x->a.rule_name) {
            g->rules[i].count++;
            g->rules[i].last_ts = x->a.ts;
            return KB_OK;
        }
    }
    if (g->nrules >= RULE_CAP) {
        g->rules_over++;
        return KB_OK;
    }
    if (g->nrules == g->caprules) {
        uint32_t nc = g->caprules ? g->caprules * 2 : 4;
        rstat *nv = kb_arena_alloc(r->ar, nc * sizeof *nv);
        if (!nv)
            return KB_ENOMEM;
        if (g->nrules)
            memcpy(nv, g->rules, g->nrules * sizeof *nv);
        g->rules = nv, g->caprules = nc;
    }
    g->rules[g->nrules++] = (rstat){x, 1, x->a.ts, x->a.ts};
    return KB_OK;
}

static void add_cves(group *g, const char *cves, const kb_asset *as, const char *host,
                     const char *ip)
{
    char buf[32];
    for (const char *p = cves; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n < sizeof buf && g->ncv < SMALL_CAP) {
            memcpy(buf, p, n);
            buf[n] = 0;
            int dup = 0;
            for (uint32_t i = 0; i < g->ncv; i++)
                if (strcmp(g->cv[i].cve, buf) == 0 && g->cv[i].asset == as &&
                    g->cv[i].host == host)
                    dup = 1;
            if (!dup) {
                /* the cve text lives in the alerts' interned cves: point into it */
                g->cv[g->ncv++] = (cvet){p, as, host, ip};
            }
        }
        p = e ? e + 1 : NULL;
    }
}

/* Host-level identity of an alert's side: asset name when known. */
typedef struct side {
    const kb_asset *as;
    const char *name; /* asset name, or the alert's host string */
    struct ipc *ip;
} side;

static int absorb(run *r, group *g, const ialert *x, const cls *c, side *host, side *src,
                  side *dst)
{
    const kb_triage_alert *a = &x->a;
    int rc = 0;
    g->count++;
    g->last = a->ts;
    g->types |= c->types;
    g->signals |= c->signals;
    if (a->level > g->maxlevel)
        g->maxlevel = a->level;
    if (a->confidence > g->maxconf)
        g->maxconf = a->confidence;
    if ((rc = add_rule(r, g, x)))
        return rc;
    side *sides[3] = {host, src, dst};
    for (int i = 0; i < 3; i++) {
        side *s = sides[i];
        if (s->as)
            pset_add(r->ar, &g->assets, s->as, SET_CAP);
        /* the host name of a network alert (one with addresses) that is not
         * in the inventory is the sensor's, not an involved host */
        if (s->name && (s->as || (i == 0 && !src->ip && !dst->ip)))
            pset_add(r->ar, &g->hosts, s->name, SET_CAP);
        if (s->ip && !s->as && s->ip->internal)
            pset_add(r->ar, &g->unmanaged, s->ip->s, SMALL_CAP);
        if (s->ip && !s->ip->internal)
            pset_add(r->ar, &g->ext, s->ip->s, SMALL_CAP);
    }
    pset_add(r->ar, &g->users, a->user, SMALL_CAP);
    pset_add(r->ar, &g->sources, a->source, SMALL_CAP);
    pset_add(r->ar, &g->srcs, src->ip ? src->ip->s : NULL, SMALL_CAP);
    pset_add(r->ar, &g->dsts, dst->ip ? dst->ip->s : NULL, SMALL_CAP);
    pset_add(r->ar, &g->urls, a->url, SMALL_CAP);
    pset_add(r->ar, &g->fnames, a->file_name, SMALL_CAP);
    pset_add(r->ar, &g->fhashes, a->file_hash, SMALL_CAP);
    if (a->cves) {
        side *t = dst->as || (dst->ip && dst->ip->internal) ? dst : host;
        add_cves(g, a->cves, t->as, t->name, t->ip ? t->ip->s : NULL);
    }
    return KB_OK;
}

static void resolve(run *r, side *s, const char *name, const char *ip, int64_t ts)
{
    memset(s, 0, sizeof *s);
    s->ip = ip_of(r, ip);
    if (r->assets && name)
        s->as = kb_assets_by_name(r->assets, name, strlen(name));
    if (r->assets && !s->as && s->ip)
        s->as = kb_assets_by_ip(r->assets, &s->ip->ip, ts);
    s->name = s->as ? s->as->name : name;
}

/* ---- results ------------------------------------------------------------------------- */

struct kb_triage_result {
    kb_arena *ar;
    kb_incident *v;
    size_t n;
    kb_triage_stats stats;
};

void kb_triage_result_free(kb_triage_result *r)
{
    if (!r)
        return;
    kb_arena_free(r->ar);
    kb_free(r->v);
    kb_free(r);
}

const kb_triage_stats *kb_triage_result_stats(const kb_triage_result *r)
{
    return &r->stats;
}

size_t kb_triage_result_count(const kb_triage_result *r)
{
    return r->n;
}

const kb_incident *kb_triage_result_at(const kb_triage_result *r, size_t i)
{
    return i < r->n ? &r->v[i] : NULL;
}

static int cmp_ts(const void *x, const void *y)
{
    const ialert *a = x, *b = y;
    return a->a.ts < b->a.ts ? -1 : a->a.ts > b->a.ts;
}

static const char *cve_text(const cvet *c, char *buf, size_t size);

static void merge(run *r, group *into, group *g)
{
    into->count += g->count;
    if (g->first < into->first)
        into->first = g->first;
    if (g->last > into->last)
        into->last = g->last;
    into->types |= g->types;
    into->signals |= g->signals;
    if (g->maxlevel > into->maxlevel)
        into->maxlevel = g->maxlevel;
    if (g->maxconf > into->maxconf)
        into->maxconf = g->maxconf;
    for (uint32_t i = 0; i < g->nrules; i++) {
        uint32_t j;
        for (j = 0; j < into->nrules; j++)
            if (into->rules[j].first->a.rule_id == g->rules[i].first->a.rule_id &&
                into->rules[j].first->a.rule_name == g->rules[i].first->a.rule_name)
                break;
        if (j < into->nrules) {
            into->rules[j].count += g->rules[i].count;
            if (g->rules[i].last_ts > into->rules[j].last_ts)
                into->rules[j].last_ts = g->rules[i].last_ts;
        } else if (add_rule(r, into, g->rules[i].first) == KB_OK) {
            into->rules[into->nrules - 1] = g->rules[i];
        }
    }
    pset *from[11] = {&g->hosts, &g->assets, &g->users, &g->sources, &g->ext,    &g->unmanaged,
                      &g->srcs,  &g->dsts,   &g->urls,  &g->fnames,  &g->fhashes};
    pset *to[11] = {&into->hosts, &into->assets,    &into->users,  &into->sources,
                    &into->ext,   &into->unmanaged, &into->srcs,   &into->dsts,
                    &into->urls,  &into->fnames,    &into->fhashes};
    for (int k = 0; k < 11; k++)
        for (uint32_t i = 0; i < from[k]->n; i++)
            pset_add(r->ar, to[k], from[k]->v[i], k < 2 ? SET_CAP : SMALL_CAP);
    for (uint32_t i = 0; i < g->ncv && into->ncv < SMALL_CAP; i++) {
        cvet c = g->cv[i];
        char x[32], y[32];
        int dup = 0;
        /* a CVE named by an alert without a target (a web server's access
         * log names no host) concerns the host the attack was seen on */
        if (!c.asset && !c.host && !c.ip && into->gb == GB_HOST) {
            c.asset = r->assets ? kb_assets_by_name(r->assets, into->key, strlen(into->key))
                                : NULL;
            c.host = into->key;
        }
        for (uint32_t k = 0; k < into->ncv && !dup; k++)
            dup = into->cv[k].asset == c.asset && into->cv[k].host == c.host &&
                  strcmp(cve_text(&into->cv[k], x, sizeof x), cve_text(&c, y, sizeof y)) == 0;
        if (!dup)
            into->cv[into->ncv++] = c;
    }
    g->dead = 1;
}

/* Chooses the group's type: the highest-priority type among its alerts
 * whose detection condition holds. Returns 1 if some type needed a
 * confirmation that never came. */
static int choose_type(const kb_triage_policy *pol, group *g)
{
    int unconfirmed = 0;
    for (size_t t = 0; t < pol->ntypes; t++) {
        const ptype *pt = &pol->types[t];
        if (!(g->types & (1u << t)))
            continue;
        if (pt->confirmed && ((g->signals & pt->all) != pt->all ||
                              (pt->any && !(g->signals & pt->any)))) {
            unconfirmed = 1;
            continue;
        }
        g->type = (int)t;
        return 0;
    }
    return unconfirmed;
}

static const char *cve_text(const cvet *c, char *buf, size_t size)
{
    size_t n = strcspn(c->cve, ",");
    if (n >= size)
        n = size - 1;
    memcpy(buf, c->cve, n);
    buf[n] = 0;
    return buf;
}

static void jstr(kb_buf *b, const char *k, const char *v)
{
    kb_buf_printf(b, ",\"%s\":", k);
    if (v)
        kb_json_put_str(b, v, strlen(v));
    else
        kb_buf_puts(b, "null");
}

static void jts(kb_buf *b, const char *k, int64_t t)
{
    char ts[40];
    size_t n = kb_time_format(t, ts, sizeof ts);
    kb_buf_printf(b, ",\"%s\":", k);
    kb_json_put_str(b, ts, n);
}

/* One explanation line into the JSON array being written. */
static void xline(kb_buf *b, int *first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void xline(kb_buf *b, int *first, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (!*first)
        kb_buf_putc(b, ',');
    *first = 0;
    kb_json_put_str(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

typedef struct inputs {
    int crit;
    int vuln; /* V_* */
    size_t spread, sources;
} inputs;

static int cond_holds(const pcond *c, const group *g, const inputs *in, char *why, size_t wsz)
{
    switch (c->kind) {
    case C_TYPE:
        snprintf(why, wsz, "type is %s", "one of the listed");
        return g->type >= 0 && (c->mask & (1u << g->type));
    case C_SIGNALS:
        snprintf(why, wsz, "signals present");
        return (g->signals & c->mask) != 0;
    case C_SYSTEM_TYPE:
    case C_ASSET_TAGS:
        for (uint32_t i = 0; i < g->assets.n; i++) {
            const kb_asset *as = g->assets.v[i];
            for (size_t j = 0; j < c->list.n; j++)
                if (c->kind == C_SYSTEM_TYPE ? strcmp(as->type, c->list.v[j]) == 0
                                             : tag_in(as->tags, c->list.v[j])) {
                    snprintf(why, wsz, "%s %s on %s", c->text, c->list.v[j], as->name);
                    return 1;
                }
        }
        return 0;
    case C_VULN:
        return (c->mask & (1u << in->vuln)) != 0;
    case C_UNMANAGED:
        return (g->unmanaged.n > 0) == (c->num != 0);
    default: {
        int64_t v = c->kind == C_CRITICALITY  ? in->crit
                    : c->kind == C_SPREAD     ? (int64_t)in->spread
                    : c->kind == C_SOURCES    ? (int64_t)in->sources
                    : c->kind == C_LEVEL      ? g->maxlevel
                    : c->kind == C_CONFIDENCE ? g->maxconf
                                              : (int64_t)g->count;
        return policy_cmp(c->op, v, c->num);
    }
    }
}

static void cond_text(const kb_triage_policy *pol, const pcond *c, kb_buf *b)
{
    static const char *const lv[] = {"informational", "low", "medium", "high", "critical"};
    static const char *const vn[] = {"none", "unknown", "patched", "vulnerable"};
    kb_buf_puts(b, c->text);
    switch (c->kind) {
    case C_TYPE:
    case C_SIGNALS:
    case C_VULN:
        kb_buf_puts(b, " in [");
        for (uint32_t i = 0, k = 0; i < 32; i++)
            if (c->mask & (1u << i)) {
                kb_buf_puts(b, k++ ? ", " : "");
                kb_buf_puts(b, c->kind == C_TYPE      ? pol->types[i].name
                               : c->kind == C_SIGNALS ? pol->sig[i].name
                                                      : vn[i]);
            }
        kb_buf_putc(b, ']');
        break;
    case C_SYSTEM_TYPE:
    case C_ASSET_TAGS:
        kb_buf_puts(b, " in [");
        for (size_t i = 0; i < c->list.n; i++)
            kb_buf_printf(b, "%s%s", i ? ", " : "", c->list.v[i]);
        kb_buf_putc(b, ']');
        break;
    case C_UNMANAGED:
        kb_buf_puts(b, c->num ? " is true" : " is false");
        break;
    case C_LEVEL:
        kb_buf_printf(b, " %s %s", policy_op_name(c->op), lv[c->num]);
        break;
    default:
        kb_buf_printf(b, " %s %lld", policy_op_name(c->op), (long long)c->num);
    }
}

static int finish(run *r, kb_triage_result *res, group *g, kb_buf *b)
{
    const kb_triage_policy *pol = r->pol;
    const ptype *pt = &pol->types[g->type];
    inputs in = {0, V_NONE, 0, 0};
    int sev = pt->base, first = 1, nvuln = 0, npatched = 0, nunknown = 0;
    char buf[64], ts[40];
    kb_buf cb;
    const char *gbn[GB_COUNT] = {"host", "host", "user", "source", "destination"};
    static const char *const lvn[] = {"informational", "low", "medium", "high", "critical"};

    kb_buf_init(&cb, 4096);
    kb_buf_clear(b);
    for (uint32_t i = 0; i < g->assets.n; i++) {
        const kb_asset *as = g->assets.v[i];
        if (as->criticality > in.crit)
            in.crit = as->criticality;
    }
    in.spread = g->hosts.n + g->hosts.over;
    in.sources = g->sources.n;
    /* vulnerability verdicts */
    int vstat[SMALL_CAP];
    int64_t vscan[SMALL_CAP];
    const kb_vuln *vfound[SMALL_CAP];
    for (uint32_t i = 0; i < g->ncv; i++) {
        const char *host = g->cv[i].asset ? g->cv[i].asset->name : g->cv[i].host;
        vstat[i] = kb_vulns_check(r->vulns, host, g->cv[i].ip, cve_text(&g->cv[i], buf, sizeof buf),
                                  &vfound[i], &vscan[i]);
        if (vstat[i] == KB_VULN_VULNERABLE)
            nvuln++;
        else if (vstat[i] == KB_VULN_PATCHED)
            npatched++;
        else
            nunknown++;
    }
    in.vuln = nvuln ? V_VULNERABLE : nunknown ? V_UNKNOWN : npatched ? V_PATCHED : V_NONE;

    /* the JSON document */
    kb_buf_puts(b, "{\"type\":");
    kb_json_put_str(b, pt->name, strlen(pt->name));
    jstr(b, "title", pt->title);
    kb_buf_clear(&cb);
    kb_buf_printf(&cb, "%s:%s", gbn[g->gb], g->key);
    jstr(b, "entity", cb.data);
    jts(b, "first_seen", g->first);
    jts(b, "last_seen", g->last);
    kb_buf_printf(b, ",\"alerts\":%llu,\"spread\":%zu", (unsigned long long)g->count, in.spread);
    kb_buf_puts(b, ",\"rules\":[");
    for (uint32_t i = 0; i < g->nrules; i++) {
        const kb_triage_alert *a = &g->rules[i].first->a;
        kb_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        if (a->rule_id)
            kb_json_put_str(b, a->rule_id, strlen(a->rule_id));
        else
            kb_buf_puts(b, "null");
        jstr(b, "name", a->rule_name);
        jstr(b, "level", lvn[a->level < 0 || a->level > 4 ? 2 : a->level]);
        kb_buf_printf(b, ",\"count\":%llu", (unsigned long long)g->rules[i].count);
        jts(b, "first_seen", g->rules[i].first_ts);
        jts(b, "last_seen", g->rules[i].last_ts);
        kb_buf_putc(b, '}');
    }
    kb_buf_puts(b, "],\"hosts\":[");
    for (uint32_t i = 0; i < g->hosts.n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, g->hosts.v[i], strlen(g->hosts.v[i]));
    }
    kb_buf_puts(b, "],\"assets\":[");
    for (uint32_t i = 0; i < g->assets.n; i++) {
        const kb_asset *as = g->assets.v[i];
        kb_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        kb_json_put_str(b, as->name, strlen(as->name));
        jstr(b, "type", as->type);
        kb_buf_printf(b, ",\"criticality\":%d", as->criticality);
        jstr(b, "tags", as->tags);
        jstr(b, "owner", as->owner);
        jstr(b, "department", as->department);
        kb_buf_putc(b, '}');
    }
    kb_buf_puts(b, "],\"unmanaged\":[");
    for (uint32_t i = 0; i < g->unmanaged.n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, g->unmanaged.v[i], strlen(g->unmanaged.v[i]));
    }
    kb_buf_puts(b, "],\"users\":[");
    for (uint32_t i = 0; i < g->users.n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, g->users.v[i], strlen(g->users.v[i]));
    }
    kb_buf_puts(b, "],\"external\":[");
    for (uint32_t i = 0; i < g->ext.n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, g->ext.v[i], strlen(g->ext.v[i]));
    }
    {
        const char *const on[5] = {"source_ips", "destination_ips", "urls", "file_names",
                                   "file_hashes"};
        const pset *ov[5] = {&g->srcs, &g->dsts, &g->urls, &g->fnames, &g->fhashes};
        for (int k = 0; k < 5; k++) {
            kb_buf_printf(b, "],\"%s\":[", on[k]);
            for (uint32_t i = 0; i < ov[k]->n; i++) {
                if (i)
                    kb_buf_putc(b, ',');
                kb_json_put_str(b, ov[k]->v[i], strlen(ov[k]->v[i]));
            }
        }
    }
    kb_buf_puts(b, "],\"vulns\":[");
    for (uint32_t i = 0; i < g->ncv; i++) {
        static const char *const st[] = {"unknown", "vulnerable", "patched"};
        const char *host = g->cv[i].asset ? g->cv[i].asset->name : g->cv[i].host;
        kb_buf_puts(b, i ? ",{\"cve\":" : "{\"cve\":");
        cve_text(&g->cv[i], buf, sizeof buf);
        kb_json_put_str(b, buf, strlen(buf));
        jstr(b, "host", host ? host : g->cv[i].ip);
        jstr(b, "status", st[vstat[i]]);
        if (vfound[i])
            kb_buf_printf(b, ",\"cvss\":%.1f", vfound[i]->cvss);
        if (vscan[i] != KB_TIME_NONE)
            jts(b, "scanned", vscan[i]);
        kb_buf_putc(b, '}');
    }
    kb_buf_puts(b, "],\"explain\":[");
    /* inputs */
    kb_buf_clear(&cb);
    if (pt->confirmed) {
        kb_buf_puts(&cb, "confirmed by");
        for (size_t i = 0; i < pol->nsig; i++)
            if ((pt->all | pt->any) & g->signals & (1u << i))
                kb_buf_printf(&cb, " %s", pol->sig[i].name);
    } else {
        kb_buf_puts(&cb, "an incident alone");
    }
    xline(b, &first, "input: type %s (%s), base %s (%s:%u)", pt->name, cb.data,
          kb_sev_name(pt->base), pol->path, pt->line);
    kb_buf_clear(&cb);
    for (size_t i = 0; i < pol->nsig; i++)
        if (g->signals & (1u << i))
            kb_buf_printf(&cb, "%s%s", cb.len ? ", " : "", pol->sig[i].name);
    if (g->maxconf < 0)
        xline(b, &first, "input: %llu alerts from %u rules, highest level %s, confidence unknown",
              (unsigned long long)g->count, g->nrules, lvn[g->maxlevel < 0 ? 0 : g->maxlevel]);
    else
        xline(b, &first, "input: %llu alerts from %u rules, highest level %s, confidence %d",
              (unsigned long long)g->count, g->nrules, lvn[g->maxlevel < 0 ? 0 : g->maxlevel],
              g->maxconf);
    xline(b, &first, "input: signals [%s]", cb.data ? cb.data : "");
    kb_buf_clear(&cb);
    for (uint32_t i = 0; i < g->sources.n && i < 8; i++)
        kb_buf_printf(&cb, "%s%s", i ? ", " : "", (const char *)g->sources.v[i]);
    xline(b, &first, "input: sources %zu [%s]", in.sources, cb.data ? cb.data : "");
    kb_buf_clear(&cb);
    for (uint32_t i = 0; i < g->hosts.n && i < 8; i++)
        kb_buf_printf(&cb, "%s%s", i ? ", " : "", (const char *)g->hosts.v[i]);
    xline(b, &first, "input: spread %zu hosts [%s%s]", in.spread, cb.data ? cb.data : "",
          g->hosts.n > 8 ? ", ..." : "");
    for (uint32_t i = 0; i < g->assets.n && i < 8; i++) {
        const kb_asset *as = g->assets.v[i];
        xline(b, &first, "input: asset %s: %s, criticality %d, tags [%s]", as->name,
              *as->type ? as->type : "type unknown", as->criticality, as->tags);
    }
    for (uint32_t i = 0; i < g->unmanaged.n; i++)
        xline(b, &first, "input: unmanaged internal address %s (not in the inventory)",
              (const char *)g->unmanaged.v[i]);
    for (uint32_t i = 0; i < g->ncv; i++) {
        const char *host = g->cv[i].asset ? g->cv[i].asset->name : g->cv[i].host;
        cve_text(&g->cv[i], buf, sizeof buf);
        if (vscan[i] != KB_TIME_NONE)
            kb_time_format(vscan[i], ts, sizeof ts);
        if (vstat[i] == KB_VULN_VULNERABLE)
            xline(b, &first, "input: %s on %s: vulnerable (CVSS %.1f, scan %.10s)", buf,
                  host ? host : "?", vfound[i]->cvss, ts);
        else if (vstat[i] == KB_VULN_PATCHED)
            xline(b, &first, "input: %s on %s: not found by the scan of %.10s (patched)", buf,
                  host ? host : "?", ts);
        else
            xline(b, &first, "input: %s on %s: unknown (no scan of this host)", buf,
                  host ? host : g->cv[i].ip ? g->cv[i].ip : "?");
    }
    if (!g->ncv)
        xline(b, &first, "input: vulnerability match: none (the alerts name no CVE)");
    xline(b, &first, "input: highest asset criticality %d", in.crit);
    /* the policy */
    for (size_t i = 0; i < pol->nrules; i++) {
        const prule *pr = &pol->rules[i];
        char why[256];
        size_t k;
        for (k = 0; k < pr->nc; k++)
            if (!cond_holds(&pr->c[k], g, &in, why, sizeof why))
                break;
        if (k < pr->nc)
            continue;
        int before = sev;
        switch (pr->act) {
        case A_SET: sev = pr->val; break;
        case A_RAISE: sev += pr->val; break;
        case A_LOWER: sev -= pr->val; break;
        case A_MIN: sev = sev < pr->val ? pr->val : sev; break;
        default: sev = sev > pr->val ? pr->val : sev; break;
        }
        if (sev < KB_SEV_LOW)
            sev = KB_SEV_LOW;
        if (sev > KB_SEV_CRITICAL)
            sev = KB_SEV_CRITICAL;
        static const char *const an[] = {"set", "raise", "lower", "at least", "at most"};
        kb_buf_clear(&cb);
        for (k = 0; k < pr->nc; k++) {
            if (k)
                kb_buf_puts(&cb, " and ");
            cond_text(pol, &pr->c[k], &cb);
        }
        if (pr->act == A_RAISE || pr->act == A_LOWER)
            xline(b, &first, "%s:%u: %s -> %s %d%s%s%s: %s -> %s", pol->path, pr->line,
                  pr->nc ? cb.data : "always", an[pr->act], pr->val, pr->because ? " (" : "",
                  pr->because ? pr->because : "", pr->because ? ")" : "", kb_sev_name(before),
                  kb_sev_name(sev));
        else
            xline(b, &first, "%s:%u: %s -> %s %s%s%s%s: %s -> %s", pol->path, pr->line,
                  pr->nc ? cb.data : "always", an[pr->act], kb_sev_name(pr->val),
                  pr->because ? " (" : "", pr->because ? pr->because : "",
                  pr->because ? ")" : "", kb_sev_name(before), kb_sev_name(sev));
    }
    int notify = sev >= pol->notify;
    xline(b, &first, "result: %s; %s (notify at %s and above)", kb_sev_name(sev),
          notify ? "marked for notification to the CSIRT" : "not notified",
          kb_sev_name(pol->notify));
    kb_buf_puts(b, "],\"severity\":");
    kb_json_put_str(b, kb_sev_name(sev), strlen(kb_sev_name(sev)));
    kb_buf_printf(b, ",\"notify\":%s,\"actions\":[", notify ? "true" : "false");
    for (size_t i = 0; i < pol->actions[sev].n; i++) {
        if (i)
            kb_buf_putc(b, ',');
        kb_json_put_str(b, pol->actions[sev].v[i], strlen(pol->actions[sev].v[i]));
    }
    kb_buf_puts(b, "]}");

    kb_incident *inc = &res->v[res->n++];
    memset(inc, 0, sizeof *inc);
    inc->type = pt->name;
    kb_buf_clear(&cb);
    kb_buf_printf(&cb, "%s:%s", gbn[g->gb], g->key);
    inc->entity = kb_arena_strndup(res->ar, cb.data, cb.len);
    kb_buf_clear(&cb);
    kb_buf_printf(&cb, "%s on %s", pt->title, g->key);
    if (in.spread > 1)
        kb_buf_printf(&cb, " (+%zu hosts)", in.spread - 1);
    inc->title = kb_arena_strndup(res->ar, cb.data, cb.len);
    inc->severity = sev;
    inc->notify = notify;
    inc->first = g->first, inc->last = g->last;
    inc->alerts = g->count;
    inc->spread = in.spread;
    inc->json = kb_arena_strndup(res->ar, b->data, b->len);
    inc->json_len = b->len;
    kb_buf_release(&cb);
    if (!inc->entity || !inc->title || !inc->json)
        return KB_ENOMEM;
    res->stats.per_sev[sev]++;
    res->stats.notify += (uint64_t)notify;
    return KB_OK;
}

/* An alert that names only its source (a web server's access log names no
 * host) joins the incident of the same type on the host that source was
 * seen attacking within the window (its address among the host incident's
 * external addresses). Groups are in first-seen order. */
static void attach_sources(run *r)
{
    const kb_triage_policy *pol = r->pol;
    for (size_t i = 0; i < r->ngroups; i++) {
        group *g = r->groups[i];
        if (g->dead || g->gb != GB_SOURCE || g->type < 0 || g->hosts.n)
            continue;
        group *best = NULL;
        for (size_t j = i; j-- > 0;) {
            group *h = r->groups[j];
            if (h->last + pol->window < g->first && h->first + 4 * pol->window < g->first)
                break;
            if (!h->dead && h->gb == GB_HOST && h->type == g->type &&
                h->last + pol->window >= g->first)
                for (uint32_t k = 0; k < h->ext.n && !best; k++)
                    if (h->ext.v[k] == (const void *)g->key)
                        best = h;
        }
        for (size_t j = i + 1; j < r->ngroups && !best; j++) {
            group *h = r->groups[j];
            if (h->first > g->last + pol->window)
                break;
            if (!h->dead && h->gb == GB_HOST && h->type == g->type)
                for (uint32_t k = 0; k < h->ext.n && !best; k++)
                    if (h->ext.v[k] == (const void *)g->key)
                        best = h;
        }
        if (best) {
            merge(r, best, g);
            if (g->first < best->first)
                best->first = g->first;
        }
    }
}

static int cmp_group(const void *x, const void *y)
{
    const group *a = *(group *const *)x, *b = *(group *const *)y;
    return a->first < b->first ? -1 : a->first > b->first;
}

int kb_triage_run(const kb_triage_policy *pol, kb_assets *assets, const kb_vulns *vulns,
                  kb_triage_alerts *al, kb_triage_result **out)
{
    run r;
    kb_triage_result *res = NULL;
    kb_buf b;
    int rc = KB_OK;

    *out = NULL;
    memset(&r, 0, sizeof r);
    kb_buf_init(&b, 16 << 20);
    r.pol = pol, r.assets = assets, r.vulns = vulns;
    r.nipc = 1 << 16;
    if (!(r.ar = kb_arena_new(1 << 20, (size_t)4 << 30)) ||
        !(r.ipc = kb_calloc(r.nipc, sizeof *r.ipc)) || !(res = kb_calloc(1, sizeof *res)) ||
        !(res->ar = kb_arena_new(1 << 20, (size_t)1 << 30))) {
        rc = KB_ENOMEM;
        goto out;
    }
    if (al->n) /* qsort must not be given a NULL array, even empty */
        qsort(al->v, al->n, sizeof *al->v, cmp_ts);
    res->stats.alerts = al->n;
    for (size_t i = 0; i < al->n; i++) {
        ialert *x = &al->v[i];
        const kb_triage_alert *a = &x->a;
        side host, src, dst;
        if (a->level < pol->min_level) {
            res->stats.context++;
            continue;
        }
        uint32_t ci = classify(pol, &r.cc, a);
        if (!ci) {
            rc = KB_ENOMEM;
            goto out;
        }
        const cls *c = &r.cc.v[ci];
        if (!c->types) {
            res->stats.unclassified++;
            continue;
        }
        resolve(&r, &host, a->host, NULL, a->ts);
        resolve(&r, &src, NULL, a->src_ip, a->ts);
        resolve(&r, &dst, NULL, a->dst_ip, a->ts);
        if (!host.as && !a->host && src.as)
            host = src; /* a network alert about an inventory host */
        /* The entity: the first grouping that the alert has, over its types
         * in priority order. Hosts (by name, the inventory host behind an
         * address, an inventory destination) are one name space: everything
         * on one host within the window is one incident. An external source
         * or a user is an entity per type (a scan and an exploit attempt
         * from one address are two incidents). */
        const char *key = NULL;
        int gb = GB_HOST, kt = -1;
        for (uint32_t tm = c->types; tm && !key; tm &= tm - 1) {
            int t = __builtin_ctz(tm);
            const ptype *pt = &pol->types[t];
            for (int k = 0; k < pt->ngroup && !key; k++) {
                gb = pt->group_by[k];
                switch (gb) {
                case GB_HOST: key = host.name; break;
                case GB_SOURCE_HOST:
                    key = src.as ? src.as->name
                                 : (src.ip && src.ip->internal) ? src.ip->s : NULL;
                    break;
                case GB_USER: key = a->user; break;
                case GB_SOURCE: key = a->src_ip; break;
                default: key = dst.as ? dst.as->name : a->dst_ip; break;
                }
                if (key)
                    kt = t;
            }
        }
        if (gb == GB_SOURCE_HOST || (gb == GB_DESTINATION && dst.as))
            gb = GB_HOST;
        if (gb == GB_HOST || gb == GB_DESTINATION)
            kt = -1;
        if (!key) {
            gb = GB_HOST, kt = -1;
            key = a->rule_id ? a->rule_id : a->rule_name;
        }
        group *g = open_group(&r, gb, kt, key, a->ts);
        if (!g) {
            rc = KB_ENOMEM;
            goto out;
        }
        if (gb == GB_SOURCE) /* the entity is a host too */
            pset_add(r.ar, &g->hosts, src.as ? src.as->name : NULL, SET_CAP);
        if ((rc = absorb(&r, g, x, c, &host, &src, &dst)))
            goto out;
    }
    res->stats.groups = r.ngroups;
    /* types, then spread merging (groups in first-seen order) */
    for (size_t i = 0; i < r.ngroups; i++)
        if (choose_type(pol, r.groups[i]))
            if (r.groups[i]->type < 0)
                res->stats.unconfirmed++;
    if (r.ngroups)
        qsort(r.groups, r.ngroups, sizeof *r.groups, cmp_group);
    attach_sources(&r);
    for (size_t i = 0; i < r.ngroups; i++) {
        group *g = r.groups[i];
        if (g->dead || g->type < 0 || !pol->types[g->type].spread_rule)
            continue;
        const ialert *rule = NULL;
        for (uint32_t k = 0; k < g->nrules && !rule; k++)
            if (r.cc.v[classify(pol, &r.cc, &g->rules[k].first->a)].types & (1u << g->type))
                rule = g->rules[k].first;
        for (size_t j = i + 1; j < r.ngroups && rule; j++) {
            group *h = r.groups[j];
            if (h->first > g->last + pol->window)
                break;
            if (h->dead || h->type != g->type)
                continue;
            for (uint32_t k = 0; k < h->nrules; k++)
                if (h->rules[k].first->a.rule_id == rule->a.rule_id &&
                    h->rules[k].first->a.rule_name == rule->a.rule_name) {
                    merge(&r, g, h);
                    break;
                }
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < r.ngroups; i++)
        live += !r.groups[i]->dead && r.groups[i]->type >= 0;
    if (!(res->v = kb_calloc(live ? live : 1, sizeof *res->v))) {
        rc = KB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r.ngroups; i++)
        if (!r.groups[i]->dead && r.groups[i]->type >= 0 &&
            (rc = finish(&r, res, r.groups[i], &b)))
            goto out;
    res->stats.incidents = res->n;
    *out = res;
    res = NULL;
out:
    kb_triage_result_free(res);
    kb_buf_release(&b);
    kb_arena_free(r.ar);
    kb_free(r.ipc);
    kb_free(r.cc.v);
    kb_free(r.cc.slots);
    kb_free(r.groups);
    kb_free(r.open);
    return rc;
}

/* ---- persistence ------------------------------------------------------------------- */

int kb_triage_result_save(kb_triage_result *res, kb_store *st)
{
    int rc;
    if ((rc = kb_triage_schema(st)) || (rc = kb_store_begin(st)))
        return rc;
    for (size_t i = 0; i < res->n; i++) {
        kb_incident *in = &res->v[i];
        const char *sev = kb_sev_name(in->severity);
        kb_sval k[3] = {KB_SV_STRV(in->entity, strlen(in->entity)),
                        KB_SV_STRV(in->type, strlen(in->type)), KB_SV_INTV(in->first)};
        /* the same incident triaged again (same type, entity and first
         * alert) is updated in place and keeps its id */
        int64_t id = kb_store_scalar(st, "SELECT id FROM incidents WHERE entity = ? AND type = ?"
                                         " AND created = ?",
                                     k, 3, 0);
        kb_sval p[9] = {KB_SV_INTV(in->first),
                        KB_SV_INTV(in->last),
                        KB_SV_STRV(in->type, strlen(in->type)),
                        KB_SV_STRV(sev, strlen(sev)),
                        KB_SV_STRV(in->notify ? "notify" : "new", in->notify ? 6 : 3),
                        KB_SV_STRV(in->entity, strlen(in->entity)),
                        KB_SV_STRV(in->title, strlen(in->title)),
                        KB_SV_STRV(in->json, in->json_len),
                        KB_SV_INTV(id)};
        in->created = id <= 0;
        in->escalated = 0;
        if (id > 0) {
            kb_buf old;
            kb_sval q[1] = {KB_SV_INTV(id)};
            kb_buf_init(&old, 64);
            if (kb_store_text(st, "SELECT severity FROM incidents WHERE id = ?", q, 1, &old) ==
                    KB_OK &&
                old.len) {
                int was = kb_sev_find(old.data, old.len);
                in->escalated = was >= 0 && in->severity > was;
            }
            kb_buf_release(&old);
            if ((rc = kb_store_exec(st, "UPDATE incidents SET created = ?, updated = ?, type = ?,"
                                        " severity = ?, status = ?, entity = ?, title = ?,"
                                        " detail = ? WHERE id = ?",
                                    p, 9, NULL, NULL)))
                goto fail;
            in->id = id;
            continue;
        }
        in->id = kb_store_scalar(st, "INSERT INTO incidents (created, updated, type, severity,"
                                     " status, entity, title, detail)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                 p, 8, 0);
        if (in->id <= 0) {
            rc = KB_EIO;
            goto fail;
        }
    }
    return kb_store_commit(st);
fail:
    kb_store_rollback(st);
    return rc;
}
