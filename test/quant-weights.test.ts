import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesPerColumn,
  dequantize,
  mulberry32,
  packColumns,
  quantizeWeights,
  unpackAll,
  unpackColumn,
  weightQmax,
  type WeightBits,
} from '../src/quant/index.js';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const W = new Float32Array(rows * cols);
  for (let j = 0; j < W.length; j++) W[j] = (next() / 2 ** 32 - 0.5) * (j % 17 === 0 ? 8 : 1);
  return W;
}

const ALL_BITS: WeightBits[] = [2, 3, 4, 8];

test('odd shapes: 7 x 300 with G = 128 gives 3 groups, the last one 44 wide, and exact scales', () => {
  const rows = 7;
  const cols = 300;
  const W = randomMatrix(rows, cols, 1);
  for (const bits of ALL_BITS) {
    const qw = quantizeWeights(W, rows, cols, { bits, groupSize: 128 });
    assert.equal(qw.nGroups, 3);
    assert.equal(qw.groupSize, 128);
    assert.equal(qw.scales.length, rows * 3);
    assert.equal(qw.packed.length, cols * bytesPerColumn(bits, rows));
    for (let o = 0; o < rows; o++) {
      for (const [g, start, end] of [[0, 0, 128], [1, 128, 256], [2, 256, 300]] as const) {
        let amax = 0;
        for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(W[o * cols + i]));
        assert.equal(qw.scales[o * 3 + g], Math.fround(amax / weightQmax(bits)), `bits ${bits} o ${o} g ${g}`);
      }
    }
  }
});

test('dequantization error is at most dw/2 per element and extremes hit +-Qw', () => {
  const rows = 7;
  const cols = 300;
  const W = randomMatrix(rows, cols, 2);
  for (const bits of ALL_BITS) {
    const qw = quantizeWeights(W, rows, cols, { bits, groupSize: 128 });
    const Wh = dequantize(qw);
    const q = unpackAll(qw);
    const qmax = weightQmax(bits);
    let hitMax = 0;
    for (let o = 0; o < rows; o++) {
      for (let i = 0; i < cols; i++) {
        const dw = qw.scales[o * qw.nGroups + Math.floor(i / 128)];
        const err = Math.abs(W[o * cols + i] - Wh[o * cols + i]);
        assert.ok(err <= dw * (0.5 + 1e-6), `bits ${bits} [${o},${i}] error ${err} > dw/2 = ${dw / 2}`);
        const v = q[i * rows + o];
        assert.ok(Math.abs(v) <= qmax);
        if (Math.abs(v) === qmax) hitMax++;
      }
    }
    assert.ok(hitMax >= rows * qw.nGroups, `each group's largest weight maps to +-Qw (bits ${bits})`);
  }
});

test('packing round-trips every representable value, column by column', () => {
  for (const bits of ALL_BITS) {
    for (const rows of [1, 5, 7, 8, 13]) {
      const cols = 9;
      const qmax = weightQmax(bits);
      const next = mulberry32(bits * 100 + rows);
      const q = new Int8Array(rows * cols);
      for (let j = 0; j < q.length; j++) q[j] = (next() % (2 * qmax + 1)) - qmax;
      q[0] = -qmax;
      q[q.length - 1] = qmax;
      const packed = packColumns(q, rows, cols, bits);
      const qw = { bits, groupSize: cols, rows, cols, nGroups: 1, scales: new Float32Array(rows), packed };
      assert.deepEqual(unpackAll(qw), q, `bits ${bits} rows ${rows}`);
      const col = new Int8Array(rows);
      for (let i = 0; i < cols; i++) {
        unpackColumn(qw, i, col);
        assert.deepEqual(col, q.subarray(i * rows, (i + 1) * rows));
      }
    }
  }
});

test('quantized integers are column-major and match round(W / dw)', () => {
  const rows = 3;
  const cols = 4;
  // dw = 0.7/7 = 0.1 for row 0 and 1/7 for row 1; no element sits near a rounding tie.
  const W = new Float32Array([0.7, -0.33, 0.12, 0.3, 1, 0, -1, 0.6, 0, 0, 0, 0]);
  const qw = quantizeWeights(W, rows, cols, { bits: 4, groupSize: 128 });
  assert.equal(qw.groupSize, 4, 'G = cols when cols < groupSize');
  assert.equal(qw.nGroups, 1);
  const q = unpackAll(qw);
  const col = (i: number) => Array.from(q.subarray(i * rows, (i + 1) * rows));
  assert.deepEqual([col(0), col(1), col(2), col(3)], [[7, 7, 0], [-3, 0, 0], [1, -7, 0], [3, 4, 0]]);
  assert.equal(qw.scales[2], 0, 'an all-zero row gets scale 0 and zero integers');
  assert.deepEqual(Array.from(dequantize(qw).subarray(8)), [0, 0, 0, 0]);
});
