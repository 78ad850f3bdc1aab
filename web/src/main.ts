/**
 * The page: controls, streamed text, energy meter, spike raster and charts. All model work happens
 * in worker.ts; this thread only renders what it posts (coalesced to one render per frame).
 */
import { Chart, BarController, BarElement, CategoryScale, LinearScale, Tooltip } from 'chart.js';
import { RASTER_SITES, type FromWorker, type GenerateOptions, type ModelInfo, type PageMethod, type RasterChoice, type RasterSite, type TokenMessage, type DoneMessage, type ToWorker } from './protocol.js';
import { drawRaster, clearRaster } from './raster.js';
import './style.css';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const promptEl = $<HTMLTextAreaElement>('prompt');
const generateBtn = $<HTMLButtonElement>('generate');
const stopBtn = $<HTMLButtonElement>('stop');
const statusEl = $('status');
const outPrompt = $('out-prompt');
const outText = $('out-text');
const layerSel = $<HTMLSelectElement>('raster-layer');
const siteSel = $<HTMLSelectElement>('raster-site');
const rasterCanvas = $<HTMLCanvasElement>('raster');
const fileInput = $<HTMLInputElement>('file');
const embeddedBtn = $<HTMLButtonElement>('embedded');

const METHOD_LABELS: Record<string, string> = {
  fp: 'float (dense)',
  w4a4: '4-bit weights, 4-bit ints (dense MACs)',
  'spike-binary': 'binary spikes, T = 14 (SpikeLLM-style)',
  sdllm: 'γ-SQP ternary spikes, T = 7',
  'sdllm-t3': 'γ-SQP ternary spikes, T = 3',
};

const manifestUrl = new URL('models/manifest.json', document.baseURI).href;
let embedded: { converted: string; float: string } | null = null;
/** Whether the model loaded (or loading) is the embedded one. */
let usingEmbedded = true;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

let info: ModelInfo | null = null;
let running = false;
let currentRun = 0;
/** A generate request was sent and its run has not started yet (the previous run's `done` must not end "running"). */
let awaiting = false;
const methodNotes = new Map<PageMethod, string[]>();
const methodSteps = new Map<PageMethod, number | null>();
const runs = new Map<PageMethod, DoneMessage>();

function setState(s: 'loading' | 'ready' | 'running' | 'error'): void {
  document.body.dataset.state = s;
}

function status(text: string, error = false): void {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
  statusEl.setAttribute('role', error ? 'alert' : 'status');
}

// ---- method radios (the page's methods, and a loaded file's own method when it is another) ----
const methodList = $('method-list');
let methodNames: string[] = [];
function methodRadios(methods: ModelInfo['methods'], fileMethod: string, description: string): void {
  const was = methodNames.length ? chosenMethod() : 'sdllm';
  methodNames = methods.map((m) => m.name);
  methodList.replaceChildren(
    ...methods.map((m) => {
      const wrap = document.createElement('div');
      wrap.className = 'method';
      const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'method', id: `method-${m.name}`, value: m.name, disabled: !m.available });
      const label = document.createElement('label');
      label.htmlFor = input.id;
      const name = document.createElement('b');
      name.textContent = m.name;
      const what = document.createElement('span');
      what.textContent = METHOD_LABELS[m.name] ?? description.replace(/^[^:]*:\s*/, '');
      label.append(name, what);
      if (!m.available) {
        wrap.classList.add('unavailable');
        const why = document.createElement('span');
        why.className = 'why';
        why.textContent = `(${m.why})`;
        label.append(why);
      }
      wrap.append(input, label);
      return wrap;
    }),
  );
  const pick = [fileMethod, was].find((n) => methods.some((m) => m.name === n && m.available)) ?? methods.find((m) => m.available)?.name;
  if (pick) (document.getElementById(`method-${pick}`) as HTMLInputElement).checked = true;
}
const chosenMethod = () => ((form.elements.namedItem('method') as RadioNodeList | null)?.value ?? 'sdllm') as PageMethod;

for (const [key, site] of Object.entries(RASTER_SITES)) siteSel.add(new Option(site.label, key));
const rasterChoice = (): RasterChoice => ({ layer: Number(layerSel.value) || 0, site: siteSel.value as RasterSite });

function options(): GenerateOptions {
  const num = (id: string, dflt: number, min: number, max: number, int: boolean) => {
    const v = Number(($<HTMLInputElement>(id)).value);
    if (!Number.isFinite(v)) return dflt;
    const c = Math.min(max, Math.max(min, v));
    return int ? Math.round(c) : c;
  };
  return {
    temperature: num('temperature', 0.8, 0, 2, false),
    top_k: num('top-k', 40, 0, 1e6, true),
    max_new_tokens: num('max-tokens', 64, 1, 1000, true),
    seed: num('seed', 1, 0, 2 ** 31 - 1, true),
  };
}

// ---- charts ----
const css = getComputedStyle(document.documentElement);
const color = (v: string, d: string) => css.getPropertyValue(v).trim() || d;
const common = { responsive: true, maintainAspectRatio: false, animation: false as const, plugins: { legend: { display: false } } };
const firingChart = new Chart<'bar', number[], string>($<HTMLCanvasElement>('firing'), {
  type: 'bar',
  data: { labels: [], datasets: [{ label: 'firing rate (%)', data: [], backgroundColor: color('--accent', '#0969da') }] },
  options: { ...common, scales: { y: { beginAtZero: true, suggestedMax: 50, title: { display: true, text: 'firing rate (%)' } }, x: { title: { display: true, text: 'decoder layer' } } } },
});
const histChart = new Chart<'bar', number[], string>($<HTMLCanvasElement>('hist'), {
  type: 'bar',
  data: { labels: [], datasets: [{ label: 'fraction of neurons', data: [], backgroundColor: color('--spike', '#8250df') }] },
  options: { ...common, scales: { y: { beginAtZero: true, max: 1, title: { display: true, text: 'fraction of neurons' } }, x: { title: { display: true, text: 'spike count c' } } } },
});

// ---- worker messages ----
let pending: TokenMessage | null = null;
let frame = 0;

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'status':
      status(m.text);
      break;
    case 'loaded':
      onLoaded(m.info);
      break;
    case 'method':
      methodNotes.set(m.info.method, m.info.notes);
      methodSteps.set(m.info.method, m.info.timeSteps);
      showNotes();
      break;
    case 'started':
      currentRun = m.run;
      awaiting = false;
      setRunning(true);
      outText.textContent = '';
      $('tokens').textContent = '0';
      $('output').dataset.tokens = '0';
      $('tps').textContent = '–';
      $('steps').textContent = methodSteps.get(m.method)?.toString() ?? '–';
      document.body.dataset.method = m.method;
      $('meter-method').textContent = m.method;
      break;
    case 'token':
      if (m.run !== currentRun) break;
      if (m.delta) outText.append(m.delta);
      $('tokens').textContent = String(m.tokens);
      $('output').dataset.tokens = String(m.tokens);
      pending = m;
      if (!frame) frame = requestAnimationFrame(render);
      break;
    case 'done':
      if (m.run !== currentRun) break;
      if (m.delta) outText.append(m.delta);
      runs.set(m.method, m);
      renderRuns();
      if (m.tokensPerSecond !== null) $('tps').textContent = m.tokensPerSecond.toFixed(1);
      if (!awaiting) setRunning(false);
      break;
    case 'error':
      console.error(`sdllm worker: ${m.message}`);
      status(m.message, true);
      awaiting = false;
      setRunning(false);
      if (!info) setState('error');
      break;
  }
};
worker.onerror = (e) => {
  console.error(`sdllm worker failed: ${e.message}`);
  status(`The worker failed: ${e.message}`, true);
  setState('error');
};

function onLoaded(i: ModelInfo): void {
  info = i;
  const mib = (i.bytes / 2 ** 20).toFixed(1);
  $('model-info').textContent =
    `${i.name}: ${i.layers} layers, hidden ${i.hidden}, vocabulary ${i.vocab}, ${(i.parameters / 1e6).toFixed(1)} M parameters; converted with ${i.method} (${mib} MiB` +
    `${i.gamma ? `, γ calibrated per layer: ${i.gamma.min}–${i.gamma.max}` : ''}). Kernels: ${i.backend}.`;
  layerSel.replaceChildren(...Array.from({ length: i.layers }, (_, l) => new Option(String(l), String(l))));
  layerSel.value = String(Math.floor(i.layers / 2));
  methodRadios(i.methods, i.method, i.description);
  firingChart.data.labels = Array.from({ length: i.layers }, (_, l) => String(l));
  firingChart.update('none');
  methodNotes.clear();
  runs.clear();
  renderRuns();
  showNotes();
  embeddedBtn.disabled = embedded === null || usingEmbedded;
  status(`Ready: ${i.name}. Choose a method and press Generate.`);
  setRunning(false);
}

function setRunning(r: boolean): void {
  running = r;
  generateBtn.disabled = r || !info;
  stopBtn.disabled = !r;
  setState(r ? 'running' : info ? 'ready' : 'loading');
}

function showNotes(): void {
  const m = chosenMethod();
  const notes = methodNotes.get(m) ?? [];
  $('method-notes').textContent = notes.length ? `${m} here: ${notes.join('; ')}.` : '';
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

function render(): void {
  frame = 0;
  const m = pending;
  if (!m) return;
  pending = null;
  if (m.tokensPerSecond !== null) $('tps').textContent = m.tokensPerSecond.toFixed(1);
  $('rate').textContent = m.firingRate === null ? 'no spikes' : `${(100 * m.firingRate).toFixed(1)}%`;

  // Energy meter: the method's compute by part against the fp16 dense reference.
  const e = m.energy;
  const top = Math.max(e.compute, e.reference) || 1;
  const pct = (x: number) => `${(100 * Math.max(0, x)) / top}%`;
  $('bar-spike').style.width = pct(e.spike);
  $('bar-int').style.width = pct(e.denseInt);
  $('bar-float').style.width = pct(e.denseFloat);
  $('bar-ops').style.width = pct(e.floatOps);
  $('bar-ref').style.width = pct(e.reference);
  const em = $('energy-method');
  em.textContent = `${fmt(e.compute)} pJ`;
  em.dataset.value = String(e.compute);
  $('energy-ref').textContent = `${fmt(e.reference)} pJ`;
  $('energy-ref').dataset.value = String(e.reference);
  const ratio = e.reference / e.compute;
  $('energy-ratio').textContent = Number.isFinite(ratio)
    ? ratio >= 1.005 ? `${m.method}: ${ratio.toFixed(2)}× less compute energy than fp16 dense` : `${m.method}: ${(1 / ratio).toFixed(2)}× the fp16 dense compute energy`
    : '–';
  $('energy-mem').textContent = `${fmt(e.memory)} pJ per token`;

  // Firing rates per layer and the count histogram of this token.
  firingChart.data.datasets[0].data = m.firing ? m.firing.map((r) => 100 * r) : [];
  firingChart.update('none');
  $('firing-text').textContent = m.firing
    ? `This token: ${m.firing.map((r, l) => `layer ${l} ${(100 * r).toFixed(1)}%`).join(', ')}.`
    : `${m.method} has no spikes (dense matmuls).`;
  if (m.histogram) {
    const h = m.histogram;
    histChart.data.labels = h.fractions.map((_, i) => String(h.min + i));
    histChart.data.datasets[0].data = h.fractions;
    const zero = h.fractions[-h.min] ?? 0;
    $('hist-text').textContent = `This token: ${(100 * zero).toFixed(1)}% of neurons silent (c = 0); counts ${h.min} to ${h.min + h.fractions.length - 1}.`;
  } else {
    histChart.data.labels = [];
    histChart.data.datasets[0].data = [];
    $('hist-text').textContent = `${m.method} has no spike counts (dense matmuls).`;
  }
  histChart.update('none');

  const r = m.raster;
  if ('trains' in r) {
    const spikes = drawRaster(rasterCanvas, r.trains, r.T, r.n);
    const caption = `${r.name} input, token ${m.tokens}: ${r.n} neurons × ${r.T} time steps, ${spikes} spikes (red +1, blue −1).`;
    $('raster-caption').textContent = caption;
    rasterCanvas.setAttribute('aria-label', `Spike raster: ${caption}`);
  } else {
    clearRaster(rasterCanvas);
    $('raster-caption').textContent = r.none;
    rasterCanvas.setAttribute('aria-label', `Spike raster: ${r.none}`);
  }
}

function renderRuns(): void {
  const body = ($<HTMLTableElement>('runs')).tBodies[0];
  body.replaceChildren(
    ...methodNames.filter((m) => runs.has(m)).map((m) => {
      const r = runs.get(m)!;
      const tr = document.createElement('tr');
      tr.dataset.method = m;
      const cells = [
        r.tokens, r.tokensPerSecond === null ? '–' : r.tokensPerSecond.toFixed(1), r.meanCompute ? fmt(r.meanCompute) : '–',
        r.meanCompute ? `1/${(r.meanReference / r.meanCompute).toFixed(2)}` : '–', r.meanMemory ? fmt(r.meanMemory) : '–',
        r.meanFiringRate === null ? '–' : `${(100 * r.meanFiringRate).toFixed(1)}%`,
      ];
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = m;
      tr.append(th, ...cells.map((c) => Object.assign(document.createElement('td'), { textContent: String(c) })));
      return tr;
    }),
  );
}

// ---- controls ----
function generate(): void {
  if (!info) return;
  const prompt = promptEl.value.trim() ? promptEl.value : 'Once upon a time';
  outPrompt.textContent = prompt;
  outText.textContent = '';
  awaiting = true;
  setRunning(true);
  showNotes();
  send({ type: 'generate', prompt, options: options(), method: chosenMethod(), raster: rasterChoice() });
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  generate();
});
stopBtn.addEventListener('click', () => send({ type: 'stop' }));
methodList.addEventListener('change', () => {
  showNotes();
  // Switching while it generates restarts with the new method, so the numbers change live.
  if (running) generate();
});
const onRaster = () => send({ type: 'raster', raster: rasterChoice() });
layerSel.addEventListener('change', onRaster);
siteSel.addEventListener('change', onRaster);

fileInput.addEventListener('change', async () => {
  const f = fileInput.files?.[0];
  if (!f) return;
  info = null;
  setRunning(false);
  setState('loading');
  status(`Reading ${f.name} …`);
  usingEmbedded = false;
  const bytes = await f.arrayBuffer();
  send({ type: 'load', converted: { name: f.name, bytes }, float: null }, [bytes]);
});
embeddedBtn.addEventListener('click', () => {
  if (!embedded) return;
  info = null;
  usingEmbedded = true;
  fileInput.value = '';
  setRunning(false);
  setState('loading');
  send({ type: 'load', converted: { url: embedded.converted }, float: { url: embedded.float } });
});

async function start(): Promise<void> {
  const res = await fetch(manifestUrl);
  if (!res.ok) throw new Error(`cannot load ${manifestUrl} (HTTP ${res.status}); run npm run web:build`);
  const man = (await res.json()) as { converted: string; float: string };
  // Paths in the manifest are relative to the site; the worker gets absolute URLs.
  embedded = { converted: new URL(man.converted, document.baseURI).href, float: new URL(man.float, document.baseURI).href };
  send({ type: 'load', converted: { url: embedded.converted }, float: { url: embedded.float } });
}
start().catch((err: unknown) => {
  console.error(err);
  status(String(err instanceof Error ? err.message : err), true);
  setState('error');
});
