/**
 * w4a16 on weights laid out for decoding (plain TypeScript reference). The column-major packed
 * layout of QuantizedWeights suits spikes (one column per input event) but makes a dense GEMV
 * read four streams and convert every nibble to float. For the w4a16 method the weights are
 * re-packed once, at model build, into blocks of 32 outputs x 8 inputs (128 bytes):
 *
 *   block (b, j) = outputs [32b, 32b + 32), inputs [8j, 8j + 8), at byte ((b * nb8 + j) * 128)
 *   byte 4t + k of a block (t = output within the block, k = 0..3) holds
 *     u(32b + t, 8j + k)  in its low nibble and  u(32b + t, 8j + 4 + k)  in its high nibble,
 *   u = q + 8 in 0..15 (q the two's-complement weight); padding (outputs >= m, inputs >= n) is
 *   u = 8, weight 0;
 *   scales block-major [ceil(m / 32)][nGroups][32] (padding 0), so the scales of a block are
 *   read in order too (a group-major [nGroups, m] table read block by block is nGroups strided
 *   streams, more than the hardware prefetchers follow: 2048 x 5632 ran at 16 GB/s, not 19).
 *
 * so one thread reads its outputs' weights as one sequential stream, and a 64-byte load gives the
 * 4-input dot products of 16 outputs that VNNI computes in one instruction (native/w4a16_blocks.c).
 * Same 0.5 byte per weight as the columns.
 */
import { w4a16Sums, type PackedWeights4 } from './packed4.js';

/** 4-bit weights in decode blocks (see the file header), scales group-major [nGroups, m]. */
export interface W4A16Weights {
  blocks: Uint8Array;
  /** Block-major scales [ceil(m / 32)][nGroups][32]. */
  scales: Float32Array;
  m: number;
  n: number;
  groupSize: number;
}

export const W4_BLOCK_OUTPUTS = 32;
export const W4_BLOCK_INPUTS = 8;

/** Bytes of the block layout of an m x n matrix. */
export function w4BlocksBytes(m: number, n: number): number {
  return Math.ceil(m / W4_BLOCK_OUTPUTS) * Math.ceil(n / W4_BLOCK_INPUTS) * 128;
}

/**
 * blocks (w4BlocksBytes(m, n) bytes) <- the decode blocks of column-major packed weights: the
 * same nibbles, re-ordered, offset by 8. A kernel (native: native/w4a16_blocks.c, bit-identical),
 * since a 7B model has 6.5 G weights to re-pack when it loads.
 */
export function packW4A16Blocks(packed: Uint8Array, m: number, n: number, blocks: Uint8Array): void {
  const cb = (m + 1) >> 1, nb8 = Math.ceil(n / W4_BLOCK_INPUTS);
  const strideO = nb8 * 128; // bytes from one output block to the next
  blocks.fill(0x88, 0, w4BlocksBytes(m, n)); // padding: u = 8, weight 0
  // Column by column (the source read once, in order); (q ^ 8) on a nibble = q + 8 for two's complement q.
  for (let i = 0; i < n; i++) {
    const src = i * cb, shift = i & 4, keep = shift ? 0x0f : 0xf0;
    const col = (i >> 3) * 128 + (i & 3);
    for (let p = 0; p < cb; p++) {
      const b = packed[src + p] ^ 0x88, o = 2 * p;
      const d0 = (o >> 5) * strideO + col + 4 * (o & 31);
      blocks[d0] = (blocks[d0] & keep) | ((b & 15) << shift);
      if (o + 1 < m) blocks[d0 + 4] = (blocks[d0 + 4] & keep) | ((b >> 4) << shift);
    }
  }
}

/** Column-major packed weights as W4A16Weights: blocks re-packed by `pack` (a backend's kernel), scales block-major. */
export function w4a16Weights(w: PackedWeights4, pack: typeof packW4A16Blocks = packW4A16Blocks): W4A16Weights {
  const { m, n, groupSize } = w;
  const blocks = new Uint8Array(w4BlocksBytes(m, n));
  pack(w.packed, m, n, blocks);
  const nG = Math.ceil(n / groupSize);
  const scales = new Float32Array(Math.ceil(m / W4_BLOCK_OUTPUTS) * nG * 32);
  for (let g = 0; g < nG; g++) for (let o = 0; o < m; o++) scales[((o >> 5) * nG + g) * 32 + (o & 31)] = w.dwT[g * m + o];
  return { blocks, scales, m, n, groupSize };
}

/**
 * y[r, o] = Σ_g dw[g, o] · Σ_{i∈g} q[o, i] · x[r, i] over the decode blocks (float64 sums, rounded
 * once): the numbers of matmulW4A16 on the columns. Native backends compute the inner sums
 * exactly in integers from x split into three 8-bit parts per group (see native/w4a16_blocks.c)
 * and agree with this to a tolerance.
 */
export function matmulW4A16Blocks(w: W4A16Weights, x: Float32Array, y: Float32Array, rows: number): void {
  const { blocks, scales, m, n, groupSize } = w;
  const nb8 = Math.ceil(n / W4_BLOCK_INPUTS), nG = Math.ceil(n / groupSize);
  w4a16Sums(m, n, groupSize, x, y, rows, (i, xi, acc) => {
    const at = (i >> 3) * 128 + (i & 3), shift = i & 4;
    for (let o = 0; o < m; o++) acc[o] += xi * (((blocks[(o >> 5) * nb8 * 128 + at + 4 * (o & 31)] >> shift) & 15) - 8);
  }, (g, o) => scales[((o >> 5) * nG + g) * 32 + (o & 31)]);
}
