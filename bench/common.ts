/**
 * What the benches share: where the shared models are, the usage / argument-error convention
 * (usage on stdout with exit 0 for --help; the problem and usage on stderr with exit 2), medians
 * and the Markdown tables they print.
 */
import nodePath from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/bench/common.js: the repository root is two folders up.
export const REPO_ROOT = nodePath.resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const SHARED = nodePath.resolve(REPO_ROOT, process.env.SDLLM_SHARED ?? '../shared');

/**
 * The usage function of bench `name` (e.g. 'bench/decode'), whose usage line is `text`. Give the
 * const it is stored in a type annotation: TypeScript narrows after a `never` call only then.
 */
export function usageFor(name: string, text: string): (problem?: string) => never {
  return (problem?: string): never => {
    if (problem) {
      process.stderr.write(`${name}: error: ${problem}\n${text}\n`);
      process.exit(2);
    }
    process.stdout.write(text + '\n');
    process.exit(0);
  };
}

/** The value of `flag`, an integer >= min, or usage's exit. */
export function intArg(flag: string, v: string | undefined, min: number, usage: (problem: string) => never): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) usage(`${flag} expects an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A Markdown table of rows[0] (the head) and the other rows: the first column left-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => '| ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

/** Printed: a Markdown table: the first two columns left-aligned, the others right-aligned. */
export function printTable(head: string[], lines: string[][]): void {
  const w = head.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j].length)));
  const row = (r: string[]) => '| ' + r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join(' | ') + ' |';
  process.stdout.write(row(head) + '\n');
  process.stdout.write('| ' + w.map((x, j) => (j < 2 ? '-'.repeat(x) : '-'.repeat(x - 1) + ':')).join(' | ') + ' |\n');
  for (const l of lines) process.stdout.write(row(l) + '\n');
}
