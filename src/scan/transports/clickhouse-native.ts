/**
 * The first exchange of ClickHouse's native TCP protocol (9000): the client Hello and the server's
 * answer, which is either its own Hello (the login was accepted) or an Exception (e.g. auth failed).
 * Field order follows the documented protocol; fields after the revision are read only when both
 * sides' revisions carry them, and never required, so the check does not depend on the timezone.
 */

/** Revision we announce: new enough for timezone/display name, old enough to need no addendum. */
export const CLIENT_REVISION = 54401;
const REVISION_WITH_TIMEZONE = 54058;
const REVISION_WITH_DISPLAY_NAME = 54372;
const REVISION_WITH_VERSION_PATCH = 54401;
/** Strings in a Hello or Exception are short; anything longer is not ClickHouse. */
const MAX_STRING = 64 * 1024;

const PACKET_HELLO = 0;
const PACKET_EXCEPTION = 2;

function varUInt(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([varUInt(b.length), b]);
}

export function encodeHello(user: string, password: string, clientName = 'warden-scan'): Buffer {
  return Buffer.concat([varUInt(0), str(clientName), varUInt(1), varUInt(0), varUInt(CLIENT_REVISION), str(''), str(user), str(password)]);
}

export type ServerPacket =
  | { kind: 'hello'; name: string; major: number; minor: number; revision: number; timezone?: string; displayName?: string; patch?: number }
  | { kind: 'exception'; code: number; name: string; message: string };

/** Thrown internally when the buffer ends early; caught by the parser. */
class Incomplete {}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}
  varUInt(): number {
    let result = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      if (this.offset >= this.buf.length) throw new Incomplete();
      const b = this.buf[this.offset++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
    }
    throw new Error('varint too long');
  }
  string(): string {
    const len = this.varUInt();
    if (len > MAX_STRING) throw new Error('string too long');
    if (this.offset + len > this.buf.length) throw new Incomplete();
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }
  int32(): number {
    if (this.offset + 4 > this.buf.length) throw new Incomplete();
    const v = this.buf.readInt32LE(this.offset);
    this.offset += 4;
    return v;
  }
}

/**
 * Parses the server's first packet. Returns `incomplete` while more bytes are needed, `invalid` for
 * anything that is not a ClickHouse Hello or Exception, and the packet with the bytes it used.
 */
export function parseServerPacket(buf: Buffer): { state: 'incomplete' } | { state: 'invalid' } | { state: 'ok'; packet: ServerPacket; length: number } {
  const r = new Reader(buf);
  try {
    const type = r.varUInt();
    if (type === PACKET_HELLO) {
      const name = r.string();
      if (!/clickhouse/i.test(name)) return { state: 'invalid' };
      const major = r.varUInt();
      const minor = r.varUInt();
      const revision = r.varUInt();
      const packet: ServerPacket = { kind: 'hello', name, major, minor, revision };
      const length = r.offset;
      // Optional tail: read what has arrived, never wait for it.
      const shared = Math.min(revision, CLIENT_REVISION);
      try {
        if (shared >= REVISION_WITH_TIMEZONE) packet.timezone = r.string();
        if (shared >= REVISION_WITH_DISPLAY_NAME) packet.displayName = r.string();
        if (shared >= REVISION_WITH_VERSION_PATCH) packet.patch = r.varUInt();
      } catch {
        // a short or odd tail leaves the optional fields unset
      }
      return { state: 'ok', packet, length: Math.max(length, r.offset) };
    }
    if (type === PACKET_EXCEPTION) {
      const code = r.int32();
      const name = r.string();
      const message = r.string();
      if (!/^DB::|Exception/.test(name) && !/^Code: \d+/.test(message)) return { state: 'invalid' };
      return { state: 'ok', packet: { kind: 'exception', code, name, message }, length: r.offset };
    }
    return { state: 'invalid' };
  } catch (err) {
    return err instanceof Incomplete ? { state: 'incomplete' } : { state: 'invalid' };
  }
}

/** Auth failures across versions: 192 unknown user, 193 wrong password, 194 password required (18.x), 516 (20.x+). */
export const CLICKHOUSE_AUTH_CODES = new Set([192, 193, 194, 195, 516]);
