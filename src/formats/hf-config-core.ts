/**
 * Hugging Face `config.json` → ModelConfig. Accepts both the older top-level `rope_theta` /
 * `rope_scaling` keys and the `rope_parameters` object that transformers 5 writes.
 * No node: imports (the web page parses fetched configs); hf-config.ts adds reading files.
 */
import { fail } from '../errors.js';
import { ARCHITECTURES, type Architecture, type ModelConfig, type RopeScaling } from '../model/config.js';

const MODEL_TYPES: Record<string, Architecture> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };

export function parseHfConfig(raw: Record<string, unknown>, path: string): ModelConfig {
  const archs = raw.architectures;
  const named = Array.isArray(archs) && typeof archs[0] === 'string' ? (archs[0] as string) : undefined;
  const arch = named ?? MODEL_TYPES[String(raw.model_type)];
  if (!arch) fail('neither "architectures" nor a known "model_type" says which model this is', path);
  if (!ARCHITECTURES.includes(arch as Architecture))
    fail(`unsupported architecture ${arch} (supported: ${ARCHITECTURES.join(', ')})`, path);

  const int = (key: string, dflt?: number): number => {
    const v = raw[key] ?? dflt;
    if (v === undefined || v === null) fail(`missing required key "${key}"`, path);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`, path);
    return v as number;
  };
  const num = (obj: Record<string, unknown>, key: string, dflt?: number): number => {
    const v = obj[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`"${key}" must be a number, got ${JSON.stringify(v)}`, path);
    return v;
  };

  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) fail(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, path);
  const headDim = int('head_dim', hidden % heads === 0 ? hidden / heads : undefined);

  // transformers 5 moved rope_theta/rope_scaling into rope_parameters; it wins when both are present.
  const rp = (raw.rope_parameters ?? null) as Record<string, unknown> | null;
  const scalingRaw = (rp && (rp.rope_type ?? rp.type) ? rp : raw.rope_scaling ?? null) as Record<string, unknown> | null;
  const theta = num(rp && rp.rope_theta !== undefined ? rp : raw, 'rope_theta', 10000);
  const ropeScaling = parseRopeScaling(scalingRaw, path, num);

  const eos = raw.eos_token_id;
  const eosIds = Array.isArray(eos) ? eos.filter(Number.isSafeInteger) : Number.isSafeInteger(eos) ? [eos as number] : [];
  const window = raw.sliding_window;
  const useWindow = arch === 'MistralForCausalLM' || raw.use_sliding_window === true;
  return {
    architecture: arch as Architecture,
    hidden_size: hidden,
    intermediate_size: int('intermediate_size'),
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: num(raw, 'rms_norm_eps', 1e-6),
    rope_theta: theta,
    rope_scaling: ropeScaling,
    rope_layout: 'half',
    max_position_embeddings: int('max_position_embeddings', 2048),
    vocab_size: int('vocab_size'),
    tie_word_embeddings: raw.tie_word_embeddings === true,
    // Qwen2 always has q/k/v biases; Llama declares them with attention_bias.
    attention_bias: arch === 'Qwen2ForCausalLM' || raw.attention_bias === true,
    sliding_window: useWindow && Number.isSafeInteger(window) && (window as number) > 0 ? (window as number) : null,
    bos_token_id: Number.isSafeInteger(raw.bos_token_id) ? (raw.bos_token_id as number) : null,
    eos_token_id: eosIds as number[],
  };
}

function parseRopeScaling(
  s: Record<string, unknown> | null,
  path: string,
  num: (o: Record<string, unknown>, k: string, d?: number) => number,
): RopeScaling {
  if (!s) return { rope_type: 'default' };
  const type = String(s.rope_type ?? s.type ?? 'default');
  switch (type) {
    case 'default':
      return { rope_type: 'default' };
    case 'linear':
      return { rope_type: 'linear', factor: num(s, 'factor') };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: num(s, 'factor'),
        low_freq_factor: num(s, 'low_freq_factor'),
        high_freq_factor: num(s, 'high_freq_factor'),
        original_max_position_embeddings: num(s, 'original_max_position_embeddings'),
      };
    default:
      fail(`unsupported rope scaling type "${type}" (supported: default, linear, llama3)`, path);
  }
}
