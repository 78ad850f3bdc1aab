import type { Command } from 'commander';
import { openCheckpoint } from '../model/load.js';
import { parameterCount } from '../model/config.js';
import { DEFAULT_MODEL } from '../paths.js';
import { backendName, cpuFeatures, getThreads, nativeLoadError } from '../kernels/node.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show a checkpoint\'s architecture, parameter count, bytes and dtypes (reads headers only)')
    .option('--model <path>', 'Hugging Face folder or llama2.c .bin', DEFAULT_MODEL)
    .option('--tokenizer <path>', 'llama2.c tokenizer.bin (default: found beside the checkpoint)')
    .option('--json', 'print JSON')
    .action((f: { model: string; tokenizer?: string; json?: boolean }) => {
      const ck = openCheckpoint(f.model, { tokenizer: f.tokenizer });
      const dtypes: Record<string, number> = {};
      let stored = 0;
      for (const n of ck.tensors.names()) {
        const count = ck.tensors.shape(n).reduce((a, b) => a * b, 1);
        dtypes[ck.tensors.dtype(n)] = (dtypes[ck.tensors.dtype(n)] ?? 0) + count;
        stored += count;
      }
      const info = {
        path: ck.path,
        format: ck.format,
        architecture: ck.config.architecture,
        parameters: parameterCount(ck.config),
        stored_values: stored,
        bytes: ck.tensors.byteSize,
        dtypes,
        tokenizer: { kind: ck.tokenizer.kind, vocab_size: ck.tokenizer.vocabSize, bos_token_id: ck.tokenizer.bosTokenId, eos_token_ids: ck.tokenizer.eosTokenIds },
        config: ck.config,
        kernels: kernelsInfo(),
      };
      if (f.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const c = ck.config;
      const lines = [
        ['path', info.path],
        ['format', info.format],
        ['architecture', info.architecture],
        ['parameters', `${info.parameters.toLocaleString('en-US')} (${(info.parameters / 1e6).toFixed(2)} M)`],
        ['bytes on disk', `${info.bytes.toLocaleString('en-US')} (${(info.bytes / 2 ** 20).toFixed(1)} MiB)`],
        ['dtypes', Object.entries(dtypes).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')],
        ['layers', c.num_hidden_layers],
        ['hidden / intermediate', `${c.hidden_size} / ${c.intermediate_size}`],
        ['heads / kv heads / head_dim', `${c.num_attention_heads} / ${c.num_key_value_heads} / ${c.head_dim}`],
        ['vocab', c.vocab_size],
        ['context', c.max_position_embeddings],
        ['rope', `theta ${c.rope_theta}, ${c.rope_scaling.rope_type}, ${c.rope_layout} layout`],
        ['tied embeddings', c.tie_word_embeddings],
        ['attention bias', c.attention_bias],
        ['tokenizer', `${info.tokenizer.kind}, vocab ${info.tokenizer.vocab_size}, bos ${info.tokenizer.bos_token_id}, eos ${info.tokenizer.eos_token_ids.join(',')}`],
        ['kernels', info.kernels.backend === 'native' ? `native (${info.kernels.cpu}, ${info.kernels.threads} threads)` : `ts (native not loaded: ${info.kernels.nativeError ?? 'disabled'})`],
      ];
      for (const [k, v] of lines) process.stdout.write(`${String(k).padEnd(28)} ${v}\n`);
    });
}

export function kernelsInfo() {
  const backend = backendName();
  return backend === 'native'
    ? { backend, cpu: cpuFeatures(), threads: getThreads(), nativeError: null }
    : { backend, cpu: null, threads: 1, nativeError: nativeLoadError() };
}
