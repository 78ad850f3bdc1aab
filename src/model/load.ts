/**
 * loadModel(path): finds out what a path holds (Hugging Face folder, llama2.c checkpoint, GGUF) and
 * loads it as a float model. Every file is validated; problems are SdllmErrors naming the file.
 */
import '../kernels/node.js'; // loading from disk happens in Node: use the native kernels there
import fs from 'node:fs';
import nodePath from 'node:path';
import { fail } from '../errors.js';
import { DEFAULT_MODEL } from '../paths.js';
import { parseHfConfig, readJsonFile } from '../formats/hf-config.js';
import { loadHfTokenizer } from '../formats/hf-tokenizer.js';
import { readLlama2cCheckpoint } from '../formats/llama2c.js';
import { Llama2cTokenizer } from '../formats/llama2c-tokenizer.js';
import { hfTensorSource, llama2cTensorSource, type TensorSource } from '../formats/tensor-source.js';
import { openGguf } from '../formats/gguf-model.js';
import type { ModelConfig } from './config.js';
import type { Tokenizer } from './tokenizer.js';
import { readFloatWeights, type FloatWeights } from './weights.js';
import { buildModel, type LinearFactory } from './build.js';
import type { LlamaModel } from './llama.js';

export interface LoadOptions {
  /** llama2.c tokenizer file; by default tokenizer.bin or the one tok*.bin beside the checkpoint. */
  tokenizer?: string;
}

export interface Checkpoint {
  format: 'huggingface' | 'llama2c' | 'gguf';
  path: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  tensors: TensorSource;
}

/** Opens a checkpoint: config, tokenizer and a tensor source, without reading weights yet. */
export function openCheckpoint(path: string = DEFAULT_MODEL, opts: LoadOptions = {}): Checkpoint {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    fail('no such file or folder', path);
  }
  if (stat.isDirectory()) {
    const cfgPath = nodePath.join(path, 'config.json');
    if (fs.existsSync(cfgPath)) {
      const config = parseHfConfig(readJsonFile(cfgPath), cfgPath);
      const tensors = hfTensorSource(path);
      const tokenizer = loadHfTokenizer(path, config.eos_token_id);
      return { format: 'huggingface', path, config, tokenizer, tensors };
    }
    const bins = fs.readdirSync(path).filter((f) => f.endsWith('.bin') && !/^tok/.test(f));
    if (bins.length === 1) return openLlama2c(nodePath.join(path, bins[0]), opts);
    fail('is neither a Hugging Face model folder (no config.json) nor a folder with one llama2.c .bin checkpoint', path);
  }
  if (path.endsWith('.bin')) return openLlama2c(path, opts);
  if (path.endsWith('.gguf')) {
    const { config, tokenizer, tensors } = openGguf(path);
    return { format: 'gguf', path, config, tokenizer, tensors };
  }
  fail('unrecognised model file (expected a Hugging Face folder, a llama2.c .bin or a .gguf)', path);
}

function openLlama2c(path: string, opts: LoadOptions): Checkpoint {
  const ckpt = readLlama2cCheckpoint(path);
  const tokPath = opts.tokenizer ?? findLlama2cTokenizer(path);
  const tokenizer = Llama2cTokenizer.fromFile(tokPath, ckpt.config.vocab_size);
  return { format: 'llama2c', path, config: ckpt.config, tokenizer, tensors: llama2cTensorSource(ckpt) };
}

function findLlama2cTokenizer(modelPath: string): string {
  const dir = nodePath.dirname(modelPath);
  if (fs.existsSync(nodePath.join(dir, 'tokenizer.bin'))) return nodePath.join(dir, 'tokenizer.bin');
  const toks = fs.readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f));
  if (toks.length === 1) return nodePath.join(dir, toks[0]);
  fail('no tokenizer found beside the checkpoint (tokenizer.bin or one tok*.bin); pass --tokenizer', modelPath);
}

export function loadFloatWeights(ckpt: Checkpoint): FloatWeights {
  return readFloatWeights(ckpt.tensors, ckpt.config);
}

/** Loads a model for float inference (method `fp`). */
export function loadModel(path: string = DEFAULT_MODEL, opts: LoadOptions & { linear?: LinearFactory } = {}): LlamaModel {
  const ckpt = openCheckpoint(path, opts);
  return buildModel(ckpt.config, ckpt.tokenizer, loadFloatWeights(ckpt), opts.linear, { format: ckpt.format, path: ckpt.path });
}
