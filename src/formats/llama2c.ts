/**
 * llama2.c checkpoints (karpathy/llama2.c "legacy" .bin): 7 x int32 header (dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size — negative when the classifier is not tied —,
 * seq_len), then float32 arrays in a fixed order. RoPE rotates interleaved pairs.
 */
import fs from 'node:fs';
import { fail } from '../errors.js';
import { fileProblem } from './safetensors.js';
import type { ModelConfig } from '../model/config.js';

export interface Llama2cTensor {
  name: string;
  shape: number[];
  offset: number;
}

export interface Llama2cCheckpoint {
  path: string;
  config: ModelConfig;
  /** Tensors by Hugging Face name, so the weight builder is shared with HF checkpoints. */
  tensors: Map<string, Llama2cTensor>;
}

export function readLlama2cCheckpoint(path: string): Llama2cCheckpoint {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    fail(fileProblem(e), path);
  }
  let size: number;
  const head = Buffer.alloc(28);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) fail(st.isDirectory() ? 'is a directory, expected a llama2.c checkpoint' : 'not a regular file', path);
    size = st.size;
    if (size < 28) fail(`not a llama2.c checkpoint: ${size} bytes, shorter than its 28-byte header`, path);
    fs.readSync(fd, head, 0, 28, 0);
  } finally {
    fs.closeSync(fd);
  }
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from({ length: 7 }, (_, i) => head.readInt32LE(4 * i));
  const vocab = Math.abs(vocabSigned);
  for (const [k, v] of Object.entries({ dim, hidden_dim: hidden, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, vocab_size: vocab, seq_len: seqLen }))
    if (!(v > 0)) fail(`header field ${k} = ${v} is not positive (not a llama2.c checkpoint?)`, path);
  if (dim % heads !== 0 || heads % kvHeads !== 0) fail(`header dims are inconsistent: dim ${dim}, n_heads ${heads}, n_kv_heads ${kvHeads}`, path);
  const hs = dim / heads;
  const kvDim = kvHeads * hs;
  const tied = vocabSigned > 0;
  // The size the header implies, checked before anything is built from it: a corrupt header
  // (say n_layers = 2^31 - 1) must not drive a loop or an allocation. Each term is < 2^53 when
  // the total is, so the float arithmetic is exact whenever it can equal the file size.
  const floats =
    vocab * dim +
    layers * (2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hidden * dim) +
    dim +
    seqLen * hs +
    (tied ? 0 : vocab * dim);
  const expected = 28 + 4 * floats;
  if (expected !== size)
    fail(
      `file has ${size} bytes but its header (dim ${dim}, hidden_dim ${hidden}, n_layers ${layers}, vocab ${vocab}, seq_len ${seqLen}) ` +
        `describes ${expected}: truncated or not a llama2.c checkpoint`,
      path,
    );

  const tensors = new Map<string, Llama2cTensor>();
  let off = 28;
  const take = (name: string, shape: number[]) => {
    tensors.set(name, { name, shape, offset: off });
    off += shape.reduce((a, b) => a * b, 1) * 4;
  };
  // Per-kind arrays are stacked over layers: [n_layers, ...] for each kind in turn.
  const perLayer = (suffix: string, shape: number[]) => {
    for (let l = 0; l < layers; l++) take(`model.layers.${l}.${suffix}`, shape);
  };
  take('model.embed_tokens.weight', [vocab, dim]);
  perLayer('input_layernorm.weight', [dim]);
  perLayer('self_attn.q_proj.weight', [dim, dim]);
  perLayer('self_attn.k_proj.weight', [kvDim, dim]);
  perLayer('self_attn.v_proj.weight', [kvDim, dim]);
  perLayer('self_attn.o_proj.weight', [dim, dim]);
  perLayer('post_attention_layernorm.weight', [dim]);
  perLayer('mlp.gate_proj.weight', [hidden, dim]);
  perLayer('mlp.down_proj.weight', [dim, hidden]);
  perLayer('mlp.up_proj.weight', [hidden, dim]);
  take('model.norm.weight', [dim]);
  off += seqLen * hs * 4; // freq_cis_real and freq_cis_imag: [seq_len, head_size/2] each, unused
  if (!tied) take('lm_head.weight', [vocab, dim]);
  if (off !== size) throw new Error(`readLlama2cCheckpoint: layout of ${off} bytes disagrees with the size check (${size})`);

  const config: ModelConfig = {
    architecture: 'LlamaForCausalLM',
    hidden_size: dim,
    intermediate_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: hs,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: { rope_type: 'default' },
    rope_layout: 'interleaved',
    max_position_embeddings: seqLen,
    vocab_size: vocab,
    tie_word_embeddings: tied,
    attention_bias: false,
    sliding_window: null,
    bos_token_id: 1,
    eos_token_id: [2],
  };
  return { path, config, tensors };
}

export function readLlama2cTensor(ckpt: Llama2cCheckpoint, t: Llama2cTensor): Float32Array {
  const out = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  const bytes = new Uint8Array(out.buffer);
  let fd: number;
  try {
    fd = fs.openSync(ckpt.path, 'r');
  } catch (e) {
    fail(fileProblem(e), ckpt.path);
  }
  try {
    for (let done = 0; done < bytes.length; ) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, t.offset + done);
      if (n === 0) fail(`file ended while reading tensor ${t.name} (it changed since its header was read?)`, ckpt.path);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
