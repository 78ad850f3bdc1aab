/**
 * One call from a path and a method to a runnable model: a float checkpoint is prepared
 * (rotated, quantized) and, for γ-SQP methods, calibrated; a converted SDLLM file is loaded as is.
 */
import '../kernels/node.js'; // loading from disk happens in Node: use the native kernels there
import fs from 'node:fs';
import type { LlamaModel } from '../model/llama.js';
import { openCheckpoint, loadFloatWeights, type LoadOptions } from '../model/load.js';
import { generate } from '../generate/generate.js';
import { buildModel } from '../model/build.js';
import { fail } from '../errors.js';
import { DEFAULT_MODEL } from '../paths.js';
import { resolveMethod, type MethodConfig, type MethodOverrides } from './method.js';
import { prepareModel, assembleModel, type PreparedModel } from './prepare.js';
import { calibrateGamma, type LayerCalibration } from './calibrate.js';
import { isSdllmFile, readSdllmFile } from '../formats/sdllm-file.js';

export interface CalibrationSource {
  /** A text file (UTF-8, or JSONL with a "text" field); default: text the float model writes itself. */
  file?: string;
  tokens?: number;
  rows?: number;
  grid?: number[];
}

export interface MethodLoadOptions extends LoadOptions {
  method?: string | MethodConfig;
  overrides?: MethodOverrides;
  calibration?: CalibrationSource;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface LoadedMethodModel {
  model: LlamaModel;
  prepared: PreparedModel | null;
  method: MethodConfig;
  calibration: LayerCalibration[];
}

export const DEFAULT_CALIBRATION_TOKENS = 2048;

export function loadMethodModel(path: string = DEFAULT_MODEL, opts: MethodLoadOptions = {}): LoadedMethodModel {
  if (isSdllmFile(path)) {
    const prepared = readSdllmFile(path);
    if (typeof opts.method === 'string' && opts.method !== prepared.method.method)
      fail(`this file was converted with method ${prepared.method.method}; convert again for ${opts.method}`, path);
    // Everything but the execution mode is baked into the file's weights and rules.
    const { execution, ...baked } = opts.overrides ?? {};
    const given = Object.entries(baked).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length) fail(`${given.join(', ')} cannot change a converted model (they are baked in); convert again instead`, path);
    if (execution) prepared.method.execution = execution;
    return { model: assembleModel(prepared), prepared, method: prepared.method, calibration: [] };
  }
  const method = typeof opts.method === 'object' ? opts.method : resolveMethod(opts.method ?? 'fp', opts.overrides);
  const ck = openCheckpoint(path, opts);
  const source = { format: ck.format, path: ck.path };
  if (method.method === 'fp' && method.rotate === 'none')
    return { model: buildModel(ck.config, ck.tokenizer, loadFloatWeights(ck), undefined, { ...source, method }), prepared: null, method, calibration: [] };
  const calibIds = method.calibrate ? calibrationIds(path, opts) : [];
  const prepared = prepareModel(ck.config, ck.tokenizer, loadFloatWeights(ck), method, source);
  const model = assembleModel(prepared);
  let calibration: LayerCalibration[] = [];
  if (method.calibrate) {
    calibration = calibrateGamma(model, method, calibIds, {
      rows: opts.calibration?.rows,
      grid: opts.calibration?.grid,
      onProgress: (d, t, what) => opts.onProgress?.(`calibrating γ (${what})`, d, t),
    });
    for (const c of calibration) for (const name of c.linears) prepared.rules[name] = { kind: 'quantile', gamma: c.gamma };
    prepared.source.calibration = calibration;
  }
  return { model, prepared, method, calibration };
}

/**
 * Calibration tokens: the first N of the user's text, or — with no data at all, keeping the
 * method plug-and-play — N tokens the float model samples itself from BOS (seeded).
 */
export function calibrationIds(path: string, opts: MethodLoadOptions): number[] {
  const n = opts.calibration?.tokens ?? DEFAULT_CALIBRATION_TOKENS;
  const file = opts.calibration?.file;
  const ck = openCheckpoint(path, opts);
  if (file) {
    const ids = ck.tokenizer.encode(readText(file), { add_special_tokens: false }).slice(0, n);
    if (ids.length < 2) fail('calibration text has fewer than 2 tokens', file);
    return ids;
  }
  const model = buildModel(ck.config, ck.tokenizer, loadFloatWeights(ck));
  const ids: number[] = [];
  const bos = ck.tokenizer.bosTokenId ?? ck.config.bos_token_id ?? 0;
  const seqLen = Math.min(512, ck.config.max_position_embeddings);
  for (let seed = 0; ids.length < n; seed++) {
    opts.onProgress?.('writing calibration text', ids.length, n);
    const res = generate(model, [bos], { max_new_tokens: Math.min(seqLen - 1, n - ids.length), do_sample: true, temperature: 1, seed, eos_token_id: [] });
    ids.push(...res.sequence);
  }
  return ids.slice(0, n);
}

/** Reads a UTF-8 text file, or the "text" fields of a JSONL file joined by blank lines. */
export function readText(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    fail('cannot read the file', file);
  }
  if (!file.endsWith('.jsonl')) return text;
  const parts: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      fail(`line ${i + 1} is not valid JSON`, file);
    }
    const t = (obj as { text?: unknown }).text;
    if (typeof t !== 'string') fail(`line ${i + 1} has no "text" string field`, file);
    parts.push(t);
  });
  return parts.join('\n\n');
}
