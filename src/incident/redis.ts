/**
 * Redis as a triage source: SCAN over the keyspace and one read per key (GET, HSCAN, LRANGE, SRANDMEMBER,
 * ZRANGE, XRANGE), each bounded; only read commands are ever sent. A minimal RESP2 client on the scanner's
 * codec: triage needs request/reply and nothing else.
 */
import { connect, type Socket } from 'node:net';
import { encodeRespCommand, parseRespReply, RespError, type RespValue } from '../scan/index.js';
import { readableError } from './failure.js';
import type { SourceItem } from './sources.js';

const ELEMENTS_PER_KEY = 1000;

class RespConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (r: RespValue) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      for (;;) {
        const parsed = parseRespReply(this.buffer);
        if (parsed.state === 'incomplete') break;
        if (parsed.state === 'invalid') return void socket.destroy(new Error('not a RESP reply'));
        this.buffer = this.buffer.subarray(parsed.end);
        this.waiting.shift()?.resolve(parsed.value);
      }
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  /** `timeoutMs` bounds each silence; aborting `signal` destroys the socket, failing every command in progress. */
  static open(host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const socket = connect({ host, port });
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      const onAbort = () => socket.destroy(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('close', () => signal?.removeEventListener('abort', onAbort));
      socket.once('connect', () => resolve(new RespConnection(socket)));
      socket.once('error', reject);
    });
  }

  command(...args: string[]): Promise<RespValue> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encodeRespCommand(args));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function asObject(value: string): unknown {
  if (value.charCodeAt(0) !== 123) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** What one key holds, as fields, read with the one bounded command its type needs. */
async function readKey(conn: RespConnection, key: string): Promise<Record<string, unknown> | undefined> {
  const type = await conn.command('TYPE', key);
  const last = String(ELEMENTS_PER_KEY - 1);
  let value: RespValue;
  switch (type) {
    case 'string':
      value = await conn.command('GET', key);
      return typeof value === 'string' ? { key, value: asObject(value) } : undefined;
    case 'hash': {
      // HSCAN's first page rather than HGETALL: a hash of up to about ELEMENTS_PER_KEY fields comes whole, a
      // larger one no longer all at once (nor past the codec's element cap), as the other types are read.
      const page = await conn.command('HSCAN', key, '0', 'COUNT', String(ELEMENTS_PER_KEY));
      value = Array.isArray(page) && page.length === 2 ? page[1]! : null;
      if (!Array.isArray(value)) return undefined;
      const fields: Record<string, unknown> = { key };
      for (let i = 0; i + 1 < value.length && i < ELEMENTS_PER_KEY * 2; i += 2) fields[String(value[i])] = asObject(String(value[i + 1]));
      return fields;
    }
    case 'list':
      value = await conn.command('LRANGE', key, '0', last);
      break;
    case 'set':
      value = await conn.command('SRANDMEMBER', key, String(ELEMENTS_PER_KEY));
      break;
    case 'zset':
      value = await conn.command('ZRANGE', key, '0', last);
      break;
    case 'stream':
      value = await conn.command('XRANGE', key, '-', '+', 'COUNT', String(ELEMENTS_PER_KEY));
      break;
    default:
      return undefined;
  }
  return Array.isArray(value) ? { key, value: value.map((v) => (typeof v === 'string' ? asObject(v) : v)) } : undefined;
}

/** `redis://[user@]host:port/db`; the password from WARDEN_DB_PASSWORD or REDISCLI_AUTH, never the URL. */
export async function* readRedis(source: string, maxKeys: number, env: NodeJS.ProcessEnv, signal?: AbortSignal): AsyncGenerator<SourceItem> {
  const url = new URL(source);
  if (url.password) throw new Error('refusing a password inside the connection string: set WARDEN_DB_PASSWORD or REDISCLI_AUTH instead');
  const db = url.pathname.replace(/^\//, '') || '0';
  const part = `redis://${url.host}/${db}`;
  const conn = await RespConnection.open(url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', Number(url.port || 6379), 10_000, signal);
  let rows = 0;
  let truncated = false;
  let error: string | undefined;
  try {
    const password = env.WARDEN_DB_PASSWORD ?? env.REDISCLI_AUTH;
    if (password) {
      const auth = await conn.command('AUTH', ...(url.username ? [decodeURIComponent(url.username)] : []), password);
      if (auth instanceof RespError) throw new Error(`AUTH refused: ${auth.message}`);
    }
    const selected = await conn.command('SELECT', db);
    if (selected instanceof RespError) throw new Error(`SELECT ${db}: ${selected.message}`);
    let cursor = '0';
    scanning: do {
      const reply = await conn.command('SCAN', cursor, 'COUNT', '500');
      if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1]))
        throw new Error(reply instanceof RespError ? reply.message : 'unexpected SCAN reply');
      cursor = String(reply[0]);
      for (const key of reply[1]) {
        if (rows >= maxKeys) {
          truncated = true;
          break scanning;
        }
        const fields = await readKey(conn, String(key));
        if (!fields) continue;
        rows++;
        const text = JSON.stringify(fields);
        yield { part, text, fields, bytes: Buffer.byteLength(text) };
      }
    } while (cursor !== '0');
  } catch (err) {
    error = readableError(err);
  } finally {
    conn.close();
  }
  yield { partEnd: part, rows, truncated, ...(error ? { error } : {}) };
}
