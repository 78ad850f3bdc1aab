#define _GNU_SOURCE
#include "pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long an idle worker spins before sleeping. */
#define SPIN_NS 200000L

/* state: OPEN bit (a job accepts workers) | number of workers inside the job */
#define OPEN 0x80000000u
#define COUNT 0x7fffffffu

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t workers[POOL_MAX_THREADS];
static int nworkers = 0;     /* started workers */
static int nthreads_cfg = 1; /* configured thread count, caller included */

static atomic_uint gen;      /* bumped per job: wakes the workers */
static atomic_uint state;
static atomic_int sleepers;  /* workers blocked (or about to block) on cv */
static atomic_int stop_flag;
static atomic_flag busy = ATOMIC_FLAG_INIT;

/* the current job: written by the caller while state is closed and empty */
static pool_fn job_fn;
static void *job_ctx;
static int job_nchunks;
static unsigned job_max_workers;
static atomic_int job_next;

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/*
 * Whether an idle worker may spin now. A spinning worker takes a CPU: that costs nothing while
 * every runnable thread has one, and slows everything down when a thread (the JavaScript that
 * calls the kernels, V8's helpers, another process) waits for a CPU. Linux reports the threads
 * runnable at this instant, machine-wide, in /proc/loadavg ("0.52 0.80 0.97 2/78 1165": 2, the
 * asking worker and the caller included), so a worker spins only while that is at most the
 * number of CPUs the process may use (its affinity mask: a process confined to fewer CPUs than
 * the machine has then spins only while the whole machine is that quiet), and asks again every
 * SPIN_CHECK_NS. A worker that spins meets the next kernel call of a layer without a wake-up,
 * which on this 2-core VM takes 26-60 µs (bench/native/pool_wake.c) and left the second core
 * idle at the start of every call: the 1.1B spike kernel went from 25.5 to 21.9-23.6 ms per
 * token. Where /proc/loadavg cannot be read, a worker spins only with two cores to spare beyond
 * the pool and a 1-minute load average below cores - threads: without the instantaneous count, a
 * busy machine cannot be told from a quiet one, and beside other work spinning decoded 1.2-1.6x
 * slower on 2 cores.
 */
#define SPIN_CHECK_NS 50000L
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;
static int loadavg_fd = -1;   /* /proc/loadavg, or -1 */
static long usable_cpus = 0;  /* CPUs of the process's affinity mask (online CPUs where unknown) */

static void spin_init(void) {
  loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) usable_cpus = CPU_COUNT(&set);
#endif
  if (usable_cpus <= 0) usable_cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

static int spin_allowed(void) {
  pthread_once(&spin_once, spin_init);
  const long cpus = usable_cpus;
  if (cpus <= 0) return 0;
  char buf[128];
  const ssize_t len = loadavg_fd >= 0 ? pread(loadavg_fd, buf, sizeof buf - 1, 0) : -1;
  if (len > 0) {
    buf[len] = 0;
    /* the fourth field: "runnable/total" */
    const char *p = buf;
    for (int f = 0; f < 3 && p; f++) {
      p = strchr(p, ' ');
      if (p) p++;
    }
    if (p) return atol(p) <= cpus;
  }
  double load;
  return cpus >= nthreads_cfg + 2 && getloadavg(&load, 1) == 1 && load < (double)(cpus - nthreads_cfg);
}

static void run_chunks(void) {
  for (;;) {
    const int k = atomic_fetch_add_explicit(&job_next, 1, memory_order_relaxed);
    if (k >= job_nchunks) return;
    job_fn(job_ctx, k);
  }
}

static void *worker_main(void *arg) {
  unsigned seen = (unsigned)(unsigned long)arg;
  for (;;) {
    unsigned g = atomic_load_explicit(&gen, memory_order_acquire);
    if (g == seen) {
      long check = now_ns();
      const long t0 = check;
      int k = 0, spin = spin_allowed();
      while (spin && (g = atomic_load_explicit(&gen, memory_order_acquire)) == seen && !atomic_load(&stop_flag)) {
        CPU_RELAX();
        if (++k == 64) {
          k = 0;
          const long t = now_ns();
          if (t - t0 > SPIN_NS) break;
          if (t - check > SPIN_CHECK_NS) {
            check = t;
            spin = spin_allowed();
          }
        }
      }
      if (g == seen && !atomic_load(&stop_flag)) {
        pthread_mutex_lock(&mu);
        atomic_fetch_add(&sleepers, 1);
        while ((g = atomic_load(&gen)) == seen && !atomic_load(&stop_flag)) pthread_cond_wait(&cv, &mu);
        atomic_fetch_sub(&sleepers, 1);
        pthread_mutex_unlock(&mu);
      }
    }
    if (atomic_load(&stop_flag)) return NULL;
    seen = g;
    /* join the open job, if it still wants workers */
    unsigned s = atomic_load(&state);
    int joined = 0;
    while ((s & OPEN) && (s & COUNT) < job_max_workers) {
      if (atomic_compare_exchange_weak(&state, &s, s + 1)) {
        joined = 1;
        break;
      }
    }
    if (!joined) continue;
    run_chunks();
    atomic_fetch_sub_explicit(&state, 1, memory_order_release);
  }
}

void pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > POOL_MAX_THREADS) n = POOL_MAX_THREADS;
  /* fewer threads: stop the surplus workers (all of them; restarted lazily) */
  if (n < nworkers + 1) pool_shutdown();
  nthreads_cfg = n;
}

int pool_get_threads(void) { return nthreads_cfg; }

void pool_run(pool_fn fn, void *ctx, int nchunks, int nt) {
  if (nt > nthreads_cfg) nt = nthreads_cfg;
  if (nt > nchunks) nt = nchunks;
  if (nt <= 1 || atomic_flag_test_and_set(&busy)) {
    for (int k = 0; k < nchunks; k++) fn(ctx, k);
    return;
  }
  while (nworkers < nt - 1) {
    if (pthread_create(&workers[nworkers], NULL, worker_main, (void *)(unsigned long)atomic_load(&gen)) != 0) break;
    nworkers++;
  }
  job_fn = fn;
  job_ctx = ctx;
  job_nchunks = nchunks;
  job_max_workers = (unsigned)(nt - 1);
  atomic_store_explicit(&job_next, 0, memory_order_relaxed);
  atomic_store(&state, OPEN); /* publishes the job (seq_cst) */
  atomic_fetch_add(&gen, 1);  /* seq_cst: ordered against the read of sleepers below */
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  run_chunks();
  /* close the job, then wait for the workers still inside (computing their last chunk) */
  atomic_fetch_and(&state, ~OPEN);
  while (atomic_load_explicit(&state, memory_order_acquire) & COUNT) CPU_RELAX();
  atomic_flag_clear(&busy);
}

static _Thread_local void *tl_scratch;
static _Thread_local size_t tl_scratch_cap;

void *pool_scratch(size_t bytes) {
  if (bytes > tl_scratch_cap) {
    free(tl_scratch);
    tl_scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    tl_scratch_cap = tl_scratch ? bytes : 0;
  }
  return tl_scratch;
}

void pool_shutdown(void) {
  while (atomic_flag_test_and_set(&busy)) CPU_RELAX();
  atomic_store(&stop_flag, 1);
  pthread_mutex_lock(&mu);
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
  nworkers = 0;
  atomic_store(&stop_flag, 0);
  atomic_flag_clear(&busy);
}

typedef struct {
  pool_fn fa, fb;
  int na;
  void *ctx;
  atomic_int done; /* fa chunks finished */
} phases;

static void phase_chunk(void *p, int k) {
  phases *P = (phases *)p;
  if (k < P->na) {
    P->fa(P->ctx, k);
    atomic_fetch_add_explicit(&P->done, 1, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&P->done, memory_order_acquire) < P->na) CPU_RELAX();
  P->fb(P->ctx, k - P->na);
}

void pool_run_phases(pool_fn fa, int na, pool_fn fb, int nb, void *ctx, int nt) {
  phases P = {fa, fb, na, ctx, 0};
  pool_run(phase_chunk, &P, na + nb, nt);
}
