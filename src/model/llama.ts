/**
 * The LLaMA-family decoder, written once: RMSNorm → attention (GQA, RoPE, KV cache) → residual
 * → RMSNorm → SwiGLU MLP → residual, for Llama, Mistral and Qwen2 alike (they differ by config).
 * Every matmul goes through a Linear, so quantized and spike-driven methods plug in by building
 * the model with other Linears.
 *
 * Data layout (as llama2.c): activations of the `rows` tokens of one call are row-major
 * [rows, width] Float32Arrays held in a workspace that is reused across calls, so decoding one
 * token at a time allocates nothing.
 */
import type { ModelConfig } from './config.js';
import type { Linear } from './linear.js';
import type { Tokenizer } from './tokenizer.js';
import { KVCache } from './kv-cache.js';
import { RopeTable, applyRope, inverseFrequencies } from './rope.js';
import { fail } from '../errors.js';
import { floatAttention, type AttentionCore } from './attention.js';
import type { OpCounts } from '../energy/ops.js';
import { kernels } from '../kernels/registry.js';

/** Counters of the work outside the Linears: attention per layer, and norms/RoPE/SwiGLU/residuals. */
export interface ModelOps {
  attention: OpCounts[];
  other: OpCounts;
}

export interface DecoderLayer {
  input_layernorm: Float32Array;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  post_attention_layernorm: Float32Array;
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  /** The attention products; float when absent. */
  attention?: AttentionCore;
}

export interface ModelParts {
  embed_tokens: Float32Array;
  layers: DecoderLayer[];
  norm: Float32Array;
  lm_head: Linear;
}

export interface ForwardOptions {
  /** Continue from (and append to) this cache; without one the ids are a fresh sequence. */
  cache?: KVCache;
  /** Return logits of every position ([rows, vocab]) instead of the last one only. */
  allLogits?: boolean;
}

/** Activation buffers of one call, reused across calls. */
export class Workspace {
  rows = 0;
  x = new Float32Array(0);
  xn = new Float32Array(0);
  q = new Float32Array(0);
  k = new Float32Array(0);
  v = new Float32Array(0);
  att = new Float32Array(0);
  proj = new Float32Array(0);
  gate = new Float32Array(0);
  up = new Float32Array(0);
  scores = new Float32Array(0);
  logits = new Float32Array(0);

  constructor(private readonly c: ModelConfig) {}

  ensure(rows: number, positions: number, logitRows: number): void {
    const c = this.c;
    if (rows > this.rows) {
      const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim;
      this.x = new Float32Array(rows * d);
      this.xn = new Float32Array(rows * d);
      this.proj = new Float32Array(rows * d);
      this.q = new Float32Array(rows * qd);
      this.att = new Float32Array(rows * qd);
      this.k = new Float32Array(rows * kvd);
      this.v = new Float32Array(rows * kvd);
      this.gate = new Float32Array(rows * c.intermediate_size);
      this.up = new Float32Array(rows * c.intermediate_size);
      this.rows = rows;
    }
    if (positions > this.scores.length) this.scores = new Float32Array(Math.max(positions, 2 * this.scores.length));
    if (logitRows * c.vocab_size > this.logits.length) this.logits = new Float32Array(logitRows * c.vocab_size);
  }
}

export class LlamaModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly parts: ModelParts;
  /** Metadata of where the model came from, for `sdllm info` and reports. */
  readonly source: Record<string, unknown>;
  private readonly runner: DecoderRunner;
  /** Operation counters while set (energy/count.ts turns them on). */
  ops: ModelOps | null = null;

  constructor(config: ModelConfig, tokenizer: Tokenizer, parts: ModelParts, source: Record<string, unknown> = {}) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.parts = parts;
    this.source = source;
    this.runner = new DecoderRunner(config);
  }

  newCache(capacity = 0): KVCache {
    const c = this.config;
    return new KVCache(c.num_hidden_layers, c.num_key_value_heads * c.head_dim, capacity);
  }

  /**
   * Runs `ids` at the positions after what `cache` holds and returns logits — of the last
   * position, or of all positions with `allLogits` — as a fresh array the caller owns.
   */
  forward(ids: ArrayLike<number>, opts: ForwardOptions = {}): Float32Array {
    return this.step(ids, opts.cache ?? this.newCache(ids.length), opts.allLogits ?? false).slice();
  }

  /**
   * As forward(), but returns a view of the workspace's logits, valid until the next call:
   * the decode loop uses this so that producing a token allocates nothing.
   */
  step(ids: ArrayLike<number>, cache: KVCache, allLogits = false): Float32Array {
    const c = this.config;
    const rows = ids.length;
    if (rows === 0) fail('forward() needs at least one token');
    const start = cache.length;
    const end = start + rows;
    if (end > c.max_position_embeddings)
      fail(`sequence of ${end} tokens is longer than the model's context (max_position_embeddings = ${c.max_position_embeddings})`);
    cache.reserve(end);
    const runner = this.runner, ws = runner.ws;
    runner.rope.ensure(end);
    ws.ensure(rows, end, allLogits ? rows : 1);
    const d = c.hidden_size;

    for (let r = 0; r < rows; r++) {
      const id = ids[r];
      if (!Number.isInteger(id) || id < 0 || id >= c.vocab_size) fail(`token id ${id} is outside the vocabulary (0..${c.vocab_size - 1})`);
      ws.x.set(this.parts.embed_tokens.subarray(id * d, id * d + d), r * d);
    }

    for (let l = 0; l < c.num_hidden_layers; l++)
      runner.layer(this.parts.layers[l], rows, start, cache.keys[l], cache.values[l], this.ops?.attention[l] ?? null);
    cache.length = end;
    if (this.ops) this.countOther(this.ops.other, rows, allLogits ? rows : 1);

    const outRows = allLogits ? rows : 1;
    const from = (rows - outRows) * d;
    kernels().rmsNorm(ws.x.subarray(from), this.parts.norm, ws.xn, outRows, d, c.rms_norm_eps);
    this.parts.lm_head.forward(ws.xn, ws.logits, outRows);
    return ws.logits.subarray(0, outRows * c.vocab_size);
  }

  /** Float work per token outside matmuls and attention (norms, RoPE, SwiGLU, residuals). */
  private countOther(ops: OpCounts, rows: number, normRows: number): void {
    countOtherOps(this.config, ops, rows, normRows);
  }

}

/**
 * Runs decoder layers on the hidden states of a workspace: the body of every model step, and
 * layer-wise calibration, which carries hidden states from one layer to the next itself.
 */
export class DecoderRunner {
  readonly rope: RopeTable;
  readonly ws: Workspace;

  constructor(readonly config: ModelConfig) {
    this.rope = new RopeTable(inverseFrequencies(config));
    this.ws = new Workspace(config);
  }

  /**
   * One decoder layer on a fresh sequence: x ([rows, hidden], positions 0..rows-1) is replaced by
   * the layer's output. Layer-wise calibration runs the model this way, one layer at a time, with
   * the very arithmetic of step().
   */
  runLayer(layer: DecoderLayer, x: Float32Array, rows: number): void {
    const c = this.config, ws = this.ws, n = rows * c.hidden_size;
    if (rows > c.max_position_embeddings)
      fail(`sequence of ${rows} tokens is longer than the model's context (max_position_embeddings = ${c.max_position_embeddings})`);
    this.rope.ensure(rows);
    ws.ensure(rows, rows, 0);
    const kvd = c.num_key_value_heads * c.head_dim;
    ws.x.set(x.subarray(0, n));
    this.layer(layer, rows, 0, new Float32Array(rows * kvd), new Float32Array(rows * kvd), null);
    x.set(ws.x.subarray(0, n));
  }

  /** The layer body: ws.x (rows at positions start..) through `layer`, its keys and values into K and V. */
  layer(layer: DecoderLayer, rows: number, start: number, K: Float32Array, V: Float32Array, attOps: OpCounts | null): void {
    const c = this.config, ws = this.ws, d = c.hidden_size;
    kernels().rmsNorm(ws.x, layer.input_layernorm, ws.xn, rows, d, c.rms_norm_eps);
    this.attention(layer, rows, start, K, V, attOps);
    addInPlace(ws.x, ws.proj, rows * d);
    kernels().rmsNorm(ws.x, layer.post_attention_layernorm, ws.xn, rows, d, c.rms_norm_eps);
    layer.gate_proj.forward(ws.xn, ws.gate, rows);
    layer.up_proj.forward(ws.xn, ws.up, rows);
    kernels().siluMul(ws.gate, ws.up, rows * c.intermediate_size);
    layer.down_proj.forward(ws.gate, ws.proj, rows);
    addInPlace(ws.x, ws.proj, rows * d);
  }

  private attention(layer: DecoderLayer, rows: number, start: number, K: Float32Array, V: Float32Array, attOps: OpCounts | null): void {
    const c = this.config, ws = this.ws;
    const hd = c.head_dim, half = hd / 2, nh = c.num_attention_heads, nkv = c.num_key_value_heads;
    const qd = nh * hd, kvd = nkv * hd;
    const interleaved = c.rope_layout === 'interleaved';
    layer.q_proj.forward(ws.xn, ws.q, rows);
    layer.k_proj.forward(ws.xn, ws.k, rows);
    layer.v_proj.forward(ws.xn, ws.v, rows);
    for (let r = 0; r < rows; r++) {
      const pos = start + r;
      for (let h = 0; h < nh; h++) applyRope(ws.q, r * qd + h * hd, half, pos, this.rope, interleaved);
      for (let h = 0; h < nkv; h++) applyRope(ws.k, r * kvd + h * hd, half, pos, this.rope, interleaved);
    }
    K.set(ws.k.subarray(0, rows * kvd), start * kvd);
    V.set(ws.v.subarray(0, rows * kvd), start * kvd);

    const shape = { heads: nh, kvHeads: nkv, headDim: hd, window: c.sliding_window };
    (layer.attention ?? floatAttention).run(ws.q, ws.att, rows, start, K, V, ws.scores, shape, attOps);
    layer.o_proj.forward(ws.att, ws.proj, rows);
  }
}

function addInPlace(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] += y[i];
}

/**
 * The float work outside matmuls and attention of `rows` tokens, `normRows` of them scored (final
 * norm): what LlamaModel counts per step, exported for energy/reference.ts.
 */
export function countOtherOps(c: ModelConfig, ops: OpCounts, rows: number, normRows: number): void {
  const d = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers;
  const ropePairs = ((c.num_attention_heads + c.num_key_value_heads) * c.head_dim) / 2;
  ops.rows += rows;
  // Per layer and token: two RMSNorms (square-sum, rsqrt, normalise, weight), RoPE on q and k,
  // SiLU(gate)·up, two residual adds; then the final norm of the scored rows; embedding rows read.
  ops.fp_mult += rows * L * (2 * 3 * d + 4 * ropePairs + 2 * I) + normRows * 3 * d;
  ops.fp_add += rows * L * (2 * d + 2 * ropePairs + I + 2 * d) + normRows * d;
  ops.fp_special += rows * L * (2 + 2 * I) + normRows;
  ops.weight_bytes += rows * d * 4;
}
