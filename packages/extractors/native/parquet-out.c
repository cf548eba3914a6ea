// A minimal Parquet writer: see parquet-out.h. The page headers and the footer are Thrift compact protocol structs
// (parquet.thrift), of which only the fields below are written.
#include "parquet-out.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* parquet.thrift enums */
enum { TYPE_INT64 = 2, TYPE_BYTE_ARRAY = 6 };
enum { REQUIRED = 0, OPTIONAL = 1 };
enum { CONVERTED_UTF8 = 0 };
enum { ENCODING_PLAIN = 0, ENCODING_RLE = 3 };
enum { PAGE_DATA = 0 };
enum { CODEC_UNCOMPRESSED = 0 };

/* Thrift compact protocol type ids */
enum { T_I32 = 5, T_I64 = 6, T_BINARY = 8, T_LIST = 9, T_STRUCT = 12 };

#define MAGIC "PAR1"

/* ---------- Thrift compact protocol, into a growing buffer ---------- */

typedef struct {
  unsigned char *p;
  size_t len, cap;
  int failed;      /* out of memory: every later write is dropped */
  int depth;       /* structs open */
  int16_t last[8]; /* the last field id per open struct (deltas are against it) */
} Thrift;

static void t_bytes(Thrift *t, const void *src, size_t n) {
  if (t->failed) return;
  if (t->cap - t->len < n) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap - t->len < n) cap *= 2;
    unsigned char *p = realloc(t->p, cap);
    if (!p) {
      t->failed = 1;
      return;
    }
    t->p = p, t->cap = cap;
  }
  memcpy(t->p + t->len, src, n);
  t->len += n;
}

static void t_byte(Thrift *t, unsigned b) {
  const unsigned char c = (unsigned char)b;
  t_bytes(t, &c, 1);
}

static void t_varint(Thrift *t, uint64_t v) {
  unsigned char b[10];
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) b[n++] = (unsigned char)(v | 0x80);
  b[n++] = (unsigned char)v;
  t_bytes(t, b, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static void t_field(Thrift *t, int id, unsigned type) {
  const int delta = id - t->last[t->depth];
  if (delta > 0 && delta <= 15) {
    t_byte(t, (unsigned)delta << 4 | type);
  } else {
    t_byte(t, type);
    t_varint(t, zigzag(id));
  }
  t->last[t->depth] = (int16_t)id;
}

static void t_i32(Thrift *t, int id, int32_t v) {
  t_field(t, id, T_I32);
  t_varint(t, zigzag(v));
}

static void t_i64(Thrift *t, int id, int64_t v) {
  t_field(t, id, T_I64);
  t_varint(t, zigzag(v));
}

static void t_string(Thrift *t, int id, const char *s) {
  const size_t n = strlen(s);
  t_field(t, id, T_BINARY);
  t_varint(t, n);
  t_bytes(t, s, n);
}

/** A struct's fields start with delta 0 (a field, or an element of a list). */
static void t_open(Thrift *t) { t->last[++t->depth] = 0; }

static void t_struct(Thrift *t, int id) {
  t_field(t, id, T_STRUCT);
  t_open(t);
}

static void t_end(Thrift *t) {
  t_byte(t, 0);
  t->depth--;
}

static void t_list(Thrift *t, int id, unsigned elem, size_t n) {
  t_field(t, id, T_LIST);
  if (n < 15) {
    t_byte(t, (unsigned)n << 4 | elem);
  } else {
    t_byte(t, 0xF0 | elem);
    t_varint(t, n);
  }
}

/* ---------- output ---------- */

static int write_all(PqWriter *w, const void *src, size_t n) {
  const unsigned char *p = src;
  while (n) {
    const ssize_t got = write(w->fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return 0;
    p += got, n -= (size_t)got;
    w->offset += (uint64_t)got;
  }
  return 1;
}

#define HUGE_PAGE (2u << 20)
#define DEFS_BYTES ((PQ_GROUP_ROWS + 16 + 63) & ~63u)
/** A text column's room: what a row group holds before it is written, and one more row's value. */
#define TEXT_CAP ((size_t)PQ_GROUP_BYTES + PQ_MAX_TEXT + 4 + PQ_TEXT_SLACK)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/**
 * The column buffers, in one mapping whose pages are backed as they are first written — with huge_pages, as 2 MiB
 * pages where the kernel allows: 4 KiB page faults over a row group's ~20 MB cost more CPU than filling it (but a
 * small file would only pay for zeroing 2 MiB per column). Each column has room for a whole row group (a text column
 * up to PQ_GROUP_BYTES and one more value), so a buffer never moves or grows.
 */
static int map_columns(PqWriter *w, int huge_pages) {
  size_t ints = 0, texts = 0;
  for (size_t i = 0; i < w->ncol; i++) {
    if (w->cols[i].type == PQ_INT64) ints++;
    else texts++;
  }
  const size_t fixed = round_up(w->ncol * DEFS_BYTES + ints * 8 * PQ_GROUP_ROWS, HUGE_PAGE);
  w->map_len = fixed + texts * round_up(TEXT_CAP, HUGE_PAGE) + HUGE_PAGE; /* and room to align the start */
  void *map = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) return 0;
  w->map = map;
  unsigned char *p = (unsigned char *)round_up((uintptr_t)map, HUGE_PAGE);
#ifdef MADV_HUGEPAGE
  if (huge_pages) madvise(p, w->map_len - HUGE_PAGE, MADV_HUGEPAGE); /* only a hint: without it, 4 KiB pages */
#else
  (void)huge_pages;
#endif
  unsigned char *text = p + fixed;
  for (size_t i = 0; i < w->ncol; i++, p += DEFS_BYTES) w->cols[i].defs = p;
  for (size_t i = 0; i < w->ncol; i++) {
    PqColumn *c = &w->cols[i];
    if (c->type == PQ_INT64) {
      c->values = p;
      p += 8 * PQ_GROUP_ROWS;
    } else {
      c->values = text;
      text += round_up(TEXT_CAP, HUGE_PAGE);
    }
  }
  return 1;
}

PqWriter *pq_open(int fd, size_t ncol, const char *const *names, const unsigned char *types, int huge_pages) {
  PqWriter *w = calloc(1, sizeof *w);
  if (!w) return errno = ENOMEM, NULL;
  w->fd = fd;
  w->ncol = ncol;
  w->cols = calloc(ncol, sizeof *w->cols);
  int ok = w->cols != NULL;
  for (size_t i = 0; ok && i < ncol; i++) {
    w->cols[i].type = types[i];
    ok = (w->cols[i].name = strdup(names[i])) != NULL;
  }
  ok = ok && (w->bits = malloc(PQ_GROUP_ROWS / 8 + 2)) != NULL && map_columns(w, huge_pages);
  if (!ok) {
    pq_free(w);
    return errno = ENOMEM, NULL;
  }
  if (!write_all(w, MAGIC, 4)) {
    const int e = errno;
    pq_free(w);
    return errno = e, NULL;
  }
  return w;
}

void pq_free(PqWriter *w) {
  if (!w) return;
  for (size_t i = 0; w->cols && i < w->ncol; i++) free(w->cols[i].name);
  if (w->map) munmap(w->map, w->map_len);
  free(w->cols);
  free(w->chunks);
  free(w->bits);
  free(w);
}

static void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

enum { SOME_NULL, ALL_NULL, NO_NULL };

/** Packs the def bytes of rows rows into bits (LSB first); returns whether they are all 0 or all 1. */
static int pack_defs(unsigned char *defs, uint32_t rows, unsigned char *bits) {
  int all_null = 1, no_null = 1;
  memset(defs + rows, 0, 16); /* what a last step reads past the rows */
  for (uint32_t i = 0; i < rows; i += 16) {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128((const __m128i *)(defs + i));
    const unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(v, _mm_setzero_si128()));
#else
    unsigned m = 0;
    for (unsigned k = 0; k < 16; k++) m |= (unsigned)(defs[i + k] != 0) << k;
#endif
    bits[i / 8] = (unsigned char)m;
    bits[i / 8 + 1] = (unsigned char)(m >> 8);
    const unsigned rows_here = rows - i >= 16 ? 0xFFFFu : (1u << (rows - i)) - 1;
    all_null &= m == 0;
    no_null &= m == rows_here;
  }
  return all_null ? ALL_NULL : no_null ? NO_NULL : SOME_NULL;
}

/** The definition levels of the group's rows (bit width 1), RLE/bit-packed hybrid and length-prefixed as a v1 page
 * has them: one RLE run when all are equal, else one bit-packed run of the def bits. */
static void put_def_levels(Thrift *t, PqWriter *w, PqColumn *c) {
  const uint32_t rows = w->rows;
  const int nulls = pack_defs(c->defs, rows, w->bits);
  const size_t at = t->len;
  t_bytes(t, "\0\0\0\0", 4);
  if (nulls != SOME_NULL) {
    t_varint(t, (uint64_t)rows << 1);
    t_byte(t, nulls == NO_NULL);
  } else {
    const size_t groups = (rows + 7) / 8;
    t_varint(t, (uint64_t)groups << 1 | 1);
    t_bytes(t, w->bits, groups);
  }
  if (!t->failed) put_le32(t->p + at, (uint32_t)(t->len - at - 4));
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static void to_little_endian(PqColumn *c) {
  for (size_t i = 0; c->type == PQ_INT64 && i < c->len; i += 8) {
    uint64_t v;
    memcpy(&v, c->values + i, 8);
    v = __builtin_bswap64(v);
    memcpy(c->values + i, &v, 8);
  }
}
#else
static void to_little_endian(PqColumn *c) { (void)c; }
#endif

/** One column chunk: a DATA_PAGE header, the definition levels, the PLAIN values. */
static int write_chunk(PqWriter *w, PqColumn *c, PqChunk *chunk) {
  Thrift levels = {0}, header = {0};
  put_def_levels(&levels, w, c);
  const size_t page = levels.len + c->len;
  t_i32(&header, 1, PAGE_DATA);
  t_i32(&header, 2, (int32_t)page);
  t_i32(&header, 3, (int32_t)page);
  t_struct(&header, 5);
  t_i32(&header, 1, (int32_t)w->rows);
  t_i32(&header, 2, ENCODING_PLAIN);
  t_i32(&header, 3, ENCODING_RLE);
  t_i32(&header, 4, ENCODING_RLE);
  t_end(&header);
  t_byte(&header, 0);
  t_bytes(&header, levels.p, levels.len);
  to_little_endian(c);
  chunk->offset = w->offset;
  chunk->values = w->rows;
  int ok = !levels.failed && !header.failed;
  if (!ok) errno = ENOMEM;
  ok = ok && write_all(w, header.p, header.len) && write_all(w, c->values, c->len);
  chunk->size = w->offset - chunk->offset;
  free(levels.p);
  free(header.p);
  return ok;
}

int pq_flush_group(PqWriter *w) {
  if (w->rows == 0) return 1;
  if (w->groups == w->groups_cap) {
    const size_t cap = w->groups_cap ? 2 * w->groups_cap : 8;
    PqChunk *chunks = realloc(w->chunks, cap * w->ncol * sizeof *chunks);
    if (!chunks) return errno = ENOMEM, 0;
    w->chunks = chunks, w->groups_cap = cap;
  }
  PqChunk *chunks = w->chunks + w->groups * w->ncol;
  for (size_t i = 0; i < w->ncol; i++) {
    PqColumn *c = &w->cols[i];
    if (!write_chunk(w, c, &chunks[i])) return 0;
    c->len = 0;
  }
  w->groups++;
  w->total_rows += w->rows;
  w->rows = 0;
  w->group_bytes = 0;
  return 1;
}

static void put_schema(Thrift *t, const PqWriter *w) {
  t_list(t, 2, T_STRUCT, w->ncol + 1);
  t_open(t);
  t_i32(t, 3, REQUIRED);
  t_string(t, 4, "schema");
  t_i32(t, 5, (int32_t)w->ncol);
  t_end(t);
  for (size_t i = 0; i < w->ncol; i++) {
    const PqColumn *c = &w->cols[i];
    t_open(t);
    t_i32(t, 1, c->type == PQ_TEXT ? TYPE_BYTE_ARRAY : TYPE_INT64);
    t_i32(t, 3, OPTIONAL);
    t_string(t, 4, c->name);
    if (c->type == PQ_TEXT) {
      t_i32(t, 6, CONVERTED_UTF8);
      t_struct(t, 10); /* LogicalType */
      t_struct(t, 1);  /* STRING: StringType, no fields */
      t_end(t);
      t_end(t);
    }
    t_end(t);
  }
}

static void put_row_group(Thrift *t, const PqWriter *w, const PqChunk *chunks) {
  int64_t bytes = 0;
  t_open(t);
  t_list(t, 1, T_STRUCT, w->ncol);
  for (size_t i = 0; i < w->ncol; i++) {
    const PqColumn *c = &w->cols[i];
    const PqChunk *chunk = &chunks[i];
    bytes += (int64_t)chunk->size;
    t_open(t); /* ColumnChunk */
    t_i64(t, 2, (int64_t)chunk->offset);
    t_struct(t, 3); /* ColumnMetaData */
    t_i32(t, 1, c->type == PQ_TEXT ? TYPE_BYTE_ARRAY : TYPE_INT64);
    t_list(t, 2, T_I32, 2);
    t_varint(t, zigzag(ENCODING_PLAIN));
    t_varint(t, zigzag(ENCODING_RLE));
    t_list(t, 3, T_BINARY, 1);
    t_varint(t, strlen(c->name));
    t_bytes(t, c->name, strlen(c->name));
    t_i32(t, 4, CODEC_UNCOMPRESSED);
    t_i64(t, 5, chunk->values);
    t_i64(t, 6, (int64_t)chunk->size);
    t_i64(t, 7, (int64_t)chunk->size);
    t_i64(t, 9, (int64_t)chunk->offset);
    t_end(t);
    t_end(t);
  }
  t_i64(t, 2, bytes);
  t_i64(t, 3, chunks[0].values);
  t_end(t);
}

int pq_close(PqWriter *w) {
  if (!pq_flush_group(w)) return 0;
  Thrift t = {0};
  t_i32(&t, 1, 1);
  put_schema(&t, w);
  t_i64(&t, 3, w->total_rows);
  t_list(&t, 4, T_STRUCT, w->groups);
  for (size_t g = 0; g < w->groups; g++) put_row_group(&t, w, w->chunks + g * w->ncol);
  t_string(&t, 6, "tally");
  t_byte(&t, 0);
  unsigned char tail[8];
  put_le32(tail, (uint32_t)t.len);
  memcpy(tail + 4, MAGIC, 4);
  int ok = !t.failed;
  if (!ok) errno = ENOMEM;
  ok = ok && write_all(w, t.p, t.len) && write_all(w, tail, 8);
  free(t.p);
  return ok;
}
