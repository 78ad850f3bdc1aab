/*
 * Memory read bandwidth, for the benchmarks' "fraction of the bandwidth bound": the kernel
 * threads (pool.h) sum 64-bit words of a buffer much larger than the caches, in chunks they claim
 * dynamically, as the decode kernels stream their weights, prefetching into L2 ahead of the
 * loads as the kernels do (without it this read 15-30 % less than the w4a16 kernel does, so the
 * "bound" was not one). The buffer is allocated with malloc (ordinary pages, like the JS-owned
 * weights) and first written by the pool as well.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"

#define BW_CHUNK (1L << 20)
#define BW_PF_BYTES 6144 /* as far ahead as native/w4a16_blocks.c prefetches */

typedef struct {
  uint64_t *buf;
  long words;
  int write;
  uint64_t sink;
} bw_job;

typedef uint64_t vu64 __attribute__((vector_size(SIMD_BYTES)));

static void bw_chunk(void *ctx, int k) {
  bw_job *J = (bw_job *)ctx;
  const long per = BW_CHUNK / 8;
  const long w0 = (long)k * per, w1 = w0 + per < J->words ? w0 + per : J->words;
  if (J->write) {
    for (long i = w0; i < w1; i++) J->buf[i] = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    return;
  }
  const int lanes = SIMD_BYTES / 8;
  vu64 a = {0}, b = {0}, c = {0}, d = {0};
  long i = w0;
  for (; i + 4 * lanes <= w1; i += 4 * lanes) {
    for (int b = 0; b < 4 * SIMD_BYTES; b += 64) /* into L2, one per line */
      __builtin_prefetch((const char *)(J->buf + i) + BW_PF_BYTES + b, 0, 2);
    vu64 x, y, z, t;
    memcpy(&x, J->buf + i, sizeof x);
    memcpy(&y, J->buf + i + lanes, sizeof y);
    memcpy(&z, J->buf + i + 2 * lanes, sizeof z);
    memcpy(&t, J->buf + i + 3 * lanes, sizeof t);
    a += x;
    b += y;
    c += z;
    d += t;
  }
  a += b + c + d;
  uint64_t s = 0;
  for (int l = 0; l < lanes; l++) s += a[l];
  for (; i < w1; i++) s += J->buf[i];
  __atomic_fetch_add(&J->sink, s, __ATOMIC_RELAXED); /* keeps the loads alive */
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int k_stream_bandwidth(long bytes, int reps, double *gbps) {
  bw_job *J = (bw_job *)calloc(1, sizeof(bw_job));
  if (!J) return -1;
  J->words = bytes / 8;
  J->buf = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(J->words > 0 ? J->words : 1));
  if (!J->buf) {
    free(J);
    return -1;
  }
  const int nchunks = (int)((J->words * 8 + BW_CHUNK - 1) / BW_CHUNK);
  const int nt = pool_get_threads();
  J->write = 1;
  pool_run(bw_chunk, J, nchunks, nt);
  J->write = 0;
  for (int r = 0; r < reps; r++) {
    const double t0 = now_s();
    pool_run(bw_chunk, J, nchunks, nt);
    const double dt = now_s() - t0;
    gbps[r] = dt > 0 ? (double)J->words * 8 / dt / 1e9 : 0;
  }
  free(J->buf);
  free(J);
  return 0;
}
