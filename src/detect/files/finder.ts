import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Detector } from '../engine.js';
import { isArchivePath, scanArchiveFile, type ArchiveLimits } from './archive.js';
import { readSource, type ReadOptions } from './fragments.js';
import { findInFragment } from './locate.js';
import type { FileFinding, Fragment, SourceNote } from './types.js';
import { walkFiles, type WalkOptions } from './walk.js';

export const STDIN_PATH = '<stdin>';
const DEFAULT_CONCURRENCY = 8;

export interface FindOptions extends WalkOptions, ReadOptions {
  detector: Detector;
  fingerprintKey: Buffer;
  /** Fingerprints from rule-file allowlists: known test keys, never reported. */
  ignoredFingerprints?: ReadonlySet<string>;
  /** Files read at once (default 8). */
  concurrency?: number;
  /** What `-` reads (default process.stdin). */
  stdin?: Readable;
  /** Bounds for .tar/.tgz/.zip files, which are read member by member. */
  archiveLimits?: Partial<ArchiveLimits>;
  /** Called as an archive is read (its display path, bytes so far): images take a while. */
  onArchiveProgress?: (path: string, bytes: number) => void;
}

export interface FindResult {
  /** Sorted by path, line, column. */
  findings: FileFinding[];
  notes: SourceNote[];
  filesScanned: number;
  /** Findings on a line marked `warden:allow`: not reported, but counted and listed for an audit. */
  allowed: FileFinding[];
}

/**
 * Finds credentials in files, folders (walked with bounded concurrency) and `-` (stdin). Unreadable
 * and binary files become notes; nothing throws for one bad file.
 */
export async function findSecretsInPaths(paths: string[], options: FindOptions): Promise<FindResult> {
  const result: FindResult = { findings: [], notes: [], filesScanned: 0, allowed: [] };
  const onDisk = paths.filter((p) => p !== '-');
  if (onDisk.length !== paths.length) await scanSource(options.stdin ?? process.stdin, STDIN_PATH, options, result);
  const files = walkFiles(onDisk, options);
  const worker = async () => {
    for (;;) {
      const next = await files.next();
      if (next.done) return;
      const { absolutePath, displayPath } = next.value;
      if (isArchivePath(absolutePath)) await scanArchiveFile(absolutePath, displayPath, options, result);
      else await scanSource(createReadStream(absolutePath), displayPath, options, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
  result.findings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.column - b.column));
  return result;
}

/** Finds credentials in one byte stream (a file, stdin, a dump piped in). */
export async function findSecretsInStream(input: Readable, path: string, options: FindOptions): Promise<FindResult> {
  const result: FindResult = { findings: [], notes: [], filesScanned: 0, allowed: [] };
  await scanSource(input, path, options, result);
  return result;
}

/** Reads one source into `result`: its findings, or a note saying why it was not read. */
export async function scanSource(input: Readable, path: string, options: FindOptions, result: FindResult): Promise<void> {
  try {
    const source = await readSource(input, path, options);
    if (source.kind === 'binary') {
      result.notes.push({ path, reason: 'binary' });
      return;
    }
    for await (const fragment of source.fragments) scanFragment(fragment, options, result);
    result.filesScanned++;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    input.destroy();
    result.notes.push({ path, reason: 'unreadable', detail: e.code ?? e.message });
  }
}

/** Adds one fragment's findings to `result`: allowlisted fingerprints dropped, `warden:allow` lines set apart. */
export function scanFragment<T extends FileFinding>(fragment: Fragment, options: FindOptions, result: { findings: T[]; allowed: T[] }, extra?: Omit<T, keyof FileFinding>): void {
  for (const finding of findInFragment(options.detector, fragment, options.fingerprintKey)) {
    if (options.ignoredFingerprints?.has(finding.fingerprint)) continue;
    const full = (extra ? { ...finding, ...extra } : finding) as T;
    if (finding.allowedBecause !== undefined) result.allowed.push(full);
    else result.findings.push(full);
  }
}
