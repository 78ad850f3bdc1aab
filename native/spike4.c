/*
 * The spike-driven linear layer on 4-bit weights kept packed (QuantizedWeights.packed: column-major,
 * cb = ceil(m/2) bytes per input neuron, two's-complement nibbles, lower nibble = even row).
 * Bit-identical to src/kernels/ts/packed4.ts and so to the int8 kernels of spike.c: the integer
 * accumulators are exact (mod 2^32, like Int32Array), and the float flush is the reference's,
 * sum[o] += (double)dwT[g, o] * (double)acc[o] per group in order, y = (float)(scale * sum[o]).
 *
 * Work list: per (row, group) the nonzero inputs (counts mode) or the spike events (events mode,
 * one entry per event, +-1) are listed once, then packed four at a time into "quads": four column
 * indices and their four counts as int8 (entries with |count| > 127 go to a separate int32 list).
 *
 * AVX-512 VNNI path (accumulate four columns with one instruction per 16 outputs):
 *   the four columns' bytes are interleaved (vpunpck{l,h}bw, vpunpck{l,h}wd) so that each int32
 *   lane holds byte j of the four columns; one vpternlogd turns the low nibbles into offset-binary
 *   u = w + 8 in 0..15 (a shift and another vpternlogd the high nibbles), and vpdpbusd multiplies
 *   the four u (unsigned bytes) by the four counts (signed bytes) and adds into the int32 lane:
 *   64 multiply-adds per instruction, int32 accumulators that cannot overflow in practice and
 *   wrap exactly when they do. The offset is removed once per (row, group): acc -= 8 * sum(c).
 *   Lanes come out in an interleaved row order (low nibbles = even rows, unpack order within
 *   128-bit lanes); a fixed shuffle network restores row order when a (row, group) is flushed.
 *   Output rows are processed 128 at a time (64 bytes of each column); masked loads handle the
 *   last, partial block without reading past a column.
 * Other CPUs: int16 lanes of GCC generic vectors, one column at a time (sign-extended nibbles,
 * even/odd rows in separate accumulators), widened into int32 before the running bound
 * 8 * sum|count| could exceed int16 (safe widening, as spike.c).
 *
 * Scheduling. Batches (and small layers): outputs are cut into chunks of up to two 128-row units
 * (accumulators in registers) that threads claim dynamically, RB rows per (chunk, group) so a
 * group's weight block is reused from cache. One row of a layer of more than 128 KB (decoding:
 * a model's layers are read from memory one after the other, none stays cached; from 512 KB
 * down to 128 KB since the pool's workers spin between calls, which took 1.1B's 256 x 2048 k/v
 * projections from 37-42 to 30-32 µs and sdllm-small's decode from 374-412 to 485-539 tok/s)
 * is split by groups instead: a thread takes a whole group and sweeps each quad over all
 * m rows, so every column is read front to back, and the weights stream from memory in long
 * sequential runs. (Short runs at a column stride -- what splitting by outputs does -- were
 * measured 3-4x slower here: 512-byte runs 3.3 GB/s vs 19 GB/s sequential; and columns 2^k bytes
 * apart map onto a few cache sets, so nothing may rely on them staying cached.) The int32 sums of
 * every group are kept (nG x m) and flushed afterwards over output chunks, in group order.
 */
#include <stdlib.h>
#include <string.h>

#include "int_common.h"
#include "kernels.h"
#include "pool.h"
#include "simd.h"

#if defined(SIMD_AVX512) && defined(__AVX512VNNI__)
#define S4_VNNI 1
#endif

#define UNIT 128                      /* output rows per unit (64 packed bytes) */
#define SLICE_UNITS 48                /* most units per sweep of a big layer (A in L1: 24 KB; 1.1B's 5,632 rows in one) */
#define SUB_UNITS 2                   /* units per chunk (16 zmm accumulators) */
#define CHUNK (SUB_UNITS * UNIT)      /* 256 rows */
#define RB 8                          /* rows per block in batches */
#define PF_AHEAD 2                    /* quads of prefetch distance in register passes */
#define STREAM_MIN_BYTES (1L << 17)   /* one row over more packed bytes than this: split by groups */
#define SMALL_MAX 127                 /* |count| of an int8 quad entry */

typedef struct {
  const spike4_weights *w;
  int rows, nG;
  const int32_t *qofs; /* quads of (r, g): qofs[r*nG+g] .. qofs[r*nG+g+1] */
  const int32_t *qidx; /* 4 column indices per quad */
  const int32_t *qcnt; /* 4 int8 counts per quad, packed little-endian into an int32 */
  const int32_t *corr; /* per (r, g): 8 * sum of the quad counts */
  const int32_t *bofs, *bidx, *bcnt; /* large counts: int32 path */
  const double *scales;
  float *y;
  long yStride;
  int units; /* ceil(m / UNIT) */
  int cu;    /* units per chunk */
} s4_job;

#if defined(S4_VNNI)

/* _mm512_ternarylogic_epi32 immediate of (A ^ B) & C */
#define TL_XOR_AND 0x28

/*
 * a[0 .. 8) += one quad's counts cv (four int8, one per column) times 64 bytes (128 rows) of its
 * columns c0..c3, loaded under mask k: the interleave, nibble conversion and vpdpbusd of the
 * header comment.
 */
static ALWAYS_INLINE void quad_unit(const uint8_t *c0, const uint8_t *c1, const uint8_t *c2, const uint8_t *c3,
                                    __mmask64 k, __m512i cv, __m512i *a) {
  const __m512i k08 = _mm512_set1_epi8(0x08), k0f = _mm512_set1_epi8(0x0f);
  const __m512i B0 = _mm512_maskz_loadu_epi8(k, c0), B1 = _mm512_maskz_loadu_epi8(k, c1);
  const __m512i B2 = _mm512_maskz_loadu_epi8(k, c2), B3 = _mm512_maskz_loadu_epi8(k, c3);
  const __m512i t0 = _mm512_unpacklo_epi8(B0, B1), t1 = _mm512_unpackhi_epi8(B0, B1);
  const __m512i t2 = _mm512_unpacklo_epi8(B2, B3), t3 = _mm512_unpackhi_epi8(B2, B3);
  __m512i qv[4];
  qv[0] = _mm512_unpacklo_epi16(t0, t2);
  qv[1] = _mm512_unpackhi_epi16(t0, t2);
  qv[2] = _mm512_unpacklo_epi16(t1, t3);
  qv[3] = _mm512_unpackhi_epi16(t1, t3);
  for (int s = 0; s < 4; s++) {
    const __m512i lo = _mm512_ternarylogic_epi32(qv[s], k08, k0f, TL_XOR_AND);
    const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi32(qv[s], 4), k08, k0f, TL_XOR_AND);
    a[s] = _mm512_dpbusd_epi32(a[s], lo, cv);
    a[4 + s] = _mm512_dpbusd_epi32(a[4 + s], hi, cv);
  }
}

/*
 * a[NB*8] += the quads [0, nq) on NB units starting at byte offset 0 of base + col * cb, the
 * accumulators in registers. The last unit is loaded under `lastmask` (bytes of a partial unit).
 * Prefetches the columns PF_AHEAD quads ahead.
 */
static ALWAYS_INLINE void quads_nb(const int NB, const uint8_t *base, long cb, const int32_t *qidx,
                                   const int32_t *qcnt, int nq, __m512i *a, __mmask64 lastmask) {
  for (int q = 0; q < nq; q++) {
    const uint8_t *c0 = base + (long)qidx[4 * q] * cb, *c1 = base + (long)qidx[4 * q + 1] * cb;
    const uint8_t *c2 = base + (long)qidx[4 * q + 2] * cb, *c3 = base + (long)qidx[4 * q + 3] * cb;
    if (q + PF_AHEAD < nq) {
      const int32_t *pi = qidx + 4 * (q + PF_AHEAD);
      for (int t = 0; t < 4; t++)
        for (int b = 0; b < NB; b++) _mm_prefetch((const char *)(base + (long)pi[t] * cb + 64 * b), _MM_HINT_T0);
    }
    const __m512i cv = _mm512_set1_epi32(qcnt[q]);
    for (int b = 0; b < NB; b++)
      quad_unit(c0 + 64 * b, c1 + 64 * b, c2 + 64 * b, c3 + 64 * b, b == NB - 1 ? lastmask : ~(__mmask64)0, cv,
                a + 8 * b);
  }
}

static void quads_1_reg(const uint8_t *base, long cb, const int32_t *qidx, const int32_t *qcnt, int nq, __m512i *a,
                        __mmask64 lastmask) {
  quads_nb(1, base, cb, qidx, qcnt, nq, a, lastmask);
}
static void quads_2_reg(const uint8_t *base, long cb, const int32_t *qidx, const int32_t *qcnt, int nq, __m512i *a,
                        __mmask64 lastmask) {
  quads_nb(2, base, cb, qidx, qcnt, nq, a, lastmask);
}

/*
 * One quad over nu units (one row of a big layer): each of its four columns is read front to
 * back (nu * 64 bytes), the accumulators A[8 * nu] stay in cache. The quads' columns come in four
 * lanes of consecutive columns (b_close), so the four columns of the quad D ahead (about 12 KB)
 * continue the four streams; one line of each is prefetched per unit. The prefetches go into L2,
 * not L1: L1's few miss buffers capped one core at about 7 GB/s, while L2 keeps enough lines in
 * flight (bench/native/harness.c, 2 threads, d = 1: 1.1B 5632 x 2048 12.4 -> 22.8 GB/s, 7B
 * 4096 x 4096 14.0 -> 23.1 GB/s, with SLICE_UNITS 32 -> 48 for the first).
 */
static void quad_sweep(const uint8_t *base, long cb, const int32_t *qi, int32_t qc, const int32_t *next, int nu,
                       __m512i *A, __mmask64 lastmask) {
  const uint8_t *c0 = base + (long)qi[0] * cb, *c1 = base + (long)qi[1] * cb;
  const uint8_t *c2 = base + (long)qi[2] * cb, *c3 = base + (long)qi[3] * cb;
  const __m512i cv = _mm512_set1_epi32(qc);
  for (int u = 0; u < nu; u++) {
    if (next)
      for (int t = 0; t < 4; t++) _mm_prefetch((const char *)(base + (long)next[t] * cb + 64 * u), _MM_HINT_T1);
    quad_unit(c0 + 64 * u, c1 + 64 * u, c2 + 64 * u, c3 + 64 * u, u == nu - 1 ? lastmask : ~(__mmask64)0, cv,
              A + 8 * u);
  }
}

/*
 * The 8 accumulators of one unit in row order, minus the offset correction, into out[0 .. 128).
 * Lane (l, k) of accumulator s (s < 4) holds row 2j, of accumulator 4 + s row 2j + 1, with
 * j = 16l + 4s + k. unpack{lo,hi}_epi32 of (s, 4 + s) gives u_v (v = 0..7) whose 128-bit lane l
 * holds rows 32l + 4v .. 32l + 4v + 3; a 4 x 4 transpose of 128-bit lanes of u0..u3 (u4..u7)
 * gives the even (odd) 16-row output vectors.
 */
static ALWAYS_INLINE void unit_rows(const __m512i *a, int32_t corr, int32_t *out) {
  __m512i u[8];
  for (int s = 0; s < 4; s++) {
    u[2 * s] = _mm512_unpacklo_epi32(a[s], a[4 + s]);
    u[2 * s + 1] = _mm512_unpackhi_epi32(a[s], a[4 + s]);
  }
  const __m512i cc = _mm512_set1_epi32(corr);
  for (int h = 0; h < 2; h++) {
    const __m512i *v = u + 4 * h;
    const __m512i x0 = _mm512_shuffle_i32x4(v[0], v[1], 0x44), x1 = _mm512_shuffle_i32x4(v[0], v[1], 0xee);
    const __m512i y0 = _mm512_shuffle_i32x4(v[2], v[3], 0x44), y1 = _mm512_shuffle_i32x4(v[2], v[3], 0xee);
    _mm512_storeu_si512(out + 16 * (0 + h), _mm512_sub_epi32(_mm512_shuffle_i32x4(x0, y0, 0x88), cc));
    _mm512_storeu_si512(out + 16 * (2 + h), _mm512_sub_epi32(_mm512_shuffle_i32x4(x0, y0, 0xdd), cc));
    _mm512_storeu_si512(out + 16 * (4 + h), _mm512_sub_epi32(_mm512_shuffle_i32x4(x1, y1, 0x88), cc));
    _mm512_storeu_si512(out + 16 * (6 + h), _mm512_sub_epi32(_mm512_shuffle_i32x4(x1, y1, 0xdd), cc));
  }
}

/* The load mask of the last of nu units over rows [0, len): its packed bytes (1 .. 64). */
static ALWAYS_INLINE __mmask64 last_unit_mask(int len, int nu) {
  const int lastBytes = ((len - (nu - 1) * UNIT) + 1) >> 1;
  return lastBytes >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << lastBytes) - 1);
}

/* out[0 .. len) = the accumulators A[8 * nu] of rows [0, len) in row order, minus corr. */
static ALWAYS_INLINE void units_out(const __m512i *A, int nu, int len, int32_t corr, int32_t *out) {
  int32_t tmp[UNIT] __attribute__((aligned(64)));
  for (int u = 0; u < nu; u++) {
    const int rows = len - u * UNIT < UNIT ? len - u * UNIT : UNIT;
    if (rows == UNIT) unit_rows(A + 8 * u, corr, out + u * UNIT);
    else {
      unit_rows(A + 8 * u, corr, tmp);
      memcpy(out + u * UNIT, tmp, sizeof(int32_t) * rows);
    }
  }
}

/* out[0 .. len) = exact int32 sums of the (row, group)'s quads over the chunk's rows (nu units). */
static void group_acc4(const uint8_t *base, long cb, int nu, int len, const int32_t *qidx, const int32_t *qcnt, int nq,
                       int32_t corr, int32_t *out) {
  const __mmask64 lastmask = last_unit_mask(len, nu);
  __m512i a[8 * SUB_UNITS];
  for (int v = 0; v < 8 * nu; v++) a[v] = _mm512_setzero_si512();
  if (nu == 2) quads_2_reg(base, cb, qidx, qcnt, nq, a, lastmask);
  else quads_1_reg(base, cb, qidx, qcnt, nq, a, lastmask);
  units_out(a, nu, len, corr, out);
}

/* One slice of rows [0, len) (base points at its first byte in column 0): all quads, into out. */
static void group_slice(const uint8_t *base, long cb, int len, const int32_t *qidx, const int32_t *qcnt, int nq,
                        int32_t corr, __m512i *A, int32_t *out) {
  const int nu = (len + UNIT - 1) / UNIT;
  const __mmask64 lastmask = last_unit_mask(len, nu);
  for (int v = 0; v < 8 * nu; v++) A[v] = _mm512_setzero_si512();
  /* prefetch distance: D quads, about SWEEP_PF_BYTES ahead (short columns need several quads of lead) */
  const long sb = (long)nu * 64; /* bytes of each column in this slice */
  int D = (int)((SWEEP_PF_BYTES + 4 * sb - 1) / (4 * sb));
  if (D > 64) D = 64;
  for (int q = 0; q < D && q < nq; q++)
    for (int t = 0; t < 4; t++)
      for (int u = 0; u < nu; u++) _mm_prefetch((const char *)(base + (long)qidx[4 * q + t] * cb + 64 * u), _MM_HINT_T1);
  for (int q = 0; q < nq; q++) quad_sweep(base, cb, qidx + 4 * q, qcnt[q], q + D < nq ? qidx + 4 * (q + D) : NULL, nu, A, lastmask);
  units_out(A, nu, len, corr, out);
}

/*
 * Exact int32 sums of a group's quads over all m rows (one row of a big layer), into out[0 .. m):
 * in slices of at most SLICE_UNITS units, so that the accumulators (8 vectors per unit) stay in L1.
 */
static void group_full(const uint8_t *base, long cb, int m, const int32_t *qidx, const int32_t *qcnt, int nq,
                       int32_t corr, __m512i *A, int32_t *out) {
  const int nu = (m + UNIT - 1) / UNIT;
  const int ns = (nu + SLICE_UNITS - 1) / SLICE_UNITS;
  const int per = (nu + ns - 1) / ns; /* equal slices */
  for (int u0 = 0; u0 < nu; u0 += per) {
    const int o0 = u0 * UNIT, len = (u0 + per) * UNIT < m ? per * UNIT : m - o0;
    group_slice(base + o0 / 2, cb, len, qidx, qcnt, nq, corr, A, out + o0);
  }
}
#define SCRATCH_BYTES(m) ((size_t)SLICE_UNITS * 8 * 64)

#else /* generic: int16 lanes */

#define VB (SIMD_BYTES / 2) /* packed bytes per step: VB int16 lanes of even rows, VB of odd rows */
#define I16_BUDGET4 4095    /* 8 * sum|count| <= 32760 */
typedef int16_t v16 __attribute__((vector_size(SIMD_BYTES)));
typedef int8_t v8 __attribute__((vector_size(SIMD_BYTES / 2)));

static void spill16(const int16_t *ae, const int16_t *ao, int len, int32_t *out, int add) {
  for (int o = 0; o < len; o++) {
    const int v = (o & 1) ? ao[o >> 1] : ae[o >> 1];
    out[o] = add ? out[o] + v : v;
  }
}

static void group_acc4(const uint8_t *base, long cb, int nu, int len, const int32_t *qidx, const int32_t *qcnt, int nq,
                       int32_t corr, int32_t *out) {
  (void)nu;
  (void)corr; /* the generic path multiplies signed nibbles: no offset to remove */
  const int nbytes = (len + 1) >> 1, nv = nbytes / VB;
  int16_t ae[CHUNK / 2 + VB] __attribute__((aligned(64))), ao[CHUNK / 2 + VB] __attribute__((aligned(64)));
  memset(ae, 0, sizeof(int16_t) * nbytes);
  memset(ao, 0, sizeof(int16_t) * nbytes);
  int budget = 0, spilled = 0;
  for (int e = 0; e < 4 * nq; e++) {
    const int c = (int8_t)(qcnt[e >> 2] >> (8 * (e & 3)));
    if (c == 0) continue;
    const int ac = c < 0 ? -c : c;
    if (budget + ac > I16_BUDGET4) {
      spill16(ae, ao, len, out, spilled);
      memset(ae, 0, sizeof(int16_t) * nbytes);
      memset(ao, 0, sizeof(int16_t) * nbytes);
      spilled = 1;
      budget = 0;
    }
    budget += ac;
    const uint8_t *col = base + (long)qidx[e] * cb;
    const int16_t cs = (int16_t)c;
    for (int v = 0; v < nv; v++) {
      v8 b;
      memcpy(&b, col + v * VB, sizeof b);
      const v16 x = __builtin_convertvector(b, v16); /* sign-extended byte */
      v16 e16, o16;
      memcpy(&e16, ae + v * VB, sizeof e16);
      memcpy(&o16, ao + v * VB, sizeof o16);
      e16 += ((x << 12) >> 12) * cs;
      o16 += (x >> 4) * cs;
      memcpy(ae + v * VB, &e16, sizeof e16);
      memcpy(ao + v * VB, &o16, sizeof o16);
    }
    for (int j = nv * VB; j < nbytes; j++) {
      const int x = (int8_t)col[j];
      ae[j] += (int16_t)(((x << 28) >> 28) * c);
      ao[j] += (int16_t)((x >> 4) * c);
    }
  }
  spill16(ae, ao, len, out, spilled);
}
#endif

/* Exact int32 sums of a group's quads over all m rows, in chunks of register-sized accumulators. */
static void group_chunks(const uint8_t *base, long cb, int m, const int32_t *qidx, const int32_t *qcnt, int nq,
                         int32_t corr, int32_t *out) {
  for (int o0 = 0; o0 < m; o0 += CHUNK) {
    const int len = m - o0 < CHUNK ? m - o0 : CHUNK;
    group_acc4(base + o0 / 2, cb, (len + UNIT - 1) / UNIT, len, qidx, qcnt, nq, corr, out + o0);
  }
}

#if !defined(S4_VNNI)
/* Without VNNI the chunks serve big layers too: no scratch. */
static void group_full(const uint8_t *base, long cb, int m, const int32_t *qidx, const int32_t *qcnt, int nq,
                       int32_t corr, void *scratch, int32_t *out) {
  (void)scratch;
  group_chunks(base, cb, m, qidx, qcnt, nq, corr, out);
}
#define SCRATCH_BYTES(m) ((size_t)64)
#endif

/* Large counts: out[o] += c * W[o, i] in int32, row by row. */
static void big_acc(const uint8_t *base, long cb, int len, const int32_t *bidx, const int32_t *bcnt, int nb, int32_t *out) {
  for (int k = 0; k < nb; k++) {
    const uint8_t *col = base + (long)bidx[k] * cb;
    const int32_t c = bcnt[k];
    for (int o = 0; o < len; o++) out[o] += c * nib(col, o);
  }
}

/* Output units [u0, u1) of every row. */
static void do_chunk4(const s4_job *J, int u0, int u1) {
  const spike4_weights *w = J->w;
  const long m = w->m, cb = (m + 1) / 2;
  const int nG = J->nG, nu = u1 - u0, o0 = u0 * UNIT;
  const int len = (u1 * UNIT < m ? u1 * UNIT : (int)m) - o0;
  double sums[RB * CHUNK] __attribute__((aligned(64))); /* [rb][len] */
  int32_t acc[CHUNK] __attribute__((aligned(64)));
  const uint8_t *base = w->packed + o0 / 2;
  const int rbmax = RB;
  for (int r0 = 0; r0 < J->rows; r0 += rbmax) {
    const int rb = J->rows - r0 < rbmax ? J->rows - r0 : rbmax;
    memset(sums, 0, sizeof(double) * len * rb);
    for (int g = 0; g < nG; g++) {
      const float *dw = w->dwT + (long)g * m + o0;
      for (int r = 0; r < rb; r++) {
        const long rg = (long)(r0 + r) * nG + g;
        const int q0 = J->qofs[rg], q1 = J->qofs[rg + 1];
        const int b0 = J->bofs[rg], b1 = J->bofs[rg + 1];
        if (q0 == q1 && b0 == b1) continue; /* silent group: contributes +-0, see spike.c */
        if (q0 < q1) group_acc4(base, cb, nu, len, J->qidx + 4 * (long)q0, J->qcnt + q0, q1 - q0, J->corr[rg], acc);
        else memset(acc, 0, sizeof(int32_t) * len);
        if (b0 < b1) big_acc(base, cb, len, J->bidx + b0, J->bcnt + b0, b1 - b0, acc);
        flush(sums + (long)r * len, dw, acc, len);
      }
    }
    store_rows(sums, rb, len, J->scales + r0, J->y + (long)r0 * J->yStride + o0, J->yStride);
  }
}

static void s4_chunk(void *vctx, int k) {
  const s4_job *J = (const s4_job *)vctx;
  const int u0 = k * J->cu;
  const int u1 = u0 + J->cu < J->units ? u0 + J->cu : J->units;
  do_chunk4(J, u0, u1);
}

#define PARALLEL_MIN_WORK 100000L

/*
 * The work lists: per (row, group), quads of four column indices with their four counts as int8
 * (padded with count-0 copies of the group's first column), the offset correction 8 * sum(c),
 * and the entries whose |count| exceeds 127 (int32 path). Built in one pass over the counts (or
 * the trains) into a buffer reused across calls (per calling thread).
 *
 * A group's entries (in index order) are dealt into the quads in four contiguous runs: quad k
 * takes entries k, k + nq, k + 2 nq, k + 3 nq. So each of the four columns a quad reads follows
 * the column its predecessor read in that slot, and a big layer's sweep reads four long
 * sequential streams rather than four short runs per quad, which the hardware prefetchers
 * follow (bench/native/harness.c). The integer sums do not depend on the order.
 */
typedef struct {
  int32_t *qofs, *qidx, *qcnt, *corr, *bofs, *bidx, *bcnt;
  int32_t *gidx; /* the open group's entries: column indices */
  int8_t *gcnt;  /* and counts */
} s4_lists;

typedef struct {
  s4_lists L;
  long q, b;     /* quads / large entries so far */
  int ne;        /* entries of the open group */
  int32_t corr;
} s4_builder;

static _Thread_local int32_t *tl_lists;
static _Thread_local size_t tl_lists_cap;

/* Room for rows*nG groups, at most `entries` entries, at most `gmax` in one group. */
static int lists_alloc(long ngr, long entries, long gmax, s4_lists *L) {
  const size_t words =
      (size_t)(ngr + 1) * 3 + (size_t)(entries / 4 + ngr + 1) * 5 + (size_t)entries * 2 + (size_t)(gmax + 16) * 2 + 8;
  if (words > tl_lists_cap) {
    free(tl_lists);
    tl_lists = (int32_t *)malloc(sizeof(int32_t) * words);
    tl_lists_cap = tl_lists ? words : 0;
    if (!tl_lists) return -1;
  }
  const long maxq = entries / 4 + ngr + 1;
  L->qofs = tl_lists;
  L->bofs = L->qofs + ngr + 1;
  L->corr = L->bofs + ngr + 1;
  L->qidx = L->corr + ngr + 1;
  L->qcnt = L->qidx + 4 * maxq;
  L->bidx = L->qcnt + maxq;
  L->bcnt = L->bidx + entries;
  L->gidx = L->bcnt + entries;
  L->gcnt = (int8_t *)(L->gidx + gmax + 16); /* 16 spare: b_add16 stores whole vectors */
  return 0;
}

/* Big batches' lists are not kept between calls. */
static void lists_release(void) {
  if (tl_lists_cap > ((size_t)1 << 22)) {
    free(tl_lists);
    tl_lists = NULL;
    tl_lists_cap = 0;
  }
}

static ALWAYS_INLINE void b_open(s4_builder *B, long rg) {
  B->L.qofs[rg] = (int32_t)B->q;
  B->L.bofs[rg] = (int32_t)B->b;
  B->ne = 0;
  B->corr = 0;
}

static ALWAYS_INLINE void b_add(s4_builder *B, int32_t i, int32_t c) {
  if (c < -SMALL_MAX || c > SMALL_MAX) {
    B->L.bidx[B->b] = i;
    B->L.bcnt[B->b] = c;
    B->b++;
    return;
  }
  B->L.gidx[B->ne] = i;
  B->L.gcnt[B->ne++] = (int8_t)c;
  B->corr += 8 * c;
}

#if defined(SIMD_AVX512)
/*
 * b_add of c[i0 .. i0 + 16) in one step, the same lists in the same order: the nonzero small
 * counts compressed in registers (a compress straight to memory is slow on Zen 4) and stored
 * whole, the rare large ones one by one. A decode step's inputs are 80-90 % nonzero in no
 * pattern, so the scalar loop's branch mispredicted often; on sdllm-small's 256 x 512 layers
 * building the lists was half of a call. Returns the nonzero entries.
 */
static ALWAYS_INLINE int b_add16(s4_builder *B, const int32_t *c, int32_t i0) {
  const __m512i v = _mm512_loadu_si512((const void *)c);
  const __mmask16 nz = _mm512_test_epi32_mask(v, v);
  if (!nz) return 0;
  __mmask16 big = _mm512_mask_cmpgt_epi32_mask(nz, _mm512_abs_epi32(v), _mm512_set1_epi32(SMALL_MAX));
  const __mmask16 small = nz & (__mmask16)~big;
  const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(i0), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  _mm512_storeu_si512((void *)(B->L.gidx + B->ne), _mm512_maskz_compress_epi32(small, idx));
  _mm_storeu_si128((__m128i *)(B->L.gcnt + B->ne), _mm512_cvtepi32_epi8(_mm512_maskz_compress_epi32(small, v)));
  B->ne += __builtin_popcount(small);
  B->corr += 8 * _mm512_mask_reduce_add_epi32(small, v);
  while (big) {
    const int t = __builtin_ctz(big);
    big &= (__mmask16)(big - 1);
    B->L.bidx[B->b] = i0 + t;
    B->L.bcnt[B->b++] = c[t];
  }
  return __builtin_popcount(nz);
}
#endif

static ALWAYS_INLINE void b_close(s4_builder *B, long rg) {
  const int ne = B->ne, nq = (ne + 3) / 4;
  const int32_t *gi = B->L.gidx;
  const int8_t *gc = B->L.gcnt;
  for (int k = 0; k < nq; k++) {
    uint32_t pk = 0;
    int32_t *qi = B->L.qidx + 4 * (B->q + k);
    for (int t = 0; t < 4; t++) {
      const int j = k + t * nq;
      qi[t] = j < ne ? gi[j] : gi[0];
      pk |= (uint32_t)(uint8_t)(j < ne ? gc[j] : 0) << (8 * t);
    }
    B->L.qcnt[B->q + k] = (int32_t)pk;
  }
  B->q += nq;
  B->L.corr[rg] = B->corr;
}

static ALWAYS_INLINE void b_end(s4_builder *B, long ngr) {
  B->L.qofs[ngr] = (int32_t)B->q;
  B->L.bofs[ngr] = (int32_t)B->b;
}

/*
 * One row of a big layer, split by groups: threads claim whole groups and accumulate each over
 * all m rows (quad_sweep: every column read front to back, so the weights stream from memory in
 * long sequential runs, which is several times faster than many short runs at a column stride),
 * into accG[g, 0 .. m) as exact int32; then the float flush runs over output chunks, in group
 * order per output as everywhere else.
 */
typedef struct {
  const spike4_weights *w;
  int nG;
  const s4_lists *L;
  int32_t *accG;
  double scale;
  float *y;
  int fchunk;
} s4_split;

static ALWAYS_INLINE int silent(const s4_lists *L, long rg) {
  return L->qofs[rg] == L->qofs[rg + 1] && L->bofs[rg] == L->bofs[rg + 1];
}

static void split_group(void *ctx, int g) {
  const s4_split *S = (const s4_split *)ctx;
  const s4_lists *L = S->L;
  if (silent(L, g)) return;
  const spike4_weights *w = S->w;
  const long cb = (w->m + 1) / 2;
  int32_t *out = S->accG + (long)g * w->m;
  const int q0 = L->qofs[g], q1 = L->qofs[g + 1], b0 = L->bofs[g], b1 = L->bofs[g + 1];
  if (q0 < q1) {
    void *A = pool_scratch(SCRATCH_BYTES(w->m));
    if (!A) /* out of memory in a worker: fall back to register-sized chunks (no scratch) */
      group_chunks(w->packed, cb, w->m, L->qidx + 4 * (long)q0, L->qcnt + q0, q1 - q0, L->corr[g], out);
    else
      group_full(w->packed, cb, w->m, L->qidx + 4 * (long)q0, L->qcnt + q0, q1 - q0, L->corr[g], A, out);
  } else
    memset(out, 0, sizeof(int32_t) * w->m);
  if (b0 < b1) big_acc(w->packed, cb, w->m, L->bidx + b0, L->bcnt + b0, b1 - b0, out);
}

static void split_flush(void *ctx, int k) {
  const s4_split *S = (const s4_split *)ctx;
  const spike4_weights *w = S->w;
  const long m = w->m;
  const int o0 = k * S->fchunk, len = o0 + S->fchunk < m ? S->fchunk : (int)m - o0;
  double sums[CHUNK] __attribute__((aligned(64)));
  for (int o = 0; o < len; o++) sums[o] = 0;
  for (int g = 0; g < S->nG; g++) {
    if (silent(S->L, g)) continue;
    flush(sums, w->dwT + (long)g * m + o0, S->accG + (long)g * m + o0, len);
  }
  store_rows(sums, 1, len, &S->scale, S->y + o0, 0);
}

static int run4(const spike4_weights *w, int rows, int nG, const s4_lists *Lp, long nnz, const double *scales, float *y,
                long yStride) {
  const s4_lists L = *Lp;
  const int nt = pool_get_threads();
  const int units = (w->m + UNIT - 1) / UNIT;
  const long cb = (w->m + 1) / 2;
  const long work = nnz * cb + (long)rows * nG * (long)w->m / 2;
  if (rows == 1 && cb * (long)w->n > STREAM_MIN_BYTES && w->m > 0) {
    int32_t *accG = (int32_t *)malloc(sizeof(int32_t) * (size_t)nG * w->m);
    if (accG) {
      s4_split S = {w, nG, &L, accG, scales[0], y, CHUNK};
      pool_run_phases(split_group, nG, split_flush, (w->m + CHUNK - 1) / CHUNK, &S, nt);
      free(accG);
      return 0;
    }
  }
  /* batches (and small layers): chunks of two units (the quads' index work is shared by 256 rows);
     RB rows share a chunk's weights from cache */
  const int cu = SUB_UNITS;
  s4_job J = {w, rows, nG, L.qofs, L.qidx, L.qcnt, L.corr, L.bofs, L.bidx, L.bcnt, scales, y, yStride, units, cu};
  if (units > 0) pool_run(s4_chunk, &J, (units + cu - 1) / cu, work < PARALLEL_MIN_WORK ? 1 : nt);
  return 0;
}

static int counts_rows4(const void *wv, const int32_t *c, long cStride, int rows, const double *scales, float *y,
                        long yStride) {
  const spike4_weights *w = (const spike4_weights *)wv;
  const int n = w->n, G = w->G;
  const int nG = (n + G - 1) / G;
  const long ngr = (long)rows * nG;
  s4_builder B;
  if (lists_alloc(ngr, (long)rows * n, G, &B.L) != 0) return -1;
  B.q = B.b = 0;
  long nnz = 0;
  for (int r = 0; r < rows; r++) {
    const int32_t *cr = c + (long)r * cStride;
    for (int g = 0; g < nG; g++) {
      const long rg = (long)r * nG + g;
      b_open(&B, rg);
      const int end = (g + 1) * G < n ? (g + 1) * G : n;
      int i = g * G;
#if defined(SIMD_AVX512)
      for (; i + 16 <= end; i += 16) nnz += b_add16(&B, cr + i, i);
#endif
      for (; i < end; i++)
        if (cr[i] != 0) {
          b_add(&B, i, cr[i]);
          nnz++;
        }
      b_close(&B, rg);
    }
  }
  b_end(&B, ngr);
  const int rc = run4(w, rows, nG, &B.L, nnz, scales, y, yStride);
  lists_release();
  return rc;
}

int k_spike_counts_rows4(const spike4_weights *w, const int32_t *c, int rows, const double *scales, float *y) {
  return by_row_slices(counts_rows4, w, c, w->n, rows, scales, y, w->m);
}

int k_spike_events4(const spike4_weights *w, const int8_t *trains, int T, double scale, float *y) {
  const int n = w->n, G = w->G;
  const int nG = (n + G - 1) / G;
  const long nev = count_events(trains, (long)T * n);
  if (nev > 0x1fffffffL) return -1; /* quad offsets are int32 */
  s4_builder B;
  if (lists_alloc(nG, nev, nev < (long)T * G ? nev : (long)T * G, &B.L) != 0) return -1;
  B.q = B.b = 0;
  /* Event order of the reference: per group, time-major, then input index. */
  for (int g = 0; g < nG; g++) {
    b_open(&B, g);
    const int end = (g + 1) * G < n ? (g + 1) * G : n;
    for (int t = 0; t < T; t++) {
      const int8_t *row = trains + (long)t * n;
      for (int i = g * G; i < end; i++)
        if (row[i] != 0) b_add(&B, i, row[i] > 0 ? 1 : -1);
    }
    b_close(&B, g);
  }
  b_end(&B, nG);
  const int rc = run4(w, 1, nG, &B.L, nev, &scale, y, w->m);
  lists_release();
  return rc;
}
