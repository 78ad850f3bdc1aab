import type { Command } from 'commander';
import { fail } from '../errors.js';
import { mergeOutputs, readOutput, serializeOutput, writeAtomic } from '../eval/results.js';
import { lmEvalTable } from '../eval/table.js';
import { runHeader } from './eval.js';

interface MergeFlags {
  output_path?: string;
  outputPath?: string;
  json?: boolean;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine the results of `sdllm eval --shard K/N` runs (or of runs of different tasks) into the results of one run')
    .argument('<files...>', 'results JSON files written by sdllm eval --output_path')
    .option('--output_path <file>', 'write the merged results JSON here (byte-identical to an unsharded run\'s)')
    .option('--output-path <file>', 'same as --output_path')
    .option('--json', 'print the merged results (without samples) as JSON instead of the table')
    .action((files: string[], f: MergeFlags) => {
      const output = f.output_path ?? f.outputPath;
      if (f.output_path && f.outputPath && f.output_path !== f.outputPath) fail('--output_path and --output-path name different files');
      const merged = mergeOutputs(files.map((path) => ({ path, out: readOutput(path) })));
      if (output) writeAtomic(output, serializeOutput(merged));
      if (f.json) {
        const { samples: _samples, ...rest } = merged;
        process.stdout.write(JSON.stringify(rest, null, 2) + '\n');
      } else process.stdout.write(`${runHeader(merged)}\n${lmEvalTable(merged)}`);
    });
}
