/*
 * Float attention products (the ts reference is src/kernels/ts/attention.ts): scores, causal /
 * sliding-window softmax and P·V per query row and head. Sums in float32 SIMD lanes (the
 * reductions are marked `omp simd`, compiled with -fopenmp-simd: vectorised without an OpenMP
 * runtime), so results agree with ts to a tolerance, not bit for bit. Threads take (row, head)
 * pairs in chunks (pool.h); each chunk has its own score buffer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"

typedef struct {
  const float *q, *K, *V;
  float *out;
  int rows, start, heads, kvHeads, hd, window;
  int pairsPerChunk;
  int failed;
} att_ctx;

static void att_chunk(void *vctx, int chunk) {
  att_ctx *c = (att_ctx *)vctx;
  const int hd = c->hd, qd = c->heads * hd, kvd = c->kvHeads * hd, group = c->heads / c->kvHeads;
  const float scale = 1.0f / sqrtf((float)hd);
  const int total = c->rows * c->heads;
  const int p0 = chunk * c->pairsPerChunk, p1 = p0 + c->pairsPerChunk < total ? p0 + c->pairsPerChunk : total;
  float *scores = (float *)malloc(sizeof(float) * (size_t)(c->start + c->rows));
  if (!scores) {
    c->failed = 1;
    return;
  }
  for (int p = p0; p < p1; p++) {
    const int r = p / c->heads, h = p % c->heads;
    const int pos = c->start + r;
    const int first = c->window > 0 && pos - c->window + 1 > 0 ? pos - c->window + 1 : 0;
    const float *qv = c->q + (size_t)r * qd + (size_t)h * hd;
    const int ko = (h / group) * hd;
    float *o = c->out + (size_t)r * qd + (size_t)h * hd;
    float max = -INFINITY;
    for (int j = first; j <= pos; j++) {
      const float *kj = c->K + (size_t)j * kvd + ko;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int i = 0; i < hd; i++) dot += qv[i] * kj[i];
      const float s = dot * scale;
      scores[j] = s;
      if (s > max) max = s;
    }
    float sum = 0.0f;
    for (int j = first; j <= pos; j++) {
      const float e = expf(scores[j] - max);
      scores[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    memset(o, 0, sizeof(float) * (size_t)hd);
    for (int j = first; j <= pos; j++) {
      const float pj = scores[j] * inv;
      const float *vj = c->V + (size_t)j * kvd + ko;
#pragma omp simd
      for (int i = 0; i < hd; i++) o[i] += pj * vj[i];
    }
  }
  free(scores);
}

int k_attention_f32(const float *q, const float *K, const float *V, float *out, int rows, int start, int heads,
                    int kvHeads, int hd, int window) {
  att_ctx c = {q, K, V, out, rows, start, heads, kvHeads, hd, window, 0, 0};
  const int total = rows * heads;
  /* About 64 chunks per call balances the triangular work (late rows attend to more keys). */
  c.pairsPerChunk = total / 64 > 0 ? total / 64 : 1;
  const int chunks = (total + c.pairsPerChunk - 1) / c.pairsPerChunk;
  /* Work ~ keys x hd per pair: stay on one thread for small calls (decode of short contexts). */
  const double work = (double)total * (start + rows) * hd;
  pool_run(att_chunk, &c, chunks, work < 2e5 ? 1 : POOL_MAX_THREADS);
  return c.failed ? -1 : 0;
}
