/** Assembles a LlamaModel from float weights, choosing the Linear operator for each matmul. */
import type { ModelConfig } from './config.js';
import type { Tokenizer } from './tokenizer.js';
import type { FloatWeights } from './weights.js';
import { DenseLinear, type Linear } from './linear.js';
import { LlamaModel } from './llama.js';

/** Which matmul a Linear is for: methods treat projections differently (e.g. lm_head stays float). */
export type LinearRole = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj' | 'lm_head';

export interface LinearSpec {
  role: LinearRole;
  /** Decoder layer index; -1 for lm_head. */
  layer: number;
  weight: Float32Array;
  outFeatures: number;
  inFeatures: number;
  bias: Float32Array | null;
}

export type LinearFactory = (spec: LinearSpec) => Linear;

export const denseLinear: LinearFactory = (s) => new DenseLinear(s.weight, s.outFeatures, s.inFeatures, s.bias);

export function buildModel(
  config: ModelConfig,
  tokenizer: Tokenizer,
  w: FloatWeights,
  makeLinear: LinearFactory = denseLinear,
  source: Record<string, unknown> = {},
): LlamaModel {
  const c = config;
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const layers = w.layers.map((lw, layer) => {
    const lin = (role: LinearRole, weight: Float32Array, outFeatures: number, inFeatures: number, bias: Float32Array | null = null) =>
      makeLinear({ role, layer, weight, outFeatures, inFeatures, bias });
    return {
      input_layernorm: lw.input_layernorm,
      q_proj: lin('q_proj', lw.q_proj, qd, d, lw.q_bias),
      k_proj: lin('k_proj', lw.k_proj, kvd, d, lw.k_bias),
      v_proj: lin('v_proj', lw.v_proj, kvd, d, lw.v_bias),
      o_proj: lin('o_proj', lw.o_proj, d, qd),
      post_attention_layernorm: lw.post_attention_layernorm,
      gate_proj: lin('gate_proj', lw.gate_proj, I, d),
      up_proj: lin('up_proj', lw.up_proj, I, d),
      down_proj: lin('down_proj', lw.down_proj, d, I),
    };
  });
  const lm_head = makeLinear({ role: 'lm_head', layer: -1, weight: w.lm_head, outFeatures: c.vocab_size, inFeatures: d, bias: null });
  return new LlamaModel(config, tokenizer, { embed_tokens: w.embed_tokens, layers, norm: w.norm, lm_head }, source);
}
