/**
 * The attention products of one layer (after projections and RoPE): scores = q·Kᵀ/√d, causal
 * (and sliding-window) softmax, out = P·V, for every query row and head (GQA: query head h reads
 * kv head ⌊h / group⌋). Float here; spike/attention.ts implements the spiking version of METHOD §5
 * behind the same interface.
 */
export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Mistral-style window; null attends to every earlier position. */
  window: number | null;
}

import type { OpCounts } from '../energy/ops.js';
import { kernels } from '../kernels/registry.js';

export interface AttentionCore {
  /**
   * out[r, h*hd ..] for query rows r < rows at positions start + r; K and V hold positions
   * 0 .. start + rows − 1 as [position, kvHeads*headDim]. `scores` has room for all positions.
   */
  run(q: Float32Array, out: Float32Array, rows: number, start: number, K: Float32Array, V: Float32Array, scores: Float32Array, s: AttentionShape, ops: OpCounts | null): void;
}

export function firstPosition(pos: number, window: number | null): number {
  return window === null ? 0 : Math.max(0, pos - window + 1);
}

export const floatAttention: AttentionCore = {
  run(q, out, rows, start, K, V, scores, s, ops) {
    kernels().attentionF32(q, K, V, out, rows, start, s.heads, s.kvHeads, s.headDim, s.window ?? 0, scores);
    if (!ops) return;
    const hd = s.headDim;
    ops.rows += rows;
    for (let r = 0; r < rows; r++) {
      const pos = start + r;
      const keys = (pos - firstPosition(pos, s.window) + 1) * s.heads;
      ops.mac_float += 2 * keys * hd; // q·k and p·v
      ops.fp_mult += 2 * keys; // score scale, probability normalisation
      ops.fp_add += 2 * keys; // max-subtract, sum
      ops.fp_special += keys + s.heads; // exp per key, one division per head
      ops.act_bytes += 2 * keys * hd * 4; // K and V rows read
    }
  },
};
