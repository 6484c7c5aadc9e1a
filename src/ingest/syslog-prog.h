/* Internal to the syslog decoder: the table of program decoders that read
 * the message of a syslog line (sshd, sudo, kernel firewall lines), and the
 * small helpers they share.
 *
 * A program decoder is one row { name, match, decode }. syslog.c has
 * already parsed the header and added the header fields, set ev->ts and a
 * default logsource (product linux, service syslog or auth); the first row
 * whose match() accepts the header decodes the message. decode() adds the
 * fields it recognises and returns KB_OK even when the message is one it
 * does not know (the event stays plain syslog); it fails only with
 * KB_ENOMEM / KB_ELIMIT from adding fields, setting ctx->err. */
#ifndef KB_INGEST_SYSLOG_PROG_H
#define KB_INGEST_SYSLOG_PROG_H

#include "ingest/decoders.h"

typedef struct kb_syslog_prog {
    const char *name;
    int (*match)(const kb_syslog_hdr *h);
    int (*decode)(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev);
} kb_syslog_prog;

extern const kb_syslog_prog kb_syslog_prog_sshd;      /* sshd.c */
extern const kb_syslog_prog kb_syslog_prog_sudo;      /* sudo.c */
extern const kb_syslog_prog kb_syslog_prog_netfilter; /* netfilter.c */

/* Kernel firewall lines written without a syslog header (a bare
 * "IN=... OUT=... SRC=..." line, or Proxmox's pve-firewall.log line
 * "VMID LEVEL CHAIN dd/Mon/yyyy:hh:mm:ss +zzzz PREFIX: IN=..."). The
 * first returns 1 when the line looks like one; the second decodes it as
 * a whole record (sets ev->ts, ev->ls and the fields). netfilter.c. */
int kb_netfilter_bare_match(const char *line, size_t len);
int kb_netfilter_decode_bare(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev);

/* ---- helpers (syslog.c) ------------------------------------------------ */

/* Adds a field named by canonical c holding the slice (borrowed) and points
 * the canonical slot at it. Returns the index or a KB_E* code with
 * ctx->err set. */
int kb_syslog_put(kb_decode_ctx *ctx, kb_event *ev, int c, kb_vtype t, const char *p, size_t n);
/* Adds a raw field by name (the slice is borrowed). Same returns. The name
 * must be static (a literal or a static table's entry): its id is cached
 * per thread by the name's address. */
int kb_syslog_raw(kb_decode_ctx *ctx, kb_event *ev, const char *name, kb_vtype t, const char *p,
                  size_t n);
/* Finds "key=value" in s where key starts s or follows a space or ';';
 * the value runs to the next space (it may be empty). 1 if found. */
int kb_syslog_kv(const char *s, size_t len, const char *key, kb_str *val);
/* 1 when the slice looks like an IPv4 or IPv6 address (cheap shape check:
 * hex digits, dots and colons, at least one dot or colon, <= 45 bytes). */
int kb_syslog_is_ip(const char *p, size_t n);
/* 1 when the slice is 1-20 decimal digits. */
int kb_syslog_is_uint(const char *p, size_t n);
/* Whether the slice s[0..n) starts with the string literal `lit` (a
 * kb_str_has_prefix whose length the compiler knows: no strlen, and the
 * memcmp becomes a few compares). */
#define KB_SYSLOG_PREFIX(s, n, lit)                                                                \
    ((n) >= sizeof(lit) - 1 && memcmp((s), (lit), sizeof(lit) - 1) == 0)
/* Case-insensitive search of an ASCII needle; returns the offset or -1. */
long kb_syslog_ifind(const char *s, size_t len, const char *needle);

#endif
