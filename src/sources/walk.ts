import { opendir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';

export interface WalkOptions {
  /** Gitignore-syntax patterns, matched relative to each folder given (and against a named file's display path). */
  excludes?: string[];
  /** Path regexes from rule-file allowlists, matched against display paths. */
  ignoredPaths?: RegExp[];
  /** Honour `.gitignore` files inside the folders walked (default true). */
  gitignore?: boolean;
  /** Display paths are relative to this folder when inside it (default: process.cwd()). */
  cwd?: string;
}

export interface WalkedFile {
  absolutePath: string;
  displayPath: string;
}

interface Scope {
  dir: string;
  rules: Ignore;
}

/** Forward-slash path relative to `cwd` when inside it, else absolute: stable across `.` and `./src` runs. */
export function displayPathOf(absolutePath: string, cwd: string): string {
  const rel = relative(cwd, absolutePath);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return absolutePath.split(sep).join('/');
  return rel.split(sep).join('/');
}

/**
 * Yields the files under each folder (and each named file) that are neither gitignored, excluded nor
 * allowlisted. Symbolic links inside folders are not followed (no loops, no escaping the tree); `.git`
 * is never entered.
 */
export async function* walkFiles(paths: string[], options: WalkOptions = {}): AsyncGenerator<WalkedFile> {
  const cwd = options.cwd ?? process.cwd();
  const excludes = ignore().add(options.excludes ?? []);
  const ignoredPaths = options.ignoredPaths ?? [];
  const allowlisted = (display: string) => ignoredPaths.some((r) => r.test(display));
  for (const given of paths) {
    const absolute = resolve(cwd, given);
    const isDirectory = (await stat(absolute).catch(() => undefined))?.isDirectory() ?? false;
    if (!isDirectory) {
      const displayPath = displayPathOf(absolute, cwd);
      if (!excludes.ignores(displayPath.replace(/^\/+/, '')) && !allowlisted(displayPath)) yield { absolutePath: absolute, displayPath };
      continue;
    }
    yield* walkDirectory(absolute, absolute, [], { cwd, excludes, allowlisted, gitignore: options.gitignore ?? true });
  }
}

interface DirectoryContext {
  cwd: string;
  excludes: Ignore;
  allowlisted: (display: string) => boolean;
  gitignore: boolean;
}

async function* walkDirectory(root: string, dir: string, parentScopes: Scope[], ctx: DirectoryContext): AsyncGenerator<WalkedFile> {
  const scopes = ctx.gitignore ? await withGitignore(dir, parentScopes) : parentScopes;
  const entries: Array<{ name: string; directory: boolean }> = [];
  for await (const entry of await opendir(dir)) {
    if (entry.isDirectory()) entries.push({ name: entry.name, directory: true });
    else if (entry.isFile()) entries.push({ name: entry.name, directory: false });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, directory } of entries) {
    if (directory && name === '.git') continue;
    const absolutePath = join(dir, name);
    const fromRoot = relative(root, absolutePath).split(sep).join('/') + (directory ? '/' : '');
    if (ctx.excludes.ignores(fromRoot) || gitignored(scopes, absolutePath, directory)) continue;
    const displayPath = displayPathOf(absolutePath, ctx.cwd);
    if (ctx.allowlisted(directory ? displayPath + '/' : displayPath)) continue;
    if (directory) yield* walkDirectory(root, absolutePath, scopes, ctx);
    else yield { absolutePath, displayPath };
  }
}

async function withGitignore(dir: string, scopes: Scope[]): Promise<Scope[]> {
  let text: string;
  try {
    text = await readFile(join(dir, '.gitignore'), 'utf8');
  } catch {
    return scopes;
  }
  return [...scopes, { dir, rules: ignore().add(text) }];
}

/** Outer .gitignore files first, so an inner `!pattern` can re-include what an outer one ignored. */
function gitignored(scopes: Scope[], absolutePath: string, directory: boolean): boolean {
  let ignored = false;
  for (const scope of scopes) {
    const rel = relative(scope.dir, absolutePath).split(sep).join('/') + (directory ? '/' : '');
    const verdict = scope.rules.test(rel);
    if (verdict.ignored) ignored = true;
    else if (verdict.unignored) ignored = false;
  }
  return ignored;
}
