/** Shared test plumbing: where ../shared is, and skipping (with a message) when it is absent. */
import fs from 'node:fs';
import nodePath from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = nodePath.resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const SHARED = nodePath.resolve(REPO_ROOT, process.env.SDLLM_SHARED ?? '../shared');
export const HAS_SHARED = fs.existsSync(nodePath.join(SHARED, 'models'));
export const MODELS = nodePath.join(SHARED, 'models');
export const DATA = nodePath.join(SHARED, 'data');

/** Option for test(): skips with a clear reason when ../shared is missing. */
export const needsShared = HAS_SHARED ? {} : { skip: `SDLLM_SHARED (${SHARED}) not found: real-model tests skipped` };

export function readGolden(model: string): any {
  return JSON.parse(fs.readFileSync(nodePath.join(MODELS, model, 'golden.json'), 'utf8'));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function topK(x: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b] - x[a] || a - b).slice(0, k);
}

/** Runs the built CLI in a child process and returns its exit code and output. */
import { spawnSync } from 'node:child_process';
export function runCli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [nodePath.join(REPO_ROOT, 'bin', 'sdllm.js'), ...args], { encoding: 'utf8', input, timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
