import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { WardenError } from '../errors.js';

/** One version of the server secret that keys are hashed with. */
export interface KeySecret {
  version: number;
  key: Buffer;
}

/** The server secrets, newest first: keys are hashed with the newest, and found under any. */
export interface KeySecrets {
  current: KeySecret;
  all: readonly KeySecret[];
}

export class KeySecretError extends WardenError {
  constructor(message: string) {
    super(message, 'KEY_SECRET_INVALID', 2);
  }
}

export function defaultKeySecretPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'warden', 'key-secret');
}

/** Lines or comma-separated entries of `<version>:<secret>`; a bare value is version 1. */
export function parseKeySecrets(text: string, source: string, decode: (s: string) => Buffer): KeySecrets {
  const entries = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'));
  const all = entries.map((entry): KeySecret => {
    const m = /^(\d{1,6}):(.+)$/.exec(entry);
    const key = decode(m ? m[2]! : entry);
    if (key.length < 16) throw new KeySecretError(`${source}: each secret must hold at least 16 bytes`);
    return { version: m ? Number(m[1]) : 1, key };
  });
  if (all.length === 0) throw new KeySecretError(`${source}: no secret found`);
  if (new Set(all.map((s) => s.version)).size !== all.length) throw new KeySecretError(`${source}: a secret version appears twice`);
  all.sort((a, b) => b.version - a.version);
  return { current: all[0]!, all };
}

/**
 * WARDEN_KEY_SECRET (UTF-8 text, e.g. from a secret manager), else a file of base64 secrets
 * created with mode 0600 on first use. A database stolen without this secret cannot confirm a guess.
 */
export function loadKeySecrets(path = defaultKeySecretPath()): KeySecrets {
  const fromEnv = process.env.WARDEN_KEY_SECRET;
  if (fromEnv) return parseKeySecrets(fromEnv, 'WARDEN_KEY_SECRET', (s) => Buffer.from(s, 'utf8'));
  try {
    return parseKeySecrets(readFileSync(path, 'utf8'), path, (s) => Buffer.from(s, 'base64'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    writeFileSync(path, `# Warden key-hashing secret: one <version>:<base64> per line; the highest version hashes new keys. Keep it apart from the database.\n1:${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { current: { version: 1, key }, all: [{ version: 1, key }] };
  }
}

/** HMAC-SHA-256 of the full key under one secret version, hex. */
export function hashKey(token: string, secret: KeySecret): string {
  return createHmac('sha256', secret.key).update(token).digest('hex');
}
