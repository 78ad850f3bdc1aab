/*
 * RMSNorm (src/kernels/ts/norm.ts), bit-identical to the reference: the float64 square sum in
 * input order (no reassociation without -ffast-math, no FMA with -ffp-contract=off), then every
 * step rounded where the JavaScript rounds (Math.fround, the float32 store). The sum is a chain of
 * dependent adds, so this is as fast as it gets in that order; the calls it replaces took 14-17 µs
 * in V8 for d = 2,048.
 */
#include <math.h>

#include "kernels.h"

void k_rms_norm(const float *x, const float *w, float *y, int rows, int d, double eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * d;
    float *yr = y + (long)r * d;
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)xr[i] * (double)xr[i];
    const double inv = (float)(1.0 / sqrt((double)(float)(ss / d) + eps));
    for (int i = 0; i < d; i++) yr[i] = (float)((double)w[i] * (double)(float)((double)xr[i] * inv));
  }
}
