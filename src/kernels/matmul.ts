/**
 * Dense float matmul, the plain TypeScript reference of the hot loop every float Linear runs:
 * y[r, o] = sum_i x[r, i] * W[o, i]   (W row-major [outF, inF], as checkpoints store it).
 *
 * Four rows of x are processed per pass over W so each weight loaded from memory feeds four
 * multiply-adds; decoding (rows = 1) falls through to the single-row tail. Sums are carried in
 * float64 (JS numbers) and rounded once to float32 on store.
 */
export function matmulF32(x: Float32Array, w: Float32Array, y: Float32Array, rows: number, inF: number, outF: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * inF, x1 = x0 + inF, x2 = x1 + inF, x3 = x2 + inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < inF; i++) {
        const wv = w[wo + i];
        s0 += wv * x[x0 + i];
        s1 += wv * x[x1 + i];
        s2 += wv * x[x2 + i];
        s3 += wv * x[x3 + i];
      }
      y[r * outF + o] = s0;
      y[(r + 1) * outF + o] = s1;
      y[(r + 2) * outF + o] = s2;
      y[(r + 3) * outF + o] = s3;
    }
  }
  for (; r < rows; r++) {
    const xr = r * inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      // Two accumulators break the add dependency chain; the tail handles odd widths.
      let s0 = 0, s1 = 0;
      let i = 0;
      for (; i + 1 < inF; i += 2) {
        s0 += w[wo + i] * x[xr + i];
        s1 += w[wo + i + 1] * x[xr + i + 1];
      }
      if (i < inF) s0 += w[wo + i] * x[xr + i];
      y[r * outF + o] = s0 + s1;
    }
  }
}
