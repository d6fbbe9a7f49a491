import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError, WardenError } from '../../errors.js';
import { CONFIDENCES, loadDetector, loadFingerprintKey, RuleFileError, type Confidence, type LoadedDetector } from '../../detect/index.js';
import { findSecretsInPaths, newFindings, readBaseline, SKIP_REASONS, writeBaseline, type FileFinding, type SkipReason, type SourceNote } from '../../detect/files/index.js';
import { detectorRules, formatReport, REPORT_FORMATS, WARDEN_TOOL, type ReportFinding, type ReportFormat } from '../../report/index.js';
import { useColor } from '../output.js';
import { parsePositiveInt } from '../parse.js';

/** More notes than this are summarised so a tree of images does not bury the findings. */
const MAX_NOTES_SHOWN = 20;

interface DetectCliOptions {
  format?: ReportFormat;
  rules?: string[];
  exclude?: string[];
  gitignore: boolean;
  baseline?: string;
  writeBaseline?: string;
  concurrency: string;
  minConfidence: Confidence;
  strict?: boolean;
}

/** `--strict`: a run that skipped something did not look at everything. */
class IncompleteRunError extends WardenError {
  constructor(skipped: number) {
    super(`--strict: ${skipped} file(s) skipped (see above); the run did not look at everything`, 'DETECT_INCOMPLETE', 3);
  }
}

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('Find credentials in files, folders and dumps (- reads stdin); reports fingerprints, never secrets.')
    .argument('<paths...>', 'files or folders to search; - for stdin; .gz files are read transparently')
    .addOption(new Option('--format <format>', 'report format on stdout (default: table on a terminal, json otherwise)').choices([...REPORT_FORMATS]))
    .option('--rules <path...>', 'extra rule files or folders (their allowlists can skip paths and fingerprints)')
    .option('--exclude <pattern...>', 'gitignore-style patterns to skip, relative to each folder given')
    .option('--no-gitignore', 'also read files that .gitignore excludes')
    .option('--baseline <file>', 'accept the findings listed in this file; only new ones fail')
    .option('--write-baseline <file>', 'record every current finding as accepted (exit 0)')
    .option('--concurrency <n>', 'files read at once', '8')
    .option('--strict', 'exit 3 when any file was skipped (binary with no reader, too large, unreadable)')
    .addOption(
      new Option('--min-confidence <level>', 'report findings at least this sure (low: weak values and checksums that do not verify)').choices([...CONFIDENCES]).default('medium'),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 nothing new found; 1 credentials found; 2 bad usage or unreadable rules/baseline;
3 with --strict, a file was skipped.
Structured files (JSON, YAML, XML, INI, properties, .env, PHP) are also read as key/value pairs: a
value under a credential-named key is found by its key. SQLite databases are read cell by cell
(reported as file!table, line = row, column = column number); PKCS#12 and Java keystores are reported
as key containers. Other binary, too large or unreadable files are skipped, counted in the summary
(skipped, by reason) and named on stderr.
Every finding has a confidence: high (a checksum verifies, a vendor format with its context), medium
(a credential position, a vendor format alone), low (a weak or default value, a checksum that does not
verify). Findings below --min-confidence are counted on stderr, not reported; warden scrub redacts all.
Fingerprints are keyed HMACs: set WARDEN_FINGERPRINT_KEY in CI so baselines match across machines.

Examples:
  warden detect . --format sarif > warden.sarif
  zcat dump.sql.gz | warden detect -
  warden detect . --write-baseline .warden-baseline.json && warden detect . --baseline .warden-baseline.json`,
    )
    .action(async (paths: string[], opts: DetectCliOptions) => {
      const concurrency = parsePositiveInt(opts.concurrency, '--concurrency');
      for (const p of paths) if (p !== '-' && !statSync(p, { throwIfNoEntry: false })) throw new UsageError(`no such file or folder: ${p}`);
      let loaded: LoadedDetector;
      try {
        loaded = loadDetector({ ruleFiles: opts.rules ?? [] });
      } catch (err) {
        if (err instanceof RuleFileError) throw new UsageError(err.message);
        throw err;
      }
      const accepted = opts.baseline ? readBaseline(opts.baseline) : new Set<string>();
      const result = await findSecretsInPaths(paths, {
        detector: loaded.detector,
        fingerprintKey: loadFingerprintKey(),
        ignoredFingerprints: loaded.ignoredFingerprints,
        ignoredPaths: loaded.ignoredPaths,
        excludes: opts.exclude ?? [],
        gitignore: opts.gitignore,
        concurrency,
      });
      const floor = CONFIDENCES.indexOf(opts.minConfidence);
      const sure = result.findings.filter((f) => CONFIDENCES.indexOf(f.confidence) >= floor);
      const belowMinConfidence = result.findings.length - sure.length;
      const fresh = newFindings(sure, accepted);
      const format = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
      process.stdout.write(
        formatReport(format, fresh.map(toReportFinding), {
          tool: WARDEN_TOOL,
          rules: detectorRules(loaded.detector),
          color: useColor(process.stdout),
          summary: {
            filesScanned: result.filesScanned,
            acceptedByBaseline: sure.length - fresh.length,
            minConfidence: opts.minConfidence,
            belowMinConfidence,
            skipped: skippedSummary(result.notes),
            notes: result.notes,
          },
        }),
      );
      if (format === 'table' && result.notes.length) process.stdout.write(`${skippedLine(result.notes)}\n`);
      writeNotes(result.notes);
      const accepting = sure.length - fresh.length;
      const below = belowMinConfidence ? `, ${belowMinConfidence} below --min-confidence ${opts.minConfidence} not shown` : '';
      const skipped = result.notes.length ? `, ${skippedLine(result.notes)}` : '';
      process.stderr.write(`warden: ${result.filesScanned} file(s) read, ${fresh.length} finding(s)${accepting ? `, ${accepting} accepted by the baseline` : ''}${below}${skipped}\n`);
      if (opts.writeBaseline) {
        writeBaseline(opts.writeBaseline, sure);
        process.stderr.write(`warden: wrote ${sure.length} finding(s) to baseline ${opts.writeBaseline}\n`);
        return;
      }
      if (opts.strict && result.notes.length) throw new IncompleteRunError(result.notes.length);
      if (fresh.length) process.exitCode = 1;
    });
}

/** Skipped files by reason, every reason present (0 when none), with the total. */
function skippedSummary(notes: readonly SourceNote[]): { total: number } & Record<SkipReason, number> {
  const counts = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  for (const n of notes) counts[n.reason]++;
  return { total: notes.length, ...counts };
}

/** `skipped 3 file(s): 2 binary, 1 unreadable`. */
function skippedLine(notes: readonly SourceNote[]): string {
  const counts = skippedSummary(notes);
  const parts = SKIP_REASONS.filter((r) => counts[r]).map((r) => `${counts[r]} ${r}`);
  return `skipped ${notes.length} file(s): ${parts.join(', ')}`;
}

function toReportFinding(f: FileFinding): ReportFinding {
  return {
    ruleId: f.ruleId,
    title: f.title,
    severity: f.severity,
    confidence: f.confidence,
    reason: f.reason,
    fingerprint: f.fingerprint,
    location: { uri: f.path, line: f.line, column: f.column, endLine: f.endLine, endColumn: f.endColumn },
  };
}

function writeNotes(notes: SourceNote[]): void {
  for (const n of notes.slice(0, MAX_NOTES_SHOWN)) {
    const why = n.reason === 'binary' ? 'binary file with no reader' : n.reason === 'too-large' ? `too large (${n.detail ?? ''})` : `unreadable (${n.detail ?? 'error'})`;
    process.stderr.write(`warden: skipped ${n.path}: ${why}\n`);
  }
  if (notes.length > MAX_NOTES_SHOWN) process.stderr.write(`warden: … and ${notes.length - MAX_NOTES_SHOWN} more skipped\n`);
}
