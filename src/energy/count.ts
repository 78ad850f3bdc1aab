/**
 * Turns operation counting on in every site of a model and collects the counts per site:
 * each linear (spike-driven, dense integer or dense float), the online rotations, attention per
 * layer, and the remaining float work.
 */
import type { LlamaModel } from '../model/llama.js';
import type { Linear } from '../model/linear.js';
import { BF16Linear, DenseLinear } from '../model/linear.js';
import { OnlineRotatedLinear, UnrotatedHead } from '../quant/rotate.js';
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
  if (l instanceof DenseLinear || l instanceof BF16Linear || l instanceof W4A16Linear) return 'dense-float';
  return 'rotation';
}

/** A rotation run before the linear it wraps, and the name of its site (the linear's name plus this). */
function rotationSite(l: Linear): { wrapper: OnlineRotatedLinear | UnrotatedHead; suffix: string } | null {
  if (l instanceof OnlineRotatedLinear) return { wrapper: l, suffix: 'online_hadamard' };
  if (l instanceof UnrotatedHead) return { wrapper: l, suffix: 'inverse_rotation' };
  return null;
}

/** Starts counting from zero in every site. */
export function enableOpCounting(model: LlamaModel): void {
  for (const { linear } of linearSites(model)) {
    linear.ops = new OpCounts();
    const rot = rotationSite(linear);
    if (rot) rot.wrapper.inner.ops = new OpCounts();
  }
  model.ops = { attention: model.parts.layers.map(() => new OpCounts()), other: new OpCounts() };
}

export function disableOpCounting(model: LlamaModel): void {
  for (const { linear } of linearSites(model)) {
    linear.ops = null;
    const rot = rotationSite(linear);
    if (rot) rot.wrapper.inner.ops = null;
  }
  model.ops = null;
}

export function opReport(model: LlamaModel): OpReport {
  if (!model.ops) throw new Error('opReport: counting is not enabled (call enableOpCounting first)');
  const sites: OpSite[] = [];
  for (const { name, layer, linear } of linearSites(model)) {
    const rot = rotationSite(linear);
    if (rot) {
      sites.push({ name: `${name}.${rot.suffix}`, kind: 'rotation', layer, ops: linear.ops! });
      sites.push({ name, kind: kindOf(rot.wrapper.inner), layer, ops: rot.wrapper.inner.ops! });
    } else sites.push({ name, kind: kindOf(linear), layer, ops: linear.ops! });
  }
  model.ops.attention.forEach((ops, l) => sites.push({ name: `model.layers.${l}.self_attn.attention`, kind: 'attention', layer: l, ops }));
  sites.push({ name: 'norms, RoPE, SwiGLU, residuals', kind: 'other', layer: -1, ops: model.ops.other });
  const total = new OpCounts();
  for (const s of sites) total.add(s.ops);
  return { tokens: model.ops.other.rows, sites, total };
}
