/**
 * Log-likelihood of continuations given contexts, the way lm-eval scores zero-shot tasks
 * (CONVENTIONS.md): whole = encode(context + " " + continuation), ctx = encode(context), both
 * without special tokens; the model input is [BOS] + whole (BOS when the tokenizer adds one by
 * default) and the scored tokens are whole[len(ctx):].
 *
 * The requests of one item (the choices of a question, the two contexts of a WinoGrande
 * sentence) share a prefix, which runs once: the longest common prefix of their input tokens,
 * cut at the first scored position. Under BPE the continuation's first token can merge with the
 * end of the context, so whole[:len(ctx)] need not equal ctx; sharing the common prefix of the
 * actual inputs (never ctx itself) keeps every request's input exactly [BOS] + whole.
 *
 * Per item that is one forward call for the shared prefix, whose last-position logits score the
 * first continuation token of every request, and one call per request whose continuation has
 * more than one token (from the KV cache truncated back to the prefix). Single-token
 * continuations (BoolQ's " yes"/" no", most LAMBADA words) cost no call of their own. Items never
 * share state: an item's numbers do not depend on which items ran before it (so shards merge
 * exactly).
 */
import type { LlamaModel } from '../model/llama.js';
import type { KVCache } from '../model/kv-cache.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { fail } from '../errors.js';
import { DELIMITER, type Request } from './tasks.js';

export interface EncodedRequest {
  /** The model input: [BOS] + whole, cut from the left to the model's context when longer. */
  tokens: number[];
  /** Index in `tokens` of the first scored token. */
  scoreFrom: number;
  /** Tokens dropped from the left to fit the context (lm-eval truncates the same way). */
  truncated: number;
}

export interface RequestScore {
  /** Sum of the natural-log probabilities of the continuation tokens. */
  ll: number;
  /** Every continuation token is the argmax of its prediction (LAMBADA's acc). */
  greedy: boolean;
  /** Continuation tokens scored. */
  tokens: number;
  truncated: number;
}

/** Tokens the tokenizer puts before any text by default: [BOS] for every model in ../models. */
export function defaultPrefix(tok: Tokenizer): number[] {
  if (tok.bosTokenId === null) return [];
  const withSpecial = tok.encode('a');
  return withSpecial[0] === tok.bosTokenId && tok.encode('a', { add_special_tokens: false })[0] !== tok.bosTokenId ? [tok.bosTokenId] : [];
}

export function encodeRequest(tok: Tokenizer, req: Request, prefix: number[], maxLength: number): EncodedRequest {
  const whole = tok.encode(req.context + DELIMITER + req.continuation, { add_special_tokens: false });
  const ctx = tok.encode(req.context, { add_special_tokens: false });
  let tokens = prefix.length ? [...prefix, ...whole] : whole;
  let scoreFrom = prefix.length + Math.min(ctx.length, whole.length);
  if (scoreFrom === 0) fail('a request has an empty context and the tokenizer adds no BOS: its first token cannot be scored');
  let truncated = 0;
  if (tokens.length > maxLength) {
    truncated = tokens.length - maxLength;
    if (scoreFrom - truncated < 1)
      fail(`a continuation of ${tokens.length - scoreFrom} tokens does not fit the model's context of ${maxLength} tokens`);
    tokens = tokens.slice(truncated);
    scoreFrom -= truncated;
  }
  return { tokens, scoreFrom, truncated };
}

/** Counters of the work done, for throughput reports. */
export interface ScoreCounters {
  /** Forward calls (model.step). */
  calls: number;
  /** Positions run through the model. */
  forwardTokens: number;
  /** Continuation tokens scored. */
  scoredTokens: number;
}

export class Scorer {
  readonly maxLength: number;
  readonly prefix: number[];
  readonly counters: ScoreCounters = { calls: 0, forwardTokens: 0, scoredTokens: 0 };
  private readonly cache: KVCache;
  private readonly vocab: number;
  private readonly prefixLogits: Float32Array;

  constructor(readonly model: LlamaModel) {
    this.maxLength = model.config.max_position_embeddings;
    this.prefix = defaultPrefix(model.tokenizer);
    this.cache = model.newCache(this.maxLength);
    this.vocab = model.config.vocab_size;
    this.prefixLogits = new Float32Array(this.vocab);
  }

  encode(req: Request): EncodedRequest {
    return encodeRequest(this.model.tokenizer, req, this.prefix, this.maxLength);
  }

  /** Scores the requests of one item (they share what prefix they have). */
  scoreItem(requests: Request[]): RequestScore[] {
    return this.scoreEncoded(requests.map((r) => this.encode(r)));
  }

  scoreEncoded(seqs: EncodedRequest[]): RequestScore[] {
    const model = this.model, V = this.vocab, cache = this.cache, c = this.counters;
    // The shared prefix: common to every input, and no further than the first scored position.
    let p = Math.min(...seqs.map((s) => s.scoreFrom));
    const first = seqs[0].tokens;
    for (const s of seqs.slice(1)) {
      let i = 0;
      while (i < p && s.tokens[i] === first[i]) i++;
      p = i;
    }
    let prefixLse = 0, prefixArgmax = -1;
    if (p > 0) {
      cache.truncate(0);
      const logits = model.step(first.slice(0, p), cache, false);
      this.prefixLogits.set(logits.subarray(0, V));
      c.calls++;
      c.forwardTokens += p;
      [prefixLse, prefixArgmax] = lseArgmax(this.prefixLogits, 0, V);
    }
    return seqs.map((s) => {
      const len = s.tokens.length;
      const res: RequestScore = { ll: 0, greedy: true, tokens: len - s.scoreFrom, truncated: s.truncated };
      c.scoredTokens += res.tokens;
      if (s.scoreFrom === p && p < len) {
        // The prefix's last position predicts token p.
        const t = s.tokens[p];
        res.ll += this.prefixLogits[t] - prefixLse;
        if (prefixArgmax !== t) res.greedy = false;
      }
      if (len - 1 > p) {
        // Positions p .. len−2 predict tokens p+1 .. len−1.
        cache.truncate(p);
        const logits = model.step(s.tokens.slice(p, len - 1), cache, true);
        c.calls++;
        c.forwardTokens += len - 1 - p;
        for (let j = Math.max(s.scoreFrom, p + 1); j < len; j++) {
          const off = (j - 1 - p) * V;
          const [lse, arg] = lseArgmax(logits, off, V);
          res.ll += logits[off + s.tokens[j]] - lse;
          if (arg !== s.tokens[j]) res.greedy = false;
        }
      }
      return res;
    });
  }
}

/** log Σ exp(x) over one row (in float64) and the row's argmax (the first, on ties). */
export function lseArgmax(x: Float32Array, off: number, n: number): [number, number] {
  let max = -Infinity, arg = 0;
  for (let v = 0; v < n; v++) {
    const y = x[off + v];
    if (y > max) {
      max = y;
      arg = v;
    }
  }
  let sum = 0;
  for (let v = 0; v < n; v++) sum += Math.exp(x[off + v] - max);
  return [Math.log(sum) + max, arg];
}
