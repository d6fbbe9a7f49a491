const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE) of the UTF-8 bytes of `text`, unsigned. */
export function crc32(text: string): number {
  // Tokens are ASCII: their characters are their UTF-8 bytes, so no buffer is needed (key verification is hot).
  let crc = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return crc32Bytes(Buffer.from(text, 'utf8'));
    crc = CRC_TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}

/** CRC-32 (IEEE) of raw bytes, unsigned. */
export function crc32Bytes(bytes: Buffer): number {
  let crc = -1;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 of an unsigned integer, left-padded with '0' to `width`. */
export function base62(value: number, width: number): string {
  let out = '';
  let v = value;
  do {
    out = BASE62_ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  } while (v > 0);
  return out.padStart(width, '0');
}

/** The value of a base62 numeral (the inverse of `base62`); NaN when a character is not base62. */
export function base62Value(text: string): number {
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 90 ? c - 55 : c >= 97 && c <= 122 ? c - 61 : NaN;
    v = v * 62 + digit;
  }
  return v;
}

/** The 6-character base62 CRC32 that GitHub- and npm-style tokens append to their random part. */
export function crc32Base62(text: string, width = 6): string {
  return base62(crc32(text), width);
}
