/**
 * Energy: the engine's operation counts equal closed-form counts, energy ratios follow from the
 * counts and the table, and the address-event export round-trips with the statistics' event count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { loadModel } from '../src/model/load.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { enableOpCounting, opReport } from '../src/energy/count.js';
import { measure, perToken } from '../src/energy/measure.js';
import { energyOf } from '../src/energy/energy.js';
import { HOROWITZ_45NM, loadEnergyTable } from '../src/energy/table.js';
import { OpCounts } from '../src/energy/ops.js';
import { DenseLinear } from '../src/model/linear.js';
import { AerWriter, readAer } from '../src/formats/aer.js';
import { spikeLinears, enableSpikeStats, spikeSummary } from '../src/sdllm/stats.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { threshold } from '../src/spike/threshold.js';
import { spikeCounts } from '../src/spike/encode.js';
import { REPO_ROOT, runCli } from './helpers.js';

test('a dense layer counts rows x in x out MACs and its weight bytes', () => {
  const l = new DenseLinear(new Float32Array(6 * 5).fill(0.5), 6, 5, new Float32Array(6));
  l.ops = new OpCounts();
  l.forward(new Float32Array(3 * 5).fill(1), new Float32Array(3 * 6), 3);
  assert.equal(l.ops.mac_float, 3 * 5 * 6);
  assert.equal(l.ops.fp_add, 3 * 6); // the bias
  assert.equal(l.ops.weight_bytes, 3 * 6 * 5 * 4);
});

test('fp model on the embedded default model: counted MACs equal the closed form', () => {
  const model = loadModel();
  const c = model.config;
  const ids = model.tokenizer.encode('Once upon a time there was a little');
  const N = ids.length;
  enableOpCounting(model);
  model.forward(ids, { allLogits: true });
  const r = opReport(model);
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const perTokenLinear = c.num_hidden_layers * (d * qd + 2 * d * kvd + qd * d + 3 * d * I) + d * c.vocab_size;
  // Causal attention: position p attends to p + 1 keys, q·k and p·v each head_dim MACs per key and head.
  let attention = 0;
  for (let p = 0; p < N; p++) attention += c.num_hidden_layers * c.num_attention_heads * 2 * (p + 1) * c.head_dim;
  assert.equal(r.tokens, N);
  assert.equal(r.total.mac_float, N * perTokenLinear + attention);
  assert.equal(r.total.ac, 0);
});

test('spike-driven layers count (sum |c|) x out accumulations per token, and energy ratios follow from counts x table', () => {
  const { model, method } = loadMethodModel(undefined, { method: resolveMethod('sdllm', { calibrate: false }) });
  const ids = model.tokenizer.encode('It was a dark and stormy night, and the rain fell in torrents');
  // Independent count for one layer: capture its inputs, code them, sum |c| x m.
  const sl = spikeLinears([model.parts.layers[1].gate_proj])[0];
  let expectedAc = 0;
  sl.capture = (x, rows) => {
    const n = sl.inFeatures, c = new Int32Array(n), scratch = new Float32Array(n);
    for (let r = 0; r < rows; r++) {
      const theta = threshold(x, r * n, n, sl.rule, 7, scratch);
      spikeCounts(x, r * n, n, theta, 7, c, 0);
      for (let i = 0; i < n; i++) expectedAc += Math.abs(c[i]) * sl.outFeatures;
    }
  };
  const m = measure(model, method, ids, 512);
  sl.capture = null;
  const site = m.ops.sites.find((s) => s.name === sl.name)!;
  assert.equal(site.kind, 'spiking');
  assert.equal(site.ops.ac, expectedAc);
  assert.equal(site.ops.mac_float + site.ops.mac_int4 + site.ops.mac_int8, 0, 'no MACs in a spike-driven layer');

  const fp = loadMethodModel(undefined, { method: 'fp' });
  const mf = measure(fp.model, fp.method, ids, 512);
  const t = HOROWITZ_45NM;
  const ours = perToken(m, t, 'fp16').energy.compute, theirs = perToken(mf, t, 'fp16').energy.compute;
  // Recompute both from raw counts and the table's pJ, independently of energyOf().
  const price = (o: OpCounts) =>
    o.mac_float * (t.fp16_add + t.fp16_mult) + o.mac_int8 * (t.int8_add + t.int8_mult) + o.mac_int4 * (t.int4_add + t.int4_mult) +
    o.ac * t.int32_add + o.fp_add * t.fp16_add + o.fp_mult * t.fp16_mult + o.fp_special * t.fp32_special;
  assert.ok(Math.abs(ours - price(m.ops.total) / m.tokens) < 1e-6 * ours);
  assert.ok(Math.abs(theirs - price(mf.ops.total) / mf.tokens) < 1e-6 * theirs);
  assert.ok(ours < theirs, `sdllm ${ours} pJ/token should use less compute than fp ${theirs}`);
  assert.equal(energyOf(m.ops.total, t).table, 'horowitz45nm');
});

test('an energy table from JSON replaces entries, inherits the rest, and rejects unknown keys', () => {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-table-'));
  try {
    const f = nodePath.join(dir, 't.json');
    fs.writeFileSync(f, JSON.stringify({ name: 'mine', int32_add: 0.05 }));
    const t = loadEnergyTable(f);
    assert.equal(t.name, 'mine');
    assert.equal(t.int32_add, 0.05);
    assert.equal(t.fp16_mult, HOROWITZ_45NM.fp16_mult);
    fs.writeFileSync(f, JSON.stringify({ name: 'bad', int33_add: 1 }));
    assert.throws(() => loadEnergyTable(f), /unknown entry "int33_add"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('address-event export round-trips; its event count equals the spike statistics', () => {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-aer-'));
  try {
    const { model } = loadMethodModel(undefined, { method: resolveMethod('sdllm', { calibrate: false }) });
    const sls = spikeLinears(model.parts.layers.flatMap((l) => [l.q_proj, l.down_proj]));
    const file = nodePath.join(dir, 'e.aer');
    const writer = new AerWriter(file, sls.map((s) => s.name));
    const seen: { layer: string; counts: Int32Array }[] = [];
    for (const s of sls)
      s.eventSink = (layer, counts, n) => {
        writer.add(layer, counts, n);
        seen.push({ layer, counts: counts.slice(0, n) });
      };
    enableSpikeStats(model);
    model.forward(model.tokenizer.encode('The cat sat on the mat.'));
    writer.close();
    const aer = readAer(file);
    assert.deepEqual(aer.layers, sls.map((s) => s.name));
    // Expected events, rebuilt from the counts: |c| spikes of sign(c) at time steps 0..|c|-1.
    const expected: string[] = [];
    const pos = new Map<string, number>();
    for (const { layer, counts } of seen) {
      const p = pos.get(layer) ?? 0;
      pos.set(layer, p + 1);
      counts.forEach((c, i) => {
        for (let t = 0; t < Math.abs(c); t++) expected.push(`${p}/${layer}/${i}/${t}/${Math.sign(c)}`);
      });
    }
    assert.deepEqual(aer.events.map((e) => `${e.position}/${e.layer}/${e.neuron}/${e.timeStep}/${e.polarity}`), expected);
    const stats = spikeSummary(model)!;
    const statEvents = stats.layers.filter((l) => sls.some((s) => s.name === l.name)).reduce((a, l) => a + l.events, 0);
    assert.equal(aer.events.length, statEvents);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sdllm energy --json prints per-layer rows and ratios against fp and w4a4', () => {
  const r = runCli(['energy', '--data', nodePath.join(REPO_ROOT, 'README.md'), '--tokens', '64', '--no-calibrate', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.table.name, 'horowitz45nm');
  assert.deepEqual(j.methods.map((m: any) => m.method), ['sdllm', 'fp', 'w4a4']);
  assert.ok(j.layers.some((l: any) => l.kind === 'spiking' && l.acs_per_token > 0));
});
