/**
 * Decode throughput of the float engine on the three shared models.
 *
 *   npm run bench:decode -- [--runs N] [--tokens N] [--json]
 *
 * For each model: greedy generation of `--tokens` (default 128) new tokens from "Once upon a time"
 * with no EOS (so every run produces exactly that many), one warm-up run, then N timed runs
 * (default 5). Reported per model: prompt tok/s (the batched prefill) and decode tok/s, as
 * median, min and max over the runs. Rates are the ones `sdllm generate` prints: prompt tokens
 * over prefill time, and generated tokens over the time from the end of prefill to the last token.
 * Models are found under SDLLM_SHARED (default ../shared relative to the repository root).
 */
import os from 'node:os';
import fs from 'node:fs';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import { parameterCount } from '../src/model/config.js';
import { generate } from '../src/generate/generate.js';
import { SHARED, usageFor, intArg, median, table } from './common.js';

const MODELS = [
  { name: 'stories260K', path: nodePath.join(SHARED, 'models', 'stories260K', 'stories260K.bin') },
  { name: 'sdllm-tiny', path: nodePath.join(SHARED, 'models', 'sdllm-tiny') },
  { name: 'sdllm-small', path: nodePath.join(SHARED, 'models', 'sdllm-small') },
];
const PROMPT = 'Once upon a time';

interface Stats {
  median: number;
  min: number;
  max: number;
}

interface Result {
  model: string;
  path: string;
  params: number;
  prompt_tokens: number;
  new_tokens: number;
  load_ms: number;
  prompt_tok_s: Stats;
  decode_tok_s: Stats;
  runs: { prompt_ms: number; generate_ms: number }[];
}

function parseArgs(argv: string[]): { runs: number; tokens: number; json: boolean } {
  const opts = { runs: 5, tokens: 128, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') opts.runs = intArg(a, argv[++i], 1, usage);
    else if (a === '--tokens') opts.tokens = intArg(a, argv[++i], 1, usage);
    else if (a === '--json') opts.json = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  return opts;
}

const usage: (problem?: string) => never = usageFor('bench/decode', 'usage: node dist/bench/decode.js [--runs N (default 5)] [--tokens N (default 128)] [--json]');

function stats(xs: number[]): Stats {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

function benchModel(name: string, path: string, runs: number, tokens: number): Result {
  const t0 = performance.now();
  const model = loadModel(path);
  const loadMs = performance.now() - t0;
  const ids = model.tokenizer.encode(PROMPT);
  const once = () => {
    const res = generate(model, ids, { max_new_tokens: tokens, eos_token_id: [] });
    if (res.newTokens.length !== tokens) throw new Error(`${name}: generated ${res.newTokens.length} tokens, expected ${tokens} (context too short?)`);
    return res.timings;
  };
  once(); // warm-up: JIT, caches, first-touch of the weights
  const timings = Array.from({ length: runs }, once);
  return {
    model: name,
    path,
    params: parameterCount(model.config),
    prompt_tokens: ids.length,
    new_tokens: tokens,
    load_ms: loadMs,
    prompt_tok_s: stats(timings.map((t) => (1000 * t.promptTokens) / t.promptMs)),
    decode_tok_s: stats(timings.map((t) => (1000 * t.generatedTokens) / t.generateMs)),
    runs: timings.map((t) => ({ prompt_ms: t.promptMs, generate_ms: t.generateMs })),
  };
}

function formatParams(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} K`;
}

function main(): void {
  const { runs, tokens, json } = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
  };
  if (!json) {
    process.stdout.write(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gib} GiB, node ${machine.node}, ${machine.platform}\n`);
    process.stdout.write(`greedy generation of ${tokens} tokens from ${JSON.stringify(PROMPT)}, no EOS; 1 warm-up run, then ${runs} timed runs\n\n`);
  }
  const results: Result[] = [];
  for (const m of MODELS) {
    if (!fs.existsSync(m.path)) {
      process.stderr.write(`bench/decode: ${m.name} not found at ${m.path} (set SDLLM_SHARED): skipped\n`);
      continue;
    }
    if (!json) process.stderr.write(`${m.name}...\n`);
    results.push(benchModel(m.name, m.path, runs, tokens));
  }
  if (json) {
    process.stdout.write(JSON.stringify({ machine, prompt: PROMPT, new_tokens: tokens, runs, results }, null, 2) + '\n');
    return;
  }
  const f = (x: number) => x.toFixed(1);
  const rows = [
    ['model', 'params', 'prompt tok', 'prompt tok/s', 'decode tok/s (median)', 'min', 'max'],
    ...results.map((r) => [r.model, formatParams(r.params), String(r.prompt_tokens), f(r.prompt_tok_s.median), f(r.decode_tok_s.median), f(r.decode_tok_s.min), f(r.decode_tok_s.max)]),
  ];
  process.stdout.write(table(rows) + '\n');
}

main();
