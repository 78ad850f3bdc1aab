/**
 * The `sdllm` command. Thin: parse flags (commander), call the library, print.
 * User errors (SdllmError, bad flags) print one line and exit 2; --debug adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { SdllmError } from '../errors.js';
import { nativeAvailable, nativeLoadError } from '../kernels/node.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerConvert } from './convert.js';
import { registerPpl } from './ppl.js';
import { registerEval } from './eval.js';
import { registerMerge } from './merge.js';
import { registerCompare } from './compare.js';
import { registerEnergy } from './energy.js';
import { registerReport } from './report.js';

export const VERSION = '0.1.0';

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = new Command('sdllm')
    .description('Spike-driven LLMs: convert, generate, evaluate and measure energy of LLaMA-family models run on spikes')
    .version(VERSION)
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    // Flag errors are one line like every other user error (commander writes "error: ...").
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`sdllm: ${s.trim().replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`),
    });
  registerGenerate(program);
  registerInfo(program);
  registerConvert(program);
  registerPpl(program);
  registerEval(program);
  registerMerge(program);
  registerCompare(program);
  registerEnergy(program);
  registerReport(program);
  const why = nativeLoadError();
  if (!nativeAvailable() && why && !/disabled/.test(why)) process.stderr.write(`sdllm: native kernels unavailable (${why}); using the TypeScript kernels\n`);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version also end here, with exit code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof SdllmError && !debug) {
      process.stderr.write(`sdllm: error: ${e.message}\n`);
      return 2;
    }
    if (debug) process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    else process.stderr.write(`sdllm: internal error: ${(e as Error).message} (run with --debug for details)\n`);
    return e instanceof SdllmError ? 2 : 1;
  }
}
