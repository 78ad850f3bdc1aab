/**
 * Zero-shot task files (CONVENTIONS.md, "Data files"): finding a task's file by name or path,
 * reading and validating it, and turning each line into the (context, continuation) requests
 * whose log-likelihoods the scorer computes.
 *
 * Three formats, recognised by their fields:
 *  - multiple choice `{"query", "choices": [...], "gold"}`: one request per choice, the same
 *    context, scored text `query + " " + choice` (piqa, arc_*, boolq, openbookqa, copa, hellaswag);
 *  - partial scoring `{"context_options": [a, b], "continuation", "gold"}`: one request per
 *    context, the same continuation (winogrande);
 *  - last word `{"context", "continuation"}`: one request (lambada_openai).
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { createHash } from 'node:crypto';
import { fail } from '../errors.js';

export type TaskFormat = 'multiple_choice' | 'partial' | 'last_word';
export type MetricName = 'acc' | 'acc_norm' | 'perplexity';

/** What lm-eval scores between the context and the continuation (" " for every file here). */
export const DELIMITER = ' ';

export interface KnownTask {
  /** File names tried in order under the data folder. */
  files: string[];
  format: TaskFormat;
  /** Metrics lm-eval reports for the task, in its order. */
  metrics: MetricName[];
  /** The task's version in lm-evaluation-harness 0.4, whose definitions these follow. */
  version: number;
}

export const KNOWN_TASKS: Record<string, KnownTask> = {
  piqa: { files: ['piqa.jsonl'], format: 'multiple_choice', metrics: ['acc', 'acc_norm'], version: 1 },
  arc_easy: { files: ['arc_easy.jsonl'], format: 'multiple_choice', metrics: ['acc', 'acc_norm'], version: 1 },
  arc_challenge: { files: ['arc_challenge.jsonl'], format: 'multiple_choice', metrics: ['acc', 'acc_norm'], version: 1 },
  // The full validation set when it is there, else the 200-item slice shipped in ../shared.
  hellaswag: { files: ['hellaswag.jsonl', 'hellaswag_dev200.jsonl'], format: 'multiple_choice', metrics: ['acc', 'acc_norm'], version: 1 },
  winogrande: { files: ['winogrande.jsonl'], format: 'partial', metrics: ['acc'], version: 1 },
  boolq: { files: ['boolq.jsonl'], format: 'multiple_choice', metrics: ['acc'], version: 2 },
  openbookqa: { files: ['openbook_qa.jsonl', 'openbookqa.jsonl'], format: 'multiple_choice', metrics: ['acc', 'acc_norm'], version: 1 },
  lambada_openai: { files: ['lambada_openai.jsonl'], format: 'last_word', metrics: ['perplexity', 'acc'], version: 1 },
  copa: { files: ['copa.jsonl'], format: 'multiple_choice', metrics: ['acc'], version: 1 },
};

export const DEFAULT_METRICS: Record<TaskFormat, MetricName[]> = {
  multiple_choice: ['acc', 'acc_norm'],
  partial: ['acc'],
  last_word: ['perplexity', 'acc'],
};

export interface TaskSpec {
  name: string;
  file: string;
  format: TaskFormat;
  metrics: MetricName[];
  version: number;
}

export interface Request {
  context: string;
  continuation: string;
}

export interface TaskItem {
  /** 0-based line number among the file's non-empty lines: the item's identity everywhere. */
  idx: number;
  requests: Request[];
  /** The right request (absent for last-word items: there the one request is the target). */
  gold?: number;
  /** Length of each choice in characters (code points, as Python's len), for acc_norm. */
  chars?: number[];
}

export interface TaskData {
  spec: TaskSpec;
  sha256: string;
  items: TaskItem[];
}

/**
 * A task argument is a known name (found in `dataDir`), a path to a .jsonl file (named after the
 * file, with the metrics of the known task its name starts with, else of its format), or
 * `name=path`.
 */
export function resolveTask(arg: string, dataDir: string): TaskSpec {
  const eq = arg.indexOf('=');
  if (eq > 0) return specForFile(arg.slice(0, eq), arg.slice(eq + 1));
  const known = KNOWN_TASKS[arg];
  if (known) {
    for (const f of known.files) {
      const p = nodePath.join(dataDir, f);
      if (fs.existsSync(p)) return { name: arg, file: p, format: known.format, metrics: known.metrics, version: known.version };
    }
    fail(`task "${arg}" not found: none of ${known.files.join(', ')} is in ${dataDir} (set --data-dir or SDLLM_SHARED)`);
  }
  if (fs.existsSync(arg) && fs.statSync(arg).isFile()) {
    const base = nodePath.basename(arg).replace(/\.jsonl?$/, '');
    return specForFile(base, arg);
  }
  fail(`unknown task "${arg}": not a file, and not one of ${Object.keys(KNOWN_TASKS).join(', ')}`);
}

function specForFile(name: string, file: string): TaskSpec {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) fail(`task name "${name}" may only use letters, digits, "_", "." and "-" (give one as name=path)`, file);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) fail('no such task file', file);
  const format = detectFormat(file);
  const knownName = Object.keys(KNOWN_TASKS).find((k) => name === k || name.startsWith(`${k}_`) || name.startsWith(`${k}-`));
  const known = knownName ? KNOWN_TASKS[knownName] : undefined;
  if (known && known.format === format) return { name, file, format, metrics: known.metrics, version: known.version };
  return { name, file, format, metrics: DEFAULT_METRICS[format], version: 1 };
}

function detectFormat(file: string): TaskFormat {
  const first = readLines(file).find((l) => l.text.trim());
  if (!first) fail('the task file has no items', file);
  const obj = parseLine(first.text, first.line, file);
  return formatOf(obj, first.line, file);
}

function formatOf(obj: Record<string, unknown>, line: number, file: string): TaskFormat {
  if ('choices' in obj) return 'multiple_choice';
  if ('context_options' in obj) return 'partial';
  if ('context' in obj && 'continuation' in obj) return 'last_word';
  fail(`line ${line}: not a task item (expected "query"+"choices"+"gold", "context_options"+"continuation"+"gold", or "context"+"continuation")`, file);
}

interface Line {
  line: number;
  text: string;
}

function readLines(file: string): Line[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    fail('cannot read the task file', file);
  }
  return text.split('\n').map((t, i) => ({ line: i + 1, text: t }));
}

function parseLine(text: string, line: number, file: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    fail(`line ${line} is not valid JSON`, file);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(`line ${line} is not a JSON object`, file);
  return obj as Record<string, unknown>;
}

/** Code points, as Python's len() counts them. */
export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A low surrogate after a high one is the second half of one code point.
    if (!(c >= 0xdc00 && c <= 0xdfff && i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) n++;
  }
  return n;
}

/** Reads and validates a task file; items are the file's non-empty lines in order. */
export function loadTask(spec: TaskSpec): TaskData {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(spec.file);
  } catch {
    fail('cannot read the task file', spec.file);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const items: TaskItem[] = [];
  const file = spec.file;
  const str = (o: Record<string, unknown>, k: string, line: number): string => {
    const v = o[k];
    if (typeof v !== 'string') fail(`line ${line}: "${k}" must be a string`, file);
    return v;
  };
  const strings = (o: Record<string, unknown>, k: string, line: number, min: number): string[] => {
    const v = o[k];
    if (!Array.isArray(v) || v.length < min || v.some((s) => typeof s !== 'string'))
      fail(`line ${line}: "${k}" must be a list of at least ${min} strings`, file);
    return v as string[];
  };
  const gold = (o: Record<string, unknown>, n: number, line: number): number => {
    const g = o.gold;
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g >= n) fail(`line ${line}: "gold" must be an integer in [0, ${n - 1}]`, file);
    return g;
  };
  bytes.toString('utf8').split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    const line = i + 1;
    const o = parseLine(text, line, file);
    const format = formatOf(o, line, file);
    if (format !== spec.format) fail(`line ${line} is a ${format} item in a ${spec.format} file`, file);
    const idx = items.length;
    if (format === 'multiple_choice') {
      const query = str(o, 'query', line);
      const choices = strings(o, 'choices', line, 1);
      items.push({ idx, requests: choices.map((c) => ({ context: query, continuation: c })), gold: gold(o, choices.length, line), chars: choices.map(charLength) });
    } else if (format === 'partial') {
      const options = strings(o, 'context_options', line, 1);
      const cont = str(o, 'continuation', line);
      items.push({ idx, requests: options.map((c) => ({ context: c, continuation: cont })), gold: gold(o, options.length, line) });
    } else {
      items.push({ idx, requests: [{ context: str(o, 'context', line), continuation: str(o, 'continuation', line) }] });
    }
  });
  if (!items.length) fail('the task file has no items', file);
  return { spec, sha256, items };
}

/** Parses `--shard K/N` (K in 0..N−1, as Slurm array and Kubernetes indexed-job indices are). */
export function parseShard(s: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  const k = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
  if (!m || !(n >= 1) || !(k >= 0 && k < n)) fail(`--shard takes K/N with 0 <= K < N (e.g. 0/4 .. 3/4), got "${s}"`);
  return { k, n };
}

/**
 * The items a run scores: the first `limit` of the file (lm-eval's --limit), then, with a shard,
 * those whose index is K modulo N — every shard takes every N-th item of every task, so shards
 * are balanced across tasks and their union is exactly the unsharded selection.
 */
export function selectItems(items: TaskItem[], limit: number | null, shard: { k: number; n: number } | null): TaskItem[] {
  const head = limit === null ? items : items.slice(0, limit);
  return shard ? head.filter((it) => it.idx % shard.n === shard.k) : head;
}
