/**
 * llama2.c format: the stories260K tokenizer (encode/decode round trips, byte fallback for
 * characters outside its 512 pieces) and the checkpoint header (config and tensor layout),
 * plus a synthetic untied checkpoint whose every float is its own index.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { Llama2cTokenizer } from '../src/formats/llama2c-tokenizer.js';
import { readLlama2cCheckpoint, readLlama2cTensor } from '../src/formats/llama2c.js';
import { SdllmError } from '../src/errors.js';
import { MODELS, needsShared, readGolden } from './helpers.js';

const STORIES = nodePath.join(MODELS, 'stories260K');
const BIN = nodePath.join(STORIES, 'stories260K.bin');
const TOK = nodePath.join(STORIES, 'tok512.bin');

const ROOT = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sdllm-llama2c-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const TEXTS = [
  'Once upon a time',
  'Lily and Tom went to the park. They saw a big dog!',
  'a',
  ' leading and  double  spaces ',
  'Numbers 0123456789 and punctuation: ;,.?!\'"()',
  'line one\nline two\ttabbed',
  // Outside the 512 pieces: byte fallback (ids 3 + byte) for 2-, 3- and 4-byte UTF-8.
  'café naïve',
  'über 日本語 ok',
  'emoji 🙂🚀 and ♥',
  'Ωμέγα',
];

test('stories260K tokenizer: decode(encode(text)) gives the text back', needsShared, () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  assert.equal(tok.vocabSize, 512);
  for (const text of TEXTS) {
    const ids = tok.encode(text);
    assert.equal(ids[0], 1, 'BOS first');
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 512), `ids in range for ${JSON.stringify(text)}`);
    assert.equal(tok.decode(ids, { skip_special_tokens: true }), text, `round trip of ${JSON.stringify(text)}`);
    // BOS decodes as its piece in tok512.bin, "\n<s>\n"; the dummy-prefix space after it is dropped (as llama2.c does).
    assert.equal(tok.decode(ids), '\n<s>\n' + text);
    // Without BOS the dummy-prefix space stays in the text.
    assert.deepEqual(tok.encode(text, { add_special_tokens: false }), ids.slice(1));
    assert.equal(tok.decode(ids.slice(1)), ' ' + text);
  }
  assert.deepEqual(tok.encode(''), [1]);
  assert.deepEqual(tok.encode('', { add_special_tokens: false }), []);
});

test('stories260K tokenizer: unknown characters fall back to UTF-8 bytes', needsShared, () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  const BYTE = (b: number) => 3 + b;
  // 'é' is one of the 512 pieces; these are not.
  assert.deepEqual(tok.encode('é', { add_special_tokens: false }).length, 2, 'dummy space + é');
  for (const ch of ['日', '🙂', 'Ω']) {
    const ids = tok.encode(ch, { add_special_tokens: false });
    const bytes = [...new TextEncoder().encode(ch)];
    // The dummy-prefix space, then one byte token per UTF-8 byte (no merge makes pieces of them).
    assert.deepEqual(ids.slice(-bytes.length), bytes.map(BYTE), `${ch}: ${ids}`);
    assert.equal(tok.decode([1, ...ids], { skip_special_tokens: true }), ch);
  }
  // A lone byte token that is not valid UTF-8 on its own decodes to U+FFFD, not a throw.
  assert.equal(tok.decode([BYTE(0xe6)]), '\ufffd');
});

test('stories260K tokenizer: ids of the golden prompts, and special tokens', needsShared, () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  for (const p of readGolden('stories260K').prompts) assert.deepEqual(tok.encode(p.text), p.ids, p.text);
  assert.equal(tok.bosTokenId, 1);
  assert.deepEqual(tok.eosTokenIds, [2]);
  const ids = [1, ...tok.encode('The end', { add_special_tokens: false }), 2];
  assert.equal(tok.decode(ids, { skip_special_tokens: true }), 'The end');
  assert.equal(tok.decode(ids), '\n<s>\nThe end\n</s>\n');
});

test('stories260K tokenizer: a file too short for the vocabulary is an SdllmError naming it', needsShared, () => {
  const short = nodePath.join(ROOT, 'short-tok.bin');
  fs.writeFileSync(short, fs.readFileSync(TOK).subarray(0, 1000));
  assert.throws(() => Llama2cTokenizer.fromFile(short, 512), (e: unknown) => e instanceof SdllmError && e.message.startsWith(`${short}: `));
  assert.throws(() => Llama2cTokenizer.fromFile(nodePath.join(ROOT, 'nope.bin'), 512), /nope\.bin: no such file/);
});

test('stories260K checkpoint: config read from the header', needsShared, () => {
  const ck = readLlama2cCheckpoint(BIN);
  const g = readGolden('stories260K').config;
  const c = ck.config;
  assert.equal(c.hidden_size, g.dim);
  assert.equal(c.intermediate_size, g.hid);
  assert.equal(c.num_hidden_layers, g.L);
  assert.equal(c.num_attention_heads, g.nh);
  assert.equal(c.num_key_value_heads, g.nkv);
  assert.equal(c.vocab_size, g.vs);
  assert.equal(c.max_position_embeddings, g.sl);
  assert.equal(c.head_dim, g.hs);
  assert.equal(c.architecture, 'LlamaForCausalLM');
  assert.equal(c.rope_layout, 'interleaved');
  assert.equal(c.rope_theta, 10000);
  assert.equal(c.rms_norm_eps, 1e-5);
  assert.equal(c.tie_word_embeddings, true);
  assert.equal(c.bos_token_id, 1);
  assert.deepEqual(c.eos_token_id, [2]);

  // Layout: embeddings right after the 28-byte header, 9 arrays per layer, final norm, no lm_head (tied).
  assert.equal(ck.tensors.size, 1 + 9 * g.L + 1);
  assert.equal(ck.tensors.has('lm_head.weight'), false);
  assert.deepEqual(ck.tensors.get('model.embed_tokens.weight'), { name: 'model.embed_tokens.weight', shape: [512, 64], offset: 28 });
  assert.deepEqual(ck.tensors.get('model.layers.4.self_attn.k_proj.weight')!.shape, [32, 64]);
  assert.deepEqual(ck.tensors.get('model.layers.0.mlp.down_proj.weight')!.shape, [64, 172]);
  const norm = ck.tensors.get('model.norm.weight')!;
  // The final norm is followed by freq_cis real and imag, [seq_len, head_dim / 2] each, then the end of the file.
  assert.equal(norm.offset + 64 * 4 + g.sl * g.hs * 4, fs.statSync(BIN).size);
  const w = readLlama2cTensor(ck, norm);
  assert.equal(w.length, 64);
  assert.ok(w.every(Number.isFinite));
});

/** A synthetic llama2.c file whose float number i (after the header) holds the value i. */
function writeSynthetic(path: string, header: number[], floats: number): void {
  const buf = Buffer.alloc(28 + 4 * floats);
  header.forEach((v, i) => buf.writeInt32LE(v, 4 * i));
  for (let i = 0; i < floats; i++) buf.writeFloatLE(i, 28 + 4 * i);
  fs.writeFileSync(path, buf);
}

test('synthetic untied checkpoint: every tensor read from its place', () => {
  // dim 4, hidden 6, 2 layers, 2 heads (head_dim 2), 1 kv head, vocab 5 untied (negative), seq_len 3.
  const [dim, hid, L, nh, nkv, vs, sl] = [4, 6, 2, 2, 1, 5, 3];
  const hs = dim / nh, kvd = nkv * hs;
  const order: [string, number[]][] = [['model.embed_tokens.weight', [vs, dim]]];
  const perLayer: [string, number[]][] = [
    ['input_layernorm.weight', [dim]], ['self_attn.q_proj.weight', [dim, dim]], ['self_attn.k_proj.weight', [kvd, dim]],
    ['self_attn.v_proj.weight', [kvd, dim]], ['self_attn.o_proj.weight', [dim, dim]], ['post_attention_layernorm.weight', [dim]],
    ['mlp.gate_proj.weight', [hid, dim]], ['mlp.down_proj.weight', [dim, hid]], ['mlp.up_proj.weight', [hid, dim]],
  ];
  for (const [suffix, shape] of perLayer) for (let l = 0; l < L; l++) order.push([`model.layers.${l}.${suffix}`, shape]);
  order.push(['model.norm.weight', [dim]]);
  const freq = sl * hs;
  order.push(['<freq_cis>', [freq]]);
  order.push(['lm_head.weight', [vs, dim]]);
  const total = order.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);

  const path = nodePath.join(ROOT, 'synthetic.bin');
  writeSynthetic(path, [dim, hid, L, nh, nkv, -vs, sl], total);
  const ck = readLlama2cCheckpoint(path);
  assert.equal(ck.config.tie_word_embeddings, false);
  assert.equal(ck.config.vocab_size, vs);
  assert.equal(ck.config.head_dim, hs);
  assert.equal(ck.config.num_key_value_heads, nkv);
  let start = 0;
  for (const [name, shape] of order) {
    const n = shape.reduce((x, y) => x * y, 1);
    if (name !== '<freq_cis>') {
      const t = ck.tensors.get(name);
      assert.ok(t, name);
      assert.deepEqual(t.shape, shape, name);
      assert.deepEqual(readLlama2cTensor(ck, t), Float32Array.from({ length: n }, (_, i) => start + i), name);
    }
    start += n;
  }
  assert.equal(ck.tensors.size, order.length - 1);

  // One float short, one too many, and an inconsistent header: SdllmErrors naming the file.
  for (const [hdr, floats, re] of [
    [[dim, hid, L, nh, nkv, -vs, sl], total - 1, /file has \d+ bytes but its header .* describes \d+: truncated/],
    [[dim, hid, L, nh, nkv, -vs, sl], total + 1, /file has \d+ bytes but its header/],
    [[dim, hid, L, 3, nkv, -vs, sl], total, /header dims are inconsistent: dim 4, n_heads 3/],
    [[dim, hid, -1, nh, nkv, -vs, sl], total, /header field n_layers = -1 is not positive/],
  ] as [number[], number, RegExp][]) {
    writeSynthetic(path, hdr, floats);
    assert.throws(() => readLlama2cCheckpoint(path), (e: unknown) => e instanceof SdllmError && e.message.startsWith(`${path}: `) && re.test(e.message));
  }
});
