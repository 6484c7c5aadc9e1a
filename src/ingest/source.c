/* Reading sources: files, directories, standard input, gzip and zstd;
 * splitting into records; sniffing the format; decoding in batches.
 *
 * Memory is bounded by the options, not by the input: the line buffer
 * grows to at most max_record (+ one batch), a batch holds at most
 * MAX_BATCH_EVENTS events, and each batch's arena has a cap. A record
 * longer than max_record is streamed to the rejects file and skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "ingest/ingest.h"

#define MAX_BATCH_EVENTS 8192
#define SNIFF_LINES 16
#define SNIFF_LINE_MAX 4096
#define MAX_DIR_DEPTH 32
#define IN_CHUNK (128u * 1024)

struct kb_ingest {
    kb_names *names;
    kb_ingest_opts o;
    kb_arena *arena;
    kb_event *events; /* MAX_BATCH_EVENTS, reused */
    char *buf;
    size_t alloc;
    kb_ingest_stats total;
    uint64_t failed;
};

/* ---- decompressing reader ---------------------------------------------- */

enum { RD_PLAIN, RD_GZIP, RD_ZSTD };

struct reader {
    int fd;
    int kind;
    z_stream zgz;
    int gz_live;
    ZSTD_DCtx *zs;
    unsigned char *zin; /* zstd input staging */
    ZSTD_inBuffer in;
    unsigned char peek[4];
    size_t npeek; /* bytes read for magic detection, served first */
    int eof;
    const char *err;
    uint64_t remain; /* plain: bytes left to read (a part of a file) */
};

static ssize_t read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int reader_open(struct reader *r, int fd)
{
    ssize_t n;

    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->remain = UINT64_MAX;
    n = read_full(fd, r->peek, sizeof r->peek);
    if (n < 0)
        return KB_EIO;
    r->npeek = (size_t)n;
    if (n >= 2 && r->peek[0] == 0x1f && r->peek[1] == 0x8b) {
        r->zin = kb_malloc(IN_CHUNK);
        if (!r->zin)
            return KB_ENOMEM;
        memset(&r->zgz, 0, sizeof r->zgz);
        /* 16 + MAX_WBITS: gzip framing; members are restarted in reader_read. */
        if (inflateInit2(&r->zgz, 16 + MAX_WBITS) != Z_OK)
            return KB_ENOMEM;
        r->gz_live = 1;
        memcpy(r->zin, r->peek, (size_t)n);
        r->zgz.next_in = r->zin;
        r->zgz.avail_in = (uInt)n;
        r->npeek = 0;
        r->kind = RD_GZIP;
        return KB_OK;
    }
    if (n == 4 && r->peek[0] == 0x28 && r->peek[1] == 0xb5 && r->peek[2] == 0x2f &&
        r->peek[3] == 0xfd) {
        r->zs = ZSTD_createDCtx();
        r->zin = kb_malloc(ZSTD_DStreamInSize());
        if (!r->zs || !r->zin)
            return KB_ENOMEM;
        memcpy(r->zin, r->peek, 4);
        r->in = (ZSTD_inBuffer){r->zin, 4, 0};
        r->npeek = 0;
        r->kind = RD_ZSTD;
        return KB_OK;
    }
    r->kind = RD_PLAIN;
    return KB_OK;
}

/* A plain reader of the next len bytes of fd (a part of a file). */
static void reader_open_part(struct reader *r, int fd, uint64_t len)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->kind = RD_PLAIN;
    r->remain = len;
}

static void reader_close(struct reader *r)
{
    if (r->gz_live)
        inflateEnd(&r->zgz);
    ZSTD_freeDCtx(r->zs);
    kb_free(r->zin);
}

/* Reads up to n bytes; 0 at the end; -1 on error (r->err set). */
static ssize_t reader_read(struct reader *r, char *p, size_t n)
{
    if (r->kind == RD_PLAIN) {
        size_t got = 0;
        ssize_t k;
        if (n > r->remain)
            n = (size_t)r->remain;
        if (r->npeek) {
            got = r->npeek < n ? r->npeek : n;
            memcpy(p, r->peek, got);
            memmove(r->peek, r->peek + got, r->npeek - got);
            r->npeek -= got;
        }
        k = read_full(r->fd, p + got, n - got);
        if (k < 0) {
            r->err = strerror(errno);
            return -1;
        }
        if (r->remain != UINT64_MAX)
            r->remain -= (uint64_t)got + (uint64_t)k;
        return (ssize_t)got + k;
    }
    if (r->kind == RD_GZIP) {
        r->zgz.next_out = (Bytef *)p;
        r->zgz.avail_out = (uInt)(n > 1u << 30 ? 1u << 30 : n);
        while (r->zgz.avail_out) {
            int zr;
            if (r->zgz.avail_in == 0) {
                ssize_t k;
                if (r->eof)
                    break;
                k = read_full(r->fd, r->zin, IN_CHUNK);
                if (k < 0) {
                    r->err = strerror(errno);
                    return -1;
                }
                if (k == 0) {
                    r->eof = 1;
                    break;
                }
                r->zgz.next_in = r->zin;
                r->zgz.avail_in = (uInt)k;
            }
            zr = inflate(&r->zgz, Z_NO_FLUSH);
            if (zr == Z_STREAM_END) {
                /* Concatenated gzip members continue the stream. */
                if (inflateReset(&r->zgz) != Z_OK) {
                    r->err = "gzip: cannot restart";
                    return -1;
                }
                continue;
            }
            if (zr != Z_OK && zr != Z_BUF_ERROR) {
                r->err = r->zgz.msg ? r->zgz.msg : "gzip: corrupt data";
                return -1;
            }
            if (zr == Z_BUF_ERROR && r->zgz.avail_in)
                break;
        }
        return (ssize_t)((char *)r->zgz.next_out - p);
    }
    /* zstd */
    {
        ZSTD_outBuffer out = {p, n, 0};
        while (out.pos < out.size) {
            size_t rc;
            if (r->in.pos == r->in.size) {
                ssize_t k;
                if (r->eof)
                    break;
                k = read_full(r->fd, r->zin, ZSTD_DStreamInSize());
                if (k < 0) {
                    r->err = strerror(errno);
                    return -1;
                }
                if (k == 0) {
                    r->eof = 1;
                    break;
                }
                r->in = (ZSTD_inBuffer){r->zin, (size_t)k, 0};
            }
            rc = ZSTD_decompressStream(r->zs, &out, &r->in);
            if (ZSTD_isError(rc)) {
                r->err = ZSTD_getErrorName(rc);
                return -1;
            }
        }
        return (ssize_t)out.pos;
    }
}

/* ---- the ingest handle ------------------------------------------------- */

kb_ingest *kb_ingest_new(kb_names *names, const kb_ingest_opts *opts)
{
    kb_ingest *ing = kb_calloc(1, sizeof *ing);
    size_t chunk;
    if (!ing)
        return NULL;
    ing->names = names;
    if (opts)
        ing->o = *opts;
    if (!ing->o.max_record)
        ing->o.max_record = 16u << 20;
    if (!ing->o.batch_bytes)
        ing->o.batch_bytes = 1u << 20;
    if (!ing->o.arena_cap)
        ing->o.arena_cap = 256u << 20;
    if (!ing->o.max_messages)
        ing->o.max_messages = 10;
    /* Chunks of four batches of input: a batch's fields and rewritten
     * values (1-3 times its bytes for JSON) fit in the first chunk, which
     * the arena keeps across batches, instead of chunks being freed and
     * faulted in again every batch. */
    chunk = 4 * ing->o.batch_bytes;
    if (chunk > ing->o.arena_cap)
        chunk = ing->o.arena_cap;
    ing->arena = kb_arena_new(chunk, ing->o.arena_cap);
    ing->events = kb_calloc(MAX_BATCH_EVENTS, sizeof *ing->events);
    if (!ing->arena || !ing->events) {
        kb_ingest_free(ing);
        return NULL;
    }
    return ing;
}

void kb_ingest_free(kb_ingest *ing)
{
    if (!ing)
        return;
    kb_arena_free(ing->arena);
    kb_free(ing->events);
    kb_free(ing->buf);
    kb_free(ing);
}

void kb_ingest_totals(const kb_ingest *ing, kb_ingest_stats *st, uint64_t *sources_failed)
{
    *st = ing->total;
    if (sources_failed)
        *sources_failed = ing->failed;
}

/* ---- one source -------------------------------------------------------- */

struct source {
    kb_ingest *ing;
    const char *path;
    const kb_decoder *dec;
    kb_decode_ctx ctx;
    kb_ingest_stats st;
    unsigned messages;
    kb_batch_fn fn;
    void *ud;
    size_t nev;
    size_t path_len;
    uint32_t fields_hint; /* field table size to reserve (see record) */
};

static void reject(struct source *s, uint64_t line, const char *reason, const char *rec,
                   size_t len, int whole)
{
    s->st.rejected++;
    if (s->messages < s->ing->o.max_messages) {
        kb_log(KB_LOG_ERROR, "%s:%llu: %s", s->path, (unsigned long long)line, reason);
        if (++s->messages == s->ing->o.max_messages)
            kb_log(KB_LOG_ERROR, "%s: further rejects not shown (see the summary)", s->path);
    }
    if (s->ing->o.rejects) {
        fwrite(rec, 1, len, s->ing->o.rejects);
        if (whole)
            fputc('\n', s->ing->o.rejects);
    }
}

static int flush(struct source *s)
{
    int rc = 0;
    if (s->nev) {
        kb_batch b = {s->ing->events, s->nev, s->path, s->dec};
        rc = s->fn(&b, s->ud);
    }
    s->nev = 0;
    kb_arena_clear(s->ing->arena);
    return rc;
}

static char *u64_text(kb_arena *a, uint64_t v, size_t *len)
{
    char tmp[24];
    size_t n = 0;
    char *out;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out = kb_arena_alloc(a, n);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    *len = n;
    return out;
}

/* Decodes one complete record (no newline). */
static int record(struct source *s, const char *p, size_t len, uint64_t line, uint64_t off)
{
    kb_event *ev;
    int rc;

    if (len && p[len - 1] == '\r')
        len--;
    if (len == 0) {
        s->st.skipped++;
        return 0;
    }
    if (s->nev == MAX_BATCH_EVENTS && (rc = flush(s)))
        return rc;
    ev = &s->ing->events[s->nev];
    kb_event_init(ev, s->ing->names, s->ing->arena);
    /* Records of a source have about as many fields as the last ones: one
     * table of that size beats growing 64, 128, 256 (the outgrown tables
     * stay in the arena until the batch ends). Never more than a record
     * of this length plausibly fills (one field per 8 bytes and a header's
     * worth), so that one huge record cannot make a batch of short ones
     * reserve past the arena's cap. A failure here is that cap, which the
     * decoder's first add reports. */
    if (s->fields_hint) {
        size_t most = 16 + len / 8;
        kb_event_reserve(ev, most < s->fields_hint ? (uint32_t)most : s->fields_hint);
    }
    ev->raw = p;
    ev->raw_len = (uint32_t)len;
    ev->path = s->path;
    ev->line = line;
    ev->offset = off;
    ev->format = s->dec->name;
    s->ctx.err = NULL;
    rc = s->dec->decode(&s->ctx, p, len, ev);
    if (rc == KB_OK) {
        size_t n;
        char *t;
        uint32_t nf;
        kb_event_set(ev, KB_F_LOG_FILE_PATH, KB_V_STR, s->path, s->path_len);
        if ((t = u64_text(ev->arena, off, &n)))
            kb_event_set(ev, KB_F_LOG_OFFSET, KB_V_INT, t, n);
        /* Follow a rise at once, a fall slowly (by an eighth a record),
         * rounded up to 8 fields. */
        nf = (ev->nfields + 7) & ~7u;
        if (nf >= s->fields_hint)
            s->fields_hint = nf;
        else if (s->fields_hint - s->fields_hint / 8 > nf)
            s->fields_hint -= s->fields_hint / 8;
        s->st.records++;
        s->st.decoded++;
        s->nev++;
        return 0;
    }
    if (rc == KB_ESKIP) {
        s->st.skipped++;
        return 0;
    }
    s->st.records++;
    reject(s, line, s->ctx.err ? s->ctx.err : kb_strerror(rc), p, len, 1);
    return 0;
}

/* Picks the decoder from the first lines in buf[0..len). */
static const kb_decoder *sniff(const char *buf, size_t len)
{
    kb_str lines[SNIFF_LINES];
    size_t n = 0, i = 0;

    while (i < len && n < SNIFF_LINES) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
        if (l && buf[i + l - 1] == '\r')
            l--;
        if (l) {
            lines[n].p = buf + i;
            lines[n].len = l > SNIFF_LINE_MAX ? SNIFF_LINE_MAX : l;
            n++;
        }
        if (!nl)
            break;
        i += (size_t)(nl - (buf + i)) + 1;
    }
    return n ? kb_decoder_sniff(lines, n) : NULL;
}

/* Reads the records of r; the first is line line0 at offset base0 of the
 * source (a part of a file starts past 1 and 0). */
static int read_source(kb_ingest *ing, struct source *s, struct reader *r, uint64_t line0,
                       uint64_t base0)
{
    size_t have = 0, want = ing->o.batch_bytes;
    uint64_t line = line0, base = base0; /* offset of buf[0] in the stream */
    int eof = 0, rc = 0, skipping = 0; /* skipping: inside an over-long record */
    uint64_t skip_line = 0;

    if (ing->alloc < want + 1) {
        char *nb = kb_realloc(ing->buf, want + 1);
        if (!nb)
            return KB_ENOMEM;
        ing->buf = nb;
        ing->alloc = want + 1;
    }
    while (!eof || have) {
        size_t start = 0, i;
        /* Fill. */
        while (!eof && have < ing->alloc - 1) {
            ssize_t k = reader_read(r, ing->buf + have, ing->alloc - 1 - have);
            if (k < 0) {
                kb_log(KB_LOG_ERROR, "%s: read error: %s", s->path, r->err);
                eof = 1;
                rc = KB_EIO;
                break;
            }
            if (k == 0)
                eof = 1;
            have += (size_t)k;
            s->st.bytes += (uint64_t)k;
            if (have >= want)
                break;
        }
        if (!s->dec) {
            s->dec = sniff(ing->buf, have);
            if (!s->dec)
                return KB_EFORMAT;
            if (s->dec->state_new && !(s->ctx.state = s->dec->state_new()))
                return KB_ENOMEM;
        }
        /* Records. */
        for (i = 0; i < have;) {
            char *nl = memchr(ing->buf + i, '\n', have - i);
            if (!nl)
                break;
            if (skipping) {
                if (ing->o.rejects)
                    fwrite(ing->buf + i, 1, (size_t)(nl - ing->buf) - i + 1, ing->o.rejects);
                skipping = 0;
            } else if ((rc = record(s, ing->buf + i, (size_t)(nl - ing->buf) - i, line,
                                    base + i))) {
                return rc;
            }
            line++;
            i = (size_t)(nl - ing->buf) + 1;
        }
        start = i;
        if (eof && start < have && !skipping) {
            /* The last record has no newline. */
            if ((rc = record(s, ing->buf + start, have - start, line, base + start)))
                return rc;
            start = have;
        }
        if ((rc = flush(s)))
            return rc;
        /* Keep the incomplete tail. */
        if (start < have) {
            size_t tail = have - start;
            if (skipping) {
                if (ing->o.rejects)
                    fwrite(ing->buf + start, 1, tail, ing->o.rejects);
                start = have;
                tail = 0;
            } else if (tail >= ing->o.max_record) {
                char reason[96];
                snprintf(reason, sizeof reason, "record longer than %zu bytes", ing->o.max_record);
                s->st.records++;
                reject(s, line, reason, ing->buf + start, tail, 0);
                skipping = 1;
                skip_line = line;
                tail = 0;
                start = have;
            } else if (tail > ing->alloc / 2 && ing->alloc - 1 < ing->o.max_record + want) {
                size_t na = (ing->alloc - 1) * 2 + 1;
                char *nb;
                if (na > ing->o.max_record + want + 1)
                    na = ing->o.max_record + want + 1;
                nb = kb_realloc(ing->buf, na);
                if (!nb)
                    return KB_ENOMEM;
                ing->buf = nb;
                ing->alloc = na;
            }
            memmove(ing->buf, ing->buf + start, tail);
            base += start;
            have = tail;
        } else {
            base += have;
            have = 0;
        }
        if (eof && skipping) {
            if (ing->o.rejects)
                fputc('\n', ing->o.rejects);
            skipping = 0;
        }
    }
    (void)skip_line;
    return rc;
}

static void account(kb_ingest *ing, const kb_ingest_stats *st)
{
    ing->total.bytes += st->bytes;
    ing->total.records += st->records;
    ing->total.decoded += st->decoded;
    ing->total.rejected += st->rejected;
    ing->total.skipped += st->skipped;
}

static int ingest_file_at(kb_ingest *ing, const char *path, int fd, int64_t mtime,
                          const kb_ingest_part *part, const kb_decoder *dec, kb_batch_fn fn,
                          kb_source_fn done, void *ud)
{
    struct source s = {0};
    struct reader r;
    int rc;

    s.ing = ing;
    s.path = path;
    s.path_len = strlen(path);
    s.fn = fn;
    s.ud = ud;
    s.ctx.names = ing->names;
    s.ctx.path = path;
    s.ctx.ref_time = mtime;
    s.ctx.map = ing->o.map;
    if (dec) {
        s.dec = dec;
        if (s.dec->state_new && !(s.ctx.state = s.dec->state_new()))
            return KB_ENOMEM;
    } else if (ing->o.format) {
        s.dec = kb_decoder_find(ing->o.format);
        if (!s.dec) {
            kb_log(KB_LOG_ERROR, "no decoder '%s'", ing->o.format);
            return KB_EUSAGE;
        }
        if (s.dec->state_new && !(s.ctx.state = s.dec->state_new()))
            return KB_ENOMEM;
    }
    if (part) {
        reader_open_part(&r, fd, part->end - part->start);
        rc = lseek(fd, (off_t)part->start, SEEK_SET) < 0 ? KB_EIO : KB_OK;
        if (rc)
            r.err = strerror(errno);
    } else {
        rc = reader_open(&r, fd);
    }
    if (rc == KB_OK)
        rc = read_source(ing, &s, &r, part ? part->first_line : 1, part ? part->start : 0);
    else
        kb_log(KB_LOG_ERROR, "%s: %s", path, r.err ? r.err : kb_strerror(rc));
    if (rc == KB_EFORMAT && !r.err)
        kb_log(KB_LOG_ERROR, "%s: unrecognised log format (use --format)", path);
    reader_close(&r);
    if (s.dec && s.dec->state_free)
        s.dec->state_free(s.ctx.state);
    account(ing, &s.st);
    if (rc != KB_OK && rc != KB_EIO)
        ing->failed++;
    else if (rc == KB_EIO)
        ing->failed++;
    if (done)
        done(path, s.dec, &s.st, rc, ud);
    /* A failed source does not stop the others; only the caller's stop does. */
    return rc > 0 ? rc : KB_OK;
}

static int ingest_file(kb_ingest *ing, const char *path, int fd, int64_t mtime, kb_batch_fn fn,
                       kb_source_fn done, void *ud)
{
    return ingest_file_at(ing, path, fd, mtime, NULL, NULL, fn, done, ud);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ingest_any(kb_ingest *ing, const char *path, int depth, kb_batch_fn fn,
                      kb_source_fn done, void *ud)
{
    struct stat st;
    int fd, rc;

    if (strcmp(path, "-") == 0)
        return ingest_file(ing, "-", STDIN_FILENO, kb_time_now(), fn, done, ud);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        kb_log(KB_LOG_ERROR, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        ing->failed++;
        if (done)
            done(path, NULL, &(kb_ingest_stats){0}, KB_EIO, ud);
        return KB_OK;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0;

        if (!d) {
            close(fd);
            return KB_OK;
        }
        if (depth >= MAX_DIR_DEPTH) {
            kb_log(KB_LOG_ERROR, "%s: directories nested too deep, skipped", path);
            closedir(d);
            return KB_OK;
        }
        while ((e = readdir(d))) {
            kb_buf b;
            if (e->d_name[0] == '.')
                continue;
            if (kb_grow((void **)&names, &cap, n + 1, sizeof *names, 64))
                break;
            kb_buf_init(&b, 0);
            kb_buf_printf(&b, "%s/%s", path, e->d_name);
            names[n++] = b.data;
        }
        closedir(d);
        qsort(names, n, sizeof *names, name_cmp);
        rc = KB_OK;
        for (size_t i = 0; i < n; i++) {
            struct stat es;
            /* Do not follow symbolic links to directories (loops). */
            if (rc == KB_OK && lstat(names[i], &es) == 0 &&
                (S_ISREG(es.st_mode) || S_ISDIR(es.st_mode)))
                rc = ingest_any(ing, names[i], depth + 1, fn, done, ud);
            kb_free(names[i]);
        }
        kb_free(names);
        return rc;
    }
    rc = ingest_file(ing, path, fd, (int64_t)st.st_mtime * KB_NS_PER_SEC, fn, done, ud);
    close(fd);
    return rc;
}

int kb_ingest_path(kb_ingest *ing, const char *path, kb_batch_fn fn, kb_source_fn done, void *ud)
{
    return ingest_any(ing, path, 0, fn, done, ud);
}

/* ---- parts of a file ----------------------------------------------------- */

static int push_part(kb_ingest_part **parts, size_t *n, size_t *cap, uint64_t start,
                     uint64_t first_line)
{
    if (kb_grow((void **)parts, cap, *n + 1, sizeof **parts, 16))
        return KB_ENOMEM;
    (*parts)[*n].start = start;
    (*parts)[*n].end = 0;
    (*parts)[*n].first_line = first_line;
    (*n)++;
    return KB_OK;
}

int kb_ingest_split(kb_ingest *ing, const char *path, uint64_t part_bytes, size_t max_parts,
                    kb_ingest_part **out, const kb_decoder **dec)
{
    kb_ingest_part *parts = NULL;
    size_t n = 0, cap = 0, chunk = 1u << 20;
    uint64_t size, pos = 0, lines = 0, next;
    unsigned char magic[4];
    struct stat st;
    char *buf = NULL;
    int fd, rc = KB_OK;
    ssize_t k;

    *out = NULL;
    *dec = NULL;
    if (part_bytes == 0 || max_parts < 2)
        return 1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1; /* the reader reports it */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < 2 * part_bytes)
        goto whole;
    size = (uint64_t)st.st_size;
    /* compressed: one stream, not split */
    if (read_full(fd, magic, 4) != 4 || (magic[0] == 0x1f && magic[1] == 0x8b) ||
        (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd))
        goto whole;
    /* the decoder, from the same first lines the whole file would show */
    if (!(buf = kb_malloc(ing->o.batch_bytes > chunk ? ing->o.batch_bytes : chunk))) {
        rc = KB_ENOMEM;
        goto whole;
    }
    k = pread(fd, buf, ing->o.batch_bytes, 0);
    if (k <= 0)
        goto whole;
    *dec = ing->o.format ? kb_decoder_find(ing->o.format) : sniff(buf, (size_t)k);
    /* Zeek TSV records need the #fields header at the file's start */
    if (!*dec || strcmp((*dec)->name, "zeek") == 0)
        goto whole;
    /* boundaries: the first line start at or after each multiple of the
     * part size, with the number of lines before it */
    if ((rc = push_part(&parts, &n, &cap, 0, 1)))
        goto whole;
    next = part_bytes;
    if (lseek(fd, 0, SEEK_SET) < 0)
        goto whole;
    while (pos < size) {
        size_t i = 0;
        k = read_full(fd, buf, chunk);
        if (k <= 0)
            break;
        while (i < (size_t)k) {
            char *nl = memchr(buf + i, '\n', (size_t)k - i);
            uint64_t at;
            if (!nl)
                break;
            lines++;
            i = (size_t)(nl - buf) + 1;
            at = pos + i; /* a line starts here */
            if (at >= next && at < size && n < max_parts) {
                if ((rc = push_part(&parts, &n, &cap, at, lines + 1)))
                    goto whole;
                next = at + part_bytes;
            }
        }
        pos += (uint64_t)k;
    }
    if (n < 2)
        goto whole;
    for (size_t j = 0; j + 1 < n; j++)
        parts[j].end = parts[j + 1].start;
    parts[n - 1].end = size;
    kb_free(buf);
    close(fd);
    *out = parts;
    return (int)n;
whole:
    kb_free(buf);
    kb_free(parts);
    close(fd);
    *dec = NULL;
    return rc ? rc : 1;
}

int kb_ingest_part_read(kb_ingest *ing, const char *path, const kb_ingest_part *part,
                        const kb_decoder *dec, kb_batch_fn fn, kb_source_fn done, void *ud)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0 || fstat(fd, &st) != 0) {
        kb_log(KB_LOG_ERROR, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        ing->failed++;
        if (done)
            done(path, NULL, &(kb_ingest_stats){0}, KB_EIO, ud);
        return KB_OK;
    }
    rc = ingest_file_at(ing, path, fd, (int64_t)st.st_mtime * KB_NS_PER_SEC, part, dec, fn, done,
                        ud);
    close(fd);
    return rc;
}
