import { randomBytes } from 'node:crypto';
import { base62, base62Value, crc32, crc32Base62, getDefaultDetector, type Detector } from '../detect/index.js';

export type KeyEnvironment = 'live' | 'test';
export const KEY_ENVIRONMENTS: readonly KeyEnvironment[] = ['live', 'test'];
export const DEFAULT_KEY_PREFIX = 'wdn';

/** 32 base62 characters: 32 × log2(62) ≈ 190 bits from the OS CSPRNG (the issue asks for ≥ 160). */
export const KEY_RANDOM_LENGTH = 32;
/** CRC32 in base62 fits in 6 characters (62^6 > 2^32). */
export const KEY_CHECKSUM_LENGTH = 6;

const PREFIX = /^[a-z][a-z0-9]{1,11}$/;
const SHAPE = new RegExp(`^([a-z][a-z0-9]{1,11})_(live|test)_[A-Za-z0-9]{${KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH}}$`);

export function isValidPrefix(prefix: string): boolean {
  return PREFIX.test(prefix);
}

/** Unbiased base62: bytes of 248 and above (62 × 4) are discarded rather than folded. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= 248) continue;
      out += base62(b % 62, 1);
      if (out.length === length) break;
    }
  }
  return out;
}

/** `<prefix>_<env>_<random><checksum>`, the checksum being base62 CRC32 of everything before it. */
export function generateKey(prefix = DEFAULT_KEY_PREFIX, env: KeyEnvironment = 'live'): string {
  if (!isValidPrefix(prefix)) throw new Error(`key prefix must be 2-12 lowercase letters or digits, starting with a letter: ${JSON.stringify(prefix)}`);
  const body = `${prefix}_${env}_${randomBase62(KEY_RANDOM_LENGTH)}`;
  return body + crc32Base62(body, KEY_CHECKSUM_LENGTH);
}

/**
 * The offline check any scanner can make: right shape and a matching checksum. A key failing it is
 * refused before any hashing or lookup.
 */
export function parseKey(token: string): { prefix: string; env: KeyEnvironment } | null {
  if (token.length > 64) return null;
  const m = SHAPE.exec(token);
  if (!m) return null;
  const cut = token.length - KEY_CHECKSUM_LENGTH;
  // Compared as numbers: fixed-width base62 is one-to-one, and no checksum string is built per call.
  if (crc32(token.slice(0, cut)) !== base62Value(token.slice(cut))) return null;
  return { prefix: m[1]!, env: m[2] as KeyEnvironment };
}

/** Short opaque id that names a key in lists, logs and audit entries without revealing it. */
export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

/**
 * The Warden keys in a text that can belong to a key store, distinct, in the order found: only a key whose
 * checksum verifies can be one of ours (the others are still reported by detect and redacted by scrub).
 */
export function wardenKeysIn(text: string, detector: Detector = getDefaultDetector()): string[] {
  return [
    ...new Set(
      detector
        .scan(text)
        .filter((m) => m.ruleId === 'warden-api-key' && m.confidence === 'high')
        .map((m) => m.secret),
    ),
  ];
}
