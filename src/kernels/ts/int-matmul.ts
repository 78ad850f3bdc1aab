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
  denseGroups(dw, rows, m, n, groupSize, scales, y, (cr, o, start, end) => dot8(c, cr, wRowMajor, o * n, start, end));
}

/** Σ_{i ∈ [start, end)} c[cr + i] · W[wo + i], the hot loop (a function of its own: see spike-linear.ts addColumn). */
function dot8(c: Int32Array, cr: number, W: Int8Array, wo: number, start: number, end: number): number {
  let acc = 0;
  // `| 0`: int32 wrap-around, as the Int32Array accumulators of the counts kernel.
  for (let i = start; i < end; i++) acc = (acc + c[cr + i] * W[wo + i]) | 0;
  return acc;
}

/**
 * The float side of the dense baselines (intMatmul, intMatmul4), so that it exists once: for row r
 * and output o, `groupDot(r * n, o, start, end)` is the exact int32 dot product of the row's counts
 * with weight row o over the group's inputs [start, end); the flush is spikeLinearCounts's.
 */
export function denseGroups(
  dw: Float32Array,
  rows: number,
  m: number,
  n: number,
  G: number,
  scales: Float64Array | Float32Array,
  y: Float32Array,
  groupDot: (cr: number, o: number, start: number, end: number) => number,
): void {
  const nGroups = Math.ceil(n / G);
  for (let r = 0; r < rows; r++) {
    const cr = r * n;
    const scale = scales[r];
    for (let o = 0; o < m; o++) {
      const dwo = o * nGroups;
      let sum = 0;
      for (let g = 0, start = 0; start < n; g++, start += G) sum += dw[dwo + g] * groupDot(cr, o, start, Math.min(start + G, n));
      y[r * m + o] = scale * sum;
    }
  }
}
