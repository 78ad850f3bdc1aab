/**
 * The converted-model file: one safetensors file holding a prepared SDLLM model — rotated float
 * tensors, packed integer weights with their scales, per-layer threshold rules (calibrated γ),
 * the method, the model config, the rotation seed and the tokenizer — so it runs with nothing
 * beside it and assembles exactly the model that on-the-fly conversion builds.
 *
 * Tensors: `<linear>.qweight` (U8 [in, bytes per column], column-major packed integers) and
 * `<linear>.scales` (F32 [out, groups]) for quantized matmuls, `<linear>.weight` (F32) for float
 * ones, `<linear>.bias`, the norms and `model.embed_tokens.weight` (F32), and for llama2.c
 * tokenizers `tokenizer.bin` (U8). `__metadata__` holds JSON strings: format, version, config,
 * method, rules, source, tokenizer.
 */
import fs from 'node:fs';
import { fail } from '../errors.js';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, type SafetensorsHeader, type TensorToWrite } from './safetensors.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import type { PreparedModel, PreparedLinear, PreparedLayer, LayerLinear } from '../sdllm/prepare.js';
import { LAYER_LINEARS, linearName } from '../sdllm/prepare.js';
import { bytesPerColumn, type QuantizedWeights, type WeightBits } from '../quant/weights.js';
import type { ModelConfig } from '../model/config.js';
import type { MethodConfig } from '../sdllm/method.js';

export const SDLLM_FORMAT = 'sdllm';
export const SDLLM_FORMAT_VERSION = '1';

/** JSON that keeps ±Infinity (unclipped spike counts) through a round trip. */
const stringify = (v: unknown) => JSON.stringify(v, (_k, x) => (x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : x));
const parse = (s: string) => JSON.parse(s, (_k, x) => (x === 'Infinity' ? Infinity : x === '-Infinity' ? -Infinity : x));

export function isSdllmFile(path: string): boolean {
  try {
    if (!fs.statSync(path).isFile() || path.endsWith('.bin')) return false;
    return readSafetensorsHeader(path).metadata.format === SDLLM_FORMAT;
  } catch {
    return false;
  }
}

const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function writeSdllmFile(path: string, p: PreparedModel): void {
  const c = p.config;
  const tensors: TensorToWrite[] = [];
  const float = (name: string, a: Float32Array, shape: number[]) => tensors.push({ name, dtype: 'F32', shape, data: f32(a) });
  const linear = (pl: PreparedLinear) => {
    if (pl.qw) {
      tensors.push({ name: `${pl.name}.qweight`, dtype: 'U8', shape: [pl.inFeatures, bytesPerColumn(pl.qw.bits, pl.outFeatures)], data: pl.qw.packed });
      float(`${pl.name}.scales`, pl.qw.scales, [pl.outFeatures, pl.qw.nGroups]);
    } else float(`${pl.name}.weight`, pl.weight!, [pl.outFeatures, pl.inFeatures]);
    if (pl.bias) float(`${pl.name}.bias`, pl.bias, [pl.outFeatures]);
  };
  float('model.embed_tokens.weight', p.embed_tokens, [c.vocab_size, c.hidden_size]);
  p.layers.forEach((l, i) => {
    float(`model.layers.${i}.input_layernorm.weight`, l.input_layernorm, [c.hidden_size]);
    float(`model.layers.${i}.post_attention_layernorm.weight`, l.post_attention_layernorm, [c.hidden_size]);
    for (const r of LAYER_LINEARS) linear(l.linears[r]);
  });
  float('model.norm.weight', p.norm, [c.hidden_size]);
  linear(p.lm_head);
  let tokenizer: Record<string, unknown>;
  if (p.tokenizer instanceof HfTokenizer) tokenizer = { kind: 'huggingface', json: p.tokenizer.tokenizerJson, config: p.tokenizer.tokenizerConfig };
  else if (p.tokenizer instanceof Llama2cTokenizer) {
    tokenizer = { kind: 'llama2c' };
    tensors.push({ name: 'tokenizer.bin', dtype: 'U8', shape: [p.tokenizer.bytes.length], data: p.tokenizer.bytes });
  } else throw new Error('writeSdllmFile: unknown tokenizer kind');
  writeSafetensors(path, tensors, {
    format: SDLLM_FORMAT,
    version: SDLLM_FORMAT_VERSION,
    config: stringify(c),
    method: stringify(p.method),
    rules: stringify(p.rules),
    source: stringify(p.source),
    tokenizer: stringify(tokenizer),
  });
}

export function readSdllmFile(path: string): PreparedModel {
  const h = readSafetensorsHeader(path);
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
    return readTensorBytes(info, path);
  };
  const float = (name: string, shape: number[]) => {
    const b = tensor(name, 'F32', shape);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const c = config;
  const d = c.hidden_size, qd = c.num_attention_heads * c.head_dim, kvd = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  const shapes: Record<LayerLinear, [number, number]> = {
    q_proj: [qd, d], k_proj: [kvd, d], v_proj: [kvd, d], o_proj: [d, qd], gate_proj: [I, d], up_proj: [I, d], down_proj: [d, I],
  };
  const linear = (name: string, m: number, n: number, hasBias: boolean): PreparedLinear => {
    const bias = hasBias ? float(`${name}.bias`, [m]) : null;
    if (!h.tensors.has(`${name}.qweight`)) return { name, outFeatures: m, inFeatures: n, qw: null, weight: float(`${name}.weight`, [m, n]), bias };
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
  const tokenizer =
    tok.kind === 'huggingface' && tok.json
      ? new HfTokenizer(tok.json, tok.config ?? {}, c.eos_token_id, path)
      : tok.kind === 'llama2c'
        ? new Llama2cTokenizer(tensor('tokenizer.bin', 'U8', [h.tensors.get('tokenizer.bin')?.shape[0] ?? 0]), c.vocab_size, path)
        : fail(`unknown tokenizer kind ${tok.kind}`, path);
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

export type { SafetensorsHeader };
