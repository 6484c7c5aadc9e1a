/* Schema migrations for the modules that keep their own tables in the
 * store (intel, triage, respond, ...): one table records each module's
 * version, and a module's steps run in order, each in the transaction that
 * records it, so a crash leaves a module at a whole version. */
#include <string.h>

#include "store/store-int.h"
#include "store/store.h"

/* Expands the dialect placeholders {pk} and {blob} for st's back end. */
static int expand(const kb_store_backend *be, const char *sql, kb_buf *out)
{
    kb_buf_clear(out);
    while (*sql) {
        if (strncmp(sql, "{pk}", 4) == 0) {
            kb_buf_puts(out, be->t_pk);
            sql += 4;
        } else if (strncmp(sql, "{blob}", 6) == 0) {
            kb_buf_puts(out, be->t_blob);
            sql += 6;
        } else if (kb_buf_putc(out, *sql++) != KB_OK) {
            return KB_ENOMEM;
        }
    }
    return KB_OK;
}

int kb_store_migrate_module(kb_store *st, const char *module, const kb_store_step *steps,
                            size_t n)
{
    const kb_store_backend *be = kb_store_backend_of(st);
    kb_sval name = KB_SV_STRV(module, strlen(module));
    kb_buf sql;
    int64_t have;
    int rc;

    rc = kb_store_exec(st,
                       "CREATE TABLE IF NOT EXISTS koban_modules "
                       "(module TEXT PRIMARY KEY, version BIGINT NOT NULL)",
                       NULL, 0, NULL, NULL);
    if (rc)
        return rc;
    have = kb_store_scalar(st, "SELECT version FROM koban_modules WHERE module = ?", &name, 1, 0);
    if (n && have > steps[n - 1].version)
        return kb_store_fail(st, "the store's %s tables are at version %lld, newer than this "
                                 "koban knows (%d)",
                             module, (long long)have, steps[n - 1].version);
    kb_buf_init(&sql, 0);
    for (size_t i = 0; i < n; i++) {
        kb_sval p[2];
        if (steps[i].version <= have)
            continue;
        if ((rc = kb_store_begin(st)))
            break;
        for (const char *const *s = steps[i].sql; *s && rc == KB_OK; s++) {
            if ((rc = expand(be, *s, &sql)) == KB_OK)
                rc = kb_store_exec(st, sql.data, NULL, 0, NULL, NULL);
        }
        /* Plain `?` placeholders, in order (the PostgreSQL back end
         * renumbers them). */
        p[have ? 1 : 0] = name;
        p[have ? 0 : 1] = KB_SV_INTV(steps[i].version);
        if (rc == KB_OK)
            rc = kb_store_exec(st, have ? "UPDATE koban_modules SET version = ? WHERE module = ?"
                                        : "INSERT INTO koban_modules (module, version) VALUES (?, ?)",
                               p, 2, NULL, NULL);
        if (rc != KB_OK) {
            kb_store_rollback(st);
            break;
        }
        if ((rc = kb_store_commit(st)))
            break;
        have = steps[i].version;
    }
    kb_buf_release(&sql);
    return rc;
}
