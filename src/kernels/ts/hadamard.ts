/**
 * The online rotation's run-time half (METHOD §1b, src/quant/hadamard.ts BlockHadamard): per row,
 * sign-and-scale then a fast Walsh–Hadamard transform of every block. Plain TypeScript reference;
 * every operation is one fp32 multiply or add (Float32Array stores round each), so a native
 * backend doing the same butterflies in the same order is bit-identical.
 */

/**
 * In-place, unnormalized fast Walsh-Hadamard transform of x[offset .. offset + n), n a power of
 * two: x <- H_n x with Sylvester's H_n (symmetric, entries (-1)^popcount(i & j)).
 * Additions and subtractions only, which is why it fits a spike-driven (multiplier-free) datapath.
 */
export function fwht(x: Float32Array, offset: number, n: number): void {
  const end = offset + n;
  for (let h = 1; h < n; h <<= 1) {
    for (let i = offset; i < end; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j];
        const b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

/** x [rows, n] ← x·diag(scale) then fwht on every `block` (a power of two dividing n), in place. */
export function blockHadamard(x: Float32Array, rows: number, n: number, block: number, scale: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let i = 0; i < n; i++) x[base + i] *= scale[i];
    for (let o = 0; o < n; o += block) fwht(x, base + o, block);
  }
}
