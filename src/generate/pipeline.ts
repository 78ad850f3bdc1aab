/**
 * transformers.js-shaped entry point:
 *   const gen = await pipeline('text-generation', pathOrName);
 *   const [{ generated_text }] = await gen('Once upon a time', { max_new_tokens: 32 });
 */
import { loadModel, type LoadOptions } from '../model/load.js';
import type { LlamaModel } from '../model/llama.js';
import { fail } from '../errors.js';
import { generate, type GenerationOptions } from './generate.js';

export interface TextGenerationOutput {
  generated_text: string;
}

export interface TextGenerationPipeline {
  (text: string, options?: GenerationOptions & { return_full_text?: boolean }): Promise<TextGenerationOutput[]>;
  model: LlamaModel;
  tokenizer: LlamaModel['tokenizer'];
}

export async function pipeline(task: 'text-generation', model?: string | LlamaModel, opts: LoadOptions = {}): Promise<TextGenerationPipeline> {
  if (task !== 'text-generation') fail(`unsupported pipeline task "${String(task)}" (supported: text-generation)`);
  const m = typeof model === 'object' ? model : loadModel(model, opts);
  const run = async (text: string, options: GenerationOptions & { return_full_text?: boolean } = {}) => {
    const ids = m.tokenizer.encode(text);
    const res = generate(m, ids, options);
    const completion = m.tokenizer.decode(res.newTokens, { skip_special_tokens: true });
    return [{ generated_text: options.return_full_text === false ? completion : text + completion }];
  };
  return Object.assign(run, { model: m, tokenizer: m.tokenizer });
}
