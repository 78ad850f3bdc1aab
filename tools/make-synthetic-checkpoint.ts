/**
 * Writes a Hugging Face LLaMA folder of seeded random BF16 weights at a real model's shape, so
 * conversion and generation can be measured at scale without downloading a checkpoint
 * (docs/SCALE.md). Weights are N(0, 0.02²), norms 1; the tokenizer is the embedded model's
 * (its vocabulary is smaller than the config's, which only leaves some embedding rows unused).
 * Tensors are made one at a time as the shard writer reaches them, so memory stays at one tensor.
 *
 *   node dist/tools/make-synthetic-checkpoint.js --out DIR [--shape 7b|1.1b|tiny] [--shard-gb 5] [--seed 1]
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { Command, Option } from 'commander';
import { DEFAULT_MODEL } from '../src/paths.js';
import { writeSafetensors, type TensorToWrite } from '../src/formats/safetensors.js';
import { mulberry32 } from '../src/util/prng.js';
import { ProgressBar } from '../src/cli/progress.js';

interface Shape {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  max_position_embeddings: number;
}

/** LLaMA-2-7B, TinyLlama-1.1B, and a tiny one for tests. */
const SHAPES: Record<string, Shape> = {
  '7b': { hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32000, max_position_embeddings: 4096 },
  '1.1b': { hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, vocab_size: 32000, max_position_embeddings: 2048 },
  tiny: { hidden_size: 256, intermediate_size: 688, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, vocab_size: 8192, max_position_embeddings: 512 },
};

const STD = 0.02;
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/** BF16 bits of a float32 (round to nearest even). */
function bf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * A sampler of N(0, STD²) BF16 values: 65,536 Box–Muller draws in a table, indexed by 16 random
 * bits, so one 32-bit PRNG output gives two weights (generating 7B weights takes seconds, not minutes).
 */
function bf16Sampler(seed: number): (out: Uint16Array) => void {
  const next = mulberry32(seed);
  const table = new Uint16Array(65536);
  for (let i = 0; i < table.length; i += 2) {
    const u1 = (next() + 1) / 4294967297, u2 = next() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1)) * STD;
    table[i] = bf16(r * Math.cos(2 * Math.PI * u2));
    table[i + 1] = bf16(r * Math.sin(2 * Math.PI * u2));
  }
  return (out) => {
    for (let i = 0; i < out.length; i += 2) {
      const u = next();
      out[i] = table[u & 0xffff];
      if (i + 1 < out.length) out[i + 1] = table[u >>> 16];
    }
  };
}

interface SyntheticOptions {
  out: string;
  shape: Shape;
  shardBytes: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/** Writes config.json, the tokenizer, BF16 shards and model.safetensors.index.json into `out`. */
function writeSyntheticCheckpoint(o: SyntheticOptions): { files: string[]; bytes: number } {
  const s = o.shape;
  const d = s.hidden_size, I = s.intermediate_size, hd = d / s.num_attention_heads, kvd = s.num_key_value_heads * hd;
  const specs: { name: string; shape: number[]; norm: boolean }[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab_size, d], norm: false }];
  for (let l = 0; l < s.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    specs.push(
      { name: `${p}input_layernorm.weight`, shape: [d], norm: true },
      { name: `${p}self_attn.q_proj.weight`, shape: [d, d], norm: false },
      { name: `${p}self_attn.k_proj.weight`, shape: [kvd, d], norm: false },
      { name: `${p}self_attn.v_proj.weight`, shape: [kvd, d], norm: false },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, d], norm: false },
      { name: `${p}post_attention_layernorm.weight`, shape: [d], norm: true },
      { name: `${p}mlp.gate_proj.weight`, shape: [I, d], norm: false },
      { name: `${p}mlp.up_proj.weight`, shape: [I, d], norm: false },
      { name: `${p}mlp.down_proj.weight`, shape: [d, I], norm: false },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [d], norm: true }, { name: 'lm_head.weight', shape: [s.vocab_size, d], norm: false });

  const bytesOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1) * 2;
  const shards: (typeof specs)[] = [[]];
  let inShard = 0;
  for (const t of specs) {
    if (inShard > 0 && inShard + bytesOf(t.shape) > o.shardBytes) {
      shards.push([]);
      inShard = 0;
    }
    shards[shards.length - 1].push(t);
    inShard += bytesOf(t.shape);
  }

  fs.mkdirSync(o.out, { recursive: true });
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...s,
    head_dim: hd,
    hidden_act: 'silu',
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    attention_bias: false,
    tie_word_embeddings: false,
    bos_token_id: 0,
    eos_token_id: 1,
    torch_dtype: 'bfloat16',
  };
  fs.writeFileSync(nodePath.join(o.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  for (const f of TOKENIZER_FILES) fs.copyFileSync(nodePath.join(DEFAULT_MODEL, f), nodePath.join(o.out, f));

  const sample = bf16Sampler(o.seed);
  const total = specs.reduce((a, t) => a + bytesOf(t.shape), 0);
  let done = 0;
  const weightMap: Record<string, string> = {};
  const files = shards.map((list, k) => {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const tensors: TensorToWrite[] = list.map((t) => ({
      name: t.name,
      dtype: 'BF16',
      shape: t.shape,
      data: () => {
        const v = new Uint16Array(bytesOf(t.shape) / 2);
        if (t.norm) v.fill(bf16(1));
        else sample(v);
        done += v.byteLength;
        o.onProgress?.(done, total);
        return new Uint8Array(v.buffer);
      },
    }));
    writeSafetensors(nodePath.join(o.out, file), tensors, { format: 'pt' });
    for (const t of list) weightMap[t.name] = file;
    return file;
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  fs.writeFileSync(nodePath.join(o.out, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  return { files, bytes: total };
}

const f = new Command()
  .name('make-synthetic-checkpoint')
  .requiredOption('--out <dir>', 'folder to write the checkpoint into')
  .addOption(new Option('--shape <name>', 'model shape').choices(Object.keys(SHAPES)).default('7b'))
  .option('--shard-gb <n>', 'shard size in GB (10^9 bytes)', Number, 5)
  .option('--seed <n>', 'seed of the random weights', Number, 1)
  .parse()
  .opts<{ out: string; shape: string; shardGb: number; seed: number }>();
const bar = new ProgressBar();
const t0 = performance.now();
const r = writeSyntheticCheckpoint({
  out: f.out,
  shape: SHAPES[f.shape],
  shardBytes: f.shardGb * 1e9,
  seed: f.seed,
  onProgress: (done, total) => bar.update('writing shards', Math.round(done / 2 ** 20), Math.round(total / 2 ** 20), 'MiB'),
});
bar.done();
process.stdout.write(`wrote ${f.out}: ${r.files.length} shards, ${(r.bytes / 1e9).toFixed(2)} GB of BF16 weights in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
