/**
 * Kernel sweep: the spike-driven linear layer on packed 4-bit weights (counts mode at several
 * spike event densities = mean |c| per input neuron; events mode at 0.2) vs the dense baselines
 * on the same layer — int8 (intMatmul, 1 byte per weight), int4 (intMatmul4, row-major packed,
 * 0.5 byte per weight), w4a16 (matmulW4A16Blocks on the decode blocks W4A16Linear keeps, 4-bit
 * weights times float activations) and float32
 * (matmulF32) — per backend, on the linear shapes of sdllm-small, a 110M LLaMA, TinyLlama-1.1B
 * and LLaMA-2-7B. `spike8 d=0.2` is the spike kernel on int8 columns (the layout before packing).
 *
 *   npm run bench:kernels -- [--rows 1] [--shapes small,110m,1.1b,7b] [--backends ts,native]
 *                            [--densities 0.05,0.1,0.2,0.5,1,1.5] [--threads 1,2] [--min-ms 150]
 *                            [--prefill 512] [--real 16] [--json out.json]
 *
 * --threads lists the native thread counts to sweep (default: the current setting, which is
 * os.availableParallelism() unless SDLLM_THREADS is set); the ts kernels are single-threaded.
 * --prefill R adds a table of rows = R calls on the sdllm-small shapes (0 skips it).
 * --real N adds the counts path at the real sparsity of `sdllm` (γ = 0.99) on sdllm-small: the
 * counts of N decoded tokens are captured per linear of layer 3 and replayed through the packed
 * counts kernel and the dense int4 kernel on that layer's real 4-bit weights (0 skips it; needs
 * SDLLM_SHARED).
 *
 * Weights larger than 4 MB are measured cold, as decoding a whole model reads them: each timed
 * call uses the next of several copies of the layer (together more than 128 MB, beyond the
 * caches), so the weights come from memory. Smaller layers are measured warm (from cache). *
 * Times are medians of repeated runs (at least 5, or more until --min-ms has passed). Shapes are
 * out x in (W is [out, in]). Counts of density d: d <= 1: a fraction d of inputs are ±1;
 * 1 < d <= 2: every input is nonzero, a fraction d - 1 of them ±2. Events at d = 0.2: T = 7 time
 * steps holding 0.2·n events (±1) in all. The crossovers are the densities where the packed spike
 * kernel becomes as slow as the dense int8 / int4 kernels (interpolated between measured
 * densities): below them, spikes win.
 */
import os from 'node:os';
import fs from 'node:fs';
import { registeredBackends, getBackend, setThreads, getThreads, cpuFeatures, nativeLoadError, type BackendName, type KernelSet, type SpikeLinearWeights, type PackedWeights4, type W4A16Weights } from '../src/kernels/node.js';
import { w4a16Weights } from '../src/kernels/ts/w4a16-blocks.js';
import { packColumns, rowMajorPacked4 } from '../src/quant/weights.js';
import nodePath from 'node:path';
import { openCheckpoint, loadFloatWeights } from '../src/model/load.js';
import { prepareModel, assembleModel } from '../src/sdllm/prepare.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { SpikeLinear } from '../src/spike/spike-linear.js';
import { spikeLinears } from '../src/sdllm/stats.js';
import { LAYER_LINEARS } from '../src/sdllm/prepare.js';
import { Prng } from '../src/util/prng.js';
import { SHARED, usageFor, printTable } from './common.js';

interface Args {
  rows: number;
  shapes: string[];
  backends: BackendName[];
  densities: number[];
  minMs: number;
  prefill: number;
  threads: number[];
  real: number;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    rows: 1,
    shapes: ['small', '110m', '1.1b', '7b'],
    backends: registeredBackends(),
    densities: [0.05, 0.1, 0.2, 0.5, 1.0, 1.5],
    minMs: 150,
    prefill: 512,
    threads: [getThreads()],
    real: 16,
  };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k + 1];
    switch (argv[k]) {
      case '--rows': a.rows = Number(v); k++; break;
      case '--shapes': a.shapes = v.split(','); k++; break;
      case '--backends': a.backends = v.split(',') as BackendName[]; k++; break;
      case '--densities': a.densities = v.split(',').map(Number); k++; break;
      case '--threads': a.threads = v.split(',').map(Number); k++; break;
      case '--min-ms': a.minMs = Number(v); k++; break;
      case '--prefill': a.prefill = Number(v); k++; break;
      case '--real': a.real = Number(v); k++; break;
      case '--json': a.json = v; k++; break;
      case '--help': case '-h': usage();
      default: usage(`unknown argument ${JSON.stringify(argv[k])}`);
    }
  }
  return a;
}

const usage: (problem?: string) => never = usageFor(
  'bench/kernels',
  'usage: node dist/bench/kernels.js [--rows 1] [--shapes small,110m,1.1b,7b] [--backends ts,native] [--densities 0.05,0.1,0.2,0.5,1,1.5] [--threads 1,2] [--min-ms 150] [--prefill 512] [--real 16] [--json out.json]',
);

const SHAPES: Record<string, { model: string; shapes: [out: number, inp: number][] }> = {
  small: { model: 'sdllm-small', shapes: [[512, 512], [1408, 512], [512, 1408]] },
  '110m': { model: '110M', shapes: [[768, 768], [2048, 768], [768, 2048]] },
  '1.1b': { model: 'TinyLlama-1.1B', shapes: [[2048, 2048], [256, 2048], [5632, 2048], [2048, 5632]] },
  '7b': { model: 'LLaMA-2-7B', shapes: [[4096, 4096], [11008, 4096], [4096, 11008]] },
};
const G = 128;

/** Uniform floats in [0, 1) from the seed (src/util/prng.ts). */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

function countsWithDensity(len: number, d: number, seed: number): Int32Array {
  const r = rng(seed);
  const c = new Int32Array(len);
  for (let i = 0; i < len; i++) {
    const s = r() < 0.5 ? -1 : 1;
    if (d <= 1) c[i] = r() < d ? s : 0;
    else c[i] = r() < d - 1 ? 2 * s : s;
  }
  return c;
}

/** Median ms of fn over at least 5 runs (after one warm-up), running on until minMs total; fn gets the run index. */
function time(fn: (k: number) => void, minMs: number): number {
  fn(0);
  const t: number[] = [];
  const start = performance.now();
  while (t.length < 5 || (performance.now() - start < minMs && t.length < 200)) {
    const t0 = performance.now();
    fn(t.length + 1);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

/** Layers above this many packed bytes are timed cold (rotating through copies of their weights). */
const COLD_BYTES = 4 * 2 ** 20;
const COLD_TOTAL = 128 * 2 ** 20;

function fmt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** Density where spike time crosses the dense int8 time (linear interpolation). */
function crossover(densities: number[], spike: number[], dense: number): string {
  if (spike[0] >= dense) return `< ${densities[0]}`;
  for (let k = 1; k < densities.length; k++) {
    if (spike[k] >= dense) {
      const f = (dense - spike[k - 1]) / (spike[k] - spike[k - 1]);
      return (densities[k - 1] + f * (densities[k] - densities[k - 1])).toFixed(2);
    }
  }
  return `> ${densities[densities.length - 1]}`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  process.stdout.write(`# sdllm kernel sweep\n`);
  process.stdout.write(`cpu:      ${cpus[0]?.model ?? 'unknown'} (${os.availableParallelism()} logical cores)\n`);
  process.stdout.write(`node:     ${process.version} ${process.platform}-${process.arch}\n`);
  process.stdout.write(`backends: ${registeredBackends().join(', ')}${registeredBackends().includes('native') ? `  (native: ${cpuFeatures()}; threads ${args.threads.join(', ')})` : `  (native unavailable: ${nativeLoadError()})`}\n`);
  process.stdout.write(`rows:     ${args.rows}, group size ${G}, ms = median per call\n`);
  process.stdout.write(`load:     ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (1/5/15 min averages at the start)\n\n`);

  const results: Record<string, unknown>[] = [];
  const runs: [BackendName, number][] = [];
  for (const name of args.backends) {
    if (name === 'native') for (const t of args.threads) runs.push([name, t]);
    else runs.push([name, 1]);
  }
  for (const [name, threads] of runs) {
    const k = getBackend(name);
    if (!k) {
      process.stdout.write(`(backend ${name} not registered)\n`);
      continue;
    }
    if (name === 'native') setThreads(threads);
    process.stdout.write(`## backend ${name}${name === 'native' ? `, ${threads} thread${threads > 1 ? 's' : ''}` : ''}\n\n`);
    const head = ['model', 'shape (out x in)', ...args.densities.map((d) => `spike4 d=${d}`), 'events4 d=0.2', 'spike8 d=0.2', 'int8 dense', 'int4 dense', 'w4a16', 'f32 dense', 'x int8 @0.2', 'cross int8', 'cross int4'];
    const lines: string[][] = [];
    for (const key of args.shapes) {
      const spec = SHAPES[key];
      if (!spec) throw new Error(`unknown shape set ${key} (${Object.keys(SHAPES).join(', ')})`);
      for (const [m, n] of spec.shapes) {
        const row = benchShape(k, m, n, args, name);
        results.push({ backend: name, threads: name === 'native' ? threads : 1, model: spec.model, out: m, in: n, rows: args.rows, ...row });
        const at02 = args.densities.indexOf(0.2);
        lines.push([
          spec.model, `${m} x ${n}${row.cold ? ' (cold)' : ''}`, ...row.spike4.map(fmt), fmt(row.events4), fmt(row.spike8), fmt(row.int8), fmt(row.int4), fmt(row.w4a16), fmt(row.f32),
          at02 >= 0 ? (row.int8 / row.spike4[at02]).toFixed(1) : '-',
          crossover(args.densities, row.spike4, row.int8), crossover(args.densities, row.spike4, row.int4),
        ]);
      }
    }
    printTable(head, lines);
    process.stdout.write('\n');
  }

  benchStep1(runs, args.minMs, results);

  if (args.prefill > 0) {
    process.stdout.write(`## prefill: rows = ${args.prefill}, sdllm-small shapes (ms per call)\n\n`);
    const head = ['backend', 'shape (out x in)', 'f32 dense', 'f32 GFLOP/s', 'w4a16', 'w4a16 GFLOP/s', 'int8 dense', 'int4 dense', 'spike4 d=0.2', 'spike4 d=1', 'spike8 d=1'];
    const lines: string[][] = [];
    for (const [name, threads] of runs) {
      const k = getBackend(name);
      if (!k) continue;
      if (name === 'native') setThreads(threads);
      const label = name === 'native' ? `native ${threads}t` : name;
      for (const [m, n] of SHAPES.small.shapes) {
        const p = benchPrefill(k, m, n, args.prefill, args.minMs);
        results.push({ backend: name, threads: name === 'native' ? threads : 1, prefillRows: args.prefill, out: m, in: n, ...p });
        lines.push([label, `${m} x ${n}`, fmt(p.f32), (2 * args.prefill * m * n / p.f32 / 1e6).toFixed(1), fmt(p.w4a16), (2 * args.prefill * m * n / p.w4a16 / 1e6).toFixed(1), fmt(p.int8), fmt(p.int4), fmt(p.spike02), fmt(p.spike1), fmt(p.spike8)]);
      }
    }
    printTable(head, lines);
    process.stdout.write('\n');
  }
  if (args.real > 0) {
    const real = benchReal(args, runs);
    if (real) results.push(...real);
  }
  process.stdout.write(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews the timings)\n`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ cpu: cpus[0]?.model, cores: os.availableParallelism(), node: process.version, features: cpuFeatures(), densities: args.densities, results }, null, 2));
}

/**
 * What runs around the matmuls of a spiking decode step, per token on sdllm-small: γ-SQP step 1
 * (spikeEncode, γ = 0.99 quantile, L = 7) on the widths the linears read (512; 1,408 for
 * down_proj) and on the 8 query heads of 64 channels, and the online rotation (blockHadamard) of
 * down_proj's 1,408 inputs. µs per call, median of batches of 100 calls.
 */
function benchStep1(runs: [BackendName, number][], minMs: number, results: Record<string, unknown>[]): void {
  process.stdout.write(`## step 1 and online rotation, one token (µs per call)\n\n`);
  const cases: [string, number, number][] = [['spikeEncode', 1, 512], ['spikeEncode', 1, 1408], ['spikeEncode', 8, 64], ['blockHadamard', 1, 1408]];
  const head = ['backend', ...cases.map(([k, rows, n]) => `${k} ${rows > 1 ? `${rows} x ` : ''}${n}`)];
  const lines: string[][] = [];
  const rule = { kind: 'quantile', gamma: 0.99 } as const;
  for (const name of new Set(runs.map(([b]) => b))) { // single-threaded kernels: once per backend
    const k = getBackend(name);
    if (!k) continue;
    const us = cases.map(([kernel, rows, n], ci) => {
      const r = rng(ci + 1);
      // heavy-tailed like real activations: a few channels 20x the rest
      const x = new Float32Array(rows * n).map(() => (r() * 2 - 1) * (r() < 0.01 ? 20 : 1));
      const c = new Int32Array(rows * n), th = new Float64Array(rows), sc = new Float32Array(n), scale = new Float32Array(n).fill(0.088);
      const work = x.slice();
      const call = kernel === 'spikeEncode' ? () => k.spikeEncode(x, rows, n, rule, 7, c, th, sc) : () => k.blockHadamard(work, rows, n, 128, scale);
      return (time(() => {
        for (let j = 0; j < 100; j++) call();
      }, minMs) * 1000) / 100;
    });
    cases.forEach(([kernel, rows, n], i) => results.push({ backend: name, kernel, rows, n, us: us[i] }));
    lines.push([name, ...us.map((u) => u.toFixed(2))]);
  }
  printTable(head, lines);
  process.stdout.write('\n');
}

interface BenchWeights {
  sw: SpikeLinearWeights; // int8 columns
  pw: PackedWeights4; // packed 4-bit columns (what SpikeLinear keeps)
  bw: W4A16Weights; // the same weights in decode blocks (what W4A16Linear keeps)
  W: Int8Array; // int8 row-major (dense int8 baseline)
  W4: Uint8Array; // 4-bit row-major packed (dense int4 baseline)
  dw: Float32Array; // row-major scales
}

function makeWeights(m: number, n: number, seed: number): BenchWeights {
  const r = rng(seed);
  const nG = Math.ceil(n / G);
  const W = new Int8Array(m * n);
  for (let k = 0; k < W.length; k++) W[k] = Math.floor(r() * 16) - 8;
  const qT = new Int8Array(m * n);
  for (let o = 0; o < m; o++) for (let i = 0; i < n; i++) qT[i * m + o] = W[o * n + i];
  const dw = new Float32Array(m * nG).map(() => 0.01 + r() * 0.01);
  const dwT = new Float32Array(nG * m);
  for (let o = 0; o < m; o++) for (let g = 0; g < nG; g++) dwT[g * m + o] = dw[o * nG + g];
  const packed = packColumns(qT, m, n, 4);
  const W4 = rowMajorPacked4({ bits: 4, groupSize: G, rows: m, cols: n, nGroups: nG, scales: dw, packed });
  const pw = { packed, dwT, m, n, groupSize: G };
  return { sw: { qT, dwT, m, n, groupSize: G }, pw, bw: w4a16Weights(pw), W, W4, dw };
}

/** Trains [T, n] holding round(d·n) events of ±1 at random (step, input) places, at most one per place. */
function eventsWithDensity(n: number, T: number, d: number, seed: number): Int8Array {
  const r = rng(seed);
  const trains = new Int8Array(T * n);
  let left = Math.min(Math.round(d * n), T * n);
  while (left > 0) {
    const k = Math.floor(r() * T * n);
    if (trains[k] !== 0) continue;
    trains[k] = r() < 0.5 ? -1 : 1;
    left--;
  }
  return trains;
}

interface ShapeTimes {
  cold: boolean;
  spike4: number[];
  events4: number;
  spike8: number;
  int8: number;
  int4: number;
  w4a16: number;
  f32: number;
}

function benchShape(k: KernelSet, m: number, n: number, args: Args, backend: string): ShapeTimes {
  const rows = args.rows;
  const w0 = makeWeights(m, n, m * 31 + n);
  // cold: copies of every layout, each call on the next copy (the ts kernels are too slow to need it)
  const copies = backend !== 'ts' && (m * n) / 2 > COLD_BYTES ? Math.ceil(COLD_TOTAL / ((m * n) / 2)) : 1;
  const ws: BenchWeights[] = [w0];
  for (let c = 1; c < copies; c++) {
    const packed = w0.pw.packed.slice();
    ws.push({ sw: { ...w0.sw, qT: w0.sw.qT.slice() }, pw: { ...w0.pw, packed }, bw: { ...w0.bw, blocks: w0.bw.blocks.slice() }, W: w0.W.slice(), W4: w0.W4.slice(), dw: w0.dw });
  }
  const wk = (j: number) => ws[j % copies];
  const y = new Float32Array(rows * m);
  const scales = new Float64Array(rows).fill(0.1);
  const acc = new Int32Array(m);
  const sum = new Float64Array(m);
  // the ts kernels on the big shapes take seconds per sweep: fewer repetitions there
  const minMs = backend === 'ts' && m * n > 4e6 ? 0 : args.minMs;
  const spike4 = args.densities.map((d) => {
    const c = countsWithDensity(rows * n, d, Math.round(d * 1000) + n);
    return time((j) => k.spikeLinearCountsRows4(wk(j).pw, c, rows, scales, y), minMs);
  });
  const trains = eventsWithDensity(n, 7, 0.2, n + 5);
  const events4 = time((j) => k.spikeLinearEvents4(wk(j).pw, trains, 7, 0.1, y, 0, acc, sum), minMs);
  const c02 = countsWithDensity(rows * n, 0.2, 200 + n);
  const spike8 = time((j) => k.spikeLinearCountsRows(wk(j).sw, c02, rows, scales, y), minMs);
  const c = countsWithDensity(rows * n, 0.5, 7);
  const int8 = time((j) => k.intMatmul(wk(j).W, w0.dw, c, rows, m, n, G, scales, y), minMs);
  const int4 = time((j) => k.intMatmul4(wk(j).W4, w0.dw, c, rows, m, n, G, scales, y), minMs);
  const x = new Float32Array(rows * n).map((_, i) => ((i * 40503) % 1000) / 1000 - 0.5);
  const w4a16 = time((j) => k.matmulW4A16Blocks(wk(j).bw, x, y, rows), minMs);
  ws.length = 0;
  // float32: cold as well when 4 bytes per weight exceed the caches (fewer copies: they are big)
  const fcopies = backend !== 'ts' && m * n * 4 > COLD_BYTES ? Math.max(2, Math.ceil(COLD_TOTAL / (m * n * 4))) : 1;
  let wfs: Float32Array[] | null = [];
  const wf0 = new Float32Array(m * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  wfs.push(wf0);
  for (let cc = 1; cc < fcopies; cc++) wfs.push(wf0.slice());
  const f32 = time((j) => k.matmulF32(x, wfs![j % fcopies], y, rows, n, m), minMs);
  wfs = null;
  return { spike4, events4, spike8, int8, int4, w4a16, f32, cold: copies > 1 };
}

function benchPrefill(k: KernelSet, m: number, n: number, rows: number, minMs: number): { f32: number; w4a16: number; int8: number; int4: number; spike02: number; spike1: number; spike8: number } {
  const w = makeWeights(m, n, m + n);
  const y = new Float32Array(rows * m);
  const scales = new Float64Array(rows).fill(0.1);
  const wf = new Float32Array(m * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const x = new Float32Array(rows * n).map((_, i) => ((i * 40503) % 1000) / 1000 - 0.5);
  const f32 = time(() => k.matmulF32(x, wf, y, rows, n, m), minMs);
  const w4a16 = time(() => k.matmulW4A16Blocks(w.bw, x, y, rows), minMs);
  const c02 = countsWithDensity(rows * n, 0.2, 1);
  const c1 = countsWithDensity(rows * n, 1, 2);
  const int8 = time(() => k.intMatmul(w.W, w.dw, c1, rows, m, n, G, scales, y), minMs);
  const int4 = time(() => k.intMatmul4(w.W4, w.dw, c1, rows, m, n, G, scales, y), minMs);
  const spike02 = time(() => k.spikeLinearCountsRows4(w.pw, c02, rows, scales, y), minMs);
  const spike1 = time(() => k.spikeLinearCountsRows4(w.pw, c1, rows, scales, y), minMs);
  const spike8 = time(() => k.spikeLinearCountsRows(w.sw, c1, rows, scales, y), minMs);
  return { f32, w4a16, int8, int4, spike02, spike1, spike8 };
}

/**
 * The counts path at the real sparsity of `sdllm` (γ = 0.99, no calibration) on sdllm-small: the
 * counts each linear of layer 3 receives while decoding `args.real` tokens, replayed one token per
 * call through the packed counts kernel and, on the same real 4-bit weights re-packed row-major,
 * the dense int4 kernel (which multiplies the zeros too).
 */
function benchReal(args: Args, runs: [BackendName, number][]): Record<string, unknown>[] | null {
  const path = nodePath.join(SHARED, 'models', 'sdllm-small');
  let ck;
  try {
    ck = openCheckpoint(path);
  } catch {
    process.stdout.write(`(real sparsity: sdllm-small not found at ${path}; set SDLLM_SHARED)\n\n`);
    return null;
  }
  const method = resolveMethod('sdllm', { gamma: 0.99, calibrate: false });
  const model = assembleModel(prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), method));
  const layer = 3;
  const sls = new Map<string, SpikeLinear>();
  for (const role of LAYER_LINEARS) sls.set(role, spikeLinears([model.parts.layers[layer][role]])[0]);
  const captured = new Map<string, Int32Array[]>();
  for (const [role, sl] of sls) {
    captured.set(role, []);
    sl.eventSink = (_name, counts, n) => captured.get(role)!.push(counts.slice(0, n));
  }
  const ids = ck.tokenizer.encode('Once upon a time, there was a little girl named Lily. She');
  const cache = model.newCache(ids.length + args.real + 1);
  let logits = model.step(ids, cache);
  for (const c of captured.values()) c.length = 0; // decode rows only (one token per call)
  for (let t = 0; t < args.real; t++) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    logits = model.step([best], cache);
  }
  for (const sl of sls.values()) sl.eventSink = null;
  process.stdout.write(`## real sparsity: sdllm (γ 0.99) on sdllm-small, layer ${layer}, ${args.real} decoded tokens, one token per call (µs per call)\n\n`);
  const head = ['backend', 'linear (out x in)', 'zero fraction', 'events/input', 'counts4', 'int4 dense', 'int4 / counts4', '1/(1-z)'];
  const lines: string[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const [name, threads] of runs) {
    const k = getBackend(name);
    if (!k) continue;
    if (name === 'native') setThreads(threads);
    for (const [role, sl] of sls) {
      const rowsC = captured.get(role)!;
      const { m, n } = { m: sl.outFeatures, n: sl.inFeatures };
      let zeros = 0, events = 0;
      for (const r of rowsC) for (let i = 0; i < n; i++) {
        if (r[i] === 0) zeros++;
        events += Math.abs(r[i]);
      }
      const z = zeros / (rowsC.length * n);
      const pw = sl.weights as PackedWeights4;
      const W4 = rowMajorPacked4(sl.qw);
      const y = new Float32Array(m);
      const sc = new Float64Array([0.1]);
      const tc = time((j) => k.spikeLinearCountsRows4(pw, rowsC[j % rowsC.length], 1, sc, y), args.minMs);
      const td = time((j) => k.intMatmul4(W4, sl.qw.scales, rowsC[j % rowsC.length], 1, m, n, sl.qw.groupSize, sc, y), args.minMs);
      const label = name === 'native' ? `native ${threads}t` : name;
      lines.push([label, `${role} ${m} x ${n}`, z.toFixed(3), (events / (rowsC.length * n)).toFixed(2), (1000 * tc).toFixed(1), (1000 * td).toFixed(1), (td / tc).toFixed(2), (1 / (1 - z)).toFixed(2)]);
      results.push({ real: true, backend: name, threads, role, out: m, in: n, zero_fraction: z, counts4_ms: tc, int4_ms: td });
    }
  }
  printTable(head, lines);
  process.stdout.write('\n');
  return results;
}

main();
