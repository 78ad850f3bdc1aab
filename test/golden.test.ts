/**
 * Float parity with golden.json (an independent implementation: numpy float64 for stories260K,
 * transformers float32 for the sdllm models): token ids, last-position and all-position logits,
 * top-5 and greedy continuations token for token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import { generate } from '../src/generate/generate.js';
import type { LlamaModel } from '../src/model/llama.js';
import { MODELS, needsShared, readGolden, maxAbs, maxAbsDiff, topK } from './helpers.js';

interface Case {
  name: string;
  path: string;
  prompts(g: any): { text: string; ids: number[]; last: number[]; top5: number[]; greedy: number[] }[];
  allLogits(g: any): number[][];
}

const CASES: Case[] = [
  {
    name: 'stories260K',
    path: 'stories260K/stories260K.bin',
    prompts: (g) => g.prompts.map((p: any) => ({ text: p.text, ids: p.ids, last: p.last_logits, top5: p.top5, greedy: p.greedy_ids })),
    allLogits: (g) => g.prompts[0].all_logits,
  },
  ...['sdllm-tiny', 'sdllm-small'].map((name) => ({
    name,
    path: name,
    prompts: (g: any) => g.prompts.map((p: any) => ({ text: p.text, ids: p.input_ids, last: p.last_logits, top5: p.top5_ids, greedy: p.greedy.new_ids })),
    allLogits: (g: any) => g.all_positions_logits_prompt0,
  })),
];

for (const c of CASES) {
  test(`${c.name}: float parity with golden.json`, needsShared, async (t) => {
    const g = readGolden(c.name);
    const model: LlamaModel = loadModel(nodePath.join(MODELS, c.path));
    const prompts = c.prompts(g);
    for (const [i, p] of prompts.entries()) {
      await t.test(`prompt ${i} "${p.text}"`, () => {
        assert.deepEqual(model.tokenizer.encode(p.text), p.ids, 'token ids');
        const logits = model.forward(p.ids);
        const tol = 1e-4 * maxAbs(p.last);
        const diff = maxAbsDiff(logits, p.last);
        assert.ok(diff <= tol, `last-position logits differ by ${diff} > ${tol}`);
        assert.deepEqual(topK(logits, 5), p.top5, 'top-5 ids');
        const res = generate(model, p.ids, { max_new_tokens: p.greedy.length, eos_token_id: [] });
        assert.deepEqual(res.newTokens, p.greedy, 'greedy continuation');
      });
    }
    await t.test('all-position logits of prompt 0', () => {
      const ref = c.allLogits(g);
      const all = model.forward(prompts[0].ids, { allLogits: true });
      const V = model.config.vocab_size;
      assert.equal(all.length, ref.length * V);
      for (let pos = 0; pos < ref.length; pos++) {
        const row = all.subarray(pos * V, (pos + 1) * V);
        const tol = 1e-4 * maxAbs(ref[pos]);
        const diff = maxAbsDiff(row, ref[pos]);
        assert.ok(diff <= tol, `position ${pos}: logits differ by ${diff} > ${tol}`);
      }
    });
  });
}

test('sdllm models: tokenizer edge cases match golden.json', needsShared, () => {
  for (const name of ['sdllm-tiny', 'sdllm-small']) {
    const g = readGolden(name);
    const model = loadModel(nodePath.join(MODELS, name));
    for (const tc of g.tokenizer.tests) {
      assert.deepEqual(model.tokenizer.encode(tc.text, { add_special_tokens: false }), tc.ids_no_special, `${name}: ${JSON.stringify(tc.text)} without special tokens`);
      assert.deepEqual(model.tokenizer.encode(tc.text), tc.ids_with_special, `${name}: ${JSON.stringify(tc.text)} with special tokens`);
    }
  }
});

test('stories260K: greedy text decodes like llama2.c', needsShared, () => {
  const g = readGolden('stories260K');
  const model = loadModel(nodePath.join(MODELS, 'stories260K/stories260K.bin'));
  const p = g.prompts[0];
  const text = model.tokenizer.decode(p.greedy_ids);
  assert.ok(text.startsWith(p.greedy_text.slice(0, 40)), `decoded ${JSON.stringify(text.slice(0, 60))}`);
});
