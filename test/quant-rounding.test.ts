import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32, quantizeValue, quotient, roundHalfEven } from '../src/quant/index.js';

test('roundHalfEven sends ties to the even neighbour', () => {
  const cases: Array<[number, number]> = [
    [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2], [-3.5, -4],
    [0.49999999999999994, 0], [2.4, 2], [2.6, 3], [-2.6, -3], [7, 7], [0, 0],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `round(${x})`);
});

/** Split a finite nonzero fp32 value into an integer mantissa and a power of two. */
function fp32Parts(x: number): { sign: number; mant: bigint; exp: number } {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  const biased = (bits >>> 23) & 0xff;
  const frac = bits & 0x7fffff;
  const mant = BigInt(biased === 0 ? frac : frac | 0x800000);
  return { sign: bits >>> 31 ? -1 : 1, mant, exp: (biased === 0 ? 1 : biased) - 127 - 23 };
}

/** Correctly rounded fp32 x / y by exact integer long division (normal results only). */
function fp32DivideExactly(x: number, y: number): number {
  if (Math.fround(x) === 0) return 0;
  const a = fp32Parts(x);
  const b = fp32Parts(y);
  const K = 60n;
  const num = a.mant << K;
  const quot = num / b.mant;
  const sticky = num % b.mant !== 0n;
  const shift = BigInt(quot.toString(2).length - 24);
  let keep = quot >> shift;
  const rest = quot & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (sticky || (keep & 1n) === 1n))) keep += 1n;
  return a.sign * b.sign * Number(keep) * 2 ** (Number(shift) + a.exp - b.exp - Number(K));
}

/** Nearest integer, ties to even, written without Math.round. */
function nearestEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return (d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1) + 0;
}

test('quotient is the correctly rounded fp32 quotient', () => {
  const next = mulberry32(7);
  for (let k = 0; k < 20000; k++) {
    const x = Math.fround((next() / 2 ** 32 - 0.5) * 2 ** ((next() % 20) - 10));
    const s = Math.fround((next() / 2 ** 32 + 1e-3) * 2 ** ((next() % 12) - 8));
    assert.equal(quotient(x, s), fp32DivideExactly(x, s), `${x} / ${s}`);
  }
  assert.equal(quotient(3, 0), 0);
});

test('quantizeValue = clamp(round-half-even(fp32 quotient)) against an independent computation', () => {
  const next = mulberry32(11);
  let ties = 0;
  for (let k = 0; k < 20000; k++) {
    const qmax = [1, 3, 7, 127][k % 4];
    const s = Math.fround(k % 3 === 0 ? 2 ** -((next() % 6) + 1) : next() / 2 ** 32 + 0.01);
    // Half-integer multiples of s make exact ties when s is a power of two.
    const x = k % 3 === 0 ? ((next() % (4 * qmax + 4)) - (2 * qmax + 2) + 0.5) * s : (next() / 2 ** 32 - 0.5) * 3 * qmax * s;
    const v = fp32DivideExactly(x, s);
    if (v - Math.floor(v) === 0.5) ties++;
    const want = Math.min(qmax, Math.max(-qmax, nearestEven(v)));
    assert.equal(quantizeValue(x, s, qmax), want, `x=${x} s=${s} qmax=${qmax}`);
  }
  assert.ok(ties > 1000, `the sweep must exercise exact ties (got ${ties})`);
  assert.equal(quantizeValue(5, 0, 7), 0);
  assert.equal(quantizeValue(1e9, 1, Infinity), 1e9);
});
