/**
 * The browser-safe modules the web page runs give exactly what the Node paths give: converted
 * files decoded from bytes, float checkpoints read from bytes, safetensors headers checked the
 * same way, methods derived from a converted model, generation one step at a time, and the fp16
 * dense reference of the energy meter equal to the float engine's own counts. All on the
 * embedded model (no ../shared needed).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { DEFAULT_MODEL } from '../src/paths.js';
import { loadModel, openCheckpoint } from '../src/model/load.js';
import { buildModel } from '../src/model/build.js';
import { readFloatWeights } from '../src/model/weights.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { assembleModel } from '../src/sdllm/prepare.js';
import { deriveMethod } from '../src/sdllm/derive.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { readSdllmFile, writeSdllmFile } from '../src/formats/sdllm-file.js';
import { readSdllmBytes } from '../src/formats/sdllm-file-core.js';
import { readSafetensorsHeader } from '../src/formats/safetensors.js';
import { readSafetensorsBytes, bytesTensorSource } from '../src/formats/safetensors-core.js';
import { generate, generateSteps } from '../src/generate/generate.js';
import { enableOpCounting, opReport } from '../src/energy/count.js';
import { OP_KINDS } from '../src/energy/ops.js';
import { denseTokenOps } from '../src/energy/reference.js';
import { SdllmError } from '../src/errors.js';
import { mulberry32 } from '../src/util/prng.js';

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-browser-engine-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const PROMPT = 'Once upon a time there was a little';
const bitEqual = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A converted file of the embedded model (γ not calibrated: fast) and its bytes. */
const converted = (() => {
  let file: string | null = null;
  return () => {
    if (!file) {
      const { prepared } = loadMethodModel(DEFAULT_MODEL, { method: resolveMethod('sdllm', { calibrate: false, gamma: 0.98 }) });
      file = nodePath.join(ROOT, 'tiny.sdllm');
      writeSdllmFile(file, prepared!);
    }
    return file;
  };
})();

test('a converted file decoded from bytes assembles the model the file reader assembles (bit-identical logits)', () => {
  const file = converted();
  const fromFile = readSdllmFile(file);
  const fromBytes = readSdllmBytes(new Uint8Array(fs.readFileSync(file)), file);
  assert.deepEqual(fromBytes.method, fromFile.method);
  assert.deepEqual(fromBytes.rules, fromFile.rules);
  assert.deepEqual(fromBytes.source, fromFile.source);
  const ids = fromFile.tokenizer.encode(PROMPT);
  assert.deepEqual(fromBytes.tokenizer.encode(PROMPT), ids);
  assert.ok(bitEqual(assembleModel(fromBytes).forward(ids, { allLogits: true }), assembleModel(fromFile).forward(ids, { allLogits: true })));
  // An unaligned copy of the bytes still decodes (float tensors are copied when a view cannot be made).
  const shifted = new Uint8Array(fs.statSync(file).size + 1).subarray(1);
  shifted.set(fs.readFileSync(file));
  assert.ok(bitEqual(assembleModel(readSdllmBytes(shifted, file)).forward(ids), assembleModel(fromFile).forward(ids)));
});

test('the float checkpoint read from bytes builds the model loadModel builds (bit-identical logits)', () => {
  const ck = openCheckpoint(DEFAULT_MODEL);
  const file = nodePath.join(DEFAULT_MODEL, 'model.safetensors');
  const src = bytesTensorSource(new Uint8Array(fs.readFileSync(file)), file);
  assert.equal(src.byteSize, ck.tensors.byteSize);
  const model = buildModel(ck.config, ck.tokenizer, readFloatWeights(src, ck.config));
  const ids = ck.tokenizer.encode(PROMPT);
  assert.ok(bitEqual(model.forward(ids, { allLogits: true }), loadModel().forward(ids, { allLogits: true })));
});

test('fuzz: a safetensors header from bytes gives the file reader\'s header or its exact error', () => {
  const good = fs.readFileSync(converted());
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  const rnd = mulberry32(77);
  const path = nodePath.join(ROOT, 'fuzz.safetensors');
  const outcome = (f: () => unknown) => {
    try {
      const h = f() as ReturnType<typeof readSafetensorsHeader>;
      return { ok: JSON.stringify([[...h.tensors.values()], h.metadata]) };
    } catch (e) {
      if (!(e instanceof SdllmError)) throw e;
      return { error: e.message };
    }
  };
  let errors = 0;
  for (let k = 0; k < 150; k++) {
    // Mutate the header region (or cut the file short), keeping the big data section as is.
    let bytes = Buffer.from(good.subarray(0, Math.min(good.length, headerEnd + 4096)));
    const kind = k % 3;
    if (kind === 0) for (let j = 0; j < 1 + (rnd() % 4); j++) bytes[rnd() % headerEnd] = rnd() & 0xff;
    else if (kind === 1) bytes = bytes.subarray(0, rnd() % bytes.length);
    else bytes.writeBigUInt64LE(BigInt(rnd() % (headerEnd + 64)), 0);
    fs.writeFileSync(path, bytes);
    const a = outcome(() => readSafetensorsHeader(path)), b = outcome(() => readSafetensorsBytes(new Uint8Array(bytes), path));
    assert.deepEqual(b, a);
    if ('error' in a) errors++;
  }
  assert.ok(errors > 50, `${errors} of 150 mutations were refused`);
});

test('methods derived from a converted sdllm model equal converting from float for w4a4 and spike-binary; sdllm-t3 says what it lacks', () => {
  const fromFile = readSdllmFile(converted());
  const ids = fromFile.tokenizer.encode(PROMPT);
  for (const name of ['w4a4', 'spike-binary'] as const) {
    const d = deriveMethod(fromFile, name);
    assert.deepEqual(d.notes, []);
    const direct = loadMethodModel(DEFAULT_MODEL, { method: name }).model;
    assert.ok(bitEqual(assembleModel(d.prepared).forward(ids, { allLogits: true }), direct.forward(ids, { allLogits: true })), `${name} differs`);
  }
  const t3 = deriveMethod(fromFile, 'sdllm-t3');
  assert.equal(t3.prepared.method.activations.kind === 'ternary' && t3.prepared.method.activations.L, 3);
  assert.deepEqual(t3.prepared.method.onlineRotation, ['down_proj']);
  assert.equal(t3.notes.length, 2);
  assert.match(t3.notes[0], /o_proj/);
  assert.match(t3.notes[1], /γ = 0\.98 in every layer, not calibrated/);
  assert.throws(() => deriveMethod(fromFile, 'fp'), /float checkpoint/);
  assert.equal(deriveMethod(fromFile, 'sdllm').prepared, fromFile);
  // A calibrated file's γ carries over to T = 3 with a note; absmax codings drop it.
  const calibrated = { ...fromFile, method: { ...fromFile.method, calibrate: true }, rules: { 'model.layers.0.mlp.down_proj': { kind: 'quantile' as const, gamma: 0.95 } } };
  const c3 = deriveMethod(calibrated, 'sdllm-t3');
  assert.equal(c3.prepared.rules, calibrated.rules);
  assert.match(c3.notes.join(' '), /calibrated for T = 7/);
  assert.deepEqual(deriveMethod(calibrated, 'spike-ternary').prepared.rules, {});
});

test('generateSteps yields the tokens generate() returns, one step at a time', () => {
  const model = loadModel();
  const ids = model.tokenizer.encode(PROMPT);
  const opts = { max_new_tokens: 12, do_sample: true, temperature: 0.8, top_k: 40, seed: 3 };
  const whole = generate(model, ids, opts);
  const steps = generateSteps(model, ids, opts);
  enableOpCounting(model);
  const got: number[] = [];
  const rows: number[] = [];
  for (let r = steps.next(); !r.done; r = steps.next()) {
    got.push(r.value);
    rows.push(opReport(model).tokens); // tokens the model has run when this one is yielded
  }
  assert.deepEqual(got, whole.newTokens);
  // The prompt's step produced the first token; each later token is one more step.
  assert.deepEqual(rows, got.map((_, k) => ids.length + k));
});

test('the fp16 dense reference equals what the float engine counts, for a prompt and for each decoded token', () => {
  const model = loadModel();
  const ids = model.tokenizer.encode(PROMPT);
  const cache = model.newCache(ids.length + 3);
  // The prompt's step: every row runs the layers, only the last is scored (final norm, lm_head).
  enableOpCounting(model);
  model.step(ids, cache);
  const prompt = opReport(model).total;
  const rows = ids.map((_, p) => denseTokenOps(model.config, p, p === ids.length - 1));
  for (const kind of OP_KINDS) assert.equal(rows.reduce((a, r) => a + r[kind], 0), prompt[kind], `${kind} of the prompt's step`);
  for (let k = 0; k < 3; k++) {
    enableOpCounting(model);
    const position = cache.length;
    model.step([ids[k]], cache);
    const counted = opReport(model).total, ref = denseTokenOps(model.config, position);
    for (const kind of OP_KINDS) assert.equal(ref[kind], counted[kind], `${kind} at position ${position}`);
  }
  // A sliding window caps the keys.
  const windowed = { ...model.config, sliding_window: 4 };
  assert.ok(denseTokenOps(windowed, 100).mac_float < denseTokenOps(model.config, 100).mac_float);
  assert.equal(denseTokenOps(windowed, 100).mac_float, denseTokenOps(windowed, 3).mac_float);
});
