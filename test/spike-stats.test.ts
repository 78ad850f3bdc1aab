import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpikeStats } from '../src/spike/index.js';

test('firing rate and histogram on a handcrafted layer', () => {
  const stats = new SpikeStats(3);
  // Token 1: 5 neurons, T = 3: counts 0, 1, -2, 0, 3 -> 6 spikes in 15 slots.
  stats.add(new Int8Array([9, 0, 1, -2, 0, 3]), 1, 5, 3);
  let s = stats.summary();
  assert.equal(s.events, 6);
  assert.equal(s.firingRate, 6 / 15);
  assert.equal(s.meanAbsCount, 6 / 5);
  assert.equal(s.silentFraction, 2 / 5);
  assert.equal(s.eventsPerToken, 6);
  assert.equal(s.timeSteps, 3);
  assert.deepEqual(s.histogram, { kind: 'signed', min: -3, bins: [0, 1, 0, 2, 1, 0, 1] });

  // Token 2 recorded in another accumulator and merged: 5 neurons, 1 spike.
  const other = new SpikeStats(3);
  other.add(new Int8Array([0, 0, -1, 0, 0]), 0, 5, 3);
  stats.merge(other);
  s = stats.summary();
  assert.equal(s.tokens, 2);
  assert.equal(s.firingRate, 7 / 30);
  assert.equal(s.silentFraction, 6 / 10);
  assert.equal(s.eventsPerToken, 3.5);
  assert.deepEqual(s.histogram.bins, [0, 1, 1, 6, 1, 0, 1]);
  assert.throws(() => stats.add(new Int8Array([4]), 0, 1, 3), 'a count beyond the histogram range is a bug');
  assert.throws(() => stats.merge(new SpikeStats(7)));
});

test('unbounded counts use log2 buckets and per-token time steps', () => {
  const stats = new SpikeStats(Infinity);
  stats.add(new Int32Array([0, 1, -2, 3, 4, -1000]), 0, 6, 1000);
  stats.add(new Int32Array([0, 0, 5]), 0, 3, 5);
  const s = stats.summary();
  assert.equal(s.events, 1 + 2 + 3 + 4 + 1000 + 5);
  assert.equal(s.firingRate, 1015 / (6 * 1000 + 3 * 5));
  assert.equal(s.timeSteps, 502.5);
  assert.equal(s.maxTimeSteps, 1000);
  assert.equal(s.histogram.kind, 'log2abs');
  const want = new Array<number>(33).fill(0);
  want[0] = 3; // zeros
  want[1] = 1; // |c| = 1
  want[2] = 2; // 2..3
  want[3] = 2; // 4..7
  want[10] = 1; // 512..1023
  assert.deepEqual(s.histogram.bins, want);
});
