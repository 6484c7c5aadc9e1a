/* Helpers shared by the triage files (not part of the module's face). */
#ifndef KB_TRIAGE_INT_H
#define KB_TRIAGE_INT_H

#include "store/store.h"
#include "triage/triage.h"

/* ---- CSV (RFC 4180, quoted fields may span lines) ----------------------- */

#define CSV_MAX_FIELDS 256
#define CSV_MAX_RECORD (1u << 20)

typedef struct csv_reader {
    const char *p, *end;
    uint64_t line;   /* line of the next record */
    char delim;
    kb_buf rec;      /* unescaped fields of the current record */
    size_t off[CSV_MAX_FIELDS + 1];
    kb_str f[CSV_MAX_FIELDS];
    size_t n;
    uint64_t rec_line; /* first line of the current record */
    const char *err;
} csv_reader;

/* Starts reading p[0..len); the delimiter (',' ';' or tab) is the most
 * frequent of them in the first line. A UTF-8 BOM is skipped. */
void csv_init(csv_reader *c, const char *p, size_t len);
void csv_release(csv_reader *c);
/* Reads the next record into c->f[0..n). Returns 1, 0 at the end, or -1
 * with c->err set (the rest of the input is then abandoned). Blank lines
 * are skipped. */
int csv_next(csv_reader *c);
/* Reads the header record, reporting a CSV error in it to rep (as
 * name:line: reason). The header is copied to *hbuf, which the caller
 * kb_free's, and hdr[0..*nh) are slices of the copy, so they outlive the
 * records read after it. Returns 1, 0 when there is no header (empty input
 * or the error reported), or KB_ENOMEM. */
int csv_header(csv_reader *c, kb_import_report *rep, const char *name, kb_str *hdr, char **hbuf,
               size_t *nh);
/* Index of the header column whose name is one of names (a NULL-terminated
 * list, case-insensitive), or -1. */
int csv_col(const kb_str *hdr, size_t n, const char *const *names);

/* Appends "name:line: reason\n" to the report (capped). */
void report_bad(kb_import_report *r, const char *name, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Trims ASCII white space. */
kb_str str_trim(const char *p, size_t len);
/* Case-insensitive substring test (needle NUL-terminated). */
int str_icontains(const char *h, size_t hlen, const char *needle);
/* Parses a time written as RFC 3339, a date (YYYY-MM-DD), epoch seconds, or
 * the C locale "Mon Jul  1 11:40:48 2013" Nessus writes. */
int time_parse_any(const char *s, size_t len, int64_t *out);
/* Parses a decimal like "7.5"; KB_EPARSE otherwise. */
int parse_double(const char *s, size_t len, double *out);
/* Calls fn for each CVE id ("CVE-YYYY-NNNN+", upper-cased) found in s,
 * also the Sigma tag form "cve.2021-44228". */
void cve_scan(const char *s, size_t len, void (*fn)(void *ud, const char *cve, size_t n),
              void *ud);

/* Exec wrappers. */
int tx_exec(struct kb_store *st, const char *sql, const kb_sval *p, size_t n);

#endif
