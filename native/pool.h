/*
 * A persistent thread pool for the kernels (pthreads), with dynamic chunk scheduling.
 *
 * pool_run(fn, ctx, nchunks, nt) calls fn(ctx, k) once for every chunk k in [0, nchunks), on the
 * calling thread and up to nt - 1 workers, and returns when all chunks are done. Chunks are
 * claimed from an atomic counter, so a worker that is descheduled (2 cores shared with the
 * rest of the machine) never holds the call up: the caller takes the remaining chunks itself
 * and waits only for chunks already being computed. Workers spin for up to 200 µs after each job
 * (the back-to-back kernel calls of a layer then start without a sleep/wake round trip), then
 * block on a condition variable; they spin only while no thread on the machine waits for a CPU
 * (see spin_allowed in pool.c: a spinning worker would otherwise slow the caller and everyone
 * else). If the pool is busy (kernels called from two JS threads at once), the second call runs
 * its chunks single-threaded: correct, never blocking.
 */
#ifndef SDLLM_POOL_H
#define SDLLM_POOL_H

#include <stddef.h>

typedef void (*pool_fn)(void *ctx, int chunk);

/* Sets the number of threads kernels use (the caller included); clamps to [1, POOL_MAX_THREADS]. */
void pool_set_threads(int n);
int pool_get_threads(void);
/* Runs fn over chunks 0 .. nchunks-1 with at most min(nt, pool_get_threads()) threads. */
void pool_run(pool_fn fn, void *ctx, int nchunks, int nt);
/* Runs fa over chunks 0 .. na-1, then fb over 0 .. nb-1 once every fa chunk is done, as one job:
   the workers are woken once, not twice (a sleeping worker takes tens of µs to wake). Chunks
   are claimed in order, so a thread that reaches fb waits only for fa chunks still running. */
void pool_run_phases(pool_fn fa, int na, pool_fn fb, int nb, void *ctx, int nt);
/* Stops and joins the workers (env cleanup); the pool restarts lazily on the next run. */
void pool_shutdown(void);
/* Scratch of at least `bytes` for the calling thread (64-byte aligned), kept and reused across calls so
   that chunk functions allocate only when they first need more; NULL when out of memory. */
void *pool_scratch(size_t bytes);

#define POOL_MAX_THREADS 64

#endif
