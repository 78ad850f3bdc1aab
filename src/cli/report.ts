import type { Command } from 'commander';
import fs from 'node:fs';
import nodePath from 'node:path';
import { DEFAULT_MODEL, SHARED_DIR } from '../paths.js';
import { loadMethodModel, readText } from '../sdllm/load.js';
import { HOROWITZ_45NM, loadEnergyTable } from '../energy/table.js';
import { reportMethod, type ReportData } from '../energy/report-data.js';
import { renderReport } from '../energy/html.js';
import { intArg } from './options.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { resolveTextData, TEXT_DATASETS } from './ppl.js';
import { ProgressBar } from './progress.js';

interface ReportFlags extends MethodFlags {
  model: string;
  methods: string;
  out: string;
  data: string;
  dataDir: string;
  tokens: number;
  ctx: number;
  energyTable?: string;
  rasterLayer?: number;
}

export function registerReport(program: Command): void {
  const cmd = program
    .command('report')
    .description('one self-contained HTML report: firing rates, count histograms, spike raster, energy breakdown, perplexity vs energy')
    .option('--model <path>', 'Hugging Face folder or llama2.c .bin', DEFAULT_MODEL)
    .option('--methods <list>', 'methods to compare', 'fp,w4a4,spike-binary,sdllm')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--data <name|file>', `text to run (${Object.keys(TEXT_DATASETS).join(', ')} or a file)`, 'wikitext2')
    .option('--data-dir <dir>', 'folder of the named data sets', nodePath.join(SHARED_DIR, 'data'))
    .option('--tokens <n>', 'tokens to run per method', intArg(2), 1024)
    .option('--ctx <n>', 'window length', intArg(2), 512)
    .option('--energy-table <file>', 'pJ per operation as JSON (default: horowitz45nm)')
    .option('--raster-layer <l>', 'decoder layer whose down_proj input the raster shows (default: the middle one)', intArg(0));
  addMethodOptions(cmd).action((f: ReportFlags) => {
    const table = f.energyTable ? loadEnergyTable(f.energyTable) : HOROWITZ_45NM;
    const file = resolveTextData(f.data, f.dataDir);
    const text = readText(file);
    const bar = new ProgressBar(!f.quiet && Boolean(process.stderr.isTTY));
    const methods = f.methods.split(',').map((s) => s.trim()).filter(Boolean);
    const data: ReportData = { model: f.model, data: file, table, generated: new Date().toISOString(), methods: [] };
    for (const name of methods) {
      const { model, method } = loadMethodModel(f.model, methodLoadOptions({ ...f, method: name }));
      const ids = model.tokenizer.encode(text, { add_special_tokens: false }).slice(0, f.tokens);
      data.methods.push(reportMethod(model, method, ids, table, { ctx: f.ctx, rasterLayer: f.rasterLayer, onWindow: (d, t) => bar.update(`report ${name}`, d, t, 'windows') }));
      bar.done();
    }
    fs.writeFileSync(f.out, renderReport(data));
    if (!f.quiet) process.stderr.write(`wrote ${f.out}\n`);
  });
}
