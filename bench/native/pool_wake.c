/*
 * How long a pool worker takes to join a job: the time from pool_run's start to the worker's
 * first chunk, over calls 50 µs apart (the worker still spins, when pool.c lets it) and 1 ms
 * apart (it has gone to sleep on the condition variable). Prints the 10th, 50th and 90th
 * percentiles in µs.
 *
 *   cc -O2 -pthread -Inative bench/native/pool_wake.c native/pool.c -o pool_wake && ./pool_wake
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pool.h"

#define CALLS 2000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static _Thread_local int is_caller;
static double t_worker;
static volatile double sink;

static void chunk(void *ctx, int k) {
  (void)ctx;
  (void)k;
  if (!is_caller && t_worker == 0) t_worker = now();
  double s = 0;
  for (int i = 0; i < 20000; i++) s += i * 1e-9; /* ~16 µs of work per chunk */
  sink = s;
}

static int cmpd(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* the latencies of CALLS calls gap_us apart, printed; 0 if the worker joined at all */
static int measure(long gap_us) {
  static double lat[CALLS];
  int n = 0;
  for (int i = 0; i < CALLS; i++) {
    const struct timespec gap = {0, gap_us * 1000};
    nanosleep(&gap, NULL);
    t_worker = 0;
    const double t0 = now();
    pool_run(chunk, NULL, 64, 2);
    if (t_worker > 0) lat[n++] = (t_worker - t0) * 1e6;
  }
  if (n == 0) {
    printf("calls %ld µs apart: the worker never joined in %d calls\n", gap_us, CALLS);
    return 1;
  }
  qsort(lat, n, sizeof lat[0], cmpd);
  printf("calls %ld µs apart: worker joined in %d of %d calls; wake latency µs: p10 %.1f, median %.1f, p90 %.1f\n",
         gap_us, n, CALLS, lat[n / 10], lat[n / 2], lat[n * 9 / 10]);
  return 0;
}

int main(void) {
  is_caller = 1;
  pool_set_threads(2);
  const int rc = measure(50) | measure(1000);
  pool_shutdown();
  return rc;
}
