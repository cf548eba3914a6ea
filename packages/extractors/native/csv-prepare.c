// Native CSV preparer (Node-API, plain C): rewrites a strict CSV into the smaller file DuckDB reads faster —
// only the used columns, counts as plain integers, timestamps as epoch microseconds — and REFUSES whenever the
// input is outside the rules of src/csv-prepare.ts, since the caller then reads the raw file the strict old way.
// Nearly every row is "plain" (no control byte, blank line, newline inside quotes, or misplaced comma or quote):
// plain_row finds its fields from SSE2 (x86-64 baseline) comma masks 64 bytes at a time, so skipped columns cost
// no per-field work, checks UTF-8 only in a row holding a byte >= 0x80, and parses counts and timestamps in place.
// Every other row goes through checked_row, field by field with every rule, which also words the refusals.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { KIND_SKIP, KIND_TEXT, KIND_COUNT, KIND_TIMESTAMP };

/** Zero bytes after the input: every scan stops at a 0 byte, and the loads of a scan (up to 64 bytes from a byte
 * before the end) or of a field (a timestamp's 28) never leave the buffer. */
#define PAD 128
#define MAX_ROW_BYTES 1000000
#define FLUSH_AT (1u << 20)
/** The input is read in steps into one buffer of IN_CAP bytes (a fresh buffer the size of the file cost 10 times the
 * kernel time in page faults): it holds a whole row of MAX_ROW_BYTES, so a row is always read whole. */
#define IN_CAP (4u << 20)
#define MAX_COUNT_DIGITS 15

typedef struct {
  const char *input, *output;
  char **names;
  unsigned char *kinds;
  size_t ncol;
  int64_t rows;
  char *refused; /* why the input is outside the rules (malloc'd), or NULL */
  char *error;   /* an I/O failure (malloc'd), or NULL */
  int writing;   /* whether output was opened (and truncated) for writing: removed again when refused or failed */
} Job;

/** The last `YYYY-MM-DD HH:MM` a timestamp column held: its epoch seconds, and those in decimal as `head` (seconds
 * / 100, when seconds >= 100; head_len 0 otherwise) and `tail` (seconds % 100), so that a timestamp of that minute is
 * written by copying. */
typedef struct {
  unsigned char text[16];
  unsigned char head[2][16]; /* seconds / 100, and that + 1 for a second that carries */
  int64_t seconds;
  unsigned head_len[2], tail;
} MinuteCache;

/** What a plain row writes: one timestamp column (with its minutes), or columns first..last of kinds text and count,
 * copied with their commas at once. */
typedef struct {
  uint32_t first, last;
  MinuteCache *minutes;
} Piece;

typedef struct {
  Job *job;
  unsigned char *buf;       /* IN_CAP bytes of the input and PAD zero bytes */
  const unsigned char *end; /* the end of the input read so far */
  int in, eof;              /* the input's descriptor; whether end is its end */
  const unsigned char *row; /* the row being read, on line `line` */
  long line;
  unsigned char *out, *o;
  int fd;
  Piece *pieces, *pieces_end;         /* what a plain row writes, in order */
  Piece *count_runs, *count_runs_end; /* the runs of adjacent count columns, checked in a plain row */
  MinuteCache *minutes;               /* one per column */
  uint32_t *bounds;                   /* a plain row's field starts */
} Ctx;

static char *format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* ---------- refusal messages (cold path) ---------- */

/** The newlines in [p, at). */
static long newlines(const unsigned char *p, const unsigned char *at) {
  long n = 0;
  for (; (p = memchr(p, '\n', (size_t)(at - p))) != NULL; p++) n++;
  return n;
}

/** A field's bytes for a message: up to the next `,` / newline (or its closing quote), escaped, at most 60 bytes. */
static void show_field(const unsigned char *f, const unsigned char *end, char *dst, size_t cap) {
  size_t o = 0;
  int quoted = f < end && *f == '"';
  for (const unsigned char *p = f; p < end && o + 8 < cap; p++) {
    unsigned c = *p;
    if (!quoted && (c == ',' || c == '\n')) break;
    if (quoted && p > f && c == '"' && p[1] != '"') {
      dst[o++] = '\\', dst[o++] = '"';
      break;
    }
    if (quoted && p > f && c == '"') p++;
    if ((size_t)(p - f) >= 60) {
      o += (size_t)snprintf(dst + o, cap - o, "...");
      break;
    }
    if (c == '"' || c == '\\') dst[o++] = '\\', dst[o++] = (char)c;
    else if (c == '\n') dst[o++] = '\\', dst[o++] = 'n';
    else if (c == '\r') dst[o++] = '\\', dst[o++] = 'r';
    else if (c < 0x20 || c >= 0x7f) o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    else dst[o++] = (char)c;
  }
  dst[o] = 0;
}

static int refuse_at(Ctx *x, const unsigned char *at, const char *what) {
  if (!x->job->refused) x->job->refused = format("line %ld: %s", x->line + newlines(x->row, at), what);
  return 0;
}

static int refuse_field(Ctx *x, const unsigned char *field, size_t col, const char *what) {
  char shown[200];
  show_field(field, x->end, shown, sizeof shown);
  char *msg = format("column %s: \"%s\" %s", x->job->names[col], shown, what);
  refuse_at(x, field, msg ? msg : what);
  free(msg);
  return 0;
}

static int refuse_column(Ctx *x, const unsigned char *at, size_t col, const char *what) {
  char *msg = format("column %s: %s", x->job->names[col], what);
  refuse_at(x, at, msg ? msg : what);
  free(msg);
  return 0;
}

static int refuse_fields(Ctx *x, const unsigned char *row, size_t found) {
  char msg[120];
  if (found) snprintf(msg, sizeof msg, "only %zu fields, expected %zu", found, x->job->ncol);
  else snprintf(msg, sizeof msg, "more than %zu fields", x->job->ncol);
  return refuse_at(x, row, msg);
}

/* ---------- validation helpers ---------- */

/** The index of the first byte >= 0x80 of the 16 at p, or 16. */
static inline unsigned ascii_run(const unsigned char *p) {
#if defined(__SSE2__)
  const unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p));
#else
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) m |= (unsigned)(p[i] >= 0x80) << i;
#endif
  return m ? (unsigned)__builtin_ctz(m) : 16;
}

/** Valid UTF-8 in [s, e) (bytes up to 15 past e are readable): no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence. */
static int utf8_valid(const unsigned char *s, const unsigned char *e) {
  while (s < e) {
    unsigned c = *s;
    if (c < 0x80) {
      s += ascii_run(s);
      continue;
    }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
      if (e - s < 2 || (s[1] & 0xC0) != 0x80) return 0;
      s += 2;
    } else if (c < 0xF0) {
      if (e - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
      if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0;
      s += 3;
    } else if (c < 0xF5) {
      if (e - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
      if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0;
      s += 4;
    } else {
      return 0;
    }
  }
  return 1;
}

static inline int is_digit(unsigned c) { return c - '0' <= 9u; }

/** Ends a field: `,`, newline, or the end of the input. */
static inline int ends_field(const Ctx *x, const unsigned char *p) { return *p == ',' || *p == '\n' || p == x->end; }

/* ---------- scanning ---------- */

#if defined(__SSE2__)
/** Bit i set when p[i] is `,` `\n` `"` `\r` 0, or >= 0x80 (cmpeq gives 0xFF, and movemask reads the top bit). */
static inline unsigned unquoted_mask(const unsigned char *p) {
  const __m128i v = _mm_loadu_si128((const __m128i *)p);
  const __m128i a = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
  const __m128i b = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
  const __m128i z = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_setzero_si128()), v);
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), z));
}
/** Bit i set when p[i] is `"` `\r` 0, or >= 0x80: what matters inside a quoted field. */
static inline unsigned quoted_mask(const unsigned char *p) {
  const __m128i v = _mm_loadu_si128((const __m128i *)p);
  const __m128i b = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
  const __m128i z = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_setzero_si128()), v);
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(b, z));
}
static inline void copy16(unsigned char *dst, const unsigned char *src) {
  _mm_storeu_si128((__m128i *)dst, _mm_loadu_si128((const __m128i *)src));
}
#else
static inline unsigned unquoted_mask(const unsigned char *p) {
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) {
    unsigned c = p[i];
    if (c == ',' || c == '\n' || c == '"' || c == '\r' || c == 0 || c >= 0x80) m |= 1u << i;
  }
  return m;
}
static inline unsigned quoted_mask(const unsigned char *p) {
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) {
    unsigned c = p[i];
    if (c == '"' || c == '\r' || c == 0 || c >= 0x80) m |= 1u << i;
  }
  return m;
}
static inline void copy16(unsigned char *dst, const unsigned char *src) { memcpy(dst, src, 16); }
#endif

/** Copies n bytes in 16-byte steps: both buffers have room for the overrun. */
static inline unsigned char *copy_field(unsigned char *o, const unsigned char *s, size_t n) {
  for (size_t k = 0; k < n; k += 16) copy16(o + k, s + k);
  return o + n;
}

/** A field of kind text or skip, at p: returns its end (at `,`, newline or the end), or NULL when refused. */
static const unsigned char *scan_text(Ctx *x, const unsigned char *f, size_t col) {
  int high = 0;
  const unsigned char *p = f;
  if (*f == '"') {
    for (p = f + 1;; p += 16) {
    again:;
      unsigned m = quoted_mask(p);
      while (m) {
        const unsigned char *q = p + __builtin_ctz(m);
        if (*q >= 0x80) {
          high = 1;
          m &= m - 1;
        } else if (*q == '"') {
          if (q[1] == '"') {
            p = q + 2;
            goto again;
          }
          p = q + 1;
          if (!ends_field(x, p)) return refuse_field(x, f, col, "has a closing quote not followed by a comma or a line end"), NULL;
          goto done;
        } else if (*q == 0 && q == x->end) {
          return refuse_column(x, f, col, "a quoted field is not closed"), NULL;
        } else {
          return refuse_column(x, q, col, *q ? "a carriage return (only \\n line ends are accepted)" : "a NUL byte"), NULL;
        }
      }
    }
  }
  for (;; p += 16) {
    unsigned m = unquoted_mask(p);
    while (m) {
      const unsigned char *q = p + __builtin_ctz(m);
      if (*q >= 0x80) {
        high = 1;
        m &= m - 1;
        continue;
      }
      if (*q == '"') return refuse_field(x, f, col, "has a quote inside an unquoted field"), NULL;
      if (*q == '\r') return refuse_column(x, q, col, "a carriage return (only \\n line ends are accepted)"), NULL;
      if (*q == 0 && q != x->end) return refuse_column(x, q, col, "a NUL byte"), NULL;
      p = q;
      goto done;
    }
  }
done:
  if (high && !utf8_valid(f, p)) return refuse_column(x, f, col, "invalid UTF-8"), NULL;
  return p;
}

/** A count field: empty or -?[0-9]{1,15}, written verbatim. */
static const unsigned char *take_count(Ctx *x, const unsigned char *f, size_t col) {
  const unsigned char *d = f + (*f == '-');
  const unsigned char *p = d;
  while (is_digit(*p)) p++;
  size_t digits = (size_t)(p - d);
  if ((digits == 0 && d != f) || digits > MAX_COUNT_DIGITS || !ends_field(x, p))
    return refuse_field(x, f, col, "is not a count this preparer accepts"), NULL;
  copy16(x->o, f);
  x->o += p - f;
  return p;
}

static int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m) {
  static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : days[m - 1];
}

static const char DIGIT_PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline void put_pair(unsigned char *o, unsigned v) { memcpy(o, DIGIT_PAIRS + 2 * v, 2); }

/** Exactly 8 digits of v < 10^8. */
static inline void put_8digits(unsigned char *o, uint32_t v) {
  const uint32_t high = v / 10000, low = v % 10000;
  put_pair(o, high / 100);
  put_pair(o + 2, high % 100);
  put_pair(o + 4, low / 100);
  put_pair(o + 6, low % 100);
}

/** v in decimal, without leading zeros. */
static inline unsigned char *put_uint32(unsigned char *o, uint32_t v) {
  const unsigned n = v < 100        ? 1 + (v >= 10)
                     : v < 10000    ? 3 + (v >= 1000)
                     : v < 1000000  ? 5 + (v >= 100000)
                     : v < 100000000 ? 7 + (v >= 10000000)
                                     : 9 + (v >= 1000000000);
  unsigned char *e = o + n, *p = e;
  for (; v >= 100; v /= 100) put_pair(p -= 2, v % 100);
  if (v >= 10) put_pair(p - 2, v);
  else p[-1] = (unsigned char)('0' + v);
  return e;
}

/** v in decimal: 8-digit groups, so the arithmetic is mostly 32-bit. */
static unsigned char *put_int64(unsigned char *o, int64_t v) {
  uint64_t u = (uint64_t)v;
  if (v < 0) *o++ = '-', u = -(uint64_t)v;
  if (u < 100000000) return put_uint32(o, (uint32_t)u);
  const uint64_t high = u / 100000000;
  if (high < 100000000) {
    o = put_uint32(o, (uint32_t)high);
  } else {
    o = put_uint32(o, (uint32_t)(high / 100000000));
    put_8digits(o, (uint32_t)(high % 100000000));
    o += 8;
  }
  put_8digits(o, (uint32_t)(u % 100000000));
  return o + 8;
}

#define D2(p) ((unsigned)((p)[0] - '0') * 10 + (unsigned)((p)[1] - '0'))

/** `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00` at f: its end and the instant in epoch microseconds, or NULL. */
static const unsigned char *parse_timestamp(const unsigned char *f, int64_t *micros) {
  static const char form[] = "0000-00-00 00:00:00"; /* 0: a digit */
  for (int i = 0; i < 19; i++)
    if (form[i] == '0' ? !is_digit(f[i]) : f[i] != form[i]) return NULL;
  const unsigned year = D2(f) * 100 + D2(f + 2), month = D2(f + 5), day = D2(f + 8);
  const unsigned hour = D2(f + 11), minute = D2(f + 14), second = D2(f + 17);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59)
    return NULL;
  const unsigned char *p = f + 19;
  int64_t fraction = 0;
  if (*p == '.') {
    int n = 0;
    for (p++; n < 6 && is_digit(*p); p++, n++) fraction = fraction * 10 + (*p - '0');
    if (n == 0) return NULL;
    for (; n < 6; n++) fraction *= 10;
  }
  if (p[0] != '+' || p[1] != '0' || p[2] != '0') return NULL;
  const int64_t seconds = days_from_civil((int)year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  *micros = seconds * 1000000 + fraction;
  return p + 3;
}

/** A timestamp field: empty, or written as epoch microseconds. */
static const unsigned char *take_timestamp(Ctx *x, const unsigned char *f, size_t col) {
  if (ends_field(x, f)) return f;
  int64_t micros;
  const unsigned char *p = parse_timestamp(f, &micros);
  if (!p || !ends_field(x, p)) return refuse_field(x, f, col, "is not a timestamp this preparer accepts"), NULL;
  x->o = put_int64(x->o, micros);
  return p;
}

/* ---------- output ---------- */

static int flush(Ctx *x) {
  const unsigned char *p = x->out;
  while (p < x->o) {
    const ssize_t n = write(x->fd, p, (size_t)(x->o - p));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      x->job->error = format("write %s: %s", x->job->output, strerror(errno));
      return 0;
    }
    p += n;
  }
  x->o = x->out;
  return 1;
}

/* ---------- the rows: a checked path for every case, and a fast path for plain rows ---------- */

/** One row at p, field by field with every rule: the next row's start, or NULL when refused or failed. */
static const unsigned char *checked_row(Ctx *x, const unsigned char *p) {
  const Job *job = x->job;
  const size_t last = job->ncol - 1;
  const unsigned char *row = p;
  if (*p == '\n') return refuse_at(x, p, "a blank line"), NULL;
  for (size_t col = 0;; col++) {
    switch (job->kinds[col]) {
      case KIND_TEXT: {
        const unsigned char *f = p;
        if (!(p = scan_text(x, f, col))) return NULL;
        x->o = copy_field(x->o, f, (size_t)(p - f));
        *x->o++ = ',';
        break;
      }
      case KIND_COUNT:
        if (*p == '"') return refuse_field(x, p, col, "is not a count this preparer accepts (quoted)"), NULL;
        if (!(p = take_count(x, p, col))) return NULL;
        *x->o++ = ',';
        break;
      case KIND_TIMESTAMP:
        if (*p == '"') return refuse_field(x, p, col, "is not a timestamp this preparer accepts (quoted)"), NULL;
        if (!(p = take_timestamp(x, p, col))) return NULL;
        *x->o++ = ',';
        break;
      default:
        if (!(p = scan_text(x, p, col))) return NULL;
    }
    if (*p == ',') {
      if (col == last) return refuse_fields(x, row, 0), NULL;
      p++;
      continue;
    }
    if (col != last) return refuse_fields(x, row, col + 1), NULL;
    if (p - row > MAX_ROW_BYTES) return refuse_at(x, row, "a row longer than 1000000 bytes"), NULL;
    x->o[-1] = '\n';
    return p + (p < x->end); /* past the newline */
  }
}

/* For 64 bytes at p, plain_masks returns the commas, and in *specials the bytes that end the row or need a look:
 * `"`, <= 0x0D (`\n`, `\r`, 0, tab, ...) and >= 0x80 (one signed compare takes both ranges). */
#if defined(__SSE2__)
static inline unsigned special_mask16(const unsigned char *p) {
  const __m128i v = _mm_loadu_si128((const __m128i *)p);
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x0E)), _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
}
static inline uint64_t plain_masks16(const unsigned char *p, uint64_t *specials) {
  const __m128i v = _mm_loadu_si128((const __m128i *)p);
  const __m128i low_or_high = _mm_cmplt_epi8(v, _mm_set1_epi8(0x0E));
  *specials = (uint64_t)_mm_movemask_epi8(_mm_or_si128(low_or_high, _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
  return (uint64_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
}
static inline uint64_t plain_masks(const unsigned char *p, uint64_t *specials) {
  uint64_t s0, s1, s2, s3;
  const uint64_t c0 = plain_masks16(p, &s0), c1 = plain_masks16(p + 16, &s1);
  const uint64_t c2 = plain_masks16(p + 32, &s2), c3 = plain_masks16(p + 48, &s3);
  *specials = s0 | s1 << 16 | s2 << 32 | s3 << 48;
  return c0 | c1 << 16 | c2 << 32 | c3 << 48;
}
#else
static inline unsigned special_mask16(const unsigned char *p) {
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) m |= (unsigned)(p[i] <= 0x0D || p[i] == '"' || p[i] >= 0x80) << i;
  return m;
}
static inline uint64_t plain_masks(const unsigned char *p, uint64_t *specials) {
  uint64_t commas = 0, s = 0;
  for (unsigned i = 0; i < 64; i++) {
    commas |= (uint64_t)(p[i] == ',') << i;
    s |= (uint64_t)(p[i] <= 0x0D || p[i] == '"' || p[i] >= 0x80) << i;
  }
  *specials = s;
  return commas;
}
#endif

#if defined(__SSE2__)
/** Bit i set when p[i] is an ASCII digit, for 16 bytes at p. */
static inline unsigned digit_mask(const unsigned char *p) {
  const __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8('0'));
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(d, _mm_set1_epi8(9)), _mm_setzero_si128()));
}
/** Bit i set when p[i] is `,`, for 16 bytes at p. */
static inline unsigned comma_mask(const unsigned char *p) {
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8(',')));
}
static inline int same16(const unsigned char *a, const unsigned char *b) {
  const __m128i x = _mm_loadu_si128((const __m128i *)a), y = _mm_loadu_si128((const __m128i *)b);
  return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xFFFF;
}
#else
static inline int same16(const unsigned char *a, const unsigned char *b) { return memcmp(a, b, 16) == 0; }
static inline unsigned comma_mask(const unsigned char *p) {
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) m |= (unsigned)(p[i] == ',') << i;
  return m;
}
static inline unsigned digit_mask(const unsigned char *p) {
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) m |= (unsigned)is_digit(p[i]) << i;
  return m;
}
#endif

/** Whether the first n (1 to 7) bytes of the 8 in p are ASCII digits (per byte: high nibble 3, and no carry past 9;
 * a carry out of a byte only comes from a byte that fails itself). */
static inline int digits8(uint64_t p, size_t n) {
  const uint64_t keep = ~0ull >> (64 - 8 * n), threes = 0x3030303030303030ull & keep, high = 0xF0F0F0F0F0F0F0F0ull & keep;
  return (p & high) == threes && ((p + 0x0606060606060606ull) & high) == threes;
}

/** A count of a plain row (n bytes at f): empty or -?[0-9]{1,15}. */
static inline int plain_count(const unsigned char *f, size_t n) {
  const unsigned minus = f[0] == '-';
  if (n - minus - 1 >= MAX_COUNT_DIGITS) return n == 0; /* else 1 to 15 digits, so n <= 16 */
  if (n > 4) {
    const unsigned want = (1u << n) - 1;
    return ((digit_mask(f) | minus) & want) == want;
  }
  for (const unsigned char *d = f + minus, *e = f + n; d < e; d++) /* most counts: a digit or two */
    if (!is_digit(*d)) return 0;
  return 1;
}

/**
 * Adjacent count columns first..last of a plain row. When they span at most 15 bytes of digits and commas, each is
 * empty or 1 to 15 digits: one mask checks them all (the commas in the span are their separators).
 */
static inline int plain_counts(const unsigned char *row, const uint32_t *bounds, uint32_t first, uint32_t last) {
  const uint32_t from = bounds[first], n = bounds[last + 1] - 1 - from;
  if (n <= 15) {
    const unsigned want = (1u << n) - 1;
    if (((digit_mask(row + from) | comma_mask(row + from)) & want) == want) return 1;
  }
  for (uint32_t col = first; col <= last; col++)
    if (!plain_count(row + bounds[col], bounds[col + 1] - 1 - bounds[col])) return 0;
  return 1;
}

/** Seconds of a valid `YYYY-MM-DD HH:MM` at f (16 bytes), or -1. */
static int64_t minute_seconds(const unsigned char *f) {
  static const char form[] = "0000-00-00 00:00"; /* 0: a digit */
  for (int i = 0; i < 16; i++)
    if (form[i] == '0' ? !is_digit(f[i]) : f[i] != form[i]) return -1;
  const unsigned year = D2(f) * 100 + D2(f + 2), month = D2(f + 5), day = D2(f + 8);
  const unsigned hour = D2(f + 11), minute = D2(f + 14);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59)
    return -1;
  return days_from_civil((int)year, month, day) * 86400 + hour * 3600 + minute * 60;
}

static int cache_minute(MinuteCache *cache, const unsigned char *f) {
  const int64_t seconds = minute_seconds(f);
  if (seconds == -1) return 0;
  memcpy(cache->text, f, 16);
  cache->seconds = seconds;
  for (int carry = 0; carry < 2; carry++)
    cache->head_len[carry] = seconds >= 100 ? (unsigned)(put_int64(cache->head[carry], seconds / 100 + carry) - cache->head[carry]) : 0;
  cache->tail = (unsigned)(seconds % 100);
  return 1;
}

/**
 * A timestamp of a plain row (n bytes at f): the output's new end, or NULL when not accepted. Timestamps of a day share
 * their minutes, so the last minute's text and seconds are kept per column; the microseconds are then that minute's
 * decimal seconds, the two-digit second, and the fraction's digits padded with zeros to 6, all copied.
 */
static inline unsigned char *plain_timestamp(MinuteCache *cache, const unsigned char *f, size_t n, unsigned char *o) {
  if (n == 0) return o;
  if (n < 22 || n > 29 || n == 23) return NULL;
  if (!same16(f, cache->text) && !cache_minute(cache, f)) return NULL;
  const unsigned s1 = f[17] - (unsigned)'0', s2 = f[18] - (unsigned)'0';
  if (f[16] != ':' || s1 > 5 || s2 > 9 || f[n - 3] != '+' || f[n - 2] != '0' || f[n - 1] != '0') return NULL;
  const size_t digits = n > 22 ? n - 23 : 0; /* 1 to 6 fraction digits at f + 20 */
  uint64_t fraction8;
  memcpy(&fraction8, f + 20, 8);
  if (digits && (f[19] != '.' || !digits8(fraction8, digits))) return NULL;
  const unsigned second = s1 * 10 + s2, carry = cache->tail + second >= 100;
  if (cache->head_len[0] == 0) { /* before 1970-01-01 00:01:40: no decimal head to copy */
    int64_t fraction = 0;
    for (size_t i = 0; i < 6; i++) fraction = fraction * 10 + (i < digits ? f[20 + i] - '0' : 0);
    return put_int64(o, (cache->seconds + second) * 1000000 + fraction);
  }
  copy16(o, cache->head[carry]);
  o += cache->head_len[carry];
  put_pair(o, cache->tail + second - 100 * carry);
  memcpy(o + 2, &fraction8, 8);
  memcpy(o + 2 + digits, "00000000", 8); /* bytes past the 6 are overwritten by what follows */
  return o + 8;
}

/**
 * The quoted field at row + at of a plain row: the offset after its closing quote, or 0 to leave the row to
 * checked_row (a newline or control byte inside, or no closing quote). Notes its first byte >= 0x80 as plain_row does.
 */
static inline uint32_t plain_quoted(const unsigned char *row, uint32_t at, int *high, uint32_t *first_high) {
  for (uint32_t p = at + 1;; p += 16) {
  again:;
    unsigned m = special_mask16(row + p);
    while (m) {
      const uint32_t q = p + (uint32_t)__builtin_ctz(m);
      if (row[q] >= 0x80) {
        if (!*high) *high = 1, *first_high = q;
        m &= m - 1;
        continue;
      }
      if (row[q] != '"') return 0;
      if (row[q + 1] == '"') {
        p = q + 2;
        goto again;
      }
      return q + 1;
    }
  }
}

/** Appends base + the index of each set bit of commas after *b; returns the last written. */
static inline uint32_t *add_bounds(uint32_t *b, uint64_t commas, uint32_t base) {
  for (; commas; commas &= commas - 1) *++b = base + (uint32_t)__builtin_ctzll(commas);
  return b;
}

/**
 * A row without control bytes (tab, `\r`, 0), newlines in quoted fields, blank lines or misplaced commas or quotes —
 * nearly every row: its fields are found from the comma masks (a quoted field is skipped over), so skipped columns cost
 * no per-field work, and UTF-8 is checked once over the row when it holds a byte >= 0x80 (valid per field ⇔ valid over
 * the row, as commas and quotes are ASCII). Text fields are copied verbatim, quotes and all; a quoted count or
 * timestamp fails its check. Returns the next row's start, or NULL to leave the row to checked_row (which also writes
 * the refusal).
 */
static const unsigned char *plain_row(Ctx *x, const unsigned char *row) {
  uint32_t *const bounds = x->bounds, *b = bounds; /* field c is [bounds[c], bounds[c + 1] - 1) */
  const size_t ncol = x->job->ncol;
  size_t len;
  int high = 0;
  uint32_t first_high = 0;
  bounds[0] = 0;
  for (uint32_t at = 0;;) {
    uint64_t specials, commas = plain_masks(row + at, &specials);
    while (specials) {
      const unsigned k = (unsigned)__builtin_ctzll(specials);
      const unsigned char c = row[at + k];
      if (c >= 0x80) {
        if (!high) high = 1, first_high = at + k;
        specials &= specials - 1;
        continue;
      }
      b = add_bounds(b, commas & ((1ull << k) - 1), at + 1);
      if (c == '\n') {
        len = at + k;
        goto row_end;
      }
      /* a quoted field: go on after it (its commas are not separators) */
      if (c != '"' || (at + k > 0 && row[at + k - 1] != ',')) return NULL;
      const uint32_t after = plain_quoted(row, at + k, &high, &first_high);
      if (!after || (row[after] != ',' && row[after] != '\n')) return NULL;
      at = after;
      goto next;
    }
    b = add_bounds(b, commas, at + 1); /* bounds holds a comma per byte of the longest row */
    at += 64;
  next:
    if (at > MAX_ROW_BYTES) return NULL;
  }
row_end:
  if ((size_t)(b - bounds) != ncol - 1 || len == 0 || len > MAX_ROW_BYTES) return NULL;
  bounds[ncol] = (uint32_t)len + 1;
  if (high && !utf8_valid(row + first_high, row + len)) return NULL; /* what precedes is ASCII */
  unsigned char *o = x->o;
  for (const Piece *piece = x->pieces; piece < x->pieces_end; piece++) {
    const uint32_t from = bounds[piece->first], to = bounds[piece->last + 1] - 1;
    if (piece->minutes) {
      if (!(o = plain_timestamp(piece->minutes, row + from, to - from, o))) return NULL;
    } else {
      o = copy_field(o, row + from, to - from);
    }
    *o++ = ',';
  }
  for (const Piece *run = x->count_runs; run < x->count_runs_end; run++)
    if (!plain_counts(row, bounds, run->first, run->last)) return NULL;
  o[-1] = '\n';
  x->o = o;
  return row + len + 1;
}

/** The pieces and count runs of a plain row, from the kinds. */
static void plan_pieces(Ctx *x) {
  const Job *job = x->job;
  x->pieces_end = x->pieces;
  x->count_runs_end = x->count_runs;
  for (uint32_t col = 0; col < job->ncol; col++) {
    const unsigned char kind = job->kinds[col];
    if (kind == KIND_COUNT && x->count_runs_end > x->count_runs && x->count_runs_end[-1].last == col - 1)
      x->count_runs_end[-1].last = col;
    else if (kind == KIND_COUNT)
      *x->count_runs_end++ = (Piece){col, col, NULL};
    if (kind == KIND_TIMESTAMP)
      *x->pieces_end++ = (Piece){col, col, &x->minutes[col]};
    else if (kind != KIND_SKIP && x->pieces_end > x->pieces && !x->pieces_end[-1].minutes && x->pieces_end[-1].last == col - 1)
      x->pieces_end[-1].last = col;
    else if (kind != KIND_SKIP)
      *x->pieces_end++ = (Piece){col, col, NULL};
  }
}

/** Reads more input after the unread bytes from p, moved to the buffer's start; returns their new start. */
static const unsigned char *refill(Ctx *x, const unsigned char *p) {
  const size_t kept = (size_t)(x->end - p);
  memmove(x->buf, p, kept);
  unsigned char *end = x->buf + kept;
  while (!x->eof && end < x->buf + IN_CAP) {
    const ssize_t got = read(x->in, end, (size_t)(x->buf + IN_CAP - end));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      if (!x->job->error) x->job->error = format("read %s: %s", x->job->input, strerror(errno));
      x->eof = 1;
      break;
    }
    x->eof = got == 0;
    end += got;
  }
  memset(end, 0, PAD);
  x->end = end;
  return x->buf;
}

/**
 * Checks and writes the rows after the header; returns 0 when refused or failed. A row the fast path does not take
 * may be cut by the end of the buffer: it is read further first, so checked_row sees it whole (or the end of the file,
 * or more than MAX_ROW_BYTES of it, which refuses).
 */
static int prepare_rows(Ctx *x, const unsigned char *p) {
  for (;;) {
    if (p == x->end) {
      if (x->eof) return !x->job->error;
      p = refill(x, p);
      continue;
    }
    x->row = p;
    unsigned char *const o = x->o;
    const unsigned char *next = plain_row(x, p);
    if (next) {
      x->line++;
    } else {
      if (!x->eof && x->end - p < MAX_ROW_BYTES + 2) {
        p = refill(x, p);
        continue;
      }
      x->o = o;
      if (!(next = checked_row(x, p))) return 0;
      x->line += newlines(p, next);
    }
    p = next;
    x->job->rows++;
    if ((size_t)(x->o - x->out) >= FLUSH_AT && !flush(x)) return 0;
  }
}

/* ---------- one job: read, check the header, write ---------- */

/** The header line to expect, and the output's: names joined by `,` (all, or the non-skip ones). */
static char *join_names(const Job *job, int written_only) {
  size_t len = 1;
  for (size_t i = 0; i < job->ncol; i++) len += strlen(job->names[i]) + 1;
  char *s = malloc(len), *o = s;
  if (!s) return NULL;
  for (size_t i = 0; i < job->ncol; i++) {
    if (written_only && job->kinds[i] == KIND_SKIP) continue;
    if (o > s) *o++ = ',';
    const size_t n = strlen(job->names[i]);
    memcpy(o, job->names[i], n);
    o += n;
  }
  *o = 0;
  return s;
}

/** Refuses names the header line could not hold unambiguously, and a job that would write no column. */
static int check_names(Job *job) {
  int written = 0;
  for (size_t i = 0; i < job->ncol; i++) {
    const char *name = job->names[i];
    if (!*name || strpbrk(name, ",\"\n\r")) {
      job->refused = format("column name \"%s\" cannot be matched in a plain header line", name);
      return 0;
    }
    written |= job->kinds[i] != KIND_SKIP;
  }
  if (!job->ncol || !written) job->refused = format("no column to write");
  return job->refused == NULL;
}

/** Checks the header line at the buffer's start; returns the first row's start, or NULL when refused. */
static const unsigned char *check_header(Ctx *x, const char *expected) {
  const size_t hlen = strlen(expected), size = (size_t)(x->end - x->buf);
  x->row = x->buf;
  x->line = 1;
  if (size == 0) return refuse_at(x, x->buf, "the file is empty"), NULL;
  if (size > hlen && memcmp(x->buf, expected, hlen) == 0 && x->buf[hlen] == '\n') {
    x->line = 2;
    return x->buf + hlen + 1;
  }
  const unsigned char *nl = memchr(x->buf, '\n', size);
  const size_t found = nl ? (size_t)(nl - x->buf) : size;
  char *msg = format("the header is not exactly \"%s\" and a line end (found \"%.*s\"%s)", expected, (int)(found < 200 ? found : 200),
                     (const char *)x->buf, nl ? "" : " without a line end");
  refuse_at(x, x->buf, msg ? msg : "the header is not the expected one");
  free(msg);
  return NULL;
}

static void write_prepared(Job *job) {
  if (!check_names(job)) return;
  char *expected = join_names(job, 0), *written = join_names(job, 1);
  Ctx x = {.job = job, .in = -1, .fd = -1};
  x.buf = malloc(IN_CAP + PAD);
  x.out = malloc(FLUSH_AT + IN_CAP + 2 * PAD); /* what is not flushed yet, and a row: at most its input and a newline */
  x.pieces = malloc(job->ncol * sizeof *x.pieces);
  x.count_runs = malloc(job->ncol * sizeof *x.count_runs);
  x.minutes = calloc(job->ncol, sizeof *x.minutes); /* zero text: never equal to a field's */
  x.bounds = malloc((MAX_ROW_BYTES + 64) * sizeof *x.bounds);
  if (!expected || !written || !x.buf || !x.out || !x.pieces || !x.count_runs || !x.minutes || !x.bounds) {
    job->error = format("prepare %s: out of memory", job->input);
    goto out;
  }
  if (strlen(expected) + 1 > IN_CAP) {
    job->refused = format("line 1: a header line longer than %u bytes", IN_CAP);
    goto out;
  }
  if ((x.in = open(job->input, O_RDONLY | O_CLOEXEC)) < 0) {
    job->error = format("open %s: %s", job->input, strerror(errno));
    goto out;
  }
  if ((x.fd = open(job->output, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) < 0) {
    job->error = format("open %s: %s", job->output, strerror(errno));
    goto out;
  }
  struct stat in_stat, out_stat;
  if (fstat(x.in, &in_stat) == 0 && fstat(x.fd, &out_stat) == 0 && in_stat.st_dev == out_stat.st_dev && in_stat.st_ino == out_stat.st_ino) {
    job->error = format("prepare %s: the output is the input", job->input);
    goto out;
  }
  job->writing = 1;
  if (ftruncate(x.fd, 0) != 0) {
    job->error = format("truncate %s: %s", job->output, strerror(errno));
    goto out;
  }
  plan_pieces(&x);
  x.end = x.buf;
  const unsigned char *first_row = refill(&x, x.buf);
  if (!job->error && (first_row = check_header(&x, expected)) != NULL) {
    x.o = x.out;
    const size_t wlen = strlen(written);
    memcpy(x.o, written, wlen);
    x.o += wlen;
    *x.o++ = '\n';
    if (prepare_rows(&x, first_row)) flush(&x);
  }
out:
  if (x.fd >= 0 && close(x.fd) != 0 && !job->error && !job->refused) job->error = format("close %s: %s", job->output, strerror(errno));
  if (x.in >= 0) close(x.in);
  free(x.pieces);
  free(x.count_runs);
  free(x.minutes);
  free(x.bounds);
  free(expected);
  free(written);
  free(x.out);
  free(x.buf);
}

/** Writes job->output, or leaves none (a refused or failed job removes what it had written; one refused before it
 * opened the output leaves that path alone). */
static void run_job(Job *job) {
  write_prepared(job);
  if ((job->refused || job->error) && job->writing) unlink(job->output);
}

#ifndef CSV_PREPARE_NO_NODE_API
/* ---------- Node-API: prepare(input, output, header, kinds) → Promise ---------- */
#include <node_api.h>

typedef struct {
  Job job;
  napi_deferred deferred;
  napi_async_work work;
} AsyncJob;

static void free_job(AsyncJob *a) {
  if (a->job.names) /* NULL-terminated: filled as far as the arguments were read */
    for (char **name = a->job.names; *name; name++) free(*name);
  free(a->job.names);
  free(a->job.kinds);
  free((char *)a->job.input);
  free((char *)a->job.output);
  free(a->job.refused);
  free(a->job.error);
  free(a);
}

static char *get_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) free(s), s = NULL;
  return s;
}

static int get_kind(napi_env env, napi_value v, unsigned char *kind) {
  char s[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, s, sizeof s, &len) != napi_ok) return 0;
  static const char *const names[] = {"skip", "text", "count", "timestamp"};
  for (unsigned char k = 0; k < 4; k++)
    if (strcmp(s, names[k]) == 0) return *kind = k, 1;
  return 0;
}

static void execute(napi_env env, void *data) {
  (void)env;
  run_job(&((AsyncJob *)data)->job);
}

static void complete(napi_env env, napi_status status, void *data) {
  AsyncJob *a = data;
  napi_value result, value;
  if (status != napi_ok || a->job.error) {
    napi_value message;
    napi_create_string_utf8(env, status != napi_ok ? "CSV preparation was cancelled" : a->job.error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, a->deferred, result);
  } else {
    napi_create_object(env, &result);
    if (a->job.refused) {
      napi_create_string_utf8(env, a->job.refused, NAPI_AUTO_LENGTH, &value);
      napi_set_named_property(env, result, "refused", value);
    } else {
      napi_create_int64(env, a->job.rows, &value);
      napi_set_named_property(env, result, "rows", value);
    }
    napi_resolve_deferred(env, a->deferred, result);
  }
  napi_delete_async_work(env, a->work);
  free_job(a);
}

static napi_value fail(napi_env env, AsyncJob *a, const char *message) {
  free_job(a);
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value prepare(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], promise, name;
  AsyncJob *a = calloc(1, sizeof *a);
  if (!a) return fail(env, a, "out of memory");
  uint32_t nheader = 0, nkinds = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, a, "prepare(input, output, header, kinds)");
  if (!(a->job.input = get_string(env, argv[0])) || !(a->job.output = get_string(env, argv[1])))
    return fail(env, a, "input and output must be strings");
  if (napi_get_array_length(env, argv[2], &nheader) != napi_ok || napi_get_array_length(env, argv[3], &nkinds) != napi_ok ||
      nheader != nkinds)
    return fail(env, a, "header and kinds must be arrays of one length");
  a->job.names = calloc(nheader + 1, sizeof *a->job.names);
  a->job.kinds = calloc(nheader + 1, 1);
  if (!a->job.names || !a->job.kinds) return fail(env, a, "out of memory");
  for (uint32_t i = 0; i < nheader; i++) {
    napi_value v;
    if (napi_get_element(env, argv[2], i, &v) != napi_ok || !(a->job.names[i] = get_string(env, v)))
      return fail(env, a, "header must hold strings");
    if (napi_get_element(env, argv[3], i, &v) != napi_ok || !get_kind(env, v, &a->job.kinds[i]))
      return fail(env, a, "kinds must be 'skip', 'text', 'count' or 'timestamp'");
  }
  a->job.ncol = nheader;
  if (napi_create_promise(env, &a->deferred, &promise) != napi_ok) return fail(env, a, "cannot create a promise");
  napi_create_string_utf8(env, "tally:csv-prepare", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, a, &a->work) != napi_ok || napi_queue_async_work(env, a->work) != napi_ok) {
    napi_value message, error;
    napi_create_string_utf8(env, "cannot queue the CSV preparation", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, a->deferred, error);
    free_job(a);
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "prepare", NAPI_AUTO_LENGTH, prepare, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "prepare", fn) != napi_ok) return NULL;
  return exports;
}
#endif
