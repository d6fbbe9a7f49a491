import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { WardenError } from '../errors.js';
import { defaultSecretPath } from '../secret-file.js';

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
  return defaultSecretPath('key-secret');
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
    writeFileSync(
      path,
      `# Warden key-hashing secret: one <version>:<base64> per line; the highest version hashes new keys. Keep it apart from the database.\n1:${key.toString('base64')}\n`,
      { mode: 0o600, flag: 'wx' },
    );
    return { current: { version: 1, key }, all: [{ version: 1, key }] };
  }
}

type Digest = 'binary' | 'hex';
type OneShotHash = (algorithm: string, data: Buffer, encoding: Digest) => string;
const oneShot = (crypto as { hash?: OneShotHash }).hash;
/**
 * SHA-256 as a string. `crypto.hash` (Node ≥ 20.12) skips the hash object createHash builds, and on
 * Node 20 its string outputs cost about half its Buffer output; older Node falls back.
 */
const sha256: (data: Buffer, encoding: Digest) => string = oneShot
  ? (data, encoding) => oneShot('sha256', data, encoding)
  : (data, encoding) => createHash('sha256').update(data).digest(encoding);

const BLOCK = 64;
const MAX_KEY_BYTES = 64;

interface Pads {
  inner: Buffer;
  outer: Buffer;
  /** Views of `inner` by key length: keys of one prefix share a length, so a view is made once. */
  innerViews: Buffer[];
}
const pads = new WeakMap<Buffer, Pads>();

function padsFor(secret: KeySecret): Pads {
  let p = pads.get(secret.key);
  if (!p) {
    const key = secret.key.length > BLOCK ? Buffer.from(sha256(secret.key, 'binary'), 'latin1') : secret.key;
    const inner = Buffer.alloc(BLOCK + MAX_KEY_BYTES, 0x36);
    const outer = Buffer.alloc(BLOCK + 32, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i]! ^= key[i]!;
      outer[i]! ^= key[i]!;
    }
    pads.set(secret.key, (p = { inner, outer, innerViews: [] }));
  }
  return p;
}

/**
 * HMAC-SHA-256 (RFC 2104) of the full key under one secret version, hex. Written out so the padded
 * secret blocks are computed once per secret instead of once per call: verification is the hot
 * path, and createHmac re-derives them every time. hmac.test.ts checks it against createHmac.
 */
export function hashKey(token: string, secret: KeySecret): string {
  const p = padsFor(secret);
  // Keys are ASCII and short; anything longer is hashed from a fresh buffer, never truncated.
  if (token.length > MAX_KEY_BYTES || !/^[\x20-\x7e]*$/.test(token)) {
    const inner = sha256(Buffer.concat([p.inner.subarray(0, BLOCK), Buffer.from(token, 'utf8')]), 'binary');
    return sha256(Buffer.concat([p.outer.subarray(0, BLOCK), Buffer.from(inner, 'latin1')]), 'hex');
  }
  const n = p.inner.write(token, BLOCK, 'latin1');
  const view = (p.innerViews[n] ??= p.inner.subarray(0, BLOCK + n));
  p.outer.write(sha256(view, 'binary'), BLOCK, 'latin1');
  return sha256(p.outer, 'hex');
}
