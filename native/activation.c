/*
 * SwiGLU's activation (src/kernels/ts/activation.ts): gate ← (g / (1 + exp(-g))) · up, in float64,
 * stored as float32. Bit-identical to the reference only if exp() returns exactly what V8's
 * Math.exp returns, and the C library's exp does not (glibc's is a different algorithm, off by
 * an ulp on some inputs). V8 computes Math.exp with FreeBSD msun's port of fdlibm's e_exp.c
 * (src/base/ieee754.cc), so that algorithm is written out here, step by step in the same order:
 * built with -ffp-contract=off, every step rounds exactly as the JS doubles do.
 *
 * Under AVX-512 eight lanes run the algorithm at once. Its branches become one path: a lane with
 * |x| ≤ ½ln2 takes k = 0, which makes the general reduction exact (hi = x, lo = 0) and the
 * general reconstruction equal, bit for bit, to fdlibm's k = 0 formula; ½ln2 < |x| < 1½ln2 (k = ±1
 * in fdlibm without a multiply) gives the same k, hi and lo through the general formula. Inputs
 * the vector path does not cover (|x| < 2⁻²⁸, |x| ≥ 704 where over/underflow and the k = 1024
 * or subnormal scalings start, NaN, ±∞, and x = 1) send their group of 8 to the scalar code.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"

static const double LN2_HI = 6.93147180369123816490e-01; /* 0x3fe62e42 fee00000: k·LN2_HI exact for |k| < 2^11 */
static const double LN2_LO = 1.90821492927058770002e-10; /* 0x3dea39ef 35793c76 */
static const double INV_LN2 = 1.44269504088896338700e+00;
static const double P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                    P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08;
static const double O_THRESHOLD = 7.09782712893383973096e+02, U_THRESHOLD = -7.45133219101941108420e+02;
static const double TWO_M1000 = 9.33263618503218878990e-302, TWO_1023 = 8.988465674311579539e307;
/* V8 returns E for x = 1 (the reduction below would give E + 1 ulp). */
static const double E = 2.718281828459045;

static inline uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static inline double double_of(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static double fdlibm_exp(double x) {
  const uint64_t ux = bits_of(x);
  const uint32_t hx = (uint32_t)(ux >> 32) & 0x7fffffffu;
  const int neg = (int)(ux >> 63);
  double hi = 0, lo = 0;
  int k = 0;
  if (hx >= 0x40862E42u) {
    if (hx >= 0x7ff00000u) return (ux & 0x000fffffffffffffull) ? x + x : neg ? 0.0 : x;
    if (x > O_THRESHOLD) return (double)INFINITY;
    if (x < U_THRESHOLD) return 0.0;
  }
  if (hx > 0x3FD62E42u) {
    if (hx < 0x3FF0A2B2u) {
      if (x == 1.0) return E;
      hi = x - (neg ? -LN2_HI : LN2_HI);
      lo = neg ? -LN2_LO : LN2_LO;
      k = 1 - neg - neg;
    } else {
      k = (int)(INV_LN2 * x + (neg ? -0.5 : 0.5));
      const double t = k;
      hi = x - t * LN2_HI;
      lo = t * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3E300000u) {
    return 1.0 + x;
  }
  const double t = x * x;
  const double c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const double y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * TWO_1023;
    return y * double_of((uint64_t)(0x3ff + k) << 52);
  }
  return y * double_of((uint64_t)(0x3ff + k + 1000) << 52) * TWO_M1000;
}

/*
 * When the quotient and up are both NaN, x86 returns the first operand's NaN, and V8's product
 * (in every tier) gives up's, while the compiler may order a commutative multiply either way: so
 * a NaN up is returned explicitly, quieted as the product would quiet it. Set as bits, since the
 * compiler may fold float → double → float to nothing and keep a signalling NaN. The vector path
 * never sees a NaN quotient.
 */
static inline float silu_mul1(float gate, float up) {
  if (up != up) {
    uint32_t b;
    memcpy(&b, &up, sizeof b);
    b |= 0x00400000u;
    memcpy(&up, &b, sizeof up);
    return up;
  }
  const double g = gate;
  return (float)((g / (1.0 + fdlibm_exp(-g))) * (double)up);
}

#if defined(SIMD_AVX512)
/* exp of 8 lanes into *y; 0 (and *y untouched) when a lane needs the scalar path. */
static ALWAYS_INLINE int exp8(__m512d x, __m512d *y) {
  const __m512i ux = _mm512_castpd_si512(x);
  const __m512i hx = _mm512_and_si512(_mm512_srli_epi64(ux, 32), _mm512_set1_epi64(0x7fffffff));
  const __mmask8 scalar = _mm512_cmpge_epu64_mask(hx, _mm512_set1_epi64(0x40860000)) |
                          _mm512_cmplt_epu64_mask(hx, _mm512_set1_epi64(0x3E300000)) |
                          _mm512_cmp_pd_mask(x, _mm512_set1_pd(1.0), _CMP_EQ_OQ);
  if (scalar) return 0;
  const __mmask8 reduce = _mm512_cmpgt_epu64_mask(hx, _mm512_set1_epi64(0x3FD62E42));
  const __m512d half = _mm512_castsi512_pd(
      _mm512_or_si512(_mm512_and_si512(ux, _mm512_set1_epi64((int64_t)0x8000000000000000ull)),
                      _mm512_castpd_si512(_mm512_set1_pd(0.5))));
  const __m256i k = _mm512_maskz_cvttpd_epi32(reduce, _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(INV_LN2), x), half));
  const __m512d t = _mm512_cvtepi32_pd(k);
  const __m512d hi = _mm512_sub_pd(x, _mm512_mul_pd(t, _mm512_set1_pd(LN2_HI)));
  const __m512d lo = _mm512_mul_pd(t, _mm512_set1_pd(LN2_LO));
  const __m512d r = _mm512_sub_pd(hi, lo);
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d p = _mm512_add_pd(_mm512_set1_pd(P4), _mm512_mul_pd(r2, _mm512_set1_pd(P5)));
  p = _mm512_add_pd(_mm512_set1_pd(P3), _mm512_mul_pd(r2, p));
  p = _mm512_add_pd(_mm512_set1_pd(P2), _mm512_mul_pd(r2, p));
  p = _mm512_add_pd(_mm512_set1_pd(P1), _mm512_mul_pd(r2, p));
  const __m512d c = _mm512_sub_pd(r, _mm512_mul_pd(r2, p));
  const __m512d q = _mm512_div_pd(_mm512_mul_pd(r, c), _mm512_sub_pd(_mm512_set1_pd(2.0), c));
  const __m512d yk = _mm512_sub_pd(_mm512_set1_pd(1.0), _mm512_sub_pd(_mm512_sub_pd(lo, q), hi));
  const __m512i twopk = _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(k), _mm512_set1_epi64(0x3ff)), 52);
  *y = _mm512_mul_pd(yk, _mm512_castsi512_pd(twopk));
  return 1;
}
#endif

void k_silu_mul(float *gate, const float *up, long n) {
  long i = 0;
#if defined(SIMD_AVX512)
  const __m512i sign = _mm512_set1_epi64((int64_t)0x8000000000000000ull);
  for (; i + 8 <= n; i += 8) {
    const __m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(gate + i));
    __m512d e;
    if (!exp8(_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(g), sign)), &e)) {
      for (long j = i; j < i + 8; j++) gate[j] = silu_mul1(gate[j], up[j]);
      continue;
    }
    const __m512d s = _mm512_mul_pd(_mm512_div_pd(g, _mm512_add_pd(_mm512_set1_pd(1.0), e)), _mm512_cvtps_pd(_mm256_loadu_ps(up + i)));
    _mm256_storeu_ps(gate + i, _mm512_cvtpd_ps(s));
  }
#endif
  for (; i < n; i++) gate[i] = silu_mul1(gate[i], up[i]);
}

void k_exp_array(const double *x, double *y, long n) {
  long i = 0;
#if defined(SIMD_AVX512)
  for (; i + 8 <= n; i += 8) {
    __m512d e;
    if (!exp8(_mm512_loadu_pd(x + i), &e)) {
      for (long j = i; j < i + 8; j++) y[j] = fdlibm_exp(x[j]);
      continue;
    }
    _mm512_storeu_pd(y + i, e);
  }
#endif
  for (; i < n; i++) y[i] = fdlibm_exp(x[i]);
}
