/**
 * Where a decode step's time goes: every registered kernel is wrapped with a timer while a model
 * decodes greedily, and the milliseconds per token of each kernel, of the whole step and of the
 * rest (the TypeScript between kernel calls) are printed.
 *
 *   npm run build && node dist/bench/decode-profile.js [--model small|110m|1.1b|7b] [--method sdllm] [--tokens 24] [--threads N] [--by-shape]
 *
 * --by-shape splits the weight kernels by layer shape (out x in), with calls and GB/s of packed
 * weights read per call: which layers fall short of the memory's speed.
 * `small` is sdllm-small from SDLLM_SHARED (γ fixed at 0.99, no calibration); the others are the
 * synthetic random-weight models of src/sdllm/synthetic.ts, built in memory, with the float
 * lm_head held as each shape's real checkpoint gives it (SYNTHETIC_HEAD_DTYPE: bf16 for 1.1B).
 */
import nodePath from 'node:path';
import os from 'node:os';
import { kernels, setThreads, getThreads, backendName, type KernelSet } from '../src/kernels/node.js';
import { syntheticConfig, syntheticModel, SYNTHETIC_HEAD_DTYPE, SYNTHETIC_SHAPES, type SyntheticShape } from '../src/sdllm/synthetic.js';
import { assembleModel } from '../src/sdllm/prepare.js';
import { resolveMethod, METHOD_NAMES } from '../src/sdllm/method.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { generate } from '../src/generate/generate.js';
import type { LlamaModel } from '../src/model/llama.js';
import { SHARED, intArg, printTable, usageFor } from './common.js';

const usage: (problem?: string) => never = usageFor(
  'bench/decode-profile',
  'usage: node dist/bench/decode-profile.js [--model small|110m|1.1b|7b] [--method sdllm] [--tokens 24] [--threads N] [--by-shape]',
);

interface Args { model: string; method: string; tokens: number; threads: number | null; byShape: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { model: 'small', method: 'sdllm', tokens: 24, threads: null, byShape: false };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k + 1];
    switch (argv[k]) {
      case '--model': a.model = v ?? usage('--model expects a value'); k++; break;
      case '--method': a.method = v ?? usage('--method expects a value'); k++; break;
      case '--tokens': a.tokens = intArg('--tokens', v, 1, usage); k++; break;
      case '--threads': a.threads = intArg('--threads', v, 1, usage); k++; break;
      case '--by-shape': a.byShape = true; break;
      case '--help': case '-h': usage(); break;
      default: usage(`unknown argument ${JSON.stringify(argv[k])}`);
    }
  }
  if (a.model !== 'small' && !(a.model in SYNTHETIC_SHAPES)) usage(`unknown model ${a.model} (small, ${Object.keys(SYNTHETIC_SHAPES).join(', ')})`);
  if (!(METHOD_NAMES as readonly string[]).includes(a.method)) usage(`unknown method ${a.method} (${METHOD_NAMES.join(', ')})`);
  return a;
}

function load(model: string, method: string): LlamaModel {
  const overrides = method === 'sdllm' || method.startsWith('sdllm-') ? { gamma: 0.99 } : {};
  if (model === 'small') return loadMethodModel(nodePath.join(SHARED, 'models', 'sdllm-small'), { method, overrides }).model;
  const shape = model as SyntheticShape;
  return assembleModel(syntheticModel(syntheticConfig(shape), resolveMethod(method, overrides), { headDType: SYNTHETIC_HEAD_DTYPE[shape] }));
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  if (a.threads) setThreads(a.threads);
  const model = load(a.model, a.method);
  // Wrap the active kernel set in place: model code looks kernels up per call (registry.ts).
  const k = kernels() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const ms: Record<string, number> = {};
  const shapes = new Map<string, { ms: number; calls: number; bytes: number }>();
  for (const name of Object.keys(k)) {
    const f = k[name];
    k[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      const r = f(...args);
      const dt = performance.now() - t0;
      ms[name] = (ms[name] ?? 0) + dt;
      const w = args[0] as { packed?: Uint8Array; blocks?: Uint8Array; m?: number; n?: number };
      const bytes = w?.packed ?? w?.blocks; // 4-bit columns or decode blocks
      if (a.byShape && bytes instanceof Uint8Array) {
        const key = `${name} ${w.m} x ${w.n}`;
        const e = shapes.get(key) ?? { ms: 0, calls: 0, bytes: bytes.byteLength };
        e.ms += dt;
        e.calls++;
        shapes.set(key, e);
      }
      return r;
    };
  }
  const prompt = [1, 2, 3, 4, 5, 6, 7, 8].map((t) => t % model.config.vocab_size);
  generate(model, prompt, { max_new_tokens: 4, eos_token_id: [] }); // warm-up
  const cache = model.newCache(prompt.length + a.tokens + 1);
  let last = model.step(prompt, cache);
  for (const key of Object.keys(ms)) ms[key] = 0;
  shapes.clear();
  const t0 = performance.now();
  for (let t = 0; t < a.tokens; t++) {
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    last = model.step([best], cache);
  }
  const total = (performance.now() - t0) / a.tokens;
  process.stdout.write(`# decode profile: ${a.model === 'small' ? 'sdllm-small' : `synthetic ${a.model}`}, ${a.method}, ${a.tokens} tokens after an 8-token prompt\n`);
  process.stdout.write(`kernels: ${backendName()}, ${getThreads()} thread(s); load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n\n`);
  const used = (Object.entries(ms) as [keyof KernelSet, number][]).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const inKernels = used.reduce((s, [, v]) => s + v, 0) / a.tokens;
  const lines = used.map(([name, v]) => [name, (v / a.tokens).toFixed(3), `${((100 * v) / a.tokens / total).toFixed(1)} %`]);
  lines.push(['(TypeScript between kernels)', (total - inKernels).toFixed(3), `${((100 * (total - inKernels)) / total).toFixed(1)} %`]);
  lines.push(['whole step', total.toFixed(3), `${(1000 / total).toFixed(1)} tok/s`]);
  printTable(['kernel', 'ms/token', 'share'], lines);
  if (a.byShape) {
    process.stdout.write('\n');
    const rows = [...shapes.entries()].sort((x, y) => y[1].ms - x[1].ms).map(([key, e]) => [
      key, (e.ms / a.tokens).toFixed(3), (e.calls / a.tokens).toFixed(0), ((1000 * e.ms) / e.calls).toFixed(1),
      ((e.bytes * e.calls) / (e.ms * 1e6)).toFixed(1),
    ]);
    printTable(['kernel and shape (out x in)', 'ms/token', 'calls/token', 'µs/call', 'GB/s of packed weights'], rows);
  }
}

main();
