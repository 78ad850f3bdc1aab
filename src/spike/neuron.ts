// gamma-SQP step 2 (METHOD 3): integrate-and-fire neurons with membrane-potential clipping and
// soft reset turn each neuron's input into a spike train, one spike per time step.
//
// Membrane potentials are in units of theta: neuron i is charged once with u = fp32(x_i / theta),
// the very quotient step 1 rounds. It fires while |v| > 1/2 and resets by subtraction, so after
// enough steps the train's sum is u rounded to the nearest integer. Exactly at |v| = 1/2 the
// neuron fires iff it has already emitted an odd number of spikes of that sign: after k spikes
// v = u - k, so a tie means u = k + 1/2, and firing then gives k + 1 exactly when k is odd, i.e.
// the sum is u rounded half to even. That makes the train sums equal spikeCounts' counts bit for
// bit, so a kernel iterating time steps and spike events and one that multiplies by the summed
// counts produce identical integer accumulators. v stays an exact binary fraction (|v| <= 128),
// so the subtractions are exact.

import { quotient } from '../quant/rounding.js';
import { binaryScale, type BinaryScale } from './encode.js';

/**
 * Bidirectional (ternary) train of a neuron charged with u (in units of theta), clipped to
 * [-L, L]: writes T spikes in {-1, 0, +1} to out[outOffset + t * stride]. All spikes share one sign
 * and come first; the sum equals clamp(roundHalfEven(u), -L, L) whenever T >= that count's size.
 */
export function ternaryTrain(u: number, L: number, T: number, out: Int8Array, outOffset: number, stride = 1): void {
  let v = u > L ? L : u < -L ? -L : u;
  let positive = 0;
  let negative = 0;
  for (let t = 0; t < T; t++) {
    let s = 0;
    if (v > 0.5 || (v === 0.5 && positive % 2 === 1)) {
      s = 1;
      positive++;
    } else if (v < -0.5 || (v === -0.5 && negative % 2 === 1)) {
      s = -1;
      negative++;
    }
    out[outOffset + t * stride] = s;
    v -= s;
  }
}

/**
 * Ternary trains of a layer input, time-major: trains[t * n + i] for t < T. theta is step 1's
 * threshold; L the clipping level (Infinity for unclipped counts, then T must cover the largest
 * count). Returns the number of nonzero spikes.
 */
export function encodeTernaryTrains(
  x: Float32Array,
  offset: number,
  n: number,
  theta: number,
  L: number,
  T: number,
  trains: Int8Array,
): number {
  for (let i = 0; i < n; i++) ternaryTrain(quotient(x[offset + i], theta), L, T, trains, i, n);
  return countEvents(trains, n * T);
}

/**
 * Unidirectional (binary) train of a neuron charged with u >= 0, clipped to [0, 2L]: T spikes in
 * {0, 1} at out[outOffset + t * stride], with the same tie rule, so T = 2L steps carry any count.
 */
export function binaryTrain(u: number, L: number, T: number, out: Int8Array, outOffset: number, stride = 1): void {
  const top = 2 * L;
  let v = u > top ? top : u < 0 ? 0 : u;
  let fired = 0;
  for (let t = 0; t < T; t++) {
    const s = v > 0.5 || (v === 0.5 && fired % 2 === 1) ? 1 : 0;
    fired += s;
    out[outOffset + t * stride] = s;
    v -= s;
  }
}

/**
 * Binary trains of the SpikeLLM-style baseline, T = 2L steps, time-major trains[t * n + i]; the
 * train sums equal binaryCounts. Returns the asymmetric scale for the layer's correction term.
 */
export function encodeBinaryTrains(x: Float32Array, offset: number, n: number, L: number, trains: Int8Array): BinaryScale {
  const scale = binaryScale(x, offset, n, L);
  for (let i = 0; i < n; i++) {
    binaryTrain(quotient(x[offset + i] - scale.min, scale.thetaB), L, 2 * L, trains, i, n);
  }
  return scale;
}

function countEvents(trains: Int8Array, length: number): number {
  let events = 0;
  for (let j = 0; j < length; j++) if (trains[j] !== 0) events++;
  return events;
}
