/**
 * The report as one self-contained HTML file: the data as JSON, Chart.js inlined (no network at
 * view time), tables rendered here, charts drawn in the page. Readable from phone width up.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { createRequire } from 'node:module';
import type { ReportData, MethodReport } from './report-data.js';

function chartJsSource(): string {
  const require = createRequire(import.meta.url);
  // The UMD build is not in chart.js's export map; it sits beside the entry point.
  return fs.readFileSync(nodePath.join(nodePath.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const uj = (pj: number) => (pj / 1e6).toFixed(3);

function summaryTable(d: ReportData): string {
  const fp = d.methods.find((m) => m.method === 'fp');
  const head = ['method', 'PPL', 'firing rate', 'T', 'events / token', 'compute µJ/token', 'memory µJ/token', 'compute+memory µJ/token', 'compute vs fp16 fp'];
  const rows = d.methods.map((m) => {
    const e = m.energyPerToken.fp16.energy;
    const s = m.spikes?.linears;
    const ratio = fp ? fp.energyPerToken.fp16.energy.compute / e.compute : NaN;
    return [
      m.method, m.ppl.toFixed(2), s ? `${(100 * s.firingRate).toFixed(1)}%` : '–', s ? String(s.maxTimeSteps) : '–',
      s ? Math.round(s.eventsPerToken).toLocaleString('en-US') : '–', uj(e.compute), uj(e.memory), uj(e.total),
      Number.isFinite(ratio) ? `1/${ratio.toFixed(1)}` : '–',
    ];
  });
  return table(head, rows);
}

function layerTable(m: MethodReport): string {
  if (!m.spikes) return '';
  const rows = m.spikes.layers.map((l) => [l.name, `${(100 * l.firingRate).toFixed(1)}%`, l.meanAbsCount.toFixed(3), l.timeSteps.toFixed(1), `${(100 * l.silentFraction).toFixed(1)}%`, Math.round(l.eventsPerToken).toLocaleString('en-US')]);
  return `<h3>Per layer: ${esc(m.method)}</h3>` + table(['layer', 'firing rate', 'mean |count|', 'T', 'silent', 'events / token'], rows);
}

function table(head: string[], rows: string[][]): string {
  return `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

export function renderReport(d: ReportData): string {
  const json = JSON.stringify(d).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdllm report — ${esc(d.model)}</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #fafbfc; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; } h3 { font-size: 1rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
  figure { margin: 0; background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 10px; }
  figcaption { font-size: .85rem; color: #57606a; margin-top: 6px; }
  .chart { position: relative; height: 280px; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; font-size: .85rem; white-space: nowrap; }
  th, td { border-bottom: 1px solid #e1e4e8; padding: 4px 8px; text-align: right; }
  th[scope=row], thead th:first-child { text-align: left; }
  .meta { color: #57606a; font-size: .85rem; }
</style></head>
<body><main>
<h1>sdllm report</h1>
<p class="meta">Model <code>${esc(d.model)}</code>; ${d.methods[0]?.tokens.toLocaleString('en-US')} tokens of <code>${esc(d.data)}</code>; energy table <b>${esc(d.table.name)}</b> (${esc(d.table.source)}); floats priced as fp16. Generated ${esc(d.generated)}.</p>
<h2>Summary</h2>
${summaryTable(d)}
<p class="meta">${d.methods.map((m) => `<b>${esc(m.method)}</b>: ${esc(m.description)}`).join('<br>')}</p>
<h2>Charts</h2>
<div class="grid">
  <figure><div class="chart"><canvas id="firing" role="img" aria-label="Firing rate per layer and method"></canvas></div><figcaption>Firing rate per decoder layer (all spiked matmuls of the layer).</figcaption></figure>
  <figure><div class="chart"><canvas id="hist" role="img" aria-label="Histogram of spike counts"></canvas></div><figcaption>Spike counts per neuron and token: zero and ±1 dominate under membrane clipping.</figcaption></figure>
  <figure><div class="chart"><canvas id="energy" role="img" aria-label="Compute energy per token by part"></canvas></div><figcaption>Compute energy per token (µJ) by part.</figcaption></figure>
  <figure><div class="chart"><canvas id="memory" role="img" aria-label="Compute and memory energy per token"></canvas></div><figcaption>Compute vs memory (weights from DRAM, activations from SRAM), µJ per token.</figcaption></figure>
  <figure><div class="chart"><canvas id="pareto" role="img" aria-label="Perplexity against compute energy per token"></canvas></div><figcaption>Perplexity against compute energy per token (one point per method).</figcaption></figure>
  ${d.methods.filter((m) => m.raster).map((m, i) => `<figure><div class="chart"><canvas id="raster${i}" role="img" aria-label="Spike raster"></canvas></div><figcaption>Spike raster, ${esc(m.method)}: ${esc(m.raster!.layer)} input, token ${m.raster!.token}, ${m.raster!.neurons} neurons × ${m.raster!.timeSteps} time steps (red +1, blue −1).</figcaption></figure>`).join('\n  ')}
</div>
<h2>Tables</h2>
${d.methods.map(layerTable).join('\n')}
</main>
<script id="data" type="application/json">${json}</script>
<script>${chartJsSource()}</script>
<script>
(function () {
  const d = JSON.parse(document.getElementById('data').textContent);
  const palette = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#57606a', '#e16f24', '#116329', '#a40e26', '#0550ae'];
  const color = (i) => palette[i % palette.length];
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  const spiking = d.methods.filter((m) => m.spikes);
  const layerOf = (name) => { const m = /layers\\.(\\d+)\\./.exec(name); return m ? Number(m[1]) : -1; };
  const nLayers = Math.max(0, ...spiking.flatMap((m) => m.spikes.layers.map((l) => layerOf(l.name) + 1)));
  new Chart(document.getElementById('firing'), { type: 'bar', options: { ...common, scales: { y: { title: { display: true, text: 'firing rate (%)' } }, x: { title: { display: true, text: 'layer' } } } },
    data: { labels: Array.from({ length: nLayers }, (_, i) => String(i)), datasets: spiking.map((m, k) => ({ label: m.method, backgroundColor: color(k),
      data: Array.from({ length: nLayers }, (_, l) => { let ev = 0, slots = 0; for (const s of m.spikes.layers) if (layerOf(s.name) === l && !s.name.includes('attention')) { ev += s.events; slots += s.neurons * s.timeSteps; } return slots ? (100 * ev) / slots : 0; }) })) } });
  const histOf = (h) => { const out = new Map(); if (h.kind === 'signed') h.bins.forEach((v, i) => out.set(h.min + i, v)); else h.bins.forEach((v, i) => out.set(i === 0 ? '0' : '|c|<' + 2 ** i, v)); return out; };
  const hists = spiking.map((m) => histOf(m.spikes.linears.histogram));
  const keys = [...new Set(hists.flatMap((h) => [...h.keys()]))].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  new Chart(document.getElementById('hist'), { type: 'bar', options: { ...common, scales: { y: { title: { display: true, text: 'fraction of neuron-tokens' } }, x: { title: { display: true, text: 'spike count c' } } } },
    data: { labels: keys.map(String), datasets: spiking.map((m, k) => { const h = hists[k]; const tot = [...h.values()].reduce((a, b) => a + b, 0) || 1; return { label: m.method, backgroundColor: color(k), data: keys.map((x) => (h.get(x) || 0) / tot) }; }) } });
  const parts = [['spike-driven matmuls', (e) => e.byKind.spiking], ['dense matmuls', (e) => e.byKind['dense-int'] + e.byKind['dense-float']], ['attention', (e) => e.byKind.attention], ['other float ops', (e) => e.byKind.rotation + e.byKind.other]];
  new Chart(document.getElementById('energy'), { type: 'bar', options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'µJ / token' } } } },
    data: { labels: d.methods.map((m) => m.method), datasets: parts.map(([label, f], k) => ({ label, backgroundColor: color(k), data: d.methods.map((m) => f(m.energyPerToken.fp16) / 1e6) })) } });
  new Chart(document.getElementById('memory'), { type: 'bar', options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'µJ / token' } } } },
    data: { labels: d.methods.map((m) => m.method), datasets: [['compute', 'compute'], ['memory', 'memory']].map(([label, key], k) => ({ label, backgroundColor: color(k + 4), data: d.methods.map((m) => m.energyPerToken.fp16.energy[key] / 1e6) })) } });
  new Chart(document.getElementById('pareto'), { type: 'scatter', options: { ...common, scales: { x: { type: 'logarithmic', title: { display: true, text: 'compute µJ / token (log)' } }, y: { title: { display: true, text: 'perplexity' } } } },
    data: { datasets: d.methods.map((m, k) => ({ label: m.method, backgroundColor: color(k), pointRadius: 6, data: [{ x: m.energyPerToken.fp16.energy.compute / 1e6, y: m.ppl }] })) } });
  d.methods.filter((m) => m.raster).forEach((m, i) => {
    const r = m.raster;
    const pts = (p) => r.spikes.filter((s) => s[2] === p).map((s) => ({ x: s[0], y: s[1] }));
    new Chart(document.getElementById('raster' + i), { type: 'scatter', options: { ...common, plugins: { legend: { display: false } }, scales: { x: { min: -0.5, max: r.timeSteps - 0.5, ticks: { stepSize: 1 }, title: { display: true, text: 'time step' } }, y: { min: 0, max: r.neurons, title: { display: true, text: 'neuron' } } } },
      data: { datasets: [{ label: '+1', data: pts(1), backgroundColor: '#cf222e', pointRadius: 1.5 }, { label: '−1', data: pts(-1), backgroundColor: '#0969da', pointRadius: 1.5 }] } });
  });
  document.body.dataset.rendered = 'true';
})();
</script>
</body></html>
`;
}
