/*
 * w4a16: y[r, o] = sum_g dw[g, o] * sum_{i in g} q[o, i] * x[r, i] on 4-bit weights kept packed
 * (column-major, cb = ceil(m/2) bytes per input, lower nibble = even output row), dequantized in
 * registers: no float copy of the weights exists, so a decode step reads 0.5 byte per weight.
 * The ts reference is src/kernels/ts/packed4.ts (float64 sums); here sums are float32 lanes, so
 * results agree with it (and with DenseLinear over dequantized weights) to a tolerance.
 *
 * AVX-512: 16 packed bytes (32 outputs) are zero-extended into int32 lanes and one vpermps per
 * 16 weights looks each nibble up in a register table of the 16 weight values (the high nibbles:
 * a shift first): exact float weights in two instructions per 16 weights. Even and odd
 * output rows live in separate accumulators; each group's sums are scaled by dw (de-interleaved
 * with vpermt2ps) into running per-output sums, which are re-interleaved when y is written.
 *  - one row (decode): chunks of up to 256 outputs keep their accumulators in registers; a layer
 *    of more than 128 KB is split by inputs instead (fixed tasks of whole groups, partial sums
 *    added in task order), four columns at a time (one per quarter of a group) swept over all m
 *    outputs, so every column is read front to back and the weights stream from memory
 *    sequentially (see spike4.c for why);
 *  - a batch (prefill): 8 rows x 32 outputs per register tile, the weights converted once per
 *    input for the 8 rows (broadcast FMAs).
 * Other CPUs: plain C loops (compiler-vectorised).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

#define W_SUB 256    /* outputs per register pass (one row) */
#define W_TILE 32    /* outputs per tile of a batch */
#define W_RB 8       /* rows per tile of a batch */
#define W_STREAM_MIN_BYTES (1L << 17) /* one row over more packed bytes: split by inputs (1.1B's k/v: 256 KB) */

typedef struct {
  const spike4_weights *w;
  const float *x;
  float *y;
  int rows, nG;
  int chunk; /* outputs per chunk (a multiple of 32) */
} w4_job;

#if defined(SIMD_AVX512)

/*
 * 32 outputs from 16 packed bytes (masked by k): even rows into *ev, odd rows into *od. The bytes
 * are zero-extended into int32 lanes and vpermps looks the nibbles up in a 16-entry table of
 * their values (it reads only the low 4 bits of each index: the high nibble needs one shift).
 */
static ALWAYS_INLINE void cvt32(const uint8_t *p, __mmask16 k, __m512 *ev, __m512 *od) {
  const __m512 lut = _mm512_set_ps(-1, -2, -3, -4, -5, -6, -7, -8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i b = _mm512_cvtepu8_epi32(k == 0xffff ? _mm_loadu_si128((const __m128i *)p) : _mm_maskz_loadu_epi8(k, p));
  *ev = _mm512_permutexvar_ps(b, lut);
  *od = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), lut);
}

static ALWAYS_INLINE __mmask16 bytes_mask(int outputs) { /* outputs in this 32-output piece */
  const int nb = (outputs + 1) >> 1;
  return nb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nb) - 1);
}
static ALWAYS_INLINE __mmask16 out_mask(int outputs) {
  return outputs >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (outputs > 0 ? outputs : 0)) - 1);
}

/* dw of 32 outputs (masked) as even / odd vectors. */
static ALWAYS_INLINE void dw_split(const float *dw, int outputs, __m512 *de, __m512 *dod) {
  const __m512 d0 = _mm512_maskz_loadu_ps(out_mask(outputs), dw);
  const __m512 d1 = _mm512_maskz_loadu_ps(out_mask(outputs - 16), dw + 16);
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  *de = _mm512_permutex2var_ps(d0, ie, d1);
  *dod = _mm512_permutex2var_ps(d0, io, d1);
}

/* y[0 .. outputs) from even / odd sums. */
static ALWAYS_INLINE void store_merge(float *y, int outputs, __m512 e, __m512 o) {
  const __m512i i0 = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i i1 = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  _mm512_mask_storeu_ps(y, out_mask(outputs), _mm512_permutex2var_ps(e, i0, o));
  _mm512_mask_storeu_ps(y + 16, out_mask(outputs - 16), _mm512_permutex2var_ps(e, i1, o));
}

/*
 * One row, a chunk of up to W_SUB outputs (P pieces of 32): accumulators in registers over a
 * group's inputs [i0, i1), then sums[2P] += dw * acc. Prefetches the column 4 inputs ahead.
 */
static ALWAYS_INLINE void gemv_pass(const int P, const uint8_t *base, long cb, const float *x, int i0, int i1,
                                    const float *dw, int outputs, __m512 *sums) {
  __m512 acc[16];
  for (int p = 0; p < 2 * P; p++) acc[p] = _mm512_setzero_ps();
  for (int i = i0; i < i1; i++) {
    const uint8_t *col = base + (long)i * cb;
    _mm_prefetch((const char *)(col + 4 * cb), _MM_HINT_T0);
    if (P > 4) _mm_prefetch((const char *)(col + 4 * cb + 64), _MM_HINT_T0);
    const __m512 xv = _mm512_set1_ps(x[i]);
    for (int p = 0; p < P; p++) {
      __m512 ev, od;
      cvt32(col + 16 * p, bytes_mask(outputs - 32 * p), &ev, &od);
      acc[2 * p] = _mm512_fmadd_ps(ev, xv, acc[2 * p]);
      acc[2 * p + 1] = _mm512_fmadd_ps(od, xv, acc[2 * p + 1]);
    }
  }
  for (int p = 0; p < P; p++) {
    __m512 de, dod;
    dw_split(dw + 32 * p, outputs - 32 * p, &de, &dod);
    sums[2 * p] = _mm512_fmadd_ps(de, acc[2 * p], sums[2 * p]);
    sums[2 * p + 1] = _mm512_fmadd_ps(dod, acc[2 * p + 1], sums[2 * p + 1]);
  }
}

#define DEF_GP(P)                                                                                              \
  static void gp_##P(const uint8_t *base, long cb, const float *x, int i0, int i1, const float *dw, int outputs, \
                     __m512 *sums) {                                                                           \
    gemv_pass(P, base, cb, x, i0, i1, dw, outputs, sums);                                                      \
  }
DEF_GP(1) DEF_GP(2) DEF_GP(3) DEF_GP(4) DEF_GP(5) DEF_GP(6) DEF_GP(7) DEF_GP(8)
typedef void (*gp_fn)(const uint8_t *, long, const float *, int, int, const float *, int, __m512 *);
static const gp_fn GP[9] = {0, gp_1, gp_2, gp_3, gp_4, gp_5, gp_6, gp_7, gp_8};

/*
 * One row of a big layer: acc[2 * np] += x[c] * column c over all m outputs for the K columns
 * c = i + t * stride (each read front to back; the accumulators stay in cache). The callers deal
 * a group's columns into four lanes (stride = a quarter of the group), so consecutive sweeps
 * read the next column of every lane: four long sequential streams, as in spike4.c. Meanwhile
 * the column `ahead` places further in each lane is prefetched (into L2, see spike4.c), one line
 * per lane every four vectors.
 */
static ALWAYS_INLINE void sweep(const int K, const uint8_t *base, long cb, const float *x, int i, int stride, int ahead,
                                int np, int m, __m512 *acc) {
  const uint8_t *col[4];
  __m512 xv[4];
  for (int t = 0; t < K; t++) {
    col[t] = base + (long)(i + t * stride) * cb;
    xv[t] = _mm512_set1_ps(x[i + t * stride]);
  }
  const long pfd = (long)ahead * cb;
  for (int p = 0; p < np; p++) {
    if (ahead > 0 && (p & 3) == 0)
      for (int t = 0; t < K; t++) _mm_prefetch((const char *)(col[t] + pfd + 16 * p), _MM_HINT_T1);
    __m512 e = acc[2 * p], o = acc[2 * p + 1];
    const __mmask16 bm = bytes_mask(m - 32 * p);
    for (int t = 0; t < K; t++) {
      __m512 ev, od;
      cvt32(col[t] + 16 * p, bm, &ev, &od);
      e = _mm512_fmadd_ps(ev, xv[t], e);
      o = _mm512_fmadd_ps(od, xv[t], o);
    }
    acc[2 * p] = e;
    acc[2 * p + 1] = o;
  }
}
static void sweep4(const uint8_t *base, long cb, const float *x, int i, int stride, int ahead, int np, int m, __m512 *acc) {
  sweep(4, base, cb, x, i, stride, ahead, np, m, acc);
}
static void sweep1(const uint8_t *base, long cb, const float *x, int i, int np, int m, __m512 *acc) {
  sweep(1, base, cb, x, i, 0, 0, np, m, acc);
}

/* One row, outputs [o0, o0 + len) with len <= W_SUB: accumulators in registers. */
static void gemv_chunk(const w4_job *J, int o0, int len) {
  const spike4_weights *w = J->w;
  const long m = w->m, cb = (m + 1) / 2;
  const int n = w->n, G = w->G;
  __m512 sums[2 * W_SUB / 32];
  const int np = (len + 31) / 32;
  for (int p = 0; p < 2 * np; p++) sums[p] = _mm512_setzero_ps();
  const uint8_t *base = w->packed + o0 / 2;
  for (int g = 0; g * G < n; g++) {
    const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
    GP[np](base, cb, J->x, i0, i1, w->dwT + (long)g * m + o0, len, sums);
  }
  for (int p = 0; p < np; p++) store_merge(J->y + o0 + 32 * p, len - 32 * p, sums[2 * p], sums[2 * p + 1]);
}

/*
 * One row of a big layer, split by inputs: task k takes groups [k * gpt, (k + 1) * gpt) whole,
 * sweeps their columns over all m outputs and writes its partial sums part[k, 0 .. m); then
 * y = sum_k part[k] in task order. The partition depends on the shape only, so results do not
 * depend on the thread count.
 */
typedef struct {
  const spike4_weights *w;
  const float *x;
  float *y;
  float *part;
  int nG, gpt, ntasks;
} w4_split;

static void split_task(void *ctx, int k) {
  const w4_split *S = (const w4_split *)ctx;
  const spike4_weights *w = S->w;
  const int m = w->m, n = w->n, G = w->G;
  const long cb = (m + 1) / 2;
  const int np = (m + 31) / 32;
  __m512 *buf = (__m512 *)pool_scratch(sizeof(__m512) * (size_t)np * 4);
  float *part = S->part + (long)k * m;
  const int g0 = k * S->gpt, g1 = g0 + S->gpt < S->nG ? g0 + S->gpt : S->nG;
  if (!buf) { /* out of memory in a worker: register-sized chunks, summed into part */
    w4_job J = {w, S->x, part, 1, 0, W_SUB};
    spike4_weights sub = *w;
    sub.packed = w->packed + (long)g0 * G * cb;
    sub.dwT = w->dwT + (long)g0 * m;
    sub.n = (g1 * G < n ? g1 * G : n) - g0 * G;
    J.w = &sub;
    J.x = S->x + (long)g0 * G;
    for (int o0 = 0; o0 < m; o0 += W_SUB) gemv_chunk(&J, o0, m - o0 < W_SUB ? m - o0 : W_SUB);
    return;
  }
  __m512 *acc = buf, *sums = buf + 2 * np;
  for (int p = 0; p < 2 * np; p++) sums[p] = _mm512_setzero_ps();
  const int D = (int)((SWEEP_PF_BYTES + 4 * cb - 1) / (4 * cb)); /* prefetch distance, in columns of each lane */
  for (int g = g0; g < g1; g++) {
    const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
    for (int p = 0; p < 2 * np; p++) acc[p] = _mm512_setzero_ps();
    const int nq = (i1 - i0) / 4; /* four lanes of nq columns */
    for (int k = 0; k < nq; k++) sweep4(w->packed, cb, S->x, i0 + k, nq, k + D < nq ? D : 0, np, m, acc);
    for (int i = i0 + 4 * nq; i < i1; i++) sweep1(w->packed, cb, S->x, i, np, m, acc);
    const float *dw = w->dwT + (long)g * m;
    for (int p = 0; p < np; p++) {
      __m512 de, dod;
      dw_split(dw + 32 * p, m - 32 * p, &de, &dod);
      sums[2 * p] = _mm512_fmadd_ps(de, acc[2 * p], sums[2 * p]);
      sums[2 * p + 1] = _mm512_fmadd_ps(dod, acc[2 * p + 1], sums[2 * p + 1]);
    }
  }
  for (int p = 0; p < np; p++) store_merge(part + 32 * p, m - 32 * p, sums[2 * p], sums[2 * p + 1]);
}

#define W_FLUSH 1024
static void split_sum(void *ctx, int k) {
  const w4_split *S = (const w4_split *)ctx;
  const int m = S->w->m;
  const int o0 = k * W_FLUSH, len = o0 + W_FLUSH < m ? W_FLUSH : m - o0;
  float *y = S->y + o0;
  for (int o = 0; o < len; o++) y[o] = S->part[o0 + o];
  for (int t = 1; t < S->ntasks; t++) {
    const float *p = S->part + (long)t * m + o0;
    for (int o = 0; o < len; o++) y[o] += p[o];
  }
}

/* Returns 0, or -1 when the partial sums cannot be allocated (the caller then uses output chunks). */
static int gemv_split(const spike4_weights *w, const float *x, float *y, int nt) {
  const int nG = (w->n + w->G - 1) / w->G;
  const int gpt = nG / 16 > 1 ? nG / 16 : 1;
  const int ntasks = (nG + gpt - 1) / gpt;
  float *part = (float *)malloc(sizeof(float) * (size_t)ntasks * w->m);
  if (!part) return -1;
  w4_split S = {w, x, y, part, nG, gpt, ntasks};
  pool_run_phases(split_task, ntasks, split_sum, (w->m + W_FLUSH - 1) / W_FLUSH, &S, nt);
  free(part);
  return 0;
}

/* A batch: rows in tiles of R <= W_RB, outputs [o0, o0 + outputs) with outputs <= 32. */
static ALWAYS_INLINE void gemm_tile(const int R, const w4_job *J, int r0, int o0, int outputs) {
  const spike4_weights *w = J->w;
  const long m = w->m, cb = (m + 1) / 2;
  const int n = w->n, G = w->G;
  const __mmask16 bm = bytes_mask(outputs);
  const uint8_t *base = w->packed + o0 / 2;
  const float *x = J->x + (long)r0 * n;
  __m512 se[W_RB], so[W_RB];
  for (int r = 0; r < R; r++) se[r] = so[r] = _mm512_setzero_ps();
  for (int g = 0; g * G < n; g++) {
    const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
    __m512 ae[W_RB], ao[W_RB];
    for (int r = 0; r < R; r++) ae[r] = ao[r] = _mm512_setzero_ps();
    for (int i = i0; i < i1; i++) {
      __m512 ev, od;
      cvt32(base + (long)i * cb, bm, &ev, &od);
      for (int r = 0; r < R; r++) {
        const __m512 xv = _mm512_set1_ps(x[(long)r * n + i]);
        ae[r] = _mm512_fmadd_ps(ev, xv, ae[r]);
        ao[r] = _mm512_fmadd_ps(od, xv, ao[r]);
      }
    }
    __m512 de, dod;
    dw_split(w->dwT + (long)g * m + o0, outputs, &de, &dod);
    for (int r = 0; r < R; r++) {
      se[r] = _mm512_fmadd_ps(de, ae[r], se[r]);
      so[r] = _mm512_fmadd_ps(dod, ao[r], so[r]);
    }
  }
  for (int r = 0; r < R; r++) store_merge(J->y + (long)(r0 + r) * m + o0, outputs, se[r], so[r]);
}

#define DEF_GT(R) \
  static void gt_##R(const w4_job *J, int r0, int o0, int outputs) { gemm_tile(R, J, r0, o0, outputs); }
DEF_GT(1) DEF_GT(2) DEF_GT(3) DEF_GT(4) DEF_GT(5) DEF_GT(6) DEF_GT(7) DEF_GT(8)
typedef void (*gt_fn)(const w4_job *, int, int, int);
static const gt_fn GT[W_RB + 1] = {0, gt_1, gt_2, gt_3, gt_4, gt_5, gt_6, gt_7, gt_8};

static void w4_chunk(void *ctx, int k) {
  const w4_job *J = (const w4_job *)ctx;
  const int m = J->w->m;
  const int o0 = k * J->chunk, len = o0 + J->chunk < m ? J->chunk : m - o0;
  if (J->rows == 1) {
    gemv_chunk(J, o0, len);
    return;
  }
  for (int t = 0; t < len; t += W_TILE) {
    const int outs = len - t < W_TILE ? len - t : W_TILE;
    for (int r = 0; r < J->rows; r += W_RB) {
      const int R = J->rows - r < W_RB ? J->rows - r : W_RB;
      GT[R](J, r, o0 + t, outs);
    }
  }
}

#else /* generic C */

static void w4_chunk(void *ctx, int k) {
  const w4_job *J = (const w4_job *)ctx;
  const spike4_weights *w = J->w;
  const long m = w->m, cb = (m + 1) / 2;
  const int n = w->n, G = w->G;
  const int o0 = k * J->chunk, len = o0 + J->chunk < m ? J->chunk : (int)m - o0;
  const int nb = (len + 1) / 2;
  float acc[W_SUB + 2], sum[W_SUB + 2];
  for (int r = 0; r < J->rows; r++) {
    const float *x = J->x + (long)r * n;
    for (int o = 0; o < len; o++) sum[o] = 0;
    for (int g = 0; g * G < n; g++) {
      const int i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
      for (int o = 0; o < 2 * nb; o++) acc[o] = 0;
      for (int i = i0; i < i1; i++) {
        const uint8_t *col = w->packed + (long)i * cb + o0 / 2;
        const float xi = x[i];
        for (int j = 0; j < nb; j++) {
          const int b = col[j];
          acc[2 * j] += xi * (float)(((b & 15) ^ 8) - 8);
          acc[2 * j + 1] += xi * (float)(((b >> 4) ^ 8) - 8);
        }
      }
      const float *dw = w->dwT + (long)g * m + o0;
      for (int o = 0; o < len; o++) sum[o] += dw[o] * acc[o];
    }
    for (int o = 0; o < len; o++) J->y[(long)r * m + o0 + o] = sum[o];
  }
}
#endif

#define W_PARALLEL_MIN 100000L

void k_matmul_w4a16(const spike4_weights *w, const float *x, float *y, int rows) {
  const int m = w->m, n = w->n;
  if (rows <= 0 || m <= 0) return;
  if (n <= 0) {
    memset(y, 0, sizeof(float) * (size_t)rows * m);
    return;
  }
  const int nt = (long)rows * m * n < W_PARALLEL_MIN ? 1 : pool_get_threads();
#if defined(SIMD_AVX512)
  /* one row of a layer over 128 KB: split by inputs, every column read front to back */
  if (rows == 1 && (long)((m + 1) / 2) * n > W_STREAM_MIN_BYTES && gemv_split(w, x, y, nt) == 0) return;
#endif
  int chunk;
  if (rows == 1) {
    chunk = (m + 2 * nt - 1) / (2 * nt);
    chunk = (chunk + 31) / 32 * 32;
    if (chunk > W_SUB) chunk = W_SUB;
  } else {
    chunk = (m + 4 * nt - 1) / (4 * nt);
    chunk = (chunk + 31) / 32 * 32;
    if (chunk > 128) chunk = 128;
  }
  if (chunk < 32) chunk = 32;
  w4_job J = {w, x, y, rows, (n + w->G - 1) / w->G, chunk};
  pool_run(w4_chunk, &J, (m + chunk - 1) / chunk, nt);
}
