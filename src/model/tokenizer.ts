/** What the engine needs from a tokenizer (Hugging Face and llama2.c tokenizers, and the stand-in of synthetic benchmark models, implement it). */
export interface EncodeOptions {
  /** Add the special tokens the tokenizer adds by default (BOS for every model we ship). Default true. */
  add_special_tokens?: boolean;
}
export interface DecodeOptions {
  skip_special_tokens?: boolean;
}

export interface Tokenizer {
  readonly kind: 'huggingface' | 'llama2c' | 'synthetic';
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}
