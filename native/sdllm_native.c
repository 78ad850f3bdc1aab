/*
 * sdllm_native: the N-API glue of the native kernel backend (src/kernels/native.ts loads it).
 * Every function validates its arguments (types, lengths, ranges) and throws a TypeError or
 * RangeError rather than reading out of bounds. Typed arrays are used in place, never copied.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

const char *simd_features(void) {
  return ""
#if defined(__AVX512F__)
         " avx512f"
#endif
#if defined(__AVX512BW__)
         " avx512bw"
#endif
#if defined(__AVX512VNNI__)
         " avx512vnni"
#endif
#if defined(__AVX2__)
         " avx2"
#endif
#if defined(__FMA__)
         " fma"
#endif
#if defined(__AVX__) && !defined(__AVX2__)
         " avx"
#endif
#if defined(__SSE4_2__) && !defined(__AVX__)
         " sse4.2"
#endif
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
         " neon"
#endif
#if defined(SIMD_GENERIC) && !defined(__ARM_NEON) && !defined(__SSE4_2__)
         " generic"
#endif
      ;
}

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) {                         \
      napi_throw_error(env, NULL, "N-API call failed: " #call); \
      return 0;                                      \
    }                                                \
  } while (0)

static int throw_type(napi_env env, const char *fn, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_type_error(env, NULL, msg);
  return 0;
}

static int throw_range(napi_env env, const char *fn, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_range_error(env, NULL, msg);
  return 0;
}

static int throw_error(napi_env env, const char *fn, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_error(env, NULL, msg);
  return 0;
}

static const char *TA_NAMES[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
                                 "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
                                 "BigUint64Array"};

/* A typed array of the given type with at least min_len elements; returns 1 or throws. */
static int get_ta(napi_env env, const char *fn, const char *name, napi_value v, napi_typedarray_type want,
                  size_t min_len, void **data, size_t *len_out) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a %s", name, TA_NAMES[want]);
    return throw_type(env, fn, m);
  }
  napi_typedarray_type t;
  size_t len;
  void *p;
  CHECK(napi_get_typedarray_info(env, v, &t, &len, &p, NULL, NULL));
  if (t != want) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a %s, got a %s", name, TA_NAMES[want], (unsigned)t < 11 ? TA_NAMES[t] : "?");
    return throw_type(env, fn, m);
  }
  if (len < min_len) {
    char m[160];
    snprintf(m, sizeof m, "%s has %zu elements, needs at least %zu", name, len, min_len);
    return throw_range(env, fn, m);
  }
  *data = p;
  if (len_out) *len_out = len;
  return 1;
}

static int get_int(napi_env env, const char *fn, const char *name, napi_value v, int64_t lo, int64_t hi, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a number", name);
    return throw_type(env, fn, m);
  }
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) {
    char m[128];
    snprintf(m, sizeof m, "%s must be an integer in [%lld, %lld], got %g", name, (long long)lo, (long long)hi, d);
    return throw_range(env, fn, m);
  }
  *out = (int64_t)d;
  return 1;
}

static int get_num(napi_env env, const char *fn, const char *name, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a number", name);
    return throw_type(env, fn, m);
  }
  return 1;
}

#define INT_MAX32 2147483647LL

/*
 * The spike kernels' weights in either layout, used in place: SpikeLinearWeights {qT (int8
 * columns), dwT, m, n, groupSize} or, with packed4, PackedWeights4 {packed (4-bit columns), ...}.
 */
typedef struct {
  spike_weights w8;
  spike4_weights w4;
  int m, n; /* the shape both views share */
} any_weights;

static int get_weights(napi_env env, const char *fn, napi_value obj, int packed4, any_weights *w) {
  napi_valuetype vt;
  CHECK(napi_typeof(env, obj, &vt));
  if (vt != napi_object) return throw_type(env, fn, packed4 ? "w must be a PackedWeights4 object" : "w must be a SpikeLinearWeights object");
  napi_value v;
  int64_t m, n, G;
  CHECK(napi_get_named_property(env, obj, "m", &v));
  if (!get_int(env, fn, "w.m", v, 0, INT_MAX32, &m)) return 0;
  CHECK(napi_get_named_property(env, obj, "n", &v));
  if (!get_int(env, fn, "w.n", v, 0, INT_MAX32, &n)) return 0;
  CHECK(napi_get_named_property(env, obj, "groupSize", &v));
  if (!get_int(env, fn, "w.groupSize", v, 1, INT_MAX32, &G)) return 0;
  const int64_t nG = (n + G - 1) / G;
  void *cols, *dwT;
  if (packed4) {
    CHECK(napi_get_named_property(env, obj, "packed", &v));
    if (!get_ta(env, fn, "w.packed", v, napi_uint8_array, (size_t)(((m + 1) / 2) * n), &cols, NULL)) return 0;
  } else {
    CHECK(napi_get_named_property(env, obj, "qT", &v));
    if (!get_ta(env, fn, "w.qT", v, napi_int8_array, (size_t)(m * n), &cols, NULL)) return 0;
  }
  CHECK(napi_get_named_property(env, obj, "dwT", &v));
  if (!get_ta(env, fn, "w.dwT", v, napi_float32_array, (size_t)(nG * m), &dwT, NULL)) return 0;
  w->w8 = (spike_weights){(const int8_t *)cols, (const float *)dwT, (int)m, (int)n, (int)G};
  w->w4 = (spike4_weights){(const uint8_t *)cols, (const float *)dwT, (int)m, (int)n, (int)G};
  w->m = (int)m;
  w->n = (int)n;
  return 1;
}

/* scales (Float64Array or Float32Array, >= rows) as doubles; *owned set when converted. */
static int get_scales(napi_env env, const char *fn, napi_value v, size_t rows, const double **out, double **owned) {
  bool is;
  napi_typedarray_type t;
  size_t len;
  void *p;
  *owned = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return throw_type(env, fn, "scales must be a Float64Array or Float32Array");
  CHECK(napi_get_typedarray_info(env, v, &t, &len, &p, NULL, NULL));
  if (t != napi_float64_array && t != napi_float32_array) return throw_type(env, fn, "scales must be a Float64Array or Float32Array");
  if (len < rows) return throw_range(env, fn, "scales has fewer elements than rows");
  if (t == napi_float64_array) {
    *out = (const double *)p;
    return 1;
  }
  double *d = (double *)malloc(sizeof(double) * (rows ? rows : 1));
  if (!d) {
    napi_throw_error(env, NULL, "out of memory");
    return 0;
  }
  for (size_t r = 0; r < rows; r++) d[r] = (double)((const float *)p)[r];
  *out = d;
  *owned = d;
  return 1;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    char m[96];
    snprintf(m, sizeof m, "expected %zu arguments, got %zu", want, argc);
    return throw_type(env, fn, m);
  }
  return 1;
}

/* matmulF32 / matmulBF16 (x, w, y, rows, inF, outF): w a Float32Array or a Uint16Array of raw bf16 words. */
static napi_value matmul(napi_env env, napi_callback_info info, const char *fn, int bf16) {
  napi_value a[6];
  if (!args(env, info, 6, a, fn)) return NULL;
  int64_t rows, inF, outF;
  if (!get_int(env, fn, "rows", a[3], 0, INT_MAX32, &rows) || !get_int(env, fn, "inF", a[4], 0, INT_MAX32, &inF) ||
      !get_int(env, fn, "outF", a[5], 0, INT_MAX32, &outF))
    return NULL;
  void *x, *w, *y;
  if (!get_ta(env, fn, "x", a[0], napi_float32_array, (size_t)(rows * inF), &x, NULL) ||
      !get_ta(env, fn, "w", a[1], bf16 ? napi_uint16_array : napi_float32_array, (size_t)(outF * inF), &w, NULL) ||
      !get_ta(env, fn, "y", a[2], napi_float32_array, (size_t)(rows * outF), &y, NULL))
    return NULL;
  if (bf16)
    k_matmul_bf16((const float *)x, (const uint16_t *)w, (float *)y, (int)rows, (int)inF, (int)outF);
  else
    k_matmul_f32((const float *)x, (const float *)w, (float *)y, (int)rows, (int)inF, (int)outF);
  return undefined(env);
}

static napi_value js_matmul_f32(napi_env env, napi_callback_info info) {
  return matmul(env, info, "matmulF32", 0);
}

static napi_value js_matmul_bf16(napi_env env, napi_callback_info info) {
  return matmul(env, info, "matmulBF16", 1);
}

/* The attention kernels' shape arguments (rows, start, heads, kvHeads, headDim, window), six in a row. */
typedef struct {
  int64_t rows, start, heads, kvHeads, hd, window;
} attn_shape;

static int get_attn_shape(napi_env env, const char *fn, const napi_value *a, attn_shape *s) {
  if (!get_int(env, fn, "rows", a[0], 0, INT_MAX32, &s->rows) || !get_int(env, fn, "start", a[1], 0, INT_MAX32, &s->start) ||
      !get_int(env, fn, "heads", a[2], 1, INT_MAX32, &s->heads) || !get_int(env, fn, "kvHeads", a[3], 1, INT_MAX32, &s->kvHeads) ||
      !get_int(env, fn, "headDim", a[4], 1, INT_MAX32, &s->hd) || !get_int(env, fn, "window", a[5], -1, INT_MAX32, &s->window))
    return 0;
  if (s->heads % s->kvHeads != 0) return throw_range(env, fn, "heads must be a multiple of kvHeads");
  return 1;
}

/* attentionF32(q, K, V, out, rows, start, heads, kvHeads, headDim, window, scores): scores (scratch) unused. */
static napi_value js_attention_f32(napi_env env, napi_callback_info info) {
  static const char *fn = "attentionF32";
  napi_value a[11];
  if (!args(env, info, 11, a, fn)) return NULL;
  attn_shape sh;
  if (!get_attn_shape(env, fn, a + 4, &sh)) return NULL;
  const int64_t rows = sh.rows, start = sh.start, heads = sh.heads, kvHeads = sh.kvHeads, hd = sh.hd, window = sh.window;
  void *q, *K, *V, *out;
  const size_t positions = (size_t)(start + rows);
  if (!get_ta(env, fn, "q", a[0], napi_float32_array, (size_t)(rows * heads * hd), &q, NULL) ||
      !get_ta(env, fn, "K", a[1], napi_float32_array, positions * (size_t)(kvHeads * hd), &K, NULL) ||
      !get_ta(env, fn, "V", a[2], napi_float32_array, positions * (size_t)(kvHeads * hd), &V, NULL) ||
      !get_ta(env, fn, "out", a[3], napi_float32_array, (size_t)(rows * heads * hd), &out, NULL))
    return NULL;
  if (k_attention_f32((const float *)q, (const float *)K, (const float *)V, (float *)out, (int)rows, (int)start, (int)heads,
                      (int)kvHeads, (int)hd, (int)window) != 0)
    return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

/* spikingAttentionCore(cq, thetaQ, kq, dk, vq, dv, out, rows, start, heads, kvHeads, hd, window, levels, hist) */
static napi_value js_spiking_attention(napi_env env, napi_callback_info info) {
  static const char *fn = "spikingAttentionCore";
  napi_value a[15];
  if (!args(env, info, 15, a, fn)) return NULL;
  attn_shape sh;
  int64_t levels;
  if (!get_attn_shape(env, fn, a + 7, &sh) || !get_int(env, fn, "levels", a[13], 1, 1 << 20, &levels)) return NULL;
  const int64_t rows = sh.rows, start = sh.start, heads = sh.heads, kvHeads = sh.kvHeads, hd = sh.hd, window = sh.window;
  const size_t positions = (size_t)(start + rows), pairs = (size_t)(rows * heads);
  void *cq, *tq, *kq, *dk, *vq, *dv, *out, *hist;
  if (!get_ta(env, fn, "cq", a[0], napi_int32_array, pairs * (size_t)hd, &cq, NULL) ||
      !get_ta(env, fn, "thetaQ", a[1], napi_float32_array, pairs, &tq, NULL) ||
      !get_ta(env, fn, "kq", a[2], napi_int8_array, positions * (size_t)(kvHeads * hd), &kq, NULL) ||
      !get_ta(env, fn, "dk", a[3], napi_float32_array, positions * (size_t)kvHeads, &dk, NULL) ||
      !get_ta(env, fn, "vq", a[4], napi_int8_array, positions * (size_t)(kvHeads * hd), &vq, NULL) ||
      !get_ta(env, fn, "dv", a[5], napi_float32_array, positions * (size_t)kvHeads, &dv, NULL) ||
      !get_ta(env, fn, "out", a[6], napi_float32_array, pairs * (size_t)hd, &out, NULL) ||
      !get_ta(env, fn, "hist", a[14], napi_float64_array, (size_t)levels + 1, &hist, NULL))
    return NULL;
  if (k_spiking_attention((const int32_t *)cq, (const float *)tq, (const int8_t *)kq, (const float *)dk, (const int8_t *)vq,
                          (const float *)dv, (float *)out, (int)rows, (int)start, (int)heads, (int)kvHeads, (int)hd,
                          (int)window, (int)levels, (double *)hist) != 0)
    return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

/* spikeLinearCounts(w, c, cOff, scale, y, yOff, acc, sum): acc and sum (scratch) are unused. */
static napi_value js_spike_counts(napi_env env, napi_callback_info info) {
  static const char *fn = "spikeLinearCounts";
  napi_value a[6];
  if (!args(env, info, 6, a, fn)) return NULL;
  any_weights w;
  if (!get_weights(env, fn, a[0], 0, &w)) return NULL;
  int64_t cOff, yOff;
  double scale;
  void *c, *y;
  size_t cLen, yLen;
  if (!get_int(env, fn, "cOff", a[2], 0, INT64_MAX / 2, &cOff) || !get_num(env, fn, "scale", a[3], &scale) ||
      !get_int(env, fn, "yOff", a[5], 0, INT64_MAX / 2, &yOff) ||
      !get_ta(env, fn, "c", a[1], napi_int32_array, 0, &c, &cLen) ||
      !get_ta(env, fn, "y", a[4], napi_float32_array, 0, &y, &yLen))
    return NULL;
  if ((uint64_t)cOff + (uint64_t)w.n > cLen) return throw_range(env, fn, "c is shorter than cOff + n"), NULL;
  if ((uint64_t)yOff + (uint64_t)w.m > yLen) return throw_range(env, fn, "y is shorter than yOff + m"), NULL;
  if (k_spike_counts_rows(&w.w8, (const int32_t *)c + cOff, w.n, 1, &scale, (float *)y + yOff, w.m) != 0)
    return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

/* spikeLinearEvents[4](w, trains, T, scale, y, yOff, acc, sum): acc and sum (scratch) are unused. */
static napi_value spike_events(napi_env env, napi_callback_info info, const char *fn, int packed4) {
  napi_value a[6];
  if (!args(env, info, 6, a, fn)) return NULL;
  any_weights w;
  if (!get_weights(env, fn, a[0], packed4, &w)) return NULL;
  int64_t T, yOff;
  double scale;
  void *tr, *y;
  size_t yLen;
  if (!get_int(env, fn, "T", a[2], 0, INT_MAX32, &T) || !get_num(env, fn, "scale", a[3], &scale) ||
      !get_int(env, fn, "yOff", a[5], 0, INT64_MAX / 2, &yOff) ||
      !get_ta(env, fn, "trains", a[1], napi_int8_array, (size_t)(T * w.n), &tr, NULL) ||
      !get_ta(env, fn, "y", a[4], napi_float32_array, 0, &y, &yLen))
    return NULL;
  if ((uint64_t)yOff + (uint64_t)w.m > yLen) return throw_range(env, fn, "y is shorter than yOff + m"), NULL;
  const int rc = packed4 ? k_spike_events4(&w.w4, (const int8_t *)tr, (int)T, scale, (float *)y + yOff)
                         : k_spike_events(&w.w8, (const int8_t *)tr, (int)T, scale, (float *)y + yOff);
  if (rc != 0) return throw_error(env, fn, "out of memory (or more than 2^31 - 1 events)"), NULL;
  return undefined(env);
}

static napi_value js_spike_events(napi_env env, napi_callback_info info) {
  return spike_events(env, info, "spikeLinearEvents", 0);
}

static napi_value js_spike_events4(napi_env env, napi_callback_info info) {
  return spike_events(env, info, "spikeLinearEvents4", 1);
}

/* spikeLinearCountsRows[4](w, c, rows, scales, y) */
static napi_value spike_counts_rows(napi_env env, napi_callback_info info, const char *fn, int packed4) {
  napi_value a[5];
  if (!args(env, info, 5, a, fn)) return NULL;
  any_weights w;
  if (!get_weights(env, fn, a[0], packed4, &w)) return NULL;
  int64_t rows;
  void *c, *y;
  if (!get_int(env, fn, "rows", a[2], 0, INT_MAX32, &rows) ||
      !get_ta(env, fn, "c", a[1], napi_int32_array, (size_t)(rows * w.n), &c, NULL) ||
      !get_ta(env, fn, "y", a[4], napi_float32_array, (size_t)(rows * w.m), &y, NULL))
    return NULL;
  const double *scales;
  double *owned;
  if (!get_scales(env, fn, a[3], (size_t)rows, &scales, &owned)) return NULL;
  const int rc = packed4 ? k_spike_counts_rows4(&w.w4, (const int32_t *)c, (int)rows, scales, (float *)y)
                         : k_spike_counts_rows(&w.w8, (const int32_t *)c, w.n, (int)rows, scales, (float *)y, w.m);
  free(owned);
  if (rc != 0) return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

static napi_value js_spike_counts_rows(napi_env env, napi_callback_info info) {
  return spike_counts_rows(env, info, "spikeLinearCountsRows", 0);
}

static napi_value js_spike_counts_rows4(napi_env env, napi_callback_info info) {
  return spike_counts_rows(env, info, "spikeLinearCountsRows4", 1);
}

/* intMatmul[4](wRowMajor, dw, c, rows, m, n, groupSize, scales, y): the dense baselines, int8 or packed 4-bit rows. */
static napi_value int_matmul(napi_env env, napi_callback_info info, const char *fn, int packed4) {
  napi_value a[9];
  if (!args(env, info, 9, a, fn)) return NULL;
  int64_t rows, m, n, G;
  if (!get_int(env, fn, "rows", a[3], 0, INT_MAX32, &rows) || !get_int(env, fn, "m", a[4], 0, INT_MAX32, &m) ||
      !get_int(env, fn, "n", a[5], 0, INT_MAX32, &n) || !get_int(env, fn, "groupSize", a[6], 1, INT_MAX32, &G))
    return NULL;
  const int64_t nG = (n + G - 1) / G;
  void *W, *dw, *c, *y;
  if (!(packed4 ? get_ta(env, fn, "w4RowMajor", a[0], napi_uint8_array, (size_t)(m * ((n + 1) / 2)), &W, NULL)
                : get_ta(env, fn, "wRowMajor", a[0], napi_int8_array, (size_t)(m * n), &W, NULL)) ||
      !get_ta(env, fn, "dw", a[1], napi_float32_array, (size_t)(m * nG), &dw, NULL) ||
      !get_ta(env, fn, "c", a[2], napi_int32_array, (size_t)(rows * n), &c, NULL) ||
      !get_ta(env, fn, "y", a[8], napi_float32_array, (size_t)(rows * m), &y, NULL))
    return NULL;
  const double *scales;
  double *owned;
  if (!get_scales(env, fn, a[7], (size_t)rows, &scales, &owned)) return NULL;
  if (packed4)
    k_int_matmul4((const uint8_t *)W, (const float *)dw, (const int32_t *)c, (int)rows, (int)m, (int)n, (int)G, scales, (float *)y);
  else
    k_int_matmul((const int8_t *)W, (const float *)dw, (const int32_t *)c, (int)rows, (int)m, (int)n, (int)G, scales, (float *)y);
  free(owned);
  return undefined(env);
}

static napi_value js_int_matmul(napi_env env, napi_callback_info info) {
  return int_matmul(env, info, "intMatmul", 0);
}

static napi_value js_int_matmul4(napi_env env, napi_callback_info info) {
  return int_matmul(env, info, "intMatmul4", 1);
}

/* spikeEncode(x, rows, n, rule, param, L, counts, thetas): rule 0 quantile (param γ), 1 absmax,
   2 meanabs (param k), 3 static (param θ); src/kernels/native.ts maps the ThresholdRule object. */
static napi_value js_spike_encode(napi_env env, napi_callback_info info) {
  static const char *fn = "spikeEncode";
  napi_value a[8];
  if (!args(env, info, 8, a, fn)) return NULL;
  int64_t rows, n, rule;
  double param, L;
  void *x, *c, *th;
  if (!get_int(env, fn, "rows", a[1], 0, INT_MAX32, &rows) || !get_int(env, fn, "n", a[2], 0, INT_MAX32, &n) ||
      !get_int(env, fn, "rule", a[3], ENC_QUANTILE, ENC_STATIC, &rule) || !get_num(env, fn, "param", a[4], &param) ||
      !get_num(env, fn, "L", a[5], &L) ||
      !get_ta(env, fn, "x", a[0], napi_float32_array, (size_t)(rows * n), &x, NULL) ||
      !get_ta(env, fn, "counts", a[6], napi_int32_array, (size_t)(rows * n), &c, NULL) ||
      !get_ta(env, fn, "thetas", a[7], napi_float64_array, (size_t)rows, &th, NULL))
    return NULL;
  if (rule == ENC_QUANTILE && rows > 0 && n < 1) return throw_range(env, fn, "quantile of an empty vector"), NULL;
  if (rule == ENC_QUANTILE && !(param >= 0 && param <= 1)) return throw_range(env, fn, "gamma must be in [0, 1]"), NULL;
  if (!(L > 0)) return throw_range(env, fn, "L must be positive"), NULL;
  if (k_spike_encode((const float *)x, (int)rows, (int)n, (int)rule, param, L, (int32_t *)c, (double *)th) != 0)
    return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

/* blockHadamard(x, rows, n, block, scale) */
static napi_value js_block_hadamard(napi_env env, napi_callback_info info) {
  static const char *fn = "blockHadamard";
  napi_value a[5];
  if (!args(env, info, 5, a, fn)) return NULL;
  int64_t rows, n, block;
  void *x, *scale;
  if (!get_int(env, fn, "rows", a[1], 0, INT_MAX32, &rows) || !get_int(env, fn, "n", a[2], 0, INT_MAX32, &n) ||
      !get_int(env, fn, "block", a[3], 1, INT_MAX32, &block) ||
      !get_ta(env, fn, "x", a[0], napi_float32_array, (size_t)(rows * n), &x, NULL) ||
      !get_ta(env, fn, "scale", a[4], napi_float32_array, (size_t)n, &scale, NULL))
    return NULL;
  if ((block & (block - 1)) != 0 || n % block != 0) return throw_range(env, fn, "block must be a power of two dividing n"), NULL;
  k_block_hadamard((float *)x, (int)rows, (int)n, (int)block, (const float *)scale);
  return undefined(env);
}

/* siluMul(gate, up, n) */
static napi_value js_silu_mul(napi_env env, napi_callback_info info) {
  static const char *fn = "siluMul";
  napi_value a[3];
  if (!args(env, info, 3, a, fn)) return NULL;
  int64_t n;
  void *gate, *up;
  if (!get_int(env, fn, "n", a[2], 0, (int64_t)1 << 40, &n) ||
      !get_ta(env, fn, "gate", a[0], napi_float32_array, (size_t)n, &gate, NULL) ||
      !get_ta(env, fn, "up", a[1], napi_float32_array, (size_t)n, &up, NULL))
    return NULL;
  k_silu_mul((float *)gate, (const float *)up, (long)n);
  return undefined(env);
}

/* rmsNorm(x, weight, y, rows, d, eps) */
static napi_value js_rms_norm(napi_env env, napi_callback_info info) {
  static const char *fn = "rmsNorm";
  napi_value a[6];
  if (!args(env, info, 6, a, fn)) return NULL;
  int64_t rows, d;
  double eps;
  void *x, *w, *y;
  if (!get_int(env, fn, "rows", a[3], 0, INT_MAX32, &rows) || !get_int(env, fn, "d", a[4], 0, INT_MAX32, &d) ||
      !get_num(env, fn, "eps", a[5], &eps) ||
      !get_ta(env, fn, "x", a[0], napi_float32_array, (size_t)(rows * d), &x, NULL) ||
      !get_ta(env, fn, "weight", a[1], napi_float32_array, (size_t)d, &w, NULL) ||
      !get_ta(env, fn, "y", a[2], napi_float32_array, (size_t)(rows * d), &y, NULL))
    return NULL;
  k_rms_norm((const float *)x, (const float *)w, (float *)y, (int)rows, (int)d, eps);
  return undefined(env);
}

/* expArray(x, y): y[i] = exp(x[i]) as Math.exp computes it, through siluMul's exp */
static napi_value js_exp_array(napi_env env, napi_callback_info info) {
  static const char *fn = "expArray";
  napi_value a[2];
  if (!args(env, info, 2, a, fn)) return NULL;
  void *x, *y;
  size_t n;
  if (!get_ta(env, fn, "x", a[0], napi_float64_array, 0, &x, &n) ||
      !get_ta(env, fn, "y", a[1], napi_float64_array, n, &y, NULL))
    return NULL;
  k_exp_array((const double *)x, (double *)y, (long)n);
  return undefined(env);
}

/* matmulW4A16(w, x, y, rows) */
static napi_value js_matmul_w4a16(napi_env env, napi_callback_info info) {
  static const char *fn = "matmulW4A16";
  napi_value a[4];
  if (!args(env, info, 4, a, fn)) return NULL;
  any_weights w;
  if (!get_weights(env, fn, a[0], 1, &w)) return NULL;
  int64_t rows;
  void *x, *y;
  if (!get_int(env, fn, "rows", a[3], 0, INT_MAX32, &rows) ||
      !get_ta(env, fn, "x", a[1], napi_float32_array, (size_t)(rows * w.n), &x, NULL) ||
      !get_ta(env, fn, "y", a[2], napi_float32_array, (size_t)(rows * w.m), &y, NULL))
    return NULL;
  k_matmul_w4a16(&w.w4, (const float *)x, (float *)y, (int)rows);
  return undefined(env);
}

/* matmulW4A16Blocks(w, x, y, rows), w = {blocks, scales, m, n, groupSize} */
static napi_value js_matmul_w4a16_blocks(napi_env env, napi_callback_info info) {
  static const char *fn = "matmulW4A16Blocks";
  napi_value a[4];
  if (!args(env, info, 4, a, fn)) return NULL;
  napi_valuetype vt;
  CHECK(napi_typeof(env, a[0], &vt));
  if (vt != napi_object) return throw_type(env, fn, "w must be a W4A16Weights object"), NULL;
  napi_value v;
  int64_t m, n, G, rows;
  CHECK(napi_get_named_property(env, a[0], "m", &v));
  if (!get_int(env, fn, "w.m", v, 0, INT_MAX32, &m)) return NULL;
  CHECK(napi_get_named_property(env, a[0], "n", &v));
  if (!get_int(env, fn, "w.n", v, 0, INT_MAX32, &n)) return NULL;
  CHECK(napi_get_named_property(env, a[0], "groupSize", &v));
  if (!get_int(env, fn, "w.groupSize", v, 1, INT_MAX32, &G)) return NULL;
  void *blocks, *scales, *x, *y;
  CHECK(napi_get_named_property(env, a[0], "blocks", &v));
  if (!get_ta(env, fn, "w.blocks", v, napi_uint8_array, (size_t)(((m + 31) / 32) * ((n + 7) / 8) * 128), &blocks, NULL)) return NULL;
  CHECK(napi_get_named_property(env, a[0], "scales", &v));
  if (!get_ta(env, fn, "w.scales", v, napi_float32_array, (size_t)(((m + 31) / 32) * ((n + G - 1) / G) * 32), &scales, NULL)) return NULL;
  if (!get_int(env, fn, "rows", a[3], 0, INT_MAX32, &rows) ||
      !get_ta(env, fn, "x", a[1], napi_float32_array, (size_t)(rows * n), &x, NULL) ||
      !get_ta(env, fn, "y", a[2], napi_float32_array, (size_t)(rows * m), &y, NULL))
    return NULL;
  const w4b_weights w = {(const uint8_t *)blocks, (const float *)scales, (int)m, (int)n, (int)G};
  if (k_matmul_w4a16_blocks(&w, (const float *)x, (float *)y, (int)rows) != 0) return throw_error(env, fn, "out of memory"), NULL;
  return undefined(env);
}

/* packW4A16Blocks(packed, m, n, blocks) */
static napi_value js_pack_w4a16_blocks(napi_env env, napi_callback_info info) {
  static const char *fn = "packW4A16Blocks";
  napi_value a[4];
  if (!args(env, info, 4, a, fn)) return NULL;
  int64_t m, n;
  void *packed, *blocks;
  if (!get_int(env, fn, "m", a[1], 0, INT_MAX32, &m) || !get_int(env, fn, "n", a[2], 0, INT_MAX32, &n) ||
      !get_ta(env, fn, "packed", a[0], napi_uint8_array, (size_t)(((m + 1) / 2) * n), &packed, NULL) ||
      !get_ta(env, fn, "blocks", a[3], napi_uint8_array, (size_t)(((m + 31) / 32) * ((n + 7) / 8) * 128), &blocks, NULL))
    return NULL;
  k_pack_w4a16_blocks((const uint8_t *)packed, (int)m, (int)n, (uint8_t *)blocks);
  return undefined(env);
}

/* streamBandwidth(bytes, reps) -> number[] (GB/s per pass) */
static napi_value js_stream_bandwidth(napi_env env, napi_callback_info info) {
  static const char *fn = "streamBandwidth";
  napi_value a[2];
  if (!args(env, info, 2, a, fn)) return NULL;
  int64_t bytes, reps;
  if (!get_int(env, fn, "bytes", a[0], 1, (int64_t)1 << 40, &bytes) || !get_int(env, fn, "reps", a[1], 1, 1000, &reps))
    return NULL;
  double *g = (double *)malloc(sizeof(double) * (size_t)reps);
  if (!g || k_stream_bandwidth((long)bytes, (int)reps, g) != 0) {
    free(g);
    napi_throw_error(env, NULL, "streamBandwidth: out of memory");
    return NULL;
  }
  napi_value arr;
  CHECK(napi_create_array_with_length(env, (size_t)reps, &arr));
  for (int64_t r = 0; r < reps; r++) {
    napi_value v;
    napi_create_double(env, g[r], &v);
    napi_set_element(env, arr, (uint32_t)r, v);
  }
  free(g);
  return arr;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!args(env, info, 1, a, "setThreads")) return NULL;
  int64_t n;
  if (!get_int(env, "setThreads", "n", a[0], 1, POOL_MAX_THREADS, &n)) return NULL;
  pool_set_threads((int)n);
  return undefined(env);
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, pool_get_threads(), &v);
  return v;
}

static void unmap_file(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * mapFile(path, offset, length) -> ArrayBuffer over a private mapping of the file's bytes from
 * offset rounded down to a page to offset + length (the requested bytes are its last `length`),
 * or null where mapping is not possible. Converted models load through it without a copy, their
 * pages straight from the page cache (read faults map 64 KB at a time, where fresh zero-filled
 * buffers fault in 4 KB pages). Private and writable: a stray write copies a page instead of
 * crashing. Unmapped when the ArrayBuffer is collected. One mapping per tensor: Node caps an
 * ArrayBuffer made here at 4 GiB.
 */
static napi_value js_map_file(napi_env env, napi_callback_info info) {
  static const char *fn = "mapFile";
  napi_value a[3], result;
  if (!args(env, info, 3, a, fn)) return NULL;
  char path[4096];
  size_t len;
  int64_t off, n;
  if (napi_get_value_string_utf8(env, a[0], path, sizeof path, &len) != napi_ok) return throw_type(env, fn, "path must be a string"), NULL;
  if (len >= sizeof path - 1) return throw_range(env, fn, "path is too long"), NULL;
  if (!get_int(env, fn, "offset", a[1], 0, INT64_MAX / 2, &off) || !get_int(env, fn, "length", a[2], 1, INT64_MAX / 2, &n)) return NULL;
  napi_get_null(env, &result);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_error(env, fn, strerror(errno)), NULL;
  struct stat st;
  const long page = sysconf(_SC_PAGESIZE);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || off + n > (int64_t)st.st_size || page <= 0) {
    close(fd);
    return result;
  }
  const int64_t start = off - off % page;
  const size_t size = (size_t)(off + n - start);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)start);
  close(fd);
  if (p == MAP_FAILED) return result;
  madvise(p, size, MADV_WILLNEED);
  if (napi_create_external_arraybuffer(env, p, size, unmap_file, (void *)(uintptr_t)size, &result) != napi_ok) {
    munmap(p, size);
    napi_get_null(env, &result);
  }
  return result;
}

static napi_value js_cpu_features(napi_env env, napi_callback_info info) {
  (void)info;
  const char *f = simd_features();
  while (*f == ' ') f++;
  napi_value v;
  napi_create_string_utf8(env, f, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* One pool per process; stopped when the last environment using it goes away. */
static atomic_int env_refs;
static void env_cleanup(void *arg) {
  (void)arg;
  if (atomic_fetch_sub(&env_refs, 1) == 1) pool_shutdown();
}

/* Refuse to load on a CPU without the ISA this build targets (a build copied elsewhere). */
static const char *missing_isa(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) return "avx512f";
#endif
#if defined(__AVX512BW__)
  if (!__builtin_cpu_supports("avx512bw")) return "avx512bw";
#endif
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2")) return "avx2";
#endif
#if defined(__FMA__)
  if (!__builtin_cpu_supports("fma")) return "fma";
#endif
#endif
  return NULL;
}

NAPI_MODULE_INIT() {
  const char *miss = missing_isa();
  if (miss) {
    char m[200];
    snprintf(m, sizeof m, "sdllm_native was built for a CPU with %s, which this CPU lacks: rebuild it (npm rebuild sdllm)", miss);
    napi_throw_error(env, NULL, m);
    return NULL;
  }
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"matmulF32", js_matmul_f32},
      {"matmulBF16", js_matmul_bf16},
      {"spikeLinearCounts", js_spike_counts},
      {"spikeLinearEvents", js_spike_events},
      {"spikeLinearCountsRows", js_spike_counts_rows},
      {"intMatmul", js_int_matmul},
      {"attentionF32", js_attention_f32},
      {"spikingAttentionCore", js_spiking_attention},
      {"spikeLinearCountsRows4", js_spike_counts_rows4},
      {"spikeLinearEvents4", js_spike_events4},
      {"matmulW4A16", js_matmul_w4a16},
      {"matmulW4A16Blocks", js_matmul_w4a16_blocks},
      {"packW4A16Blocks", js_pack_w4a16_blocks},
      {"intMatmul4", js_int_matmul4},
      {"spikeEncode", js_spike_encode},
      {"blockHadamard", js_block_hadamard},
      {"siluMul", js_silu_mul},
      {"rmsNorm", js_rms_norm},
      {"expArray", js_exp_array},
      {"streamBandwidth", js_stream_bandwidth},
      {"setThreads", js_set_threads},
      {"getThreads", js_get_threads},
      {"cpuFeatures", js_cpu_features},
      {"mapFile", js_map_file},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return NULL;
  }
  atomic_fetch_add(&env_refs, 1);
  napi_add_env_cleanup_hook(env, env_cleanup, NULL);
  return exports;
}
