/* The kernels, in plain C over raw pointers (N-API glue in sdllm_native.c). */
#ifndef SDLLM_KERNELS_H
#define SDLLM_KERNELS_H

#include <stdint.h>

/* y[r, o] = sum_i x[r, i] * w[o, i]; float32, SIMD sums in float32 lanes (tolerance vs ts). */
void k_matmul_f32(const float *x, const float *w, float *y, int rows, int inF, int outF);
/* The same on raw bfloat16 weights (w row-major [outF, inF], value = the float32 of bits w << 16):
   bit-identical to k_matmul_f32 on the widened matrix (same tiles, same order of sums). */
void k_matmul_bf16(const float *x, const uint16_t *w, float *y, int rows, int inF, int outF);

typedef struct {
  const int8_t *qT;  /* column-major [n, m] */
  const float *dwT;  /* group-major [nGroups, m] */
  int m, n, G;
} spike_weights;

/* Batched counts: row r reads c[r*cStride ..], writes y[r*yStride ..] = scales[r] * ...
   Bit-identical to the ts reference. Returns 0, or -1 when out of memory. */
int k_spike_counts_rows(const spike_weights *w, const int32_t *c, long cStride, int rows,
                        const double *scales, float *y, long yStride);
/* Events: trains [T, n] of {-1, 0, +1} (sign taken, as the reference). Returns 0, or -1 when out
   of memory or with more than 2^31 - 1 events. */
int k_spike_events(const spike_weights *w, const int8_t *trains, int T, double scale, float *y);

/* Dense int8: W row-major [m, n], dw row-major [m, nGroups]; same numbers as the counts kernel. */
int k_int_matmul(const int8_t *W, const float *dw, const int32_t *c, int rows, int m, int n, int G,
                 const double *scales, float *y);

/* Float attention: q/out [rows, heads*hd], K/V [positions, kvHeads*hd]; window <= 0: none. Returns 0, or -1 when out of memory. */
int k_attention_f32(const float *q, const float *K, const float *V, float *out, int rows, int start, int heads,
                    int kvHeads, int hd, int window);

/* Spiking attention's integer core: cq [rows*heads, hd], thetaQ [rows*heads], kq/vq [positions, kvHeads*hd],
   dk/dv [positions, kvHeads]; hist [levels + 1] accumulates probability counts. Returns 0, or -1 when out of memory. */
int k_spiking_attention(const int32_t *cq, const float *thetaQ, const int8_t *kq, const float *dk, const int8_t *vq,
                        const float *dv, float *out, int rows, int start, int heads, int kvHeads, int hd, int window,
                        int levels, double *hist);

/* 4-bit weights kept packed: column-major, ceil(m/2) bytes per column, lower nibble = even row,
   two's complement; dwT group-major [nGroups, m]. */
typedef struct {
  const uint8_t *packed;
  const float *dwT;
  int m, n, G;
} spike4_weights;

/* Counts over a batch (c [rows, n], y [rows, m]); bit-identical to k_spike_counts_rows on the
   unpacked weights. Returns 0, or -1 when out of memory. */
int k_spike_counts_rows4(const spike4_weights *w, const int32_t *c, int rows, const double *scales, float *y);
/* Events on packed weights (as k_spike_events). */
int k_spike_events4(const spike4_weights *w, const int8_t *trains, int T, double scale, float *y);
/* w4a16: y [rows, m] = x [rows, n] times the dequantized packed weights; float32 sums. */
void k_matmul_w4a16(const spike4_weights *w, const float *x, float *y, int rows);
/* 4-bit weights in decode blocks of 32 outputs x 8 inputs, scales block-major [ceil(m/32)][nGroups][32]
   (src/kernels/ts/w4a16-blocks.ts). */
typedef struct {
  const uint8_t *blocks;
  const float *scales;
  int m, n, G;
} w4b_weights;
/* w4a16 on decode blocks: y [rows, m] = x [rows, n] times the weights, to a float32 GEMV's tolerance.
   Returns 0, or -1 when out of memory. */
int k_matmul_w4a16_blocks(const w4b_weights *w, const float *x, float *y, int rows);
/* blocks <- the decode blocks of column-major packed weights (bit-identical to the ts reference). */
void k_pack_w4a16_blocks(const uint8_t *packed, int m, int n, uint8_t *blocks);
/* Dense int4 baseline: W row-major packed [m, ceil(n/2)], dw row-major [m, nGroups]. */
int k_int_matmul4(const uint8_t *W, const float *dw, const int32_t *c, int rows, int m, int n, int G,
                  const double *scales, float *y);
/* γ-SQP step 1 over x [rows, n]: thetas[r] from the rule (ENC_*: param = γ, k or θ), counts
   [rows, n] = clamp(round_half_even(x / θ), -L, L); L may be INFINITY. Returns 0, or -1 when out of memory. */
enum { ENC_QUANTILE = 0, ENC_ABSMAX = 1, ENC_MEANABS = 2, ENC_STATIC = 3 };
int k_spike_encode(const float *x, int rows, int n, int rule, double param, double L, int32_t *counts, double *thetas);
/* x [rows, n] ← x·diag(scale), then an unnormalized Walsh–Hadamard transform of each block
   (a power of two dividing n), in place. */
void k_block_hadamard(float *x, int rows, int n, int block, const float *scale);
/* gate[i] ← float32((g / (1 + exp(-g))) · up[i]) in float64, g = gate[i]: SwiGLU, bit-identical to the ts
   reference, exp being V8's Math.exp. */
void k_silu_mul(float *gate, const float *up, long n);
/* y[i] = exp(x[i]) bit for bit as V8's Math.exp, through k_silu_mul's exp (vector lanes where the CPU
   has them): for the conformance tests. */
void k_exp_array(const double *x, double *y, long n);
/* RMSNorm of x [rows, d] into y: bit-identical to the ts reference (src/kernels/ts/norm.ts). */
void k_rms_norm(const float *x, const float *w, float *y, int rows, int d, double eps);
/* Read bandwidth (GB/s) of `reps` passes over a `bytes` buffer with the pool's threads. */
int k_stream_bandwidth(long bytes, int reps, double *gbps);

#endif
