import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { WardenError } from '../../errors.js';
import type { FileFinding } from './types.js';

/** One accepted finding. Fingerprints are keyed HMACs: the file reveals no secret. */
export interface BaselineEntry {
  ruleId: string;
  path: string;
  fingerprint: string;
}

export interface BaselineFile {
  version: 1;
  /** Fingerprints only match when computed with the same key (WARDEN_FINGERPRINT_KEY in CI). */
  findings: BaselineEntry[];
}

export class BaselineError extends WardenError {
  constructor(message: string) {
    super(message, 'BASELINE_INVALID', 2);
  }
}

const keyOf = (f: BaselineEntry) => `${f.fingerprint}\0${f.ruleId}\0${f.path}`;

/** Keys of the accepted findings in a baseline file. */
export function readBaseline(path: string): Set<string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BaselineError(`baseline ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const file = data as Partial<BaselineFile>;
  if (file?.version !== 1 || !Array.isArray(file.findings)) throw new BaselineError(`baseline ${path}: expected {"version": 1, "findings": [...]}`);
  const keys = new Set<string>();
  for (const [i, e] of file.findings.entries()) {
    if (typeof e?.ruleId !== 'string' || typeof e.path !== 'string' || typeof e.fingerprint !== 'string') {
      throw new BaselineError(`baseline ${path}: findings[${i}] needs string ruleId, path and fingerprint`);
    }
    keys.add(keyOf(e));
  }
  return keys;
}

/** Findings not accepted by the baseline: the ones that should fail CI. */
export function newFindings<T extends BaselineEntry>(findings: readonly T[], accepted: ReadonlySet<string>): T[] {
  return findings.filter((f) => !accepted.has(keyOf(f)));
}

/** Writes every finding's rule, path and fingerprint (sorted, deduplicated) atomically. */
export function writeBaseline(path: string, findings: readonly FileFinding[]): void {
  const entries = new Map<string, BaselineEntry>();
  for (const f of findings) entries.set(keyOf(f), { ruleId: f.ruleId, path: f.path, fingerprint: f.fingerprint });
  const sorted = [...entries.values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  const file: BaselineFile = { version: 1, findings: sorted };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n');
  renameSync(temporary, path);
}
