import type { Command } from 'commander';
import fs from 'node:fs';
import nodePath from 'node:path';
import { DEFAULT_MODEL, SHARED_DIR } from '../paths.js';
import { fail } from '../errors.js';
import { loadMethodModel, readText } from '../sdllm/load.js';
import { METHOD_NAMES, describeMethod } from '../sdllm/method.js';
import { perplexity, protocolTokens } from '../eval/perplexity.js';
import { runEval } from '../eval/harness.js';
import { readOutput, writeAtomic, type EvalOutput } from '../eval/results.js';
import { pairwise, type PairwiseCounts } from '../eval/metrics.js';
import { markdownTable } from '../eval/table.js';
import { intArg } from './options.js';
import { addModelOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { resolveTextData, TEXT_DATASETS } from './ppl.js';
import { DEFAULT_EVAL_DIR, formatRunStats, loadTasks, taskProgress } from './eval.js';
import { ProgressBar } from './progress.js';
import { measure, perToken } from '../energy/measure.js';
import { HOROWITZ_45NM, loadEnergyTable, type EnergyTable } from '../energy/table.js';
import { joules } from './energy.js';

interface CompareFlags extends MethodFlags {
  model: string;
  methods: string;
  tasks?: string;
  ppl?: string;
  pplCtx: number;
  pplLimit?: number;
  limit?: number;
  dataDir: string;
  textDir: string;
  outputDir?: string;
  resume?: boolean;
  json?: boolean;
  energyTokens: number;
  energyData?: string;
  energyTable?: string;
}

/** Energy per token from operation counts priced by a named table (src/energy), floats as fp16. */
export interface EnergyEntry {
  table: string;
  data: string;
  tokens: number;
  compute_pJ_per_token: number;
  total_pJ_per_token: number;
}

export interface PplEntry {
  data: string;
  protocol: 'gptq';
  ctx: number;
  /** --ppl-limit (null: every window). */
  limit: number | null;
  windows: number;
  scored_tokens: number;
  mean_nll: number;
  ppl: number;
}

/** One row of the comparison: a method's task results and perplexities. */
export interface CompareRow {
  label: string;
  method: string;
  description: string;
  eval: EvalOutput | null;
  ppl: Record<string, PplEntry>;
  energy?: EnergyEntry;
}

export interface CompareReport {
  model: string;
  rows: CompareRow[];
  /** Item-by-item, every row against the first: per task (acc). */
  agreement: Record<string, Record<string, PairwiseCounts>>;
}

const fmtAcc = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : '–');
const fmtPpl = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(2) : '–');

/** Columns: every task's metrics (in lm-eval's order), their mean acc, then the perplexities. */
export function compareTable(report: CompareReport): string {
  const tasks: { task: string; metric: string }[] = [];
  const seen = new Set<string>();
  const pplSets: string[] = [];
  for (const r of report.rows) {
    if (r.eval)
      for (const [t, info] of Object.entries(r.eval.tasks))
        for (const m of info.metrics) if (!seen.has(`${t} ${m}`)) (seen.add(`${t} ${m}`), tasks.push({ task: t, metric: m }));
    for (const s of Object.keys(r.ppl)) if (!pplSets.includes(s)) pplSets.push(s);
  }
  const accTasks = [...new Set(tasks.filter((c) => c.metric === 'acc').map((c) => c.task))];
  const energy = report.rows.some((r) => r.energy);
  const header = [
    'method', ...tasks.map((c) => `${c.task} ${c.metric === 'perplexity' ? 'ppl' : c.metric}`), ...(accTasks.length > 1 ? ['mean acc'] : []), ...pplSets.map((s) => `${s} ppl`),
    ...(energy ? ['compute/token', 'compute+memory/token'] : []),
  ];
  const rows = report.rows.map((r) => {
    const cells = tasks.map((c) => {
      const v = r.eval?.results[c.task]?.[`${c.metric},none`];
      return c.metric === 'perplexity' ? fmtPpl(v) : fmtAcc(v);
    });
    if (accTasks.length > 1) {
      const accs = accTasks.map((t) => r.eval?.results[t]?.['acc,none']);
      cells.push(accs.every((a) => typeof a === 'number') ? fmtAcc((accs as number[]).reduce((a, b) => a + b, 0) / accs.length) : '–');
    }
    const e = energy ? (r.energy ? [joules(r.energy.compute_pJ_per_token), joules(r.energy.total_pJ_per_token)] : ['–', '–']) : [];
    return [r.label, ...cells, ...pplSets.map((s) => fmtPpl(r.ppl[s]?.ppl)), ...e];
  });
  return markdownTable(header, rows, header.map((_, i) => (i === 0 ? 'left' : 'right')));
}

/** Agreement of predictions with the first row, and McNemar's discordant counts (first right only / this right only). */
export function agreementTable(report: CompareReport): string {
  const base = report.rows[0];
  const tasks = [...new Set(report.rows.slice(1).flatMap((r) => Object.keys(report.agreement[r.label] ?? {})))];
  if (!tasks.length) return '';
  const header = [`vs ${base.label}`, ...tasks];
  const rows = report.rows.slice(1).map((r) => [
    r.label,
    ...tasks.map((t) => {
      const p = report.agreement[r.label]?.[t];
      return p && p.n ? `${(100 * p.agreement).toFixed(1)}% (${p.a_only}/${p.b_only}, p=${p.mcnemar_p < 0.001 ? '<0.001' : p.mcnemar_p.toFixed(3)})` : '–';
    }),
  ]);
  return markdownTable(header, rows, header.map((_, i) => (i === 0 ? 'left' : 'right')));
}

export function agreementOf(rows: CompareRow[]): CompareReport['agreement'] {
  const out: CompareReport['agreement'] = {};
  const base = rows[0]?.eval;
  if (!base) return out;
  for (const r of rows.slice(1)) {
    if (!r.eval) continue;
    out[r.label] = {};
    for (const t of Object.keys(r.eval.samples)) if (base.samples[t]) out[r.label][t] = pairwise(base.samples[t], r.eval.samples[t], 'acc');
  }
  return out;
}

function uniqueLabels(labels: string[]): string[] {
  return labels.map((l, i) => (labels.indexOf(l) !== i || labels.lastIndexOf(l) !== i ? `${l}#${i + 1}` : l));
}

export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description('methods side by side: zero-shot tasks and perplexity, one row per method, every metric a column; item-by-item agreement with the first')
    .argument('[results...]', 'compare these sdllm eval results files instead of running methods')
    .option('--model <path>', 'Hugging Face folder or llama2.c .bin', DEFAULT_MODEL)
    .option('--methods <list>', `comma-separated methods (${METHOD_NAMES.join(', ')}); the first is the reference`, 'fp,w4a4,spike-binary,sdllm')
    .option('--tasks <list>', 'zero-shot tasks as for sdllm eval')
    .option('--ppl <list>', `perplexity sets (${Object.keys(TEXT_DATASETS).join(', ')}) or files, gptq protocol`)
    .option('--ppl-ctx <n>', 'perplexity window length in tokens', intArg(2), 512)
    .option('--ppl-limit <n>', 'score only the first n perplexity windows', intArg(1))
    .option('--limit <n>', 'only the first n items of each task', intArg(1))
    .option('--data-dir <dir>', 'folder of the task files', DEFAULT_EVAL_DIR)
    .option('--text-dir <dir>', 'folder of the named perplexity sets', nodePath.join(SHARED_DIR, 'data'))
    .option('--output-dir <dir>', 'keep each method\'s results (DIR/<method>.json, resumable) and the comparison (DIR/compare.json)')
    .option('--resume', 'reuse what --output-dir already holds and continue interrupted runs')
    .option('--calib-data <file>', 'calibration text for methods that calibrate γ')
    .option('--calib-tokens <n>', 'calibration tokens', intArg(2), 2048)
    .option('--energy-tokens <n>', 'tokens to run with operation counting for energy per token (0: no energy columns)', intArg(0), 2048)
    .option('--energy-data <name|file>', 'text for the energy measurement (default: the first --ppl set, else wikitext2)')
    .option('--energy-table <file>', 'pJ per operation as JSON (default: horowitz45nm)')
    .option('--json', 'print the comparison as JSON');
  addModelOptions(cmd).action((files: string[], f: CompareFlags) => {
    let rows: CompareRow[];
    if (files.length) {
      if (f.tasks || f.ppl) fail('give either results files or --tasks/--ppl to run, not both');
      const outs = files.map((p) => readOutput(p));
      const labels = uniqueLabels(outs.map((o) => (o.config.method as { method?: string })?.method ?? 'run'));
      rows = outs.map((o, i) => ({ label: labels[i], method: labels[i], description: o.config.method_description, eval: o, ppl: {} }));
    } else {
      if (!f.tasks && !f.ppl) fail('nothing to compare: give --tasks and/or --ppl (or results files)');
      const methods = f.methods.split(',').map((s) => s.trim()).filter(Boolean);
      for (const m of methods) if (!(METHOD_NAMES as readonly string[]).includes(m)) fail(`unknown method "${m}" (${METHOD_NAMES.join(', ')})`);
      if (f.resume && !f.outputDir) fail('--resume needs --output-dir');
      const tasks = f.tasks ? loadTasks(f.tasks, f.dataDir) : [];
      const pplSets = (f.ppl ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((name) => ({ name, file: resolveTextData(name, f.textDir) }));
      const texts = new Map<string, string>();
      const text = (file: string) => {
        if (!texts.has(file)) texts.set(file, readText(file));
        return texts.get(file)!;
      };
      const energyTable: EnergyTable = f.energyTable ? loadEnergyTable(f.energyTable) : HOROWITZ_45NM;
      const energyFile = f.energyTokens > 0 ? resolveTextData(f.energyData ?? pplSets[0]?.name ?? 'wikitext2', f.textDir) : null;
      const labels = uniqueLabels(methods);
      rows = methods.map((method, i) => {
        const label = labels[i];
        if (!f.quiet) process.stderr.write(`== ${label}\n`);
        const { model, method: cfg } = loadMethodModel(f.model, methodLoadOptions({ ...f, method }));
        const row: CompareRow = { label, method, description: '', eval: null, ppl: {} };
        if (tasks.length) {
          const output = f.outputDir ? nodePath.join(f.outputDir, `${label}.json`) : undefined;
          const { bar, onProgress } = taskProgress(!f.quiet && Boolean(process.stderr.isTTY), tasks.map((t) => t.spec.name));
          const { output: out, stats } = runEval({ model, modelPath: f.model, method: cfg, tasks, limit: f.limit ?? null, output, resume: f.resume, onProgress });
          bar.done();
          row.eval = out;
          row.description = out.config.method_description;
          if (!f.quiet) process.stderr.write(`${formatRunStats(stats)}\n`);
        }
        for (const s of pplSets) {
          const saved = f.outputDir ? nodePath.join(f.outputDir, `${label}.ppl-${nodePath.basename(s.name).replace(/[^A-Za-z0-9_.-]/g, '_')}.json`) : null;
          if (saved && f.resume && fs.existsSync(saved)) {
            const prev = JSON.parse(fs.readFileSync(saved, 'utf8')) as PplEntry;
            if (prev.ctx === f.pplCtx && prev.data === s.file && prev.limit === (f.pplLimit ?? null)) {
              row.ppl[s.name] = prev;
              continue;
            }
          }
          const ids = protocolTokens(model, text(s.file), 'gptq');
          const bar = new ProgressBar(!f.quiet && Boolean(process.stderr.isTTY));
          const t0 = performance.now();
          const res = perplexity(model, ids, { protocol: 'gptq', ctx: f.pplCtx, limit: f.pplLimit, onWindow: (d, t) => bar.update(`${s.name} ppl`, d, t, 'windows') });
          bar.done();
          const entry: PplEntry = { data: s.file, protocol: 'gptq', ctx: f.pplCtx, limit: f.pplLimit ?? null, windows: res.windows, scored_tokens: res.scoredTokens, mean_nll: res.meanNll, ppl: res.ppl };
          if (!f.quiet) process.stderr.write(`${s.name}: PPL ${res.ppl.toFixed(4)} (gptq, ctx ${f.pplCtx}, ${res.windows} windows) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
          row.ppl[s.name] = entry;
          if (saved) writeAtomic(saved, JSON.stringify(entry, null, 2) + '\n');
        }
        if (energyFile) {
          const ids = model.tokenizer.encode(text(energyFile), { add_special_tokens: false }).slice(0, f.energyTokens);
          const bar = new ProgressBar(!f.quiet && Boolean(process.stderr.isTTY));
          const m = measure(model, cfg, ids, Math.min(f.pplCtx, model.config.max_position_embeddings), (d, t) => bar.update(`energy ${label}`, d, t, 'windows'));
          bar.done();
          const e = perToken(m, energyTable, 'fp16').energy;
          row.energy = { table: energyTable.name, data: energyFile, tokens: m.tokens, compute_pJ_per_token: e.compute, total_pJ_per_token: e.total };
        }
        if (!row.description) row.description = describeMethod(cfg);
        return row;
      });
    }
    const report: CompareReport = { model: files.length ? String(rows[0]?.eval?.config.model ?? '') : f.model, rows, agreement: agreementOf(rows) };
    const summary = {
      model: report.model,
      methods: rows.map((r) => ({ label: r.label, method: r.method, description: r.description, results: r.eval?.results ?? {}, ppl: r.ppl, energy: r.energy ?? null })),
      agreement: report.agreement,
    };
    if (f.outputDir && !files.length) writeAtomic(nodePath.join(f.outputDir, 'compare.json'), JSON.stringify(summary, null, 2) + '\n');
    if (f.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      return;
    }
    process.stdout.write(`model ${report.model}; tasks: lm-eval zero-shot${rows.some((r) => Object.keys(r.ppl).length) ? `; ppl: gptq protocol, ctx ${f.pplCtx}` : ''}\n`);
    const e = rows.find((r) => r.energy)?.energy;
    if (e) process.stdout.write(`energy per token: operation counts over ${e.tokens} tokens of ${e.data}, priced by the ${e.table} table, floats as fp16\n`);
    for (const r of rows) process.stdout.write(`  ${r.description}\n`);
    process.stdout.write('\n' + compareTable(report));
    const agree = agreementTable(report);
    if (agree) process.stdout.write(`\nItem-by-item vs ${rows[0].label} (acc): prediction agreement (items only ${rows[0].label} gets right / only this method gets right, exact McNemar p)\n${agree}`);
  });
}
