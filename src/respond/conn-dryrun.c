/* The dry-run connector: records exactly what would be done, does nothing. */
#include "respond/respond.h"

static int dryrun_run(const kb_resp_request *rq, kb_buf *audit, kb_buf *result,
                      const char **err)
{
    (void)err;
    kb_buf_printf(audit, "dry-run %s %s %s", rq->verb, rq->kind, rq->target);
    if (rq->timeout_s > 0)
        kb_buf_printf(audit, " timeout %llds", (long long)rq->timeout_s);
    kb_buf_puts(result, "not executed (dry run)");
    return KB_OK;
}

const kb_resp_connector kb_conn_dryrun = {"dry-run", "records what would be done", dryrun_run};
