/**
 * The converted-model file without a file system (browser-safe: no node: imports): what its
 * tensors and metadata are (encodeSdllm), and a PreparedModel from a parsed header and a way to
 * get each tensor's bytes (decodeSdllm) or from the whole file in memory (readSdllmBytes).
 * sdllm-file.ts reads and writes such files with node:fs; the web page decodes fetched bytes.
 *
 * Tensors: `<linear>.qweight` (U8 [in, bytes per column], column-major packed integers) and
 * `<linear>.scales` (F32 [out, groups]) for quantized matmuls, `<linear>.weight` (F32) for float
 * ones, `<linear>.bias`, the norms and `model.embed_tokens.weight` (F32), and for llama2.c
 * tokenizers `tokenizer.bin` (U8). `__metadata__` holds JSON strings: format, version, config,
 * method, rules, source, tokenizer.
 */
import { fail } from '../errors.js';
import { alignedHeaderBytes, readSafetensorsBytes, safetensorsHeaderJson, tensorBytesOf, type SafetensorsHeader, type TensorInfo, type TensorSpec, type TensorToWrite } from './safetensors-core.js';
import { HfTokenizer } from './hf-tokenizer-core.js';
import type { PreparedModel, PreparedLinear, PreparedLayer, LayerLinear } from '../sdllm/prepare.js';
import { LAYER_LINEARS, linearName } from '../sdllm/prepare.js';
import { bytesPerColumn, type QuantizedWeights, type WeightBits } from '../quant/weights.js';
import type { ModelConfig } from '../model/config.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { MethodConfig } from '../sdllm/method.js';
import type { ThresholdRule } from '../spike/threshold.js';

export const SDLLM_FORMAT = 'sdllm';
export const SDLLM_FORMAT_VERSION = '1';

/** JSON that keeps ±Infinity (unclipped spike counts) through a round trip. */
const stringify = (v: unknown) => JSON.stringify(v, (_k, x) => (x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : x));
const parse = (s: string) => JSON.parse(s, (_k, x) => (x === 'Infinity' ? Infinity : x === '-Infinity' ? -Infinity : x));

const f32 = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Whether a parsed safetensors header is a converted-model file's. */
export function isSdllmHeader(h: SafetensorsHeader): boolean {
  return h.metadata.format === SDLLM_FORMAT;
}

/**
 * Tokenizers other than Hugging Face's (llama2.c / SentencePiece vocabularies) travel as JSON
 * metadata plus a `tokenizer.bin` tensor; their class is Node-side (sdllm-file.ts supplies this).
 */
export interface TokenizerCodec {
  /** The metadata ({kind, ...}) and bytes of a tokenizer, or null when it is not one this codec knows. */
  encode(t: Tokenizer): { meta: Record<string, unknown> & { kind: string }; bytes: Uint8Array } | null;
  /** The tokenizer back from its metadata and bytes. */
  decode(meta: Record<string, unknown> & { kind: string }, bytes: Uint8Array, vocabSize: number, path: string): Tokenizer;
}

/** Quantized layout of a linear of `method`: bits, effective group size and groups, or null when it stays float. */
function quantLayout(m: MethodConfig, inF: number, quantized: boolean): { bits: WeightBits; nGroups: number } | null {
  if (!quantized || m.weightBits === null) return null;
  return { bits: m.weightBits, nGroups: Math.ceil(inF / Math.min(m.groupSize, inF)) };
}

/**
 * Names, dtypes and shapes of a converted file's tensors, in file order. They follow from the
 * config, the method and the tokenizer's size alone, so a converter lays the file out before it
 * converts anything; encodeSdllm fills the same layout from a whole prepared model.
 */
export function sdllmTensorSpecs(c: ModelConfig, m: MethodConfig, tokenizerBytes: number | null, head: HeadDType = 'F32'): TensorSpec[] {
  const specs: TensorSpec[] = [];
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const shapes: Record<LayerLinear, [number, number]> = {
    q_proj: [qd, d], k_proj: [kvd, d], v_proj: [kvd, d], o_proj: [d, qd], gate_proj: [I, d], up_proj: [I, d], down_proj: [d, I],
  };
  const linear = (name: string, outF: number, inF: number, quantized: boolean, bias: boolean, dtype: HeadDType = 'F32') => {
    const q = quantLayout(m, inF, quantized);
    if (q) specs.push({ name: `${name}.qweight`, dtype: 'U8', shape: [inF, bytesPerColumn(q.bits, outF)] }, { name: `${name}.scales`, dtype: 'F32', shape: [outF, q.nGroups] });
    else specs.push({ name: `${name}.weight`, dtype, shape: [outF, inF] });
    if (bias) specs.push({ name: `${name}.bias`, dtype: 'F32', shape: [outF] });
  };
  specs.push({ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [c.vocab_size, d] });
  for (let l = 0; l < c.num_hidden_layers; l++) {
    specs.push({ name: `model.layers.${l}.input_layernorm.weight`, dtype: 'F32', shape: [d] }, { name: `model.layers.${l}.post_attention_layernorm.weight`, dtype: 'F32', shape: [d] });
    for (const r of LAYER_LINEARS) linear(linearName(l, r), shapes[r][0], shapes[r][1], true, c.attention_bias && (r === 'q_proj' || r === 'k_proj' || r === 'v_proj'));
  }
  specs.push({ name: 'model.norm.weight', dtype: 'F32', shape: [d] });
  linear('lm_head', c.vocab_size, d, m.lmHead === 'spiking', false, head);
  if (tokenizerBytes !== null) specs.push({ name: 'tokenizer.bin', dtype: 'U8', shape: [tokenizerBytes] });
  return specs;
}

/**
 * How lm_head is stored: F32 (norm and rotation folded in, or quantized) or, for a float head of a
 * bf16 checkpoint, its BF16 words as the checkpoint has them, with the final norm weight stored
 * unfolded in model.norm.weight (prepareHead).
 */
export type HeadDType = 'F32' | 'BF16';

export function headDType(lmHead: PreparedLinear): HeadDType {
  return lmHead.weight instanceof Uint16Array ? 'BF16' : 'F32';
}

/** The tensors of one prepared linear, by name, in file order. */
function linearTensors(pl: PreparedLinear): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = pl.qw
    ? [[`${pl.name}.qweight`, pl.qw.packed], [`${pl.name}.scales`, f32(pl.qw.scales)]]
    : [[`${pl.name}.weight`, f32(pl.weight!)]];
  if (pl.bias) out.push([`${pl.name}.bias`, f32(pl.bias)]);
  return out;
}

export function embeddingTensors(embed: Float32Array): [string, Uint8Array][] {
  return [['model.embed_tokens.weight', f32(embed)]];
}

export function layerTensors(l: PreparedLayer, i: number): [string, Uint8Array][] {
  return [
    [`model.layers.${i}.input_layernorm.weight`, f32(l.input_layernorm)],
    [`model.layers.${i}.post_attention_layernorm.weight`, f32(l.post_attention_layernorm)],
    ...LAYER_LINEARS.flatMap((r) => linearTensors(l.linears[r])),
  ];
}

export function headTensors(norm: Float32Array, lmHead: PreparedLinear): [string, Uint8Array][] {
  return [['model.norm.weight', f32(norm)], ...linearTensors(lmHead)];
}

/** How a tokenizer travels in a converted file: metadata, and for non-Hugging Face ones the tokenizer.bin bytes. */
export function sdllmTokenizer(t: Tokenizer, codec?: TokenizerCodec): { meta: Record<string, unknown>; bytes: Uint8Array | null } {
  if (t instanceof HfTokenizer) return { meta: { kind: 'huggingface', json: t.tokenizerJson, config: t.tokenizerConfig }, bytes: null };
  const other = codec?.encode(t);
  if (!other) throw new Error('writeSdllmFile: unknown tokenizer kind');
  return { meta: other.meta, bytes: other.bytes };
}

export function sdllmMetadata(c: ModelConfig, m: MethodConfig, tokenizerMeta: Record<string, unknown>, rules: Record<string, ThresholdRule>, source: Record<string, unknown>): Record<string, string> {
  return {
    format: SDLLM_FORMAT,
    version: SDLLM_FORMAT_VERSION,
    config: stringify(c),
    method: stringify(m),
    rules: stringify(rules),
    source: stringify(source),
    tokenizer: stringify(tokenizerMeta),
  };
}

/**
 * Header space of a converted file: the header without rules and source, plus room for them
 * (the calibrated γ and calibration record of every linear, the source path), known before
 * calibration. Every writer reserves the same, so a file is the same bytes however it was made.
 */
export function sdllmHeaderBytes(specs: readonly TensorSpec[], c: ModelConfig, m: MethodConfig, tokenizerMeta: Record<string, unknown>): number {
  const linears = LAYER_LINEARS.length * c.num_hidden_layers + 1;
  return alignedHeaderBytes(safetensorsHeaderJson(specs, sdllmMetadata(c, m, tokenizerMeta, {}, {}))) + 16384 + 512 * linears;
}

/** The tensors, metadata and header space of a converted-model file for `p`, in file order. */
export function encodeSdllm(p: PreparedModel, codec?: TokenizerCodec): { tensors: TensorToWrite[]; metadata: Record<string, string>; headerBytes: number } {
  const c = p.config;
  const tok = sdllmTokenizer(p.tokenizer, codec);
  const data = new Map([
    ...embeddingTensors(p.embed_tokens),
    ...p.layers.flatMap((l, i) => layerTensors(l, i)),
    ...headTensors(p.norm, p.lm_head),
    ...(tok.bytes ? ([['tokenizer.bin', tok.bytes]] as [string, Uint8Array][]) : []),
  ]);
  const specs = sdllmTensorSpecs(c, p.method, tok.bytes?.length ?? null, headDType(p.lm_head));
  if (data.size !== specs.length || specs.some((s) => !data.has(s.name)))
    throw new Error(`encodeSdllm: the prepared model's ${data.size} tensors do not match the layout's ${specs.length}`);
  const tensors = specs.map((s) => ({ ...s, data: data.get(s.name)! }));
  return { tensors, metadata: sdllmMetadata(c, p.method, tok.meta, p.rules, p.source), headerBytes: sdllmHeaderBytes(specs, c, p.method, tok.meta) };
}

export interface DecodeSdllmOptions {
  /** Rebuilds tokenizers stored as metadata + tokenizer.bin (Node: llama2.c's); without it such files are refused. */
  tokenizerCodec?: TokenizerCodec;
}

/**
 * A PreparedModel from a converted file's parsed header; `bytes` returns a tensor's bytes (a
 * fresh buffer or a view into the file). `path` names the file in messages and in `source.converted`.
 */
export function decodeSdllm(h: SafetensorsHeader, bytes: (info: TensorInfo) => Uint8Array, path: string, opts: DecodeSdllmOptions = {}): PreparedModel {
  const meta = h.metadata;
  if (meta.format !== SDLLM_FORMAT) fail('not an sdllm converted-model file (no format=sdllm metadata)', path);
  if (meta.version !== SDLLM_FORMAT_VERSION) fail(`sdllm file version ${meta.version} is not supported (this sdllm reads version ${SDLLM_FORMAT_VERSION})`, path);
  const json = (key: string) => {
    if (meta[key] === undefined) fail(`metadata "${key}" is missing`, path);
    try {
      return parse(meta[key]);
    } catch {
      fail(`metadata "${key}" is not valid JSON`, path);
    }
  };
  const config = json('config') as ModelConfig;
  const method = json('method') as MethodConfig;
  const tok = json('tokenizer') as { kind: string; json?: Record<string, unknown>; config?: Record<string, unknown> };
  const tensor = (name: string, dtype: string, shape: number[]) => {
    const info = h.tensors.get(name) ?? fail(`tensor ${name} is missing`, path);
    if (info.dtype !== dtype || info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))
      fail(`tensor ${name} is ${info.dtype} [${info.shape}], expected ${dtype} [${shape}]`, path);
    return bytes(info);
  };
  const float = (name: string, shape: number[]) => {
    let b = tensor(name, 'F32', shape);
    if (b.byteOffset % 4 !== 0) b = b.slice(); // a typed-array view needs 4-byte alignment
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const c = config;
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const shapes: Record<LayerLinear, [number, number]> = {
    q_proj: [qd, d], k_proj: [kvd, d], v_proj: [kvd, d], o_proj: [d, qd], gate_proj: [I, d], up_proj: [I, d], down_proj: [d, I],
  };
  const bf16 = (name: string, shape: number[]) => {
    let b = tensor(name, 'BF16', shape);
    if (b.byteOffset % 2 !== 0) b = b.slice();
    return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  };
  const linear = (name: string, m: number, n: number, hasBias: boolean): PreparedLinear => {
    const bias = hasBias ? float(`${name}.bias`, [m]) : null;
    if (!h.tensors.has(`${name}.qweight`)) {
      const weight = h.tensors.get(`${name}.weight`)?.dtype === 'BF16' && name === 'lm_head' ? bf16(`${name}.weight`, [m, n]) : float(`${name}.weight`, [m, n]);
      return { name, outFeatures: m, inFeatures: n, qw: null, weight, bias };
    }
    const bits = method.weightBits as WeightBits;
    const groupSize = Math.min(method.groupSize, n);
    const nGroups = Math.ceil(n / groupSize);
    const qw: QuantizedWeights = {
      bits, groupSize, rows: m, cols: n, nGroups,
      packed: tensor(`${name}.qweight`, 'U8', [n, bytesPerColumn(bits, m)]),
      scales: float(`${name}.scales`, [m, nGroups]),
    };
    return { name, outFeatures: m, inFeatures: n, qw, weight: null, bias };
  };
  const layers: PreparedLayer[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const linears = {} as Record<LayerLinear, PreparedLinear>;
    for (const r of LAYER_LINEARS) linears[r] = linear(linearName(l, r), shapes[r][0], shapes[r][1], c.attention_bias && (r === 'q_proj' || r === 'k_proj' || r === 'v_proj'));
    layers.push({
      input_layernorm: float(`model.layers.${l}.input_layernorm.weight`, [d]),
      post_attention_layernorm: float(`model.layers.${l}.post_attention_layernorm.weight`, [d]),
      linears,
    });
  }
  let tokenizer: Tokenizer;
  if (tok.kind === 'huggingface' && tok.json) tokenizer = new HfTokenizer(tok.json, tok.config ?? {}, c.eos_token_id, path);
  else if (tok.kind === 'llama2c') {
    if (!opts.tokenizerCodec) fail('this file embeds a llama2.c tokenizer, which is not available here', path);
    tokenizer = opts.tokenizerCodec.decode(tok, tensor('tokenizer.bin', 'U8', [h.tensors.get('tokenizer.bin')?.shape[0] ?? 0]), c.vocab_size, path);
  } else fail(`unknown tokenizer kind ${tok.kind}`, path);
  return {
    config, tokenizer, method,
    embed_tokens: float('model.embed_tokens.weight', [c.vocab_size, d]),
    norm: float('model.norm.weight', [d]),
    layers,
    lm_head: linear('lm_head', c.vocab_size, d, false),
    rules: json('rules'),
    source: { ...json('source'), converted: path },
  };
}

/** A PreparedModel from a whole converted file in memory (tensors are views into `bytes`). */
export function readSdllmBytes(bytes: Uint8Array, path: string, opts: DecodeSdllmOptions = {}): PreparedModel {
  const h = readSafetensorsBytes(bytes, path);
  return decodeSdllm(h, (info) => tensorBytesOf(bytes, info), path, opts);
}
