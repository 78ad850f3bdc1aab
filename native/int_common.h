/*
 * Small helpers of the integer kernels (spike.c, spike4.c, int_matmul.c, int4_matmul.c), kept in
 * one place so that the kernels that must agree bit for bit read their inputs the same way.
 */
#ifndef SDLLM_INT_COMMON_H
#define SDLLM_INT_COMMON_H

#include <stdint.h>

#include "simd.h"

/* Entry k of packed 4-bit weights: two's-complement nibbles, the lower one holding the even k. */
static ALWAYS_INLINE int nib(const uint8_t *p, long k) {
  const int b = p[k >> 1];
  const int f = (k & 1) ? (b >> 4) : (b & 15);
  return (f ^ 8) - 8;
}

/*
 * The float flush of the spike kernels, in the reference's order: sum[o] += (double)dw[o] * (double)acc[o]
 * once per group (element-wise: vectorised by the compiler, never fused, -ffp-contract=off)...
 */
static ALWAYS_INLINE void flush(double *restrict sum, const float *restrict dw, const int32_t *restrict acc, int len) {
  for (int o = 0; o < len; o++) sum[o] += (double)dw[o] * (double)acc[o];
}

/* ... and its one rounding: y[r * yStride + o] = (float)(scales[r] * sums[r * len + o]) for rows [0, rows). */
static ALWAYS_INLINE void store_rows(const double *sums, int rows, int len, const double *scales, float *y,
                                     long yStride) {
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < len; o++) y[(long)r * yStride + o] = (float)(scales[r] * sums[(long)r * len + o]);
}

/* 1 when every c[0 .. len) lies in [lo, hi]: the counts fit the narrow lanes of a SIMD path. */
static inline int counts_fit(const int32_t *c, long len, int32_t lo, int32_t hi) {
  for (long k = 0; k < len; k++)
    if (c[k] < lo || c[k] > hi) return 0;
  return 1;
}

/*
 * csum[r * nG + g] = scale * (sum of row r's counts over group g), int32 wrapping: what weights
 * entered as offset-binary u = w + scale (vpdpbusd multiplies unsigned bytes) add to a group's dot
 * product, subtracted again when the group is flushed.
 */
static inline void group_sums(const int32_t *c, int rows, int n, int G, int32_t scale, int32_t *csum) {
  const int nG = (n + G - 1) / G;
  for (int r = 0; r < rows; r++)
    for (int g = 0; g < nG; g++) {
      const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
      int32_t s = 0;
      for (int i = i0; i < i1; i++) s += c[(long)r * n + i];
      csum[(long)r * nG + g] = s * scale;
    }
}

/* Spike events in trains [0, len): the nonzero entries. */
static inline long count_events(const int8_t *trains, long len) {
  long nev = 0;
  for (long k = 0; k < len; k++) nev += trains[k] != 0;
  return nev;
}

/* Batches are cut into slices of ROWS_SLICE rows: bounded scratch, int32 entry offsets. */
#define ROWS_SLICE 256

typedef int (*rows_fn)(const void *w, const int32_t *c, long cStride, int rows, const double *scales, float *y,
                       long yStride);

/* f over rows [0, rows) in slices of at most ROWS_SLICE rows; 0, or -1 when a slice fails. */
static inline int by_row_slices(rows_fn f, const void *w, const int32_t *c, long cStride, int rows,
                                const double *scales, float *y, long yStride) {
  for (int r0 = 0; r0 < rows; r0 += ROWS_SLICE) {
    const int rs = rows - r0 < ROWS_SLICE ? rows - r0 : ROWS_SLICE;
    if (f(w, c + (long)r0 * cStride, cStride, rs, scales + r0, y + (long)r0 * yStride, yStride) != 0) return -1;
  }
  return 0;
}

#endif
