/*
 * γ-SQP step 1 (src/kernels/ts/spike-encode.ts): per row θ from the threshold rule, then
 * c_i = clamp(rint(x_i / θ), −L, L). Bit-identical to the TypeScript reference, which rounds
 * every step to fp32 (Math.fround of a float64 operation on fp32 operands equals the fp32
 * operation: 53 ≥ 2·24 + 2), hence plain float arithmetic here, compiled without FMA
 * contraction. rint rounds ties to even in the default rounding mode, as roundHalfEven does.
 * The γ-quantile is an order statistic, unique whichever selection finds it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "simd.h"

/* Hoare-partition selection (as the reference's Wirth select): a[k] ends as the k-th smallest,
   everything after it is >= a[k]. */
static float select_k(float *a, int n, int k) {
  int l = 0, r = n - 1;
  while (l < r) {
    const float pivot = a[k];
    int i = l, j = r;
    do {
      while (a[i] < pivot) i++;
      while (pivot < a[j]) j--;
      if (i <= j) {
        const float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
  return a[k];
}

/*
 * The two order statistics lo = |x|_(k) and hi = |x|_(k+1) (0-based, ascending). For γ near 1
 * (0.99: the top 7 of 512, 16 of 1408, 57 of 5632) the m = n − k largest values are kept while
 * scanning once — most values fail the first comparison — instead of selecting over all n;
 * otherwise Hoare selection on a copy. Both give the same order statistics exactly.
 */
#define TOP_MAX 64

/* The kept values as a min-heap: replacing its root costs log m, where a sorted array shifted m / 2. */
static ALWAYS_INLINE void heap_down(float *h, int m, int j, float v) {
  for (;;) {
    int c = 2 * j + 1;
    if (c >= m) break;
    if (c + 1 < m && h[c + 1] < h[c]) c++;
    if (!(h[c] < v)) break;
    h[j] = h[c];
    j = c;
  }
  h[j] = v;
}

/* v displaces the smallest of the m kept if it is larger (NaN never does, as in the reference). */
static ALWAYS_INLINE void top_keep(float *h, int m, float v) {
  if (v > h[0]) heap_down(h, m, 0, v);
}

static void order_stats(const float *x, int n, int k, float *a, float *lo, float *hi) {
  const int m = n - k;
  /* The scan keeps the multiset of the m largest values so far (the smallest replaced only by a
     larger value), whatever their arrangement: the same statistics as selection, for inputs
     without NaN (with NaN, neither this nor the reference's selection means anything). */
  if (m <= TOP_MAX) {
    float h[TOP_MAX] = {0}; /* m >= 1 fills h[0]; the zeros only quiet a compiler that cannot see it */
    for (int i = 0; i < m; i++) h[i] = fabsf(x[i]);
    for (int j = m / 2 - 1; j >= 0; j--) heap_down(h, m, j, h[j]);
    int i = m;
#if defined(SIMD_AVX512)
    /* Sixteen at a time, only the values above the smallest kept go on to top_keep, in index
       order; as h[0] only grows, a value skipped here would have been skipped one at a time. */
    for (; i + 16 <= n; i += 16) {
      __mmask16 km = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + i)), _mm512_set1_ps(h[0]), _CMP_GT_OQ);
      for (; km; km &= km - 1) top_keep(h, m, fabsf(x[i + __builtin_ctz(km)]));
    }
#endif
    for (; i < n; i++) top_keep(h, m, fabsf(x[i]));
    *lo = h[0];
    *hi = m >= 3 ? (h[1] < h[2] ? h[1] : h[2]) : m == 2 ? h[1] : INFINITY;
    return;
  }
  for (int i = 0; i < n; i++) a[i] = fabsf(x[i]);
  *lo = select_k(a, n, k);
  float hv = INFINITY;
  for (int i = k + 1; i < n; i++)
    if (a[i] < hv) hv = a[i];
  *hi = hv;
}

/* The position of the γ-quantile among n values, pos = fp32(γ)·(n − 1), all fp32. */
static float quantile_pos(double gamma, int n) {
  return (float)gamma * (float)(n - 1);
}

/* torch.quantile(|x|, γ), 'linear', every step in fp32 (threshold.ts quantileAbs). */
static float quantile_abs(const float *x, int n, double gamma, float *a) {
  const float pos = quantile_pos(gamma, n);
  const int k = (int)floorf(pos);
  const float w = pos - (float)k;
  float lo, hi;
  order_stats(x, n, k, a, &lo, &hi);
  if (w == 0.0f) return lo;
  const float diff = hi - lo;
  return w < 0.5f ? lo + w * diff : hi - diff * (1.0f - w);
}

static float row_theta(const float *x, int n, int rule, double param, double L, float *scratch) {
  switch (rule) {
    case ENC_QUANTILE:
      return (float)((double)quantile_abs(x, n, param, scratch) / L);
    case ENC_ABSMAX: {
      float m = 0;
      for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > m) m = fabsf(x[i]);
      return (float)((double)m / L);
    }
    case ENC_MEANABS: {
      double s = 0; /* float64 sum in index order, rounded once, as meanAbs */
      for (int i = 0; i < n; i++) s += fabsf(x[i]);
      return (float)((double)(float)(s / n) / param);
    }
    default: /* ENC_STATIC */
      return (float)param;
  }
}

int k_spike_encode(const float *x, int rows, int n, int rule, double param, double L, int32_t *counts, double *thetas) {
  /* Only a quantile far below the top needs the selection's copy of |x| (order_stats). */
  float *scratch = NULL;
  const int select = rule == ENC_QUANTILE && rows > 0 && n > 0 && n - (int)floorf(quantile_pos(param, n)) > TOP_MAX;
  if (select && !(scratch = malloc(sizeof(float) * (size_t)n))) return -1;
  /* Counts beyond int32 cannot come from a real θ (|x/θ| ≤ n·k for meanabs); clamp rather than
     convert out of range, which C leaves undefined. */
  const float lim = isinf(L) ? 2147483520.0f : (float)L;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * n;
    int32_t *c = counts + (long)r * n;
    const float theta = row_theta(xr, n, rule, param, L, scratch);
    thetas[r] = theta;
    if (theta == 0.0f) {
      memset(c, 0, sizeof(int32_t) * (size_t)n);
      continue;
    }
    for (int i = 0; i < n; i++) {
      float q = rintf(xr[i] / theta);
      q = q > lim ? lim : q < -lim ? -lim : q;
      c[i] = q == q ? (int32_t)q : 0; /* NaN stores as 0, as in an Int32Array */
    }
  }
  free(scratch);
  return 0;
}
