// Orthogonal Hadamard rotations for outlier handling (METHOD 1b, QuaRot-style).
// A rotation Q spreads a few huge activation channels over all channels, so that per-token
// thresholds stop wasting their levels on outliers, while W x is unchanged because Q Q^T = I.
//
// Conventions (x is one token's activation, a row vector of length n; matrices are row-major):
//   RandomizedHadamard:  Q = diag(s) H / sqrt(n)   (H = core (x) H_block, see HadamardPlan)
//     rotateRows(X)    X <- X Q     (embedding E <- E Q, readers W <- W Q, lm_head W <- W Q)
//     unrotateRows(X)  X <- X Q^T
//     rotateColumns(W) W <- Q^T W   (writers into the residual stream)
//   BlockHadamard:       Q = diag(s) (I (x) H_b) / sqrt(b),  b = largest power of two <= 128 dividing n
//     apply(x)               x' = x Q             (online, at run time)
//     rotateWeightInputs(W)  W' = W Q             (offline; W is [out, in])
//   so that W' x'^T = W Q Q^T x^T = W x^T: the layer output is unchanged.

import { paleyHadamard } from './paley.js';
import { randomSigns } from '../util/prng.js';
import { fwht } from '../kernels/ts/hadamard.js';
import { kernels } from '../kernels/registry.js';

export { fwht };

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Additions/subtractions of one fwht of length n (n/2 butterflies of 2 ops in each of log2 n stages). */
export function countAddsFWHT(n: number): number {
  if (!isPowerOfTwo(n)) throw new RangeError(`FWHT length must be a power of two, got ${n}`);
  return n * Math.log2(n);
}

/** The largest power of two dividing n. */
function powerOfTwoPart(n: number): number {
  return n & -n;
}

/**
 * How a width-n Hadamard matrix is assembled: H = core (x) H_block, with `core` an m x m Paley
 * matrix (m = n / block) applied densely and H_block Sylvester's matrix applied by FWHT.
 * We pick the smallest m that Paley reaches, because the dense core costs m^2 * block per row.
 * When n is a power of two the core is trivial (m = 1). When no Paley order fits (e.g.
 * 688 = 43 * 16), `complete` is false and H = I_m (x) H_block is block-diagonal: it only mixes
 * channels within each block of `block` consecutive channels, so an outlier is spread over
 * `block` channels instead of all n.
 */
export interface HadamardPlan {
  readonly n: number;
  readonly block: number;
  readonly m: number;
  readonly core: Int8Array | null;
  readonly complete: boolean;
}

export function hadamardPlan(n: number): HadamardPlan {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bad Hadamard width ${n}`);
  const twos = powerOfTwoPart(n);
  const odd = n / twos;
  if (odd === 1) return { n, block: n, m: 1, core: null, complete: true };
  for (let m = odd; m <= n; m *= 2) {
    const core = paleyHadamard(m);
    if (core) return { n, block: n / m, m, core, complete: true };
  }
  return { n, block: twos, m: odd, core: null, complete: false };
}

/** The dense n x n matrix H of hadamardPlan(n) (Int8Array, row-major); for tests and small n. */
export function hadamardMatrix(n: number): Int8Array {
  const { block, m, core } = hadamardPlan(n);
  const h = new Int8Array(n * n);
  for (let a = 0; a < m; a++) {
    for (let a2 = 0; a2 < m; a2++) {
      const c = core ? core[a * m + a2] : a === a2 ? 1 : 0;
      if (c === 0) continue;
      for (let b = 0; b < block; b++) {
        for (let b2 = 0; b2 < block; b2++) {
          h[(a * block + b) * n + a2 * block + b2] = popcountParity(b & b2) ? -c : c;
        }
      }
    }
  }
  return h;
}

function popcountParity(v: number): number {
  let p = 0;
  for (; v !== 0; v &= v - 1) p ^= 1;
  return p;
}

/**
 * The residual-stream rotation Q = diag(s) H / sqrt(n), s random signs from `seed`; fused into the
 * weights offline, so speed matters less than exactness (the dense core accumulates in float64).
 */
export class RandomizedHadamard {
  readonly n: number;
  readonly plan: HadamardPlan;
  readonly signs: Float32Array;
  /** 1/sqrt of H's row norm squared: n for a full Hadamard matrix, block for the block-diagonal fallback. */
  private readonly norm: number;
  private readonly acc: Float64Array;

  constructor(n: number, seed: number) {
    this.n = n;
    this.plan = hadamardPlan(n);
    this.signs = randomSigns(n, seed);
    this.norm = 1 / Math.sqrt(this.plan.core ? n : this.plan.block);
    this.acc = new Float64Array(n);
  }

  /** X <- X Q for each of `rows` rows of length n: x <- (x o s) (core (x) H_block) / sqrt(n). */
  rotateRows(X: Float32Array, rows: number): void {
    const { n, signs } = this;
    this.checkShape(X, rows);
    // x o s and the block transforms are the online rotation's kernel (signs as the scale).
    kernels().blockHadamard(X, rows, n, this.plan.block, signs);
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      this.mixCore(X, base, false);
      for (let i = 0; i < n; i++) X[base + i] *= this.norm;
    }
  }

  /** X <- X Q^T for each row: x <- ((x (core^T (x) H_block)) / sqrt(n)) o s. Inverse of rotateRows. */
  unrotateRows(X: Float32Array, rows: number): void {
    const { n, signs } = this;
    this.checkShape(X, rows);
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      this.fwhtBlocks(X, base);
      this.mixCore(X, base, true);
      for (let i = 0; i < n; i++) X[base + i] *= signs[i] * this.norm;
    }
  }

  /** Additions/subtractions per row of rotateRows or unrotateRows, for the energy model (the core's ±1 entries are sign flips). */
  get addsPerRow(): number {
    const { block, core, m } = this.plan;
    return (this.n / block) * countAddsFWHT(block) + (core ? m * m * block : 0);
  }

  /** Multiplies per row (signs and normalization), for the energy model. */
  get multsPerRow(): number {
    return this.n;
  }

  /** W <- Q^T W for W of shape [n, cols]: each column w becomes Q^T w, i.e. the row w^T Q. */
  rotateColumns(W: Float32Array, cols: number): void {
    const { n } = this;
    if (W.length !== n * cols) throw new RangeError(`expected ${n} x ${cols} values, got ${W.length}`);
    const t = new Float32Array(n * cols);
    for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) t[j * n + i] = W[i * cols + j];
    this.rotateRows(t, cols);
    for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) W[i * cols + j] = t[j * n + i];
  }

  private checkShape(X: Float32Array, rows: number): void {
    if (X.length < rows * this.n) throw new RangeError(`expected ${rows} x ${this.n} values, got ${X.length}`);
  }

  private fwhtBlocks(X: Float32Array, base: number): void {
    const { block } = this.plan;
    for (let o = 0; o < this.n; o += block) fwht(X, base + o, block);
  }

  /**
   * Multiply the row, viewed as an m x block matrix R (R[a][b] = x[a*block + b]), by the core:
   * x (core (x) I) is core^T R; x (core^T (x) I) is core R.
   */
  private mixCore(X: Float32Array, base: number, transpose: boolean): void {
    const { core, m, block } = this.plan;
    if (!core) return;
    const acc = this.acc;
    acc.fill(0);
    for (let a = 0; a < m; a++) {
      for (let a2 = 0; a2 < m; a2++) {
        const c = core[a * m + a2];
        // rotate: out[a2] += core[a][a2] * R[a];  unrotate: out[a] += core[a][a2] * R[a2]
        const src = base + (transpose ? a2 : a) * block;
        const dst = (transpose ? a : a2) * block;
        for (let b = 0; b < block; b++) acc[dst + b] += c * X[src + b];
      }
    }
    for (let i = 0; i < this.n; i++) X[base + i] = acc[i];
  }
}

/** Block size of the online transform: the largest power of two <= 128 dividing n. */
export function onlineBlockSize(n: number): number {
  return Math.min(powerOfTwoPart(n), 128);
}

/**
 * The online rotation Q = diag(s) (I (x) H_b) / sqrt(b) applied at run time to the input of
 * down_proj (and optionally o_proj), with Q fused into the layer's weights (see the file header).
 * Per row: n sign-and-scale multiplies plus n log2(b) additions/subtractions.
 */
export class BlockHadamard {
  readonly n: number;
  readonly block: number;
  /** s_i / sqrt(b): the signs and the normalization folded into one multiply per element. */
  private readonly scale: Float32Array;

  constructor(n: number, seed: number) {
    this.n = n;
    this.block = onlineBlockSize(n);
    const signs = randomSigns(n, seed);
    const norm = 1 / Math.sqrt(this.block);
    this.scale = new Float32Array(n);
    for (let i = 0; i < n; i++) this.scale[i] = signs[i] * norm;
  }

  /** x <- x Q for each of `rows` rows of length n (in place, no allocation). */
  apply(x: Float32Array, rows: number): void {
    const { n, block, scale } = this;
    if (x.length < rows * n) throw new RangeError(`expected ${rows} x ${n} values, got ${x.length}`);
    kernels().blockHadamard(x, rows, n, block, scale);
  }

  /**
   * Fuse the rotation into W ([rows = out, cols = in = n], row-major): W <- W Q. Each row of W is
   * transformed exactly like an input row, so this is `apply` over W's rows.
   */
  rotateWeightInputs(W: Float32Array, rows: number, cols: number): void {
    if (cols !== this.n) throw new RangeError(`weight has ${cols} inputs, rotation is for ${this.n}`);
    this.apply(W, rows);
  }

  /** Additions/subtractions per transformed row, for the energy model. */
  get addsPerRow(): number {
    return (this.n / this.block) * countAddsFWHT(this.block);
  }

  /** Multiplies per transformed row (the sign-and-scale pass), for the energy model. */
  get multsPerRow(): number {
    return this.n;
  }
}
