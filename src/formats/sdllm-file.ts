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
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, SafetensorsWriter, type SafetensorsHeader, type TensorInfo } from './safetensors.js';
import { mapFileBytes } from '../kernels/native.js';
import { Llama2cTokenizer, spmOptionsFrom } from './llama2c-tokenizer.js';
import type { PreparedModel } from '../sdllm/prepare.js';
import { decodeSdllm, encodeSdllm, isSdllmHeader, sdllmHeaderBytes, sdllmMetadata, sdllmTensorSpecs, sdllmTokenizer, type HeadDType, type TokenizerCodec } from './sdllm-file-core.js';
import type { ModelConfig } from '../model/config.js';
import type { MethodConfig } from '../sdllm/method.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { ThresholdRule } from '../spike/threshold.js';

export { SDLLM_FORMAT, SDLLM_FORMAT_VERSION, encodeSdllm, decodeSdllm, readSdllmBytes, isSdllmHeader, embeddingTensors, layerTensors, headTensors, headDType, type HeadDType, type TokenizerCodec } from './sdllm-file-core.js';

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
  const { tensors, metadata, headerBytes } = encodeSdllm(p, llama2cTokenizerCodec);
  writeSafetensors(path, tensors, metadata, headerBytes);
}

/**
 * A converted-model file written part by part as a converter produces it (embeddings, then each
 * layer, then the head), in the layout encodeSdllm gives a whole model: the same bytes as
 * writeSdllmFile for the same prepared weights, rules and source.
 */
export class SdllmFileWriter {
  private readonly w: SafetensorsWriter;
  private readonly tokenizer: { meta: Record<string, unknown>; bytes: Uint8Array | null };

  /** @param head how lm_head will be stored (headDType of the prepared head). */
  constructor(path: string, private readonly config: ModelConfig, private readonly method: MethodConfig, tokenizer: Tokenizer, head: HeadDType = 'F32') {
    this.tokenizer = sdllmTokenizer(tokenizer, llama2cTokenizerCodec);
    const specs = sdllmTensorSpecs(config, method, this.tokenizer.bytes?.length ?? null, head);
    this.w = new SafetensorsWriter(path, specs, sdllmHeaderBytes(specs, config, method, this.tokenizer.meta));
  }

  write(tensors: [string, Uint8Array][]): void {
    for (const [name, data] of tensors) this.w.write(name, data);
  }

  finish(rules: Record<string, ThresholdRule>, source: Record<string, unknown>): void {
    if (this.tokenizer.bytes) this.w.write('tokenizer.bin', this.tokenizer.bytes);
    this.w.finish(sdllmMetadata(this.config, this.method, this.tokenizer.meta, rules, source));
  }

  abort(): void {
    this.w.abort();
  }
}

export function readSdllmFile(path: string): PreparedModel {
  // Memory-mapped where the native addon can (no copy, no zero-filled buffers to fault in), else read.
  const bytes = (info: TensorInfo) => mapFileBytes(path, info.offset, info.byteLength) ?? readTensorBytes(info, path);
  return decodeSdllm(readSafetensorsHeader(path), bytes, path, { tokenizerCodec: llama2cTokenizerCodec });
}

export type { SafetensorsHeader };
