/**
 * Test utility: a small GGUF writer (all metadata value types, nested arrays, F32/F16/BF16 and
 * the Q8_0/Q4_0/Q4_1 block quantisations written here as ggml's reference quantizers do them),
 * a reference block dequantizer independent of src/formats/gguf.ts, the q/k row permutation of
 * llama.cpp's Hugging Face converter, and a layout map of where each field of the written file
 * lies (for targeted fuzzing).
 */
import fs from 'node:fs';
import { GGUF_VALUE_TYPES, GGML_TYPE_IDS, type GgmlType, type GgufValue, type GgufValueType } from '../src/formats/gguf.js';

export type MetaEntry = [key: string, value: GgufValue];

export interface TensorToWrite {
  name: string;
  type: GgmlType;
  /** Row-major shape (Hugging Face order); the file gets ne = shape reversed. */
  shape: number[];
  /** Values to encode in `type`. */
  values: Float32Array;
  /** Bytes to write as they are instead of encoding `values` (whose length still gives the element count). */
  raw?: Uint8Array;
  /** Q4_0 flavour: ggml's (d = max / -8, uses the code -8) or symmetric (d = amax / 7, codes -7..7). */
  q4_0?: 'ggml' | 'symmetric';
  /** Override the type code written in the tensor info (for unknown-type tests). */
  typeCode?: number;
}

export interface FieldAt {
  key: string;
  /** Offset of the key's u64 length. */
  keyLenAt: number;
  /** Offset of the u32 value type. */
  typeAt: number;
  /** Offset of the value (for arrays: the u32 element type; the u64 count follows). */
  valueAt: number;
  /** Offsets of u64 string lengths inside the value (the string, or each string of an array). */
  stringLensAt: number[];
  /** Offsets of u64 array counts inside the value. */
  countsAt: number[];
}

export interface TensorInfoAt {
  name: string;
  nameLenAt: number;
  nDimsAt: number;
  dimsAt: number;
  typeAt: number;
  offsetAt: number;
}

export interface GgufLayout {
  versionAt: number;
  tensorCountAt: number;
  kvCountAt: number;
  kvs: FieldAt[];
  infos: TensorInfoAt[];
  /** End of the tensor infos (before padding). */
  infosEnd: number;
  dataOffset: number;
}

class Builder {
  private chunks: Buffer[] = [];
  pos = 0;
  push(b: Buffer | Uint8Array): void {
    this.chunks.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    this.pos += b.byteLength;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  u64(v: bigint | number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string, lens?: number[]): void {
    const b = Buffer.from(s, 'utf8');
    lens?.push(this.pos);
    this.u64(b.length);
    this.push(b);
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

const code = (t: GgufValueType) => GGUF_VALUE_TYPES.indexOf(t);

function scalarBytes(type: GgufValueType, v: number | bigint | boolean): Buffer {
  const b = Buffer.alloc(type === 'u8' || type === 'i8' || type === 'bool' ? 1 : type === 'u16' || type === 'i16' ? 2 : type === 'u64' || type === 'i64' || type === 'f64' ? 8 : 4);
  switch (type) {
    case 'u8': b.writeUInt8(v as number); break;
    case 'i8': b.writeInt8(v as number); break;
    case 'u16': b.writeUInt16LE(v as number); break;
    case 'i16': b.writeInt16LE(v as number); break;
    case 'u32': b.writeUInt32LE(v as number); break;
    case 'i32': b.writeInt32LE(v as number); break;
    case 'f32': b.writeFloatLE(v as number); break;
    case 'f64': b.writeDoubleLE(v as number); break;
    case 'u64': b.writeBigUInt64LE(v as bigint); break;
    case 'i64': b.writeBigInt64LE(v as bigint); break;
    case 'bool': b.writeUInt8(v ? 1 : 0); break;
    default: throw new Error(`not a scalar: ${type}`);
  }
  return b;
}

function writeArray(w: Builder, itemType: GgufValueType, values: ArrayLike<unknown>, f: FieldAt): void {
  w.u32(code(itemType));
  f.countsAt.push(w.pos);
  w.u64(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (itemType === 'string') w.str(v as string, f.stringLensAt);
    else if (itemType === 'array') {
      const a = v as { itemType: GgufValueType; values: ArrayLike<unknown> };
      writeArray(w, a.itemType, a.values, f);
    } else w.push(scalarBytes(itemType, v as number | bigint | boolean));
  }
}

/** The bytes of a GGUF file and where its fields are. */
export function ggufBytes(metadata: MetaEntry[], tensors: TensorToWrite[], opts: { alignment?: number; version?: number } = {}): { bytes: Uint8Array; layout: GgufLayout } {
  const alignment = opts.alignment ?? 32;
  const meta = [...metadata];
  if (opts.alignment !== undefined && !meta.some(([k]) => k === 'general.alignment')) meta.push(['general.alignment', { type: 'u32', value: alignment }]);
  const w = new Builder();
  w.push(Buffer.from('GGUF', 'latin1'));
  const versionAt = w.pos;
  w.u32(opts.version ?? 3);
  const tensorCountAt = w.pos;
  w.u64(tensors.length);
  const kvCountAt = w.pos;
  w.u64(meta.length);
  const kvs: FieldAt[] = [];
  for (const [key, v] of meta) {
    const f: FieldAt = { key, keyLenAt: w.pos, typeAt: 0, valueAt: 0, stringLensAt: [], countsAt: [] };
    w.str(key);
    f.typeAt = w.pos;
    w.u32(code(v.type));
    f.valueAt = w.pos;
    if (v.type === 'string') w.str(v.value, f.stringLensAt);
    else if (v.type === 'array') writeArray(w, v.value.itemType, v.value.values as ArrayLike<unknown>, f);
    else w.push(scalarBytes(v.type, v.value));
    kvs.push(f);
  }
  const datas = tensors.map(encodeTensor);
  const infos: TensorInfoAt[] = [];
  let rel = 0;
  const offsets: number[] = [];
  for (const [i, t] of tensors.entries()) {
    const at: TensorInfoAt = { name: t.name, nameLenAt: w.pos, nDimsAt: 0, dimsAt: 0, typeAt: 0, offsetAt: 0 };
    w.str(t.name);
    at.nDimsAt = w.pos;
    w.u32(t.shape.length);
    at.dimsAt = w.pos;
    for (const d of [...t.shape].reverse()) w.u64(d);
    at.typeAt = w.pos;
    w.u32(t.typeCode ?? GGML_TYPE_IDS[t.type]);
    at.offsetAt = w.pos;
    w.u64(rel);
    offsets.push(rel);
    rel += datas[i].length;
    rel += (alignment - (rel % alignment)) % alignment;
    infos.push(at);
  }
  const infosEnd = w.pos;
  w.push(new Uint8Array((alignment - (w.pos % alignment)) % alignment));
  const dataOffset = w.pos;
  for (const [i, d] of datas.entries()) {
    w.push(d);
    const next = i + 1 < datas.length ? offsets[i + 1] : rel;
    w.push(new Uint8Array(next - (w.pos - dataOffset)));
  }
  return { bytes: w.bytes(), layout: { versionAt, tensorCountAt, kvCountAt, kvs, infos, infosEnd, dataOffset } };
}

export function writeGguf(path: string, metadata: MetaEntry[], tensors: TensorToWrite[], opts: { alignment?: number; version?: number } = {}): GgufLayout {
  const { bytes, layout } = ggufBytes(metadata, tensors, opts);
  fs.writeFileSync(path, bytes);
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Encoding (ggml's reference quantizers: float32 arithmetic, f16 scales)

const f32 = Math.fround;
/** C's roundf: halves away from zero. */
const roundf = (x: number) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5);

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** float32 → f16 bits, round to nearest even (overflow to infinity, NaN kept). */
function halfBits(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value in units of 2^-24, rounded to nearest even.
    const v = Math.abs(x) * 2 ** 24;
    let r = Math.round(v);
    if (r - v === 0.5 && r % 2 === 1) r -= 1;
    return sign | r;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

function bf16Bits(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40; // NaN stays NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff; // round to nearest even
}

export function encodeTensor(t: TensorToWrite): Uint8Array {
  if (t.raw) return t.raw;
  const x = t.values;
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (x.length !== n) throw new Error(`${t.name}: ${x.length} values for shape [${t.shape}]`);
  const blocked = t.type === 'Q8_0' || t.type === 'Q4_0' || t.type === 'Q4_1';
  if (blocked && (t.shape.length === 0 || t.shape[t.shape.length - 1] % 32 !== 0)) throw new Error(`${t.name}: rows of ${t.shape.at(-1)} are not whole blocks of 32`);
  switch (t.type) {
    case 'F32':
      return new Uint8Array(Float32Array.from(x).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(x, halfBits).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(x, bf16Bits).buffer);
    case 'Q8_0': {
      const out = Buffer.alloc((n / 32) * 34);
      for (let b = 0; b < n / 32; b++) {
        const blk = x.subarray(b * 32, b * 32 + 32);
        let amax = 0;
        for (const v of blk) amax = Math.max(amax, Math.abs(v));
        const d = f32(amax / 127);
        const id = d ? f32(1 / d) : 0;
        out.writeUInt16LE(halfBits(d), b * 34);
        for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = roundf(f32(blk[j] * id)) & 0xff;
      }
      return new Uint8Array(out);
    }
    case 'Q4_0': {
      const out = Buffer.alloc((n / 32) * 18);
      for (let b = 0; b < n / 32; b++) {
        const blk = x.subarray(b * 32, b * 32 + 32);
        const codes = new Uint8Array(32);
        let d: number;
        if (t.q4_0 === 'symmetric') {
          let amax = 0;
          for (const v of blk) amax = Math.max(amax, Math.abs(v));
          d = f32(amax / 7);
          const id = d ? f32(1 / d) : 0;
          for (let j = 0; j < 32; j++) codes[j] = Math.max(-7, Math.min(7, roundf(f32(blk[j] * id)))) + 8;
        } else {
          // ggml: the value of largest magnitude, sign kept, maps to -8.
          let amax = 0, max = 0;
          for (const v of blk) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
          d = f32(max / -8);
          const id = d ? f32(1 / d) : 0;
          for (let j = 0; j < 32; j++) codes[j] = Math.min(15, Math.trunc(f32(f32(blk[j] * id) + 8.5)));
        }
        out.writeUInt16LE(halfBits(d), b * 18);
        for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = codes[j] | (codes[j + 16] << 4);
      }
      return new Uint8Array(out);
    }
    case 'Q4_1': {
      const out = Buffer.alloc((n / 32) * 20);
      for (let b = 0; b < n / 32; b++) {
        const blk = x.subarray(b * 32, b * 32 + 32);
        let min = Infinity, max = -Infinity;
        for (const v of blk) { min = Math.min(min, v); max = Math.max(max, v); }
        const d = f32((max - min) / 15);
        const id = d ? f32(1 / d) : 0;
        out.writeUInt16LE(halfBits(d), b * 20);
        out.writeUInt16LE(halfBits(min), b * 20 + 2);
        const codes = new Uint8Array(32);
        for (let j = 0; j < 32; j++) codes[j] = Math.min(15, Math.trunc(f32(f32((blk[j] - min) * id) + 0.5)));
        for (let j = 0; j < 16; j++) out[b * 20 + 4 + j] = codes[j] | (codes[j + 16] << 4);
      }
      return new Uint8Array(out);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reference decoding, written separately from the reader so the tests compare two implementations

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 31, m = bits & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** float32 values of encoded data, as ggml's dequantize_row_* define them. */
export function referenceDecode(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (type === 'F32' || type === 'F16' || type === 'BF16') {
    for (let k = 0; k < n; k++)
      out[k] = type === 'F32' ? b.readFloatLE(4 * k) : type === 'F16' ? half(b.readUInt16LE(2 * k)) : new Float32Array(new Uint32Array([b.readUInt16LE(2 * k) << 16]).buffer)[0];
    return out;
  }
  const blockBytes = type === 'Q8_0' ? 34 : type === 'Q4_0' ? 18 : 20;
  for (let blk = 0; blk < n / 32; blk++) {
    const at = blk * blockBytes;
    const d = half(b.readUInt16LE(at));
    const m = type === 'Q4_1' ? half(b.readUInt16LE(at + 2)) : 0;
    for (let j = 0; j < 32; j++) {
      const k = blk * 32 + j;
      if (type === 'Q8_0') out[k] = f32(d * b.readInt8(at + 2 + j));
      else {
        const byte = b[at + (type === 'Q4_0' ? 2 : 4) + (j % 16)];
        const q = j < 16 ? byte & 15 : byte >> 4;
        out[k] = type === 'Q4_0' ? f32(d * (q - 8)) : f32(f32(d * q) + m);
      }
    }
  }
  return out;
}

/** What a float tensor becomes after writing as `type` and reading back (reference path). */
export function roundTrip(t: TensorToWrite): Float32Array {
  return referenceDecode(t.type, encodeTensor(t), t.values.length);
}

/**
 * llama.cpp's converter permutation of q/k rows for Hugging Face Llama checkpoints, as numpy
 * writes it: W.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(rows, cols).
 */
export function permuteQK(W: Float32Array, rows: number, nHead: number): Float32Array {
  const cols = W.length / rows;
  const half = rows / nHead / 2;
  const out = new Float32Array(W.length);
  // Destination index (h, i, j) over shape [n_head, half, 2] takes source (h, j, i) over [n_head, 2, half].
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const dst = (h * half + i) * 2 + j, src = (h * 2 + j) * half + i;
        out.set(W.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Metadata helpers

export const u32 = (value: number): GgufValue => ({ type: 'u32', value });
export const f32v = (value: number): GgufValue => ({ type: 'f32', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });
export const bool = (value: boolean): GgufValue => ({ type: 'bool', value });
export const strings = (values: string[]): GgufValue => ({ type: 'array', value: { itemType: 'string', values } });
export const f32s = (values: ArrayLike<number>): GgufValue => ({ type: 'array', value: { itemType: 'f32', values: Float32Array.from(values) } });
export const i32s = (values: ArrayLike<number>): GgufValue => ({ type: 'array', value: { itemType: 'i32', values: Int32Array.from(values) } });

/** The `llama.*` hyperparameters of a model. */
export function llamaMeta(c: {
  hidden: number; layers: number; ffn: number; heads: number; kvHeads: number; ctx: number; eps: number; theta: number; headDim: number; arch?: string;
}): MetaEntry[] {
  const a = c.arch ?? 'llama';
  return [
    ['general.architecture', str(a)],
    ['general.name', str('test model')],
    [`${a}.context_length`, u32(c.ctx)],
    [`${a}.embedding_length`, u32(c.hidden)],
    [`${a}.block_count`, u32(c.layers)],
    [`${a}.feed_forward_length`, u32(c.ffn)],
    [`${a}.rope.dimension_count`, u32(c.headDim)],
    [`${a}.attention.head_count`, u32(c.heads)],
    [`${a}.attention.head_count_kv`, u32(c.kvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32v(c.eps)],
    [`${a}.rope.freq_base`, f32v(c.theta)],
  ];
}

/** GGUF tensor names of one decoder block, by Hugging Face suffix. */
export const BLOCK_TENSORS: [gguf: string, hf: string][] = [
  ['attn_norm.weight', 'input_layernorm.weight'],
  ['attn_q.weight', 'self_attn.q_proj.weight'],
  ['attn_k.weight', 'self_attn.k_proj.weight'],
  ['attn_v.weight', 'self_attn.v_proj.weight'],
  ['attn_output.weight', 'self_attn.o_proj.weight'],
  ['ffn_norm.weight', 'post_attention_layernorm.weight'],
  ['ffn_gate.weight', 'mlp.gate_proj.weight'],
  ['ffn_up.weight', 'mlp.up_proj.weight'],
  ['ffn_down.weight', 'mlp.down_proj.weight'],
];

// ---------------------------------------------------------------------------------------------
// A complete miniature model (every tensor type, both tokenizer kinds), for synthetic and fuzz tests

export interface MiniModel {
  metadata: MetaEntry[];
  tensors: TensorToWrite[];
  /** Hugging Face-order float values of each tensor (by GGUF name), before q/k permutation and encoding. */
  hf: Map<string, Float32Array>;
  /** The values the file holds, decoded by the reference decoder, in Hugging Face row order. */
  expected: Map<string, Float32Array>;
}

export const MINI = { hidden: 64, layers: 1, ffn: 64, heads: 4, kvHeads: 2, headDim: 16, ctx: 128, eps: 1e-5, theta: 10000 };

/** SPM pieces of the mini vocabulary (spaces as U+2581, byte pieces for a few bytes). */
export function miniSpmTokens(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (const b of [0x0a, 0xc3, 0xa9, 0xe6, 0x97, 0xa5]) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const words = ['\u2581', 'a', 'b', 'c', 'd', 'e', 'h', 'l', 'o', 't', '\u2581t', 'he', '\u2581the', 'll', 'ell', 'hell', 'hello', '\u2581a', 'ab', 'abc'];
  for (const w of words) {
    tokens.push(w);
    types.push(1);
  }
  const scores = tokens.map((t, i) => (types[i] === 1 ? -i + t.length * 3 : 0));
  return { tokens, scores, types };
}

/** Byte-level BPE mini vocabulary: printable ASCII as GPT-2 maps it (space → Ġ), a few merges. */
export function miniBpeTokens(): { tokens: string[]; merges: string[]; types: number[] } {
  const tokens = ['<|bos|>', '<|eos|>'];
  const types = [3, 3];
  for (let c = 0x21; c < 0x7f; c++) {
    tokens.push(String.fromCharCode(c));
    types.push(1);
  }
  tokens.push('\u0120'); // the byte-level spelling of a space
  types.push(1);
  const merges = ['\u0120 t', 'h e', '\u0120t he', 'l l', 'e ll', 'h ell', 'o r', 'w or', 'wor ld'];
  for (const m of merges) {
    tokens.push(m.replace(' ', ''));
    types.push(1);
  }
  return { tokens, merges, types };
}

export function miniModel(opts: { tokenizer: 'llama' | 'gpt2'; arch?: 'llama' | 'qwen2'; seed?: number; tied?: boolean }): MiniModel {
  let state = (opts.seed ?? 1) >>> 0;
  const rnd = () => {
    // xorshift32: plenty for test data
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 2 ** 32 - 0.5;
  };
  const arch = opts.arch ?? 'llama';
  const m = MINI;
  const tok = opts.tokenizer === 'llama' ? miniSpmTokens() : miniBpeTokens();
  const vocab = tok.tokens.length;
  const metadata: MetaEntry[] = [...llamaMeta({ ...m, arch }), ['general.file_type', u32(7)], ['general.quantization_version', u32(2)]];
  if (opts.tokenizer === 'llama') {
    const t = tok as ReturnType<typeof miniSpmTokens>;
    metadata.push(
      ['tokenizer.ggml.model', str('llama')],
      ['tokenizer.ggml.tokens', strings(t.tokens)],
      ['tokenizer.ggml.scores', f32s(t.scores)],
      ['tokenizer.ggml.token_type', i32s(t.types)],
      ['tokenizer.ggml.bos_token_id', u32(1)],
      ['tokenizer.ggml.eos_token_id', u32(2)],
      ['tokenizer.ggml.unknown_token_id', u32(0)],
      ['tokenizer.ggml.add_bos_token', bool(true)],
    );
  } else {
    const t = tok as ReturnType<typeof miniBpeTokens>;
    metadata.push(
      ['tokenizer.ggml.model', str('gpt2')],
      ['tokenizer.ggml.pre', str('gpt-2')],
      ['tokenizer.ggml.tokens', strings(t.tokens)],
      ['tokenizer.ggml.token_type', i32s(t.types)],
      ['tokenizer.ggml.merges', strings(t.merges)],
      ['tokenizer.ggml.bos_token_id', u32(0)],
      ['tokenizer.ggml.eos_token_id', u32(1)],
      ['tokenizer.ggml.add_bos_token', bool(true)],
    );
  }
  const qd = m.heads * m.headDim, kvd = m.kvHeads * m.headDim;
  const tensors: TensorToWrite[] = [];
  const hf = new Map<string, Float32Array>();
  const expected = new Map<string, Float32Array>();
  const add = (name: string, type: GgmlType, shape: number[], extra: Partial<TensorToWrite> = {}, permuteHeads = 0) => {
    const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd() * (type === 'F32' && shape.length === 1 ? 0.2 : 1) + (shape.length === 1 ? 1 : 0));
    hf.set(name, values);
    const written = permuteHeads ? permuteQK(values, shape[0], permuteHeads) : values;
    const t: TensorToWrite = { name, type, shape, values: written, ...extra };
    tensors.push(t);
    // Encoding works on rows, so decoding the HF-order values directly gives the un-permuted file contents.
    expected.set(name, roundTrip({ ...t, values }));
  };
  const permuted = arch === 'llama';
  add('token_embd.weight', 'Q8_0', [vocab, m.hidden]);
  for (let l = 0; l < m.layers; l++) {
    const p = `blk.${l}.`;
    add(`${p}attn_norm.weight`, 'F32', [m.hidden]);
    add(`${p}attn_q.weight`, 'Q4_0', [qd, m.hidden], { q4_0: 'ggml' }, permuted ? m.heads : 0);
    add(`${p}attn_k.weight`, 'Q4_0', [kvd, m.hidden], { q4_0: 'symmetric' }, permuted ? m.kvHeads : 0);
    add(`${p}attn_v.weight`, 'Q4_1', [kvd, m.hidden]);
    if (arch === 'qwen2') {
      add(`${p}attn_q.bias`, 'F32', [qd]);
      add(`${p}attn_k.bias`, 'F32', [kvd]);
      add(`${p}attn_v.bias`, 'F32', [kvd]);
    }
    add(`${p}attn_output.weight`, 'F16', [m.hidden, qd]);
    add(`${p}ffn_norm.weight`, 'BF16', [m.hidden]);
    add(`${p}ffn_gate.weight`, 'Q8_0', [m.ffn, m.hidden]);
    add(`${p}ffn_up.weight`, 'F32', [m.ffn, m.hidden]);
    add(`${p}ffn_down.weight`, 'Q4_1', [m.hidden, m.ffn]);
  }
  add('output_norm.weight', 'F32', [m.hidden]);
  if (!(opts.tied ?? opts.tokenizer === 'gpt2')) add('output.weight', 'Q8_0', [vocab, m.hidden]);
  return { metadata, tensors, hf, expected };
}
