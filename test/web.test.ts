/**
 * The live demo page (web/) end to end in real headless Chromium: built (unless web/dist is
 * fresh), served from 127.0.0.1 by a small static server, driven like a user. It must load the
 * converted model, stream at least 20 tokens with `sdllm`, draw the raster and charts, show an
 * energy number, change its numbers when the method changes (also while generating), make no
 * request outside its origin and log no console errors; on desktop and phone widths.
 * Tokens/s per method as the page reports them go to test-output/web-results.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT } from './helpers.js';
import { launch, needsChromium, TEST_OUTPUT } from './browser.js';

const WEB = nodePath.join(REPO_ROOT, 'web');
const DIST = nodePath.join(WEB, 'dist');

function newest(path: string): number {
  const st = fs.statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(path).map((f) => newest(nodePath.join(path, f))));
}

function run(args: string[], what: string): void {
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
}

/** web:build's steps (the package is already compiled by npm test), skipped while web/dist is newer than its inputs. */
function buildPage(): void {
  run([nodePath.join(REPO_ROOT, 'dist', 'tools', 'web-model.js')], 'making the web model');
  const inputs = [nodePath.join(WEB, 'index.html'), nodePath.join(WEB, 'vite.config.ts'), nodePath.join(WEB, 'src'), nodePath.join(REPO_ROOT, 'src'), nodePath.join(WEB, 'public')];
  const out = nodePath.join(DIST, 'index.html');
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs > Math.max(...inputs.map(newest))) return;
  run([nodePath.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', nodePath.join(WEB, 'tsconfig.json')], 'type-checking web/');
  run([nodePath.join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', nodePath.join(WEB, 'vite.config.ts'), '--logLevel', 'warn'], 'vite build');
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** A static server of web/dist on 127.0.0.1, as any static host would serve it. */
async function serve(): Promise<{ origin: string; close: () => Promise<void>; served: string[] }> {
  const served: string[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    served.push(path);
    const file = nodePath.join(DIST, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(DIST + nodePath.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[nodePath.extname(file)] ?? 'application/octet-stream', 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, served, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Watch {
  errors: string[];
}

/** A page that records console errors (page and worker), page errors and any request off `origin` (which it blocks). */
async function openPage(browser: Browser, origin: string, width: number, height: number): Promise<{ page: Page; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width, height } });
  const watch: Watch = { errors: [] };
  const offOrigin = (url: string) => !url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:');
  await context.route((url) => offOrigin(url.href), (route) => {
    watch.errors.push(`request outside the origin: ${route.request().url()}`);
    return route.abort();
  });
  context.on('request', (r) => offOrigin(r.url()) && watch.errors.push(`request outside the origin: ${r.url()}`));
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && watch.errors.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => watch.errors.push(`page error: ${String(e)}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && watch.errors.push(`worker console: ${m.text()}`)));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
  return { page, watch };
}

const tokens = (page: Page) => page.$eval('#output', (e) => Number((e as HTMLElement).dataset.tokens ?? 0));
const generated = (page: Page) => page.$eval('#out-text', (e) => e.textContent ?? '');

/** Painted pixels of a canvas: any alpha for charts; spike colours (red or blue, not grey) for the raster. */
async function painted(page: Page, id: string, spikesOnly = false): Promise<number> {
  return page.$eval(
    `#${id}`,
    (c, spikesOnly) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (!spikesOnly) n += data[i + 3] ? 1 : 0;
        else if (Math.abs(data[i] - data[i + 2]) > 100) n++;
      }
      return n;
    },
    spikesOnly,
  );
}

interface Shown {
  method: string;
  text: string;
  tokens: number;
  tokensPerSecond: number;
  computePj: number;
  referencePj: number;
  ratio: string;
  firing: string;
  steps: string;
  raster: string;
  notes: string;
}

/** What the page shows after a run of `method`. */
async function shown(page: Page, method: string): Promise<Shown> {
  const row = await page.$eval(`#runs tr[data-method="${method}"]`, (tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? ''));
  return {
    method,
    text: await generated(page),
    tokens: await tokens(page),
    tokensPerSecond: Number(row[1]),
    computePj: Number(await page.$eval('#energy-method', (e) => (e as HTMLElement).dataset.value)),
    referencePj: Number(await page.$eval('#energy-ref', (e) => (e as HTMLElement).dataset.value)),
    ratio: (await page.textContent('#energy-ratio')) ?? '',
    firing: (await page.textContent('#rate')) ?? '',
    steps: (await page.textContent('#steps')) ?? '',
    raster: (await page.textContent('#raster-caption')) ?? '',
    notes: (await page.textContent('#method-notes')) ?? '',
  };
}

const whenReady = (page: Page, timeout = 90_000) => page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout });
const whenTokens = (page: Page, n: number) => page.waitForFunction((n) => Number(document.getElementById('output')!.dataset.tokens ?? 0) >= n, n, { timeout: 60_000 });

/** Generates with `method` to the end and returns what the page shows. */
async function generateWith(page: Page, method: string, maxTokens: number): Promise<Shown> {
  await page.check(`#method-${method}`);
  await page.fill('#max-tokens', String(maxTokens));
  await page.click('#generate');
  await page.waitForSelector('body[data-state=running]');
  await whenReady(page);
  return shown(page, method);
}

test('web page: streams sdllm tokens with a live raster, charts and energy meter; methods switch; phone width; no network, no errors', { ...needsChromium, timeout: 240_000 }, async (t) => {
  buildPage();
  // The bundle holds no Node built-ins (vite.config.ts also fails the build on one).
  for (const f of fs.readdirSync(nodePath.join(DIST, 'assets')).filter((n) => n.endsWith('.js'))) {
    const js = fs.readFileSync(nodePath.join(DIST, 'assets', f), 'utf8');
    assert.ok(!/__vite-browser-external|from\s*["']node:|require\(["']node:/.test(js), `${f} pulls in a Node built-in`);
  }
  const server = await serve();
  const browser = await launch();
  const results: Record<string, unknown> = {};
  try {
    const { page, watch } = await openPage(browser, server.origin, 1280, 900);
    assert.match((await page.textContent('#model-info')) ?? '', /sdllm-tiny\.sdllm: 4 layers.*converted with sdllm.*Kernels: ts/);

    // sdllm: the text grows as tokens stream; everything is drawn while it runs.
    await page.check('#method-sdllm');
    await page.fill('#max-tokens', '40');
    await page.click('#generate');
    await whenTokens(page, 5);
    const early = await generated(page);
    await whenTokens(page, 20);
    const later = await generated(page);
    assert.ok(later.length > early.length && later.startsWith(early), `text grows: ${JSON.stringify(early)} → ${JSON.stringify(later)}`);
    assert.ok((await painted(page, 'raster', true)) > 50, 'the raster shows spikes while generating');
    assert.match((await page.textContent('#energy-method')) ?? '', /^[\d,]+ pJ$/, 'the energy meter shows a number while generating');
    await whenReady(page);
    assert.ok((await painted(page, 'raster', true)) > 50, 'raster drawn');
    assert.ok(Number(await page.$eval('#raster', (c) => (c as HTMLElement).dataset.spikes)) > 0);
    assert.ok((await painted(page, 'firing')) > 500, 'firing-rate chart drawn');
    assert.ok((await painted(page, 'hist')) > 500, 'histogram drawn');
    const sdllm = await shown(page, 'sdllm');
    assert.ok(sdllm.tokens >= 20 && sdllm.text.length > 20, `sdllm wrote ${sdllm.tokens} tokens: ${JSON.stringify(sdllm.text)}`);
    assert.ok(sdllm.computePj > 0 && sdllm.referencePj > sdllm.computePj, `energy meter: ${sdllm.computePj} vs fp16 ${sdllm.referencePj}`);
    assert.match((await page.textContent('#energy-method')) ?? '', /^[\d,]+ pJ$/);
    assert.match(sdllm.ratio, /sdllm: [\d.]+× less compute energy than fp16 dense/);
    assert.match(sdllm.firing, /^\d+(\.\d)?%$/);
    assert.equal(sdllm.steps, '7');
    assert.match(sdllm.raster, /model\.layers\.2\.mlp\.down_proj input, token \d+: 688 neurons × 7 time steps, \d+ spikes/);

    // Switching while it generates restarts with the new method at once.
    await page.check('#method-sdllm');
    await page.fill('#max-tokens', '400');
    await page.click('#generate');
    await whenTokens(page, 5);
    await page.check('#method-spike-binary');
    await page.waitForFunction(() => document.body.dataset.method === 'spike-binary' && Number(document.getElementById('output')!.dataset.tokens ?? 0) >= 3, null, { timeout: 60_000 });
    assert.equal(await page.textContent('#steps'), '14');
    assert.equal(await page.textContent('#meter-method'), 'spike-binary');
    // The raster follows the chosen layer and input live.
    await page.selectOption('#raster-layer', '0');
    await page.selectOption('#raster-site', 'qkv');
    await page.waitForFunction(() => /model\.layers\.0\.self_attn\.q_proj input.*256 neurons × 14/.test(document.getElementById('raster-caption')!.textContent ?? ''), null, { timeout: 30_000 });
    await page.click('#stop');
    await whenReady(page, 30_000);
    assert.match((await page.textContent('#status')) ?? '', /stopped/);
    await page.selectOption('#raster-layer', '2');
    await page.selectOption('#raster-site', 'down');

    // Other methods: the numbers change, and each shows what it is.
    const binary = await generateWith(page, 'spike-binary', 30);
    assert.equal(binary.steps, '14');
    assert.notEqual(binary.computePj, sdllm.computePj);
    assert.notEqual(binary.firing, sdllm.firing);
    assert.match(binary.raster, /688 neurons × 14 time steps/);
    const w4a4 = await generateWith(page, 'w4a4', 30);
    assert.match(w4a4.raster, /w4a4 codes this input as 4-bit integers/);
    assert.equal(w4a4.firing, 'no spikes');
    assert.notEqual(w4a4.computePj, sdllm.computePj);
    const t3 = await generateWith(page, 'sdllm-t3', 30);
    assert.equal(t3.steps, '3');
    assert.match(t3.notes, /no online rotation of the o_proj input/);
    assert.ok(t3.computePj < sdllm.computePj, `T = 3 costs less than T = 7 (${t3.computePj} vs ${sdllm.computePj})`);
    const fp = await generateWith(page, 'fp', 30);
    assert.match(fp.raster, /no spikes/);
    // fp is the reference: its counted compute equals the fp16 dense figure.
    assert.ok(Math.abs(fp.computePj - fp.referencePj) <= 1e-9 * fp.referencePj, `fp ${fp.computePj} vs reference ${fp.referencePj}`);
    for (const r of [sdllm, binary, w4a4, t3, fp]) assert.ok(r.tokens >= 20 && r.tokensPerSecond > 0, `${r.method}: ${r.tokens} tokens at ${r.tokensPerSecond} tokens/s`);

    // Keyboard: the controls are reachable and Generate works from the keyboard.
    await page.check('#method-sdllm');
    await page.fill('#max-tokens', '20');
    await page.focus('#seed');
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-state=running]');
    await whenReady(page);
    // Back to the screenshot's state: a full sdllm run with every method in the table.
    await generateWith(page, 'sdllm', 40);
    await page.screenshot({ path: nodePath.join(TEST_OUTPUT, 'web-desktop.png'), fullPage: true });
    assert.equal(await page.$$eval('#runs tbody tr', (rs) => rs.length), 5);
    assert.deepEqual(watch.errors, []);

    // A converted model from disk (here a spike-ternary conversion): its own method is offered, fp is not.
    const own = nodePath.join(TEST_OUTPUT, 'web-upload.sdllm');
    const conv = spawnSync(process.execPath, [nodePath.join(REPO_ROOT, 'bin', 'sdllm.js'), 'convert', '--method', 'spike-ternary', '--out', own], { encoding: 'utf8' });
    assert.equal(conv.status, 0, conv.stderr);
    await page.click('.model-pick summary');
    await page.setInputFiles('#file', own);
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && /web-upload\.sdllm/.test(document.getElementById('model-info')!.textContent ?? ''), null, { timeout: 60_000 });
    fs.rmSync(own);
    assert.match((await page.textContent('#model-info')) ?? '', /converted with spike-ternary/);
    assert.ok(await page.isDisabled('#method-fp'));
    assert.ok(await page.isChecked('#method-spike-ternary'));
    const ternary = await generateWith(page, 'spike-ternary', 20);
    assert.ok(ternary.tokens >= 20);
    assert.match(ternary.raster, /688 neurons × 7 time steps/);
    const derived = await generateWith(page, 'sdllm', 20);
    assert.match(derived.notes, /not calibrated/);
    await page.click('#embedded');
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && /sdllm-tiny\.sdllm/.test(document.getElementById('model-info')!.textContent ?? ''), null, { timeout: 60_000 });
    assert.ok(!(await page.isDisabled('#method-fp')));
    assert.deepEqual(watch.errors, []);
    results.desktop = Object.fromEntries([sdllm, binary, w4a4, t3, fp].map((r) => [r.method, { tokens: r.tokens, tokensPerSecond: r.tokensPerSecond, computePjPerToken: r.computePj, fp16ReferencePjPerToken: r.referencePj }]));
    await page.context().close();

    // Phone widths: no horizontal scrolling; it generates there too.
    for (const [name, width, height] of [['phone', 390, 844], ['narrow', 360, 740]] as const) {
      const { page: phone, watch: w } = await openPage(browser, server.origin, width, height);
      const res = await generateWith(phone, 'sdllm', 24);
      assert.ok(res.tokens >= 20, `${name}: ${res.tokens} tokens`);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name}: the page is ${overflow}px wider than the screen`);
      assert.ok((await painted(phone, 'raster', true)) > 50 && (await painted(phone, 'firing')) > 200 && (await painted(phone, 'hist')) > 200, `${name}: drawn`);
      if (name === 'phone') await phone.screenshot({ path: nodePath.join(TEST_OUTPUT, 'web-phone.png'), fullPage: true });
      assert.deepEqual(w.errors, []);
      results[name] = { tokens: res.tokens, tokensPerSecond: res.tokensPerSecond };
      await phone.context().close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  assert.ok(server.served.some((p) => p.endsWith('.sdllm')) && server.served.some((p) => p.endsWith('model.safetensors')), 'the models came from the page\'s own server');
  fs.writeFileSync(nodePath.join(TEST_OUTPUT, 'web-results.json'), JSON.stringify(results, null, 2) + '\n');
  t.diagnostic(`tokens/s in Chromium: ${Object.entries(results.desktop as Record<string, { tokensPerSecond: number }>).map(([m, r]) => `${m} ${r.tokensPerSecond}`).join(', ')}`);
});
