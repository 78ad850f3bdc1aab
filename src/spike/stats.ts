// Spike statistics of one spiked layer, accumulated over tokens (METHOD 2, 3, 8): what the
// paper's claims are about (few spikes per neuron, most counts 0 or +-1, half the time steps).
//
// Every train our neurons emit has spikes of a single sign, so a neuron with count c fires |c|
// times: the number of spike events is sum |c| and can be taken from counts alone.

import type { CountArray } from './encode.js';

/** Signed bins for counts -maxCount..maxCount, or log2 buckets of |c| when counts are unbounded. */
export type CountHistogram =
  | { kind: 'signed'; min: number; bins: number[] }
  /** bins[0]: c = 0; bins[j >= 1]: 2^(j-1) <= |c| < 2^j. */
  | { kind: 'log2abs'; bins: number[] };

export interface SpikeSummary {
  tokens: number;
  neurons: number;
  events: number;
  /** events / sum over tokens of n * T. */
  firingRate: number;
  meanAbsCount: number;
  eventsPerToken: number;
  /** Fraction of (token, neuron) pairs with count 0: neurons that stayed silent. */
  silentFraction: number;
  /** Mean time steps per token (T may vary per token for unclipped counts). */
  timeSteps: number;
  maxTimeSteps: number;
  histogram: CountHistogram;
}

const LOG2_BUCKETS = 33; // |c| < 2^32

export class SpikeStats {
  /** Largest |count| the histogram bins individually; Infinity selects log2 buckets. */
  readonly maxCount: number;
  tokens = 0;
  /** Sum of n over tokens. */
  neurons = 0;
  /** Sum of n * T over tokens: the spike slots a firing rate is relative to. */
  neuronSteps = 0;
  events = 0;
  silent = 0;
  timeStepsSum = 0;
  maxTimeSteps = 0;
  readonly histogram: Float64Array;

  constructor(maxCount: number) {
    this.maxCount = maxCount;
    this.histogram = new Float64Array(Number.isFinite(maxCount) ? 2 * maxCount + 1 : LOG2_BUCKETS);
  }

  /** Record one token: counts[offset .. offset + n) carried by trains of T time steps. */
  add(counts: CountArray, offset: number, n: number, T: number): void {
    const { maxCount, histogram } = this;
    const bounded = Number.isFinite(maxCount);
    let events = 0;
    let silent = 0;
    for (let i = offset; i < offset + n; i++) {
      const c = counts[i];
      const a = Math.abs(c);
      events += a;
      if (a === 0) silent++;
      if (bounded) {
        if (a > maxCount) throw new RangeError(`count ${c} outside +-${maxCount}`);
        histogram[c + maxCount]++;
      } else {
        histogram[a === 0 ? 0 : 32 - Math.clz32(a)]++;
      }
    }
    this.tokens++;
    this.neurons += n;
    this.neuronSteps += n * T;
    this.events += events;
    this.silent += silent;
    this.timeStepsSum += T;
    if (T > this.maxTimeSteps) this.maxTimeSteps = T;
  }

  /**
   * Record `samples` spike-coded vectors at once from a histogram of their non-negative counts
   * (hist[c] = how many entries had count c; Σ hist = their total length): what a kernel that
   * only returns a histogram (spiking attention's probability spikes) can report.
   */
  addHistogram(hist: ArrayLike<number>, samples: number, T: number): void {
    let entries = 0, events = 0;
    for (let c = 0; c < hist.length; c++) {
      entries += hist[c];
      events += c * hist[c];
      if (hist[c] && Number.isFinite(this.maxCount)) this.histogram[c + this.maxCount] += hist[c];
    }
    this.tokens += samples;
    this.neurons += entries;
    this.neuronSteps += entries * T;
    this.events += events;
    this.silent += hist[0] ?? 0;
    this.timeStepsSum += samples * T;
    if (samples && T > this.maxTimeSteps) this.maxTimeSteps = T;
  }

  merge(other: SpikeStats): void {
    if (other.maxCount !== this.maxCount) throw new RangeError('cannot merge statistics with different count ranges');
    this.tokens += other.tokens;
    this.neurons += other.neurons;
    this.neuronSteps += other.neuronSteps;
    this.events += other.events;
    this.silent += other.silent;
    this.timeStepsSum += other.timeStepsSum;
    this.maxTimeSteps = Math.max(this.maxTimeSteps, other.maxTimeSteps);
    for (let j = 0; j < this.histogram.length; j++) this.histogram[j] += other.histogram[j];
  }

  summary(): SpikeSummary {
    const bins = Array.from(this.histogram);
    const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
    return {
      tokens: this.tokens,
      neurons: this.neurons,
      events: this.events,
      firingRate: ratio(this.events, this.neuronSteps),
      meanAbsCount: ratio(this.events, this.neurons),
      eventsPerToken: ratio(this.events, this.tokens),
      silentFraction: ratio(this.silent, this.neurons),
      timeSteps: ratio(this.timeStepsSum, this.tokens),
      maxTimeSteps: this.maxTimeSteps,
      histogram: Number.isFinite(this.maxCount)
        ? { kind: 'signed', min: -this.maxCount, bins }
        : { kind: 'log2abs', bins },
    };
  }
}
