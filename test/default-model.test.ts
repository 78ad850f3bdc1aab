/** The embedded default model (sdllm-tiny stored as F16) loads from the package and stays close to the fp32 golden. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../src/model/load.js';
import { DEFAULT_MODEL } from '../src/paths.js';
import { maxAbs, maxAbsDiff, needsShared, readGolden, runCli, topK } from './helpers.js';

test('default model: F16 copy of sdllm-tiny matches golden top-1 and logits within F16 rounding', needsShared, () => {
  const model = loadModel();
  assert.equal(model.config.hidden_size, 256);
  const g = readGolden('sdllm-tiny');
  for (const p of g.prompts) {
    const logits = model.forward(p.input_ids);
    assert.equal(topK(logits, 1)[0], p.top5_ids[0], `top-1 for "${p.text}"`);
    // F16 weights carry ~3 significant digits; the logits move by well under 2% of their range.
    assert.ok(maxAbsDiff(logits, p.last_logits) < 0.02 * maxAbs(p.last_logits));
  }
});

test('README main command: generate on the embedded model with no --model', () => {
  const r = runCli(['generate', '--prompt', 'Once upon a time', '--max-new-tokens', '8']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Once upon a time'));
  assert.ok(r.stdout.length > 'Once upon a time'.length + 8, 'some text was generated');
  assert.match(r.stderr, /generation: 8 tokens in [\d.]+ ms \([\d.]+ tokens\/s\)/);
  assert.ok(DEFAULT_MODEL.endsWith('sdllm-tiny'));
});
