/*
 * How this host's memory read bandwidth moves over time, and whether it depends on the buffer:
 * B buffers of 256 MB are allocated and written once, then every 4 s each is read by two threads
 * (best of 3 reads) and so is a freshly allocated one. A row per round, GB/s per buffer.
 *
 *   cc -O2 -march=native -pthread bench/native/bw_over_time.c -o bw_over_time && ./bw_over_time 8 40
 *
 * It answered a question of the benchmarks (docs/PERFORMANCE.md, sixth round): the bursts that the
 * bandwidth probe caught without the decode seeing them are moments of a few seconds in which
 * every buffer reads faster, not buffers that happen to sit in faster memory.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MB (1L << 20)
typedef uint64_t v8 __attribute__((vector_size(64)));

typedef struct {
  const uint64_t *p;
  long words;
  uint64_t sum;
} part;

/* Sums 64-byte vectors with an L2 prefetch 6 KB ahead, as the decode kernels stream weights. */
static void *read_part(void *arg) {
  part *a = (part *)arg;
  v8 s0 = {0}, s1 = {0};
  for (long i = 0; i + 16 <= a->words; i += 16) {
    __builtin_prefetch((const char *)(a->p + i) + 6144, 0, 2);
    v8 x, y;
    memcpy(&x, a->p + i, 64);
    memcpy(&y, a->p + i + 8, 64);
    s0 += x;
    s1 += y;
  }
  s0 += s1;
  for (int l = 0; l < 8; l++) a->sum += s0[l];
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* GB/s of the best of three two-threaded reads of buf. */
static double read_gbps(const uint64_t *buf, long words) {
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    part a = {buf, words / 2, 0}, b = {buf + words / 2, words / 2, 0};
    pthread_t t;
    const double t0 = now();
    pthread_create(&t, NULL, read_part, &b);
    read_part(&a);
    pthread_join(t, NULL);
    const double g = words * 8 / (now() - t0) / 1e9;
    if (a.sum + b.sum == 42) puts(""); /* keeps the sums alive */
    if (g > best) best = g;
  }
  return best;
}

static uint64_t *filled(long words, uint64_t seed) {
  uint64_t *b = (uint64_t *)malloc(words * 8);
  if (!b) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (long i = 0; i < words; i++) b[i] = i * seed;
  return b;
}

int main(int argc, char **argv) {
  const int nb = argc > 1 ? atoi(argv[1]) : 8, rounds = argc > 2 ? atoi(argv[2]) : 40;
  if (nb < 1 || rounds < 1) {
    fprintf(stderr, "usage: bw_over_time [buffers=8] [rounds=40]\n");
    return 2;
  }
  const long words = 256 * MB / 8;
  uint64_t **bufs = (uint64_t **)malloc(nb * sizeof *bufs);
  for (int k = 0; k < nb; k++) bufs[k] = filled(words, k + 1);
  for (int r = 0; r < rounds; r++) {
    printf("round %2d:", r);
    for (int k = 0; k < nb; k++) printf(" %5.1f", read_gbps(bufs[k], words));
    uint64_t *fresh = filled(words, 7);
    printf(" | fresh %5.1f\n", read_gbps(fresh, words));
    free(fresh);
    fflush(stdout);
    struct timespec pause = {4, 0};
    nanosleep(&pause, NULL);
  }
  return 0;
}
