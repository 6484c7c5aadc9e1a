/* Retention (kb_store_prune): deleting the events older than a time or
 * read from a source, with their obs_events rows, their share of
 * obs_counts, and the blocks left without events. store-int.h says where
 * the other parts are. */
#include <string.h>

#include "store/store-int.h"

/* ---- retention ---------------------------------------------------------- */

/* obs_counts rows to subtract, gathered into st->cnt_rows. */
struct cnt_acc {
    kb_store *st;
    size_t n;
};

static int cnt_row(void *ud, size_t ncol, const kb_sval *c, const char *const *names)
{
    struct cnt_acc *a = ud;
    kb_store *st = a->st;
    (void)names;
    if (ncol < 4)
        return 0;
    if (kb_grow((void **)&st->cnt_rows, &st->acnt_rows, a->n + 1, CNT_W * sizeof *st->cnt_rows,
                1024))
        return kb_store_fail(st, "out of memory");
    for (int k = 0; k < 4; k++)
        st->cnt_rows[CNT_W * a->n + k] = ival(&c[k]);
    a->n++;
    return 0;
}

/* Subtracts the n gathered (vid, fm, hr, count) rows from obs_counts and
 * drops the rows that reach 0 (lo and hi may stay wider than the ids
 * left: a superset, which is all a listing needs). */
static int uncount(kb_store *st, size_t n)
{
    int rc = KB_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const int64_t *c = &st->cnt_rows[CNT_W * i];
        kb_sval p[4] = {KB_SV_INTV(c[3]), KB_SV_INTV(c[0]), KB_SV_INTV(c[1]), KB_SV_INTV(c[2])};
        rc = st->be->exec(st, "UPDATE obs_counts SET n = n - ? WHERE vid = ? AND fm = ? AND hr = ?",
                          p, 4, NULL, NULL, 1);
        if (!rc)
            rc = st->be->exec(st, "DELETE FROM obs_counts WHERE vid = ? AND fm = ? AND hr = ? AND"
                                  " n <= 0",
                              p + 1, 3, NULL, NULL, 1);
    }
    return rc;
}

int kb_store_prune(kb_store *st, int64_t before, const char *source, uint64_t *deleted)
{
    kb_buf cond, sql, like;
    kb_sval p[3];
    size_t n = 0;
    int rc = KB_ENOMEM;
    int64_t count;

    kb_buf_init(&cond, 0);
    kb_buf_init(&sql, 0);
    kb_buf_init(&like, 0);
    *deleted = 0;
    if (kb_buf_puts(&cond, "1 = 1"))
        goto out;
    if (before != KB_TIME_NONE) {
        if (kb_buf_puts(&cond, " AND ts < ?"))
            goto out;
        p[n++] = KB_SV_INTV(before);
    }
    if (source) {
        size_t sl = strlen(source);
        /* The path itself, or everything under it as a directory. */
        for (size_t i = 0; i < sl; i++) {
            if ((source[i] == '%' || source[i] == '_' || source[i] == '\\') &&
                kb_buf_putc(&like, '\\'))
                goto out;
            if (kb_buf_putc(&like, source[i]))
                goto out;
        }
        if ((sl && source[sl - 1] != '/' && kb_buf_putc(&like, '/')) || kb_buf_putc(&like, '%'))
            goto out;
        if (kb_buf_puts(&cond, " AND source_id IN (SELECT id FROM sources WHERE path = ? OR"
                               " path LIKE ? ESCAPE '\\')"))
            goto out;
        p[n++] = KB_SV_STRV(source, sl);
        p[n++] = KB_SV_STRV(like.data, like.len);
    }
    if ((rc = kb_store_begin(st)))
        goto out;
    rc = KB_ENOMEM;
    if (kb_buf_printf(&sql, "SELECT COUNT(*) FROM %s WHERE %s", st->evtab, cond.data))
        goto fail;
    count = kb_store_scalar(st, sql.data, p, n, 0);
    kb_buf_clear(&sql);
    /* Take the sightings about to go out of obs_counts. */
    if (kb_buf_printf(&sql,
                      "SELECT o.vid, o.fm, COALESCE(e.ts / %lld, %lld), COUNT(*) FROM"
                      " obs_events o JOIN %s e ON e.id = o.event_id WHERE %s GROUP BY o.vid,"
                      " o.fm, COALESCE(e.ts / %lld, %lld)",
                      (long long)KB_OBS_HOUR, (long long)KB_OBS_HR_NONE, st->evtab, cond.data,
                      (long long)KB_OBS_HOUR, (long long)KB_OBS_HR_NONE))
        goto fail;
    {
        struct cnt_acc acc = {st, 0};
        if ((rc = kb_store_exec(st, sql.data, p, n, cnt_row, &acc)) ||
            (rc = uncount(st, acc.n)))
            goto fail;
        rc = KB_ENOMEM;
    }
    kb_buf_clear(&sql);
    if (kb_buf_printf(&sql,
                      "DELETE FROM obs_events WHERE event_id IN (SELECT id FROM %s WHERE %s)",
                      st->evtab, cond.data))
        goto fail;
    if ((rc = kb_store_exec(st, sql.data, p, n, NULL, NULL)))
        goto fail;
    kb_buf_clear(&sql);
    rc = KB_ENOMEM;
    if (kb_buf_printf(&sql, "DELETE FROM %s WHERE %s", st->evtab, cond.data))
        goto fail;
    /* Blocks none of whose events is left; obs_values keeps its values (a
     * dictionary: small, and reused when the value shows up again). */
    if ((rc = kb_store_exec(st, sql.data, p, n, NULL, NULL)) ||
        (rc = kb_store_exec(st, st->be->canon_blocks
                                    ? "DELETE FROM blocks WHERE NOT EXISTS (SELECT 1 FROM ev e"
                                      " WHERE e.id BETWEEN blocks.lo AND blocks.hi AND"
                                      " e.blk = blocks.id)"
                                    : "DELETE FROM blocks WHERE NOT EXISTS (SELECT 1 FROM"
                                      " events e WHERE e.id BETWEEN blocks.lo AND blocks.hi"
                                      " AND e.blk = blocks.id)",
                            NULL, 0, NULL, NULL)) ||
        (rc = kb_store_commit(st)))
        goto fail;
    *deleted = (uint64_t)count;
    goto out;
fail:
    kb_store_rollback(st);
out:
    kb_buf_release(&cond);
    kb_buf_release(&sql);
    kb_buf_release(&like);
    return rc;
}
