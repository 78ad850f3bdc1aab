/** Scratch: PPL of methods on the first windows of a text (development aid; the real command is `sdllm ppl`). */
import fs from 'node:fs';
import { openCheckpoint, loadFloatWeights } from '../src/model/load.js';
import { prepareModel, assembleModel } from '../src/sdllm/prepare.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { perplexity } from '../src/eval/perplexity.js';

const [modelPath, textPath, windows, ...methods] = process.argv.slice(2);
const ck = openCheckpoint(modelPath);
const ids = ck.tokenizer.encode(fs.readFileSync(textPath, 'utf8'), { add_special_tokens: false });
for (const spec of methods) {
  const [name, ...kv] = spec.split(':');
  const o = Object.fromEntries(kv.map((s) => { const [k, v] = s.split('='); return [k, isNaN(Number(v)) ? v : Number(v)]; }));
  const m = resolveMethod(name, o);
  const t0 = performance.now();
  const model = assembleModel(prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), m));
  const r = perplexity(model, ids, { limit: Number(windows) });
  console.log(spec.padEnd(40), r.ppl.toFixed(3), `${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
