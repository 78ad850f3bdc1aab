/**
 * QuaRot-style rotation of a float model (METHOD §1b), done offline on the weights:
 *  1. fold every RMSNorm weight into the linears that read its output (the norms become 1, so
 *     RMSNorm commutes with any orthogonal Q);
 *  2. rotate the residual stream by Q = diag(s)·H/√d: embeddings E ← E·Q, readers W ← W·Q,
 *     writers W ← Qᵀ·W, lm_head W ← W·Q;
 *  3. fuse an online block Hadamard Q_b into down_proj (and optionally o_proj): W ← W·Q_b, and the
 *     model applies x ← x·Q_b to that layer's input at run time (additions/subtractions only).
 * The float function of the model is unchanged up to rounding (tested).
 */
import type { ModelConfig } from '../model/config.js';
import type { FloatLayerWeights } from '../model/weights.js';
import type { Linear } from '../model/linear.js';
import type { OpCounts } from '../energy/ops.js';
import { BlockHadamard, RandomizedHadamard } from './hadamard.js';

export type OnlineSite = 'down_proj' | 'o_proj';

/** Seeds of the three rotations derive from the one recorded seed. */
export const onlineSeed = (seed: number, site: OnlineSite) => (seed + (site === 'down_proj' ? 1 : 2)) >>> 0;

/** Scales the input channels of W [rows, cols] by v (W ← W·diag(v)). */
function scaleColumns(W: Float32Array, rows: number, cols: number, v: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) W[r * cols + i] *= v[i];
}

/** The rotations of one model: Q on the residual stream and the online block Hadamards fused into inputs. */
export interface Rotations {
  Q: RandomizedHadamard;
  down: BlockHadamard | null;
  o: BlockHadamard | null;
}

export function makeRotations(c: ModelConfig, seed: number, online: readonly OnlineSite[]): Rotations {
  return {
    Q: new RandomizedHadamard(c.hidden_size, seed),
    down: online.includes('down_proj') ? new BlockHadamard(c.intermediate_size, onlineSeed(seed, 'down_proj')) : null,
    o: online.includes('o_proj') ? new BlockHadamard(c.num_attention_heads * c.head_dim, onlineSeed(seed, 'o_proj')) : null,
  };
}

/**
 * Folds one layer's norms into the linears that read them and rotates its weights, in place.
 * Layers are independent of each other here, so a converter can do this one layer at a time.
 */
export function rotateLayer(l: FloatLayerWeights, c: ModelConfig, r: Rotations): void {
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  scaleColumns(l.q_proj, qd, d, l.input_layernorm);
  scaleColumns(l.k_proj, kvd, d, l.input_layernorm);
  scaleColumns(l.v_proj, kvd, d, l.input_layernorm);
  l.input_layernorm.fill(1);
  scaleColumns(l.gate_proj, I, d, l.post_attention_layernorm);
  scaleColumns(l.up_proj, I, d, l.post_attention_layernorm);
  l.post_attention_layernorm.fill(1);
  r.Q.rotateRows(l.q_proj, qd);
  r.Q.rotateRows(l.k_proj, kvd);
  r.Q.rotateRows(l.v_proj, kvd);
  r.Q.rotateRows(l.gate_proj, I);
  r.Q.rotateRows(l.up_proj, I);
  r.Q.rotateColumns(l.o_proj, qd);
  r.Q.rotateColumns(l.down_proj, I);
  r.down?.rotateWeightInputs(l.down_proj, d, I);
  r.o?.rotateWeightInputs(l.o_proj, d, qd);
}

/** Rotates the embeddings in place. */
export function rotateEmbeddings(embed: Float32Array, c: ModelConfig, r: Rotations): void {
  r.Q.rotateRows(embed, c.vocab_size);
}

/**
 * Folds the final norm into lm_head and rotates it, in place. A tied head reads the embedding's
 * array: pass a copy, since only the head gets the norm.
 */
export function rotateHead(lmHead: Float32Array, norm: Float32Array, c: ModelConfig, r: Rotations): void {
  scaleColumns(lmHead, c.vocab_size, c.hidden_size, norm);
  norm.fill(1);
  r.Q.rotateRows(lmHead, c.vocab_size);
}

/**
 * x ← x·Q_b before the wrapped linear: the run-time half of an online rotation. Works on a copy,
 * so callers' buffers are left as they were.
 */
export class OnlineRotatedLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private scratch = new Float32Array(0);
  /** Counts the transform itself; the wrapped layer counts its own matmul. */
  ops: OpCounts | null = null;
  constructor(readonly rotation: BlockHadamard, readonly inner: Linear) {
    this.inFeatures = inner.inFeatures;
    this.outFeatures = inner.outFeatures;
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    const n = rows * this.inFeatures;
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    const xr = this.scratch.subarray(0, n);
    xr.set(x.subarray(0, n));
    this.rotation.apply(xr, rows);
    if (this.ops) {
      this.ops.rows += rows;
      this.ops.fp_add += rows * this.rotation.addsPerRow;
      this.ops.fp_mult += rows * this.rotation.multsPerRow;
    }
    this.inner.forward(xr, y, rows);
  }
}

/**
 * The final norm's weight g and the inverse residual rotation applied at run time, before a head
 * kept as the checkpoint stores it (bf16): x ← (x·Qᵀ)∘g, then the head's own weights W. Folding
 * g and Q into W (rotateHead) would round W off its 16-bit grid; this keeps W exact, and
 * W·((x·Qᵀ)∘g) = (W·diag(g)·Q)·x is the folded head's function. Per row: one fast Hadamard
 * transform (additions) and 2n multiplies, counted here; the head counts its own matmul.
 */
export class UnrotatedHead implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private scratch = new Float32Array(0);
  ops: OpCounts | null = null;
  constructor(readonly Q: RandomizedHadamard, readonly norm: Float32Array, readonly inner: Linear) {
    if (Q.n !== inner.inFeatures || norm.length !== inner.inFeatures) throw new RangeError(`UnrotatedHead: rotation ${Q.n}, norm ${norm.length}, head input ${inner.inFeatures}`);
    this.inFeatures = inner.inFeatures;
    this.outFeatures = inner.outFeatures;
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    const n = this.inFeatures;
    if (this.scratch.length < rows * n) this.scratch = new Float32Array(rows * n);
    const xr = this.scratch.subarray(0, rows * n);
    xr.set(x.subarray(0, rows * n));
    this.Q.unrotateRows(xr, rows);
    const g = this.norm;
    for (let r = 0; r < rows; r++) for (let i = 0, b = r * n; i < n; i++) xr[b + i] *= g[i];
    if (this.ops) {
      this.ops.rows += rows;
      this.ops.fp_add += rows * this.Q.addsPerRow;
      this.ops.fp_mult += rows * (this.Q.multsPerRow + n);
    }
    this.inner.forward(xr, y, rows);
  }
}
