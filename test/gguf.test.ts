/**
 * GGUF: metadata and tensor round trips through the test writer (every value type, every tensor
 * type, alignments, version 2), the reader's block decoding against an independent reference
 * decoder, Q8_0/Q4_0 → QuantizedWeights without float, the q/k un-permutation, config and
 * tokenizers from metadata, and the real models written as GGUF:
 *   (a) sdllm-tiny as F32 (q/k permuted as llama.cpp's converter does, gpt2 tokenizer from its
 *       tokenizer.json): identical token ids and bit-identical logits to the Hugging Face folder;
 *   (b) sdllm-tiny as Q8_0 / Q4_0 / Q4_1: logits bit-identical to the float model built from the
 *       dequantised weights;
 *   (c) stories260K as a llama/SPM GGUF: the llama2.c tokenizer's ids, and logits equal up to
 *       float32 summation order (see the test).
 * Plus bad input through the CLI: one line, exit code 2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { readGgufFile, readGgufTensorF32, readGgufTensorBytes, ggufQuantized, type GgufValue, type GgmlType } from '../src/formats/gguf.js';
import { openGguf, llamaQkRowOrder } from '../src/formats/gguf-model.js';
import { shortestF32 } from '../src/formats/gguf-meta.js';
import { openCheckpoint, loadModel } from '../src/model/load.js';
import { readFloatWeights } from '../src/model/weights.js';
import { buildModel } from '../src/model/build.js';
import type { TensorSource } from '../src/formats/tensor-source.js';
import { Llama2cTokenizer } from '../src/formats/llama2c-tokenizer.js';
import { dequantize } from '../src/quant/weights.js';
import { generate } from '../src/generate/generate.js';
import { SdllmError } from '../src/errors.js';
import { loadMethodModel } from '../src/sdllm/load.js';
import { writeSdllmFile } from '../src/formats/sdllm-file.js';
import {
  BLOCK_TENSORS, bool, f32s, ggufBytes, i32s, llamaMeta, miniModel, permuteQK, referenceDecode, roundTrip, str, strings, u32, writeGguf,
  encodeTensor, type MetaEntry, type TensorToWrite,
} from './gguf-writer.js';
import { MODELS, maxAbs, maxAbsDiff, needsShared, readGolden, runCli, topK } from './helpers.js';

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-gguf-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const TINY = nodePath.join(MODELS, 'sdllm-tiny');
const STORIES = nodePath.join(MODELS, 'stories260K');

let fileCount = 0;
const tmp = (name = 'm') => nodePath.join(ROOT, `${name}-${fileCount++}.gguf`);

/** Bit patterns, so -0 and NaN payloads count. */
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
function assertSameFloats(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const g = bitsOf(got), w = bitsOf(want);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
}

test('metadata of every value type round-trips, nested arrays included', () => {
  const meta: MetaEntry[] = [
    ['t.u8', { type: 'u8', value: 255 }],
    ['t.i8', { type: 'i8', value: -128 }],
    ['t.u16', { type: 'u16', value: 65535 }],
    ['t.i16', { type: 'i16', value: -32768 }],
    ['t.u32', { type: 'u32', value: 4294967295 }],
    ['t.i32', { type: 'i32', value: -2147483648 }],
    ['t.f32', { type: 'f32', value: Math.fround(0.1) }],
    ['t.bool', bool(true)],
    ['t.string', str('ünïcödé ▁ 日本 🙂')],
    ['t.empty', str('')],
    ['t.u64', { type: 'u64', value: 2n ** 64n - 1n }],
    ['t.i64', { type: 'i64', value: -(2n ** 63n) }],
    ['t.f64', { type: 'f64', value: Math.PI }],
    ['t.arr.u8', { type: 'array', value: { itemType: 'u8', values: Uint8Array.of(0, 1, 255) } }],
    ['t.arr.i16', { type: 'array', value: { itemType: 'i16', values: Int16Array.of(-1, 2) } }],
    ['t.arr.u64', { type: 'array', value: { itemType: 'u64', values: BigUint64Array.of(1n, 2n ** 63n) } }],
    ['t.arr.f64', { type: 'array', value: { itemType: 'f64', values: Float64Array.of(1.5, -0) } }],
    ['t.arr.bool', { type: 'array', value: { itemType: 'bool', values: [true, false, true] } }],
    ['t.arr.str', strings(['a', '', 'ü'])],
    ['t.arr.empty', { type: 'array', value: { itemType: 'f32', values: new Float32Array(0) } }],
    ['t.arr.nested', { type: 'array', value: { itemType: 'array', values: [{ itemType: 'i32', values: Int32Array.of(1, 2) }, { itemType: 'string', values: ['x'] }] } }],
  ];
  for (const version of [2, 3]) {
    const path = tmp('meta');
    writeGguf(path, meta, [], { version });
    const f = readGgufFile(path);
    assert.equal(f.version, version);
    assert.equal(f.tensors.size, 0);
    assert.deepEqual([...f.metadata.keys()], meta.map(([k]) => k));
    for (const [k, v] of meta) assert.deepEqual(f.metadata.get(k), v, k);
  }
});

test('every tensor type decodes as the reference decoder does; alignments 1, 32, 64; offsets and shapes', () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
  const values = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 29 === 0 ? 0 : rnd() * (i % 7 === 0 ? 100 : 1)));
  const list: TensorToWrite[] = [
    { name: 'f32', type: 'F32', shape: [3, 5], values: values(15) },
    { name: 'f16', type: 'F16', shape: [7], values: values(7) },
    { name: 'bf16', type: 'BF16', shape: [2, 3, 4], values: values(24) },
    { name: 'q8', type: 'Q8_0', shape: [3, 64], values: values(192) },
    { name: 'q4', type: 'Q4_0', shape: [2, 96], values: values(192) },
    { name: 'q4s', type: 'Q4_0', shape: [2, 32], values: values(64), q4_0: 'symmetric' },
    { name: 'q41', type: 'Q4_1', shape: [2, 2, 32], values: values(128) },
    { name: 'zeros', type: 'Q8_0', shape: [1, 32], values: new Float32Array(32) },
  ];
  for (const alignment of [1, 32, 64]) {
    const path = tmp('types');
    writeGguf(path, [['general.architecture', str('llama')]], list, { alignment });
    const f = readGgufFile(path);
    assert.equal(f.alignment, alignment);
    assert.equal(f.dataOffset % alignment, 0);
    for (const t of list) {
      const info = f.tensors.get(t.name)!;
      assert.equal(info.type, t.type);
      assert.deepEqual(info.shape, t.shape);
      assert.deepEqual(info.ne, [...t.shape].reverse());
      assert.equal((info.offset - f.dataOffset) % alignment, 0);
      const bytes = encodeTensor(t);
      assert.deepEqual(readGgufTensorBytes(f, info), bytes, `${t.name} bytes`);
      assertSameFloats(readGgufTensorF32(f, info), referenceDecode(t.type, bytes, t.values.length), t.name);
    }
  }
  // The block quantizers are close to their input (a check of the test writer itself).
  const q8 = list[3];
  assert.ok(maxAbsDiff(roundTrip(q8), q8.values) <= maxAbs(q8.values) / 127);
});

test('Q8_0 and Q4_0 map onto QuantizedWeights exactly; Q4_1, floats and Q8_0 with -128 do not', () => {
  const n = 4 * 64;
  let s = 7;
  const values = Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 48271) + 1) >>> 0) / 2 ** 32 - 0.5));
  // A Q8_0 block holding -128, written as raw bytes: scale 1.0 (0x3c00), then -128, 1, 2, ...
  const raw = new Uint8Array(34);
  raw[0] = 0x00; raw[1] = 0x3c; raw[2] = 0x80;
  for (let j = 1; j < 32; j++) raw[2 + j] = j;
  const list: TensorToWrite[] = [
    { name: 'q8', type: 'Q8_0', shape: [4, 64], values },
    { name: 'q4', type: 'Q4_0', shape: [4, 64], values },
    { name: 'q4s', type: 'Q4_0', shape: [4, 64], values, q4_0: 'symmetric' },
    { name: 'q41', type: 'Q4_1', shape: [4, 64], values },
    { name: 'f32', type: 'F32', shape: [4, 64], values },
    { name: 'q8min', type: 'Q8_0', shape: [1, 32], values: new Float32Array(32), raw },
  ];
  const path = tmp('quant');
  writeGguf(path, [], list);
  const f = readGgufFile(path);
  const expectBits: Record<string, number | null> = { q8: 8, q4: 8, q4s: 4, q41: null, f32: null, q8min: null };
  for (const t of list) {
    const info = f.tensors.get(t.name)!;
    const qw = ggufQuantized(f, info);
    assert.equal(qw === null ? null : qw.bits, expectBits[t.name], t.name);
    if (!qw) continue;
    assert.equal(qw.groupSize, 32);
    assert.equal(qw.rows, 4);
    assert.equal(qw.cols, 64);
    assertSameFloats(dequantize(qw), readGgufTensorF32(f, info), `${t.name}: dequantize(ggufQuantized) vs float decoding`);
    // With a row order, rows move with their scales.
    const order = [2, 0, 3, 1];
    const moved = dequantize(ggufQuantized(f, info, order)!);
    const flat = readGgufTensorF32(f, info);
    for (let o = 0; o < 4; o++) assertSameFloats(moved.subarray(o * 64, o * 64 + 64), flat.subarray(order[o] * 64, order[o] * 64 + 64), `${t.name} row ${o}`);
  }
  // The -128 block still decodes as floats.
  assert.equal(readGgufTensorF32(f, f.tensors.get('q8min')!)[0], -128);
});

/** A tensor source with the same names and shapes whose values come from `values`. */
function withValues(src: TensorSource, values: (name: string) => Float32Array): TensorSource {
  return { ...src, dtype: () => 'F32', readF32: values };
}

test('the converter q/k permutation is undone: row order, tensors and quantized weights in Hugging Face order', () => {
  // llamaQkRowOrder inverts the numpy permutation of the test writer for every head layout.
  for (const [rows, nHead] of [[16, 2], [64, 4], [8, 1], [32, 8]]) {
    const W = Float32Array.from({ length: rows * 3 }, (_, i) => i);
    const P = permuteQK(W, rows, nHead);
    const order = llamaQkRowOrder(rows, rows / nHead);
    for (let r = 0; r < rows; r++) assertSameFloats(P.subarray(order[r] * 3, order[r] * 3 + 3), W.subarray(r * 3, r * 3 + 3), `rows ${rows}/${nHead} row ${r}`);
  }
  for (const tokenizer of ['llama', 'gpt2'] as const) {
    const m = miniModel({ tokenizer, seed: 3 });
    const path = tmp('mini');
    writeGguf(path, m.metadata, m.tensors);
    const ck = openGguf(path);
    assert.equal(ck.config.rope_layout, 'half');
    for (const [name, want] of m.expected) {
      const hfName = ck.tensors.names().find((n) => ck.tensors.ggufName(n) === name)!;
      assertSameFloats(ck.tensors.readF32(hfName), want, `${tokenizer}: ${name} as ${hfName}`);
      const qw = ck.tensors.quantized(hfName);
      const type = m.tensors.find((t) => t.name === name)!.type;
      assert.equal(qw !== null, type === 'Q8_0' || type === 'Q4_0', `${name}: quantized iff Q8_0/Q4_0`);
      if (qw) assertSameFloats(dequantize(qw), want, `${name}: quantized`);
    }
    // The un-permuted q/k really are the model's: a GGUF loads to the same logits as the same
    // tensors given straight in Hugging Face order.
    const model = loadModel(path);
    const ref = buildModel(ck.config, ck.tokenizer, readFloatWeights(withValues(ck.tensors, (n) => m.expected.get(ck.tensors.ggufName(n))!), ck.config));
    const ids = ck.tokenizer.encode('hello the abc');
    assertSameFloats(model.forward(ids, { allLogits: true }), ref.forward(ids, { allLogits: true }), `${tokenizer}: logits`);
  }
});

test('qwen2 GGUFs are read without un-permuting, with q/k/v biases', () => {
  const m = miniModel({ tokenizer: 'gpt2', arch: 'qwen2', seed: 9 });
  const path = tmp('qwen');
  writeGguf(path, m.metadata, m.tensors);
  const ck = openGguf(path);
  assert.equal(ck.config.architecture, 'Qwen2ForCausalLM');
  assert.equal(ck.config.attention_bias, true);
  for (const [name, want] of m.expected) {
    const hfName = ck.tensors.names().find((n) => ck.tensors.ggufName(n) === name)!;
    assertSameFloats(ck.tensors.readF32(hfName), want, name);
  }
  const model = loadModel(path);
  assert.equal(model.forward(ck.tokenizer.encode('the world')).length, ck.config.vocab_size);
});

test('config from metadata: f32 values read as their decimals, defaults, and clear errors', () => {
  assert.equal(shortestF32(Math.fround(1e-5)), 1e-5);
  assert.equal(shortestF32(Math.fround(1e-6)), 1e-6);
  assert.equal(shortestF32(Math.fround(500000)), 500000);
  assert.equal(shortestF32(Math.fround(0.1)), 0.1);
  const base = miniModel({ tokenizer: 'llama' });
  const withMeta = (edit: (m: MetaEntry[]) => MetaEntry[], tensors = base.tensors) => {
    const path = tmp('cfg');
    writeGguf(path, edit([...base.metadata]), tensors);
    return path;
  };
  const drop = (key: string) => (m: MetaEntry[]) => m.filter(([k]) => k !== key);
  const set = (key: string, v: GgufValue) => (m: MetaEntry[]) => [...m.filter(([k]) => k !== key), [key, v] as MetaEntry];
  const expectError = (path: string, re: RegExp) => assert.throws(() => openGguf(path), (e: unknown) => e instanceof SdllmError && re.test(e.message) && e.message.startsWith(path));

  const ck = openGguf(withMeta(drop('llama.attention.head_count_kv')));
  assert.equal(ck.config.num_key_value_heads, 4, 'head_count_kv defaults to head_count');
  expectError(withMeta(drop('llama.embedding_length')), /metadata llama\.embedding_length is missing/);
  expectError(withMeta(set('general.architecture', str('gpt2'))), /unsupported architecture gpt2 \(supported: llama, mistral, qwen2\)/);
  // Names of Object.prototype members are names like any other.
  expectError(withMeta(set('general.architecture', str('constructor'))), /unsupported architecture constructor/);
  expectError(withMeta(set('general.architecture', str('__proto__'))), /unsupported architecture __proto__/);
  expectError(withMeta(set('llama.block_count', str('four'))), /metadata llama\.block_count must be a positive integer, got the string four/);
  expectError(withMeta(set('llama.attention.head_count_kv', u32(3))), /head_count 4 is not a multiple of llama\.attention\.head_count_kv 3/);
  expectError(withMeta(set('llama.rope.dimension_count', u32(8))), /partial RoPE is not supported/);
  expectError(withMeta(set('llama.rope.scaling.type', str('yarn'))), /RoPE scaling yarn is not supported/);
  const linear = openGguf(withMeta((m) => [...m, ['llama.rope.scaling.type', str('linear')], ['llama.rope.scaling.factor', { type: 'f32', value: 4 }]]));
  assert.deepEqual(linear.config.rope_scaling, { rope_type: 'linear', factor: 4 });
  expectError(withMeta(drop('tokenizer.ggml.tokens')), /tokenizer\.ggml\.tokens is missing/);
  expectError(withMeta(set('tokenizer.ggml.model', str('rwkv'))), /tokenizer\.ggml\.model rwkv is not supported \(supported: llama, gpt2\)/);
  expectError(withMeta(set('tokenizer.ggml.bos_token_id', u32(999))), /tokenizer\.ggml\.bos_token_id = 999 is not a token id/);
  expectError(withMeta(set('tokenizer.ggml.scores', f32s([1, 2]))), /tokenizer\.ggml\.scores has 2 elements, expected 29/);
  expectError(withMeta(set('general.alignment', { type: 'u64', value: 32n })), /general\.alignment must be a u32/);
  expectError(withMeta(set('general.alignment', u32(48))), /general\.alignment 48 is not a power of two/);
  // A missing tensor and a tensor of the wrong shape are reported by the weight reader, with HF names.
  const noNorm = withMeta((m) => m, base.tensors.filter((t) => t.name !== 'output_norm.weight'));
  assert.throws(() => loadModel(noNorm), /tensor model\.norm\.weight is missing from the checkpoint/);
});

test('GGUF tokenizers: SPM with byte fallback and options, byte-level BPE with specials and add_bos', () => {
  const spmModel = miniModel({ tokenizer: 'llama' });
  const spmPath = tmp('spm');
  writeGguf(spmPath, spmModel.metadata, spmModel.tensors);
  const spm = openGguf(spmPath).tokenizer;
  assert.equal(spm.kind, 'llama2c');
  assert.equal(spm.vocabSize, 29);
  const tokens = (spmModel.metadata.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as { values: string[] }).values;
  const id = (piece: string) => tokens.indexOf(piece);
  // Dummy prefix, '▁' pieces as spaces, merges by score, é and 日 through their byte pieces; ž has none: <unk>.
  assert.deepEqual(spm.encode('hello é'), [1, id('\u2581'), id('hello'), id('\u2581'), id('<0xC3>'), id('<0xA9>')]);
  assert.equal(spm.decode(spm.encode('hello é'), { skip_special_tokens: true }), 'hello é');
  assert.deepEqual(spm.encode('日', { add_special_tokens: false }), [id('\u2581'), id('<0xE6>'), id('<0x97>'), id('<0xA5>')]);
  assert.deepEqual(spm.encode('ž', { add_special_tokens: false }), [id('\u2581'), 0, 0]);
  assert.deepEqual(spm.encode(' the'), [1, id('\u2581'), id('\u2581the')]);
  // Options from metadata: no BOS, EOS added, no dummy prefix.
  const opts = tmp('spm-opts');
  writeGguf(opts, [...spmModel.metadata.filter(([k]) => k !== 'tokenizer.ggml.add_bos_token'),
    ['tokenizer.ggml.add_bos_token', bool(false)], ['tokenizer.ggml.add_eos_token', bool(true)], ['tokenizer.ggml.add_space_prefix', bool(false)]], spmModel.tensors);
  const spm2 = openGguf(opts).tokenizer;
  assert.deepEqual(spm2.encode('hello'), [id('hello'), 2]);
  assert.equal(spm2.decode(spm2.encode('ab c'), { skip_special_tokens: true }), 'ab c');

  const bpeModel = miniModel({ tokenizer: 'gpt2' });
  const bpePath = tmp('bpe');
  writeGguf(bpePath, bpeModel.metadata, bpeModel.tensors);
  const bpe = openGguf(bpePath).tokenizer;
  assert.equal(bpe.kind, 'huggingface');
  assert.equal(bpe.bosTokenId, 0);
  assert.deepEqual(bpe.eosTokenIds, [1]);
  const btok = (bpeModel.metadata.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as { values: string[] }).values;
  const bid = (t: string) => btok.indexOf(t);
  // BOS from add_bos_token; merges in rank order ("he" then "ll": "e ll" never applies); Ġthe.
  assert.deepEqual(bpe.encode('hello the'), [0, bid('he'), bid('ll'), bid('o'), bid('\u0120the')]);
  // Control tokens are matched whole in the text.
  assert.deepEqual(bpe.encode('a<|eos|>b', { add_special_tokens: false }), [bid('a'), 1, bid('b')]);
  assert.equal(bpe.decode(bpe.encode('hello the world!'), { skip_special_tokens: true }), 'hello the world!');
  const noBos = tmp('bpe-nobos');
  writeGguf(noBos, bpeModel.metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.add_bos_token' ? bool(false) : v] as MetaEntry), bpeModel.tensors);
  assert.deepEqual(openGguf(noBos).tokenizer.encode('the'), [bid('t'), bid('he')]);
  // Llama 3 and Qwen2 pre-tokenizers build and round-trip text.
  for (const pre of ['llama-bpe', 'qwen2']) {
    const p = tmp(`bpe-${pre}`);
    writeGguf(p, bpeModel.metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.pre' ? str(pre) : v] as MetaEntry), bpeModel.tensors);
    const t = openGguf(p).tokenizer;
    assert.equal(t.decode(t.encode("it's 12345 the world"), { skip_special_tokens: true }), "it's 12345 the world", pre);
  }
  const protoPre = tmp('bpe-proto');
  writeGguf(protoPre, bpeModel.metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.pre' ? str('toString') : v] as MetaEntry), bpeModel.tensors);
  assert.throws(() => openGguf(protoPre), /tokenizer\.ggml\.pre toString is not supported/);
  const protoVocab = tmp('bpe-proto-vocab');
  const protoTokens = [...(bpeModel.metadata.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as { values: string[] }).values];
  protoTokens[protoTokens.length - 1] = '__proto__';
  protoTokens[protoTokens.length - 2] = 'constructor';
  writeGguf(protoVocab, bpeModel.metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.tokens' ? strings(protoTokens) : v] as MetaEntry), bpeModel.tensors);
  const pt = openGguf(protoVocab).tokenizer;
  assert.equal(pt.decode([protoTokens.length - 1, protoTokens.length - 2]), '__proto__constructor');
  const badPre = tmp('bpe-pre');
  writeGguf(badPre, bpeModel.metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.pre' ? str('falcon') : v] as MetaEntry), bpeModel.tensors);
  assert.throws(() => openGguf(badPre), /tokenizer\.ggml\.pre falcon is not supported/);
});

test('a GGUF model converts to an .sdllm file that reloads with the same tokenizer and logits', () => {
  for (const tokenizer of ['llama', 'gpt2'] as const) {
    const m = miniModel({ tokenizer, seed: 21 });
    // Non-default SPM options must survive conversion: no BOS, no dummy prefix, BOS/EOS ids swapped.
    const meta = tokenizer === 'gpt2' ? m.metadata : [
      ...m.metadata.filter(([k]) => !/add_bos_token|bos_token_id|eos_token_id/.test(k)),
      ['tokenizer.ggml.add_bos_token', bool(false)], ['tokenizer.ggml.add_space_prefix', bool(false)],
      ['tokenizer.ggml.bos_token_id', u32(2)], ['tokenizer.ggml.eos_token_id', u32(1)],
    ] as MetaEntry[];
    const gguf = tmp(`convert-${tokenizer}`);
    writeGguf(gguf, meta, m.tensors);
    const live = loadMethodModel(gguf, { method: 'w4a16' });
    const file = nodePath.join(ROOT, `convert-${tokenizer}.sdllm`);
    writeSdllmFile(file, live.prepared!);
    const loaded = loadMethodModel(file);
    const text = 'hello the abc';
    assert.deepEqual(loaded.model.tokenizer.encode(text), live.model.tokenizer.encode(text));
    assert.equal(loaded.model.tokenizer.bosTokenId, live.model.tokenizer.bosTokenId);
    assert.deepEqual(loaded.model.tokenizer.eosTokenIds, live.model.tokenizer.eosTokenIds);
    if (tokenizer === 'llama') assert.deepEqual(live.model.tokenizer.encode('hello'), [tokensOf(meta).indexOf('hello')], 'no BOS, no prefix');
    const ids = live.model.tokenizer.encode(text);
    assertSameFloats(loaded.model.forward(ids, { allLogits: true }), live.model.forward(ids, { allLogits: true }), `${tokenizer}: logits`);
  }
});

function tokensOf(meta: MetaEntry[]): string[] {
  return (meta.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as { values: string[] }).values;
}

// ---------------------------------------------------------------------------------------------
// Real models written as GGUF

/** tokenizer.ggml.* of a Hugging Face byte-level BPE tokenizer.json (vocab from model.vocab, merges from model.merges). */
function gpt2TokenizerMeta(dir: string, bos: number, eos: number): MetaEntry[] {
  const tj = JSON.parse(fs.readFileSync(nodePath.join(dir, 'tokenizer.json'), 'utf8'));
  const tokens: string[] = [];
  for (const [t, i] of Object.entries(tj.model.vocab as Record<string, number>)) tokens[i] = t;
  const special = new Set<number>();
  for (const a of tj.added_tokens as { id: number; content: string; special: boolean }[]) {
    tokens[a.id] = a.content;
    if (a.special) special.add(a.id);
  }
  assert.equal(Object.keys(tokens).length, tokens.length, 'ids without holes');
  const merges = (tj.model.merges as (string | string[])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  return [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str('gpt-2')],
    ['tokenizer.ggml.tokens', strings(tokens)],
    ['tokenizer.ggml.token_type', i32s(tokens.map((_, i) => (special.has(i) ? 3 : 1)))],
    ['tokenizer.ggml.merges', strings(merges)],
    ['tokenizer.ggml.bos_token_id', u32(bos)],
    ['tokenizer.ggml.eos_token_id', u32(eos)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
  ];
}

/** tokenizer.ggml.* of a llama2.c tokenizer.bin, as SentencePiece pieces (spaces as U+2581). */
function spmTokenizerMeta(tokFile: string): MetaEntry[] {
  const b = fs.readFileSync(tokFile);
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  for (let off = 4, i = 0; off < b.length; i++) {
    scores.push(b.readFloatLE(off));
    const len = b.readInt32LE(off + 4);
    const piece = b.subarray(off + 8, off + 8 + len).toString('utf8');
    off += 8 + len;
    tokens.push(piece.replaceAll(' ', '\u2581'));
    types.push(i === 0 ? 2 : i < 3 ? 3 : /^<0x[0-9A-F]{2}>$/.test(piece) ? 6 : 1);
  }
  return [
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strings(tokens)],
    ['tokenizer.ggml.scores', f32s(scores)],
    ['tokenizer.ggml.token_type', i32s(types)],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
  ];
}

/**
 * Writes a checkpoint's tensors as a llama GGUF. `permute`: the checkpoint is in Hugging Face
 * q/k order and gets llama.cpp's converter permutation (false for llama2.c, already interleaved).
 * `typeOf` picks each tensor's type (1-D tensors stay F32, as the converter keeps them).
 */
function writeCheckpointGguf(modelPath: string, tokenizerMeta: MetaEntry[], permute: boolean, typeOf: (shape: number[]) => GgmlType): string {
  const ck = openCheckpoint(modelPath);
  const c = ck.config;
  const tensors: TensorToWrite[] = [];
  const put = (gguf: string, hf: string, heads = 0) => {
    const shape = ck.tensors.shape(hf);
    let values = ck.tensors.readF32(hf);
    if (heads) values = permuteQK(values, shape[0], heads);
    tensors.push({ name: gguf, type: shape.length === 1 ? 'F32' : typeOf(shape), shape, values });
  };
  put('token_embd.weight', 'model.embed_tokens.weight');
  for (let l = 0; l < c.num_hidden_layers; l++)
    for (const [g, h] of BLOCK_TENSORS) {
      const heads = !permute ? 0 : g === 'attn_q.weight' ? c.num_attention_heads : g === 'attn_k.weight' ? c.num_key_value_heads : 0;
      put(`blk.${l}.${g}`, `model.layers.${l}.${h}`, heads);
    }
  put('output_norm.weight', 'model.norm.weight');
  if (!c.tie_word_embeddings) put('output.weight', 'lm_head.weight');
  const meta: MetaEntry[] = [
    ...llamaMeta({ hidden: c.hidden_size, layers: c.num_hidden_layers, ffn: c.intermediate_size, heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, ctx: c.max_position_embeddings, eps: c.rms_norm_eps, theta: c.rope_theta, headDim: c.head_dim }),
    ...tokenizerMeta,
  ];
  const out = tmp(nodePath.basename(modelPath));
  writeGguf(out, meta, tensors);
  return out;
}

const TINY_TEXTS = [
  'Once upon a time',
  'It was the best of times, it was the worst of times.',
  '',
  ' leading and  double  spaces\tand\ttabs\nnew lines\n\n',
  'Numbers 0123456789, punctuation: ;,.?!\'"() and café naïve über 日本語 🙂',
  'special <|end_of_text|> token inside <|begin_of_text|>',
];

test('(a) sdllm-tiny written as an F32 GGUF: same token ids, bit-identical logits', needsShared, () => {
  const gguf = writeCheckpointGguf(TINY, gpt2TokenizerMeta(TINY, 0, 1), true, () => 'F32');
  const hf = loadModel(TINY);
  const model = loadModel(gguf);
  assert.deepEqual(model.config, hf.config, 'the same config');
  assert.equal(model.tokenizer.bosTokenId, hf.tokenizer.bosTokenId);
  assert.deepEqual(model.tokenizer.eosTokenIds, hf.tokenizer.eosTokenIds);
  for (const text of TINY_TEXTS) {
    for (const add_special_tokens of [true, false]) assert.deepEqual(model.tokenizer.encode(text, { add_special_tokens }), hf.tokenizer.encode(text, { add_special_tokens }), JSON.stringify(text));
    const ids = hf.tokenizer.encode(text);
    assert.equal(model.tokenizer.decode(ids), hf.tokenizer.decode(ids));
    assert.equal(model.tokenizer.decode(ids, { skip_special_tokens: true }), hf.tokenizer.decode(ids, { skip_special_tokens: true }));
  }
  // The un-permuted q/k are the Hugging Face tensors, so every matmul and every sum runs in the
  // same order: logits agree to the bit, at every position.
  for (const p of readGolden('sdllm-tiny').prompts) {
    assert.deepEqual(model.tokenizer.encode(p.text), p.input_ids);
    assertSameFloats(model.forward(p.input_ids, { allLogits: true }), hf.forward(p.input_ids, { allLogits: true }), `logits of "${p.text}"`);
  }
});

for (const qtype of ['Q8_0', 'Q4_0', 'Q4_1'] as const) {
  test(`(b) sdllm-tiny as ${qtype}: logits of the float model built from the dequantised weights, bit for bit`, needsShared, () => {
    // Matrices whose rows are whole blocks of 32 get the block type; down_proj's rows of 688 do
    // not (688 = 21.5 x 32) and go to F16, as llama.cpp's quantizer falls back for such tensors.
    const typeOf = (shape: number[]): GgmlType => (shape[1] % 32 === 0 ? qtype : 'F16');
    const gguf = writeCheckpointGguf(TINY, gpt2TokenizerMeta(TINY, 0, 1), true, typeOf);
    const model = loadModel(gguf);
    const hf = openCheckpoint(TINY);
    // The reference: the Hugging Face tensors through the test writer's quantizer and its own
    // reference decoder, in Hugging Face order (no permutation involved).
    const src = withValues(hf.tensors, (n) => {
      const shape = hf.tensors.shape(n);
      const values = hf.tensors.readF32(n);
      return shape.length === 1 ? values : roundTrip({ name: n, type: typeOf(shape), shape, values });
    });
    const ref = buildModel(hf.config, hf.tokenizer, readFloatWeights(src, hf.config));
    for (const p of readGolden('sdllm-tiny').prompts.slice(0, 3))
      assertSameFloats(model.forward(p.input_ids, { allLogits: true }), ref.forward(p.input_ids, { allLogits: true }), `${qtype} logits of "${p.text}"`);
    // Q8_0/Q4_0 matrices also come out as QuantizedWeights in Hugging Face row order, exactly.
    const ck = openGguf(gguf);
    let mapped = 0;
    for (const name of ck.tensors.names()) {
      const qw = ck.tensors.quantized(name);
      if (qtype === 'Q4_1' || ck.tensors.dtype(name) !== qtype) {
        assert.equal(qw, null, name);
        continue;
      }
      assert.ok(qw, `${name} maps`);
      assert.equal(qw.bits, 8, `${name}: Q8_0, or ggml-style Q4_0 (which uses -8), as 8-bit integers`);
      assertSameFloats(dequantize(qw), src.readF32(name), `${name}: dequantize(quantized)`);
      mapped++;
    }
    assert.equal(mapped, qtype === 'Q4_1' ? 0 : 2 + 6 * ck.config.num_hidden_layers);
  });
}

test('(c) stories260K written as a llama/SPM GGUF: the llama2.c tokenizer\'s ids, the same logits and greedy text', needsShared, () => {
  const bin = nodePath.join(STORIES, 'stories260K.bin');
  const gguf = writeCheckpointGguf(bin, spmTokenizerMeta(nodePath.join(STORIES, 'tok512.bin')), false, () => 'F32');
  const ref = loadModel(bin);
  const model = loadModel(gguf);
  assert.equal(model.config.rope_layout, 'half');
  assert.equal(ref.config.rope_layout, 'interleaved');
  assert.deepEqual({ ...model.config, rope_layout: 'interleaved' }, ref.config);
  const llama2c = Llama2cTokenizer.fromFile(nodePath.join(STORIES, 'tok512.bin'), 512);
  const texts = ['Once upon a time', 'Lily and Tom went to the park. They saw a big dog!', 'a', ' leading and  double  spaces ', 'line one\nline two\ttabbed', 'café naïve', 'über 日本語 ok', 'emoji 🙂🚀 and ♥', ''];
  for (const text of texts) {
    assert.deepEqual(model.tokenizer.encode(text), llama2c.encode(text), JSON.stringify(text));
    assert.deepEqual(model.tokenizer.encode(text, { add_special_tokens: false }), llama2c.encode(text, { add_special_tokens: false }));
    const ids = llama2c.encode(text);
    assert.equal(model.tokenizer.decode(ids, { skip_special_tokens: true }), text);
  }
  // The GGUF is read into rotate_half layout (q/k rows un-permuted) while llama2.c runs its
  // interleaved layout: the same products, but each attention score sums q.k over the head in
  // another order, so logits agree to float32 rounding (measured <= 5e-7 of the largest logit), not
  // to the bit; the test allows 1e-5 and asks for the same top-5 and greedy continuation.
  for (const p of readGolden('stories260K').prompts) {
    const got = model.forward(p.ids, { allLogits: true });
    const want = ref.forward(p.ids, { allLogits: true });
    const diff = maxAbsDiff(got, want);
    assert.ok(diff <= 1e-5 * maxAbs(want), `"${p.text}": logits differ by ${diff} (max |logit| ${maxAbs(want)})`);
    assert.deepEqual(topK(model.forward(p.ids), 5), topK(ref.forward(p.ids), 5));
    const a = generate(model, p.ids, { max_new_tokens: 24, eos_token_id: [] }).newTokens;
    const b = generate(ref, p.ids, { max_new_tokens: 24, eos_token_id: [] }).newTokens;
    assert.deepEqual(a, b, 'greedy continuation');
  }
});

// ---------------------------------------------------------------------------------------------
// Bad input through the CLI

function expectUserError(args: string[], re: RegExp): string {
  const r = runCli(args);
  assert.equal(r.code, 2, `exit code 2 for ${args.join(' ')}; stderr:\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0], /^sdllm: error: /);
  assert.match(lines[0].slice('sdllm: error: '.length), re);
  assert.ok(!r.stderr.includes('    at '), 'no stack');
  return lines[0];
}

test('CLI: a GGUF model runs; truncated, corrupt and unsupported GGUFs give one line and exit code 2', () => {
  const m = miniModel({ tokenizer: 'gpt2' });
  const { bytes, layout } = ggufBytes(m.metadata, m.tensors);
  const good = tmp('cli-good');
  fs.writeFileSync(good, bytes);
  const ok = runCli(['generate', '--model', good, '--prompt', 'hello the', '--max-new-tokens', '3']);
  assert.equal(ok.code, 0, ok.stderr);
  const info = runCli(['info', '--model', good, '--json']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).format, 'gguf');

  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Truncated in the data section, and in the metadata.
  const cut = tmp('cli-cut');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
  expectUserError(['info', '--model', cut], new RegExp(`^${esc(cut)}: tensor \\S+: \\S+ \\[[\\d, ]+\\] needs bytes \\[\\d+, \\d+\\) of the data section, which has \\d+ bytes \\(truncated or corrupt file\\)$`));
  const cut2 = tmp('cli-cut2');
  fs.writeFileSync(cut2, bytes.subarray(0, 1000));
  expectUserError(['generate', '--model', cut2, '--prompt', 'x'], new RegExp(`^${esc(cut2)}: (file ends while reading|metadata .* array of \\d+ string elements needs)`));
  const short = tmp('cli-short');
  fs.writeFileSync(short, bytes.subarray(0, 10));
  expectUserError(['info', '--model', short], /not a GGUF file: 10 bytes, shorter than the 24-byte header/);
  const notGguf = tmp('cli-not');
  fs.writeFileSync(notGguf, Buffer.alloc(100, 0x41));
  expectUserError(['info', '--model', notGguf], /not a GGUF file \(the first four bytes are not "GGUF"\)/);
  // A tensor of an unsupported (known) type, and of an unknown one: the message names the tensor.
  for (const [code, re] of [[12, /tensor blk\.0\.attn_v\.weight: ggml type Q4_K is not supported \(supported: F32, F16, Q4_0, Q4_1, Q8_0, BF16\)/], [77, /tensor blk\.0\.attn_v\.weight: unknown ggml type 77/]] as const) {
    const f = Buffer.from(bytes);
    f.writeUInt32LE(code, layout.infos.find((i) => i.name === 'blk.0.attn_v.weight')!.typeAt);
    const p = tmp('cli-type');
    fs.writeFileSync(p, f);
    expectUserError(['info', '--model', p], re);
  }
  // A tensor count of 2^40.
  const huge = Buffer.from(bytes);
  huge.writeBigUInt64LE(2n ** 40n, layout.tensorCountAt);
  const hp = tmp('cli-count');
  fs.writeFileSync(hp, huge);
  expectUserError(['info', '--model', hp], /tensor count 1099511627776 cannot fit in the \d+ bytes left/);
});
