/**
 * Seeded randomness. Sampling must be reproducible from a seed, and rotations are fused into
 * weights offline and applied online at run time, so both sides must regenerate the very same
 * signs: the generator has to be tiny, fast and identical everywhere, not cryptographic.
 *
 * mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state word, period 2^32, passes
 * common statistical batteries. Returns a function yielding uniform unsigned 32-bit integers.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
}

/** Uniform floats in [0, 1) from mulberry32, for sampling. */
export class Prng {
  private readonly nextU32: () => number;
  constructor(seed: number) {
    this.nextU32 = mulberry32(seed);
  }
  next(): number {
    return this.nextU32() / 4294967296;
  }
}

/** n independent random signs (+1 or -1), the diagonal of a randomized Hadamard rotation. */
export function randomSigns(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const signs = new Float32Array(n);
  for (let i = 0; i < n; i++) signs[i] = next() & 0x80000000 ? -1 : 1;
  return signs;
}
