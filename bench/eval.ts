/**
 * Throughput of zero-shot scoring (`sdllm eval`), float models.
 *
 *   npm run bench:eval -- [--items N] [--models sdllm-tiny,sdllm-small] [--no-baseline] [--json]
 *
 * Workload: the first N items (default 25) of each of the nine tasks in ../shared/data/eval.
 * Reported per task and in total: scored tokens/s (continuation tokens whose log-likelihood
 * enters a metric, the number lm-eval's throughput is about), forward tokens/s (positions run
 * through the model), items/s and forward calls. The harness shares each item's context prefix
 * through the KV cache (src/eval/scoring.ts); the baseline runs every (context, choice) request
 * as its own forward pass of [BOS] + whole with logits at every position, as a plain
 * implementation would. Both compute the same log-likelihoods (the largest difference is
 * printed). One warm-up item per task is not timed.
 */
import os from 'node:os';
import fs from 'node:fs';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import type { LlamaModel } from '../src/model/llama.js';
import { backendName, getThreads } from '../src/kernels/node.js';
import { KNOWN_TASKS, loadTask, resolveTask, type TaskData } from '../src/eval/tasks.js';
import { Scorer, lseArgmax } from '../src/eval/scoring.js';
import { SHARED, usageFor, table } from './common.js';

const EVAL_DIR = nodePath.join(SHARED, 'data', 'eval');

interface Opts {
  items: number;
  models: string[];
  baseline: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { items: 25, models: ['sdllm-tiny', 'sdllm-small'], baseline: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--items') {
      o.items = Number(argv[++i]);
      if (!Number.isInteger(o.items) || o.items < 2) usage('--items expects an integer >= 2');
    } else if (a === '--models') o.models = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--no-baseline') o.baseline = false;
    else if (a === '--json') o.json = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  return o;
}

const usage: (problem?: string) => never = usageFor('bench/eval', 'usage: node dist/bench/eval.js [--items N (default 25)] [--models sdllm-tiny,sdllm-small] [--no-baseline] [--json]');

interface Measure {
  seconds: number;
  items: number;
  calls: number;
  forwardTokens: number;
  scoredTokens: number;
}

interface TaskResult {
  task: string;
  harness: Measure;
  baseline: Measure | null;
  maxAbsDiff: number | null;
}

function harness(model: LlamaModel, task: TaskData, n: number, lls: number[][]): Measure {
  const scorer = new Scorer(model);
  scorer.scoreItem(task.items[0].requests); // warm-up
  const before = { ...scorer.counters };
  const t0 = performance.now();
  for (const item of task.items.slice(1, n + 1)) lls.push(scorer.scoreItem(item.requests).map((s) => s.ll));
  const seconds = (performance.now() - t0) / 1000;
  const c = scorer.counters;
  return { seconds, items: n, calls: c.calls - before.calls, forwardTokens: c.forwardTokens - before.forwardTokens, scoredTokens: c.scoredTokens - before.scoredTokens };
}

/** One forward pass per request, logits at every position, no sharing. */
function baseline(model: LlamaModel, task: TaskData, n: number, lls: number[][]): Measure {
  const scorer = new Scorer(model); // for its encoding only
  const V = model.config.vocab_size;
  const cache = model.newCache(model.config.max_position_embeddings);
  const m: Measure = { seconds: 0, items: n, calls: 0, forwardTokens: 0, scoredTokens: 0 };
  const run = (items: typeof task.items, record: boolean) => {
    for (const item of items) {
      const row: number[] = [];
      for (const req of item.requests) {
        const e = scorer.encode(req);
        cache.truncate(0);
        const logits = model.step(e.tokens.slice(0, -1), cache, true);
        let ll = 0;
        for (let j = e.scoreFrom; j < e.tokens.length; j++) ll += logits[(j - 1) * V + e.tokens[j]] - lseArgmax(logits, (j - 1) * V, V)[0];
        row.push(ll);
        if (record) {
          m.calls++;
          m.forwardTokens += e.tokens.length - 1;
          m.scoredTokens += e.tokens.length - e.scoreFrom;
        }
      }
      if (record) lls.push(row);
    }
  };
  run(task.items.slice(0, 1), false);
  const t0 = performance.now();
  run(task.items.slice(1, n + 1), true);
  m.seconds = (performance.now() - t0) / 1000;
  return m;
}

function sum(ms: Measure[]): Measure {
  return ms.reduce((a, b) => ({ seconds: a.seconds + b.seconds, items: a.items + b.items, calls: a.calls + b.calls, forwardTokens: a.forwardTokens + b.forwardTokens, scoredTokens: a.scoredTokens + b.scoredTokens }), { seconds: 0, items: 0, calls: 0, forwardTokens: 0, scoredTokens: 0 });
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  const machine = { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, node: process.version, backend: backendName(), threads: getThreads(), load_avg_1m: os.loadavg()[0] };
  if (!fs.existsSync(EVAL_DIR)) {
    process.stderr.write(`bench/eval: ${EVAL_DIR} not found (set SDLLM_SHARED)\n`);
    process.exit(2);
  }
  const tasks = Object.keys(KNOWN_TASKS).map((t) => loadTask(resolveTask(t, EVAL_DIR)));
  const report: { model: string; tasks: TaskResult[]; total: Measure; baselineTotal: Measure | null }[] = [];
  if (!o.json) process.stdout.write(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, backend ${machine.backend} (${machine.threads} threads), load ${machine.load_avg_1m.toFixed(2)}\nworkload: items 1..${o.items} of each task (item 0 warms up)\n\n`);
  for (const name of o.models) {
    const path = nodePath.join(SHARED, 'models', name, ...(name === 'stories260K' ? ['stories260K.bin'] : []));
    if (!fs.existsSync(path)) {
      process.stderr.write(`bench/eval: ${name} not found at ${path}: skipped\n`);
      continue;
    }
    const model = loadModel(path);
    const results: TaskResult[] = [];
    for (const t of tasks) {
      if (!o.json) process.stderr.write(`${name} ${t.spec.name}...\n`);
      const a: number[][] = [], b: number[][] = [];
      const h = harness(model, t, Math.min(o.items, t.items.length - 1), a);
      const base = o.baseline ? baseline(model, t, Math.min(o.items, t.items.length - 1), b) : null;
      let diff: number | null = null;
      if (base) {
        diff = 0;
        a.forEach((row, i) => row.forEach((x, j) => (diff = Math.max(diff!, Math.abs(x - b[i][j])))));
      }
      results.push({ task: t.spec.name, harness: h, baseline: base, maxAbsDiff: diff });
    }
    const total = sum(results.map((r) => r.harness));
    const baselineTotal = o.baseline ? sum(results.map((r) => r.baseline!)) : null;
    report.push({ model: name, tasks: results, total, baselineTotal });
    if (o.json) continue;
    const f1 = (x: number) => x.toFixed(1);
    const rate = (m: Measure, x: number) => f1(x / m.seconds);
    const rows = [
      ['task', 'items', 'scored tok', 'scored tok/s', 'forward tok/s', 'items/s', 'calls', ...(o.baseline ? ['baseline scored tok/s', 'speed-up', 'max abs Δll'] : [])],
      ...[...results, { task: 'total', harness: total, baseline: baselineTotal, maxAbsDiff: results.reduce((m, r) => Math.max(m, r.maxAbsDiff ?? 0), 0) }].map((r) => [
        r.task, String(r.harness.items), String(r.harness.scoredTokens), rate(r.harness, r.harness.scoredTokens), rate(r.harness, r.harness.forwardTokens), rate(r.harness, r.harness.items), String(r.harness.calls),
        ...(r.baseline ? [rate(r.baseline, r.baseline.scoredTokens), `${(r.baseline.seconds / r.harness.seconds).toFixed(2)}×`, (r.maxAbsDiff ?? 0).toExponential(1)] : []),
      ]),
    ];
    process.stdout.write(`${name}\n${table(rows)}\n\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify({ machine, items: o.items, report }, null, 2) + '\n');
}

main();
