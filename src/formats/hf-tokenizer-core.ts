/**
 * The Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) through
 * @huggingface/tokenizers, the library transformers.js uses. No node: imports, so converted models
 * carry it into the browser; hf-tokenizer.ts loads it from a model folder.
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import type { DecodeOptions, EncodeOptions, Tokenizer } from '../model/tokenizer.js';
import { fail } from '../errors.js';

export class HfTokenizer implements Tokenizer {
  readonly kind = 'huggingface' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  private readonly impl: HfTokenizerImpl;

  constructor(
    readonly tokenizerJson: Record<string, unknown>,
    readonly tokenizerConfig: Record<string, unknown>,
    eosFromModel: readonly number[],
    file = 'tokenizer.json',
  ) {
    try {
      this.impl = new HfTokenizerImpl(tokenizerJson, tokenizerConfig);
    } catch (e) {
      fail(`cannot build the tokenizer: ${(e as Error).message}`, file);
    }
    const model = tokenizerJson.model as { vocab?: Record<string, number> | unknown[] } | undefined;
    const vocab = model?.vocab;
    const addedRaw = tokenizerJson.added_tokens;
    const added = Array.isArray(addedRaw) ? (addedRaw as { id?: unknown }[]) : [];
    const base = Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
    let size = base;
    for (const t of added) if (t && Number.isSafeInteger(t.id)) size = Math.max(size, (t.id as number) + 1);
    this.vocabSize = size;
    this.bosTokenId = this.tokenId(tokenizerConfig.bos_token);
    const eos = this.tokenId(tokenizerConfig.eos_token);
    this.eosTokenIds = [...new Set([...eosFromModel, ...(eos === null ? [] : [eos])])];
  }

  private tokenId(t: unknown): number | null {
    const content = typeof t === 'string' ? t : typeof t === 'object' && t !== null ? (t as { content?: unknown }).content : undefined;
    if (typeof content !== 'string') return null;
    return this.impl.token_to_id(content) ?? null;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.impl.encode(text, { add_special_tokens: opts.add_special_tokens ?? true }).ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return this.impl.decode(Array.from(ids), { skip_special_tokens: opts.skip_special_tokens ?? false });
  }
}
