/**
 * The methods of METHOD.md §7 as data: each is a preset of weight precision, activation coding,
 * rotation and attention, and every field can be overridden from the CLI or the library, so any
 * ablation is a flag away and reports name exactly what ran.
 */
import type { ThresholdRule } from '../spike/threshold.js';
import type { WeightBits } from '../quant/weights.js';
import { fail } from '../errors.js';

export const METHOD_NAMES = ['fp', 'w4a16', 'w4a8', 'w4a4', 'spike-binary', 'spike-ternary', 'sdllm', 'sdllm-t3', 'sdllm-t1', 'spikingbrain'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** How the input of each spiked matmul is coded. */
export type ActivationCoding =
  | { kind: 'float' }
  /** Per-token symmetric absmax integers with `bits` bits, dense MACs: the 4-bit ANN baseline. */
  | { kind: 'int'; bits: number }
  /** Bidirectional (ternary) spikes, counts clipped to ±L (L = Infinity: unclipped), T = L. */
  | { kind: 'ternary'; L: number; threshold: ThresholdRule }
  /** Unidirectional binary spikes of u = x − min(x), counts in [0, 2L], T = 2L. */
  | { kind: 'binary'; L: number };

export type OnlineRotationSite = 'down_proj' | 'o_proj';

export interface MethodConfig {
  method: MethodName;
  /** null: weights stay float. */
  weightBits: WeightBits | null;
  groupSize: number;
  activations: ActivationCoding;
  rotate: 'hadamard' | 'none';
  rotationSeed: number;
  onlineRotation: OnlineRotationSite[];
  attention: 'float' | 'spiking';
  /** Levels of the unidirectional probability spikes of P·V in spiking attention. */
  attentionLevels: number;
  lmHead: 'float' | 'spiking';
  /** counts: accumulate c_i × column over nonzero counts; events: iterate time steps and spikes. Bit-identical. */
  execution: 'counts' | 'events';
  /** Choose γ per spiked layer on calibration text (quantile rule only). */
  calibrate: boolean;
  calibObjective: 'cosine' | 'mse';
}

/** Where γ-SQP starts before calibration, and what calibration searches. */
export const DEFAULT_GAMMA = 0.99;
export const GAMMA_GRID = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1];
export const DEFAULT_ROTATION_SEED = 0x5d11;

export function methodPreset(name: MethodName): MethodConfig {
  const base: MethodConfig = {
    method: name,
    weightBits: 4,
    groupSize: 128,
    activations: { kind: 'float' },
    rotate: 'hadamard',
    rotationSeed: DEFAULT_ROTATION_SEED,
    onlineRotation: ['down_proj'],
    attention: 'float',
    attentionLevels: 15,
    lmHead: 'float',
    execution: 'counts',
    calibrate: false,
    calibObjective: 'cosine',
  };
  const sdllm = (L: number): MethodConfig => ({
    ...base,
    activations: { kind: 'ternary', L, threshold: { kind: 'quantile', gamma: DEFAULT_GAMMA } },
    // METHOD §1b: the o_proj rotation left T = 7 unchanged but helped T = 3 and T = 1 markedly.
    onlineRotation: L < 7 ? ['down_proj', 'o_proj'] : ['down_proj'],
    attention: 'spiking',
    calibrate: true,
  });
  switch (name) {
    case 'fp':
      return { ...base, weightBits: null, rotate: 'none', onlineRotation: [] };
    case 'w4a16':
      return base;
    case 'w4a8':
      return { ...base, activations: { kind: 'int', bits: 8 } };
    case 'w4a4':
      return { ...base, activations: { kind: 'int', bits: 4 } };
    case 'spike-binary':
      return { ...base, activations: { kind: 'binary', L: 7 }, attention: 'spiking' };
    case 'spike-ternary':
      return { ...base, activations: { kind: 'ternary', L: 7, threshold: { kind: 'absmax' } }, attention: 'spiking' };
    case 'sdllm':
      return sdllm(7);
    case 'sdllm-t3':
      return sdllm(3);
    case 'sdllm-t1':
      return sdllm(1);
    case 'spikingbrain':
      return { ...base, weightBits: 8, activations: { kind: 'ternary', L: Infinity, threshold: { kind: 'meanabs', k: 3 } }, attention: 'spiking' };
  }
}

/** Overrides as the CLI spells them (all optional). */
export interface MethodOverrides {
  timeSteps?: number;
  gamma?: number;
  thresholdRule?: 'quantile' | 'absmax' | 'meanabs' | 'static';
  weightBits?: number;
  groupSize?: number;
  rotate?: 'hadamard' | 'none';
  rotationSeed?: number;
  onlineRotation?: OnlineRotationSite[];
  attention?: 'float' | 'spiking';
  lmHead?: 'float' | 'spiking';
  execution?: 'counts' | 'events';
  calibrate?: boolean;
  calibObjective?: 'cosine' | 'mse';
}

export function isMethodName(s: string): s is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(s);
}

export function resolveMethod(name: string, o: MethodOverrides = {}): MethodConfig {
  if (!isMethodName(name)) fail(`unknown method "${name}" (methods: ${METHOD_NAMES.join(', ')})`);
  const m = methodPreset(name);
  if (o.weightBits !== undefined) {
    if (![2, 3, 4, 8].includes(o.weightBits)) fail(`--weight-bits must be 2, 3, 4 or 8, got ${o.weightBits}`);
    m.weightBits = o.weightBits as WeightBits;
  }
  if (o.groupSize !== undefined) m.groupSize = o.groupSize;
  if (o.rotate !== undefined) {
    m.rotate = o.rotate;
    if (o.rotate === 'none') m.onlineRotation = [];
  }
  if (o.rotationSeed !== undefined) m.rotationSeed = o.rotationSeed;
  if (o.onlineRotation !== undefined) m.onlineRotation = m.rotate === 'none' ? [] : o.onlineRotation;
  if (o.attention !== undefined) m.attention = o.attention;
  if (o.lmHead !== undefined) m.lmHead = o.lmHead;
  if (o.execution !== undefined) m.execution = o.execution;
  if (o.calibObjective !== undefined) m.calibObjective = o.calibObjective;
  const a = m.activations;
  if (o.timeSteps !== undefined) {
    if (a.kind === 'ternary') a.L = o.timeSteps;
    else if (a.kind === 'binary') {
      if (o.timeSteps % 2) fail(`--time-steps for binary spikes must be even (T = 2L), got ${o.timeSteps}`);
      a.L = o.timeSteps / 2;
    } else fail(`--time-steps applies to spiking methods, not ${name}`);
  }
  if (o.thresholdRule !== undefined || o.gamma !== undefined) {
    if (a.kind !== 'ternary') fail(`--threshold-rule and --gamma apply to ternary spiking methods, not ${name}`);
    const kind = o.thresholdRule ?? a.threshold.kind;
    if (kind === 'quantile') {
      const gamma = o.gamma ?? (a.threshold.kind === 'quantile' ? a.threshold.gamma : DEFAULT_GAMMA);
      if (!(gamma > 0 && gamma <= 1)) fail(`--gamma must be in (0, 1], got ${gamma}`);
      a.threshold = { kind: 'quantile', gamma };
    } else if (kind === 'absmax') a.threshold = { kind: 'absmax' };
    else if (kind === 'meanabs') a.threshold = { kind: 'meanabs', k: 3 };
    else a.threshold = { kind: 'static', theta: NaN }; // set per layer by calibration
    // An explicit γ means "use this γ", not "search from it".
    if (o.gamma !== undefined || kind !== 'quantile') m.calibrate = kind === 'static';
  }
  if (o.calibrate !== undefined) m.calibrate = o.calibrate;
  if (m.calibrate && a.kind === 'ternary' && a.threshold.kind !== 'quantile' && a.threshold.kind !== 'static')
    m.calibrate = false;
  if (m.weightBits === null && a.kind !== 'float') fail(`method ${name} with float weights cannot code activations`);
  return m;
}

/** Time steps of one token's trains for a coding (unclipped counts vary per token: null). */
export function timeSteps(a: ActivationCoding): number | null {
  if (a.kind === 'ternary') return Number.isFinite(a.L) ? a.L : null;
  if (a.kind === 'binary') return 2 * a.L;
  return null;
}

/** One line naming what ran, for logs and reports. */
export function describeMethod(m: MethodConfig): string {
  const a = m.activations;
  const act =
    a.kind === 'float' ? 'a16'
    : a.kind === 'int' ? `a${a.bits} (absmax ints)`
    : a.kind === 'binary' ? `binary spikes T=${2 * a.L}`
    : `ternary spikes T=${Number.isFinite(a.L) ? a.L : 'var'} θ=${a.threshold.kind}${a.threshold.kind === 'quantile' ? `(γ ${m.calibrate ? 'calibrated' : a.threshold.gamma})` : ''}`;
  const w = m.weightBits === null ? 'float weights' : `w${m.weightBits} g${m.groupSize}`;
  const rot = m.rotate === 'none' ? 'no rotation' : `hadamard rotation${m.onlineRotation.length ? ` (+online ${m.onlineRotation.join(',')})` : ''}`;
  return `${m.method}: ${w}, ${act}, ${rot}, attention ${m.attention}, lm_head ${m.lmHead}, ${m.execution}`;
}
