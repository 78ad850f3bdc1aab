/**
 * The one seam every matmul of the model goes through. The float engine uses DenseLinear; the
 * quantized and spike-driven operators (quant/, spike/) implement the same interface, so a
 * method is chosen by which Linear the model is built with, never by a copy of the forward pass.
 */
import { kernels } from '../kernels/registry.js';

export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** y[r, :] = W x[r, :] (+ bias) for each of `rows` rows (row-major, contiguous). */
  forward(x: Float32Array, y: Float32Array, rows: number): void;
}

export class DenseLinear implements Linear {
  constructor(
    readonly weight: Float32Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly bias: Float32Array | null = null,
  ) {
    if (weight.length !== outFeatures * inFeatures) throw new Error(`DenseLinear: weight has ${weight.length} values, expected ${outFeatures}x${inFeatures}`);
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    kernels().matmulF32(x, this.weight, y, rows, this.inFeatures, this.outFeatures);
    addBias(y, this.bias, rows, this.outFeatures);
  }
}

export function addBias(y: Float32Array, bias: Float32Array | null, rows: number, outF: number): void {
  if (!bias) return;
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) y[r * outF + o] += bias[o];
}
