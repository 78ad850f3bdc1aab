/**
 * The one seam every matmul of the model goes through. The float engine uses DenseLinear; the
 * quantized and spike-driven operators (quant/, spike/) implement the same interface, so a
 * method is chosen by which Linear the model is built with, never by a copy of the forward pass.
 */
import { kernels } from '../kernels/registry.js';
import type { OpCounts } from '../energy/ops.js';

export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** y[r, :] = W x[r, :] (+ bias) for each of `rows` rows (row-major, contiguous). */
  forward(x: Float32Array, y: Float32Array, rows: number): void;
  /** Operation counter this layer increments while set (energy/ops.ts). */
  ops: OpCounts | null;
}

export class DenseLinear implements Linear {
  ops: OpCounts | null = null;
  /**
   * @param storedBytes bytes of the weights as stored (4-bit weights computed in float — w4a16 —
   *   are read at 4 bits per weight plus scales); defaults to float32.
   */
  constructor(
    readonly weight: Float32Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly bias: Float32Array | null = null,
    readonly storedBytes = weight.length * 4,
  ) {
    if (weight.length !== outFeatures * inFeatures) throw new Error(`DenseLinear: weight has ${weight.length} values, expected ${outFeatures}x${inFeatures}`);
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    kernels().matmulF32(x, this.weight, y, rows, this.inFeatures, this.outFeatures);
    addBias(y, this.bias, rows, this.outFeatures);
    countFloatMatmul(this, rows);
  }
}

/**
 * A float linear whose weights stay as the checkpoint stores them, in bfloat16 (raw words): the
 * same values as their float32 widening, read at half the bytes. Used for the float lm_head of
 * bf16 checkpoints, where reading the head is a quarter of a 4-bit model's decode traffic.
 */
export class BF16Linear implements Linear {
  ops: OpCounts | null = null;
  readonly bias = null;
  readonly storedBytes: number;
  constructor(
    readonly weight: Uint16Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
  ) {
    if (weight.length !== outFeatures * inFeatures) throw new Error(`BF16Linear: weight has ${weight.length} values, expected ${outFeatures}x${inFeatures}`);
    this.storedBytes = weight.length * 2;
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    kernels().matmulBF16(x, this.weight, y, rows, this.inFeatures, this.outFeatures);
    countFloatMatmul(this, rows);
  }
}

/**
 * The operations of a matmul computed in float (DenseLinear, and w4a16, which dequantizes in
 * registers): float MACs and, per token as in decoding, the whole weight matrix read once at its
 * stored size.
 */
export function countFloatMatmul(
  layer: Pick<Linear, 'ops' | 'inFeatures' | 'outFeatures'> & { bias: Float32Array | null; storedBytes: number },
  rows: number,
): void {
  const ops = layer.ops;
  if (!ops) return;
  ops.rows += rows;
  ops.mac_float += rows * layer.inFeatures * layer.outFeatures;
  if (layer.bias) ops.fp_add += rows * layer.outFeatures;
  ops.weight_bytes += rows * layer.storedBytes;
  ops.act_bytes += rows * layer.inFeatures * 4;
}

export function addBias(y: Float32Array, bias: Float32Array | null, rows: number, outF: number): void {
  if (!bias) return;
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) y[r * outF + o] += bias[o];
}
