/**
 * One evaluation run: the selected items of every task scored by a loaded model, each item
 * appended to the journal as soon as it is scored, items already in the output or journal
 * reused with --resume, and the final results JSON written atomically.
 */
import fs from 'node:fs';
import type { LlamaModel } from '../model/llama.js';
import type { MethodConfig } from '../sdllm/method.js';
import { describeMethod } from '../sdllm/method.js';
import { backendName } from '../kernels/registry.js';
import { fail } from '../errors.js';
import { DELIMITER, selectItems, type TaskData } from './tasks.js';
import { Scorer, defaultPrefix, type ScoreCounters } from './scoring.js';
import { withOutcome, type SampleRecord, type ScoredRecord } from './metrics.js';
import {
  buildOutput, identityOf, journalPath, loadResumable, serializeOutput, writeAtomic, Journal,
  type EvalConfig, type EvalOutput, type TaskInfo,
} from './results.js';

export interface EvalRunOptions {
  model: LlamaModel;
  /** The model as the user named it (recorded; resumes and merges must name the same). */
  modelPath: string;
  method: MethodConfig;
  tasks: TaskData[];
  limit?: number | null;
  shard?: { k: number; n: number } | null;
  /** Results JSON to write; its journal sits beside it while the run is in progress. */
  output?: string;
  resume?: boolean;
  /** After each item: the task, items done (resumed ones included), items in the task, items resumed. */
  onProgress?: (task: string, done: number, total: number, resumed: number) => void;
}

export interface EvalRunStats extends ScoreCounters {
  seconds: number;
  /** Items scored in this session, and taken from an earlier one. */
  items: number;
  resumed: number;
}

export function evalConfig(model: LlamaModel, modelPath: string, method: MethodConfig, limit: number | null, shard: { k: number; n: number } | null): EvalConfig {
  return {
    model: modelPath,
    method,
    backend: backendName(),
    max_length: model.config.max_position_embeddings,
    prefix: defaultPrefix(model.tokenizer),
    delimiter: DELIMITER,
    method_description: describeMethod(method),
    limit,
    shard,
  };
}

export function runEval(opts: EvalRunOptions): { output: EvalOutput; stats: EvalRunStats } {
  const limit = opts.limit ?? null, shard = opts.shard ?? null;
  const scorer = new Scorer(opts.model);
  const config = evalConfig(opts.model, opts.modelPath, opts.method, limit, shard);
  const identity = identityOf(config);
  const infos: Record<string, TaskInfo> = {};
  const shas: Record<string, string> = {};
  for (const t of opts.tasks) {
    if (infos[t.spec.name]) fail(`task ${t.spec.name} is given twice`);
    infos[t.spec.name] = {
      file: t.spec.file,
      sha256: t.sha256,
      format: t.spec.format,
      metrics: t.spec.metrics,
      version: t.spec.version,
      items_in_file: t.items.length,
      items: limit === null ? t.items.length : Math.min(limit, t.items.length),
    };
    shas[t.spec.name] = t.sha256;
  }

  let done = new Map<string, Map<number, SampleRecord>>();
  let journal: Journal | null = null;
  if (opts.output) {
    const jp = journalPath(opts.output);
    const hasJournal = fs.existsSync(jp);
    if (opts.resume) done = loadResumable(opts.output, identity, shas);
    else if (hasJournal) fail('an interrupted run left its journal here: add --resume to continue it, or delete the journal to start over', jp);
    journal = new Journal(jp, !hasJournal);
    journal.header(identity, shas);
  } else if (opts.resume) fail('--resume needs --output_path (the results file to continue)');

  const t0 = performance.now();
  let items = 0, resumed = 0;
  const samples: Record<string, SampleRecord[]> = {};
  for (const t of opts.tasks) {
    const name = t.spec.name;
    const selected = selectItems(t.items, limit, shard);
    const prev = done.get(name);
    const recs: SampleRecord[] = (samples[name] = []);
    let taskResumed = 0;
    selected.forEach((item, i) => {
      const old = prev?.get(item.idx);
      if (old) {
        recs.push(old);
        taskResumed++;
      } else {
        const scores = scorer.scoreItem(item.requests);
        const base: ScoredRecord = { doc_id: item.idx, ll: scores.map((s) => s.ll), greedy: scores.map((s) => s.greedy), tokens: scores.map((s) => s.tokens) };
        if (item.gold !== undefined) base.gold = item.gold;
        if (item.chars) base.chars = item.chars;
        const rec = withOutcome(t.spec.format, base);
        const truncated = Math.max(...scores.map((s) => s.truncated));
        if (truncated > 0) rec.truncated = truncated;
        journal?.append(name, rec);
        recs.push(rec);
        items++;
      }
      opts.onProgress?.(name, i + 1, selected.length, taskResumed);
    });
    resumed += taskResumed;
  }
  const seconds = (performance.now() - t0) / 1000;
  const output = buildOutput(config, infos, samples);
  if (opts.output) {
    writeAtomic(opts.output, serializeOutput(output));
    journal!.close();
    journal!.remove();
  }
  return { output, stats: { ...scorer.counters, seconds, items, resumed } };
}
