/* koban scan: decode a pile of collected logs, run every Sigma rule over
 * every event, and print a timeline of the alerts.
 *
 * Files are scanned in parallel by a pool of workers (-j), each with its
 * own reader and matcher scratch; the ruleset (and the engine compiled from
 * it) is shared read-only. Large plain files are split at line boundaries
 * into parts that several threads decode (plan_jobs); with still fewer jobs
 * than threads, the spare threads help the readers: each batch is cut into
 * slices matched at once. Alerts are copied out of the batch (its memory is
 * reused) and sorted at the end by event time, then file, line and rule, so
 * the output is the same whatever the number of threads. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/scan-int.h"


static const kb_out_col table_cols[] = {
    {"TIME", 24}, {"HOST", 20}, {"LEVEL", 8}, {"RULE", 40}, {"AUTHOR", 18}, {"FIELDS", 0},
};
static const kb_out_col csv_cols[] = {
    {"time", 0},    {"host", 0},   {"level", 0}, {"rule", 0},        {"fields", 0},
    {"rule_id", 0}, {"author", 0}, {"file", 0},  {"line", 0},
};

/* ---- the matcher: engine or reference evaluator ------------------------ */

struct hit_ctx {
    worker *w;
    const kb_event *ev;
};

static void keep_alert(worker *w, const kb_rule *r, const kb_event *ev);
static int on_intel_hit(void *ud, const kb_intel_hit *hit);

static int on_hit(const kb_rule *rule, const kb_event *ev, void *ud)
{
    struct hit_ctx *h = ud;
    keep_alert(h->w, rule, ev);
    return 0;
}

static int on_ref_hit(void *ud, const kb_rule *r, const kb_event *ev)
{
    return on_hit(r, ev, ud);
}

/* ---- alerts ------------------------------------------------------------ */

static const char *arena_copy(worker *w, const char *s, size_t len)
{
    char *p = kb_arena_strndup(w->arena, s, len);
    if (!p)
        w->oom = 1;
    return p;
}

static size_t ri_slot(const rule_index *ri, const kb_rule *r)
{
    return (size_t)(((uintptr_t)r >> 4) * 2654435761u) & (ri->slots - 1);
}

static int rule_index_build(rule_index *ri, const kb_ruleset *rs)
{
    size_t n = kb_ruleset_count(rs), slots = 16;
    while (slots < 2 * n + 1)
        slots *= 2;
    ri->keys = kb_calloc(slots, sizeof *ri->keys);
    ri->vals = kb_calloc(slots, sizeof *ri->vals);
    ri->slots = slots;
    if (!ri->keys || !ri->vals)
        return KB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const kb_rule *r = kb_ruleset_rule(rs, i);
        size_t h = ri_slot(ri, r);
        while (ri->keys[h])
            h = (h + 1) & (slots - 1);
        ri->keys[h] = r;
        ri->vals[h] = (uint32_t)i;
    }
    return KB_OK;
}

static uint32_t rule_index_of(const rule_index *ri, const kb_rule *r)
{
    size_t h = ri_slot(ri, r);
    while (ri->keys[h] && ri->keys[h] != r)
        h = (h + 1) & (ri->slots - 1);
    return ri->keys[h] ? ri->vals[h] : 0;
}

static void rule_index_release(rule_index *ri)
{
    kb_free(ri->keys);
    kb_free(ri->vals);
    memset(ri, 0, sizeof *ri);
}

/* correlation: keeps the values the correlation rules read from ev; a
 * hidden input is complete here (returns 1: no matched fields needed). */
static int keep_correl_input(worker *w, alert *a, const kb_rule *r, const kb_event *ev, int hide)
{
    kb_buf_clear(&w->text);
    if (kb_correl_pack(w->sc->corr, r, ev, &w->text) == KB_OK) {
        a->corr = arena_copy(w, w->text.data ? w->text.data : "", w->text.len);
        a->corr_len = (uint32_t)w->text.len;
    }
    a->hide = (uint8_t)hide;
    if (!hide)
        return 0;
    a->fields = "";
    if (w->oom)
        atomic_fetch_add(&w->sc->dropped, 1);
    else
        w->n++;
    return 1;
}

/* --triage: what triage reads of the alert's event, kept now (the event's
 * memory is reused); a failure is counted like an alert past a cap. */
static void keep_triage(worker *w, alert *a, const char *id, const char *title, int level,
                        const char *const *tags, const kb_event *ev)
{
    if (kb_triage_alerts_add_event(w->tri, id, title, level, tags, ev) != KB_OK) {
        atomic_fetch_add(&w->sc->dropped, 1);
        return;
    }
    a->tri = (uint32_t)kb_triage_alerts_count(w->tri);
    a->wk = (uint16_t)(w - w->sc->w);
}

/* The next alert of w's list, zeroed, with ev's time, place, stored id and
 * host, and the suppression keys when suppressing; the caller completes it
 * and counts it (w->n++). NULL, counted as dropped, at SCAN_MAX_ALERTS or
 * out of memory. */
static alert *alert_new(worker *w, const kb_event *ev)
{
    scan *sc = w->sc;
    const kb_field *f;
    alert *a;

    if (w->oom || atomic_fetch_add(&sc->kept, 1) >= SCAN_MAX_ALERTS) {
        atomic_fetch_add(&sc->dropped, 1);
        return NULL;
    }
    if (w->n == w->cap && /* per alert: no call until full */
        kb_grow((void **)&w->alerts, &w->cap, w->n + 1, sizeof *w->alerts, 256)) {
        w->oom = 1;
        atomic_fetch_add(&sc->dropped, 1);
        return NULL;
    }
    a = &w->alerts[w->n];
    memset(a, 0, sizeof *a);
    a->ts = ev->ts;
    a->line = ev->line;
    a->file = w->cur;
    a->event_id = w->cur_ids ? w->cur_ids[ev - w->cur_base] : 0;
    f = kb_event_canon(ev, KB_F_HOST_NAME);
    a->host = f ? arena_copy(w, f->val, f->len) : "";
    if (sc->sup) { /* suppression keys */
        if ((f = kb_event_canon(ev, KB_F_SOURCE_IP)))
            a->src = arena_copy(w, f->val, f->len);
        if ((f = kb_event_canon(ev, KB_F_DESTINATION_IP)))
            a->dst = arena_copy(w, f->val, f->len);
        if ((f = kb_event_canon(ev, KB_F_USER_NAME)))
            a->user = arena_copy(w, f->val, f->len);
    }
    return a;
}

/* The source event as JSON in w's arena, made once per record: the alerts
 * of one record share it (a record that fires ten rules is kept once). */
static const char *event_json(worker *w, const kb_event *ev)
{
    if (w->ev_json && w->ev_file == w->cur && w->ev_off == ev->offset && w->ev_line == ev->line)
        return w->ev_json;
    kb_buf_clear(&w->ev);
    kb_event_to_json(ev, 1, &w->ev);
    w->ev_json = arena_copy(w, w->ev.data, w->ev.len);
    w->ev_file = w->cur;
    w->ev_off = ev->offset;
    w->ev_line = ev->line;
    return w->ev_json;
}

static void keep_alert(worker *w, const kb_rule *r, const kb_event *ev)
{
    scan *sc = w->sc;
    uint32_t idx = rule_index_of(&sc->ri, r);
    alert *a;
    /* correlation: an input is kept even below --min-level, and not shown
     * when no correlation referencing it says generate: true */
    int feeds = sc->corr && kb_correl_wants(sc->corr, r);
    int hide = sc->rule_level[idx] < sc->min_level ||
               (feeds && !kb_correl_generates(sc->corr, r));

    if (hide && (!feeds || sc->corr_off))
        return;
    if (!hide)
        w->level_count[sc->rule_level[idx]]++;
    if (!(a = alert_new(w, ev)))
        return;
    a->rule = idx;
    if (feeds && !sc->corr_off && keep_correl_input(w, a, r, ev, hide))
        return;
    kb_buf_clear(&w->text);
    kb_buf_clear(&w->json);
    kb_alert_matched(r, ev, &w->text, sc->fmt == KB_OUT_JSONL ? &w->json : NULL);
    a->fields = arena_copy(w, w->text.data, w->text.len);
    if (sc->fmt == KB_OUT_JSONL) {
        a->json = arena_copy(w, w->json.data, w->json.len);
        a->event = event_json(w, ev);
    }
    if (w->oom) {
        atomic_fetch_add(&sc->dropped, 1);
        return;
    }
    if (sc->triage) {
        const kb_rule_meta *m = kb_rule_meta_of(r);
        keep_triage(w, a, m->id, m->title, sc->rule_level[idx], m->tags, ev);
    }
    w->n++;
}

/* ---- intel: an indicator hit is an alert ------------------------------- */

static const char *const no_list[] = {NULL};

static void put_json_kv(kb_buf *b, const char *key, const char *val, size_t len)
{
    kb_buf_printf(b, ",\"%s\":", key);
    kb_json_put_str(b, val, len);
}

/* Keeps one hit (one indicator of one feed on one field of ev). */
static void keep_intel(worker *w, const kb_intel_hit *hit, const kb_event *ev)
{
    scan *sc = w->sc;
    const kb_indicator *ind = hit->ind;
    const char *feed = ind->feed ? ind->feed : "";
    const char *kind = kb_intel_kind_name(ind->kind);
    int level = kb_level_parse(hit->level);
    intel_info *ii;
    alert *a;

    if (level < 0)
        level = KB_LEVEL_MEDIUM;
    if (level < sc->min_level)
        return;
    w->level_count[level]++;
    if (!(a = alert_new(w, ev)))
        return;
    if (!(ii = kb_arena_alloc(w->arena, sizeof *ii))) {
        w->oom = 1;
        atomic_fetch_add(&sc->dropped, 1);
        return;
    }
    memset(ii, 0, sizeof *ii);
    ii->threat = ind->threat;
    ii->confidence = ind->confidence;
    ii->level = level;
    ii->meta.level = kb_level_name(level);
    ii->meta.author = feed; /* the matcher's string: lives as long as the scan */
    ii->refs[0] = ind->ref; /* the matcher's strings live as long as the scan */
    ii->meta.references = ind->ref ? ii->refs : no_list;
    ii->meta.falsepositives = no_list;
    /* id, title, tags */
    kb_buf_clear(&w->text);
    kb_buf_printf(&w->text, "intel:%s", feed);
    ii->meta.id = arena_copy(w, w->text.data, w->text.len);
    kb_buf_clear(&w->text);
    kb_buf_printf(&w->text, "Threat intel %s %s (%s, confidence %d, %s)", kind, ind->value,
                  ind->threat ? ind->threat : "-", ind->confidence,
                  ind->ref ? ind->ref : "no reference");
    ii->meta.title = arena_copy(w, w->text.data, w->text.len);
    ii->tags[0] = "intel";
    kb_buf_clear(&w->text);
    kb_buf_printf(&w->text, "intel.kind.%s", kind);
    ii->tags[1] = arena_copy(w, w->text.data, w->text.len);
    if (ind->threat) {
        kb_buf_clear(&w->text);
        kb_buf_printf(&w->text, "intel.threat.%s", ind->threat);
        ii->tags[2] = arena_copy(w, w->text.data, w->text.len);
    }
    ii->meta.tags = ii->tags;
    a->rule = INTEL_RULE;
    a->intel = ii;
    kb_buf_clear(&w->text);
    kb_buf_printf(&w->text, "%s: ", hit->fname);
    kb_buf_append(&w->text, hit->val, hit->len);
    kb_buf_printf(&w->text, " | feed: %s | threat: %s | confidence: %d", feed,
                  ind->threat ? ind->threat : "-", ind->confidence);
    a->fields = arena_copy(w, w->text.data, w->text.len);
    if (sc->fmt == KB_OUT_JSONL) {
        kb_buf_clear(&w->json);
        kb_buf_putc(&w->json, '{');
        kb_json_put_str(&w->json, hit->fname, strlen(hit->fname));
        kb_buf_putc(&w->json, ':');
        kb_json_put_str(&w->json, hit->val, hit->len);
        kb_buf_putc(&w->json, '}');
        a->json = arena_copy(w, w->json.data, w->json.len);
        kb_buf_clear(&w->json);
        put_json_kv(&w->json, "threat.feed.name", feed, strlen(feed));
        put_json_kv(&w->json, "threat.indicator.kind", kind, strlen(kind));
        put_json_kv(&w->json, "threat.indicator.value", ind->value, strlen(ind->value));
        if (ind->threat)
            put_json_kv(&w->json, "threat.indicator.type", ind->threat, strlen(ind->threat));
        if (ind->confidence >= 0)
            kb_buf_printf(&w->json, ",\"threat.indicator.confidence\":%d", ind->confidence);
        if (ind->ref)
            put_json_kv(&w->json, "threat.indicator.reference", ind->ref, strlen(ind->ref));
        put_json_kv(&w->json, "threat.indicator.matched.field", hit->fname, strlen(hit->fname));
        ii->json = arena_copy(w, w->json.data, w->json.len);
        a->event = event_json(w, ev);
    }
    if (w->oom) {
        atomic_fetch_add(&sc->dropped, 1);
        return;
    }
    if (sc->triage)
        keep_triage(w, a, ii->meta.id, ii->meta.title, level, ii->meta.tags, ev);
    w->n++;
}

static int on_intel_hit(void *ud, const kb_intel_hit *hit)
{
    struct hit_ctx *h = ud;
    keep_intel(h->w, hit, h->ev);
    return 0;
}

/* ---- workers ----------------------------------------------------------- */

/* Matches events [from, to) of a batch. */
static void match_slice(worker *w, const kb_batch *batch, size_t from, size_t to)
{
    scan *sc = w->sc;
    struct hit_ctx h = {w, NULL};

    for (size_t i = from; i < to; i++) {
        const kb_event *ev = &batch->events[i];
        h.ev = ev;
        if (sc->eng)
            kb_engine_match(sc->eng, w->scratch, ev, on_hit, &h);
        else
            kb_ruleset_match(sc->rs, ev, 1, on_ref_hit, &h);
        if (sc->intel)
            kb_intel_scan_match(sc->intel, ev, on_intel_hit, &h, &w->icounts);
    }
}

/* Slice k of n over len items. */
static size_t slice_at(size_t len, int k, int n)
{
    return len * (size_t)k / (size_t)n;
}

static void *helper_main(void *ud)
{
    worker *w = ud;
    team *t = w->team;
    uint64_t seen = 0;

    pthread_mutex_lock(&t->mu);
    for (;;) {
        const kb_batch *b;
        int me = 0, n;
        while (!t->quit && t->gen == seen)
            pthread_cond_wait(&t->go, &t->mu);
        if (t->quit)
            break;
        seen = t->gen;
        b = t->batch;
        w->cur = t->file;
        w->cur_base = b->events;
        w->cur_ids = t->ids;
        n = t->nh + 1;
        for (int k = 0; k < t->nh; k++)
            if (t->h[k] == w)
                me = k + 1; /* slice 0 is the reader's */
        pthread_mutex_unlock(&t->mu);
        match_slice(w, b, slice_at(b->n, me, n), slice_at(b->n, me + 1, n));
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static int on_batch(const kb_batch *batch, void *ud)
{
    worker *w = ud;
    scan *sc = w->sc;
    team *t = w->team;
    uint64_t done;

    w->cur_base = batch->events;
    w->cur_ids = NULL;
    if (sc->store && batch->n && !atomic_load(&sc->store_failed)) {
        /* Store first, so alerts can name their events. */
        if (batch->n > w->ids_cap) {
            int64_t *ni = kb_realloc(w->ids, batch->n * sizeof *ni);
            if (!ni) {
                w->oom = 1;
                return KB_ENOMEM;
            }
            w->ids = ni;
            w->ids_cap = batch->n;
        }
        pthread_mutex_lock(&sc->store_mu);
        if (kb_store_put_batch(sc->store, batch, w->ids, NULL) != KB_OK) {
            if (!atomic_exchange(&sc->store_failed, 1))
                fprintf(stderr, "koban scan: store: %s; storing stopped, detection goes on\n",
                        kb_store_errmsg(sc->store));
        } else {
            uint64_t n = 0;
            for (size_t k = 0; k < batch->n; k++)
                n += w->ids[k] != 0;
            atomic_fetch_add(&sc->stored, n);
            w->cur_ids = w->ids;
        }
        pthread_mutex_unlock(&sc->store_mu);
    }
    if (t && batch->n > (size_t)t->nh) {
        pthread_mutex_lock(&t->mu);
        t->batch = batch;
        t->ids = w->cur_ids;
        t->file = w->cur;
        t->pending = t->nh;
        t->gen++;
        pthread_cond_broadcast(&t->go);
        pthread_mutex_unlock(&t->mu);
        match_slice(w, batch, 0, slice_at(batch->n, 1, t->nh + 1));
        pthread_mutex_lock(&t->mu);
        while (t->pending > 0)
            pthread_cond_wait(&t->done, &t->mu);
        pthread_mutex_unlock(&t->mu);
    } else {
        match_slice(w, batch, 0, batch->n);
    }
    if (batch->n) {
        /* progress: the offset reached in this file (decompressed for .gz,
         * so bounded by the file's size) */
        done = batch->events[batch->n - 1].offset + batch->events[batch->n - 1].raw_len;
        if (done > w->cur_end)
            done = w->cur_end;
        if (done > w->cur_done) {
            atomic_fetch_add(&sc->bytes_done, done - w->cur_done);
            w->cur_done = done;
        }
    }
    return 0;
}

static void on_source(const char *path, const kb_decoder *dec, const kb_ingest_stats *st, int rc,
                      void *ud)
{
    worker *w = ud;
    (void)path, (void)dec, (void)st;
    if (rc == KB_OK)
        return;
    if (rc == KB_EFORMAT && w->sc->files[w->cur].from_dir)
        w->unrecognised++; /* a stray non-log file in a directory: noted, not fatal */
    else
        w->failed_sources++;
}

static void *worker_main(void *ud)
{
    worker *w = ud;
    scan *sc = w->sc;
    size_t i;

    while ((i = atomic_fetch_add(&sc->next, 1)) < sc->njobs) {
        const scan_job *j = &sc->jobs[i];
        w->cur = j->file;
        w->cur_done = j->split ? j->part.start : 0;
        w->cur_end = j->split ? j->part.end : sc->files[j->file].size;
        if (j->split)
            kb_ingest_part_read(w->ing, sc->files[j->file].path, &j->part, j->dec, on_batch,
                                on_source, w);
        else
            kb_ingest_path(w->ing, sc->files[j->file].path, on_batch, on_source, w);
        if (w->cur_end > w->cur_done)
            atomic_fetch_add(&sc->bytes_done, w->cur_end - w->cur_done);
        atomic_fetch_add(&sc->finished, 1);
    }
    if (w->team) {
        pthread_mutex_lock(&w->team->mu);
        w->team->quit = 1;
        pthread_cond_broadcast(&w->team->go);
        pthread_mutex_unlock(&w->team->mu);
    }
    return NULL;
}

/* ---- inputs ------------------------------------------------------------ */

/* Jobs: with more than one thread, a large plain file is split at line
 * boundaries into parts of SCAN_PART_BYTES (KOBAN_SCAN_PART_BYTES
 * overrides it, for tests), smaller ones (down to SCAN_PART_MIN) when there
 * are fewer files than threads. Alerts carry the file's own line numbers
 * and are sorted at the end, so the output does not depend on the split. */
#define SCAN_PART_BYTES ((uint64_t)64 << 20)
#define SCAN_PART_MIN ((uint64_t)4 << 20)
#define SCAN_MAX_PARTS 4096

static int plan_jobs(scan *sc)
{
    const char *env = getenv("KOBAN_SCAN_PART_BYTES");
    uint64_t part = SCAN_PART_BYTES, min = SCAN_PART_MIN;
    kb_ingest *ing = NULL;
    size_t cap = sc->nfiles ? sc->nfiles : 1;
    int64_t v;

    if (env && *env && kb_parse_i64(env, strlen(env), &v) == KB_OK && v > 0)
        part = min = (uint64_t)v;
    if (!(sc->jobs = kb_calloc(cap, sizeof *sc->jobs)))
        return KB_ENOMEM;
    if (sc->nw > 1 && !(ing = kb_ingest_new(sc->names, &sc->iopts)))
        return KB_ENOMEM;
    for (size_t f = 0; f < sc->nfiles; f++) {
        kb_ingest_part *parts = NULL;
        const kb_decoder *dec = NULL;
        uint64_t size = sc->files[f].size, p = part;
        int n = 1;

        if (sc->nfiles < (size_t)sc->nw && size / (uint64_t)sc->nw + 1 < p)
            p = size / (uint64_t)sc->nw + 1 > min ? size / (uint64_t)sc->nw + 1 : min;
        if (ing && size >= 2 * p)
            n = kb_ingest_split(ing, sc->files[f].path, p, SCAN_MAX_PARTS, &parts, &dec);
        if (n < 1)
            n = 1; /* cannot plan: read it whole */
        if (sc->njobs + (size_t)n > cap) {
            size_t nc = cap * 2 > sc->njobs + (size_t)n ? cap * 2 : sc->njobs + (size_t)n;
            scan_job *nj = kb_realloc(sc->jobs, nc * sizeof *nj);
            if (!nj) {
                kb_free(parts);
                kb_ingest_free(ing);
                return KB_ENOMEM;
            }
            sc->jobs = nj;
            cap = nc;
        }
        for (int k = 0; k < n; k++) {
            scan_job *j = &sc->jobs[sc->njobs++];
            memset(j, 0, sizeof *j);
            j->file = (uint32_t)f;
            if (parts) {
                j->split = 1;
                j->part = parts[k];
                j->dec = dec;
            }
        }
        kb_free(parts);
    }
    kb_ingest_free(ing);
    return KB_OK;
}

static int add_file(scan *sc, size_t *cap, const char *path, uint64_t size, int from_dir)
{
    if (sc->nfiles >= SCAN_MAX_FILES)
        return KB_ELIMIT;
    if (kb_grow((void **)&sc->files, cap, sc->nfiles + 1, sizeof *sc->files, 64))
        return KB_ENOMEM;
    if (!(sc->files[sc->nfiles].path = kb_strdup(path)))
        return KB_ENOMEM;
    sc->files[sc->nfiles].size = size;
    sc->files[sc->nfiles].from_dir = from_dir;
    sc->nfiles++;
    sc->total_bytes += size;
    return KB_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A pending directory entry of the walk: its path and depth. */
typedef struct pending {
    char *path;
    int depth;
} pending;

/* Expands one PATH argument into files, in the order kb_ingest_path would
 * read them (sorted names, depth first, no dotfiles, no symbolic links to
 * directories), iteratively. Returns nonzero when the argument is
 * unreadable (reported). */
static int collect(scan *sc, size_t *cap, const char *arg)
{
    struct stat st;
    pending *stack = NULL;
    size_t n = 0, scap = 0;
    int bad = 0;

    if (strcmp(arg, "-") == 0)
        return add_file(sc, cap, "-", 0, 0) ? 1 : 0;
    if (stat(arg, &st) != 0) {
        fprintf(stderr, "koban scan: %s: %s\n", arg, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(sc, cap, arg, (uint64_t)st.st_size, 0) ? 1 : 0;
    if (!(stack = kb_malloc(sizeof *stack)) || !(stack[0].path = kb_strdup(arg))) {
        kb_free(stack);
        return 1;
    }
    stack[0].depth = 0;
    n = 1;
    scap = 1;
    while (n > 0) {
        pending cur = stack[--n];
        DIR *d = opendir(cur.path);
        struct dirent *e;
        char **names = NULL;
        size_t nn = 0, ncap = 0;

        if (!d) {
            fprintf(stderr, "koban scan: %s: %s\n", cur.path, strerror(errno));
            bad = 1;
            kb_free(cur.path);
            continue;
        }
        while ((e = readdir(d))) {
            kb_buf b;
            if (e->d_name[0] == '.')
                continue;
            if (kb_grow((void **)&names, &ncap, nn + 1, sizeof *names, 64))
                break;
            kb_buf_init(&b, 0);
            if (kb_buf_printf(&b, "%s/%s", cur.path, e->d_name) == KB_OK)
                names[nn++] = b.data;
        }
        closedir(d);
        if (nn > 1)
            qsort(names, nn, sizeof *names, name_cmp);
        /* A directory's files first, then its subdirectories in name order
         * (the alerts are sorted at the end; this order only numbers the
         * files, which breaks ties between equal timestamps). */
        for (size_t i = 0; i < nn; i++) {
            struct stat es;
            if (lstat(names[i], &es) == 0 && S_ISREG(es.st_mode)) {
                if (add_file(sc, cap, names[i], (uint64_t)es.st_size, 1))
                    bad = 1;
            }
        }
        for (size_t i = nn; i-- > 0;) {
            struct stat es;
            if (lstat(names[i], &es) == 0 && S_ISDIR(es.st_mode)) {
                if (cur.depth + 1 >= SCAN_MAX_DEPTH) {
                    fprintf(stderr, "koban scan: %s: directories nested too deep, skipped\n",
                            names[i]);
                } else {
                    if (n == scap) {
                        pending *ns = kb_realloc(stack, (scap *= 2) * sizeof *stack);
                        if (!ns) {
                            bad = 1;
                            kb_free(names[i]);
                            continue;
                        }
                        stack = ns;
                    }
                    stack[n].path = names[i];
                    stack[n].depth = cur.depth + 1;
                    n++;
                    names[i] = NULL;
                }
            }
            kb_free(names[i]);
        }
        kb_free(names);
        kb_free(cur.path);
    }
    kb_free(stack);
    return bad;
}

/* ---- output ------------------------------------------------------------ */

static int alert_cmp(const void *pa, const void *pb)
{
    const alert *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static const char *level_color(int level)
{
    switch (level) {
    case KB_LEVEL_CRITICAL:
        return "\033[1;35m";
    case KB_LEVEL_HIGH:
        return "\033[1;31m";
    case KB_LEVEL_MEDIUM:
        return "\033[33m";
    case KB_LEVEL_LOW:
        return "\033[32m";
    default:
        return "";
    }
}

static void put_meta_str(kb_buf *b, const char *key, const char *val)
{
    kb_buf_printf(b, ",\"%s\":", key);
    if (val)
        kb_json_put_str(b, val, strlen(val));
    else
        kb_buf_puts(b, "null");
}

/* The rule of alert index idx: a ruleset rule, or past them a correlation. */
static const kb_rule_meta *alert_meta(const scan *sc, uint32_t idx)
{
    size_t n = kb_ruleset_count(sc->rs);
    return idx < n ? kb_rule_meta_of(kb_ruleset_rule(sc->rs, idx))
                   : kb_correl_meta(kb_ruleset_correl(sc->rs, idx - n));
}

/* The rule of an alert: an indicator hit's own, else alert_meta. */
const kb_rule_meta *alert_rule(const scan *sc, const alert *a)
{
    return a->intel ? &a->intel->meta : alert_meta(sc, a->rule);
}

/* The level shown: a suppression override, else the rule's (or the
 * indicator's). */
int alert_level(const scan *sc, const alert *a)
{
    if (a->level_ovr)
        return a->level_ovr - 1;
    return a->intel ? a->intel->level : sc->rule_level[a->rule];
}

static void print_alert(scan *sc, kb_out *o, const alert *a, kb_buf *b)
{
    const kb_rule_meta *m = alert_rule(sc, a);
    const char *path = sc->files[a->file].path;
    int level = alert_level(sc, a);
    char ts[40] = "";
    size_t tn = a->ts != KB_TIME_NONE ? kb_time_format(a->ts, ts, sizeof ts) : 0;

    if (o->fmt == KB_OUT_JSONL) {
        kb_buf_clear(b);
        kb_buf_puts(b, "{\"@timestamp\":");
        if (tn)
            kb_json_put_str(b, ts, tn);
        else
            kb_buf_puts(b, "null");
        put_meta_str(b, "rule.id", m->id);
        put_meta_str(b, "rule.name", m->title);
        put_meta_str(b, "rule.level", kb_level_name(level));
        put_meta_str(b, "rule.author", m->author);
        kb_buf_puts(b, ",\"rule.tags\":");
        kb_alert_put_list(b, m->tags);
        put_meta_str(b, "rule.status", m->status);
        kb_buf_puts(b, ",\"rule.references\":");
        kb_alert_put_list(b, m->references);
        kb_buf_puts(b, ",\"rule.falsepositives\":");
        kb_alert_put_list(b, m->falsepositives);
        put_meta_str(b, "rule.path", m->path);
        put_meta_str(b, "host.name", a->host && *a->host ? a->host : NULL);
        put_meta_str(b, "log.file.path", path);
        kb_buf_printf(b, ",\"log.line\":%llu", (unsigned long long)a->line);
        if (a->intel && a->intel->json)
            kb_buf_puts(b, a->intel->json);
        kb_buf_puts(b, ",\"matched\":");
        kb_buf_puts(b, a->json ? a->json : "{}");
        kb_buf_puts(b, ",\"event\":");
        kb_buf_puts(b, a->event ? a->event : "{}");
        kb_buf_putc(b, '}');
        kb_out_json(o, b->data, b->len);
        return;
    }
    if (o->fmt == KB_OUT_TABLE) {
        kb_str row[6];
        const char *title = m->title ? m->title : "";
        const char *lv = kb_level_name(level);
        const char *author = m->author ? m->author : "";
        if (tn > 23) { /* milliseconds in tables */
            ts[23] = 'Z';
            tn = 24;
        }
        row[0] = (kb_str){ts, tn};
        row[1] = (kb_str){a->host, strlen(a->host)};
        row[2] = (kb_str){lv, strlen(lv)};
        row[3] = (kb_str){title, strlen(title)};
        row[4] = (kb_str){author, strlen(author)}; /* DRL 1.1: the author in every match */
        row[5] = (kb_str){a->fields, strlen(a->fields)};
        if (o->color && *level_color(level))
            fputs(level_color(level), o->f);
        kb_out_row(o, row);
        if (o->color && *level_color(level)) {
            /* the row ended with its newline: reset before the next one */
            fputs("\033[0m", o->f);
        }
        return;
    }
    {
        kb_str row[9];
        char line[24];
        int ln = snprintf(line, sizeof line, "%llu", (unsigned long long)a->line);
        const char *lv = kb_level_name(level);
        row[0] = (kb_str){ts, tn};
        row[1] = (kb_str){a->host, strlen(a->host)};
        row[2] = (kb_str){lv, strlen(lv)};
        row[3] = (kb_str){m->title ? m->title : "", m->title ? strlen(m->title) : 0};
        row[4] = (kb_str){a->fields, strlen(a->fields)};
        row[5] = (kb_str){m->id ? m->id : "", m->id ? strlen(m->id) : 0};
        row[6] = (kb_str){m->author ? m->author : "", m->author ? strlen(m->author) : 0};
        row[7] = (kb_str){path, strlen(path)};
        row[8] = (kb_str){line, ln > 0 ? (size_t)ln : 0};
        kb_out_row(o, row);
    }
}

/* The table header, printed here (bold on a terminal) so that kb_out_row's
 * own header does not take the first row's colour. */
static void table_header(kb_out *o)
{
    if (o->color)
        fputs("\033[1m", o->f);
    for (int c = 0; c < o->ncols; c++) {
        if (c + 1 < o->ncols)
            fprintf(o->f, "%-*s  ", o->cols[c].width, o->cols[c].title);
        else
            fputs(o->cols[c].title, o->f);
    }
    if (o->color)
        fputs("\033[0m", o->f);
    fputc('\n', o->f);
    o->rows = 1;
}

/* ---- summary and progress ---------------------------------------------- */

typedef struct counted {
    const char *key;
    uint64_t n;
} counted;

static int counted_cmp(const void *pa, const void *pb)
{
    const counted *a = pa, *b = pb;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Counts keys of the sorted-by-key array keys[0..n) into out (distinct
 * keys), then orders by count. Returns the number of distinct keys. */
static size_t count_keys(const char **keys, size_t n, counted *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && strcmp(out[m - 1].key, keys[i]) == 0)
            out[m - 1].n++;
        else
            out[m++] = (counted){keys[i], 1};
    }
    qsort(out, m, sizeof *out, counted_cmp);
    return m;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_top(const char *what, const char **keys, size_t n)
{
    counted *c = n ? kb_malloc(n * sizeof *c) : NULL;
    size_t m;
    if (!c)
        return;
    qsort(keys, n, sizeof *keys, str_cmp);
    m = count_keys(keys, n, c);
    fprintf(stderr, "top %s:\n", what);
    for (size_t i = 0; i < m && i < 5; i++)
        fprintf(stderr, "  %8llu  %s\n", (unsigned long long)c[i].n,
                *c[i].key ? c[i].key : "(none)");
    kb_free(c);
}

static double now_secs(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void human_bytes(char *buf, size_t size, double v)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void progress(scan *sc, double start, int final)
{
    uint64_t done = atomic_load(&sc->bytes_done), total = sc->total_bytes;
    double el = now_secs() - start, rate = el > 0 ? (double)done / el : 0;
    char d[24], t[24], r[24], bar[31];
    int fill = total ? (int)(30.0 * (double)done / (double)total) : 30;

    if (final) {
        fputs("\r\033[K", stderr);
        return;
    }
    if (fill > 30)
        fill = 30;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(30 - fill));
    bar[30] = '\0';
    human_bytes(d, sizeof d, (double)done);
    human_bytes(t, sizeof t, (double)total);
    human_bytes(r, sizeof r, rate);
    if (rate > 0 && total > done)
        fprintf(stderr, "\r[%s] %s / %s  %s/s  ETA %.0fs\033[K", bar, d, t, r,
                (double)(total - done) / rate);
    else
        fprintf(stderr, "\r[%s] %s / %s  %s/s\033[K", bar, d, t, r);
    fflush(stderr);
}

/* ---- correlation --------------------------------------------------------- */

/* Collects one correlation alert, attributed to the file and line of the
 * alert that completed it (the timeline's order stays deterministic). */
static void on_correl(void *ud, const kb_correl_alert *ca)
{
    scan *sc = ud;
    worker *w = &sc->w[0];
    size_t nr = kb_ruleset_count(sc->rs), ci = 0;
    char first[40] = "";
    alert *a;

    while (ci < kb_ruleset_correl_count(sc->rs) && kb_ruleset_correl(sc->rs, ci) != ca->rule)
        ci++;
    if (sc->rule_level[nr + ci] >= sc->min_level && !ca->hidden)
        sc->corr_levels[sc->rule_level[nr + ci]]++;
    if (sc->ncal == sc->acal && /* per alert: no call until full */
        kb_grow((void **)&sc->cal, &sc->acal, sc->ncal + 1, sizeof *sc->cal, 64)) {
        atomic_fetch_add(&sc->dropped, 1);
        return;
    }
    a = &sc->cal[sc->ncal];
    memset(a, 0, sizeof *a);
    a->ts = ca->ts;
    a->line = sc->corr_cur->line;
    a->file = sc->corr_cur->file;
    a->rule = (uint32_t)(nr + ci);
    a->event_id = sc->corr_cur->event_id; /* --store: the event that completed it */
    a->host = ca->host ? ca->host : "";
    a->hide = (uint8_t)(ca->hidden || sc->rule_level[nr + ci] < sc->min_level);
    kb_time_format(ca->first_ts, first, sizeof first);
    kb_buf_clear(&w->text);
    kb_buf_printf(&w->text, "%s | %s: %g over %llu alerts since %s", ca->group,
                  kb_correl_type_name(ca->type), ca->value, (unsigned long long)ca->records,
                  first);
    a->fields = arena_copy(w, w->text.data, w->text.len);
    if (sc->fmt == KB_OUT_JSONL) {
        kb_buf_clear(&w->json);
        kb_buf_puts(&w->json, "{\"correlation.type\":");
        kb_json_put_str(&w->json, kb_correl_type_name(ca->type),
                        strlen(kb_correl_type_name(ca->type)));
        kb_buf_puts(&w->json, ",\"correlation.group\":");
        kb_json_put_str(&w->json, ca->group, strlen(ca->group));
        kb_buf_printf(&w->json, ",\"correlation.value\":%g,\"correlation.alerts\":%llu",
                      ca->value, (unsigned long long)ca->records);
        kb_buf_puts(&w->json, ",\"correlation.first\":");
        kb_json_put_str(&w->json, first, strlen(first));
        kb_buf_putc(&w->json, '}');
        a->json = arena_copy(w, w->json.data, w->json.len);
    }
    if (w->oom) {
        atomic_fetch_add(&sc->dropped, 1);
        return;
    }
    sc->ncal++;
}

/* Runs the time-sorted alerts through the correlation rules and merges the
 * correlation alerts into the timeline (*all re-sorted). */
static int correlate_alerts(scan *sc, alert **all, size_t *nalerts)
{
    alert *merged;
    for (size_t k = 0; k < *nalerts; k++) {
        const alert *a = &(*all)[k];
        if (!a->corr)
            continue;
        sc->corr_inputs += a->hide;
        sc->corr_cur = a;
        kb_correl_push_packed(sc->corr, kb_ruleset_rule(sc->rs, a->rule), a->ts, a->host,
                              a->corr, a->corr_len);
    }
    kb_correl_flush(sc->corr);
    if (!sc->ncal)
        return KB_OK;
    if (!(merged = kb_realloc(*all, (*nalerts + sc->ncal) * sizeof *merged)))
        return KB_ENOMEM;
    memcpy(merged + *nalerts, sc->cal, sc->ncal * sizeof *merged);
    *all = merged;
    *nalerts += sc->ncal;
    qsort(merged, *nalerts, sizeof *merged, alert_cmp);
    return KB_OK;
}

/* ---- the command ------------------------------------------------------- */

static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > SCAN_MAX_JOBS ? SCAN_MAX_JOBS : (int)n;
}

int kb_cmd_scan(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("scan");
    const char **rule_paths = NULL;
    const char *out_path = NULL, *engine = "auto";
    size_t nrule_paths = 0, fcap = 0, nalerts = 0;
    int fmt = -1, jobs = 0, no_default = 0, quiet = 0, i, status = KB_EXIT_OK, bad_input = 0;
    int want_progress;
    scan sc;
    kb_rule_report rep = {stderr, 0};
    kb_buf line;
    FILE *out = stdout;
    alert *all = NULL;
    kb_out o;
    kb_out_col cols[sizeof table_cols / sizeof *table_cols];
    double t0, t1;
    uint64_t events = 0, rejected = 0, failed_sources = 0, unrecognised = 0;
    uint64_t levels[KB_LEVEL_COUNT] = {0};
    int started = 0, store = 0, no_correlation = 0, no_fieldmap = 0, no_intel = 0;
    const char *store_dsn = NULL, *fieldmap_path = NULL, *criteria = NULL;
    kb_fieldmap_stats fms = {0};
    kb_buf fieldmap_used;

    memset(&sc, 0, sizeof sc);
    pthread_mutex_init(&sc.store_mu, NULL);
    kb_buf_init(&line, 0);
    kb_buf_init(&fieldmap_used, 0);
    sc.cli = cli;
    sc.min_level = KB_LEVEL_INFO;
    if (!(rule_paths = kb_calloc((size_t)argc, sizeof *rule_paths))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--rules") == 0 && i + 1 < argc) {
            rule_paths[nrule_paths++] = argv[++i];
        } else if (strcmp(a, "--no-correlation") == 0) {
            no_correlation = 1;
        } else if (strcmp(a, "--no-intel") == 0) {
            no_intel = 1;
        } else if (strcmp(a, "--triage") == 0) {
            sc.triage = 1;
        } else if (strcmp(a, "--criteria") == 0 && i + 1 < argc) {
            criteria = argv[++i];
        } else if (strcmp(a, "--no-default-rules") == 0) {
            no_default = 1;
        } else if (strcmp(a, "--fieldmap") == 0 && i + 1 < argc) {
            fieldmap_path = argv[++i];
        } else if (strcmp(a, "--no-fieldmap") == 0) {
            no_fieldmap = 1;
        } else if (strcmp(a, "--min-level") == 0 && i + 1 < argc) {
            if ((sc.min_level = kb_level_parse(argv[++i])) < 0) {
                status = kb_cmd_usage_error(cmd, "unknown level '%s'", argv[i]);
                goto out;
            }
        } else if ((strcmp(a, "-j") == 0 && i + 1 < argc) ||
                   (strncmp(a, "-j", 2) == 0 && a[2] >= '0' && a[2] <= '9')) {
            /* -j N, or -jN as make takes it */
            int64_t v;
            const char *s = a[2] ? a + 2 : argv[++i];
            if (kb_parse_i64(s, strlen(s), &v) || v < 1 || v > SCAN_MAX_JOBS) {
                status = kb_cmd_usage_error(cmd, "-j wants a number of threads from 1 to %d",
                                            SCAN_MAX_JOBS);
                goto out;
            }
            jobs = (int)v;
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            if ((fmt = kb_out_parse(argv[++i])) < 0) {
                status = kb_cmd_usage_error(cmd, "unknown output format '%s'", argv[i]);
                goto out;
            }
        } else if (strcmp(a, "--output") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            sc.iopts.format = argv[++i];
            if (!kb_decoder_find(sc.iopts.format)) {
                status = kb_cmd_usage_error(cmd, "no decoder '%s'", sc.iopts.format);
                goto out;
            }
        } else if (strcmp(a, "--engine") == 0 && i + 1 < argc) {
            engine = argv[++i];
            if (strcmp(engine, "fast") && strcmp(engine, "reference") && strcmp(engine, "auto")) {
                status = kb_cmd_usage_error(cmd, "--engine is fast, reference or auto");
                goto out;
            }
        } else if (strcmp(a, "-q") == 0) {
            quiet = sc.quiet = 1;
        } else if (strcmp(a, "--store") == 0) {
            store = 1;
        } else if (strncmp(a, "--store=", 8) == 0) {
            store = 1;
            store_dsn = a + 8;
        } else {
            status = kb_cmd_usage_error(cmd, "unknown option '%s'", a);
            goto out;
        }
    }
    if (i == argc) {
        status = kb_cmd_usage_error(cmd, "no input (name files, directories or '-')");
        goto out;
    }
    if (out_path && !(out = fopen(out_path, "w"))) {
        fprintf(stderr, "koban scan: %s: cannot write: %s\n", out_path, strerror(errno));
        out = stdout;
        status = KB_EXIT_USAGE;
        goto out;
    }
    sc.fmt = fmt < 0 ? kb_out_default(out) : (kb_out_format)fmt;
    if (sc.triage && sc.fmt == KB_OUT_CSV) {
        status = kb_cmd_usage_error(cmd, "--triage prints incidents as a table or jsonl, not csv");
        goto out;
    }
    if (criteria && !sc.triage) {
        status = kb_cmd_usage_error(cmd, "--criteria goes with --triage");
        goto out;
    }
    if (store && !(sc.store = kb_cmd_open_store(cli, store_dsn))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }

    /* Inputs first: a typo in a path should not wait for the rules. */
    for (; i < argc; i++)
        if (collect(&sc, &fcap, argv[i]))
            bad_input = 1;

    if (sc.nfiles == 0 && !bad_input) {
        fprintf(stderr, "koban scan: no files to scan\n");
        bad_input = 1;
    }

    /* Rules: koban's own, then the user's. */
    if (!(sc.names = kb_names_new(0)) || !(sc.rs = kb_ruleset_new(sc.names))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (!no_default) {
        if (kb_rules_load_default(cli, sc.rs, &rep) == 0 && nrule_paths == 0)
            fprintf(stderr, "koban scan: koban's rule directory was not found (set KOBAN_RULES "
                            "or use --rules DIR)\n");
    }
    for (size_t k = 0; k < nrule_paths; k++)
        kb_rules_load_path(sc.rs, rule_paths[k], &rep);
    if (fieldmap_path && no_fieldmap) {
        status = kb_cmd_usage_error(cmd, "--fieldmap and --no-fieldmap exclude each other");
        goto out;
    }
    if (!no_fieldmap && kb_ruleset_count(sc.rs)) {
        int frc = kb_cmd_fieldmap_apply(cli, fieldmap_path, sc.rs, &rep, &fms, &fieldmap_used);
        if (frc != KB_OK) {
            if (frc != KB_EPARSE)
                fprintf(stderr, "koban scan: field map %s cannot be read\n", fieldmap_used.data);
            status = KB_EXIT_USAGE;
            goto out;
        }
    }
    if (kb_ruleset_count(sc.rs) == 0) {
        fprintf(stderr, "koban scan: no rules loaded\n");
        status = KB_EXIT_USAGE;
        goto out;
    }
    if (rule_index_build(&sc.ri, sc.rs) ||
        !(sc.rule_level = kb_malloc(kb_ruleset_count(sc.rs) + kb_ruleset_correl_count(sc.rs)))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (size_t k = 0; k < kb_ruleset_count(sc.rs); k++)
        sc.rule_level[k] = (uint8_t)kb_rule_level(kb_ruleset_rule(sc.rs, k));
    for (size_t k = 0; k < kb_ruleset_correl_count(sc.rs); k++) {
        const char *lv = kb_correl_meta(kb_ruleset_correl(sc.rs, k))->level;
        int l = lv ? kb_level_parse(lv) : KB_LEVEL_INFO;
        sc.rule_level[kb_ruleset_count(sc.rs) + k] = (uint8_t)(l < 0 ? KB_LEVEL_INFO : l);
    }
    if ((status = suppression_setup(&sc, cli)) != KB_EXIT_OK)
        goto out;
    if (!no_intel && (status = intel_setup(&sc, cli)) != KB_EXIT_OK)
        goto out;
    sc.corr_off = no_correlation;
    if (kb_ruleset_correl_count(sc.rs)) {
        /* correlation: the caps of the configuration (checked above by
         * suppression_setup); alerts are sorted before they are pushed, so
         * no lateness */
        kb_config ccfg;
        kb_correl_opts co;
        int have_cfg = kb_config_load(cli, &ccfg) == KB_OK;
        kb_correl_opts_default(&co);
        if (have_cfg)
            co = ccfg.correl; /* with its generate overrides, read by kb_correl_new */
        co.lateness = 0;
        sc.corr = kb_correl_new(sc.rs, &co, on_correl, &sc, kb_rule_report_fn, &rep);
        if (have_cfg)
            kb_config_release(&ccfg);
        if (!sc.corr) {
            status = KB_EXIT_FAILURE;
            goto out;
        }
        if (kb_correl_count(sc.corr) == 0) {
            kb_correl_free(sc.corr);
            sc.corr = NULL;
        }
    }
    if (strcmp(engine, "reference") != 0) {
        const char *err = NULL;
        sc.eng = kb_engine_new(sc.rs, &err);
        if (!sc.eng) {
            fprintf(stderr, "koban scan: the fast engine failed (%s); using the reference "
                            "evaluator\n", err ? err : "unknown reason");
            if (strcmp(engine, "fast") == 0) {
                status = KB_EXIT_FAILURE;
                goto out;
            }
        }
    }

    /* Workers: one reader per file at a time (nfw), and when there are
     * fewer files than threads, the other threads help the readers match
     * their batches. */
    sc.nw = jobs ? jobs : default_jobs();
    if (plan_jobs(&sc) != KB_OK) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    sc.nfw = sc.njobs < (size_t)sc.nw ? (sc.njobs ? (int)sc.njobs : 1) : sc.nw;
    if (!(sc.w = kb_calloc((size_t)sc.nw, sizeof *sc.w))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (int k = 0; k < sc.nw; k++) {
        worker *w = &sc.w[k];
        w->sc = &sc;
        kb_buf_init(&w->text, 0);
        kb_buf_init(&w->json, 0);
        kb_buf_init(&w->ev, 0);
        w->arena = kb_arena_new(1 << 20, SCAN_ALERT_MEMORY / (size_t)sc.nw);
        if (k < sc.nfw)
            w->ing = kb_ingest_new(sc.names, &sc.iopts);
        if (sc.eng)
            w->scratch = kb_engine_scratch_new(sc.eng);
        if (sc.triage)
            w->tri = kb_triage_alerts_new();
        if (!w->arena || (k < sc.nfw && !w->ing) || (sc.eng && !w->scratch) ||
            (sc.triage && !w->tri)) {
            status = KB_EXIT_FAILURE;
            goto out;
        }
    }
    if (sc.nw > sc.nfw) {
        if (!(sc.teams = kb_calloc((size_t)sc.nfw, sizeof *sc.teams))) {
            status = KB_EXIT_FAILURE;
            goto out;
        }
        for (int k = 0; k < sc.nfw; k++) {
            team *t = &sc.teams[k];
            pthread_mutex_init(&t->mu, NULL);
            pthread_cond_init(&t->go, NULL);
            pthread_cond_init(&t->done, NULL);
            sc.nteams++;
            if (!(t->h = kb_calloc((size_t)sc.nw, sizeof *t->h))) {
                status = KB_EXIT_FAILURE;
                goto out;
            }
            sc.w[k].team = t;
        }
        for (int k = sc.nfw; k < sc.nw; k++) {
            team *t = &sc.teams[(k - sc.nfw) % sc.nfw];
            sc.w[k].team = t;
            t->h[t->nh++] = &sc.w[k];
        }
        /* Helpers first: a helper that cannot start leaves its team before
         * any batch is handed out. */
        for (int k = sc.nfw; k < sc.nw; k++) {
            team *t = sc.w[k].team;
            if (pthread_create(&sc.w[k].th, NULL, helper_main, &sc.w[k]) == 0) {
                sc.w[k].running = 1;
                continue;
            }
            pthread_mutex_lock(&t->mu);
            for (int j = 0; j < t->nh; j++)
                if (t->h[j] == &sc.w[k]) {
                    memmove(&t->h[j], &t->h[j + 1], (size_t)(t->nh - j - 1) * sizeof *t->h);
                    t->nh--;
                    break;
                }
            pthread_mutex_unlock(&t->mu);
        }
        for (int k = 0; k < sc.nfw; k++)
            if (sc.teams[k].nh == 0)
                sc.w[k].team = NULL;
    }
    want_progress = !quiet && isatty(fileno(stderr)) && sc.total_bytes >= PROGRESS_MIN_BYTES;
    t0 = now_secs();
    for (int k = 0; k < sc.nfw; k++) {
        if (pthread_create(&sc.w[k].th, NULL, worker_main, &sc.w[k]) != 0) {
            fprintf(stderr, "koban scan: cannot start a thread\n");
            if (sc.w[k].team) { /* release its helpers */
                pthread_mutex_lock(&sc.w[k].team->mu);
                sc.w[k].team->quit = 1;
                pthread_cond_broadcast(&sc.w[k].team->go);
                pthread_mutex_unlock(&sc.w[k].team->mu);
            }
            continue;
        }
        sc.w[k].running = 1;
        started++;
    }
    while (started && want_progress && atomic_load(&sc.finished) < sc.njobs) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (atomic_load(&sc.finished) < sc.njobs)
            progress(&sc, t0, 0);
    }
    for (int k = 0; k < sc.nw; k++)
        if (sc.w[k].running) {
            pthread_join(sc.w[k].th, NULL);
            sc.w[k].running = 0;
        }
    if (started == 0) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (want_progress)
        progress(&sc, t0, 1);
    t1 = now_secs();

    /* Gather, sort, print. */
    for (int k = 0; k < sc.nw; k++)
        nalerts += sc.w[k].n;
    if (nalerts && !(all = kb_malloc(nalerts * sizeof *all))) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    nalerts = 0;
    for (int k = 0; k < sc.nw; k++) {
        kb_ingest_stats st;
        uint64_t failed;
        worker *w = &sc.w[k];
        if (w->n)
            memcpy(all + nalerts, w->alerts, w->n * sizeof *all);
        nalerts += w->n;
        if (w->ing) {
            kb_ingest_totals(w->ing, &st, &failed);
            events += st.decoded;
            rejected += st.rejected;
        }
        failed_sources += w->failed_sources;
        unrecognised += w->unrecognised;
        for (int l = 0; l < KB_LEVEL_COUNT; l++)
            levels[l] += w->level_count[l];
    }
    if (nalerts > 1)
        qsort(all, nalerts, sizeof *all, alert_cmp);
    if (sc.corr && !sc.corr_off && correlate_alerts(&sc, &all, &nalerts) != KB_OK) {
        status = KB_EXIT_FAILURE;
        goto out;
    }
    if (sc.sup)
        suppress_alerts(&sc, all, nalerts);
    if (sc.store && store_alerts(&sc, all, nalerts) != KB_OK)
        status = KB_EXIT_FAILURE;
    if (sc.triage) {
        /* incidents instead of the timeline; saved with --store */
        kb_triage_alerts *tl = triage_input(&sc, all, nalerts);
        kb_buf dbp;
        int tflags = sc.fmt == KB_OUT_JSONL ? KB_TRIAGE_JSONL : 0, ts;
        kb_buf_init(&dbp, 0);
        kb_buf_printf(&dbp, "%s/koban.db", cli->data_dir);
        if (!store) {
            tflags |= KB_TRIAGE_NO_SAVE;
            /* the inventory and scans of an existing store, none created */
            if (!(getenv("KOBAN_STORE") && *getenv("KOBAN_STORE")) &&
                access(dbp.data, R_OK) != 0)
                tflags |= KB_TRIAGE_NO_STORE;
        }
        kb_buf_release(&dbp);
        if (quiet)
            tflags |= KB_TRIAGE_QUIET;
        if (sc.store) { /* triage opens its own connection */
            kb_store_close(sc.store);
            sc.store = NULL;
        }
        if (!tl) {
            fprintf(stderr, "koban scan: triage: %s\n", kb_strerror(KB_ENOMEM));
            status = KB_EXIT_FAILURE;
        } else if ((ts = kb_cmd_triage_alerts_to(cli, tl, store_dsn, criteria, tflags, out)) !=
                   KB_EXIT_OK) {
            status = ts;
        }
        kb_triage_alerts_free(tl);
    } else {
    if (sc.fmt == KB_OUT_CSV)
        kb_out_init(&o, out, KB_OUT_CSV, csv_cols, (int)(sizeof csv_cols / sizeof *csv_cols));
    else {
        /* On a terminal the last column is cut to the screen's width. */
        struct winsize ws;
        int ncols = (int)(sizeof table_cols / sizeof *table_cols), used = 0;
        memcpy(cols, table_cols, sizeof table_cols);
        for (int c = 0; c + 1 < ncols; c++)
            used += cols[c].width + 2;
        if (sc.fmt == KB_OUT_TABLE && isatty(fileno(out)) &&
            ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > used + 20)
            cols[ncols - 1].width = ws.ws_col - used - 1;
        kb_out_init(&o, out, sc.fmt, cols, ncols);
    }
    if (sc.fmt == KB_OUT_TABLE && nalerts)
        table_header(&o);
    for (size_t k = 0; k < nalerts; k++)
        if (!all[k].hide)
            print_alert(&sc, &o, &all[k], &line);
    kb_out_release(&o);
    }

    if (!quiet) {
        double secs = t1 - t0;
        uint64_t dropped = atomic_load(&sc.dropped);
        const char **keys = nalerts ? kb_malloc(nalerts * sizeof *keys) : NULL;
        fprintf(stderr, "scanned %zu file%s: %llu events (%llu rejected) in %.2f s, %.0f events/s, "
                        "%d thread%s, %s engine\n",
                sc.nfiles, sc.nfiles == 1 ? "" : "s", (unsigned long long)events,
                (unsigned long long)rejected, secs, secs > 0 ? (double)events / secs : 0.0, sc.nw,
                sc.nw == 1 ? "" : "s", sc.eng ? "fast" : "reference");
        if (sc.njobs > sc.nfiles)
            fprintf(stderr, "large files read in parts: %zu parts over %zu file%s\n", sc.njobs,
                    sc.nfiles, sc.nfiles == 1 ? "" : "s");
        fprintf(stderr, "rules: %zu loaded, %u failed", kb_ruleset_count(sc.rs) - fms.variants,
                rep.failed);
        if (fieldmap_used.len)
            fprintf(stderr, "; field map %s: %zu rules with mapped names, %zu variants",
                    fieldmap_used.data, fms.aliased_rules, fms.variants);
        if (sc.eng) {
            kb_engine_stats es;
            kb_engine_stats_get(sc.eng, &es);
            fprintf(stderr, "; engine compiled in %.2f s", es.compile_secs);
        }
        fputc('\n', stderr);
        fprintf(stderr, "alerts: %llu (critical %llu, high %llu, medium %llu, low %llu, "
                        "informational %llu)\n",
                (unsigned long long)(levels[0] + levels[1] + levels[2] + levels[3] + levels[4]),
                (unsigned long long)levels[KB_LEVEL_CRITICAL],
                (unsigned long long)levels[KB_LEVEL_HIGH],
                (unsigned long long)levels[KB_LEVEL_MEDIUM],
                (unsigned long long)levels[KB_LEVEL_LOW],
                (unsigned long long)levels[KB_LEVEL_INFO]);
        if (sc.corr && sc.corr_off)
            fprintf(stderr, "correlation: off (--no-correlation)\n");
        else if (sc.corr) /* correlation */
            fprintf(stderr, "correlation: %zu rules, %llu alerts (critical %llu, high %llu, "
                            "medium %llu, low %llu, informational %llu); %llu input-only alerts "
                            "not shown\n",
                    kb_correl_count(sc.corr),
                    (unsigned long long)(sc.corr_levels[0] + sc.corr_levels[1] +
                                         sc.corr_levels[2] + sc.corr_levels[3] +
                                         sc.corr_levels[4]),
                    (unsigned long long)sc.corr_levels[KB_LEVEL_CRITICAL],
                    (unsigned long long)sc.corr_levels[KB_LEVEL_HIGH],
                    (unsigned long long)sc.corr_levels[KB_LEVEL_MEDIUM],
                    (unsigned long long)sc.corr_levels[KB_LEVEL_LOW],
                    (unsigned long long)sc.corr_levels[KB_LEVEL_INFO],
                    (unsigned long long)sc.corr_inputs);
        if (sc.corr && !sc.corr_off) { /* the caps of correlation: what they cost, counted */
            kb_correl_stats cst;
            kb_correl_stats_get(sc.corr, &cst);
            if (cst.evicted || cst.refused)
                fprintf(stderr, "correlation: past the cap on groups: %llu groups evicted, %llu "
                                "alerts of new groups refused (peak %llu groups)\n",
                        (unsigned long long)cst.evicted, (unsigned long long)cst.refused,
                        (unsigned long long)cst.groups_peak);
        }
        if (sc.sup)
            fprintf(stderr, "suppression: %llu suppressed, %llu rate-limited, %llu re-levelled "
                            "(%zu entries; suppressed alerts are stored flagged with --store)\n",
                    (unsigned long long)sc.suppressed, (unsigned long long)sc.limited,
                    (unsigned long long)sc.relevelled, kb_suppress_count(sc.sup));
        if (no_intel) {
            fprintf(stderr, "intel: off (--no-intel)\n");
        } else if (sc.intel) {
            kb_intel_match_counts ic = {0, 0, 0};
            for (int k = 0; k < sc.nw; k++) {
                ic.lookups += sc.w[k].icounts.lookups;
                ic.hits += sc.w[k].icounts.hits;
                ic.suppressed += sc.w[k].icounts.suppressed;
            }
            fprintf(stderr, "intel: %llu indicators; %llu lookups, %llu hits, %llu suppressed by "
                            "the allowlist\n",
                    (unsigned long long)kb_intel_scan_indicators(sc.intel),
                    (unsigned long long)ic.lookups, (unsigned long long)ic.hits,
                    (unsigned long long)ic.suppressed);
        }
        if (dropped)
            fprintf(stderr, "alerts not printed: %llu (past the cap of %u alerts or the alert "
                            "memory cap)\n", (unsigned long long)dropped, SCAN_MAX_ALERTS);
        if (unrecognised)
            fprintf(stderr, "files skipped (format not recognised): %llu\n",
                    (unsigned long long)unrecognised);
        if (keys) {
            size_t shown = 0; /* correlation inputs that are not shown are not counted */
            for (size_t k = 0; k < nalerts; k++) {
                const kb_rule_meta *m = alert_rule(&sc, &all[k]);
                if (!all[k].hide)
                    keys[shown++] = m->title ? m->title : "";
            }
            print_top("rules", keys, shown);
            shown = 0;
            for (size_t k = 0; k < nalerts; k++)
                if (!all[k].hide)
                    keys[shown++] = all[k].host;
            print_top("hosts", keys, shown);
            kb_free(keys);
        }
    }
    if (status == KB_EXIT_OK &&
        (bad_input || rep.failed || rejected || failed_sources))
        status = KB_EXIT_REJECTED;
out:
    kb_buf_release(&fieldmap_used);
    if (sc.w) {
        for (int k = 0; k < sc.nw; k++) {
            worker *w = &sc.w[k];
            kb_ingest_free(w->ing);
            if (w->scratch)
                kb_engine_scratch_free(w->scratch);
            kb_arena_free(w->arena);
            kb_free(w->alerts);
            kb_buf_release(&w->text);
            kb_buf_release(&w->json);
            kb_buf_release(&w->ev);
            kb_free(w->ids);
            kb_triage_alerts_free(w->tri);
        }
        kb_free(sc.w);
    }
    for (int k = 0; k < sc.nteams; k++) {
        pthread_mutex_destroy(&sc.teams[k].mu);
        pthread_cond_destroy(&sc.teams[k].go);
        pthread_cond_destroy(&sc.teams[k].done);
        kb_free(sc.teams[k].h);
    }
    kb_free(sc.teams);
    kb_free(all);
    rule_index_release(&sc.ri);
    kb_engine_free(sc.eng);
    kb_correl_free(sc.corr);
    kb_free(sc.cal);
    kb_suppress_free(sc.sup);
    kb_intel_scan_free(sc.intel);
    kb_free(sc.rule_level);
    kb_ruleset_free(sc.rs);
    kb_names_free(sc.names);
    for (size_t k = 0; k < sc.nfiles; k++)
        kb_free(sc.files[k].path);
    kb_free(sc.files);
    kb_free(sc.jobs);
    kb_free(rule_paths);
    kb_buf_release(&line);
    if (sc.store)
        kb_store_close(sc.store);
    pthread_mutex_destroy(&sc.store_mu);
    if (out != stdout && fclose(out) != 0 && status == KB_EXIT_OK) {
        fprintf(stderr, "koban scan: %s: write failed\n", out_path);
        status = KB_EXIT_FAILURE;
    }
    return status;
}
