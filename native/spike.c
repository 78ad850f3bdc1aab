/*
 * Spike-driven linear layer (counts and events), bit-identical to src/kernels/ts/spike-linear.ts.
 *
 * Exactness: the integer accumulators are exact (any order, any width, as long as nothing
 * overflows; -fwrapv makes int32 wrap-around match Int32Array). Per output o the float work is
 * the reference's, in the same order: sum[o] += (double)dwT[g, o] * (double)acc[o] for every
 * group g in order, then y = (float)(scale * sum[o]); -ffp-contract=off forbids fusing the
 * multiply-add. Vectorising across o does not reorder any single output's operations. A group
 * with no nonzero input is skipped: its contribution is dw * 0 = ±0, and sum + ±0 = sum because
 * sum is never -0 (it starts at +0, and round-to-nearest sums are -0 only when both terms are).
 * (This assumes finite scales: an infinite dw would give inf * 0 = NaN in the reference.)
 *
 * Work layout:
 *  - the nonzero inputs of every (row, group) are listed once (index, count) by the caller;
 *  - outputs are cut into chunks of whole vectors that threads claim dynamically (pool.h);
 *  - accumulators are int16 lanes: an int8 weight times a count with |count| <= 255 fits, and
 *    the running bound 128 * sum|count| is kept under 32767 by spilling into int32 accumulators
 *    when needed (counts beyond 255 take an int32 path), so int16 never overflows;
 *  - chunks of up to NVMAX vectors keep their accumulators in registers for a whole (row,
 *    group) (acc_chunk_NV); a batch of rows is processed RB rows at a time per (chunk, group),
 *    so a group's weight block (G x OC bytes) is reused across rows from L1;
 *  - one row of a layer too big for L2 (decode of 7B-size layers) uses long chunks (up to
 *    SUPER outputs): nonzero columns are taken EB at a time and each block swept over the
 *    chunk NVMAX vectors at a time (group_acc), so every column is read front to back in long
 *    runs, which the hardware prefetcher and the TLB like far better than 256-byte pieces.
 */
#include <stdlib.h>
#include <string.h>

#include "int_common.h"
#include "kernels.h"
#include "pool.h"
#include "simd.h"

#define VL (SIMD_BYTES / 2)      /* int16 lanes per vector */
#define NVMAX 8                  /* vectors per chunk */
#define OC (NVMAX * VL)          /* outputs per chunk */
#define RB 8                     /* rows per block */
#define SUPER (RB * OC)          /* most outputs per chunk (one row); RB rows take OC each */
#define EB 16                    /* nonzero columns per block */
#define PF_AHEAD 4               /* prefetch distance (columns) of the register kernels */
#define STREAM_MIN_BYTES (1L << 21) /* weights above this (beyond L2) use long chunks for one row */
#define I16_BUDGET 255           /* max sum |count| held in int16 lanes (|w| <= 128) */

typedef int16_t v16 __attribute__((vector_size(SIMD_BYTES)));
typedef int8_t v8 __attribute__((vector_size(SIMD_BYTES / 2)));
typedef int32_t v32 __attribute__((vector_size(SIMD_BYTES * 2)));

static ALWAYS_INLINE v16 load_widen(const int8_t *p) {
#if defined(SIMD_AVX512)
  return (v16)_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p));
#elif defined(SIMD_AVX2)
  return (v16)_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
#else
  v8 b;
  memcpy(&b, p, sizeof b);
  return __builtin_convertvector(b, v16);
#endif
}

static ALWAYS_INLINE void store_widen32(int32_t *out, v16 a, int add) {
#if defined(SIMD_AVX512)
  __m512i lo = _mm512_cvtepi16_epi32(_mm512_castsi512_si256((__m512i)a));
  __m512i hi = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64((__m512i)a, 1));
  if (add) {
    lo = _mm512_add_epi32(lo, _mm512_loadu_si512(out));
    hi = _mm512_add_epi32(hi, _mm512_loadu_si512(out + 16));
  }
  _mm512_storeu_si512(out, lo);
  _mm512_storeu_si512(out + 16, hi);
#elif defined(SIMD_AVX2)
  __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128((__m256i)a));
  __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256((__m256i)a, 1));
  if (add) {
    lo = _mm256_add_epi32(lo, _mm256_loadu_si256((const __m256i *)out));
    hi = _mm256_add_epi32(hi, _mm256_loadu_si256((const __m256i *)(out + 8)));
  }
  _mm256_storeu_si256((__m256i *)out, lo);
  _mm256_storeu_si256((__m256i *)(out + 8), hi);
#else
  v32 w = __builtin_convertvector(a, v32);
  if (add) {
    v32 o;
    memcpy(&o, out, sizeof o);
    w += o;
  }
  memcpy(out, &w, sizeof w);
#endif
}

static ALWAYS_INLINE unsigned uabs(int c) { return c < 0 ? -(unsigned)c : (unsigned)c; }

/*
 * A[0 .. NV) += sum_k cnt[k] * col_k[0 .. NV*VL)   (col_k = base + idx[k] * m), int16 lanes.
 * One specialisation per NV, so the NV accumulators live in registers for the whole block; the
 * caller guarantees sum_k |cnt[k]| fits the int16 budget. Also prefetches the next NV*VL bytes
 * of every column (the caller's next sub-chunk).
 */
#define DEFINE_BLK(NV)                                                                                \
  static void blk_##NV(const int8_t *base, long m, const int32_t *idx, const int32_t *cnt, int ne, \
                       v16 *A, int pf_next) {                                                          \
    v16 a[NV];                                                                                        \
    for (int v = 0; v < NV; v++) a[v] = A[v];                                                         \
    for (int k = 0; k < ne; k++) {                                                                    \
      const int8_t *col = base + (long)idx[k] * m;                                                    \
      if (pf_next) /* the caller's next sub-chunk of this column */                                   \
        for (int l = 0; l < NV * VL; l += 64) __builtin_prefetch(col + NV * VL + l);                  \
      const int16_t cs = (int16_t)cnt[k];                                                             \
      for (int v = 0; v < NV; v++) a[v] += load_widen(col + v * VL) * cs;                             \
    }                                                                                                 \
    for (int v = 0; v < NV; v++) A[v] = a[v];                                                         \
  }

DEFINE_BLK(1)
DEFINE_BLK(2)
DEFINE_BLK(3)
DEFINE_BLK(4)
DEFINE_BLK(5)
DEFINE_BLK(6)
DEFINE_BLK(7)
DEFINE_BLK(8)

typedef void (*blk_fn)(const int8_t *, long, const int32_t *, const int32_t *, int, v16 *, int);
static const blk_fn BLK[NVMAX + 1] = {NULL, blk_1, blk_2, blk_3, blk_4, blk_5, blk_6, blk_7, blk_8};

/*
 * Chunks of up to NVMAX vectors: out[0 .. NV*VL) = sum_k cnt[k] * col_k as int32, accumulators in
 * registers for the whole (row, group); spills into out when the int16 budget would overflow.
 */
#define DEFINE_ACC(NV)                                                                             \
  static void acc_chunk_##NV(const int8_t *base, long m, const int32_t *idx, const int32_t *cnt, \
                             int ne, int32_t *out) {                                               \
    v16 a[NV];                                                                                     \
    for (int v = 0; v < NV; v++) a[v] = (v16){0};                                                  \
    int budget = 0, spilled = 0;                                                                   \
    for (int k = 0; k < ne; k++) {                                                                 \
      const int c = cnt[k];                                                                        \
      const int8_t *col = base + (long)idx[k] * m;                                                 \
      if (k + PF_AHEAD < ne) {                                                                     \
        const int8_t *pf = base + (long)idx[k + PF_AHEAD] * m;                                     \
        for (int l = 0; l < NV * VL; l += 64) __builtin_prefetch(pf + l);                          \
      }                                                                                            \
      const unsigned ac = uabs(c);                                                                 \
      if (ac + (unsigned)budget > I16_BUDGET) {                                                    \
        for (int v = 0; v < NV; v++) store_widen32(out + v * VL, a[v], spilled);                   \
        for (int v = 0; v < NV; v++) a[v] = (v16){0};                                              \
        spilled = 1;                                                                               \
        budget = 0;                                                                                \
        if (ac > I16_BUDGET) { /* large count: int32 multiply-add of this column */               \
          for (int o = 0; o < NV * VL; o++) out[o] += c * col[o];                                  \
          continue;                                                                                \
        }                                                                                          \
      }                                                                                            \
      budget += (int)ac;                                                                           \
      const int16_t cs = (int16_t)c;                                                               \
      for (int v = 0; v < NV; v++) a[v] += load_widen(col + v * VL) * cs;                          \
    }                                                                                              \
    for (int v = 0; v < NV; v++) store_widen32(out + v * VL, a[v], spilled);                       \
  }

DEFINE_ACC(1)
DEFINE_ACC(2)
DEFINE_ACC(3)
DEFINE_ACC(4)
DEFINE_ACC(5)
DEFINE_ACC(6)
DEFINE_ACC(7)
DEFINE_ACC(8)

typedef void (*acc_fn)(const int8_t *, long, const int32_t *, const int32_t *, int, int32_t *);
static const acc_fn ACC[NVMAX + 1] = {NULL, acc_chunk_1, acc_chunk_2, acc_chunk_3, acc_chunk_4,
                                      acc_chunk_5, acc_chunk_6, acc_chunk_7, acc_chunk_8};

/*
 * out[0 .. nvt*VL) = sum over the entries of one (row, group) of cnt[k] * col_k, exact int32.
 * Entries are taken in blocks of up to EB columns whose |counts| fit the int16 budget; each block
 * is applied to every sub-chunk of NVMAX vectors in turn, so within a block each column is read
 * front to back (page- and prefetch-friendly) while the accumulators stay in registers. When the
 * running budget would overflow int16, the lanes are spilled into out (int32).
 */
static void group_acc(const int8_t *base, long m, const int32_t *idx, const int32_t *cnt, int ne, int nvt,
                      int32_t *out, v16 *A) {
  for (int v = 0; v < nvt; v++) A[v] = (v16){0};
  int budget = 0, spilled = 0;
  int k = 0;
  while (k < ne) {
    if (uabs(cnt[k]) > I16_BUDGET) { /* a large count: int32 multiply-add of this column */
      if (!spilled) memset(out, 0, sizeof(int32_t) * nvt * VL);
      spilled = 1;
      const int c = cnt[k];
      const int8_t *col = base + (long)idx[k] * m;
      for (int o = 0; o < nvt * VL; o++) out[o] += c * col[o];
      k++;
      continue;
    }
    int kb = k, bs = 0;
    while (kb < ne && kb - k < EB) {
      const unsigned ac = uabs(cnt[kb]);
      if (ac > I16_BUDGET || bs + ac > I16_BUDGET) break;
      bs += (int)ac;
      kb++;
    }
    if (budget + bs > I16_BUDGET) {
      for (int v = 0; v < nvt; v++) store_widen32(out + v * VL, A[v], spilled);
      for (int v = 0; v < nvt; v++) A[v] = (v16){0};
      spilled = 1;
      budget = 0;
    }
    budget += bs;
    /* prefetch the start of the next block's columns; blocks prefetch their next sub-chunk */
    for (int j = kb; j < kb + EB && j < ne; j++) {
      const int8_t *col = base + (long)idx[j] * m;
      for (int l = 0; l < NVMAX * VL; l += 64) __builtin_prefetch(col + l);
    }
    for (int v0 = 0; v0 < nvt; v0 += NVMAX) {
      const int nv = nvt - v0 < NVMAX ? nvt - v0 : NVMAX;
      BLK[nv](base + v0 * VL, m, idx + k, cnt + k, kb - k, A + v0, v0 + NVMAX < nvt);
    }
    k = kb;
  }
  for (int v = 0; v < nvt; v++) store_widen32(out + v * VL, A[v], spilled);
}

/* Scalar accumulate for the last m % VL outputs. */
static void acc_scalar(const int8_t *base, long m, const int32_t *idx, const int32_t *cnt, int ne, int len,
                       int32_t *out) {
  for (int o = 0; o < len; o++) out[o] = 0;
  for (int k = 0; k < ne; k++) {
    const int8_t *col = base + (long)idx[k] * m;
    const int c = cnt[k];
    for (int o = 0; o < len; o++) out[o] += c * col[o];
  }
}

typedef struct {
  const spike_weights *w;
  int rows, nG;
  const int32_t *eidx, *ecnt; /* entries: input index, count */
  const int32_t *gofs;        /* (r, g) entries: gofs[r*nG+g] .. gofs[r*nG+g+1] */
  const double *scales;
  float *y;
  long yStride;
  int units; /* whole vectors of outputs: m / VL */
  int cv;    /* vectors per chunk */
} spike_job;

/* Outputs [o0, o0 + len) of every row: nv = len / VL vectors, or nv = 0 for the scalar tail. */
static void do_chunk(const spike_job *J, int o0, int len, int nv) {
  const spike_weights *w = J->w;
  const long m = w->m;
  const int nG = J->nG;
  double sums[SUPER] __attribute__((aligned(64))); /* [rb][len], rb * len <= SUPER */
  int32_t acc[SUPER] __attribute__((aligned(64)));
  v16 A[SUPER / VL];
  const int8_t *base = w->qT + o0;
  const int rbmax = SUPER / len < RB ? SUPER / len : RB;
  for (int r0 = 0; r0 < J->rows; r0 += rbmax) {
    const int rb = J->rows - r0 < rbmax ? J->rows - r0 : rbmax;
    memset(sums, 0, sizeof(double) * len * rb);
    for (int g = 0; g < nG; g++) {
      const float *dw = w->dwT + (long)g * m + o0;
      for (int r = 0; r < rb; r++) {
        const int32_t *go = J->gofs + (long)(r0 + r) * nG + g;
        const int e0 = go[0], e1 = go[1];
        if (e0 == e1) continue; /* silent group: contributes ±0, see above */
        if (nv > NVMAX) group_acc(base, m, J->eidx + e0, J->ecnt + e0, e1 - e0, nv, acc, A);
        else if (nv) ACC[nv](base, m, J->eidx + e0, J->ecnt + e0, e1 - e0, acc);
        else acc_scalar(base, m, J->eidx + e0, J->ecnt + e0, e1 - e0, len, acc);
        flush(sums + r * len, dw, acc, len);
      }
    }
    store_rows(sums, rb, len, J->scales + r0, J->y + (long)r0 * J->yStride + o0, J->yStride);
  }
}

static void spike_chunk(void *vctx, int k) {
  const spike_job *J = (const spike_job *)vctx;
  const int u0 = k * J->cv;
  if (u0 >= J->units) { /* the chunk past the vectors: the last m % VL outputs, scalar */
    do_chunk(J, J->units * VL, J->w->m - J->units * VL, 0);
    return;
  }
  const int u1 = u0 + J->cv < J->units ? u0 + J->cv : J->units;
  do_chunk(J, u0 * VL, (u1 - u0) * VL, u1 - u0);
}

/* Below this much work (weight bytes touched + flush) a call runs on one thread. */
#define PARALLEL_MIN_WORK 100000L

static void run_job(spike_job *J, long nnz) {
  const spike_weights *w = J->w;
  const int nt = pool_get_threads();
  J->units = w->m / VL;
  /* chunks: at least two per thread; at most NVMAX vectors for batches (RB rows share a chunk's
     weights), up to SUPER outputs for one row (long contiguous column reads) */
  const int cvmax = J->rows == 1 && (long)w->m * w->n > STREAM_MIN_BYTES ? SUPER / VL : NVMAX;
  int cv = (J->units + 2 * nt - 1) / (2 * nt);
  if (cv > cvmax) cv = cvmax;
  if (cv < 2) cv = 2;
  J->cv = cv;
  const int nchunks = (J->units + cv - 1) / cv + (w->m % VL ? 1 : 0);
  const long work = nnz * (long)w->m + (long)J->rows * J->nG * (long)w->m / 2;
  pool_run(spike_chunk, J, nchunks, work < PARALLEL_MIN_WORK ? 1 : nt);
}

static int counts_rows(const void *wv, const int32_t *c, long cStride, int rows, const double *scales, float *y,
                       long yStride) {
  const spike_weights *w = (const spike_weights *)wv;
  const int n = w->n, G = w->G;
  const int nG = (n + G - 1) / G;
  long nnz = 0;
  for (int r = 0; r < rows; r++) {
    const int32_t *cr = c + (long)r * cStride;
    for (int i = 0; i < n; i++) nnz += cr[i] != 0;
  }
  int32_t *gofs = (int32_t *)malloc(sizeof(int32_t) * ((size_t)rows * nG + 1));
  int32_t *eidx = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nnz > 0 ? nnz : 1) * 2);
  if (!gofs || !eidx) {
    free(gofs);
    free(eidx);
    return -1;
  }
  int32_t *ecnt = eidx + (nnz > 0 ? nnz : 1);
  long e = 0;
  for (int r = 0; r < rows; r++) {
    const int32_t *cr = c + (long)r * cStride;
    for (int g = 0; g < nG; g++) {
      gofs[(long)r * nG + g] = (int32_t)e;
      const int end = (g + 1) * G < n ? (g + 1) * G : n;
      for (int i = g * G; i < end; i++) {
        const int32_t ci = cr[i];
        if (ci != 0) {
          eidx[e] = i;
          ecnt[e] = ci;
          e++;
        }
      }
    }
  }
  gofs[(long)rows * nG] = (int32_t)e;
  spike_job J = {w, rows, nG, eidx, ecnt, gofs, scales, y, yStride, 0, 0};
  run_job(&J, nnz);
  free(gofs);
  free(eidx);
  return 0;
}

int k_spike_counts_rows(const spike_weights *w, const int32_t *c, long cStride, int rows,
                        const double *scales, float *y, long yStride) {
  return by_row_slices(counts_rows, w, c, cStride, rows, scales, y, yStride);
}

int k_spike_events(const spike_weights *w, const int8_t *trains, int T, double scale, float *y) {
  const int n = w->n, G = w->G;
  const int nG = (n + G - 1) / G;
  const long nev = count_events(trains, (long)T * n);
  if (nev > 0x7fffffffL) return -1; /* entry offsets are int32 */
  int32_t *gofs = (int32_t *)malloc(sizeof(int32_t) * ((size_t)nG + 1));
  int32_t *eidx = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nev > 0 ? nev : 1) * 2);
  if (!gofs || !eidx) {
    free(gofs);
    free(eidx);
    return -1;
  }
  int32_t *ecnt = eidx + (nev > 0 ? nev : 1);
  /* Event order of the reference: per group, time-major, then input index. Each event adds
     (+1) or subtracts (-1) one weight column. */
  long e = 0;
  for (int g = 0; g < nG; g++) {
    gofs[g] = (int32_t)e;
    const int end = (g + 1) * G < n ? (g + 1) * G : n;
    for (int t = 0; t < T; t++) {
      const int8_t *row = trains + (long)t * n;
      for (int i = g * G; i < end; i++) {
        const int8_t s = row[i];
        if (s != 0) {
          eidx[e] = i;
          ecnt[e] = s > 0 ? 1 : -1;
          e++;
        }
      }
    }
  }
  gofs[nG] = (int32_t)e;
  spike_job J = {w, 1, nG, eidx, ecnt, gofs, &scale, y, w->m, 0, 0};
  run_job(&J, nev);
  free(gofs);
  free(eidx);
  return 0;
}
