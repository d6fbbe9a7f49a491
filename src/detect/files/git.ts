import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import ignore from 'ignore';
import { UsageError, WardenError } from '../../errors.js';
import { scanFragment, scanSource, type FindOptions, type FindResult } from './finder.js';
import { CUT_CONTEXT_BYTES } from '../cut-context.js';
import { DEFAULT_MAX_LINE_CHARS, fragmentsOf } from './fragments.js';
import type { FileFinding, SourceNote } from './types.js';
import { detachedString } from '../../detached-string.js';

/** The commit that added a line: absent for staged changes, which have none yet. */
export interface CommitInfo {
  commit: string;
  author: string;
  /** Author date, ISO 8601 with the author's offset. */
  date: string;
}

export type GitFinding = FileFinding & Partial<CommitInfo>;
export type GitNote = SourceNote & { commit?: string };

export interface GitFindOptions extends Omit<FindOptions, 'stdin' | 'concurrency' | 'gitignore' | 'cwd'> {
  /** A folder inside the repository's work tree (or a bare repository). */
  repo: string;
  /** What to read: `--log-opts` split into words (revisions, ranges, limits); default every ref (`--all`). */
  logOptions?: string[];
  /** Read the index against HEAD (a pre-commit hook) instead of history. */
  staged?: boolean;
  /** Called as output arrives, for a progress line. */
  onProgress?: (progress: GitProgress) => void;
}

export interface GitProgress {
  commits: number;
  bytes: number;
}

export interface GitFindResult {
  /** In the order git wrote them: oldest commit first, then path, line, column. */
  findings: GitFinding[];
  allowed: GitFinding[];
  notes: GitNote[];
  commitsScanned: number;
  /** Distinct file versions whose added lines were read. */
  blobsScanned: number;
  /** Bytes of diff read from git. */
  bytesRead: number;
}

export class GitReadError extends WardenError {
  constructor(message: string, exitCode: 2 | 3) {
    super(message, 'GIT_FAILED', exitCode);
  }
}

/**
 * Settings that would let a repository's own config (or a hostile one handed over with it) run a
 * program, write a file or change the output this parser reads. Command-line `-c` beats every config file.
 */
const SAFE_CONFIG = [
  'core.quotePath=false',
  'core.fsmonitor=false',
  'core.pager=cat',
  'log.showSignature=false',
  'log.showRoot=true',
  'diff.noprefix=false',
  'diff.mnemonicPrefix=false',
  'diff.relative=false',
  'diff.suppressBlankEmpty=false',
  'color.ui=never',
  // No transport at all: a partial clone would otherwise fetch missing blobs from its remote.
  'protocol.allow=never',
].flatMap((setting) => ['-c', setting]);

/** Diff options every read uses: no external diff or textconv programs, full blob ids, renames followed. */
const DIFF_OPTIONS = ['-p', '-U0', '--no-color', '--no-ext-diff', '--no-textconv', '--full-index', '-M', '--src-prefix=a/', '--dst-prefix=b/', '--no-relative'];

/** Log options `--log-opts` may carry: which commits, never how they are shown or where output goes. */
const ALLOWED_LOG_OPTION =
  /^(?:--all|--not|--first-parent|--no-merges|--ancestry-path|--(?:branches|tags|remotes)(?:=.+)?|--(?:glob|exclude|since|until|after|before|author|committer)=.+|--max-count=\d+|--skip=\d+|-n\d+|-\d+)$/;
/** A revision or range (`main..HEAD`, `v1.0^{}`, `HEAD~3`, `abc123`). */
const REVISION = /^[\w./@^~{}:+-]+$/;

/** Splits `--log-opts` into git arguments, refusing what could change the output format or write files. */
export function parseLogOptions(text: string): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const options: string[] = [];
  const revisions: string[] = [];
  const at = words.indexOf('--');
  const paths = at === -1 ? [] : words.slice(at + 1);
  for (const word of at === -1 ? words : words.slice(0, at)) {
    if (word.startsWith('-')) {
      if (!ALLOWED_LOG_OPTION.test(word)) {
        throw new UsageError(
          `--log-opts: ${word} is not allowed (revisions, ranges, --all, --branches, --since=, --until=, --author=, --max-count=, --first-parent, --no-merges, -- paths)`,
        );
      }
      options.push(word);
    } else if (REVISION.test(word)) revisions.push(word);
    else throw new UsageError(`--log-opts: ${JSON.stringify(word)} is not a revision or range`);
  }
  return [...options, '--end-of-options', ...revisions, '--', ...paths];
}

/** Log options for every commit after `rev` up to HEAD (a pull request against its base). */
export function sinceCommitOptions(rev: string): string[] {
  if (rev.startsWith('-') || !REVISION.test(rev)) throw new UsageError(`--since-commit: ${JSON.stringify(rev)} is not a revision`);
  return ['--end-of-options', `${rev}..HEAD`, '--'];
}

/**
 * Finds credentials in the lines each commit added (or the staged ones), streaming `git log -p` through
 * the same engine as files. Each blob is read once: the same file content reached again (a cherry-pick,
 * a revert, a clean merge) is skipped. Merges show only lines new to the merge itself (`--cc`), and history
 * is read oldest first so a line is credited to the commit that introduced it. A file git calls binary is
 * read whole from the object store and sniffed as `warden detect` sniffs files, so `-diff` in
 * .gitattributes cannot hide text. Git runs without a shell, without the caller's GIT_* variables, with
 * external diff, textconv, pager, fsmonitor and transports switched off.
 */
export async function findSecretsInGit(options: GitFindOptions): Promise<GitFindResult> {
  const root = await repositoryRoot(options.repo);
  const args = options.staged
    ? ['diff', '--cached', ...DIFF_OPTIONS]
    : [
        'log',
        ...DIFF_OPTIONS,
        mergeDiffOf(options.logOptions),
        '--root',
        '--reverse',
        '--topo-order',
        '--no-notes',
        '--encoding=UTF-8',
        `--format=${COMMIT_MARK}%H%x00%aI%x00%an <%ae>`,
        ...(options.logOptions ?? ['--all']),
      ];
  const result: GitFindResult = { findings: [], allowed: [], notes: [], commitsScanned: 0, blobsScanned: 0, bytesRead: 0 };
  const excludes = ignore().add(options.excludes ?? []);
  const skipped = (path: string) => excludes.ignores(path) || (options.ignoredPaths ?? []).some((r) => r.test(path));
  const maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
  const seenBlobs = new Set<string>();
  const notedSubmodules = new Set<string>();
  const parser = new DiffParser((blob) => {
    const key = Buffer.from(blob.slice(0, BLOB_KEY_CHARS), 'hex').toString('latin1');
    if (seenBlobs.has(key)) return true;
    seenBlobs.add(key);
    result.blobsScanned++;
    return false;
  });
  let commit: CommitInfo | undefined;

  const handle = async (event: DiffEvent) => {
    switch (event.kind) {
      case 'commit':
        commit = event.info;
        result.commitsScanned++;
        return;
      case 'lines': {
        if (skipped(event.path)) return;
        if (event.text.length <= maxLineChars || !hasLineLongerThan(event.text, maxLineChars)) {
          const { path, text, line, context } = event;
          scanFragment({ path, text, line, column: 0, ownedStart: context, ownedEnd: text.length }, options, result, commit);
          return;
        }
        // Read in pieces, which bring their own context: the run's own lines only.
        const lines = event.text.slice(0, event.context).split('\n').length - 1;
        for await (const fragment of fragmentsOf(Readable.from([Buffer.from(event.text.slice(event.context))]), event.path, maxLineChars)) {
          scanFragment({ ...fragment, line: fragment.line + event.line + lines - 1 }, options, result, commit);
        }
        return;
      }
      case 'binary':
        if (!skipped(event.path)) await scanBlob(root, event.blob, event.path, options, result, commit);
        return;
      case 'overlong':
        if (!skipped(event.path))
          result.notes.push({
            path: event.path,
            reason: 'limit',
            detail: `line ${event.line} is longer than ${maxDiffLine} characters: not read`,
            ...(commit ? { commit: commit.commit } : {}),
          });
        return;
      case 'submodule':
        if (notedSubmodules.has(event.path)) return;
        notedSubmodules.add(event.path);
        result.notes.push({
          path: event.path,
          reason: 'submodule',
          detail: 'a submodule is another repository: run warden detect --git in it',
          ...(commit ? { commit: commit.commit } : {}),
        });
    }
  };

  const git = spawnGit(root, args, options.staged);
  const stderr = collectStderr(git);
  const exited = exitOf(git);
  const decoder = new StringDecoder('utf8');
  const maxDiffLine = OVERLONG_FACTOR * maxLineChars;
  let pending = '';
  let discarding = false;
  for await (const chunk of git.stdout as AsyncIterable<Buffer>) {
    result.bytesRead += chunk.length;
    pending += decoder.write(chunk);
    if (discarding) {
      const nl = pending.indexOf('\n');
      discarding = nl === -1;
      pending = discarding ? '' : pending.slice(nl + 1);
    }
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n', start)) {
      if (nl - start > maxDiffLine) parser.overlong(pending.slice(start, start + 16));
      else parser.line(pending.slice(start, nl));
      start = nl + 1;
    }
    pending = pending.slice(start);
    if (pending.length > maxDiffLine) {
      // One line past any sensible size (a generated blob on one line): its rest is skipped, with a note.
      parser.overlong(pending);
      pending = '';
      discarding = true;
    }
    for (const event of parser.take()) await handle(event);
    options.onProgress?.({ commits: result.commitsScanned, bytes: result.bytesRead });
  }
  parser.line(pending + decoder.end());
  parser.end();
  for (const event of parser.take()) await handle(event);
  const code = await exited;
  if (code !== 0) {
    const message = stderr().trim().split('\n').slice(-3).join(' ');
    const badRevision = /unknown revision|bad revision|ambiguous argument|does not have any commits/i.test(message);
    const hint = badRevision ? ' (a shallow CI checkout lacks older commits: fetch them, e.g. actions/checkout with fetch-depth: 0)' : '';
    throw new GitReadError(`git ${args[0]} in ${root} failed (exit ${code}): ${message}${hint}`, badRevision ? 2 : 3);
  }
  return result;
}

/**
 * How merges are diffed: against the first parent when only first parents are walked (the merged branch's
 * commits are not read, so everything the merge brought in is new); otherwise dense combined, lines new
 * against every parent (each parent's lines were read in its own commits).
 */
function mergeDiffOf(logOptions: string[] | undefined): string {
  return logOptions?.includes('--first-parent') ? '--diff-merges=first-parent' : '--cc';
}

/** A diff line longer than this many times maxLineChars is not read (memory stays bounded); it is noted. */
const OVERLONG_FACTOR = 64;
/**
 * Added lines gather up to about this many characters before one detector pass. A run hands its last lines to
 * the next as context, but gets none from after its cut (it is scanned before they are read), so runs stay
 * longer than a file's fragments to keep cuts rare.
 */
const RUN_CHARS = 256 * 1024;
/** Prefix of the line that starts each commit in our `--format`: no diff line can begin with it. */
const COMMIT_MARK = '%x01';
/** Blob ids are remembered by their first 20 hex digits (80 bits, as 10 latin1 characters): about 50 bytes each. */
const BLOB_KEY_CHARS = 20;
const GITLINK_MODE = '160000';

type DiffEvent =
  | { kind: 'commit'; info: CommitInfo }
  /** `context`: characters at the start of `text` that the run before holds (lines read again as context). */
  | { kind: 'lines'; path: string; line: number; text: string; context: number }
  | { kind: 'binary'; path: string; blob: string }
  | { kind: 'submodule'; path: string }
  | { kind: 'overlong'; path: string; line: number };

interface FileState {
  path: string;
  blob?: string;
  skip: boolean;
  gitlink: boolean;
}

/**
 * Turns `git log -p -U0 --cc` (or `git diff --cached -p -U0`) lines into runs of consecutive added lines
 * with their line numbers in the new file. In a combined (merge) hunk a line has one column per parent and
 * counts as added only when it is new against every parent.
 */
class DiffParser {
  private events: DiffEvent[] = [];
  private file: FileState | undefined;
  private inHunk = false;
  private columns = 1;
  private nextLine = 0;
  private run: string[] = [];
  /** The first of `run`'s lines are the run before's last, carried as context: how many. */
  private runContext = 0;
  /** The new file's line number of `run`'s first line. */
  private runStart = 0;
  private runChars = 0;

  /** `seen(blob)` is true when that blob was read before (and records it otherwise). */
  constructor(private readonly seen: (blob: string) => boolean) {}

  take(): DiffEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  end(): void {
    this.endFile();
  }

  line(line: string): void {
    if (this.inHunk) {
      const c = line.charCodeAt(0);
      if (c === PLUS || c === MINUS || c === SPACE) return this.hunkLine(line);
      if (c === BACKSLASH) return; // "\ No newline at end of file"
      this.flush();
      this.inHunk = false;
    }
    if (line.charCodeAt(0) === 1) {
      this.endFile();
      const [commit = '', date = '', author = ''] = line.slice(1).split('\0');
      this.events.push({ kind: 'commit', info: { commit: detachedString(commit), author: detachedString(author), date: detachedString(date) } });
      return;
    }
    if (line.startsWith('diff --git ')) return this.startFile(detachedString(pathOfGitHeader(line.slice('diff --git '.length))));
    if (line.startsWith('diff --cc ')) return this.startFile(detachedString(unquote(line.slice('diff --cc '.length))));
    if (line.startsWith('diff --combined ')) return this.startFile(detachedString(unquote(line.slice('diff --combined '.length))));
    const file = this.file;
    if (!file) return;
    if (line.startsWith('@@')) return this.startHunk(line);
    if (line.startsWith('+++ ')) {
      const to = unquote(line.slice(4));
      if (to !== '/dev/null') file.path = detachedString(to.startsWith('b/') ? to.slice(2) : to);
    } else if (line.startsWith('rename to ')) file.path = detachedString(unquote(line.slice('rename to '.length)));
    else if (line.startsWith('copy to ')) file.path = detachedString(unquote(line.slice('copy to '.length)));
    else if (line.startsWith('new file mode ') || line.startsWith('new mode ')) file.gitlink = line.endsWith(GITLINK_MODE);
    else if (line.startsWith('index ')) this.indexLine(file, line);
    else if (line.startsWith('Binary files ') && !file.skip && file.blob) this.events.push({ kind: 'binary', path: file.path, blob: file.blob });
  }

  private indexLine(file: FileState, line: string): void {
    const match = /\.\.([0-9a-f]+)(?: (\d+))?$/.exec(line);
    if (!match) return;
    if (file.gitlink || match[2] === GITLINK_MODE) {
      file.skip = true;
      this.events.push({ kind: 'submodule', path: file.path });
      return;
    }
    const blob = detachedString(match[1]!);
    if (/^0+$/.test(blob)) return; // deleted: nothing added
    file.blob = blob;
    file.skip = this.seen(blob);
  }

  private startFile(path: string): void {
    this.endFile();
    this.file = { path, skip: false, gitlink: false };
  }

  private endFile(): void {
    this.flush();
    this.inHunk = false;
    this.file = undefined;
  }

  private startHunk(line: string): void {
    let ats = 0;
    while (line.charCodeAt(ats) === AT) ats++;
    this.columns = ats - 1;
    const match = /\+(\d+)(?:,\d+)? @@/.exec(line);
    this.nextLine = match ? Number(match[1]) : 1;
    this.inHunk = true;
  }

  /** The start of a line too long to hold: counted in the new file's numbering, reported when it was added. */
  overlong(start: string): void {
    if (!this.inHunk || !this.file || this.file.skip) return;
    const prefix = start.slice(0, this.columns);
    this.flush();
    if (prefix.includes('-')) return; // a removed line: not in the new file
    if (/^\++$/.test(prefix)) this.events.push({ kind: 'overlong', path: this.file.path, line: this.nextLine });
    this.nextLine++;
  }

  private hunkLine(line: string): void {
    if (this.file?.skip) return;
    let added = true;
    for (let i = 0; i < this.columns; i++) {
      const c = line.charCodeAt(i);
      if (c === MINUS) return this.flush(); // gone from the new file: no line number
      if (c !== PLUS) added = false;
    }
    if (!added) {
      this.flush();
      this.nextLine++;
      return;
    }
    if (this.run.length === 0) this.runStart = this.nextLine;
    this.run.push(line.slice(this.columns));
    this.runChars += line.length;
    this.nextLine++;
    if (this.runChars >= RUN_CHARS) this.flush(true);
  }

  /**
   * Hands on the run of added lines. `full`: cut for its size, in the middle of added lines, so its last lines
   * (up to CUT_CONTEXT_BYTES) start the next run as context: a match spanning lines across the cut is seen whole.
   */
  private flush(full = false): void {
    if (this.run.length > this.runContext && this.file) {
      const context = this.runContext === 0 ? 0 : this.run.slice(0, this.runContext).join('\n').length + 1;
      this.events.push({ kind: 'lines', path: this.file.path, line: this.runStart, text: this.run.join('\n') + '\n', context });
    }
    let carried = 0;
    let chars = 0;
    if (full)
      while (carried < this.run.length - this.runContext && chars + this.run[this.run.length - 1 - carried]!.length + 1 <= CUT_CONTEXT_BYTES)
        chars += this.run[this.run.length - 1 - carried++]!.length + 1;
    this.run = carried ? this.run.slice(-carried) : [];
    this.runContext = carried;
    this.runStart = this.nextLine - carried;
    this.runChars = chars;
  }
}

const PLUS = 43;
const MINUS = 45;
const SPACE = 32;
const BACKSLASH = 92;
const AT = 64;

/** `a/x b/x`, or the quoted form git uses for names with control characters, quotes or backslashes. */
function pathOfGitHeader(rest: string): string {
  if (rest.startsWith('"')) {
    const end = closingQuote(rest);
    return stripSide(unquote(rest.slice(0, end + 1)));
  }
  // Unquoted and unrenamed, both halves are the same name: split in the middle. Renames are corrected by
  // `rename to` and text files by `+++`; this is the name a binary file keeps.
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === ' ' && rest.slice(2, half) === rest.slice(half + 3)) return rest.slice(2, half);
  const at = rest.lastIndexOf(' b/');
  return at === -1 ? stripSide(rest) : rest.slice(at + 3);
}

const stripSide = (path: string) => (path.startsWith('a/') || path.startsWith('b/') ? path.slice(2) : path);

function closingQuote(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** Git's C-style quoting of a path (`"dir/tab\there"`, octal bytes for the rest); unquoted paths as they are. */
export function unquote(text: string): string {
  if (!text.startsWith('"') || !text.endsWith('"') || text.length < 2) return text;
  const bytes: number[] = [];
  const body = Buffer.from(text.slice(1, -1), 'utf8');
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 92) {
      bytes.push(body[i]!);
      continue;
    }
    const next = String.fromCharCode(body[++i]!);
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.subarray(i, i + 3).toString('latin1'), 8));
      i += 2;
    } else bytes.push(C_ESCAPES[next] ?? body[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

function hasLineLongerThan(text: string, max: number): boolean {
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    if (nl - start > max) return true;
    start = nl + 1;
  }
  return text.length - start > max;
}

/** A blob git would not diff as text: read whole, sniffed like a file (binary noted, text and gzip scanned). */
async function scanBlob(
  root: string,
  blob: string,
  path: string,
  options: GitFindOptions,
  result: GitFindResult,
  commit: CommitInfo | undefined,
): Promise<void> {
  const git = spawnGit(root, ['cat-file', 'blob', blob], false);
  const exited = exitOf(git);
  collectStderr(git);
  const read: FindResult = { findings: [], notes: [], filesScanned: 0, allowed: [] };
  await scanSource(git.stdout, path, options, read);
  const code = await exited;
  const extra = commit ? { commit: commit.commit } : {};
  if (code !== 0 && read.notes.length === 0) {
    result.notes.push({ path, reason: 'unreadable', detail: `git cat-file exit ${code}`, ...extra });
    return;
  }
  for (const note of read.notes) result.notes.push({ ...note, ...extra });
  for (const f of read.findings) result.findings.push({ ...f, ...commit });
  for (const f of read.allowed) result.allowed.push({ ...f, ...commit });
}

/** The work tree's top folder (or the git folder of a bare repository), which diff paths are relative to. */
async function repositoryRoot(path: string): Promise<string> {
  const git = spawnGit(path, ['rev-parse', '--is-bare-repository', '--absolute-git-dir'], false);
  const stderr = collectStderr(git);
  let out = '';
  for await (const chunk of git.stdout as AsyncIterable<Buffer>) out += chunk.toString('utf8');
  const code = await exitOf(git);
  if (code !== 0) throw new UsageError(`not a git repository: ${path} (${stderr().trim().split('\n').pop() ?? ''})`);
  const [bare, gitDir = path] = out.trim().split('\n');
  if (bare === 'true') return gitDir;
  const top = spawnGit(path, ['rev-parse', '--show-toplevel'], false);
  let topOut = '';
  for await (const chunk of top.stdout as AsyncIterable<Buffer>) topOut += chunk.toString('utf8');
  return (await exitOf(top)) === 0 ? topOut.trim() : path;
}

/**
 * Git without a shell, with only PATH, HOME (for the user's own safe.directory) and the locale from the
 * caller. GIT_DIR, GIT_WORK_TREE and the like would point the read elsewhere; a pre-commit hook's
 * GIT_INDEX_FILE is the one that matters, and is kept for `--staged`.
 */
function spawnGit(cwd: string, args: string[], keepIndexFile: boolean | undefined): GitProcess {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };
  for (const name of ['HOME', 'XDG_CONFIG_HOME', 'SYSTEMROOT']) if (process.env[name]) env[name] = process.env[name];
  if (keepIndexFile && process.env.GIT_INDEX_FILE) env.GIT_INDEX_FILE = resolve(process.env.GIT_INDEX_FILE);
  return spawn('git', ['--no-pager', ...SAFE_CONFIG, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
}

type GitProcess = ChildProcessByStdio<null, Readable, Readable>;

const STDERR_KEPT = 4096;

function collectStderr(child: GitProcess): () => string {
  let text = '';
  child.stderr.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-STDERR_KEPT);
  });
  return () => text;
}

function exitOf(child: GitProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new GitReadError(err.code === 'ENOENT' ? 'git is not installed (needed for --git and --staged)' : `git: ${err.message}`, 3)),
    );
    child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGPIPE' ? 0 : 128)));
  });
}
