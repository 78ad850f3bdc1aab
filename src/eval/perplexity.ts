/**
 * Perplexity protocols (CONVENTIONS.md), printed with their names and context lengths:
 *  - `gptq`: the text tokenized once without special tokens, non-overlapping windows of `ctx`
 *    tokens (a last shorter window kept if it has ≥ 2 tokens), each run on its own, every token
 *    after the window's first scored. What GPTQ/OmniQuant/SpikeLLM papers and golden.json report.
 *  - `llamacpp`: llama.cpp's llama-perplexity: the text tokenized with BOS, ⌊tokens/ctx⌋ chunks,
 *    each chunk's first token replaced by BOS, only the second half of each chunk scored; reports
 *    the running `[k]ppl` list and `PPL ± stderr`.
 *  - `documents` (the TinyStories protocol of stories260K's golden.json): the text split on
 *    `<|endoftext|>` and blank lines into documents (trimmed, empty ones dropped), each encoded
 *    on its own as the tokenizer does by default (BOS; llama2.c's dummy-prefix space), cut to
 *    `ctx` tokens, every token after the first scored.
 */
import type { LlamaModel } from '../model/llama.js';

export type PerplexityProtocol = 'gptq' | 'llamacpp' | 'documents';

export interface PerplexityResult {
  protocol: PerplexityProtocol;
  ctx: number;
  windows: number;
  tokens: number;
  scoredTokens: number;
  /** Sum of NLL (nats) and of its squares over scored tokens. */
  nll: number;
  nll2: number;
  meanNll: number;
  ppl: number;
  /** llama.cpp's uncertainty of PPL: ppl · sqrt(var(nll) / (n − 1)). */
  pplStderr: number;
  /** Running PPL after each window (llama.cpp prints these). */
  running: number[];
}

export interface PerplexityOptions {
  protocol?: PerplexityProtocol;
  ctx?: number;
  limit?: number;
  /** Windows to skip (for sharding); the windows are the same as without it. */
  onWindow?: (done: number, total: number, partial: PerplexityResult) => void;
}

/** −log softmax(logits)[target], computed stably in float64. */
export function tokenNll(logits: Float32Array, off: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (logits[off + v] > max) max = logits[off + v];
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
  return Math.log(sum) + max - logits[off + target];
}

export interface Window {
  ids: number[];
  /** First position whose prediction (of the next token) is scored. */
  first: number;
}

/** The windows a protocol scores, from the tokens of the whole text (tokenized as the protocol says). */
export function protocolWindows(ids: number[], protocol: PerplexityProtocol, ctx: number, bos: number | null): Window[] {
  const out: Window[] = [];
  if (protocol === 'gptq') {
    for (let s = 0; s < ids.length; s += ctx) {
      const w = ids.slice(s, s + ctx);
      if (w.length >= 2) out.push({ ids: w, first: 0 });
    }
  } else if (protocol === 'llamacpp') {
    const chunks = Math.floor(ids.length / ctx);
    for (let k = 0; k < chunks; k++) {
      const w = ids.slice(k * ctx, (k + 1) * ctx);
      if (bos !== null) w[0] = bos;
      out.push({ ids: w, first: Math.floor(ctx / 2) });
    }
  } else throw new Error('protocolWindows(): the documents protocol needs the text (documentWindows)');
  return out;
}

/** The documents of a text: split on `<|endoftext|>` and on blank lines, trimmed, empty ones dropped. */
export function splitDocuments(text: string): string[] {
  return text.split(/<\|endoftext\|>|\n[ \t\r]*\n/).map((d) => d.trim()).filter((d) => d.length > 0);
}

/** Windows of the `documents` protocol: each document encoded with the tokenizer's defaults, cut to ctx tokens. */
export function documentWindows(model: LlamaModel, text: string, ctx: number): Window[] {
  return splitDocuments(text)
    .map((d) => ({ ids: model.tokenizer.encode(d).slice(0, ctx), first: 0 }))
    .filter((w) => w.ids.length >= 2);
}

/** Tokenizes `text` as the protocol does. */
export function protocolTokens(model: LlamaModel, text: string, protocol: PerplexityProtocol): number[] {
  return model.tokenizer.encode(text, { add_special_tokens: protocol === 'llamacpp' });
}

export function perplexity(model: LlamaModel, ids: number[], opts: PerplexityOptions = {}): PerplexityResult {
  const protocol = opts.protocol ?? 'gptq';
  if (protocol === 'documents') throw new Error('perplexity(): the documents protocol scores documents, not one token sequence: use perplexityOfWindows(model, documentWindows(...))');
  const ctx = opts.ctx ?? 512;
  const bos = model.tokenizer.bosTokenId ?? model.config.bos_token_id;
  return perplexityOfWindows(model, protocolWindows(ids, protocol, ctx, bos), opts);
}

/** Scores given windows (of any protocol): every position from `first` on predicts the next token. */
export function perplexityOfWindows(model: LlamaModel, allWindows: Window[], opts: PerplexityOptions = {}): PerplexityResult {
  const protocol = opts.protocol ?? 'gptq';
  const ctx = opts.ctx ?? 512;
  const windows = allWindows.slice(0, opts.limit ?? Infinity);
  const V = model.config.vocab_size;
  let nll = 0, nll2 = 0, scored = 0, tokens = 0;
  const running: number[] = [];
  const result = (): PerplexityResult => {
    const mean = nll / scored;
    const variance = nll2 / scored - mean * mean;
    const ppl = Math.exp(mean);
    return {
      protocol, ctx, windows: windows.length, tokens, scoredTokens: scored, nll, nll2, meanNll: mean, ppl,
      pplStderr: variance > 0 && scored > 1 ? ppl * Math.sqrt(variance / (scored - 1)) : 0,
      running: running.slice(),
    };
  };
  windows.forEach((w, k) => {
    const logits = model.step(w.ids, model.newCache(w.ids.length), true);
    for (let i = w.first; i + 1 < w.ids.length; i++) {
      const v = tokenNll(logits, i * V, V, w.ids[i + 1]);
      nll += v;
      nll2 += v * v;
      scored++;
    }
    tokens += w.ids.length;
    running.push(Math.exp(nll / scored));
    opts.onWindow?.(k + 1, windows.length, result());
  });
  return result();
}
