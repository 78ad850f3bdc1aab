import type { Command } from 'commander';
import { Option } from 'commander';
import fs from 'node:fs';
import nodePath from 'node:path';
import { DEFAULT_MODEL, SHARED_DIR } from '../paths.js';
import { fail } from '../errors.js';
import { loadMethodModel, readText } from '../sdllm/load.js';
import { describeMethod } from '../sdllm/method.js';
import { enableSpikeStats, spikeSummary } from '../sdllm/stats.js';
import { perplexity, perplexityOfWindows, documentWindows, protocolTokens, type PerplexityProtocol, type PerplexityOptions } from '../eval/perplexity.js';
import { intArg } from './options.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { ProgressBar } from './progress.js';
import { formatStatsLine } from './stats-format.js';

/** Data sets by name, as files under the data folder (../shared/data by default). */
export const TEXT_DATASETS: Record<string, string> = {
  wikitext2: 'text/wikitext-2-raw-test.txt',
  c4: 'text/c4-validation-1000.jsonl',
  gutenberg: 'text/gutenberg-val.txt',
  tinystories: 'text/tinystories-sample.txt',
};

export function resolveTextData(name: string, dataDir: string): string {
  if (TEXT_DATASETS[name]) {
    const p = nodePath.join(dataDir, TEXT_DATASETS[name]);
    if (!fs.existsSync(p)) fail(`data set "${name}" not found under ${dataDir} (set --data-dir or SDLLM_SHARED)`, p);
    return p;
  }
  if (!fs.existsSync(name)) fail(`no such file, and not a data set name (${Object.keys(TEXT_DATASETS).join(', ')})`, name);
  return name;
}

interface PplFlags extends MethodFlags {
  model: string;
  data: string;
  dataDir: string;
  protocol: PerplexityProtocol;
  ctx: number;
  limit?: number;
  stats?: boolean;
  json?: boolean;
}

export function registerPpl(program: Command): void {
  const cmd = program
    .command('ppl')
    .description('perplexity of a text under the gptq or llama.cpp protocol (CONVENTIONS.md)')
    .option('--model <path>', 'Hugging Face folder, llama2.c .bin or converted .sdllm file', DEFAULT_MODEL)
    .requiredOption('--data <name|file>', `data set (${Object.keys(TEXT_DATASETS).join(', ')}) or a UTF-8 / JSONL ("text") file`)
    .option('--data-dir <dir>', 'folder of the named data sets', nodePath.join(SHARED_DIR, 'data'))
    .addOption(new Option('--protocol <name>', 'gptq: non-overlapping windows, all tokens scored; llamacpp: BOS per chunk, second half scored; documents: each <|endoftext|>/blank-line-separated document on its own with BOS, cut to --ctx').choices(['gptq', 'llamacpp', 'documents']).default('gptq'))
    .option('--ctx <n>', 'window length in tokens', intArg(2), 512)
    .option('--limit <n>', 'score only the first n windows', intArg(1))
    .option('--stats', 'also collect and print spike statistics')
    .option('--json', 'print the result as JSON');
  addMethodOptions(cmd).action((f: PplFlags) => {
    const file = resolveTextData(f.data, f.dataDir);
    const text = readText(file);
    const { model, method } = loadMethodModel(f.model, methodLoadOptions(f));
    if (f.ctx > model.config.max_position_embeddings) fail(`--ctx ${f.ctx} exceeds the model's context of ${model.config.max_position_embeddings}`, f.model);
    const windows = f.protocol === 'documents' ? documentWindows(model, text, f.ctx) : null;
    const ids = windows ? windows.flatMap((w) => w.ids) : protocolTokens(model, text, f.protocol);
    if (f.stats) enableSpikeStats(model);
    const bar = new ProgressBar(!f.quiet && Boolean(process.stderr.isTTY));
    const t0 = performance.now();
    const streamRunning = f.protocol === 'llamacpp' && !f.json;
    const pplOpts: PerplexityOptions = {
      protocol: f.protocol,
      ctx: f.ctx,
      limit: f.limit,
      onWindow: (done, total, partial) => {
        if (streamRunning) process.stdout.write(`[${done}]${partial.running[done - 1].toFixed(4)},`);
        else bar.update('ppl', done, total, 'windows');
      },
    };
    const res = windows ? perplexityOfWindows(model, windows, pplOpts) : perplexity(model, ids, pplOpts);
    bar.done();
    const secs = (performance.now() - t0) / 1000;
    // Bits per byte of the scored text: the whole text when every window ran, else the windows' text.
    // (Not for documents: their separators are not scored.)
    const allWindows = f.limit === undefined && f.protocol !== 'documents';
    const bytes = allWindows ? Buffer.byteLength(text, 'utf8') : null;
    const bitsPerByte = bytes ? res.nll / Math.LN2 / bytes : null;
    const stats = f.stats ? spikeSummary(model) : null;
    if (f.json) {
      process.stdout.write(JSON.stringify({ model: f.model, data: file, method, ...res, running: undefined, bits_per_byte: bitsPerByte, seconds: secs, stats }, null, 2) + '\n');
      return;
    }
    if (streamRunning) process.stdout.write('\n');
    process.stdout.write(`${describeMethod(method)}\n`);
    process.stdout.write(`data ${file}: ${ids.length.toLocaleString('en-US')} tokens; protocol ${f.protocol}, ctx ${f.ctx}, ${res.windows} windows, ${res.scoredTokens.toLocaleString('en-US')} scored tokens\n`);
    if (f.protocol === 'llamacpp') process.stdout.write(`Final estimate: PPL = ${res.ppl.toFixed(4)} +/- ${res.pplStderr.toFixed(5)}\n`);
    else process.stdout.write(`PPL = ${res.ppl.toFixed(4)} (mean NLL ${res.meanNll.toFixed(5)} nats/token${bitsPerByte ? `, ${bitsPerByte.toFixed(4)} bits/byte` : ''})\n`);
    if (stats) process.stdout.write(formatStatsLine(stats) + '\n');
    if (!f.quiet) process.stderr.write(`${secs.toFixed(1)} s (${(res.tokens / secs).toFixed(1)} tokens/s)\n`);
  });
}
