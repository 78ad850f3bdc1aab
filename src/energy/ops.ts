/**
 * Operation counters (METHOD §8). The engine increments these while it runs — they are counts
 * of what was executed, not a formula — so an energy figure is always traceable to operations.
 *
 * Kinds:
 *  - mac_float: multiply-accumulates of dense float matmuls (priced as fp16 or fp32 MACs);
 *  - mac_int8 / mac_int4: dense integer MACs of the 4-bit ANN baselines (w4a8 / w4a4);
 *  - ac: accumulate operations of spike-driven matmuls — each spike event adds or subtracts one
 *    integer weight column, i.e. (output width) additions per event;
 *  - fp_add / fp_mult / fp_special: the float work that remains (norms, RoPE, softmax, SiLU, the
 *    gate product, residual adds, per-token scale multiplies, the online Hadamard's additions);
 *    fp_special counts exp, division and square root;
 *  - weight_bytes / act_bytes: bytes read (weights at their stored precision; in `events` mode a
 *    weight column is re-read at every time step it is needed).
 */
export const OP_KINDS = ['mac_float', 'mac_int8', 'mac_int4', 'ac', 'fp_add', 'fp_mult', 'fp_special', 'weight_bytes', 'act_bytes'] as const;
export type OpKind = (typeof OP_KINDS)[number];

export class OpCounts {
  mac_float = 0;
  mac_int8 = 0;
  mac_int4 = 0;
  ac = 0;
  fp_add = 0;
  fp_mult = 0;
  fp_special = 0;
  weight_bytes = 0;
  act_bytes = 0;
  /** Token rows this site processed (per-token figures divide by the model's tokens, not these). */
  rows = 0;

  add(o: OpCounts): void {
    for (const k of OP_KINDS) this[k] += o[k];
    this.rows += o.rows;
  }

  toJSON(): Record<OpKind, number> {
    return Object.fromEntries(OP_KINDS.map((k) => [k, this[k]])) as Record<OpKind, number>;
  }

  scaled(f: number): OpCounts {
    const out = new OpCounts();
    for (const k of OP_KINDS) out[k] = this[k] * f;
    out.rows = this.rows * f;
    return out;
  }
}
