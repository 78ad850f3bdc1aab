/**
 * The issue-3 table: every method, with and without rotation, on sdllm-small: PPL (gptq protocol,
 * ctx 512) on the first 16 windows of the Gutenberg held-out text and the first 64 windows of
 * WikiText-2, with firing rate, time steps and spike events per token.
 *
 *   node dist/tools/method-table.js [--model DIR] [--methods a,b] [--rotations hadamard,none]
 *        [--gutenberg-windows 16] [--wikitext-windows 64] [--out results.jsonl]
 *
 * Results are appended to --out one configuration per line (a rerun skips what is there), then the
 * markdown table of everything in --out is printed.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { loadMethodModel, readText } from '../src/sdllm/load.js';
import { METHOD_NAMES, describeMethod } from '../src/sdllm/method.js';
import { perplexity } from '../src/eval/perplexity.js';
import { enableSpikeStats, spikeSummary } from '../src/sdllm/stats.js';
import { SHARED_DIR } from '../src/paths.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: nodePath.join(SHARED_DIR, 'models', 'sdllm-small') },
    methods: { type: 'string', default: METHOD_NAMES.join(',') },
    rotations: { type: 'string', default: 'hadamard,none' },
    'gutenberg-windows': { type: 'string', default: '16' },
    'wikitext-windows': { type: 'string', default: '64' },
    'calib-data': { type: 'string' },
    out: { type: 'string', default: 'method-table.jsonl' },
  },
});

const texts = {
  gutenberg: readText(nodePath.join(SHARED_DIR, 'data', 'text', 'gutenberg-val.txt')),
  wikitext2: readText(nodePath.join(SHARED_DIR, 'data', 'text', 'wikitext-2-raw-test.txt')),
};
const limits = { gutenberg: Number(a['gutenberg-windows']), wikitext2: Number(a['wikitext-windows']) };
let tokens: Record<keyof typeof texts, number[]> | undefined;
const done = new Set(fs.existsSync(a.out!) ? fs.readFileSync(a.out!, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).key) : []);

for (const rotate of a.rotations!.split(',') as ('hadamard' | 'none')[]) {
  for (const name of a.methods!.split(',')) {
    const key = `${name}/${rotate}`;
    if (done.has(key)) continue;
    const t0 = performance.now();
    const { model, method, calibration } = loadMethodModel(a.model, {
      method: name,
      overrides: { rotate },
      calibration: a['calib-data'] ? { file: a['calib-data'] } : undefined,
    });
    // Every configuration uses the checkpoint's tokenizer: tokenize the two texts once.
    tokens ??= { gutenberg: model.tokenizer.encode(texts.gutenberg, { add_special_tokens: false }), wikitext2: model.tokenizer.encode(texts.wikitext2, { add_special_tokens: false }) };
    const row: Record<string, unknown> = { key, method: name, rotate, description: describeMethod(method), gammas: calibration.map((c) => c.gamma) };
    for (const set of ['gutenberg', 'wikitext2'] as const) {
      const ids = tokens[set];
      enableSpikeStats(model);
      const r = perplexity(model, ids, { protocol: 'gptq', ctx: 512, limit: limits[set] });
      const s = spikeSummary(model);
      row[set] = { ppl: r.ppl, windows: r.windows, scored: r.scoredTokens, firingRate: s?.linears.firingRate ?? null, timeSteps: s?.linears.maxTimeSteps ?? null, eventsPerToken: s?.linears.eventsPerToken ?? null, silent: s?.linears.silentFraction ?? null, meanAbsCount: s?.linears.meanAbsCount ?? null };
    }
    row.seconds = (performance.now() - t0) / 1000;
    fs.appendFileSync(a.out!, JSON.stringify(row) + '\n');
    console.error(`${key}: gutenberg ${(row.gutenberg as { ppl: number }).ppl.toFixed(2)}, wikitext2 ${(row.wikitext2 as { ppl: number }).ppl.toFixed(2)} (${(row.seconds as number).toFixed(0)} s)`);
  }
}

const rows = fs.readFileSync(a.out!, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const f = (x: number | null, d = 2) => (x === null || x === undefined ? '–' : x.toFixed(d));
console.log('| method | rotation | Gutenberg PPL | WikiText-2 PPL | firing rate | T | spike events / token | silent | mean \\|c\\| |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const g = r.gutenberg, w = r.wikitext2;
  console.log(`| ${r.method} | ${r.rotate} | ${f(g.ppl)} | ${f(w.ppl)} | ${g.firingRate === null ? '–' : (100 * g.firingRate).toFixed(1) + '%'} | ${g.timeSteps ?? '–'} | ${g.eventsPerToken === null ? '–' : Math.round(g.eventsPerToken).toLocaleString('en-US')} | ${g.silent === null ? '–' : (100 * g.silent).toFixed(1) + '%'} | ${f(g.meanAbsCount, 3)} |`);
}
