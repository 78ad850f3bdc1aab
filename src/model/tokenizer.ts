/** What the engine needs from a tokenizer; both tokenizer kinds below implement it. */
export interface EncodeOptions {
  /** Add the special tokens the tokenizer adds by default (BOS for every model we ship). Default true. */
  add_special_tokens?: boolean;
}
export interface DecodeOptions {
  skip_special_tokens?: boolean;
}

export interface Tokenizer {
  readonly kind: 'huggingface' | 'llama2c';
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}
