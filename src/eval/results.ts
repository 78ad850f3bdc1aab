/**
 * The results JSON of `sdllm eval` (lm-eval's keys: results, versions, n-shot, n-samples, plus
 * the per-item samples with their log-likelihoods), its journal for --resume, and merging.
 *
 * The JSON is a pure function of what was scored: no timestamps or timings (those go to stderr),
 * samples sorted by doc_id, metrics summed in that order. So a resumed run, a run split into
 * shards and merged, and a single run give byte-identical files.
 *
 * Journal (`<output>.partial.jsonl`): every scored item is appended as one line the moment it
 * is scored, after a header line per session; an interrupted run loses at most the item in
 * flight, and a torn last line (killed mid-write) is ignored on resume. The final JSON is written
 * atomically (temporary file + rename) and the journal removed after it.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { fail } from '../errors.js';
import type { MetricName, TaskFormat } from './tasks.js';
import { taskMetrics, resultsEntry, type SampleRecord } from './metrics.js';

export const SCHEMA = 1;

/** What every item's numbers depend on; a resumed run or a merged shard must match it. */
export interface EvalIdentity {
  model: string;
  /** The resolved method (MethodConfig); calibration is deterministic given it. */
  method: unknown;
  /** Kernel backend: backends agree to rounding, not bit for bit. */
  backend: string;
  max_length: number;
  prefix: number[];
  delimiter: string;
}

export interface EvalConfig extends EvalIdentity {
  method_description: string;
  limit: number | null;
  shard: { k: number; n: number } | null;
}

export interface TaskInfo {
  file: string;
  sha256: string;
  format: TaskFormat;
  metrics: MetricName[];
  version: number;
  /** Items in the file, and selected by --limit (before sharding). */
  items_in_file: number;
  items: number;
}

export interface EvalOutput {
  sdllm_eval: number;
  config: EvalConfig;
  tasks: Record<string, TaskInfo>;
  results: Record<string, Record<string, string | number | null>>;
  versions: Record<string, number>;
  'n-shot': Record<string, number>;
  'n-samples': Record<string, { original: number; effective: number }>;
  samples: Record<string, SampleRecord[]>;
}

export function identityOf(c: EvalConfig): EvalIdentity {
  return { model: c.model, method: c.method, backend: c.backend, max_length: c.max_length, prefix: c.prefix, delimiter: c.delimiter };
}

/** The first key whose values differ (as JSON), or null. */
export function firstDifference(a: object, b: object): string | null {
  const ka = Object.keys(a), kb = Object.keys(b);
  for (const k of new Set([...ka, ...kb])) {
    if (JSON.stringify((a as Record<string, unknown>)[k]) !== JSON.stringify((b as Record<string, unknown>)[k])) return k;
  }
  return null;
}

/** Builds the output from the scored samples (any order; sorted here). */
export function buildOutput(config: EvalConfig, tasks: Record<string, TaskInfo>, samples: Record<string, SampleRecord[]>): EvalOutput {
  const out: EvalOutput = { sdllm_eval: SCHEMA, config, tasks, results: {}, versions: {}, 'n-shot': {}, 'n-samples': {}, samples: {} };
  for (const [name, info] of Object.entries(tasks)) {
    const recs = [...(samples[name] ?? [])].sort((a, b) => a.doc_id - b.doc_id);
    out.samples[name] = recs;
    out.results[name] = resultsEntry(name, recs.length ? taskMetrics(info.metrics, recs) : []);
    out.versions[name] = info.version;
    out['n-shot'][name] = 0;
    out['n-samples'][name] = { original: info.items_in_file, effective: recs.length };
  }
  return out;
}

/** Pretty JSON with one line per sample, so files stay readable and diffable. */
export function serializeOutput(out: EvalOutput): string {
  const { samples, ...rest } = out;
  const head = JSON.stringify(rest, null, 2);
  const tasks = Object.entries(samples).map(([t, recs]) =>
    recs.length ? `    ${JSON.stringify(t)}: [\n${recs.map((r) => `      ${JSON.stringify(r)}`).join(',\n')}\n    ]` : `    ${JSON.stringify(t)}: []`,
  );
  return `${head.slice(0, -2)},\n  "samples": {${tasks.length ? `\n${tasks.join(',\n')}\n  ` : ''}}\n}\n`;
}

export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(nodePath.dirname(nodePath.resolve(path)), { recursive: true });
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* nothing to clean */
    }
    fail(`cannot write the output (${(e as Error).message})`, path);
  }
}

export function readOutput(path: string): EvalOutput {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    fail('cannot read the results file', path);
  }
  let obj: EvalOutput;
  try {
    obj = JSON.parse(text);
  } catch {
    fail('not valid JSON (an sdllm eval results file was expected)', path);
  }
  if (!obj || obj.sdllm_eval !== SCHEMA || typeof obj.config !== 'object' || typeof obj.tasks !== 'object' || typeof obj.samples !== 'object')
    fail(`not an sdllm eval results file (schema ${SCHEMA})`, path);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Journal

export function journalPath(output: string): string {
  return `${output}.partial.jsonl`;
}

interface JournalHeader {
  sdllm_eval_journal: number;
  identity: EvalIdentity;
  tasks: Record<string, string>;
}

interface JournalSample {
  task: string;
  sample: SampleRecord;
}

/** Samples already scored for `identity`, from a finished output and/or a journal. */
export function loadResumable(output: string, identity: EvalIdentity, shas: Record<string, string>): Map<string, Map<number, SampleRecord>> {
  const done = new Map<string, Map<number, SampleRecord>>();
  const add = (task: string, r: SampleRecord) => {
    if (!shas[task]) return; // a task this run does not ask for
    let m = done.get(task);
    if (!m) done.set(task, (m = new Map()));
    m.set(r.doc_id, r);
  };
  const check = (id: EvalIdentity, tasks: Record<string, string>, file: string) => {
    const d = firstDifference(id, identity);
    if (d) fail(`cannot resume: made with a different ${d} (${JSON.stringify((id as unknown as Record<string, unknown>)[d])}); remove it or use another --output_path`, file);
    for (const [t, sha] of Object.entries(tasks))
      if (shas[t] && shas[t] !== sha) fail(`cannot resume: task ${t}'s file has changed since (sha256 differs)`, file);
  };
  if (fs.existsSync(output)) {
    const prev = readOutput(output);
    check(identityOf(prev.config), Object.fromEntries(Object.entries(prev.tasks).map(([t, i]) => [t, i.sha256])), output);
    for (const [t, recs] of Object.entries(prev.samples)) for (const r of recs) add(t, r);
  }
  const jp = journalPath(output);
  if (fs.existsSync(jp)) {
    const lines = fs.readFileSync(jp, 'utf8').split('\n');
    let header = false;
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let obj: JournalHeader | JournalSample;
      try {
        obj = JSON.parse(line);
      } catch {
        // Only the last line may be torn (killed while writing it).
        if (lines.slice(i + 1).some((l) => l.trim())) fail(`line ${i + 1} is not valid JSON (the journal is damaged)`, jp);
        return;
      }
      if ('sdllm_eval_journal' in obj) {
        check(obj.identity, obj.tasks, jp);
        header = true;
      } else if (header && 'task' in obj && obj.sample) add(obj.task, obj.sample);
      else fail(`line ${i + 1} is not a journal line`, jp);
    });
  }
  return done;
}

export class Journal {
  private fd: number;
  constructor(readonly path: string, fresh: boolean) {
    try {
      fs.mkdirSync(nodePath.dirname(nodePath.resolve(path)), { recursive: true });
      this.fd = fs.openSync(path, fresh ? 'w' : 'a');
    } catch (e) {
      fail(`cannot open the journal (${(e as Error).message})`, path);
    }
    if (!fresh) {
      // A torn last line (killed mid-write: no newline) is cut off, so the journal stays whole lines.
      const bytes = fs.readFileSync(path);
      if (bytes.length && bytes[bytes.length - 1] !== 0x0a) fs.ftruncateSync(this.fd, bytes.lastIndexOf(0x0a) + 1);
    }
  }

  header(identity: EvalIdentity, tasks: Record<string, string>): void {
    const h: JournalHeader = { sdllm_eval_journal: 1, identity, tasks };
    fs.writeSync(this.fd, JSON.stringify(h) + '\n');
  }

  append(task: string, sample: SampleRecord): void {
    const s: JournalSample = { task, sample };
    fs.writeSync(this.fd, JSON.stringify(s) + '\n');
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  remove(): void {
    fs.rmSync(this.path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Merge

/**
 * Combines shards (or runs of different tasks) of one evaluation into the output a single run
 * gives: the same configuration but the shard, every selected item of every task exactly once.
 */
export function mergeOutputs(inputs: { path: string; out: EvalOutput }[]): EvalOutput {
  if (!inputs.length) fail('merge needs at least one results file');
  const first = inputs[0];
  const base = { ...first.out.config, shard: null };
  const tasks: Record<string, TaskInfo> = {};
  const samples = new Map<string, Map<number, { rec: SampleRecord; from: string }>>();
  for (const { path, out } of inputs) {
    const d = firstDifference({ ...out.config, shard: null }, base);
    if (d) fail(`made with a different ${d} than ${first.path}`, path);
    for (const [t, info] of Object.entries(out.tasks)) {
      const known = tasks[t];
      if (known) {
        const { file: _f1, ...a } = known;
        const { file: _f2, ...b } = info;
        const td = firstDifference(a, b);
        if (td) fail(`task ${t}: different ${td} than in an earlier file`, path);
      } else tasks[t] = info;
      let m = samples.get(t);
      if (!m) samples.set(t, (m = new Map()));
      for (const r of out.samples[t] ?? []) {
        const prev = m.get(r.doc_id);
        if (prev && JSON.stringify(prev.rec) !== JSON.stringify(r)) fail(`task ${t} item ${r.doc_id} differs from ${prev.from}`, path);
        m.set(r.doc_id, { rec: r, from: path });
      }
    }
  }
  // Shards present, when the inputs are shards of one split.
  const shards = inputs.map((i) => i.out.config.shard).filter((s): s is { k: number; n: number } => s !== null);
  for (const [t, info] of Object.entries(tasks)) {
    const have = samples.get(t)!;
    if (have.size !== info.items) {
      let hint = '';
      if (shards.length) {
        const n = shards[0].n;
        const missing = Array.from({ length: n }, (_, k) => k).filter((k) => !shards.some((s) => s.k === k && s.n === n));
        if (missing.length) hint = ` (shards ${missing.map((k) => `${k}/${n}`).join(', ')} not given)`;
      }
      fail(`task ${t}: ${info.items - have.size} of its ${info.items} items are in none of the files${hint}`);
    }
    for (const id of have.keys()) if (!(id >= 0 && id < info.items)) fail(`task ${t}: item ${id} is outside the selection of ${info.items} items`);
  }
  const recs: Record<string, SampleRecord[]> = {};
  for (const [t, m] of samples) recs[t] = [...m.values()].map((v) => v.rec);
  return buildOutput(base, tasks, recs);
}
