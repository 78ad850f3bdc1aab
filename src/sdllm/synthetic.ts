/**
 * Synthetic models for benchmarks: a PreparedModel of any LLaMA shape built in memory from a
 * config, with random weights, so that anyone can measure speed at the 110M, 1.1B and 7B shapes
 * without downloading anything. The quantized linears are generated directly in their packed
 * form (random nibbles or bytes and plausible per-group scales), never as float, so a 7B shape
 * needs about 3.5 GB for its 4-bit linears plus 0.5 GB of float embeddings and 0.5 GB of float
 * lm_head (the methods' default: lm_head stays float; `--lm-head spiking` gives a 4-bit one).
 * A float lm_head is float32 or, as a bf16 checkpoint's head is kept (prepareHead), raw bf16
 * words: SYNTHETIC_HEAD_DTYPE says which each shape's real checkpoint gives.
 *
 * The weights mean nothing: outputs are not text, only the work is real. Activations stay at a
 * realistic scale (unit RMS after each norm; each projection's weights have variance about
 * 1/inFeatures), so spike codes have the density real activations give after a Hadamard
 * rotation, which makes activations close to Gaussian (sdllm-small: 15% silent neurons at
 * γ = 0.99; a Gaussian: 14%). `assembleModel` runs any method on the result; rotations are recorded
 * as the method says (the online Hadamard of down_proj then runs, as its cost is real) but the
 * random weights are not rotated, which changes nothing for speed.
 */
import type { ModelConfig } from '../model/config.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { bytesPerColumn, packColumns, weightQmax, type QuantizedWeights, type WeightBits } from '../quant/weights.js';
import type { MethodConfig } from './method.js';
import type { HeadDType } from '../formats/sdllm-file-core.js';
import { LAYER_LINEARS, linearName, type LayerLinear, type PreparedLayer, type PreparedLinear, type PreparedModel } from './prepare.js';

/** The shapes of the benchmark suite (LLaMA-family, vocab 32000, head_dim 64 except where noted). */
export const SYNTHETIC_SHAPES = {
  '110m': { hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12 },
  '1.1b': { hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4 },
  '7b': { hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32 },
} as const;
export type SyntheticShape = keyof typeof SYNTHETIC_SHAPES;

/**
 * How the float lm_head of each shape's real checkpoint is held: TinyLlama-1.1B ships bfloat16
 * safetensors (kept as stored); stories110M is llama2.c float32; LLaMA-2-7B ships float16,
 * which sdllm widens to float32.
 */
export const SYNTHETIC_HEAD_DTYPE: Record<SyntheticShape, HeadDType> = { '110m': 'F32', '1.1b': 'BF16', '7b': 'F32' };

/** A LlamaForCausalLM config of a named shape (vocab 32000, context 2048 unless overridden). */
export function syntheticConfig(shape: SyntheticShape, over: Partial<ModelConfig> = {}): ModelConfig {
  const s = SYNTHETIC_SHAPES[shape];
  return {
    architecture: 'LlamaForCausalLM',
    ...s,
    head_dim: s.hidden_size / s.num_attention_heads,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: { rope_type: 'default' },
    rope_layout: 'half',
    max_position_embeddings: 2048,
    vocab_size: 32000,
    tie_word_embeddings: false,
    attention_bias: false,
    sliding_window: null,
    bos_token_id: 1,
    eos_token_id: [2],
    ...over,
  };
}

/**
 * A tokenizer stand-in for synthetic models: ids 3 .. 258 are the bytes of UTF-8 text, 1 is BOS,
 * 2 is EOS; decoding maps ids back to bytes (ids beyond 258 decode to nothing).
 */
export class SyntheticTokenizer implements Tokenizer {
  readonly kind = 'synthetic' as const;
  readonly bosTokenId = 1;
  readonly eosTokenIds = [2] as const;
  constructor(readonly vocabSize: number) {
    if (vocabSize < 259) throw new RangeError(`SyntheticTokenizer: vocab ${vocabSize} < 259`);
  }
  encode(text: string, opts: { add_special_tokens?: boolean } = {}): number[] {
    const ids = Array.from(new TextEncoder().encode(text), (b) => b + 3);
    return opts.add_special_tokens === false ? ids : [this.bosTokenId, ...ids];
  }
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let k = 0; k < ids.length; k++) if (ids[k] >= 3 && ids[k] < 259) bytes.push(ids[k] - 3);
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}

/** xorshift32: fast uniform 32-bit words (quality is irrelevant here, speed is not). */
class Words {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Fills `a` with uniform words. */
  fill(a: Uint32Array): void {
    let x = this.s;
    for (let k = 0; k < a.length; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      a[k] = x;
    }
    this.s = x >>> 0 || 1;
  }
  /** Uniform in [-a, a), float32. */
  floats(len: number, a: number): Float32Array {
    const out = new Float32Array(len);
    const f = (2 * a) / 4294967296;
    let x = this.s;
    for (let k = 0; k < len; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[k] = (x >>> 0) * f - a;
    }
    this.s = x >>> 0 || 1;
    return out;
  }
}

/** Random bytes whose packed 4-bit fields avoid -8 (outside the symmetric ±7 range of RTN). */
function randomPacked4(len: number, w: Words): Uint8Array {
  const buf = new ArrayBuffer(Math.ceil(len / 4) * 4);
  const u32 = new Uint32Array(buf);
  w.fill(u32);
  for (let k = 0; k < u32.length; k++) {
    const v = u32[k];
    // nibbles equal to 1000b (-8) become 0000b: bit 3 set and bits 0..2 clear
    const low3Clear = ((~v & 0x77777777) + 0x11111111) & 0x88888888;
    u32[k] = v ^ (v & low3Clear);
  }
  return new Uint8Array(buf, 0, len);
}

/** Random bytes avoiding -128 (outside the symmetric ±127 range). */
function randomPacked8(len: number, w: Words): Uint8Array {
  const buf = new ArrayBuffer(Math.ceil(len / 4) * 4);
  w.fill(new Uint32Array(buf));
  const b = new Uint8Array(buf, 0, len);
  for (let k = 0; k < len; k++) if (b[k] === 0x80) b[k] = 0;
  return b;
}

/** RMS of uniform integers over -qmax..qmax (with the zero the avoided code maps to counted twice for 4 and 8 bits). */
function intRms(bits: WeightBits): number {
  const q = weightQmax(bits);
  let s = 0;
  for (let k = 1; k <= q; k++) s += 2 * k * k;
  return Math.sqrt(s / (2 * q + 2));
}

/** Random quantized weights [rows, cols] with per-group scales giving a weight RMS near `rms`. */
export function randomQuantizedWeights(rows: number, cols: number, bits: WeightBits, groupSize: number, rms: number, seed: number): QuantizedWeights {
  const w = new Words(seed);
  const G = Math.min(groupSize, cols);
  const nGroups = Math.ceil(cols / G);
  const len = bytesPerColumn(bits, rows) * cols;
  let packed: Uint8Array;
  if (bits === 4 && rows % 2 === 0) packed = randomPacked4(len, w);
  else if (bits === 8) packed = randomPacked8(len, w);
  else {
    const q = new Int8Array(rows * cols);
    const qmax = weightQmax(bits);
    for (let k = 0; k < q.length; k++) q[k] = (w.next() % (2 * qmax + 1)) - qmax;
    packed = packColumns(q, rows, cols, bits);
  }
  const base = rms / intRms(bits);
  const scales = w.floats(rows * nGroups, 0.2 * base);
  for (let k = 0; k < scales.length; k++) scales[k] += base; // base · (1 ± 20%)
  return { bits, groupSize: G, rows, cols, nGroups, scales, packed };
}

export interface SyntheticOptions {
  seed?: number;
  /** Storage of a float lm_head (default F32); BF16 as a bf16 checkpoint's head is kept. */
  headDType?: HeadDType;
}

/**
 * A prepared model of `config` for `method`: quantized linears when the method has weightBits,
 * float ones (fp) otherwise; float embeddings, unit norms, lm_head float unless the method codes
 * it (`lmHead: 'spiking'`).
 */
export function syntheticModel(config: ModelConfig, method: MethodConfig, opts: SyntheticOptions = {}): PreparedModel {
  const c = config;
  const seed = opts.seed ?? 1;
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const shapes: Record<LayerLinear, [number, number]> = {
    q_proj: [qd, d], k_proj: [kvd, d], v_proj: [kvd, d], o_proj: [d, qd], gate_proj: [I, d], up_proj: [I, d], down_proj: [d, I],
  };
  let next = seed * 1000003;
  const linear = (name: string, outF: number, inF: number, quantize: boolean): PreparedLinear => {
    const rms = 1 / Math.sqrt(inF);
    next = (next + 0x9e3779b9) >>> 0;
    if (quantize && method.weightBits !== null)
      return { name, outFeatures: outF, inFeatures: inF, qw: randomQuantizedWeights(outF, inF, method.weightBits, method.groupSize, rms, next), weight: null, bias: null };
    return { name, outFeatures: outF, inFeatures: inF, qw: null, weight: new Words(next).floats(outF * inF, Math.sqrt(3) * rms), bias: null };
  };
  const layers: PreparedLayer[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const linears = {} as Record<LayerLinear, PreparedLinear>;
    for (const role of LAYER_LINEARS) linears[role] = linear(linearName(l, role), shapes[role][0], shapes[role][1], true);
    layers.push({ input_layernorm: new Float32Array(d).fill(1), post_attention_layernorm: new Float32Array(d).fill(1), linears });
  }
  const embed_tokens = new Words(seed ^ 0x5eed).floats(c.vocab_size * d, Math.sqrt(3));
  let lm_head = linear('lm_head', c.vocab_size, d, method.lmHead === 'spiking');
  if (opts.headDType === 'BF16' && lm_head.weight instanceof Float32Array) lm_head = { ...lm_head, weight: truncateToBF16(lm_head.weight) };
  return {
    config: c,
    tokenizer: new SyntheticTokenizer(c.vocab_size),
    method,
    embed_tokens,
    norm: new Float32Array(d).fill(1),
    layers,
    lm_head,
    rules: {},
    source: { synthetic: true, seed },
  };
}

/** The top halves of float32 values: bf16 words (truncated, which is as random as rounded here). */
function truncateToBF16(a: Float32Array): Uint16Array {
  const u32 = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const out = new Uint16Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = u32[k] >>> 16;
  return out;
}

/** Bytes the prepared model holds (packed integers, scales, float tensors). */
export function preparedBytes(p: PreparedModel): number {
  const lin = (l: PreparedLinear) => (l.qw ? l.qw.packed.byteLength + l.qw.scales.byteLength : l.weight!.byteLength);
  let b = p.embed_tokens.byteLength + p.norm.byteLength + lin(p.lm_head);
  for (const l of p.layers) {
    b += l.input_layernorm.byteLength + l.post_attention_layernorm.byteLength;
    for (const role of LAYER_LINEARS) b += lin(l.linears[role]);
  }
  return b;
}
