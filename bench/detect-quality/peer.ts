/**
 * The peer on the same corpus: secretlint 10.2.2 with its recommended preset (bench/package.json), run
 * over the credential files written to a temporary folder under their own names, and over the log
 * records written as one file. It only reports, so for both the question is "was the line reported?".
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CredentialFile, LogRecord } from './labelled.js';

export const SECRETLINT = fileURLToPath(new URL('../node_modules/.bin/secretlint', import.meta.url));

interface SecretlintResult {
  filePath: string;
  messages: Array<{ loc: { start: { line: number }; end: { line: number } } }>;
}

/** Per family: credential lines, and those secretlint reported. */
export type PeerRecall = Map<string, { credentials: number; found: number }>;

function runSecretlint(cwd: string): Promise<SecretlintResult[]> {
  writeFileSync(join(cwd, '.secretlintrc.json'), JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));
  // Through a file: secretlint exits before a large report piped to stdout is flushed.
  const report = join(cwd, '..', `${basename(cwd)}-secretlint.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(SECRETLINT, ['--format', 'json', '--output', report, '**/*'], { cwd, stdio: 'ignore' });
    child.on('error', reject);
    // Exit 1 means findings; anything else is a failed run, not a clean one.
    child.on('close', (code) => {
      if (code !== 0 && code !== 1) return reject(new Error(`secretlint exited ${code}`));
      const results = JSON.parse(readFileSync(report, 'utf8')) as SecretlintResult[];
      rmSync(report, { force: true });
      resolve(results);
    });
  });
}

function tally(recall: PeerRecall, family: string, lines: CredentialFile['lines'], reported: Set<number>, firstLine = 1): void {
  let r = recall.get(family);
  if (!r) recall.set(family, (r = { credentials: 0, found: 0 }));
  lines.forEach((line, i) => {
    if (line.label !== 'secret') return;
    r.credentials++;
    if (reported.has(firstLine + i)) r.found++;
  });
}

/** Line recall of secretlint per family, for log records and for credential files. */
export async function measurePeer(records: LogRecord[], files: CredentialFile[]): Promise<{ logs: PeerRecall; files: PeerRecall }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-detect-quality-'));
  try {
    files.forEach((f, i) => {
      const path = join(dir, 'files', String(i), f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.bytes ?? f.lines.map((l) => `${l.text}\n`).join(''));
    });
    writeFileSync(join(dir, 'gateway.log'), records.flatMap((r) => r.lines.map((l) => `${l.text}\n`)).join(''));
    const reported = new Map<string, Set<number>>();
    for (const result of await runSecretlint(dir)) {
      const lines = new Set<number>();
      for (const m of result.messages) for (let l = m.loc.start.line; l <= m.loc.end.line; l++) lines.add(l);
      reported.set(result.filePath, lines);
    }
    const logs: PeerRecall = new Map();
    let line = 1;
    for (const r of records) {
      tally(logs, r.family, r.lines, reported.get(join(dir, 'gateway.log')) ?? new Set(), line);
      line += r.lines.length;
    }
    const byFile: PeerRecall = new Map();
    files.forEach((f, i) => tally(byFile, f.family, f.lines, reported.get(join(dir, 'files', String(i), f.path)) ?? new Set()));
    return { logs, files: byFile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const peerInstalled = (): boolean => existsSync(SECRETLINT);
