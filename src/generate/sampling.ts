/**
 * Next-token choice from logits, with Hugging Face's option names and order of processors:
 * repetition penalty, then temperature, top-k and top-p, then sampling (or argmax when greedy).
 */
import { Prng } from '../util/prng.js';

export interface SamplingOptions {
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Chooses the next token. Modifies `logits` in place (it is the model's scratch output) and uses
 * `scratch` (vocab-sized) for probabilities, so sampling allocates nothing per token.
 */
export class Sampler {
  private readonly probs: Float32Array;
  private readonly order: Uint32Array;
  /** Marks tokens already penalised this step (stamp = step number), instead of allocating a Set. */
  private readonly seen: Uint32Array;
  private stepNo = 0;
  constructor(vocab: number, private readonly opts: SamplingOptions, private readonly rng: Prng) {
    this.probs = new Float32Array(vocab);
    this.order = new Uint32Array(vocab);
    this.seen = new Uint32Array(vocab);
  }

  next(logits: Float32Array, previous: ArrayLike<number>): number {
    const o = this.opts;
    const penalty = o.repetition_penalty ?? 1;
    if (penalty !== 1) {
      // HF's rule: divide positive logits, multiply negative ones, once per distinct previous token.
      const stamp = ++this.stepNo;
      for (let k = 0; k < previous.length; k++) {
        const id = previous[k];
        if (this.seen[id] === stamp) continue;
        this.seen[id] = stamp;
        const l = logits[id];
        logits[id] = l > 0 ? l / penalty : l * penalty;
      }
    }
    const temperature = o.temperature ?? 1;
    if (!o.do_sample || temperature === 0) return argmax(logits);
    return this.sample(logits, temperature, o.top_k ?? 0, o.top_p ?? 1);
  }

  private sample(logits: Float32Array, temperature: number, topK: number, topP: number): number {
    const n = logits.length;
    const probs = this.probs, order = this.order;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp((logits[i] - max) / temperature);
      probs[i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) {
      probs[i] /= sum;
      order[i] = i;
    }
    let keep = n;
    if ((topK > 0 && topK < n) || topP < 1) {
      order.sort((a, b) => probs[b] - probs[a] || a - b);
      if (topK > 0 && topK < n) keep = topK;
      if (topP < 1) {
        // Keep the smallest prefix whose mass reaches top_p (at least one token), as HF's TopPLogitsWarper.
        let cum = 0;
        for (let r = 0; r < keep; r++) {
          cum += probs[order[r]];
          if (cum >= topP) {
            keep = r + 1;
            break;
          }
        }
      }
    }
    let mass = 0;
    for (let r = 0; r < keep; r++) mass += probs[order[r]];
    let u = this.rng.next() * mass;
    for (let r = 0; r < keep; r++) {
      u -= probs[order[r]];
      if (u <= 0) return order[r];
    }
    return order[keep - 1];
  }
}
