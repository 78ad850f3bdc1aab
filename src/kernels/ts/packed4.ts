/**
 * Kernels over 4-bit weights kept packed, plain TypeScript references. The layout is the one
 * QuantizedWeights stores (src/quant/weights.ts): column-major, one contiguous column of
 * cb = ceil(m / 2) bytes per input neuron, two's-complement nibbles, the lower nibble holding the
 * earlier (even) output row. A spike on input i reads exactly one such column: m / 2 bytes.
 *
 *  - spikeLinearCountsRows4 / spikeLinearEvents4: the spike-driven linear of spike-linear.ts on
 *    packed weights. Same integers, same per-group flush in float64 in group order, rounded once:
 *    bit-identical to spikeLinearCountsRows / spikeLinearEvents on the unpacked int8 columns.
 *  - matmulW4A16: the float GEMV/GEMM of w4a16, y[r, o] = Σ_g dw[o, g] · Σ_{i∈g} q[o, i] · x[r, i],
 *    dequantizing on the fly (no float copy of the weights). Float64 sums here; native backends
 *    sum in float32 lanes (checked to a tolerance, like matmulF32).
 *  - intMatmul4: the dense int4 baseline (every input multiplied, zero or not) on row-major packed
 *    weights (rowMajorPacked4 in quant/weights.ts: row o is ceil(n / 2) bytes, lower nibble = even
 *    input). Same numbers as spikeLinearCountsRows4, computed as a dense int4 engine would.
 */

import { spikeGroups } from './spike-linear.js';
import { denseGroups } from './int-matmul.js';

/** 4-bit weights, packed column-major (QuantizedWeights.packed), scales group-major [nGroups, m]. */
export interface PackedWeights4 {
  /** Column i occupies bytes [i * ceil(m/2), (i + 1) * ceil(m/2)); lower nibble = even row. */
  packed: Uint8Array;
  /** Group-major scales [nGroups, m]. */
  dwT: Float32Array;
  m: number;
  n: number;
  groupSize: number;
}

/** acc[0 .. m) += ci * column i (sign-extended nibbles), Int32Array wrap-around like the int8 kernel. */
function addColumn4(packed: Uint8Array, base: number, m: number, ci: number, acc: Int32Array): void {
  const half = m >> 1;
  for (let j = 0; j < half; j++) {
    const b = packed[base + j];
    acc[2 * j] += ci * ((b << 28) >> 28);
    acc[2 * j + 1] += ci * ((b << 24) >> 28);
  }
  if (m & 1) acc[m - 1] += ci * ((packed[base + half] << 28) >> 28);
}

/** Counts mode over a batch, as spikeLinearCountsRows: row r of c into y[r*m .. r*m + m) times scales[r]. */
export function spikeLinearCountsRows4(
  w: PackedWeights4,
  c: Int32Array,
  rows: number,
  scales: Float64Array | Float32Array,
  y: Float32Array,
): void {
  const { packed, m, n } = w;
  const cb = (m + 1) >> 1;
  const acc = new Int32Array(m);
  const sum = new Float64Array(m);
  for (let r = 0; r < rows; r++) {
    const cOff = r * n;
    spikeGroups(w, scales[r], y, r * m, acc, sum, (start, end) => {
      for (let i = start; i < end; i++) {
        const ci = c[cOff + i];
        if (ci !== 0) addColumn4(packed, i * cb, m, ci, acc);
      }
    });
  }
}

/** Events mode, as spikeLinearEvents: trains [T, n] time-major, ±column per spike event. */
export function spikeLinearEvents4(
  w: PackedWeights4,
  trains: Int8Array, T: number,
  scale: number,
  y: Float32Array, yOff: number,
  acc: Int32Array, sum: Float64Array,
): void {
  const { packed, m, n } = w;
  const cb = (m + 1) >> 1;
  spikeGroups(w, scale, y, yOff, acc, sum, (start, end) => {
    for (let t = 0; t < T; t++) {
      const row = t * n;
      for (let i = start; i < end; i++) {
        const s = trains[row + i];
        if (s !== 0) addColumn4(packed, i * cb, m, s > 0 ? 1 : -1, acc);
      }
    }
  });
}

/**
 * w4a16: y[r, o] = Σ_g dw[g, o] · Σ_{i∈g} q[o, i] · x[r, i] (float64 sums, rounded once). The
 * weights are dequantized on the fly per column; inputs that are exactly 0 are skipped (their
 * products are ±0 and do not change the sums).
 */
export function matmulW4A16(w: PackedWeights4, x: Float32Array, y: Float32Array, rows: number): void {
  const { packed, dwT, m, n, groupSize } = w;
  const cb = (m + 1) >> 1, half = m >> 1;
  w4a16Sums(m, n, groupSize, x, y, rows, (i, xi, acc) => {
    const base = i * cb;
    for (let j = 0; j < half; j++) {
      const b = packed[base + j];
      acc[2 * j] += xi * ((b << 28) >> 28);
      acc[2 * j + 1] += xi * ((b << 24) >> 28);
    }
    if (m & 1) acc[m - 1] += xi * ((packed[base + half] << 28) >> 28);
  }, (g, o) => dwT[g * m + o]);
}

/**
 * The w4a16 reference loop for any weight layout: per row and group, acc = Σ_{i∈g} x_i · q[:, i]
 * (addInput adds one input's products for every output), then sum[o] += scale(g, o) · acc[o];
 * float64 throughout, rounded once. Inputs that are exactly 0 are skipped (their products are ±0).
 */
export function w4a16Sums(
  m: number, n: number, G: number, x: Float32Array, y: Float32Array, rows: number,
  addInput: (i: number, xi: number, acc: Float64Array) => void,
  scale: (g: number, o: number) => number,
): void {
  const acc = new Float64Array(m);
  const sum = new Float64Array(m);
  for (let r = 0; r < rows; r++) {
    const xo = r * n;
    sum.fill(0);
    for (let g = 0, start = 0; start < n; g++, start += G) {
      const end = Math.min(start + G, n);
      acc.fill(0);
      for (let i = start; i < end; i++) {
        const xi = x[xo + i];
        if (xi !== 0) addInput(i, xi, acc);
      }
      for (let o = 0; o < m; o++) sum[o] += scale(g, o) * acc[o];
    }
    const yo = r * m;
    for (let o = 0; o < m; o++) y[yo + o] = sum[o];
  }
}

/**
 * Dense int4 baseline on row-major packed weights W4 [m, ceil(n/2)] (lower nibble = even input),
 * dw row-major [m, nGroups]: acc[r, o, g] = Σ_{i∈g} c[r, i] · W[o, i] (int32), then the counts
 * kernel's flush. Bit-identical to spikeLinearCountsRows4 on the same integers.
 */
export function intMatmul4(
  w4RowMajor: Uint8Array,
  dw: Float32Array,
  c: Int32Array,
  rows: number,
  m: number,
  n: number,
  groupSize: number,
  scales: Float64Array | Float32Array,
  y: Float32Array,
): void {
  const rb = (n + 1) >> 1;
  denseGroups(dw, rows, m, n, groupSize, scales, y, (cr, o, start, end) => dot4(c, cr, w4RowMajor, o * rb, start, end));
}

/** Σ_{i ∈ [start, end)} c[cr + i] · W4[row at wo, input i] (int32 wrap-around), the hot loop. */
function dot4(c: Int32Array, cr: number, w4: Uint8Array, wo: number, start: number, end: number): number {
  let acc = 0;
  for (let i = start; i < end; i++) {
    const b = w4[wo + (i >> 1)];
    const q = i & 1 ? (b << 24) >> 28 : (b << 28) >> 28;
    acc = (acc + c[cr + i] * q) | 0;
  }
  return acc;
}
