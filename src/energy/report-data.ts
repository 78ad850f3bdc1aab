/**
 * What `sdllm report` shows, measured: for each method, on the same tokens, perplexity, spike
 * statistics per layer, operation counts and energy per token; plus the spike raster of one
 * layer for one token, produced by running the integrate-and-fire neurons on that layer's input.
 */
import type { LlamaModel } from '../model/llama.js';
import type { MethodConfig } from '../sdllm/method.js';
import { describeMethod } from '../sdllm/method.js';
import { spikeLinears } from '../sdllm/stats.js';
import type { SpikeLinear } from '../spike/spike-linear.js';
import { threshold } from '../spike/threshold.js';
import { encodeTernaryTrains, encodeBinaryTrains } from '../spike/neuron.js';
import { maxAbs } from '../spike/threshold.js';
import type { ModelSpikeSummary } from '../sdllm/stats.js';
import { measure, perToken, type EnergyPerToken } from './measure.js';
import type { EnergyTable } from './table.js';

export interface Raster {
  method: string;
  layer: string;
  token: number;
  timeSteps: number;
  neurons: number;
  /** [time step, neuron, polarity] of every spike. */
  spikes: [number, number, number][];
}

export interface MethodReport {
  method: string;
  description: string;
  tokens: number;
  ppl: number;
  energyPerToken: { fp16: EnergyPerToken; fp32: EnergyPerToken };
  spikes: ModelSpikeSummary | null;
  raster: Raster | null;
}

export interface ReportData {
  model: string;
  data: string;
  table: EnergyTable;
  generated: string;
  methods: MethodReport[];
}

/** Measures `method` on `ids` (windows of ctx) and records one token's spike raster at one layer. */
export function reportMethod(model: LlamaModel, method: MethodConfig, ids: number[], table: EnergyTable, opts: { ctx?: number; rasterLayer?: number; rasterToken?: number; onWindow?: (d: number, t: number) => void } = {}): MethodReport {
  const ctx = opts.ctx ?? 512;
  const layerIdx = opts.rasterLayer ?? Math.floor(model.config.num_hidden_layers / 2);
  const target = spikeLinears([model.parts.layers[layerIdx].down_proj])[0] ?? null;
  const rasterToken = Math.min(opts.rasterToken ?? 8, Math.min(ctx, ids.length) - 1);
  let rasterInput: Float32Array | null = null;
  if (target) target.capture = (x, rows) => {
    if (!rasterInput && rows > rasterToken) rasterInput = x.slice(rasterToken * target.inFeatures, (rasterToken + 1) * target.inFeatures);
  };
  try {
    const m = measure(model, method, ids, ctx, opts.onWindow);
    return {
      method: method.method,
      description: describeMethod(method),
      tokens: m.tokens,
      ppl: m.ppl,
      energyPerToken: { fp16: perToken(m, table, 'fp16'), fp32: perToken(m, table, 'fp32') },
      spikes: m.spikes,
      raster: target && rasterInput ? raster(method, target.name, rasterToken, target, rasterInput) : null,
    };
  } finally {
    if (target) target.capture = null;
  }
}

function raster(method: MethodConfig, layer: string, token: number, sl: SpikeLinear, x: Float32Array): Raster | null {
  const tr = spikeTrains(sl, x);
  if (!tr) return null;
  const { T, n, trains } = tr;
  const spikes: [number, number, number][] = [];
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) if (trains[t * n + i]) spikes.push([t, i, trains[t * n + i]]);
  return { method: method.method, layer, token, timeSteps: T, neurons: n, spikes };
}

/**
 * The spike trains a spiked layer's neurons emit for one token's input `x` (its n inputs), made by
 * running the integrate-and-fire neurons with the layer's coding and threshold rule: time-major,
 * trains[t * n + i] in {-1, 0, +1}. Null for integer-coded (w4a4/w4a8) layers, which have no spikes.
 */
export function spikeTrains(sl: SpikeLinear, x: Float32Array): { T: number; n: number; trains: Int8Array } | null {
  const n = sl.inFeatures, c = sl.coding;
  let T: number;
  let trains: Int8Array;
  if (c.kind === 'binary') {
    T = 2 * c.L;
    trains = new Int8Array(T * n);
    encodeBinaryTrains(x, 0, n, c.L, trains);
  } else if (c.kind === 'ternary') {
    const theta = threshold(x, 0, n, sl.rule, c.L, new Float32Array(n));
    T = Number.isFinite(c.L) ? c.L : Math.ceil(maxAbs(x, 0, n) / theta);
    trains = new Int8Array(T * n);
    encodeTernaryTrains(x, 0, n, theta, Number.isFinite(c.L) ? c.L : T, T, trains);
  } else return null;
  return { T, n, trains };
}
