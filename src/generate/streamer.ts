/**
 * Streams decoded text as tokens arrive (like transformers' TextStreamer). Byte-level tokens can
 * split a UTF-8 character, so text ending in an incomplete character is held back until the next
 * token completes it.
 */
import type { Tokenizer } from '../model/tokenizer.js';

export interface Streamer {
  put(tokenId: number): void;
  end(): void;
}

export class TextStreamer implements Streamer {
  private ids: number[] = [];
  private printed = 0;
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly write: (text: string) => void,
    private readonly opts: { skip_special_tokens?: boolean } = { skip_special_tokens: true },
  ) {}

  put(tokenId: number): void {
    this.ids.push(tokenId);
    const text = this.tokenizer.decode(this.ids, this.opts);
    if (text.endsWith('\uFFFD')) return;
    this.flush(text);
  }

  end(): void {
    this.flush(this.tokenizer.decode(this.ids, this.opts));
    this.ids = [];
    this.printed = 0;
  }

  private flush(text: string): void {
    if (text.length > this.printed) this.write(text.slice(this.printed));
    this.printed = text.length;
  }
}
