/**
 * SwiGLU's activation: gate ← silu(gate) · up. Plain TypeScript reference, in float64 with V8's
 * Math.exp, stored as float32; the native kernel (native/activation.c) reproduces Math.exp's
 * algorithm so that it is bit-identical.
 */
export function siluMul(gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    gate[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}
