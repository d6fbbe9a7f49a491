import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultSecretPath } from '../secret-file.js';

/**
 * A keyed fingerprint lets one leaked secret be followed across lines, files and days without
 * revealing it; unlike a plain hash it cannot be brute-forced without the key.
 */
export function fingerprintSecret(ruleId: string, secret: string, key: Buffer | string): string {
  return createHmac('sha256', key).update(ruleId).update('\0').update(secret).digest('hex').slice(0, 16);
}

export function defaultFingerprintKeyPath(): string {
  return defaultSecretPath('fingerprint.key');
}

/** The key from WARDEN_FINGERPRINT_KEY, else a key file (created with mode 0600 on first use). */
export function loadFingerprintKey(path = defaultFingerprintKeyPath()): Buffer {
  const fromEnv = process.env.WARDEN_FINGERPRINT_KEY;
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = randomBytes(32);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  }
}
