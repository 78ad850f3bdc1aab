/**
 * safetensors without a file system (browser-safe: no node: imports). The format: an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} with optional
 * `__metadata__`, then the raw little-endian tensor bytes. Every claim of the header is checked
 * against the size of what holds it before anything is allocated, so a corrupt or hostile file
 * gives one clear error rather than a crash or a huge allocation.
 *
 * safetensors.ts reads and writes files with node:fs on top of this; the web page parses fetched
 * bytes with readSafetensorsBytes.
 */
import { DTYPE_BYTES, type DType, isDType, toFloat32 } from './dtype.js';
import { fail } from '../errors.js';
import type { TensorSource } from './tensor-source.js';

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** What the header says of a tensor to write: where it goes follows from the order and sizes. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface TensorToWrite extends TensorSpec {
  /** The bytes, or a function that makes them when the writer reaches this tensor (keeps peak memory to one tensor). */
  data: Uint8Array | (() => Uint8Array);
}

/** Byte size of a tensor's data. */
export function tensorByteSize(t: TensorSpec): number {
  return t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
}

/** The header JSON (unpadded) of tensors laid out back to back in the given order. */
export function safetensorsHeaderJson(specs: readonly TensorSpec[], metadata: Record<string, string>): string {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of specs) {
    const size = tensorByteSize(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  return JSON.stringify(header);
}

/** Header space for `json`: its UTF-8 bytes rounded up so the data section starts 8-byte aligned (typed-array views). */
export function alignedHeaderBytes(json: string): number {
  return Math.ceil((new TextEncoder().encode(json).length + 8) / 8) * 8 - 8;
}

/** A header larger than this is not a model header; refusing it bounds what we allocate. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Checks the 8-byte length field of a file of `size` bytes and returns the header's length.
 * `lengthField` is the little-endian u64 as read.
 */
export function checkHeaderLength(lengthField: bigint, size: number, path: string): number {
  // Both checks come before any allocation: the length is a claim of the file, not a fact.
  if (lengthField > BigInt(size - 8))
    fail(`header length ${lengthField} is beyond the end of the file (${size} bytes; truncated or not a safetensors file)`, path);
  if (lengthField > BigInt(MAX_HEADER_BYTES)) fail(`header length ${lengthField} exceeds ${MAX_HEADER_BYTES} bytes`, path);
  const n = Number(lengthField);
  if (n < 2) fail(`header length ${n} is too short for a JSON header`, path);
  return n;
}

/** The header of a whole safetensors file held in memory; `path` names it in messages. */
export function readSafetensorsBytes(bytes: Uint8Array, path: string): SafetensorsHeader {
  const size = bytes.byteLength;
  if (size < 8) fail(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`, path);
  const n = checkHeaderLength(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true), size, path);
  return parseSafetensorsHeader(path, new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(8, 8 + n)), 8 + n, size);
}

/** Validates a header's JSON text: every tensor inside the data section, no overlaps, sizes matching shapes. */
export function parseSafetensorsHeader(path: string, text: string, dataStart: number, fileSize: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail('header is not valid JSON (truncated or not a safetensors file)', path);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header is not a JSON object', path);
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [key, raw] of Object.entries(json as Record<string, unknown>)) {
    const name = shortName(key);
    if (key === '__metadata__') {
      metadata = checkMetadata(path, raw);
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail(`tensor ${name}: entry is not an object`, path);
    if (!isDType(e.dtype)) fail(`tensor ${name}: unknown dtype ${brief(e.dtype)}`, path);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor ${name}: shape ${brief(e.shape)} is not a list of non-negative integers`, path);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1])
      fail(`tensor ${name}: data_offsets ${brief(off)} are not [begin, end] with begin <= end`, path);
    const [begin, end] = off as [number, number];
    if (end > dataSize)
      fail(`tensor ${name}: data_offsets [${begin}, ${end}] are out of range: the data section has ${dataSize} bytes (truncated or corrupt file)`, path);
    const shape = e.shape as number[];
    const expected = shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[e.dtype];
    if (expected !== end - begin)
      fail(`tensor ${name}: shape ${brief(shape)} x ${e.dtype} needs ${expected} bytes but data_offsets span ${end - begin}`, path);
    tensors.set(key, { name: key, dtype: e.dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  // Sorted by start, a tensor overlaps an earlier one iff it starts before the furthest end so far.
  // Empty tensors occupy no bytes and cannot overlap anything.
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  let furthest: TensorInfo | undefined;
  for (const t of sorted) {
    if (furthest && t.offset < furthest.offset + furthest.byteLength) {
      const r = (x: TensorInfo) => `${shortName(x.name)} [${x.offset - dataStart}, ${x.offset - dataStart + x.byteLength}]`;
      fail(`tensors ${r(furthest)} and ${r(t)} have overlapping data_offsets`, path);
    }
    if (!furthest || t.offset + t.byteLength > furthest.offset + furthest.byteLength) furthest = t;
  }
  return { path, tensors, metadata };
}

/** A value of a (possibly hostile) header for a one-line message: JSON, cut short. */
function brief(v: unknown, max = 60): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** A tensor name for a message: as is when printable and short, else quoted and cut. */
function shortName(name: string): string {
  return /^[\x20-\x7e]{1,120}$/.test(name) ? name : brief(name, 120);
}

function checkMetadata(path: string, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object', path);
  for (const [k, v] of Object.entries(raw)) if (typeof v !== 'string') fail(`__metadata__.${shortName(k)} is not a string`, path);
  return raw as Record<string, string>;
}

/** The bytes of one tensor of an in-memory file: a view, no copy. */
export function tensorBytesOf(bytes: Uint8Array, info: TensorInfo): Uint8Array {
  return bytes.subarray(info.offset, info.offset + info.byteLength);
}

/** One float tensor of an in-memory file as float32 (a fresh array). */
export function tensorF32Of(bytes: Uint8Array, info: TensorInfo, path: string): Float32Array {
  if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16' && info.dtype !== 'F64')
    fail(`tensor ${info.name}: dtype ${info.dtype} is not a float type`, path);
  const out = new Float32Array(info.shape.reduce((a, d) => a * d, 1));
  toFloat32(tensorBytesOf(bytes, info), info.dtype, out);
  return out;
}

/** One BF16 tensor of an in-memory file as its raw words (a fresh, aligned array). */
export function tensorBF16Of(bytes: Uint8Array, info: TensorInfo, path: string): Uint16Array {
  if (info.dtype !== 'BF16') fail(`tensor ${info.name}: dtype ${info.dtype} is not BF16`, path);
  const out = new Uint16Array(info.byteLength / 2);
  new Uint8Array(out.buffer).set(tensorBytesOf(bytes, info));
  return out;
}

/** A checkpoint held in memory (one safetensors file) as the tensor source the model builder reads. */
export function bytesTensorSource(bytes: Uint8Array, path: string): TensorSource {
  const h = readSafetensorsBytes(bytes, path);
  const get = (name: string) => h.tensors.get(name) ?? fail(`tensor ${name} is missing from the checkpoint`, path);
  let total = 0;
  for (const info of h.tensors.values()) total += info.byteLength;
  return {
    path,
    has: (n) => h.tensors.has(n),
    shape: (n) => get(n).shape,
    dtype: (n) => get(n).dtype,
    readF32: (n) => tensorF32Of(bytes, get(n), path),
    readBF16: (n) => tensorBF16Of(bytes, get(n), path),
    names: () => [...h.tensors.keys()],
    byteSize: total,
  };
}
