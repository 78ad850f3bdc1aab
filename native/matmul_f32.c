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
 *
 * Weights come as float32 or as raw bfloat16 words (heads kept as the checkpoint stores them:
 * half the bytes to stream per decode step). The tiles are written once, in matmul_tiles.h, and
 * instantiated per weight type with an exact widening load, so the bf16 kernel is bit-identical
 * to the float one on the widened matrix.
 */
#include "kernels.h"
#include "pool.h"
#include "simd.h"

/* A bf16 word is the top half of a float32: widening is a shift, exact. */
static ALWAYS_INLINE float bf16_to_f32(const uint16_t *p) {
  const uint32_t u = (uint32_t)*p << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

#if defined(SIMD_AVX512)
typedef __m512 vf;
#define FVL 16
#define MR 4
static ALWAYS_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
static ALWAYS_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static ALWAYS_INLINE vf vf_load_bf16(const uint16_t *p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
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
static ALWAYS_INLINE vf vf_load_bf16(const uint16_t *p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
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
static ALWAYS_INLINE vf vf_load_bf16(const uint16_t *p) {
  vf v;
  for (int i = 0; i < FVL; i++) v[i] = bf16_to_f32(p + i);
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

typedef struct {
  const float *x;
  const void *w; /* MM_W of the instantiation that runs the job */
  float *y;
  int rows, inF, outF;
  int chunk; /* outputs per chunk (a multiple of 8) */
} mm_job;

#define MM_W float
#define MM_SFX f32
#define MM_WLOAD(p) vf_load(p)
#define MM_WSCALAR(p) (*(p))
#include "matmul_tiles.h"

#define MM_W uint16_t
#define MM_SFX bf16
#define MM_WLOAD(p) vf_load_bf16(p)
#define MM_WSCALAR(p) bf16_to_f32(p)
#include "matmul_tiles.h"

/* Multiply-adds below which a call stays on one thread. */
#define MM_PARALLEL_MIN 100000L

/*
 * The split into chunks depends on the shape and thread count only, never on the weight type,
 * so both entry points hand every output to the same tile over the same inputs (bit-identity of
 * k_matmul_bf16 with k_matmul_f32 on the widened weights).
 */
static void mm_run(pool_fn chunk_fn, const float *x, const void *w, float *y, int rows, int inF, int outF) {
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
  pool_run(chunk_fn, &J, (outF + chunk - 1) / chunk, nt);
}

void k_matmul_f32(const float *x, const float *w, float *y, int rows, int inF, int outF) {
  mm_run(mm_chunk_f32, x, w, y, rows, inF, outF);
}

void k_matmul_bf16(const float *x, const uint16_t *w, float *y, int rows, int inF, int outF) {
  mm_run(mm_chunk_bf16, x, w, y, rows, inF, outF);
}
