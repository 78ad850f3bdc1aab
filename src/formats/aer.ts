/**
 * Address-event representation of the spikes of a run, for hardware people.
 *
 * File layout (little-endian):
 *   "SDLLMAER" (8 bytes), u32 version = 1, u32 number of layers L,
 *   L times: u16 byte length + UTF-8 layer name,
 *   then 12-byte records until the end of the file:
 *     u32 token position (index of the token in the run), u16 layer index, u32 neuron (input
 *     channel), u8 time step (0-based), i8 polarity (+1 / −1).
 * A neuron with count c fires |c| spikes of sign(c) in time steps 0..|c|−1: the integrate-and-
 * fire neuron of spike/neuron.ts emits its spikes first, so counts determine the trains exactly.
 */
import fs from 'node:fs';
import { fail } from '../errors.js';

const MAGIC = 'SDLLMAER';
const RECORD = 12;

export interface SpikeEvent {
  position: number;
  layer: string;
  neuron: number;
  timeStep: number;
  polarity: 1 | -1;
}

export class AerWriter {
  readonly written: { events: number; dropped: number } = { events: 0, dropped: 0 };
  private readonly fd: number;
  private readonly layerIndex = new Map<string, number>();
  private readonly positions = new Map<string, number>();
  private buf = Buffer.alloc(RECORD * 4096);
  private used = 0;

  constructor(path: string, layers: string[], private readonly limit = Infinity) {
    try {
      this.fd = fs.openSync(path, 'w');
    } catch (e) {
      fail(`cannot write events: ${(e as Error).message}`, path);
    }
    const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1')];
    const head = Buffer.alloc(8);
    head.writeUInt32LE(1, 0);
    head.writeUInt32LE(layers.length, 4);
    parts.push(head);
    layers.forEach((name, i) => {
      this.layerIndex.set(name, i);
      const b = Buffer.from(name, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16LE(b.length);
      parts.push(len, b);
    });
    fs.writeSync(this.fd, Buffer.concat(parts));
  }

  /** One token's counts at `layer` (the token's position is the number of tokens this layer saw before). */
  add(layer: string, counts: Int32Array, n: number): void {
    const li = this.layerIndex.get(layer);
    if (li === undefined) return;
    const position = this.positions.get(layer) ?? 0;
    this.positions.set(layer, position + 1);
    for (let i = 0; i < n; i++) {
      const c = counts[i];
      if (c === 0) continue;
      const a = Math.abs(c);
      for (let t = 0; t < a; t++) {
        if (this.written.events >= this.limit) {
          this.written.dropped++;
          continue;
        }
        if (this.used + RECORD > this.buf.length) this.flush();
        const o = this.used;
        this.buf.writeUInt32LE(position, o);
        this.buf.writeUInt16LE(li, o + 4);
        this.buf.writeUInt32LE(i, o + 6);
        this.buf.writeUInt8(t, o + 10);
        this.buf.writeInt8(c > 0 ? 1 : -1, o + 11);
        this.used += RECORD;
        this.written.events++;
      }
    }
  }

  private flush(): void {
    fs.writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

export interface AerFile {
  layers: string[];
  events: SpikeEvent[];
}

export function readAer(path: string): AerFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    fail(`cannot read: ${(e as Error).message}`, path);
  }
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) fail('not an sdllm address-event file (bad magic)', path);
  if (buf.readUInt32LE(8) !== 1) fail(`unsupported version ${buf.readUInt32LE(8)}`, path);
  const nLayers = buf.readUInt32LE(12);
  let o = 16;
  const layers: string[] = [];
  for (let i = 0; i < nLayers; i++) {
    if (o + 2 > buf.length) fail('file ends inside the layer table', path);
    const len = buf.readUInt16LE(o);
    if (o + 2 + len > buf.length) fail('file ends inside the layer table', path);
    layers.push(buf.toString('utf8', o + 2, o + 2 + len));
    o += 2 + len;
  }
  if ((buf.length - o) % RECORD !== 0) fail(`event section of ${buf.length - o} bytes is not a whole number of ${RECORD}-byte records`, path);
  const events: SpikeEvent[] = [];
  for (; o < buf.length; o += RECORD) {
    const li = buf.readUInt16LE(o + 4);
    if (li >= layers.length) fail(`event at byte ${o} names layer ${li} of ${layers.length}`, path);
    events.push({ position: buf.readUInt32LE(o), layer: layers[li], neuron: buf.readUInt32LE(o + 6), timeStep: buf.readUInt8(o + 10), polarity: buf.readInt8(o + 11) as 1 | -1 });
  }
  return { layers, events };
}
