/**
 * Kernel sweep: the spike-driven linear layer (counts mode) vs the dense int8 baseline
 * (intMatmul) vs dense float32 (matmulF32), per backend, on the linear shapes of sdllm-small,
 * a 110M LLaMA and LLaMA-2-7B, at several spike event densities (mean |c| per input neuron).
 *
 *   npm run bench:kernels -- [--rows 1] [--shapes small,110m,7b] [--backends ts,native]
 *                            [--densities 0.05,0.1,0.2,0.5,1,1.5] [--threads 1,2] [--min-ms 150]
 *                            [--prefill 512] [--json out.json]
 *
 * --threads lists the native thread counts to sweep (default: the current setting, which is
 * os.availableParallelism() unless SDLLM_THREADS is set); the ts kernels are single-threaded.
 * --prefill R adds a table of rows = R calls on the sdllm-small shapes (0 skips it).
 *
 * Times are medians of repeated runs (at least 5, or more until --min-ms has passed). Shapes are
 * out x in (W is [out, in]). Counts of density d: d <= 1: a fraction d of inputs are ±1;
 * 1 < d <= 2: every input is nonzero, a fraction d - 1 of them ±2. The crossover is the density
 * where the spike kernel becomes as slow as the dense int8 kernel (interpolated between measured
 * densities): below it, spikes win.
 */
import os from 'node:os';
import fs from 'node:fs';
import { registeredBackends, getBackend, setThreads, getThreads, cpuFeatures, nativeLoadError, type BackendName, type KernelSet, type SpikeLinearWeights } from '../src/kernels/node.js';

interface Args {
  rows: number;
  shapes: string[];
  backends: BackendName[];
  densities: number[];
  minMs: number;
  prefill: number;
  threads: number[];
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    rows: 1,
    shapes: ['small', '110m', '7b'],
    backends: registeredBackends(),
    densities: [0.05, 0.1, 0.2, 0.5, 1.0, 1.5],
    minMs: 150,
    prefill: 512,
    threads: [getThreads()],
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
      case '--json': a.json = v; k++; break;
      default: throw new Error(`unknown option ${argv[k]}`);
    }
  }
  return a;
}

const SHAPES: Record<string, { model: string; shapes: [out: number, inp: number][] }> = {
  small: { model: 'sdllm-small', shapes: [[512, 512], [1408, 512], [512, 1408]] },
  '110m': { model: '110M', shapes: [[768, 768], [2048, 768], [768, 2048]] },
  '7b': { model: 'LLaMA-2-7B', shapes: [[4096, 4096], [11008, 4096], [4096, 11008]] },
};
const G = 128;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

/** Median ms of fn over at least 5 runs (after one warm-up), running on until minMs total. */
function time(fn: () => void, minMs: number): number {
  fn();
  const t: number[] = [];
  const start = performance.now();
  while (t.length < 5 || (performance.now() - start < minMs && t.length < 200)) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

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
    const head = ['model', 'shape (out x in)', ...args.densities.map((d) => `spike d=${d}`), 'int8 dense', 'f32 dense', 'crossover d'];
    const lines: string[][] = [];
    for (const key of args.shapes) {
      const spec = SHAPES[key];
      if (!spec) throw new Error(`unknown shape set ${key} (small, 110m, 7b)`);
      for (const [m, n] of spec.shapes) {
        const row = benchShape(k, m, n, args, name);
        results.push({ backend: name, threads: name === 'native' ? threads : 1, model: spec.model, out: m, in: n, rows: args.rows, ...row });
        lines.push([spec.model, `${m} x ${n}`, ...row.spike.map(fmt), fmt(row.int8), fmt(row.f32), crossover(args.densities, row.spike, row.int8)]);
      }
    }
    printTable(head, lines);
    process.stdout.write('\n');
  }

  if (args.prefill > 0) {
    process.stdout.write(`## prefill: rows = ${args.prefill}, sdllm-small shapes (ms per call)\n\n`);
    const head = ['backend', 'shape (out x in)', 'f32 dense', 'f32 GFLOP/s', 'int8 dense', 'spike rows d=0.2', 'spike rows d=1'];
    const lines: string[][] = [];
    for (const [name, threads] of runs) {
      const k = getBackend(name);
      if (!k) continue;
      if (name === 'native') setThreads(threads);
      const label = name === 'native' ? `native ${threads}t` : name;
      for (const [m, n] of SHAPES.small.shapes) {
        const p = benchPrefill(k, m, n, args.prefill, args.minMs);
        results.push({ backend: name, threads: name === 'native' ? threads : 1, prefillRows: args.prefill, out: m, in: n, ...p });
        lines.push([label, `${m} x ${n}`, fmt(p.f32), (2 * args.prefill * m * n / p.f32 / 1e6).toFixed(1), fmt(p.int8), fmt(p.spike02), fmt(p.spike1)]);
      }
    }
    printTable(head, lines);
    process.stdout.write('\n');
  }
  process.stdout.write(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews the timings)\n`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ cpu: cpus[0]?.model, cores: os.availableParallelism(), node: process.version, features: cpuFeatures(), densities: args.densities, results }, null, 2));
}

function makeWeights(m: number, n: number, seed: number): { sw: SpikeLinearWeights; W: Int8Array; dw: Float32Array } {
  const r = rng(seed);
  const nG = Math.ceil(n / G);
  const W = new Int8Array(m * n);
  for (let k = 0; k < W.length; k++) W[k] = Math.floor(r() * 16) - 8;
  const qT = new Int8Array(m * n);
  for (let o = 0; o < m; o++) for (let i = 0; i < n; i++) qT[i * m + o] = W[o * n + i];
  const dw = new Float32Array(m * nG).map(() => 0.01 + r() * 0.01);
  const dwT = new Float32Array(nG * m);
  for (let o = 0; o < m; o++) for (let g = 0; g < nG; g++) dwT[g * m + o] = dw[o * nG + g];
  return { sw: { qT, dwT, m, n, groupSize: G }, W, dw };
}

function benchShape(k: KernelSet, m: number, n: number, args: Args, backend: string): { spike: number[]; int8: number; f32: number } {
  const rows = args.rows;
  const { sw, W, dw } = makeWeights(m, n, m * 31 + n);
  const y = new Float32Array(rows * m);
  const scales = new Float64Array(rows).fill(0.1);
  const acc = new Int32Array(m);
  const sum = new Float64Array(m);
  // the ts kernels on the 7B shapes take seconds per sweep: fewer repetitions there
  const minMs = backend === 'ts' && m * n > 4e6 ? 0 : args.minMs;
  const spike = args.densities.map((d) => {
    const c = countsWithDensity(rows * n, d, Math.round(d * 1000) + n);
    if (rows === 1) return time(() => k.spikeLinearCounts(sw, c, 0, 0.1, y, 0, acc, sum), minMs);
    return time(() => k.spikeLinearCountsRows(sw, c, rows, scales, y), minMs);
  });
  const c = countsWithDensity(rows * n, 0.5, 7);
  const int8 = time(() => k.intMatmul(W, dw, c, rows, m, n, G, scales, y), minMs);
  const wf = new Float32Array(m * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const x = new Float32Array(rows * n).map((_, i) => ((i * 40503) % 1000) / 1000 - 0.5);
  const f32 = time(() => k.matmulF32(x, wf, y, rows, n, m), minMs);
  return { spike, int8, f32 };
}

function benchPrefill(k: KernelSet, m: number, n: number, rows: number, minMs: number): { f32: number; int8: number; spike02: number; spike1: number } {
  const { sw, W, dw } = makeWeights(m, n, m + n);
  const y = new Float32Array(rows * m);
  const scales = new Float64Array(rows).fill(0.1);
  const wf = new Float32Array(m * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const x = new Float32Array(rows * n).map((_, i) => ((i * 40503) % 1000) / 1000 - 0.5);
  const f32 = time(() => k.matmulF32(x, wf, y, rows, n, m), minMs);
  const c02 = countsWithDensity(rows * n, 0.2, 1);
  const c1 = countsWithDensity(rows * n, 1, 2);
  const int8 = time(() => k.intMatmul(W, dw, c1, rows, m, n, G, scales, y), minMs);
  const spike02 = time(() => k.spikeLinearCountsRows(sw, c02, rows, scales, y), minMs);
  const spike1 = time(() => k.spikeLinearCountsRows(sw, c1, rows, scales, y), minMs);
  return { f32, int8, spike02, spike1 };
}

function printTable(head: string[], lines: string[][]): void {
  const w = head.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j].length)));
  const fmtRow = (r: string[]) => '| ' + r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join(' | ') + ' |';
  process.stdout.write(fmtRow(head) + '\n');
  process.stdout.write('| ' + w.map((x, j) => (j < 2 ? '-'.repeat(x) : '-'.repeat(x - 1) + ':')).join(' | ') + ' |\n');
  for (const l of lines) process.stdout.write(fmtRow(l) + '\n');
}

main();
