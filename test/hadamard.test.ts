import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BlockHadamard,
  RandomizedHadamard,
  countAddsFWHT,
  fwht,
  hadamardMatrix,
  hadamardPlan,
  isPrime,
  mulberry32,
  onlineBlockSize,
  paleyI,
  paleyII,
} from '../src/quant/index.js';

function randomRows(rows: number, n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const X = new Float32Array(rows * n);
  for (let j = 0; j < X.length; j++) X[j] = next() / 2 ** 32 - 0.5;
  X[3] = 40; // an outlier channel, the case rotations are for
  return X;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/** H H^T == c I for a dense +-1 (or 0) matrix of order n. */
function assertGram(h: Int8Array, n: number, c: number, label: string): void {
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += h[i * n + k] * h[j * n + k];
      if (s !== (i === j ? c : 0)) assert.fail(`${label}: (H H^T)[${i}][${j}] = ${s}`);
    }
  }
}

test('fwht equals the dense Sylvester matrix product', () => {
  for (const n of [1, 2, 8, 16]) {
    const x = randomRows(1, n + 3, n).subarray(0, n + 3);
    const offset = 3;
    const want: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) {
        let parity = 0;
        for (let v = i & j; v; v >>= 1) parity ^= v & 1;
        s += (parity ? -1 : 1) * x[offset + j];
      }
      want.push(s);
    }
    const before = Array.from(x.subarray(0, offset));
    fwht(x, offset, n);
    assert.deepEqual(Array.from(x.subarray(0, offset)), before, 'values before offset untouched');
    for (let i = 0; i < n; i++) assert.ok(Math.abs(x[offset + i] - want[i]) < 1e-4, `n ${n} entry ${i}`);
  }
  assert.equal(countAddsFWHT(8), 24);
  assert.equal(countAddsFWHT(128), 896);
  assert.throws(() => countAddsFWHT(12));
});

test('Paley I and II matrices are Hadamard', () => {
  for (const p of [3, 7, 11, 19, 23, 31, 43, 47]) assertGram(paleyI(p), p + 1, p + 1, `Paley I p=${p}`);
  for (const p of [5, 13, 17, 29, 37, 41]) assertGram(paleyII(p), 2 * (p + 1), 2 * (p + 1), `Paley II p=${p}`);
  assert.throws(() => paleyI(5));
  assert.throws(() => paleyII(7));
});

/** Orders reached by Paley (I: p+1, p = 3 mod 4; II: 2(p+1), p = 1 mod 4) times powers of two. */
function expectComplete(n: number): boolean {
  for (let m = n; ; m /= 2) {
    if (m === 1 || m === 2) return true;
    if ((isPrime(m - 1) && (m - 1) % 4 === 3) || (isPrime(m / 2 - 1) && (m / 2 - 1) % 4 === 1)) return true;
    if (m % 2 !== 0) return false;
  }
}

test('every supported order up to 200 gives H H^T = n I; the fallback is orthogonal block-diagonal', () => {
  const supported: number[] = [];
  for (let n = 1; n <= 200; n++) {
    const plan = hadamardPlan(n);
    assert.equal(plan.complete, expectComplete(n), `order ${n}`);
    assert.equal(plan.m * plan.block, n);
    if (plan.complete) supported.push(n);
    assertGram(hadamardMatrix(n), n, plan.complete ? n : plan.block, `order ${n}`);
  }
  for (const n of [12, 20, 24, 28, 36, 40, 44, 48, 56, 60, 72, 76, 80, 88, 96, 124, 148, 176, 196, 200]) {
    assert.ok(supported.includes(n), `order ${n} should be supported`);
  }
  assert.ok(!supported.includes(52) && !supported.includes(92), '52 and 92 are not reachable by Paley');
});

test('RandomizedHadamard rows equal the dense products x diag(s) H / sqrt(n) and x Q^T', () => {
  for (const n of [8, 12, 20, 28, 40, 44, 96, 100, 104, 172]) {
    const plan = hadamardPlan(n);
    const h = hadamardMatrix(n);
    const norm = Math.sqrt(plan.complete ? n : plan.block);
    const rot = new RandomizedHadamard(n, 1234 + n);
    const s = rot.signs;
    const X = randomRows(2, n, n);
    const Y = X.slice();
    rot.rotateRows(Y, 2);
    const Z = X.slice();
    rot.unrotateRows(Z, 2);
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < n; j++) {
        let fwd = 0;
        let inv = 0;
        for (let i = 0; i < n; i++) {
          fwd += X[r * n + i] * s[i] * h[i * n + j]; // (x diag(s) H)_j
          inv += X[r * n + i] * h[j * n + i]; // (x H^T)_j, then times s_j
        }
        assert.ok(Math.abs(Y[r * n + j] - fwd / norm) < 1e-4, `rotate n ${n} [${r},${j}]`);
        assert.ok(Math.abs(Z[r * n + j] - (inv * s[j]) / norm) < 1e-4, `unrotate n ${n} [${r},${j}]`);
      }
    }
  }
});

test('large widths: rotation preserves norms and inner products, unrotate inverts it, outliers spread', () => {
  const expected: Record<number, [number, number, boolean]> = {
    // n: [m, block, complete]
    64: [1, 64, true],
    256: [1, 256, true],
    512: [1, 512, true],
    688: [43, 16, false],
    1408: [44, 32, true],
    2048: [1, 2048, true],
    3584: [28, 128, true],
    5632: [44, 128, true],
    11008: [5504, 2, true],
  };
  for (const [key, [m, block, complete]] of Object.entries(expected)) {
    const n = Number(key);
    const rot = new RandomizedHadamard(n, 99);
    assert.deepEqual([rot.plan.m, rot.plan.block, rot.plan.complete], [m, block, complete], `plan for ${n}`);
    const rows = 3;
    const X = randomRows(rows, n, n);
    const Y = X.slice();
    rot.rotateRows(Y, rows);
    for (let a = 0; a < rows; a++) {
      for (let b = a; b < rows; b++) {
        const before = dot(X, a * n, X, b * n, n);
        const after = dot(Y, a * n, Y, b * n, n);
        const scale = Math.sqrt(dot(X, a * n, X, a * n, n) * dot(X, b * n, X, b * n, n));
        assert.ok(Math.abs(before - after) <= 1e-5 * scale, `n ${n} <x${a}, x${b}>: ${before} vs ${after}`);
      }
    }
    rot.unrotateRows(Y, rows);
    for (let j = 0; j < X.length; j++) assert.ok(Math.abs(Y[j] - X[j]) <= 1e-5 * 40, `n ${n} round trip at ${j}`);
    // A one-hot outlier lands on every channel (complete) or on its block (fallback) with weight 1/sqrt(.).
    const e = new Float32Array(n);
    e[5] = 1;
    rot.rotateRows(e, 1);
    const spread = complete ? n : block;
    const nonzero = e.filter((v) => v !== 0);
    assert.equal(nonzero.length, spread, `n ${n}: outlier spread`);
    for (const v of nonzero) assert.ok(Math.abs(Math.abs(v) - 1 / Math.sqrt(spread)) < 1e-6);
  }
});

test('rotateColumns is Q^T W: a writer then produces the rotated residual', () => {
  const n = 40;
  const k = 7;
  const rot = new RandomizedHadamard(n, 5);
  const W = randomRows(n, k, 3);
  const hIn = randomRows(1, k, 4);
  const y = new Float32Array(n);
  for (let o = 0; o < n; o++) y[o] = dot(W, o * k, hIn, 0, k);
  rot.rotateRows(y, 1); // the residual stream lives rotated: y Q
  const Wr = W.slice();
  rot.rotateColumns(Wr, k);
  for (let o = 0; o < n; o++) assert.ok(Math.abs(dot(Wr, o * k, hIn, 0, k) - y[o]) < 1e-4, `output ${o}`);
});

test('BlockHadamard: online x Q with W Q fused leaves W x unchanged', () => {
  for (const [n, block] of [[256, 128], [688, 16], [1408, 128], [96, 32], [43, 1]] as const) {
    const bh = new BlockHadamard(n, 17);
    assert.equal(bh.block, block);
    assert.equal(onlineBlockSize(n), block);
    assert.equal(bh.addsPerRow, n * Math.log2(block));
    const rows = 5;
    const W = randomRows(rows, n, 1);
    const x = randomRows(1, n, 2);
    const y = Array.from({ length: rows }, (_, o) => dot(W, o * n, x, 0, n));
    const xr = x.slice();
    bh.apply(xr, 1);
    assert.ok(Math.abs(dot(xr, 0, xr, 0, n) - dot(x, 0, x, 0, n)) < 1e-5 * dot(x, 0, x, 0, n), 'norm kept');
    const Wr = W.slice();
    bh.rotateWeightInputs(Wr, rows, n);
    for (let o = 0; o < rows; o++) {
      const scale = Math.sqrt(dot(W, o * n, W, o * n, n) * dot(x, 0, x, 0, n));
      assert.ok(Math.abs(dot(Wr, o * n, xr, 0, n) - y[o]) <= 1e-5 * scale, `n ${n} output ${o}`);
    }
    // Mixing stays inside the block of the spiking channel.
    const e = new Float32Array(n);
    e[block] = 1;
    bh.apply(e, 1);
    e.forEach((v, i) => {
      const inBlock = i >= block && i < 2 * block;
      assert.ok(inBlock ? Math.abs(Math.abs(v) - 1 / Math.sqrt(block)) < 1e-6 : v === 0, `n ${n} channel ${i}`);
    });
  }
  assert.throws(() => new BlockHadamard(64, 1).rotateWeightInputs(new Float32Array(128), 4, 32));
});

test('random signs are seeded and make structured inputs incoherent', () => {
  assert.deepEqual(new RandomizedHadamard(64, 7).signs, new RandomizedHadamard(64, 7).signs);
  assert.notDeepEqual(new RandomizedHadamard(64, 7).signs, new RandomizedHadamard(64, 8).signs);
  // Without signs a constant row would collapse onto one channel per block; with them it spreads.
  for (const make of [(n: number) => new BlockHadamard(n, 3), (n: number) => new RandomizedHadamard(n, 3)]) {
    const n = 256;
    const rot = make(n);
    const x = new Float32Array(n).fill(1);
    if (rot instanceof BlockHadamard) rot.apply(x, 1);
    else rot.rotateRows(x, 1);
    assert.ok(x.filter((v) => v !== 0).length > n / 2, 'constant row spread over many channels');
  }
});
