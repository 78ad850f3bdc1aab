/** sdllm report writes one self-contained HTML file whose charts all render in a real browser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodePath from 'node:path';
import { REPO_ROOT, runCli } from './helpers.js';
import { launch, needsChromium, TEST_OUTPUT } from './browser.js';

test('report.html renders every chart without console errors, on desktop and phone widths', needsChromium, async () => {
  fs.mkdirSync(TEST_OUTPUT, { recursive: true });
  const out = nodePath.join(TEST_OUTPUT, 'report.html');
  const r = runCli(['report', '--out', out, '--methods', 'fp,w4a4,spike-binary,sdllm', '--data', nodePath.join(REPO_ROOT, 'README.md'), '--tokens', '128', '--no-calibrate', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const html = fs.readFileSync(out, 'utf8');
  assert.ok(!/<script[^>]+src=|<link[^>]+href=["']http/.test(html), 'no external resources');
  const browser = await launch();
  try {
    for (const [name, width] of [['desktop', 1280], ['phone', 390]] as const) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (req) => !req.url().startsWith('file:') && !req.url().startsWith('data:') && errors.push(`network request ${req.url()}`));
      await page.goto(`file://${out}`);
      await page.waitForSelector('body[data-rendered=true]', { timeout: 15_000 });
      const canvases = await page.$$eval('canvas', (cs) =>
        cs.map((c) => {
          const ctx = (c as HTMLCanvasElement).getContext('2d')!;
          const { width: w, height: h } = c as HTMLCanvasElement;
          const data = ctx.getImageData(0, 0, w, h).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
          return { id: c.id, w, h, painted };
        }),
      );
      assert.ok(canvases.length >= 6, `${canvases.length} charts`);
      for (const c of canvases) assert.ok(c.w > 0 && c.h > 0 && c.painted > 100, `${name}: chart ${c.id} is empty (${JSON.stringify(c)})`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name}: page is ${overflow}px wider than the screen`);
      assert.deepEqual(errors, []);
      await page.screenshot({ path: nodePath.join(TEST_OUTPUT, `report-${name}.png`), fullPage: true });
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
