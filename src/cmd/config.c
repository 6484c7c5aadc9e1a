/* Reading the configuration file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/yaml.h"
#include "cmd/config.h"
#include "detect/suppress.h"
#include "intel/intel.h"

static int fail(const char *path, uint32_t line, const char *reason)
{
    fprintf(stderr, "koban: %s:%u: %s\n", path, line, reason);
    return KB_EPARSE;
}

/* ingest.json.fields: { canonical: raw | [raw, ...] } */
static int load_json_fields(const char *path, const kb_yaml_node *fields, kb_config *cfg)
{
    size_t n = 0, bytes = 0, k = 0;
    char *p;

    if (fields->kind != KB_YAML_MAP)
        return fail(path, fields->line, "ingest.json.fields must be a mapping of canonical "
                                        "field to raw field names");
    for (size_t i = 0; i < fields->n; i++) {
        const kb_yaml_node *key = fields->items[2 * i], *val = fields->items[2 * i + 1];
        if (key->kind != KB_YAML_SCALAR || kb_canon_find(key->str, key->len) < 0)
            return fail(path, key->line, "not a canonical field name (see docs/formats.md)");
        if (val->kind == KB_YAML_SCALAR && val->len) {
            n++;
            bytes += val->len + 1;
        } else if (val->kind == KB_YAML_SEQ) {
            for (size_t j = 0; j < val->n; j++) {
                if (val->items[j]->kind != KB_YAML_SCALAR || !val->items[j]->len)
                    return fail(path, val->items[j]->line, "raw field names must be strings");
                n++;
                bytes += val->items[j]->len + 1;
            }
        } else {
            return fail(path, val->line, "expected a raw field name or a list of them");
        }
    }
    cfg->rows = kb_calloc(n, sizeof *cfg->rows);
    cfg->strings = p = kb_malloc(bytes);
    if (!cfg->rows || !cfg->strings)
        return KB_ENOMEM;
    for (size_t i = 0; i < fields->n; i++) {
        const kb_yaml_node *key = fields->items[2 * i], *val = fields->items[2 * i + 1];
        int canon = kb_canon_find(key->str, key->len);
        size_t m = val->kind == KB_YAML_SEQ ? val->n : 1;
        for (size_t j = 0; j < m; j++) {
            const kb_yaml_node *v = val->kind == KB_YAML_SEQ ? val->items[j] : val;
            memcpy(p, v->str, v->len);
            p[v->len] = '\0';
            cfg->rows[k].raw = p;
            cfg->rows[k].canon = canon;
            k++;
            p += v->len + 1;
        }
    }
    cfg->json_map.rows = cfg->rows;
    cfg->json_map.n = k;
    return KB_OK;
}

/* intel: { allowlist: [value, ...], suricata: {sid_base, sid_max},
 * default_confidence } */
static int load_intel(const char *path, const kb_yaml_node *intel, kb_config *cfg)
{
    kb_intel_config *ic = &cfg->intel;
    const kb_yaml_node *al, *sur, *conf;
    int64_t v;
    kb_buf norm;
    int rc = KB_OK;

    if (intel->kind != KB_YAML_MAP)
        return fail(path, intel->line, "intel must be a mapping");
    for (size_t i = 0; i < intel->n; i++) {
        const kb_yaml_node *key = intel->items[2 * i];
        if (key->kind != KB_YAML_SCALAR ||
            (strcmp(key->str, "allowlist") && strcmp(key->str, "suricata") &&
             strcmp(key->str, "default_confidence")))
            return fail(path, key->line, "unknown intel key (allowlist, suricata, "
                                         "default_confidence)");
    }
    sur = kb_yaml_get(intel, "suricata");
    if (sur && !kb_yaml_is_null(sur)) {
        const char *const keys[] = {"sid_base", "sid_max"};
        uint32_t *dst[] = {&ic->sid_base, &ic->sid_max};
        if (sur->kind != KB_YAML_MAP)
            return fail(path, sur->line, "intel.suricata must be a mapping (sid_base, sid_max)");
        for (size_t i = 0; i < sur->n; i++) {
            const kb_yaml_node *key = sur->items[2 * i];
            if (key->kind != KB_YAML_SCALAR ||
                (strcmp(key->str, "sid_base") && strcmp(key->str, "sid_max")))
                return fail(path, key->line, "unknown intel.suricata key (sid_base, sid_max)");
        }
        for (int k = 0; k < 2; k++) {
            const kb_yaml_node *n = kb_yaml_get(sur, keys[k]);
            if (!n)
                continue;
            if (!kb_yaml_int(n, &v) || v <= 0 || v >= UINT32_MAX)
                return fail(path, n->line, "a Suricata sid must be a positive 32-bit number");
            *dst[k] = (uint32_t)v;
        }
        if (ic->sid_max && ic->sid_max < (ic->sid_base ? ic->sid_base : 9100000))
            return fail(path, sur->line, "intel.suricata.sid_max is below sid_base");
    }
    conf = kb_yaml_get(intel, "default_confidence");
    if (conf && !kb_yaml_is_null(conf)) {
        if (!kb_yaml_int(conf, &v) || v < 0 || v > 100)
            return fail(path, conf->line, "intel.default_confidence must be 0-100");
        ic->confidence = (int)v;
    }
    al = kb_yaml_get(intel, "allowlist");
    if (!al || kb_yaml_is_null(al))
        return KB_OK;
    if (al->kind != KB_YAML_SEQ)
        return fail(path, al->line, "intel.allowlist must be a list of values, CIDRs and "
                                    "\"*.domains\"");
    if (!(ic->allow = kb_calloc(al->n ? al->n : 1, sizeof *ic->allow)))
        return KB_ENOMEM;
    kb_buf_init(&norm, 16384);
    for (size_t i = 0; i < al->n && rc == KB_OK; i++) {
        const kb_yaml_node *n = al->items[i];
        const char *reason = "allowlist entries must be values";
        int kind;
        if (n->kind != KB_YAML_SCALAR ||
            kb_intel_normalize(-1, n->str, n->len, &norm, &kind, &reason) != KB_OK) {
            char msg[160];
            snprintf(msg, sizeof msg, "intel.allowlist: %s", reason);
            rc = fail(path, n->line, msg);
        } else if (!(ic->allow[ic->nallow++] = kb_strdup(norm.data))) {
            rc = KB_ENOMEM;
        }
    }
    kb_buf_release(&norm);
    return rc;
}

/* store: { retention: { default: DAYS, PATH: DAYS, ... } } where DAYS is a
 * whole number of days, or `forever`. */
static int load_store(const char *path, const kb_yaml_node *store, kb_config *cfg)
{
    const kb_yaml_node *ret;
    if (store->kind != KB_YAML_MAP)
        return fail(path, store->line, "store must be a mapping (retention)");
    for (size_t i = 0; i < store->n; i++) {
        const kb_yaml_node *key = store->items[2 * i];
        if (key->kind != KB_YAML_SCALAR || strcmp(key->str, "retention") != 0)
            return fail(path, key->line, "unknown store key (retention)");
    }
    ret = kb_yaml_get(store, "retention");
    if (!ret || kb_yaml_is_null(ret))
        return KB_OK;
    if (ret->kind != KB_YAML_MAP)
        return fail(path, ret->line, "store.retention must be a mapping of source (a path or a"
                                     " directory, or 'default') to days");
    if (!(cfg->retention = kb_calloc(ret->n ? ret->n : 1, sizeof *cfg->retention)))
        return KB_ENOMEM;
    for (size_t i = 0; i < ret->n; i++) {
        const kb_yaml_node *key = ret->items[2 * i], *val = ret->items[2 * i + 1];
        kb_retention *r = &cfg->retention[cfg->nretention];
        int64_t days = 0;
        if (key->kind != KB_YAML_SCALAR || key->len == 0 || memchr(key->str, 0, key->len))
            return fail(path, key->line, "store.retention: a source path, a directory or"
                                         " 'default' expected");
        if (val->kind != KB_YAML_SCALAR ||
            !(strcmp(val->str, "forever") == 0 || (kb_yaml_int(val, &days) && days > 0 &&
                                                   days <= 100000)))
            return fail(path, val->line, "store.retention: a number of days (1-100000) or"
                                         " 'forever' expected");
        for (size_t k = 0; k < cfg->nretention; k++)
            if ((cfg->retention[k].source ? strcmp(cfg->retention[k].source, key->str) == 0
                                          : strcmp(key->str, "default") == 0))
                return fail(path, key->line, "store.retention: source named twice");
        if (strcmp(key->str, "default") != 0 && !(r->source = kb_strdup(key->str)))
            return KB_ENOMEM;
        r->days = days;
        cfg->nretention++;
    }
    return KB_OK;
}

/* detect: { fieldmap: FILE } */
static int load_detect(const char *path, const kb_yaml_node *det, kb_config *cfg)
{
    const kb_yaml_node *fm;
    kb_buf b;

    if (kb_yaml_is_null(det))
        return KB_OK;
    if (det->kind != KB_YAML_MAP)
        return fail(path, det->line, "detect must be a mapping");
    for (size_t i = 0; i < det->n; i++) {
        const kb_yaml_node *key = det->items[2 * i];
        if (key->kind != KB_YAML_SCALAR || strcmp(key->str, "fieldmap") != 0)
            return fail(path, key->line, "unknown key in detect (see config/koban.yaml)");
    }
    fm = kb_yaml_get(det, "fieldmap");
    if (!fm || kb_yaml_is_null(fm))
        return KB_OK;
    if (fm->kind != KB_YAML_SCALAR || fm->len == 0)
        return fail(path, fm->line, "detect.fieldmap must be a file name");
    kb_buf_init(&b, 0);
    if (fm->str[0] != '/' && strrchr(path, '/'))
        kb_buf_append(&b, path, (size_t)(strrchr(path, '/') - path) + 1);
    kb_buf_append(&b, fm->str, fm->len);
    if (!b.data)
        return KB_ENOMEM;
    cfg->fieldmap = b.data; /* the buffer's memory is handed over */
    return KB_OK;
}

/* correlation: { max_groups, max_window, lateness, overflow } */
/* correlation.generate: {rule: true|false, ...}, the rule by id, name or
 * title (whether it exists is known once the rules are loaded: the scan
 * reports one that is not there). */
static int load_correl_gen(const char *path, const kb_yaml_node *gen, kb_config *cfg)
{
    if (gen->kind != KB_YAML_MAP)
        return fail(path, gen->line, "correlation.generate must be a mapping of correlation "
                                     "rules (id, name or title) to true or false");
    if (gen->n && !(cfg->correl_gen = kb_calloc(gen->n, sizeof *cfg->correl_gen)))
        return fail(path, gen->line, "out of memory");
    for (size_t i = 0; i < gen->n; i++) {
        const kb_yaml_node *k = gen->items[2 * i], *v = gen->items[2 * i + 1];
        kb_correl_gen *g = &cfg->correl_gen[cfg->ncorrel_gen];
        int b;
        if (k->kind != KB_YAML_SCALAR || k->len == 0)
            return fail(path, k->line, "correlation.generate: a key must be a rule id, name or "
                                       "title");
        if (!kb_yaml_bool(v, &b))
            return fail(path, v->line, "correlation.generate: the value must be true or false");
        if (!(g->rule = kb_strndup(k->str, k->len)))
            return fail(path, k->line, "out of memory");
        g->generate = b;
        g->line = k->line;
        cfg->ncorrel_gen++;
    }
    cfg->correl.gen = cfg->correl_gen;
    cfg->correl.ngen = cfg->ncorrel_gen;
    cfg->correl.gen_path = cfg->path;
    return KB_OK;
}

static int load_correl(const char *path, const kb_yaml_node *corr, kb_config *cfg)
{
    static const char *const keys[] = {"max_groups", "max_window", "lateness", "overflow",
                                       "generate", NULL};
    kb_correl_opts *o = &cfg->correl;
    const kb_yaml_node *n;
    int64_t v;

    if (corr->kind != KB_YAML_MAP)
        return fail(path, corr->line, "correlation must be a mapping (max_groups, max_window, "
                                      "lateness, overflow, generate)");
    for (size_t i = 0; i < corr->n; i++) {
        const kb_yaml_node *key = corr->items[2 * i];
        int ok = 0;
        for (const char *const *k = keys; *k; k++)
            ok |= key->kind == KB_YAML_SCALAR && strcmp(key->str, *k) == 0;
        if (!ok)
            return fail(path, key->line, "unknown correlation key (max_groups, max_window, "
                                         "lateness, overflow, generate)");
    }
    if ((n = kb_yaml_get(corr, "max_groups")) && !kb_yaml_is_null(n)) {
        if (!kb_yaml_int(n, &v) || v < 1 || v > 100000000)
            return fail(path, n->line, "correlation.max_groups must be 1-100000000");
        o->max_groups = (size_t)v;
    }
    if ((n = kb_yaml_get(corr, "max_window")) && !kb_yaml_is_null(n)) {
        if (!kb_yaml_int(n, &v) || v < 1 || v > 1000000)
            return fail(path, n->line, "correlation.max_window must be 1-1000000");
        o->max_window = (size_t)v;
    }
    if ((n = kb_yaml_get(corr, "lateness")) && !kb_yaml_is_null(n)) {
        int64_t unit = 0;
        if (n->kind == KB_YAML_SCALAR && n->len >= 2) {
            switch (n->str[n->len - 1]) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            default: break;
            }
        }
        if (n->kind == KB_YAML_SCALAR && n->len == 1 && n->str[0] == '0')
            v = 0, unit = 1;
        else if (!unit || kb_parse_i64(n->str, n->len - 1, &v) || v < 0 || v > 86400 / unit)
            return fail(path, n->line, "correlation.lateness must be a duration up to a day "
                                       "(0, 30s, 5m, 1h)");
        o->lateness = v * unit * KB_NS_PER_SEC;
    }
    if ((n = kb_yaml_get(corr, "overflow")) && !kb_yaml_is_null(n)) {
        int pol = n->kind == KB_YAML_SCALAR ? kb_correl_overflow_parse(n->str) : -1;
        if (pol < 0)
            return fail(path, n->line, "correlation.overflow must be evict-oldest or drop-new");
        o->overflow = pol;
    }
    if ((n = kb_yaml_get(corr, "generate")) && !kb_yaml_is_null(n))
        return load_correl_gen(path, n, cfg);
    return KB_OK;
}

const kb_retention *kb_config_retention(const kb_config *cfg, const char *path)
{
    const kb_retention *best = NULL, *dflt = NULL;
    size_t best_len = 0, pl = strlen(path);
    for (size_t i = 0; i < cfg->nretention; i++) {
        const kb_retention *r = &cfg->retention[i];
        size_t n;
        if (!r->source) {
            dflt = r;
            continue;
        }
        n = strlen(r->source);
        while (n > 1 && r->source[n - 1] == '/')
            n--;
        if (n > pl || memcmp(path, r->source, n) != 0 ||
            (n < pl && path[n] != '/' && r->source[n - 1] != '/'))
            continue;
        if (!best || n > best_len) {
            best = r;
            best_len = n;
        }
    }
    return best ? best : dflt;
}

static void config_init(kb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->intel.confidence = -1;
    kb_correl_opts_default(&cfg->correl);
}

/* The configuration from its parsed YAML y (cfg->path set); frees y. */
static int config_from_yaml(kb_config *cfg, kb_yaml *y)
{
    const kb_yaml_node *root, *ingest, *json, *fields;
    int rc = KB_OK;

    if (kb_yaml_ndocs(y) > 1) {
        rc = fail(cfg->path, kb_yaml_doc(y, 1)->line, "one YAML document expected");
        goto out;
    }
    root = kb_yaml_ndocs(y) ? kb_yaml_doc(y, 0) : NULL;
    if (!root || kb_yaml_is_null(root))
        goto out;
    if (root->kind != KB_YAML_MAP) {
        rc = fail(cfg->path, root->line, "the configuration must be a mapping");
        goto out;
    }
    for (size_t i = 0; i < root->n; i++) {
        const kb_yaml_node *key = root->items[2 * i];
        static const char *const known[] = {"ingest",      "intel",  "suppress", "respond",
                                            "correlation", "detect", "store",    NULL};
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= key->kind == KB_YAML_SCALAR && strcmp(key->str, *k) == 0;
        if (!ok) {
            rc = fail(cfg->path, key->line, "unknown section (see config/koban.yaml)");
            goto out;
        }
    }
    ingest = kb_yaml_get(root, "ingest");
    json = kb_yaml_get(ingest, "json");
    fields = kb_yaml_get(json, "fields");
    if (fields && !kb_yaml_is_null(fields))
        rc = load_json_fields(cfg->path, fields, cfg);
    if (rc == KB_OK && kb_yaml_get(root, "intel") && !kb_yaml_is_null(kb_yaml_get(root, "intel")))
        rc = load_intel(cfg->path, kb_yaml_get(root, "intel"), cfg);
    if (rc == KB_OK && kb_yaml_get(root, "store") && !kb_yaml_is_null(kb_yaml_get(root, "store")))
        rc = load_store(cfg->path, kb_yaml_get(root, "store"), cfg);
    if (rc == KB_OK && kb_yaml_get(root, "correlation") &&
        !kb_yaml_is_null(kb_yaml_get(root, "correlation")))
        rc = load_correl(cfg->path, kb_yaml_get(root, "correlation"), cfg);
    if (rc == KB_OK && kb_yaml_get(root, "suppress")) { /* suppression (detect/suppress.h) */
        char why[200];
        uint32_t line = 0;
        if (!(cfg->suppress = kb_suppress_new(0)))
            rc = KB_ENOMEM;
        else if (kb_suppress_load_yaml(cfg->suppress, kb_yaml_get(root, "suppress"), why,
                                       sizeof why, &line))
            rc = fail(cfg->path, line, why);
    }
    if (rc == KB_OK && kb_yaml_get(root, "detect"))
        rc = load_detect(cfg->path, kb_yaml_get(root, "detect"), cfg);
    if (rc == KB_OK && kb_yaml_get(root, "respond")) { /* bindings (respond/respond.h) */
        char why[1024];
        if ((rc = kb_resp_bindings_parse(&cfg->respond, cfg->path, kb_yaml_get(root, "respond"),
                                         why, sizeof why)))
            fprintf(stderr, "koban: %s\n", why);
    }
out:
    kb_yaml_free(y);
    if (rc != KB_OK)
        kb_config_release(cfg);
    return rc;
}

/* After parsing (rc, y, err): the configuration, or the parse error. */
static int config_parsed(kb_config *cfg, int rc, kb_yaml *y, const kb_yaml_error *err)
{
    if (rc == KB_OK)
        return config_from_yaml(cfg, y);
    fail(cfg->path, err->line, err->reason ? err->reason : kb_strerror(rc));
    kb_yaml_free(y);
    kb_config_release(cfg);
    return rc;
}

int kb_config_load(const kb_cli *cli, kb_config *cfg)
{
    kb_yaml *y = NULL;
    kb_yaml_error err = {0};
    kb_buf path;
    int rc;

    config_init(cfg);
    kb_buf_init(&path, 4096);
    if (cli->config_path) {
        kb_buf_puts(&path, cli->config_path);
    } else {
        kb_buf_printf(&path, "%s/koban.yaml", cli->data_dir);
        if (access(path.data, R_OK) != 0) {
            kb_buf_release(&path);
            return KB_OK; /* no file: the defaults */
        }
    }
    cfg->path = path.data;
    rc = kb_yaml_parse_file(cfg->path, NULL, &y, &err);
    return config_parsed(cfg, rc, y, &err);
}

int kb_config_load_mem(const char *path, const char *text, size_t len, kb_config *cfg)
{
    kb_yaml *y = NULL;
    kb_yaml_error err = {0};
    int rc;

    config_init(cfg);
    if (!(cfg->path = kb_strdup(path)))
        return KB_ENOMEM;
    rc = kb_yaml_parse(text, len, NULL, &y, &err);
    return config_parsed(cfg, rc, y, &err);
}

void kb_config_release(kb_config *cfg)
{
    kb_free(cfg->path);
    kb_free(cfg->rows);
    kb_free(cfg->strings);
    kb_free(cfg->fieldmap);
    kb_suppress_free(cfg->suppress);
    for (size_t i = 0; i < cfg->nretention; i++)
        kb_free(cfg->retention[i].source);
    kb_free(cfg->retention);
    kb_resp_bindings_release(&cfg->respond);
    for (size_t i = 0; i < cfg->intel.nallow; i++)
        kb_free(cfg->intel.allow[i]);
    kb_free(cfg->intel.allow);
    for (size_t i = 0; i < cfg->ncorrel_gen; i++)
        kb_free((char *)cfg->correl_gen[i].rule);
    kb_free(cfg->correl_gen);
    memset(cfg, 0, sizeof *cfg);
    cfg->intel.confidence = -1;
    kb_correl_opts_default(&cfg->correl);
}
