/** tokenizer.json + tokenizer_config.json of a model folder, as an HfTokenizer (hf-tokenizer-core.ts). */
import fs from 'node:fs';
import nodePath from 'node:path';
import { fail } from '../errors.js';
import { readJsonFile } from './hf-config.js';
import { HfTokenizer } from './hf-tokenizer-core.js';

export { HfTokenizer };

export function loadHfTokenizer(dir: string, eosFromModel: readonly number[]): HfTokenizer {
  const tj = nodePath.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tj)) fail('no such file: the model folder needs its tokenizer (sdllm reads Hugging Face fast-tokenizer files)', tj);
  const tc = nodePath.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(tc) ? readJsonFile(tc) : {};
  return new HfTokenizer(readJsonFile(tj), config, eosFromModel, tj);
}
