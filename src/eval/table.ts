/**
 * Tables: lm-eval's results table (Tasks | Version | Filter | n-shot | Metric | Value | ± | Stderr,
 * tasks sorted by name, the task and version on its first metric's row only, "%.4f" values) and
 * the method-comparison table of `sdllm compare`.
 */
import type { EvalOutput } from './results.js';

type Align = 'left' | 'right';

/** A Markdown table whose columns are padded to their widest cell (headers centred, as lm-eval's). */
export function markdownTable(header: string[], rows: string[][], align: Align[]): string {
  const widths = header.map((h, c) => Math.max(h.length, 3, ...rows.map((r) => r[c].length)));
  const pad = (s: string, c: number) => (align[c] === 'right' ? s.padStart(widths[c]) : s.padEnd(widths[c]));
  const centre = (s: string, w: number) => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const lines = [
    `|${header.map((h, c) => centre(h, widths[c])).join('|')}|`,
    `|${widths.map((w, c) => (align[c] === 'right' ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join('|')}|`,
    ...rows.map((r) => `|${r.map((cell, c) => pad(cell, c)).join('|')}|`),
  ];
  return lines.join('\n') + '\n';
}

export function fmt4(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : 'N/A';
}

/** lm-eval's table of an eval output. */
export function lmEvalTable(out: EvalOutput): string {
  const rows: string[][] = [];
  for (const task of Object.keys(out.results).sort()) {
    const info = out.tasks[task];
    const res = out.results[task];
    let first = true;
    for (const m of info.metrics) {
      const v = res[`${m},none`], se = res[`${m}_stderr,none`];
      if (v === undefined) continue;
      rows.push([first ? task : '', first ? String(info.version) : '', 'none', '0', m, fmt4(v as number | null), '±', fmt4(se as number | null)]);
      first = false;
    }
  }
  return markdownTable(['Tasks', 'Version', 'Filter', 'n-shot', 'Metric', 'Value', '', 'Stderr'], rows, ['left', 'right', 'left', 'right', 'left', 'right', 'left', 'right']);
}
