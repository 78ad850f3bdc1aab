/**
 * Energy per operation, as named data. The default is Horowitz's 45 nm table (table-core.ts);
 * any other table loads from JSON (`--energy-table`), and every printed energy names the table
 * it came from.
 */
import fs from 'node:fs';
import { fail } from '../errors.js';
import { HOROWITZ_45NM, type EnergyTable } from './table-core.js';

export { HOROWITZ_45NM, type EnergyTable } from './table-core.js';

const KEYS = Object.keys(HOROWITZ_45NM).filter((k) => k !== 'name' && k !== 'source') as (keyof EnergyTable)[];

/** A table from JSON: {name, source?, ...pJ}; missing entries take the Horowitz values (and are listed in `source`). */
export function loadEnergyTable(path: string): EnergyTable {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read energy table: ${(e as Error).message}`, path);
  }
  if (typeof raw.name !== 'string') fail('energy table needs a "name" string', path);
  const t: EnergyTable = { ...HOROWITZ_45NM, name: raw.name, source: typeof raw.source === 'string' ? raw.source : path };
  const inherited: string[] = [];
  for (const k of KEYS) {
    if (raw[k] === undefined) {
      inherited.push(k);
      continue;
    }
    if (typeof raw[k] !== 'number' || !((raw[k] as number) >= 0)) fail(`"${k}" must be a non-negative number of pJ`, path);
    (t as unknown as Record<string, number>)[k] = raw[k] as number;
  }
  for (const k of Object.keys(raw)) if (k !== 'name' && k !== 'source' && !KEYS.includes(k as keyof EnergyTable)) fail(`unknown entry "${k}" (entries: ${KEYS.join(', ')})`, path);
  if (inherited.length) t.source += ` (from horowitz45nm: ${inherited.join(', ')})`;
  return t;
}
