/* Tables, CSV and JSON Lines for records. */
#include <string.h>
#include <unistd.h>

#include "cmd/output.h"
#include "event/json.h"

void kb_out_init(kb_out *o, FILE *f, kb_out_format fmt, const kb_out_col *cols, int ncols)
{
    memset(o, 0, sizeof *o);
    o->f = f;
    o->fmt = fmt;
    o->cols = cols;
    o->ncols = ncols;
    o->color = fmt == KB_OUT_TABLE && isatty(fileno(f));
    kb_buf_init(&o->line, 0);
}

void kb_out_release(kb_out *o)
{
    fflush(o->f);
    kb_buf_release(&o->line);
}

int kb_csv_put(kb_buf *b, const char *s, size_t len)
{
    int quote = 0;
    int rc;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    if (!quote)
        return kb_buf_append(b, s, len);
    if ((rc = kb_buf_putc(b, '"')))
        return rc;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && (rc = kb_buf_putc(b, '"')))
            return rc;
        if ((rc = kb_buf_putc(b, s[i])))
            return rc;
    }
    return kb_buf_putc(b, '"');
}

size_t kb_out_put_chars(kb_buf *b, const char *s, size_t len, size_t max, size_t *chars)
{
    size_t i = 0, k = 0;
    while (i < len && k < max) {
        unsigned char c = (unsigned char)s[i];
        size_t n = 1;
        if (c >= 0xc0)
            while (i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
                n++;
        if (c < 0x20 || c == 0x7f)
            kb_buf_putc(b, ' ');
        else
            kb_buf_append(b, s + i, n);
        i += n;
        k++;
    }
    if (chars)
        *chars = k;
    return i;
}

/* Appends at most width display columns of s to b, replacing control
 * characters and cutting with "..." (counting UTF-8 sequences as one). */
static void put_cell(kb_buf *b, const char *s, size_t len, int width, int pad)
{
    size_t cols, limit = width > 0 ? (size_t)width : SIZE_MAX;
    size_t chars = 0;

    for (size_t k = 0; k < len; k++)
        if (((unsigned char)s[k] & 0xc0) != 0x80)
            chars++;
    if (chars > limit && limit > 3)
        limit -= 3;
    else if (chars <= limit)
        limit = chars;
    kb_out_put_chars(b, s, len, limit, &cols);
    if (chars > cols && width > 0) {
        kb_buf_puts(b, "...");
        cols += 3;
    }
    if (pad)
        for (; cols < (size_t)width; cols++)
            kb_buf_putc(b, ' ');
}

static void table_header(kb_out *o)
{
    kb_buf_clear(&o->line);
    if (o->color)
        kb_buf_puts(&o->line, "\033[1m");
    for (int c = 0; c < o->ncols; c++) {
        const char *t = o->cols[c].title;
        put_cell(&o->line, t, strlen(t), o->cols[c].width, c + 1 < o->ncols);
        if (c + 1 < o->ncols)
            kb_buf_puts(&o->line, "  ");
    }
    if (o->color)
        kb_buf_puts(&o->line, "\033[0m");
    kb_buf_putc(&o->line, '\n');
    fwrite(o->line.data, 1, o->line.len, o->f);
}

void kb_out_row(kb_out *o, const kb_str *vals)
{
    kb_buf_clear(&o->line);
    if (o->rows == 0) {
        if (o->fmt == KB_OUT_TABLE) {
            table_header(o);
            kb_buf_clear(&o->line);
        } else if (o->fmt == KB_OUT_CSV) {
            for (int c = 0; c < o->ncols; c++) {
                if (c)
                    kb_buf_putc(&o->line, ',');
                kb_csv_put(&o->line, o->cols[c].title, strlen(o->cols[c].title));
            }
            kb_buf_putc(&o->line, '\n');
        }
    }
    for (int c = 0; c < o->ncols; c++) {
        const char *p = vals[c].p ? vals[c].p : "";
        size_t len = vals[c].p ? vals[c].len : 0;
        if (o->fmt == KB_OUT_CSV) {
            if (c)
                kb_buf_putc(&o->line, ',');
            kb_csv_put(&o->line, p, len);
        } else {
            put_cell(&o->line, p, len, o->cols[c].width, c + 1 < o->ncols);
            if (c + 1 < o->ncols)
                kb_buf_puts(&o->line, "  ");
        }
    }
    kb_buf_putc(&o->line, '\n');
    fwrite(o->line.data, 1, o->line.len, o->f);
    o->rows++;
}

void kb_out_json(kb_out *o, const char *json, size_t len)
{
    fwrite(json, 1, len, o->f);
    fputc('\n', o->f);
    o->rows++;
}

/* ---- events as JSON ---------------------------------------------------- */

/* A JSON number per RFC 8259 (so decoders' number text can be printed bare). */
static int json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i == len)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < len && s[i] == '.') {
        size_t d = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t d;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return i == len;
}

static int canon_numeric(int c)
{
    return c == KB_F_SOURCE_PORT || c == KB_F_DESTINATION_PORT || c == KB_F_PROCESS_PID ||
           c == KB_F_HTTP_RESPONSE_STATUS_CODE || c == KB_F_LOG_OFFSET;
}

static void put_value(kb_buf *b, const kb_field *f, int numeric)
{
    switch (f->type) {
    case KB_V_NULL:
        kb_buf_puts(b, "null");
        return;
    case KB_V_BOOL:
        kb_buf_puts(b, f->len == 4 && memcmp(f->val, "true", 4) == 0 ? "true" : "false");
        return;
    case KB_V_INT:
    case KB_V_FLOAT:
        if (json_number(f->val, f->len)) {
            kb_buf_append(b, f->val, f->len);
            return;
        }
        break;
    case KB_V_ARRAY:
    case KB_V_OBJECT:
        /* Raw JSON text from a JSON record: already valid JSON. */
        kb_buf_append(b, f->val, f->len);
        return;
    default:
        if (numeric && f->len && f->len < 20 && json_number(f->val, f->len)) {
            kb_buf_append(b, f->val, f->len);
            return;
        }
        break;
    }
    kb_json_put_str(b, f->val, f->len);
}

/* A set of field ids for one event: open addressing over 2x the field cap. */
#define SEEN_SLOTS (2 * KB_EVENT_MAX_FIELDS)

static int seen_add(kb_fid *set, kb_fid id)
{
    uint32_t h = (id * 2654435761u) & (SEEN_SLOTS - 1);
    while (set[h] != KB_FID_NONE) {
        if (set[h] == id)
            return 0;
        h = (h + 1) & (SEEN_SLOTS - 1);
    }
    set[h] = id;
    return 1;
}

int kb_event_to_json(const kb_event *ev, int all, kb_buf *b)
{
    char ts[40];
    int first = 1;
    static _Thread_local kb_fid seen[SEEN_SLOTS];

    kb_buf_putc(b, '{');
    if (ev->ts != KB_TIME_NONE) {
        size_t n = kb_time_format(ev->ts, ts, sizeof ts);
        kb_buf_puts(b, "\"@timestamp\":");
        kb_json_put_str(b, ts, n);
        first = 0;
    }
    for (int c = 0; c < KB_F_CANON_COUNT; c++) {
        const kb_field *f = kb_event_canon(ev, c);
        if (!f || (c == KB_F_TIMESTAMP && ev->ts != KB_TIME_NONE))
            continue;
        if (!first)
            kb_buf_putc(b, ',');
        first = 0;
        kb_json_put_str(b, kb_canon_name(c), strlen(kb_canon_name(c)));
        kb_buf_putc(b, ':');
        put_value(b, f, canon_numeric(c));
    }
    if (!first)
        kb_buf_putc(b, ',');
    kb_buf_puts(b, "\"log.format\":");
    kb_json_put_str(b, ev->format ? ev->format : "", ev->format ? strlen(ev->format) : 0);
    kb_buf_puts(b, ",\"logsource\":{");
    {
        const char *keys[] = {"product", "category", "service"};
        const char *vals[] = {ev->ls.product, ev->ls.category, ev->ls.service};
        int any = 0;
        for (int k = 0; k < 3; k++) {
            if (!vals[k])
                continue;
            if (any)
                kb_buf_putc(b, ',');
            any = 1;
            kb_buf_printf(b, "\"%s\":", keys[k]);
            kb_json_put_str(b, vals[k], strlen(vals[k]));
        }
    }
    kb_buf_putc(b, '}');
    if (all) {
        memset(seen, 0xff, sizeof seen);
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const kb_field *f = &ev->fields[i];
            size_t nlen;
            const char *name;
            /* Canonical names were printed above; elements are inside
             * their array's raw text; a repeated key is printed once. */
            if (f->name < KB_F_CANON_COUNT || (f->flags & KB_FF_ELEM) || !seen_add(seen, f->name))
                continue;
            name = kb_names_str(ev->names, f->name, &nlen);
            kb_buf_putc(b, ',');
            kb_json_put_str(b, name, nlen);
            kb_buf_putc(b, ':');
            put_value(b, f, 0);
        }
    }
    return kb_buf_putc(b, '}');
}
