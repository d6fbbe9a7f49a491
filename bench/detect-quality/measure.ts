/**
 * Measures detection quality on a generated, labelled corpus, through the same library paths the CLI
 * uses: log records go through `warden scrub`'s scrubber (was every secret span replaced? was any clean
 * or negative line changed?), credential files through `warden detect`'s finder (was every credential
 * line reported?). Shared by bench/detect-quality/run.ts and src/detect/quality.test.ts.
 */
import { Readable } from 'node:stream';
import { CONFIDENCES, getDefaultDetector, type Detector } from '../../src/detect/index.js';
import { findSecretsInStream, type FileFinding } from '../../src/detect/files/index.js';
import { cleanLogLines, CorpusRandom } from '../../src/detect/test-log-corpus.js';
import { createScrubber } from '../../src/scrub/index.js';
import { FILE_FAMILIES } from './file-corpus.js';
import { generateEach, type CredentialFile, type LabelledLine, type LogRecord, type Span } from './labelled.js';
import { LOG_FAMILIES } from './log-corpus.js';

export interface CorpusSize {
  seed: number;
  logsPerFamily: number;
  filesPerFamily: number;
  cleanLines: number;
}

/** The corpus the test measures and the floors describe: small enough for a test run. */
export const TEST_CORPUS: CorpusSize = { seed: 0x19de7ec7, logsPerFamily: 150, filesPerFamily: 12, cleanLines: 3000 };
/** The bench's default corpus. */
export const BENCH_CORPUS: CorpusSize = { seed: 0x19de7ec7, logsPerFamily: 4000, filesPerFamily: 200, cleanLines: 100_000 };

export interface FamilyResult {
  family: string;
  /** Secret spans (logs) or credential lines (files). */
  credentials: number;
  /** Of those, removed by scrub (logs) or reported by detect at any confidence (files). */
  found: number;
  recall: number;
  /** Files only: credential lines reported at medium confidence or above (`warden detect`'s default). */
  foundAtDefault?: number;
  /** Negative lines changed (logs), or findings covering no credential line (files). */
  falsePositives: number;
  /** Negative lines in the corpus (logs) or findings in all (files). */
  negatives: number;
  precision: number;
  /** Files only: files holding a credential line, and those with every credential line reported. */
  filesCovered?: number;
  files?: number;
  /** A few missed lines, for tuning (generated values, never real ones). */
  misses: string[];
}

export interface QualityReport {
  corpus: CorpusSize;
  logs: FamilyResult[];
  files: FamilyResult[];
  cleanLines: number;
  /** Clean lines scrub changed: must be 0. */
  cleanLinesChanged: number;
  /** Findings of the detector on the clean lines (the project's clean corpus). */
  cleanFindings: number;
  /** Files detect skipped (binary, unreadable) and the families they belong to. */
  skippedFiles: Array<{ family: string; path: string; reason: string }>;
}

const MISSES_KEPT = 12;

function emptyResult(family: string): FamilyResult {
  return { family, credentials: 0, found: 0, recall: 1, falsePositives: 0, negatives: 0, precision: 1, misses: [] };
}

function finish(r: FamilyResult): FamilyResult {
  r.recall = r.credentials ? r.found / r.credentials : 1;
  const flagged = r.found + r.falsePositives;
  r.precision = flagged ? r.found / flagged : 1;
  return r;
}

/** Merged, sorted spans, adjacent ones joined, so "is this span covered" is one lookup. */
function mergeSpans(spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** Index of the last span starting at or before `at`, or -1. */
function spanAtOrBefore(spans: Span[], at: number): number {
  let lo = 0;
  let hi = spans.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid]!.start <= at) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const covers = (replaced: Span[], s: Span) => {
  const i = spanAtOrBefore(replaced, s.start);
  return i >= 0 && replaced[i]!.end >= s.end;
};
const touches = (replaced: Span[], s: Span) => {
  const i = spanAtOrBefore(replaced, s.end - 1);
  return i >= 0 && replaced[i]!.end > s.start;
};

export function measureLogs(records: LogRecord[], clean: string[], detector: Detector): { families: FamilyResult[]; cleanChanged: number } {
  // Records and clean lines alternate, as in a real log; one scrubber sees the whole text in order.
  const placed: Array<{ family: string; line: LabelledLine | undefined; start: number; end: number }> = [];
  let text = '';
  const put = (family: string, line: LabelledLine | undefined, raw: string) => {
    placed.push({ family, line, start: text.length, end: text.length + raw.length });
    text += `${raw}\n`;
  };
  records.forEach((record, i) => {
    for (const line of record.lines) put(record.family, line, line.text);
    if (i < clean.length) put('clean', undefined, clean[i]!);
  });
  for (let i = records.length; i < clean.length; i++) put('clean', undefined, clean[i]!);

  const replaced = mergeSpans(createScrubber({ format: 'auto', detector }).plan(text));
  const results = new Map<string, FamilyResult>();
  let cleanChanged = 0;
  for (const p of placed) {
    const changed = touches(replaced, p);
    if (!p.line) {
      if (changed) cleanChanged++;
      continue;
    }
    let r = results.get(p.family);
    if (!r) results.set(p.family, (r = emptyResult(p.family)));
    if (p.line.label === 'negative') {
      r.negatives++;
      if (changed) {
        r.falsePositives++;
        if (r.misses.length < MISSES_KEPT) r.misses.push(`changed: ${p.line.text.slice(0, 200)}`);
      }
    }
    for (const s of p.line.secrets) {
      r.credentials++;
      if (covers(replaced, { start: p.start + s.start, end: p.start + s.end })) r.found++;
      else if (r.misses.length < MISSES_KEPT) r.misses.push(`kept: ${p.line.text.slice(0, 200)}`);
    }
  }
  return { families: [...results.values()].map(finish), cleanChanged };
}

const FINGERPRINT_KEY = Buffer.alloc(32, 7);

export async function measureFiles(files: CredentialFile[], detector: Detector): Promise<{ families: FamilyResult[]; skipped: QualityReport['skippedFiles'] }> {
  const results = new Map<string, FamilyResult & { filesCovered: number; files: number; foundAtDefault: number }>();
  const skipped: QualityReport['skippedFiles'] = [];
  const atDefault = CONFIDENCES.indexOf('medium');
  for (const f of files) {
    let r = results.get(f.family);
    if (!r) results.set(f.family, (r = { ...emptyResult(f.family), filesCovered: 0, files: 0, foundAtDefault: 0 }));
    const bytes = f.bytes ?? Buffer.from(f.lines.map((l) => `${l.text}\n`).join(''));
    const { findings, notes } = await findSecretsInStream(Readable.from([bytes]), f.path, { detector, fingerprintKey: FINGERPRINT_KEY });
    for (const n of notes) skipped.push({ family: f.family, path: f.path, reason: n.reason });
    const on = (lineNo: number, list: FileFinding[]) => list.filter((x) => (f.bytes ? true : x.line <= lineNo && x.endLine >= lineNo));
    let allFound = true;
    f.lines.forEach((line, i) => {
      if (line.label !== 'secret') return;
      r.credentials++;
      const here = on(i + 1, findings);
      if (here.length) r.found++;
      else {
        allFound = false;
        if (r.misses.length < MISSES_KEPT) r.misses.push(`${f.path}:${i + 1}: ${line.text.slice(0, 160)}`);
      }
      if (here.some((x) => CONFIDENCES.indexOf(x.confidence) >= atDefault)) r.foundAtDefault++;
    });
    for (const x of findings) {
      r.negatives++;
      const hitsSecret = f.bytes !== undefined || f.lines.some((l, i) => l.label === 'secret' && x.line <= i + 1 && x.endLine >= i + 1);
      if (!hitsSecret) {
        r.falsePositives++;
        if (r.misses.length < MISSES_KEPT) r.misses.push(`false positive ${x.ruleId} at ${f.path}:${x.line}: ${f.lines[x.line - 1]?.text.slice(0, 160)}`);
      }
    }
    if (f.lines.some((l) => l.label === 'secret')) {
      r.files++;
      if (allFound) r.filesCovered++;
    }
  }
  // Files: precision is findings that cover a credential line over all findings.
  const families = [...results.values()].map((r) => {
    r.recall = r.credentials ? r.found / r.credentials : 1;
    r.precision = r.negatives ? (r.negatives - r.falsePositives) / r.negatives : 1;
    return r;
  });
  return { families, skipped };
}

/** Generates the corpus of `size` (seeded: the same every run) and measures it. */
export function generateCorpus(size: CorpusSize): { records: LogRecord[]; files: CredentialFile[]; clean: string[] } {
  const r = new CorpusRandom(size.seed);
  const records = generateEach(LOG_FAMILIES, r, size.logsPerFamily);
  const files = generateEach(FILE_FAMILIES, r, size.filesPerFamily);
  return { records, files, clean: [...cleanLogLines(size.cleanLines, size.seed)].map((c) => c.line) };
}

export async function measureQuality(size: CorpusSize, detector: Detector = getDefaultDetector()): Promise<QualityReport> {
  const { records, files, clean } = generateCorpus(size);
  const logs = measureLogs(records, clean, detector);
  let cleanFindings = 0;
  for (const line of clean) cleanFindings += detector.scan(line).length;
  const fileResults = await measureFiles(files, detector);
  return {
    corpus: size,
    logs: logs.families,
    files: fileResults.families,
    cleanLines: clean.length,
    cleanLinesChanged: logs.cleanChanged,
    cleanFindings,
    skippedFiles: fileResults.skipped,
  };
}

/** Committed recall floors, per surface and family (fractions, rounded down to 3 decimals). */
export type Floors = Record<'logs' | 'files', Record<string, number>>;

export function floorsOf(report: QualityReport): Floors {
  const floor = (results: FamilyResult[]) => Object.fromEntries(results.map((r) => [r.family, Math.floor(r.recall * 1000) / 1000]));
  return { logs: floor(report.logs), files: floor(report.files) };
}

/** Families whose recall fell below their floor, or that the floor file names but the corpus lacks. */
export function belowFloors(report: QualityReport, floors: Floors): string[] {
  const out: string[] = [];
  for (const surface of ['logs', 'files'] as const) {
    const measured = new Map(report[surface].map((r) => [r.family, r]));
    for (const [family, floor] of Object.entries(floors[surface])) {
      const r = measured.get(family);
      if (!r) out.push(`${surface}/${family}: no longer measured`);
      else if (r.recall < floor)
        out.push(`${surface}/${family}: recall ${(r.recall * 100).toFixed(1)}% < floor ${(floor * 100).toFixed(1)}%\n  ${r.misses.join('\n  ')}`);
    }
  }
  return out;
}
