/* Kernel firewall lines: the netfilter LOG / NFLOG target's "IN=eth0 OUT=
 * MAC=... SRC=1.2.3.4 DST=5.6.7.8 ... PROTO=TCP SPT=1 DPT=2 SYN ..." as
 * iptables, nftables, ufw, firewalld, shorewall and Ubiquiti write it,
 * after any prefix ("[UFW BLOCK] ", "FINAL_REJECT: ",
 * "Shorewall:net-fw:DROP:", "[wan-lan-default-D]"), inside syslog or bare,
 * and Proxmox's pve-firewall.log lines.
 *
 * Field scheme: every KEY=VALUE becomes "netfilter.<key in lower case>"
 * (a key seen twice, such as the IP and UDP LEN, gives two fields of that
 * name, IP first); each bare word (DF, SYN, ACK, ...) is one
 * "netfilter.flag" field; the quoted packet of an ICMP error ("[SRC=...
 * ]") is kept whole as "netfilter.icmp_inner". The prefix is
 * "netfilter.prefix" and rule.name; event.action is block, drop, reject or
 * allow when the prefix says so (Ubiquiti's "-A/-D/-R" rule suffixes too),
 * else the prefix text. */
#include <string.h>

#include "ingest/syslog-prog.h"

#define KEY_MAX 24

static int is_boundary(char c)
{
    return c == ' ' || c == ']' || c == ':';
}

/* The first "IN=" or "OUT=" that starts a word, when the text also has
 * " SRC=" and " DST=" after it; NULL otherwise. */
static const char *kv_start(const char *m, size_t n)
{
    const char *end = m + n, *p = m, *best = NULL, *eq = m;

    /* From '=' to '=' (memchr), looking back for "IN" or "OUT" at a word
     * start: the first such '=' gives the first such word. */
    while (eq < end && (eq = memchr(eq, '=', (size_t)(end - eq))) != NULL) {
        size_t at = (size_t)(eq - m); /* offset of the '=' */
        if (at >= 2 && eq[-2] == 'I' && eq[-1] == 'N' && (at == 2 || is_boundary(eq[-3]))) {
            best = eq - 2;
            break;
        }
        if (at >= 3 && eq[-3] == 'O' && eq[-2] == 'U' && eq[-1] == 'T' &&
            (at == 3 || is_boundary(eq[-4]))) {
            best = eq - 3;
            break;
        }
        eq++;
    }
    if (!best)
        return NULL;
    p = best;
    if (!kb_memmem(p, (size_t)(end - p), "SRC=", 4) || !kb_memmem(p, (size_t)(end - p), "DST=", 4))
        return NULL;
    return best;
}

static const char *prefix_action(const char *p, size_t n)
{
    if (kb_syslog_ifind(p, n, "reject") >= 0)
        return "reject";
    if (kb_syslog_ifind(p, n, "drop") >= 0)
        return "drop";
    if (kb_syslog_ifind(p, n, "block") >= 0 || kb_syslog_ifind(p, n, "deny") >= 0)
        return "block";
    if (kb_syslog_ifind(p, n, "accept") >= 0 || kb_syslog_ifind(p, n, "allow") >= 0)
        return "allow";
    if (n >= 3 && p[n - 2] == '-') { /* Ubiquiti EdgeOS rule names: NAME-A/-D/-R */
        switch (p[n - 1]) {
        case 'A':
            return "allow";
        case 'D':
            return "drop";
        case 'R':
            return "reject";
        }
    }
    return NULL;
}

static const struct {
    const char *in, *out;
} transports[] = {
    {"TCP", "tcp"}, {"UDP", "udp"}, {"ICMP", "icmp"},    {"ICMPv6", "ipv6-icmp"}, {"ESP", "esp"},
    {"AH", "ah"},   {"GRE", "gre"}, {"SCTP", "sctp"},    {"UDPLITE", "udplite"},  {"IGMP", "igmp"},
    {"1", "icmp"},  {"2", "igmp"},  {"6", "tcp"},        {"17", "udp"},           {"47", "gre"},
    {"50", "esp"},  {"51", "ah"},   {"58", "ipv6-icmp"}, {"132", "sctp"},
};

static int set_transport(kb_decode_ctx *ctx, kb_event *ev, const char *v, size_t n)
{
    char *low;
    int rc;

    if (n == 0)
        return KB_OK;
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++)
        if (kb_str_ieqz(v, n, transports[i].in))
            return kb_syslog_put(ctx, ev, KB_F_NETWORK_TRANSPORT, KB_V_STR, transports[i].out,
                                 strlen(transports[i].out));
    low = kb_arena_strndup(ev->arena, v, n);
    if (!low) {
        ctx->err = "out of memory (batch arena cap)";
        return KB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (low[i] >= 'A' && low[i] <= 'Z')
            low[i] = (char)(low[i] + 32);
    rc = kb_syslog_put(ctx, ev, KB_F_NETWORK_TRANSPORT, KB_V_STR, low, n);
    return rc;
}

static int set_static(kb_decode_ctx *ctx, kb_event *ev, int c, const char *v)
{
    int rc = kb_event_set(ev, c, KB_V_STR, v, strlen(v));
    if (rc < 0)
        ctx->err = rc == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields";
    return rc;
}

/* One KEY=VALUE. */
static int add_kv(kb_decode_ctx *ctx, kb_event *ev, const char *k, size_t kl, const char *v,
                  size_t vl)
{
    char name[10 + KEY_MAX];
    int idx, num = kb_syslog_is_uint(v, vl);

    memcpy(name, "netfilter.", 10);
    for (size_t i = 0; i < kl; i++)
        name[10 + i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
    idx = kb_event_add_named(ev, name, 10 + kl, num ? KB_V_INT : KB_V_STR, v, vl);
    if (idx < 0) {
        ctx->err =
            idx == KB_ENOMEM ? "out of memory (batch arena cap)" : "too many fields or field names";
        return idx;
    }
    if (vl == 0)
        return KB_OK;
    /* First occurrence wins: the IP header comes before the transport's. */
    if (kb_str_eq(k, kl, "SRC", 3) && !kb_event_canon(ev, KB_F_SOURCE_IP))
        kb_event_alias(ev, KB_F_SOURCE_IP, idx);
    else if (kb_str_eq(k, kl, "DST", 3) && !kb_event_canon(ev, KB_F_DESTINATION_IP))
        kb_event_alias(ev, KB_F_DESTINATION_IP, idx);
    else if (kb_str_eq(k, kl, "SPT", 3) && num && !kb_event_canon(ev, KB_F_SOURCE_PORT))
        kb_event_alias(ev, KB_F_SOURCE_PORT, idx);
    else if (kb_str_eq(k, kl, "DPT", 3) && num && !kb_event_canon(ev, KB_F_DESTINATION_PORT))
        kb_event_alias(ev, KB_F_DESTINATION_PORT, idx);
    else if (kb_str_eq(k, kl, "PROTO", 5) && !kb_event_canon(ev, KB_F_NETWORK_TRANSPORT))
        return set_transport(ctx, ev, v, vl);
    return KB_OK;
}

/* The KEY=VALUE part from kv to end, plus the prefix (may be empty). */
static int decode_kv(kb_decode_ctx *ctx, kb_event *ev, const char *pre, size_t plen, const char *kv,
                     const char *end)
{
    const char *p = kv, *action;
    int rc, idx;

    /* Prefix: drop the kernel's "[  203.842973]" clock, spaces, a final ':'
     * and enclosing brackets. */
    while (plen && pre[0] == ' ')
        pre++, plen--;
    if (plen && pre[0] == '[') {
        size_t k = 1;
        while (k < plen && (pre[k] == ' ' || pre[k] == '.' || (pre[k] >= '0' && pre[k] <= '9')))
            k++;
        if (k > 1 && k < plen && pre[k] == ']') {
            pre += k + 1;
            plen -= k + 1;
        }
    }
    while (plen && pre[0] == ' ')
        pre++, plen--;
    while (plen && (pre[plen - 1] == ' ' || pre[plen - 1] == ':'))
        plen--;
    if (plen >= 2 && pre[0] == '[' && pre[plen - 1] == ']')
        pre++, plen -= 2;

    if ((rc = set_static(ctx, ev, KB_F_EVENT_KIND, "event")) < 0 ||
        (rc = set_static(ctx, ev, KB_F_EVENT_CATEGORY, "network")) < 0)
        return rc;
    if (plen) {
        if ((idx = kb_syslog_raw(ctx, ev, "netfilter.prefix", KB_V_STR, pre, plen)) < 0)
            return idx;
        kb_event_alias(ev, KB_F_RULE_NAME, idx);
        action = prefix_action(pre, plen);
        rc = action ? set_static(ctx, ev, KB_F_EVENT_ACTION, action)
                    : kb_syslog_put(ctx, ev, KB_F_EVENT_ACTION, KB_V_STR, pre, plen);
        if (rc < 0)
            return rc;
    }

    while (p < end) {
        const char *w = p, *eq;
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        if (*p == '[') { /* the packet quoted by an ICMP error */
            const char *c = memchr(p, ']', (size_t)(end - p));
            const char *e = c ? c : end;
            if ((rc = kb_syslog_raw(ctx, ev, "netfilter.icmp_inner", KB_V_STR, p + 1,
                                    (size_t)(e - p - 1))) < 0)
                return rc;
            p = c ? c + 1 : end;
            continue;
        }
        w = p;
        while (p < end && *p != ' ')
            p++;
        eq = memchr(w, '=', (size_t)(p - w));
        if (eq && eq > w && (size_t)(eq - w) <= KEY_MAX)
            rc = add_kv(ctx, ev, w, (size_t)(eq - w), eq + 1, (size_t)(p - eq - 1));
        else
            rc = kb_syslog_raw(ctx, ev, "netfilter.flag", KB_V_STR, w, (size_t)(p - w));
        if (rc < 0)
            return rc;
    }
    ev->ls.product = "linux";
    ev->ls.category = "firewall";
    ev->ls.service = NULL;
    return KB_OK;
}

static int netfilter_match(const kb_syslog_hdr *h)
{
    return kv_start(h->msg.p, h->msg.len) != NULL;
}

static int netfilter_decode(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev)
{
    const char *kv = kv_start(h->msg.p, h->msg.len);
    const char *pre = h->msg.p;
    size_t plen = (size_t)(kv - h->msg.p);

    /* "Jan  8 03:37:09 DENY: IN=..." : the prefix was read as the tag. */
    if (plen == 0 && h->app.len && !kb_str_eqz(h->app.p, h->app.len, "kernel")) {
        pre = h->app.p;
        plen = h->app.len;
    }
    return decode_kv(ctx, ev, pre, plen, kv, h->msg.p + h->msg.len);
}

int kb_netfilter_bare_match(const char *line, size_t len)
{
    return kv_start(line, len) != NULL;
}

/* Proxmox "dd/Mon/yyyy:hh:mm:ss +zzzz" at s (exactly 26 bytes). */
static int pve_time(const char *s, size_t len, int64_t *ts)
{
    int v[7], mon, off;
    static const int at[] = {0, 7, 12, 15, 18, 22, 24};
    static const int nd[] = {2, 4, 2, 2, 2, 2, 2};

    if (len < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
        s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return -1;
    for (int f = 0; f < 7; f++) {
        v[f] = 0;
        for (int k = 0; k < nd[f]; k++) {
            char c = s[at[f] + k];
            if (c < '0' || c > '9')
                return -1;
            v[f] = v[f] * 10 + (c - '0');
        }
    }
    mon = kb_month_from_abbr(s + 3, 3);
    if (!mon || kb_time_make(v[1], mon, v[0], v[2], v[3], v[4], 0, ts))
        return -1;
    off = (v[5] * 3600 + v[6] * 60) * (s[21] == '-' ? -1 : 1);
    *ts -= (int64_t)off * KB_NS_PER_SEC;
    return 0;
}

int kb_netfilter_decode_bare(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    const char *kv = kv_start(line, len), *pre = line, *end = line + len;
    const char *w[3], *we[3], *p = line;
    int rc;

    if (!kv) {
        ctx->err = "no syslog header and no firewall fields";
        return KB_EPARSE;
    }
    ev->ts = KB_TIME_NONE;
    /* pve-firewall.log: "VMID LEVEL CHAIN dd/Mon/yyyy:hh:mm:ss +zzzz ..." */
    for (int i = 0; i < 3; i++) {
        w[i] = p;
        while (p < kv && *p != ' ')
            p++;
        we[i] = p;
        if (p < kv)
            p++;
    }
    if (we[0] > w[0] && kb_syslog_is_uint(w[0], (size_t)(we[0] - w[0])) &&
        kb_syslog_is_uint(w[1], (size_t)(we[1] - w[1])) && we[2] > w[2] &&
        pve_time(p, (size_t)(kv - p), &ev->ts) == 0) {
        static const char *const names[] = {"pvefw.vmid", "pvefw.loglevel", "pvefw.chain"};
        int idx;
        for (int i = 0; i < 3; i++) {
            rc = kb_syslog_raw(ctx, ev, names[i], i < 2 ? KB_V_INT : KB_V_STR, w[i],
                               (size_t)(we[i] - w[i]));
            if (rc < 0)
                return rc;
        }
        if ((idx = kb_syslog_raw(ctx, ev, "pvefw.timestamp", KB_V_STR, p, 26)) < 0)
            return idx;
        kb_event_alias(ev, KB_F_TIMESTAMP, idx);
        if ((rc = set_static(ctx, ev, KB_F_PROCESS_NAME, "pve-firewall")) < 0 ||
            (rc = set_static(ctx, ev, KB_F_OBSERVER_PRODUCT, "Proxmox VE")) < 0)
            return rc;
        pre = p + 26;
    }
    if ((rc = kb_syslog_put(ctx, ev, KB_F_MESSAGE, KB_V_STR, line, len)) < 0)
        return rc;
    rc = decode_kv(ctx, ev, pre, (size_t)(kv - pre), kv, end);
    return rc < 0 ? rc : KB_OK;
}

const kb_syslog_prog kb_syslog_prog_netfilter = {"netfilter", netfilter_match, netfilter_decode};
