/**
 * Metrics of zero-shot tasks, as lm-eval computes them:
 *  - `acc`: the request with the highest summed log-likelihood is the gold one (first on ties,
 *    as numpy's argmax); for last-word tasks, the greedy continuation equals the target;
 *  - `acc_norm`: argmax of log-likelihood divided by the choice's length in characters;
 *  - `perplexity` (last-word tasks): exp(−mean over items of the target's log-likelihood);
 *  - stderr of a mean: sample standard deviation / √n, i.e. √(p(1−p)/(n−1)) for accuracies;
 *    of perplexity by the delta method, ppl · sd(ll)/√n (lm-eval bootstraps it; both estimate
 *    the same quantity, the delta method is deterministic so merged shards reproduce it exactly).
 * And item-by-item comparison of two runs: agreement of predictions and McNemar's counts.
 */
import type { MetricName, TaskFormat } from './tasks.js';

/** One scored item, as stored in results JSON (samples). */
export interface SampleRecord {
  doc_id: number;
  /** Summed log-likelihood of each request's continuation. */
  ll: number[];
  /** Whether each continuation is the greedy one. */
  greedy: boolean[];
  /** Scored continuation tokens of each request. */
  tokens: number[];
  gold?: number;
  /** Characters of each choice (multiple choice). */
  chars?: number[];
  /** Prediction by ll, and by ll per character. */
  pred?: number;
  pred_norm?: number;
  acc: number;
  acc_norm?: number;
  /** Tokens dropped from the left of the longest request to fit the model's context. */
  truncated?: number;
}

export function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** What the scorer measured for an item, before the outcome is derived. */
export type ScoredRecord = Pick<SampleRecord, 'doc_id' | 'll' | 'greedy' | 'tokens' | 'gold' | 'chars'>;

/** Adds pred/acc (and pred_norm/acc_norm) to a record from its log-likelihoods. */
export function withOutcome(format: TaskFormat, r: ScoredRecord): SampleRecord {
  if (format === 'last_word') return { ...r, acc: r.greedy[0] ? 1 : 0 };
  const pred = argmax(r.ll);
  const out: SampleRecord = { ...r, pred, acc: pred === r.gold ? 1 : 0 };
  if (format === 'multiple_choice' && r.chars) {
    const predNorm = argmax(r.ll.map((ll, i) => ll / r.chars![i]));
    out.pred_norm = predNorm;
    out.acc_norm = predNorm === r.gold ? 1 : 0;
  }
  return out;
}

export function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation / √n (lm-eval's mean_stderr); NaN below two values. */
export function meanStderr(xs: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (n - 1) / n);
}

export interface MetricValue {
  metric: MetricName;
  value: number;
  stderr: number;
}

/** Metrics of a task over its records (sorted by doc_id, so every run sums in the same order). */
export function taskMetrics(metrics: MetricName[], records: SampleRecord[]): MetricValue[] {
  return metrics.map((metric) => {
    if (metric === 'perplexity') {
      const lls = records.map((r) => r.ll[0]);
      const ppl = Math.exp(-mean(lls));
      return { metric, value: ppl, stderr: ppl * meanStderr(lls) };
    }
    const xs = records.map((r) => (metric === 'acc' ? r.acc : r.acc_norm ?? NaN));
    return { metric, value: mean(xs), stderr: meanStderr(xs) };
  });
}

/** lm-eval's results keys: "acc,none", "acc_stderr,none", ... (null where undefined, as JSON has no NaN). */
export function resultsEntry(task: string, values: MetricValue[]): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = { alias: task };
  const num = (x: number) => (Number.isFinite(x) ? x : null);
  for (const v of values) {
    out[`${v.metric},none`] = num(v.value);
    out[`${v.metric}_stderr,none`] = num(v.stderr);
  }
  return out;
}

export interface PairwiseCounts {
  /** Items in both runs. */
  n: number;
  /** Items where both runs predict the same choice (last-word: the same greedy outcome). */
  agree: number;
  agreement: number;
  /** McNemar's table of correctness: both right, only A right, only B right, both wrong. */
  both_right: number;
  a_only: number;
  b_only: number;
  both_wrong: number;
  /** Exact two-sided McNemar test (binomial on the discordant pairs). */
  mcnemar_p: number;
}

export function pairwise(a: SampleRecord[], b: SampleRecord[], metric: 'acc' | 'acc_norm' = 'acc'): PairwiseCounts {
  const byId = new Map(b.map((r) => [r.doc_id, r]));
  let n = 0, agree = 0, rr = 0, rw = 0, wr = 0, ww = 0;
  for (const x of a) {
    const y = byId.get(x.doc_id);
    if (!y) continue;
    n++;
    const px = metric === 'acc' ? x.pred ?? x.acc : x.pred_norm;
    const py = metric === 'acc' ? y.pred ?? y.acc : y.pred_norm;
    if (px === py) agree++;
    const cx = (metric === 'acc' ? x.acc : x.acc_norm) === 1, cy = (metric === 'acc' ? y.acc : y.acc_norm) === 1;
    if (cx && cy) rr++;
    else if (cx) rw++;
    else if (cy) wr++;
    else ww++;
  }
  return { n, agree, agreement: n ? agree / n : NaN, both_right: rr, a_only: rw, b_only: wr, both_wrong: ww, mcnemar_p: mcnemarExact(rw, wr) };
}

/** Two-sided exact McNemar p-value: 2 · P(X ≤ min(b, c)), X ~ Binomial(b + c, ½), capped at 1. */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // log C(n, i) accumulated; sum in log space for large n.
  let logC = 0, acc = -Infinity;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    const t = logC - n * Math.LN2;
    acc = acc === -Infinity ? t : Math.max(acc, t) + Math.log1p(Math.exp(-Math.abs(acc - t)));
  }
  return Math.min(1, 2 * Math.exp(acc));
}
