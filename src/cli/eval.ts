import type { Command } from 'commander';
import nodePath from 'node:path';
import { DEFAULT_MODEL, SHARED_DIR } from '../paths.js';
import { fail } from '../errors.js';
import { loadMethodModel } from '../sdllm/load.js';
import { describeMethod } from '../sdllm/method.js';
import { loadTask, parseShard, resolveTask, KNOWN_TASKS, type TaskData } from '../eval/tasks.js';
import { runEval, type EvalRunStats } from '../eval/harness.js';
import { lmEvalTable } from '../eval/table.js';
import type { EvalOutput } from '../eval/results.js';
import { intArg } from './options.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { ProgressBar } from './progress.js';

export const DEFAULT_EVAL_DIR = nodePath.join(SHARED_DIR, 'data', 'eval');

interface EvalFlags extends MethodFlags {
  model: string;
  tasks: string;
  limit?: number;
  dataDir: string;
  output_path?: string;
  outputPath?: string;
  resume?: boolean;
  shard?: string;
  json?: boolean;
}

/** Task arguments (comma-separated names, paths or name=path) loaded and validated. */
export function loadTasks(list: string, dataDir: string): TaskData[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) fail('--tasks is empty');
  return names.map((n) => loadTask(resolveTask(n, dataDir)));
}

/** A bar per task with items/s and ETA (rate of this session's items only), redrawn at most 10×/s. */
export function taskProgress(enabled: boolean, tasks: string[]): { bar: ProgressBar; onProgress: (task: string, done: number, total: number, resumed: number) => void } {
  const bar = new ProgressBar(enabled);
  let last = 0;
  return {
    bar,
    onProgress: (task, done, total, resumed) => {
      const now = performance.now();
      if (done === total || done === 1 || now - last > 100) {
        last = now;
        bar.update(`${task} (${tasks.indexOf(task) + 1}/${tasks.length})`, done, total, 'items', resumed);
      }
    },
  };
}

export function formatRunStats(s: EvalRunStats): string {
  const rate = (x: number) => (s.seconds > 0 ? (x / s.seconds).toFixed(1) : '-');
  return `${s.items} items scored${s.resumed ? ` (${s.resumed} resumed)` : ''} in ${s.seconds.toFixed(1)} s: ${rate(s.items)} items/s, ` +
    `${rate(s.scoredTokens)} scored tokens/s (${s.scoredTokens} scored, ${s.forwardTokens} run in ${s.calls} forward calls, ${rate(s.forwardTokens)} tokens/s)`;
}

export function runHeader(out: EvalOutput): string {
  const c = out.config;
  return `sdllm (model=${c.model}, method=${c.method_description}), limit: ${c.limit ?? 'None'}, num_fewshot: 0, shard: ${c.shard ? `${c.shard.k}/${c.shard.n}` : 'None'}, backend: ${c.backend}`;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('zero-shot tasks by log-likelihood (lm-eval protocol): acc, acc_norm, stderr; per-item JSON, --resume, --shard')
    .option('--model <path>', 'Hugging Face folder, llama2.c .bin or converted .sdllm file', DEFAULT_MODEL)
    .requiredOption('--tasks <list>', `comma-separated: ${Object.keys(KNOWN_TASKS).join(', ')}, a .jsonl path, or name=path`)
    .option('--limit <n>', 'only the first n items of each task', intArg(1))
    .option('--data-dir <dir>', 'folder of the task files', DEFAULT_EVAL_DIR)
    .option('--output_path <file>', 'results JSON with every item\'s log-likelihoods (items are journalled as they are scored)')
    .option('--output-path <file>', 'same as --output_path')
    .option('--resume', 'continue the interrupted (or extend the finished) run in --output_path')
    .option('--shard <K/N>', 'score only items whose index is K mod N (0 <= K < N); combine with sdllm merge')
    .option('--json', 'print the results (without samples) as JSON instead of the table');
  addMethodOptions(cmd).action((f: EvalFlags) => {
    const output = f.output_path ?? f.outputPath;
    if (f.output_path && f.outputPath && f.output_path !== f.outputPath) fail('--output_path and --output-path name different files');
    const shard = f.shard !== undefined ? parseShard(f.shard) : null;
    if (f.resume && !output) fail('--resume needs --output_path (the results file to continue)');
    const tasks = loadTasks(f.tasks, f.dataDir);
    const { model, method } = loadMethodModel(f.model, methodLoadOptions(f));
    const { bar, onProgress } = taskProgress(!f.quiet && Boolean(process.stderr.isTTY), tasks.map((t) => t.spec.name));
    const { output: out, stats } = runEval({ model, modelPath: f.model, method, tasks, limit: f.limit ?? null, shard, output, resume: f.resume, onProgress });
    bar.done();
    if (f.json) {
      const { samples: _samples, ...rest } = out;
      process.stdout.write(JSON.stringify(rest, null, 2) + '\n');
    } else {
      process.stdout.write(`${runHeader(out)}\n${lmEvalTable(out)}`);
    }
    if (!f.quiet) process.stderr.write(`${describeMethod(method)}\n${formatRunStats(stats)}\n`);
  });
}
