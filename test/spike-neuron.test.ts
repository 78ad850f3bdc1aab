import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../src/quant/index.js';
import {
  binaryCounts,
  encodeBinaryTrains,
  encodeTernaryTrains,
  spikeCounts,
  ternaryTrain,
  threshold,
} from '../src/spike/index.js';

/** Sum over time of each neuron's train in time-major trains[t * n + i]. */
function trainSums(trains: Int8Array, n: number, T: number): number[] {
  const sums = new Array<number>(n).fill(0);
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) sums[i] += trains[t * n + i];
  return sums;
}

test('exact ties resolve to round-half-to-even', () => {
  const out = new Int8Array(8);
  const sum = (u: number) => {
    ternaryTrain(u, 7, 8, out, 0);
    return out.reduce((a, b) => a + b, 0);
  };
  const cases: Array<[number, number]> = [
    [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [6.5, 6], [-0.5, 0], [-1.5, -2], [-2.5, -2], [-3.5, -4],
    [0.49, 0], [0.51, 1], [7.4, 7], [100, 7], [-100, -7],
  ];
  for (const [u, want] of cases) assert.equal(sum(u), want, `u = ${u}`);
  ternaryTrain(2.7, 7, 8, out, 0);
  assert.deepEqual(Array.from(out), [1, 1, 1, 0, 0, 0, 0, 0], 'spikes come first, then silence');
});

test('ternary trains sum to the spike counts over a dense sweep with exact ties', () => {
  for (const L of [1, 3, 7]) {
    for (const theta of [0.25, 1, Math.fround(0.37), Math.fround(0.1)]) {
      // Steps of theta/64 from -(L+2)theta to (L+2)theta hit every half-integer multiple of theta.
      const steps = 2 * (L + 2) * 64 + 1;
      const x = new Float32Array(steps);
      for (let j = 0; j < steps; j++) x[j] = (j / 64 - (L + 2)) * theta;
      const counts = new Int8Array(steps);
      spikeCounts(x, 0, steps, theta, L, counts, 0);
      for (const T of [L, L + 2]) {
        const trains = new Int8Array(T * steps);
        const events = encodeTernaryTrains(x, 0, steps, theta, L, T, trains);
        const sums = trainSums(trains, steps, T);
        let nonzero = 0;
        for (let i = 0; i < steps; i++) {
          assert.equal(sums[i], counts[i], `L ${L} theta ${theta} T ${T} x ${x[i]}`);
          assert.ok(Math.abs(sums[i]) <= L, 'membrane clipping bounds the count');
          let pos = 0;
          let neg = 0;
          for (let t = 0; t < T; t++) {
            const s = trains[t * steps + i];
            assert.ok(s === -1 || s === 0 || s === 1);
            if (s > 0) pos++;
            if (s < 0) neg++;
          }
          assert.ok(pos === 0 || neg === 0, 'one sign per train');
          nonzero += pos + neg;
        }
        assert.equal(events, nonzero);
      }
      if (theta === 0.25 || theta === 1) {
        const ties = Array.from(x).filter((v) => Math.abs(v / theta) % 1 === 0.5 && Math.abs(v / theta) < L);
        assert.ok(ties.length >= 2 * L, 'the sweep contains exact ties');
      }
    }
  }
});

test('unclipped counts (L = Infinity) use Int32 and trains as long as the largest count', () => {
  const x = new Float32Array([0.1, -3.3, 250.5, 251.5, -1000]);
  const counts = new Int32Array(5);
  const events = spikeCounts(x, 0, 5, 1, Infinity, counts, 0);
  assert.deepEqual(Array.from(counts), [0, -3, 250, 252, -1000]);
  assert.equal(events, 1505);
  const T = 1000;
  const trains = new Int8Array(T * 5);
  encodeTernaryTrains(x, 0, 5, 1, Infinity, T, trains);
  assert.deepEqual(trainSums(trains, 5, T), [0, -3, 250, 252, -1000]);
  assert.throws(() => spikeCounts(x, 0, 5, 1, Infinity, new Int8Array(5), 0));
});

test('binary coding needs twice the time steps of ternary for the same resolution', () => {
  const L = 7;
  const n = 2000;
  const next = mulberry32(3);
  const a = 2.5;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (next() / 2 ** 32 - 0.5) * 2 * a;
  x[0] = a;
  x[1] = -a; // min = -max, so theta_b = (max - min) / 2L = max / L = theta
  const theta = threshold(x, 0, n, { kind: 'absmax' }, L);

  const tern = new Int8Array(L * n);
  encodeTernaryTrains(x, 0, n, theta, L, L, tern);
  const ternSums = trainSums(tern, n, L);

  const bin = new Int8Array(2 * L * n);
  const { thetaB, min } = encodeBinaryTrains(x, 0, n, L, bin);
  assert.equal(thetaB, theta);
  assert.equal(min, -a);
  const binSums = trainSums(bin, n, 2 * L);
  const binCounts = new Int8Array(n);
  binaryCounts(x, 0, n, L, binCounts, 0);
  assert.deepEqual(binSums, Array.from(binCounts), 'binary trains sum to binary counts');
  assert.ok(bin.every((s) => s === 0 || s === 1));
  assert.equal(binSums[0], 2 * L, 'the largest input needs all 2L binary steps');
  assert.equal(Math.max(...ternSums.map(Math.abs)), L, 'ternary needs only L');

  let ternErr = 0;
  let binErr = 0;
  for (let i = 0; i < n; i++) {
    ternErr = Math.max(ternErr, Math.abs(theta * ternSums[i] - x[i]));
    binErr = Math.max(binErr, Math.abs(thetaB * binSums[i] + min - x[i]));
  }
  assert.ok(ternErr <= (theta / 2) * (1 + 1e-5), `ternary error ${ternErr}`);
  assert.ok(binErr <= (theta / 2) * (1 + 1e-5), `binary error ${binErr}`);
  assert.ok(ternErr > theta * 0.45 && binErr > theta * 0.45, 'both actually use the full half step');

  // Cut the binary train to L steps and large inputs can no longer be represented.
  const short = new Int8Array(L * n);
  for (let t = 0; t < L; t++) short.set(bin.subarray(t * n, (t + 1) * n), t * n);
  const shortErr = Math.abs(thetaB * trainSums(short, n, L)[0] + min - x[0]);
  assert.ok(shortErr >= L * theta - 1e-6, `binary with only L steps misses x = max by ${shortErr}`);
});
