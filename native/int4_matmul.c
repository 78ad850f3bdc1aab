/*
 * Dense int4 matmul, the baseline the spike-driven kernels are measured against: every input
 * multiplied (zero or not) against row-major packed 4-bit weights W4 [m, ceil(n/2)] (lower nibble
 * = even input), per group an exact int32 dot product, then the counts kernel's float flush:
 *   sum[o] += (double)dw[o, g] * (double)acc   (group order),  y = (float)(scale * sum[o]).
 * Bit-identical to k_spike_counts_rows4 on the same integers (and to the ts reference).
 *
 * AVX-512 VNNI path (counts that fit int8, even group size): 64 weight bytes = 128 inputs per
 * step; one vpternlogd turns the low nibbles into offset-binary u = w + 8 (a 16-bit shift and
 * another vpternlogd the high ones), and vpdpbusd multiplies them with the counts split into
 * even-input and odd-input int8 vectors; the excess 8 * sum_g(c) is subtracted per group (exact
 * modulo 2^32). Tiles of up to 4 rows x 4 outputs share each weight / count load, as int_matmul.c.
 * Otherwise a plain C loop.
 */
#include <stdlib.h>

#include "int_common.h"
#include "int_tiles.h"
#include "kernels.h"
#include "pool.h"
#include "simd.h"

#if defined(SIMD_AVX512) && defined(__AVX512VNNI__)
#define I4_VNNI 1
#endif

typedef struct {
  const uint8_t *W;
  const float *dw;
  const int32_t *c;
  const int8_t *ce, *co; /* counts of even / odd inputs as int8, [rows, rb] (VNNI path) or NULL */
  const int32_t *csum;   /* [rows, nG] 8 * group sums of c (VNNI path) */
  int rows, m, n, G, nG;
  long rb; /* bytes per weight row */
  const double *scales;
  float *y;
} i4_job;

static void i4_scalar(const i4_job *J, int oa, int ob) {
  const int n = J->n, G = J->G, nG = J->nG;
  for (int r = 0; r < J->rows; r++) {
    const int32_t *cr = J->c + (long)r * n;
    const double s = J->scales[r];
    for (int o = oa; o < ob; o++) {
      const uint8_t *wo = J->W + (long)o * J->rb;
      const float *dwo = J->dw + (long)o * nG;
      double sum = 0;
      for (int g = 0; g < nG; g++) {
        const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
        int32_t acc = 0;
        for (int i = i0; i < i1; i++) acc += cr[i] * nib(wo, i);
        sum += (double)dwo[g] * (double)acc;
      }
      J->y[(long)r * J->m + o] = (float)(s * sum);
    }
  }
}

#if defined(I4_VNNI)
#define TL_XOR_AND 0x28 /* (A ^ B) & C */

/* R rows x O outputs (R, O <= 4), all groups, written into y. */
static ALWAYS_INLINE void i4_tile(const int R, const int O, const i4_job *J, int r0, int o0) {
  const int n = J->n, G = J->G, nG = J->nG;
  const long rb = J->rb;
  const __m512i k08 = _mm512_set1_epi8(0x08), k0f = _mm512_set1_epi8(0x0f);
  double sum[4][4] = {{0}};
  for (int g = 0; g < nG; g++) {
    const long j0 = (long)g * G / 2, j1 = ((long)(g * G + G < n ? g * G + G : n) + 1) / 2;
    __m512i a[4][4];
    for (int r = 0; r < R; r++)
      for (int o = 0; o < O; o++) a[r][o] = _mm512_setzero_si512();
    for (long j = j0; j < j1; j += 64) {
      const __mmask64 k = j1 - j >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (j1 - j)) - 1);
      __m512i ce[4], co[4];
      for (int r = 0; r < R; r++) {
        ce[r] = _mm512_maskz_loadu_epi8(k, J->ce + (long)(r0 + r) * rb + j);
        co[r] = _mm512_maskz_loadu_epi8(k, J->co + (long)(r0 + r) * rb + j);
      }
      for (int o = 0; o < O; o++) {
        /* masked-off bytes give u = 8 against counts 0: no contribution */
        const __m512i wv = _mm512_maskz_loadu_epi8(k, J->W + (long)(o0 + o) * rb + j);
        const __m512i lo = _mm512_ternarylogic_epi32(wv, k08, k0f, TL_XOR_AND);
        const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(wv, 4), k08, k0f, TL_XOR_AND);
        for (int r = 0; r < R; r++) {
          a[r][o] = _mm512_dpbusd_epi32(a[r][o], lo, ce[r]);
          a[r][o] = _mm512_dpbusd_epi32(a[r][o], hi, co[r]);
        }
      }
    }
    vnni_flush(R, O, a, J->csum, J->dw, nG, g, r0, o0, sum);
  }
  tile_store(R, O, sum, J->scales, J->y, J->m, r0, o0);
}
DEFINE_TILES_4(i4_tile, i4_job)
#endif

#define I4_CHUNK 16

static void i4_chunk(void *ctx, int k) {
  const i4_job *J = (const i4_job *)ctx;
  const int oa = k * I4_CHUNK;
  const int ob = oa + I4_CHUNK < J->m ? oa + I4_CHUNK : J->m;
#if defined(I4_VNNI)
  if (J->ce) {
    run_tiles(i4_tile_table, 4, J, J->rows, oa, ob);
    return;
  }
#endif
  i4_scalar(J, oa, ob);
}

int k_int_matmul4(const uint8_t *W, const float *dw, const int32_t *c, int rows, int m, int n, int G,
                  const double *scales, float *y) {
  const int nG = (n + G - 1) / G;
  const long rb = ((long)n + 1) / 2;
  i4_job J = {W, dw, c, NULL, NULL, NULL, rows, m, n, G, nG, rb, scales, y};
  int8_t *ce = NULL;
  int32_t *csum = NULL;
#if defined(I4_VNNI)
  if (G % 2 == 0 && counts_fit(c, (long)rows * n, -128, 127)) {
    ce = (int8_t *)calloc((size_t)rows * rb * 2 + 1, 1);
    csum = (int32_t *)malloc(sizeof(int32_t) * ((size_t)rows * nG + 1));
    if (!ce || !csum) {
      free(ce);
      free(csum);
      ce = NULL;
      csum = NULL;
    } else {
      int8_t *co = ce + (long)rows * rb;
      for (int r = 0; r < rows; r++) {
        const int32_t *cr = c + (long)r * n;
        for (int i = 0; i < n; i++) ((i & 1) ? co : ce)[(long)r * rb + (i >> 1)] = (int8_t)cr[i];
      }
      group_sums(c, rows, n, G, 8, csum);
      J.ce = ce;
      J.co = co;
      J.csum = csum;
    }
  }
#endif
  const int nt = (long)rows * m * n < 200000L ? 1 : pool_get_threads();
  pool_run(i4_chunk, &J, (m + I4_CHUNK - 1) / I4_CHUNK, nt);
  free(ce);
  free(csum);
  return 0;
}
