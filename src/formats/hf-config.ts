/** Hugging Face `config.json` files: reading JSON files; the parsing is in hf-config-core.ts. */
import fs from 'node:fs';
import { fail } from '../errors.js';
import { fileProblem } from './safetensors.js';

export { parseHfConfig } from './hf-config-core.js';

export function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    fail(fileProblem(e), path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`, path);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object', path);
  return json as Record<string, unknown>;
}
