/**
 * A checkpoint seen as named tensors read one at a time, so the model builder is the same for
 * every file format and never holds more than the tensor it is converting besides the model.
 */
import nodePath from 'node:path';
import fs from 'node:fs';
import { fail } from '../errors.js';
import { readSafetensorsHeader, readTensorBF16, readTensorF32, type TensorInfo } from './safetensors.js';
import { readJsonFile } from './hf-config.js';
import { readLlama2cTensor, type Llama2cCheckpoint } from './llama2c.js';

export interface TensorSource {
  /** Where the tensors come from, for messages. */
  readonly path: string;
  has(name: string): boolean;
  shape(name: string): number[];
  dtype(name: string): string;
  readF32(name: string): Float32Array;
  /** The raw words of a tensor stored as BF16 (sources that can hold bf16 tensors have it). */
  readBF16?(name: string): Uint16Array;
  names(): string[];
  /** Bytes of tensor data on disk. */
  readonly byteSize: number;
}

/** A Hugging Face folder: one model.safetensors, or shards listed by model.safetensors.index.json. */
export function hfTensorSource(dir: string): TensorSource {
  const index = nodePath.join(dir, 'model.safetensors.index.json');
  const single = nodePath.join(dir, 'model.safetensors');
  const byName = new Map<string, { info: TensorInfo; file: string }>();
  // Messages about tensors name the file that lists them: the index, or the one model.safetensors.
  let where = dir;
  if (fs.existsSync(index)) {
    where = index;
    const idx = readJsonFile(index);
    const map = idx.weight_map;
    if (typeof map !== 'object' || map === null) fail('has no "weight_map" object', index);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) fail(`weight_map names an invalid shard ${JSON.stringify(f)}`, index);
      const file = nodePath.join(dir, f);
      if (!fs.existsSync(file)) fail(`shard ${f} listed in the index is missing`, index);
      for (const info of readSafetensorsHeader(file).tensors.values()) byName.set(info.name, { info, file });
    }
    for (const [name, f] of Object.entries(map as Record<string, string>))
      if (byName.get(name)?.file !== nodePath.join(dir, f)) fail(`tensor ${name} is listed in ${f} but that shard does not contain it`, index);
  } else if (fs.existsSync(single)) {
    where = single;
    for (const info of readSafetensorsHeader(single).tensors.values()) byName.set(info.name, { info, file: single });
  } else {
    fail('no model.safetensors or model.safetensors.index.json in this folder', dir);
  }
  const get = (name: string) => byName.get(name) ?? fail(`tensor ${name} is missing from the checkpoint`, where);
  let bytes = 0;
  for (const { info } of byName.values()) bytes += info.byteLength;
  return {
    path: where,
    has: (n) => byName.has(n),
    shape: (n) => get(n).info.shape,
    dtype: (n) => get(n).info.dtype,
    readF32: (n) => {
      const { info, file } = get(n);
      return readTensorF32(info, file);
    },
    readBF16: (n) => {
      const { info, file } = get(n);
      return readTensorBF16(info, file);
    },
    names: () => [...byName.keys()],
    byteSize: bytes,
  };
}

export function llama2cTensorSource(ckpt: Llama2cCheckpoint): TensorSource {
  const get = (name: string) => ckpt.tensors.get(name) ?? fail(`tensor ${name} is missing`, ckpt.path);
  let bytes = 0;
  for (const t of ckpt.tensors.values()) bytes += t.shape.reduce((a, b) => a * b, 1) * 4;
  return {
    path: ckpt.path,
    has: (n) => ckpt.tensors.has(n),
    shape: (n) => get(n).shape,
    dtype: () => 'F32',
    readF32: (n) => readLlama2cTensor(ckpt, get(n)),
    names: () => [...ckpt.tensors.keys()],
    byteSize: bytes,
  };
}
