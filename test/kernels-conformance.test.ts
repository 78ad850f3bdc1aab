/**
 * Kernel conformance: every registered backend against `ts`, the reference.
 *  - integer / spike kernels (spikeLinearCounts, spikeLinearEvents, spikeLinearCountsRows,
 *    intMatmul) must be bit-identical (Float32Array outputs compared as raw bits);
 *  - matmulF32 within 1e-5 of sum_i |x_i w_oi| per output (backends may sum in float32 SIMD lanes);
 *  - matmulBF16 (raw bfloat16 weights) within the same tolerance, and bit-identical to the same
 *    backend's matmulF32 on the widened weights (random shapes, and the BF16 head of sdllm-small);
 *  - siluMul bit-identical over millions of gates (every float32 region, boundaries of exp's
 *    branches, NaN, ±∞) and on gate/up vectors of sdllm-small; the native exp against Math.exp.
 * Also: the ts kernels against naive loops written here (so the suite means something with
 * only `ts` registered), events vs counts on trains whose sums are the counts, intMatmul vs the
 * counts kernel, and real weights of sdllm-small (layer 0 MLP, 4-bit RTN) when ../shared exists.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodePath from 'node:path';
import {
  registeredBackends,
  getBackend,
  setThreads,
  getThreads,
  nativeLoadError,
  nativeExp,
  kernels,
  type KernelSet,
  type SpikeLinearWeights,
} from '../src/kernels/node.js';
import { loadModel } from '../src/model/load.js';
import { packColumns, rowMajorPacked4, quantizeWeights, dequantize } from '../src/quant/weights.js';
import type { PackedWeights4 } from '../src/kernels/registry.js';
import { w4a16Weights, w4BlocksBytes } from '../src/kernels/ts/w4a16-blocks.js';
import type { DenseLinear } from '../src/model/linear.js';
import type { ThresholdRule } from '../src/spike/threshold.js';
import { Prng } from '../src/util/prng.js';
import { MODELS, needsShared, readGolden } from './helpers.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { readSafetensorsHeader, readTensorBytes } from '../src/formats/safetensors.js';
import type { LlamaModel } from '../src/model/llama.js';

// ---------------------------------------------------------------------------------------------
// inputs

/** Uniform floats in [0, 1) from the seed (src/util/prng.ts). */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

interface IntWeights {
  sw: SpikeLinearWeights; // column-major qT, group-major dwT
  W: Int8Array; // row-major [m, n]
  dw: Float32Array; // row-major [m, nGroups]
}

/** Transposes row-major integer weights and scales into both layouts. */
function bothLayouts(W: Int8Array, dw: Float32Array, m: number, n: number, G: number): IntWeights {
  const nG = Math.ceil(n / G);
  const qT = new Int8Array(m * n);
  const dwT = new Float32Array(nG * m);
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < n; i++) qT[i * m + o] = W[o * n + i];
    for (let g = 0; g < nG; g++) dwT[g * m + o] = dw[o * nG + g];
  }
  return { sw: { qT, dwT, m, n, groupSize: G }, W, dw };
}

function randomIntWeights(m: number, n: number, G: number, seed: number, full = false): IntWeights {
  const r = rng(seed);
  const nG = Math.ceil(n / G);
  const W = new Int8Array(m * n);
  // 4-bit range by default; `full` uses all of int8 (including -128) to stress the int16 paths
  for (let k = 0; k < W.length; k++) W[k] = full ? Math.floor(r() * 256) - 128 : Math.floor(r() * 16) - 8;
  const dw = new Float32Array(m * nG);
  for (let k = 0; k < dw.length; k++) dw[k] = (r() * 2 - 1) * 0.05 + (r() < 0.01 ? 0 : 1e-4);
  return bothLayouts(W, dw, m, n, G);
}

/**
 * Counts with the given density of nonzeros, mostly ±1/±2; `big` also sprinkles large counts
 * (up to ±1000, beyond int8 and the kernels' int16 budget) to exercise every spill path.
 */
function randomCounts(len: number, density: number, seed: number, big = false): Int32Array {
  const r = rng(seed);
  const c = new Int32Array(len);
  for (let k = 0; k < len; k++) {
    if (r() >= density) continue;
    const mag = big && r() < 0.1 ? 1 + Math.floor(r() * 1000) : r() < 0.7 ? 1 : 2;
    c[k] = r() < 0.5 ? -mag : mag;
  }
  return c;
}

/** Spike trains [T, n] whose column sums are the counts c (with cancelling ±1 pairs added). */
function trainsFor(c: Int32Array, off: number, n: number, seed: number): { trains: Int8Array; T: number } {
  const r = rng(seed);
  let maxAbs = 0;
  for (let i = 0; i < n; i++) maxAbs = Math.max(maxAbs, Math.abs(c[off + i]));
  const T = maxAbs + 2;
  const trains = new Int8Array(T * n);
  for (let i = 0; i < n; i++) {
    const ci = c[off + i];
    const s = Math.sign(ci);
    // |ci| events of sign(ci) at distinct random time steps
    const ts = Array.from({ length: T }, (_, t) => t).sort(() => r() - 0.5);
    for (let k = 0; k < Math.abs(ci); k++) trains[ts[k] * n + i] = s;
    // sometimes a cancelling +1/-1 pair in two free steps
    if (r() < 0.2 && Math.abs(ci) + 2 <= T) {
      trains[ts[Math.abs(ci)] * n + i] = 1;
      trains[ts[Math.abs(ci) + 1] * n + i] = -1;
    }
  }
  return { trains, T };
}

function randomFloats(len: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(len);
  for (let k = 0; k < len; k++) a[k] = (r() * 2 - 1) * scale;
  return a;
}

function scalesFor(rows: number, seed: number, f32 = false): Float64Array | Float32Array {
  const r = rng(seed);
  const s = f32 ? new Float32Array(rows) : new Float64Array(rows);
  for (let k = 0; k < rows; k++) s[k] = 0.01 + r() * (k % 3 === 2 ? -1 : 1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// naive loops (independent of src/kernels/ts) and comparisons

function naiveCounts(w: IntWeights, c: Int32Array, rows: number, scales: ArrayLike<number>): Float32Array {
  const { m, n, groupSize: G } = w.sw;
  const nG = Math.ceil(n / G);
  const y = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < m; o++) {
      let sum = 0;
      for (let g = 0; g < nG; g++) {
        let acc = 0;
        for (let i = g * G; i < Math.min(n, (g + 1) * G); i++) acc = (acc + c[r * n + i] * w.W[o * n + i]) | 0;
        sum += Math.fround(w.dw[o * nG + g]) * acc;
      }
      y[r * m + o] = scales[r] * sum;
    }
  return y;
}

function naiveMatmul(x: Float32Array, W: Float32Array, rows: number, inF: number, outF: number): { y: Float64Array; abs: Float64Array } {
  const y = new Float64Array(rows * outF);
  const abs = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = 0;
      let a = 0;
      for (let i = 0; i < inF; i++) {
        const p = x[r * inF + i] * W[o * inF + i];
        s += p;
        a += Math.abs(p);
      }
      y[r * outF + o] = s;
      abs[r * outF + o] = a;
    }
  return { y, abs };
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function assertBitsEqual(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = bits(actual);
  const e = bits(expected);
  if (a.length !== e.length) assert.fail(`${what}: length ${a.length} vs ${e.length}`);
  for (let k = 0; k < a.length; k++) {
    if (a[k] !== e[k]) assert.fail(`${what}: first difference at ${k}: ${actual[k]} (0x${a[k].toString(16)}) vs ${expected[k]} (0x${e[k].toString(16)})`);
  }
  assert.deepEqual(a, e, what);
}

function assertClose(actual: Float32Array, ref: ArrayLike<number>, abs: ArrayLike<number>, what: string, rel = 1e-5): void {
  assert.equal(actual.length, ref.length, `${what}: length`);
  for (let k = 0; k < actual.length; k++) {
    const tol = rel * abs[k] + 1e-30;
    if (!(Math.abs(actual[k] - ref[k]) <= tol)) assert.fail(`${what}: output ${k}: ${actual[k]} vs ${ref[k]} (tolerance ${tol})`);
  }
}

// ---------------------------------------------------------------------------------------------
// the checks, per backend

const ts = getBackend('ts')!;

const SPIKE_SHAPES: [m: number, n: number, G: number][] = [
  [37, 300, 128], // short last group, m not a multiple of any vector width
  [512, 1408, 128],
  [1408, 512, 64],
  [64, 96, 32],
  [3, 5, 2],
  [200, 1000, 1000], // one group (per-channel)
];

function runCounts(k: KernelSet, w: SpikeLinearWeights, c: Int32Array, rows: number, scales: ArrayLike<number>): Float32Array {
  // one row per call, at offsets inside bigger arrays
  const { m, n } = w;
  const cPad = new Int32Array(rows * n + 7);
  cPad.set(c, 5);
  const y = new Float32Array(rows * m + 3);
  const acc = new Int32Array(m);
  const sum = new Float64Array(m);
  for (let r = 0; r < rows; r++) k.spikeLinearCounts(w, cPad, 5 + r * n, scales[r], y, 2 + r * m, acc, sum);
  return y.subarray(2, 2 + rows * m);
}

/** The ts reference outputs are computed once and shared by every backend's check. */
const refCache = new Map<string, Float32Array>();
function memo(key: string, f: () => Float32Array): Float32Array {
  let v = refCache.get(key);
  if (!v) refCache.set(key, (v = f()));
  return v;
}

function checkSpike(name: string, k: KernelSet): void {
  for (const [m, n, G] of SPIKE_SHAPES) {
    for (const density of [0.05, 0.5, 1]) {
      for (const big of [false, true]) {
        const seed = m * 7919 + n * 31 + G + Math.round(density * 100) + (big ? 1 : 0);
        const w = randomIntWeights(m, n, G, seed, big);
        const rowsList = [1, 3, 4, 7];
        const rowsMax = 7;
        const c = randomCounts(rowsMax * n, density, seed + 1, big);
        for (const rows of rowsList) {
          const cr = c.subarray(0, rows * n);
          const scales = scalesFor(rows, seed + rows, rows === 3);
          const what = `m=${m} n=${n} G=${G} density=${density}${big ? ' big' : ''} rows=${rows}`;
          const ref = memo(what, () => {
            const r = new Float32Array(rows * m);
            ts.spikeLinearCountsRows(w.sw, cr, rows, scales, r);
            return r;
          });
          const yRows = new Float32Array(rows * m);
          k.spikeLinearCountsRows(w.sw, cr, rows, scales, yRows);
          assertBitsEqual(yRows, ref, `${name} spikeLinearCountsRows ${what}`);
          if (rows === 1 || rows === 7) {
            assertBitsEqual(runCounts(k, w.sw, cr, rows, scales), ref, `${name} spikeLinearCounts ${what}`);
            const yInt = new Float32Array(rows * m);
            k.intMatmul(w.W, w.dw, cr, rows, m, n, G, scales, yInt);
            assertBitsEqual(yInt, ref, `${name} intMatmul ${what}`);
          }
        }
        // events on trains whose sums are the counts of row 1
        const { trains, T } = trainsFor(c, n, n, seed + 2);
        const yEv = new Float32Array(m + 4);
        const scale = -0.37;
        k.spikeLinearEvents(w.sw, trains, T, scale, yEv, 4, new Int32Array(m), new Float64Array(m));
        const refEv = new Float32Array(m);
        ts.spikeLinearCountsRows(w.sw, c.subarray(n, 2 * n), 1, new Float64Array([scale]), refEv);
        assertBitsEqual(yEv.subarray(4), refEv, `spikeLinearEvents ${name} m=${m} n=${n} G=${G} density=${density} T=${T}`);
      }
    }
  }
}

/** A batch larger than one internal slice of the native kernels (256 rows), odd width. */
function checkBigBatch(name: string, k: KernelSet): void {
  const [m, n, G, rows] = [37, 300, 128, 300];
  const w = randomIntWeights(m, n, G, 4242, true);
  const c = randomCounts(rows * n, 0.3, 4243, true);
  for (let k = 0; k < c.length; k += 997) c[k] = k % 2 ? 40000 : -40000; // beyond int16: the int32 paths
  const scales = scalesFor(rows, 4244);
  const ref = memo('big batch', () => {
    const r = new Float32Array(rows * m);
    ts.spikeLinearCountsRows(w.sw, c, rows, scales, r);
    return r;
  });
  const y = new Float32Array(rows * m);
  k.spikeLinearCountsRows(w.sw, c, rows, scales, y);
  assertBitsEqual(y, ref, `${name} spikeLinearCountsRows rows=${rows}`);
  const yi = new Float32Array(rows * m);
  k.intMatmul(w.W, w.dw, c, rows, m, n, G, scales, yi);
  assertBitsEqual(yi, ref, `${name} intMatmul rows=${rows}`);
}

const MATMUL_SHAPES: [rows: number, inF: number, outF: number][] = [
  [1, 300, 37],
  [3, 300, 37],
  [4, 300, 37],
  [7, 300, 37],
  [1, 512, 512],
  [4, 512, 1408],
  [7, 1408, 512],
  [9, 1100, 70], // several k slices, ragged tiles
  [64, 512, 512],
  [1, 1, 1],
  [5, 17, 3],
];

function checkMatmul(name: string, k: KernelSet): void {
  for (const [rows, inF, outF] of MATMUL_SHAPES) {
    const x = randomFloats(rows * inF, rows * 131 + inF, 2);
    const W = randomFloats(outF * inF, outF * 17 + inF, 0.1);
    const { y: ref, abs } = naiveMatmul(x, W, rows, inF, outF);
    const y = new Float32Array(rows * outF);
    k.matmulF32(x, W, y, rows, inF, outF);
    assertClose(y, ref, abs, `matmulF32 ${name} rows=${rows} inF=${inF} outF=${outF}`);
    if (name !== 'ts') {
      const yts = new Float32Array(rows * outF);
      ts.matmulF32(x, W, yts, rows, inF, outF);
      assertClose(y, yts, abs, `matmulF32 ${name} vs ts rows=${rows} inF=${inF} outF=${outF}`);
    }
  }
}

/** The float32 values of raw bfloat16 words (a word is the top half of a float32's bits). */
function widenBF16(w: Uint16Array): Float32Array {
  const f = new Float32Array(w.length);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < w.length; k++) u[k] = w[k] << 16;
  return f;
}

/** Random bf16 words: floats of the given scale truncated to their top half, with some ±0 and subnormals. */
function randomBF16(len: number, seed: number, scale: number): Uint16Array {
  const f = randomFloats(len, seed, scale);
  const hi = new Uint16Array(f.buffer).filter((_, k) => k % 2 === 1); // little-endian: odd halves are the tops
  for (let k = 0; k < len; k += 97) hi[k] = [0x0000, 0x8000, 0x0001, 0x807f][(k / 97) % 4];
  return hi;
}

/**
 * matmulBF16 on the shapes of checkMatmul: within checkMatmul's tolerance of the float64 sums on
 * the widened weights, and bit-identical to the same backend's matmulF32 on them (ts widens and
 * calls matmulF32; native runs the same tiles with a widening load).
 */
function checkMatmulBF16(name: string, k: KernelSet): void {
  for (const [rows, inF, outF] of MATMUL_SHAPES) {
    const what = `${name} rows=${rows} inF=${inF} outF=${outF}`;
    const x = randomFloats(rows * inF, rows * 131 + inF, 2);
    const w = randomBF16(outF * inF, outF * 17 + inF + 1, 0.1);
    const W = widenBF16(w);
    const { y: ref, abs } = naiveMatmul(x, W, rows, inF, outF);
    const y = new Float32Array(rows * outF);
    k.matmulBF16(x, w, y, rows, inF, outF);
    assertClose(y, ref, abs, `matmulBF16 ${what}`);
    const yf = new Float32Array(rows * outF);
    k.matmulF32(x, W, yf, rows, inF, outF);
    assertBitsEqual(y, yf, `matmulBF16 vs matmulF32 on the widened weights ${what}`);
  }
}

/** The raw words of a BF16 tensor of a (possibly sharded) safetensors checkpoint. */
function readBF16Tensor(dir: string, name: string): { words: Uint16Array; shape: number[] } {
  const index = nodePath.join(dir, 'model.safetensors.index.json');
  const file = nodePath.join(dir, fs.existsSync(index) ? JSON.parse(fs.readFileSync(index, 'utf8')).weight_map[name] : 'model.safetensors');
  const info = readSafetensorsHeader(file).tensors.get(name);
  assert.ok(info, `${name} not in ${file}`);
  assert.equal(info.dtype, 'BF16', `${name} dtype`);
  const bytes = readTensorBytes(info, file);
  return { words: new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), shape: info.shape };
}

// ---------------------------------------------------------------------------------------------
// 4-bit weights kept packed

interface Packed4 {
  pw: PackedWeights4; // column-major packed
  rowPacked: Uint8Array; // row-major packed (dense int4 baseline)
}

/** The 4-bit integers of `w` (all within -8..7) in both packed layouts. */
function packed4Of(w: IntWeights): Packed4 {
  const { m, n, groupSize } = w.sw;
  const packed = packColumns(w.sw.qT, m, n, 4);
  const nG = Math.ceil(n / groupSize);
  const qw = { bits: 4 as const, groupSize, rows: m, cols: n, nGroups: nG, scales: w.dw, packed };
  return { pw: { packed, dwT: w.sw.dwT, m, n, groupSize }, rowPacked: rowMajorPacked4(qw) };
}

const PACKED_SHAPES: [m: number, n: number, G: number][] = [
  ...SPIKE_SHAPES,
  [255, 130, 64], // odd m: the last byte of each column holds one row
  [129, 257, 128], // one row past a 128-row unit, a 1-input last group
  [20, 50, 5], // odd group size (the dense int4 kernel's scalar path)
  [4100, 1100, 128], // one row of a big layer: split by groups, a partial last unit
  [6500, 700, 128], // a big layer swept in two slices of output units (more than SLICE_UNITS in spike4.c)
  [1001, 1100, 64], // split by groups with odd m
];

function checkPacked(name: string, k: KernelSet): void {
  for (const [m, n, G] of PACKED_SHAPES) {
    const densities = m * n > 1e6 ? [0.2, 1] : [0.05, 0.5, 1];
    for (const density of densities) {
      for (const big of [false, true]) {
        const seed = m * 7919 + n * 31 + G + Math.round(density * 100) + (big ? 1 : 0) + 17;
        const w = randomIntWeights(m, n, G, seed); // -8..7: every 4-bit pattern
        const p = packed4Of(w);
        const rowsList = m * n > 1e6 ? [1, 3] : [1, 3, 7, 9];
        const c = randomCounts(9 * n, density, seed + 1, big);
        for (const rows of rowsList) {
          const cr = c.subarray(0, rows * n);
          const scales = scalesFor(rows, seed + rows, rows === 3);
          const what = `m=${m} n=${n} G=${G} density=${density}${big ? ' big' : ''} rows=${rows}`;
          const ref = memo(`packed ${what}`, () => {
            const r = new Float32Array(rows * m);
            ts.spikeLinearCountsRows(w.sw, cr, rows, scales, r);
            return r;
          });
          const y = new Float32Array(rows * m);
          k.spikeLinearCountsRows4(p.pw, cr, rows, scales, y);
          assertBitsEqual(y, ref, `${name} spikeLinearCountsRows4 ${what}`);
          const yi = new Float32Array(rows * m);
          k.intMatmul4(p.rowPacked, w.dw, cr, rows, m, n, G, scales, yi);
          assertBitsEqual(yi, ref, `${name} intMatmul4 ${what}`);
        }
        const { trains, T } = trainsFor(c, n, n, seed + 2);
        const yEv = new Float32Array(m + 4);
        const scale = -0.37;
        k.spikeLinearEvents4(p.pw, trains, T, scale, yEv, 4, new Int32Array(m), new Float64Array(m));
        const refEv = new Float32Array(m);
        ts.spikeLinearCountsRows(w.sw, c.subarray(n, 2 * n), 1, new Float64Array([scale]), refEv);
        assertBitsEqual(yEv.subarray(4), refEv, `${name} spikeLinearEvents4 m=${m} n=${n} G=${G} density=${density} T=${T}`);
      }
    }
  }
}

/**
 * w4a16 on the columns and on the decode blocks, against a float64 loop over the dequantized
 * weights and against DenseLinear's kernel on dequantize(); the ts kernels on both layouts give
 * the same bits.
 */
function checkW4A16(name: string, k: KernelSet): void {
  for (const [rows, m, n, G] of [[1, 37, 300, 128], [1, 512, 1408, 128], [3, 255, 130, 64], [9, 1408, 512, 128], [1, 4100, 1100, 128], [1, 1001, 1100, 64], [17, 64, 96, 32], [2, 20, 50, 5], [5, 33, 1001, 8], [1, 2048, 5632, 128]] as const) {
    const Wf = randomFloats(m * n, m + n, 0.1);
    const qw = quantizeWeights(Wf, m, n, { bits: 4, groupSize: G });
    const nG = qw.nGroups;
    const dwT = new Float32Array(nG * m);
    for (let o = 0; o < m; o++) for (let g = 0; g < nG; g++) dwT[g * m + o] = qw.scales[o * nG + g];
    const pw: PackedWeights4 = { packed: qw.packed, dwT, m, n, groupSize: qw.groupSize };
    const x = randomFloats(rows * n, rows * 131 + n, 2);
    for (let i = 0; i < x.length; i += 7) x[i] = 0; // some exact zeros (the reference skips them)
    const Wd = dequantize(qw);
    const { y: ref, abs } = naiveMatmul(x, Wd, rows, n, m);
    const y = new Float32Array(rows * m);
    k.matmulW4A16(pw, x, y, rows);
    assertClose(y, ref, abs, `${name} matmulW4A16 rows=${rows} m=${m} n=${n} G=${G}`);
    const yd = new Float32Array(rows * m);
    k.matmulF32(x, Wd, yd, rows, n, m);
    assertClose(y, yd, abs, `${name} matmulW4A16 vs matmulF32(dequantize) rows=${rows} m=${m} n=${n}`, 2e-5);
    const bw = w4a16Weights(pw);
    const yb = new Float32Array(rows * m);
    k.matmulW4A16Blocks(bw, x, yb, rows);
    assertClose(yb, ref, abs, `${name} matmulW4A16Blocks rows=${rows} m=${m} n=${n} G=${G}`);
    assertClose(yb, yd, abs, `${name} matmulW4A16Blocks vs matmulF32(dequantize) rows=${rows} m=${m} n=${n}`, 2e-5);
    const yt = new Float32Array(rows * m), yc = new Float32Array(rows * m);
    ts.matmulW4A16Blocks(bw, x, yt, rows);
    ts.matmulW4A16(pw, x, yc, rows);
    assertBitsEqual(yt, yc, `ts matmulW4A16Blocks vs ts matmulW4A16 rows=${rows} m=${m} n=${n} G=${G}`);
    const packedBlocks = new Uint8Array(w4BlocksBytes(m, n) + 3).fill(7); // bytes past the blocks stay as they were
    k.packW4A16Blocks(qw.packed, m, n, packedBlocks);
    assert.deepEqual(packedBlocks.subarray(0, bw.blocks.length), bw.blocks, `${name} packW4A16Blocks m=${m} n=${n}`);
    assert.deepEqual([...packedBlocks.subarray(bw.blocks.length)], [7, 7, 7], `${name} packW4A16Blocks writes past the blocks`);
    // a NaN input makes its row NaN, as in a float GEMV (the blocks kernel splits x into integers)
    const xn = x.slice();
    xn[n - 1] = NaN;
    k.matmulW4A16Blocks(bw, xn, yb, rows);
    for (let o = 0; o < m; o++) assert.ok(Number.isNaN(yb[o]), `${name} matmulW4A16Blocks: NaN in x, output ${o} = ${yb[o]}`);
  }
}

/** The online rotation against ts, bit for bit: the shapes the models use (block 128, 64, 1). */
function checkHadamard(name: string, k: KernelSet): void {
  for (const [n, block] of [[1408, 128], [512, 128], [192, 64], [7, 1], [11008, 128]] as const) {
    const rows = 3;
    const x = randomFloats(rows * n, n + block, 3);
    const scale = randomFloats(n, n, 0.1);
    const a = x.slice(), b = x.slice();
    ts.blockHadamard(a, rows, n, block, scale);
    k.blockHadamard(b, rows, n, block, scale);
    assertBitsEqual(b, a, `${name} blockHadamard n=${n} block=${block}`);
  }
}

/**
 * γ-SQP step 1 against ts, bit for bit (θ and counts): every rule, clipped and unclipped L, rows
 * with heavy-tailed channels, exact rounding ties (x = θ·(k + ½) under a static θ), repeated
 * values at the quantile position, all-zero rows, tiny n, and n on both sides of the native
 * top-value scan's limit.
 */
function checkEncode(name: string, k: KernelSet): void {
  const rules: [ThresholdRule, number][] = [
    [{ kind: 'quantile', gamma: 0.99 }, 7], [{ kind: 'quantile', gamma: 0 }, 7], [{ kind: 'quantile', gamma: 1 }, 3],
    [{ kind: 'quantile', gamma: 0.5 }, 1], [{ kind: 'quantile', gamma: 0.9999 }, 127], [{ kind: 'absmax' }, 7],
    [{ kind: 'absmax' }, 127], [{ kind: 'absmax' }, 1], [{ kind: 'absmax' }, 3], [{ kind: 'meanabs', k: 3 }, Infinity], [{ kind: 'meanabs', k: 3 }, 15],
    [{ kind: 'static', theta: 0.25 }, 7], [{ kind: 'static', theta: 0.25 }, Infinity],
  ];
  // γ = 0.99 keeps the top 3 of 300, 16 of 1408, 57 of 5632 in one scan (native), 65 of 6500 by selection
  for (const n of [1, 2, 7, 128, 300, 512, 1408, 5632, 6500]) {
    const rows = 4;
    const x = randomFloats(rows * n, n, 2);
    const r = rng(n + 1);
    for (let i = 0; i < n; i++) {
      if (r() < 0.02) x[i] *= 40; // outlier channels, clipped by γ < 1
      x[n + i] = (Math.floor(r() * 40) - 20) * 0.125; // multiples of θ/2 under the static rule: ties
      x[2 * n + i] = r() < 0.5 ? 0.375 : -0.375; // one value repeated: ties at the quantile
    }
    x.fill(0, 3 * n, 4 * n); // an all-zero token
    for (const [rule, L] of rules) {
      const what = `${name} spikeEncode n=${n} ${JSON.stringify(rule)} L=${L}`;
      const c0 = new Int32Array(rows * n), t0 = new Float64Array(rows);
      ts.spikeEncode(x, rows, n, rule, L, c0, t0, new Float32Array(n));
      const c1 = new Int32Array(rows * n).fill(99), t1 = new Float64Array(rows).fill(NaN);
      k.spikeEncode(x, rows, n, rule, L, c1, t1, new Float32Array(n));
      assert.deepEqual(t1, t0, `${what}: thetas`);
      assert.deepEqual(c1, c0, `${what}: counts`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// siluMul and its exp: inputs over every region of fdlibm's exp (V8's Math.exp)

/** The values of float32 bit patterns. */
function f32OfBits(b: ArrayLike<number>): number[] {
  const u = new Uint32Array(Array.from(b));
  return Array.from(new Float32Array(u.buffer));
}

/** The values of float64 bit patterns. */
function f64OfBits(b: bigint[]): number[] {
  return Array.from(new Float64Array(BigUint64Array.from(b).buffer));
}

/** x and its neighbours `steps` representable values away on each side (float32 or float64 steps). */
function neighbours(x: number, steps: number, f32: boolean): number[] {
  if (f32) {
    const b = new Uint32Array(new Float32Array([x]).buffer)[0];
    const out: number[] = [];
    for (let s = -steps; s <= steps; s++) out.push(...f32OfBits([(b + s) >>> 0]));
    return out;
  }
  const b = new BigUint64Array(new Float64Array([x]).buffer)[0];
  const out: bigint[] = [];
  for (let s = -steps; s <= steps; s++) out.push(BigInt.asUintN(64, b + BigInt(s)));
  return f64OfBits(out);
}

/**
 * Where fdlibm's exp changes branch or k: the high-word tests (|x| vs ½ln2, 1½ln2, 2⁻²⁸, 709.78),
 * the native vector cut-off (704), the overflow/underflow thresholds, x = 1 (V8 returns E), the
 * roundings of x/ln2 + ½ to each k, and k = -1021/-1022/1024 where the scaling changes.
 */
function expBoundaries(): number[] {
  const hiWords = [0x3fd62e42, 0x3fd62e43, 0x3ff0a2b1, 0x3ff0a2b2, 0x3e2fffff, 0x3e300000, 0x40862e41, 0x40862e42, 0x4085ffff, 0x40860000];
  const b: number[] = [0.5 * Math.LN2, 1.5 * Math.LN2, 1, 2 ** -28, 704, 709.782712893384, 745.1332191019411, 708.3964185322641, 709.436, 745];
  b.push(...f64OfBits(hiWords.flatMap((h) => [BigInt(h) << 32n, (BigInt(h) << 32n) | 0xffffffffn])));
  for (let k = -1076; k <= 1025; k++) b.push((k + 0.5) * Math.LN2);
  return [...b, ...b.map((v) => -v)];
}

const SPECIAL_F32 = [
  0, -0, Infinity, -Infinity, NaN, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38,
  -1.1754943508222875e-38, 1.401298464324817e-45, -1.401298464324817e-45, 704, -704, 708.5, -708.5, 709.75, -709.75, 745.5, -745.5, 800, -800, 1e30, -1e30,
];

/**
 * NaNs with other payloads and signs, quiet and signalling. Written into the typed arrays as bits:
 * a signalling NaN does not survive a trip through JS numbers and arrays.
 */
const NAN_BITS_F32 = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0xffffffff, 0x7fa00000, 0x7fc12345];

/**
 * Gates for siluMul: uniform in [-20, 20], log-uniform magnitudes 1e-12..800, random float32
 * bit patterns (every exponent, NaNs, ±∞, subnormals), then exp's boundaries with float32
 * neighbours, special values and NaNs, shuffled together with ordinary values so that the lanes
 * of one vector take different paths.
 */
function siluGates(perKind: number, seed: number): Float32Array {
  const r = rng(seed);
  const mixed: number[] = [];
  for (const x of expBoundaries()) mixed.push(...neighbours(x, 4, true));
  for (const x of SPECIAL_F32) for (let i = 0; i < 9; i++) mixed.push(x, (r() * 2 - 1) * 4);
  for (let i = mixed.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [mixed[i], mixed[j]] = [mixed[j], mixed[i]];
  }
  const g = new Float32Array(3 * perKind + mixed.length);
  const gb = new Uint32Array(g.buffer);
  for (let i = 0; i < perKind; i++) g[i] = (r() * 2 - 1) * 20;
  for (let i = perKind; i < 2 * perKind; i++) g[i] = (r() < 0.5 ? -1 : 1) * Math.exp(Math.log(1e-12) + r() * Math.log(800 / 1e-12));
  for (let i = 2 * perKind; i < 3 * perKind; i++) gb[i] = Math.floor(r() * 2 ** 32);
  g.set(mixed, 3 * perKind);
  for (const b of NAN_BITS_F32) for (let i = 0; i < 9; i++) gb[3 * perKind + Math.floor(r() * mixed.length)] = b;
  return g;
}

/** Ups: mostly uniform in [-3, 3]; 1 % ±0, ±∞, NaNs (quiet and signalling), float32's max, a subnormal. */
function siluUps(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const special = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7f7fffff, 0x000116c2];
  const u = new Float32Array(n);
  const ub = new Uint32Array(u.buffer);
  for (let i = 0; i < n; i++) {
    if (r() < 0.01) ub[i] = special[Math.floor(r() * special.length)];
    else u[i] = (r() * 2 - 1) * 3;
  }
  return u;
}

/** siluMul of `k` vs ts on copies of gate: whole, and at odd offsets and lengths (vector tails, n < length). */
function checkSiluOn(name: string, k: KernelSet, gate: Float32Array, up: Float32Array, what: string): void {
  const a = gate.slice(), b = gate.slice();
  ts.siluMul(a, up, a.length);
  k.siluMul(b, up, b.length);
  assertBitsEqual(b, a, `${name} siluMul ${what}`);
  for (const [off, n] of [[1, 7], [3, 8], [5, 9], [0, 15], [7, 17], [2, 1001]] as const) {
    if (off + n > gate.length) continue;
    const c = gate.slice(), d = gate.slice();
    ts.siluMul(c.subarray(off), up.subarray(off), n);
    k.siluMul(d.subarray(off), up.subarray(off), n);
    assertBitsEqual(d, c, `${name} siluMul ${what} offset ${off} n=${n}`);
  }
}

function checkSilu(name: string, k: KernelSet): void {
  const gate = siluGates(1 << 21, 606);
  checkSiluOn(name, k, gate, siluUps(gate.length, 607), `${gate.length} gates`);
  // gates and ups both NaN: which NaN comes out depends on the operand order
  const nanGates = new Float32Array(Uint32Array.from(NAN_BITS_F32).buffer);
  const nanUps = new Float32Array(Uint32Array.from(NAN_BITS_F32).reverse().buffer);
  checkSiluOn(name, k, nanGates, nanUps, 'NaN gates times NaN ups');
}

/** RMSNorm bit for bit: model widths, odd ones, rows of zeros, huge and tiny values, a subarray input. */
function checkRmsNorm(name: string, k: KernelSet): void {
  for (const [rows, d, eps] of [[3, 2048, 1e-5], [2, 288, 1e-6], [4, 7, 1e-5], [1, 1, 1e-5], [5, 5632, 1e-6]] as const) {
    const x = randomFloats(rows * d, rows * 7 + d, 3);
    for (let i = 0; i < d; i++) x[i] = 0; // a row of zeros: the normaliser is 1/sqrt(eps)
    if (rows > 2) for (let i = 0; i < d; i++) x[2 * d + i] *= i % 2 ? 1e30 : 1e-30;
    const w = randomFloats(d, d + 1, 1.5);
    const a = new Float32Array(rows * d), b = new Float32Array(rows * d);
    ts.rmsNorm(x, w, a, rows, d, eps);
    k.rmsNorm(x, w, b, rows, d, eps);
    assertBitsEqual(b, a, `${name} rmsNorm rows=${rows} d=${d}`);
    if (rows > 1) {
      const c = new Float32Array(d), e = new Float32Array(d);
      ts.rmsNorm(x.subarray(d), w, c, 1, d, eps);
      k.rmsNorm(x.subarray(d), w, e, 1, d, eps);
      assertBitsEqual(e, c, `${name} rmsNorm of a subarray d=${d}`);
    }
  }
}

/** Math.exp vs the native exp (the one siluMul runs), bit for bit, also where x is no float32. */
function checkExp(): void {
  const r = rng(808);
  const v: number[] = [];
  for (let i = 0; i < 1 << 21; i++) v.push((r() * 2 - 1) * 750);
  for (let i = 0; i < 1 << 20; i++) v.push((r() < 0.5 ? -1 : 1) * Math.exp(Math.log(1e-12) + r() * Math.log(800 / 1e-12)));
  const f = new Float32Array(1);
  const fb = new Uint32Array(f.buffer);
  for (let b = 0; b < 2 ** 32; b += 1021) {
    fb[0] = b;
    v.push(f[0]);
  }
  for (const x of expBoundaries()) v.push(...neighbours(x, 8, false));
  v.push(...SPECIAL_F32);
  // then random float64 bit patterns and NaNs as bits (quiet, signalling, negative)
  const nanBits = [0x7ff0000000000001n, 0xfff0000000000001n, 0x7ff4000000000000n, 0xfff8000000000000n, 0x7ff8000000abcdefn, 0x7fffffffffffffffn];
  const randomWords = 2 * (1 << 21);
  const x = new Float64Array(v.length + randomWords / 2 + nanBits.length);
  x.set(v);
  const xw = new Uint32Array(x.buffer, v.length * 8, randomWords);
  for (let i = 0; i < randomWords; i++) xw[i] = Math.floor(r() * 2 ** 32);
  new BigUint64Array(x.buffer).set(nanBits, v.length + randomWords / 2);
  const got = new Float64Array(x.length);
  assert.ok(nativeExp(x, got));
  const want = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) want[i] = Math.exp(x[i]);
  const g = new BigUint64Array(got.buffer), w = new BigUint64Array(want.buffer);
  let bad = 0, first = -1, maxUlps = 0n;
  for (let i = 0; i < x.length; i++) {
    if (g[i] === w[i]) continue;
    if (first < 0) first = i;
    bad++;
    const d = g[i] > w[i] ? g[i] - w[i] : w[i] - g[i];
    if (d > maxUlps) maxUlps = d;
  }
  if (bad) assert.fail(`native exp differs from Math.exp on ${bad} of ${x.length} values (up to ${maxUlps} ulps); first x = ${x[first]}: ${got[first]} vs ${want[first]}`);
}

/** The gate and up vectors siluMul sees while `model` runs a prompt and a few greedy tokens. */
function captureSiluInputs(model: LlamaModel, ids: number[], tokens: number): [Float32Array, Float32Array][] {
  const active = kernels();
  const silu = active.siluMul;
  const seen: [Float32Array, Float32Array][] = [];
  active.siluMul = (gate, up, n) => {
    seen.push([gate.slice(0, n), up.slice(0, n)]);
    silu(gate, up, n);
  };
  try {
    const cache = model.newCache();
    let logits = model.step(ids, cache);
    for (let t = 0; t < tokens; t++) {
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      logits = model.step([best], cache);
    }
  } finally {
    active.siluMul = silu;
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------

describe('kernel conformance', () => {
  test('backends', () => {
    const names = registeredBackends();
    assert.ok(names.includes('ts'));
    if (!names.includes('native')) console.log(`native backend not registered: ${nativeLoadError()}`);
  });

  test('ts kernels vs naive loops', () => {
    for (const [m, n, G] of [[37, 300, 128], [64, 96, 32]] as const) {
      const w = randomIntWeights(m, n, G, m + n);
      const c = randomCounts(4 * n, 0.3, m * n, true);
      const scales = scalesFor(4, 3);
      const ref = naiveCounts(w, c, 4, scales);
      const y = new Float32Array(4 * m);
      ts.spikeLinearCountsRows(w.sw, c, 4, scales, y);
      assertBitsEqual(y, ref, `ts spikeLinearCountsRows m=${m} n=${n}`);
      const y2 = new Float32Array(4 * m);
      ts.intMatmul(w.W, w.dw, c, 4, m, n, G, scales, y2);
      assertBitsEqual(y2, ref, `ts intMatmul m=${m} n=${n}`);
    }
    checkMatmul('ts', ts);
  });

  for (const name of registeredBackends()) {
    const k = getBackend(name)!;
    test(`${name}: spike kernels bit-identical to ts`, () => {
      checkSpike(name, k);
      checkBigBatch(name, k);
    });
    test(`${name}: matmulF32 within tolerance`, () => checkMatmul(name, k));
    test(`${name}: matmulBF16 within tolerance, bit-identical to matmulF32 on the widened weights`, () => checkMatmulBF16(name, k));
    test(`${name}: packed 4-bit spike kernels and dense int4 bit-identical to the int8 ts kernels`, () => checkPacked(name, k));
    test(`${name}: matmulW4A16 within tolerance of the dequantized float matmul`, () => checkW4A16(name, k));
    test(`${name}: attentionF32 within tolerance of a float64 reference (GQA, causal, sliding window)`, () => checkAttention(name, k));
    test(`${name}: spikingAttentionCore agrees with ts`, () => checkSpikingAttention(name, k));
    test(`${name}: spikeEncode (γ-SQP step 1) bit-identical to ts`, () => checkEncode(name, k));
    test(`${name}: blockHadamard (online rotation) bit-identical to ts`, () => checkHadamard(name, k));
    test(`${name}: siluMul bit-identical to ts`, () => checkSilu(name, k));
    test(`${name}: rmsNorm bit-identical to ts`, () => checkRmsNorm(name, k));
  }

  test('native: exp bit-identical to Math.exp', { skip: registeredBackends().includes('native') ? false : 'native backend not registered' }, checkExp);

  test('native: thread counts give identical results', { skip: registeredBackends().includes('native') ? false : 'native backend not registered' }, () => {
    const k = getBackend('native')!;
    const before = getThreads();
    try {
      const w = randomIntWeights(512, 1408, 128, 99);
      const c = randomCounts(4 * 1408, 0.5, 98);
      const scales = scalesFor(4, 97);
      const x = randomFloats(4 * 1408, 96);
      const Wf = randomFloats(512 * 1408, 95, 0.1);
      const Wb = randomBF16(512 * 1408, 91, 0.1);
      // one row of a layer over 128 KB packed: the kernels split it by input groups
      const big = packed4Of(randomIntWeights(1100, 1100, 128, 94));
      const cBig = randomCounts(1100, 0.85, 93), xBig = randomFloats(1100, 92);
      const outs: Float32Array[][] = [];
      for (const t of [1, 2, 3]) {
        setThreads(t);
        assert.equal(getThreads(), t);
        const a = new Float32Array(4 * 512);
        k.spikeLinearCountsRows(w.sw, c, 4, scales, a);
        const b = new Float32Array(4 * 512);
        k.intMatmul(w.W, w.dw, c, 4, 512, 1408, 128, scales, b);
        const f = new Float32Array(4 * 512);
        k.matmulF32(x, Wf, f, 4, 1408, 512);
        const p = packed4Of(w);
        const a4 = new Float32Array(4 * 512);
        k.spikeLinearCountsRows4(p.pw, c, 4, scales, a4);
        const b4 = new Float32Array(4 * 512);
        k.intMatmul4(p.rowPacked, w.dw, c, 4, 512, 1408, 128, scales, b4);
        const f4 = new Float32Array(4 * 512);
        k.matmulW4A16(p.pw, x, f4, 4);
        const f41 = new Float32Array(512);
        k.matmulW4A16(p.pw, x, f41, 1);
        const sBig = new Float32Array(1100), wBig = new Float32Array(1100);
        k.spikeLinearCountsRows4(big.pw, cBig, 1, scales.subarray(0, 1), sBig);
        k.matmulW4A16(big.pw, xBig, wBig, 1);
        const bl = w4a16Weights(p.pw), bBig = w4a16Weights(big.pw);
        const fb4 = new Float32Array(4 * 512), fb1 = new Float32Array(1100);
        k.matmulW4A16Blocks(bl, x, fb4, 4);
        k.matmulW4A16Blocks(bBig, xBig, fb1, 1);
        const h4 = new Float32Array(4 * 512), h1 = new Float32Array(512);
        k.matmulBF16(x, Wb, h4, 4, 1408, 512);
        k.matmulBF16(x, Wb, h1, 1, 1408, 512);
        outs.push([a, b, f, a4, b4, f4, f41, sBig, wBig, fb4, fb1, h4, h1]);
      }
      for (let t = 1; t < outs.length; t++)
        for (let j = 0; j < outs[0].length; j++) assertBitsEqual(outs[t][j], outs[0][j], `threads ${t + 1} vs 1, kernel ${j}`);
    } finally {
      setThreads(before);
    }
  });

  test('native: bad arguments throw instead of reading out of bounds', { skip: registeredBackends().includes('native') ? false : 'native backend not registered' }, () => {
    const k = getBackend('native')!;
    const w = randomIntWeights(8, 16, 4, 1);
    const y = new Float32Array(8);
    assert.throws(() => k.spikeLinearCounts(w.sw, new Int32Array(10), 0, 1, y, 0, new Int32Array(8), new Float64Array(8)), RangeError);
    assert.throws(() => k.spikeLinearCounts(w.sw, new Int32Array(16), 0, 1, y, 1, new Int32Array(8), new Float64Array(8)), RangeError);
    assert.throws(() => k.spikeLinearCounts({ ...w.sw, qT: new Int8Array(3) }, new Int32Array(16), 0, 1, y, 0, new Int32Array(8), new Float64Array(8)), RangeError);
    assert.throws(() => k.spikeLinearCounts(w.sw, new Float32Array(16) as unknown as Int32Array, 0, 1, y, 0, new Int32Array(8), new Float64Array(8)), TypeError);
    assert.throws(() => k.matmulF32(new Float32Array(1), new Float32Array(4), new Float32Array(2), 1, 2, 2), RangeError);
    assert.throws(() => k.matmulBF16(new Float32Array(2), new Uint16Array(3), new Float32Array(2), 1, 2, 2), RangeError);
    assert.throws(() => k.matmulBF16(new Float32Array(2), new Float32Array(4) as unknown as Uint16Array, new Float32Array(2), 1, 2, 2), TypeError);
    assert.throws(() => k.intMatmul(w.W, w.dw, new Int32Array(16), 2, 8, 16, 4, new Float64Array(2), y), RangeError);
    assert.throws(() => k.spikeLinearEvents(w.sw, new Int8Array(31), 2, 1, y, 0, new Int32Array(8), new Float64Array(8)), RangeError);
    const p = packed4Of(w).pw;
    assert.throws(() => k.spikeLinearCountsRows4({ ...p, packed: new Uint8Array(63) }, new Int32Array(16), 1, new Float64Array(1), y), RangeError);
    assert.throws(() => k.spikeLinearCountsRows4(p, new Int32Array(15), 1, new Float64Array(1), y), RangeError);
    assert.throws(() => k.spikeLinearCountsRows4({ ...p, packed: new Int8Array(64) as unknown as Uint8Array }, new Int32Array(16), 1, new Float64Array(1), y), TypeError);
    assert.throws(() => k.spikeLinearEvents4(p, new Int8Array(31), 2, 1, y, 0, new Int32Array(8), new Float64Array(8)), RangeError);
    assert.throws(() => k.spikeLinearEvents4(p, new Int8Array(32), 2, 1, y, 1, new Int32Array(8), new Float64Array(8)), RangeError);
    assert.throws(() => k.matmulW4A16(p, new Float32Array(15), y, 1), RangeError);
    assert.throws(() => k.matmulW4A16({ ...p, dwT: new Float32Array(7) }, new Float32Array(16), y, 1), RangeError);
    const bl = w4a16Weights(p);
    assert.throws(() => k.matmulW4A16Blocks({ ...bl, blocks: new Uint8Array(bl.blocks.length - 1) }, new Float32Array(16), y, 1), RangeError);
    assert.throws(() => k.matmulW4A16Blocks({ ...bl, scales: new Float32Array(bl.scales.length - 1) }, new Float32Array(16), y, 1), RangeError);
    assert.throws(() => k.matmulW4A16Blocks(bl, new Float32Array(15), y, 1), RangeError);
    assert.throws(() => k.matmulW4A16Blocks(bl, new Float32Array(16), new Float32Array(7), 1), RangeError);
    assert.throws(() => k.packW4A16Blocks(p.packed, 8, 16, new Uint8Array(bl.blocks.length - 1)), RangeError);
    assert.throws(() => k.rmsNorm(new Float32Array(15), new Float32Array(8), new Float32Array(16), 2, 8, 1e-5), RangeError);
    assert.throws(() => k.rmsNorm(new Float32Array(16), new Float32Array(7), new Float32Array(16), 2, 8, 1e-5), RangeError);
    assert.throws(() => k.intMatmul4(new Uint8Array(63), w.dw, new Int32Array(16), 1, 8, 16, 4, new Float64Array(1), y), RangeError);
  });

  test('real weights: sdllm-small layer 0 MLP, 4-bit RTN', needsShared, () => {
    const model = loadModel(nodePath.join(MODELS, 'sdllm-small'));
    const layer = model.parts.layers[0];
    const emb = model.parts.embed_tokens;
    const hidden = model.config.hidden_size;
    const rows = 7;
    // activations: embeddings of a few tokens
    const x = new Float32Array(rows * hidden);
    for (let r = 0; r < rows; r++) x.set(emb.subarray((r * 37 + 5) * hidden, (r * 37 + 6) * hidden), r * hidden);
    for (const proj of ['gate_proj', 'down_proj'] as const) {
      const lin = layer[proj] as DenseLinear;
      const { weight, outFeatures: m, inFeatures: n } = lin;
      const G = 128;
      const q = rtn4(weight, m, n, G);
      // inputs of this projection: embeddings for gate_proj; a random-ish [rows, n] otherwise
      const xin = proj === 'gate_proj' ? x : randomFloats(rows * n, 5, 1);
      const L = 4;
      const c = new Int32Array(rows * n);
      const scales = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let mx = 0;
        for (let i = 0; i < n; i++) mx = Math.max(mx, Math.abs(xin[r * n + i]));
        const theta = mx / L;
        scales[r] = theta;
        for (let i = 0; i < n; i++) c[r * n + i] = Math.max(-L, Math.min(L, Math.round(xin[r * n + i] / theta)));
      }
      const ref = new Float32Array(rows * m);
      ts.spikeLinearCountsRows(q.sw, c, rows, scales, ref);
      assertBitsEqual(ref, naiveCounts(q, c, rows, scales), `real ${proj}: ts vs naive`);
      const { y: fref, abs } = naiveMatmul(xin, weight, rows, n, m);
      for (const name of registeredBackends()) {
        const k = getBackend(name)!;
        const y = new Float32Array(rows * m);
        k.spikeLinearCountsRows(q.sw, c, rows, scales, y);
        assertBitsEqual(y, ref, `real ${proj} ${name} spikeLinearCountsRows`);
        assertBitsEqual(runCounts(k, q.sw, c, rows, scales), ref, `real ${proj} ${name} spikeLinearCounts`);
        const yi = new Float32Array(rows * m);
        k.intMatmul(q.W, q.dw, c, rows, m, n, G, scales, yi);
        assertBitsEqual(yi, ref, `real ${proj} ${name} intMatmul`);
        const { trains, T } = trainsFor(c, 0, n, 3);
        const ye = new Float32Array(m);
        k.spikeLinearEvents(q.sw, trains, T, scales[0], ye, 0, new Int32Array(m), new Float64Array(m));
        assertBitsEqual(ye, ref.subarray(0, m), `real ${proj} ${name} spikeLinearEvents`);
        const p = packed4Of(q);
        const y4 = new Float32Array(rows * m);
        k.spikeLinearCountsRows4(p.pw, c, rows, scales, y4);
        assertBitsEqual(y4, ref, `real ${proj} ${name} spikeLinearCountsRows4`);
        const ye4 = new Float32Array(m);
        k.spikeLinearEvents4(p.pw, trains, T, scales[0], ye4, 0, new Int32Array(m), new Float64Array(m));
        assertBitsEqual(ye4, ref.subarray(0, m), `real ${proj} ${name} spikeLinearEvents4`);
        const yi4 = new Float32Array(rows * m);
        k.intMatmul4(p.rowPacked, q.dw, c, rows, m, n, G, scales, yi4);
        assertBitsEqual(yi4, ref, `real ${proj} ${name} intMatmul4`);
        const yf = new Float32Array(rows * m);
        k.matmulF32(xin, weight, yf, rows, n, m);
        assertClose(yf, fref, abs, `real ${proj} ${name} matmulF32`);
      }
    }
  });

  test('real weights: matmulBF16 on the raw BF16 tied head of sdllm-small (embed_tokens), rows 1 and 4', needsShared, () => {
    const { words, shape } = readBF16Tensor(nodePath.join(MODELS, 'sdllm-small'), 'model.embed_tokens.weight');
    const [outF, inF] = shape;
    assert.equal(words.length, outF * inF);
    const W = widenBF16(words);
    for (const rows of [1, 4]) {
      // activations: embedding rows of a few tokens, as the head sees a hidden state of the same scale
      const x = new Float32Array(rows * inF);
      for (let r = 0; r < rows; r++) x.set(W.subarray((r * 311 + 7) * inF, (r * 311 + 8) * inF), r * inF);
      const { y: fref, abs } = naiveMatmul(x, W, rows, inF, outF);
      const yts = new Float32Array(rows * outF);
      ts.matmulBF16(x, words, yts, rows, inF, outF);
      assertClose(yts, fref, abs, `real head rows=${rows} ts matmulBF16 vs float64`);
      for (const name of registeredBackends()) {
        if (name === 'ts') continue;
        const k = getBackend(name)!;
        const y = new Float32Array(rows * outF);
        k.matmulBF16(x, words, y, rows, inF, outF);
        assertClose(y, yts, abs, `real head rows=${rows} ${name} matmulBF16 vs ts`);
        const yf = new Float32Array(rows * outF);
        k.matmulF32(x, W, yf, rows, inF, outF);
        assertBitsEqual(y, yf, `real head rows=${rows} ${name} matmulBF16 vs matmulF32 on the widened weights`);
      }
    }
  });

  test('real activations: siluMul on sdllm-small gate/up vectors (float and sdllm), bit-identical to ts', needsShared, () => {
    const path = nodePath.join(MODELS, 'sdllm-small');
    const ids = readGolden('sdllm-small').prompts[2].input_ids as number[];
    const models: [string, LlamaModel][] = [
      ['float', loadModel(path)],
      ['sdllm', loadMethodModel(path, { method: 'sdllm', overrides: { gamma: 0.99 } }).model],
    ];
    for (const [label, model] of models) {
      const seen = captureSiluInputs(model, ids, 4);
      assert.equal(seen.length, 5 * model.config.num_hidden_layers);
      for (const name of registeredBackends())
        seen.forEach(([gate, up], call) => checkSiluOn(name, getBackend(name)!, gate, up, `${label} sdllm-small call ${call} (${gate.length} values)`));
    }
  });
});

/** Per-group round-to-nearest 4-bit quantization (symmetric, scale = max|w| / 7). */
function rtn4(weight: Float32Array, m: number, n: number, G: number): IntWeights {
  const nG = Math.ceil(n / G);
  const W = new Int8Array(m * n);
  const dw = new Float32Array(m * nG);
  for (let o = 0; o < m; o++)
    for (let g = 0; g < nG; g++) {
      let mx = 0;
      for (let i = g * G; i < Math.min(n, (g + 1) * G); i++) mx = Math.max(mx, Math.abs(weight[o * n + i]));
      const s = mx > 0 ? mx / 7 : 1;
      dw[o * nG + g] = s;
      for (let i = g * G; i < Math.min(n, (g + 1) * G); i++) W[o * n + i] = Math.max(-8, Math.min(7, Math.round(weight[o * n + i] / s)));
    }
  return bothLayouts(W, dw, m, n, G);
}

/** Attention against a float64 loop written here: prefill (start 0) and a continuation (start > 0), with and without a window. */
function checkAttention(name: string, k: KernelSet): void {
  for (const [rows, start, heads, kvHeads, hd, window] of [[37, 0, 4, 2, 16, 0], [5, 60, 8, 4, 64, 0], [40, 9, 4, 1, 32, 16], [1, 200, 8, 8, 64, 0]] as const) {
    const positions = start + rows;
    const q = randomFloats(rows * heads * hd, rows + hd, 1);
    const K = randomFloats(positions * kvHeads * hd, start + 7, 1);
    const V = randomFloats(positions * kvHeads * hd, start + 11, 1);
    const out = new Float32Array(rows * heads * hd);
    k.attentionF32(q, K, V, out, rows, start, heads, kvHeads, hd, window, new Float32Array(positions));
    const qd = heads * hd, kvd = kvHeads * hd;
    for (let r = 0; r < rows; r++) {
      const pos = start + r, first = window > 0 ? Math.max(0, pos - window + 1) : 0;
      for (let h = 0; h < heads; h++) {
        const kh = Math.floor(h / (heads / kvHeads));
        const s: number[] = [];
        for (let j = first; j <= pos; j++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[r * qd + h * hd + i] * K[j * kvd + kh * hd + i];
          s.push(d / Math.sqrt(hd));
        }
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const tot = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) {
          let ref = 0, mag = 0;
          for (let j = first; j <= pos; j++) {
            const term = (e[j - first] / tot) * V[j * kvd + kh * hd + i];
            ref += term;
            mag += Math.abs(term);
          }
          const got = out[r * qd + h * hd + i];
          assert.ok(Math.abs(got - ref) <= 1e-5 * (mag + 1e-6), `${name} attention rows=${rows} start=${start} h=${h} i=${i}: ${got} vs ${ref}`);
        }
      }
    }
  }
}

/** Spiking attention's core on random integer inputs: outputs within float tolerance of ts, the same keys counted. */
function checkSpikingAttention(name: string, k: KernelSet): void {
  for (const [rows, start, heads, kvHeads, hd, window, levels] of [[33, 0, 4, 2, 16, 0, 15], [3, 70, 8, 4, 64, 0, 15], [20, 5, 4, 1, 32, 8, 7]] as const) {
    const positions = start + rows, next = rng(rows * 31 + hd);
    const ints = (len: number, lo: number, hi: number) => Array.from({ length: len }, () => lo + Math.floor(next() * (hi - lo + 1)));
    const floats = (len: number, lo: number, hi: number) => Float32Array.from({ length: len }, () => lo + next() * (hi - lo));
    const cq = Int32Array.from(ints(rows * heads * hd, -7, 7)), thetaQ = floats(rows * heads, 0.01, 0.1);
    const kq = Int8Array.from(ints(positions * kvHeads * hd, -127, 127)), vq = Int8Array.from(ints(positions * kvHeads * hd, -127, 127));
    const dk = floats(positions * kvHeads, 0.005, 0.02), dv = floats(positions * kvHeads, 0.005, 0.02);
    const run = (kk: KernelSet) => {
      const out = new Float32Array(rows * heads * hd), hist = new Float64Array(levels + 1);
      kk.spikingAttentionCore(cq, thetaQ, kq, dk, vq, dv, out, rows, start, heads, kvHeads, hd, window, levels, hist);
      return { out, hist };
    };
    const a = run(k), b = run(ts);
    const scale = b.out.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < a.out.length; i++) assert.ok(Math.abs(a.out[i] - b.out[i]) <= 2e-3 * scale, `${name} spiking attention out[${i}] ${a.out[i]} vs ${b.out[i]}`);
    assert.equal(a.hist.reduce((x, y) => x + y, 0), b.hist.reduce((x, y) => x + y, 0), 'keys counted');
    let moved = 0;
    for (let c = 0; c <= levels; c++) moved += Math.abs(a.hist[c] - b.hist[c]);
    assert.ok(moved <= 0.002 * b.hist.reduce((x, y) => x + y, 0) + 2, `${name}: probability counts moved ${moved}`);
  }
}
