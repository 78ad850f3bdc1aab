/**
 * The models the web page (web/) loads, made at build time into web/public/models (git-ignored):
 *  - sdllm-tiny.sdllm: the embedded model converted by `sdllm convert --method sdllm` (γ calibrated
 *    on text the float model writes itself, so no data is needed);
 *  - sdllm-tiny/: the embedded float checkpoint itself (F16 safetensors, config, tokenizer), for `fp`;
 *  - manifest.json: what the page loads by default, and how the conversion went.
 * The conversion (about half a minute) is skipped while its inputs are unchanged; --force redoes it.
 *   node dist/tools/web-model.js [--force]
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { DEFAULT_MODEL, PACKAGE_ROOT } from '../src/paths.js';
import { SDLLM_FORMAT_VERSION } from '../src/formats/sdllm-file.js';

const OUT = nodePath.join(PACKAGE_ROOT, 'web', 'public', 'models');
const NAME = nodePath.basename(DEFAULT_MODEL);
const FLOAT_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];
const force = process.argv.includes('--force');

fs.mkdirSync(nodePath.join(OUT, NAME), { recursive: true });

// The float checkpoint, copied when it differs (size or time), keeping its time so reruns are no-ops.
for (const f of FLOAT_FILES) {
  const src = nodePath.join(DEFAULT_MODEL, f), dst = nodePath.join(OUT, NAME, f);
  const s = fs.statSync(src);
  const d = fs.existsSync(dst) ? fs.statSync(dst) : null;
  if (d && d.size === s.size && d.mtimeMs === s.mtimeMs) continue;
  fs.copyFileSync(src, dst);
  fs.utimesSync(dst, s.atime, s.mtime);
}

// What the conversion depends on: the checkpoint's files, the format version and the compiled engine.
const hash = crypto.createHash('sha256');
for (const f of FLOAT_FILES) hash.update(f).update(fs.readFileSync(nodePath.join(DEFAULT_MODEL, f)));
hash.update(`format ${SDLLM_FORMAT_VERSION}`);
const engine = nodePath.join(PACKAGE_ROOT, 'dist', 'src');
const engineFiles = ['sdllm', 'quant', 'spike', 'model', 'generate', 'kernels/ts']
  .flatMap((dir) => fs.readdirSync(nodePath.join(engine, dir)).filter((n) => n.endsWith('.js')).map((n) => `${dir}/${n}`))
  .concat(['formats/sdllm-file.js', 'formats/sdllm-file-core.js', 'formats/safetensors.js', 'formats/safetensors-core.js'])
  .sort();
for (const f of engineFiles) hash.update(f).update(fs.readFileSync(nodePath.join(engine, f)));
const inputs = hash.digest('hex');

const converted = nodePath.join(OUT, `${NAME}.sdllm`);
const manifestPath = nodePath.join(OUT, 'manifest.json');
const old = fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, 'utf8')) : null;
if (!force && old?.inputs === inputs && fs.existsSync(converted)) {
  console.log(`web model: ${nodePath.relative(PACKAGE_ROOT, converted)} is up to date`);
} else {
  console.log(`web model: converting ${NAME} with sdllm convert --method sdllm (calibrating γ; about half a minute) ...`);
  const tmp = `${converted}.part`;
  const r = spawnSync(process.execPath, [nodePath.join(PACKAGE_ROOT, 'bin', 'sdllm.js'), 'convert', '--model', DEFAULT_MODEL, '--method', 'sdllm', '--out', tmp, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    console.error(`web model: sdllm convert failed (exit ${r.status})`);
    process.exit(1);
  }
  fs.renameSync(tmp, converted);
  const res = JSON.parse(r.stdout) as { bytes: number; seconds: number; method: unknown; calibration: { linears: string[]; gamma: number }[] };
  const manifest = {
    inputs,
    model: NAME,
    converted: `models/${NAME}.sdllm`,
    convertedBytes: res.bytes,
    float: `models/${NAME}/`,
    command: `sdllm convert --model models/${NAME} --method sdllm`,
    seconds: res.seconds,
    gamma: res.calibration.map((c) => ({ linears: c.linears, gamma: c.gamma })),
  };
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  console.log(`web model: wrote ${nodePath.relative(PACKAGE_ROOT, converted)} (${(res.bytes / 2 ** 20).toFixed(1)} MiB) in ${res.seconds.toFixed(1)} s`);
}
