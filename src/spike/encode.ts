// gamma-SQP step 1 (METHOD 2): float activations -> integer spike counts, and the unidirectional
// binary counts of the SpikeLLM-style baseline (METHOD 3).

import { quantizeValue } from '../quant/rounding.js';

export type CountArray = Int8Array | Int32Array;

/**
 * c_i = clamp(round(x_i / theta), -L, L) into out[outOffset + i]; returns the event count sum |c_i|.
 * L up to 127 fits Int8Array (w4a8 reuses this encoder with L = 127); L = Infinity (spikingbrain,
 * unclipped) needs Int32Array.
 */
export function spikeCounts(
  x: Float32Array,
  offset: number,
  n: number,
  theta: number,
  L: number,
  out: CountArray,
  outOffset: number,
): number {
  if (out instanceof Int8Array && !(L <= 127)) throw new RangeError(`L = ${L} does not fit Int8Array counts`);
  let events = 0;
  for (let i = 0; i < n; i++) {
    const c = quantizeValue(x[offset + i], theta, L);
    out[outOffset + i] = c;
    events += Math.abs(c);
  }
  return events;
}

/** Asymmetric step of the binary baseline: u = x - min(x) >= 0, theta_b = (max - min) / (2L). */
export interface BinaryScale {
  thetaB: number;
  min: number;
}

export function binaryScale(x: Float32Array, offset: number, n: number, L: number): BinaryScale {
  let min = Infinity;
  let max = -Infinity;
  for (let i = offset; i < offset + n; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { thetaB: Math.fround(Math.fround(max - min) / (2 * L)), min };
}

/**
 * Binary counts c_i = clamp(round((x_i - min) / theta_b), 0, 2L) into out[outOffset + i].
 * The layer adds back the per-token correction min * (row sums of W).
 */
export function binaryCounts(
  x: Float32Array,
  offset: number,
  n: number,
  L: number,
  out: CountArray,
  outOffset: number,
): BinaryScale {
  const scale = binaryScale(x, offset, n, L);
  for (let i = 0; i < n; i++) out[outOffset + i] = quantizeValue(x[offset + i] - scale.min, scale.thetaB, 2 * L);
  return scale;
}
