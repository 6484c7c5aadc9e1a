/* koban intel: import feeds, list/show/expire indicators, add internal
 * ones, export block lists and rules, retro-hunt the stored history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/output.h"
#include "intel/intel.h"
#include "store/hunt.h"
#include "store/store.h"

typedef struct opts {
    const char *dsn, *format, *feed, *columns, *threat, *kind, *ref, *name, *output, *user,
        *password, *desc;
    int confidence, all, include_expired, out_fmt, purge;
    int64_t since, valid_for, now, older;
    uint32_t sid_base, sid_max;
    const char *const *allow; /* intel.allowlist of the configuration */
    size_t nallow;
} opts;

/* ---- import ------------------------------------------------------------------ */

typedef struct import_ctx {
    kb_store *st;
    const char *path;
    int64_t now;
    uint64_t fresh;
    int rc;
} import_ctx;

static int on_add(void *ud, const kb_indicator *ind)
{
    import_ctx *x = ud;
    int is_new = 0;
    int rc = kb_intel_store_put(x->st, ind, x->now, &is_new);
    x->fresh += is_new;
    return rc;
}

static void on_reject(void *ud, const char *where, const char *reason)
{
    import_ctx *x = ud;
    fprintf(stderr, "%s: %s%s%s\n", x->path, where, *where ? ": " : "", reason);
}

static int read_file(const char *path, kb_buf *b)
{
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n;
    int rc = KB_OK;
    if (!f)
        return KB_EIO;
    kb_buf_clear(b);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if ((rc = kb_buf_append(b, buf, n)))
            break;
    if (ferror(f))
        rc = KB_EIO;
    fclose(f);
    return rc;
}

/* The default feed name: a file's name without its extension, a
 * directory's name, or a URL's last path segment (a TAXII collection id). */
static const char *base_name(const char *p, char *out, size_t n)
{
    size_t l = strlen(p), b;
    int is_url = strstr(p, "://") != NULL;
    while (l > 1 && p[l - 1] == '/')
        l--;
    b = l;
    while (b && p[b - 1] != '/')
        b--;
    snprintf(out, n, "%.*s", (int)(l - b), p + b);
    char *dot = strrchr(out, '.');
    if (!is_url && dot && dot != out)
        *dot = 0;
    return out;
}

static int import_one(kb_store *st, const opts *o, const char *src)
{
    kb_intel_sink s;
    import_ctx x = {st, src, o->now, 0, 0};
    kb_buf b;
    const char *fmt = o->format, *err = NULL;
    char feedname[256], errbuf[512];
    int rc = KB_OK, status = KB_EXIT_OK, is_url = strstr(src, "://") != NULL;
    struct stat sb;

    kb_intel_sink_init(&s);
    kb_buf_init(&b, (size_t)512 << 20);
    s.add = on_add;
    s.reject = on_reject;
    s.ud = &x;
    s.feed = o->feed ? o->feed : base_name(src, feedname, sizeof feedname);
    s.confidence = o->confidence;
    s.threat = o->threat;
    s.misp_all = o->all;
    if ((rc = kb_store_begin(st)))
        goto store_fail;
    if (is_url && ((fmt && strcmp(fmt, "taxii") == 0) || (!fmt && strstr(src, "/collections/")))) {
        char key[1100], *last = NULL;
        kb_buf prev;
        fmt = "taxii";
        kb_buf_init(&prev, 1024);
        snprintf(key, sizeof key, "taxii:%s", src);
        kb_intel_state_get(st, key, &prev);
        rc = kb_intel_taxii_pull(&s, src, prev.len ? prev.data : NULL, o->user, o->password,
                                 &last, errbuf, sizeof errbuf);
        if (rc == KB_OK && last)
            rc = kb_intel_state_set(st, key, last);
        else if (rc && rc != KB_EIO && rc != KB_EFORMAT)
            snprintf(errbuf, sizeof errbuf, "%s", kb_strerror(rc));
        if (rc == KB_EIO || rc == KB_EFORMAT)
            err = errbuf;
        kb_free(last);
        kb_buf_release(&prev);
    } else if (!is_url && stat(src, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (fmt && strcmp(fmt, "misp") != 0) {
            err = "a directory is read as a MISP feed (manifest.json); use --format misp";
            rc = KB_EFORMAT;
        } else {
            fmt = "misp";
            rc = kb_intel_load_misp_dir(&s, src, &err);
        }
    } else {
        if (is_url)
            rc = kb_intel_fetch(src, &b, errbuf, sizeof errbuf);
        else
            rc = read_file(src, &b);
        if (rc) {
            err = is_url ? errbuf : "cannot read file";
            if (rc == KB_ELIMIT)
                err = "file larger than 512 MiB";
            rc = KB_EIO;
        } else {
            if (!fmt)
                fmt = kb_intel_sniff(src, b.data, b.len);
            if (strcmp(fmt, "stix") == 0)
                rc = kb_intel_load_stix(&s, b.data, b.len, &err);
            else if (strcmp(fmt, "misp") == 0)
                rc = kb_intel_load_misp(&s, b.data, b.len, &err);
            else if (strcmp(fmt, "json") == 0)
                rc = kb_intel_load_json_list(&s, b.data, b.len, &err);
            else if (strcmp(fmt, "csv") == 0 || strcmp(fmt, "list") == 0)
                rc = kb_intel_load_csv(&s, b.data, b.len, o->columns, &err);
            else {
                err = "unknown --format (stix, misp, csv, list, json, taxii)";
                rc = KB_EUSAGE;
            }
        }
    }
    if (rc == KB_EFORMAT || rc == KB_EIO || rc == KB_EUSAGE) {
        kb_store_rollback(st);
        if (rc == KB_EFORMAT && o->format)
            fprintf(stderr, "%s: %s (--format %s)\n", src, err ? err : kb_strerror(rc),
                    o->format);
        else
            fprintf(stderr, "%s: %s\n", src, err ? err : kb_strerror(rc));
        status = rc == KB_EUSAGE ? KB_EXIT_USAGE : KB_EXIT_REJECTED;
        goto out;
    }
    if (rc || (rc = kb_intel_store_feed(st, s.feed, fmt, src, s.added, o->now)) ||
        (rc = kb_store_commit(st)))
        goto store_fail;
    fprintf(stderr, "%s: %llu indicators imported (%llu new), %llu rejected, %llu skipped\n",
            src, (unsigned long long)s.added, (unsigned long long)x.fresh,
            (unsigned long long)s.rejected, (unsigned long long)s.skipped);
    if (s.rejected)
        status = KB_EXIT_REJECTED;
    goto out;
store_fail:
    kb_store_rollback(st);
    fprintf(stderr, "%s: store: %s\n", src, rc == KB_EIO ? kb_store_errmsg(st) : kb_strerror(rc));
    status = KB_EXIT_FAILURE;
out:
    kb_buf_release(&b);
    kb_intel_sink_release(&s);
    return status;
}

/* ---- list / show / expire / export ----------------------------------------------- */

static const kb_out_col list_cols[] = {
    {"kind", 10}, {"value", 46}, {"feed", 18}, {"conf", 4}, {"threat", 16},
    {"valid_until", 20}, {"status", 7}, {"ref", 0},
};

typedef struct list_ctx {
    kb_out out;
    const opts *o;
    int expired_only;
    uint64_t n;
    kb_intel_exporter *x;
    int rc;
} list_ctx;

static int is_expired(const kb_indicator *ind, int64_t now)
{
    return ind->valid_until != KB_TIME_NONE && ind->valid_until < now;
}

static void json_kv(kb_buf *b, const char *k, const char *v, int comma)
{
    if (comma)
        kb_buf_putc(b, ',');
    kb_buf_printf(b, "\"%s\":", k);
    if (!v) {
        kb_buf_puts(b, "null");
        return;
    }
    kb_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            kb_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            kb_buf_printf(b, "\\u%04x", *p);
        else
            kb_buf_putc(b, (char)*p);
    }
    kb_buf_putc(b, '"');
}

static void put_row(list_ctx *x, const kb_indicator *ind)
{
    char until[40] = "", conf[16] = "", first[40] = "", last[40] = "";
    const char *status = is_expired(ind, x->o->now) ? "expired" : "active";
    if (ind->valid_until != KB_TIME_NONE)
        kb_time_format(ind->valid_until, until, sizeof until);
    if (ind->first_seen != KB_TIME_NONE)
        kb_time_format(ind->first_seen, first, sizeof first);
    if (ind->last_seen != KB_TIME_NONE)
        kb_time_format(ind->last_seen, last, sizeof last);
    if (ind->confidence >= 0)
        snprintf(conf, sizeof conf, "%d", ind->confidence);
    if (x->out.fmt == KB_OUT_JSONL) {
        kb_buf b;
        kb_buf_init(&b, 1 << 20);
        kb_buf_putc(&b, '{');
        json_kv(&b, "kind", kb_intel_kind_name(ind->kind), 0);
        json_kv(&b, "value", ind->value, 1);
        json_kv(&b, "feed", ind->feed, 1);
        kb_buf_printf(&b, ",\"confidence\":%s", conf[0] ? conf : "null");
        json_kv(&b, "threat", ind->threat, 1);
        json_kv(&b, "first_seen", first[0] ? first : NULL, 1);
        json_kv(&b, "last_seen", last[0] ? last : NULL, 1);
        json_kv(&b, "valid_until", until[0] ? until : NULL, 1);
        json_kv(&b, "tags", ind->tags, 1);
        json_kv(&b, "ref", ind->ref, 1);
        json_kv(&b, "desc", ind->desc, 1);
        json_kv(&b, "status", status, 1);
        json_kv(&b, "level", kb_intel_level(ind->confidence, ind->threat), 1);
        kb_buf_putc(&b, '}');
        kb_out_json(&x->out, b.data, b.len);
        kb_buf_release(&b);
        return;
    }
    kb_str v[8] = {
        {kb_intel_kind_name(ind->kind), strlen(kb_intel_kind_name(ind->kind))},
        {ind->value, strlen(ind->value)},
        {ind->feed, ind->feed ? strlen(ind->feed) : 0},
        {conf, strlen(conf)},
        {ind->threat, ind->threat ? strlen(ind->threat) : 0},
        {until, strlen(until)},
        {status, strlen(status)},
        {ind->ref, ind->ref ? strlen(ind->ref) : 0},
    };
    kb_out_row(&x->out, v);
}

static int list_row(void *ud, const kb_indicator *ind, int64_t added)
{
    list_ctx *x = ud;
    (void)added;
    if (x->o->kind && kb_intel_kind_find(x->o->kind, strlen(x->o->kind)) != ind->kind)
        return 0;
    if (x->o->feed && (!ind->feed || strcmp(x->o->feed, ind->feed) != 0))
        return 0;
    if (x->expired_only && !is_expired(ind, x->o->now))
        return 0;
    x->n++;
    if (x->x) {
        if (!x->o->include_expired && is_expired(ind, x->o->now)) {
            x->n--;
            return 0;
        }
        return kb_intel_export_add(x->x, ind);
    }
    put_row(x, ind);
    return 0;
}

typedef struct show_ctx {
    list_ctx *l;
} show_ctx;

static int show_hit(void *ud, const kb_intel_hit *h)
{
    list_ctx *x = ud;
    x->n++;
    put_row(x, h->ind);
    return 0;
}

static int feeds_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    kb_out *out = ud;
    char cnt[24] = "", upd[40] = "";
    (void)names;
    if (n < 5)
        return 0;
    if (c[2].type == KB_SV_INT)
        snprintf(cnt, sizeof cnt, "%lld", (long long)c[2].i);
    if (c[3].type == KB_SV_INT)
        kb_time_format(c[3].i, upd, sizeof upd);
    if (out->fmt == KB_OUT_JSONL) {
        kb_buf b;
        kb_buf_init(&b, 1 << 16);
        kb_buf_putc(&b, '{');
        json_kv(&b, "feed", c[0].type == KB_SV_TEXT ? c[0].p : NULL, 0);
        json_kv(&b, "format", c[1].type == KB_SV_TEXT ? c[1].p : NULL, 1);
        kb_buf_printf(&b, ",\"indicators\":%s", cnt[0] ? cnt : "0");
        json_kv(&b, "updated", upd, 1);
        json_kv(&b, "source", c[4].type == KB_SV_TEXT ? c[4].p : NULL, 1);
        kb_buf_putc(&b, '}');
        kb_out_json(out, b.data, b.len);
        kb_buf_release(&b);
        return 0;
    }
    kb_str v[5] = {{c[0].p, c[0].type == KB_SV_TEXT ? c[0].len : 0},
                   {c[1].p, c[1].type == KB_SV_TEXT ? c[1].len : 0},
                   {cnt, strlen(cnt)}, {upd, strlen(upd)},
                   {c[4].p, c[4].type == KB_SV_TEXT ? c[4].len : 0}};
    kb_out_row(out, v);
    return 0;
}

/* ---- hunt ------------------------------------------------------------------------ */

typedef struct hunt_ctx {
    kb_store *st;
    kb_intel_matcher *m;
    kb_buf values; /* kind \0 value \0 ... of observables to look up */
    kb_store_alert *alerts;
    size_t nalerts, cap;
    kb_buf strings;
    uint64_t hits, suppressed, sightings, known;
    int64_t now;
    int rc;
} hunt_ctx;

static int obs_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    hunt_ctx *x = ud;
    (void)names;
    if (n < 2 || c[0].type != KB_SV_TEXT || c[1].type != KB_SV_TEXT)
        return 0;
    if (kb_buf_append(&x->values, c[0].p, c[0].len) || kb_buf_putc(&x->values, 0) ||
        kb_buf_append(&x->values, c[1].p, c[1].len) || kb_buf_putc(&x->values, 0))
        return KB_ENOMEM;
    return 0;
}

typedef struct sighting_ctx {
    hunt_ctx *h;
    const kb_intel_hit *hit;
} sighting_ctx;

static int sighting_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    sighting_ctx *s = ud;
    hunt_ctx *x = s->h;
    const kb_indicator *ind = s->hit->ind;
    (void)names;
    if (n < 3)
        return 0;
    /* An indicator counts for what it saw while valid: one that has expired
     * since is still raised for its earlier sightings, never for later ones
     * (a sighting of unknown time: as of now). */
    if (ind->valid_until != KB_TIME_NONE) {
        int64_t ts;
        if (kb_sval_int(&c[0], &ts))
            ts = KB_TIME_NONE;
        if ((ts == KB_TIME_NONE ? x->now : ts) > ind->valid_until)
            return 0;
    }
    if (kb_grow((void **)&x->alerts, &x->cap, x->nalerts + 1, sizeof *x->alerts, 256))
        return KB_ENOMEM;
    /* a sighting already alerted (by an earlier hunt) is not raised twice */
    if (c[0].type == KB_SV_INT && c[2].type == KB_SV_INT) {
        char rule[300], title[600];
        snprintf(rule, sizeof rule, "intel:%s", ind->feed ? ind->feed : "");
        snprintf(title, sizeof title, "Threat intel %s %s (%s, confidence %d, %s)",
                 kb_intel_kind_name(ind->kind), ind->value, ind->threat ? ind->threat : "-",
                 ind->confidence, ind->ref ? ind->ref : "no reference");
        kb_sval q[4] = {KB_SV_STRV(rule, strlen(rule)), c[0], c[2],
                        KB_SV_STRV(title, strlen(title))};
        if (kb_store_scalar(x->st,
                            "SELECT COUNT(*) FROM alerts WHERE rule_id = ? AND ts = ? AND"
                            " event_id = ? AND title = ?",
                            q, 4, 0) > 0) {
            x->known++;
            return 0;
        }
    }
    /* the strings are offsets into x->strings until the batch is written */
    size_t o_rule = x->strings.len;
    kb_buf_printf(&x->strings, "intel:%s", ind->feed ? ind->feed : "");
    kb_buf_putc(&x->strings, 0);
    size_t o_title = x->strings.len;
    kb_buf_printf(&x->strings, "Threat intel %s %s (%s, confidence %d, %s)",
                  kb_intel_kind_name(ind->kind), ind->value, ind->threat ? ind->threat : "-",
                  ind->confidence, ind->ref ? ind->ref : "no reference");
    kb_buf_putc(&x->strings, 0);
    size_t o_tags = x->strings.len;
    kb_buf_printf(&x->strings, "intel,intel.kind.%s%s%s", kb_intel_kind_name(ind->kind),
                  ind->threat ? ",intel.threat." : "", ind->threat ? ind->threat : "");
    kb_buf_putc(&x->strings, 0);
    size_t o_host = x->strings.len;
    if (c[1].type == KB_SV_TEXT)
        kb_buf_append(&x->strings, c[1].p, c[1].len);
    kb_buf_putc(&x->strings, 0);
    size_t o_feed = x->strings.len;
    kb_buf_puts(&x->strings, ind->feed ? ind->feed : "");
    kb_buf_putc(&x->strings, 0);
    kb_store_alert *a = &x->alerts[x->nalerts++];
    a->ts = c[0].type == KB_SV_INT ? c[0].i : KB_TIME_NONE;
    a->rule_id = (const char *)(uintptr_t)o_rule;
    a->title = (const char *)(uintptr_t)o_title;
    a->level = s->hit->level;
    a->author = (const char *)(uintptr_t)o_feed;
    a->tags = (const char *)(uintptr_t)o_tags;
    a->event_id = c[2].type == KB_SV_INT ? c[2].i : 0;
    a->host = c[1].type == KB_SV_TEXT ? (const char *)(uintptr_t)o_host : NULL;
    a->threat = ind->threat; /* the matcher's, alive until the alerts are stored */
    a->confidence1 = ind->confidence >= 0 ? ind->confidence + 1 : 0;
    x->sightings++;
    return 0;
}

/* The observables stored for one looked-up value. */
typedef struct hunt_val {
    hunt_ctx *h;
    const char *kind, *value;
} hunt_val;

static int hunt_hit(void *ud, const kb_intel_hit *hit)
{
    hunt_val *v = ud;
    sighting_ctx s = {v->h, hit};
    kb_sval p[2] = {KB_SV_STRV(v->kind, strlen(v->kind)), KB_SV_STRV(v->value, strlen(v->value))};
    v->h->hits++;
    return kb_store_exec(v->h->st,
                         "SELECT ts, host, event_id FROM observables WHERE kind = ? AND value = ?"
                         " ORDER BY ts",
                         p, 2, sighting_row, &s);
}

static int hunt_add(void *ud, const kb_indicator *ind, int64_t added)
{
    (void)added;
    int rc = kb_intel_matcher_add(ud, ind);
    return rc == KB_EINVAL ? 0 : rc;
}

static int run_hunt(kb_store *st, const opts *o)
{
    hunt_ctx x;
    kb_buf last;
    int64_t since_ind = KB_TIME_NONE;
    int rc = KB_OK, status = KB_EXIT_OK;
    kb_intel_matcher_stats ms;
    char now_s[32];

    memset(&x, 0, sizeof x);
    x.st = st;
    kb_buf_init(&x.values, (size_t)1 << 31);
    kb_buf_init(&x.strings, (size_t)1 << 31);
    kb_buf_init(&last, 64);
    if (!o->all && kb_intel_state_get(st, "hunt:last", &last) == KB_OK && last.len) {
        int64_t t;
        if (kb_parse_i64(last.data, last.len, &t) == KB_OK)
            since_ind = t;
    }
    /* a matcher of the indicators added since the last hunt, expired ones
     * included: each sighting's time decides (sighting_row) */
    x.now = o->now;
    if (!(x.m = kb_intel_matcher_new(KB_TIME_NONE))) {
        rc = KB_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < o->nallow; i++) {
        const char *reason;
        if (kb_intel_matcher_allow(x.m, o->allow[i], strlen(o->allow[i]), &reason)) {
            fprintf(stderr, "koban intel hunt: allowlist '%s': %s\n", o->allow[i], reason);
            status = KB_EXIT_USAGE;
            goto out;
        }
    }
    if ((rc = kb_intel_store_each(st, NULL, since_ind, hunt_add, x.m)) ||
        (rc = kb_intel_matcher_seal(x.m)))
        goto fail;
    kb_intel_matcher_stats_get(x.m, &ms);
    if (ms.indicators) {
        /* every distinct observable in the window, looked up in memory:
         * ranges and wildcard domains need no SQL of their own */
        kb_sval p = KB_SV_INTV(o->since);
        rc = kb_store_exec(st,
                           o->since != KB_TIME_NONE
                               ? "SELECT DISTINCT kind, value FROM observables WHERE kind IN"
                                 " ('ip', 'domain', 'url', 'hash', 'file') AND ts >= ?"
                               : "SELECT DISTINCT kind, value FROM observables WHERE kind IN"
                                 " ('ip', 'domain', 'url', 'hash', 'file')",
                           &p, o->since != KB_TIME_NONE, obs_row, &x);
        if (rc)
            goto fail;
        for (size_t off = 0; off < x.values.len && rc == KB_OK;) {
            hunt_val v = {&x, x.values.data + off, NULL};
            off += strlen(v.kind) + 1;
            v.value = x.values.data + off;
            off += strlen(v.value) + 1;
            int kind = strcmp(v.kind, "file") == 0 ? KB_IOC_FILENAME
                       : strcmp(v.kind, "url") == 0 ? KB_IOC_URL
                                                    : -1;
            int n = kb_intel_lookup(x.m, kind, v.value, strlen(v.value), hunt_hit, &v);
            if (n < 0)
                x.suppressed++;
        }
        if (rc)
            goto fail;
    }
    for (size_t i = 0; i < x.nalerts; i++) { /* offsets to pointers, now that strings is final */
        kb_store_alert *a = &x.alerts[i];
        a->rule_id = x.strings.data + (uintptr_t)a->rule_id;
        a->title = x.strings.data + (uintptr_t)a->title;
        a->author = x.strings.data + (uintptr_t)a->author;
        a->tags = x.strings.data + (uintptr_t)a->tags;
        if (a->host)
            a->host = x.strings.data + (uintptr_t)a->host;
    }
    if ((rc = kb_store_begin(st)) ||
        (x.nalerts && (rc = kb_store_put_alerts(st, x.alerts, x.nalerts, NULL))))
        goto fail;
    snprintf(now_s, sizeof now_s, "%lld", (long long)o->now);
    if ((rc = kb_intel_state_set(st, "hunt:last", now_s)) || (rc = kb_store_commit(st)))
        goto fail;
    printf("hunted %llu indicators (%s) over %s: %llu values hit, %llu alerts raised,"
           " %llu sightings already alerted, %llu suppressed by the allowlist\n",
           (unsigned long long)ms.indicators,
           since_ind == KB_TIME_NONE ? "all" : "new since the last hunt",
           o->since == KB_TIME_NONE ? "all stored history" : "the window",
           (unsigned long long)x.hits, (unsigned long long)x.nalerts,
           (unsigned long long)x.known, (unsigned long long)x.suppressed);
    goto out;
fail:
    kb_store_rollback(st);
    fprintf(stderr, "koban intel hunt: %s\n", rc == KB_EIO ? kb_store_errmsg(st) : kb_strerror(rc));
    status = KB_EXIT_FAILURE;
out:
    kb_intel_matcher_free(x.m);
    kb_buf_release(&x.values);
    kb_buf_release(&x.strings);
    kb_buf_release(&last);
    kb_free(x.alerts);
    return status;
}

/* ---- expire --older / --purge ------------------------------------------------------ */

static int count_row(void *ud, size_t n, const kb_sval *c, const char *const *names)
{
    (void)names;
    if (n && c[0].type == KB_SV_INT)
        *(int64_t *)ud = c[0].i;
    return 0;
}

/* Marks the indicators not seen for --older (the newer of their last_seen
 * and the last import that carried them) as expired now, or with --purge
 * deletes those and the ones already expired; --feed and --kind restrict.
 * Both are recorded in the store's audit log. */
static int run_expire(kb_store *st, const opts *o)
{
    /* "?" 1: the --older cut-off, 2: now (already expired), then feed, kind */
    static const char age[] = "(CASE WHEN last_seen IS NOT NULL AND last_seen > updated"
                              " THEN last_seen ELSE updated END) < ?";
    static const char expired[] = "(valid_until IS NOT NULL AND valid_until < ?)";
    kb_buf where, q, det;
    kb_sval p[6];
    size_t np = 0;
    int64_t n = 0, mark_until = o->now - 1;
    int rc = KB_OK;
    const char *kind = o->kind ? kb_intel_kind_name(kb_intel_kind_find(o->kind, strlen(o->kind)))
                               : NULL;
    kb_buf_init(&where, 1 << 16);
    kb_buf_init(&q, 1 << 16);
    kb_buf_init(&det, 1 << 16);
    if (o->purge) {
        kb_buf_printf(&where, "(%s", expired);
        p[np++] = KB_SV_INTV(o->now);
        if (o->older >= 0) {
            kb_buf_printf(&where, " OR %s", age);
            p[np++] = KB_SV_INTV(o->now - o->older);
        }
        kb_buf_putc(&where, ')');
    } else {
        kb_buf_printf(&where, "%s AND NOT %s", age, expired);
        p[np++] = KB_SV_INTV(o->now - o->older);
        p[np++] = KB_SV_INTV(o->now);
    }
    if (o->feed) {
        kb_buf_puts(&where, " AND feed = ?");
        p[np++] = KB_SV_STRV(o->feed, strlen(o->feed));
    }
    if (kind) {
        kb_buf_puts(&where, " AND kind = ?");
        p[np++] = KB_SV_STRV(kind, strlen(kind));
    }
    if ((rc = kb_store_begin(st)))
        goto out;
    kb_buf_printf(&q, "SELECT COUNT(*) FROM intel_indicators WHERE %s", where.data);
    rc = kb_store_exec(st, q.data, p, np, count_row, &n);
    kb_buf_clear(&q);
    if (rc == KB_OK && n > 0) {
        if (o->purge) {
            kb_buf_printf(&q, "DELETE FROM intel_indicators WHERE %s", where.data);
            rc = kb_store_exec(st, q.data, p, np, NULL, NULL);
        } else {
            kb_sval p2[7];
            p2[0] = KB_SV_INTV(mark_until);
            memcpy(p2 + 1, p, np * sizeof *p);
            kb_buf_printf(&q, "UPDATE intel_indicators SET valid_until = ? WHERE %s", where.data);
            rc = kb_store_exec(st, q.data, p2, np + 1, NULL, NULL);
        }
    }
    if (rc == KB_OK) {
        char nowbuf[40];
        kb_time_format(o->now, nowbuf, sizeof nowbuf);
        kb_buf_printf(&det, "{\"count\":%lld,\"now\":\"%s\"", (long long)n, nowbuf);
        if (o->older >= 0)
            kb_buf_printf(&det, ",\"older_s\":%lld", (long long)(o->older / KB_NS_PER_SEC));
        if (o->feed)
            kb_buf_printf(&det, ",\"feed\":\"%s\"", o->feed);
        if (kind)
            kb_buf_printf(&det, ",\"kind\":\"%s\"", kind);
        kb_buf_putc(&det, '}');
        kb_sval a[4] = {KB_SV_INTV(kb_time_now()), KB_SV_STRV("koban intel", 11),
                        KB_SV_STRV(o->purge ? "intel.purge" : "intel.expire",
                                   o->purge ? 11 : 12),
                        KB_SV_STRV(det.data, det.len)};
        rc = kb_store_exec(st,
                           "INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                           a, 4, NULL, NULL);
    }
    if (rc == KB_OK)
        rc = kb_store_commit(st);
    else
        kb_store_rollback(st);
out:
    if (rc) {
        fprintf(stderr, "koban intel expire: %s\n", kb_store_errmsg(st));
    } else if (o->purge) {
        fprintf(stderr, "%lld indicators purged (expired%s%s)\n", (long long)n,
                o->older >= 0 ? " or not seen for the given age" : "", "");
    } else {
        fprintf(stderr, "%lld indicators marked expired (kept, queryable, no longer matched)\n",
                (long long)n);
    }
    kb_buf_release(&where);
    kb_buf_release(&q);
    kb_buf_release(&det);
    return rc ? KB_EXIT_FAILURE : KB_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------ */

static int parse_age(const char *v, int64_t *out)
{
    return kb_hunt_duration(v, strlen(v), out);
}

int kb_cmd_intel(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("intel");
    static const char *const verbs[] = {"import", "list", "show", "expire", "feeds", "add",
                                        "export", "hunt", NULL};
    const char *verb, *args[256];
    int nargs = 0, status = KB_EXIT_OK, ok = 0, rc;
    opts o;
    kb_config cfg;
    kb_store *st = NULL;

    memset(&o, 0, sizeof o);
    o.confidence = -1;
    o.since = KB_TIME_NONE;
    o.valid_for = -1;
    o.older = -1;
    o.now = kb_time_now();
    o.out_fmt = -1;
    if (argc < 2)
        return kb_cmd_usage_error(cmd, "expected a sub-command");
    verb = argv[1];
    for (int i = 0; verbs[i]; i++)
        ok |= strcmp(verb, verbs[i]) == 0;
    if (!ok)
        return kb_cmd_usage_error(cmd, "unknown sub-command '%s'", verb);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                   \
    if (strcmp(a, name) == 0 && v) {       \
        field = v;                         \
        i++;                               \
        continue;                          \
    }
        OPT("--store", o.dsn) OPT("--format", o.format) OPT("--feed", o.feed)
        OPT("--columns", o.columns) OPT("--threat", o.threat) OPT("--kind", o.kind)
        OPT("--ref", o.ref) OPT("--name", o.name) OPT("--output", o.output)
        OPT("--user", o.user) OPT("--desc", o.desc)
#undef OPT
        if (strcmp(a, "--confidence") == 0 && v) {
            int64_t c;
            if (kb_parse_i64(v, strlen(v), &c) || c < 0 || c > 100)
                return kb_cmd_usage_error(cmd, "--confidence: expected 0-100, got '%s'", v);
            o.confidence = (int)c;
            i++;
        } else if (strcmp(a, "--older") == 0 && v) {
            if (parse_age(v, &o.older))
                return kb_cmd_usage_error(cmd, "--older: expected a duration like 90d, got '%s'",
                                          v);
            i++;
        } else if (strcmp(a, "--purge") == 0) {
            o.purge = 1;
        } else if ((strcmp(a, "--since") == 0 || strcmp(a, "--valid-for") == 0) && v) {
            int64_t d;
            if (parse_age(v, &d))
                return kb_cmd_usage_error(cmd, "%s: expected a duration like 30d, got '%s'", a,
                                          v);
            if (a[2] == 's')
                o.since = o.now - d;
            else
                o.valid_for = d;
            i++;
        } else if (strcmp(a, "--now") == 0 && v) {
            if (kb_time_parse_iso8601(v, strlen(v), &o.now))
                return kb_cmd_usage_error(cmd, "--now: expected an RFC 3339 time, got '%s'", v);
            i++;
        } else if (strcmp(a, "--sid-base") == 0 && v) {
            int64_t n;
            if (kb_parse_i64(v, strlen(v), &n) || n <= 0 || n >= UINT32_MAX)
                return kb_cmd_usage_error(cmd, "--sid-base: expected a positive number");
            o.sid_base = (uint32_t)n;
            i++;
        } else if (strcmp(a, "-o") == 0 && v) {
            if ((o.out_fmt = kb_out_parse(v)) < 0)
                return kb_cmd_usage_error(cmd, "-o: expected table, csv or jsonl");
            i++;
        } else if (strcmp(a, "--all") == 0) {
            o.all = 1;
        } else if (strcmp(a, "--include-expired") == 0) {
            o.include_expired = 1;
        } else if (a[0] == '-' && a[1]) {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        } else if (nargs < 256) {
            args[nargs++] = a;
        }
    }
    o.password = getenv("KOBAN_TAXII_PASSWORD");
    if ((!strcmp(verb, "import") || !strcmp(verb, "show") || !strcmp(verb, "add")) && !nargs)
        return kb_cmd_usage_error(cmd, "%s needs an argument", verb);
    if (!strcmp(verb, "export") && !o.format)
        return kb_cmd_usage_error(cmd, "export needs --format");
    if (!strcmp(verb, "add") && !o.feed)
        o.feed = "internal";
    if ((o.older >= 0 || o.purge) && strcmp(verb, "expire") != 0)
        return kb_cmd_usage_error(cmd, "--older and --purge are options of expire");
    if (o.kind && kb_intel_kind_find(o.kind, strlen(o.kind)) < 0)
        return kb_cmd_usage_error(cmd, "--kind: unknown kind '%s'", o.kind);
    if (kb_config_load(cli, &cfg) != KB_OK)
        return KB_EXIT_USAGE;
    o.allow = (const char *const *)cfg.intel.allow;
    o.nallow = cfg.intel.nallow;
    if (o.confidence < 0 && strcmp(verb, "add") != 0)
        o.confidence = cfg.intel.confidence;
    if (!o.sid_base) {
        o.sid_base = cfg.intel.sid_base;
        o.sid_max = cfg.intel.sid_max;
    }
    if (o.sid_base && !o.sid_max)
        o.sid_max = o.sid_base + 999999;
    if (!(st = kb_cmd_open_store(cli, o.dsn))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if ((rc = kb_intel_store_init(st))) {
        fprintf(stderr, "koban intel: %s\n", rc == KB_EIO ? kb_store_errmsg(st) : kb_strerror(rc));
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!strcmp(verb, "import")) {
        for (int i = 0; i < nargs; i++) {
            int s = import_one(st, &o, args[i]);
            if (s > status)
                status = s;
        }
    } else if (!strcmp(verb, "add")) {
        kb_intel_sink s;
        import_ctx x = {st, "intel add", o.now, 0, 0};
        kb_indicator meta = {.confidence = o.confidence >= 0 ? o.confidence : 90,
                             .threat = o.threat, .first_seen = o.now, .last_seen = o.now,
                             .valid_until = o.valid_for >= 0 ? o.now + o.valid_for : KB_TIME_NONE,
                             .ref = o.ref, .desc = o.desc, .feed = o.feed};
        int kind = o.kind ? kb_intel_kind_find(o.kind, strlen(o.kind)) : -1;
        if (o.kind && kind < 0) {
            status = kb_cmd_usage_error(cmd, "--kind: unknown kind '%s'", o.kind);
            goto out;
        }
        kb_intel_sink_init(&s);
        s.add = on_add;
        s.reject = on_reject;
        s.ud = &x;
        s.feed = o.feed;
        rc = kb_store_begin(st);
        for (int i = 0; i < nargs && rc == KB_OK; i++)
            rc = kb_intel_sink_add(&s, kind, args[i], strlen(args[i]), &meta, args[i]);
        if (rc == KB_OK)
            rc = kb_intel_store_feed(st, o.feed, "manual", "koban intel add", s.added, o.now);
        if (rc == KB_OK)
            rc = kb_store_commit(st);
        else
            kb_store_rollback(st);
        if (rc) {
            fprintf(stderr, "koban intel add: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        } else {
            printf("added %llu indicators to feed %s\n", (unsigned long long)s.added, o.feed);
            if (s.rejected)
                status = KB_EXIT_REJECTED;
        }
        kb_intel_sink_release(&s);
    } else if (!strcmp(verb, "expire") && (o.older >= 0 || o.purge)) {
        status = run_expire(st, &o);
    } else if (!strcmp(verb, "list") || !strcmp(verb, "expire") || !strcmp(verb, "show")) {
        list_ctx x;
        FILE *f = stdout;
        memset(&x, 0, sizeof x);
        x.o = &o;
        x.expired_only = !strcmp(verb, "expire");
        kb_out_init(&x.out, f, o.out_fmt >= 0 ? (kb_out_format)o.out_fmt : kb_out_default(f),
                    list_cols, 8);
        if (!strcmp(verb, "show")) {
            /* exact rows, plus what covers the value (ranges, wildcard domains) */
            char err[256];
            kb_intel_matcher *m = kb_intel_matcher_from_store(st, INT64_MIN + 1, NULL, 0, err,
                                                              sizeof err);
            if (!m) {
                fprintf(stderr, "koban intel show: %s\n", err);
                status = KB_EXIT_FAILURE;
            } else {
                for (int i = 0; i < nargs; i++) {
                    int n = kb_intel_lookup(m, -1, args[i], strlen(args[i]), show_hit, &x);
                    if (n <= 0) {
                        fprintf(stderr, "%s: no indicator\n", args[i]);
                        status = KB_EXIT_REJECTED;
                    }
                }
                kb_intel_matcher_free(m);
            }
        } else {
            rc = kb_intel_store_each(st, NULL, KB_TIME_NONE, list_row, &x);
            if (rc) {
                fprintf(stderr, "koban intel %s: %s\n", verb, kb_store_errmsg(st));
                status = KB_EXIT_FAILURE;
            }
        }
        kb_out_release(&x.out);
        if (x.expired_only)
            fprintf(stderr, "%llu expired indicators (kept, no longer matched)\n",
                    (unsigned long long)x.n);
    } else if (!strcmp(verb, "export")) {
        list_ctx x;
        const char *err;
        FILE *f = o.output ? fopen(o.output, "w") : stdout;
        uint64_t w = 0, sk = 0;
        kb_intel_export_opts eo = {o.format, o.name, o.sid_base, o.sid_max, o.now};
        if (!f) {
            fprintf(stderr, "koban intel export: cannot write %s\n", o.output);
            status = KB_EXIT_FAILURE;
            goto out;
        }
        memset(&x, 0, sizeof x);
        x.o = &o;
        if (!(x.x = kb_intel_export_begin(f, &eo, &err))) {
            status = kb_cmd_usage_error(cmd, "%s", err);
        } else {
            rc = kb_intel_store_each(st, NULL, KB_TIME_NONE, list_row, &x);
            kb_intel_export_end(x.x, &w, &sk);
            if (rc) {
                fprintf(stderr, "koban intel export: %s\n",
                        rc == KB_ELIMIT ? "the Suricata sid range is exhausted"
                                        : kb_store_errmsg(st));
                status = KB_EXIT_FAILURE;
            }
            fprintf(stderr, "exported %llu indicators as %s (%llu kinds the format cannot carry"
                            " skipped)\n",
                    (unsigned long long)w, o.format, (unsigned long long)sk);
        }
        if (o.output)
            fclose(f);
    } else if (!strcmp(verb, "feeds")) {
        static const kb_out_col cols[] = {{"feed", 24}, {"format", 8}, {"indicators", 10},
                                          {"updated", 20}, {"source", 0}};
        kb_out out;
        kb_out_init(&out, stdout,
                    o.out_fmt >= 0 ? (kb_out_format)o.out_fmt : kb_out_default(stdout),
                    cols, 5);
        rc = kb_store_exec(st,
                           "SELECT f.name, f.format, (SELECT COUNT(*) FROM intel_indicators i"
                           " WHERE i.feed = f.name), f.updated, f.source FROM intel_feeds f"
                           " ORDER BY f.name",
                           NULL, 0, feeds_row, &out);
        kb_out_release(&out);
        if (rc) {
            fprintf(stderr, "koban intel feeds: %s\n", kb_store_errmsg(st));
            status = KB_EXIT_FAILURE;
        }
    } else if (!strcmp(verb, "hunt")) {
        status = run_hunt(st, &o);
    }
out:
    kb_store_close(st);
    kb_config_release(&cfg);
    return status;
}
