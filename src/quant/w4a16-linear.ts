/**
 * w4a16: 4-bit weights, float activations. The weights stay 4-bit (0.5 byte per weight plus the
 * scales): at build they are re-packed from QuantizedWeights' columns into decode blocks
 * (kernels/ts/w4a16-blocks.ts), which the matmulW4A16Blocks kernel reads as one stream per
 * thread, so a decode step reads 0.5 byte per weight: the memory-bandwidth bound of the method.
 * There is no float copy of the weights. Results agree with DenseLinear over dequantize(qw) to
 * float32 rounding, see test/kernels-conformance.test.ts.
 */
import type { Linear } from '../model/linear.js';
import { addBias, countFloatMatmul } from '../model/linear.js';
import type { QuantizedWeights } from './weights.js';
import { kernels, type W4A16Weights } from '../kernels/registry.js';
import { w4a16Weights } from '../kernels/ts/w4a16-blocks.js';
import type { OpCounts } from '../energy/ops.js';

export class W4A16Linear implements Linear {
  ops: OpCounts | null = null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weights: W4A16Weights;
  /** Bytes of the weights as stored and read per token: the packed integers and their scales. */
  readonly storedBytes: number;

  constructor(
    qw: QuantizedWeights,
    readonly bias: Float32Array | null = null,
  ) {
    if (qw.bits !== 4) throw new RangeError(`W4A16Linear: expected 4-bit weights, got ${qw.bits}-bit`);
    const m = qw.rows, n = qw.cols, nG = qw.nGroups;
    this.inFeatures = n;
    this.outFeatures = m;
    const dwT = new Float32Array(nG * m);
    for (let o = 0; o < m; o++) for (let g = 0; g < nG; g++) dwT[g * m + o] = qw.scales[o * nG + g];
    this.weights = w4a16Weights({ packed: qw.packed, dwT, m, n, groupSize: qw.groupSize }, kernels().packW4A16Blocks);
    this.storedBytes = qw.packed.byteLength + qw.scales.byteLength;
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    kernels().matmulW4A16Blocks(this.weights, x, y, rows);
    addBias(y, this.bias, rows, this.outFeatures);
    countFloatMatmul(this, rows); // the packed weights' bytes: storedBytes
  }
}
