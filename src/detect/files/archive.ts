import { createReadStream } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { isGzipMagic } from '../../sources/index.js';
import { scanSource, type FindOptions, type FindResult } from './finder.js';
import { sniff, type SniffedBytes } from './fragments.js';

/** Bounds on what one archive (with everything nested in it) may make Warden read: zip bombs stop at them. */
export interface ArchiveLimits {
  /** A file inside an archive larger than this, uncompressed, is skipped (and noted). */
  maxMemberBytes: number;
  /** Bytes read from members, each nesting level counted, before the rest of the archive is skipped. */
  maxTotalBytes: number;
  /** Files inside one archive, nested ones included. */
  maxMembers: number;
  /** Archives inside archives (a docker-save image's layers are depth 2). */
  maxDepth: number;
}

const MiB = 1024 * 1024;
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxMemberBytes: 64 * MiB, maxTotalBytes: 8192 * MiB, maxMembers: 100_000, maxDepth: 4 };

/** Files named like these are opened as archives; inside one, members are recognised by their bytes (layers have no extension). */
const ARCHIVE_NAME = /\.(?:tar|tar\.gz|tgz|zip|jar|war)$/i;
const ZIP_NAME = /\.(?:zip|jar|war)$/i;

export function isArchivePath(path: string): boolean {
  return ARCHIVE_NAME.test(path);
}

/** The read state of one top-level archive: counts against its limits, and whether a total bound stopped it. */
interface ArchiveWalk {
  /** The archive file's display path. */
  path: string;
  options: FindOptions;
  result: FindResult;
  limits: ArchiveLimits;
  members: number;
  bytes: number;
  stopped: boolean;
}

class ArchiveLimitError extends Error {
  readonly code = 'ARCHIVE_LIMIT';
}

/**
 * Reads a .tar, .tar.gz/.tgz or .zip (and .jar/.war) file member by member, reporting findings at
 * `archive.tar!dir/file`; archives inside it (a docker-save image's layer tars, a zip in a tarball) are
 * opened in turn, up to the depth limit. What a limit skips becomes a `limit` note; nothing is dropped silently.
 */
export async function scanArchiveFile(absolutePath: string, displayPath: string, options: FindOptions, result: FindResult): Promise<void> {
  const walk: ArchiveWalk = {
    path: displayPath,
    options,
    result,
    limits: { ...DEFAULT_ARCHIVE_LIMITS, ...options.archiveLimits },
    members: 0,
    bytes: 0,
    stopped: false,
  };
  try {
    if (ZIP_NAME.test(absolutePath)) await scanZip(await openZip((cb) => yauzl.open(absolutePath, ZIP_OPTIONS, cb)), displayPath, 1, walk);
    else await scanMember(createReadStream(absolutePath), displayPath, 0, walk, undefined);
  } catch (err) {
    noteError(walk, displayPath, err);
  }
}

/** One member (or the archive file itself at depth 0): a nested archive is opened, anything else read as a file. */
async function scanMember(input: Readable, path: string, depth: number, walk: ArchiveWalk, declaredSize: number | undefined): Promise<void> {
  const { limits } = walk;
  const leafTooLarge = declaredSize !== undefined && declaredSize > limits.maxMemberBytes;
  let bytes = await sniff(metered(input, walk, path, Infinity));
  let gzipped = false;
  if (isGzipMagic(bytes.head)) {
    const gunzip = createGunzip();
    const raw = Readable.from(bytes.chunks());
    raw.on('error', (err) => gunzip.destroy(err));
    bytes = await sniff(metered(raw.pipe(gunzip), walk, path, Infinity));
    gzipped = true;
  }
  const container = isTar(bytes.head) ? 'tar' : isZip(bytes.head) ? 'zip' : undefined;
  if (container && depth >= limits.maxDepth) return skip(bytes, walk, path, `an archive nested more than ${limits.maxDepth} deep`);
  if (container === 'tar') return scanTar(Readable.from(bytes.chunks()), path, depth + 1, walk);
  if (container === 'zip') {
    const buffer = await readAtMost(bytes, limits.maxMemberBytes);
    if (!buffer) return skip(bytes, walk, path, `a zip inside an archive larger than ${limits.maxMemberBytes} bytes`);
    return scanZip(await openZip((cb) => yauzl.fromBuffer(buffer, ZIP_OPTIONS, cb)), path, depth + 1, walk);
  }
  if (leafTooLarge) return skip(bytes, walk, path, `larger than ${limits.maxMemberBytes} bytes`);
  const before = walk.result.notes.length;
  await scanSource(
    gzipped ? metered(Readable.from(bytes.chunks()), walk, path, limits.maxMemberBytes) : Readable.from(bytes.chunks()),
    path,
    walk.options,
    walk.result,
  );
  // A bound hit while reading is a limit, not an unreadable file. (Other files' notes may have come in between.)
  const at = walk.result.notes.findIndex((n, i) => i >= before && n.path === path && n.detail === 'ARCHIVE_LIMIT');
  if (at !== -1)
    walk.result.notes[at] = {
      path,
      reason: 'limit',
      detail: walk.stopped
        ? `over ${limits.maxTotalBytes} bytes read from the archive: the rest was not read`
        : `larger than ${limits.maxMemberBytes} bytes uncompressed`,
    };
}

async function scanTar(input: Readable, prefix: string, depth: number, walk: ArchiveWalk): Promise<void> {
  const extract = tar.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      try {
        const { name, type, size } = entry.header;
        if (type !== 'file' && type !== 'contiguous-file') continue;
        if (!admitMember(walk, prefix)) break;
        await scanMember(Readable.from(detached(entry as AsyncIterable<Buffer>)), `${prefix}!${name}`, depth, walk, size);
      } finally {
        entry.resume();
      }
      if (walk.stopped) break;
    }
  } finally {
    input.destroy();
  }
}

const ZIP_OPTIONS: yauzl.Options = { lazyEntries: true, autoClose: true, decodeStrings: false, validateEntrySizes: true };

async function scanZip(zip: yauzl.ZipFile, prefix: string, depth: number, walk: ArchiveWalk): Promise<void> {
  try {
    for (;;) {
      const entry = await nextEntry(zip);
      if (!entry) return;
      const name = Buffer.isBuffer(entry.fileName) ? (entry.fileName as Buffer).toString('utf8') : entry.fileName;
      if (name.endsWith('/')) continue;
      if (!admitMember(walk, prefix)) return;
      const path = `${prefix}!${name}`;
      if (entry.isEncrypted()) {
        walk.result.notes.push({ path, reason: 'unreadable', detail: 'encrypted' });
        continue;
      }
      if (entry.uncompressedSize > walk.limits.maxMemberBytes) {
        walk.result.notes.push({ path, reason: 'limit', detail: `larger than ${walk.limits.maxMemberBytes} bytes` });
        continue;
      }
      try {
        const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
        await scanMember(stream, path, depth, walk, entry.uncompressedSize);
      } catch (err) {
        noteError(walk, path, err);
      }
      if (walk.stopped) return;
    }
  } finally {
    zip.close();
  }
}

/** Counts a member in; past the member bound the rest of the archive is skipped, with a note. */
function admitMember(walk: ArchiveWalk, prefix: string): boolean {
  if (++walk.members <= walk.limits.maxMembers) return true;
  walk.stopped = true;
  walk.result.notes.push({ path: prefix, reason: 'limit', detail: `more than ${walk.limits.maxMembers} files: the rest was not read` });
  return false;
}

function openZip(open: (cb: (err: Error | null, zip: yauzl.ZipFile) => void) => void): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => open((err, zip) => (err ? reject(err) : resolve(zip))));
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => (cleanup(), resolve(entry));
    const onEnd = () => (cleanup(), resolve(undefined));
    const onError = (err: Error) => (cleanup(), reject(err));
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

/**
 * Passes bytes through while counting them against the archive's total and this member's own bound;
 * past either it fails the stream with an ArchiveLimitError (the total also stops the whole archive).
 */
function metered(input: Readable, walk: ArchiveWalk, path: string, memberLimit: number): Readable {
  let seen = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      walk.bytes += chunk.length;
      walk.options.onArchiveProgress?.(walk.path, walk.bytes);
      if (walk.bytes > walk.limits.maxTotalBytes) {
        walk.stopped = true;
        return callback(new ArchiveLimitError(`${path}: over ${walk.limits.maxTotalBytes} bytes read from the archive: the rest was not read`));
      }
      if (seen > memberLimit) return callback(new ArchiveLimitError(`${path}: larger than ${memberLimit} bytes uncompressed`));
      callback(null, chunk);
    },
  });
  input.on('error', (err) => meter.destroy(err));
  return input.pipe(meter);
}

/** An entry's chunks for a reader that may stop early without destroying the entry (tar then drains it). */
function detached(entry: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const iterator = entry[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]: () => ({ next: () => iterator.next(), return: async () => ({ done: true, value: undefined }) }),
  };
}

async function readAtMost(bytes: SniffedBytes, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bytes.chunks()) {
    total += chunk.length;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function skip(bytes: SniffedBytes, walk: ArchiveWalk, path: string, why: string): void {
  bytes.destroy();
  walk.result.notes.push({ path, reason: 'limit', detail: why });
}

function noteError(walk: ArchiveWalk, path: string, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof ArchiveLimitError) walk.result.notes.push({ path, reason: 'limit', detail: e.message.slice(path.length + 2) });
  else walk.result.notes.push({ path, reason: 'unreadable', detail: e.code ?? e.message });
}

/** POSIX and GNU tar headers say `ustar` at offset 257. */
const isTar = (head: Buffer) => head.length >= 512 && head.toString('latin1', 257, 262) === 'ustar';
/** A local file header, or the end record of an empty zip. */
const isZip = (head: Buffer) =>
  head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
