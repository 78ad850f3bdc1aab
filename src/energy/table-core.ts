/**
 * Energy per operation, as named data. The default is Horowitz's 45 nm table (ISSCC 2014,
 * 0.9 V), the one SNN papers quote. No node: imports (the web page's energy meter prices with it);
 * table.ts loads other tables from JSON files.
 */
export interface EnergyTable {
  name: string;
  source: string;
  /** pJ per operation. */
  fp32_add: number;
  fp32_mult: number;
  fp16_add: number;
  fp16_mult: number;
  int32_add: number;
  int32_mult: number;
  int8_add: number;
  int8_mult: number;
  /** int4 MACs; Horowitz has no int4 row, so the default prices them as int8 (stated, conservative). */
  int4_add: number;
  int4_mult: number;
  /** exp, division, square root: priced as an fp32 multiply unless a table says otherwise. */
  fp32_special: number;
  /** pJ per byte read. */
  sram_byte: number;
  dram_byte: number;
}

export const HOROWITZ_45NM: EnergyTable = {
  name: 'horowitz45nm',
  source: 'M. Horowitz, "Computing\'s energy problem", ISSCC 2014, 45 nm, 0.9 V; memory: 64-bit SRAM read 10 pJ, DRAM 1.3 nJ per 64 bits',
  fp32_add: 0.9,
  fp32_mult: 3.7,
  fp16_add: 0.4,
  fp16_mult: 1.1,
  int32_add: 0.1,
  int32_mult: 3.1,
  int8_add: 0.03,
  int8_mult: 0.2,
  int4_add: 0.03,
  int4_mult: 0.2,
  fp32_special: 3.7,
  sram_byte: 10 / 8,
  dram_byte: 1300 / 8,
};
