/**
 * Operation counts × a table = energy. Compute and memory are reported side by side, never only
 * the flattering one (the paper counts compute only; weights are re-read at every time step).
 */
import type { OpCounts } from './ops.js';
import type { EnergyTable } from './table.js';

export type FloatPrecision = 'fp16' | 'fp32';

export interface EnergyBreakdown {
  table: string;
  floatPrecision: FloatPrecision;
  /** pJ: dense float matmuls, dense integer matmuls, spike accumulations, other float ops. */
  denseFloat: number;
  denseInt: number;
  spike: number;
  floatOps: number;
  compute: number;
  /** pJ of bytes read: weights from DRAM, activations from SRAM. */
  memory: number;
  total: number;
}

export function energyOf(ops: OpCounts, t: EnergyTable, floatPrecision: FloatPrecision = 'fp16'): EnergyBreakdown {
  const fmac = floatPrecision === 'fp16' ? t.fp16_add + t.fp16_mult : t.fp32_add + t.fp32_mult;
  const denseFloat = ops.mac_float * fmac;
  const denseInt = ops.mac_int8 * (t.int8_add + t.int8_mult) + ops.mac_int4 * (t.int4_add + t.int4_mult);
  const spike = ops.ac * t.int32_add;
  // The remaining float work runs at the same float precision as the dense float matmuls.
  const add = floatPrecision === 'fp16' ? t.fp16_add : t.fp32_add;
  const mult = floatPrecision === 'fp16' ? t.fp16_mult : t.fp32_mult;
  const floatOps = ops.fp_add * add + ops.fp_mult * mult + ops.fp_special * t.fp32_special;
  const compute = denseFloat + denseInt + spike + floatOps;
  const memory = ops.weight_bytes * t.dram_byte + ops.act_bytes * t.sram_byte;
  return { table: t.name, floatPrecision, denseFloat, denseInt, spike, floatOps, compute, memory, total: compute + memory };
}
