/**
 * Runs a model over tokens with operation counting and spike statistics on, and prices the
 * counts: the numbers behind `sdllm energy`, `sdllm report` and the web page's meter.
 */
import type { LlamaModel } from '../model/llama.js';
import { enableSpikeStats, disableSpikeStats, spikeSummary, type ModelSpikeSummary } from '../sdllm/stats.js';
import type { MethodConfig } from '../sdllm/method.js';
import { enableOpCounting, disableOpCounting, opReport, type OpReport, type SiteKind } from './count.js';
import { energyOf, type EnergyBreakdown, type FloatPrecision } from './energy.js';
import type { EnergyTable } from './table.js';
import { OpCounts } from './ops.js';
import { tokenNll } from '../eval/perplexity.js';

export interface EnergyMeasurement {
  method: MethodConfig;
  tokens: number;
  ops: OpReport;
  spikes: ModelSpikeSummary | null;
  /** Perplexity of the windows (every token after a window's first scored), measured in the same run. */
  ppl: number;
}

/** Runs `ids` in windows of `ctx` (each on its own, as the perplexity protocol does) while counting. */
export function measure(model: LlamaModel, method: MethodConfig, ids: number[], ctx = 512, onWindow?: (done: number, total: number) => void): EnergyMeasurement {
  enableOpCounting(model);
  enableSpikeStats(model);
  try {
    const V = model.config.vocab_size;
    let nll = 0, scored = 0;
    const windows = Math.ceil(ids.length / ctx);
    for (let w = 0; w < windows; w++) {
      const chunk = ids.slice(w * ctx, (w + 1) * ctx);
      // Logits at every position, as decoding (and scoring) computes them for every token.
      const logits = model.step(chunk, model.newCache(chunk.length), true);
      for (let i = 0; i + 1 < chunk.length; i++) nll += tokenNll(logits, i * V, V, chunk[i + 1]);
      scored += chunk.length - 1;
      onWindow?.(w + 1, windows);
    }
    const ops = opReport(model);
    return { method, tokens: ops.tokens, ops, spikes: spikeSummary(model), ppl: Math.exp(nll / scored) };
  } finally {
    disableOpCounting(model);
    disableSpikeStats(model);
  }
}

export interface EnergyPerToken {
  /** pJ per token. */
  energy: EnergyBreakdown;
  /** The part of `energy.compute` spent in matmuls that were spike-driven, dense-int or dense-float, and elsewhere. */
  byKind: Record<SiteKind, number>;
  /** Operation counts per token. */
  ops: OpCounts;
}

export function perToken(m: EnergyMeasurement, table: EnergyTable, precision: FloatPrecision = 'fp16'): EnergyPerToken {
  const f = 1 / m.tokens;
  const byKind = { spiking: 0, 'dense-int': 0, 'dense-float': 0, rotation: 0, attention: 0, other: 0 } as Record<SiteKind, number>;
  for (const s of m.ops.sites) byKind[s.kind] += energyOf(s.ops, table, precision).compute * f;
  return { energy: scale(energyOf(m.ops.total, table, precision), f), byKind, ops: m.ops.total.scaled(f) };
}

function scale(e: EnergyBreakdown, f: number): EnergyBreakdown {
  return { ...e, denseFloat: e.denseFloat * f, denseInt: e.denseInt * f, spike: e.spike * f, floatOps: e.floatOps * f, compute: e.compute * f, memory: e.memory * f, total: e.total * f };
}
