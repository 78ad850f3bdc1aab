/**
 * Keys and values of every layer for the positions seen so far, [position, kv_heads*head_dim]
 * per layer. Capacity is reserved up front by generate(), so the decode loop never allocates.
 */
export class KVCache {
  length = 0;
  capacity = 0;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];

  constructor(private readonly layers: number, private readonly kvDim: number, capacity = 0) {
    this.keys = new Array<Float32Array>(layers).fill(new Float32Array(0));
    this.values = new Array<Float32Array>(layers).fill(new Float32Array(0));
    this.reserve(capacity);
  }

  /** Makes room for `positions` positions in total, keeping what is stored. */
  reserve(positions: number): void {
    if (positions <= this.capacity) return;
    const cap = Math.max(positions, Math.min(2 * this.capacity, positions + 1024));
    for (let l = 0; l < this.layers; l++) {
      const k = new Float32Array(cap * this.kvDim), v = new Float32Array(cap * this.kvDim);
      k.set(this.keys[l].subarray(0, this.length * this.kvDim));
      v.set(this.values[l].subarray(0, this.length * this.kvDim));
      this.keys[l] = k;
      this.values[l] = v;
    }
    this.capacity = cap;
  }

  /** Forgets everything after `length` positions (e.g. to re-score from a shared prefix). */
  truncate(length: number): void {
    this.length = Math.min(this.length, length);
  }
}
