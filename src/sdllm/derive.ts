/**
 * Another method from a prepared (e.g. converted) model without the float checkpoint: methods
 * that share its rotation and integer weights differ only in how activations are coded, so the
 * prepared tensors are reused as they are and only `method` (and, where they no longer apply,
 * the calibrated rules) change. The web page switches methods this way. What the derived model
 * lacks compared with converting from float for that method is returned as notes.
 */
import { fail } from '../errors.js';
import { methodPreset, resolveMethod, timeSteps, type MethodConfig } from './method.js';
import type { PreparedModel } from './prepare.js';

export interface DerivedModel {
  prepared: PreparedModel;
  /** Where the derived model departs from that method's preset, one sentence each. */
  notes: string[];
}

/** `p` with method `name` (weights, rotation and lm_head as `p` has them); `fp` needs the float checkpoint. */
export function deriveMethod(p: PreparedModel, name: string): DerivedModel {
  const from = p.method;
  if (name === from.method) return { prepared: p, notes: [] };
  const preset = resolveMethod(name);
  if (preset.weightBits === null) fail(`method ${name} needs the float checkpoint; a ${from.method} model has quantized weights`);
  if (from.weightBits === null) fail(`a ${from.method} model has float weights; prepare ${name} from the checkpoint instead`);
  if (preset.weightBits !== from.weightBits)
    fail(`method ${name} has ${preset.weightBits}-bit weights; this ${from.method} model has ${from.weightBits}-bit ones`);
  const method: MethodConfig = {
    ...preset,
    groupSize: from.groupSize,
    rotate: from.rotate,
    rotationSeed: from.rotationSeed,
    onlineRotation: [...from.onlineRotation],
    lmHead: from.lmHead,
    execution: from.execution,
  };
  const notes: string[] = [];
  // Online rotations have their inverse fused into the weights: only those the file has can run.
  for (const site of methodPreset(preset.method).onlineRotation)
    if (from.rotate === 'hadamard' && !from.onlineRotation.includes(site))
      notes.push(`no online rotation of the ${site} input (the ${name} preset has one; this model's ${site} weights were not rotated for it)`);
  // Calibrated γ carries over only to γ-SQP coding; it was chosen for the source's time steps.
  const a = method.activations, src = from.activations;
  const keepRules = a.kind === 'ternary' && a.threshold.kind === 'quantile' && src.kind === 'ternary' && src.threshold.kind === 'quantile';
  if (keepRules) a.threshold = { ...src.threshold }; // the source's γ (explicit, or where calibration started)
  if (keepRules && Object.keys(p.rules).length) {
    method.calibrate = from.calibrate;
    if (timeSteps(a) !== timeSteps(src)) notes.push(`γ per layer as calibrated for T = ${timeSteps(src)}, not recalibrated for T = ${timeSteps(a)}`);
  } else {
    if (preset.calibrate && a.kind === 'ternary' && a.threshold.kind === 'quantile')
      notes.push(`γ = ${a.threshold.gamma} in every layer, not calibrated (this model has no calibrated γ)`);
    method.calibrate = false;
  }
  return { prepared: { ...p, method, rules: keepRules ? p.rules : {} }, notes };
}
