/**
 * Lines planted on purpose (a canary key's log line) pass a scrubbed byte stream unchanged. They are named by
 * the SHA-256 of their bytes, without the line terminator, so the list holds no secret.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WardenError } from '../errors.js';

export class KeepLinesError extends WardenError {
  constructor(message: string) {
    super(message, 'KEEP_LINES_INVALID', 2);
  }
}

/** The name a planted line goes by in a keep list. */
export function plantedLineHash(line: string | Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/** A keep list: one SHA-256 (hex) a line; blank lines and `#` comments are ignored, anything else is refused. */
export function readKeepLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeepLinesError(`cannot read the keep list ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const hashes: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (!/^[0-9a-f]{64}$/i.test(line)) throw new KeepLinesError(`${path}:${i + 1}: expected the SHA-256 (hex) of a planted line`);
    hashes.push(line.toLowerCase());
  });
  return hashes;
}
