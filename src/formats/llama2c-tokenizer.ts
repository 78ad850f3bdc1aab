/**
 * llama2.c `tokenizer.bin`: int32 max_token_length, then per token {f32 score, i32 length, bytes}.
 * Encoding follows llama2.c's run.c: a dummy-prefix space, one token per UTF-8 code point (or its
 * bytes as <0xXX> tokens, id 3 + byte), then repeatedly merge the adjacent pair whose merged
 * string has the highest score. This is SentencePiece-style BPE as llama.cpp's SPM tokenizer runs
 * it, so the same class serves GGUF "llama" vocabularies (built with fromPieces, see SpmOptions).
 */
import fs from 'node:fs';
import type { DecodeOptions, EncodeOptions, Tokenizer } from '../model/tokenizer.js';
import { fail } from '../errors.js';
import { fileProblem } from './safetensors.js';

const BYTE_FALLBACK_OFFSET = 3;

/**
 * What differs between SPM vocabularies; llama2.c's are the defaults. Kept with the tokenizer so
 * converted models (.sdllm) rebuild the same one.
 */
export interface SpmOptions {
  /** Default 1. */
  bosTokenId?: number | null;
  /** Default [2]. */
  eosTokenIds?: number[];
  /** BOS first when add_special_tokens (default true). */
  addBos?: boolean;
  /** EOS last when add_special_tokens (default false). */
  addEos?: boolean;
  /** The dummy-prefix space before non-empty text (default true). */
  addSpacePrefix?: boolean;
  /**
   * Where a byte goes when the vocabulary has no <0xXX> piece for it: this id, or by default
   * llama2.c's 3 + byte.
   */
  unkTokenId?: number | null;
}

/** SpmOptions from untrusted JSON (a converted model's metadata): wrong fields fall back to the defaults. */
export function spmOptionsFrom(raw: unknown): SpmOptions {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const id = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
  const out: SpmOptions = {};
  if (o.bosTokenId === null || id(o.bosTokenId) !== undefined) out.bosTokenId = o.bosTokenId as number | null;
  if (Array.isArray(o.eosTokenIds) && o.eosTokenIds.every((v) => id(v) !== undefined)) out.eosTokenIds = o.eosTokenIds as number[];
  for (const k of ['addBos', 'addEos', 'addSpacePrefix'] as const) if (typeof o[k] === 'boolean') out[k] = o[k] as boolean;
  if (o.unkTokenId === null || id(o.unkTokenId) !== undefined) out.unkTokenId = o.unkTokenId as number | null;
  return out;
}

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  private readonly pieces: string[];
  private readonly pieceBytes: Uint8Array[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();
  /** The token of each byte for characters outside the vocabulary. */
  private readonly byteIds = new Int32Array(256);

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

  /**
   * From pieces and scores (a GGUF "llama" vocabulary, spaces already as ' '): written out in
   * tokenizer.bin layout and read back, so there is one parser and `bytes` can be embedded as usual.
   */
  static fromPieces(pieces: readonly string[], scores: ArrayLike<number>, options: SpmOptions = {}, path?: string): Llama2cTokenizer {
    if (scores.length !== pieces.length) throw new Error(`fromPieces: ${pieces.length} pieces but ${scores.length} scores`);
    const enc = new TextEncoder();
    const encoded = pieces.map((p) => enc.encode(p));
    const bytes = Buffer.alloc(4 + encoded.reduce((a, b) => a + 8 + b.length, 0));
    bytes.writeInt32LE(encoded.reduce((a, b) => Math.max(a, b.length), 0), 0);
    let off = 4;
    encoded.forEach((b, i) => {
      bytes.writeFloatLE(scores[i], off);
      bytes.writeInt32LE(b.length, off + 4);
      bytes.set(b, off + 8);
      off += 8 + b.length;
    });
    return new Llama2cTokenizer(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), pieces.length, path, options);
  }

  constructor(bytes: Uint8Array, vocabSize: number, path = 'tokenizer.bin', readonly options: SpmOptions = {}) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bytes = bytes;
    this.vocabSize = vocabSize;
    this.bosTokenId = options.bosTokenId === undefined ? 1 : options.bosTokenId;
    this.eosTokenIds = options.eosTokenIds ?? [2];
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
    for (let b = 0; b < 256; b++) {
      const id = this.lookup.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      const unk = options.unkTokenId;
      this.byteIds[b] = id ?? (unk === undefined || unk === null ? b + BYTE_FALLBACK_OFFSET : unk);
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const special = opts.add_special_tokens ?? true;
    const ids: number[] = [];
    if (special && (this.options.addBos ?? true) && this.bosTokenId !== null) ids.push(this.bosTokenId);
    const tokens: number[] = [];
    const space = this.lookup.get(' ');
    if (space !== undefined && text.length > 0 && (this.options.addSpacePrefix ?? true)) tokens.push(space);
    const enc = new TextEncoder();
    for (const ch of text) {
      const id = this.lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const b of enc.encode(ch)) tokens.push(this.byteIds[b]);
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
    const out = ids.concat(tokens);
    if (special && this.options.addEos && this.eosTokenIds.length > 0) out.push(this.eosTokenIds[0]);
    return out;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const out: number[] = [];
    const dropPrefix = this.options.addSpacePrefix ?? true;
    let prev = -1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      const special = id === this.bosTokenId || this.eosTokenIds.includes(id);
      if (!(special && opts.skip_special_tokens)) {
        let bytes = this.pieceBytes[id] ?? new Uint8Array(0);
        const piece = this.pieces[id] ?? '';
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
        if (m) bytes = Uint8Array.of(parseInt(m[1], 16));
        // llama2.c drops the dummy-prefix space of the first piece after BOS.
        else if (dropPrefix && prev === this.bosTokenId && bytes[0] === 0x20) bytes = bytes.subarray(1);
        for (const b of bytes) out.push(b);
      }
      prev = id;
    }
    return new TextDecoder().decode(Uint8Array.from(out));
  }
}
