/**
 * A GGUF file as a checkpoint: `<arch>.*` metadata → ModelConfig, GGUF tensor names → Hugging
 * Face names through a TensorSource, `tokenizer.ggml.*` → a tokenizer (gguf-tokenizer.ts).
 *
 * q/k layout: llama.cpp's converter permutes the rows of q_proj/k_proj (and their biases) of
 * Hugging Face Llama checkpoints, per head, from rotate_half order (i, i + d/2) to the
 * interleaved order (2i, 2i + 1) its RoPE rotates (llama2.c and Meta checkpoints are already
 * interleaved and are written as they are). For `llama` and `mistral` GGUFs we undo that when a
 * q/k tensor is read, so the tensor source really holds the Hugging Face tensors its names
 * promise and the config says rope_layout 'half': a GGUF written from a Hugging Face model gives
 * back its exact tensors (and bit-identical logits). `qwen2` GGUFs are not permuted (llama.cpp
 * runs them with NEOX RoPE = rotate_half) and are read as they are.
 */
import { fail } from '../errors.js';
import type { Architecture, ModelConfig, RopeScaling } from '../model/config.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { QuantizedWeights } from '../quant/weights.js';
import type { TensorSource } from './tensor-source.js';
import { ggufQuantized, printable, readGgufFile, readGgufTensorF32, type GgufFile, type GgufTensorInfo } from './gguf.js';
import { GgufMeta } from './gguf-meta.js';
import { ggufTokenizer, ggufTokens } from './gguf-tokenizer.js';

const ARCHS = new Map<string, { architecture: Architecture; permutedQK: boolean }>([
  ['llama', { architecture: 'LlamaForCausalLM', permutedQK: true }],
  // Mistral checkpoints convert as `llama`; a file that says `mistral` is read the same way.
  ['mistral', { architecture: 'MistralForCausalLM', permutedQK: true }],
  ['qwen2', { architecture: 'Qwen2ForCausalLM', permutedQK: false }],
]);

export interface GgufCheckpoint {
  file: GgufFile;
  config: ModelConfig;
  tokenizer: Tokenizer;
  tensors: GgufTensorSource;
}

export function openGguf(path: string): GgufCheckpoint {
  const file = readGgufFile(path);
  const config = ggufConfig(file);
  const tokenizer = ggufTokenizer(file, config.eos_token_id);
  const arch = ARCHS.get(new GgufMeta(file).str('general.architecture'))!;
  const tensors = ggufTensorSource(file, arch.permutedQK ? config.head_dim : null);
  return { file, config, tokenizer, tensors };
}

export function ggufConfig(file: GgufFile): ModelConfig {
  const meta = new GgufMeta(file);
  const path = file.path;
  const archName = meta.str('general.architecture');
  const arch = ARCHS.get(archName);
  if (!arch) fail(`unsupported architecture ${printable(archName)} (supported: ${[...ARCHS.keys()].join(', ')})`, path);
  const k = (s: string) => `${archName}.${s}`;

  const hidden = meta.int(k('embedding_length'));
  const heads = meta.int(k('attention.head_count'));
  const kvHeads = meta.int(k('attention.head_count_kv'), heads);
  if (heads % kvHeads !== 0) fail(`metadata ${k('attention.head_count')} ${heads} is not a multiple of ${k('attention.head_count_kv')} ${kvHeads}`, path);
  const headDim = meta.int(k('attention.key_length'), hidden % heads === 0 ? hidden / heads : undefined);
  const valueDim = meta.int(k('attention.value_length'), headDim);
  if (valueDim !== headDim) fail(`metadata ${k('attention.value_length')} ${valueDim} differs from the key length ${headDim} (not supported)`, path);
  if (headDim % 2 !== 0) fail(`head dimension ${headDim} is odd: RoPE needs pairs`, path);
  const ropeDims = meta.int(k('rope.dimension_count'), headDim);
  if (ropeDims !== headDim) fail(`metadata ${k('rope.dimension_count')} ${ropeDims} differs from the head dimension ${headDim} (partial RoPE is not supported)`, path);

  let ropeScaling: RopeScaling = { rope_type: 'default' };
  const scalingType = meta.str(k('rope.scaling.type'), 'none');
  if (scalingType === 'linear') ropeScaling = { rope_type: 'linear', factor: meta.float(k('rope.scaling.factor'), undefined, true) };
  else if (scalingType !== 'none') fail(`RoPE scaling ${printable(scalingType)} is not supported (supported: none, linear)`, path);
  else if (meta.has(k('rope.scale_linear'))) {
    const f = meta.float(k('rope.scale_linear'), undefined, true);
    if (f !== 1) ropeScaling = { rope_type: 'linear', factor: f };
  }
  if (file.tensors.has('rope_freqs.weight')) fail('tensor rope_freqs.weight (per-frequency RoPE factors, Llama 3.1 style) is not supported', path);

  const vocab = ggufTokens(file).length;
  const n = (key: string, dflt: number | null) => {
    if (!meta.has(key)) return dflt !== null && dflt < vocab ? dflt : null;
    const id = meta.int(key, undefined, 0);
    if (id >= vocab) fail(`metadata ${key} = ${id} is not a token id (the vocabulary has ${vocab} tokens)`, path);
    return id;
  };
  const spm = meta.has('tokenizer.ggml.model') && meta.str('tokenizer.ggml.model') === 'llama';
  const bos = n('tokenizer.ggml.bos_token_id', spm ? 1 : null);
  const eos = n('tokenizer.ggml.eos_token_id', spm ? 2 : null);
  const window = arch.architecture === 'MistralForCausalLM' && meta.has(k('attention.sliding_window')) ? meta.int(k('attention.sliding_window')) : null;
  return {
    architecture: arch.architecture,
    hidden_size: hidden,
    intermediate_size: meta.int(k('feed_forward_length')),
    num_hidden_layers: meta.int(k('block_count')),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: meta.float(k('attention.layer_norm_rms_epsilon'), 1e-5, true),
    rope_theta: meta.float(k('rope.freq_base'), 10000, true),
    rope_scaling: ropeScaling,
    rope_layout: 'half',
    max_position_embeddings: meta.int(k('context_length'), 2048),
    vocab_size: vocab,
    tie_word_embeddings: !file.tensors.has('output.weight'),
    attention_bias: arch.architecture === 'Qwen2ForCausalLM' || file.tensors.has('blk.0.attn_q.bias'),
    sliding_window: window,
    bos_token_id: bos,
    eos_token_id: eos === null ? [] : [eos],
  };
}

const GLOBAL_NAMES = new Map(Object.entries({
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
}));
const BLOCK_NAMES = new Map(Object.entries({
  'attn_norm.weight': 'input_layernorm.weight',
  'attn_q.weight': 'self_attn.q_proj.weight',
  'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight',
  'attn_q.bias': 'self_attn.q_proj.bias',
  'attn_k.bias': 'self_attn.k_proj.bias',
  'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_output.weight': 'self_attn.o_proj.weight',
  'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight',
  'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight',
}));

/** The Hugging Face name of a GGUF tensor, or undefined when it has none. */
export function hfNameOf(ggufName: string): string | undefined {
  const global = GLOBAL_NAMES.get(ggufName);
  if (global) return global;
  const m = /^blk\.(0|[1-9][0-9]{0,8})\.(.+)$/.exec(ggufName);
  const rest = m && BLOCK_NAMES.get(m[2]);
  return rest ? `model.layers.${m[1]}.${rest}` : undefined;
}

/**
 * Row order that undoes llama.cpp's q/k permutation: element r is the GGUF row holding Hugging
 * Face row r. Within each head of `headDim` rows, HF row j * headDim/2 + i (j = 0, 1) was
 * written to row 2i + j.
 */
export function llamaQkRowOrder(rows: number, headDim: number): Int32Array {
  const half = headDim / 2;
  const order = new Int32Array(rows);
  for (let h = 0; h < rows; h += headDim)
    for (let j = 0; j < 2; j++) for (let i = 0; i < half; i++) order[h + j * half + i] = h + 2 * i + j;
  return order;
}

export interface GgufTensorSource extends TensorSource {
  readonly file: GgufFile;
  /** The GGUF tensor behind a name (names without a Hugging Face equivalent are their GGUF names). */
  ggufName(name: string): string;
  /**
   * A Q8_0/Q4_0 matrix as QuantizedWeights in Hugging Face row order, without dequantizing; null
   * when it does not map exactly (see ggufQuantized and docs/GGUF.md).
   */
  quantized(name: string): QuantizedWeights | null;
}

/**
 * GGUF tensors under Hugging Face names. With `unpermuteHeadDim`, q/k projection rows (and
 * biases) are put back from llama.cpp's interleaved order into Hugging Face's.
 */
export function ggufTensorSource(file: GgufFile, unpermuteHeadDim: number | null): GgufTensorSource {
  const byName = new Map<string, GgufTensorInfo>();
  for (const info of file.tensors.values()) {
    const name = hfNameOf(info.name) ?? info.name;
    const other = byName.get(name);
    if (other) fail(`tensors ${printable(other.name)} and ${printable(info.name)} are both ${printable(name)}`, file.path);
    byName.set(name, info);
  }
  const get = (name: string) => byName.get(name) ?? fail(`tensor ${printable(name)} is missing from the checkpoint`, file.path);
  const rowOrder = (name: string, info: GgufTensorInfo): Int32Array | null => {
    if (unpermuteHeadDim === null || !/\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) return null;
    const rows = info.shape[0];
    if (rows % unpermuteHeadDim !== 0)
      fail(`tensor ${info.name}: ${rows} rows are not whole heads of ${unpermuteHeadDim}, cannot undo the q/k permutation`, file.path);
    return llamaQkRowOrder(rows, unpermuteHeadDim);
  };
  let bytes = 0;
  for (const t of file.tensors.values()) bytes += t.byteLength;
  return {
    path: file.path,
    file,
    has: (n) => byName.has(n),
    shape: (n) => get(n).shape,
    dtype: (n) => get(n).type,
    names: () => [...byName.keys()],
    byteSize: bytes,
    ggufName: (n) => get(n).name,
    readF32: (n) => {
      const info = get(n);
      const data = readGgufTensorF32(file, info);
      const order = rowOrder(n, info);
      if (!order) return data;
      const cols = info.elements / info.shape[0];
      const out = new Float32Array(data.length);
      for (let r = 0; r < order.length; r++) out.set(data.subarray(order[r] * cols, (order[r] + 1) * cols), r * cols);
      return out;
    },
    quantized: (n) => {
      const info = get(n);
      return ggufQuantized(file, info, rowOrder(n, info) ?? undefined);
    },
  };
}
