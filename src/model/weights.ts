/**
 * Float weights of a LLaMA-family model under Hugging Face tensor names, read tensor by tensor
 * and checked against the config. A tied head shares the embedding's array (one copy).
 */
import type { ModelConfig } from './config.js';
import type { TensorSource } from '../formats/tensor-source.js';
import { fail } from '../errors.js';
import { bf16ToFloat32 } from '../formats/dtype.js';

export interface FloatLayerWeights {
  input_layernorm: Float32Array;
  q_proj: Float32Array;
  k_proj: Float32Array;
  v_proj: Float32Array;
  o_proj: Float32Array;
  q_bias: Float32Array | null;
  k_bias: Float32Array | null;
  v_bias: Float32Array | null;
  post_attention_layernorm: Float32Array;
  gate_proj: Float32Array;
  up_proj: Float32Array;
  down_proj: Float32Array;
}

export interface FloatWeights {
  embed_tokens: Float32Array;
  layers: FloatLayerWeights[];
  norm: Float32Array;
  /** The same array as embed_tokens when the embeddings are tied. */
  lm_head: Float32Array;
  /** lm_head's raw words when the checkpoint stores it as BF16 (see readHeadBF16), else null. */
  lm_head_bf16: Uint16Array | null;
}

/** Reads a tensor as float32 after checking its shape against what the config implies. */
function readChecked(src: TensorSource, name: string, shape: number[]): Float32Array {
  checkShape(src, name, shape);
  return src.readF32(name);
}

function checkShape(src: TensorSource, name: string, shape: number[]): void {
  if (!src.has(name)) fail(`tensor ${name} is missing from the checkpoint`, src.path);
  const got = src.shape(name);
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i]))
    fail(`tensor ${name} has shape [${got}] but the config implies [${shape}]`, src.path);
}

export function readEmbedding(src: TensorSource, c: ModelConfig): Float32Array {
  return readChecked(src, 'model.embed_tokens.weight', [c.vocab_size, c.hidden_size]);
}

export function readFinalNorm(src: TensorSource, c: ModelConfig): Float32Array {
  return readChecked(src, 'model.norm.weight', [c.hidden_size]);
}

/** lm_head as its own array: the embedding read again when tied (some tied checkpoints still ship lm_head.weight; the embedding is the one we keep). */
export function readHead(src: TensorSource, c: ModelConfig): Float32Array {
  return c.tie_word_embeddings ? readEmbedding(src, c) : readChecked(src, 'lm_head.weight', [c.vocab_size, c.hidden_size]);
}

/**
 * lm_head as the checkpoint stores it when that is BF16 (the embedding when tied), else null:
 * a float head then runs on these words, the same values as readHead's at half the bytes.
 */
export function readHeadBF16(src: TensorSource, c: ModelConfig): Uint16Array | null {
  if (!headIsBF16(src, c)) return null;
  const name = headName(c);
  checkShape(src, name, [c.vocab_size, c.hidden_size]);
  return src.readBF16!(name);
}

/** Whether readHeadBF16 gives the head (without reading it). */
export function headIsBF16(src: TensorSource, c: ModelConfig): boolean {
  const name = headName(c);
  return src.readBF16 !== undefined && src.has(name) && src.dtype(name) === 'BF16';
}

const headName = (c: ModelConfig) => (c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');

/** The float weights of decoder layer `l`. */
export function readLayerWeights(src: TensorSource, c: ModelConfig, l: number): FloatLayerWeights {
  const read = (name: string, shape: number[]) => readChecked(src, name, shape);
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const p = `model.layers.${l}.`;
  const bias = (n: string, len: number) => (c.attention_bias ? read(`${p}self_attn.${n}.bias`, [len]) : null);
  return {
    input_layernorm: read(`${p}input_layernorm.weight`, [d]),
    q_proj: read(`${p}self_attn.q_proj.weight`, [qd, d]),
    k_proj: read(`${p}self_attn.k_proj.weight`, [kvd, d]),
    v_proj: read(`${p}self_attn.v_proj.weight`, [kvd, d]),
    o_proj: read(`${p}self_attn.o_proj.weight`, [d, qd]),
    q_bias: bias('q_proj', qd),
    k_bias: bias('k_proj', kvd),
    v_bias: bias('v_proj', kvd),
    post_attention_layernorm: read(`${p}post_attention_layernorm.weight`, [d]),
    gate_proj: read(`${p}mlp.gate_proj.weight`, [I, d]),
    up_proj: read(`${p}mlp.up_proj.weight`, [I, d]),
    down_proj: read(`${p}mlp.down_proj.weight`, [d, I]),
  };
}

export function readFloatWeights(src: TensorSource, c: ModelConfig): FloatWeights {
  const embed = readEmbedding(src, c);
  const layers = Array.from({ length: c.num_hidden_layers }, (_, l) => readLayerWeights(src, c, l));
  const norm = readFinalNorm(src, c);
  const head16 = readHeadBF16(src, c);
  // An untied bf16 head is read from the file once and widened for the float32 copy.
  const head = c.tie_word_embeddings ? embed : head16 ? bf16ToFloat32(head16) : readHead(src, c);
  return { embed_tokens: embed, layers, norm, lm_head: head, lm_head_bf16: head16 };
}
