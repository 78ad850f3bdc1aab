/**
 * SDLLM core on real models: rotation keeps the float function, spike-driven layers compute what
 * the dequantised dense layer computes, `events` and `counts` agree bit for bit, binary coding
 * needs twice the time steps of ternary, and a converted file reloads to identical outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { openCheckpoint, loadFloatWeights } from '../src/model/load.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { prepareModel, assembleModel } from '../src/sdllm/prepare.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { enableSpikeStats, spikeSummary, spikeLinears } from '../src/sdllm/stats.js';
import { SpikeLinear } from '../src/spike/spike-linear.js';
import { dequantize } from '../src/quant/weights.js';
import { threshold } from '../src/spike/threshold.js';
import { spikeCounts } from '../src/spike/encode.js';
import { writeSdllmFile } from '../src/formats/sdllm-file.js';
import { readSafetensorsHeader } from '../src/formats/safetensors.js';
import { readHeadBF16 } from '../src/model/weights.js';
import { BF16Linear } from '../src/model/linear.js';
import { UnrotatedHead } from '../src/quant/rotate.js';
import { enableOpCounting, opReport } from '../src/energy/count.js';
import { MODELS, maxAbs, maxAbsDiff, needsShared, readGolden, runCli } from './helpers.js';

const SMALL = nodePath.join(MODELS, 'sdllm-small');

function methodModel(path: string, method: string, overrides = {}) {
  const ck = openCheckpoint(path);
  const m = resolveMethod(method, { calibrate: false, ...overrides });
  return assembleModel(prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), m));
}

for (const [name, path] of [
  ['sdllm-small (hidden 512, intermediate 1408 = 44·32)', 'sdllm-small'],
  ['sdllm-tiny (intermediate 688: block-diagonal fallback)', 'sdllm-tiny'],
  ['stories260K (interleaved RoPE)', 'stories260K/stories260K.bin'],
] as const) {
  test(`rotation leaves float logits unchanged: ${name}`, needsShared, () => {
    const full = nodePath.join(MODELS, path);
    const ids = [0, 1, 2].map((k) => readGolden(path.split('/')[0]).prompts[k]).map((p: any) => p.input_ids ?? p.ids);
    const plain = methodModel(full, 'fp');
    const rotated = methodModel(full, 'fp', { rotate: 'hadamard', onlineRotation: ['down_proj', 'o_proj'] });
    for (const p of ids) {
      const a = plain.forward(p, { allLogits: true }), b = rotated.forward(p, { allLogits: true });
      const diff = maxAbsDiff(a, b);
      assert.ok(diff <= 1e-4 * maxAbs(a), `rotated logits differ by ${diff} (max |logit| ${maxAbs(a)})`);
    }
  });
}

/** Real inputs of a real layer: the rows the model feeds gate_proj of layer 3 on a golden prompt. */
function capturedInputs(model: ReturnType<typeof methodModel>, layer: number, role: 'gate_proj' | 'down_proj') {
  const sl = spikeLinears([model.parts.layers[layer][role]])[0];
  let X = new Float32Array(0), rows = 0;
  sl.capture = (x, r) => {
    X = x.slice(0, r * sl.inFeatures);
    rows = r;
  };
  model.forward(readGolden('sdllm-small').prompts[2].input_ids);
  sl.capture = null;
  return { sl, X, rows };
}

test('events and counts execution give bit-identical outputs on real layers of sdllm-small', needsShared, () => {
  for (const method of ['sdllm', 'sdllm-t3', 'spike-binary', 'spikingbrain']) {
    const model = methodModel(SMALL, method);
    for (const role of ['gate_proj', 'down_proj'] as const) {
      const { sl, X, rows } = capturedInputs(model, 3, role);
      const yc = new Float32Array(rows * sl.outFeatures), ye = new Float32Array(rows * sl.outFeatures);
      sl.execution = 'counts';
      sl.forward(X, yc, rows);
      sl.execution = 'events';
      sl.forward(X, ye, rows);
      assert.deepEqual(new Uint32Array(ye.buffer), new Uint32Array(yc.buffer), `${method} ${role}: events ≠ counts`);
      assert.ok(maxAbs(yc) > 0, 'non-trivial output');
    }
  }
});

test('the spiking linear equals the dense dequantised layer applied to θ·c, within float rounding', needsShared, () => {
  const model = methodModel(SMALL, 'sdllm');
  const { sl, X, rows } = capturedInputs(model, 5, 'gate_proj');
  const W = dequantize(sl.qw);
  const n = sl.inFeatures, m = sl.outFeatures;
  const y = new Float32Array(rows * m);
  sl.forward(X, y, rows);
  const c = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    const theta = threshold(X, r * n, n, sl.rule, 7, new Float32Array(n));
    spikeCounts(X, r * n, n, theta, 7, c, 0);
    for (let o = 0; o < m; o++) {
      let ref = 0, mag = 0;
      for (let i = 0; i < n; i++) {
        ref += W[o * n + i] * theta * c[i];
        mag += Math.abs(W[o * n + i] * theta * c[i]);
      }
      assert.ok(Math.abs(y[r * m + o] - ref) <= 1e-6 * mag + 1e-7, `row ${r} out ${o}: ${y[r * m + o]} vs ${ref}`);
    }
  }
});

test('binary spikes need exactly twice the time steps of ternary; sdllm halves spike-binary events', needsShared, () => {
  const ids = readGolden('sdllm-small').prompts[1].input_ids;
  const summary = (method: string) => {
    const model = methodModel(SMALL, method);
    enableSpikeStats(model);
    model.forward(ids);
    return spikeSummary(model)!.linears;
  };
  const ternary = summary('spike-ternary'), binary = summary('spike-binary'), sdllm = summary('sdllm');
  assert.equal(ternary.timeSteps, 7);
  assert.equal(binary.timeSteps, 14);
  assert.ok(sdllm.eventsPerToken <= 0.5 * binary.eventsPerToken, `sdllm ${sdllm.eventsPerToken} vs binary ${binary.eventsPerToken} events/token`);
  // Clipping makes zero-and-one counts dominate: most mass of the histogram is at |c| <= 1.
  const h = sdllm.histogram;
  assert.equal(h.kind, 'signed');
  if (h.kind === 'signed') {
    const total = h.bins.reduce((a, b) => a + b, 0);
    const small = h.bins[7] + h.bins[6] + h.bins[8];
    assert.ok(small / total > 0.4, `|c| <= 1 fraction ${small / total}`);
  }
});

test('a converted file reloads to bit-identical logits (with calibrated γ recorded)', needsShared, () => {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-convert-'));
  try {
    const calibFile = nodePath.join(dir, 'calib.txt');
    fs.writeFileSync(calibFile, readGolden('sdllm-small').prompts.map((p: any) => p.greedy.full_text).join('\n\n').repeat(4));
    const live = loadMethodModel(SMALL, { method: 'sdllm', calibration: { file: calibFile, tokens: 256, rows: 64 } });
    assert.ok(live.calibration.length === 4 * 8, `calibrated ${live.calibration.length} layer inputs`);
    for (const c of live.calibration) assert.ok(c.best >= c.atAbsmax - 1e-12, `${c.linears[0]}: calibrated cosine ${c.best} < absmax ${c.atAbsmax}`);
    const file = nodePath.join(dir, 'small.sdllm');
    writeSdllmFile(file, live.prepared!);
    const loaded = loadMethodModel(file);
    assert.equal(loaded.method.method, 'sdllm');
    const ids = readGolden('sdllm-small').prompts[0].input_ids;
    const a = live.model.forward(ids, { allLogits: true }), b = loaded.model.forward(ids, { allLogits: true });
    assert.deepEqual(new Uint32Array(b.buffer), new Uint32Array(a.buffer));
    const gammas = spikeLinears(loaded.model.parts.layers.map((l) => l.down_proj)).map((l: SpikeLinear) => l.rule);
    assert.deepEqual(gammas, live.calibration.filter((c) => c.linears[0].endsWith('down_proj')).map((c) => ({ kind: 'quantile', gamma: c.gamma })));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a bf16 checkpoint keeps its float lm_head as stored: the folded float32 head\'s logits at half the bytes, in memory and in a converted file', needsShared, () => {
  const ck = openCheckpoint(SMALL);
  const c = ck.config;
  const raw = readHeadBF16(ck.tensors, c);
  assert.ok(raw, 'sdllm-small stores its (tied) head as BF16');
  const method = resolveMethod('sdllm', { calibrate: false });
  const kept = prepareModel(c, ck.tokenizer, loadFloatWeights(ck), method);
  assert.ok(kept.lm_head.weight instanceof Uint16Array);
  assert.deepEqual(kept.lm_head.weight, raw, 'the head is the checkpoint\'s words, neither rotated nor scaled');
  const widened = loadFloatWeights(ck);
  widened.lm_head_bf16 = null; // the float32 path: norm and rotation folded into the head
  const a = assembleModel(kept), b = assembleModel(prepareModel(c, ck.tokenizer, widened, method));
  assert.ok(a.parts.lm_head instanceof UnrotatedHead && a.parts.lm_head.inner instanceof BF16Linear, 'Qᵀ and the norm weight run before the bf16 head');
  assert.ok(a.parts.norm.every((v) => v === 1), 'the final norm\'s weight moved to the head');
  const ids = readGolden('sdllm-small').prompts[1].input_ids;
  const la = a.forward(ids, { allLogits: true }), lb = b.forward(ids, { allLogits: true });
  const diff = maxAbsDiff(la, lb);
  assert.ok(diff > 0 && diff <= 1e-5 * maxAbs(lb), `logits differ by ${diff} (max |logit| ${maxAbs(lb)})`);

  enableOpCounting(a);
  a.forward(ids.slice(0, 4));
  const sites = opReport(a).sites;
  const head = sites.find((s) => s.name === 'lm_head')!, rot = sites.find((s) => s.name === 'lm_head.inverse_rotation')!;
  assert.equal(head.ops.weight_bytes, c.vocab_size * c.hidden_size * 2, 'one token reads the head at 2 bytes per weight');
  assert.equal(rot.ops.fp_add, 9 * c.hidden_size, 'one fast Hadamard transform of 512 values: 512·log2(512) additions');

  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-bf16-head-'));
  try {
    const file = nodePath.join(dir, 'small.sdllm');
    writeSdllmFile(file, kept);
    const h = readSafetensorsHeader(file);
    assert.equal(h.tensors.get('lm_head.weight')!.dtype, 'BF16');
    const loaded = loadMethodModel(file);
    assert.deepEqual(new Uint32Array(loaded.model.forward(ids, { allLogits: true }).buffer), new Uint32Array(la.buffer));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sdllm generate --method sdllm on the default model writes text and prints the stats line', () => {
  const r = runCli(['generate', '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--method', 'sdllm', '--stats', '--calib-tokens', '256']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 'Once upon a time'.length + 12);
  assert.match(r.stderr, /spike stats: firing rate [\d.]+% \| T 7 \| mean \|count\| [\d.]+ \| silent [\d.]+% \| events\/token [\d,]+/);
});
