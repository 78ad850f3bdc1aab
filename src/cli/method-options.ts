/** The --method flags every model-running command shares, and turning them into load options. */
import { Option, type Command } from 'commander';
import { METHOD_NAMES, type MethodOverrides, type OnlineRotationSite } from '../sdllm/method.js';
import type { MethodLoadOptions } from '../sdllm/load.js';
import { setBackend, registeredBackends, setThreads, type BackendName } from '../kernels/node.js';
import { fail } from '../errors.js';
import { floatArg, intArg } from './options.js';
import { ProgressBar } from './progress.js';

export interface MethodFlags {
  method?: string;
  timeSteps?: number;
  gamma?: number;
  thresholdRule?: MethodOverrides['thresholdRule'];
  weightBits?: number;
  groupSize?: number;
  rotate?: 'hadamard' | 'none';
  rotationSeed?: number;
  onlineRotation?: string;
  attention?: 'float' | 'spiking';
  lmHead?: 'float' | 'spiking';
  execution?: 'counts' | 'events';
  calibrate?: boolean;
  calibData?: string;
  calibTokens?: number;
  calibObjective?: 'cosine' | 'mse';
  backend?: BackendName;
  threads?: number;
  tokenizer?: string;
  quiet?: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--tokenizer <path>', 'llama2.c tokenizer.bin (default: found beside the checkpoint)')
    .addOption(new Option('--backend <name>', 'kernel backend (default: native when built, else ts)').choices(['ts', 'native']))
    .option('--threads <n>', 'threads of the native backend', intArg(1, 256))
    .option('--quiet', 'no progress output');
}

export function addMethodOptions(cmd: Command, defaultMethod?: string): Command {
  const method = new Option('--method <name>', 'how matmuls run (METHOD.md §7); default fp, or the method a converted file was made with').choices([...METHOD_NAMES]);
  return addModelOptions(cmd)
    .addOption(defaultMethod ? method.default(defaultMethod) : method)
    .option('--time-steps <T>', 'time steps of the spike trains (ternary: T = L; binary: T = 2L)', intArg(1, 127))
    .option('--gamma <g>', 'fixed γ of the quantile threshold (skips calibration)', floatArg(0, 1))
    .addOption(new Option('--threshold-rule <rule>', 'θ rule of ternary spikes').choices(['quantile', 'absmax', 'meanabs', 'static']))
    .option('--weight-bits <b>', 'weight bits: 2, 3, 4 or 8', intArg(2, 8))
    .option('--group-size <G>', 'inputs per weight scale group', intArg(1))
    .addOption(new Option('--rotate <kind>', 'residual-stream rotation (default hadamard for 4-bit and spiking methods)').choices(['hadamard', 'none']))
    .option('--rotation-seed <n>', 'seed of the random Hadamard signs', intArg(0, 2 ** 32 - 1))
    .option('--online-rotation <sites>', 'online block Hadamard on these inputs: down_proj,o_proj (or "none")')
    .addOption(new Option('--attention <kind>', 'attention products: spiking (METHOD §5) or float').choices(['float', 'spiking']))
    .addOption(new Option('--lm-head <kind>', 'lm_head precision').choices(['float', 'spiking']))
    .addOption(new Option('--execution <mode>', 'counts (fast) or events (faithful SNN simulation); bit-identical').choices(['counts', 'events']))
    .option('--no-calibrate', 'keep the starting γ instead of calibrating it')
    .option('--calib-data <file>', 'calibration text (UTF-8 or JSONL with "text"); default: text the float model writes itself')
    .option('--calib-tokens <n>', 'calibration tokens', intArg(2), 2048)
    .addOption(new Option('--calib-objective <kind>', 'what γ calibration maximises').choices(['cosine', 'mse']));
}

/** Applies --backend/--threads (process-wide). */
export function applyBackend(f: MethodFlags): void {
  if (f.backend) {
    if (!registeredBackends().includes(f.backend)) fail(`the ${f.backend} kernel backend is not available here (built: ${registeredBackends().join(', ')})`);
    setBackend(f.backend);
  }
  if (f.threads !== undefined) setThreads(f.threads);
}

export function methodLoadOptions(f: MethodFlags): MethodLoadOptions {
  applyBackend(f);
  let onlineRotation: OnlineRotationSite[] | undefined;
  if (f.onlineRotation !== undefined) {
    const sites = f.onlineRotation === 'none' ? [] : f.onlineRotation.split(',').map((s) => s.trim());
    for (const s of sites) if (s !== 'down_proj' && s !== 'o_proj') fail(`--online-rotation takes down_proj and/or o_proj, got "${s}"`);
    onlineRotation = sites as OnlineRotationSite[];
  }
  const bar = f.quiet ? null : new ProgressBar();
  return {
    tokenizer: f.tokenizer,
    method: f.method,
    overrides: {
      timeSteps: f.timeSteps,
      gamma: f.gamma,
      thresholdRule: f.thresholdRule,
      weightBits: f.weightBits,
      groupSize: f.groupSize,
      rotate: f.rotate,
      rotationSeed: f.rotationSeed,
      onlineRotation,
      attention: f.attention,
      lmHead: f.lmHead,
      execution: f.execution,
      // commander sets calibrate = true unless --no-calibrate; only the explicit "no" overrides.
      calibrate: f.calibrate === false ? false : undefined,
      calibObjective: f.calibObjective,
    },
    calibration: { file: f.calibData, tokens: f.calibTokens },
    onProgress: bar ? (stage, done, total) => (done >= total ? bar.done() : bar.update(stage, done, total)) : undefined,
  };
}
