/**
 * What `sdllm report` shows, measured: for each method, on the same tokens, perplexity, spike
 * statistics per layer, operation counts and energy per token; plus the spike raster of one
 * layer for one token, produced by running the integrate-and-fire neurons on that layer's input.
 */
import type { LlamaModel } from '../model/llama.js';
import type { MethodConfig } from '../sdllm/method.js';
import { describeMethod } from '../sdllm/method.js';
import { spikeLinears } from '../sdllm/stats.js';
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

function raster(method: MethodConfig, layer: string, token: number, sl: NonNullable<ReturnType<typeof spikeLinears>[0]>, x: Float32Array): Raster | null {
  const n = sl.inFeatures, c = sl.coding;
  let T: number;
  const trains = (len: number) => new Int8Array(len);
  let spikesOf: Int8Array;
  if (c.kind === 'binary') {
    T = 2 * c.L;
    spikesOf = trains(T * n);
    encodeBinaryTrains(x, 0, n, c.L, spikesOf);
  } else if (c.kind === 'ternary') {
    const theta = threshold(x, 0, n, sl.rule, c.L, new Float32Array(n));
    T = Number.isFinite(c.L) ? c.L : Math.ceil(maxAbs(x, 0, n) / theta);
    spikesOf = trains(T * n);
    encodeTernaryTrains(x, 0, n, theta, Number.isFinite(c.L) ? c.L : T, T, spikesOf);
  } else return null;
  const spikes: [number, number, number][] = [];
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) if (spikesOf[t * n + i]) spikes.push([t, i, spikesOf[t * n + i]]);
  return { method: method.method, layer, token, timeSteps: T, neurons: n, spikes };
}
