/**
 * warden/sources: the one way in for files. Folders walked the same way everywhere (no symbolic links
 * followed, `.git` never entered, `.gitignore` where asked) and gzip unwrapped by its magic bytes, for
 * `detect`, incident triage of dumps, and repository scanning. Live stores are read through `db/`, Redis
 * through the scanner's one RESP codec.
 */
export { walkFiles, displayPathOf, type WalkOptions, type WalkedFile } from './walk.js';
export { isGzipMagic, openMaybeGzipped } from './gzip.js';
