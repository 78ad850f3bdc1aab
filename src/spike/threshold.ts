// Threshold rules of gamma-SQP step 1 (METHOD 2): the per-token step theta that maps a float
// activation onto integer spike counts. The quantile rule with gamma < 1 is the membrane-potential
// clipping: the gamma-quantile of |x| sits at exactly L spikes and the rare larger channels clip.

export type ThresholdRule =
  | { kind: 'quantile'; gamma: number }
  | { kind: 'absmax' }
  | { kind: 'meanabs'; k: number }
  | { kind: 'static'; theta: number };

/** SpikingBrain's divisor for the meanabs rule. */
export const MEANABS_DEFAULT_K = 3;

/**
 * theta (fp32) for x[offset .. offset + n). `L` is the largest spike count (quantile and absmax
 * put their statistic at L spikes); meanabs and static ignore it. `scratch` (length >= n) lets the
 * quantile rule select without allocating per token.
 */
export function threshold(
  x: Float32Array,
  offset: number,
  n: number,
  rule: ThresholdRule,
  L: number,
  scratch?: Float32Array,
): number {
  switch (rule.kind) {
    case 'quantile':
      return Math.fround(quantileAbs(x, offset, n, rule.gamma, scratch) / L);
    case 'absmax':
      return Math.fround(maxAbs(x, offset, n) / L);
    case 'meanabs':
      return Math.fround(meanAbs(x, offset, n) / rule.k);
    case 'static':
      return Math.fround(rule.theta);
  }
}

export function maxAbs(x: Float32Array, offset: number, n: number): number {
  let m = 0;
  for (let i = offset; i < offset + n; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}

/** mean |x| in fp32 (summed in float64, rounded once). */
export function meanAbs(x: Float32Array, offset: number, n: number): number {
  let s = 0;
  for (let i = offset; i < offset + n; i++) s += Math.abs(x[i]);
  return Math.fround(s / n);
}

/**
 * The gamma-quantile of |x_i| with linear interpolation between order statistics, as
 * torch.quantile / numpy.quantile (method 'linear') compute it in fp32: pos = gamma (n - 1),
 * a = |x|_(floor pos), b = the next order statistic, w = pos - floor pos,
 * q = w < 1/2 ? a + w (b - a) : b - (1 - w)(b - a)  (every step rounded to fp32).
 * Exact order statistics come from quickselect on a copy of |x| in `scratch`.
 */
export function quantileAbs(x: Float32Array, offset: number, n: number, gamma: number, scratch?: Float32Array): number {
  if (n < 1) throw new RangeError('quantile of an empty vector');
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`gamma must be in [0, 1], got ${gamma}`);
  const a = scratch ?? new Float32Array(n);
  if (a.length < n) throw new RangeError(`scratch holds ${a.length} values, need ${n}`);
  for (let i = 0; i < n; i++) a[i] = Math.abs(x[offset + i]);
  const pos = Math.fround(Math.fround(gamma) * (n - 1));
  const k = Math.floor(pos);
  const w = Math.fround(pos - k);
  const lo = select(a, n, k);
  if (w === 0) return lo;
  // select leaves everything above position k at indices > k: the next order statistic is their minimum.
  let hi = Infinity;
  for (let i = k + 1; i < n; i++) if (a[i] < hi) hi = a[i];
  const diff = Math.fround(hi - lo);
  return w < 0.5
    ? Math.fround(lo + Math.fround(w * diff))
    : Math.fround(hi - Math.fround(diff * Math.fround(1 - w)));
}

/**
 * Wirth's selection: reorders a[0 .. n) so that a[k] is the k-th smallest (0-based), every element
 * before it is <= a[k] and every element after it is >= a[k]; returns a[k]. Expected O(n).
 */
function select(a: Float32Array, n: number, k: number): number {
  let l = 0;
  let r = n - 1;
  while (l < r) {
    const pivot = a[k];
    let i = l;
    let j = r;
    do {
      while (a[i] < pivot) i++;
      while (pivot < a[j]) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
  return a[k];
}
