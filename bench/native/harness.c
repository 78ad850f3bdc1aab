/*
 * The decode kernels timed from C, without Node: for machines where only a C compiler is at hand
 * (and to see the kernels without the engine around them). Each layer shape is timed cold --
 * every call reads the next of several copies of the weights, together larger than `--cold-mb`
 * -- and compared with the read bandwidth of the same threads.
 *
 *   cc -O3 -march=native -ffp-contract=off -fwrapv -pthread -Inative bench/native/harness.c \
 *      native/pool.c native/spike.c native/spike4.c native/int_matmul.c native/int4_matmul.c \
 *      native/w4a16_blocks.c native/matmul_f32.c native/bandwidth.c -lm -o harness
 *   ./harness [threads] [cold MB] [shapes]   (e.g. taskset -c 0,1 ./harness 2 1024 1.1B)
 *
 * `shapes`: only the shapes whose model name contains it (TinyLlama-1.1B, LLaMA-2-7B).
 *
 * Prints, per shape (LLaMA-2-7B and TinyLlama-1.1B linears): ms per call (median of 15) and GB/s
 * of weights read for the packed spike kernel at 0.2, 0.85 (about sdllm's real density) and 1
 * events per input (±1 counts), the dense int8 and int4 kernels, w4a16 and float32.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "pool.h"
#include "simd.h"


static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static uint32_t rs = 12345;
static uint32_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 17;
  rs ^= rs << 5;
  return rs;
}

#define REPS 15

typedef void (*call_fn)(int copy, void *ctx);

/* median seconds per call over REPS passes, each pass one call per copy */
static double timed(call_fn f, void *ctx, int copies) {
  double t[REPS];
  for (int c = 0; c < copies; c++) f(c, ctx); /* warm-up: first touch */
  for (int r = 0; r < REPS; r++) {
    const double t0 = now();
    for (int c = 0; c < copies; c++) f(c, ctx);
    t[r] = (now() - t0) / copies;
  }
  qsort(t, REPS, sizeof t[0], cmpd);
  return t[REPS / 2];
}

typedef struct {
  int m, n, G, nG;
  spike4_weights *w4;  /* per copy */
  w4b_weights *wb;     /* w4a16's decode blocks per copy */
  uint8_t **rowp;      /* int4 row-major per copy */
  int8_t **row8;       /* int8 row-major per copy */
  float **wf;          /* float per copy (fewer copies) */
  int fcopies;
  float **sc;         /* per copy: the group scales (spike4 reads them as dwT, the dense kernels as dw) */
  float **bsc;        /* per copy: w4a16's block-major scales */
  int32_t *c;
  float *x, *y;
  double scale;
} layer;

static void f_spike(int k, void *p) {
  layer *L = p;
  k_spike_counts_rows4(&L->w4[k], L->c, 1, &L->scale, L->y);
}
static void f_int4(int k, void *p) {
  layer *L = p;
  k_int_matmul4(L->rowp[k], L->sc[k], L->c, 1, L->m, L->n, L->G, &L->scale, L->y);
}
static void f_int8(int k, void *p) {
  layer *L = p;
  k_int_matmul(L->row8[k], L->sc[k], L->c, 1, L->m, L->n, L->G, &L->scale, L->y);
}
static void f_w4a16(int k, void *p) {
  layer *L = p;
  k_matmul_w4a16_blocks(&L->wb[k], L->x, L->y, 1);
}
static void f_f32(int k, void *p) {
  layer *L = p;
  k_matmul_f32(L->x, L->wf[k % L->fcopies], L->y, 1, L->n, L->m);
}

static void set_density(layer *L, double d) {
  for (int i = 0; i < L->n; i++) L->c[i] = (rnd() % 1000) < d * 1000 ? ((rnd() & 1) ? 1 : -1) : 0;
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2;
  const double coldMB = argc > 2 ? atof(argv[2]) : 1024;
  const char *only = argc > 3 ? argv[3] : NULL;
  pool_set_threads(threads);
  double bw[7];
  k_stream_bandwidth(1L << 30, 7, bw);
  qsort(bw, 7, sizeof bw[0], cmpd);
  printf("threads %d, read bandwidth %.1f GB/s (median of 7 passes over 1 GB), cold set %.0f MB\n\n", threads, bw[3], coldMB);
  printf("%-14s %-13s %17s %17s %17s %17s %17s %17s %17s\n", "model", "out x in", "spike4 d=0.2", "spike4 d=0.85", "spike4 d=1",
         "int8 dense", "int4 dense", "w4a16", "f32 dense");
  const struct { const char *model; int m, n; } shapes[] = {
      {"TinyLlama-1.1B", 2048, 2048}, {"TinyLlama-1.1B", 5632, 2048}, {"TinyLlama-1.1B", 2048, 5632},
      {"LLaMA-2-7B", 4096, 4096},     {"LLaMA-2-7B", 11008, 4096},    {"LLaMA-2-7B", 4096, 11008},
  };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    if (only && !strstr(shapes[s].model, only)) continue;
    layer L = {0};
    L.m = shapes[s].m;
    L.n = shapes[s].n;
    L.G = 128;
    L.nG = (L.n + L.G - 1) / L.G;
    const long cb = (L.m + 1) / 2, bytes4 = cb * L.n;
    int copies = (int)(coldMB * 1e6 / bytes4) + 1;
    L.w4 = calloc(copies, sizeof *L.w4);
    L.wb = calloc(copies, sizeof *L.wb);
    const long bytesB = (long)((L.m + 31) / 32) * ((L.n + 7) / 8) * 128;
    L.rowp = calloc(copies, sizeof *L.rowp);
    L.row8 = calloc(copies, sizeof *L.row8);
    /* every copy has its own scales, as every layer of a model has: they are read cold too */
    L.sc = calloc(copies, sizeof *L.sc);
    L.bsc = calloc(copies, sizeof *L.bsc);
    const long nsc = (long)L.nG * L.m, nbsc = (long)((L.m + 31) / 32) * L.nG * 32;
    for (int c = 0; c < copies; c++) {
      uint8_t *p = malloc(bytes4);
      for (long k = 0; k < bytes4; k++) p[k] = (uint8_t)rnd();
      L.sc[c] = malloc(sizeof(float) * nsc);
      for (long k = 0; k < nsc; k++) L.sc[c][k] = 0.01f + (rnd() % 100) * 1e-4f;
      L.bsc[c] = malloc(sizeof(float) * nbsc);
      for (long k = 0; k < nbsc; k++) L.bsc[c][k] = 0.01f + (rnd() % 100) * 1e-4f;
      L.w4[c] = (spike4_weights){p, L.sc[c], L.m, L.n, L.G};
      uint8_t *b = malloc(bytesB);
      for (long k = 0; k < bytesB; k++) b[k] = (uint8_t)rnd();
      L.wb[c] = (w4b_weights){b, L.bsc[c], L.m, L.n, L.G};
      const long rb = (L.n + 1) / 2;
      L.rowp[c] = malloc(rb * L.m);
      memcpy(L.rowp[c], p, rb * L.m < bytes4 ? rb * L.m : bytes4);
    }
    /* int8 weights are twice the bytes: half the copies cover the same cold set */
    const int c8 = copies / 2 > 1 ? copies / 2 : 1;
    for (int c = 0; c < c8; c++) {
      L.row8[c] = malloc((long)L.m * L.n);
      for (long k = 0; k < (long)L.m * L.n; k++) L.row8[c][k] = (int8_t)(rnd() % 15) - 7;
    }
    L.fcopies = (int)(coldMB * 1e6 / (4.0 * L.m * L.n)) + 1;
    L.wf = calloc(L.fcopies, sizeof *L.wf);
    for (int c = 0; c < L.fcopies; c++) {
      L.wf[c] = malloc(sizeof(float) * L.m * L.n);
      for (long k = 0; k < (long)L.m * L.n; k++) L.wf[c][k] = (float)((int)(rnd() % 2001) - 1000) * 1e-4f;
    }
    L.c = malloc(sizeof(int32_t) * L.n);
    L.x = malloc(sizeof(float) * L.n);
    L.y = malloc(sizeof(float) * L.m);
    for (int i = 0; i < L.n; i++) L.x[i] = (float)((int)(rnd() % 2001) - 1000) * 1e-3f;
    L.scale = 0.1;
    set_density(&L, 0.2);
    const double t02 = timed(f_spike, &L, copies);
    set_density(&L, 0.85);
    const double t085 = timed(f_spike, &L, copies);
    set_density(&L, 1.0);
    const double t1 = timed(f_spike, &L, copies);
    const double ti4 = timed(f_int4, &L, copies);
    const double ti8 = timed(f_int8, &L, c8);
    const double tw = timed(f_w4a16, &L, copies);
    const double tf = timed(f_f32, &L, L.fcopies);
    const double b4 = bytes4 / 1e9, b8 = (double)L.m * L.n / 1e9, bf = 4.0 * L.m * L.n / 1e9;
    char shape[32];
    snprintf(shape, sizeof shape, "%d x %d", L.m, L.n);
    printf("%-14s %-13s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s %7.3f ms %5.1f GB/s\n",
           shapes[s].model, shape, t02 * 1e3, 0.2 * b4 / t02, t085 * 1e3, 0.85 * b4 / t085, t1 * 1e3, b4 / t1, ti8 * 1e3, b8 / ti8, ti4 * 1e3, b4 / ti4, tw * 1e3,
           b4 / tw, tf * 1e3, bf / tf);
    fflush(stdout);
    for (int c = 0; c < copies; c++) {
      free((void *)L.w4[c].packed);
      free((void *)L.wb[c].blocks);
      free(L.rowp[c]);
      free(L.sc[c]);
      free(L.bsc[c]);
    }
    for (int c = 0; c < c8; c++) free(L.row8[c]);
    for (int c = 0; c < L.fcopies; c++) free(L.wf[c]);
    free(L.sc), free(L.bsc), free(L.wb), free(L.w4), free(L.rowp), free(L.row8), free(L.wf), free(L.c), free(L.x), free(L.y);
  }
  pool_shutdown();
  return 0;
}
