import { crc32Base62 } from './checksum.js';

/**
 * Rule samples are written as templates so that no real-looking credential sits in the repository:
 * `{alnum:32}` expands to 32 random characters of that set, `{crc32b62:6}` to the base62 CRC32 of the
 * random characters generated so far in the sample (GitHub/npm token layout), `{crc32b62-text:6}` to
 * the base62 CRC32 of all sample text before it, `{crc32b62-word:6}` to the base62 CRC32 of the word it
 * ends (text since the last character outside `[A-Za-z0-9_]`: the Warden key layout). Expansion is
 * seeded, so every run sees the same text.
 */
export const CHARSETS: Record<string, string> = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  alnum_: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_',
  'alnum_-': 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-',
  alpha: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digit: '0123456789',
  hex: '0123456789abcdef',
  HEX: '0123456789ABCDEF',
  lowernum: 'abcdefghijklmnopqrstuvwxyz0123456789',
  uppernum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  base32: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
  base64: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
};

const TOKEN = /\{([A-Za-z0-9_-]+):(\d+)\}/g;

/** Deterministic PRNG (mulberry32) so generated samples are stable across runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function expandSample(template: string, seed = hashSeed(template)): string {
  const rand = seededRandom(seed);
  let generated = '';
  let out = '';
  let last = 0;
  for (const m of template.matchAll(TOKEN)) {
    out += template.slice(last, m.index);
    last = m.index + m[0].length;
    const [, name = '', countText = '0'] = m;
    const count = Number(countText);
    if (name === 'crc32b62') {
      out += crc32Base62(generated, count);
      continue;
    }
    if (name === 'crc32b62-text') {
      out += crc32Base62(out, count);
      continue;
    }
    if (name === 'crc32b62-word') {
      out += crc32Base62(/[A-Za-z0-9_]*$/.exec(out)![0], count);
      continue;
    }
    const charset = CHARSETS[name];
    if (!charset) throw new Error(`unknown sample token {${name}:${count}} in ${JSON.stringify(template)}`);
    let piece = '';
    for (let i = 0; i < count; i++) piece += charset[Math.floor(rand() * charset.length)];
    generated += piece;
    out += piece;
  }
  return out + template.slice(last);
}
