/**
 * Results of `sdllm eval` beyond the scoring: metrics and stderr, the lm-eval table, sharding
 * and `sdllm merge` (byte-identical to one run), --resume after a kill (byte-identical to an
 * uninterrupted run), and the one-line errors of bad task files and flags.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { spawn } from 'node:child_process';
import { meanStderr, mcnemarExact, pairwise, taskMetrics, withOutcome, type SampleRecord } from '../src/eval/metrics.js';
import { lmEvalTable } from '../src/eval/table.js';
import { buildOutput, serializeOutput, type EvalConfig, type TaskInfo } from '../src/eval/results.js';
import { selectItems, parseShard, type TaskItem } from '../src/eval/tasks.js';
import { DATA, MODELS, REPO_ROOT, needsShared, runCli } from './helpers.js';

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-eval-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const tmp = (name: string) => nodePath.join(ROOT, name);

const STORIES = nodePath.join(MODELS, 'stories260K', 'stories260K.bin');
const TINY = nodePath.join(MODELS, 'sdllm-tiny');

test('stderr of a mean is sqrt(p(1-p)/(n-1)) for accuracies', () => {
  const xs = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1];
  const p = 0.7;
  assert.ok(Math.abs(meanStderr(xs) - Math.sqrt((p * (1 - p)) / (xs.length - 1))) < 1e-15);
  assert.ok(Number.isNaN(meanStderr([1])));
});

test('acc takes the first of tied choices; acc_norm divides by characters; perplexity is exp(-mean ll)', () => {
  const r = withOutcome('multiple_choice', { doc_id: 0, ll: [-4, -4, -6], greedy: [false, false, false], tokens: [2, 2, 2], gold: 1, chars: [4, 8, 20] });
  assert.equal(r.pred, 0);
  assert.equal(r.acc, 0);
  assert.equal(r.pred_norm, 2); // -6/20 > -4/8 > -4/4
  const lw = [withOutcome('last_word', { doc_id: 0, ll: [-1], greedy: [true], tokens: [1] }), withOutcome('last_word', { doc_id: 1, ll: [-3], greedy: [false], tokens: [2] })];
  const [ppl, acc] = taskMetrics(['perplexity', 'acc'], lw);
  assert.ok(Math.abs(ppl.value - Math.exp(2)) < 1e-12);
  assert.equal(acc.value, 0.5);
  // Delta-method stderr: ppl · sd(ll)/√n.
  assert.ok(Math.abs(ppl.stderr - Math.exp(2) * Math.sqrt(2) / Math.sqrt(2)) < 1e-12);
});

test('McNemar: exact two-sided p and pairwise counts', () => {
  assert.equal(mcnemarExact(0, 0), 1);
  assert.ok(Math.abs(mcnemarExact(1, 9) - (2 * 11) / 1024) < 1e-15);
  assert.ok(Math.abs(mcnemarExact(9, 1) - (2 * 11) / 1024) < 1e-15);
  assert.equal(mcnemarExact(5, 5), 1);
  const mk = (doc_id: number, pred: number, gold: number): SampleRecord => withOutcome('partial', { doc_id, ll: pred === 0 ? [0, -1] : [-1, 0], greedy: [false, false], tokens: [1, 1], gold });
  const a = [mk(0, 0, 0), mk(1, 1, 0), mk(2, 0, 0), mk(3, 1, 1)];
  const b = [mk(0, 0, 0), mk(1, 0, 0), mk(2, 1, 0), mk(3, 1, 1)];
  const p = pairwise(a, b);
  assert.deepEqual([p.n, p.agree, p.both_right, p.a_only, p.b_only, p.both_wrong], [4, 2, 2, 1, 1, 0]);
});

test('shards: every N-th item, disjoint, covering the --limit selection', () => {
  const items: TaskItem[] = Array.from({ length: 10 }, (_, idx) => ({ idx, requests: [] }));
  const parts = [0, 1, 2].map((k) => selectItems(items, 8, { k, n: 3 }).map((i) => i.idx));
  assert.deepEqual(parts, [[0, 3, 6], [1, 4, 7], [2, 5]]);
  assert.deepEqual(parseShard('2/4'), { k: 2, n: 4 });
  for (const bad of ['4/4', '1/0', 'x', '-1/2', '1/2/3']) assert.throws(() => parseShard(bad), /--shard/);
});

test('the lm-eval table', () => {
  const config = { model: 'm', method: {}, backend: 'ts', max_length: 8, prefix: [1], delimiter: ' ', method_description: 'fp', limit: null, shard: null } as EvalConfig;
  const info = (format: TaskInfo['format'], metrics: TaskInfo['metrics'], version: number): TaskInfo => ({ file: 'f', sha256: 's', format, metrics, version, items_in_file: 2, items: 2 });
  const out = buildOutput(
    config,
    { piqa: info('multiple_choice', ['acc', 'acc_norm'], 1), lambada_openai: info('last_word', ['perplexity', 'acc'], 1) },
    {
      piqa: [
        withOutcome('multiple_choice', { doc_id: 1, ll: [-1, -2], greedy: [false, false], tokens: [1, 1], gold: 0, chars: [1, 1] }),
        withOutcome('multiple_choice', { doc_id: 0, ll: [-1, -2], greedy: [false, false], tokens: [1, 1], gold: 1, chars: [10, 1] }),
      ],
      lambada_openai: [withOutcome('last_word', { doc_id: 0, ll: [-1], greedy: [true], tokens: [1] }), withOutcome('last_word', { doc_id: 1, ll: [-2], greedy: [false], tokens: [1] })],
    },
  );
  assert.deepEqual(out.samples.piqa.map((r) => r.doc_id), [0, 1], 'samples sorted by doc_id');
  assert.equal(
    lmEvalTable(out),
    [
      '|    Tasks     |Version|Filter|n-shot|  Metric  |Value |   |Stderr|',
      '|--------------|------:|------|-----:|----------|-----:|---|-----:|',
      '|lambada_openai|      1|none  |     0|perplexity|4.4817|±  |2.2408|',
      '|              |       |none  |     0|acc       |0.5000|±  |0.5000|',
      '|piqa          |      1|none  |     0|acc       |0.5000|±  |0.5000|',
      '|              |       |none  |     0|acc_norm  |0.5000|±  |0.5000|',
      '',
    ].join('\n'),
  );
  assert.deepEqual(JSON.parse(serializeOutput(out)), JSON.parse(JSON.stringify(out)), 'the serialized JSON is the output');
});

// ---------------------------------------------------------------------------------------------
// Through the CLI

const TASKS = 'copa,winogrande,lambada_openai,arc_easy,piqa';

test('shards merged by `sdllm merge` give byte-for-byte the results JSON of one run', needsShared, () => {
  const base = ['eval', '--model', TINY, '--tasks', TASKS, '--limit', '7', '--quiet'];
  const single = tmp('single.json');
  let r = runCli([...base, '--output_path', single]);
  assert.equal(r.code, 0, r.stderr);
  const table = r.stdout;
  const shards = [0, 1, 2].map((k) => tmp(`shard${k}.json`));
  shards.forEach((out, k) => {
    // Different thread counts per shard, as on different machines.
    const res = runCli([...base, '--shard', `${k}/3`, '--threads', String(1 + (k % 2)), '--output_path', out]);
    assert.equal(res.code, 0, res.stderr);
  });
  const merged = tmp('merged.json');
  r = runCli(['merge', shards[2], shards[0], shards[1], '--output_path', merged]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(merged, 'utf8'), fs.readFileSync(single, 'utf8'));
  assert.equal(r.stdout, table, 'merge prints the same table');
  // A shard left out, or shards of different runs: one-line errors.
  r = runCli(['merge', shards[0], shards[2]]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sdllm: error: task copa: 2 of its 7 items are in none of the files \(shards 1\/3 not given\)\n$/);
  const other = tmp('other.json');
  assert.equal(runCli(['eval', '--model', TINY, '--tasks', 'copa', '--limit', '3', '--quiet', '--output_path', other]).code, 0);
  r = runCli(['merge', shards[0], other]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sdllm: error: .*other\.json: made with a different limit than .*shard0\.json\n$/);
});

/** Runs the CLI and kills it (SIGKILL) once its journal holds `lines` samples. */
function runAndKill(args: string[], journal: string, lines: number): Promise<{ killed: boolean; samples: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nodePath.join(REPO_ROOT, 'bin', 'sdllm.js'), ...args], { stdio: 'ignore' });
    let killed = false, samples = 0;
    const timer = setInterval(() => {
      if (!fs.existsSync(journal)) return;
      samples = fs.readFileSync(journal, 'utf8').split('\n').filter((l) => l.startsWith('{"task"')).length;
      if (samples >= lines && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', () => {
      clearInterval(timer);
      resolve({ killed, samples });
    });
  });
}

test('--resume after a kill mid-run gives the same JSON as an uninterrupted run', needsShared, async () => {
  const base = ['eval', '--model', TINY, '--tasks', 'hellaswag,arc_easy', '--limit', '40', '--quiet'];
  const full = tmp('full.json');
  let r = runCli([...base, '--output_path', full]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!fs.existsSync(`${full}.partial.jsonl`), 'the journal is removed once the results are written');

  const out = tmp('resumed.json');
  const journal = `${out}.partial.jsonl`;
  const killed = await runAndKill([...base, '--output_path', out], journal, 25);
  assert.ok(killed.killed, 'the run was killed before it finished');
  assert.ok(!fs.existsSync(out), 'no results file before the run completes');
  const kept = fs.readFileSync(journal, 'utf8').split('\n').filter((l) => l.startsWith('{"task"')).length;
  assert.ok(kept >= 25 && kept < 80, `journal holds ${kept} of 80 items`);
  // Tear the last line, as a kill during a write would.
  fs.appendFileSync(journal, '{"task":"arc_easy","sample":{"doc_id":3');

  r = runCli([...base, '--output_path', out]);
  assert.equal(r.code, 2, 'without --resume an interrupted run is not overwritten');
  assert.match(r.stderr, /add --resume to continue it/);
  r = runCli([...base, '--output_path', out, '--limit', '10', '--resume', '--method', 'w4a16']);
  assert.equal(r.code, 2, 'resuming with another method is refused');
  assert.match(r.stderr, /cannot resume: made with a different method/);

  // Resume, and be killed (and torn) again.
  const again = await runAndKill([...base, '--output_path', out, '--resume'], journal, 50);
  assert.ok(again.killed, 'the resumed run was killed before it finished');
  fs.appendFileSync(journal, '{"task":"arc_easy","sa');

  r = runCli([...base, '--output_path', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(full, 'utf8'));
  assert.ok(!fs.existsSync(journal));
  // Resuming a finished run with more tasks scores only the new ones and keeps the rest.
  r = runCli(['eval', '--model', TINY, '--tasks', 'hellaswag,arc_easy,copa', '--limit', '40', '--output_path', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /40 items scored \(80 resumed\)/);
});

test('bad task files and flags: one line, exit 2', needsShared, () => {
  const bad = tmp('bad.jsonl');
  fs.writeFileSync(bad, '{"query": "q", "choices": ["a", "b"], "gold": 0}\n{"query": "q", "choices": ["a", "b"], "gold": 2}\n');
  let r = runCli(['eval', '--model', STORIES, '--tasks', bad]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `sdllm: error: ${bad}: line 2: "gold" must be an integer in [0, 1]\n`);
  fs.writeFileSync(bad, '{"query": "q", "choices": ["a", "b"], "gold": 0}\nnot json\n');
  r = runCli(['eval', '--model', STORIES, '--tasks', bad]);
  assert.equal(r.stderr, `sdllm: error: ${bad}: line 2 is not valid JSON\n`);
  r = runCli(['eval', '--model', STORIES, '--tasks', 'nosuchtask']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sdllm: error: unknown task "nosuchtask"/);
  r = runCli(['eval', '--model', STORIES, '--tasks', 'copa', '--shard', '3/3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shard takes K\/N with 0 <= K < N/);
  r = runCli(['eval', '--model', STORIES, '--tasks', 'copa', '--resume']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--resume needs --output_path/);
  // A task given as a path, named after the file, with the known task's metrics.
  const own = tmp('hellaswag_mine.jsonl');
  fs.writeFileSync(own, '{"query": "A man walks", "choices": ["to the store.", "into a sky of fish."], "gold": 0}\n');
  r = runCli(['eval', '--model', STORIES, '--tasks', `${own},mine=${own}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(res.results), ['hellaswag_mine', 'mine']);
  assert.deepEqual(res.tasks.hellaswag_mine.metrics, ['acc', 'acc_norm']);
});

test('HellaSwag files of the full validation size (10,042 items) load, shard and run', needsShared, () => {
  // The shared folder has the 200-item slice; a full-size file of the same format is built from it.
  const slice = fs.readFileSync(nodePath.join(DATA, 'eval', 'hellaswag_dev200.jsonl'), 'utf8').split('\n').filter(Boolean);
  const dir = tmp('full-hellaswag');
  fs.mkdirSync(dir);
  fs.writeFileSync(nodePath.join(dir, 'hellaswag.jsonl'), Array.from({ length: 10042 }, (_, i) => slice[i % slice.length]).join('\n') + '\n');
  const r = runCli(['eval', '--model', STORIES, '--tasks', 'hellaswag', '--data-dir', dir, '--limit', '9', '--shard', '1/4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.tasks.hellaswag.file, nodePath.join(dir, 'hellaswag.jsonl'), 'hellaswag.jsonl is preferred to the 200-item slice');
  assert.deepEqual(res['n-samples'].hellaswag, { original: 10042, effective: 2 });
});

test('sdllm compare: methods as rows, metrics as columns, energy per token, agreement with the first', needsShared, () => {
  const dir = tmp('compare');
  let r = runCli(['compare', '--model', STORIES, '--methods', 'fp,w4a4', '--tasks', 'copa,lambada_openai', '--limit', '6', '--ppl', 'tinystories', '--ppl-limit', '1', '--energy-tokens', '64', '--output-dir', dir, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const header = lines.find((l) => l.startsWith('|method'))!;
  for (const col of ['copa acc', 'lambada_openai ppl', 'lambada_openai acc', 'mean acc', 'tinystories ppl', 'compute/token']) assert.ok(header.includes(col), `column ${col} in ${header}`);
  assert.ok(lines.some((l) => l.startsWith('|fp ')) && lines.some((l) => l.startsWith('|w4a4')));
  assert.match(r.stdout, /horowitz45nm/);
  const summary = JSON.parse(fs.readFileSync(nodePath.join(dir, 'compare.json'), 'utf8'));
  assert.equal(summary.agreement.w4a4.copa.n, 6);
  // The per-method results files compare item by item without running anything.
  r = runCli(['compare', nodePath.join(dir, 'fp.json'), nodePath.join(dir, 'w4a4.json'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const fromFiles = JSON.parse(r.stdout);
  assert.deepEqual(fromFiles.agreement, summary.agreement);
  assert.deepEqual(fromFiles.methods.map((m: { results: unknown }) => m.results), summary.methods.map((m: { results: unknown }) => m.results));
});
