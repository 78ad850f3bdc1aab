/**
 * The spike-driven linear layer (METHOD §2–§4): integer weights (packed, column-major), inputs
 * coded per token into integer spike counts, outputs accumulated from weight columns.
 *
 *  - ternary: γ-SQP (threshold rule, counts clipped to ±L), bidirectional spikes, T = L;
 *  - binary:  SpikeLLM-style u = x − min(x), counts in [0, 2L], T = 2L, plus the correction
 *             min(x)·Σ_i Ŵ[o, i] that the asymmetric shift needs;
 *  - int:     per-token absmax integers (the w4a4 / w4a8 ANN baselines). Numerically the same
 *             integers as ternary absmax with L = 2^(bits−1) − 1; what differs is how its
 *             operations are counted (dense MACs, not events).
 *
 * `counts` execution multiplies each column by its count; `events` runs the integrate-and-fire
 * neurons and adds ±column per spike event per time step. Both give bit-identical outputs.
 *
 * Weights in memory: 4-bit weights stay packed (QuantizedWeights.packed, two per byte, one
 * contiguous column per input neuron) and the kernels read the nibbles directly: 0.5 byte per
 * weight, plus the scales (group-major copy: 4 bytes per group of G weights). Other widths (2, 3,
 * 8 bits) are unpacked once into int8 columns, 1 byte per weight. Both paths compute the same
 * integers in the same flush order, so outputs are bit-identical either way.
 */
import type { Linear } from '../model/linear.js';
import { addBias } from '../model/linear.js';
import type { QuantizedWeights } from '../quant/weights.js';
import { unpackAll, unpackColumn } from '../quant/weights.js';
import type { ActivationCoding } from '../sdllm/method.js';
import { kernels, type SpikeLinearWeights, type PackedWeights4 } from '../kernels/registry.js';
import type { ThresholdRule } from './threshold.js';
import { binaryCounts } from './encode.js';
import { encodeTernaryTrains, encodeBinaryTrains } from './neuron.js';
import { SpikeStats } from './stats.js';
import type { OpCounts } from '../energy/ops.js';

const ABSMAX: ThresholdRule = { kind: 'absmax' };

export type CodedActivation = Exclude<ActivationCoding, { kind: 'float' }>;

/**
 * Step 1 shared by linears that read the same input (q/k/v read one normed x, gate/up another):
 * the first to run encodes and records its input and results here; the next ones, finding the
 * very same input bits, the same coding and an equal threshold rule, copy the counts instead of
 * encoding again. Exact by construction (identical inputs give identical counts).
 */
export class SharedEncoding {
  x = new Int32Array(0);
  len = 0;
  rows = 0;
  coding: CodedActivation | null = null;
  rule: ThresholdRule | null = null;
  counts = new Int32Array(0);
  scales = new Float64Array(0);
  shifts = new Float64Array(0);
  steps = new Int32Array(0);

  /** Whether x[0 .. rows·n) is bit-identical to the recorded input of the same coding and rule. */
  matches(x: Float32Array, rows: number, n: number, coding: CodedActivation, rule: ThresholdRule): boolean {
    if (this.coding !== coding || this.rows !== rows || this.len !== rows * n || !sameRule(this.rule, rule)) return false;
    const bits = new Int32Array(x.buffer, x.byteOffset, rows * n), rec = this.x;
    for (let i = 0; i < bits.length; i++) if (bits[i] !== rec[i]) return false;
    return true;
  }

  record(x: Float32Array, rows: number, n: number, coding: CodedActivation, rule: ThresholdRule, from: SpikeLinearCodes): void {
    const len = rows * n;
    if (this.x.length < len) {
      this.x = new Int32Array(len);
      this.counts = new Int32Array(len);
    }
    if (this.scales.length < rows) {
      this.scales = new Float64Array(rows);
      this.shifts = new Float64Array(rows);
      this.steps = new Int32Array(rows);
    }
    this.x.set(new Int32Array(x.buffer, x.byteOffset, len));
    this.counts.set(from.counts.subarray(0, len));
    this.scales.set(from.scales.subarray(0, rows));
    this.shifts.set(from.shifts.subarray(0, rows));
    this.steps.set(from.steps.subarray(0, rows));
    this.len = len;
    this.rows = rows;
    this.coding = coding;
    this.rule = { ...rule };
  }
}

interface SpikeLinearCodes {
  counts: Int32Array;
  scales: Float64Array;
  shifts: Float64Array;
  steps: Int32Array;
}

function sameRule(a: ThresholdRule | null, b: ThresholdRule): boolean {
  if (!a || a.kind !== b.kind) return false;
  switch (b.kind) {
    case 'quantile': return (a as typeof b).gamma === b.gamma;
    case 'meanabs': return (a as typeof b).k === b.k;
    case 'static': return Object.is((a as typeof b).theta, b.theta);
    default: return true;
  }
}

export class SpikeLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Packed 4-bit columns (4-bit weights) or int8 columns (other widths): what the kernels read. */
  readonly weights: PackedWeights4 | SpikeLinearWeights;
  /** Whether `weights` are the packed 4-bit columns. */
  readonly packed4: boolean;
  /** The γ-SQP threshold rule of this layer (calibration may replace it). */
  rule: ThresholdRule;
  execution: 'counts' | 'events';
  /** Collects spike statistics while set. */
  stats: SpikeStats | null = null;
  /** Operation counter incremented while set (energy/ops.ts). */
  ops: OpCounts | null = null;
  /** Receives each token's counts while set (address-event export). */
  eventSink: ((layer: string, counts: Int32Array, n: number) => void) | null = null;
  /** Receives every input row block while set (calibration reads the layer's real inputs). */
  capture: ((x: Float32Array, rows: number) => void) | null = null;
  /** Step 1 shared with the linears that read the same input (set by assembleModel), or null. */
  shared: SharedEncoding | null = null;
  /** Σ_g dw[o,g] Σ_{i∈g} Wq[o,i]: the binary coding's correction per unit of min(x). */
  private readonly rowSums: Float64Array | null;
  /** Per call: counts [rows, n], and per row θ (or θ_b), the binary shift min(x), and T. */
  private counts = new Int32Array(0);
  private scales = new Float64Array(0);
  private shifts = new Float64Array(0);
  private steps = new Int32Array(0);
  private trains = new Int8Array(0);
  private readonly acc: Int32Array;
  private readonly sum: Float64Array;
  private readonly select: Float32Array;

  constructor(
    readonly name: string,
    readonly qw: QuantizedWeights,
    readonly bias: Float32Array | null,
    readonly coding: CodedActivation,
    execution: 'counts' | 'events' = 'counts',
  ) {
    const m = qw.rows, n = qw.cols;
    this.inFeatures = n;
    this.outFeatures = m;
    const dwT = new Float32Array(qw.nGroups * m);
    for (let o = 0; o < m; o++) for (let g = 0; g < qw.nGroups; g++) dwT[g * m + o] = qw.scales[o * qw.nGroups + g];
    this.packed4 = qw.bits === 4;
    this.weights = this.packed4
      ? { packed: qw.packed, dwT, m, n, groupSize: qw.groupSize }
      : { qT: unpackAll(qw), dwT, m, n, groupSize: qw.groupSize };
    this.rule = coding.kind === 'ternary' ? coding.threshold : { kind: 'absmax' };
    this.execution = execution;
    this.acc = new Int32Array(m);
    this.sum = new Float64Array(m);
    this.select = new Float32Array(n);
    this.rowSums = coding.kind === 'binary' ? groupedRowSums(qw, dwT) : null;
  }

  /** The largest count per neuron (Infinity when unclipped). */
  get maxCount(): number {
    const c = this.coding;
    return c.kind === 'int' ? 2 ** (c.bits - 1) - 1 : c.kind === 'binary' ? 2 * c.L : c.L;
  }

  newStats(): SpikeStats {
    return new SpikeStats(this.maxCount);
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    const n = this.inFeatures, m = this.outFeatures;
    if (this.counts.length < rows * n) this.counts = new Int32Array(rows * n);
    if (this.scales.length < rows) {
      this.scales = new Float64Array(rows);
      this.shifts = new Float64Array(rows);
      this.steps = new Int32Array(rows);
    }
    const k = kernels();
    this.capture?.(x, rows);
    // Step 1 for every token first (or a copy of it from a linear with the same input), then one
    // batched accumulation (weights reused across rows).
    const sh = this.shared;
    if (sh && sh.matches(x, rows, n, this.coding, this.rule)) {
      this.counts.set(sh.counts.subarray(0, rows * n));
      this.scales.set(sh.scales.subarray(0, rows));
      this.shifts.set(sh.shifts.subarray(0, rows));
      this.steps.set(sh.steps.subarray(0, rows));
    } else {
      this.encode(x, rows);
      sh?.record(x, rows, n, this.coding, this.rule, { counts: this.counts, scales: this.scales, shifts: this.shifts, steps: this.steps });
    }
    if (this.execution === 'events' && this.coding.kind !== 'int') {
      for (let r = 0; r < rows; r++) {
        this.fillTrains(x, r * n, this.scales[r], this.steps[r]);
        if (this.packed4) k.spikeLinearEvents4(this.weights as PackedWeights4, this.trains, this.steps[r], this.scales[r], y, r * m, this.acc, this.sum);
        else k.spikeLinearEvents(this.weights as SpikeLinearWeights, this.trains, this.steps[r], this.scales[r], y, r * m, this.acc, this.sum);
      }
    } else if (this.packed4) {
      k.spikeLinearCountsRows4(this.weights as PackedWeights4, this.counts, rows, this.scales, y);
    } else {
      k.spikeLinearCountsRows(this.weights as SpikeLinearWeights, this.counts, rows, this.scales, y);
    }
    for (let r = 0; r < rows; r++) {
      const shift = this.shifts[r];
      if (this.rowSums && shift !== 0) for (let o = 0; o < m; o++) y[r * m + o] += shift * this.rowSums[o];
      const row = this.counts.subarray(r * n, r * n + n);
      this.stats?.add(row, 0, n, this.steps[r]);
      this.eventSink?.(this.name, row, n);
      if (this.ops) this.count(this.ops, row);
    }
    addBias(y, this.bias, rows, m);
    if (this.ops && this.bias) this.ops.fp_add += rows * m;
  }

  /** Step 1 of γ-SQP for every token: counts into this.counts, θ (or θ_b), the binary shift and T into the row arrays. */
  private encode(x: Float32Array, rows: number): void {
    const n = this.inFeatures, c = this.coding, counts = this.counts;
    if (c.kind === 'binary') {
      for (let r = 0; r < rows; r++) {
        const { thetaB, min } = binaryCounts(x, r * n, n, c.L, counts, r * n);
        this.scales[r] = thetaB;
        this.shifts[r] = min;
        this.steps[r] = 2 * c.L;
      }
      return;
    }
    const L = this.maxCount;
    // The int baselines' per-token step is the absmax rule at their own L.
    kernels().spikeEncode(x, rows, n, c.kind === 'int' ? ABSMAX : this.rule, L, counts, this.scales, this.select);
    this.shifts.fill(0, 0, rows);
    for (let r = 0; r < rows; r++) {
      let T = L;
      if (!Number.isFinite(L)) {
        T = 0; // unclipped counts: this token needs as many steps as its largest count
        for (let i = r * n; i < r * n + n; i++) T = Math.max(T, Math.abs(counts[i]));
      }
      this.steps[r] = T;
    }
  }

  private fillTrains(x: Float32Array, xo: number, theta: number, T: number): void {
    const n = this.inFeatures, c = this.coding;
    if (this.trains.length < T * n) this.trains = new Int8Array(T * n);
    if (c.kind === 'binary') encodeBinaryTrains(x, xo, n, c.L, this.trains);
    else encodeTernaryTrains(x, xo, n, theta, this.maxCount, T, this.trains);
  }

  /** Operations of the token just computed (its counts are in this.counts). */
  private count(ops: OpCounts, counts: Int32Array): void {
    const n = this.inFeatures, m = this.outFeatures, c = this.coding, qw = this.qw;
    let events = 0, nonzero = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(counts[i]);
      events += a;
      if (a) nonzero++;
    }
    ops.rows += 1;
    const scaleBytes = qw.nGroups * m * 4;
    if (c.kind === 'int') {
      // The ANN baseline multiplies every integer input with every weight: dense MACs.
      if (c.bits <= 4) ops.mac_int4 += n * m;
      else ops.mac_int8 += n * m;
      ops.weight_bytes += (n * m * qw.bits) / 8 + scaleBytes;
    } else {
      // Each spike event adds (or subtracts) one weight column: m accumulations per event.
      ops.ac += events * m;
      // counts: each firing neuron's column is read once; events: once per time step it fires.
      const columnsRead = this.execution === 'events' ? events : nonzero;
      ops.weight_bytes += (columnsRead * m * qw.bits) / 8 + scaleBytes;
    }
    ops.act_bytes += n * 4;
    // Coding: x/θ per input (and x − min for binary); per output: one multiply-add per group scale, then θ.
    ops.fp_mult += n + qw.nGroups * m + m;
    ops.fp_add += qw.nGroups * m;
    if (c.kind === 'binary') {
      ops.fp_add += n + m;
      ops.fp_mult += m;
    }
  }
}

/** Σ_g dw[o,g]·Σ_{i∈g} Wq[o,i], in the kernels' group order (columns unpacked one at a time). */
function groupedRowSums(qw: QuantizedWeights, dwT: Float32Array): Float64Array {
  const { rows: m, cols: n, groupSize: G } = qw;
  const out = new Float64Array(m);
  const acc = new Int32Array(m);
  const col = new Int8Array(m);
  const cb = (m + 1) >> 1, half = m >> 1, p = qw.packed;
  for (let g = 0, start = 0; start < n; g++, start += G) {
    acc.fill(0);
    for (let i = start; i < Math.min(start + G, n); i++) {
      if (qw.bits === 4) {
        // packed nibbles read in place (the common case; unpackColumn is generic and slower)
        const base = i * cb;
        for (let j = 0; j < half; j++) {
          const b = p[base + j];
          acc[2 * j] += (b << 28) >> 28;
          acc[2 * j + 1] += (b << 24) >> 28;
        }
        if (m & 1) acc[m - 1] += (p[base + half] << 28) >> 28;
        continue;
      }
      unpackColumn(qw, i, col);
      for (let o = 0; o < m; o++) acc[o] += col[o];
    }
    for (let o = 0; o < m; o++) out[o] += dwT[g * m + o] * acc[o];
  }
  return out;
}
