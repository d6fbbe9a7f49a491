import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Detector } from '../engine.js';
import { DetectionPool } from '../pool.js';
import { isArchivePath, scanArchiveFile, type ArchiveLimits } from './archive.js';
import { readSource, type ReadOptions } from './fragments.js';
import { findInFragment, findInStructure, placeMatches } from './locate.js';
import { isSqlite, SqliteTooLarge, sqliteCells } from './sqlite.js';
import { STRUCTURED_MAX_CHARS } from './structured.js';
import type { FileFinding, Fragment, SourceNote } from './types.js';
import { walkFiles, type WalkOptions } from '../../sources/index.js';

export const STDIN_PATH = '<stdin>';
const DEFAULT_CONCURRENCY = 8;
/** Bytes per read of a file: fewer, larger reads than the stream default (64 KiB) cost less per byte. */
const READ_BYTES = 1024 * 1024;

export interface FindOptions extends WalkOptions, ReadOptions {
  detector: Detector;
  fingerprintKey: Buffer;
  /** Fingerprints from rule-file allowlists: known test keys, never reported. */
  ignoredFingerprints?: ReadonlySet<string>;
  /** Files read at once (default 8). */
  concurrency?: number;
  /**
   * Threads the detector runs on (default one per core; 1: this thread only). Workers start only once
   * enough text has been read to repay their start (DETECTION_WORKERS_FROM_CHARS).
   */
  threads?: number;
  /** Where the detector runs: findSecretsInPaths and findSecretsInStream make one from `threads`. */
  pool?: DetectionPool;
  /** What `-` reads (default process.stdin). */
  stdin?: Readable;
  /** Bounds for .tar/.tgz/.zip files, which are read member by member. */
  archiveLimits?: Partial<ArchiveLimits>;
  /** Called as an archive is read (its display path, bytes so far): images take a while. */
  onArchiveProgress?: (path: string, bytes: number) => void;
}

export interface FindResult {
  /** Sorted by path, line, column (as are `allowed`; notes by path). */
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
export async function findSecretsInPaths(paths: string[], given: FindOptions): Promise<FindResult> {
  return withPool(given, (options) => findInPaths(paths, options));
}

async function findInPaths(paths: string[], options: FindOptions): Promise<FindResult> {
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
      else await scanSource(createReadStream(absolutePath, { highWaterMark: READ_BYTES }), displayPath, options, result, absolutePath);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
  // Workers finish in any order: sorted, a report reads the same from run to run.
  const byPlace = (a: FileFinding, b: FileFinding) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.column - b.column);
  result.findings.sort(byPlace);
  result.allowed.sort(byPlace);
  result.notes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return result;
}

/** Finds credentials in one byte stream (a file, stdin, a dump piped in). */
export async function findSecretsInStream(input: Readable, path: string, given: FindOptions): Promise<FindResult> {
  return withPool(given, async (options) => {
    const result: FindResult = { findings: [], notes: [], filesScanned: 0, allowed: [] };
    await scanSource(input, path, options, result);
    return result;
  });
}

/** Runs `find` with the caller's pool, or with one made from `threads` and closed when `find` ends. */
async function withPool<T>(options: FindOptions, find: (options: FindOptions & { pool: DetectionPool }) => Promise<T>): Promise<T> {
  if (options.pool) return find({ ...options, pool: options.pool });
  const pool = new DetectionPool({ detector: options.detector, fingerprintKey: options.fingerprintKey, threads: options.threads });
  try {
    return await find({ ...options, pool });
  } finally {
    await pool.close();
  }
}

/** Fragments of one source sent to the pool before the oldest one's findings are waited for. */
const FRAGMENTS_IN_FLIGHT = 8;

/**
 * Reads one source into `result`: its findings, or a note saying why it was not read. `absolutePath`,
 * for a file on disk, lets a binary reader (SQLite) open it by name.
 */
export async function scanSource(input: Readable, path: string, options: FindOptions, result: FindResult, absolutePath?: string): Promise<void> {
  const report = (findings: FileFinding[]) => keep(findings, options, result);
  try {
    const source = await readSource(input, path, options);
    if (source.kind === 'binary') {
      scanBinary(source.head, path, absolutePath, options, result, report);
      return;
    }
    // Git history reads sources without a pool: then all of it runs here.
    const pool = options.pool ?? new DetectionPool({ detector: options.detector, fingerprintKey: options.fingerprintKey, threads: 1 });
    const found: FileFinding[] = [];
    const inFlight: Array<Promise<FileFinding[]>> = [];
    // Files small enough are also read whole, for what only a whole file shows (keys, file names).
    let whole: Uint8Array[] | undefined = [];
    let wholeBytes = 0;
    for await (const fragment of source.fragments) {
      if (whole) {
        wholeBytes += fragment.ownedBytes - fragment.ownedFrom;
        if (wholeBytes > STRUCTURED_MAX_CHARS) whole = undefined;
        // A copy: the fragment's own bytes may move to a worker.
        else whole.push(Buffer.from(fragment.bytes.subarray(fragment.ownedFrom, fragment.ownedBytes)));
      }
      // Several fragments at once keep every worker busy on one large file; the window bounds what is held.
      const findings = pool.findInFragment(fragment);
      // Awaited later: a failure must not count as unhandled meanwhile.
      findings.catch(() => undefined);
      inFlight.push(findings);
      if (inFlight.length >= FRAGMENTS_IN_FLIGHT) found.push(...(await inFlight.shift()!));
    }
    for (const findings of await Promise.all(inFlight)) found.push(...findings);
    // Fragments are cut between characters: their bytes decode to the whole text.
    if (whole) found.push(...(await pool.findInStructure(path, Buffer.concat(whole).toString('utf8'), found)));
    report(found);
    result.filesScanned++;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    input.destroy();
    result.notes.push({ path, reason: 'unreadable', detail: e.code ?? e.message });
  }
}

/** Adds one fragment's line findings to `result` (history reads added lines, never whole files). */
export function scanFragment<T extends FileFinding>(
  fragment: Fragment,
  options: FindOptions,
  result: { findings: T[]; allowed: T[] },
  extra?: Omit<T, keyof FileFinding>,
): void {
  keep(findInFragment(options.detector, fragment, options.fingerprintKey), options, result, extra);
}

/**
 * Adds findings to `result`: allowlisted fingerprints dropped, and any finding on a `warden:allow` line,
 * whatever rule found it (a line rule, a key rule), set apart in `allowed`.
 */
function keep<T extends FileFinding>(
  findings: readonly FileFinding[],
  options: FindOptions,
  result: { findings: T[]; allowed: T[] },
  extra?: Omit<T, keyof FileFinding>,
): void {
  for (const finding of findings) {
    if (options.ignoredFingerprints?.has(finding.fingerprint)) continue;
    const full = (extra ? { ...finding, ...extra } : finding) as T;
    if (finding.allowedBecause !== undefined) result.allowed.push(full);
    else result.findings.push(full);
  }
}

/**
 * Binary files that hold credentials are read, not skipped: SQLite databases cell by cell, and
 * containers a rule names by file (PKCS#12, Java keystores) by their first bytes. Anything else is a note.
 */
function scanBinary(
  head: Buffer,
  path: string,
  absolutePath: string | undefined,
  options: FindOptions,
  result: FindResult,
  report: (f: FileFinding[]) => void,
): void {
  if (isSqlite(head) && absolutePath) {
    try {
      for (const cell of sqliteCells(absolutePath, (table, detail) => result.notes.push({ path: `${path}!${table}`, reason: 'unreadable', detail }))) {
        const at = { path: `${path}!${cell.table}`, text: cell.text, line: 1, column: 0, ownedEnd: cell.text.length };
        const found = findInFragment(options.detector, at, options.fingerprintKey);
        found.push(...findInStructure(options.detector, at.path, cell.text, options.fingerprintKey, found, [cell.name]));
        // A cell is placed by row and column number: line is the row, column the column's index.
        report(found.map((f) => ({ ...f, line: cell.row, column: cell.column, endLine: cell.row, endColumn: cell.column })));
      }
      result.filesScanned++;
    } catch (err) {
      if (err instanceof SqliteTooLarge) result.notes.push({ path, reason: 'too-large', detail: err.message });
      else result.notes.push({ path, reason: 'unreadable', detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
    }
    return;
  }
  const text = head.toString('latin1');
  const matches = options.detector.scanStructure(text, path, () => []);
  if (matches.length === 0) {
    result.notes.push({ path, reason: 'binary' });
    return;
  }
  // A container is reported as a whole, at its start: lines mean nothing in binary.
  report(
    placeMatches(matches, { path, text, line: 1, column: 0, ownedEnd: text.length }, options.fingerprintKey).map((f) => ({
      ...f,
      line: 1,
      column: 1,
      endLine: 1,
      endColumn: 1,
    })),
  );
  result.filesScanned++;
}
