/**
 * γ-SQP step 1 for a batch of tokens (METHOD §2): per row, the threshold θ from the layer's rule,
 * then the integer spike counts c_i = clamp(round_half_even(fp32(x_i / θ)), −L, L). The plain
 * reference over src/spike/threshold.ts and src/spike/encode.ts; a native backend must give the
 * same θ and counts bit for bit (every step is an fp32 operation or an exact selection).
 */
import { threshold, type ThresholdRule } from '../../spike/threshold.js';
import { spikeCounts } from '../../spike/encode.js';

/**
 * x [rows, n] → counts [rows, n] and thetas[r]; `scratch` (≥ n floats) lets the quantile rule
 * select without allocating.
 */
export function spikeEncode(
  x: Float32Array,
  rows: number,
  n: number,
  rule: ThresholdRule,
  L: number,
  counts: Int32Array,
  thetas: Float64Array,
  scratch: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const theta = threshold(x, r * n, n, rule, L, scratch);
    spikeCounts(x, r * n, n, theta, L, counts, r * n);
    thetas[r] = theta;
  }
}
