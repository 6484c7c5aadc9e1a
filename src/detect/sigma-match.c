/* The reference evaluator: predicates over an event, rules over events.
 * Straightforward on purpose; a faster engine must agree with it. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "detect/sigma-int.h"

#define RE_MATCH_LIMIT 100000
#define RE_DEPTH_LIMIT 5000
#define RE_HEAP_LIMIT_KIB 8192

static _Atomic uint64_t re_limit_hits;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *re_mctx;
static _Thread_local pcre2_match_data *re_md;
/* Frees a thread's match data when the thread ends (scan's worker pool). */
static pthread_key_t re_key;
static int re_key_ok;

static void re_md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void re_init(void)
{
    re_key_ok = pthread_key_create(&re_key, re_md_free) == 0;
    re_mctx = pcre2_match_context_create(NULL);
    if (re_mctx) {
        pcre2_set_match_limit(re_mctx, RE_MATCH_LIMIT);
        pcre2_set_depth_limit(re_mctx, RE_DEPTH_LIMIT);
        pcre2_set_heap_limit(re_mctx, RE_HEAP_LIMIT_KIB);
    }
}

uint64_t kb_sigma_regex_limit_hits(void)
{
    return atomic_load(&re_limit_hits);
}

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int eq_fold(const char *a, const char *b, size_t n, int fold)
{
    if (!fold)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)b[i])
            return 0;
    return 1;
}

/* needle is already lower-cased when fold. */
static int find_fold(const char *h, size_t hlen, const char *n, size_t nlen, int fold)
{
    if (nlen == 0)
        return 1;
    if (!fold)
        return kb_memmem(h, hlen, n, nlen) != NULL;
    if (nlen > hlen)
        return 0;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (lower((unsigned char)h[i]) == (unsigned char)n[0] && eq_fold(h + i + 1, n + 1, nlen - 1, 1))
            return 1;
    return 0;
}

static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 1;
    return n <= len ? n : 1;
}

/* Bytes one token consumes at s, 0 on mismatch. */
static size_t match_one(uint16_t t, const unsigned char *s, size_t len, int fold)
{
    if (t < 256)
        return (fold ? lower(s[0]) : s[0]) == t ? 1 : 0;
    if (t == KB_SIGMA_TOK_QMARK)
        return utf8_len(s, len);
    if (t == KB_SIGMA_TOK_DASH) {
        if (s[0] == '-' || s[0] == '/')
            return 1;
        if (len >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x93 && s[2] <= 0x95)
            return 3;
    }
    return 0;
}

int sigma_glob(const uint16_t *tok, size_t nt, const char *subj, size_t len, int fold)
{
    const unsigned char *s = (const unsigned char *)subj;
    size_t p = 0, i = 0, sp = SIZE_MAX, si = 0;

    for (;;) {
        if (p < nt) {
            uint16_t t = tok[p];
            if (t == KB_SIGMA_TOK_STAR) {
                sp = p++;
                si = i;
                continue;
            }
            if (i < len) {
                size_t adv = match_one(t, s + i, len - i, fold);
                if (adv) {
                    p++;
                    i += adv;
                    continue;
                }
            }
        } else if (i == len) {
            return 1;
        }
        if (sp == SIZE_MAX || si >= len)
            return 0;
        i = ++si;
        p = sp + 1;
    }
}

int sigma_str_match(const kb_sigma_val *v, const char *s, size_t len, int fold)
{
    if (v->lit) {
        switch (v->anchor) {
        case 0:
            return len == v->litlen && eq_fold(s, v->lit, v->litlen, fold);
        case 1:
            return len >= v->litlen && eq_fold(s, v->lit, v->litlen, fold);
        case 2:
            return len >= v->litlen && eq_fold(s + len - v->litlen, v->lit, v->litlen, fold);
        default:
            return find_fold(s, len, v->lit, v->litlen, fold);
        }
    }
    return sigma_glob(v->tok, v->ntok, s, len, fold);
}

static int str_value_match(const kb_sigma_val *v, const kb_field *f, int fold)
{
    if (v->is_int && (f->type == KB_V_INT || f->type == KB_V_STR)) {
        int64_t x;
        if (kb_parse_i64(f->val, f->len, &x) == KB_OK)
            return x == v->ival;
    }
    return sigma_str_match(v, f->val, f->len, fold);
}

static int re_match(const kb_sigma_val *v, const kb_field *f)
{
    int rc;
    pthread_once(&re_once, re_init);
    if (!re_md) {
        if (!(re_md = pcre2_match_data_create(1, NULL)))
            return 0;
        if (re_key_ok)
            pthread_setspecific(re_key, re_md);
    }
    rc = pcre2_match((const pcre2_code *)v->re, (PCRE2_SPTR)f->val, f->len, 0, 0, re_md, re_mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        atomic_fetch_add(&re_limit_hits, 1);
    return 0;
}

static int cidr_match(const kb_sigma_val *v, const kb_field *f)
{
    char buf[64];
    uint8_t addr[16];
    const uint8_t *a = addr;
    size_t len = f->len;
    int fam;

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, f->val, len);
    buf[len] = 0;
    {
        char *pct = memchr(buf, '%', len); /* fe80::1%eth0 */
        if (pct)
            *pct = 0;
    }
    if (inet_pton(AF_INET, buf, addr) == 1) {
        fam = 4;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        fam = 6;
        if (v->family == 4 && memcmp(addr, mapped, 12) == 0) {
            fam = 4;
            a = addr + 12;
        }
    } else {
        return 0;
    }
    if (fam != v->family)
        return 0;
    for (unsigned b = 0; b < v->prefix; b += 8) {
        unsigned rem = v->prefix - b;
        uint8_t mask = rem >= 8 ? 0xff : (uint8_t)(0xff << (8 - rem));
        if ((a[b / 8] & mask) != v->net[b / 8])
            return 0;
    }
    return 1;
}

static int time_part(const kb_field *f, int part, double *out)
{
    int64_t t, secs, days, sod;
    int y;
    unsigned m, d;

    if (kb_time_parse_iso8601(f->val, f->len, &t) != KB_OK &&
        kb_time_parse_epoch(f->val, f->len, &t) != KB_OK)
        return 0;
    secs = t / KB_NS_PER_SEC - (t % KB_NS_PER_SEC < 0 ? 1 : 0);
    days = secs / 86400 - (secs % 86400 < 0 ? 1 : 0);
    sod = secs - days * 86400;
    kb_civil_from_days(days, &y, &m, &d);
    switch (part - 1) {
    case KB_SM_MINUTE_BIT: *out = (double)(sod / 60 % 60); break;
    case KB_SM_HOUR_BIT: *out = (double)(sod / 3600); break;
    case KB_SM_DAY_BIT: *out = d; break;
    case KB_SM_MONTH_BIT: *out = m; break;
    case KB_SM_YEAR_BIT: *out = y; break;
    case KB_SM_WEEK_BIT: {
        /* ISO 8601: the week holding the year's first Thursday is week 1. */
        int64_t wd = ((days + 3) % 7 + 7) % 7; /* Monday 0; 1970-01-01 was a Thursday */
        int64_t thu = days - wd + 3;
        int ty;
        unsigned tm, td;
        kb_civil_from_days(thu, &ty, &tm, &td);
        *out = (double)((thu - kb_days_from_civil(ty, 1, 1)) / 7 + 1);
        break;
    }
    default:
        return 0;
    }
    return 1;
}

static int num_match(const kb_sigma_pred *p, const kb_sigma_val *v, const kb_field *f)
{
    double x;
    if (p->timepart) {
        if (!time_part(f, p->timepart, &x))
            return 0;
    } else if (sigma_number(f->val, f->len, &x) != KB_OK) {
        return 0;
    }
    switch (p->cmp) {
    case KB_SV_CMP_LT: return x < v->num;
    case KB_SV_CMP_LTE: return x <= v->num;
    case KB_SV_CMP_GT: return x > v->num;
    case KB_SV_CMP_GTE: return x >= v->num;
    default: return x == v->num;
    }
}

static const kb_field *field_get(const kb_event *ev, kb_fid id, const char *name);

static int fieldref_match(const kb_sigma_pred *p, const kb_sigma_val *v, const kb_field *f,
                          const kb_event *ev)
{
    const kb_field *r = field_get(ev, v->ref, v->lit);
    int fold = !p->cased;
    if (!r || r->type == KB_V_NULL || r->type == KB_V_ARRAY || r->type == KB_V_OBJECT)
        return 0;
    if (p->mods & KB_SM(CONTAINS)) {
        if (!fold)
            return kb_memmem(f->val, f->len, r->val, r->len) != NULL;
        for (size_t i = 0; i + r->len <= f->len; i++) {
            size_t k = 0;
            while (k < r->len && lower((unsigned char)f->val[i + k]) == lower((unsigned char)r->val[k]))
                k++;
            if (k == r->len)
                return 1;
        }
        return 0;
    }
    if (f->len < r->len || (!(p->mods & (KB_SM(STARTSWITH) | KB_SM(ENDSWITH))) && f->len != r->len))
        return 0;
    {
        const char *a = p->mods & KB_SM(ENDSWITH) ? f->val + f->len - r->len : f->val;
        for (size_t k = 0; k < r->len; k++) {
            unsigned char x = (unsigned char)a[k], y = (unsigned char)r->val[k];
            if (fold ? lower(x) != lower(y) : x != y)
                return 0;
        }
    }
    return 1;
}

/* Windows renders some EventData names with spaces ("Source Name") where
 * Sigma rules write them without ("SourceName"): when the event has no field
 * under the rule's name, a field whose name is the rule's name once its
 * spaces are removed stands in. */
int sigma_eq_nospace(const char *ev_name, size_t elen, const char *rule_name)
{
    size_t j = 0;
    int spaced = 0;
    for (size_t i = 0; i < elen; i++) {
        if (ev_name[i] == ' ') {
            spaced = 1;
            continue;
        }
        if (rule_name[j] == 0 || rule_name[j] != ev_name[i])
            return 0;
        j++;
    }
    return spaced && rule_name[j] == 0;
}

/* Iterates the instances of a rule field: *alt starts at 0. */
static const kb_field *inst_next(const kb_event *ev, kb_fid id, const char *name,
                                 const kb_field *prev, int *alt)
{
    uint32_t i;
    if (!*alt) {
        const kb_field *f = kb_event_next(ev, id, prev);
        if (f || prev || !name)
            return f;
        *alt = 1;
        i = 0;
    } else {
        i = (uint32_t)(prev - ev->fields) + 1;
    }
    for (; i < ev->nfields; i++) {
        size_t nlen;
        const char *n = kb_names_str(ev->names, ev->fields[i].name, &nlen);
        if (n && memchr(n, ' ', nlen) && sigma_eq_nospace(n, nlen, name))
            return &ev->fields[i];
    }
    return NULL;
}

static const kb_field *field_get(const kb_event *ev, kb_fid id, const char *name)
{
    int alt = 0;
    return inst_next(ev, id, name, NULL, &alt);
}

/* One value against the field instances of the event. */
static int value_hit(const kb_sigma_pred *p, const kb_sigma_val *v, const kb_event *ev)
{
    const kb_field *f = NULL;
    int any = 0, alt = 0;

    if (v->never)
        return 0;
    if (p->field == KB_FID_NONE) {
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const kb_field *k = &ev->fields[i];
            if (k->type == KB_V_STR || k->type == KB_V_INT || k->type == KB_V_FLOAT ||
                k->type == KB_V_BOOL)
                if (str_value_match(v, k, !p->cased))
                    return 1;
        }
        return 0;
    }
    while ((f = inst_next(ev, p->field, p->field_name, f, &alt)) != NULL) {
        if (f->type == KB_V_ARRAY || f->type == KB_V_OBJECT)
            continue;
        any = 1;
        if (f->type == KB_V_NULL) {
            if (v->isnull)
                return 1;
            continue;
        }
        if (v->isnull)
            continue;
        switch (p->kind) {
        case KB_SP_STR:
            if (str_value_match(v, f, !p->cased))
                return 1;
            break;
        case KB_SP_RE:
            if (re_match(v, f))
                return 1;
            break;
        case KB_SP_CIDR:
            if (cidr_match(v, f))
                return 1;
            break;
        case KB_SP_NUM:
            if (num_match(p, v, f))
                return 1;
            break;
        case KB_SP_FIELDREF:
            if (fieldref_match(p, v, f, ev))
                return 1;
            break;
        default:
            break;
        }
    }
    return !any && v->isnull;
}

int kb_sigma_pred_match(const kb_sigma_pred *p, const kb_event *ev)
{
    int r;

    if (p->kind == KB_SP_EXISTS) {
        r = (p->field != KB_FID_NONE && field_get(ev, p->field, p->field_name) != NULL) ==
            (p->vals[0].want != 0);
        return p->neq ? !r : r;
    }
    if (p->all) {
        /* AND over groups, OR within a group (values sorted by group). */
        uint32_t i = 0;
        r = 1;
        while (i < p->nvals && r) {
            uint32_t g = p->vals[i].group;
            int gr = 0;
            for (; i < p->nvals && p->vals[i].group == g; i++)
                if (!gr && value_hit(p, &p->vals[i], ev))
                    gr = 1;
            r = gr;
        }
    } else {
        r = 0;
        for (uint32_t i = 0; i < p->nvals && !r; i++)
            r = value_hit(p, &p->vals[i], ev);
    }
    return p->neq ? !r : r;
}

int kb_rule_match(const kb_rule *r, const kb_event *ev)
{
    uint8_t hits[SIGMA_MAX_PREDS];
    for (size_t i = 0; i < r->npreds; i++)
        hits[i] = (uint8_t)kb_sigma_pred_match(&r->preds[i], ev);
    return kb_sigma_program_eval(r->prog, r->nops, hits);
}

static int ls_eq(const char *rule, const char *ev)
{
    return ev && kb_str_ieqz(rule, strlen(rule), ev);
}

int kb_rule_logsource_applies(const kb_rule *r, const kb_logsource *ls)
{
    const kb_logsource *rl = &r->meta.ls;
    if (rl->product && !ls_eq(rl->product, ls->product))
        return 0;
    if (rl->service && !ls_eq(rl->service, ls->service))
        return 0;
    if (rl->category && !ls_eq(rl->category, ls->category)) {
        static const char *const reg[] = {"registry_add", "registry_set", "registry_rename",
                                          "registry_delete"};
        int ok = 0;
        if (ls->category && kb_str_ieqz(rl->category, strlen(rl->category), "registry_event"))
            for (size_t i = 0; i < 4; i++)
                ok |= kb_str_ieqz(ls->category, strlen(ls->category), reg[i]);
        if (!ok)
            return 0;
    }
    return 1;
}

size_t kb_ruleset_match(const kb_ruleset *rs, const kb_event *ev, int check_ls,
                        kb_rule_match_fn fn, void *ud)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const kb_rule *r = rs->rules[i];
        if (check_ls && !kb_rule_logsource_applies(r, &ev->ls))
            continue;
        if (!kb_rule_match(r, ev))
            continue;
        n++;
        if (fn && fn(ud, r, ev))
            break;
    }
    return n;
}
