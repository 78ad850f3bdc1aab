import type { Command } from 'commander';
import nodePath from 'node:path';
import { DEFAULT_MODEL, SHARED_DIR } from '../paths.js';
import { loadMethodModel, readText } from '../sdllm/load.js';
import { describeMethod, type MethodConfig } from '../sdllm/method.js';
import { measure, perToken, type EnergyMeasurement } from '../energy/measure.js';
import { energyOf } from '../energy/energy.js';
import { HOROWITZ_45NM, loadEnergyTable, type EnergyTable } from '../energy/table.js';
import { AerWriter } from '../formats/aer.js';
import { spikeLinears } from '../sdllm/stats.js';
import { intArg } from './options.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { resolveTextData, TEXT_DATASETS } from './ppl.js';
import { ProgressBar } from './progress.js';

interface EnergyFlags extends MethodFlags {
  model: string;
  data: string;
  dataDir: string;
  tokens: number;
  ctx: number;
  energyTable?: string;
  baselines: string;
  events?: string;
  eventsLimit: number;
  json?: boolean;
}

/** Thousands, millions, … for op counts; pJ to nJ/µJ for energies. */
export const human = (x: number) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
export const joules = (pj: number) => (pj >= 1e6 ? `${(pj / 1e6).toFixed(2)} µJ` : pj >= 1e3 ? `${(pj / 1e3).toFixed(2)} nJ` : `${pj.toFixed(1)} pJ`);

export function registerEnergy(program: Command): void {
  const cmd = program
    .command('energy')
    .description('count operations while the model runs and price them (synaptic operations × pJ), per layer, against fp and w4a4')
    .option('--model <path>', 'Hugging Face folder, llama2.c .bin or converted .sdllm file', DEFAULT_MODEL)
    .option('--data <name|file>', `text to run (${Object.keys(TEXT_DATASETS).join(', ')} or a file)`, 'wikitext2')
    .option('--data-dir <dir>', 'folder of the named data sets', nodePath.join(SHARED_DIR, 'data'))
    .option('--tokens <n>', 'tokens to run', intArg(2), 2048)
    .option('--ctx <n>', 'window length (each window runs on its own)', intArg(2), 512)
    .option('--energy-table <file>', 'pJ per operation as JSON (default: horowitz45nm)')
    .option('--baselines <methods>', 'methods to compare with, measured on the same tokens', 'fp,w4a4')
    .option('--events <file>', 'write the spike events of the run (address-event representation)')
    .option('--events-limit <n>', 'at most this many events in --events', intArg(0), 10_000_000)
    .option('--json', 'print everything as JSON');
  addMethodOptions(cmd, 'sdllm').action((f: EnergyFlags) => {
    const table = f.energyTable ? loadEnergyTable(f.energyTable) : HOROWITZ_45NM;
    const file = resolveTextData(f.data, f.dataDir);
    const text = readText(file);
    const bar = new ProgressBar(!f.quiet && Boolean(process.stderr.isTTY));
    const run = (method: string, withEvents: boolean): EnergyMeasurement => {
      const opts = methodLoadOptions({ ...f, method });
      const { model, method: m } = loadMethodModel(f.model, opts);
      const ids = model.tokenizer.encode(text, { add_special_tokens: false }).slice(0, f.tokens);
      let writer: AerWriter | null = null;
      if (withEvents && f.events) {
        const sls = spikeLinears(model.parts.layers.flatMap((l) => [l.q_proj, l.k_proj, l.v_proj, l.o_proj, l.gate_proj, l.up_proj, l.down_proj]));
        writer = new AerWriter(f.events, sls.map((s) => s.name), f.eventsLimit);
        for (const s of sls) s.eventSink = (layer, counts, n) => writer!.add(layer, counts, n);
      }
      try {
        return measure(model, m, ids, f.ctx, (d, t) => bar.update(`energy ${m.method}`, d, t, 'windows'));
      } finally {
        bar.done();
        if (writer) {
          writer.close();
          if (!f.quiet) process.stderr.write(`wrote ${writer.written.events.toLocaleString('en-US')} spike events to ${f.events}${writer.written.dropped ? ` (${writer.written.dropped.toLocaleString('en-US')} over --events-limit dropped)` : ''}\n`);
        }
      }
    };
    const main = run(f.method ?? 'sdllm', true);
    const baselines = f.baselines.split(',').map((s) => s.trim()).filter((s) => s && s !== main.method.method).map((b) => run(b, false));
    const all = [main, ...baselines];
    if (f.json) {
      process.stdout.write(JSON.stringify({ table, data: file, tokens: main.tokens, methods: all.map((m) => summarize(m, table)), layers: layerRows(main, table) }, null, 2) + '\n');
      return;
    }
    printReport(main, baselines, table, file);
  });
}

export function summarize(m: EnergyMeasurement, table: EnergyTable) {
  const fp16 = perToken(m, table, 'fp16'), fp32 = perToken(m, table, 'fp32');
  return {
    method: m.method.method,
    description: describeMethod(m.method),
    tokens: m.tokens,
    ops_per_token: fp16.ops.toJSON(),
    pJ_per_token: { fp16: fp16.energy, fp32: fp32.energy },
    by_kind_pJ_per_token: fp16.byKind,
    spikes: m.spikes?.linears ?? null,
  };
}

export function layerRows(m: EnergyMeasurement, table: EnergyTable) {
  const stats = new Map((m.spikes?.layers ?? []).map((l) => [l.name, l]));
  return m.ops.sites.map((s) => {
    const st = stats.get(s.name);
    const e = energyOf(s.ops, table, 'fp16');
    return {
      name: s.name,
      kind: s.kind,
      firing_rate: st?.firingRate ?? null,
      mean_abs_count: st?.meanAbsCount ?? null,
      time_steps: st?.timeSteps ?? null,
      events_per_token: st ? st.eventsPerToken : null,
      macs_per_token: (s.ops.mac_float + s.ops.mac_int8 + s.ops.mac_int4) / m.tokens,
      acs_per_token: s.ops.ac / m.tokens,
      compute_pJ_per_token: e.compute / m.tokens,
      memory_pJ_per_token: e.memory / m.tokens,
    };
  });
}

function printReport(main: EnergyMeasurement, baselines: EnergyMeasurement[], table: EnergyTable, file: string): void {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`${describeMethod(main.method)}`);
  out(`${main.tokens.toLocaleString('en-US')} tokens of ${file}; energy table ${table.name} (${table.source})`);
  out('');
  const rows = [['site', 'kind', 'firing %', 'mean |c|', 'T', 'events/tok', 'MACs/tok', 'ACs/tok', 'compute/tok', 'memory/tok']];
  for (const r of layerRows(main, table))
    rows.push([
      r.name, r.kind,
      r.firing_rate === null ? '' : (100 * r.firing_rate).toFixed(1),
      r.mean_abs_count === null ? '' : r.mean_abs_count.toFixed(2),
      r.time_steps === null ? '' : r.time_steps.toFixed(0),
      r.events_per_token === null ? '' : human(r.events_per_token),
      human(r.macs_per_token), human(r.acs_per_token), joules(r.compute_pJ_per_token), joules(r.memory_pJ_per_token),
    ]);
  out(alignTable(rows));
  out('');
  const per = (m: EnergyMeasurement, p: 'fp16' | 'fp32') => perToken(m, table, p).energy;
  const totals = [['method', 'floats as', 'compute/token', 'memory/token', 'compute+memory/token']];
  for (const m of [main, ...baselines])
    for (const p of m.method.method === 'fp' ? (['fp16', 'fp32'] as const) : (['fp16'] as const)) {
      const e = per(m, p);
      totals.push([m.method.method, p, joules(e.compute), joules(e.memory), joules(e.total)]);
    }
  out(alignTable(totals));
  const mine = per(main, 'fp16');
  for (const b of baselines)
    for (const p of b.method.method === 'fp' ? (['fp16', 'fp32'] as const) : (['fp16'] as const)) {
      const e = per(b, p);
      const label = `${b.method.method}${b.method.method === 'fp' ? ` (${p} MACs)` : ''}`;
      out(`${main.method.method} uses 1/${(e.compute / mine.compute).toFixed(1)} of ${label} compute energy, 1/${(e.total / mine.total).toFixed(1)} of its compute+memory energy`);
    }
}

function alignTable(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

export type { MethodConfig };
