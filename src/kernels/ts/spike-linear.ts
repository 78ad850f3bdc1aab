/**
 * The spike-driven linear layer of METHOD §4, plain TypeScript reference:
 *
 *   y_o = scale * sum_g dw[g, o] * sum_{i in g} c_i * Wq[o, i]
 *
 * Each nonzero count (or each spike event, in `events` mode) adds the integer weight column
 * Wq[:, i] into integer accumulators: additions only. Once per group the m accumulators are
 * multiplied by that group's scales and added into float64 sums, in group order; the result is
 * rounded to float32 once. Every backend follows this order, so float outputs are bit-identical
 * across backends, not only the integer sums.
 *
 * Layouts: qT is column-major int8 [n, m] (column i is qT[i*m .. i*m+m)); dwT is group-major
 * [nGroups, m]; `acc` (Int32Array, m) and `sum` (Float64Array, m) are caller-provided scratch.
 */

export interface SpikeLinearWeights {
  /** Column-major integer weights [n, m]. */
  qT: Int8Array;
  /** Group-major scales [nGroups, m]. */
  dwT: Float32Array;
  m: number;
  n: number;
  groupSize: number;
}

/**
 * The float side that every spike kernel shares, so that it exists once: per group g (inputs
 * [start, end)) `addGroup` adds the group's integer sums into the zeroed `acc`, which are then
 * scaled by dwT[g, :] into `sum` in group order; y[yOff + o] = scale * sum[o], rounded once.
 */
export function spikeGroups(
  w: { dwT: Float32Array; m: number; n: number; groupSize: number },
  scale: number,
  y: Float32Array, yOff: number,
  acc: Int32Array, sum: Float64Array,
  addGroup: (start: number, end: number) => void,
): void {
  const { dwT, m, n, groupSize: G } = w;
  sum.fill(0, 0, m);
  for (let g = 0, start = 0; start < n; g++, start += G) {
    acc.fill(0, 0, m);
    addGroup(start, Math.min(start + G, n));
    const off = g * m;
    for (let o = 0; o < m; o++) sum[o] += dwT[off + o] * acc[o];
  }
  for (let o = 0; o < m; o++) y[yOff + o] = scale * sum[o];
}

/** Counts mode: one pass over the nonzero integer counts c[cOff .. cOff + n). */
export function spikeLinearCounts(
  w: SpikeLinearWeights,
  c: Int32Array, cOff: number,
  scale: number,
  y: Float32Array, yOff: number,
  acc: Int32Array, sum: Float64Array,
): void {
  const { qT, m } = w;
  spikeGroups(w, scale, y, yOff, acc, sum, (start, end) => {
    for (let i = start; i < end; i++) {
      const ci = c[cOff + i];
      if (ci === 0) continue; // silent neuron: no work at all
      // Add the column |ci| times over, as ci * column (same integers, one pass).
      addColumn(qT, i * m, m, ci, acc);
    }
  });
}

/**
 * acc[0 .. m) += ci * qT[col .. col + m): the hot loop. A function of its own, not inlined into the
 * closures above: V8 keeps its arguments in registers, where captured variables cost a load each.
 */
function addColumn(qT: Int8Array, col: number, m: number, ci: number, acc: Int32Array): void {
  for (let o = 0; o < m; o++) acc[o] += ci * qT[col + o];
}

/**
 * Events mode: the faithful SNN simulation. Iterates time steps t and the spike events
 * s_t,i in {-1, +1} of the trains [T, n] (time-major), adding or subtracting weight columns.
 */
export function spikeLinearEvents(
  w: SpikeLinearWeights,
  trains: Int8Array, T: number,
  scale: number,
  y: Float32Array, yOff: number,
  acc: Int32Array, sum: Float64Array,
): void {
  const { qT, m, n } = w;
  spikeGroups(w, scale, y, yOff, acc, sum, (start, end) => {
    for (let t = 0; t < T; t++) {
      const row = t * n;
      for (let i = start; i < end; i++) {
        const s = trains[row + i];
        if (s !== 0) addColumn(qT, i * m, m, s > 0 ? 1 : -1, acc);
      }
    }
  });
}

/**
 * Counts mode over a batch: row r of c (c[r*n .. r*n + n)) into y[r*m .. r*m + m), with its own
 * scale. The reference is literally a loop over spikeLinearCounts; native backends implement it
 * as one call (one argument unpacking, threads split over the outputs, weights reused across rows).
 */
export function spikeLinearCountsRows(
  w: SpikeLinearWeights,
  c: Int32Array,
  rows: number,
  scales: Float64Array | Float32Array,
  y: Float32Array,
): void {
  const { m, n } = w;
  const acc = new Int32Array(m);
  const sum = new Float64Array(m);
  for (let r = 0; r < rows; r++) spikeLinearCounts(w, c, r * n, scales[r], y, r * m, acc, sum);
}
