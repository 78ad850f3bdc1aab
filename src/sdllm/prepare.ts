/**
 * From a float checkpoint to a model that runs a method: rotate (METHOD §1b), quantize weights
 * (§1), then assemble Linears that code activations as the method says (§2–§4) and attention
 * (§5). The prepared form (rotated float tensors + packed integer weights + per-layer threshold
 * rules) is what `sdllm convert` writes, so a converted file and on-the-fly conversion assemble
 * the very same model.
 */
import type { ModelConfig } from '../model/config.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { FloatWeights, FloatLayerWeights } from '../model/weights.js';
import { BF16Linear, DenseLinear, type Linear } from '../model/linear.js';
import { LlamaModel, type DecoderLayer } from '../model/llama.js';
import { quantizeWeights, dequantize, type QuantizedWeights } from '../quant/weights.js';
import { makeRotations, rotateLayer, rotateEmbeddings, rotateHead, OnlineRotatedLinear, UnrotatedHead, onlineSeed, type Rotations } from '../quant/rotate.js';
import { BlockHadamard, RandomizedHadamard } from '../quant/hadamard.js';
import { bf16ToFloat32 } from '../formats/dtype.js';
import { W4A16Linear } from '../quant/w4a16-linear.js';
import { SpikeLinear, SharedEncoding } from '../spike/spike-linear.js';
import { SpikingAttention } from '../spike/attention.js';
import type { ThresholdRule } from '../spike/threshold.js';
import type { MethodConfig } from './method.js';

export const LAYER_LINEARS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LayerLinear = (typeof LAYER_LINEARS)[number];

/**
 * Weights of one matmul: packed integers (4-bit methods) or float (fp, float lm_head). A float
 * weight is float32, or raw bfloat16 words (Uint16Array) for a head kept as a bf16 checkpoint
 * stores it: such a head has neither the final norm nor the rotation folded in (see prepareHead).
 */
export interface PreparedLinear {
  name: string;
  outFeatures: number;
  inFeatures: number;
  qw: QuantizedWeights | null;
  weight: Float32Array | Uint16Array | null;
  bias: Float32Array | null;
}

export interface PreparedLayer {
  input_layernorm: Float32Array;
  post_attention_layernorm: Float32Array;
  linears: Record<LayerLinear, PreparedLinear>;
}

export interface PreparedModel {
  config: ModelConfig;
  tokenizer: Tokenizer;
  method: MethodConfig;
  embed_tokens: Float32Array;
  norm: Float32Array;
  layers: PreparedLayer[];
  lm_head: PreparedLinear;
  /** Threshold rule per spiked linear (by name), e.g. the calibrated γ. Missing: the method's rule. */
  rules: Record<string, ThresholdRule>;
  /** Where it came from, recorded in converted files. */
  source: Record<string, unknown>;
}

export function linearName(layer: number, role: LayerLinear): string {
  const block = role === 'gate_proj' || role === 'up_proj' || role === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${role}`;
}

/** The rotations `method` fuses into the weights, or null when it does not rotate. */
export function methodRotations(c: ModelConfig, method: MethodConfig): Rotations | null {
  return method.rotate === 'hadamard' ? makeRotations(c, method.rotationSeed, method.onlineRotation) : null;
}

function prepareLinear(name: string, weight: Float32Array, outF: number, inF: number, bias: Float32Array | null, quantize: boolean, method: MethodConfig): PreparedLinear {
  return quantize && method.weightBits !== null
    ? { name, outFeatures: outF, inFeatures: inF, qw: quantizeWeights(weight, outF, inF, { bits: method.weightBits, groupSize: method.groupSize }), weight: null, bias }
    : { name, outFeatures: outF, inFeatures: inF, qw: null, weight, bias };
}

/** Rotates (with `rot`) and quantizes decoder layer `l`, consuming its float weights. */
export function prepareLayer(lw: FloatLayerWeights, l: number, c: ModelConfig, method: MethodConfig, rot: Rotations | null): PreparedLayer {
  if (rot) rotateLayer(lw, c, rot);
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const shapes: Record<LayerLinear, [number, number]> = {
    q_proj: [qd, d], k_proj: [kvd, d], v_proj: [kvd, d], o_proj: [d, qd], gate_proj: [I, d], up_proj: [I, d], down_proj: [d, I],
  };
  const linears = {} as Record<LayerLinear, PreparedLinear>;
  for (const role of LAYER_LINEARS) {
    const bias = role === 'q_proj' ? lw.q_bias : role === 'k_proj' ? lw.k_bias : role === 'v_proj' ? lw.v_bias : null;
    linears[role] = prepareLinear(linearName(l, role), lw[role], shapes[role][0], shapes[role][1], bias, true, method);
    lw[role] = new Float32Array(0); // drop the float copy as soon as it is quantized
  }
  return { input_layernorm: lw.input_layernorm, post_attention_layernorm: lw.post_attention_layernorm, linears };
}

/**
 * lm_head with the final norm folded in (the norm becomes ones) and rotated, quantized when the
 * method spikes it. Consumes `lmHead`: a tied head must be passed as a copy when rotating.
 *
 * A head given as bf16 words (readHeadBF16) that stays float is kept as it is, norm and
 * rotation unfolded: folding would round it off the bf16 grid, and widening it to float32 would
 * double the bytes every decode step reads. The model then applies the norm weight and Qᵀ to the
 * head's input at run time (assembleModel), the same function up to float rounding.
 */
export function prepareHead(lmHead: Float32Array | Uint16Array, norm: Float32Array, c: ModelConfig, method: MethodConfig, rot: Rotations | null): PreparedLinear {
  if (lmHead instanceof Uint16Array) {
    if (method.lmHead === 'float') return { name: 'lm_head', outFeatures: c.vocab_size, inFeatures: c.hidden_size, qw: null, weight: lmHead, bias: null };
    lmHead = bf16ToFloat32(lmHead);
  }
  if (rot) rotateHead(lmHead, norm, c, rot);
  return prepareLinear('lm_head', lmHead, c.vocab_size, c.hidden_size, null, method.lmHead === 'spiking', method);
}

/** Rotates and quantizes `w` (which it consumes) as `method` says. */
export function prepareModel(
  config: ModelConfig,
  tokenizer: Tokenizer,
  w: FloatWeights,
  method: MethodConfig,
  source: Record<string, unknown> = {},
): PreparedModel {
  const rot = methodRotations(config, method);
  const head = w.lm_head_bf16 ?? (rot && w.lm_head === w.embed_tokens ? w.embed_tokens.slice() : w.lm_head);
  if (rot) rotateEmbeddings(w.embed_tokens, config, rot);
  const layers = w.layers.map((lw, l) => prepareLayer(lw, l, config, method, rot));
  const lm_head = prepareHead(head, w.norm, config, method, rot);
  return { config, tokenizer, method, embed_tokens: w.embed_tokens, norm: w.norm, layers, lm_head, rules: {}, source };
}

/**
 * Builds runnable layers and linears from prepared weights: the method's Linears, the threshold
 * rules of `rules`, and the online rotations (made once here, shared by every layer).
 */
export function layerAssembler(c: ModelConfig, m: MethodConfig, rules: Record<string, ThresholdRule>): { layer: (pl: PreparedLayer) => DecoderLayer; linear: (pl: PreparedLinear) => Linear } {
  const onlineDown = m.onlineRotation.includes('down_proj') && m.rotate === 'hadamard' ? new BlockHadamard(c.intermediate_size, onlineSeed(m.rotationSeed, 'down_proj')) : null;
  const onlineO = m.onlineRotation.includes('o_proj') && m.rotate === 'hadamard' ? new BlockHadamard(c.num_attention_heads * c.head_dim, onlineSeed(m.rotationSeed, 'o_proj')) : null;
  const linear = (pl: PreparedLinear): Linear => {
    if (pl.weight instanceof Uint16Array) return new BF16Linear(pl.weight, pl.outFeatures, pl.inFeatures);
    if (!pl.qw) return new DenseLinear(pl.weight!, pl.outFeatures, pl.inFeatures, pl.bias);
    // w4a16: float activations times the packed 4-bit weights, dequantized on the fly (no float
    // copy); other widths are dequantized once, and read per token at their packed size.
    if (m.activations.kind === 'float')
      return pl.qw.bits === 4
        ? new W4A16Linear(pl.qw, pl.bias)
        : new DenseLinear(dequantize(pl.qw), pl.outFeatures, pl.inFeatures, pl.bias, pl.qw.packed.byteLength + pl.qw.scales.byteLength);
    const sl = new SpikeLinear(pl.name, pl.qw, pl.bias, m.activations, m.execution);
    const rule = rules[pl.name];
    if (rule) sl.rule = rule;
    return sl;
  };
  const a = m.activations;
  const layer = (pl: PreparedLayer): DecoderLayer => {
    const L = (role: LayerLinear) => linear(pl.linears[role]);
    // q/k/v read the same normed input, gate/up another: their spike coding is computed once.
    const share = (ls: Linear[]) => {
      const s = new SharedEncoding();
      for (const l of ls) if (l instanceof SpikeLinear) l.shared = s;
    };
    const o = L('o_proj'), down = L('down_proj');
    const q = L('q_proj'), k = L('k_proj'), v = L('v_proj'), gate = L('gate_proj'), up = L('up_proj');
    share([q, k, v]);
    share([gate, up]);
    return {
      input_layernorm: pl.input_layernorm,
      post_attention_layernorm: pl.post_attention_layernorm,
      q_proj: q,
      k_proj: k,
      v_proj: v,
      o_proj: onlineO ? new OnlineRotatedLinear(onlineO, o) : o,
      gate_proj: gate,
      up_proj: up,
      down_proj: onlineDown ? new OnlineRotatedLinear(onlineDown, down) : down,
      attention:
        m.attention === 'spiking' && a.kind !== 'float'
          ? a.kind === 'ternary'
            ? new SpikingAttention(a.L, a.threshold.kind === 'static' ? { kind: 'absmax' } : a.threshold, m.attentionLevels)
            : new SpikingAttention(a.kind === 'binary' ? a.L : 2 ** (a.bits - 1) - 1, { kind: 'absmax' }, m.attentionLevels)
          : undefined,
    };
  };
  return { layer, linear };
}

/** Builds the runnable model from prepared weights. */
export function assembleModel(p: PreparedModel): LlamaModel {
  const a = layerAssembler(p.config, p.method, p.rules);
  const head = a.linear(p.lm_head);
  // A head kept as bf16 has the norm and rotation unfolded (prepareHead): apply them at run time.
  const unfolded = p.lm_head.weight instanceof Uint16Array && p.method.rotate === 'hadamard';
  const parts = {
    embed_tokens: p.embed_tokens,
    layers: p.layers.map(a.layer),
    norm: unfolded ? new Float32Array(p.config.hidden_size).fill(1) : p.norm,
    lm_head: unfolded ? new UnrotatedHead(new RandomizedHadamard(p.config.hidden_size, p.method.rotationSeed), p.norm, head) : head,
  };
  return new LlamaModel(p.config, p.tokenizer, parts, { ...p.source, method: p.method });
}
