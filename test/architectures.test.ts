/**
 * Architecture parity with Hugging Face transformers (fixtures made by tools/make-fixtures.py):
 * Llama with llama3 RoPE scaling and an untied head, Qwen2 with q/k/v biases and a tied head,
 * Mistral with a sliding window shorter than the prompts. Logits of every position within 1e-4
 * of the largest |logit|, and identical token ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import { REPO_ROOT, maxAbs, maxAbsDiff } from './helpers.js';

const FIXTURES = nodePath.join(REPO_ROOT, 'test', 'fixtures');

for (const name of ['llama3-untied', 'qwen2-tied-bias', 'mistral-window']) {
  test(`${name}: logits match transformers`, () => {
    const dir = nodePath.join(FIXTURES, name);
    const golden = JSON.parse(fs.readFileSync(nodePath.join(dir, 'golden.json'), 'utf8'));
    const model = loadModel(dir);
    if (name === 'mistral-window') assert.equal(model.config.sliding_window, 16);
    if (name === 'llama3-untied') assert.equal(model.config.rope_scaling.rope_type, 'llama3');
    if (name === 'qwen2-tied-bias') assert.ok(model.config.attention_bias && model.config.tie_word_embeddings);
    for (const p of golden.prompts) {
      assert.deepEqual(model.tokenizer.encode(p.text), p.input_ids);
      const V = model.config.vocab_size;
      const all = model.forward(p.input_ids, { allLogits: true });
      for (let pos = 0; pos < p.logits.length; pos++) {
        const ref = p.logits[pos];
        const diff = maxAbsDiff(all.subarray(pos * V, (pos + 1) * V), ref);
        assert.ok(diff <= 1e-4 * maxAbs(ref), `${name} "${p.text.slice(0, 20)}" position ${pos}: ${diff} > 1e-4 x ${maxAbs(ref)}`);
      }
    }
  });
}
