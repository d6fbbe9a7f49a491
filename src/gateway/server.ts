/**
 * The gateway's client-facing HTTP/1.1 server: connections accepted by a node:net (or node:tls) server,
 * each request read by Node's own llhttp parser in strict mode, the same parser node:http runs.
 * Pipelined requests are answered in order, one at a time. Keep-alive, `Expect: 100-continue` and
 * upgrades are handled here, and so are time limits on idle connections, request heads and whole
 * requests. node:http's IncomingMessage and ServerResponse streams were the largest cost left in the
 * gateway's time per request (docs/gateway.md, Speed), and a reverse proxy needs only this much of a server.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { UNSAFE_FIELD_VALUE } from './http-syntax.js';
import { llhttp, type LlhttpParser } from './llhttp.js';
import { closingErrorAnswer, errorAnswer, expectation, readRequestHead } from './request-head.js';

/** Time limits on client connections, in milliseconds. */
export interface ClientLimits {
  /** An idle keep-alive connection is closed after this long (default 65 s, as the gateway set node:http). */
  keepAliveMs: number;
  /** A request head must be complete this long after its first byte, or 408 (default 60 s, node:http's): slow-header clients lose their connection. */
  headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this long, or 408 (default 300 s, node:http's). */
  requestTimeoutMs: number;
  /** How often connections are checked against those limits (default 1 s). */
  checkIntervalMs: number;
}
const DEFAULT_LIMITS: ClientLimits = { keepAliveMs: 65_000, headersTimeoutMs: 60_000, requestTimeoutMs: 300_000, checkIntervalMs: 1_000 };
export interface ClientRequest {
  readonly method: string;
  /** The request target as sent. */
  readonly url: string;
  /** HTTP/1.x: 0 or 1. */
  readonly minorVersion: number;
  /** Header fields in the order sent, names in lower case, duplicates kept: name, value, name, value… */
  readonly fields: readonly string[];
  /** One value per name (request-head.ts): the first copy of some, all copies joined with ", " for the rest; Host and Authorization come once. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly socket: Socket;
  /** The body as it arrives, or null for a request without one. Unread bytes are dropped once the response ends. */
  readonly body: ClientBody | null;
}

/** A request body as either server hands it over, with what the body-rate floor (limits.ts) measures. */
export interface ClientBody extends Readable {
  /** Body bytes the client has sent so far. */
  readonly received: number;
  /** The whole body has arrived. */
  readonly arrived: boolean;
  /** How long the server has spent reading this connection, leaving out time it held reading back. */
  readonly readingMs: number;
}

export interface ClientHandlers {
  /** A request to answer through `response`; pipelined requests reach it one at a time. */
  request(request: ClientRequest, response: ClientResponse): void;
  /** A request to switch protocols: the socket and the bytes after the head are the handler's from now on. */
  upgrade(request: ClientRequest, socket: Socket, head: Buffer): void;
}

/** The libuv stream under a net.Socket (private to Node, as node:http uses it): what reading it directly needs. */
interface StreamHandle {
  isStreamBase?: boolean;
  /** Set by whoever reads the handle directly; node:http checks it too. */
  _consumed?: boolean;
  /** net.Socket's own record of whether the handle is reading. */
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

/** Why a connection stopped reading: while any is set, the socket is paused. */
const HOLD_BODY = 1;
const HOLD_PIPELINE = 2;
/**
 * Pipelined requests read ahead of the one being answered before the connection stops reading. Reading on
 * is how a client that leaves is noticed (and its upstream exchange ended); the bound keeps a flood of
 * pipelined requests in the kernel rather than in memory.
 */
const PIPELINE_READ_AHEAD = 32;

let cachedDate = '';
/** The Date header value, computed at most once a second. */
function httpDate(): string {
  if (!cachedDate) {
    cachedDate = new Date().toUTCString();
    setTimeout(() => (cachedDate = ''), 1000 - (Date.now() % 1000)).unref();
  }
  return cachedDate;
}

/** A body the parser feeds; reading it slowly pauses the client's socket. */
export class RequestBody extends Readable implements ClientBody {
  /** Body bytes the client has sent so far. */
  received = 0;
  /** The whole body has arrived. */
  arrived = false;

  constructor(private readonly connection: ClientConnection) {
    super();
  }

  override _read(): void {
    this.connection.release(HOLD_BODY);
  }

  /**
   * Milliseconds the server has spent reading this connection since it opened, the time it held reading back
   * (a reader that is slow, pipelined requests queued) left out: a client's slowness is measured against this.
   */
  get readingMs(): number {
    return this.connection.readingMs();
  }
}

/** One response to a client, as the gateway writes it (whichever server faces the client). */
export interface ClientResponse {
  readonly headersSent: boolean;
  readonly statusCode: number;
  /** The whole response has been written. */
  readonly finished: boolean;
  /** Called once if the client's connection closes before the response has ended. */
  onAbort: (() => void) | null;
  writeHead(status: number, statusText: string, fields: readonly string[], hasLength: boolean): void;
  /** Makes this the last response on its connection (before `writeHead`): the client gets `connection: close`, and nothing more is read. */
  closeConnection(): void;
  /** Sends the head now, rather than with the first piece of a streamed body, which may be a while coming. */
  flush(): void;
  write(chunk: Buffer | string): boolean;
  onDrain(listener: () => void): void;
  end(chunk?: Buffer | string): void;
  /** Gives up on the response mid-way: the client sees its connection close. */
  destroy(): void;
  /**
   * Gives up on the request before its body has arrived (a client too slow to send it): whoever is producing
   * the response hears `onAbort`, as if the client had gone, and the connection closes once what is answered
   * now has been written, without reading the rest of the body.
   */
  abandonRequest(): void;
}

/** One response, written straight to the client's socket. */
class LlhttpResponse implements ClientResponse {
  headersSent = false;
  statusCode = 0;
  finished = false;
  onAbort: (() => void) | null = null;
  /** The head, held back so it leaves in one write with the first body bytes. */
  private head: string | null = null;
  private chunked = false;
  private bodiless = false;

  constructor(
    private readonly connection: ClientConnection,
    readonly request: ClientRequest,
  ) {}

  writeHead(status: number, statusText: string, fields: readonly string[], hasLength: boolean): void {
    if (this.headersSent) throw new Error('response headers already sent');
    if (UNSAFE_FIELD_VALUE.test(statusText)) throw new Error('the reason phrase holds a character HTTP/1.1 cannot carry');
    let head = `HTTP/1.1 ${status} ${statusText}\r\n`;
    let dated = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (UNSAFE_FIELD_VALUE.test(value)) throw new Error(`header ${name} holds a character HTTP/1.1 cannot carry`);
      if (name === 'date') dated = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!dated) head += `date: ${httpDate()}\r\n`;
    const connection = this.connection;
    this.bodiless = this.request.method === 'HEAD' || status === 204 || status === 304;
    if (!this.bodiless && !hasLength) {
      if (this.request.minorVersion >= 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else connection.keepAlive = false;
    }
    if (!connection.keepAlive || connection.closing) {
      connection.keepAlive = false;
      head += 'connection: close\r\n';
    } else if (this.request.minorVersion === 0) head += 'connection: keep-alive\r\n';
    this.head = `${head}\r\n`;
    this.statusCode = status;
    this.headersSent = true;
  }

  closeConnection(): void {
    this.connection.keepAlive = false;
  }

  flush(): void {
    if (this.head === null) return;
    this.connection.batch().write(this.head, 'latin1');
    this.head = null;
  }

  write(chunk: Buffer | string): boolean {
    const socket = this.connection.batch();
    this.flush();
    if (this.bodiless || chunk.length === 0 || socket.destroyed) return !socket.writableNeedDrain;
    if (!this.chunked) return socket.write(chunk);
    socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }

  onDrain(listener: () => void): void {
    this.connection.socket.once('drain', listener);
  }

  end(chunk?: Buffer | string): void {
    if (this.finished) return;
    const socket = this.connection.batch();
    if (chunk !== undefined) this.write(chunk);
    this.flush();
    if (this.chunked && !this.bodiless) socket.write('0\r\n\r\n', 'latin1');
    this.finished = true;
    this.onAbort = null;
    this.connection.responseEnded();
  }

  destroy(): void {
    this.connection.socket.destroy();
  }

  abandonRequest(): void {
    this.connection.keepAlive = false;
    this.connection.abandoned = true;
    const onAbort = this.onAbort;
    this.onAbort = null;
    onAbort?.();
  }
}

/** One client connection: its parser, the requests read and not yet answered, and its timing. */
class ClientConnection {
  private readonly parser: LlhttpParser;
  private pendingFields: string[] = [];
  private pendingUrl = '';
  /** Requests read and not yet answered, oldest first; the first is being answered. */
  private readonly queue: LlhttpResponse[] = [];
  /** The request whose body the parser is reading. */
  private reading: (ClientRequest & { readonly body: RequestBody | null }) | null = null;
  private upgrading: ClientRequest | null = null;
  private holds = 0;
  /** Time spent reading the socket before the last hold began, and when reading last (re)started. */
  private readMs = 0;
  private readingSince = Date.now();
  /** The socket's handle, when the parser reads it directly. */
  private handle: StreamHandle | null = null;
  /** No more requests are read: the connection closes once what is queued is answered. */
  private stopped = false;
  /** The socket is corked until the current turn's microtasks run. */
  private batching = false;
  keepAlive = true;
  /** The request being answered was given up before its body arrived: close without reading the rest. */
  abandoned = false;
  /** The server is closing: answer what is queued, then close. */
  closing = false;
  /** When the current request's head (0: none in progress) and the whole request began; when the connection last went idle. */
  headStartedAt = 0;
  requestStartedAt = 0;
  idleSince = Date.now();

  constructor(
    readonly socket: Socket,
    private readonly server: ClientServer,
  ) {
    const { HTTPParser } = llhttp();
    this.parser = new HTTPParser();
    this.parser.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
    this.parser[HTTPParser.kOnMessageBegin] = () => {
      this.headStartedAt = this.requestStartedAt = Date.now();
    };
    this.parser[HTTPParser.kOnHeaders] = (fields: string[], url: string) => {
      // llhttp hands over long heads in parts of 32 fields.
      for (const f of fields) this.pendingFields.push(f);
      this.pendingUrl += url;
    };
    this.parser[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete.bind(this);
    this.parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
      const body = this.reading?.body;
      if (!body) return;
      body.received += chunk.length;
      if (!body.destroyed && !body.push(chunk)) this.hold(HOLD_BODY);
    };
    this.parser[HTTPParser.kOnMessageComplete] = () => {
      const body = this.reading?.body;
      if (body) {
        body.arrived = true;
        body.push(null);
      }
      this.reading = null;
      this.requestStartedAt = 0;
    };
    socket.setNoDelay(true);
    // As node:http does: the parser reads the socket's handle itself, so reads neither allocate a buffer
    // each nor pass through the socket's stream. A handle that can't be read that way gets 'data' events.
    const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
    if (handle?.isStreamBase && !handle._consumed) {
      handle._consumed = true;
      this.handle = handle;
      this.parser.consume(handle);
      this.parser[HTTPParser.kOnExecute] = (result: number | Error) => this.executed(result, null);
      // Flowing, so that the client's end of the stream, which still reaches the socket, closes it (a client
      // that sends FIN is gone, as node:http treats it: what it asked for is abandoned).
      socket.resume();
    } else socket.on('data', this.onData);
    socket.on('error', () => undefined);
    socket.on('close', this.onClose);
  }

  private onHeadersComplete(
    _major: number,
    minor: number,
    rawFields: string[] | undefined,
    methodIndex: number,
    rawUrl: string | undefined,
    _s: unknown,
    _t: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    this.headStartedAt = 0;
    const raw = rawFields ?? this.pendingFields;
    this.pendingFields = [];
    const url = rawUrl || this.pendingUrl;
    this.pendingUrl = '';
    if (this.stopped) return 1;
    const { fields, headers, hasBody, refusal } = readRequestHead(raw, minor);
    if (refusal) {
      this.badRequest(refusal);
      return 1;
    }
    const method = llhttp().methods[methodIndex] ?? 'GET';
    const request = { method, url, minorVersion: minor, fields, headers, socket: this.socket, body: hasBody ? new RequestBody(this) : null };
    if (upgrade) {
      this.stopped = true;
      // CONNECT (a tunnel) is no reverse proxy's business, as with node:http without a 'connect' listener.
      if (method === 'CONNECT') this.socket.destroy();
      else this.upgrading = request;
      // 2: no body; llhttp stops after this head, and the rest of the bytes belong to the new protocol.
      return 2;
    }
    if (!keepAlive) {
      this.keepAlive = false;
      this.stopped = true;
    }
    this.reading = request;
    const response = new LlhttpResponse(this, request);
    this.queue.push(response);
    if (this.queue.length === 1) this.answer(request, response);
    else if (this.queue.length > PIPELINE_READ_AHEAD) this.hold(HOLD_PIPELINE);
    return 0;
  }

  /**
   * The socket, corked until the end of the current turn: what one upstream read carries (a chunked answer's
   * head, body and last chunk, say) leaves in one system call instead of one each, and a streamed piece that
   * arrives alone still leaves at once.
   */
  batch(): Socket {
    if (!this.batching) {
      this.batching = true;
      this.socket.cork();
      queueMicrotask(this.uncork);
    }
    return this.socket;
  }

  private readonly uncork = (): void => {
    this.batching = false;
    this.socket.uncork();
  };

  private answer(request: ClientRequest, response: LlhttpResponse): void {
    const expected = expectation(request.headers, request.minorVersion, request.body !== null);
    if (expected === 'refuse') return this.refuse(response, 417);
    if (expected === 'continue') this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    this.server.handlers.request(request, response);
  }

  private refuse(response: LlhttpResponse, status: number): void {
    const { text, body } = errorAnswer(status);
    this.keepAlive = false;
    this.stopped = true;
    response.writeHead(status, text, ['content-type', 'application/json', 'content-length', String(body.length), 'cache-control', 'no-store'], true);
    response.end(body);
  }

  private readonly onData = (data: Buffer): void => {
    if (!this.stopped) this.executed(this.parser.execute(data), data);
  };

  /** After the parser has read a piece: a malformed request is refused, an upgrade handed over. */
  private executed(parsed: number | Error, data: Buffer | null): void {
    if (parsed instanceof Error) return this.badRequest((parsed as Error & { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400);
    const upgrading = this.upgrading;
    if (upgrading) {
      this.upgrading = null;
      if (this.queue.length) {
        // An upgrade behind requests still being answered: which bytes belong to whom is not worth guessing.
        this.socket.destroy();
        return;
      }
      const head = (data ?? this.parser.getCurrentBuffer()).subarray(parsed);
      this.detach();
      this.server.handlers.upgrade(upgrading, this.socket, head);
    }
  }

  /** A request llhttp refuses: answered with 400 (431 for an oversized head) if nothing else is owed on the connection, then closed. */
  private badRequest(status: number): void {
    this.stopped = true;
    this.keepAlive = false;
    const body = this.reading?.body;
    // Ended without an error event, which nobody may be listening for: a reader sees 'close' without 'end'.
    if (body && !body.readableEnded) body.destroy();
    this.reading = null;
    // Answers still owed go first, and the connection closes after them; an ended one gets nothing more.
    if (this.queue.length || this.socket.writableEnded || this.socket.destroyed) return;
    this.socket.end(closingErrorAnswer(status), 'latin1');
  }

  /** The first queued response has ended: the next pipelined request's turn, or closing, or idle. */
  responseEnded(): void {
    const ended = this.queue.shift();
    // The connection closed before this response ended: nothing follows.
    if (!ended) return;
    // Whatever of the body nobody read is dropped, so the next request can be read.
    ended.request.body?.resume();
    if (!this.keepAlive || this.closing) {
      this.stopped = true;
      if (this.abandoned) this.socket.destroySoon();
      else this.socket.end();
      return;
    }
    const next = this.queue[0];
    if (!next) {
      this.idleSince = Date.now();
      return;
    }
    if (this.queue.length <= PIPELINE_READ_AHEAD) this.release(HOLD_PIPELINE);
    // Not from inside the previous exchange's own callbacks: its upstream connection goes back to the pool first.
    queueMicrotask(() => {
      if (!this.socket.destroyed && this.queue[0] === next) this.answer(next.request, next);
    });
  }

  hold(reason: number): void {
    if (this.holds === 0) {
      this.readSocket(false);
      this.readMs += Date.now() - this.readingSince;
    }
    this.holds |= reason;
  }

  release(reason: number): void {
    if (!(this.holds & reason)) return;
    this.holds &= ~reason;
    if (this.holds === 0) {
      this.readingSince = Date.now();
      if (!this.stopped) this.readSocket(true);
    }
  }

  readingMs(): number {
    return this.holds ? this.readMs : this.readMs + Date.now() - this.readingSince;
  }

  /** Starts or stops reading the socket: its handle, when the parser reads that directly. */
  private readSocket(on: boolean): void {
    const handle = this.handle;
    if (!handle) {
      if (on) this.socket.resume();
      else this.socket.pause();
    } else if (handle.reading !== on && !this.socket.destroyed) {
      handle.reading = on;
      if (on) handle.readStart();
      else handle.readStop();
    }
  }

  /** Whether a request has been read and is still to be answered. */
  get answering(): boolean {
    return this.queue.length > 0;
  }

  /** Whether nothing is in progress: no request being read or answered. */
  get idle(): boolean {
    return this.queue.length === 0 && this.requestStartedAt === 0;
  }

  /** Enforces the time limits: an idle connection past keep-alive closes, a request too slow to arrive gets 408. */
  check(now: number, limits: ClientLimits): void {
    if (this.headStartedAt && now - this.headStartedAt > limits.headersTimeoutMs) this.timedOut();
    else if (this.requestStartedAt && now - this.requestStartedAt > limits.requestTimeoutMs) this.timedOut();
    else if (this.idle && now - this.idleSince > limits.keepAliveMs) this.socket.destroy();
  }

  private timedOut(): void {
    if (this.queue.length) this.socket.destroy();
    else this.badRequest(408);
  }

  /** Unhooks the parser from the socket, and frees it once no callback of its own is on the stack (freeing it inside one crashes Node). */
  private freeParser(): void {
    if (this.handle) this.parser.unconsume();
    setImmediate(() => this.parser.close());
  }

  /** The socket leaves this server's hands (an upgrade). */
  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
    this.freeParser();
    this.server.connections.delete(this);
    // The upgrade handler reads the socket from now on.
    if (this.holds) {
      this.holds = 0;
      this.readSocket(true);
    }
  }

  private readonly onClose = (): void => {
    this.stopped = true;
    this.freeParser();
    this.server.connections.delete(this);
    const body = this.reading?.body;
    if (body && !body.readableEnded) body.destroy();
    // A body that arrived whole but was never read (its request still waiting for the upstream) would otherwise never close.
    for (const queued of this.queue) if (queued.request.body && !queued.request.body.readableEnded) queued.request.body.destroy();
    const active = this.queue[0];
    this.queue.length = 0;
    const onAbort = active?.onAbort;
    if (active) active.onAbort = null;
    onAbort?.();
  };
}

/** The listener and its connections. */
export class ClientServer {
  readonly server: Server;
  readonly connections = new Set<ClientConnection>();
  private readonly checker: NodeJS.Timeout;

  constructor(
    readonly handlers: ClientHandlers,
    tls?: TlsOptions,
    limits: Partial<ClientLimits> = {},
  ) {
    const all: ClientLimits = { ...DEFAULT_LIMITS, ...limits };
    const accept = (socket: Socket) => {
      this.connections.add(new ClientConnection(socket, this));
    };
    if (tls) {
      this.server = createTlsServer({ ALPNProtocols: ['http/1.1'], ...tls }, accept);
      // A failed handshake has nothing to answer; its socket is already gone.
      this.server.on('tlsClientError', () => undefined);
    } else this.server = createNetServer(accept);
    this.checker = setInterval(() => {
      const now = Date.now();
      for (const connection of this.connections) connection.check(now, all);
    }, all.checkIntervalMs);
    this.checker.unref();
  }

  /**
   * Stops accepting. Connections with nothing to answer close now, half-sent requests included; the rest once
   * their queued requests are answered, with the time limits still applying.
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(this.checker);
        resolve();
      };
      if (this.server.listening) this.server.close(done);
      else done();
    });
    for (const connection of this.connections) {
      connection.closing = true;
      if (!connection.answering) connection.socket.destroy();
    }
    return closed;
  }
}
