/**
 * GGUF reader under seeded mutations of small valid files (a llama/SPM model, untied, and a
 * gpt2-tokenizer model, tied, alignment 64, every tensor type): byte flips in the header,
 * metadata and tensor infos, truncations, inflated string lengths, array counts, tensor and
 * metadata counts, n_dims and dims, out-of-range / misaligned / overlapping offsets, unknown
 * tensor and value types, junk in the data. Whatever the mutation, reading must either give a
 * file whose every tensor lies inside it (aligned, sized by its shape and type, not overlapping
 * another, readable) or throw an SdllmError naming the file on one line; never another
 * exception, never a hang or an allocation beyond the file. Files that read are then loaded as
 * models and run one forward pass, with the same contract.
 * Plus explicit extreme values: each gives its specific error at once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { readGgufFile, readGgufTensorBytes, readGgufTensorF32, type GgufFile } from '../src/formats/gguf.js';
import { loadModel } from '../src/model/load.js';
import { SdllmError } from '../src/errors.js';
import { mulberry32 } from '../src/util/prng.js';
import { ggufBytes, miniModel, type GgufLayout } from './gguf-writer.js';

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-gguf-fuzz-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const BLOCK: Record<string, [number, number]> = { F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q8_0: [32, 34], Q4_0: [32, 18], Q4_1: [32, 20] };

/** What a successful read promises. */
function assertSound(f: GgufFile, file: Uint8Array): void {
  assert.ok(f.dataOffset % f.alignment === 0, 'aligned data section');
  const spans: [number, number][] = [];
  for (const t of f.tensors.values()) {
    const [block, size] = BLOCK[t.type];
    assert.equal(t.byteLength, (t.elements / block) * size, `${t.name}: byte length from shape and type`);
    assert.equal(t.elements, t.ne.reduce((a, b) => a * b, 1));
    assert.ok(t.offset >= f.dataOffset && (t.offset - f.dataOffset) % f.alignment === 0, `${t.name}: aligned offset in the data section`);
    assert.ok(t.offset + t.byteLength <= file.length, `${t.name}: inside the file`);
    if (t.byteLength > 0) spans.push([t.offset, t.offset + t.byteLength]);
    assert.deepEqual(readGgufTensorBytes(f, t), file.subarray(t.offset, t.offset + t.byteLength));
    assert.equal(readGgufTensorF32(f, t).length, t.elements);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], 'no overlap');
}

function expectSdllmError(e: unknown, path: string, what: string): void {
  if (!(e instanceof SdllmError)) assert.fail(`${what}: ${(e as Error)?.stack ?? String(e)}`);
  assert.ok(e.message.startsWith(`${path}: `), `message names the file: ${e.message}`);
  assert.ok(!e.message.includes('\n'), `one line: ${JSON.stringify(e.message)}`);
  assert.ok(e.message.length < 500, `a short line (${e.message.length} chars): ${e.message.slice(0, 200)}...`);
}

const bases = [
  ggufBytes(miniModel({ tokenizer: 'llama', seed: 11 }).metadata, miniModel({ tokenizer: 'llama', seed: 11 }).tensors),
  (() => {
    const m = miniModel({ tokenizer: 'gpt2', seed: 12 });
    return ggufBytes(m.metadata, m.tensors, { alignment: 64 });
  })(),
];

test('the fuzz bases are valid models', () => {
  for (const [i, b] of bases.entries()) {
    const path = nodePath.join(ROOT, `base${i}.gguf`);
    fs.writeFileSync(path, b.bytes);
    assertSound(readGgufFile(path), b.bytes);
    const model = loadModel(path);
    assert.equal(model.forward(model.tokenizer.encode('hello the world')).length, model.config.vocab_size);
  }
});

test('fuzz: mutated GGUFs read soundly or throw one-line SdllmErrors; loading them likewise', { timeout: 180_000 }, () => {
  const rnd = mulberry32(Number(process.env.FUZZ_SEED ?? 20240807));
  const below = (n: number) => Math.floor((rnd() / 2 ** 32) * n);
  const pick = <T>(a: readonly T[]): T => a[below(a.length)];
  const u64 = (near: bigint): bigint =>
    pick([
      () => (BigInt(rnd()) << 32n) | BigInt(rnd()),
      () => 2n ** 64n - 1n,
      () => 2n ** 63n,
      () => 2n ** 32n + near,
      () => (near + BigInt(below(9)) - 4n < 0n ? 0n : near + BigInt(below(9)) - 4n),
      () => near * 2n + 1n,
      () => BigInt(below(100_000)),
      () => 0n,
    ])();
  const kinds = ['flip', 'truncate', 'string-len', 'array-count', 'counts', 'n-dims', 'dims', 'offset', 'tensor-type', 'value-type', 'version', 'alignment', 'data', 'combo'] as const;
  const tally: Record<string, { ok: number; err: number; loaded: number }> = {};
  const path = nodePath.join(ROOT, 'fuzz.gguf');
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  const N = Number(process.env.FUZZ_N ?? 1400);
  const t0 = Date.now();
  for (let iter = 0; iter < N; iter++) {
    const kind = kinds[iter % kinds.length];
    const base = bases[below(bases.length)];
    const L: GgufLayout = base.layout;
    let file = base.bytes.slice();
    let dv = new DataView(file.buffer);
    const setU64 = (at: number, v: bigint) => dv.setBigUint64(at, v & (2n ** 64n - 1n), true);
    const getU64 = (at: number) => dv.getBigUint64(at, true);
    const mutate = (k: (typeof kinds)[number]) => {
      switch (k) {
        case 'flip': // random bytes in the header, metadata or tensor infos
          for (let n = 1 + below(4); n > 0; n--) file[below(L.dataOffset)] = below(256);
          break;
        case 'truncate':
          file = file.slice(0, below(2) ? below(L.dataOffset + 1) : below(file.length));
          dv = new DataView(file.buffer);
          break;
        case 'string-len': { // a key, a string value, an array's string or a tensor name
          const all = [...L.kvs.flatMap((f) => [f.keyLenAt, ...f.stringLensAt]), ...L.infos.map((i) => i.nameLenAt)];
          const at = pick(all);
          setU64(at, u64(getU64(at)));
          break;
        }
        case 'array-count': {
          const at = pick(L.kvs.flatMap((f) => f.countsAt));
          setU64(at, u64(getU64(at)));
          break;
        }
        case 'counts': {
          const at = below(2) ? L.tensorCountAt : L.kvCountAt;
          setU64(at, u64(getU64(at)));
          break;
        }
        case 'n-dims':
          dv.setUint32(pick(L.infos).nDimsAt, pick([0, 1, 2, 3, 4, 5, 64, 2 ** 32 - 1, rnd()]), true);
          break;
        case 'dims': {
          const info = pick(L.infos);
          const nd = dv.getUint32(info.nDimsAt, true);
          const at = info.dimsAt + 8 * below(nd);
          setU64(at, u64(getU64(at)));
          break;
        }
        case 'offset': {
          const info = pick(L.infos);
          const other = pick(L.infos);
          const v = pick([
            () => u64(getU64(info.offsetAt)),
            () => getU64(info.offsetAt) + 1n, // misaligned
            () => getU64(info.offsetAt) + 32n,
            () => getU64(other.offsetAt), // onto another tensor
            () => BigInt(file.length),
          ])();
          setU64(info.offsetAt, v);
          break;
        }
        case 'tensor-type':
          dv.setUint32(pick(L.infos).typeAt, pick([0, 1, 2, 3, 8, 30, 12, 39, 40, 77, below(64), rnd()]), true);
          break;
        case 'value-type':
          dv.setUint32(pick(L.kvs).typeAt, pick([below(13), 13, 255, rnd()]), true);
          break;
        case 'version':
          dv.setUint32(L.versionAt, pick([0, 1, 2, 3, 4, 0x03000000, rnd()]), true);
          break;
        case 'alignment': {
          const f = L.kvs.find((k) => k.key === 'general.alignment');
          if (f) dv.setUint32(f.valueAt, pick([0, 1, 3, 8, 16, 32, 48, 128, 2 ** 31, rnd()]), true);
          else file[below(L.dataOffset)] ^= 1 << below(8);
          break;
        }
        case 'data': // junk in the data section or after it: still a sound file
          if (below(2)) for (let n = 0; n < 16; n++) file[L.dataOffset + below(file.length - L.dataOffset)] = below(256);
          else {
            file = Uint8Array.from([...file, ...Array.from({ length: 1 + below(100) }, () => below(256))]);
            dv = new DataView(file.buffer);
          }
          break;
        case 'combo':
          for (let n = 2 + below(2); n > 0; n--) mutate(pick(kinds.filter((x) => x !== 'combo' && x !== 'truncate')));
          break;
      }
    };
    mutate(kind);
    fs.writeFileSync(path, file);
    const t = (tally[kind] ??= { ok: 0, err: 0, loaded: 0 });
    let f: GgufFile;
    try {
      f = readGgufFile(path);
    } catch (e) {
      expectSdllmError(e, path, `iteration ${iter} (${kind}) read`);
      t.err++;
      continue;
    }
    assertSound(f, file);
    t.ok++;
    try {
      const model = loadModel(path);
      const ids = model.tokenizer.encode('hello the world');
      model.tokenizer.decode(ids);
      model.forward(ids.slice(0, Math.min(ids.length, model.config.max_position_embeddings)).map((i) => i % model.config.vocab_size));
      t.loaded++;
    } catch (e) {
      expectSdllmError(e, path, `iteration ${iter} (${kind}) load`);
    }
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  const elapsed = Date.now() - t0;
  if (process.env.FUZZ_VERBOSE) console.log(tally, { elapsed, rssGrowthMiB: (rssPeak - rss0) / 2 ** 20 });
  const sum = (k: 'ok' | 'err' | 'loaded') => Object.values(tally).reduce((a, x) => a + x[k], 0);
  // Both outcomes must occur in number, or the fuzz tests nothing.
  assert.ok(sum('ok') > 150 && sum('err') > 600 && sum('loaded') > 100, JSON.stringify(tally));
  for (const k of ['string-len', 'array-count', 'counts', 'n-dims', 'dims', 'offset', 'tensor-type', 'value-type', 'truncate'])
    assert.ok(tally[k].err > 0, `${k} mutations produce errors`);
  // Files of ~45 KB never make the reader hold more than a few MiB.
  assert.ok(rssPeak - rss0 < 256 * 2 ** 20, `memory grew by ${((rssPeak - rss0) / 2 ** 20).toFixed(0)} MiB`);
});

test('extreme claims fail at once with their own message', () => {
  const b = bases[0];
  const L = b.layout;
  const cases: [string, (dv: DataView) => void, RegExp][] = [
    ['tensor count 2^64-1', (dv) => dv.setBigUint64(L.tensorCountAt, 2n ** 64n - 1n, true), /tensor count 18446744073709551615 cannot fit in the \d+ bytes left/],
    ['metadata count 2^40', (dv) => dv.setBigUint64(L.kvCountAt, 2n ** 40n, true), /metadata count 1099511627776 cannot fit/],
    ['key length 2^63', (dv) => dv.setBigUint64(L.kvs[0].keyLenAt, 2n ** 63n, true), /the key of metadata entry 0: string length 9223372036854775808 exceeds the limit of 65535 bytes/],
    ['string length beyond the file', (dv) => dv.setBigUint64(L.kvs[0].stringLensAt[0], 10n ** 6n, true), /metadata general\.architecture: string length 1000000 is beyond the end of the file/],
    ['token count 2^61', (dv) => dv.setBigUint64(L.kvs.find((k) => k.key === 'tokenizer.ggml.tokens')!.countsAt[0], 2n ** 61n, true), /metadata tokenizer\.ggml\.tokens: array of 2305843009213693952 string elements needs at least \d+ bytes but \d+ are left/],
    ['scores count 2^62', (dv) => dv.setBigUint64(L.kvs.find((k) => k.key === 'tokenizer.ggml.scores')!.countsAt[0], 2n ** 62n, true), /tokenizer\.ggml\.scores: array of 4611686018427387904 f32 elements/],
    ['n_dims 2^32-1', (dv) => dv.setUint32(L.infos[0].nDimsAt, 2 ** 32 - 1, true), /tensor token_embd\.weight: 4294967295 dimensions \(ggml tensors have 1 to 4\)/],
    ['dims 2^32 x 2^32', (dv) => { dv.setBigUint64(L.infos[0].dimsAt, 2n ** 32n, true); dv.setBigUint64(L.infos[0].dimsAt + 8, 2n ** 32n, true); }, /tensor token_embd\.weight: Q8_0 \[4294967296, 4294967296\] needs bytes \[0, 19599665578316398592\) of the data section/],
    ['offset 2^64-64', (dv) => dv.setBigUint64(L.infos[1].offsetAt, 2n ** 64n - 64n, true), /tensor blk\.0\.attn_norm\.weight: F32 \[64\] needs bytes \[18446744073709551552, \d+\) of the data section, which has \d+ bytes/],
    ['misaligned offset', (dv) => dv.setBigUint64(L.infos[1].offsetAt, dv.getBigUint64(L.infos[1].offsetAt, true) + 4n, true), /tensor blk\.0\.attn_norm\.weight: data offset \d+ is not a multiple of the alignment 32/],
    ['overlapping tensors', (dv) => dv.setBigUint64(L.infos[2].offsetAt, dv.getBigUint64(L.infos[1].offsetAt, true), true), /tensors blk\.0\.attn_norm\.weight \[\d+, \d+\) and blk\.0\.attn_q\.weight \[\d+, \d+\) overlap/],
    ['ne[0] not whole blocks', (dv) => dv.setBigUint64(L.infos[0].dimsAt, 48n, true), /tensor token_embd\.weight: ne\[0\] = 48 is not a multiple of the Q8_0 block size 32/],
    ['unknown value type', (dv) => dv.setUint32(L.kvs[0].typeAt, 99, true), /metadata general\.architecture: unknown metadata value type 99/],
    ['bad bool', (dv) => dv.setUint8(L.kvs.find((k) => k.key === 'tokenizer.ggml.add_bos_token')!.valueAt, 7), /metadata tokenizer\.ggml\.add_bos_token: a bool must be 0 or 1, got 7/],
    ['version 1', (dv) => dv.setUint32(L.versionAt, 1, true), /GGUF version 1 \(32-bit counts\) is not supported/],
    ['big-endian', (dv) => dv.setUint32(L.versionAt, 3, false), /big-endian GGUF files are not supported/],
    ['duplicate tensor name', (dv) => new Uint8Array(dv.buffer).set(Buffer.from('blk.0.attn_q.weight'), L.infos.find((i) => i.name === 'blk.0.attn_k.weight')!.nameLenAt + 8), /tensor blk\.0\.attn_q\.weight appears twice/],
    ['duplicate key', (dv) => new Uint8Array(dv.buffer).set(Buffer.from('general.architecture'), L.kvs.find((k) => k.key === 'llama.context_length')!.keyLenAt + 8), /metadata key general\.architecture appears twice/],
  ];
  for (const [what, edit, re] of cases) {
    const file = b.bytes.slice();
    edit(new DataView(file.buffer));
    const path = nodePath.join(ROOT, 'extreme.gguf');
    fs.writeFileSync(path, file);
    const t0 = Date.now();
    assert.throws(() => readGgufFile(path), (e: unknown) => {
      expectSdllmError(e, path, what);
      assert.match((e as Error).message, re, what);
      return true;
    }, what);
    assert.ok(Date.now() - t0 < 1000, `${what}: at once`);
  }
});
