import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError, WardenError } from '../../errors.js';
import { CONFIDENCES, loadDetector, loadFingerprintKey, RuleFileError, type Confidence, type LoadedDetector } from '../../detect/index.js';
import {
  findSecretsInGit,
  findSecretsInPaths,
  newFindings,
  parseLogOptions,
  readBaseline,
  sinceCommitOptions,
  SKIP_REASONS,
  writeBaseline,
  type GitFinding,
  type FindOptions,
  type GitNote,
  type SkipReason,
  type SourceNote,
} from '../../detect/files/index.js';
import { detectorRules, formatReport, REPORT_FORMATS, WARDEN_TOOL, type ReportFinding, type ReportFormat } from '../../report/index.js';
import { createProgress, useColor } from '../output.js';
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
  threads?: string;
  minConfidence: Confidence;
  git?: string | true;
  staged?: boolean;
  logOpts?: string;
  sinceCommit?: string;
  inlineAllow: boolean;
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
    .description('Find credentials in files, folders, archives, dumps (- reads stdin) and git history; reports fingerprints, never secrets.')
    .argument('[paths...]', 'files or folders to search; - for stdin; .gz files are read transparently, .tar/.tgz/.zip member by member')
    .option('--git [repo]', 'read the lines every commit added (default: every ref of the repository here)')
    .option('--staged', 'read the lines staged for the next commit (a pre-commit hook); the repository is --git or here')
    .option('--log-opts <opts>', 'with --git: which commits, as git log words (main..HEAD, --since=2.weeks, --first-parent, -- path)')
    .option('--since-commit <rev>', 'with --git: only commits after <rev> up to HEAD (a pull request against its base)')
    .option('--no-inline-allow', 'also report findings on lines marked warden:allow')
    .addOption(new Option('--format <format>', 'report format on stdout (default: table on a terminal, json otherwise)').choices([...REPORT_FORMATS]))
    .option('--rules <path...>', 'extra rule files or folders (their allowlists can skip paths and fingerprints)')
    .option('--exclude <pattern...>', 'gitignore-style patterns to skip, relative to each folder given')
    .option('--no-gitignore', 'also read files that .gitignore excludes')
    .option('--baseline <file>', 'accept the findings listed in this file; only new ones fail')
    .option('--write-baseline <file>', 'record every current finding as accepted (exit 0)')
    .option('--concurrency <n>', 'files read at once', '8')
    .option(
      '--threads <n>',
      'threads the rules run on, the main one included (default: one per core; the N-1 workers start once 32 MiB of text has been read, as a smaller run does not repay their start; 1: no workers). Files, folders, archives and stdin; not --git',
    )
    .option('--strict', 'exit 3 when anything was skipped (binary with no reader, too large, unreadable, a submodule, over an archive or diff bound)')
    .addOption(
      new Option('--min-confidence <level>', 'report findings at least this sure (low: weak values and checksums that do not verify)')
        .choices([...CONFIDENCES])
        .default('medium'),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 nothing new found; 1 credentials found; 2 bad usage, unreadable rules/baseline, not a
repository or an unknown revision; 3 git failed, or with --strict, something was skipped.
Structured files (JSON, YAML, XML, INI, properties, .env, PHP) are also read as key/value pairs: a
value under a credential-named key is found by its key. SQLite databases are read cell by cell
(reported as file!table, line = row, column = column number); PKCS#12 and Java keystores are reported
as key containers. Other binary, too large or unreadable files, submodules in history and archive
members or diff lines over a bound are skipped, counted in the summary (skipped, by reason) and named
on stderr.
A finding on a line holding \`warden:allow\` (a reason may follow), whatever rule found it, is counted,
not reported.
History findings carry commit, author and date; a secret keeps its fingerprint across commits, so one
baseline serves files and history.
Every finding has a confidence: high (a checksum verifies, a vendor format with its context), medium
(a credential position, a vendor format alone), low (a weak or default value, a checksum that does not
verify). Findings below --min-confidence are counted on stderr, not reported; warden scrub redacts all.
Fingerprints are keyed HMACs: set WARDEN_FINGERPRINT_KEY in CI so baselines match across machines.

Examples:
  warden detect . --format sarif > warden.sarif
  zcat dump.sql.gz | warden detect -
  warden detect . --write-baseline .warden-baseline.json && warden detect . --baseline .warden-baseline.json
  warden detect --git . --format sarif > history.sarif
  warden detect --git --since-commit origin/main        # a pull request's commits
  warden detect --staged                                # pre-commit
  warden detect image.tar                               # docker save output: layers and config`,
    )
    .action(async (paths: string[], opts: DetectCliOptions) => {
      const concurrency = parsePositiveInt(opts.concurrency, '--concurrency');
      const threads = opts.threads === undefined ? undefined : parsePositiveInt(opts.threads, '--threads', 256);
      const fromGit = opts.git !== undefined || opts.staged === true;
      if (fromGit && paths.length) throw new UsageError('give paths, or --git/--staged, not both');
      if (!fromGit && !paths.length) throw new UsageError('give files or folders to search, - for stdin, or --git/--staged');
      if (!opts.git && (opts.logOpts || opts.sinceCommit)) throw new UsageError('--log-opts and --since-commit need --git');
      if (opts.logOpts && opts.sinceCommit) throw new UsageError('--log-opts and --since-commit: give one');
      if (fromGit && threads !== undefined) throw new UsageError('--threads applies to files, folders and stdin, not to --git/--staged');
      for (const p of paths) if (p !== '-' && !statSync(p, { throwIfNoEntry: false })) throw new UsageError(`no such file or folder: ${p}`);
      let loaded: LoadedDetector;
      try {
        loaded = loadDetector({ ruleFiles: opts.rules ?? [] });
      } catch (err) {
        if (err instanceof RuleFileError) throw new UsageError(err.message);
        throw err;
      }
      const accepted = opts.baseline ? readBaseline(opts.baseline) : new Set<string>();
      const common = {
        detector: loaded.detector,
        fingerprintKey: loadFingerprintKey(),
        ignoredFingerprints: loaded.ignoredFingerprints,
        ignoredPaths: loaded.ignoredPaths,
        excludes: opts.exclude ?? [],
      };
      const result = fromGit ? await readGit(opts, common) : await readPaths(paths, opts, { ...common, concurrency, ...(threads ? { threads } : {}) });
      const findings: GitFinding[] = opts.inlineAllow ? result.findings : [...result.findings, ...result.allowed];
      const floor = CONFIDENCES.indexOf(opts.minConfidence);
      const sure = findings.filter((f) => CONFIDENCES.indexOf(f.confidence) >= floor);
      const belowMinConfidence = findings.length - sure.length;
      const allowedInline = opts.inlineAllow ? result.allowed.length : 0;
      const fresh = newFindings(sure, accepted);
      const format = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
      process.stdout.write(
        formatReport(format, fresh.map(toReportFinding), {
          tool: WARDEN_TOOL,
          rules: detectorRules(loaded.detector),
          color: useColor(process.stdout),
          summary: {
            ...counts(result),
            acceptedByBaseline: sure.length - fresh.length,
            allowedInline,
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
      const allowed = allowedInline ? `, ${allowedInline} allowed inline (warden:allow)` : '';
      const skipped = result.notes.length ? `, ${skippedLine(result.notes)}` : '';
      process.stderr.write(
        `warden: ${result.read || `${result.filesScanned} file(s) read`}, ${fresh.length} finding(s)${accepting ? `, ${accepting} accepted by the baseline` : ''}${allowed}${below}${skipped}\n`,
      );
      if (opts.writeBaseline) {
        writeBaseline(opts.writeBaseline, sure);
        process.stderr.write(`warden: wrote ${sure.length} finding(s) to baseline ${opts.writeBaseline}\n`);
        return;
      }
      if (opts.strict && result.notes.length) throw new IncompleteRunError(result.notes.length);
      if (fresh.length) process.exitCode = 1;
    });
}

type DetectResult = {
  findings: GitFinding[];
  allowed: GitFinding[];
  notes: GitNote[];
  filesScanned?: number;
  commitsScanned?: number;
  blobsScanned?: number;
  bytesRead?: number;
  read: string;
};

async function readGit(opts: DetectCliOptions, common: Omit<Parameters<typeof findSecretsInGit>[0], 'repo'>): Promise<DetectResult> {
  const repo = typeof opts.git === 'string' ? opts.git : '.';
  const logOptions = opts.sinceCommit ? sinceCommitOptions(opts.sinceCommit) : opts.logOpts ? parseLogOptions(opts.logOpts) : undefined;
  const progress = createProgress('warden detect');
  try {
    const result = await findSecretsInGit({
      ...common,
      repo,
      ...(opts.staged ? { staged: true } : {}),
      ...(logOptions ? { logOptions } : {}),
      onProgress: (p) => progress.update(`${p.commits} commit(s), ${(p.bytes / 1e6).toFixed(1)} MB of diff`),
    });
    const what = opts.staged ? 'staged changes' : `${result.commitsScanned} commit(s)`;
    return { ...result, read: `${what}, ${result.blobsScanned} file version(s) read` };
  } finally {
    progress.done();
  }
}

async function readPaths(paths: string[], opts: DetectCliOptions, options: FindOptions): Promise<DetectResult> {
  const progress = createProgress('warden detect');
  try {
    const onArchiveProgress = (path: string, bytes: number) => progress.update(`${path}: ${(bytes / 1e6).toFixed(1)} MB read`);
    return { ...(await findSecretsInPaths(paths, { ...options, gitignore: opts.gitignore, onArchiveProgress })), read: '' };
  } finally {
    progress.done();
  }
}

function counts(result: DetectResult): Record<string, number> {
  const { filesScanned, commitsScanned, blobsScanned, bytesRead } = result;
  return Object.fromEntries(Object.entries({ filesScanned, commitsScanned, blobsScanned, bytesRead }).filter(([, n]) => n !== undefined)) as Record<
    string,
    number
  >;
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

function toReportFinding(f: GitFinding): ReportFinding {
  return {
    ruleId: f.ruleId,
    title: f.title,
    severity: f.severity,
    confidence: f.confidence,
    reason: f.reason,
    fingerprint: f.fingerprint,
    location: { uri: f.path, line: f.line, column: f.column, endLine: f.endLine, endColumn: f.endColumn },
    ...(f.commit ? { commit: f.commit, details: { commitSha: f.commit, author: f.author ?? '', date: f.date ?? '' } } : {}),
  };
}

const NOTE_TEXT: Record<SkipReason, string> = {
  binary: 'binary file with no reader',
  unreadable: 'unreadable',
  'too-large': 'too large',
  submodule: 'submodule',
  limit: 'over a limit',
};

function writeNotes(notes: GitNote[]): void {
  for (const n of notes.slice(0, MAX_NOTES_SHOWN)) {
    const at = n.commit ? ` in commit ${n.commit.slice(0, 12)}` : '';
    process.stderr.write(`warden: skipped ${n.path}${at}: ${NOTE_TEXT[n.reason]}${n.detail && n.reason !== 'binary' ? ` (${n.detail})` : ''}\n`);
  }
  if (notes.length > MAX_NOTES_SHOWN) process.stderr.write(`warden: … and ${notes.length - MAX_NOTES_SHOWN} more skipped\n`);
}
