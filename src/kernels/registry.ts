/**
 * Kernel registry (after tfjs-core): every hot kernel is registered per backend. `ts` is the
 * plain reference every other backend is tested against (test/kernels-conformance.test.ts).
 * Model code calls kernels only through `kernels()`, so switching backend is one call.
 *
 * Backends: `ts` (always; pure TypeScript, so this module also runs in the browser) and `native`
 * (the N-API addon built from native/ at install), which src/kernels/node.ts registers in Node.
 */
import { matmulF32 } from './ts/matmul.js';
import { matmulBF16 } from './ts/matmul-bf16.js';
import { spikeLinearCounts, spikeLinearEvents, spikeLinearCountsRows } from './ts/spike-linear.js';
import { intMatmul } from './ts/int-matmul.js';
import { attentionF32 } from './ts/attention.js';
import { spikingAttentionCore } from './ts/spiking-attention.js';
import { spikeLinearCountsRows4, spikeLinearEvents4, matmulW4A16, intMatmul4 } from './ts/packed4.js';
import { spikeEncode } from './ts/spike-encode.js';
import { matmulW4A16Blocks, packW4A16Blocks } from './ts/w4a16-blocks.js';
import { blockHadamard } from './ts/hadamard.js';
import { siluMul } from './ts/activation.js';
import { rmsNorm } from './ts/norm.js';

export type { SpikeLinearWeights } from './ts/spike-linear.js';
export type { PackedWeights4 } from './ts/packed4.js';
export type { W4A16Weights } from './ts/w4a16-blocks.js';

export interface KernelSet {
  matmulF32: typeof matmulF32;
  /** Dense float matmul on bfloat16 weights as a checkpoint stores them (the float lm_head of 16-bit checkpoints). */
  matmulBF16: typeof matmulBF16;
  spikeLinearCounts: typeof spikeLinearCounts;
  spikeLinearEvents: typeof spikeLinearEvents;
  spikeLinearCountsRows: typeof spikeLinearCountsRows;
  intMatmul: typeof intMatmul;
  attentionF32: typeof attentionF32;
  spikingAttentionCore: typeof spikingAttentionCore;
  /** The spike-driven linear on 4-bit weights kept packed (bit-identical to the int8 kernels). */
  spikeLinearCountsRows4: typeof spikeLinearCountsRows4;
  spikeLinearEvents4: typeof spikeLinearEvents4;
  /** w4a16: float activations times packed 4-bit weights, dequantized on the fly. */
  matmulW4A16: typeof matmulW4A16;
  /** w4a16 on weights re-packed in decode blocks (what W4A16Linear runs). */
  matmulW4A16Blocks: typeof matmulW4A16Blocks;
  /** Re-packs 4-bit columns into those decode blocks (at model build). */
  packW4A16Blocks: typeof packW4A16Blocks;
  /** Dense int4 baseline on row-major packed weights. */
  intMatmul4: typeof intMatmul4;
  /** γ-SQP step 1 for a batch of tokens: θ per row and the integer spike counts. */
  spikeEncode: typeof spikeEncode;
  /** The online rotation at run time: sign-and-scale, then a Walsh–Hadamard transform per block. */
  blockHadamard: typeof blockHadamard;
  /** SwiGLU's gate ← silu(gate) · up, in float64 with Math.exp's exp, stored as float32. */
  siluMul: typeof siluMul;
  /** RMSNorm per row, float64 square sum in input order, stored as float32. */
  rmsNorm: typeof rmsNorm;
}

export type BackendName = 'ts' | 'native';

const backends = new Map<BackendName, KernelSet>([
  [
    'ts',
    {
      matmulF32, matmulBF16, spikeLinearCounts, spikeLinearEvents, spikeLinearCountsRows, intMatmul, attentionF32, spikingAttentionCore,
      spikeLinearCountsRows4, spikeLinearEvents4, matmulW4A16, matmulW4A16Blocks, packW4A16Blocks, intMatmul4, spikeEncode, blockHadamard, siluMul, rmsNorm,
    },
  ],
]);
let active: KernelSet = backends.get('ts')!;
let activeName: BackendName = 'ts';

export function registerBackend(name: BackendName, set: KernelSet): void {
  backends.set(name, set);
}

export function registeredBackends(): BackendName[] {
  return [...backends.keys()];
}

export function getBackend(name: BackendName): KernelSet | undefined {
  return backends.get(name);
}

export function setBackend(name: BackendName): void {
  const set = backends.get(name);
  if (!set) throw new Error(`kernel backend "${name}" is not available (registered: ${registeredBackends().join(', ')})`);
  active = set;
  activeName = name;
}

export function backendName(): BackendName {
  return activeName;
}

/** The active kernels. Call per use (not cached at module load) so setBackend takes effect everywhere. */
export function kernels(): KernelSet {
  return active;
}
