/**
 * Spiking attention (METHOD §5). Q·Kᵀ: each query head is spike-encoded (counts c_i ≤ L), keys
 * are stored as 8-bit integers per position and head, so a score is θ_q·dk_j·Σ_i c_i·Kq[j,i] —
 * sums of key entries selected by the query's spikes. Softmax stays float. P·V: values are 8-bit
 * per position and head too; to keep the accumulation integer, what is spike-coded is
 * w_j = p_j·dv_j (the probability times that value row's scale, one float multiply per key), as
 * unidirectional counts in [0, L_p]: out = θ_p·Σ_j c_j·Vq[j, :].
 * K and V are quantized from the float cache, per position (deterministic per position, so this
 * equals storing them quantized): each call quantizes the positions it wrote, [start, end), and
 * reuses the earlier ones, kept per cache array (a WeakMap keyed by the layer's K array, which
 * KVCache replaces when it grows) — a decode step costs O(1) quantization, not O(positions).
 * The integer core runs as a registered kernel (src/kernels/ts/spiking-attention.ts and its
 * native twin).
 */
import type { AttentionCore, AttentionShape } from '../model/attention.js';
import { firstPosition } from '../model/attention.js';
import { quantizeValue } from '../quant/rounding.js';
import { kernels } from '../kernels/registry.js';
import { maxAbs, type ThresholdRule } from './threshold.js';
import { SpikeStats } from './stats.js';
import type { OpCounts } from '../energy/ops.js';

const KV_QMAX = 127;

/** 8-bit keys and values of one cache array, valid for positions [0, done). */
interface QuantizedKV {
  V: Float32Array;
  kq: Int8Array;
  vq: Int8Array;
  dk: Float32Array;
  dv: Float32Array;
  done: number;
}

export class SpikingAttention implements AttentionCore {
  /** Statistics of the query spikes (Q·Kᵀ) and probability spikes (P·V) while set. */
  stats: { qk: SpikeStats; pv: SpikeStats } | null = null;
  private readonly kvs = new WeakMap<Float32Array, QuantizedKV>();
  private cq = new Int32Array(0);
  private thetaQ = new Float32Array(0);
  private thetas = new Float64Array(0);
  private select = new Float32Array(0);
  private readonly hist: Float64Array;

  constructor(
    readonly L: number,
    readonly rule: ThresholdRule,
    readonly levels: number,
  ) {
    this.hist = new Float64Array(levels + 1);
  }

  newStats(): { qk: SpikeStats; pv: SpikeStats } {
    return { qk: new SpikeStats(this.L), pv: new SpikeStats(this.levels) };
  }

  run(q: Float32Array, out: Float32Array, rows: number, start: number, K: Float32Array, V: Float32Array, _scores: Float32Array, s: AttentionShape, ops: OpCounts | null): void {
    const hd = s.headDim, heads = s.heads, kvd = s.kvHeads * hd;
    const end = start + rows;
    const kv = this.quantizeKV(K, V, start, end, s);
    const pairs = rows * heads;
    if (this.cq.length < pairs * hd) {
      this.cq = new Int32Array(pairs * hd);
      this.thetaQ = new Float32Array(pairs);
      this.thetas = new Float64Array(pairs);
    }
    if (this.select.length < hd) this.select = new Float32Array(hd);
    const { cq, thetaQ, thetas, hist } = this;
    // Step 1 for every query head at once (each head's hd channels are one row of the encoder).
    kernels().spikeEncode(q, pairs, hd, this.rule, this.L, cq, thetas, this.select);
    for (let p = 0; p < pairs; p++) thetaQ[p] = thetas[p];
    let qAccumulations = 0;
    if (this.stats || ops) {
      for (let r = 0; r < rows; r++) {
        const pos = start + r;
        const keys = pos - firstPosition(pos, s.window) + 1;
        for (let h = 0; h < heads; h++) {
          const co = (r * heads + h) * hd;
          let events = 0, T = 0;
          for (let i = co; i < co + hd; i++) {
            events += Math.abs(cq[i]);
            T = Math.max(T, Math.abs(cq[i]));
          }
          this.stats?.qk.add(cq, co, hd, Number.isFinite(this.L) ? this.L : T);
          qAccumulations += events * keys; // each query spike adds one key entry per key
        }
      }
    }
    hist.fill(0);
    kernels().spikingAttentionCore(cq, thetaQ, kv.kq, kv.dk, kv.vq, kv.dv, out, rows, start, heads, s.kvHeads, hd, s.window ?? 0, this.levels, hist);
    this.stats?.pv.addHistogram(hist, rows * heads, this.levels);
    if (ops) {
      let keys = 0, pEvents = 0;
      for (let c = 0; c < hist.length; c++) {
        keys += hist[c];
        pEvents += c * hist[c];
      }
      ops.rows += rows;
      ops.ac += qAccumulations + pEvents * hd; // each probability spike adds one value row
      ops.fp_mult += pairs * 2 * hd + 4 * keys; // q/θ and θp per output; θ·dk·scale, p·dv, w/θp per key
      ops.fp_add += 2 * keys;
      ops.fp_special += keys + pairs;
      ops.act_bytes += 2 * keys * hd + 8 * keys; // int8 K and V rows, their scales
      ops.fp_mult += 2 * rows * kvd; // quantising this call's new keys and values (once per position)
    }
  }

  /**
   * Symmetric 8-bit K and V per position and kv head, for positions [0, end) of this cache array:
   * positions from min(start, done) on are (re)quantized — this call wrote [start, end), and a
   * truncated cache rewrites positions from its new length — the earlier ones are reused.
   */
  private quantizeKV(K: Float32Array, V: Float32Array, start: number, end: number, s: AttentionShape): QuantizedKV {
    const hd = s.headDim, kvd = s.kvHeads * hd;
    let e = this.kvs.get(K);
    if (!e || e.V !== V || e.kq.length < end * kvd) {
      const cap = Math.max(end, Math.floor(K.length / Math.max(kvd, 1)));
      e = { V, kq: new Int8Array(cap * kvd), vq: new Int8Array(cap * kvd), dk: new Float32Array(cap * s.kvHeads), dv: new Float32Array(cap * s.kvHeads), done: 0 };
      this.kvs.set(K, e);
    }
    const { kq, vq, dk: dks, dv: dvs } = e;
    for (let j = Math.min(start, e.done); j < end; j++) {
      for (let h = 0; h < s.kvHeads; h++) {
        const o = j * kvd + h * hd;
        const dk = Math.fround(maxAbs(K, o, hd) / KV_QMAX), dv = Math.fround(maxAbs(V, o, hd) / KV_QMAX);
        dks[j * s.kvHeads + h] = dk;
        dvs[j * s.kvHeads + h] = dv;
        for (let i = 0; i < hd; i++) {
          kq[o + i] = quantizeValue(K[o + i], dk, KV_QMAX);
          vq[o + i] = quantizeValue(V[o + i], dv, KV_QMAX);
        }
      }
    }
    e.done = end;
    return e;
  }
}
