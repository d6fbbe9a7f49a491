/** Redis's RESP2 wire format: commands as arrays of bulk strings, and a bounded parser for replies. */

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

export function encodeCommand(args: Array<string | number>): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const s = String(a);
    parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
  }
  return Buffer.from(parts.join(''));
}

const MAX_ELEMENTS = 100_000;

/** Parses one reply; `incomplete` while bytes are missing, `invalid` when the bytes are not RESP. */
export function parseReply(buf: Buffer, start = 0, depth = 0): { state: 'incomplete' } | { state: 'invalid' } | { state: 'ok'; value: RespValue; end: number } {
  if (start >= buf.length) return { state: 'incomplete' };
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return buf.length - start > 1024 ? { state: 'invalid' } : { state: 'incomplete' };
  const type = String.fromCharCode(buf[start]!);
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { state: 'ok', value: line, end: next };
    case '-':
      return { state: 'ok', value: new RespError(line), end: next };
    case ':':
      return /^-?\d+$/.test(line) ? { state: 'ok', value: Number(line), end: next } : { state: 'invalid' };
    case '$': {
      if (!/^-?\d+$/.test(line)) return { state: 'invalid' };
      const len = Number(line);
      if (len < 0) return { state: 'ok', value: null, end: next };
      if (buf.length < next + len + 2) return { state: 'incomplete' };
      return { state: 'ok', value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      if (!/^-?\d+$/.test(line) || depth > 4) return { state: 'invalid' };
      const count = Number(line);
      if (count < 0) return { state: 'ok', value: null, end: next };
      if (count > MAX_ELEMENTS) return { state: 'invalid' };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at, depth + 1);
        if (item.state !== 'ok') return item;
        items.push(item.value);
        at = item.end;
      }
      return { state: 'ok', value: items, end: at };
    }
    default:
      return { state: 'invalid' };
  }
}

/** Frame check for TcpConnection.read: a whole reply, or everything buffered when it is not RESP. */
export const respFrame = (b: Buffer): number => {
  const r = parseReply(b);
  return r.state === 'incomplete' ? 0 : r.state === 'ok' ? r.end : b.length;
};
