/*
 * Dense int8 matmul (the 4-bit ANN baseline): every input multiplied against row-major int8
 * weights, per group an exact int32 dot product, then the counts kernel's float flush:
 *   sum[o] += (double)dw[o, g] * (double)acc   (group order),  y = (float)(scale * sum[o]).
 * Bit-identical to k_spike_counts_rows on the transposed weights (and to the ts references).
 *
 * AVX-512 VNNI path (rows of counts that all fit int8): vpdpbusd multiplies unsigned bytes by
 * signed bytes, so weights enter as u = w + 128 (w ^ 0x80) and the excess 128 * sum_g(c) is
 * subtracted per group: exact modulo 2^32, like the int32 reference. Tiles of up to 4 rows x 4
 * outputs share each weight / count load.
 * AVX-512BW / AVX2 path (counts that fit int16): weights widened to int16, vpmaddwd against int16
 * counts (pairs summed into int32 lanes), same tiling (2 rows x 4 outputs on AVX2).
 * Otherwise a plain C loop (auto-vectorised).
 */
#include <stdlib.h>

#include "int_common.h"
#include "int_tiles.h"
#include "kernels.h"
#include "pool.h"
#include "simd.h"

#if defined(SIMD_AVX512) && defined(__AVX512VNNI__)
#define INT_VNNI 1
#endif
#if defined(SIMD_AVX512) || defined(SIMD_AVX2)
#define INT_MADD 1
#endif

typedef struct {
  const int8_t *W;
  const float *dw;
  const int32_t *c;
  const int8_t *c8;     /* counts as int8 (VNNI path) or NULL */
  const int32_t *csum;  /* [rows, nG] 128 * group sums of c (VNNI path) */
  const int16_t *c16;   /* counts as int16 (madd path) or NULL */
  int rows, m, n, G, nG;
  const double *scales;
  float *y;
} im_job;

static void im_scalar(const im_job *J, int oa, int ob) {
  const int n = J->n, G = J->G, nG = J->nG;
  for (int r = 0; r < J->rows; r++) {
    const int32_t *cr = J->c + (long)r * n;
    const double s = J->scales[r];
    for (int o = oa; o < ob; o++) {
      const int8_t *wo = J->W + (long)o * n;
      const float *dwo = J->dw + (long)o * nG;
      double sum = 0;
      for (int g = 0; g < nG; g++) {
        const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
        int32_t acc = 0;
        for (int i = i0; i < i1; i++) acc += cr[i] * wo[i];
        sum += (double)dwo[g] * (double)acc;
      }
      J->y[(long)r * J->m + o] = (float)(s * sum);
    }
  }
}

#if defined(INT_VNNI)
/* R rows x O outputs (R <= 4, O <= 4), all groups, written into y. */
static ALWAYS_INLINE void vnni_tile(const int R, const int O, const im_job *J, int r0, int o0) {
  const int n = J->n, G = J->G, nG = J->nG;
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  double sum[4][4] = {{0}};
  for (int g = 0; g < nG; g++) {
    const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
    __m512i a[4][4];
    for (int r = 0; r < R; r++)
      for (int o = 0; o < O; o++) a[r][o] = _mm512_setzero_si512();
    for (int i = i0; i < i1; i += 64) {
      const __mmask64 k = i1 - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (i1 - i)) - 1);
      __m512i cv[4];
      for (int r = 0; r < R; r++) cv[r] = _mm512_maskz_loadu_epi8(k, J->c8 + (long)(r0 + r) * n + i);
      for (int o = 0; o < O; o++) {
        /* masked-off weight bytes become 0x80 (= 128), against counts 0: no contribution */
        const __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, J->W + (long)(o0 + o) * n + i), bias);
        for (int r = 0; r < R; r++) a[r][o] = _mm512_dpbusd_epi32(a[r][o], wv, cv[r]);
      }
    }
    vnni_flush(R, O, a, J->csum, J->dw, nG, g, r0, o0, sum);
  }
  tile_store(R, O, sum, J->scales, J->y, J->m, r0, o0);
}
DEFINE_TILES_4(vnni_tile, im_job)
#endif


#if defined(INT_MADD)
#if defined(SIMD_AVX512)
typedef __m512i vi;
#define MSTEP 32 /* inputs per step */
#define MR_I 4
static ALWAYS_INLINE vi vi_zero(void) { return _mm512_setzero_si512(); }
static ALWAYS_INLINE vi vi_w(const int8_t *p) { return _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p)); }
static ALWAYS_INLINE vi vi_c(const int16_t *p) { return _mm512_loadu_si512(p); }
static ALWAYS_INLINE vi vi_madd(vi acc, vi a, vi b) { return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b)); }
static ALWAYS_INLINE void vi_sum4(vi a, vi b, vi c, vi d, int32_t *out) { hsum4_epi32(a, b, c, d, out); }
#else
typedef __m256i vi;
#define MSTEP 16
#define MR_I 2
static ALWAYS_INLINE vi vi_zero(void) { return _mm256_setzero_si256(); }
static ALWAYS_INLINE vi vi_w(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
static ALWAYS_INLINE vi vi_c(const int16_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
static ALWAYS_INLINE vi vi_madd(vi acc, vi a, vi b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
static ALWAYS_INLINE void vi_sum4(vi a, vi b, vi c, vi d, int32_t *out) {
  __m256i t0 = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  __m256i t1 = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
  __m256i t2 = _mm256_add_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
  __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(t2), _mm256_extracti128_si256(t2, 1));
  _mm_storeu_si128((__m128i *)out, t4);
}
#endif

/* R rows x O outputs (R <= MR_I, O <= 4), all groups, written into y. */
static ALWAYS_INLINE void madd_tile(const int R, const int O, const im_job *J, int r0, int o0) {
  const int n = J->n, G = J->G, nG = J->nG;
  double sum[4][4] = {{0}};
  for (int g = 0; g < nG; g++) {
    const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
    const int iv = i0 + (i1 - i0) / MSTEP * MSTEP;
    vi a[MR_I][4];
    for (int r = 0; r < R; r++)
      for (int o = 0; o < O; o++) a[r][o] = vi_zero();
    for (int i = i0; i < iv; i += MSTEP) {
      vi cv[MR_I];
      for (int r = 0; r < R; r++) cv[r] = vi_c(J->c16 + (long)(r0 + r) * n + i);
      for (int o = 0; o < O; o++) {
        const vi wv = vi_w(J->W + (long)(o0 + o) * n + i);
        for (int r = 0; r < R; r++) a[r][o] = vi_madd(a[r][o], wv, cv[r]);
      }
    }
    for (int r = 0; r < R; r++) {
      int32_t acc[4];
      const vi z = vi_zero();
      vi_sum4(a[r][0], O > 1 ? a[r][1] : z, O > 2 ? a[r][2] : z, O > 3 ? a[r][3] : z, acc);
      const int16_t *cr = J->c16 + (long)(r0 + r) * n;
      for (int o = 0; o < O; o++) {
        const int8_t *wo = J->W + (long)(o0 + o) * n;
        int32_t v = acc[o];
        for (int i = iv; i < i1; i++) v += cr[i] * wo[i];
        sum[r][o] += (double)J->dw[(long)(o0 + o) * nG + g] * (double)v;
      }
    }
  }
  tile_store(R, O, sum, J->scales, J->y, J->m, r0, o0);
}
#if MR_I >= 4
DEFINE_TILES_4(madd_tile, im_job)
#else
DEFINE_TILES_2(madd_tile, im_job)
#endif
#endif

#define IM_CHUNK 16 /* outputs per chunk */

static void im_chunk(void *ctx, int k) {
  const im_job *J = (const im_job *)ctx;
  const int oa = k * IM_CHUNK;
  const int ob = oa + IM_CHUNK < J->m ? oa + IM_CHUNK : J->m;
#if defined(INT_VNNI)
  if (J->c8) {
    run_tiles(vnni_tile_table, 4, J, J->rows, oa, ob);
    return;
  }
#endif
#if defined(INT_MADD)
  if (J->c16) {
    run_tiles(madd_tile_table, MR_I, J, J->rows, oa, ob);
    return;
  }
#endif
  im_scalar(J, oa, ob);
}

int k_int_matmul(const int8_t *W, const float *dw, const int32_t *c, int rows, int m, int n, int G,
                 const double *scales, float *y) {
  const int nG = (n + G - 1) / G;
  im_job J = {W, dw, c, NULL, NULL, NULL, rows, m, n, G, nG, scales, y};
  int8_t *c8 = NULL;
  int32_t *csum = NULL;
  int16_t *c16 = NULL;
#if defined(INT_VNNI)
  if (counts_fit(c, (long)rows * n, -128, 127)) {
    c8 = (int8_t *)malloc((size_t)rows * n + 1);
    csum = (int32_t *)malloc(sizeof(int32_t) * ((size_t)rows * nG + 1));
    if (!c8 || !csum) {
      free(c8);
      free(csum);
      c8 = NULL;
      csum = NULL;
    } else {
      for (long k = 0; k < (long)rows * n; k++) c8[k] = (int8_t)c[k];
      group_sums(c, rows, n, G, 128, csum);
      J.c8 = c8;
      J.csum = csum;
    }
  }
#endif
#if defined(INT_MADD)
  if (!J.c8) {
    if (counts_fit(c, (long)rows * n, -32768, 32767) && (c16 = (int16_t *)malloc(sizeof(int16_t) * ((size_t)rows * n + 1))) != NULL) {
      for (long k = 0; k < (long)rows * n; k++) c16[k] = (int16_t)c[k];
      J.c16 = c16;
    }
  }
#endif
  const int nt = (long)rows * m * n < 200000L ? 1 : pool_get_threads();
  pool_run(im_chunk, &J, (m + IM_CHUNK - 1) / IM_CHUNK, nt);
  free(c8);
  free(csum);
  free(c16);
  return 0;
}
