import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzipMagic } from '../../sources/index.js';
import { CUT_CONTEXT_BYTES, contextAfter, contextBefore } from '../cut-context.js';
import type { Fragment } from './types.js';

/** A NUL byte in the first bytes marks a file as binary (the heuristic git and grep use). */
const BINARY_SNIFF_BYTES = 8000;
/**
 * Fragments gather whole lines up to this many bytes (unless one line is longer) before one detector pass.
 * Under 128 KiB, a fragment's string stays out of V8's large-object space, where each string is a mapping of
 * its own: in a CPU profile of a one-thread `detect` of 100 MB, making 1 MiB fragment strings (a read's
 * worth, as before) took a ninth of the time.
 */
export const FRAGMENT_BYTES = 112 * 1024;
/**
 * A line longer than this many bytes (characters, in ASCII) is cut into pieces; each piece repeats the
 * previous piece's last MAX_OVERLAP bytes.
 */
export const DEFAULT_MAX_LINE_CHARS = 1024 * 1024;
/** Longest secret guaranteed to be seen whole across a cut (PEM bodies are found line by line). */
const MAX_OVERLAP = 8 * 1024;

/** A binary source keeps its first bytes (at least BINARY_SNIFF_BYTES, or all of it) so its format can be told. */
export type Sniffed = { kind: 'text'; fragments: AsyncGenerator<RawFragment> } | { kind: 'binary'; head: Buffer };

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
  return { kind: 'text', fragments: rawFragmentsOf(bytes.chunks(), path, options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS) };
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

/**
 * A fragment still in UTF-8, cut only between characters: what a worker is sent and decodes itself
 * (decodeFragment), so that reading a source costs this thread no decoding.
 */
export interface RawFragment {
  path: string;
  /** In an ArrayBuffer of its own, so it can move to a worker without taking anything else along. */
  bytes: Uint8Array;
  /** 1-based line of the first byte. */
  line: number;
  /** 0-based column (UTF-16 units) of the first byte within its line. */
  column: number;
  /** Only matches starting at this byte or after belong to this fragment: the bytes before are context. */
  ownedFrom: number;
  /** Only matches starting before this byte belong to this fragment. */
  ownedBytes: number;
}

/** The text of a raw fragment, with what it owns in UTF-16 units. */
export function decodeFragment(raw: RawFragment): Fragment {
  const bytes = Buffer.from(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.length);
  const text = bytes.toString('utf8');
  const ownedEnd = raw.ownedBytes === bytes.length ? text.length : bytes.toString('utf8', 0, raw.ownedBytes).length;
  const ownedStart = raw.ownedFrom === 0 ? 0 : bytes.toString('utf8', 0, raw.ownedFrom).length;
  return { path: raw.path, text, line: raw.line, column: raw.column, ownedStart, ownedEnd };
}

/** `rawFragmentsOf`, decoded. */
export async function* fragmentsOf(chunks: AsyncIterable<Buffer>, path: string, maxLineChars: number): AsyncGenerator<Fragment> {
  for await (const raw of rawFragmentsOf(chunks, path, maxLineChars)) yield decodeFragment(raw);
}

/** Bytes at `end` or before it where a UTF-8 character starts (a cut there splits none). */
function characterStart(bytes: Buffer, end: number): number {
  let at = end;
  while (at > 0 && at < bytes.length && (bytes[at]! & 0xc0) === 0x80) at--;
  return at > 0 ? at : end;
}

/**
 * Cuts a byte stream into fragments of whole lines (up to FRAGMENT_BYTES, with CUT_CONTEXT_BYTES of whole
 * lines either side of a cut as context), and a line longer than `maxLineBytes` into overlapping pieces.
 * Only bytes are looked at: newlines are found and counted, and a piece of a long line is decoded to know
 * the column the next piece starts at.
 */
export async function* rawFragmentsOf(chunks: AsyncIterable<Buffer>, path: string, maxLineBytes: number): AsyncGenerator<RawFragment> {
  let pending: Buffer = Buffer.alloc(0);
  let line = 1;
  let column = 0;
  /** The whole lines before `pending` that the next fragment reads as context, and how many they are. */
  let before: Buffer = Buffer.alloc(0);
  let beforeLines = 0;
  const piece = (end: number, ownedBytes: number): RawFragment => {
    const bytes = new Uint8Array(before.length + end);
    bytes.set(before);
    bytes.set(pending.subarray(0, end), before.length);
    return { path, bytes, line: line - beforeLines, column, ownedFrom: before.length, ownedBytes: before.length + ownedBytes };
  };
  /** Moves past whole lines ending at `end`, the last byte a newline, keeping the last of them as context. */
  const passLines = (end: number) => {
    const contextFrom = contextBefore(pending, end);
    beforeLines = 0;
    for (let nl = pending.indexOf(10); nl !== -1 && nl < end; nl = pending.indexOf(10, nl + 1)) {
      line++;
      if (nl >= contextFrom) beforeLines++;
    }
    before = Buffer.from(pending.subarray(contextFrom, end));
    column = 0;
    pending = pending.subarray(end);
  };
  const flush = function* (final: boolean): Generator<RawFragment> {
    for (;;) {
      const lastNl = pending.lastIndexOf(10);
      if (lastNl !== -1 && (final || pending.length >= FRAGMENT_BYTES + CUT_CONTEXT_BYTES || pending.length - lastNl - 1 > maxLineBytes)) {
        // Whole lines go out together, up to FRAGMENT_BYTES of them, with the lines after the cut as
        // context; the unfinished last line stays behind.
        let end = lastNl + 1;
        let through = end;
        if (end > FRAGMENT_BYTES) {
          end = pending.lastIndexOf(10, FRAGMENT_BYTES - 1) + 1 || pending.indexOf(10) + 1;
          through = contextAfter(pending, end);
        }
        yield piece(through, end);
        passLines(end);
        continue;
      }
      if (lastNl === -1 && pending.length > maxLineBytes) {
        const cut = characterStart(pending, maxLineBytes);
        const step = characterStart(pending, maxLineBytes - Math.min(MAX_OVERLAP, Math.floor(maxLineBytes / 4)));
        yield piece(cut, step);
        // A long line's pieces overlap by themselves; lines before it are no context inside it.
        before = Buffer.alloc(0);
        beforeLines = 0;
        column += pending.toString('utf8', 0, step).length;
        pending = pending.subarray(step);
        continue;
      }
      if (final && pending.length) {
        yield piece(pending.length, pending.length);
        // The last line has no newline: it ends here, and so does the source.
        pending = Buffer.alloc(0);
      }
      return;
    }
  };
  for await (const chunk of chunks) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    yield* flush(false);
  }
  yield* flush(true);
}
