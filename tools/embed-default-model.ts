/**
 * Makes the embedded default model (models/sdllm-tiny) from the project's sdllm-tiny checkpoint:
 * the same tensors stored as F16 (14 MB instead of 28 MB, under the package's 20 MB budget),
 * with the tokenizer and configs copied unchanged.
 *   node dist/tools/embed-default-model.js [SHARED_DIR]
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { readSafetensorsHeader, readTensorF32, writeSafetensors } from '../src/formats/safetensors.js';
import { float32ToF16Bits } from '../src/formats/dtype.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const shared = process.argv[2] ?? nodePath.resolve(PACKAGE_ROOT, '..', 'shared');
const src = nodePath.join(shared, 'models', 'sdllm-tiny');
const dst = nodePath.join(PACKAGE_ROOT, 'models', 'sdllm-tiny');
fs.mkdirSync(dst, { recursive: true });

const file = nodePath.join(src, 'model.safetensors');
const header = readSafetensorsHeader(file);
const tensors = [...header.tensors.values()].map((info) => ({
  name: info.name,
  dtype: 'F16' as const,
  shape: info.shape,
  data: () => {
    const f = readTensorF32(info, file);
    const h = new Uint16Array(f.length);
    for (let i = 0; i < f.length; i++) h[i] = float32ToF16Bits(f[i]);
    return new Uint8Array(h.buffer);
  },
}));
writeSafetensors(nodePath.join(dst, 'model.safetensors'), tensors, { format: 'pt', note: 'sdllm-tiny stored as F16 by tools/embed-default-model.ts' });

const config = JSON.parse(fs.readFileSync(nodePath.join(src, 'config.json'), 'utf8'));
config.dtype = 'float16';
fs.writeFileSync(nodePath.join(dst, 'config.json'), JSON.stringify(config, null, 2) + '\n');
for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'])
  fs.writeFileSync(nodePath.join(dst, f), fs.readFileSync(nodePath.join(src, f)));
console.log(`wrote ${dst}`);
