/**
 * The slice of AMQP 0-9-1 a scanner needs: the protocol header, frames, field tables, and the Connection.Start /
 * Start-Ok / Tune / Close methods (AMQP 0-9-1 specification, sections 2.3 and 4.2). Parsing never throws: a
 * malformed frame yields undefined.
 */
import type { FrameCheck } from './tcp.js';

export const AMQP_091_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]);
const FRAME_METHOD = 1;
const FRAME_END = 0xce;
export const CONNECTION_CLASS = 10;
export const CONNECTION_METHOD = { start: 10, startOk: 11, tune: 30, tuneOk: 31, open: 40, openOk: 41, close: 50 } as const;

export interface AmqpMethod {
  classId: number;
  methodId: number;
  args: Buffer;
}

/** Complete at the end of one frame (7-byte header, payload, 0xCE), or at once for a bare protocol header (the server's "wrong version" answer). */
export const amqpFrame: FrameCheck = (b) => {
  if (b.length >= 8 && b.subarray(0, 4).toString('latin1') === 'AMQP') return 8;
  if (b.length < 7) return 0;
  const size = b.readUInt32BE(3);
  return b.length >= size + 8 ? size + 8 : 0;
};

export function parseMethodFrame(frame: Buffer): AmqpMethod | undefined {
  if (frame.length < 12 || frame[0] !== FRAME_METHOD || frame[frame.length - 1] !== FRAME_END) return undefined;
  const size = frame.readUInt32BE(3);
  if (size + 8 !== frame.length || size < 4) return undefined;
  return { classId: frame.readUInt16BE(7), methodId: frame.readUInt16BE(9), args: frame.subarray(11, 7 + size) };
}

type TableValue = string | number | boolean | Record<string, unknown> | undefined;

/** Reads a field table at `offset`; string, boolean, integer and nested-table values are kept, the rest skipped. */
export function readTable(buf: Buffer, offset: number): { table: Record<string, TableValue>; next: number } | undefined {
  if (offset + 4 > buf.length) return undefined;
  const end = offset + 4 + buf.readUInt32BE(offset);
  if (end > buf.length) return undefined;
  const table: Record<string, TableValue> = {};
  let at = offset + 4;
  while (at < end) {
    const nameLength = buf[at]!;
    const name = buf.toString('utf8', at + 1, at + 1 + nameLength);
    at += 1 + nameLength;
    if (at >= end) return undefined;
    const type = String.fromCharCode(buf[at]!);
    at += 1;
    const fixed: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, f: 4, l: 8, L: 8, d: 8, T: 8, D: 5, V: 0 };
    if (type === 'S' || type === 'x' || type === 'A') {
      if (at + 4 > end) return undefined;
      const length = buf.readUInt32BE(at);
      if (at + 4 + length > end) return undefined;
      if (type === 'S') table[name] = buf.toString('utf8', at + 4, at + 4 + length);
      at += 4 + length;
    } else if (type === 'F') {
      const nested = readTable(buf, at);
      if (!nested || nested.next > end) return undefined;
      table[name] = nested.table;
      at = nested.next;
    } else if (fixed[type] !== undefined) {
      if (at + fixed[type]! > end) return undefined;
      if (type === 't') table[name] = buf[at] !== 0;
      else if (type === 'I') table[name] = buf.readInt32BE(at);
      at += fixed[type]!;
    } else return undefined;
  }
  return { table, next: end };
}

export interface ConnectionStart {
  version: string;
  serverProperties: Record<string, TableValue>;
  mechanisms: string[];
}

export function parseConnectionStart(method: AmqpMethod): ConnectionStart | undefined {
  if (method.classId !== CONNECTION_CLASS || method.methodId !== CONNECTION_METHOD.start || method.args.length < 2) return undefined;
  const props = readTable(method.args, 2);
  if (!props || props.next + 4 > method.args.length) return undefined;
  const mechLength = method.args.readUInt32BE(props.next);
  if (props.next + 4 + mechLength > method.args.length) return undefined;
  const mechanisms = method.args
    .toString('latin1', props.next + 4, props.next + 4 + mechLength)
    .split(' ')
    .filter(Boolean);
  return { version: `${method.args[0]}-${method.args[1]}`, serverProperties: props.table, mechanisms };
}

function shortString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function longString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}

function table(entries: Array<[string, Buffer]>): Buffer {
  return longString(Buffer.concat(entries.map(([name, value]) => Buffer.concat([shortString(name), value]))));
}

/** Connection.Start-Ok with the given SASL mechanism and response; asks for a Connection.Close on auth failure. */
export function connectionStartOk(mechanism: string, response: Buffer): Buffer {
  const capabilities = table([['authentication_failure_close', Buffer.from([0x74, 0x01])]]);
  const clientProperties = table([
    ['product', Buffer.concat([Buffer.from('S'), longString(Buffer.from('warden-scan'))])],
    ['capabilities', Buffer.concat([Buffer.from('F'), capabilities])],
  ]);
  return connectionMethod(CONNECTION_METHOD.startOk, Buffer.concat([clientProperties, shortString(mechanism), longString(response), shortString('en_US')]));
}

/** Connection.Tune-Ok (no channels beyond 0 needed, 128 KiB frames, no heartbeat), then Connection.Open of `vhost`. */
export function connectionTuneOkAndOpen(vhost: string): Buffer {
  const tune = Buffer.alloc(8);
  tune.writeUInt16BE(1, 0);
  tune.writeUInt32BE(128 * 1024, 2);
  tune.writeUInt16BE(0, 6);
  return Buffer.concat([
    connectionMethod(CONNECTION_METHOD.tuneOk, tune),
    connectionMethod(CONNECTION_METHOD.open, Buffer.concat([shortString(vhost), shortString(''), Buffer.from([0])])),
  ]);
}

/** One method frame of the Connection class on channel 0. */
function connectionMethod(methodId: number, args: Buffer): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(CONNECTION_CLASS, 0);
  ids.writeUInt16BE(methodId, 2);
  const payload = Buffer.concat([ids, args]);
  const header = Buffer.alloc(7);
  header[0] = FRAME_METHOD;
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([FRAME_END])]);
}
