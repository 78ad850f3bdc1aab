/*
 * Register tiles of the dense integer kernels (int_matmul.c, int4_matmul.c). A tile function
 * tile(R, O, J, r0, o0) computes rows [r0, r0 + R) x outputs [o0, o0 + O) of a job over all
 * groups; R and O must be compile-time constants for its accumulators to live in registers, so
 * every (R, O) gets its own function and a table picks one at run time.
 */
#ifndef SDLLM_INT_TILES_H
#define SDLLM_INT_TILES_H

#include <stdint.h>

#include "simd.h"

typedef void (*tile_fn)(const void *job, int r0, int o0);

#define TILE_ROW_(tile, job_t, R)                                                                      \
  static void tile##_##R##_1(const void *J, int r0, int o0) { tile(R, 1, (const job_t *)J, r0, o0); } \
  static void tile##_##R##_2(const void *J, int r0, int o0) { tile(R, 2, (const job_t *)J, r0, o0); } \
  static void tile##_##R##_3(const void *J, int r0, int o0) { tile(R, 3, (const job_t *)J, r0, o0); } \
  static void tile##_##R##_4(const void *J, int r0, int o0) { tile(R, 4, (const job_t *)J, r0, o0); }
#define TILE_TABLE_ROW_(tile, R) {0, tile##_##R##_1, tile##_##R##_2, tile##_##R##_3, tile##_##R##_4}

/* tile##_table[R][O]: tile specialised for R = 1..2 (or 1..4) rows and O = 1..4 outputs. */
#define DEFINE_TILES_2(tile, job_t) \
  TILE_ROW_(tile, job_t, 1) TILE_ROW_(tile, job_t, 2) \
  static const tile_fn tile##_table[5][5] = {{0}, TILE_TABLE_ROW_(tile, 1), TILE_TABLE_ROW_(tile, 2)};
#define DEFINE_TILES_4(tile, job_t)                                                                         \
  TILE_ROW_(tile, job_t, 1) TILE_ROW_(tile, job_t, 2) TILE_ROW_(tile, job_t, 3) TILE_ROW_(tile, job_t, 4) \
  static const tile_fn tile##_table[5][5] = {{0}, TILE_TABLE_ROW_(tile, 1), TILE_TABLE_ROW_(tile, 2),        \
                                             TILE_TABLE_ROW_(tile, 3), TILE_TABLE_ROW_(tile, 4)};

/*
 * Outputs [oa, ob) of rows [0, rows) in tiles of up to rmax rows x 4 outputs. Output tiles are the
 * outer loop: a tile's 4 weight rows stay in L1/L2 across all row tiles.
 */
static inline void run_tiles(const tile_fn table[5][5], int rmax, const void *J, int rows, int oa, int ob) {
  for (int o = oa; o < ob; o += 4) {
    const int O = ob - o < 4 ? ob - o : 4;
    for (int r = 0; r < rows; r += rmax) table[rows - r < rmax ? rows - r : rmax][O](J, r, o);
  }
}

/* y[r0 + r, o0 + o] = scales[r0 + r] * sum[r][o]: the float flush's last rounding, as the counts kernel. */
static ALWAYS_INLINE void tile_store(const int R, const int O, double sum[4][4], const double *scales, float *y, int m,
                                     int r0, int o0) {
  for (int r = 0; r < R; r++)
    for (int o = 0; o < O; o++) y[(long)(r0 + r) * m + o0 + o] = (float)(scales[r0 + r] * sum[r][o]);
}

#if defined(SIMD_AVX512)
/* out[k] = the sum of the 16 int32 lanes of the k-th vector. */
static ALWAYS_INLINE void hsum4_epi32(__m512i a, __m512i b, __m512i c, __m512i d, int32_t *out) {
  __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  __m512i t2 = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
  __m256i t3 = _mm256_add_epi32(_mm512_castsi512_si256(t2), _mm512_extracti64x4_epi64(t2, 1));
  __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(t3), _mm256_extracti128_si256(t3, 1));
  _mm_storeu_si128((__m128i *)out, t4);
}

/*
 * Group g's flush of an R x O tile of the offset-binary (vpdpbusd) paths: the lanes of a[r][o]
 * summed, minus the excess csum[r0 + r, g] of the offset, times dw[o0 + o, g] into sum[r][o].
 */
static ALWAYS_INLINE void vnni_flush(const int R, const int O, __m512i a[4][4], const int32_t *csum, const float *dw,
                                     int nG, int g, int r0, int o0, double sum[4][4]) {
  const __m512i z = _mm512_setzero_si512();
  for (int r = 0; r < R; r++) {
    int32_t acc[4];
    hsum4_epi32(a[r][0], O > 1 ? a[r][1] : z, O > 2 ? a[r][2] : z, O > 3 ? a[r][3] : z, acc);
    const int32_t corr = csum[(long)(r0 + r) * nG + g];
    for (int o = 0; o < O; o++) sum[r][o] += (double)dw[(long)(o0 + o) * nG + g] * (double)(acc[o] - corr);
  }
}
#endif

#endif
