// Paley's constructions of Hadamard matrices, built from the quadratic residues of a prime field.
// They supply the non-power-of-two factor of widths such as 5120 = 20 * 256 or 3584 = 28 * 128,
// where Sylvester's doubling alone cannot give a full Hadamard matrix.
// All matrices are dense, row-major Int8Array of +-1 entries.

export function isPrime(p: number): boolean {
  if (p < 2 || !Number.isInteger(p)) return false;
  for (let d = 2; d * d <= p; d++) if (p % d === 0) return false;
  return true;
}

/** Legendre symbol chi(a) for a = 0..p-1: 0 at 0, +1 on nonzero squares, -1 elsewhere. */
function quadraticCharacter(p: number): Int8Array {
  const chi = new Int8Array(p).fill(-1);
  chi[0] = 0;
  for (let a = 1; a < p; a++) chi[(a * a) % p] = 1;
  return chi;
}

/**
 * Paley I, for a prime p = 3 mod 4: order p + 1. With the Jacobsthal matrix Q[i][j] = chi(j - i)
 * (skew-symmetric since -1 is a non-residue), S = [[0, 1^T], [-1, Q]] is skew with S S^T = p I,
 * so H = I + S satisfies H H^T = (p + 1) I.
 */
export function paleyI(p: number): Int8Array {
  if (!isPrime(p) || p % 4 !== 3) throw new RangeError(`Paley I needs a prime p = 3 mod 4, got ${p}`);
  const chi = quadraticCharacter(p);
  const n = p + 1;
  const h = new Int8Array(n * n);
  h[0] = 1;
  for (let j = 1; j < n; j++) h[j] = 1;
  for (let i = 1; i < n; i++) {
    h[i * n] = -1;
    for (let j = 1; j < n; j++) h[i * n + j] = i === j ? 1 : chi[(j - i + p) % p];
  }
  return h;
}

/**
 * Paley II, for a prime p = 1 mod 4: order 2(p + 1). C = [[0, 1^T], [1, Q]] is a symmetric
 * conference matrix (C C^T = p I); replacing each 0 by [[1, -1], [-1, -1]] and each +-1 by
 * +-[[1, 1], [1, -1]] yields a Hadamard matrix.
 */
export function paleyII(p: number): Int8Array {
  if (!isPrime(p) || p % 4 !== 1) throw new RangeError(`Paley II needs a prime p = 1 mod 4, got ${p}`);
  const chi = quadraticCharacter(p);
  const c = p + 1;
  const conference = (i: number, j: number): number =>
    i === 0 ? (j === 0 ? 0 : 1) : j === 0 ? 1 : chi[(j - i + p) % p];
  const n = 2 * c;
  const h = new Int8Array(n * n);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      const e = conference(i, j);
      const top = 2 * i * n + 2 * j;
      const bottom = top + n;
      if (e === 0) {
        h[top] = 1; h[top + 1] = -1; h[bottom] = -1; h[bottom + 1] = -1;
      } else {
        h[top] = e; h[top + 1] = e; h[bottom] = e; h[bottom + 1] = -e;
      }
    }
  }
  return h;
}

/** A Paley Hadamard matrix of exactly this order, or null when neither construction reaches it. */
export function paleyHadamard(order: number): Int8Array | null {
  const p1 = order - 1;
  if (p1 % 4 === 3 && isPrime(p1)) return paleyI(p1);
  const p2 = order / 2 - 1;
  if (p2 % 4 === 1 && isPrime(p2)) return paleyII(p2);
  return null;
}
