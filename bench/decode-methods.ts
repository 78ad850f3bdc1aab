/**
 * Decode and prefill speed per method, on sdllm-small (the real model, from SDLLM_SHARED) and on
 * synthetic random-weight models of the 110M, TinyLlama-1.1B and LLaMA-2-7B shapes built in
 * memory (src/sdllm/synthetic.ts: no files needed), with the weight bytes read per token and the
 * fraction of this machine's measured memory bandwidth that achieves.
 *
 *   npm run bench:methods -- [--models small,110m,1.1b,7b] [--methods fp,w4a16,w4a4,sdllm,spike-binary]
 *                            [--steps 32] [--steps-7b 4] [--runs 3] [--prefill 512] [--prefill-big 128]
 *                            [--threads N] [--gamma 0.99] [--lm-head float|spiking] [--head-dtype auto|f32|bf16]
 *                            [--no-ts] [--ts-steps 8]
 *                            [--json out.json]
 *
 * Per model and method: an 8-token prompt is run, then `--steps` greedy decode steps are timed
 * (median of `--runs` runs after a warm-up; 7B: `--steps-7b` steps); one more step runs with the
 * operation counters on (src/energy/count.ts) and gives the weight bytes read per token (packed
 * weights and scales of every linear, float tensors at 4 bytes, embedding row); prefill/scoring
 * speed is one forward of `--prefill` tokens with logits at every position (what perplexity and
 * lm-eval scoring run; `--prefill-big` tokens for 1.1B and 7B). `sdllm` runs with γ fixed
 * (`--gamma`, no calibration), execution `counts`. `--lm-head spiking` gives every quantized method
 * a 4-bit lm_head (spike-coded, or w4a16's float-activation kernel) instead of the float one
 * (the methods' default). A float lm_head is held as each shape's real checkpoint gives it
 * (`--head-dtype auto`, SYNTHETIC_HEAD_DTYPE: bf16 words for 1.1B, float32 for 110M and 7B;
 * sdllm-small's own bf16 head); `f32` or `bf16` force one storage for the synthetic shapes.
 * The memory bandwidth is measured in the conditions the decode meets: two multi-threaded read
 * passes over 512 MB (the native streamBandwidth kernel) before each of a method's decode runs
 * and after the last, and their median is the bound (this host's bandwidth moves within seconds:
 * a probe taken only before and after all the runs sometimes caught a burst the decode never
 * saw); each method's achieved GB/s is given as a fraction of it. Finally the `ts` backend decodes sdllm-small with
 * `sdllm` for the native-vs-ts speedup (`--no-ts` skips it).
 *
 * The machine's load average is printed with every model: other work on a shared machine slows
 * everything down, compute-bound kernels most. fp is skipped for 7B (28 GB of float weights), and
 * any model whose weights would not fit in free memory is skipped with a message.
 */
import os from 'node:os';
import fs from 'node:fs';
import nodePath from 'node:path';
import { backendName, cpuFeatures, getThreads, nativeLoadError, registeredBackends, setBackend, setThreads, streamBandwidth } from '../src/kernels/node.js';
import { openCheckpoint, loadFloatWeights } from '../src/model/load.js';
import { parameterCount, type ModelConfig } from '../src/model/config.js';
import type { LlamaModel } from '../src/model/llama.js';
import { prepareModel, assembleModel, type PreparedModel } from '../src/sdllm/prepare.js';
import { resolveMethod, describeMethod, type MethodConfig } from '../src/sdllm/method.js';
import { syntheticConfig, syntheticModel, preparedBytes, SYNTHETIC_HEAD_DTYPE, SYNTHETIC_SHAPES, type SyntheticShape } from '../src/sdllm/synthetic.js';
import type { HeadDType } from '../src/formats/sdllm-file-core.js';
import { enableOpCounting, disableOpCounting, opReport } from '../src/energy/count.js';
import { SHARED, usageFor, intArg, median, printTable } from './common.js';

const SMALL = nodePath.join(SHARED, 'models', 'sdllm-small');

interface Args {
  models: string[];
  methods: string[];
  steps: number;
  steps7b: number;
  runs: number;
  prefill: number;
  prefillBig: number;
  threads: number | null;
  gamma: number;
  lmHead: 'float' | 'spiking';
  headDType: 'auto' | HeadDType;
  ts: boolean;
  tsSteps: number;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    models: ['small', '110m', '1.1b', '7b'],
    methods: ['fp', 'w4a16', 'w4a4', 'sdllm', 'spike-binary'],
    steps: 32,
    steps7b: 4,
    runs: 3,
    prefill: 512,
    prefillBig: 128,
    threads: null,
    gamma: 0.99,
    lmHead: 'float',
    headDType: 'auto',
    ts: true,
    tsSteps: 8,
  };
  const int = (flag: string, v: string | undefined, min: number): number => intArg(flag, v, min, usage);
  for (let k = 0; k < argv.length; k++) {
    const f = argv[k], v = argv[k + 1];
    switch (f) {
      case '--models': a.models = (v ?? '').split(','); k++; break;
      case '--methods': a.methods = (v ?? '').split(','); k++; break;
      case '--steps': a.steps = int(f, v, 1); k++; break;
      case '--steps-7b': a.steps7b = int(f, v, 1); k++; break;
      case '--runs': a.runs = int(f, v, 1); k++; break;
      case '--prefill': a.prefill = int(f, v, 0); k++; break;
      case '--prefill-big': a.prefillBig = int(f, v, 0); k++; break;
      case '--threads': a.threads = int(f, v, 1); k++; break;
      case '--gamma': a.gamma = Number(v); k++; break;
      case '--lm-head':
        if (v !== 'float' && v !== 'spiking') usage(`--lm-head expects float or spiking, got ${JSON.stringify(v)}`);
        a.lmHead = v;
        k++;
        break;
      case '--head-dtype':
        if (v !== 'auto' && v !== 'f32' && v !== 'bf16') usage(`--head-dtype expects auto, f32 or bf16, got ${JSON.stringify(v)}`);
        a.headDType = v === 'auto' ? v : v === 'f32' ? 'F32' : 'BF16';
        k++;
        break;
      case '--no-ts': a.ts = false; break;
      case '--ts-steps': a.tsSteps = int(f, v, 1); k++; break;
      case '--json': a.json = v; k++; break;
      case '--help': case '-h': usage();
      default: usage(`unknown argument ${JSON.stringify(f)}`);
    }
  }
  for (const m of a.models) if (m !== 'small' && !(m in SYNTHETIC_SHAPES)) usage(`unknown model ${m} (small, ${Object.keys(SYNTHETIC_SHAPES).join(', ')})`);
  return a;
}

const usage: (problem?: string) => never = usageFor(
  'bench/decode-methods',
  'usage: node dist/bench/decode-methods.js [--models small,110m,1.1b,7b] [--methods fp,w4a16,w4a4,sdllm,spike-binary] [--steps 32] [--steps-7b 4] [--runs 3] [--prefill 512] [--prefill-big 128] [--threads N] [--gamma 0.99] [--lm-head float|spiking] [--head-dtype auto|f32|bf16] [--no-ts] [--ts-steps 8] [--json FILE]',
);

function load(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

interface Row {
  model: string;
  method: string;
  describe: string;
  decode_tok_s: number;
  decode_min: number;
  decode_max: number;
  steps: number;
  weight_bytes_per_token: number;
  achieved_gb_s: number;
  bandwidth_fraction: number;
  stream_gb_s: number;
  prefill_tokens: number;
  prefill_tok_s: number | null;
  resident_weight_bytes: number;
  load_avg: string;
}

/** Decode: `steps` greedy tokens after the prompt, timed; returns tok/s per run. */
/** Decode tok/s of each of `runs` runs; `between` runs before each run and after the last (the bandwidth probe). */
function timeDecode(model: LlamaModel, prompt: number[], steps: number, runs: number, between: () => void = () => {}): number[] {
  const once = (n: number): number => {
    const cache = model.newCache(prompt.length + n + 1);
    let logits = model.step(prompt, cache);
    let next = argmax(logits);
    const t0 = performance.now();
    for (let s = 0; s < n; s++) {
      logits = model.step([next], cache);
      next = argmax(logits);
    }
    return (1000 * n) / (performance.now() - t0);
  };
  once(Math.min(steps, 4)); // warm-up: JIT, first touch of every weight
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    between();
    rates.push(once(steps));
  }
  between();
  return rates;
}

/** Weight bytes read by one decode step (op counters). */
function bytesPerToken(model: LlamaModel, prompt: number[]): number {
  const cache = model.newCache(prompt.length + 2);
  model.step(prompt, cache);
  enableOpCounting(model);
  model.step([5], cache);
  const r = opReport(model);
  disableOpCounting(model);
  return r.total.weight_bytes / Math.max(1, r.tokens);
}

/** Prefill / scoring: one forward of `n` tokens with logits at every position; tok/s. */
function timePrefill(model: LlamaModel, n: number, runs: number): number {
  const ids = Array.from({ length: n }, (_, k) => 3 + ((k * 7919) % 250));
  const once = () => {
    const cache = model.newCache(n);
    const t0 = performance.now();
    model.step(ids, cache, true);
    return (1000 * n) / (performance.now() - t0);
  };
  return median(Array.from({ length: runs }, once));
}

function methodFor(name: string, gamma: number, lmHead: 'float' | 'spiking' = 'float'): MethodConfig {
  const over = { calibrate: false, ...(lmHead === 'spiking' && name !== 'fp' ? { lmHead } : {}) };
  return name === 'sdllm' || name === 'sdllm-t3' || name === 'sdllm-t1' ? resolveMethod(name, { gamma, ...over }) : resolveMethod(name, over);
}

/** Estimated bytes a synthetic model of this shape needs for `method` (weights, scales, kernel copies, caches). */
function syntheticNeed(c: ModelConfig, m: MethodConfig, prefill: number): number {
  const d = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers, kvd = c.num_key_value_heads * c.head_dim, qd = c.num_attention_heads * c.head_dim;
  const linParams = L * (d * qd + 2 * d * kvd + qd * d + 3 * d * I);
  const perWeight = m.weightBits === null ? 4 : m.weightBits === 8 ? 1 : 0.5;
  const scales = m.weightBits === null ? 0 : (2 * 4 * linParams) / m.groupSize; // row-major + the kernels' group-major copy
  const floats = 2 * c.vocab_size * d * 4;
  const caches = 2 * L * Math.max(prefill, 64) * kvd * 4 + prefill * (c.vocab_size + 4 * I) * 4;
  return linParams * perWeight + scales + floats + caches;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.threads !== null) setThreads(args.threads);
  const cpus = os.cpus();
  const native = registeredBackends().includes('native');
  process.stdout.write(`# sdllm decode / prefill per method\n`);
  process.stdout.write(`cpu:       ${cpus[0]?.model.trim() ?? 'unknown'} (${os.availableParallelism()} logical cores), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(os.freemem() / 2 ** 30).toFixed(1)} free)\n`);
  process.stdout.write(`node:      ${process.version} ${process.platform}-${process.arch}\n`);
  process.stdout.write(`kernels:   ${backendName()}${native ? ` (${cpuFeatures()}), ${getThreads()} threads` : ` (native unavailable: ${nativeLoadError()})`}\n`);
  process.stdout.write(`load:      ${load()} (1/5/15-minute averages at the start)\n`);
  const streams: number[][] = [];
  /** Passes of the read-bandwidth probe (GB/s each), recorded for the JSON. */
  const streamPasses = (passes = 5): number[] => {
    const bw = (native ? streamBandwidth(512 * 2 ** 20, passes) : null) ?? [jsStream()];
    streams.push(bw);
    return bw;
  };
  const stream0 = median(streamPasses());
  process.stdout.write(`memory:    ${stream0.toFixed(1)} GB/s read bandwidth now (median of 5 passes over 512 MB, ${native ? `${getThreads()} threads: ${streams[0].map((x) => x.toFixed(1)).join(' ')}` : 'JS, 1 thread'}); measured again between each method's decode runs\n`);
  process.stdout.write(`decode:    8-token prompt, then ${args.steps} greedy steps (7B: ${args.steps7b}), median of ${args.runs} runs; prefill ${args.prefill} tokens (1.1B/7B: ${args.prefillBig}) with all logits; lm_head ${args.lmHead}${args.lmHead === 'float' ? ` (${args.headDType === 'auto' ? 'as each checkpoint stores it: bf16 for 1.1B and sdllm-small, float32 for 110M and 7B' : args.headDType})` : ''}\n\n`);

  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const key of args.models) {
    const big = key === '7b' || key === '1.1b';
    const steps = key === '7b' ? args.steps7b : args.steps;
    const prefill = big ? args.prefillBig : args.prefill;
    const runs = key === '7b' ? Math.min(args.runs, 2) : args.runs;
    let config: ModelConfig;
    let modelName: string;
    if (key === 'small') {
      if (!fs.existsSync(SMALL)) {
        skipped.push(`sdllm-small: not found at ${SMALL} (set SDLLM_SHARED)`);
        continue;
      }
      config = openCheckpoint(SMALL).config;
      modelName = 'sdllm-small';
    } else {
      config = syntheticConfig(key as SyntheticShape);
      modelName = `synthetic ${key}`;
    }
    process.stderr.write(`${modelName} (${(parameterCount(config) / 1e6).toFixed(0)} M parameters), load ${load()}\n`);
    let shared4: PreparedModel | null = null; // synthetic 4-bit weights, shared by the 4-bit methods
    for (const name of args.methods) {
      const method = methodFor(name, args.gamma, args.lmHead);
      if (key === '7b' && method.weightBits === null) {
        skipped.push(`${modelName} ${name}: float weights of a 7B model (28 GB) not attempted`);
        continue;
      }
      let prepared: PreparedModel;
      const t0 = performance.now();
      if (key === 'small') {
        const ck = openCheckpoint(SMALL);
        prepared = prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), method);
      } else {
        const need = syntheticNeed(config, method, prefill);
        if (!(method.weightBits === 4 && shared4) && need > 0.85 * os.freemem()) {
          skipped.push(`${modelName} ${name}: needs about ${(need / 2 ** 30).toFixed(1)} GiB, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`);
          continue;
        }
        const synth = { headDType: args.headDType === 'auto' ? SYNTHETIC_HEAD_DTYPE[key as SyntheticShape] : args.headDType };
        if (method.weightBits === 4) {
          shared4 ??= syntheticModel(config, method, synth);
          prepared = { ...shared4, method };
        } else prepared = syntheticModel(config, method, synth);
      }
      const model = assembleModel(prepared);
      const prompt = key === 'small' ? model.tokenizer.encode('Once upon a time, there was a').slice(0, 8) : [1, 3, 4, 5, 6, 7, 8, 9];
      process.stderr.write(`  ${name}: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s, decoding...\n`);
      // The host's bandwidth moves within seconds (bursts of +30-60 % lasting a few seconds hit
      // every buffer alike), so the probe brackets every decode run: both medians then sample
      // the same stretch of time.
      const probe: number[] = [];
      const rates = timeDecode(model, prompt, steps, runs, () => probe.push(...streamPasses(2)));
      const stream = median(probe);
      const bytes = bytesPerToken(model, prompt);
      const tok = median(rates);
      const pre = prefill > 0 ? timePrefill(model, prefill, 1) : null;
      const achieved = (bytes * tok) / 1e9;
      rows.push({
        model: modelName,
        method: name,
        describe: describeMethod(method),
        decode_tok_s: tok,
        decode_min: Math.min(...rates),
        decode_max: Math.max(...rates),
        steps,
        weight_bytes_per_token: bytes,
        achieved_gb_s: achieved,
        bandwidth_fraction: achieved / stream,
        stream_gb_s: stream,
        prefill_tokens: prefill,
        prefill_tok_s: pre,
        resident_weight_bytes: preparedBytes(prepared),
        load_avg: load(),
      });
      process.stderr.write(`  ${name}: ${tok.toFixed(2)} tok/s decode, ${pre === null ? '-' : pre.toFixed(1)} tok/s prefill, ${(bytes / 1e6).toFixed(1)} MB/token, read bandwidth ${stream.toFixed(1)} GB/s (load ${load()})\n`);
      gc();
    }
    shared4 = null;
    gc();
  }

  let tsSpeedup: { native_tok_s: number; ts_tok_s: number; speedup: number; steps: number } | null = null;
  if (args.ts && native && fs.existsSync(SMALL)) {
    const ck = openCheckpoint(SMALL);
    const model = assembleModel(prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), methodFor('sdllm', args.gamma)));
    const prompt = model.tokenizer.encode('Once upon a time, there was a').slice(0, 8);
    const nat = median(timeDecode(model, prompt, args.steps, args.runs));
    setBackend('ts');
    const tsr = median(timeDecode(model, prompt, args.tsSteps, Math.min(args.runs, 2)));
    setBackend('native');
    tsSpeedup = { native_tok_s: nat, ts_tok_s: tsr, speedup: nat / tsr, steps: args.tsSteps };
  }

  const f = (x: number, d = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
  const head = ['model', 'method', 'decode tok/s', 'min–max', 'weights MB/token', 'GB/s', 'stream GB/s', '% of stream', 'prefill tok/s', 'resident MB', 'load'];
  const lines = rows.map((r) => [
    r.model, r.method, f(r.decode_tok_s, 2), `${f(r.decode_min, 2)}–${f(r.decode_max, 2)}`, f(r.weight_bytes_per_token / 1e6),
    f(r.achieved_gb_s, 2), f(r.stream_gb_s), `${(100 * r.bandwidth_fraction).toFixed(0)}%`, r.prefill_tok_s === null ? '-' : `${f(r.prefill_tok_s)} (${r.prefill_tokens})`,
    f(r.resident_weight_bytes / 1e6, 0), r.load_avg.split(' ')[0],
  ]);
  printTable(head, lines);
  if (tsSpeedup)
    process.stdout.write(`\nsdllm on sdllm-small, native vs ts backend: ${tsSpeedup.native_tok_s.toFixed(1)} vs ${tsSpeedup.ts_tok_s.toFixed(2)} tok/s = ${tsSpeedup.speedup.toFixed(1)}x\n`);
  for (const s of skipped) process.stdout.write(`skipped: ${s}\n`);
  process.stdout.write(`load average at the end: ${load()}\n`);
  if (args.json) {
    const out = {
      machine: { cpu: cpus[0]?.model.trim(), cores: os.availableParallelism(), memory_gib: os.totalmem() / 2 ** 30, node: process.version, features: cpuFeatures(), threads: getThreads(), backend: backendName() },
      stream_passes: streams,
      args,
      rows,
      ts_speedup: tsSpeedup,
      skipped,
    };
    fs.writeFileSync(args.json, JSON.stringify(out, null, 2));
  }
}

/** Read bandwidth without the addon: a JS sum over 256 MB, 3 passes, median GB/s. */
function jsStream(): number {
  const a = new Float64Array(32 * 2 ** 20).fill(1);
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    rates.push((a.byteLength / ((performance.now() - t0) / 1000)) / 1e9 + s * 0);
  }
  return median(rates);
}

main();
