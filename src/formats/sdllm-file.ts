/**
 * The converted-model file: one safetensors file holding a prepared SDLLM model — rotated float
 * tensors, packed integer weights with their scales, per-layer threshold rules (calibrated γ),
 * the method, the model config, the rotation seed and the tokenizer — so it runs with nothing
 * beside it and assembles exactly the model that on-the-fly conversion builds.
 *
 * The layout and its decoding are in sdllm-file-core.ts (no node: imports, used by the web page
 * too); this module reads and writes files.
 */
import fs from 'node:fs';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, type SafetensorsHeader } from './safetensors.js';
import { Llama2cTokenizer, spmOptionsFrom } from './llama2c-tokenizer.js';
import type { PreparedModel } from '../sdllm/prepare.js';
import { decodeSdllm, encodeSdllm, isSdllmHeader, type TokenizerCodec } from './sdllm-file-core.js';

export { SDLLM_FORMAT, SDLLM_FORMAT_VERSION, encodeSdllm, decodeSdllm, readSdllmBytes, isSdllmHeader, type TokenizerCodec } from './sdllm-file-core.js';

/**
 * llama2.c tokenizers in converted files: {kind: 'llama2c', options} and the tokenizer.bin bytes;
 * options are what a GGUF SPM vocabulary changes from llama2.c's defaults (absent in older files).
 */
export const llama2cTokenizerCodec: TokenizerCodec = {
  encode: (t) => (t instanceof Llama2cTokenizer ? { meta: { kind: 'llama2c', options: t.options }, bytes: t.bytes } : null),
  decode: (meta, bytes, vocabSize, path) => new Llama2cTokenizer(bytes, vocabSize, path, spmOptionsFrom(meta.options)),
};

export function isSdllmFile(path: string): boolean {
  try {
    if (!fs.statSync(path).isFile() || path.endsWith('.bin')) return false;
    return isSdllmHeader(readSafetensorsHeader(path));
  } catch {
    return false;
  }
}

export function writeSdllmFile(path: string, p: PreparedModel): void {
  const { tensors, metadata } = encodeSdllm(p, llama2cTokenizerCodec);
  writeSafetensors(path, tensors, metadata);
}

export function readSdllmFile(path: string): PreparedModel {
  return decodeSdllm(readSafetensorsHeader(path), (info) => readTensorBytes(info, path), path, { tokenizerCodec: llama2cTokenizerCodec });
}

export type { SafetensorsHeader };
