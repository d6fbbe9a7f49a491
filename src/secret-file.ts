/**
 * Files that hold a secret Warden hands an operator or keeps for itself (the first-start admin key of
 * `warden serve`, an ingest token): written with mode 0600 and never through a link, and read only when no
 * one else may read or change them. A secret kept this way stays out of logs: under systemd, Docker and
 * Kubernetes stderr is a persisted log, and `docker run -t` records even a terminal.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { WardenError } from './errors.js';

export class SecretFileError extends WardenError {
  constructor(message: string, exitCode: 2 | 3 = 2) {
    super(message, 'SECRET_FILE', exitCode);
  }
}

/** `$XDG_CONFIG_HOME/warden/<name>`, by default `~/.config/warden/<name>`. */
export function defaultSecretPath(name: string): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'warden', name);
}

/**
 * Writes `text` to `path` with mode 0600, whole or not at all: a new file beside it, created exclusively
 * (so nothing planted there, a link included, is followed), is synced and then renamed over `path`.
 * A missing folder is created with mode 0700. Throws SecretFileError naming the path, never the text.
 */
export function writeSecretFile(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  let created = false;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    created = true;
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (created) unlinkSync(temp);
    throw new SecretFileError(`cannot write the secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 3);
  }
}

/**
 * The text of a secret file. Refuses a link (O_NOFOLLOW), anything but a regular file (O_NONBLOCK keeps a FIFO
 * from blocking the open), and a file that group or others may read or write: a secret others can read is
 * not one. Errors from the file system (ENOENT, EACCES) come through as they are.
 */
export async function readSecretFile(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new SecretFileError(`${path} is a symbolic link; a secret is not read through one`);
    throw err;
  }
  try {
    const stat = await file.stat();
    if (!stat.isFile()) throw new SecretFileError(`${path} is not a regular file`);
    if (stat.mode & 0o077) throw new SecretFileError(`${path} is open to group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}
