/**
 * 4-bit weights kept packed in the model: SpikeLinear reads the nibbles directly (no int8 copy)
 * and gives the very bits the int8 path gives; W4A16Linear computes w4a16 without a float copy,
 * within float rounding of DenseLinear over the dequantized weights, and counts the packed bytes;
 * shared step-1 coding (q/k/v, gate/up) changes nothing; synthetic models run every method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/kernels/node.js';
import { registeredBackends, setBackend, backendName, type BackendName } from '../src/kernels/registry.js';
import { quantizeWeights, packColumns, unpackAll, dequantize, type QuantizedWeights } from '../src/quant/weights.js';
import { W4A16Linear } from '../src/quant/w4a16-linear.js';
import { DenseLinear } from '../src/model/linear.js';
import { SpikeLinear } from '../src/spike/spike-linear.js';
import { resolveMethod, METHOD_NAMES } from '../src/sdllm/method.js';
import { assembleModel } from '../src/sdllm/prepare.js';
import { syntheticConfig, syntheticModel, randomQuantizedWeights, SyntheticTokenizer } from '../src/sdllm/synthetic.js';
import { enableOpCounting, opReport } from '../src/energy/count.js';
import { OpCounts } from '../src/energy/ops.js';

function floats(len: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale * (i % 97 === 0 ? 6 : 1);
  }
  return a;
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** The same integers as 8-bit weights (so SpikeLinear takes its int8 path). */
function as8bit(qw: QuantizedWeights): QuantizedWeights {
  return { ...qw, bits: 8, packed: packColumns(unpackAll(qw), qw.rows, qw.cols, 8) };
}

function eachBackend(f: (name: BackendName) => void): void {
  const before = backendName();
  try {
    for (const name of registeredBackends()) {
      setBackend(name);
      f(name);
    }
  } finally {
    setBackend(before);
  }
}

test('SpikeLinear keeps 4-bit weights packed and matches the int8 path bit for bit (counts and events)', () => {
  const [m, n, rows] = [300, 520, 5];
  const qw = quantizeWeights(floats(m * n, 1, 0.05), m, n, { bits: 4, groupSize: 128 });
  const x = floats(rows * n, 2);
  eachBackend((name) => {
    for (const coding of [
      { kind: 'ternary', L: 7, threshold: { kind: 'quantile', gamma: 0.95 } },
      { kind: 'binary', L: 7 },
      { kind: 'int', bits: 4 },
    ] as const) {
      for (const execution of ['counts', 'events'] as const) {
        const packed = new SpikeLinear('p', qw, null, coding, execution);
        const int8 = new SpikeLinear('q', as8bit(qw), null, coding, execution);
        assert.ok(packed.packed4 && 'packed' in packed.weights && packed.weights.packed === qw.packed, 'no copy of the packed weights');
        assert.ok(!int8.packed4 && 'qT' in int8.weights);
        const a = new Float32Array(rows * m), b = new Float32Array(rows * m);
        packed.forward(x, a, rows);
        int8.forward(x, b, rows);
        assert.deepEqual(bitsOf(a), bitsOf(b), `${name} ${coding.kind} ${execution}`);
      }
    }
  });
});

test('W4A16Linear: within float rounding of DenseLinear over the dequantized weights; counts packed bytes', () => {
  const [m, n] = [384, 640];
  const qw = quantizeWeights(floats(m * n, 3, 0.05), m, n, { bits: 4, groupSize: 128 });
  const bias = floats(m, 4, 0.1);
  const W = dequantize(qw);
  eachBackend((name) => {
    for (const rows of [1, 6]) {
      const x = floats(rows * n, 5 + rows);
      const lin = new W4A16Linear(qw, bias), ref = new DenseLinear(W, m, n, bias);
      const y = new Float32Array(rows * m), yr = new Float32Array(rows * m);
      lin.ops = new OpCounts();
      lin.forward(x, y, rows);
      ref.forward(x, yr, rows);
      for (let r = 0; r < rows; r++)
        for (let o = 0; o < m; o++) {
          let mag = 0;
          for (let i = 0; i < n; i++) mag += Math.abs(W[o * n + i] * x[r * n + i]);
          assert.ok(Math.abs(y[r * m + o] - yr[r * m + o]) <= 2e-5 * mag + 1e-6, `${name} rows ${rows} out ${o}: ${y[r * m + o]} vs ${yr[r * m + o]}`);
        }
      assert.equal(lin.ops.weight_bytes, rows * (qw.packed.byteLength + qw.scales.byteLength));
      assert.equal(lin.ops.mac_float, rows * m * n);
    }
  });
});

test('synthetic models: every method assembles and runs; shared q/k/v and gate/up coding changes nothing', () => {
  const config = syntheticConfig('110m', { hidden_size: 128, intermediate_size: 320, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512, max_position_embeddings: 64 });
  const ids = new SyntheticTokenizer(config.vocab_size).encode('spikes!');
  assert.deepEqual(ids.slice(0, 2), [1, 's'.charCodeAt(0) + 3]);
  for (const name of METHOD_NAMES) {
    const method = resolveMethod(name, { calibrate: false });
    const model = assembleModel(syntheticModel(config, method, { seed: 7 }));
    const logits = model.forward(ids, { allLogits: true });
    assert.equal(logits.length, ids.length * config.vocab_size);
    assert.ok(logits.every(Number.isFinite), `${name}: finite logits`);
    if (method.activations.kind !== 'float') {
      const unshared = assembleModel(syntheticModel(config, method, { seed: 7 }));
      for (const l of unshared.parts.layers)
        for (const role of ['q_proj', 'k_proj', 'v_proj', 'gate_proj', 'up_proj'] as const) {
          const sl = l[role] as SpikeLinear;
          assert.ok(sl instanceof SpikeLinear && sl.shared, `${name} ${role} shares its coding`);
          sl.shared = null;
        }
      assert.deepEqual(bitsOf(unshared.forward(ids, { allLogits: true })), bitsOf(logits), `${name}: shared vs unshared coding`);
    }
  }
});

test('synthetic weights: packed 4-bit fields within ±7, scales near the requested RMS, weight bytes counted per token', () => {
  const qw = randomQuantizedWeights(256, 1024, 4, 128, 0.03, 9);
  const q = unpackAll(qw);
  let ss = 0, min = 0;
  const W = dequantize(qw);
  for (let i = 0; i < q.length; i++) min = Math.min(min, q[i]);
  for (let i = 0; i < W.length; i++) ss += W[i] * W[i];
  assert.ok(min >= -7, `no -8 codes (min ${min})`);
  const rms = Math.sqrt(ss / W.length);
  assert.ok(Math.abs(rms - 0.03) < 0.003, `weight RMS ${rms}`);
  const config = syntheticConfig('110m', { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, vocab_size: 300 });
  const model = assembleModel(syntheticModel(config, resolveMethod('w4a16')));
  const cache = model.newCache(4);
  model.step([1, 2], cache);
  enableOpCounting(model);
  model.step([3], cache);
  const report = opReport(model);
  const linears = 4 * 128 * 128 + 3 * 128 * 256;
  const expected = linears / 2 + (linears / 128) * 4 + 300 * 128 * 4 + 128 * 4; // packed + scales + float lm_head + embedding row
  assert.equal(report.total.weight_bytes, expected);
});
