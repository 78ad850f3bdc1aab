/*
 * Dense float matmul y[r, o] = sum_i x[r, i] * w[o, i] (w row-major [outF, inF]).
 *
 * Not bit-identical to the ts reference (which sums in float64): sums are kept in float32 SIMD
 * lanes (explicit FMA where the CPU has it) and reduced at the end, so results agree with ts
 * within a few float32 ulps of sum_i |x_i w_oi| (the conformance suite checks 1e-5 relative).
 *
 * Blocking: a micro-kernel computes an MR x NR tile (rows x outputs) with MR*NR vector
 * accumulators over a KC-long slice of the inputs, so every weight vector loaded feeds MR rows
 * and every x vector NR outputs. Loops: k slices (KC) > row blocks (RBLK, whose x slice stays in
 * L2) > output tiles (whose KC x NR weights stay in L1) > row tiles. Decode (rows = 1) uses a
 * 1 x 8 GEMV tile, 1 < rows < MR one rows x 4 tile per 4 outputs. Threads claim chunks of outputs (pool.h).
 */
#include "kernels.h"
#include "pool.h"
#include "simd.h"

#if defined(SIMD_AVX512)
typedef __m512 vf;
#define FVL 16
#define MR 4
static ALWAYS_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
static ALWAYS_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static ALWAYS_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static ALWAYS_INLINE float vf_sum(vf a) { return _mm512_reduce_add_ps(a); }
/* [sum a, sum b, sum c, sum d] */
static ALWAYS_INLINE void vf_sum4(vf a, vf b, vf c, vf d, float *out) {
  __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  __m512 t2 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
  __m256 t3 = _mm256_add_ps(_mm512_castps512_ps256(t2), _mm512_extractf32x8_ps(t2, 1));
  __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t3), _mm256_extractf128_ps(t3, 1));
  _mm_storeu_ps(out, t4);
}
#elif defined(SIMD_AVX2)
typedef __m256 vf;
#define FVL 8
#define MR 3
static ALWAYS_INLINE vf vf_zero(void) { return _mm256_setzero_ps(); }
static ALWAYS_INLINE vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
#if defined(SIMD_FMA)
static ALWAYS_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
#else
static ALWAYS_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
#endif
static ALWAYS_INLINE void vf_sum4(vf a, vf b, vf c, vf d, float *out) {
  __m256 t0 = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
  __m256 t1 = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
  __m256 t2 = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t1))),
                            _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t1))));
  __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t2), _mm256_extractf128_ps(t2, 1));
  _mm_storeu_ps(out, t4);
}
static ALWAYS_INLINE float vf_sum(vf a) {
  float o[4];
  vf z = vf_zero();
  vf_sum4(a, z, z, z, o);
  return o[0];
}
#else
typedef float vf __attribute__((vector_size(16)));
#define FVL 4
#define MR 2
static ALWAYS_INLINE vf vf_zero(void) { return (vf){0, 0, 0, 0}; }
static ALWAYS_INLINE vf vf_load(const float *p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static ALWAYS_INLINE vf vf_fma(vf a, vf b, vf c) { return a * b + c; }
static ALWAYS_INLINE float vf_sum(vf a) { return (a[0] + a[2]) + (a[1] + a[3]); }
static ALWAYS_INLINE void vf_sum4(vf a, vf b, vf c, vf d, float *out) {
  out[0] = vf_sum(a);
  out[1] = vf_sum(b);
  out[2] = vf_sum(c);
  out[3] = vf_sum(d);
}
#endif

#define NRMAX 8
#define KC 512
#define RBLK 64

/*
 * The R x O tile at x (rows, stride ldx), w (outputs, stride ldw) over inputs [k0, k1),
 * written (acc == 0) or added (acc == 1) into y (stride ldy). R, O are literal constants at
 * every call site, so after inlining the accumulators are registers.
 */
static ALWAYS_INLINE void micro(const int R, const int O, const float *x, long ldx, const float *w, long ldw,
                                int k0, int k1, float *y, long ldy, int acc_into) {
  vf a[MR > 2 ? MR : 2][NRMAX];
  for (int r = 0; r < R; r++)
    for (int o = 0; o < O; o++) a[r][o] = vf_zero();
  const int kv = k0 + (k1 - k0) / FVL * FVL;
  for (int k = k0; k < kv; k += FVL) {
    vf xv[MR > 2 ? MR : 2];
    for (int r = 0; r < R; r++) xv[r] = vf_load(x + r * ldx + k);
    for (int o = 0; o < O; o++) {
      const vf wv = vf_load(w + o * ldw + k);
      for (int r = 0; r < R; r++) a[r][o] = vf_fma(xv[r], wv, a[r][o]);
    }
  }
  for (int r = 0; r < R; r++) {
    float out[NRMAX];
    int o = 0;
    for (; o + 4 <= O; o += 4) vf_sum4(a[r][o], a[r][o + 1], a[r][o + 2], a[r][o + 3], out + o);
    for (; o < O; o++) out[o] = vf_sum(a[r][o]);
    for (int k = kv; k < k1; k++) {
      const float xk = x[r * ldx + k];
      for (int oo = 0; oo < O; oo++) out[oo] += xk * w[oo * ldw + k];
    }
    float *yr = y + r * ldy;
    if (acc_into)
      for (int oo = 0; oo < O; oo++) yr[oo] += out[oo];
    else
      for (int oo = 0; oo < O; oo++) yr[oo] = out[oo];
  }
}

#define TILE_ARGS x, ldx, w, ldw, k0, k1, y, ldy, acc_into
typedef void (*tile_fn)(const float *, long, const float *, long, int, int, float *, long, int);

#define DEF_TILE(R, O)                                                                               \
  static void tile_##R##_##O(const float *x, long ldx, const float *w, long ldw, int k0, int k1, float *y, \
                             long ldy, int acc_into) {                                               \
    micro(R, O, TILE_ARGS);                                                                          \
  }
DEF_TILE(1, 1)
DEF_TILE(1, 2)
DEF_TILE(1, 3)
DEF_TILE(1, 4)
DEF_TILE(1, 8)
DEF_TILE(2, 1)
DEF_TILE(2, 2)
DEF_TILE(2, 3)
DEF_TILE(2, 4)
#if MR >= 3
DEF_TILE(3, 1)
DEF_TILE(3, 2)
DEF_TILE(3, 3)
DEF_TILE(3, 4)
#endif
#if MR >= 4
DEF_TILE(4, 1)
DEF_TILE(4, 2)
DEF_TILE(4, 3)
DEF_TILE(4, 4)
#endif

/* TILES[R][O] for O in 1..4 */
static const tile_fn TILES[5][5] = {
    {0},
    {0, tile_1_1, tile_1_2, tile_1_3, tile_1_4},
    {0, tile_2_1, tile_2_2, tile_2_3, tile_2_4},
#if MR >= 3
    {0, tile_3_1, tile_3_2, tile_3_3, tile_3_4},
#else
    {0},
#endif
#if MR >= 4
    {0, tile_4_1, tile_4_2, tile_4_3, tile_4_4},
#else
    {0},
#endif
};

typedef struct {
  const float *x, *w;
  float *y;
  int rows, inF, outF;
  int chunk; /* outputs per chunk (a multiple of 8) */
} mm_job;

static void mm_range(const mm_job *J, int oa, int ob) {
  const long inF = J->inF, outF = J->outF;
  if (J->rows == 1) {
    /* GEMV: 8 outputs per pass over x, no k slicing */
    int o = oa;
    for (; o + 8 <= ob; o += 8) tile_1_8(J->x, inF, J->w + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    for (; o < ob; o += 4) {
      const int O = ob - o < 4 ? ob - o : 4;
      TILES[1][O](J->x, inF, J->w + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    }
    return;
  }
  if (J->rows < MR) {
    /* a few rows: one R x 4 tile per 4 outputs over the whole k range (each weight read once) */
    for (int o = oa; o < ob; o += 4) {
      const int O = ob - o < 4 ? ob - o : 4;
      TILES[J->rows][O](J->x, inF, J->w + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    }
    return;
  }
  for (int k0 = 0; k0 < inF; k0 += KC) {
    const int k1 = k0 + KC < inF ? k0 + KC : (int)inF;
    for (int r0 = 0; r0 < J->rows; r0 += RBLK) {
      const int r1 = r0 + RBLK < J->rows ? r0 + RBLK : J->rows;
      for (int o = oa; o < ob; o += 4) {
        const int O = ob - o < 4 ? ob - o : 4;
        const float *w = J->w + o * inF;
        for (int r = r0; r < r1; r += MR) {
          const int R = r1 - r < MR ? r1 - r : MR;
          TILES[R][O](J->x + r * inF, inF, w, inF, k0, k1, J->y + r * outF + o, outF, k0 > 0);
        }
      }
    }
  }
}

static void mm_chunk(void *ctx, int k) {
  const mm_job *J = (const mm_job *)ctx;
  const int oa = k * J->chunk;
  const int ob = oa + J->chunk < J->outF ? oa + J->chunk : J->outF;
  mm_range(J, oa, ob);
}

/* Multiply-adds below which a call stays on one thread. */
#define MM_PARALLEL_MIN 100000L

void k_matmul_f32(const float *x, const float *w, float *y, int rows, int inF, int outF) {
  if (rows <= 0 || outF <= 0) return;
  if (inF <= 0) {
    for (long k = 0; k < (long)rows * outF; k++) y[k] = 0;
    return;
  }
  const int nt = (long)rows * inF * outF < MM_PARALLEL_MIN ? 1 : pool_get_threads();
  /* chunks of 8 .. 64 outputs (multiples of 8), about four per thread */
  int chunk = (outF + 4 * nt - 1) / (4 * nt);
  chunk = (chunk + 7) / 8 * 8;
  if (chunk > 64) chunk = 64;
  mm_job J = {x, w, y, rows, inF, outF, chunk};
  pool_run(mm_chunk, &J, (outF + chunk - 1) / chunk, nt);
}
