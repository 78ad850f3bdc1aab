/**
 * `sdllm convert` one layer at a time: the same bytes as preparing and calibrating the whole
 * model in memory; the synthetic-checkpoint tool's sharded BF16 folders convert and generate;
 * self-written calibration text is refused (one clear line) for models too big to hold as float;
 * a converted file loads each tensor into an array of its own (memory-mapped or read); the tensor-by-tensor writer keeps to its layout and leaves no file behind on failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadMethodModel, type MethodLoadOptions } from '../src/sdllm/load.js';
import { convertCheckpoint } from '../src/sdllm/convert.js';
import { readSdllmFile, writeSdllmFile } from '../src/formats/sdllm-file.js';
import { SafetensorsWriter, readSafetensorsHeader } from '../src/formats/safetensors.js';
import { SdllmError } from '../src/errors.js';
import { nativeAvailable } from '../src/kernels/node.js';
import { DATA, MODELS, REPO_ROOT, needsShared, runCli } from './helpers.js';

function tmpdir(): string {
  return fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-convert-'));
}

function assertSameFileAsInMemory(model: string, opts: MethodLoadOptions): void {
  const dir = tmpdir();
  try {
    const inMemory = nodePath.join(dir, 'in-memory.sdllm'), streamed = nodePath.join(dir, 'streamed.sdllm');
    writeSdllmFile(inMemory, loadMethodModel(model, opts).prepared!);
    convertCheckpoint(model, streamed, opts);
    assert.ok(fs.readFileSync(streamed).equals(fs.readFileSync(inMemory)), `${model}: the streamed file differs from the in-memory one`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['in-memory.sdllm', 'streamed.sdllm']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('layer-by-layer convert writes the very bytes of the in-memory conversion (HF, calibration file)', needsShared, () => {
  assertSameFileAsInMemory(nodePath.join(MODELS, 'sdllm-small'), {
    method: 'sdllm',
    calibration: { file: nodePath.join(DATA, 'text', 'wikitext-2-raw-test.txt'), tokens: 600, rows: 64 },
  });
});

test('layer-by-layer convert writes the very bytes of the in-memory conversion (llama2.c, self-written calibration, w4a4)', needsShared, () => {
  const model = nodePath.join(MODELS, 'stories260K');
  assertSameFileAsInMemory(model, { method: 'sdllm', calibration: { tokens: 300, rows: 64 } });
  assertSameFileAsInMemory(model, { method: 'w4a4' });
});

function syntheticTiny(dir: string): string {
  const out = nodePath.join(dir, 'tiny');
  const r = spawnSync(process.execPath, [nodePath.join(REPO_ROOT, 'dist', 'tools', 'make-synthetic-checkpoint.js'), '--out', out, '--shape', 'tiny', '--shard-gb', '0.004'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

test('a synthetic sharded BF16 checkpoint converts and generates from the command line', () => {
  const dir = tmpdir();
  try {
    const ckpt = syntheticTiny(dir);
    const shards = fs.readdirSync(ckpt).filter((f) => f.endsWith('.safetensors'));
    assert.ok(shards.length >= 3, `${shards.length} shards`);
    assert.equal(readSafetensorsHeader(nodePath.join(ckpt, shards[0])).tensors.get('model.embed_tokens.weight')?.dtype, 'BF16');
    const calib = nodePath.join(dir, 'calib.txt');
    fs.writeFileSync(calib, 'Once upon a time there was a little robot who liked to count the stars. '.repeat(20));
    const out = nodePath.join(dir, 'tiny.sdllm');
    const c = runCli(['convert', '--model', ckpt, '--out', out, '--calib-data', calib, '--calib-tokens', '128', '--json']);
    assert.equal(c.code, 0, c.stderr);
    const report = JSON.parse(c.stdout);
    assert.equal(report.calibration.length, 4 * 2);
    // Loading puts each tensor once in the array the model keeps, a buffer of its own: read into
    // it (ends at the buffer's end, starts at 0), or memory-mapped (the tensor's pages only: it
    // starts within the first page and ends at the buffer's end). Never a copy, never a view into
    // a file-sized buffer.
    const p = readSdllmFile(out);
    const arrays = [p.embed_tokens, p.lm_head.weight!, ...p.layers.flatMap((l) => Object.values(l.linears).flatMap((pl) => [pl.qw!.packed, pl.qw!.scales]))];
    for (const a of arrays) {
      assert.equal(a.byteOffset + a.byteLength, a.buffer.byteLength);
      assert.ok(a.byteOffset < 65536, `a view ${a.byteOffset} bytes into its buffer`);
    }
    if (nativeAvailable() && process.env.SDLLM_MMAP !== '0') assert.ok(arrays.some((a) => a.byteOffset > 0), 'memory-mapped (tensors not at page starts)');
    const again = readSdllmFile(out);
    assert.deepEqual(again.layers[1].linears.down_proj.qw!.packed, p.layers[1].linears.down_proj.qw!.packed);
    process.env.SDLLM_MMAP = '0';
    try {
      const read = readSdllmFile(out);
      assert.deepEqual(read.embed_tokens, p.embed_tokens, 'mapped and read tensors are the same');
      assert.deepEqual(read.layers[1].linears.down_proj.qw!.packed, p.layers[1].linears.down_proj.qw!.packed);
      assert.equal(read.embed_tokens.byteOffset, 0);
    } finally {
      delete process.env.SDLLM_MMAP;
    }
    const g = runCli(['generate', '--model', out, '--prompt', 'Once upon a time', '--max-new-tokens', '4']);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /generation: 4 tokens/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a model too big for self-written calibration text asks for --calib-data, and writes nothing', () => {
  const dir = tmpdir();
  try {
    const ckpt = syntheticTiny(dir);
    const out = nodePath.join(dir, 'tiny.sdllm');
    assert.throws(
      () => convertCheckpoint(ckpt, out, { method: 'sdllm', selfCalibrationMaxBytes: 1e6 }),
      (e: unknown) => e instanceof SdllmError && /needs the whole float model in memory .* pass --calib-data FILE, or a fixed --gamma/.test(e.message),
    );
    // A fixed γ needs no calibration text at all.
    convertCheckpoint(ckpt, out, { method: 'sdllm', overrides: { gamma: 0.98 }, selfCalibrationMaxBytes: 1e6 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['tiny', 'tiny.sdllm']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the tensor-by-tensor writer keeps to its layout, fills its header space, and removes its temporary file on abort', () => {
  const dir = tmpdir();
  try {
    const path = nodePath.join(dir, 'x.safetensors');
    const specs = [{ name: 'a', dtype: 'U8' as const, shape: [3] }, { name: 'b', dtype: 'U8' as const, shape: [2] }];
    const w = new SafetensorsWriter(path, specs, 4096);
    assert.throws(() => w.write('b', new Uint8Array(2)), /layout expects a/);
    assert.throws(() => w.write('a', new Uint8Array(2)), /needs 3/);
    w.write('a', new Uint8Array([1, 2, 3]));
    w.write('b', new Uint8Array([4, 5]));
    w.finish({ note: 'late' });
    const h = readSafetensorsHeader(path);
    assert.equal(h.metadata.note, 'late');
    assert.equal(h.tensors.get('a')!.offset, 8 + 4096);
    assert.deepEqual([...fs.readFileSync(path).subarray(8 + 4096)], [1, 2, 3, 4, 5]);

    const small = new SafetensorsWriter(nodePath.join(dir, 'y.safetensors'), specs, 8);
    small.write('a', new Uint8Array(3));
    small.write('b', new Uint8Array(2));
    assert.throws(() => small.finish({}), /reserved/);
    small.abort();
    assert.deepEqual(fs.readdirSync(dir), ['x.safetensors']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
