/**
 * safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape,
 * data_offsets}} with optional `__metadata__`, then the raw little-endian tensor bytes.
 * Every claim of the header is checked against the file before anything is allocated,
 * so a corrupt or hostile file gives one clear error rather than a crash or a huge allocation.
 */
import fs from 'node:fs';
import { DTYPE_BYTES, type DType, isDType, toFloat32 } from './dtype.js';
import { fail } from '../errors.js';

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

/** A header larger than this is not a model header; refusing it bounds what we allocate. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    fail(fileProblem(e), path);
  }
  try {
    const st = fs.fstatSync(fd);
    // open() succeeds on a folder on Linux; reading it would then throw EISDIR.
    if (!st.isFile()) fail(st.isDirectory() ? 'is a directory, expected a safetensors file' : 'not a regular file', path);
    const size = st.size;
    if (size < 8) fail(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`, path);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, path, 'the header length');
    const headerLen = lenBuf.readBigUInt64LE(0);
    // Both checks come before the allocation: the length is a claim of the file, not a fact.
    if (headerLen > BigInt(size - 8))
      fail(`header length ${headerLen} is beyond the end of the file (${size} bytes; truncated or not a safetensors file)`, path);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`, path);
    const n = Number(headerLen);
    if (n < 2) fail(`header length ${n} is too short for a JSON header`, path);
    const hbuf = Buffer.alloc(n);
    readFully(fd, hbuf, 8, path, 'the header');
    return parseHeader(path, hbuf.toString('utf8'), 8 + n, size);
  } finally {
    fs.closeSync(fd);
  }
}

function parseHeader(path: string, text: string, dataStart: number, fileSize: number): SafetensorsHeader {
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

/** Reads exactly buf.length bytes at `position`; a short read is a file that changed or ended under us. */
function readFully(fd: number, buf: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    } catch (e) {
      fail(`cannot read ${what}: ${fileProblem(e)}`, path);
    }
    if (n === 0) fail(`file ended while reading ${what}`, path);
    done += n;
  }
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

export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return (e as Error).message;
}

/** Reads raw bytes of one tensor (one read, no intermediate copies). */
export function readTensorBytes(info: TensorInfo, path: string, into?: Uint8Array): Uint8Array {
  const buf = into ?? new Uint8Array(info.byteLength);
  if (buf.byteLength !== info.byteLength) throw new Error(`readTensorBytes: buffer of ${buf.byteLength} bytes for ${info.byteLength}`);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    fail(fileProblem(e), path);
  }
  try {
    readFully(fd, buf, info.offset, path, `the data of tensor ${info.name}`);
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** Reads one float tensor as float32; F32 data is read straight into the result. */
export function readTensorF32(info: TensorInfo, path: string): Float32Array {
  const n = info.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  if (info.dtype === 'F32') {
    readTensorBytes(info, path, new Uint8Array(out.buffer));
    return out;
  }
  if (info.dtype !== 'F16' && info.dtype !== 'BF16' && info.dtype !== 'F64')
    fail(`tensor ${info.name}: dtype ${info.dtype} is not a float type`, path);
  toFloat32(readTensorBytes(info, path), info.dtype, out);
  return out;
}

export interface TensorToWrite {
  name: string;
  dtype: DType;
  shape: number[];
  /** The bytes, or a function that makes them when the writer reaches this tensor (keeps peak memory to one tensor). */
  data: Uint8Array | (() => Uint8Array);
}

/**
 * Writes a safetensors file atomically: to a temporary file beside the target, then renamed,
 * so an interrupted write never leaves a half file under the real name.
 * Tensors are streamed one at a time; `data` may be produced lazily by the caller.
 */
export function writeSafetensors(path: string, list: TensorToWrite[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const sizes = list.map((t) => t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype]);
  list.forEach((t, i) => {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + sizes[i]] };
    offset += sizes[i];
  });
  let json = JSON.stringify(header);
  // Pad the header with spaces to a multiple of 8 so the data section is aligned for typed-array views.
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const hbytes = Buffer.from(json, 'utf8');
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hbytes.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, hbytes);
    list.forEach((t, i) => {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.byteLength !== sizes[i]) throw new Error(`writeSafetensors: ${t.name} has ${data.byteLength} bytes, its shape needs ${sizes[i]}`);
      fs.writeSync(fd, data);
    });
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
