/**
 * Kernel registry (after tfjs-core): every hot kernel is registered per backend. `ts` is the
 * plain reference every other backend is tested against (test/kernels-conformance.test.ts).
 * Model code calls kernels only through `kernels()`, so switching backend is one call.
 *
 * Backends: `ts` (always) and `native` (the N-API addon built from native/ at install, see
 * src/kernels/native.ts; registered only when it loaded). The default is `native` when it is
 * available, else `ts`; the environment variable SDLLM_BACKEND=ts|native overrides the default.
 */
import { matmulF32 } from './ts/matmul.js';
import { spikeLinearCounts, spikeLinearEvents, spikeLinearCountsRows } from './ts/spike-linear.js';
import { intMatmul } from './ts/int-matmul.js';
import { loadNativeKernels, nativeLoadError } from './native.js';

export type { SpikeLinearWeights } from './ts/spike-linear.js';

export interface KernelSet {
  matmulF32: typeof matmulF32;
  spikeLinearCounts: typeof spikeLinearCounts;
  spikeLinearEvents: typeof spikeLinearEvents;
  spikeLinearCountsRows: typeof spikeLinearCountsRows;
  intMatmul: typeof intMatmul;
}

export type BackendName = 'ts' | 'native';

const backends = new Map<BackendName, KernelSet>([
  ['ts', { matmulF32, spikeLinearCounts, spikeLinearEvents, spikeLinearCountsRows, intMatmul }],
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

// Register the native backend if its addon was built and loads, and make it the default
// (SDLLM_BACKEND=ts|native overrides; asking for native when it is absent warns and keeps ts).
const nativeSet = loadNativeKernels();
if (nativeSet) registerBackend('native', nativeSet);
{
  const want = process.env.SDLLM_BACKEND;
  if (want === 'native' && !nativeSet) {
    process.emitWarning(`SDLLM_BACKEND=native but the native kernels are not available: ${nativeLoadError()}`);
  } else if (want === 'ts' || want === 'native') {
    setBackend(want);
  } else if (nativeSet) {
    setBackend('native');
  }
}

export { nativeLoadError, nativeAvailable, setThreads, getThreads, cpuFeatures, NATIVE_ADDON_PATH } from './native.js';
