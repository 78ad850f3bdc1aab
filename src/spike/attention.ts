/**
 * Spiking attention (METHOD §5). Q·Kᵀ: each query head is spike-encoded (counts c_i ≤ L), keys
 * are stored as 8-bit integers per position and head, so a score is θ_q·dk_j·Σ_i c_i·Kq[j,i] —
 * sums of key entries selected by the query's spikes. Softmax stays float. P·V: values are 8-bit
 * per position and head too; to keep the accumulation integer, what is spike-coded is
 * w_j = p_j·dv_j (the probability times that value row's scale, one float multiply per key), as
 * unidirectional counts in [0, L_p]: out = θ_p·Σ_j c_j·Vq[j, :].
 * K and V are quantized from the float cache at each call (deterministic per position, so this
 * equals storing them quantized).
 */
import type { AttentionCore, AttentionShape } from '../model/attention.js';
import { firstPosition } from '../model/attention.js';
import { quantizeValue } from '../quant/rounding.js';
import { threshold, maxAbs, type ThresholdRule } from './threshold.js';
import { spikeCounts } from './encode.js';
import { SpikeStats } from './stats.js';
import type { OpCounts } from '../energy/ops.js';

const KV_QMAX = 127;

export class SpikingAttention implements AttentionCore {
  /** Statistics of the query spikes (Q·Kᵀ) and probability spikes (P·V) while set. */
  stats: { qk: SpikeStats; pv: SpikeStats } | null = null;
  private kq = new Int8Array(0);
  private vq = new Int8Array(0);
  private dk = new Float32Array(0);
  private dv = new Float32Array(0);
  private cq = new Int32Array(0);
  private cp = new Int32Array(0);
  private w = new Float32Array(0);
  private select = new Float32Array(0);

  constructor(
    readonly L: number,
    readonly rule: ThresholdRule,
    readonly levels: number,
  ) {}

  newStats(): { qk: SpikeStats; pv: SpikeStats } {
    return { qk: new SpikeStats(this.L), pv: new SpikeStats(this.levels) };
  }

  run(q: Float32Array, out: Float32Array, rows: number, start: number, K: Float32Array, V: Float32Array, scores: Float32Array, s: AttentionShape, ops: OpCounts | null): void {
    const hd = s.headDim, qd = s.heads * hd, kvd = s.kvHeads * hd, group = s.heads / s.kvHeads;
    const end = start + rows;
    this.quantizeKV(K, V, end, s);
    if (this.cq.length < hd) {
      this.cq = new Int32Array(hd);
      this.select = new Float32Array(hd);
    }
    if (this.cp.length < end) {
      this.cp = new Int32Array(end);
      this.w = new Float32Array(end);
    }
    const { kq, vq, dk, dv, cq, cp, w } = this;
    const scale = 1 / Math.sqrt(hd);
    out.fill(0, 0, rows * qd);
    for (let r = 0; r < rows; r++) {
      const pos = start + r;
      const first = firstPosition(pos, s.window);
      for (let h = 0; h < s.heads; h++) {
        const qo = r * qd + h * hd;
        const kh = Math.floor(h / group);
        const thetaQ = threshold(q, qo, hd, this.rule, this.L, this.select);
        spikeCounts(q, qo, hd, thetaQ, this.L, cq, 0);
        let T = this.L;
        if (!Number.isFinite(T)) {
          T = 0;
          for (let i = 0; i < hd; i++) T = Math.max(T, Math.abs(cq[i]));
        }
        this.stats?.qk.add(cq, 0, hd, T);
        let qEvents = 0;
        if (ops) for (let i = 0; i < hd; i++) qEvents += Math.abs(cq[i]);
        let max = -Infinity;
        for (let j = first; j <= pos; j++) {
          const kj = j * kvd + kh * hd;
          let acc = 0; // integer: additions of key entries selected by the query's spikes
          for (let i = 0; i < hd; i++) if (cq[i] !== 0) acc += cq[i] * kq[kj + i];
          const sc = thetaQ * dk[j * s.kvHeads + kh] * acc * scale;
          scores[j] = sc;
          if (sc > max) max = sc;
        }
        let sum = 0;
        for (let j = first; j <= pos; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          sum += e;
        }
        let wmax = 0;
        for (let j = first; j <= pos; j++) {
          const wj = Math.fround((scores[j] / sum) * dv[j * s.kvHeads + kh]);
          w[j] = wj;
          if (wj > wmax) wmax = wj;
        }
        const thetaP = Math.fround(wmax / this.levels);
        for (let j = first; j <= pos; j++) cp[j] = quantizeValue(w[j], thetaP, this.levels);
        this.stats?.pv.add(cp, first, pos - first + 1, this.levels);
        for (let j = first; j <= pos; j++) {
          const c = cp[j];
          if (c === 0) continue;
          const vj = j * kvd + kh * hd;
          for (let i = 0; i < hd; i++) out[qo + i] += c * vq[vj + i];
        }
        for (let i = 0; i < hd; i++) out[qo + i] *= thetaP;
        if (ops) {
          const keys = pos - first + 1;
          let pEvents = 0;
          for (let j = first; j <= pos; j++) pEvents += cp[j];
          // Each query spike adds one key entry per key; each probability spike adds one value row.
          ops.ac += qEvents * keys + pEvents * hd;
          ops.fp_mult += hd + 2 * keys + 2 * keys + hd; // q/θ; θ·dk·scale per score; p·dv and w/θp per key; θp per output
          ops.fp_add += 2 * keys;
          ops.fp_special += keys + 1;
          ops.act_bytes += 2 * keys * hd + 8 * keys; // int8 K and V rows, their scales
        }
      }
    }
    if (ops) {
      ops.rows += rows;
      ops.fp_mult += 2 * rows * kvd; // quantising this call's new keys and values (once per position)
    }
  }

  /** Symmetric 8-bit K and V per position and kv head. */
  private quantizeKV(K: Float32Array, V: Float32Array, end: number, s: AttentionShape): void {
    const hd = s.headDim, kvd = s.kvHeads * hd;
    if (this.kq.length < end * kvd) {
      const cap = Math.max(end, 2 * (this.kq.length / Math.max(kvd, 1)));
      this.kq = new Int8Array(cap * kvd);
      this.vq = new Int8Array(cap * kvd);
      this.dk = new Float32Array(cap * s.kvHeads);
      this.dv = new Float32Array(cap * s.kvHeads);
    }
    for (let j = 0; j < end; j++) {
      for (let h = 0; h < s.kvHeads; h++) {
        const o = j * kvd + h * hd;
        const dk = Math.fround(maxAbs(K, o, hd) / KV_QMAX), dv = Math.fround(maxAbs(V, o, hd) / KV_QMAX);
        this.dk[j * s.kvHeads + h] = dk;
        this.dv[j * s.kvHeads + h] = dv;
        for (let i = 0; i < hd; i++) {
          this.kq[o + i] = quantizeValue(K[o + i], dk, KV_QMAX);
          this.vq[o + i] = quantizeValue(V[o + i], dv, KV_QMAX);
        }
      }
    }
  }
}
