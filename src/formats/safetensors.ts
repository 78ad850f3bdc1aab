/**
 * safetensors files: reading headers and tensors from disk, and writing files atomically.
 * The format itself — the header's layout and every check of its claims — is in
 * safetensors-core.ts, which has no node: imports so the web page parses fetched bytes with it.
 */
import fs from 'node:fs';
import { toFloat32 } from './dtype.js';
import { fail } from '../errors.js';
import { alignedHeaderBytes, checkHeaderLength, parseSafetensorsHeader, safetensorsHeaderJson, tensorByteSize, type SafetensorsHeader, type TensorInfo, type TensorSpec, type TensorToWrite } from './safetensors-core.js';

export { MAX_HEADER_BYTES, readSafetensorsBytes, parseSafetensorsHeader, tensorBytesOf, tensorF32Of, tensorBF16Of, bytesTensorSource } from './safetensors-core.js';
export type { SafetensorsHeader, TensorInfo, TensorSpec, TensorToWrite } from './safetensors-core.js';

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, 'a safetensors file', (fd, size) => {
    if (size < 8) fail(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`, path);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, path, 'the header length');
    const n = checkHeaderLength(lenBuf.readBigUInt64LE(0), size, path);
    const hbuf = Buffer.alloc(n);
    readFully(fd, hbuf, 8, path, 'the header');
    return parseSafetensorsHeader(path, hbuf.toString('utf8'), 8 + n, size);
  });
}

/**
 * Runs `use` on an open descriptor of the regular file at `path` (its size beside it) and closes
 * it; a missing file, a folder or a device is a one-line error naming `kind` (e.g. 'a GGUF file').
 */
export function withFile<T>(path: string, kind: string, use: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    fail(fileProblem(e), path);
  }
  try {
    const st = fs.fstatSync(fd);
    // open() succeeds on a folder on Linux; reading it would then throw EISDIR.
    if (!st.isFile()) fail(st.isDirectory() ? `is a directory, expected ${kind}` : 'not a regular file', path);
    return use(fd, st.size);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads exactly buf.length bytes at `position`; a short read is a file that changed or ended under us. */
export function readFully(fd: number, buf: Uint8Array, position: number, path: string, what: string): void {
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
  withFile(path, 'a safetensors file', (fd) => readFully(fd, buf, info.offset, path, `the data of tensor ${info.name}`));
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

/** Reads one BF16 tensor's raw words (straight into the result). */
export function readTensorBF16(info: TensorInfo, path: string): Uint16Array {
  if (info.dtype !== 'BF16') fail(`tensor ${info.name}: dtype ${info.dtype} is not BF16`, path);
  const out = new Uint16Array(info.byteLength / 2);
  readTensorBytes(info, path, new Uint8Array(out.buffer));
  return out;
}

/**
 * A safetensors file written tensor by tensor in a fixed layout, the header last: `headerBytes`
 * are reserved up front, so metadata known only at the end (calibrated γ) goes into them, padded
 * with spaces (JSON allows trailing whitespace). The file is written beside the target under a
 * temporary name and renamed by finish(), so an interrupted write never leaves a half file under
 * the real name.
 */
export class SafetensorsWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private next = 0;
  private position: number;

  constructor(readonly path: string, private readonly specs: readonly TensorSpec[], readonly headerBytes: number) {
    if (headerBytes % 8 !== 0) throw new Error(`SafetensorsWriter: header space ${headerBytes} is not a multiple of 8`);
    this.tmp = `${path}.tmp-${process.pid}`;
    try {
      this.fd = fs.openSync(this.tmp, 'w');
    } catch (e) {
      fail(`cannot write: ${fileProblem(e)}`, path);
    }
    this.position = 8 + headerBytes;
  }

  /** Writes the next tensor of the layout, which must be `name`. */
  write(name: string, data: Uint8Array): void {
    const spec = this.specs[this.next];
    if (!spec || spec.name !== name) throw new Error(`SafetensorsWriter: got ${name}, the layout expects ${spec?.name ?? 'no more tensors'}`);
    const size = tensorByteSize(spec);
    if (data.byteLength !== size) throw new Error(`SafetensorsWriter: ${name} has ${data.byteLength} bytes, its shape needs ${size}`);
    this.writeAt(data, this.position);
    this.position += size;
    this.next++;
  }

  /** Writes the header with `metadata` into its reserved space and renames the file into place. */
  finish(metadata: Record<string, string>): void {
    if (this.next !== this.specs.length) throw new Error(`SafetensorsWriter: ${this.specs.length - this.next} tensors were not written`);
    const json = safetensorsHeaderJson(this.specs, metadata);
    const needed = alignedHeaderBytes(json);
    if (needed > this.headerBytes) throw new Error(`SafetensorsWriter: the header needs ${needed} bytes, ${this.headerBytes} were reserved`);
    const head = Buffer.alloc(8 + this.headerBytes, ' ');
    head.writeBigUInt64LE(BigInt(this.headerBytes));
    head.write(json, 8, 'utf8');
    this.writeAt(head, 0);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.path);
  }

  /** Removes the temporary file (after a failure). */
  abort(): void {
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
    fs.rmSync(this.tmp, { force: true });
  }

  private writeAt(data: Uint8Array, position: number): void {
    for (let done = 0; done < data.byteLength; ) done += fs.writeSync(this.fd, data, done, data.byteLength - done, position + done);
  }
}

/**
 * Writes a safetensors file atomically (see SafetensorsWriter). Tensors are streamed one at a
 * time; `data` may be produced lazily by the caller. `headerBytes`: header space to reserve at
 * least (the header's own size, aligned, when larger).
 */
export function writeSafetensors(path: string, list: TensorToWrite[], metadata: Record<string, string> = {}, headerBytes = 0): void {
  const w = new SafetensorsWriter(path, list, Math.max(headerBytes, alignedHeaderBytes(safetensorsHeaderJson(list, metadata))));
  try {
    for (const t of list) w.write(t.name, typeof t.data === 'function' ? t.data() : t.data);
    w.finish(metadata);
  } catch (e) {
    w.abort();
    throw e;
  }
}
