/** Typed, validated access to GGUF metadata: each accessor names the key and the file in its error. */
import { fail } from '../errors.js';
import { printable, type GgufArray, type GgufFile, type GgufValue } from './gguf.js';

/**
 * The shortest decimal that rounds to this float32. Converters write config values such as
 * 1e-5 as float32; reading them back as the decimal the config said keeps float64 arithmetic on
 * them (RMSNorm's eps) identical to a model loaded from that config.
 */
export function shortestF32(x: number): number {
  if (!Number.isFinite(x) || Math.fround(x) !== x) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

const INT_TYPES = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64']);

export class GgufMeta {
  constructor(readonly file: GgufFile) {}

  has(key: string): boolean {
    return this.file.metadata.has(key);
  }

  get(key: string): GgufValue | undefined {
    return this.file.metadata.get(key);
  }

  private bad(key: string, expected: string, v: GgufValue): never {
    const got = v.type === 'array' ? `an array of ${v.value.itemType}` : v.type === 'string' ? `the string ${printable(v.value, 40)}` : `${v.type} ${String(v.value)}`;
    fail(`metadata ${key} must be ${expected}, got ${got}`, this.file.path);
  }

  /** An integer-typed value (any width) in [min, 2^53). */
  int(key: string, dflt?: number, min = 1): number {
    const v = this.get(key);
    if (!v) {
      if (dflt === undefined) fail(`metadata ${key} is missing`, this.file.path);
      return dflt;
    }
    if (!INT_TYPES.has(v.type)) this.bad(key, min > 0 ? 'a positive integer' : 'an integer', v);
    const n = typeof v.value === 'bigint' ? (v.value <= BigInt(Number.MAX_SAFE_INTEGER) && v.value >= 0n ? Number(v.value) : -1) : (v.value as number);
    if (!(n >= min) || !Number.isSafeInteger(n)) this.bad(key, min > 0 ? 'a positive integer' : `an integer >= ${min}`, v);
    return n;
  }

  /** A finite float (f32 read as its shortest decimal, f64 as is; integers accepted). */
  float(key: string, dflt?: number, positive = false): number {
    const v = this.get(key);
    if (!v) {
      if (dflt === undefined) fail(`metadata ${key} is missing`, this.file.path);
      return dflt;
    }
    let x: number;
    if (v.type === 'f32') x = shortestF32(v.value);
    else if (v.type === 'f64') x = v.value;
    else if (INT_TYPES.has(v.type)) x = Number(v.value);
    else this.bad(key, 'a number', v);
    if (!Number.isFinite(x) || (positive && !(x > 0))) this.bad(key, positive ? 'a positive finite number' : 'a finite number', v);
    return x;
  }

  str(key: string, dflt?: string): string {
    const v = this.get(key);
    if (!v) {
      if (dflt === undefined) fail(`metadata ${key} is missing`, this.file.path);
      return dflt;
    }
    if (v.type !== 'string') this.bad(key, 'a string', v);
    return v.value;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.get(key);
    if (!v) return dflt;
    if (v.type !== 'bool') this.bad(key, 'a bool', v);
    return v.value;
  }

  private array(key: string): GgufArray | undefined {
    const v = this.get(key);
    if (!v) return undefined;
    if (v.type !== 'array') this.bad(key, 'an array', v);
    return v.value;
  }

  strings(key: string): string[] | undefined {
    const a = this.array(key);
    if (!a) return undefined;
    if (a.itemType !== 'string') fail(`metadata ${key} must be an array of strings, got an array of ${a.itemType}`, this.file.path);
    return a.values as string[];
  }

  /** A numeric array of exactly `length` elements (any numeric element type), as float64 numbers. */
  numbers(key: string, length: number): ArrayLike<number> | undefined {
    const a = this.array(key);
    if (!a) return undefined;
    if (a.itemType === 'string' || a.itemType === 'array' || a.itemType === 'bool')
      fail(`metadata ${key} must be an array of numbers, got an array of ${a.itemType}`, this.file.path);
    if (a.values.length !== length) fail(`metadata ${key} has ${a.values.length} elements, expected ${length} (one per token)`, this.file.path);
    return a.itemType === 'u64' || a.itemType === 'i64' ? Array.from(a.values as BigInt64Array, Number) : (a.values as ArrayLike<number>);
  }
}
