import { crc32Base62 } from './checksum.js';

/**
 * Validators a rule names in `validators:`. Each answers whether a candidate secret is genuine.
 * They are code because a checksum cannot be written as a regex; rules stay data by naming them.
 */
export const VALIDATORS: Record<string, (secret: string) => boolean> = {
  /** GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_): last 6 chars are base62 CRC32 of the 30 random chars. */
  'github-crc32': (secret) => {
    const body = secret.slice(secret.indexOf('_') + 1);
    if (body.length !== 36) return false;
    return crc32Base62(body.slice(0, 30)) === body.slice(30);
  },
  /** npm tokens use GitHub's layout: npm_ + 30 random + 6 checksum. */
  'npm-crc32': (secret) => {
    const body = secret.slice(4);
    return body.length === 36 && crc32Base62(body.slice(0, 30)) === body.slice(30);
  },
  /** Warden keys (`<prefix>_<live|test>_` + 32 random + 6 checksum): the checksum is base62 CRC32 of all before it. */
  'warden-crc32': (secret) => secret.length > 6 && crc32Base62(secret.slice(0, -6)) === secret.slice(-6),
  /** A JWT's header must decode to JSON naming an algorithm; random dotted base64 is not a JWT. */
  jwt: (secret) => {
    const header = secret.split('.')[0];
    if (!header) return false;
    try {
      const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
      return typeof decoded === 'object' && decoded !== null && 'alg' in decoded;
    } catch {
      return false;
    }
  },
  /** Rejects values that are only digits, UUIDs or hex digests: the ids and hashes that fill logs. */
  'not-id-or-digest': (secret) =>
    !/^[0-9]+$/.test(secret) &&
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(secret) &&
    !/^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$/i.test(secret),
  /** Mixed character classes: real generated secrets mix at least two of lower, upper, digit. */
  'mixed-classes': (secret) => {
    let classes = 0;
    if (/[a-z]/.test(secret)) classes++;
    if (/[A-Z]/.test(secret)) classes++;
    if (/[0-9]/.test(secret)) classes++;
    return classes >= 2;
  },
};
