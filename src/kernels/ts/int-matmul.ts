/**
 * Dense integer matmul, the baseline of the 4-bit ANN path (and of the kernel benchmark): the
 * same numbers as spikeLinearCountsRows, computed the way a dense int8 engine would, by
 * multiply-accumulating every input (zero or not) against row-major weights:
 *
 *   acc[r, o, g] = sum_{i in g} c[r, i] * W[o, i]          (exact integers)
 *   y[r, o]      = scales[r] * sum_g dw[o, g] * acc[r, o, g]   (float64, in group order; rounded once)
 *
 * Layouts: W row-major int8 [m, n]; dw row-major [m, nGroups]; c [rows, n]; y [rows, m]. The
 * float operations per output are those of spikeLinearCounts in the same order, so the outputs
 * are bit-identical to the counts kernel on transposed weights.
 */
export function intMatmul(
  wRowMajor: Int8Array,
  dw: Float32Array,
  c: Int32Array,
  rows: number,
  m: number,
  n: number,
  groupSize: number,
  scales: Float64Array | Float32Array,
  y: Float32Array,
): void {
  const G = groupSize;
  const nGroups = Math.ceil(n / G);
  for (let r = 0; r < rows; r++) {
    const cr = r * n;
    const scale = scales[r];
    for (let o = 0; o < m; o++) {
      const wo = o * n;
      const dwo = o * nGroups;
      let sum = 0;
      for (let g = 0, start = 0; start < n; g++, start += G) {
        const end = Math.min(start + G, n);
        let acc = 0;
        // `| 0`: int32 wrap-around, as the Int32Array accumulators of the counts kernel.
        for (let i = start; i < end; i++) acc = (acc + c[cr + i] * wRowMajor[wo + i]) | 0;
        sum += dw[dwo + g] * acc;
      }
      y[r * m + o] = scale * sum;
    }
  }
}
