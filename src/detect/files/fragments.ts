import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { isGzipMagic } from '../../sources/index.js';
import type { Fragment } from './types.js';

/** A NUL byte in the first bytes marks a file as binary (the heuristic git and grep use). */
const BINARY_SNIFF_BYTES = 8000;
/** Fragments gather whole lines up to about this many characters before one detector pass. */
export const FRAGMENT_CHARS = 256 * 1024;
/** A line longer than this is cut into pieces; each piece repeats the previous piece's last OVERLAP characters. */
export const DEFAULT_MAX_LINE_CHARS = 1024 * 1024;
/** Longest secret guaranteed to be seen whole across a cut (PEM bodies are found line by line). */
const MAX_OVERLAP = 8 * 1024;

/** A binary source keeps its first bytes (at least BINARY_SNIFF_BYTES, or all of it) so its format can be told. */
export type Sniffed = { kind: 'text'; fragments: AsyncGenerator<Fragment> } | { kind: 'binary'; head: Buffer };

export interface ReadOptions {
  maxLineChars?: number;
}

/**
 * Reads a byte stream as text fragments with bounded memory: gzip is unwrapped by its magic bytes, a
 * NUL in the first bytes makes it binary (the stream is then destroyed unread).
 */
export async function readSource(input: Readable, path: string, options: ReadOptions = {}): Promise<Sniffed> {
  let bytes = await sniff(input);
  if (isGzipMagic(bytes.head)) {
    const gunzip = createGunzip();
    const raw = Readable.from(bytes.chunks());
    raw.on('error', (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    bytes = await sniff(gunzip);
  }
  if (bytes.head.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
    bytes.destroy();
    return { kind: 'binary', head: bytes.head };
  }
  return { kind: 'text', fragments: fragmentsOf(bytes.chunks(), path, options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS) };
}

export interface SniffedBytes {
  head: Buffer;
  chunks(): AsyncGenerator<Buffer>;
  destroy(): void;
}

/** Reads the first chunks (at least BINARY_SNIFF_BYTES, or all) and hands back a stream that replays them. */
export async function sniff(input: Readable): Promise<SniffedBytes> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let headBytes = 0;
  while (headBytes < BINARY_SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    headBytes += chunk.length;
  }
  return {
    head: Buffer.concat(head),
    async *chunks() {
      yield* head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
    },
    destroy: () => input.destroy(),
  };
}

export async function* fragmentsOf(chunks: AsyncIterable<Buffer>, path: string, maxLineChars: number): AsyncGenerator<Fragment> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 1;
  let column = 0;
  const piece = (text: string, ownedEnd: number): Fragment => ({ path, text, line, column, ownedEnd });
  const advance = (text: string) => {
    let nl = text.indexOf('\n');
    if (nl === -1) {
      column += text.length;
      return;
    }
    let last = nl;
    while (nl !== -1) {
      line++;
      last = nl;
      nl = text.indexOf('\n', nl + 1);
    }
    column = text.length - last - 1;
  };
  const flush = function* (final: boolean): Generator<Fragment> {
    for (;;) {
      const lastNl = pending.lastIndexOf('\n');
      if (lastNl !== -1 && (final || pending.length >= FRAGMENT_CHARS || pending.length - lastNl - 1 > maxLineChars)) {
        // Whole lines go out together; the unfinished last line stays behind.
        const whole = final && lastNl === pending.length - 1 ? pending : pending.slice(0, lastNl + 1);
        yield piece(whole, whole.length);
        advance(whole);
        pending = pending.slice(whole.length);
        continue;
      }
      if (lastNl === -1 && pending.length > maxLineChars) {
        const step = maxLineChars - Math.min(MAX_OVERLAP, Math.floor(maxLineChars / 4));
        yield piece(pending.slice(0, maxLineChars), step);
        advance(pending.slice(0, step));
        pending = pending.slice(step);
        continue;
      }
      if (final && pending.length) {
        yield piece(pending, pending.length);
        advance(pending);
        pending = '';
      }
      return;
    }
  };
  for await (const chunk of chunks) {
    pending += decoder.write(chunk);
    yield* flush(false);
  }
  pending += decoder.end();
  yield* flush(true);
}
