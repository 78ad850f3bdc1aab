/**
 * Spike statistics of a whole model: turns collection on in every spiking layer and attention,
 * and summarises per layer and overall (firing rate, mean |count|, histogram, time steps,
 * events per token, silent fraction).
 */
import type { LlamaModel } from '../model/llama.js';
import { OnlineRotatedLinear } from '../quant/rotate.js';
import { SpikeLinear } from '../spike/spike-linear.js';
import { SpikingAttention } from '../spike/attention.js';
import { SpikeStats, type SpikeSummary } from '../spike/stats.js';

/** SpikeLinears among `ls`, looking through online-rotation wrappers. */
export function spikeLinears(ls: unknown[]): SpikeLinear[] {
  const out: SpikeLinear[] = [];
  for (const l of ls) {
    const inner = l instanceof OnlineRotatedLinear ? l.inner : l;
    if (inner instanceof SpikeLinear) out.push(inner);
  }
  return out;
}

export interface LayerSpikeSummary extends SpikeSummary {
  name: string;
}

export interface ModelSpikeSummary {
  layers: LayerSpikeSummary[];
  /** All spiked matmuls together (linears; attention listed separately). */
  linears: SpikeSummary;
  attention: SpikeSummary | null;
}

function sites(model: LlamaModel): { name: string; target: SpikeLinear | SpikingAttention }[] {
  const out: { name: string; target: SpikeLinear | SpikingAttention }[] = [];
  model.parts.layers.forEach((layer, l) => {
    // Integer-coded (w4a4/w4a8) layers run dense MACs: they have no spikes to count.
    for (const sl of spikeLinears([layer.q_proj, layer.k_proj, layer.v_proj, layer.o_proj, layer.gate_proj, layer.up_proj, layer.down_proj]))
      if (sl.coding.kind !== 'int') out.push({ name: sl.name, target: sl });
    if (layer.attention instanceof SpikingAttention) out.push({ name: `model.layers.${l}.self_attn.attention`, target: layer.attention });
  });
  for (const sl of spikeLinears([model.parts.lm_head])) if (sl.coding.kind !== 'int') out.push({ name: sl.name, target: sl });
  return out;
}

/** Starts (or restarts) collecting statistics in every spiking site. */
export function enableSpikeStats(model: LlamaModel): void {
  for (const { target } of sites(model)) target.stats = target.newStats() as never;
}

export function disableSpikeStats(model: LlamaModel): void {
  for (const { target } of sites(model)) target.stats = null;
}

export function spikeSummary(model: LlamaModel): ModelSpikeSummary | null {
  const layers: LayerSpikeSummary[] = [];
  let lin: SpikeStats | null = null, att: SpikeStats | null = null;
  const merge = (acc: SpikeStats | null, s: SpikeStats) => {
    const into = acc ?? new SpikeStats(s.maxCount);
    into.merge(s);
    return into;
  };
  for (const { name, target } of sites(model)) {
    if (!target.stats) continue;
    if (target instanceof SpikeLinear) {
      const s = target.stats as SpikeStats;
      layers.push({ name, ...s.summary() });
      lin = merge(lin, s);
    } else {
      const st = target.stats as { qk: SpikeStats; pv: SpikeStats };
      layers.push({ name: `${name}.qk`, ...st.qk.summary() }, { name: `${name}.pv`, ...st.pv.summary() });
      att = merge(att, st.qk);
    }
  }
  if (!lin) return null;
  // Merged statistics count each token once per layer; per-token figures are per model token.
  const linears = lin.summary();
  const tokens = layers[0].tokens;
  linears.tokens = tokens;
  linears.eventsPerToken = tokens ? linears.events / tokens : 0;
  return { layers, linears, attention: att ? att.summary() : null };
}
