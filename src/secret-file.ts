/**
 * A secret Warden hands an operator once (the first-start admin key of `warden serve`, an ingest token)
 * goes to a file only its owner can read, never to stderr: under systemd, Docker and Kubernetes stderr
 * is a persisted log, and `docker run -t` records even a terminal.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { WardenError } from './errors.js';

export class SecretFileError extends WardenError {
  constructor(path: string, cause: string) {
    super(`cannot write the secret file ${path}: ${cause}`, 'SECRET_FILE_UNWRITABLE', 3);
  }
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
    throw new SecretFileError(path, (err as NodeJS.ErrnoException).code ?? String(err));
  }
}
