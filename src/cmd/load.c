/* koban load: decode logs and keep them in the store, without detecting.
 * Re-running a load resumes after the last committed batch of each source
 * (see store.h), so it is safe to run again after a crash or to run on a
 * growing file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "ingest/ingest.h"
#include "store/store.h"

kb_store *kb_cmd_open_store(const kb_cli *cli, const char *dsn)
{
    char err[600];
    kb_store *st;
    const char *env = getenv("KOBAN_STORE");

    if (!dsn && env && *env)
        dsn = env;
    st = dsn ? kb_store_open(dsn, err, sizeof err) : kb_store_open_dir(cli->data_dir, err, sizeof err);
    if (!st)
        fprintf(stderr, "koban: cannot open the store: %s\n", err);
    return st;
}

/* Events per transaction: batches (~1 MiB of input each) are committed in
 * groups, and at the end of each source. Fewer commits write each hot
 * index page to the WAL once per group instead of once per batch. A crash
 * loses at most the group being written; the re-run resumes after the
 * last committed one (the checkpoint commits with its events). */
#define KB_LOAD_GROUP 65536 /* KOBAN_LOAD_GROUP=N in the environment overrides */

struct load_run {
    kb_store *st;
    kb_store_load_stats stats;
    kb_store_load_stats committed; /* stats as of the last commit */
    uint64_t pending;              /* events in the open transaction */
    uint64_t group;                /* events per transaction */
    int open;                      /* a group transaction is open */
    int64_t *ids;
    size_t nids;
    int failed;
    int quiet;
};

/* Commits the open group. On failure nothing of it is stored: the counts
 * go back to the last commit. */
static int group_commit(struct load_run *r, const char *path)
{
    int rc;
    if (!r->open)
        return KB_OK;
    r->open = 0;
    r->pending = 0;
    if ((rc = kb_store_commit(r->st))) {
        fprintf(stderr, "koban load: %s: %s (the events since the last commit were not stored;"
                        " run the load again to resume)\n",
                path ? path : "-", kb_store_errmsg(r->st));
        r->stats = r->committed;
        r->failed = 1;
        return rc;
    }
    r->committed = r->stats;
    return KB_OK;
}

static int on_batch(const kb_batch *batch, void *ud)
{
    struct load_run *r = ud;
    int rc;
    if (!r->open) {
        if ((rc = kb_store_begin(r->st))) {
            fprintf(stderr, "koban load: %s: %s\n", batch->path ? batch->path : "-",
                    kb_store_errmsg(r->st));
            r->failed = 1;
            return rc;
        }
        r->open = 1;
    }
    if ((rc = kb_store_put_batch(r->st, batch, NULL, &r->stats))) {
        /* The whole group was rolled back. */
        fprintf(stderr, "koban load: %s: %s (the events since the last commit were not stored;"
                        " run the load again to resume)\n",
                batch->path ? batch->path : "-", kb_store_errmsg(r->st));
        r->open = 0;
        r->pending = 0;
        r->stats = r->committed;
        r->failed = 1;
        return rc;
    }
    r->pending += batch->n;
    if (r->pending >= r->group)
        return group_commit(r, batch->path);
    return 0;
}

static void on_source(const char *path, const kb_decoder *dec, const kb_ingest_stats *st, int rc,
                      void *ud)
{
    struct load_run *r = ud;
    if (group_commit(r, path))
        return;
    if (r->quiet || (rc != KB_OK && !dec))
        return;
    fprintf(stderr, "%s: %s: %llu records, %llu decoded, %llu rejected\n", path,
            dec ? dec->name : "?", (unsigned long long)st->records,
            (unsigned long long)st->decoded, (unsigned long long)st->rejected);
}

int kb_cmd_load(const kb_cli *cli, int argc, char **argv)
{
    const kb_command *cmd = kb_cmd_find("load");
    kb_ingest_opts opts = {0};
    struct load_run run = {0};
    const char *dsn = NULL;
    kb_names *names = NULL;
    kb_ingest *ing = NULL;
    kb_ingest_stats tot;
    uint64_t failed;
    int i, status = KB_EXIT_OK;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            opts.format = argv[++i];
            if (!kb_decoder_find(opts.format))
                return kb_cmd_usage_error(cmd, "no decoder '%s'", opts.format);
        } else if (strcmp(a, "--store") == 0 && i + 1 < argc) {
            dsn = argv[++i];
        } else if (strcmp(a, "-q") == 0) {
            run.quiet = 1;
        } else {
            return kb_cmd_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (i == argc)
        return kb_cmd_usage_error(cmd, "no input (name files, directories or '-')");
    {
        /* KOBAN_LOAD_GROUP: events per transaction (tests, tuning). */
        const char *g = getenv("KOBAN_LOAD_GROUP");
        int64_t v = 0;
        run.group = g && kb_parse_i64(g, strlen(g), &v) == KB_OK && v > 0 ? (uint64_t)v
                                                                            : KB_LOAD_GROUP;
    }
    if (!(run.st = kb_cmd_open_store(cli, dsn)))
        return KB_EXIT_FAILURE;
    names = kb_names_new(0);
    ing = names ? kb_ingest_new(names, &opts) : NULL;
    if (!ing) {
        fprintf(stderr, "koban load: out of memory\n");
        status = KB_EXIT_FAILURE;
        goto out;
    }
    for (; i < argc && !run.failed; i++)
        kb_ingest_path(ing, argv[i], on_batch, on_source, &run);
    group_commit(&run, NULL);
    kb_ingest_totals(ing, &tot, &failed);
    if (!run.quiet)
        fprintf(stderr,
                "loaded %llu events (%llu already stored, %llu observables) from %llu records;"
                " %llu rejected, %llu sources failed\n",
                (unsigned long long)run.stats.events, (unsigned long long)run.stats.skipped,
                (unsigned long long)run.stats.observables, (unsigned long long)tot.records,
                (unsigned long long)tot.rejected, (unsigned long long)failed);
    if (run.failed)
        status = KB_EXIT_FAILURE;
    else if (tot.rejected || failed)
        status = KB_EXIT_REJECTED;
out:
    kb_ingest_free(ing);
    kb_names_free(names);
    kb_store_close(run.st);
    return status;
}
