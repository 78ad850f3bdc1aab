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
    const hd = s.headDim, qd = s.heads * hd, kvd = s.kvHeads * hd, group = s.heads / s.kvHeads;
    const scale = 1 / Math.sqrt(hd);
    out.fill(0, 0, rows * qd);
    for (let r = 0; r < rows; r++) {
      const pos = start + r;
      const first = firstPosition(pos, s.window);
      for (let h = 0; h < s.heads; h++) {
        const qo = r * qd + h * hd;
        const ko = Math.floor(h / group) * hd;
        let max = -Infinity;
        for (let j = first; j <= pos; j++) {
          const kj = j * kvd + ko;
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[qo + i] * K[kj + i];
          const sc = dot * scale;
          scores[j] = sc;
          if (sc > max) max = sc;
        }
        let sum = 0;
        for (let j = first; j <= pos; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = first; j <= pos; j++) {
          const p = scores[j] * inv;
          const vj = j * kvd + ko;
          for (let i = 0; i < hd; i++) out[qo + i] += p * V[vj + i];
        }
        if (ops) {
          const keys = pos - first + 1;
          ops.mac_float += 2 * keys * hd; // q·k and p·v
          ops.fp_mult += 2 * keys; // score scale, probability normalisation
          ops.fp_add += 2 * keys; // max-subtract, sum
          ops.fp_special += keys + 1; // exp per key, one division
          ops.act_bytes += 2 * keys * hd * 4; // K and V rows read
        }
      }
    }
    if (ops) ops.rows += rows;
  },
};
