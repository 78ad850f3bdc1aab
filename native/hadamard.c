/*
 * The online block Hadamard rotation (src/kernels/ts/hadamard.ts): x ← x·diag(scale), then an
 * unnormalized Walsh–Hadamard transform of every block. The same fp32 multiplies and butterflies
 * in the same order as the reference, so bit-identical; the inner loops run over contiguous
 * halves, which the compiler vectorizes.
 */
#include "kernels.h"

static void fwht(float *x, int n) {
  for (int h = 1; h < n; h <<= 1)
    for (int i = 0; i < n; i += 2 * h) {
      float *lo = x + i, *hi = x + i + h;
      for (int j = 0; j < h; j++) {
        const float a = lo[j], b = hi[j];
        lo[j] = a + b;
        hi[j] = a - b;
      }
    }
}

void k_block_hadamard(float *x, int rows, int n, int block, const float *scale) {
  for (int r = 0; r < rows; r++) {
    float *xr = x + (long)r * n;
    for (int i = 0; i < n; i++) xr[i] *= scale[i];
    for (int o = 0; o < n; o += block) fwht(xr + o, block);
  }
}
