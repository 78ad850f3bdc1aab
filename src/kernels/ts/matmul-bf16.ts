/**
 * Dense matmul on bfloat16 weights, the reference for heads kept as the checkpoint stores them:
 * y[r, o] = sum_i x[r, i] * W[o, i] with W row-major [outF, inF] as raw bf16 words.
 *
 * A bf16 word is the top half of a float32, so a block of weight rows is widened exactly into a
 * float32 scratch and handed to matmulF32: the result is bit-identical to matmulF32 on the
 * widened matrix (each output's sum runs over i in order, whatever block it falls in).
 */
import { matmulF32 } from './matmul.js';

/** Weight values widened per block: enough to amortize a call, small enough to stay in L2. */
const BLOCK_VALUES = 1 << 16;
let scratch = new Float32Array(0);
let wide = new Uint32Array(0); // the same memory as scratch, written as bit patterns
let scratchY = new Float32Array(0);

export function matmulBF16(x: Float32Array, w: Uint16Array, y: Float32Array, rows: number, inF: number, outF: number): void {
  if (x.length < rows * inF || w.length < outF * inF || y.length < rows * outF)
    throw new RangeError(`matmulBF16: arrays too short for rows=${rows} inF=${inF} outF=${outF}`);
  const block = Math.max(1, Math.min(outF, Math.floor(BLOCK_VALUES / Math.max(1, inF))));
  if (scratch.length < block * inF) {
    scratch = new Float32Array(block * inF);
    wide = new Uint32Array(scratch.buffer);
  }
  if (scratchY.length < rows * block) scratchY = new Float32Array(rows * block);
  for (let o0 = 0; o0 < outF; o0 += block) {
    const nb = Math.min(block, outF - o0);
    const base = o0 * inF;
    for (let k = 0; k < nb * inF; k++) wide[k] = w[base + k] << 16;
    matmulF32(x, scratch, scratchY, rows, inF, nb);
    for (let r = 0; r < rows; r++) y.set(scratchY.subarray(r * nb, r * nb + nb), r * outF + o0);
  }
}
