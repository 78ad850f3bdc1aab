import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../src/quant/index.js';
import { MEANABS_DEFAULT_K, quantileAbs, threshold } from '../src/spike/index.js';

function activations(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (next() / 2 ** 32 - 0.5) * (i % 97 === 0 ? 50 : 1);
  if (n > 10) x[7] = x[3]; // duplicated order statistics
  return x;
}

/** The same interpolation, but on a fully sorted copy. */
function sortedQuantile(x: Float32Array, gamma: number): number {
  const a = Float32Array.from(x, Math.abs).sort();
  const pos = Math.fround(Math.fround(gamma) * (a.length - 1));
  const k = Math.floor(pos);
  const w = Math.fround(pos - k);
  if (w === 0) return a[k];
  const lo = a[k];
  const hi = a[k + 1];
  const diff = Math.fround(hi - lo);
  return w < 0.5 ? Math.fround(lo + Math.fround(w * diff)) : Math.fround(hi - Math.fround(diff * Math.fround(1 - w)));
}

test('quantile threshold matches a sort-based reference', () => {
  const scratch = new Float32Array(4096);
  for (const n of [1, 2, 3, 10, 257, 1000, 4096]) {
    const x = activations(n, n);
    const copy = x.slice();
    for (const gamma of [0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1]) {
      const want = sortedQuantile(x, gamma);
      assert.equal(quantileAbs(x, 0, n, gamma, scratch), want, `n ${n} gamma ${gamma}`);
      assert.equal(quantileAbs(x, 0, n, gamma), want, 'without scratch');
      assert.equal(threshold(x, 0, n, { kind: 'quantile', gamma }, 7, scratch), Math.fround(want / 7));
    }
    assert.deepEqual(x, copy, 'input is not reordered');
  }
});

test('quantile interpolates like numpy/torch linear', () => {
  const x = new Float32Array([-4, 1, 3, -2]);
  assert.equal(quantileAbs(x, 0, 4, 0.5), 2.5); // pos 1.5 between 2 and 3
  assert.equal(quantileAbs(x, 0, 4, 0.25), 1.75); // pos 0.75 between 1 and 2
  assert.equal(quantileAbs(x, 0, 4, 0), 1);
  assert.equal(quantileAbs(x, 0, 4, 1), 4);
  const shifted = new Float32Array([100, 100, -4, 1, 3, -2]);
  assert.equal(quantileAbs(shifted, 2, 4, 0.5), 2.5, 'offset respected');
});

test('gamma = 1 is absmax; meanabs and static rules', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const n = 50 + seed * 13;
    const x = activations(n, seed);
    for (const L of [1, 3, 7]) {
      assert.equal(
        threshold(x, 0, n, { kind: 'quantile', gamma: 1 }, L),
        threshold(x, 0, n, { kind: 'absmax' }, L),
      );
    }
  }
  const x = new Float32Array([3, -6, 0, 3]);
  assert.equal(threshold(x, 0, 4, { kind: 'absmax' }, 3), 2);
  assert.equal(threshold(x, 0, 4, { kind: 'meanabs', k: MEANABS_DEFAULT_K }, 7), 1);
  assert.equal(threshold(x, 0, 4, { kind: 'static', theta: 0.1 }, 7), Math.fround(0.1));
  assert.equal(threshold(new Float32Array(8), 0, 8, { kind: 'quantile', gamma: 0.9 }, 7), 0);
});
