/** warden/detect/files: the finder behind `warden detect`: sources (files, folders, stdin, gzip dumps, archives, git history) to findings. */
export { findSecretsInPaths, findSecretsInStream, STDIN_PATH, type FindOptions, type FindResult } from './finder.js';
export { readBaseline, writeBaseline, newFindings, BaselineError, type BaselineEntry, type BaselineFile } from './baseline.js';
export { walkFiles, displayPathOf, type WalkOptions, type WalkedFile } from '../../sources/index.js';
export { readSource, DEFAULT_MAX_LINE_CHARS, type ReadOptions } from './fragments.js';
export {
  findSecretsInGit,
  parseLogOptions,
  sinceCommitOptions,
  GitReadError,
  type CommitInfo,
  type GitFinding,
  type GitNote,
  type GitFindOptions,
  type GitFindResult,
  type GitProgress,
} from './git.js';
export { isArchivePath, DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from './archive.js';
export { SKIP_REASONS, type FileFinding, type Fragment, type SkipReason, type SourceNote } from './types.js';
