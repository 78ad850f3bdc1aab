/**
 * γ calibration, the "semantic alignment" of METHOD §2: for each spiked layer input (the q/k/v
 * projections share one, gate/up another), pick γ from a grid to maximise the cosine similarity
 * (or minimise the MSE) between the layer's output on float inputs, Ŵx, and on spike-coded
 * inputs, Ŵ·θc. The inputs are the layer's real inputs, captured while the model (still at its
 * starting γ) runs the calibration tokens. No gradients, no training: plug-and-play.
 */
import { DecoderRunner, type LlamaModel, type DecoderLayer } from '../model/llama.js';
import type { ModelConfig } from '../model/config.js';
import { fail } from '../errors.js';
import { dequantize } from '../quant/weights.js';
import { kernels, type PackedWeights4, type SpikeLinearWeights } from '../kernels/registry.js';
import { SpikeLinear } from '../spike/spike-linear.js';
import { GAMMA_GRID, type MethodConfig } from './method.js';
import { spikeLinears } from './stats.js';

export interface CalibrationOptions {
  grid?: number[];
  /** Rows (tokens) per layer input on which the objective is evaluated, evenly spaced over the captured ones. */
  rows?: number;
  /** Sequence length the calibration tokens are cut into. */
  ctx?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface LayerCalibration {
  /** The linears sharing this input. */
  linears: string[];
  gamma: number;
  objective: MethodConfig['calibObjective'];
  /** Objective value at the chosen γ and at γ = 1 (absmax), mean over rows. */
  best: number;
  atAbsmax: number;
}

/** Calibrates γ of every SpikeLinear in `model` (in place); returns what it chose per input. */
export function calibrateGamma(model: LlamaModel, method: MethodConfig, ids: number[], opts: CalibrationOptions = {}): LayerCalibration[] {
  if (method.activations.kind !== 'ternary') return [];
  const cal = new LayerwiseCalibration(model.config, model.parts.embed_tokens, method, ids, opts);
  const layers = model.parts.layers;
  return layers.flatMap((layer, l) => {
    opts.onProgress?.(l, layers.length, `layer ${l}`);
    const r = cal.layer(layer);
    if (l === layers.length - 1) opts.onProgress?.(layers.length, layers.length, 'done');
    return r;
  });
}

/**
 * γ calibration one decoder layer at a time, so a converter needs only the layer at hand: the
 * hidden states of the calibration windows (cut into `ctx`-token sequences, each from position 0)
 * are carried from layer to layer. Each layer runs at its starting rules while its inputs are
 * captured, so every layer sees what a whole-model run at the starting γ would give it.
 */
export class LayerwiseCalibration {
  private readonly runner: DecoderRunner;
  private readonly hidden: Float32Array[] = [];

  constructor(
    config: ModelConfig,
    embed: Float32Array,
    private readonly method: MethodConfig,
    ids: number[],
    private readonly opts: CalibrationOptions = {},
  ) {
    this.runner = new DecoderRunner(config);
    const d = config.hidden_size;
    const ctx = Math.min(opts.ctx ?? 512, config.max_position_embeddings);
    for (let start = 0; start < ids.length; start += ctx) {
      const w = ids.slice(start, start + ctx);
      if (w.length < 2) continue;
      const x = new Float32Array(w.length * d);
      w.forEach((id, r) => {
        if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) fail(`token id ${id} is outside the vocabulary (0..${config.vocab_size - 1})`);
        x.set(embed.subarray(id * d, id * d + d), r * d);
      });
      this.hidden.push(x);
    }
  }

  /** Runs `layer` over the calibration windows, moving the hidden states past it, and sets γ of its spiked linears. */
  layer(layer: DecoderLayer): LayerCalibration[] {
    const a = this.method.activations;
    if (a.kind !== 'ternary') return [];
    // Linears reading the same input share one γ: group them by the input they see.
    const sites: SpikeLinear[][] = [];
    for (const group of [['q_proj', 'k_proj', 'v_proj'], ['o_proj'], ['gate_proj', 'up_proj'], ['down_proj']] as const) {
      const ls = group.map((r) => unwrapSpike(layer[r])).filter((l): l is SpikeLinear => l !== null);
      if (ls.length) sites.push(ls);
    }
    const captured = sites.map(() => [] as Float32Array[]);
    sites.forEach((ls, s) => {
      ls[0].capture = (x, rows) => captured[s].push(x.slice(0, rows * ls[0].inFeatures));
    });
    try {
      for (const x of this.hidden) this.runner.runLayer(layer, x, x.length / this.runner.config.hidden_size);
    } finally {
      for (const ls of sites) ls[0].capture = null;
    }
    return sites.map((ls, s) => pickGamma(ls, concat(captured[s]), this.method, a.L, this.opts));
  }
}

/** Chooses γ of the linears `ls` sharing one input from its captured rows X, and sets it on them. */
function pickGamma(ls: SpikeLinear[], all: Float32Array, method: MethodConfig, L: number, opts: CalibrationOptions): LayerCalibration {
  const grid = opts.grid ?? GAMMA_GRID;
  const n = ls[0].inFeatures;
  const X = evenlySpacedRows(all, n, opts.rows ?? 512);
  const rows = X.length / n;
  const k = kernels();
  // Ŵx from the packed weights where they are 4-bit (no float copy), else from dequantized ones.
  const ref = ls.map((l) => {
    if (!l.packed4) return matmul(X, dequantize(l.qw), rows, n, l.outFeatures);
    const y = new Float32Array(rows * l.outFeatures);
    k.matmulW4A16(l.weights as PackedWeights4, X, y, rows);
    return y;
  });
  // Ŵ·θc is what the spike-driven layer computes: its own integer kernels give it, from the
  // counts, several times faster than a float matmul of the dequantized weights would.
  const counts = new Int32Array(rows * n), thetas = new Float64Array(rows), scratch = new Float32Array(n);
  const widths = ls.map((l) => l.outFeatures);
  const out = widths.map((m) => new Float32Array(rows * m));
  const score = (gamma: number): number => {
    k.spikeEncode(X, rows, n, { kind: 'quantile', gamma }, L, counts, thetas, scratch);
    ls.forEach((l, j) => {
      if (l.packed4) k.spikeLinearCountsRows4(l.weights as PackedWeights4, counts, rows, thetas, out[j]);
      else k.spikeLinearCountsRows(l.weights as SpikeLinearWeights, counts, rows, thetas, out[j]);
    });
    return objective(ref, out, widths, rows, method.calibObjective);
  };
  let best = -Infinity, bestGamma = 1;
  const scores = new Map<number, number>();
  for (const g of grid) {
    const v = score(g);
    scores.set(g, v);
    if (v > best) {
      best = v;
      bestGamma = g;
    }
  }
  for (const l of ls) l.rule = { kind: 'quantile', gamma: bestGamma };
  const sign = method.calibObjective === 'mse' ? -1 : 1;
  return { linears: ls.map((l) => l.name), gamma: bestGamma, objective: method.calibObjective, best: sign * best, atAbsmax: sign * (scores.get(1) ?? score(1)) };
}

export function unwrapSpike(l: unknown): SpikeLinear | null {
  return spikeLinears([l])[0] ?? null;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function evenlySpacedRows(X: Float32Array, n: number, max: number): Float32Array {
  const total = X.length / n;
  if (total <= max) return X;
  const out = new Float32Array(max * n);
  for (let r = 0; r < max; r++) {
    const src = Math.floor((r * total) / max);
    out.set(X.subarray(src * n, src * n + n), r * n);
  }
  return out;
}

function matmul(X: Float32Array, W: Float32Array, rows: number, n: number, m: number): Float32Array {
  const y = new Float32Array(rows * m);
  kernels().matmulF32(X, W, y, rows, n, m);
  return y;
}

/** Mean over rows of cos(ref_r, out_r) (outputs of sibling linears concatenated), or −MSE. */
function objective(ref: Float32Array[], out: Float32Array[], widths: number[], rows: number, kind: 'cosine' | 'mse'): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0, na = 0, nb = 0, se = 0, cnt = 0;
    widths.forEach((m, k) => {
      for (let o = r * m; o < r * m + m; o++) {
        const a = ref[k][o], b = out[k][o];
        dot += a * b;
        na += a * a;
        nb += b * b;
        se += (a - b) * (a - b);
        cnt++;
      }
    });
    total += kind === 'cosine' ? (na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0) : -se / cnt;
  }
  return total / rows;
}
