// A minimal Parquet writer (no library) for the CSV preparer: OPTIONAL columns of UTF-8 text (BYTE_ARRAY) or INT64,
// one uncompressed PLAIN data page (v1) per column and row group, definition levels RLE/bit-packed. DuckDB reads
// such a file with a fraction of the work its CSV reader spends on the same values (no tokenizing, no number parsing).
// Values are appended per column (each column gets exactly one value or NULL per row, in any column order), then
// pq_end_row; a row group is written every PQ_GROUP_ROWS rows (or PQ_GROUP_BYTES of values), so memory stays bounded
// by one row group whatever the file's size.
#ifndef TALLY_PARQUET_OUT_H
#define TALLY_PARQUET_OUT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { PQ_TEXT, PQ_INT64 };

/** DuckDB's own row group size: its readers split work per row group. */
#define PQ_GROUP_ROWS 122880u
/** A row group is also written once its values reach this many bytes (long text rows), so that memory and a page's
 * 32-bit sizes stay bounded. */
#define PQ_GROUP_BYTES (64u << 20)
/** Bytes a text value may be written past its end (a caller copying 16 bytes at a time). */
#define PQ_TEXT_SLACK 16u
/** The longest text value. */
#define PQ_MAX_TEXT (1u << 20)

typedef struct {
  char *name;
  unsigned char type;
  unsigned char *values; /* PLAIN: 8-byte LE integers, or a 4-byte LE length and the bytes */
  size_t len;            /* its room holds a whole row group (see PQ_GROUP_BYTES): it never grows */
  unsigned char *defs;   /* one byte per row of the group: 1 = a value, 0 = NULL (packed to bits when written) */
} PqColumn;

/** Where one column chunk of a written row group is, for the footer. */
typedef struct {
  uint64_t offset, size;
  uint32_t values;
} PqChunk;

typedef struct {
  int fd;
  size_t ncol;
  PqColumn *cols;
  uint32_t rows;       /* rows of the row group being filled */
  size_t group_bytes;  /* its values' bytes */
  uint64_t offset;     /* bytes written to fd */
  int64_t total_rows;  /* rows of the written row groups */
  PqChunk *chunks;     /* ncol per written row group */
  size_t groups, groups_cap;
  unsigned char *bits; /* a column's definition levels packed, while its chunk is written */
  void *map;           /* the columns' buffers */
  size_t map_len;
} PqWriter;

/** A writer for fd (written from its current position, expected 0): writes the leading magic. NULL with errno set
 * when out of memory or the write fails. names and types (PQ_TEXT / PQ_INT64) are copied. huge_pages: back the
 * buffers with 2 MiB pages where the kernel allows (worth it for a file of more than a few MB). */
PqWriter *pq_open(int fd, size_t ncol, const char *const *names, const unsigned char *types, int huge_pages);
/** Writes the last row group and the footer; frees nothing (pq_free does). 0 with errno set on a failure. */
int pq_close(PqWriter *w);
void pq_free(PqWriter *w);
/** Writes the filled row group (called by pq_end_row). 0 with errno set on a failure. */
int pq_flush_group(PqWriter *w);

/** NULL or an INT64 value in column c for the row w->rows (given, so that a loop over columns reads it once). */
static inline void pq_put_null(PqColumn *c, uint32_t row) { c->defs[row] = 0; }

static inline void pq_put_int64(PqColumn *c, uint32_t row, int64_t v) {
  memcpy(c->values + c->len, &v, 8); /* byte order fixed at the page's write on a big-endian host */
  c->len += 8;
  c->defs[row] = 1;
}

static inline void pq_null(PqWriter *w, size_t col) { pq_put_null(&w->cols[col], w->rows); }

static inline void pq_int64(PqWriter *w, size_t col, int64_t v) { pq_put_int64(&w->cols[col], w->rows, v); }

/** Where a text value of column c goes (room for PQ_MAX_TEXT bytes and PQ_TEXT_SLACK after them). */
static inline unsigned char *pq_put_text_space(PqColumn *c) { return c->values + c->len + 4; }

/** Ends the text value of n bytes written at pq_put_text_space for the row `row`; an empty one is NULL (as DuckDB's
 * CSV reader has it). Returns the bytes it added, which the caller adds to the writer's group_bytes. */
static inline size_t pq_put_text_commit(PqColumn *c, uint32_t row, size_t n) {
  c->defs[row] = n != 0;
  if (n == 0) return 0;
  const uint32_t n32 = (uint32_t)n;
  unsigned char *p = c->values + c->len;
  p[0] = (unsigned char)n32, p[1] = (unsigned char)(n32 >> 8), p[2] = (unsigned char)(n32 >> 16), p[3] = (unsigned char)(n32 >> 24);
  c->len += 4 + n;
  return 4 + n;
}

/** Room for a text value of at most max bytes (and PQ_TEXT_SLACK after it): write it there, then pq_text_commit.
 * NULL (errno E2BIG) when max > PQ_MAX_TEXT. */
static inline unsigned char *pq_text_space(PqWriter *w, size_t col, size_t max) {
  if (max > PQ_MAX_TEXT) return errno = E2BIG, (unsigned char *)NULL;
  return pq_put_text_space(&w->cols[col]);
}

/** Ends the text value written at pq_text_space: n bytes (empty: NULL). */
static inline void pq_text_commit(PqWriter *w, size_t col, size_t n) { w->group_bytes += pq_put_text_commit(&w->cols[col], w->rows, n); }

/** Ends a row: every column got one value or NULL. Writes the row group when it is full; 0 with errno on a failure. */
static inline int pq_end_row(PqWriter *w) {
  w->group_bytes += 8; /* counts of INT64 columns, roughly: only a bound matters */
  if (++w->rows < PQ_GROUP_ROWS && w->group_bytes < PQ_GROUP_BYTES) return 1;
  return pq_flush_group(w);
}

#endif
