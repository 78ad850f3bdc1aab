/**
 * safetensors reader and writer: exact round trips of F32/F16/BF16 (and raw integer bytes), and a
 * seeded fuzz of readSafetensorsHeader. Whatever the mutation, the reader must either return a
 * header whose every tensor lies inside the file (without overlapping another), or throw an
 * SdllmError; never another exception type, never a hang.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { readSafetensorsHeader, readTensorBytes, readTensorF32, writeSafetensors, type SafetensorsHeader, type TensorToWrite } from '../src/formats/safetensors.js';
import { DTYPE_BYTES, float32ToF16Bits, toFloat32 } from '../src/formats/dtype.js';
import { SdllmError } from '../src/errors.js';
import { mulberry32 } from '../src/util/prng.js';
import { MODELS, needsShared } from './helpers.js';

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-safetensors-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function u16(values: number[]): Uint8Array {
  return bytesOf(Uint16Array.from(values));
}

/** Random float32 values spread over many magnitudes, signs, zeros and infinities (no NaN: compared by value). */
function randomFloats(n: number, rnd: () => number): Float32Array {
  const out = new Float32Array(n);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    u[i] = rnd();
    if (Number.isNaN(out[i])) out[i] = i % 2 ? Infinity : -0;
  }
  return out;
}

test('round trip: F32, F16 and BF16 tensors read back exactly as float32', () => {
  const rnd = mulberry32(1234);
  const path = nodePath.join(ROOT, 'roundtrip.safetensors');

  const f32 = randomFloats(301, rnd);
  // Every non-NaN half value appears once: 0x0000..0x7bff and 0x8000..0xfbff, plus the infinities.
  const halfBits: number[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) halfBits.push(h);
  // bf16 is the top half of a float32: random top halves, NaNs excluded.
  const bfBits: number[] = [];
  while (bfBits.length < 1000) {
    const b = rnd() >>> 16;
    if ((b & 0x7f80) !== 0x7f80 || (b & 0x7f) === 0) bfBits.push(b);
  }
  const i64 = BigInt64Array.from([0n, -1n, 2n ** 62n, -(2n ** 63n)]);
  const u8 = Uint8Array.from({ length: 13 }, (_, i) => (i * 37) & 0xff);

  const list: TensorToWrite[] = [
    { name: 'f32', dtype: 'F32', shape: [7, 43], data: bytesOf(f32) },
    { name: 'f16', dtype: 'F16', shape: [halfBits.length], data: () => u16(halfBits) },
    { name: 'bf16', dtype: 'BF16', shape: [10, 10, 10], data: u16(bfBits) },
    { name: 'empty', dtype: 'F32', shape: [0, 5], data: new Uint8Array(0) },
    { name: 'scalar', dtype: 'F16', shape: [], data: u16([float32ToF16Bits(-2.5)]) },
    { name: 'i64', dtype: 'I64', shape: [4], data: bytesOf(i64) },
    { name: 'u8', dtype: 'U8', shape: [13], data: u8 },
  ];
  writeSafetensors(path, list, { format: 'pt', note: 'ünïcödé' });
  assert.deepEqual(fs.readdirSync(ROOT).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');

  const h = readSafetensorsHeader(path);
  assert.deepEqual(h.metadata, { format: 'pt', note: 'ünïcödé' });
  assert.deepEqual([...h.tensors.keys()], list.map((t) => t.name));
  for (const t of list) {
    const info = h.tensors.get(t.name)!;
    assert.equal(info.dtype, t.dtype);
    assert.deepEqual(info.shape, t.shape);
    assert.equal(info.byteLength, t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype]);
  }
  // The writer pads the header so the data section is 8-byte aligned.
  assert.equal(h.tensors.get('f32')!.offset % 8, 0);

  assert.deepEqual(readTensorF32(h.tensors.get('f32')!, path), f32);

  const f16 = readTensorF32(h.tensors.get('f16')!, path);
  const expect16 = new Float32Array(halfBits.length);
  toFloat32(u16(halfBits), 'F16', expect16);
  assert.deepEqual(f16, expect16);
  // ...and back to the very same bits (every half value is exact in float32).
  for (let i = 0; i < halfBits.length; i++) {
    if (float32ToF16Bits(f16[i]) !== halfBits[i]) assert.fail(`half 0x${halfBits[i].toString(16)} -> ${f16[i]} -> 0x${float32ToF16Bits(f16[i]).toString(16)}`);
  }

  const bf16 = readTensorF32(h.tensors.get('bf16')!, path);
  const bfU32 = new Uint32Array(bf16.buffer);
  for (let i = 0; i < bfBits.length; i++) assert.equal(bfU32[i], bfBits[i] << 16 >>> 0, `bf16 #${i}`);

  assert.deepEqual(readTensorF32(h.tensors.get('empty')!, path), new Float32Array(0));
  assert.deepEqual(readTensorF32(h.tensors.get('scalar')!, path), Float32Array.of(-2.5));
  assert.deepEqual(new BigInt64Array(readTensorBytes(h.tensors.get('i64')!, path).slice().buffer), i64);
  assert.deepEqual(readTensorBytes(h.tensors.get('u8')!, path), u8);
  assert.throws(() => readTensorF32(h.tensors.get('u8')!, path), SdllmError, 'U8 is not a float type');
});

test('float32ToF16Bits rounds to nearest even, saturates to infinity and keeps NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [1 / 3, 0x3555], [65504, 0x7bff],
    [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -26, 0x0001], [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -10, 0x3c01],
  ];
  for (const [x, bits] of cases) assert.equal(float32ToF16Bits(x), bits, `${x}`);
  assert.equal(float32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float32ToF16Bits(NaN) & 0x3ff, 0);
});

test('writeSafetensors refuses data whose length disagrees with the shape, leaving nothing behind', () => {
  const path = nodePath.join(ROOT, 'bad-write.safetensors');
  assert.throws(() => writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [3], data: new Uint8Array(8) }]), /w has 8 bytes, its shape needs 12/);
  assert.equal(fs.existsSync(path), false);
  assert.deepEqual(fs.readdirSync(ROOT).filter((f) => f.startsWith('bad-write')), []);
});

/** Checks what a successful read promises: every tensor inside the data section, sized by its shape, no overlaps. */
function assertSound(h: SafetensorsHeader, file: Uint8Array, path: string): void {
  const headerLen = Number(Buffer.from(file.subarray(0, 8)).readBigUInt64LE(0));
  const dataStart = 8 + headerLen;
  const spans: [number, number][] = [];
  for (const t of h.tensors.values()) {
    assert.ok(t.offset >= dataStart, `${t.name} starts in the data section`);
    assert.ok(t.offset + t.byteLength <= file.length, `${t.name} ends inside the file`);
    assert.equal(t.byteLength, t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype], `${t.name} byte length`);
    if (t.byteLength > 0) spans.push([t.offset, t.offset + t.byteLength]);
    // Reading it must work and give exactly the bytes in place.
    assert.deepEqual(readTensorBytes(t, path), file.subarray(t.offset, t.offset + t.byteLength));
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], 'no overlap');
}

test('fuzz: mutated headers give a sound header or an SdllmError, nothing else', { timeout: 120_000 }, () => {
  const base = nodePath.join(ROOT, 'fuzz-base.safetensors');
  const rnd0 = mulberry32(7);
  writeSafetensors(
    base,
    [
      { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [16, 8], data: bytesOf(randomFloats(128, rnd0)) },
      { name: 'model.norm.weight', dtype: 'BF16', shape: [8], data: u16(Array.from({ length: 8 }, (_, i) => i)) },
      { name: 'lm_head.weight', dtype: 'F16', shape: [4, 8], data: u16(Array.from({ length: 32 }, (_, i) => 0x3c00 + i)) },
      { name: 'ids', dtype: 'I32', shape: [3], data: bytesOf(Int32Array.of(1, 2, 3)) },
    ],
    { format: 'pt' },
  );
  const original = new Uint8Array(fs.readFileSync(base));
  const headerEnd = 8 + Number(Buffer.from(original.subarray(0, 8)).readBigUInt64LE(0));
  const digits: number[] = [];
  const letters: number[] = [];
  for (let i = 8; i < headerEnd; i++) {
    if (original[i] >= 0x30 && original[i] <= 0x39) digits.push(i);
    if (original[i] >= 0x61 && original[i] <= 0x7a) letters.push(i);
  }
  const structural = Buffer.from('{}[]",:0123456789-.eE ');

  const rnd = mulberry32(20240611);
  const below = (n: number) => Math.floor((rnd() / 2 ** 32) * n);
  const path = nodePath.join(ROOT, 'fuzz.safetensors');
  const tally = { ok: 0, sdllm: 0 };
  const kinds = ['flip', 'digit', 'structural', 'truncate', 'length', 'length-near', 'combo', 'name', 'data-or-tail'] as const;
  const N = 630;
  for (let iter = 0; iter < N; iter++) {
    const kind = kinds[iter % kinds.length];
    let file = original.slice();
    const mutateHeader = (m: (i: number) => void, count: number) => {
      for (let k = 0; k < count; k++) m(8 + below(headerEnd - 8));
    };
    switch (kind) {
      case 'flip': // random bytes anywhere in the header
        mutateHeader((i) => (file[i] = below(256)), 1 + below(4));
        break;
      case 'digit': // a digit of a shape or offset changed: the JSON usually stays valid
        for (let k = 0, n = 1 + below(2); k < n; k++) file[digits[below(digits.length)]] = 0x30 + below(10);
        break;
      case 'structural': // JSON punctuation dropped in
        mutateHeader((i) => (file[i] = structural[below(structural.length)]), 1 + below(3));
        break;
      case 'truncate':
        file = file.slice(0, below(file.length));
        break;
      case 'length': { // a random header length: any 64-bit value
        const dv = new DataView(file.buffer);
        dv.setUint32(0, rnd(), true);
        dv.setUint32(4, below(3) === 0 ? 0 : rnd(), true);
        break;
      }
      case 'length-near': // the header length off by a little
        new DataView(file.buffer).setBigUint64(0, BigInt(Math.max(0, headerEnd - 8 + below(33) - 16)), true);
        break;
      case 'name': // a letter of a name, key or dtype changed: a renamed tensor, an unknown key or dtype
        file[letters[below(letters.length)]] = 0x61 + below(26);
        break;
      case 'data-or-tail': // bytes of the data section changed, or junk appended: still a sound file
        if (below(2)) for (let k = 0; k < 8; k++) file[headerEnd + below(file.length - headerEnd)] = below(256);
        else file = Uint8Array.from([...file, ...Array.from({ length: 1 + below(40) }, () => below(256))]);
        break;
      case 'combo':
        for (let k = 0, n = 1 + below(2); k < n; k++) file[digits[below(digits.length)]] = 0x30 + below(10);
        file = file.slice(0, file.length - below(64));
        break;
    }
    fs.writeFileSync(path, file);
    let h: SafetensorsHeader;
    try {
      h = readSafetensorsHeader(path);
    } catch (e) {
      if (!(e instanceof SdllmError)) assert.fail(`iteration ${iter} (${kind}): ${(e as Error)?.stack ?? String(e)}`);
      assert.ok(e.message.startsWith(`${path}: `), `message names the file: ${e.message}`);
      assert.ok(!e.message.includes('\n'), `one line: ${JSON.stringify(e.message)}`);
      tally.sdllm++;
      continue;
    }
    assertSound(h, file, path);
    tally.ok++;
  }
  if (process.env.FUZZ_VERBOSE) console.log(tally);
  // Both outcomes must occur, or the fuzz tests nothing.
  assert.ok(tally.ok > 80 && tally.sdllm > 300, JSON.stringify(tally));
});

test('the real sdllm-tiny and sdllm-small headers are sound', needsShared, () => {
  const files = [
    nodePath.join(MODELS, 'sdllm-tiny', 'model.safetensors'),
    ...fs.readdirSync(nodePath.join(MODELS, 'sdllm-small')).filter((f) => f.endsWith('.safetensors')).map((f) => nodePath.join(MODELS, 'sdllm-small', f)),
  ];
  for (const f of files) {
    const h = readSafetensorsHeader(f);
    assert.ok(h.tensors.size > 0, f);
    const size = fs.statSync(f).size;
    for (const t of h.tensors.values()) assert.ok(t.offset + t.byteLength <= size);
  }
});
