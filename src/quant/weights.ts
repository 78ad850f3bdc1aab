// Symmetric round-to-nearest weight quantization per output row and group of inputs (METHOD 1).
//   dw[o, g] = fp32(max_{i in g} |W[o, i]| / Qw),  Qw = 2^(bits-1) - 1
//   Wq[o, i] = clamp(round(W[o, i] / dw[o, g]), -Qw, Qw)
// The integers are stored column-major: a spike on input neuron i adds the whole column Wq[:, i]
// into the output accumulators, so each column must be one contiguous run of bytes.

import { kernels } from '../kernels/registry.js';
import type { ThresholdRule } from '../spike/threshold.js';

const ABSMAX: ThresholdRule = { kind: 'absmax' };
/** The absmax rule needs no selection scratch. */
const SCRATCH = new Float32Array(0);

export type WeightBits = 2 | 3 | 4 | 8;

export interface WeightQuantOptions {
  bits: WeightBits;
  groupSize: number;
}

export interface QuantizedWeights {
  readonly bits: WeightBits;
  /** Effective group size G: the requested one, or cols when cols is smaller. */
  readonly groupSize: number;
  /** m, the number of outputs. */
  readonly rows: number;
  /** n, the number of inputs. */
  readonly cols: number;
  /** ceil(cols / G); when G does not divide cols the last group is shorter (cols mod G inputs). */
  readonly nGroups: number;
  /** dw, row-major [rows, nGroups]: scales[o * nGroups + g]. */
  readonly scales: Float32Array;
  /** Column-major packed integers, bytesPerColumn(bits, rows) bytes per column (see packColumns). */
  readonly packed: Uint8Array;
}

export function weightQmax(bits: WeightBits): number {
  return 2 ** (bits - 1) - 1;
}

/** Values per byte: 2-bit fields 4 per byte, 3- and 4-bit values one per nibble, 8-bit one per byte. */
function valuesPerByte(bits: WeightBits): number {
  return bits === 2 ? 4 : bits === 8 ? 1 : 2;
}

/** Each column starts on a byte boundary so columns can be unpacked independently. */
export function bytesPerColumn(bits: WeightBits, rows: number): number {
  return Math.ceil(rows / valuesPerByte(bits));
}

export function quantizeWeights(W: Float32Array, rows: number, cols: number, opts: WeightQuantOptions): QuantizedWeights {
  const { bits } = opts;
  if (W.length !== rows * cols) throw new RangeError(`expected ${rows} x ${cols} weights, got ${W.length}`);
  if (!(opts.groupSize >= 1)) throw new RangeError(`bad group size ${opts.groupSize}`);
  const qmax = weightQmax(bits);
  const groupSize = Math.min(opts.groupSize, cols);
  const nGroups = Math.ceil(cols / groupSize);
  const scales = new Float32Array(rows * nGroups);
  const q = new Int8Array(rows * cols);
  // Per (row, group) this is γ-SQP step 1 with the absmax rule at L = Qw (same θ = fp32(max|w| / Qw),
  // same rounding): the registered kernel runs a row's whole groups as [full, G], a shorter last
  // group (G not dividing cols) as one more row of its own.
  const k = kernels();
  const full = Math.floor(cols / groupSize), tail = full * groupSize;
  const counts = new Int32Array(cols), thetas = new Float64Array(nGroups);
  for (let o = 0; o < rows; o++) {
    const row = W.subarray(o * cols, (o + 1) * cols);
    k.spikeEncode(row, full, groupSize, ABSMAX, qmax, counts, thetas, SCRATCH);
    if (tail < cols) k.spikeEncode(row.subarray(tail), 1, cols - tail, ABSMAX, qmax, counts.subarray(tail), thetas.subarray(full), SCRATCH);
    scales.set(thetas, o * nGroups);
    for (let i = 0; i < cols; i++) q[i * rows + o] = counts[i];
  }
  return { bits, groupSize, rows, cols, nGroups, scales, packed: packColumns(q, rows, cols, bits) };
}

/**
 * Pack column-major integers q[i * rows + o] (each within the bit width's two's-complement range)
 * into bytes: column i occupies bytesPerColumn bytes starting at i * bytesPerColumn; within a byte
 * the lower bits hold the earlier row.
 */
export function packColumns(q: Int8Array, rows: number, cols: number, bits: WeightBits): Uint8Array {
  const per = valuesPerByte(bits);
  const width = 8 / per;
  const mask = (1 << width) - 1;
  const colBytes = bytesPerColumn(bits, rows);
  const packed = new Uint8Array(colBytes * cols);
  for (let i = 0; i < cols; i++) {
    for (let o = 0; o < rows; o++) {
      packed[i * colBytes + Math.floor(o / per)] |= (q[i * rows + o] & mask) << ((o % per) * width);
    }
  }
  return packed;
}

/** Fill out[0 .. rows) with the integers of column i (input neuron i). */
export function unpackColumn(qw: QuantizedWeights, i: number, out: Int8Array): void {
  unpackColumnAt(qw, i, out, 0);
}

/** All integers, column-major [cols, rows], for kernels that want plain int8. */
export function unpackAll(qw: QuantizedWeights): Int8Array {
  const out = new Int8Array(qw.rows * qw.cols);
  for (let i = 0; i < qw.cols; i++) unpackColumnAt(qw, i, out, i * qw.rows);
  return out;
}

function unpackColumnAt(qw: QuantizedWeights, i: number, out: Int8Array, outOffset: number): void {
  const { bits, rows, packed } = qw;
  const per = valuesPerByte(bits);
  const width = 8 / per;
  const mask = (1 << width) - 1;
  const sign = 1 << (width - 1);
  const base = i * bytesPerColumn(bits, rows);
  for (let o = 0; o < rows; o++) {
    const field = (packed[base + Math.floor(o / per)] >> ((o % per) * width)) & mask;
    out[outOffset + o] = (field ^ sign) - sign; // sign-extend the two's-complement field
  }
}

/** Row-major float W_hat[o, i] = Wq[o, i] * dw[o, g(i)] (for w4a16 and tests). */
export function dequantize(qw: QuantizedWeights): Float32Array {
  const { rows, cols, nGroups, groupSize, scales } = qw;
  const q = unpackAll(qw);
  const W = new Float32Array(rows * cols);
  for (let o = 0; o < rows; o++) {
    for (let i = 0; i < cols; i++) {
      W[o * cols + i] = q[i * rows + o] * scales[o * nGroups + Math.floor(i / groupSize)];
    }
  }
  return W;
}

/**
 * 4-bit integers re-packed row-major: row o occupies ceil(cols / 2) bytes starting at
 * o * ceil(cols / 2), the lower nibble holding the even input. This is the layout of the dense
 * int4 baseline kernel (intMatmul4), which multiplies every input and so wants each output's
 * weights contiguous; the model itself keeps only the column-major packing.
 */
export function rowMajorPacked4(qw: QuantizedWeights): Uint8Array {
  if (qw.bits !== 4) throw new RangeError(`rowMajorPacked4: expected 4-bit weights, got ${qw.bits}-bit`);
  const { rows, cols, packed } = qw;
  const cb = bytesPerColumn(4, rows), rb = Math.ceil(cols / 2);
  const out = new Uint8Array(rows * rb);
  for (let i = 0; i < cols; i++) {
    const base = i * cb, shift = (i & 1) * 4, at = i >> 1;
    for (let o = 0; o < rows; o++) {
      const f = (packed[base + (o >> 1)] >> ((o & 1) * 4)) & 15;
      out[o * rb + at] |= f << shift;
    }
  }
  return out;
}
