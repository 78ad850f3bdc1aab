/**
 * The generation worker: the library's own engine (src/, pure TypeScript, `ts` kernels), run off
 * the page's main thread. It loads the converted model (and, for `fp`, the float checkpoint),
 * assembles the method asked for, and generates token by token with the engine's operation
 * counters and spike statistics on, posting per token: the text delta, the energy of that step
 * (counted operations × horowitz45nm), per-layer firing rates, the count histogram and one
 * layer's spike raster. Between tokens it yields to its event loop, so `stop` and a new request
 * are seen at once.
 */
import { readSdllmBytes } from '../../src/formats/sdllm-file-core.js';
import { bytesTensorSource } from '../../src/formats/safetensors-core.js';
import { parseHfConfig } from '../../src/formats/hf-config-core.js';
import { readFloatWeights } from '../../src/model/weights.js';
import { buildModel } from '../../src/model/build.js';
import { parameterCount, type ModelConfig } from '../../src/model/config.js';
import type { LlamaModel } from '../../src/model/llama.js';
import type { Tokenizer } from '../../src/model/tokenizer.js';
import { assembleModel, type PreparedModel, type LayerLinear } from '../../src/sdllm/prepare.js';
import { deriveMethod } from '../../src/sdllm/derive.js';
import { describeMethod, methodPreset, timeSteps, type MethodConfig } from '../../src/sdllm/method.js';
import { enableSpikeStats, disableSpikeStats, spikeSummary, spikeLinears } from '../../src/sdllm/stats.js';
import { generateSteps } from '../../src/generate/generate.js';
import { TextStreamer } from '../../src/generate/streamer.js';
import { enableOpCounting, disableOpCounting, opReport } from '../../src/energy/count.js';
import { OP_KINDS, OpCounts } from '../../src/energy/ops.js';
import { energyOf } from '../../src/energy/energy.js';
import { HOROWITZ_45NM } from '../../src/energy/table-core.js';
import { denseTokenOps } from '../../src/energy/reference.js';
import { spikeTrains } from '../../src/energy/report-data.js';
import { backendName } from '../../src/kernels/registry.js';
import type { SpikeLinear } from '../../src/spike/spike-linear.js';
import { PAGE_METHODS, RASTER_SITES, type FromWorker, type ToWorker, type PageMethod, type RasterChoice, type TokenMessage, type ModelInfo } from './protocol.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface Assembled {
  model: LlamaModel;
  method: MethodConfig;
  notes: string[];
}

let prepared: PreparedModel | null = null;
let floatUrl: string | null = null;
let floatModel: Promise<LlamaModel> | null = null;
const assembled = new Map<PageMethod, Assembled>();
let raster: RasterChoice = { layer: 0, site: 'down' };
let runNo = 0;
/** The run in progress, and whether it was asked to stop. */
let current: { run: number; stop: boolean; done: Promise<void> } | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  const guard = (p: Promise<void>) => p.catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
  if (m.type === 'load') void guard(load(m));
  else if (m.type === 'generate') void guard(startRun(m));
  else if (m.type === 'raster') raster = m.raster;
  else if (m.type === 'stop' && current) current.stop = true;
};

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load ${what} (${url}): HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function load(m: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  if (current) {
    current.stop = true;
    await current.done;
  }
  assembled.clear();
  prepared = null;
  floatModel = null;
  floatUrl = m.float?.url ?? null;
  const name = 'url' in m.converted ? m.converted.url.split('/').pop()! : m.converted.name;
  post({ type: 'status', text: `Loading ${name} …` });
  const bytes = 'url' in m.converted ? await fetchBytes(m.converted.url, 'the converted model') : new Uint8Array(m.converted.bytes);
  const p = readSdllmBytes(bytes, name);
  prepared = p;
  const c = p.config;
  const names: string[] = [...PAGE_METHODS];
  if (!names.includes(p.method.method)) names.push(p.method.method);
  const methods = names.map((method): ModelInfo['methods'][number] => {
    if (method === 'fp') return floatUrl ? { name: method, available: true } : { name: method, available: false, why: 'needs the float checkpoint (available for the embedded model)' };
    try {
      deriveMethod(p, method);
      return { name: method, available: true };
    } catch (err) {
      return { name: method, available: false, why: (err as Error).message };
    }
  });
  const gammas = Object.values(p.rules).flatMap((r) => (r.kind === 'quantile' ? [r.gamma] : []));
  post({
    type: 'loaded',
    info: {
      name,
      method: p.method.method,
      description: describeMethod(p.method),
      layers: c.num_hidden_layers,
      hidden: c.hidden_size,
      intermediate: c.intermediate_size,
      vocab: c.vocab_size,
      parameters: parameterCount(c),
      bytes: bytes.byteLength,
      methods,
      gamma: gammas.length ? { min: Math.min(...gammas), max: Math.max(...gammas) } : null,
      backend: backendName(),
    },
  });
}

/** The float model from the checkpoint's config.json and model.safetensors (same shapes as the converted one). */
async function loadFloat(p: PreparedModel, url: string): Promise<LlamaModel> {
  post({ type: 'status', text: 'Loading the float checkpoint for fp …' });
  const base = url.endsWith('/') ? url : `${url}/`;
  const raw = JSON.parse(new TextDecoder().decode(await fetchBytes(`${base}config.json`, 'config.json'))) as Record<string, unknown>;
  const config = parseHfConfig(raw, `${base}config.json`);
  const keys: (keyof ModelConfig)[] = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size'];
  const differs = keys.filter((k) => config[k] !== p.config[k]);
  if (differs.length) throw new Error(`the float checkpoint is not the converted model's (${differs.join(', ')} differ)`);
  const bytes = await fetchBytes(`${base}model.safetensors`, 'model.safetensors');
  const weights = readFloatWeights(bytesTensorSource(bytes, `${base}model.safetensors`), config);
  // The same model's tokenizer: the converted file embeds the checkpoint's tokenizer.json.
  const tokenizer: Tokenizer = p.tokenizer;
  return buildModel(config, tokenizer, weights, undefined, { format: 'huggingface', path: base, method: methodPreset('fp') });
}

async function modelFor(method: PageMethod): Promise<Assembled> {
  const p = prepared;
  if (!p) throw new Error('no model loaded');
  const have = assembled.get(method);
  if (have) return have;
  let a: Assembled;
  if (method === 'fp') {
    if (!floatUrl) throw new Error('fp needs the float checkpoint, which is only available for the embedded model');
    floatModel ??= loadFloat(p, floatUrl);
    a = { model: await floatModel, method: methodPreset('fp'), notes: [] };
  } else {
    post({ type: 'status', text: `Assembling ${method} …` });
    const d = deriveMethod(p, method);
    a = { model: assembleModel(d.prepared), method: d.prepared.method, notes: d.notes };
  }
  assembled.set(method, a);
  post({ type: 'method', info: { method, description: describeMethod(a.method), notes: a.notes, timeSteps: timeSteps(a.method.activations) } });
  return a;
}

async function startRun(m: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  if (current) {
    current.stop = true;
    await current.done;
  }
  raster = m.raster;
  const run = ++runNo;
  let finish!: () => void;
  const me = { run, stop: false, done: new Promise<void>((r) => (finish = r)) };
  current = me;
  try {
    await generateRun(m, me);
  } finally {
    if (current === me) current = null;
    finish();
  }
}

/** A macrotask boundary without timer clamping, so messages from the page are handled between tokens. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

function minus(a: OpCounts, b: OpCounts): OpCounts {
  const d = new OpCounts();
  for (const k of OP_KINDS) d[k] = a[k] - b[k];
  d.rows = a.rows - b.rows;
  return d;
}

/** The spiked linear whose input the raster shows (through the online-rotation wrapper). */
function rasterTarget(model: LlamaModel, choice: RasterChoice): SpikeLinear | null {
  const layer = model.parts.layers[Math.min(choice.layer, model.parts.layers.length - 1)];
  const role = RASTER_SITES[choice.site].role as LayerLinear;
  return spikeLinears([layer[role]])[0] ?? null;
}

async function generateRun(m: Extract<ToWorker, { type: 'generate' }>, me: { run: number; stop: boolean }): Promise<void> {
  const { model, method } = await modelFor(m.method);
  if (me.stop) return;
  const c = model.config;
  const ids = model.tokenizer.encode(m.prompt);
  let delta = '';
  const streamer = new TextStreamer(model.tokenizer, (s) => (delta += s));
  const o = m.options;
  post({ type: 'started', run: me.run, method: m.method, promptTokens: ids.length });
  post({ type: 'status', text: `Generating with ${m.method} …` });

  // The raster's layer input, captured as the engine runs it (the step's last row = the current token).
  const cap: { target: SpikeLinear | null; key: string; x: Float32Array | null } = { target: null, key: '', x: null };
  const hook = () => {
    const key = `${raster.layer}/${raster.site}`;
    if (key === cap.key) return;
    if (cap.target) cap.target.capture = null;
    cap.key = key;
    const t = (cap.target = rasterTarget(model, raster));
    if (t) t.capture = (x, rows) => (cap.x = x.slice((rows - 1) * t.inFeatures, rows * t.inFeatures));
  };

  enableOpCounting(model);
  enableSpikeStats(model);
  const steps = generateSteps(model, ids, { streamer, max_new_tokens: o.max_new_tokens, do_sample: o.temperature > 0, temperature: o.temperature, top_k: o.top_k, seed: o.seed });
  let before = new OpCounts();
  let position = 0, tokens = 0;
  let tFirst = 0, tLast = 0;
  const t0 = performance.now();
  const sums = { compute: 0, memory: 0, reference: 0, events: 0, slots: 0, n: 0 };
  let finishReason: 'eos' | 'length' | 'stopped' = 'length';
  try {
    for (;;) {
      hook();
      cap.x = null;
      const r = steps.next();
      if (r.done) {
        finishReason = r.value.finishReason;
        break;
      }
      const now = performance.now();
      tokens++;
      if (tokens === 1) tFirst = now;
      tLast = now;
      const rows = tokens === 1 ? ids.length : 1;

      // Energy of this step: the engine's counted operations since the last token.
      const total = opReport(model).total;
      const e = energyOf(minus(total, before), HOROWITZ_45NM, 'fp16');
      before = total;
      let reference = 0;
      // The float model's step over the same rows (logits of the last one only, as generation computes them).
      for (let p = position; p < position + rows; p++) reference += energyOf(denseTokenOps(c, p, p === position + rows - 1), HOROWITZ_45NM, 'fp16').compute;
      position += rows;

      // Spike statistics of this step, then start afresh for the next one.
      const s = spikeSummary(model);
      enableSpikeStats(model);
      let firing: number[] | null = null, firingRate: number | null = null, histogram: TokenMessage['histogram'] = null;
      if (s) {
        const ev = new Array<number>(c.num_hidden_layers).fill(0), slots = new Array<number>(c.num_hidden_layers).fill(0);
        for (const l of s.layers) {
          const k = /layers\.(\d+)\./.exec(l.name);
          if (!k || l.name.includes('attention')) continue;
          ev[+k[1]] += l.events;
          slots[+k[1]] += l.neurons * l.timeSteps;
        }
        firing = ev.map((x, i) => (slots[i] ? x / slots[i] : 0));
        const E = ev.reduce((a, b) => a + b, 0), S = slots.reduce((a, b) => a + b, 0);
        firingRate = S ? E / S : 0;
        if (tokens > 1) {
          sums.events += E;
          sums.slots += S;
        }
        const h = s.linears.histogram;
        if (h.kind === 'signed') {
          const tot = h.bins.reduce((a, b) => a + b, 0) || 1;
          // Unidirectional (binary) codings have no negative counts: start at 0.
          const from = method.activations.kind === 'binary' ? -h.min : 0;
          histogram = { min: h.min + from, fractions: h.bins.slice(from).map((b) => b / tot) };
        }
      }

      const name = RASTER_SITES[raster.site].role;
      let rasterMsg: TokenMessage['raster'];
      const tgt = cap.target;
      const tr = tgt && cap.x ? spikeTrains(tgt, cap.x) : null;
      if (tr) rasterMsg = { layer: raster.layer, site: raster.site, name: tgt!.name, T: tr.T, n: tr.n, trains: tr.trains };
      else
        rasterMsg = {
          layer: raster.layer, site: raster.site, name: `model.layers.${raster.layer}.${name}`,
          none: m.method === 'fp' ? 'fp runs dense float matmuls: no spikes' : tgt ? `${m.method} codes this input as 4-bit integers for dense MACs: no spikes` : 'no spikes here',
        };

      if (tokens > 1) {
        sums.compute += e.compute;
        sums.memory += e.memory;
        sums.reference += reference;
        sums.n++;
      }
      const msg: TokenMessage = {
        type: 'token', run: me.run, method: m.method, delta, tokens, rows,
        tokensPerSecond: tokens > 1 ? ((tokens - 1) * 1000) / (now - tFirst) : null,
        energy: { compute: e.compute / rows, memory: e.memory / rows, reference: reference / rows, spike: e.spike / rows, denseInt: e.denseInt / rows, denseFloat: e.denseFloat / rows, floatOps: e.floatOps / rows },
        firing, firingRate, histogram, raster: rasterMsg,
      };
      delta = '';
      post(msg, 'trains' in rasterMsg ? [rasterMsg.trains.buffer] : []);
      await nextTask();
      if (me.stop) {
        finishReason = 'stopped';
        steps.return(undefined as never);
        streamer.end(); // what it held back (an incomplete character) is flushed as is
        break;
      }
    }
  } finally {
    if (cap.target) cap.target.capture = null;
    disableOpCounting(model);
    disableSpikeStats(model);
  }
  post({
    type: 'done', run: me.run, method: m.method, delta, tokens, finishReason,
    tokensPerSecond: tokens > 1 ? ((tokens - 1) * 1000) / (tLast - tFirst) : null,
    meanCompute: sums.n ? sums.compute / sums.n : 0,
    meanMemory: sums.n ? sums.memory / sums.n : 0,
    meanReference: sums.n ? sums.reference / sums.n : 0,
    meanFiringRate: sums.slots ? sums.events / sums.slots : null,
    seconds: (performance.now() - t0) / 1000,
  });
  post({ type: 'status', text: `Done: ${tokens} tokens with ${m.method}${finishReason === 'eos' ? ' (end of text)' : finishReason === 'stopped' ? ' (stopped)' : ''}.` });
}
