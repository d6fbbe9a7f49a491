/**
 * A raw HTTP/1.1 client connection for tests of servers that face hostile clients: bytes are written
 * exactly as given (a client library would refuse most of what such tests send, and would hide the
 * framing under test), and answers are read back with a deadline on every wait, so a hang fails its
 * own test quickly. Responses are parsed strictly: an `HTTP/1.1` status line, and a body read by its
 * framing (RFC 9112 §6.3) with no chunk extensions or trailers, which no server under test sends.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** The bound on every wait. */
export const RAW_CLIENT_LIMIT_MS = 5000;

export interface RawHttpResponse {
  status: number;
  /** The head as received, for checks on exact bytes. */
  head: string;
  /** Lower-case name to its values joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
  framing: 'none' | 'length' | 'chunked' | 'close';
}

/** Every client open now, so that a test's cleanup can end them all (`destroyAll`). */
const open = new Set<RawHttpClient>();

export class RawHttpClient {
  private data: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  /** When the connection closed; 0 while open. */
  closedAt = 0;

  private constructor(readonly socket: Socket) {
    open.add(this);
    socket.on('data', (chunk: Buffer) => {
      this.data = this.data.length ? Buffer.concat([this.data, chunk]) : chunk;
      this.notify();
    });
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.notify();
    });
    // A reset is one way for a server to refuse or close: it shows as the close above.
    socket.on('error', () => undefined);
  }

  /** `localAddress`: another loopback address to come from (127.0.0.2), to look like a second client machine. */
  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawHttpClient> {
    return RawHttpClient.connected(connect({ port, host, ...(localAddress ? { localAddress } : {}) }), 'connect');
  }

  static openTls(port: number, ca: string): Promise<RawHttpClient> {
    return RawHttpClient.connected(connectTls({ port, host: '127.0.0.1', ca, ALPNProtocols: ['http/1.1'] }), 'secureConnect');
  }

  private static connected(socket: Socket, event: 'connect' | 'secureConnect'): Promise<RawHttpClient> {
    return new Promise((resolve, reject) => {
      socket.once(event, () => {
        socket.off('error', reject);
        resolve(new RawHttpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Ends every client still open (for a test's cleanup, so a failed test leaves nothing hanging). */
  static destroyAll(): void {
    for (const client of open) client.destroy();
  }

  get closed(): boolean {
    return this.closedAt !== 0;
  }

  /** What has arrived and not been read yet. */
  get pending(): string {
    return this.data.toString('latin1');
  }

  write(bytes: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  destroy(): void {
    this.socket.destroy();
    open.delete(this);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Waits for more bytes or the close; throws once the deadline has passed. */
  private async more(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: not within ${RAW_CLIENT_LIMIT_MS} ms (have ${JSON.stringify(this.pending.slice(0, 200))})`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Waits until the unread bytes hold `text`, reading nothing. */
  async waitFor(text: string): Promise<void> {
    const deadline = Date.now() + RAW_CLIENT_LIMIT_MS;
    while (!this.pending.includes(text)) {
      if (this.closed) throw new Error(`the connection closed before ${JSON.stringify(text)} arrived`);
      await this.more(deadline, JSON.stringify(text));
    }
  }

  private cut(n: number, skip: number): Buffer {
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n + skip);
    return out;
  }

  /** The bytes before `delimiter`, both read; null if the connection closes first. */
  private async until(delimiter: string, deadline: number): Promise<Buffer | null> {
    for (;;) {
      const at = this.data.indexOf(delimiter, 0, 'latin1');
      if (at >= 0) return this.cut(at, delimiter.length);
      if (this.closed) return null;
      await this.more(deadline, JSON.stringify(delimiter));
    }
  }

  /** Exactly `n` bytes. */
  async take(n: number, deadline = Date.now() + RAW_CLIENT_LIMIT_MS): Promise<Buffer> {
    while (this.data.length < n) {
      if (this.closed) throw new Error(`the connection closed after ${this.data.length} of ${n} bytes`);
      await this.more(deadline, `${n} bytes`);
    }
    return this.cut(n, 0);
  }

  /** Whether the connection closes within `ms`. */
  async closes(ms = RAW_CLIENT_LIMIT_MS): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() >= deadline) return false;
      await this.more(deadline, 'the close').catch(() => undefined);
    }
    return true;
  }

  /** Whether nothing arrives (and the connection stays open) for `ms`. */
  async quiet(ms: number): Promise<boolean> {
    const had = this.data.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.data.length === had && !this.closed;
  }

  private async chunked(deadline: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const line = await this.until('\r\n', deadline);
      if (line === null) throw new Error('the connection closed inside a chunked body');
      const size = parseInt(line.toString('latin1'), 16);
      if (!Number.isInteger(size)) throw new Error(`bad chunk size line ${JSON.stringify(line.toString('latin1'))}`);
      if (size === 0) break;
      parts.push(await this.take(size, deadline));
      if ((await this.until('\r\n', deadline))?.length !== 0) throw new Error('no CRLF after a chunk');
    }
    if ((await this.until('\r\n', deadline))?.length !== 0) throw new Error('trailers after the last chunk');
    return Buffer.concat(parts);
  }

  /**
   * The next response, its body read by its framing; null if the connection closes before a whole head.
   * A 1xx comes back as a response of its own; `head: true` reads no body (the answer to a HEAD).
   */
  async response(options: { head?: boolean } = {}): Promise<RawHttpResponse | null> {
    const deadline = Date.now() + RAW_CLIENT_LIMIT_MS;
    const raw = await this.until('\r\n\r\n', deadline);
    if (raw === null) return null;
    const head = raw.toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine!);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const seen = headers.get(name);
      headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
    }
    const r: RawHttpResponse = { status: Number(m[1]), head, headers, body: Buffer.alloc(0), framing: 'none' };
    if (r.status < 200 || r.status === 204 || r.status === 304 || options.head) return r;
    if (headers.get('transfer-encoding')?.toLowerCase().split(',').at(-1)?.trim() === 'chunked') {
      r.framing = 'chunked';
      r.body = await this.chunked(deadline);
    } else if (headers.has('content-length')) {
      r.framing = 'length';
      r.body = await this.take(Number(headers.get('content-length')), deadline);
    } else {
      r.framing = 'close';
      while (!this.closed) await this.more(deadline, 'the end of a close-delimited body');
      r.body = this.cut(this.data.length, 0);
    }
    return r;
  }
}
