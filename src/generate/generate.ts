/**
 * Autoregressive generation: one batched prefill of the prompt, then one token per step through
 * the KV cache. The cache and all buffers are sized before the loop, so the loop allocates nothing.
 */
import type { LlamaModel } from '../model/llama.js';
import { fail } from '../errors.js';
import { Prng } from '../util/prng.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import type { Streamer } from './streamer.js';

export interface GenerationOptions extends SamplingOptions {
  max_new_tokens?: number;
  /** Seed of the sampling PRNG: the same seed gives the same text. */
  seed?: number;
  /** Stop at these ids; defaults to the tokenizer's and config's EOS ids. */
  eos_token_id?: number[];
  streamer?: Streamer;
}

export interface GenerationTimings {
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
}

export interface GenerationResult {
  /** Prompt ids followed by generated ids. */
  sequence: number[];
  newTokens: number[];
  finishReason: 'eos' | 'length';
  timings: GenerationTimings;
}

export const DEFAULT_MAX_NEW_TOKENS = 64;

export function generate(model: LlamaModel, promptIds: number[], opts: GenerationOptions = {}): GenerationResult {
  const steps = generateSteps(model, promptIds, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * generate(), one token at a time: yields each new token id as soon as it is chosen (after the
 * streamer has it) and returns the GenerationResult. The step that produced a token has run when
 * it is yielded and the next one has not started, so a caller can read per-token counters between
 * steps, yield to its event loop (the web page's worker), or stop early with `return()`.
 */
export function* generateSteps(model: LlamaModel, promptIds: number[], opts: GenerationOptions = {}): Generator<number, GenerationResult, void> {
  const c = model.config;
  if (promptIds.length === 0) fail('the prompt is empty (no tokens to start from)');
  const maxNew = opts.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (promptIds.length > c.max_position_embeddings)
    fail(`the prompt has ${promptIds.length} tokens, longer than the model's context of ${c.max_position_embeddings}`);
  const budget = Math.min(maxNew, c.max_position_embeddings - promptIds.length);
  const eos = new Set(opts.eos_token_id ?? [...c.eos_token_id, ...model.tokenizer.eosTokenIds]);
  const sampler = new Sampler(c.vocab_size, opts, new Prng(opts.seed ?? 0));
  const cache = model.newCache(promptIds.length + budget);
  const sequence = new Int32Array(promptIds.length + budget);
  sequence.set(promptIds);
  let len = promptIds.length;

  const t0 = performance.now();
  let logits = budget > 0 ? model.step(promptIds, cache) : new Float32Array(0);
  const t1 = performance.now();
  let finishReason: GenerationResult['finishReason'] = 'length';
  for (let i = 0; i < budget; i++) {
    const next = sampler.next(logits, sequence.subarray(0, len));
    sequence[len++] = next;
    opts.streamer?.put(next);
    yield next;
    if (eos.has(next)) {
      finishReason = 'eos';
      break;
    }
    if (i + 1 < budget) logits = model.step(sequence.subarray(len - 1, len), cache);
  }
  opts.streamer?.end();
  const t2 = performance.now();
  const all = Array.from(sequence.subarray(0, len));
  return {
    sequence: all,
    newTokens: all.slice(promptIds.length),
    finishReason,
    timings: { promptTokens: promptIds.length, promptMs: t1 - t0, generatedTokens: len - promptIds.length, generateMs: t2 - t1 },
  };
}

/** A closing line in the manner of llama.cpp's timings. */
export function formatTimings(t: GenerationTimings): string {
  const rate = (n: number, ms: number) => (ms > 0 ? ((1000 * n) / ms).toFixed(2) : 'inf');
  return (
    `prompt eval: ${t.promptTokens} tokens in ${t.promptMs.toFixed(1)} ms (${rate(t.promptTokens, t.promptMs)} tokens/s) | ` +
    `generation: ${t.generatedTokens} tokens in ${t.generateMs.toFixed(1)} ms (${rate(t.generatedTokens, t.generateMs)} tokens/s)`
  );
}
