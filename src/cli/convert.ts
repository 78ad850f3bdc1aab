import type { Command } from 'commander';
import fs from 'node:fs';
import { DEFAULT_MODEL } from '../paths.js';
import { fail } from '../errors.js';
import { convertCheckpoint } from '../sdllm/convert.js';
import { describeMethod } from '../sdllm/method.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';

interface ConvertFlags extends MethodFlags {
  model: string;
  out: string;
  json?: boolean;
}

export function registerConvert(program: Command): void {
  const cmd = program
    .command('convert')
    .description('convert a checkpoint into one SDLLM file: rotated, 4-bit packed weights, calibrated γ per layer (one layer at a time, so memory holds one float layer)')
    .option('--model <path>', 'Hugging Face folder or llama2.c .bin', DEFAULT_MODEL)
    .requiredOption('--out <file>', 'converted-model file to write (e.g. model.sdllm)')
    .option('--json', 'print what was written as JSON');
  addMethodOptions(cmd, 'sdllm');
  cmd.action((f: ConvertFlags) => {
    if (f.method === 'fp') fail('--method fp has nothing to convert; choose a quantized or spiking method');
    const t0 = performance.now();
    const { method, calibration } = convertCheckpoint(f.model, f.out, methodLoadOptions(f));
    const bytes = fs.statSync(f.out).size;
    const secs = (performance.now() - t0) / 1000;
    if (f.json) {
      process.stdout.write(JSON.stringify({ out: f.out, bytes, seconds: secs, method, calibration }, null, 2) + '\n');
      return;
    }
    process.stdout.write(`${describeMethod(method)}\n`);
    if (calibration.length) {
      const gammas = calibration.map((c) => c.gamma);
      process.stdout.write(`calibrated γ on ${calibration.length} layer inputs: min ${Math.min(...gammas)}, max ${Math.max(...gammas)}\n`);
    }
    process.stdout.write(`wrote ${f.out} (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${secs.toFixed(1)} s\n`);
  });
}
