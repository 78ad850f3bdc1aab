/**
 * llama2.c `tokenizer.bin`: int32 max_token_length, then per token {f32 score, i32 length, bytes}.
 * Encoding follows llama2.c's run.c: a dummy-prefix space, one token per UTF-8 code point (or its
 * bytes as <0xXX> tokens, id 3 + byte), then repeatedly merge the adjacent pair whose merged
 * string has the highest score.
 */
import fs from 'node:fs';
import type { DecodeOptions, EncodeOptions, Tokenizer } from '../model/tokenizer.js';
import { fail } from '../errors.js';
import { fileProblem } from './safetensors.js';

const BOS = 1;
const EOS = 2;
const BYTE_FALLBACK_OFFSET = 3;

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosTokenId = BOS;
  readonly eosTokenIds = [EOS];
  readonly vocabSize: number;
  private readonly pieces: string[];
  private readonly pieceBytes: Uint8Array[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();

  /** The file's bytes, kept so converted models can embed the tokenizer. */
  readonly bytes: Uint8Array;

  static fromFile(path: string, vocabSize: number): Llama2cTokenizer {
    try {
      return new Llama2cTokenizer(fs.readFileSync(path), vocabSize, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code) fail(fileProblem(e), path);
      throw e;
    }
  }

  constructor(bytes: Uint8Array, vocabSize: number, path = 'tokenizer.bin') {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bytes = bytes;
    this.vocabSize = vocabSize;
    this.pieces = new Array(vocabSize);
    this.pieceBytes = new Array(vocabSize);
    this.scores = new Float32Array(vocabSize);
    let off = 4;
    const dec = new TextDecoder();
    for (let i = 0; i < vocabSize; i++) {
      if (off + 8 > buf.length) fail(`file ends at token ${i} of ${vocabSize} (is this the tokenizer of this model?)`, path);
      this.scores[i] = buf.readFloatLE(off);
      const len = buf.readInt32LE(off + 4);
      off += 8;
      if (len < 0 || off + len > buf.length) fail(`token ${i} has length ${len}, beyond the end of the file`, path);
      const bytes = new Uint8Array(buf.subarray(off, off + len));
      off += len;
      this.pieceBytes[i] = bytes;
      this.pieces[i] = dec.decode(bytes);
      // Like llama2.c's sorted-vocab bsearch, the first id of a duplicated piece is the one found.
      if (!this.lookup.has(this.pieces[i])) this.lookup.set(this.pieces[i], i);
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    if (opts.add_special_tokens ?? true) ids.push(BOS);
    if (text.length === 0) return ids;
    const tokens: number[] = [];
    const space = this.lookup.get(' ');
    if (space !== undefined) tokens.push(space);
    const enc = new TextEncoder();
    for (const ch of text) {
      const id = this.lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const b of enc.encode(ch)) tokens.push(b + BYTE_FALLBACK_OFFSET);
    }
    for (;;) {
      let best = -Infinity, bestId = -1, bestIdx = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = this.lookup.get(this.pieces[tokens[i]] + this.pieces[tokens[i + 1]]);
        if (id !== undefined && this.scores[id] > best) {
          best = this.scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return ids.concat(tokens);
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const out: number[] = [];
    let prev = -1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      const special = id === BOS || id === EOS;
      if (!(special && opts.skip_special_tokens)) {
        let bytes = this.pieceBytes[id] ?? new Uint8Array(0);
        const piece = this.pieces[id] ?? '';
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
        if (m) bytes = Uint8Array.of(parseInt(m[1], 16));
        // llama2.c drops the dummy-prefix space of the first piece after BOS.
        else if (prev === BOS && bytes[0] === 0x20) bytes = bytes.subarray(1);
        for (const b of bytes) out.push(b);
      }
      prev = id;
    }
    return new TextDecoder().decode(Uint8Array.from(out));
  }
}
