/**
 * GGUF, llama.cpp's single-file model format (written from the public specification, ggml
 * docs/gguf.md): magic "GGUF", u32 version (3; 2 is the same layout), u64 tensor count, u64
 * metadata count, typed key/value metadata (scalars, strings, arrays, nested arrays), tensor
 * infos {name, n_dims, ne[n_dims] (ne[0] varies fastest), ggml type, offset}, padding to
 * `general.alignment` (default 32), then the tensor data, each tensor at an aligned offset.
 *
 * As for safetensors, every claim of the file is checked against the file before anything is
 * allocated from it: a string length or an array count cannot exceed the bytes left, a tensor
 * count is bounded by the smallest tensor info, tensor data must lie inside the file without
 * overlapping another tensor. A corrupt or hostile file gives one clear SdllmError, never a crash
 * or an allocation larger than (a small multiple of) the file.
 *
 * Supported tensor types: F32, F16, BF16 and the block types Q8_0, Q4_0, Q4_1 (32 values per
 * block, an f16 scale, Q4_1 also an f16 minimum). They dequantize to float32 exactly as ggml
 * does; Q8_0 and Q4_0 also map onto QuantizedWeights without going through float (see
 * ggufQuantized and docs/GGUF.md).
 */
import { fail } from '../errors.js';
import { readFully, withFile } from './safetensors.js';
import { toFloat32 } from './dtype.js';
import { packColumns, type QuantizedWeights } from '../quant/weights.js';

// ---------------------------------------------------------------------------------------------
// Types

/** Metadata value types by their code in the file (index = code). */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** Elements of an array: typed arrays for numbers, plain arrays for booleans, strings and nested arrays. */
export type GgufArrayValues =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigUint64Array | BigInt64Array | boolean[] | string[] | GgufArray[];

export interface GgufArray {
  itemType: GgufValueType;
  values: GgufArrayValues;
}

export type GgufValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; value: GgufArray };

/** The ggml tensor types this reader decodes. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1';

interface GgmlTypeInfo {
  name: GgmlType;
  /** Values per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/** ggml type codes of the supported types. */
export const GGML_TYPE_IDS: Record<GgmlType, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, BF16: 30 };

const SUPPORTED_TYPES = new Map<number, GgmlTypeInfo>([
  [0, { name: 'F32', blockSize: 1, typeSize: 4 }],
  [1, { name: 'F16', blockSize: 1, typeSize: 2 }],
  [2, { name: 'Q4_0', blockSize: 32, typeSize: 2 + 16 }],
  [3, { name: 'Q4_1', blockSize: 32, typeSize: 2 + 2 + 16 }],
  [8, { name: 'Q8_0', blockSize: 32, typeSize: 2 + 32 }],
  [30, { name: 'BF16', blockSize: 1, typeSize: 2 }],
]);

/** Types ggml defines that we do not decode, named in the error so users know what they have. */
const KNOWN_UNSUPPORTED: Record<number, string> = {
  4: 'Q4_2 (removed from ggml)', 5: 'Q4_3 (removed from ggml)', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL',
  21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
  31: 'Q4_0_4_4 (removed from GGUF)', 32: 'Q4_0_4_8 (removed from GGUF)', 33: 'Q4_0_8_8 (removed from GGUF)',
  34: 'TQ1_0', 35: 'TQ2_0', 36: 'IQ4_NL_4_4 (removed from GGUF)', 37: 'IQ4_NL_4_8 (removed from GGUF)',
  38: 'IQ4_NL_8_8 (removed from GGUF)', 39: 'MXFP4',
};

export interface GgufTensorInfo {
  name: string;
  /** ggml dimensions, ne[0] the fastest-varying (the number of columns of a matrix). */
  ne: number[];
  /** Row-major shape as Hugging Face and safetensors write it: ne reversed. */
  shape: number[];
  type: GgmlType;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  elements: number;
}

export interface GgufFile {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  metadata: Map<string, GgufValue>;
  /** In file order. */
  tensors: Map<string, GgufTensorInfo>;
}

// ---------------------------------------------------------------------------------------------
// Limits. Each bounds what one claim of the file can make us allocate or loop over.

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
/** The specification's limit on keys. */
const MAX_KEY_BYTES = 65535;
/** The specification's limit on tensor names. */
const MAX_NAME_BYTES = 64;
/** ggml tensors have at most 4 dimensions. */
const MAX_DIMS = 4;
/** Arrays may nest; deeper than this is not a model file (and would exhaust the stack). */
const MAX_ARRAY_DEPTH = 8;
/** A single metadata string larger than this is not metadata (chat templates are kilobytes). */
const MAX_STRING_BYTES = 256 * 1024 * 1024;
/** Smallest encodings, used to bound counts by the bytes left before looping over them. */
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, a one-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // name length, n_dims, one dim, type, offset
const VALUE_BYTES: Partial<Record<GgufValueType, number>> = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 };
const MIN_VALUE_BYTES: Record<GgufValueType, number> = { ...(VALUE_BYTES as Record<GgufValueType, number>), string: 8, array: 4 + 8 };

// ---------------------------------------------------------------------------------------------
// Reading

/** A forward reader over the file through a window buffer; never reads or allocates past the file. */
class Cursor {
  pos = 0;
  /** Backing store of the window; grows to the largest single read (bounded by the file). */
  private store = Buffer.alloc(0);
  private win = Buffer.alloc(0);
  private winStart = 0;
  private static readonly CHUNK = 1 << 20;
  private readonly dec = new TextDecoder('utf-8');

  constructor(private readonly fd: number, readonly size: number, private readonly path: string) {}

  get left(): number {
    return this.size - this.pos;
  }

  /** Makes n bytes at pos available in the window and returns their offset in it. */
  private need(n: number, what: string): number {
    if (n > this.left) fail(`file ends while reading ${what} (at byte ${this.pos}, ${n} bytes needed, ${this.left} left): truncated or not a GGUF file`, this.path);
    const rel = this.pos - this.winStart;
    if (rel >= 0 && rel + n <= this.win.length) return rel;
    const want = Math.min(Math.max(n, Cursor.CHUNK), this.left);
    if (this.store.length < want) this.store = Buffer.allocUnsafe(want);
    this.win = this.store.subarray(0, want);
    readFully(this.fd, this.win, this.pos, this.path, what);
    this.winStart = this.pos;
    return 0;
  }

  u32(what: string): number {
    const o = this.need(4, what);
    this.pos += 4;
    return this.win.readUInt32LE(o);
  }
  u64(what: string): bigint {
    const o = this.need(8, what);
    this.pos += 8;
    return this.win.readBigUInt64LE(o);
  }
  scalar(type: GgufValueType, what: string): GgufValue {
    const n = VALUE_BYTES[type]!;
    const o = this.need(n, what);
    this.pos += n;
    const b = this.win;
    switch (type) {
      case 'u8': return { type, value: b.readUInt8(o) };
      case 'i8': return { type, value: b.readInt8(o) };
      case 'u16': return { type, value: b.readUInt16LE(o) };
      case 'i16': return { type, value: b.readInt16LE(o) };
      case 'u32': return { type, value: b.readUInt32LE(o) };
      case 'i32': return { type, value: b.readInt32LE(o) };
      case 'f32': return { type, value: b.readFloatLE(o) };
      case 'f64': return { type, value: b.readDoubleLE(o) };
      case 'u64': return { type, value: b.readBigUInt64LE(o) };
      case 'i64': return { type, value: b.readBigInt64LE(o) };
      case 'bool': {
        const v = b[o];
        if (v > 1) fail(`${what}: a bool must be 0 or 1, got ${v}`, this.path);
        return { type, value: v === 1 };
      }
      default:
        throw new Error(`Cursor.scalar: ${type} is not a scalar`);
    }
  }
  /** A length-prefixed string; the length is checked against the bytes left (and `max`) before reading. */
  string(what: string, max = MAX_STRING_BYTES): string {
    const len = this.u64(`the length of ${what}`);
    if (len > BigInt(max)) fail(`${what}: string length ${len} exceeds the limit of ${max} bytes`, this.path);
    if (len > BigInt(this.left)) fail(`${what}: string length ${len} is beyond the end of the file (${this.left} bytes left): truncated or corrupt`, this.path);
    const n = Number(len);
    if (n === 0) return '';
    const o = this.need(n, what);
    this.pos += n;
    return this.dec.decode(this.win.subarray(o, o + n));
  }
  /** Copies n bytes at pos into dst (n <= bytes left, checked by the caller). */
  bytesInto(dst: Uint8Array, what: string): void {
    let done = 0;
    const n = dst.length;
    // Through the window in chunks, so a large array never needs a second buffer of its size.
    while (done < n) {
      const take = Math.min(n - done, Cursor.CHUNK);
      const o = this.need(take, what);
      dst.set(this.win.subarray(o, o + take), done);
      this.pos += take;
      done += take;
    }
  }
}

/** A name or key for a one-line message: as is when printable and short, else JSON-quoted and cut. */
export function printable(s: string, max = 80): string {
  if (/^[\x20-\x7e]*$/.test(s) && s.length <= max) return s;
  const j = JSON.stringify(s);
  return j.length > max ? `${j.slice(0, max - 3)}...` : j;
}

function valueType(code: number, what: string, path: string): GgufValueType {
  const t = GGUF_VALUE_TYPES[code];
  if (t === undefined) fail(`${what}: unknown metadata value type ${code} (known: 0-12)`, path);
  return t;
}

const TYPED_ARRAYS = {
  u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array, u32: Uint32Array, i32: Int32Array,
  f32: Float32Array, f64: Float64Array, u64: BigUint64Array, i64: BigInt64Array,
} as const;

function readArray(c: Cursor, what: string, path: string, depth: number): GgufArray {
  if (depth > MAX_ARRAY_DEPTH) fail(`${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`, path);
  const itemType = valueType(c.u32(`the element type of ${what}`), what, path);
  const count = c.u64(`the length of ${what}`);
  // Every element takes at least MIN_VALUE_BYTES: a count the rest of the file cannot hold is a lie.
  const min = BigInt(MIN_VALUE_BYTES[itemType]);
  if (count * min > BigInt(c.left))
    fail(`${what}: array of ${count} ${itemType} elements needs at least ${count * min} bytes but ${c.left} are left: truncated or corrupt`, path);
  const n = Number(count);
  if (itemType === 'string') {
    const values: string[] = [];
    for (let i = 0; i < n; i++) values.push(c.string(`${what}[${i}]`));
    return { itemType, values };
  }
  if (itemType === 'array') {
    const values: GgufArray[] = [];
    for (let i = 0; i < n; i++) values.push(readArray(c, `${what}[${i}]`, path, depth + 1));
    return { itemType, values };
  }
  if (itemType === 'bool') {
    const raw = new Uint8Array(n);
    c.bytesInto(raw, what);
    const bad = raw.findIndex((v) => v > 1);
    if (bad >= 0) fail(`${what}[${bad}]: a bool must be 0 or 1, got ${raw[bad]}`, path);
    return { itemType, values: Array.from(raw, (v) => v === 1) };
  }
  const Ctor = TYPED_ARRAYS[itemType];
  const values = new Ctor(n);
  c.bytesInto(new Uint8Array(values.buffer, 0, values.byteLength), what); // little-endian host (checked in readGgufFile)
  return { itemType, values };
}

function readValue(c: Cursor, type: GgufValueType, what: string, path: string): GgufValue {
  if (type === 'string') return { type, value: c.string(what) };
  if (type === 'array') return { type, value: readArray(c, what, path, 1) };
  return c.scalar(type, what);
}

/** Reads and validates a GGUF file's header, metadata and tensor infos (not the tensor data). */
export function readGgufFile(path: string): GgufFile {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('readGgufFile: a big-endian host is not supported');
  return withFile(path, 'a GGUF file', (fd, size) => parse(new Cursor(fd, size, path), path));
}

function parse(c: Cursor, path: string): GgufFile {
  if (c.size < 24) fail(`not a GGUF file: ${c.size} bytes, shorter than the 24-byte header`, path);
  const magic = c.u32('the magic');
  if (magic !== MAGIC) fail(`not a GGUF file (the first four bytes are not "GGUF")`, path);
  const version = c.u32('the version');
  if (version === 1) fail('GGUF version 1 (32-bit counts) is not supported; re-convert the model with a current llama.cpp', path);
  if (version !== 2 && version !== 3) {
    // A big-endian GGUF reads as version 3 << 24 (or 2 << 24) here.
    if (version === 0x03000000 || version === 0x02000000) fail('big-endian GGUF files are not supported', path);
    fail(`unsupported GGUF version ${version} (supported: 2, 3)`, path);
  }
  const tensorCount = c.u64('the tensor count');
  const kvCount = c.u64('the metadata count');
  if (kvCount * BigInt(MIN_KV_BYTES) > BigInt(c.left))
    fail(`metadata count ${kvCount} cannot fit in the ${c.left} bytes left: truncated or corrupt`, path);
  if (tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) > BigInt(c.left))
    fail(`tensor count ${tensorCount} cannot fit in the ${c.left} bytes left: truncated or corrupt`, path);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0, n = Number(kvCount); i < n; i++) {
    const key = c.string(`the key of metadata entry ${i}`, MAX_KEY_BYTES);
    if (metadata.has(key)) fail(`metadata key ${printable(key)} appears twice`, path);
    const what = `metadata ${printable(key)}`;
    const type = valueType(c.u32(`the type of ${what}`), what, path);
    metadata.set(key, readValue(c, type, what, path));
  }

  let alignment = 32;
  const al = metadata.get('general.alignment');
  if (al) {
    if (al.type !== 'u32') fail(`metadata general.alignment must be a u32, got a ${al.type}`, path);
    if (al.value === 0 || (al.value & (al.value - 1)) !== 0) fail(`metadata general.alignment ${al.value} is not a power of two`, path);
    alignment = al.value;
  }

  interface Pending { name: string; ne: bigint[]; typeId: number; rel: bigint }
  const pending: Pending[] = [];
  const seen = new Set<string>();
  for (let i = 0, n = Number(tensorCount); i < n; i++) {
    const name = c.string(`the name of tensor ${i}`, MAX_NAME_BYTES);
    const what = `tensor ${printable(name)}`;
    if (seen.has(name)) fail(`${what} appears twice`, path);
    seen.add(name);
    const nDims = c.u32(`the dimension count of ${what}`);
    if (nDims < 1 || nDims > MAX_DIMS) fail(`${what}: ${nDims} dimensions (ggml tensors have 1 to ${MAX_DIMS})`, path);
    const ne: bigint[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.u64(`the dimensions of ${what}`));
    const typeId = c.u32(`the type of ${what}`);
    const rel = c.u64(`the offset of ${what}`);
    pending.push({ name, ne, typeId, rel });
  }
  const dataOffset = c.pos + ((alignment - (c.pos % alignment)) % alignment);
  const dataSize = Math.max(0, c.size - dataOffset);

  const tensors = new Map<string, GgufTensorInfo>();
  for (const p of pending) {
    const what = `tensor ${printable(p.name)}`;
    const info = SUPPORTED_TYPES.get(p.typeId);
    if (!info) {
      const known = KNOWN_UNSUPPORTED[p.typeId];
      if (known) fail(`${what}: ggml type ${known} is not supported (supported: ${[...SUPPORTED_TYPES.values()].map((t) => t.name).join(', ')})`, path);
      fail(`${what}: unknown ggml type ${p.typeId}`, path);
    }
    const dims = `[${p.ne.join(', ')}]`;
    let elements = 1n;
    for (const d of p.ne) elements *= d;
    if (p.ne[0] % BigInt(info.blockSize) !== 0n)
      fail(`${what}: ne[0] = ${p.ne[0]} is not a multiple of the ${info.name} block size ${info.blockSize}`, path);
    const bytes = (elements / BigInt(info.blockSize)) * BigInt(info.typeSize);
    if (p.rel % BigInt(alignment) !== 0n) fail(`${what}: data offset ${p.rel} is not a multiple of the alignment ${alignment}`, path);
    if (p.rel + bytes > BigInt(dataSize))
      fail(`${what}: ${info.name} ${dims} needs bytes [${p.rel}, ${p.rel + bytes}) of the data section, which has ${dataSize} bytes (truncated or corrupt file)`, path);
    // Inside the file, so every number below is far under 2^53.
    const ne = p.ne.map(Number);
    tensors.set(p.name, {
      name: p.name,
      ne,
      shape: [...ne].reverse(),
      type: info.name,
      offset: dataOffset + Number(p.rel),
      byteLength: Number(bytes),
      elements: Number(elements),
    });
  }
  // Sorted by start, a tensor overlaps an earlier one iff it starts before the furthest end so far.
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  let furthest: GgufTensorInfo | undefined;
  for (const t of sorted) {
    if (furthest && t.offset < furthest.offset + furthest.byteLength) {
      const r = (x: GgufTensorInfo) => `${printable(x.name)} [${x.offset - dataOffset}, ${x.offset - dataOffset + x.byteLength})`;
      fail(`tensors ${r(furthest)} and ${r(t)} overlap`, path);
    }
    if (!furthest || t.offset + t.byteLength > furthest.offset + furthest.byteLength) furthest = t;
  }
  return { path, version, fileSize: c.size, alignment, dataOffset, metadata, tensors };
}

// ---------------------------------------------------------------------------------------------
// Tensor data

/** Reads the raw bytes of one tensor. */
export function readGgufTensorBytes(file: GgufFile, info: GgufTensorInfo): Uint8Array {
  const buf = new Uint8Array(info.byteLength);
  withFile(file.path, 'a GGUF file', (fd) => readFully(fd, buf, info.offset, file.path, `the data of tensor ${printable(info.name)}`));
  return buf;
}

let halfTable: Float32Array | undefined;
/** f16 bits → float32, through dtype.ts's conversion (one table, built once). */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const bits = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) bits[i] = i;
  const t = new Float32Array(65536);
  toFloat32(new Uint8Array(bits.buffer), 'F16', t);
  return (halfTable = t);
}

/**
 * Decodes a tensor's bytes to float32 as ggml dequantizes them. Every product below is exact in
 * float32 (an f16 times an integer of at most 8 bits), and Q4_1's sum is rounded once, so the
 * values are those of ggml's dequantize_row_* whether or not its compiler fuses the multiply-add.
 */
export function dequantizeGguf(info: GgufTensorInfo, bytes: Uint8Array, out = new Float32Array(info.elements)): Float32Array {
  if (bytes.length !== info.byteLength || out.length !== info.elements) throw new Error(`dequantizeGguf: wrong sizes for ${info.name}`);
  const n = info.elements;
  switch (info.type) {
    case 'F32':
    case 'F16':
    case 'BF16':
      toFloat32(bytes, info.type, out);
      return out;
    case 'Q8_0': {
      const h = halves();
      for (let o = 0, p = 0; o < n; p += 34) {
        const d = h[bytes[p] | (bytes[p + 1] << 8)];
        for (let j = 0; j < 32; j++) out[o++] = ((bytes[p + 2 + j] << 24) >> 24) * d;
      }
      return out;
    }
    case 'Q4_0': {
      const h = halves();
      for (let o = 0, p = 0; o < n; o += 32, p += 18) {
        const d = h[bytes[p] | (bytes[p + 1] << 8)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 2 + j];
          out[o + j] = ((q & 15) - 8) * d;
          out[o + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return out;
    }
    case 'Q4_1': {
      const h = halves();
      for (let o = 0, p = 0; o < n; o += 32, p += 20) {
        const d = h[bytes[p] | (bytes[p + 1] << 8)];
        const m = h[bytes[p + 2] | (bytes[p + 3] << 8)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 4 + j];
          out[o + j] = (q & 15) * d + m;
          out[o + j + 16] = (q >> 4) * d + m;
        }
      }
      return out;
    }
  }
}

/** Reads one tensor as float32 (row-major in `info.shape`). */
export function readGgufTensorF32(file: GgufFile, info: GgufTensorInfo): Float32Array {
  return dequantizeGguf(info, readGgufTensorBytes(file, info));
}

/**
 * A Q8_0 or Q4_0 matrix as QuantizedWeights, without going through float: ggml's blocks of 32
 * along a row are our groups of 32 inputs of one output, the block's f16 scale (exact in float32)
 * is the group's scale and the block's integers are the weight integers. Rows are outputs
 * (shape[0] = ne[1]), columns inputs (ne[0]).
 *
 * - Q8_0 → bits 8; returns null when a block holds −128, outside our symmetric ±127 range.
 * - Q4_0 (q − 8, −8..7) → bits 4 when no block uses −8 (our 4-bit range is ±7), else bits 8
 *   holding the same integers. llama.cpp's own Q4_0 quantizer gives the largest-magnitude value of
 *   every non-zero block the code −8, so its files map to bits 8.
 * - anything else (F32/F16/BF16, asymmetric Q4_1, tensors that are not matrices) → null: read them
 *   as float and quantize with RTN as usual.
 *
 * `rowOrder[o]` is the file row that becomes output row o (for the q/k un-permutation of llama
 * GGUFs); by default row o is row o. dequantize() of the result equals dequantizeGguf() exactly.
 */
export function ggufQuantized(file: GgufFile, info: GgufTensorInfo, rowOrder?: ArrayLike<number>): QuantizedWeights | null {
  if ((info.type !== 'Q8_0' && info.type !== 'Q4_0') || info.ne.length !== 2) return null;
  const [cols, rows] = info.ne;
  if (cols === 0 || rows === 0) return null;
  if (rowOrder && rowOrder.length !== rows) throw new Error(`ggufQuantized: row order of ${rowOrder.length} for ${rows} rows`);
  const bytes = readGgufTensorBytes(file, info);
  const h = halves();
  const groupSize = 32;
  const nGroups = cols / groupSize;
  const blockBytes = info.type === 'Q8_0' ? 34 : 18;
  const scales = new Float32Array(rows * nGroups);
  const q = new Int8Array(rows * cols); // column-major: q[i * rows + o]
  let widest = 0; // the most negative integer seen
  for (let o = 0; o < rows; o++) {
    const src = rowOrder ? rowOrder[o] : o;
    for (let g = 0; g < nGroups; g++) {
      const p = (src * nGroups + g) * blockBytes;
      scales[o * nGroups + g] = h[bytes[p] | (bytes[p + 1] << 8)];
      const i0 = g * groupSize;
      if (info.type === 'Q8_0') {
        for (let j = 0; j < 32; j++) {
          const v = (bytes[p + 2 + j] << 24) >> 24;
          if (v < widest) widest = v;
          q[(i0 + j) * rows + o] = v;
        }
      } else {
        for (let j = 0; j < 16; j++) {
          const b = bytes[p + 2 + j];
          const lo = (b & 15) - 8, hi = (b >> 4) - 8;
          if (lo < widest) widest = lo;
          if (hi < widest) widest = hi;
          q[(i0 + j) * rows + o] = lo;
          q[(i0 + j + 16) * rows + o] = hi;
        }
      }
    }
  }
  if (info.type === 'Q8_0' && widest === -128) return null;
  const bits = info.type === 'Q4_0' && widest > -8 ? 4 : 8;
  return { bits, groupSize, rows, cols, nGroups, scales, packed: packColumns(q, rows, cols, bits) };
}
