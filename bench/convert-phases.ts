/**
 * Where one layer's conversion time goes (docs/SCALE.md): reading (BF16 → float32), folding and
 * rotating, quantizing, and γ calibration (running the layer over the calibration tokens, then the
 * grid search), timed on layer 0 of a checkpoint.
 *   node dist/bench/convert-phases.js --model DIR --calib-data FILE [--calib-tokens 256]
 */
import { Command } from 'commander';
import { openCheckpoint } from '../src/model/load.js';
import { readEmbedding, readLayerWeights } from '../src/model/weights.js';
import { resolveMethod } from '../src/sdllm/method.js';
import { layerAssembler, methodRotations, prepareLayer } from '../src/sdllm/prepare.js';
import { rotateLayer } from '../src/quant/rotate.js';
import { LayerwiseCalibration } from '../src/sdllm/calibrate.js';
import { calibrationIds } from '../src/sdllm/load.js';

const f = new Command()
  .requiredOption('--model <dir>', 'checkpoint')
  .requiredOption('--calib-data <file>', 'calibration text')
  .option('--calib-tokens <n>', 'calibration tokens', Number, 256)
  .parse()
  .opts<{ model: string; calibData: string; calibTokens: number }>();
const ck = openCheckpoint(f.model);
const c = ck.config, method = resolveMethod('sdllm');
const ids = calibrationIds(f.model, { calibration: { file: f.calibData, tokens: f.calibTokens } });
const rot = methodRotations(c, method)!;
const cal = new LayerwiseCalibration(c, readEmbedding(ck.tensors, c), method, ids);
const seconds: Record<string, number> = {};
const time = <T>(name: string, fn: () => T): T => {
  const t0 = performance.now();
  const r = fn();
  seconds[name] = Number(((performance.now() - t0) / 1000).toFixed(2));
  return r;
};
const lw = time('read', () => readLayerWeights(ck.tensors, c, 0));
time('fold + rotate', () => rotateLayer(lw, c, rot));
const pl = time('quantize', () => prepareLayer(lw, 0, c, method, null));
time('calibrate γ', () => cal.layer(layerAssembler(c, method, {}).layer(pl)));
process.stdout.write(`layer 0 of ${f.model}, ${ids.length} calibration tokens: ${JSON.stringify(seconds)}\n`);
