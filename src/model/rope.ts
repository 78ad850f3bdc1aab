/**
 * Rotary position embedding. Frequencies and angles are rounded to float32 at each step as
 * transformers computes them, so long positions agree with the reference, not only short ones.
 */
import type { ModelConfig } from './config.js';

export function inverseFrequencies(c: ModelConfig): Float32Array {
  const d = c.head_dim;
  const inv = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) {
    inv[i] = Math.fround(1 / Math.fround(Math.pow(c.rope_theta, Math.fround((2 * i) / d))));
  }
  const s = c.rope_scaling;
  if (s.rope_type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] = inv[i] / s.factor;
  if (s.rope_type === 'llama3') {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between smoothed.
    const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
    const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
    for (let i = 0; i < inv.length; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] = inv[i] / s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** cos/sin tables [positions, head_dim/2], grown on demand so long contexts cost only what they use. */
export class RopeTable {
  cos = new Float32Array(0);
  sin = new Float32Array(0);
  private positions = 0;
  constructor(private readonly inv: Float32Array) {}

  ensure(positions: number): void {
    if (positions <= this.positions) return;
    const half = this.inv.length;
    const n = Math.max(positions, this.positions * 2, 64);
    const cos = new Float32Array(n * half), sin = new Float32Array(n * half);
    for (let p = 0; p < n; p++) {
      for (let i = 0; i < half; i++) {
        const a = Math.fround(p * this.inv[i]);
        cos[p * half + i] = Math.cos(a);
        sin[p * half + i] = Math.sin(a);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.positions = n;
  }
}

/**
 * Rotates one head vector at `off` (length 2*half) for position `pos`, in place.
 * `interleaved` pairs (2i, 2i+1) as llama2.c stores them; otherwise HF's rotate_half pairs (i, i+half).
 */
export function applyRope(v: Float32Array, off: number, half: number, pos: number, t: RopeTable, interleaved: boolean): void {
  const base = pos * half;
  if (interleaved) {
    for (let i = 0; i < half; i++) {
      const c = t.cos[base + i], s = t.sin[base + i];
      const a = v[off + 2 * i], b = v[off + 2 * i + 1];
      v[off + 2 * i] = a * c - b * s;
      v[off + 2 * i + 1] = a * s + b * c;
    }
  } else {
    for (let i = 0; i < half; i++) {
      const c = t.cos[base + i], s = t.sin[base + i];
      const a = v[off + i], b = v[off + i + half];
      v[off + i] = a * c - b * s;
      v[off + i + half] = b * c + a * s;
    }
  }
}
