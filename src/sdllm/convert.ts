/**
 * `sdllm convert` one decoder layer at a time: each layer is read, rotated, quantized, calibrated
 * (γ, on calibration hidden states carried from layer to layer) and written before the next is
 * read, so memory holds one layer of float32 weights — plus the embeddings at the start and the
 * head at the end — never the whole model. The file is the same bytes as writing the model
 * prepared and calibrated in memory (loadMethodModel + writeSdllmFile; tested).
 */
import { fail } from '../errors.js';
import { openCheckpoint, type Checkpoint } from '../model/load.js';
import { headIsBF16, readEmbedding, readFinalNorm, readHead, readHeadBF16, readLayerWeights } from '../model/weights.js';
import { rotateEmbeddings, type Rotations } from '../quant/rotate.js';
import { SdllmFileWriter, embeddingTensors, headTensors, isSdllmFile, layerTensors } from '../formats/sdllm-file.js';
import type { ThresholdRule } from '../spike/threshold.js';
import { resolveMethod, type MethodConfig } from './method.js';
import { layerAssembler, methodRotations, prepareHead, prepareLayer } from './prepare.js';
import { LayerwiseCalibration, type LayerCalibration } from './calibrate.js';
import { calibrationIds, type MethodLoadOptions } from './load.js';

export interface ConvertOptions extends MethodLoadOptions {
  /**
   * Calibration text the model writes itself needs the whole float model in memory: above this
   * many bytes of float32 weights, calibration data (or a fixed γ) is required instead.
   */
  selfCalibrationMaxBytes?: number;
}

export interface ConvertResult {
  method: MethodConfig;
  calibration: LayerCalibration[];
}

export const SELF_CALIBRATION_MAX_BYTES = 4 * 2 ** 30;

export function convertCheckpoint(path: string, out: string, opts: ConvertOptions = {}): ConvertResult {
  if (isSdllmFile(path)) fail('is already a converted model; convert its original checkpoint instead', path);
  const method = typeof opts.method === 'object' ? opts.method : resolveMethod(opts.method ?? 'sdllm', opts.overrides);
  const ck = openCheckpoint(path, opts);
  const c = ck.config;
  const max = opts.selfCalibrationMaxBytes ?? SELF_CALIBRATION_MAX_BYTES;
  if (method.calibrate && !opts.calibration?.file && floatBytes(ck) > max)
    fail(
      `calibrating γ on text the model writes itself needs the whole float model in memory (${(floatBytes(ck) / 1e9).toFixed(1)} GB as float32, more than ${(max / 1e9).toFixed(1)} GB); pass --calib-data FILE, or a fixed --gamma`,
      path,
    );
  const ids = method.calibrate ? calibrationIds(path, opts) : [];

  const rot = methodRotations(c, method);
  // A float head of a bf16 checkpoint is kept as stored (prepareHead); the file layout says so up front.
  const headBF16 = method.lmHead === 'float' && headIsBF16(ck.tensors, c);
  const writer = new SdllmFileWriter(out, c, method, ck.tokenizer, headBF16 ? 'BF16' : 'F32');
  try {
    const cal = writeEmbeddings(ck, method, rot, ids, opts, writer);
    const assemble = layerAssembler(c, method, {});
    const rules: Record<string, ThresholdRule> = {};
    const calibration: LayerCalibration[] = [];
    const L = c.num_hidden_layers;
    for (let l = 0; l < L; l++) {
      opts.onProgress?.('converting layers', l, L);
      const pl = prepareLayer(readLayerWeights(ck.tensors, c, l), l, c, method, rot);
      writer.write(layerTensors(pl, l));
      for (const r of cal?.layer(assemble.layer(pl)) ?? []) {
        calibration.push(r);
        for (const name of r.linears) rules[name] = { kind: 'quantile', gamma: r.gamma };
      }
    }
    opts.onProgress?.('converting layers', L, L);
    const norm = readFinalNorm(ck.tensors, c);
    const lmHead = prepareHead(headBF16 ? readHeadBF16(ck.tensors, c)! : readHead(ck.tensors, c), norm, c, method, rot);
    writer.write(headTensors(norm, lmHead));
    const source = { format: ck.format, path: ck.path };
    writer.finish(rules, method.calibrate ? { ...source, calibration } : source);
    return { method, calibration };
  } catch (e) {
    writer.abort();
    throw e;
  }
}

/**
 * Writes the (rotated) embeddings and, when γ is calibrated, starts the calibration from their
 * rows of the calibration tokens; the embedding array is dropped on return.
 */
function writeEmbeddings(ck: Checkpoint, method: MethodConfig, rot: Rotations | null, ids: number[], opts: ConvertOptions, writer: SdllmFileWriter): LayerwiseCalibration | null {
  const embed = readEmbedding(ck.tensors, ck.config);
  if (rot) rotateEmbeddings(embed, ck.config, rot);
  writer.write(embeddingTensors(embed));
  return method.calibrate ? new LayerwiseCalibration(ck.config, embed, method, ids, { rows: opts.calibration?.rows, grid: opts.calibration?.grid }) : null;
}

/** Bytes of the checkpoint's weights as float32. */
function floatBytes(ck: Checkpoint): number {
  return ck.tensors.names().reduce((a, n) => a + ck.tensors.shape(n).reduce((x, y) => x * y, 1) * 4, 0);
}
