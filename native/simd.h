/*
 * Compile-time SIMD selection. The addon is built on the user's machine with -march=native
 * (binding.gyp; SDLLM_MARCH overrides), so the compiler's feature macros say what this CPU has:
 *
 *   AVX-512 (F + BW [+ VNNI])  512-bit paths (x86-64: Zen 4, Ice Lake and later servers)
 *   AVX2 + FMA                 256-bit paths (x86-64 since Haswell / Zen 1)
 *   otherwise                  GCC/Clang generic vectors of 16 bytes (SSE2, NEON, or scalar)
 *
 * Integer spike kernels use GCC generic vectors (vector_size) of the selected width, so one
 * source serves every ISA; float matmul and the dense int8 kernel use intrinsics where they
 * exist (FMA, VNNI) and generic vectors otherwise.
 */
#ifndef SDLLM_SIMD_H
#define SDLLM_SIMD_H

#include <stdint.h>

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define SIMD_BYTES 64
#define SIMD_AVX512 1
#elif defined(__AVX2__)
#define SIMD_BYTES 32
#define SIMD_AVX2 1
#else
#define SIMD_BYTES 16
#define SIMD_GENERIC 1
#endif

#if (defined(SIMD_AVX512) || defined(SIMD_AVX2)) && defined(__FMA__)
#define SIMD_FMA 1
#endif

#if defined(SIMD_AVX512) || defined(SIMD_AVX2)
#include <immintrin.h>
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* How far ahead the big-layer sweeps of spike4.c and w4a16.c prefetch, into L2 (see quad_sweep). */
#define SWEEP_PF_BYTES 12288

/* A space-separated list of the ISA extensions this build was compiled for. */
const char *simd_features(void);

#endif
