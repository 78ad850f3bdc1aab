/**
 * A working tokenizer from GGUF `tokenizer.ggml.*` metadata.
 *
 * - "gpt2" (byte-level BPE: tokens + merges): a tokenizer.json-shaped object, run by
 *   @huggingface/tokenizers through HfTokenizer like a Hugging Face folder's (so converted models
 *   embed it the same way). The pre-tokenizer follows `tokenizer.ggml.pre`: GPT-2's regex
 *   ("default", "gpt-2", absent), or a Split on the Llama 3 ("llama-bpe") or Qwen2 ("qwen2") regex.
 * - "llama" (SentencePiece: tokens + scores): the score-based merge tokenizer shared with llama2.c
 *   (Llama2cTokenizer.fromPieces), the pieces' U+2581 turned back into spaces as llama2.c's
 *   export does.
 * - otherwise, when the file carries `tokenizer.huggingface.json`, that.
 *
 * Special ids: tokenizer.ggml.bos_token_id / eos_token_id / unknown_token_id; BOS is added when
 * tokenizer.ggml.add_bos_token says so (default: true for llama, false for gpt2), EOS when
 * add_eos_token does (default false).
 */
import { fail } from '../errors.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import { printable, type GgufFile } from './gguf.js';
import { GgufMeta } from './gguf-meta.js';

/** llama.cpp's token types. */
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;

/** Pre-tokenizer regexes by `tokenizer.ggml.pre` (those of the models' own tokenizer.json files). */
const SPLIT_PATTERNS = new Map(Object.entries({
  'llama-bpe': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
}));
const GPT2_PRE = new Set(['default', 'gpt-2', 'gpt2']);

/** The token list; the vocabulary size of a GGUF model is its length. */
export function ggufTokens(file: GgufFile): string[] {
  const tokens = new GgufMeta(file).strings('tokenizer.ggml.tokens');
  if (!tokens) fail('metadata tokenizer.ggml.tokens is missing: this GGUF has no vocabulary', file.path);
  if (tokens.length === 0) fail('metadata tokenizer.ggml.tokens is empty', file.path);
  return tokens;
}

export function ggufTokenizer(file: GgufFile, eosFromModel: readonly number[]): Tokenizer {
  const meta = new GgufMeta(file);
  const model = meta.has('tokenizer.ggml.model') ? meta.str('tokenizer.ggml.model') : undefined;
  if (model === 'llama') return spmTokenizer(file, meta);
  if (model === 'gpt2') return bpeTokenizer(file, meta, eosFromModel);
  if (meta.has('tokenizer.huggingface.json')) {
    let json: unknown;
    try {
      json = JSON.parse(meta.str('tokenizer.huggingface.json'));
    } catch (e) {
      fail(`metadata tokenizer.huggingface.json is not valid JSON (${(e as Error).message})`, file.path);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('metadata tokenizer.huggingface.json is not a JSON object', file.path);
    return new HfTokenizer(json as Record<string, unknown>, specialTokenConfig(file, meta, ggufTokens(file)), eosFromModel, file.path);
  }
  if (model === undefined) fail('metadata tokenizer.ggml.model is missing: this GGUF has no tokenizer', file.path);
  fail(`tokenizer.ggml.model ${printable(model)} is not supported (supported: llama, gpt2)`, file.path);
}

/** A token id from the metadata, in range; `dflt` when absent. */
function tokenId(file: GgufFile, meta: GgufMeta, key: string, n: number, dflt: number | null): number | null {
  if (!meta.has(key)) return dflt !== null && dflt < n ? dflt : null;
  const id = meta.int(key, undefined, 0);
  if (id >= n) fail(`metadata ${key} = ${id} is not a token id (the vocabulary has ${n} tokens)`, file.path);
  return id;
}

function spmTokenizer(file: GgufFile, meta: GgufMeta): Tokenizer {
  const tokens = ggufTokens(file);
  const n = tokens.length;
  const scores = meta.numbers('tokenizer.ggml.scores', n) ?? new Float32Array(n);
  const bos = tokenId(file, meta, 'tokenizer.ggml.bos_token_id', n, 1);
  const eos = tokenId(file, meta, 'tokenizer.ggml.eos_token_id', n, 2);
  const pieces = tokens.map((t) => t.replaceAll('\u2581', ' '));
  return Llama2cTokenizer.fromPieces(
    pieces,
    scores,
    {
      bosTokenId: bos,
      eosTokenIds: eos === null ? [] : [eos],
      addBos: meta.bool('tokenizer.ggml.add_bos_token', true),
      addEos: meta.bool('tokenizer.ggml.add_eos_token', false),
      addSpacePrefix: meta.bool('tokenizer.ggml.add_space_prefix', true),
      unkTokenId: tokenId(file, meta, 'tokenizer.ggml.unknown_token_id', n, 0),
    },
    file.path,
  );
}

/** tokenizer_config.json-shaped bos/eos, so HfTokenizer finds their ids as for a Hugging Face folder. */
function specialTokenConfig(file: GgufFile, meta: GgufMeta, tokens: string[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  const bos = tokenId(file, meta, 'tokenizer.ggml.bos_token_id', tokens.length, null);
  const eos = tokenId(file, meta, 'tokenizer.ggml.eos_token_id', tokens.length, null);
  if (bos !== null) cfg.bos_token = tokens[bos];
  if (eos !== null) cfg.eos_token = tokens[eos];
  return cfg;
}

function bpeTokenizer(file: GgufFile, meta: GgufMeta, eosFromModel: readonly number[]): Tokenizer {
  const tokens = ggufTokens(file);
  const n = tokens.length;
  const mergeStrings = meta.strings('tokenizer.ggml.merges');
  if (!mergeStrings) fail('metadata tokenizer.ggml.merges is missing (a gpt2 tokenizer needs its merges)', file.path);
  const merges = mergeStrings.map((m, i) => {
    // As llama.cpp splits them: at the first space after the first character.
    const at = m.indexOf(' ', 1);
    if (at < 0) fail(`metadata tokenizer.ggml.merges[${i}] ${printable(m, 40)} is not two tokens separated by a space`, file.path);
    return [m.slice(0, at), m.slice(at + 1)];
  });
  const types = meta.numbers('tokenizer.ggml.token_type', n);
  const bos = tokenId(file, meta, 'tokenizer.ggml.bos_token_id', n, null);
  const eos = tokenId(file, meta, 'tokenizer.ggml.eos_token_id', n, null);
  const addBos = meta.bool('tokenizer.ggml.add_bos_token', false) && bos !== null;
  const addEos = meta.bool('tokenizer.ggml.add_eos_token', false) && eos !== null;

  const pre = meta.has('tokenizer.ggml.pre') ? meta.str('tokenizer.ggml.pre') : 'default';
  let preTokenizer: Record<string, unknown>;
  if (GPT2_PRE.has(pre)) preTokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  else if (SPLIT_PATTERNS.has(pre))
    preTokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: SPLIT_PATTERNS.get(pre) }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  else fail(`tokenizer.ggml.pre ${printable(pre)} is not supported (supported: ${[...GPT2_PRE, ...SPLIT_PATTERNS.keys()].join(', ')})`, file.path);

  // A null-prototype object: a token spelled "__proto__" must be a key like any other.
  const vocab: Record<string, number> = Object.create(null);
  for (let i = 0; i < n; i++) if (!(tokens[i] in vocab)) vocab[tokens[i]] = i;
  // Control and user-defined tokens are matched whole in the text, before BPE, as llama.cpp does;
  // without token types, BOS and EOS are the control tokens.
  const added: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const t = types ? types[i] : i === bos || i === eos ? TOKEN_CONTROL : 1;
    if ((t === TOKEN_CONTROL || t === TOKEN_USER_DEFINED) && tokens[i].length > 0)
      added.push({ id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: t === TOKEN_CONTROL });
  }
  let postProcessor: Record<string, unknown> | null = null;
  if (addBos || addEos) {
    const seq = (id: 'A' | 'B', typeId: number) => [
      ...(addBos ? [{ SpecialToken: { id: tokens[bos!], type_id: typeId } }] : []),
      { Sequence: { id, type_id: typeId } },
      ...(addEos ? [{ SpecialToken: { id: tokens[eos!], type_id: typeId } }] : []),
    ];
    const specials: Record<string, unknown> = Object.create(null);
    for (const id of [...(addBos ? [bos!] : []), ...(addEos ? [eos!] : [])]) specials[tokens[id]] = { id: tokens[id], ids: [id], tokens: [tokens[id]] };
    postProcessor = { type: 'TemplateProcessing', single: seq('A', 0), pair: [...seq('A', 0), ...seq('B', 1)], special_tokens: specials };
  }
  const json: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      // Llama 3's tokenizer takes a word that is a whole token as is, before merging.
      ignore_merges: pre === 'llama-bpe',
      vocab,
      merges,
    },
  };
  return new HfTokenizer(json, specialTokenConfig(file, meta, tokens), eosFromModel, file.path);
}
