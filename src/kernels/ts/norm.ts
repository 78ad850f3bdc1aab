/**
 * RMSNorm, plain TypeScript reference: y[r] = x[r] / rms(x[r]) · weight per row. The square sum
 * is taken in float64 in input order, the normaliser rounded to float32, each output stored as
 * float32; the native kernel (native/norm.c) does the same operations in the same order, so it
 * is bit-identical.
 */
export function rmsNorm(x: Float32Array, weight: Float32Array, y: Float32Array, rows: number, d: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] * x[o + i];
    const inv = Math.fround(1 / Math.sqrt(Math.fround(ss / d) + eps));
    for (let i = 0; i < d; i++) y[o + i] = weight[i] * Math.fround(x[o + i] * inv);
  }
}
