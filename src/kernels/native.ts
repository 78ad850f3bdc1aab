/**
 * The `native` kernel backend: an N-API addon in C (native/, binding.gyp) compiled on the user's
 * machine by `npm install` (script `install`: node-gyp rebuild, never failing the install) into
 * build/Release/sdllm_native.node. SIMD width is chosen at build time (-march=native; see
 * native/simd.h), threads by setThreads (default os.availableParallelism()).
 *
 * This module loads the addon and builds a KernelSet from it; registry.ts registers it (and
 * makes it the default) so importing the registry is enough. The addon also memory-maps files
 * (mapFileBytes: converted models load without a copy). When the addon is missing or fails
 * to load, nothing is registered and nativeLoadError() says why. It imports the registry's types
 * only, so there is no import cycle at run time.
 */
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from '../paths.js';
import type { KernelSet } from './registry.js';
import type { ThresholdRule } from '../spike/threshold.js';

/** Where the install step builds the addon (SDLLM_NATIVE_PATH overrides, for tests of other builds). */
export const NATIVE_ADDON_PATH = process.env.SDLLM_NATIVE_PATH ?? nodePath.join(PACKAGE_ROOT, 'build', 'Release', 'sdllm_native.node');

/** The rule codes of native/kernels.h (ENC_*); the rule's one parameter travels beside it. */
const RULE_CODES = { quantile: 0, absmax: 1, meanabs: 2, static: 3 } as const;
const ruleParam = (r: ThresholdRule): number => (r.kind === 'quantile' ? r.gamma : r.kind === 'meanabs' ? r.k : r.kind === 'static' ? r.theta : 0);

type NativeSpikeEncode = (x: Float32Array, rows: number, n: number, rule: number, param: number, L: number, counts: Int32Array, thetas: Float64Array) => void;

interface NativeAddon extends Omit<KernelSet, 'spikeEncode'> {
  spikeEncode: NativeSpikeEncode;
  setThreads(n: number): void;
  getThreads(): number;
  cpuFeatures(): string;
  streamBandwidth(bytes: number, reps: number): number[];
  expArray(x: Float64Array, y: Float64Array): void;
  mapFile(path: string, offset: number, length: number): ArrayBuffer | null;
}

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let attempted = false;

function load(): NativeAddon | null {
  if (attempted) return addon;
  attempted = true;
  if (process.env.SDLLM_NATIVE === '0') {
    loadError = 'disabled by SDLLM_NATIVE=0';
    return null;
  }
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    loadError = `${NATIVE_ADDON_PATH} not found (the native kernels are built by \`npm install\`; build them with \`npm run build:native\` in ${PACKAGE_ROOT})`;
    return null;
  }
  try {
    const req = createRequire(import.meta.url);
    const mod = req(NATIVE_ADDON_PATH) as Partial<NativeAddon>;
    for (const k of [
      'matmulF32', 'matmulBF16', 'spikeLinearCounts', 'spikeLinearEvents', 'spikeLinearCountsRows', 'intMatmul', 'attentionF32', 'spikingAttentionCore',
      'spikeLinearCountsRows4', 'spikeLinearEvents4', 'matmulW4A16', 'matmulW4A16Blocks', 'packW4A16Blocks', 'intMatmul4', 'spikeEncode', 'blockHadamard', 'siluMul', 'rmsNorm', 'expArray', 'setThreads', 'getThreads', 'cpuFeatures', 'streamBandwidth', 'mapFile',
    ] as const) {
      if (typeof mod[k] !== 'function') throw new Error(`missing export ${k} (stale build? run \`npm run build:native\`)`);
    }
    addon = mod as NativeAddon;
    addon.setThreads(defaultThreads());
  } catch (e) {
    addon = null;
    loadError = `${NATIVE_ADDON_PATH}: ${(e as Error).message}`;
  }
  return addon;
}

function defaultThreads(): number {
  const env = Number(process.env.SDLLM_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** The native KernelSet, or null when the addon is unavailable (see nativeLoadError). */
export function loadNativeKernels(): KernelSet | null {
  const a = load();
  if (!a) return null;
  return {
    matmulF32: a.matmulF32,
    matmulBF16: a.matmulBF16,
    spikeLinearCounts: a.spikeLinearCounts,
    spikeLinearEvents: a.spikeLinearEvents,
    spikeLinearCountsRows: a.spikeLinearCountsRows,
    intMatmul: a.intMatmul,
    attentionF32: a.attentionF32,
    spikingAttentionCore: a.spikingAttentionCore,
    spikeLinearCountsRows4: a.spikeLinearCountsRows4,
    spikeLinearEvents4: a.spikeLinearEvents4,
    matmulW4A16: a.matmulW4A16,
    matmulW4A16Blocks: a.matmulW4A16Blocks,
    packW4A16Blocks: a.packW4A16Blocks,
    intMatmul4: a.intMatmul4,
    blockHadamard: a.blockHadamard,
    siluMul: a.siluMul,
    rmsNorm: a.rmsNorm,
    spikeEncode: (x, rows, n, rule, L, counts, thetas) => a.spikeEncode(x, rows, n, RULE_CODES[rule.kind], ruleParam(rule), L, counts, thetas),
  };
}

export function nativeAvailable(): boolean {
  return load() !== null;
}

/** Why the native backend is not available, or null when it loaded. */
export function nativeLoadError(): string | null {
  load();
  return loadError;
}

/** Threads the native kernels use (the calling thread included). No-op without the addon. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: expected a positive integer, got ${n}`);
  load()?.setThreads(n);
}

/** The native kernels' thread count (1 without the addon: the ts kernels are single-threaded). */
export function getThreads(): number {
  return load()?.getThreads() ?? 1;
}

/**
 * Read bandwidth of this machine's memory: every kernel thread sums its share of a `bytes`-long
 * buffer (allocated and first touched by the threads that read it), `reps` times; GB/s of each
 * pass. Null without the addon.
 */
export function streamBandwidth(bytes: number, reps: number): number[] | null {
  const a = load();
  return a ? a.streamBandwidth(bytes, reps) : null;
}

/**
 * y[i] = exp(x[i]) by the native siluMul's exp (which must equal Math.exp bit for bit); false,
 * leaving y alone, without the addon. For the conformance tests.
 */
export function nativeExp(x: Float64Array, y: Float64Array): boolean {
  const a = load();
  if (!a) return false;
  a.expArray(x, y);
  return true;
}

/** ISA extensions the addon was compiled for, e.g. 'avx512f avx512bw avx512vnni avx2 fma'; '' without it. */
export function cpuFeatures(): string {
  return load()?.cpuFeatures() ?? '';
}

/**
 * The bytes [offset, offset + length) of a file, memory-mapped by the addon (no copy; pages come
 * from the page cache as they are touched), or null without the addon, for an empty range, when
 * mapping fails, or with SDLLM_MMAP=0.
 */
export function mapFileBytes(path: string, offset: number, length: number): Uint8Array | null {
  if (length === 0 || process.env.SDLLM_MMAP === '0') return null;
  const ab = load()?.mapFile(path, offset, length);
  return ab ? new Uint8Array(ab, ab.byteLength - length, length) : null;
}
