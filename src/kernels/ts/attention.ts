/**
 * Float attention products of one layer, plain TypeScript reference: for each query row r (at
 * position start + r) and head h, scores over the keys of positions first..pos (causal, and a
 * sliding window when window > 0), softmax, and out = P·V. GQA: query head h reads kv head
 * ⌊h / (heads / kvHeads)⌋. K and V are [positions, kvHeads·headDim]; q and out [rows, heads·headDim].
 * Sums in float64 here; backends may sum in float32 (checked to a tolerance).
 */
export function attentionF32(
  q: Float32Array, K: Float32Array, V: Float32Array, out: Float32Array,
  rows: number, start: number, heads: number, kvHeads: number, headDim: number, window: number,
  scores: Float32Array,
): void {
  const hd = headDim, qd = heads * hd, kvd = kvHeads * hd, group = heads / kvHeads;
  const scale = 1 / Math.sqrt(hd);
  out.fill(0, 0, rows * qd);
  for (let r = 0; r < rows; r++) {
    const pos = start + r;
    const first = window > 0 ? Math.max(0, pos - window + 1) : 0;
    for (let h = 0; h < heads; h++) {
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
    }
  }
}
