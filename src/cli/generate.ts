import type { Command } from 'commander';
import { generate, formatTimings, DEFAULT_MAX_NEW_TOKENS } from '../generate/generate.js';
import { TextStreamer } from '../generate/streamer.js';
import { DEFAULT_MODEL } from '../paths.js';
import { fail } from '../errors.js';
import { loadMethodModel } from '../sdllm/load.js';
import { describeMethod } from '../sdllm/method.js';
import { enableSpikeStats, spikeSummary } from '../sdllm/stats.js';
import { floatArg, intArg } from './options.js';
import { addMethodOptions, methodLoadOptions, type MethodFlags } from './method-options.js';
import { formatStatsLine, formatStatsTable } from './stats-format.js';

interface GenerateFlags extends MethodFlags {
  model: string;
  prompt: string;
  maxNewTokens: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed: number;
  json?: boolean;
  stats?: boolean | 'layers';
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate text from a prompt, streaming tokens as they are produced')
    .option('--model <path>', 'Hugging Face folder, llama2.c .bin or converted .sdllm file', DEFAULT_MODEL)
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--max-new-tokens <n>', 'tokens to generate at most', intArg(0), DEFAULT_MAX_NEW_TOKENS)
    .option('--do-sample', 'sample instead of greedy decoding (implied by --temperature/--top-k/--top-p)')
    .option('--temperature <t>', 'softmax temperature (0 = greedy)', floatArg(0))
    .option('--top-k <k>', 'sample among the k most likely tokens', intArg(0))
    .option('--top-p <p>', 'sample within the smallest set of tokens whose probability reaches p', floatArg(0, 1))
    .option('--repetition-penalty <r>', 'penalise tokens already in the sequence (HF rule; 1 = off)', floatArg(0))
    .option('--seed <n>', 'seed of the sampler (same seed, same text)', intArg(0, 2 ** 32 - 1), 0)
    .option('--stats [layers]', 'print spike statistics after generating ("--stats layers": per layer)')
    .option('--json', 'print one JSON object (text, ids, timings, stats) instead of streaming');
  addMethodOptions(cmd).action((f: GenerateFlags) => {
    const { model, method } = loadMethodModel(f.model, methodLoadOptions(f));
    const ids = model.tokenizer.encode(f.prompt);
    if (ids.length > model.config.max_position_embeddings)
      fail(`the prompt has ${ids.length} tokens, longer than the model's context of ${model.config.max_position_embeddings}`, f.model);
    const doSample = f.doSample ?? (f.temperature !== undefined || f.topK !== undefined || f.topP !== undefined);
    const streamer = f.json ? undefined : new TextStreamer(model.tokenizer, (s) => process.stdout.write(s));
    if (f.stats) enableSpikeStats(model);
    if (!f.json) {
      if (method.method !== 'fp' && !f.quiet) process.stderr.write(`${describeMethod(method)}\n`);
      process.stdout.write(f.prompt);
    }
    const res = generate(model, ids, {
      max_new_tokens: f.maxNewTokens,
      do_sample: doSample,
      temperature: f.temperature,
      top_k: f.topK,
      top_p: f.topP,
      repetition_penalty: f.repetitionPenalty,
      seed: f.seed,
      streamer,
    });
    const stats = f.stats ? spikeSummary(model) : null;
    if (f.json) {
      const text = model.tokenizer.decode(res.newTokens, { skip_special_tokens: true });
      process.stdout.write(
        JSON.stringify({ prompt: f.prompt, generated_text: text, prompt_ids: ids, new_ids: res.newTokens, finish_reason: res.finishReason, method, timings: res.timings, stats }) + '\n',
      );
      return;
    }
    process.stdout.write('\n');
    process.stderr.write(formatTimings(res.timings) + '\n');
    if (f.stats) {
      if (!stats) process.stderr.write(`spike stats: none (method ${method.method} has no spiking layers)\n`);
      else {
        process.stderr.write(formatStatsLine(stats) + '\n');
        if (f.stats === 'layers') process.stderr.write(formatStatsTable(stats) + '\n');
      }
    }
  });
}
