/* Internal to src/ingest: the decoder rows, and the pieces decoders share
 * (a syslog header under CEF and LEEF, key=value scanning). */
#ifndef KB_INGEST_DECODERS_H
#define KB_INGEST_DECODERS_H

#include "ingest/ingest.h"

extern const kb_decoder kb_dec_suricata; /* eve.c */
extern const kb_decoder kb_dec_winevt;   /* winevt.c */
extern const kb_decoder kb_dec_syslog;   /* syslog.c */
extern const kb_decoder kb_dec_cef;      /* cef.c */
extern const kb_decoder kb_dec_leef;     /* leef.c */
extern const kb_decoder kb_dec_zeek;     /* zeek.c: TSV with its # header */
extern const kb_decoder kb_dec_zeek_json; /* zeek.c */
extern const kb_decoder kb_dec_squid;    /* squid.c */
extern const kb_decoder kb_dec_weblog;   /* weblog.c: Apache/nginx combined */
extern const kb_decoder kb_dec_json;     /* jsonl.c: generic JSON Lines */

/* A parsed syslog header (RFC 3164 or RFC 5424). Slices borrow the line. */
typedef struct kb_syslog_hdr {
    int pri;           /* -1 when absent */
    int version;       /* 0 for RFC 3164, 1 for RFC 5424 */
    int64_t ts;        /* KB_TIME_NONE when absent */
    kb_str ts_text;
    kb_str host;
    kb_str app;        /* program / APP-NAME */
    kb_str pid;        /* PROCID */
    kb_str msgid;      /* RFC 5424 only */
    kb_str sd;         /* RFC 5424 structured data, raw, "-" excluded */
    kb_str msg;        /* the message after the header */
} kb_syslog_hdr;

/* Parses the header of a syslog line. KB_OK, or KB_EPARSE with ctx->err. */
int kb_syslog_parse(kb_decode_ctx *ctx, const char *line, size_t len, kb_syslog_hdr *h);
/* Adds the header's fields (syslog.*, host.name, @timestamp, process.name,
 * process.pid) to ev. */
int kb_syslog_fill(kb_decode_ctx *ctx, const kb_syslog_hdr *h, kb_event *ev);

/* CEF and LEEF bodies starting at "CEF:" / "LEEF:", for syslog.c to call
 * when a syslog message carries one. */
int kb_cef_decode_body(kb_decode_ctx *ctx, const char *p, size_t len, kb_event *ev);
int kb_leef_decode_body(kb_decode_ctx *ctx, const char *p, size_t len, kb_event *ev);

/* 1 when the slice is a dotted-quad IPv4 address (four runs of one to three
 * digits) or something made only of IPv6 characters (hex digits and colons)
 * with at least two colons; at most 45 bytes. Used by the web and Squid
 * access-log decoders for client and peer hosts. (kb_syslog_is_ip is a
 * looser shape check.) */
int kb_decoder_is_ip(const char *s, size_t n);

#endif
