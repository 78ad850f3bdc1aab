/**
 * Turns operation counting on in every site of a model and collects the counts per site:
 * each linear (spike-driven, dense integer or dense float), the online rotations, attention per
 * layer, and the remaining float work.
 */
import type { LlamaModel } from '../model/llama.js';
import type { Linear } from '../model/linear.js';
import { DenseLinear } from '../model/linear.js';
import { OnlineRotatedLinear } from '../quant/rotate.js';
import { W4A16Linear } from '../quant/w4a16-linear.js';
import { SpikeLinear } from '../spike/spike-linear.js';
import { OpCounts } from './ops.js';
import { LAYER_LINEARS, linearName } from '../sdllm/prepare.js';

export type SiteKind = 'spiking' | 'dense-int' | 'dense-float' | 'rotation' | 'attention' | 'other';

export interface OpSite {
  name: string;
  kind: SiteKind;
  layer: number;
  ops: OpCounts;
}

export interface OpReport {
  /** Tokens the model processed while counting. */
  tokens: number;
  sites: OpSite[];
  total: OpCounts;
}

function linearSites(model: LlamaModel): { name: string; layer: number; linear: Linear }[] {
  const out: { name: string; layer: number; linear: Linear }[] = [];
  model.parts.layers.forEach((layer, l) => {
    for (const role of LAYER_LINEARS) out.push({ name: linearName(l, role), layer: l, linear: layer[role] });
  });
  out.push({ name: 'lm_head', layer: -1, linear: model.parts.lm_head });
  return out;
}

function kindOf(l: Linear): SiteKind {
  if (l instanceof SpikeLinear) return l.coding.kind === 'int' ? 'dense-int' : 'spiking';
  if (l instanceof DenseLinear || l instanceof W4A16Linear) return 'dense-float';
  return 'rotation';
}

/** Starts counting from zero in every site. */
export function enableOpCounting(model: LlamaModel): void {
  for (const { linear } of linearSites(model)) {
    linear.ops = new OpCounts();
    if (linear instanceof OnlineRotatedLinear) linear.inner.ops = new OpCounts();
  }
  model.ops = { attention: model.parts.layers.map(() => new OpCounts()), other: new OpCounts() };
}

export function disableOpCounting(model: LlamaModel): void {
  for (const { linear } of linearSites(model)) {
    linear.ops = null;
    if (linear instanceof OnlineRotatedLinear) linear.inner.ops = null;
  }
  model.ops = null;
}

export function opReport(model: LlamaModel): OpReport {
  if (!model.ops) throw new Error('opReport: counting is not enabled (call enableOpCounting first)');
  const sites: OpSite[] = [];
  for (const { name, layer, linear } of linearSites(model)) {
    if (linear instanceof OnlineRotatedLinear) {
      sites.push({ name: `${name}.online_hadamard`, kind: 'rotation', layer, ops: linear.ops! });
      sites.push({ name, kind: kindOf(linear.inner), layer, ops: linear.inner.ops! });
    } else sites.push({ name, kind: kindOf(linear), layer, ops: linear.ops! });
  }
  model.ops.attention.forEach((ops, l) => sites.push({ name: `model.layers.${l}.self_attn.attention`, kind: 'attention', layer: l, ops }));
  sites.push({ name: 'norms, RoPE, SwiGLU, residuals', kind: 'other', layer: -1, ops: model.ops.other });
  const total = new OpCounts();
  for (const s of sites) total.add(s.ops);
  return { tokens: model.ops.other.rows, sites, total };
}
