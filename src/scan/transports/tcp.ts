import { Socket } from 'node:net';
import { failure, type TransportFailure } from './result.js';
import { noteStall } from './stalls.js';

export const DEFAULT_MAX_READ_BYTES = 64 * 1024;

export interface TcpOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Says whether a reply is complete: return the number of bytes that form the complete message, or 0
 * while more are needed. Bytes past the message stay buffered for the next read.
 */
export type FrameCheck = (received: Buffer) => number;

/**
 * One TCP connection whose every read is capped in bytes and time. The socket is destroyed on any
 * failure, on close(), and when the scan's signal aborts, so a hostile peer cannot hold it open.
 */
export class TcpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private overflowed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly signal?: AbortSignal,
    /** Hard ceiling on unread bytes, even between reads: a flooding peer is cut off here. */
    private readonly maxBuffered = 4 * DEFAULT_MAX_READ_BYTES,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      if (this.buffered.length > this.maxBuffered) {
        this.overflowed = true;
        this.close();
      }
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  write(data: Buffer | string): void {
    if (!this.ended) this.socket.write(data);
  }

  /** Reads until `complete` says a message is whole; at most `maxBytes` buffered and `timeoutMs` waited. */
  async read(complete: FrameCheck, opts: { timeoutMs: number; maxBytes?: number }): Promise<Buffer | TransportFailure> {
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    const deadline = Date.now() + opts.timeoutMs;
    let graced = false;
    for (;;) {
      const n = this.buffered.length ? complete(this.buffered) : 0;
      if (n > 0) {
        const message = this.buffered.subarray(0, n);
        this.buffered = this.buffered.subarray(n);
        return message;
      }
      if (this.buffered.length > maxBytes || this.overflowed) {
        this.close();
        return failure('too-large', `reply exceeded ${maxBytes} bytes`);
      }
      if (this.signal?.aborted) {
        this.close();
        return failure('aborted', 'scan cancelled');
      }
      if (this.ended) return failure('closed', this.buffered.length ? 'connection closed mid-reply' : 'connection closed');
      const left = deadline - Date.now();
      // Past the deadline, first let pending I/O be read once: timers run before the poll phase, so a
      // scanner that was busy (not the peer) would otherwise miss a reply already waiting in the socket.
      if (left <= 0 && !graced) {
        graced = true;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (left <= 0) {
        this.close();
        noteStall();
        return failure('timeout', `no complete reply within ${opts.timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          this.signal?.removeEventListener('abort', finish);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(finish, left);
        this.signal?.addEventListener('abort', finish, { once: true });
        this.wake = finish;
      });
    }
  }

  /** Whatever has arrived so far (for banners read on connect). */
  peek(): Buffer {
    return this.buffered;
  }

  close(): void {
    this.ended = true;
    this.socket.destroy();
  }
}

/** Connects within the deadline, or says why not. */
export function connectTcp(host: string, port: number, opts: TcpOptions): Promise<TcpConnection | TransportFailure> {
  return new Promise((resolve) => {
    if (opts.signal?.aborted) return resolve(failure('aborted', 'scan cancelled'));
    const socket = new Socket();
    let settled = false;
    const settle = (value: TcpConnection | TransportFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!(value instanceof TcpConnection)) socket.destroy();
      resolve(value);
    };
    const onAbort = () => settle(failure('aborted', 'scan cancelled'));
    // setImmediate: a connection that completed while the scanner was busy is seen first (see read()).
    const timer = setTimeout(
      () => setImmediate(() => settled || (noteStall(), settle(failure('timeout', `connect timed out after ${opts.timeoutMs} ms`)))),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err: NodeJS.ErrnoException) => settle(failure(err.code === 'ECONNREFUSED' ? 'refused' : 'error', err.code ?? err.message)));
    socket.setNoDelay(true);
    socket.connect({ host, port }, () => settle(new TcpConnection(socket, opts.signal)));
  });
}

/**
 * Opens a connection, hands it to `use`, and always closes it; undefined when the peer cannot be
 * reached (the failure is the absence of an answer, as for every probe step).
 */
export async function withTcpConnection<T>(
  target: { host: string; port: number; timeoutMs: number; signal?: AbortSignal },
  use: (conn: TcpConnection) => Promise<T>,
): Promise<T | undefined> {
  const conn = await connectTcp(target.host, target.port, { timeoutMs: target.timeoutMs, ...(target.signal ? { signal: target.signal } : {}) });
  if (!(conn instanceof TcpConnection)) return undefined;
  try {
    return await use(conn);
  } finally {
    conn.close();
  }
}

/** Connect, optionally send, read one message, close: the common one-shot exchange. */
export async function tcpExchange(
  host: string,
  port: number,
  send: Buffer | string | undefined,
  complete: FrameCheck,
  opts: TcpOptions & { maxBytes?: number },
): Promise<Buffer | TransportFailure> {
  const conn = await connectTcp(host, port, opts);
  if (!(conn instanceof TcpConnection)) return conn;
  try {
    if (send !== undefined) conn.write(send);
    return await conn.read(complete, opts);
  } finally {
    conn.close();
  }
}

/** Frame check for line protocols: complete at the first CRLF (or LF). */
export const untilLine: FrameCheck = (b) => {
  const i = b.indexOf(0x0a);
  return i < 0 ? 0 : i + 1;
};
