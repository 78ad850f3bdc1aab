/**
 * Perplexity under the `gptq` protocol (CONVENTIONS.md): the whole text tokenized once without
 * special tokens, cut into non-overlapping windows of `ctx` tokens (a last shorter window is kept
 * if it has at least 2 tokens), each window run on its own, every token after the window's first
 * scored. PPL = exp(mean NLL).
 */
import type { LlamaModel } from '../model/llama.js';

export interface PerplexityResult {
  protocol: 'gptq';
  ctx: number;
  windows: number;
  tokens: number;
  scoredTokens: number;
  nll: number;
  meanNll: number;
  ppl: number;
}

export function windowsOf(ids: number[], ctx: number, limit = Infinity): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < ids.length && out.length < limit; s += ctx) {
    const w = ids.slice(s, s + ctx);
    if (w.length >= 2) out.push(w);
  }
  return out;
}

/** −log softmax(logits)[target], computed stably in float64. */
export function tokenNll(logits: Float32Array, off: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (logits[off + v] > max) max = logits[off + v];
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
  return Math.log(sum) + max - logits[off + target];
}

export function perplexityGptq(
  model: LlamaModel,
  ids: number[],
  ctx: number,
  opts: { limit?: number; onWindow?: (done: number, total: number, partial: PerplexityResult) => void } = {},
): PerplexityResult {
  const windows = windowsOf(ids, ctx, opts.limit);
  const V = model.config.vocab_size;
  let nll = 0, scored = 0, tokens = 0;
  const result = (): PerplexityResult => ({
    protocol: 'gptq', ctx, windows: windows.length, tokens, scoredTokens: scored, nll, meanNll: nll / scored, ppl: Math.exp(nll / scored),
  });
  windows.forEach((w, k) => {
    const logits = model.step(w, model.newCache(w.length), true);
    for (let i = 1; i < w.length; i++) nll += tokenNll(logits, (i - 1) * V, V, w[i]);
    scored += w.length - 1;
    tokens += w.length;
    opts.onWindow?.(k + 1, windows.length, result());
  });
  return result();
}
