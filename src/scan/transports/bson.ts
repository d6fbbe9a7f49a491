/**
 * The small part of BSON (https://bsonspec.org/spec.html) the MongoDB probe needs: encoding command
 * documents and decoding replies. Every read is bounds-checked, so a hostile reply becomes a
 * BsonError, never an out-of-range read or a huge allocation.
 */
export type BsonValue = string | number | bigint | boolean | null | BsonValue[] | BsonDocument | Date | { binary: number };
export interface BsonDocument {
  [key: string]: BsonValue;
}

export class BsonError extends Error {}

function cstring(s: string): Buffer {
  if (s.includes('\0')) throw new BsonError('key holds a NUL byte');
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function element(key: string, value: BsonValue): Buffer {
  const name = cstring(key);
  const typed = (type: number, payload: Buffer) => Buffer.concat([Buffer.from([type]), name, payload]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    const len = Buffer.alloc(4);
    len.writeInt32LE(bytes.length + 1);
    return typed(0x02, Buffer.concat([len, bytes, Buffer.from([0])]));
  }
  if (typeof value === 'boolean') return typed(0x08, Buffer.from([value ? 1 : 0]));
  if (value === null) return typed(0x0a, Buffer.alloc(0));
  if (typeof value === 'bigint') {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(value);
    return typed(0x12, b);
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value);
      return typed(0x10, b);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    return typed(0x01, b);
  }
  if (value instanceof Date) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(value.getTime()));
    return typed(0x09, b);
  }
  if (Array.isArray(value)) return typed(0x04, encodeBson(Object.fromEntries(value.map((v, i) => [String(i), v]))));
  if ('binary' in value && typeof value.binary === 'number') throw new BsonError('binary values are decode-only');
  return typed(0x03, encodeBson(value as BsonDocument));
}

export function encodeBson(doc: BsonDocument): Buffer {
  const body = Buffer.concat(Object.entries(doc).map(([k, v]) => element(k, v)));
  const out = Buffer.alloc(body.length + 5);
  out.writeInt32LE(out.length);
  body.copy(out, 4);
  return out;
}

/** Decodes the document at `offset`; returns it with the number of bytes it used. */
export function decodeBson(buf: Buffer, offset = 0, depth = 0): { doc: BsonDocument; length: number } {
  if (depth > 32) throw new BsonError('document nested too deeply');
  if (offset + 5 > buf.length) throw new BsonError('truncated document');
  const length = buf.readInt32LE(offset);
  const end = offset + length;
  if (length < 5 || end > buf.length || buf[end - 1] !== 0) throw new BsonError('bad document length');
  const doc: BsonDocument = {};
  let pos = offset + 4;
  const need = (n: number) => {
    if (n < 0 || pos + n > end - 1) throw new BsonError('element runs past its document');
  };
  while (pos < end - 1) {
    const type = buf[pos++]!;
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul >= end) throw new BsonError('unterminated key');
    const key = buf.toString('utf8', pos, nul);
    pos = nul + 1;
    switch (type) {
      case 0x01:
        need(8);
        doc[key] = buf.readDoubleLE(pos);
        pos += 8;
        break;
      case 0x02:
      case 0x0d:
      case 0x0e: {
        need(4);
        const n = buf.readInt32LE(pos);
        pos += 4;
        need(n);
        if (n < 1) throw new BsonError('bad string length');
        doc[key] = buf.toString('utf8', pos, pos + n - 1);
        pos += n;
        break;
      }
      case 0x03:
      case 0x04: {
        const inner = decodeBson(buf.subarray(0, end), pos, depth + 1);
        doc[key] = type === 0x04 ? Object.values(inner.doc) : inner.doc;
        pos += inner.length;
        break;
      }
      case 0x05: {
        need(5);
        const n = buf.readInt32LE(pos);
        need(5 + n);
        // Binary payloads are never needed as values; keep only their size.
        doc[key] = { binary: n };
        pos += 5 + n;
        break;
      }
      case 0x06:
      case 0x0a:
      case 0x7f:
      case 0xff:
        doc[key] = null;
        break;
      case 0x07:
        need(12);
        doc[key] = buf.toString('hex', pos, pos + 12);
        pos += 12;
        break;
      case 0x08:
        need(1);
        doc[key] = buf[pos++] !== 0;
        break;
      case 0x09:
        need(8);
        doc[key] = new Date(Number(buf.readBigInt64LE(pos)));
        pos += 8;
        break;
      case 0x10:
        need(4);
        doc[key] = buf.readInt32LE(pos);
        pos += 4;
        break;
      case 0x11:
      case 0x12: {
        need(8);
        const n = buf.readBigInt64LE(pos);
        doc[key] = n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
        pos += 8;
        break;
      }
      case 0x13:
        need(16);
        doc[key] = buf.toString('hex', pos, pos + 16);
        pos += 16;
        break;
      default:
        throw new BsonError(`unsupported BSON type 0x${type.toString(16)}`);
    }
  }
  return { doc, length };
}
