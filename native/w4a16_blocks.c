/*
 * w4a16 on decode blocks (layout: src/kernels/ts/w4a16-blocks.ts): blocks of 32 outputs x 8
 * inputs, 128 bytes, byte 4t + k = u(t, k) | u(t, 4 + k) << 4 with u = q + 8 in 0..15; scales
 * block-major [ceil(m/32)][nGroups][32]. A thread takes a run of whole output blocks, which is
 * one sequential stream of the weights and one of the scales.
 *
 * The float GEMV on 4-bit weights is compute-bound on a core (every nibble converted to float and
 * multiplied: 25 instructions per 128 weights, about 13 GB/s of weights per Zen 4 core with the
 * weights in cache). Here the inner sums are integer dot products instead (VNNI vpdpbusd: 64
 * u8 x s8 products per instruction). Per row and group of G inputs, x is split exactly enough into
 * three signed 8-bit parts: with s = max |x| over the group and v = 127 x / s,
 *   a = round(v), b = round(254 (v - a)), c = round(254 (254 (v - a) - b)),
 *   x ~= s / 127 * (a + b / 254 + c / 254^2)   (error <= s / 127 / 254^2 / 2, about 2^-24 s),
 * so every product is exact and the sums Σ u·a, Σ u·b, Σ u·c are exact int32; Σ q·x = Σ u·x - 8 Σ x
 * takes the offset out per group (also exact). Then in float: per group
 *   y += dw · s/127 · ((A - 8Σa) + (B - 8Σb)/254 + (C - 8Σc)/254^2).
 * Error against the float64 reference: about that of a float32 GEMV (the conformance tolerance).
 * 10 instructions per 128 weights: 2-2.5x faster than the float kernel with the weights in cache,
 * and from memory it streams (see docs/PERFORMANCE.md).
 *
 * AVX-512 with VNNI: vpdpbusd; AVX-512BW without: vpmaddubsw + vpmaddwd (no saturation: a pair
 * sums to at most 2 * 15 * 127). Other CPUs: plain C loops in float (compiler-vectorised).
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

#define B_OUT 32
#define B_IN 8
#define B_PARALLEL_MIN 100000L

/* x split per row: parts [rows][3][nb8 * 8] int8, and per (row, group) the scale s/127 and 8·Σ of each part */
typedef struct {
  int8_t *parts;
  float *f;
  int32_t *corr; /* [rows][nG][3] */
  long plen;     /* nb8 * 8 */
} xsplit;

typedef struct {
  const w4b_weights *w;
  const float *x;
  float *y;
  int rows, per; /* output blocks per chunk */
  xsplit X;
} wb_job;

#if defined(SIMD_AVX512)

/* x[i0 .. i1) of one group into its three parts; *f = s / 127, corr = 8 Σ of each part. */
static void split_group(const float *x, int i0, int i1, int8_t *pa, int8_t *pb, int8_t *pc, float *f, int32_t *corr) {
  /* on the calling thread before the workers start: 16 inputs at a time */
  __m512 mx = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (int i = i0; i < i1; i += 16) {
    const __mmask16 k = i1 - i >= 16 ? 0xffff : (__mmask16)((1u << (i1 - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    mx = _mm512_max_ps(mx, _mm512_abs_ps(v));
    bad |= _mm512_fpclass_ps_mask(v, 0x99); /* NaN or infinity */
  }
  const float s = _mm512_reduce_max_ps(mx);
  const __m512 vinv = _mm512_set1_ps(s > 0 ? 127.0f / s : 0), k254 = _mm512_set1_ps(254.0f);
  __m512i sa = _mm512_setzero_si512(), sb = sa, sc = sa;
  for (int i = i0; i < i1; i += 16) {
    const __mmask16 k = i1 - i >= 16 ? 0xffff : (__mmask16)((1u << (i1 - i)) - 1);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vinv);
    const __m512 a = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_mul_ps(_mm512_sub_ps(v, a), k254);
    const __m512 b = _mm512_roundscale_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 c = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_sub_ps(r, b), k254), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i ia = _mm512_cvtps_epi32(a), ib = _mm512_cvtps_epi32(b), ic = _mm512_cvtps_epi32(c);
    _mm512_mask_cvtepi32_storeu_epi8(pa + i, k, ia);
    _mm512_mask_cvtepi32_storeu_epi8(pb + i, k, ib);
    _mm512_mask_cvtepi32_storeu_epi8(pc + i, k, ic);
    sa = _mm512_add_epi32(sa, ia); /* lanes past i1 loaded 0: they add 0 */
    sb = _mm512_add_epi32(sb, ib);
    sc = _mm512_add_epi32(sc, ic);
  }
  *f = bad ? NAN : s / 127.0f; /* a NaN or infinite input makes the outputs NaN, as in a float GEMV */
  corr[0] = 8 * _mm512_reduce_add_epi32(sa);
  corr[1] = 8 * _mm512_reduce_add_epi32(sb);
  corr[2] = 8 * _mm512_reduce_add_epi32(sc);
}

static void split_row(const float *x, int n, int G, int8_t *pa, int8_t *pb, int8_t *pc, long plen, float *f, int32_t *corr) {
  for (int g = 0; g * G < n; g++) split_group(x, g * G, g * G + G < n ? g * G + G : n, pa, pb, pc, f + g, corr + 3 * g);
  for (long i = n; i < plen; i++) pa[i] = pb[i] = pc[i] = 0;
}

#if defined(__AVX512VNNI__)
#define DPBUSD(acc, u, s) _mm512_dpbusd_epi32(acc, u, s)
#else
static ALWAYS_INLINE __m512i DPBUSD(__m512i acc, __m512i u, __m512i s) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
}
#endif

/* 4 bytes of x parts in every int32 lane */
static ALWAYS_INLINE __m512i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* How far ahead in its stream a thread prefetches (into L2). */
#define B_PF_BYTES 6144

static ALWAYS_INLINE __m512 combine(__m512i A, __m512i B, __m512i C, const int32_t *corr) {
  const __m512 k1 = _mm512_set1_ps(1.0f / 254), k2 = _mm512_set1_ps(1.0f / (254.0f * 254.0f));
  const __m512 a = _mm512_cvtepi32_ps(_mm512_sub_epi32(A, _mm512_set1_epi32(corr[0])));
  const __m512 b = _mm512_cvtepi32_ps(_mm512_sub_epi32(B, _mm512_set1_epi32(corr[1])));
  const __m512 c = _mm512_cvtepi32_ps(_mm512_sub_epi32(C, _mm512_set1_epi32(corr[2])));
  return _mm512_add_ps(a, _mm512_add_ps(_mm512_mul_ps(b, k1), _mm512_mul_ps(c, k2)));
}

/*
 * Output block ob for R <= 2 rows (r0 ..): the hot loop. Per 8 inputs: one 128-byte block, its low
 * and high nibbles (inputs 0-3 and 4-7 of each output's dword), and per row and part two
 * vpdpbusd for each half of the 32 outputs. Accumulators stay in registers for a group.
 */
static ALWAYS_INLINE void block_rows(const int R, const wb_job *J, int ob, int r0) {
  const w4b_weights *w = J->w;
  const int m = w->m, n = w->n, G = w->G, gb = G / B_IN, nb8 = (n + B_IN - 1) / B_IN, nG = (n + G - 1) / G;
  const uint8_t *p = w->blocks + (long)ob * nb8 * 128;
  const __m512i m4 = _mm512_set1_epi8(15);
  const int outs = m - B_OUT * ob < B_OUT ? m - B_OUT * ob : B_OUT;
  const __mmask16 k0 = outs >= 16 ? 0xffff : (__mmask16)((1u << outs) - 1);
  const __mmask16 k1 = outs >= 32 ? 0xffff : outs <= 16 ? 0 : (__mmask16)((1u << (outs - 16)) - 1);
  __m512 s0[2], s1[2];
  for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm512_setzero_ps();
  for (int g = 0; g < nG; g++) {
    __m512i A0[2], B0[2], C0[2], A1[2], B1[2], C1[2];
    for (int r = 0; r < R; r++) A0[r] = B0[r] = C0[r] = A1[r] = B1[r] = C1[r] = _mm512_setzero_si512();
    const int j1 = (g + 1) * gb < nb8 ? (g + 1) * gb : nb8;
    for (int j = g * gb; j < j1; j++) {
      const uint8_t *q = p + 128L * j;
      _mm_prefetch((const char *)(q + B_PF_BYTES), _MM_HINT_T1);
      _mm_prefetch((const char *)(q + B_PF_BYTES + 64), _MM_HINT_T1);
      const __m512i w0 = _mm512_loadu_si512((const void *)q), w1 = _mm512_loadu_si512((const void *)(q + 64));
      const __m512i l0 = _mm512_and_si512(w0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(w0, 4), m4);
      const __m512i l1 = _mm512_and_si512(w1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(w1, 4), m4);
      for (int r = 0; r < R; r++) {
        const int8_t *pa = J->X.parts + (long)(r0 + r) * 3 * J->X.plen + 8L * j;
        const int8_t *pb = pa + J->X.plen, *pc = pb + J->X.plen;
        const __m512i alo = bcast4(pa), ahi = bcast4(pa + 4), blo = bcast4(pb), bhi = bcast4(pb + 4);
        const __m512i clo = bcast4(pc), chi = bcast4(pc + 4);
        A0[r] = DPBUSD(DPBUSD(A0[r], l0, alo), h0, ahi);
        B0[r] = DPBUSD(DPBUSD(B0[r], l0, blo), h0, bhi);
        C0[r] = DPBUSD(DPBUSD(C0[r], l0, clo), h0, chi);
        A1[r] = DPBUSD(DPBUSD(A1[r], l1, alo), h1, ahi);
        B1[r] = DPBUSD(DPBUSD(B1[r], l1, blo), h1, bhi);
        C1[r] = DPBUSD(DPBUSD(C1[r], l1, clo), h1, chi);
      }
    }
    const float *dw = w->scales + ((long)ob * nG + g) * B_OUT;
    const __m512 d0 = _mm512_loadu_ps(dw), d1 = _mm512_loadu_ps(dw + 16);
    for (int r = 0; r < R; r++) {
      const long rg = (long)(r0 + r) * nG + g;
      const __m512 fg = _mm512_set1_ps(J->X.f[rg]);
      const int32_t *corr = J->X.corr + 3 * rg;
      s0[r] = _mm512_fmadd_ps(_mm512_mul_ps(d0, fg), combine(A0[r], B0[r], C0[r], corr), s0[r]);
      s1[r] = _mm512_fmadd_ps(_mm512_mul_ps(d1, fg), combine(A1[r], B1[r], C1[r], corr), s1[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    float *y = J->y + (long)(r0 + r) * m + B_OUT * ob;
    _mm512_mask_storeu_ps(y, k0, s0[r]);
    _mm512_mask_storeu_ps(y + 16, k1, s1[r]);
  }
}

#define DEF_BR(R) \
  static void br_##R(const wb_job *J, int ob, int r0) { block_rows(R, J, ob, r0); }
DEF_BR(1) DEF_BR(2)

static void wb_chunk(void *ctx, int k) {
  const wb_job *J = (const wb_job *)ctx;
  const int nbo = (J->w->m + B_OUT - 1) / B_OUT;
  const int ob0 = k * J->per, ob1 = ob0 + J->per < nbo ? ob0 + J->per : nbo;
  for (int ob = ob0; ob < ob1; ob++)
    for (int r = 0; r < J->rows; r += 2) { /* rows in pairs: 12 accumulators, weights unpacked once per pair */
      if (J->rows - r >= 2) br_2(J, ob, r);
      else br_1(J, ob, r);
    }
}

#endif /* SIMD_AVX512 */

/* Any group size and CPU: float sums per group over one output block (32 lanes the compiler vectorises). */
static void wb_chunk_generic(void *ctx, int k) {
  const wb_job *J = (const wb_job *)ctx;
  const w4b_weights *w = J->w;
  const int m = w->m, n = w->n, G = w->G, nb8 = (n + B_IN - 1) / B_IN, nG = (n + G - 1) / G;
  const int nbo = (m + B_OUT - 1) / B_OUT;
  const int ob0 = k * J->per, ob1 = ob0 + J->per < nbo ? ob0 + J->per : nbo;
  float acc[B_OUT], sum[B_OUT];
  for (int ob = ob0; ob < ob1; ob++) {
    const uint8_t *p = w->blocks + (long)ob * nb8 * 128;
    const int outs = m - B_OUT * ob < B_OUT ? m - B_OUT * ob : B_OUT;
    for (int r = 0; r < J->rows; r++) {
      const float *x = J->x + (long)r * n;
      for (int t = 0; t < B_OUT; t++) sum[t] = 0;
      for (int g = 0; g * G < n; g++) {
        const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
        for (int t = 0; t < B_OUT; t++) acc[t] = 0;
        for (int i = i0; i < i1; i++) {
          const uint8_t *q = p + 128L * (i >> 3) + (i & 3);
          const int shift = i & 4;
          const float xi = x[i];
          for (int t = 0; t < B_OUT; t++) acc[t] += xi * (float)(((q[4 * t] >> shift) & 15) - 8);
        }
        const float *dw = w->scales + ((long)ob * nG + g) * B_OUT;
        for (int t = 0; t < outs; t++) sum[t] += dw[t] * acc[t];
      }
      memcpy(J->y + (long)r * m + B_OUT * ob, sum, sizeof(float) * outs);
    }
  }
}

int k_matmul_w4a16_blocks(const w4b_weights *w, const float *x, float *y, int rows) {
  const int m = w->m, n = w->n;
  if (rows <= 0 || m <= 0) return 0;
  if (n <= 0) {
    memset(y, 0, sizeof(float) * (size_t)rows * m);
    return 0;
  }
  const int nt = (long)rows * m * n < B_PARALLEL_MIN ? 1 : pool_get_threads();
  const int nbo = (m + B_OUT - 1) / B_OUT;
  int per = (nbo + 4 * nt - 1) / (4 * nt); /* about four chunks per thread: long streams, some balancing */
  if (per < 1) per = 1;
  wb_job J = {w, x, y, rows, per, {0}};
#if defined(SIMD_AVX512)
  if (w->G % B_IN == 0) {
    const int nb8 = (n + B_IN - 1) / B_IN, nG = (n + w->G - 1) / w->G;
    J.X.plen = (long)nb8 * B_IN;
    const size_t pbytes = (size_t)rows * 3 * J.X.plen, fbytes = sizeof(float) * (size_t)rows * nG;
    /* the calling thread's pool scratch (kept across calls; wb_chunk uses none of its own) */
    char *buf = (char *)pool_scratch(pbytes + fbytes + sizeof(int32_t) * 3 * (size_t)rows * nG + 64);
    if (!buf) return -1;
    J.X.parts = (int8_t *)buf;
    J.X.f = (float *)(buf + (pbytes + 63) / 64 * 64);
    J.X.corr = (int32_t *)(J.X.f + (size_t)rows * nG);
    for (int r = 0; r < rows; r++) {
      int8_t *pa = J.X.parts + (long)r * 3 * J.X.plen;
      split_row(x + (long)r * n, n, w->G, pa, pa + J.X.plen, pa + 2 * J.X.plen, J.X.plen, J.X.f + (long)r * nG,
                J.X.corr + 3L * r * nG);
    }
    pool_run(wb_chunk, &J, (nbo + per - 1) / per, nt);
    return 0;
  }
#endif
  pool_run(wb_chunk_generic, &J, (nbo + per - 1) / per, nt);
  return 0;
}

/* Output blocks [k * per, ..) of the re-packing: column by column, 16 bytes (32 outputs) each. */
typedef struct {
  const uint8_t *packed;
  uint8_t *blocks;
  int m, n, per;
} pk_job;

static void pack_chunk(void *ctx, int k) {
  const pk_job *P = (const pk_job *)ctx;
  const int m = P->m, n = P->n, nb8 = (n + B_IN - 1) / B_IN, nbo = (m + B_OUT - 1) / B_OUT;
  const long cb = (m + 1) / 2;
  const int b0 = k * P->per, b1 = b0 + P->per < nbo ? b0 + P->per : nbo;
  for (int b = b0; b < b1; b++) {
    uint8_t *dst = P->blocks + (long)b * nb8 * 128;
    memset(dst, 0x88, (size_t)nb8 * 128); /* padding: u = 8, weight 0 */
    const int outs = m - B_OUT * b < B_OUT ? m - B_OUT * b : B_OUT;
    for (int i = 0; i < n; i++) {
      const uint8_t *src = P->packed + (long)i * cb + 16L * b;
      uint8_t *d = dst + 128L * (i >> 3) + (i & 3);
      const int shift = i & 4, keep = shift ? 0x0f : 0xf0;
      for (int t = 0; t < outs; t++) {
        const int u = ((src[t >> 1] >> (4 * (t & 1))) & 15) ^ 8; /* q + 8 */
        d[4 * t] = (uint8_t)((d[4 * t] & keep) | (u << shift));
      }
    }
  }
}

void k_pack_w4a16_blocks(const uint8_t *packed, int m, int n, uint8_t *blocks) {
  if (m <= 0 || n <= 0) return;
  const int nbo = (m + B_OUT - 1) / B_OUT, nt = (long)m * n < B_PARALLEL_MIN ? 1 : pool_get_threads();
  int per = (nbo + 4 * nt - 1) / (4 * nt);
  if (per < 1) per = 1;
  pk_job P = {packed, blocks, m, n, per};
  pool_run(pack_chunk, &P, (nbo + per - 1) / per, nt);
}
