/**
 * Bad input through the CLI: each case builds a broken model (a temp folder with real files
 * linked in and one file corrupted, or a small synthetic safetensors file), runs `sdllm` and
 * checks for exactly one stderr line naming the file and the problem, exit code 2, no stack.
 * `info` is used wherever the problem shows before the weights are read, to keep this fast.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { MODELS, needsShared, runCli } from './helpers.js';

const TINY = nodePath.join(MODELS, 'sdllm-tiny');
const STORIES = nodePath.join(MODELS, 'stories260K');

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-bad-input-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh folder with sdllm-tiny's small files linked in, except those listed in `omit`. */
function tinyDir(omit: string[] = []): string {
  const dir = nodePath.join(ROOT, `m${dirCount++}`);
  fs.mkdirSync(dir);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'])
    if (!omit.includes(f)) fs.symlinkSync(nodePath.join(TINY, f), nodePath.join(dir, f));
  return dir;
}

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** safetensors bytes from a header object and a data section; `headerLen` overrides the length field. */
function safetensorsBytes(header: Record<string, unknown> | string, data: Uint8Array, headerLen?: bigint): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** A tiny-model folder whose model.safetensors is the given bytes. */
function withSafetensors(bytes: Uint8Array): string {
  const dir = tinyDir(['model.safetensors']);
  fs.writeFileSync(nodePath.join(dir, 'model.safetensors'), bytes);
  return dir;
}

/** The real sdllm-tiny header and where its data section starts. */
function realHeader(): { header: Record<string, Entry | Record<string, string>>; dataStart: number; file: string } {
  const file = nodePath.join(TINY, 'model.safetensors');
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const h = Buffer.alloc(n);
    fs.readSync(fd, h, 0, n, 8);
    return { header: JSON.parse(h.toString('utf8')), dataStart: 8 + n, file };
  } finally {
    fs.closeSync(fd);
  }
}

/** A tiny-model folder whose model.safetensors is the real one with its header edited. */
function withEditedHeader(edit: (h: Record<string, Entry | Record<string, string>>) => void): string {
  const { header, dataStart, file } = realHeader();
  edit(header);
  const data = fs.readFileSync(file).subarray(dataStart);
  return withSafetensors(safetensorsBytes(header, data));
}

function writeJson(dir: string, name: string, obj: unknown): void {
  fs.rmSync(nodePath.join(dir, name), { force: true });
  fs.writeFileSync(nodePath.join(dir, name), typeof obj === 'string' ? obj : JSON.stringify(obj));
}

function tinyConfig(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(nodePath.join(TINY, 'config.json'), 'utf8'));
}

/** Runs the CLI and checks the contract: exit 2, one stderr line `sdllm: error: ...` matching `re`, no stack. */
function expectUserError(args: string[], re: RegExp): string {
  const r = runCli(args);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], /^sdllm: error: /);
  assert.match(lines[0], re);
  assert.ok(!r.stderr.includes('    at '), `no stack trace:\n${r.stderr}`);
  return lines[0];
}

const info = (dir: string) => ['info', '--model', dir];
const gen = (dir: string, prompt = 'x') => ['generate', '--model', dir, '--prompt', prompt, '--max-new-tokens', '1'];
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The path the message should name, as a regex. */
const at = (...parts: string[]) => esc(nodePath.join(...parts));

const F32 = (n: number) => new Uint8Array(4 * n);

test('missing model path', () => {
  const p = nodePath.join(ROOT, 'does-not-exist');
  expectUserError(info(p), new RegExp(`${esc(p)}: no such file or folder`));
  expectUserError(gen(p), new RegExp(`${esc(p)}: no such file or folder`));
});

test('model folder without weights', needsShared, () => {
  const dir = tinyDir(['model.safetensors']);
  expectUserError(info(dir), new RegExp(`${esc(dir)}: no model\\.safetensors or model\\.safetensors\\.index\\.json`));
});

test('model.safetensors is empty, or a folder', needsShared, () => {
  const dir = withSafetensors(new Uint8Array(0));
  expectUserError(info(dir), new RegExp(`${at(dir, 'model.safetensors')}: not a safetensors file: 0 bytes`));
  const dir2 = tinyDir(['model.safetensors']);
  fs.mkdirSync(nodePath.join(dir2, 'model.safetensors'));
  expectUserError(info(dir2), new RegExp(`${at(dir2, 'model.safetensors')}: is a directory`));
});

test('safetensors truncated in the data section', needsShared, () => {
  const { dataStart, file } = realHeader();
  const dir = withSafetensors(fs.readFileSync(file).subarray(0, dataStart + 1000));
  const line = expectUserError(info(dir), new RegExp(`${at(dir, 'model.safetensors')}: tensor \\S+: data_offsets \\[\\d+, \\d+\\] are out of range: the data section has 1000 bytes \\(truncated`));
  assert.ok(line.length < 300, 'the line stays short');
  // generate sees the same problem before reading any weight.
  expectUserError(gen(dir), /model\.safetensors: tensor \S+: data_offsets .* out of range/);
});

test('safetensors truncated inside the header', needsShared, () => {
  const { file } = realHeader();
  const dir = withSafetensors(fs.readFileSync(file).subarray(0, 8 + 100));
  expectUserError(info(dir), new RegExp(`${at(dir, 'model.safetensors')}: header length \\d+ is beyond the end of the file \\(108 bytes`));
  const dir2 = withSafetensors(fs.readFileSync(file).subarray(0, 5));
  expectUserError(info(dir2), /model\.safetensors: not a safetensors file: 5 bytes, shorter than the 8-byte header length/);
});

test('safetensors header length beyond the file', needsShared, () => {
  const dir = withSafetensors(safetensorsBytes('{}', new Uint8Array(0), 1000n));
  expectUserError(info(dir), /model\.safetensors: header length 1000 is beyond the end of the file \(10 bytes/);
});

test('safetensors header length 2^62 and 2^64-1 are refused without allocating', needsShared, () => {
  for (const len of [2n ** 62n, 2n ** 64n - 1n]) {
    const dir = withSafetensors(safetensorsBytes('{}', new Uint8Array(0), len));
    expectUserError(info(dir), new RegExp(`model\\.safetensors: header length ${len} is beyond the end of the file`));
  }
});

test('safetensors header length within a (sparse) 200 MiB file but over the header limit', needsShared, () => {
  const dir = withSafetensors(safetensorsBytes('{}', new Uint8Array(0), 150n * 2n ** 20n));
  fs.truncateSync(nodePath.join(dir, 'model.safetensors'), 200 * 2 ** 20); // sparse: no disk used
  expectUserError(info(dir), /model\.safetensors: header length 157286400 exceeds 104857600 bytes/);
});

test('safetensors header is not valid JSON', needsShared, () => {
  const dir = withSafetensors(safetensorsBytes('{"a": {"dtype": "F32", "sha', new Uint8Array(0)));
  expectUserError(info(dir), /model\.safetensors: header is not valid JSON/);
  const dir2 = withSafetensors(safetensorsBytes('[1, 2]', new Uint8Array(0)));
  expectUserError(info(dir2), /model\.safetensors: header is not a JSON object/);
});

test('safetensors data_offsets out of range', needsShared, () => {
  const header = { a: { dtype: 'F32', shape: [1024], data_offsets: [0, 4096] } };
  const dir = withSafetensors(safetensorsBytes(header, F32(16)));
  expectUserError(info(dir), /model\.safetensors: tensor a: data_offsets \[0, 4096\] are out of range: the data section has 64 bytes/);
  const bad = { a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } };
  expectUserError(info(withSafetensors(safetensorsBytes(bad, F32(4)))), /model\.safetensors: tensor a: data_offsets \[8,4\] are not \[begin, end\] with begin <= end/);
  const neg = { a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } };
  expectUserError(info(withSafetensors(safetensorsBytes(neg, F32(4)))), /model\.safetensors: tensor a: data_offsets \[-4,0\] are not/);
});

test('safetensors overlapping data_offsets', needsShared, () => {
  const header = {
    a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    b: { dtype: 'F32', shape: [4], data_offsets: [32, 48] },
    c: { dtype: 'F32', shape: [8], data_offsets: [8, 40] },
  };
  const dir = withSafetensors(safetensorsBytes(header, F32(16)));
  expectUserError(info(dir), /model\.safetensors: tensors a \[0, 16\] and c \[8, 40\] have overlapping data_offsets/);
  // A tensor wholly inside a longer one.
  const nested = {
    a: { dtype: 'F32', shape: [12], data_offsets: [0, 48] },
    b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
  };
  expectUserError(info(withSafetensors(safetensorsBytes(nested, F32(16)))), /model\.safetensors: tensors a \[0, 48\] and b \[4, 8\] have overlapping data_offsets/);
});

test('safetensors shape x dtype differs from the byte length', needsShared, () => {
  const header = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } };
  const dir = withSafetensors(safetensorsBytes(header, F32(4)));
  expectUserError(info(dir), /model\.safetensors: tensor w: shape \[2,2\] x F32 needs 16 bytes but data_offsets span 12/);
  // A shape whose element count is astronomically large is compared, never allocated.
  const huge = { w: { dtype: 'BF16', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } };
  expectUserError(info(withSafetensors(safetensorsBytes(huge, F32(4)))), /model\.safetensors: tensor w: shape \[1099511627776,1099511627776\] x BF16 needs \S+ bytes but data_offsets span 16/);
  const negShape = { w: { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } };
  expectUserError(info(withSafetensors(safetensorsBytes(negShape, F32(4)))), /model\.safetensors: tensor w: shape \[-1,4\] is not a list of non-negative integers/);
});

test('safetensors unknown dtype', needsShared, () => {
  const header = { w: { dtype: 'Q4_K', shape: [4], data_offsets: [0, 16] } };
  const dir = withSafetensors(safetensorsBytes(header, F32(4)));
  expectUserError(info(dir), /model\.safetensors: tensor w: unknown dtype "Q4_K"/);
  // A hostile name or dtype still gives one short line.
  const nasty = { ['evil\nname'.repeat(50)]: { dtype: 'X'.repeat(10_000), shape: [4], data_offsets: [0, 16] } };
  const line = expectUserError(info(withSafetensors(safetensorsBytes(nasty, F32(4)))), /model\.safetensors: tensor "evil\\nname.*: unknown dtype "XXX+\.\.\./);
  assert.ok(line.length < 400, `short line (${line.length} chars)`);
});

test('config.json missing hidden_size', needsShared, () => {
  const dir = tinyDir(['config.json']);
  const cfg = tinyConfig();
  delete cfg.hidden_size;
  writeJson(dir, 'config.json', cfg);
  expectUserError(info(dir), new RegExp(`${at(dir, 'config.json')}: missing required key "hidden_size"`));
  const cfg2 = tinyConfig();
  cfg2.num_hidden_layers = 'four';
  writeJson(dir, 'config.json', cfg2);
  expectUserError(info(dir), /config\.json: "num_hidden_layers" must be a positive integer, got "four"/);
});

test('config.json is not valid JSON', needsShared, () => {
  const dir = tinyDir(['config.json']);
  writeJson(dir, 'config.json', '{"architectures": ["LlamaForCausalLM"], "hidden_size": 256,');
  expectUserError(info(dir), new RegExp(`${at(dir, 'config.json')}: not valid JSON`));
});

test('config.json with an unsupported architecture', needsShared, () => {
  const dir = tinyDir(['config.json']);
  writeJson(dir, 'config.json', { ...tinyConfig(), architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
  expectUserError(gen(dir), new RegExp(`${at(dir, 'config.json')}: unsupported architecture GPT2LMHeadModel \\(supported: LlamaForCausalLM`));
});

test('tokenizer.json missing', needsShared, () => {
  const dir = tinyDir(['tokenizer.json']);
  expectUserError(info(dir), new RegExp(`${at(dir, 'tokenizer.json')}: no such file`));
  expectUserError(gen(dir), /tokenizer\.json: no such file/);
});

test('sharded index naming a missing shard', needsShared, () => {
  const dir = tinyDir(['model.safetensors']);
  const shard1 = 'model-00001-of-00002.safetensors', shard2 = 'model-00002-of-00002.safetensors';
  fs.writeFileSync(nodePath.join(dir, shard1), safetensorsBytes({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, F32(4)));
  writeJson(dir, 'model.safetensors.index.json', { metadata: {}, weight_map: { a: shard1, b: shard2 } });
  expectUserError(info(dir), new RegExp(`${at(dir, 'model.safetensors.index.json')}: shard ${esc(shard2)} listed in the index is missing`));
});

test('sharded index naming a tensor its shard lacks', needsShared, () => {
  const dir = tinyDir(['model.safetensors']);
  const shard = 'model-00001-of-00001.safetensors';
  fs.writeFileSync(nodePath.join(dir, shard), safetensorsBytes({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, F32(4)));
  writeJson(dir, 'model.safetensors.index.json', { weight_map: { a: shard, b: shard } });
  expectUserError(info(dir), /model\.safetensors\.index\.json: tensor b is listed in model-00001-of-00001\.safetensors but that shard does not contain it/);
});

test('tensor missing from the checkpoint', needsShared, () => {
  const dir = withEditedHeader((h) => delete h['model.norm.weight']);
  expectUserError(gen(dir), new RegExp(`${at(dir, 'model.safetensors')}: tensor model\\.norm\\.weight is missing from the checkpoint`));
});

test('tensor with the wrong shape', needsShared, () => {
  const dir = withEditedHeader((h) => {
    (h['model.norm.weight'] as Entry).shape = [128, 2];
  });
  expectUserError(gen(dir), new RegExp(`${at(dir, 'model.safetensors')}: tensor model\\.norm\\.weight has shape \\[128,2\\] but the config implies \\[256\\]`));
});

test('llama2.c checkpoint truncated', needsShared, () => {
  const dir = nodePath.join(ROOT, `l${dirCount++}`);
  fs.mkdirSync(dir);
  const bin = nodePath.join(dir, 'stories260K.bin');
  const full = fs.readFileSync(nodePath.join(STORIES, 'stories260K.bin'));
  fs.writeFileSync(bin, full.subarray(0, full.length - 1000));
  fs.symlinkSync(nodePath.join(STORIES, 'tok512.bin'), nodePath.join(dir, 'tok512.bin'));
  expectUserError(info(bin), new RegExp(`${esc(bin)}: file has ${full.length - 1000} bytes but its header .* describes ${full.length}: truncated`));
  expectUserError(gen(bin), /stories260K\.bin: file has \d+ bytes but its header/);
  // Shorter than the 28-byte header.
  fs.writeFileSync(bin, full.subarray(0, 20));
  expectUserError(info(bin), /stories260K\.bin: not a llama2\.c checkpoint: 20 bytes, shorter than its 28-byte header/);
});

test('llama2.c header claiming 2^31-1 layers fails at once (no loop, no allocation)', needsShared, () => {
  const dir = nodePath.join(ROOT, `l${dirCount++}`);
  fs.mkdirSync(dir);
  const bin = nodePath.join(dir, 'huge.bin');
  const head = Buffer.alloc(28 + 4096);
  [64, 172, 2 ** 31 - 1, 8, 4, 512, 512].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  fs.writeFileSync(bin, head);
  fs.symlinkSync(nodePath.join(STORIES, 'tok512.bin'), nodePath.join(dir, 'tok512.bin'));
  const t0 = Date.now();
  expectUserError(info(bin), /huge\.bin: file has 4124 bytes but its header \(.*n_layers 2147483647.*\) describes \d+: truncated or not a llama2\.c checkpoint/);
  assert.ok(Date.now() - t0 < 10_000);
  [64, 172, 5, 0, 4, 512, 512].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  fs.writeFileSync(bin, head);
  expectUserError(info(bin), /huge\.bin: header field n_heads = 0 is not positive/);
});

test('llama2.c tokenizer missing', needsShared, () => {
  const dir = nodePath.join(ROOT, `l${dirCount++}`);
  fs.mkdirSync(dir);
  const bin = nodePath.join(dir, 'stories260K.bin');
  fs.symlinkSync(nodePath.join(STORIES, 'stories260K.bin'), bin);
  expectUserError(info(bin), new RegExp(`${esc(bin)}: no tokenizer found beside the checkpoint .*pass --tokenizer`));
  const missing = nodePath.join(dir, 'tok-nope.bin');
  expectUserError([...gen(bin), '--tokenizer', missing], new RegExp(`${esc(missing)}: no such file`));
  // A tokenizer that ends early (the wrong file for this model).
  const short = nodePath.join(dir, 'short-tok.bin');
  fs.writeFileSync(short, fs.readFileSync(nodePath.join(STORIES, 'tok512.bin')).subarray(0, 300));
  expectUserError([...info(bin), '--tokenizer', short], /short-tok\.bin: (file ends at token \d+ of 512|token \d+ has length \d+, beyond the end of the file)/);
});

test('prompt longer than the context', needsShared, () => {
  const prompt = Array.from({ length: 2000 }, (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was'][i % 6]).join(' ');
  expectUserError(gen(TINY, prompt), new RegExp(`${esc(TINY)}: the prompt has \\d+ tokens, longer than the model's context of 1024`));
});

test('bad flags', needsShared, () => {
  expectUserError([...gen(TINY), '--max-new-tokens', '-3'], /option '--max-new-tokens <n>' argument '-3' is invalid\. expected an integer/);
  expectUserError([...gen(TINY), '--top-p', '2'], /option '--top-p <p>' argument '2' is invalid\. expected a number in \[0, 1\]/);
  expectUserError([...gen(TINY), '--temperature', 'hot'], /option '--temperature <t>' argument 'hot' is invalid/);
  expectUserError([...gen(TINY), '--no-such-flag'], /unknown option '--no-such-flag'/);
  expectUserError(['generate', '--model', TINY], /required option '--prompt <text>' not specified/);
  expectUserError(['frobnicate'], /unknown command 'frobnicate'/);
});

test('--debug shows the stack of a user error', () => {
  const p = nodePath.join(ROOT, 'does-not-exist');
  const r = runCli(['--debug', 'info', '--model', p]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /SdllmError: .*does-not-exist: no such file or folder/);
  assert.ok(r.stderr.includes('    at '), `a stack trace:\n${r.stderr}`);
});
