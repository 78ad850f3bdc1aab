/*
 * The integer core of spiking attention (ts reference: src/kernels/ts/spiking-attention.ts).
 * Integer score and value sums are exact; softmax uses expf and float sums, so outputs agree
 * with ts to a tolerance. Threads take (row, head) pairs in chunks; each chunk has its own
 * scratch and probability-count histogram, merged at the end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"

typedef struct {
  const int32_t *cq;
  const float *thetaQ;
  const int8_t *kq, *vq;
  const float *dk, *dv;
  float *out;
  int rows, start, heads, kvHeads, hd, window, levels;
  int pairsPerChunk;
  double *hists; /* [chunks, levels + 1] */
  int failed;
} satt_ctx;

/* round(x / scale) half to even, clamped to [0, qmax]; scale 0 gives 0 (src/quant/rounding.ts). */
static inline int quantize_unsigned(float x, float scale, int qmax) {
  if (scale == 0.0f) return 0;
  float r = nearbyintf(x / scale);
  return r < 0.0f ? 0 : r > (float)qmax ? qmax : (int)r;
}

static void satt_chunk(void *vctx, int chunk) {
  satt_ctx *c = (satt_ctx *)vctx;
  const int hd = c->hd, qd = c->heads * hd, kvd = c->kvHeads * hd, group = c->heads / c->kvHeads, H = c->kvHeads;
  const float scale = 1.0f / sqrtf((float)hd);
  const int total = c->rows * c->heads;
  const int p0 = chunk * c->pairsPerChunk, p1 = p0 + c->pairsPerChunk < total ? p0 + c->pairsPerChunk : total;
  const int positions = c->start + c->rows;
  float *scores = (float *)malloc(sizeof(float) * (size_t)positions * 2);
  int32_t *acc = (int32_t *)malloc(sizeof(int32_t) * (size_t)hd);
  if (!scores || !acc) {
    free(scores);
    free(acc);
    c->failed = 1;
    return;
  }
  float *w = scores + positions;
  double *hist = c->hists + (size_t)chunk * (size_t)(c->levels + 1);
  for (int p = p0; p < p1; p++) {
    const int r = p / c->heads, h = p % c->heads;
    const int pos = c->start + r;
    const int first = c->window > 0 && pos - c->window + 1 > 0 ? pos - c->window + 1 : 0;
    const int32_t *q = c->cq + (size_t)p * hd;
    const int kh = h / group;
    const float tq = c->thetaQ[p];
    float max = -INFINITY;
    for (int j = first; j <= pos; j++) {
      const int8_t *k = c->kq + (size_t)j * kvd + (size_t)kh * hd;
      int32_t a = 0;
#pragma omp simd reduction(+ : a)
      for (int i = 0; i < hd; i++) a += q[i] * (int32_t)k[i];
      const float s = (float)((float)(tq * c->dk[(size_t)j * H + kh]) * (float)a) * scale;
      scores[j] = s;
      if (s > max) max = s;
    }
    double sum = 0.0;
    for (int j = first; j <= pos; j++) {
      const float e = expf(scores[j] - max);
      scores[j] = e;
      sum += e;
    }
    float wmax = 0.0f;
    for (int j = first; j <= pos; j++) {
      const float wj = (float)(scores[j] / sum) * c->dv[(size_t)j * H + kh];
      w[j] = wj;
      if (wj > wmax) wmax = wj;
    }
    const float thetaP = wmax / (float)c->levels;
    memset(acc, 0, sizeof(int32_t) * (size_t)hd);
    for (int j = first; j <= pos; j++) {
      const int cj = quantize_unsigned(w[j], thetaP, c->levels);
      hist[cj] += 1.0;
      if (!cj) continue;
      const int8_t *v = c->vq + (size_t)j * kvd + (size_t)kh * hd;
#pragma omp simd
      for (int i = 0; i < hd; i++) acc[i] += cj * (int32_t)v[i];
    }
    float *o = c->out + (size_t)r * qd + (size_t)h * hd;
    for (int i = 0; i < hd; i++) o[i] = thetaP * (float)acc[i];
  }
  free(scores);
  free(acc);
}

int k_spiking_attention(const int32_t *cq, const float *thetaQ, const int8_t *kq, const float *dk, const int8_t *vq,
                        const float *dv, float *out, int rows, int start, int heads, int kvHeads, int hd, int window,
                        int levels, double *hist) {
  satt_ctx c = {cq, thetaQ, kq, vq, dk, dv, out, rows, start, heads, kvHeads, hd, window, levels, 0, NULL, 0};
  const int total = rows * heads;
  c.pairsPerChunk = total / 64 > 0 ? total / 64 : 1;
  const int chunks = (total + c.pairsPerChunk - 1) / c.pairsPerChunk;
  c.hists = (double *)calloc((size_t)chunks * (size_t)(levels + 1), sizeof(double));
  if (!c.hists) return -1;
  const double work = (double)total * (start + rows) * hd;
  pool_run(satt_chunk, &c, chunks, work < 2e5 ? 1 : POOL_MAX_THREADS);
  for (int k = 0; k < chunks; k++)
    for (int v = 0; v <= levels; v++) hist[v] += c.hists[(size_t)k * (size_t)(levels + 1) + v];
  free(c.hists);
  return c.failed ? -1 : 0;
}
