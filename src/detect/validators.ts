import { crc32Base62 } from './checksum.js';

/**
 * A check a rule names in `validators:`. They are code because a checksum cannot be written as a regex;
 * rules stay data by naming them. A failure means one of two things: the value is not a credential at
 * all (`drop`: an id, a digest, not a JWT), or it is one that cannot be confirmed (`low`: a checksum that
 * does not verify is still a token someone typed or truncated, so it is redacted and reported low).
 */
export interface Validator {
  test: (secret: string) => boolean;
  onFail: 'drop' | 'low';
  /** Said of a match that failed with `onFail: 'low'`. */
  failReason: string;
  /** Said of a match that passed, when passing proves the value genuine: such a match is high confidence. */
  proves?: string;
}

const CHECKSUM = { onFail: 'low', failReason: 'checksum does not verify', proves: 'checksum verifies' } as const;

export const VALIDATORS: Record<string, Validator> = {
  /** GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_): last 6 chars are base62 CRC32 of the 30 random chars. */
  'github-crc32': {
    ...CHECKSUM,
    test: (secret) => {
      const body = secret.slice(secret.indexOf('_') + 1);
      return body.length === 36 && crc32Base62(body.slice(0, 30)) === body.slice(30);
    },
  },
  /** npm tokens use GitHub's layout: npm_ + 30 random + 6 checksum. */
  'npm-crc32': {
    ...CHECKSUM,
    test: (secret) => {
      const body = secret.slice(4);
      return body.length === 36 && crc32Base62(body.slice(0, 30)) === body.slice(30);
    },
  },
  /** Warden keys (`<prefix>_<live|test>_` + 32 random + 6 checksum): the checksum is base62 CRC32 of all before it. */
  'warden-crc32': { ...CHECKSUM, test: (secret) => secret.length > 6 && crc32Base62(secret.slice(0, -6)) === secret.slice(-6) },
  /** A JWT's header must decode to JSON naming an algorithm; random dotted base64 is not a JWT. */
  jwt: {
    onFail: 'drop',
    failReason: 'header is not a JWT header',
    test: (secret) => {
      const header = secret.split('.')[0];
      if (!header) return false;
      try {
        const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
        return typeof decoded === 'object' && decoded !== null && 'alg' in decoded;
      } catch {
        return false;
      }
    },
  },
  /** Values that are only digits, UUIDs or hex digests: the ids and hashes that fill logs, not credentials. */
  'not-id-or-digest': { onFail: 'drop', failReason: 'an id or a digest', test: (secret) => !/^[0-9]+$/.test(secret) && !isUuidOrDigest(secret) },
  /** UUIDs and hex digests only: for fields where digits are a (weak) secret someone chose, not a count. */
  'not-uuid-or-digest': { onFail: 'drop', failReason: 'a UUID or a digest', test: (secret) => !isUuidOrDigest(secret) },
  /** Registry `auth` values (Docker's config.json, npm's `_auth`): base64 of `user:password`. */
  'base64-user-password': {
    onFail: 'low',
    failReason: 'does not decode to user:password',
    proves: 'decodes to user:password',
    test: (secret) =>
      /^[A-Za-z0-9+/]{4,}={0,2}$/.test(secret) && /^[\x21-\x39\x3b-\x7e]{1,256}:[\x20-\x7e]{1,1024}$/.test(Buffer.from(secret, 'base64').toString('latin1')),
  },
  /** Generated secrets mix at least two of lower, upper, digit; a value of one class is a weak one. */
  'mixed-classes': {
    onFail: 'low',
    failReason: 'one character class only',
    test: (secret) => {
      let classes = 0;
      if (/[a-z]/.test(secret)) classes++;
      if (/[A-Z]/.test(secret)) classes++;
      if (/[0-9]/.test(secret)) classes++;
      return classes >= 2;
    },
  },
};

function isUuidOrDigest(secret: string): boolean {
  return (
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(secret) ||
    /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$/i.test(secret)
  );
}
