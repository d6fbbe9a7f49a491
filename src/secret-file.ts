/**
 * Files that hold a secret (a token, a key): created with mode 0600 and never through a link, and read only
 * when no one else may read or change them. A secret kept this way stays out of logs: stderr is what systemd,
 * Docker and Kubernetes keep.
 */
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { WardenError } from './errors.js';

export class SecretFileError extends WardenError {
  constructor(message: string) {
    super(message, 'SECRET_FILE', 2);
  }
}

/** `$XDG_CONFIG_HOME/warden/<name>`, by default `~/.config/warden/<name>`. */
export function defaultSecretPath(name: string): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'warden', name);
}

/**
 * Creates `path` holding `secret` with mode 0600 (and its folder with 0700 if missing). O_EXCL: when anything
 * is at `path` already, a file or a link (even a dangling one), this fails with EEXIST rather than overwriting
 * it or writing where the link points.
 */
export async function writeSecretFile(path: string, secret: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await file.writeFile(secret);
    await file.datasync();
  } finally {
    await file.close();
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
