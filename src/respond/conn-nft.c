/* The nftables connector: a koban-owned table ("inet koban" by default) with
 * named sets (dst4, dst6, src4, src6) whose elements carry a timeout, and
 * input/forward/output chains dropping traffic to or from them. nft runs
 * as an argument vector through posix_spawn, never through a shell; with
 * `netns` in the config it runs inside that network namespace
 * (ip netns exec NS nft ...). A rollback deletes the element. */
#include <string.h>

#include "respond/respond-int.h"

void kb_resp_audit_argv(kb_buf *a, char *const *argv);

typedef struct nft {
    const char *nft, *ip, *netns, *family, *table;
    kb_buf *audit, *result;
    const char **err;
} nft;

/* Runs nft with the words given (NULL-terminated). */
static int nft_run(nft *n, const char *const *words)
{
    char *argv[48];
    size_t k = 0;
    if (n->netns) {
        argv[k++] = (char *)n->ip;
        argv[k++] = "netns";
        argv[k++] = "exec";
        argv[k++] = (char *)n->netns;
    }
    argv[k++] = (char *)n->nft;
    for (size_t i = 0; words[i] && k < 47; i++)
        argv[k++] = (char *)words[i];
    argv[k] = NULL;
    if (n->audit->len)
        kb_buf_puts(n->audit, "; ");
    kb_resp_audit_argv(n->audit, argv);
    return kb_resp_spawn(argv, n->result, 10000, n->err);
}

static int nft_setup(nft *n)
{
    const char *list[] = {"list", "table", n->family, n->table, NULL};
    kb_buf quiet;
    kb_buf *saved = n->result;
    int st;
    kb_buf_init(&quiet, 1u << 20);
    n->result = &quiet;
    st = nft_run(n, list);
    n->result = saved;
    kb_buf_release(&quiet);
    if (st == 0)
        return 0;
    static const char *const sets[][2] = {{"dst4", "ipv4_addr"}, {"dst6", "ipv6_addr"},
                                          {"src4", "ipv4_addr"}, {"src6", "ipv6_addr"}};
    const char *t[] = {"add", "table", n->family, n->table, NULL};
    if (nft_run(n, t))
        return -1;
    for (size_t i = 0; i < 4; i++) {
        char spec[96];
        snprintf(spec, sizeof spec, "{ type %s; flags interval, timeout; }", sets[i][1]);
        const char *w[] = {"add", "set", n->family, n->table, sets[i][0], spec, NULL};
        if (nft_run(n, w))
            return -1;
    }
    static const char *const chains[] = {"input", "forward", "output"};
    for (size_t i = 0; i < 3; i++) {
        char spec[128];
        snprintf(spec, sizeof spec, "{ type filter hook %s priority -10; policy accept; }",
                 chains[i]);
        const char *w[] = {"add", "chain", n->family, n->table, chains[i], spec, NULL};
        if (nft_run(n, w))
            return -1;
        const char *r1[] = {"add", "rule", n->family, n->table, chains[i], "ip", "daddr",
                            "@dst4", "drop", NULL};
        const char *r2[] = {"add", "rule", n->family, n->table, chains[i], "ip6", "daddr",
                            "@dst6", "drop", NULL};
        const char *r3[] = {"add", "rule", n->family, n->table, chains[i], "ip", "saddr",
                            "@src4", "drop", NULL};
        const char *r4[] = {"add", "rule", n->family, n->table, chains[i], "ip6", "saddr",
                            "@src6", "drop", NULL};
        if (nft_run(n, r1) || nft_run(n, r2) || nft_run(n, r3) || nft_run(n, r4))
            return -1;
    }
    return 0;
}

static int nft_conn(const kb_resp_request *rq, kb_buf *audit, kb_buf *result, const char **err)
{
    json_t *cfg = json_loads(rq->config, 0, NULL);
    nft n = {json_string_value(json_object_get(cfg, "nft")),
             json_string_value(json_object_get(cfg, "ip")),
             json_string_value(json_object_get(cfg, "netns")),
             json_string_value(json_object_get(cfg, "family")),
             json_string_value(json_object_get(cfg, "table")),
             audit, result, err};
    const char *set;
    int v6, rc = KB_EINVAL;
    size_t tl = strlen(rq->target);

    if (!n.nft)
        n.nft = "/usr/sbin/nft";
    if (!n.ip)
        n.ip = "/usr/sbin/ip";
    if (!n.family)
        n.family = "inet";
    if (!n.table)
        n.table = "koban";
    if (n.netns && !kb_vtype_check(KB_VT_HOST, n.netns, strlen(n.netns))) {
        *err = "nft: bad netns name";
        goto out;
    }
    if (!kb_vtype_check(KB_VT_CIDR, rq->target, tl)) {
        *err = "nft: the target is not an address or network";
        goto out;
    }
    v6 = memchr(rq->target, ':', tl) != NULL;
    if (strstr(rq->kind, "destination"))
        set = v6 ? "dst6" : "dst4";
    else if (strstr(rq->kind, "source"))
        set = v6 ? "src6" : "src4";
    else {
        *err = "nft: only block/unblock of a source or destination";
        goto out;
    }
    if (nft_setup(&n)) {
        if (!*err)
            *err = "nft: cannot create koban's table";
        rc = KB_EIO;
        goto out;
    }
    char elem[128];
    if (strcmp(rq->verb, "apply") == 0) {
        if (rq->timeout_s > 0)
            snprintf(elem, sizeof elem, "{ %s timeout %llds }", rq->target,
                     (long long)rq->timeout_s);
        else
            snprintf(elem, sizeof elem, "{ %s }", rq->target);
        const char *w[] = {"add", "element", n.family, n.table, set, elem, NULL};
        rc = nft_run(&n, w) == 0 ? KB_OK : KB_EIO;
    } else {
        snprintf(elem, sizeof elem, "{ %s }", rq->target);
        const char *w[] = {"delete", "element", n.family, n.table, set, elem, NULL};
        int st = nft_run(&n, w);
        /* an element already gone (expired) is rolled back */
        rc = st == 0 || (st > 0 && result->data && (strstr(result->data, "No such file") ||
                                                    strstr(result->data, "does not exist")))
                 ? KB_OK
                 : KB_EIO;
    }
    if (rc)
        *err = "nft failed";
out:
    json_decref(cfg);
    return rc;
}

const kb_resp_connector kb_conn_nft = {"nft", "nftables sets with timeouts (koban's own table)",
                                       nft_conn};
