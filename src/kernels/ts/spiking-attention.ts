/**
 * The integer core of spiking attention (METHOD §5; the coding is in src/spike/attention.ts):
 * given the query spike counts cq [rows, heads, hd] with their thresholds θq [rows, heads], and
 * 8-bit keys/values kq, vq [positions, kvHeads·hd] with scales dk, dv [positions, kvHeads]:
 *   score_j = θq·dk_j·(Σ_i cq_i·kq[j, i])/√hd        (integer sums of key entries)
 *   p = softmax(score) over the causal (windowed) keys
 *   w_j = p_j·dv_j;  θp = max_j w_j / levels;  c_j = round(w_j / θp) in [0, levels]
 *   out_i = θp·Σ_j c_j·vq[j, i]                      (integer sums of value rows)
 * `hist` (length levels + 1) accumulates how many keys got each probability count c_j.
 * Backends agree to a tolerance (exp differs between libraries), the integer sums exactly.
 */
import { quantizeValue } from '../../quant/rounding.js';

export function spikingAttentionCore(
  cq: Int32Array, thetaQ: Float32Array,
  kq: Int8Array, dk: Float32Array, vq: Int8Array, dv: Float32Array,
  out: Float32Array,
  rows: number, start: number, heads: number, kvHeads: number, hd: number, window: number, levels: number,
  hist: Float64Array,
): void {
  const qd = heads * hd, kvd = kvHeads * hd, group = heads / kvHeads;
  const scale = 1 / Math.sqrt(hd);
  const positions = start + rows;
  const scores = new Float32Array(positions), w = new Float32Array(positions);
  const cp = new Int32Array(positions);
  const acc = new Int32Array(hd);
  for (let r = 0; r < rows; r++) {
    const pos = start + r;
    const first = window > 0 ? Math.max(0, pos - window + 1) : 0;
    for (let h = 0; h < heads; h++) {
      const qo = (r * heads + h) * hd;
      const kh = Math.floor(h / group);
      const tq = thetaQ[r * heads + h];
      let max = -Infinity;
      for (let j = first; j <= pos; j++) {
        const kj = j * kvd + kh * hd;
        let a = 0;
        for (let i = 0; i < hd; i++) a += cq[qo + i] * kq[kj + i];
        const sc = Math.fround(Math.fround(tq * dk[j * kvHeads + kh]) * a * scale);
        scores[j] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      for (let j = first; j <= pos; j++) {
        const e = Math.fround(Math.exp(scores[j] - max));
        scores[j] = e;
        sum += e;
      }
      let wmax = 0;
      for (let j = first; j <= pos; j++) {
        const wj = Math.fround(Math.fround(scores[j] / sum) * dv[j * kvHeads + kh]);
        w[j] = wj;
        if (wj > wmax) wmax = wj;
      }
      const thetaP = Math.fround(wmax / levels);
      acc.fill(0);
      for (let j = first; j <= pos; j++) {
        const c = quantizeValue(w[j], thetaP, levels);
        cp[j] = c;
        hist[c]++;
        if (c === 0) continue;
        const vj = j * kvd + kh * hd;
        for (let i = 0; i < hd; i++) acc[i] += c * vq[vj + i];
      }
      const oo = r * qd + h * hd;
      for (let i = 0; i < hd; i++) out[oo + i] = thetaP * acc[i];
    }
  }
}
