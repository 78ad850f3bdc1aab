/**
 * safetensors files: reading headers and tensors from disk, and writing files atomically.
 * The format itself — the header's layout and every check of its claims — is in
 * safetensors-core.ts, which has no node: imports so the web page parses fetched bytes with it.
 */
import fs from 'node:fs';
import { DTYPE_BYTES, toFloat32 } from './dtype.js';
import { fail } from '../errors.js';
import { checkHeaderLength, parseSafetensorsHeader, type SafetensorsHeader, type TensorInfo, type TensorToWrite } from './safetensors-core.js';

export { MAX_HEADER_BYTES, readSafetensorsBytes, parseSafetensorsHeader, tensorBytesOf, tensorF32Of, bytesTensorSource } from './safetensors-core.js';
export type { SafetensorsHeader, TensorInfo, TensorToWrite } from './safetensors-core.js';

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
    const n = checkHeaderLength(lenBuf.readBigUInt64LE(0), size, path);
    const hbuf = Buffer.alloc(n);
    readFully(fd, hbuf, 8, path, 'the header');
    return parseSafetensorsHeader(path, hbuf.toString('utf8'), 8 + n, size);
  } finally {
    fs.closeSync(fd);
  }
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
