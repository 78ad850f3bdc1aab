/** Element types of tensors on disk and their conversion to the float32 the engine computes in. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

export const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];

let f16Table: Float32Array | undefined;
/** All 65,536 half-precision values, so converting a tensor is one lookup per element. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/**
 * Converts little-endian raw bytes of a float tensor into `out`.
 * `bytes` may sit at any offset (Buffers from the pool are not 4-byte aligned), so reads go
 * through a DataView unless the copy can be done with one aligned typed-array view.
 */
export function toFloat32(bytes: Uint8Array, dtype: DType, out: Float32Array): void {
  const n = out.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return;
    case 'BF16': {
      // bf16 is the top half of an fp32: shift into place through a shared Uint32 view.
      const u32 = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(2 * i, true) << 16;
      return;
    }
    case 'F16': {
      const t = halfTable();
      for (let i = 0; i < n; i++) out[i] = t[dv.getUint16(2 * i, true)];
      return;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return;
    default:
      throw new Error(`toFloat32: ${dtype} is not a float type`);
  }
}

/** Round-to-nearest-even fp32 → fp16 bits, for writing half-precision files. */
export function float32ToF16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** bfloat16 words widened to float32 (exact: a bf16 word is the top half of a float32). */
export function bf16ToFloat32(w: Uint16Array): Float32Array {
  const out = new Float32Array(w.length);
  toFloat32(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), 'BF16', out);
  return out;
}
