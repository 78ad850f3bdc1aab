/**
 * The LLaMA-family configuration the forward pass reads, with Hugging Face key names so that
 * users' config.json knowledge transfers. Architectures differ only by these fields.
 */
export type Architecture = 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM';
export const ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'];

/** RoPE scaling as transformers' `rope_scaling` / `rope_parameters` describe it (supported types only). */
export type RopeScaling =
  | { rope_type: 'default' }
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export interface ModelConfig {
  architecture: Architecture;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling;
  /**
   * Which channel pairs RoPE rotates: Hugging Face's rotate_half pairs (i, i + d/2); llama2.c's
   * interleaved pairs (2i, 2i + 1). Same maths, different weight layout.
   */
  rope_layout: 'half' | 'interleaved';
  max_position_embeddings: number;
  vocab_size: number;
  tie_word_embeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  attention_bias: boolean;
  /** Mistral-style sliding-window attention; null attends to every earlier position. */
  sliding_window: number | null;
  bos_token_id: number | null;
  eos_token_id: number[];
}

export function parameterCount(c: ModelConfig): number {
  const d = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const attn = d * q + 2 * d * kv + q * d + (c.attention_bias ? q + 2 * kv : 0);
  const mlp = 3 * d * c.intermediate_size;
  const perLayer = attn + mlp + 2 * d;
  const embed = c.vocab_size * d;
  return embed + c.num_hidden_layers * perLayer + d + (c.tie_word_embeddings ? 0 : embed);
}
