/**
 * The zero-shot harness against log-likelihoods computed independently here: for every request,
 * a plain full forward pass of [BOS] + encode(context + " " + continuation) (no KV-cache
 * sharing), a float64 log-softmax written in this file, and the continuation's tokens summed.
 * The expected rankings (acc, acc_norm per character, LAMBADA's greedy match) come from those
 * numbers, never from the harness. One test per task format on a few real items of every task,
 * then the cases prefix sharing must get right: a tokenizer that merges across the
 * context/continuation boundary (whole[:len(ctx)] ≠ ctx), and contexts longer than the model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import type { Tokenizer } from '../src/model/tokenizer.js';
import { loadTask, resolveTask, charLength, type TaskFormat } from '../src/eval/tasks.js';
import { runEval } from '../src/eval/harness.js';
import { Scorer } from '../src/eval/scoring.js';
import { resolveMethod } from '../src/sdllm/method.js';
import type { SampleRecord } from '../src/eval/metrics.js';
import { DATA, MODELS, needsShared } from './helpers.js';

const EVAL_DIR = nodePath.join(DATA, 'eval');

/** log p of each continuation token, from one full forward pass of `input` (no cache reuse). */
function independentScore(model: LlamaModel, input: number[], scoreFrom: number): { ll: number; greedy: boolean; n: number } {
  const V = model.config.vocab_size;
  const logits = model.forward(input, { allLogits: true });
  let ll = 0, greedy = true;
  for (let j = scoreFrom; j < input.length; j++) {
    const row = logits.subarray((j - 1) * V, j * V);
    let max = -Infinity, best = -1;
    for (let v = 0; v < V; v++) if (row[v] > max) ((max = row[v]), (best = v));
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
    ll += row[input[j]] - max - Math.log(z);
    if (best !== input[j]) greedy = false;
  }
  return { ll, greedy, n: input.length - scoreFrom };
}

/** CONVENTIONS.md's tokenization, written out again: [BOS] + whole, continuation = whole[len(ctx):]. */
function lmEvalInput(model: LlamaModel, context: string, continuation: string, maxLen = Infinity): { input: number[]; scoreFrom: number } {
  const tok = model.tokenizer;
  const whole = tok.encode(`${context} ${continuation}`, { add_special_tokens: false });
  const ctx = tok.encode(context, { add_special_tokens: false });
  let input = [tok.bosTokenId!, ...whole];
  let scoreFrom = 1 + ctx.length;
  if (input.length > maxLen) {
    scoreFrom -= input.length - maxLen;
    input = input.slice(input.length - maxLen);
  }
  return { input, scoreFrom };
}

const firstMax = (xs: number[]) => xs.indexOf(Math.max(...xs));

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: harness ${a} vs independent ${b}`);
}

const TASKS: Record<TaskFormat, string[]> = {
  multiple_choice: ['piqa', 'arc_easy', 'arc_challenge', 'hellaswag', 'boolq', 'openbookqa', 'copa'],
  partial: ['winogrande'],
  last_word: ['lambada_openai'],
};
const N_ITEMS = 4;

let tiny: LlamaModel | null = null;
const tinyModel = () => (tiny ??= loadModel(nodePath.join(MODELS, 'sdllm-tiny')));

for (const [format, names] of Object.entries(TASKS) as [TaskFormat, string[]][]) {
  test(`${format} items (${names.join(', ')}): log-likelihoods and rankings match an independent computation`, needsShared, () => {
    const model = tinyModel();
    assert.equal(model.tokenizer.encode('a')[0], model.tokenizer.bosTokenId, 'sdllm-tiny adds BOS by default');
    const tasks = names.map((n) => loadTask(resolveTask(n, EVAL_DIR)));
    const { output } = runEval({ model, modelPath: 'sdllm-tiny', method: resolveMethod('fp'), tasks, limit: N_ITEMS });
    for (const t of tasks) {
      const recs: SampleRecord[] = output.samples[t.spec.name];
      assert.equal(recs.length, N_ITEMS);
      for (const rec of recs) {
        const item = t.items[rec.doc_id];
        const where = `${t.spec.name}[${rec.doc_id}]`;
        const ind = item.requests.map((r) => {
          const { input, scoreFrom } = lmEvalInput(model, r.context, r.continuation);
          return independentScore(model, input, scoreFrom);
        });
        ind.forEach((s, i) => {
          close(rec.ll[i], s.ll, `${where} request ${i} ll`);
          assert.equal(rec.tokens[i], s.n, `${where} request ${i} scored tokens`);
          assert.equal(rec.greedy[i], s.greedy, `${where} request ${i} greedy`);
        });
        if (format === 'last_word') {
          assert.equal(rec.acc, ind[0].greedy ? 1 : 0, `${where} acc = greedy match`);
          continue;
        }
        const lls = ind.map((s) => s.ll);
        const pred = firstMax(lls);
        assert.equal(rec.pred, pred, `${where} prediction`);
        assert.equal(rec.acc, pred === item.gold ? 1 : 0, `${where} acc`);
        if (format === 'multiple_choice') {
          const choices = item.requests.map((r) => r.continuation);
          const predNorm = firstMax(lls.map((ll, i) => ll / [...choices[i]].length));
          assert.equal(rec.pred_norm, predNorm, `${where} prediction per character`);
          assert.equal(rec.acc_norm, predNorm === item.gold ? 1 : 0, `${where} acc_norm`);
        }
      }
      // Metrics over the items, recomputed from the independent outcomes' definition.
      const res = output.results[t.spec.name];
      const accs = recs.map((r) => r.acc);
      close(res['acc,none'] as number, accs.reduce((a, b) => a + b, 0) / accs.length, `${t.spec.name} acc`);
      if (format === 'last_word') {
        const lls = recs.map((r) => r.ll[0]);
        close(res['perplexity,none'] as number, Math.exp(-lls.reduce((a, b) => a + b, 0) / lls.length), `${t.spec.name} perplexity`);
      }
    }
  });
}

// A tokenizer whose merges cross the context/continuation boundary: "e " is one token, and
// "e a" another, so whole[:len(ctx)] differs from ctx and, between choices, the shared prefix
// ends inside the context.
function mergingTokenizer(base: Tokenizer): Tokenizer {
  return {
    kind: base.kind,
    vocabSize: base.vocabSize,
    bosTokenId: 1,
    eosTokenIds: [2],
    encode(text, opts) {
      const ids: number[] = (opts?.add_special_tokens ?? true) ? [1] : [];
      for (let i = 0; i < text.length; i++) {
        if (text.startsWith('e a', i)) {
          ids.push(501);
          i += 2;
        } else if (text.startsWith('e ', i)) {
          ids.push(500);
          i += 1;
        } else ids.push(3 + (text.charCodeAt(i) % 480));
      }
      return ids;
    },
    decode: () => '',
  };
}

test('prefix sharing when BPE merges across the boundary: the input is always [BOS] + whole', needsShared, () => {
  const base = loadModel(nodePath.join(MODELS, 'stories260K', 'stories260K.bin'));
  const model = new LlamaModel(base.config, mergingTokenizer(base.tokenizer), base.parts);
  const context = 'Tom saw the house';
  const choices = ['is big.', 'a cat sat there.', 'is small and red.', 'x'];
  const tok = model.tokenizer;
  const ctx = tok.encode(context, { add_special_tokens: false });
  const wholes = choices.map((c) => tok.encode(`${context} ${c}`, { add_special_tokens: false }));
  assert.notDeepEqual(wholes[0].slice(0, ctx.length), ctx, 'the test tokenizer merges across the boundary');
  assert.notEqual(wholes[0][ctx.length - 1], wholes[1][ctx.length - 1], 'choices differ inside the context');
  const scorer = new Scorer(model);
  const got = scorer.scoreItem(choices.map((c) => ({ context, continuation: c })));
  choices.forEach((c, i) => {
    const { input, scoreFrom } = lmEvalInput(model, context, c);
    const ind = independentScore(model, input, scoreFrom);
    close(got[i].ll, ind.ll, `choice ${i}`);
    assert.equal(got[i].tokens, ind.n);
    assert.equal(got[i].greedy, ind.greedy);
  });
  // Same-boundary choices only: the prefix ends at the first scored token.
  const same = scorer.scoreItem(['is big.', 'is small.'].map((c) => ({ context, continuation: c })));
  ['is big.', 'is small.'].forEach((c, i) => {
    const { input, scoreFrom } = lmEvalInput(model, context, c);
    close(same[i].ll, independentScore(model, input, scoreFrom).ll, `same-boundary choice ${i}`);
  });
});

test('contexts longer than the model are cut from the left (as lm-eval does), choices still share', needsShared, () => {
  const model = loadModel(nodePath.join(MODELS, 'stories260K', 'stories260K.bin'));
  const maxLen = model.config.max_position_embeddings;
  const context = 'Once upon a time, there was a little girl named Lily who liked to play outside. '.repeat(40).trim();
  const choices = ['She was happy.', 'The sun was hot and the dog ran away.'];
  const scorer = new Scorer(model);
  const got = scorer.scoreItem(choices.map((c) => ({ context, continuation: c })));
  choices.forEach((c, i) => {
    const { input, scoreFrom } = lmEvalInput(model, context, c, maxLen);
    assert.equal(input.length, maxLen, 'the test context is longer than the model');
    const ind = independentScore(model, input, scoreFrom);
    close(got[i].ll, ind.ll, `choice ${i}`);
    assert.ok(got[i].truncated > 0);
  });
});

test('single-token continuations cost no forward call of their own; multi-token ones one each', needsShared, () => {
  const model = tinyModel();
  const scorer = new Scorer(model);
  const one = scorer.scoreItem([{ context: 'The sky is blue. Is the sky blue?', continuation: 'yes' }, { context: 'The sky is blue. Is the sky blue?', continuation: 'no' }]);
  assert.equal(one.length, 2);
  assert.equal(scorer.counters.calls, 1, 'one call for the shared context; " yes" and " no" are single tokens');
  scorer.scoreItem([{ context: 'Once upon a time', continuation: 'there was a dog.' }, { context: 'Once upon a time', continuation: 'it rained all day long.' }]);
  assert.equal(scorer.counters.calls, 1 + 3);
});

test('acc_norm counts characters as Python does (code points)', () => {
  assert.equal(charLength('abc'), 3);
  assert.equal(charLength('café'), 4);
  assert.equal(charLength('a😀b'), 3);
  assert.equal(charLength(''), 0);
});
