/**
 * w4a16: 4-bit weights, float activations. The weights stay packed (QuantizedWeights.packed,
 * 0.5 byte per weight plus the scales) and the matmulW4A16 kernel dequantizes them on the fly in
 * registers, so there is no float copy in memory and a decode step reads 0.5 byte per weight:
 * the memory-bandwidth bound of the method. Results agree with DenseLinear over dequantize(qw)
 * to float rounding (the order of the float sums differs), see test/kernels-conformance.test.ts.
 */
import type { Linear } from '../model/linear.js';
import { addBias, countFloatMatmul } from '../model/linear.js';
import type { QuantizedWeights } from './weights.js';
import { kernels, type PackedWeights4 } from '../kernels/registry.js';
import type { OpCounts } from '../energy/ops.js';

export class W4A16Linear implements Linear {
  ops: OpCounts | null = null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weights: PackedWeights4;
  /** Bytes of the weights as stored and read per token: the packed integers and their scales. */
  readonly storedBytes: number;

  constructor(
    readonly qw: QuantizedWeights,
    readonly bias: Float32Array | null = null,
  ) {
    if (qw.bits !== 4) throw new RangeError(`W4A16Linear: expected 4-bit weights, got ${qw.bits}-bit`);
    const m = qw.rows, n = qw.cols, nG = qw.nGroups;
    this.inFeatures = n;
    this.outFeatures = m;
    const dwT = new Float32Array(nG * m);
    for (let o = 0; o < m; o++) for (let g = 0; g < nG; g++) dwT[g * m + o] = qw.scales[o * nG + g];
    this.weights = { packed: qw.packed, dwT, m, n, groupSize: qw.groupSize };
    this.storedBytes = qw.packed.byteLength + qw.scales.byteLength;
  }

  forward(x: Float32Array, y: Float32Array, rows: number): void {
    kernels().matmulW4A16(this.weights, x, y, rows);
    addBias(y, this.bias, rows, this.outFeatures);
    countFloatMatmul(this, rows); // the packed weights' bytes: storedBytes
  }
}
