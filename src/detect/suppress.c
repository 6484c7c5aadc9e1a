/* Suppression, rate limits and level overrides. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/yaml.h"
#include "detect/suppress.h"

static const char *const type_names[KB_SUP_TYPE_COUNT] = {"suppress", "limit", "level"};
static const char *const by_names[KB_SUP_BY_COUNT] = {"", "source", "destination", "host",
                                                      "user"};
static const char *const levels[] = {"informational", "low", "medium", "high", "critical",
                                     NULL};

const char *kb_suppress_type_name(int type)
{
    return type >= 0 && type < KB_SUP_TYPE_COUNT ? type_names[type] : "unknown";
}

int kb_suppress_type_parse(const char *s)
{
    for (int i = 0; i < KB_SUP_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return i;
    return -1;
}

const char *kb_suppress_by_name(int by)
{
    return by > 0 && by < KB_SUP_BY_COUNT ? by_names[by] : "";
}

int kb_suppress_by_parse(const char *s)
{
    for (int i = 1; i < KB_SUP_BY_COUNT; i++)
        if (strcmp(s, by_names[i]) == 0)
            return i;
    return -1;
}

/* A compiled entry: the copy, and the value as an address or network. */
typedef struct sentry {
    kb_suppress_entry e;
    int family; /* 0: compare as text; 4 / 6: address or network */
    uint8_t net[16];
    int prefix;
} sentry;

typedef struct lslot {
    uint64_t key;
    int64_t last;
} lslot;

struct kb_suppress {
    kb_arena *arena;
    sentry *v;
    size_t n, cap;
    lslot *cache;
    size_t cmask;
    kb_suppress_stats st;
};

kb_suppress *kb_suppress_new(size_t cache)
{
    kb_suppress *s = kb_calloc(1, sizeof *s);
    size_t n = 16;
    if (!s)
        return NULL;
    if (!cache)
        cache = 65536;
    while (n < cache && n < ((size_t)1 << 30))
        n *= 2;
    s->arena = kb_arena_new(4096, 16u << 20);
    s->cache = kb_calloc(n, sizeof *s->cache);
    s->cmask = n - 1;
    if (!s->arena || !s->cache) {
        kb_suppress_free(s);
        return NULL;
    }
    return s;
}

void kb_suppress_free(kb_suppress *s)
{
    if (!s)
        return;
    kb_free(s->v);
    kb_free(s->cache);
    kb_arena_free(s->arena);
    kb_free(s);
}

size_t kb_suppress_count(const kb_suppress *s)
{
    return s ? s->n : 0;
}

const kb_suppress_entry *kb_suppress_get(const kb_suppress *s, size_t i)
{
    return i < kb_suppress_count(s) ? &s->v[i].e : NULL;
}

void kb_suppress_stats_get(const kb_suppress *s, kb_suppress_stats *st)
{
    *st = s->st;
}

int kb_suppress_parse_duration(const char *s, size_t len, int64_t *ns)
{
    int64_t v, unit;
    if (len < 2)
        return KB_EPARSE;
    switch (s[len - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return KB_EPARSE;
    }
    if (kb_parse_i64(s, len - 1, &v) || v <= 0 || v > INT64_C(3650) * 86400 / unit)
        return KB_EPARSE;
    *ns = v * unit * KB_NS_PER_SEC;
    return KB_OK;
}

/* Parses an address ("10.1.2.3", "2001:db8::1") or a network. */
static int parse_net(const char *s, sentry *se)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    int64_t pfx;
    if (alen == 0 || alen >= sizeof buf)
        return 0;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, se->net) == 1)
        se->family = 4;
    else if (inet_pton(AF_INET6, buf, se->net) == 1)
        se->family = 6;
    else
        return 0;
    se->prefix = se->family == 4 ? 32 : 128;
    if (slash) {
        if (kb_parse_i64(slash + 1, strlen(slash + 1), &pfx) || pfx < 0 || pfx > se->prefix)
            return -1;
        se->prefix = (int)pfx;
    }
    return 1;
}

static int in_net(const sentry *se, const char *v)
{
    uint8_t a[16];
    int bits = se->prefix;
    if (se->family == 4 ? inet_pton(AF_INET, v, a) != 1 : inet_pton(AF_INET6, v, a) != 1)
        return 0;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (se->net[i] & mask))
            return 0;
    }
    return 1;
}

static const char *copy(kb_suppress *s, const char *p)
{
    return p ? kb_arena_strndup(s->arena, p, strlen(p)) : NULL;
}

int kb_suppress_add(kb_suppress *s, const kb_suppress_entry *e, const char **err)
{
    sentry se;
    memset(&se, 0, sizeof se);
    *err = NULL;
    if (!e->rule || !*e->rule)
        return *err = "an entry needs a rule (an id, a title, intel:FEED or '*')", KB_EINVAL;
    if (e->type < 0 || e->type >= KB_SUP_TYPE_COUNT)
        return *err = "type is suppress, limit or level", KB_EINVAL;
    if (e->by < 0 || e->by >= KB_SUP_BY_COUNT)
        return *err = "by is source, destination, host or user", KB_EINVAL;
    if (e->type == KB_SUP_LIMIT && (e->by == KB_SUP_BY_NONE || e->window <= 0))
        return *err = "a limit needs by (source, destination, host or user) and a window",
               KB_EINVAL;
    if (e->type == KB_SUP_LEVEL) {
        int ok = 0;
        for (int i = 0; levels[i]; i++)
            ok |= e->level && strcmp(e->level, levels[i]) == 0;
        if (!ok)
            return *err = "level is informational, low, medium, high or critical", KB_EINVAL;
    }
    if (e->type == KB_SUP_SUPPRESS && e->value && e->by == KB_SUP_BY_NONE)
        return *err = "a value needs by (source, destination, host or user)", KB_EINVAL;
    if (e->value && parse_net(e->value, &se) < 0)
        return *err = "bad network prefix", KB_EINVAL;
    se.e = *e;
    se.e.rule = copy(s, e->rule);
    se.e.value = copy(s, e->value);
    se.e.level = copy(s, e->level);
    se.e.reason = copy(s, e->reason);
    se.e.author = copy(s, e->author);
    if (!se.e.rule || (e->value && !se.e.value))
        return *err = "out of memory", KB_ENOMEM;
    if (kb_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v, 16))
        return *err = "out of memory", KB_ENOMEM;
    s->v[s->n++] = se;
    return KB_OK;
}

static int rule_matches(const kb_suppress_entry *e, const kb_suppress_alert *a)
{
    if (strcmp(e->rule, "*") == 0)
        return 1;
    return (a->rule_id && strcmp(e->rule, a->rule_id) == 0) ||
           (a->title && strcmp(e->rule, a->title) == 0);
}

static int value_matches(const sentry *se, const char *v)
{
    if (!se->e.value)
        return 1;
    if (!v)
        return 0;
    if (se->family)
        return in_net(se, v);
    return strcasecmp(se->e.value, v) == 0;
}

static uint64_t key_of(size_t entry, const char *v)
{
    uint64_t h = kb_hash(v, strlen(v));
    h ^= (uint64_t)(entry + 1) * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 31;
    return h ? h : 1;
}

int kb_suppress_check(kb_suppress *s, const kb_suppress_alert *a, kb_suppress_result *r)
{
    const sentry *limit_hit = NULL;
    memset(r, 0, sizeof *r);
    s->st.checked++;
    for (size_t i = 0; i < s->n; i++) {
        const sentry *se = &s->v[i];
        if (se->e.type == KB_SUP_LEVEL && !r->level && rule_matches(&se->e, a))
            r->level = se->e.level;
    }
    if (r->level)
        s->st.overridden++;
    for (size_t i = 0; i < s->n; i++) {
        const sentry *se = &s->v[i];
        if (se->e.type != KB_SUP_SUPPRESS || !rule_matches(&se->e, a))
            continue;
        if (se->e.by != KB_SUP_BY_NONE && !value_matches(se, a->value[se->e.by]))
            continue;
        r->verdict = KB_SUP_SUPPRESSED;
        r->entry = &se->e;
        s->st.suppressed++;
        return r->verdict;
    }
    for (size_t i = 0; i < s->n; i++) {
        const sentry *se = &s->v[i];
        const char *v;
        uint64_t k;
        lslot *sl;
        if (se->e.type != KB_SUP_LIMIT || !rule_matches(&se->e, a) ||
            !(v = a->value[se->e.by]))
            continue;
        k = key_of(i, v);
        sl = &s->cache[k & s->cmask];
        if (sl->key == k && a->ts != KB_TIME_NONE && sl->last != KB_TIME_NONE &&
            a->ts >= sl->last && a->ts - sl->last < se->e.window) {
            if (!limit_hit)
                limit_hit = se;
            continue;
        }
        if (sl->key && sl->key != k)
            s->st.overwritten++;
        sl->key = k;
        sl->last = a->ts;
    }
    if (limit_hit) {
        r->verdict = KB_SUP_LIMITED;
        r->entry = &limit_hit->e;
        s->st.limited++;
    }
    return r->verdict;
}

/* ---- configuration ---------------------------------------------------- */

static int bad(char *err, size_t errsize, uint32_t *line, uint32_t at, const char *reason)
{
    snprintf(err, errsize, "%s", reason);
    *line = at;
    return KB_EPARSE;
}

int kb_suppress_load_yaml(kb_suppress *s, const kb_yaml_node *list, char *err, size_t errsize,
                          uint32_t *line)
{
    static const char *const keys[] = {"rule", "type", "by", "value", "window", "level",
                                       "reason", NULL};
    if (!list || kb_yaml_is_null(list))
        return KB_OK;
    if (list->kind != KB_YAML_SEQ)
        return bad(err, errsize, line, list->line, "suppress must be a list of entries");
    for (size_t i = 0; i < list->n; i++) {
        const kb_yaml_node *m = list->items[i], *n;
        kb_suppress_entry e;
        const char *why;
        memset(&e, 0, sizeof e);
        e.expires = KB_TIME_NONE;
        e.author = "configuration";
        if (m->kind != KB_YAML_MAP)
            return bad(err, errsize, line, m->line, "a suppress entry must be a map");
        e.line = m->line;
        for (size_t k = 0; k < m->n; k++) {
            const kb_yaml_node *key = m->items[2 * k], *val = m->items[2 * k + 1];
            int ok = 0;
            for (const char *const *p = keys; *p; p++)
                ok |= key->kind == KB_YAML_SCALAR && strcmp(key->str, *p) == 0;
            if (!ok)
                return bad(err, errsize, line, key->line,
                           "unknown key (rule, type, by, value, window, level, reason)");
            if (val->kind != KB_YAML_SCALAR)
                return bad(err, errsize, line, val->line, "values must be scalars");
        }
        if ((n = kb_yaml_get(m, "rule")))
            e.rule = n->str;
        if ((n = kb_yaml_get(m, "type")) && (e.type = kb_suppress_type_parse(n->str)) < 0)
            return bad(err, errsize, line, n->line, "type is suppress, limit or level");
        if (!kb_yaml_get(m, "type") && kb_yaml_get(m, "window"))
            e.type = KB_SUP_LIMIT;
        if (!kb_yaml_get(m, "type") && kb_yaml_get(m, "level"))
            e.type = KB_SUP_LEVEL;
        if ((n = kb_yaml_get(m, "by")) && (e.by = kb_suppress_by_parse(n->str)) < 0)
            return bad(err, errsize, line, n->line, "by is source, destination, host or user");
        if ((n = kb_yaml_get(m, "value")))
            e.value = n->str;
        if ((n = kb_yaml_get(m, "window")) &&
            kb_suppress_parse_duration(n->str, n->len, &e.window))
            return bad(err, errsize, line, n->line, "window is a number and s, m, h, d or w");
        if ((n = kb_yaml_get(m, "level")))
            e.level = n->str;
        if ((n = kb_yaml_get(m, "reason")))
            e.reason = n->str;
        if (kb_suppress_add(s, &e, &why))
            return bad(err, errsize, line, m->line, why);
    }
    return KB_OK;
}
