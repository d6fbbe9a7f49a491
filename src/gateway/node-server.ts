/**
 * The gateway's client side on node:http (`listen.engine: node`), for a Node whose `_http_common` parser
 * the llhttp server (server.ts) cannot use. node:http's IncomingMessage and ServerResponse are adapted to
 * the ClientRequest and ClientResponse the gateway answers through, and every head passes the same checks
 * (request-head.ts) with the same time limits, so a client is refused the same things on either engine.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { UNSAFE_FIELD_VALUE } from './http-syntax.js';
import { closingErrorAnswer, errorAnswer, expectation, readRequestHead, type RequestHead } from './request-head.js';
import type { ClientBody, ClientHandlers, ClientRequest, ClientResponse } from './server.js';

/**
 * The llhttp server's limits (server.ts): node:http's own head and request limits, the gateway's keep-alive,
 * checked every second. Duplicates are never joined or dropped by node:http: request-head.ts reads
 * `rawHeaders`, so two Host or Authorization fields are seen and refused.
 */
const SERVER_OPTIONS: ServerOptions = {
  headersTimeout: 60_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 65_000,
  connectionsCheckingInterval: 1_000,
  requireHostHeader: true,
  insecureHTTPParser: false,
  joinDuplicateHeaders: false,
  noDelay: true,
};

/** What node:http's parser errors are answered with, as the llhttp server answers its own. */
function parseErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** Per connection: responses begun and not yet finished, whether the connection ends after them, and a request body being read. */
interface ConnectionState {
  open: number;
  closing: boolean;
  reading: IncomingMessage | null;
}

/** A ServerResponse behind the gateway's ClientResponse. */
class NodeResponse implements ClientResponse {
  finished = false;
  onAbort: (() => void) | null = null;

  private readonly socket: Socket | null;

  constructor(
    private readonly res: ServerResponse,
    private readonly connection: ConnectionState,
  ) {
    this.socket = res.socket;
    // 'close' before end(): the client's connection went away.
    res.once('close', () => {
      const onAbort = this.onAbort;
      this.onAbort = null;
      if (!this.finished) onAbort?.();
    });
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get statusCode(): number {
    return this.res.headersSent ? this.res.statusCode : 0;
  }

  /** node:http frames the body from the fields itself (a Content-Length, else chunked, else close-delimited for HTTP/1.0). */
  writeHead(status: number, statusText: string, fields: readonly string[]): void {
    if (this.res.headersSent) throw new Error('response headers already sent');
    if (UNSAFE_FIELD_VALUE.test(statusText)) throw new Error('the reason phrase holds a character HTTP/1.1 cannot carry');
    for (let i = 1; i < fields.length; i += 2)
      if (UNSAFE_FIELD_VALUE.test(fields[i]!)) throw new Error(`header ${fields[i - 1]} holds a character HTTP/1.1 cannot carry`);
    const closing = this.connection.closing || !this.res.shouldKeepAlive;
    this.res.writeHead(status, statusText, closing ? [...fields, 'connection', 'close'] : [...fields]);
  }

  closeConnection(): void {
    this.connection.closing = true;
  }

  flush(): void {
    this.res.flushHeaders();
  }

  write(chunk: Buffer | string): boolean {
    return this.res.write(chunk);
  }

  onDrain(listener: () => void): void {
    this.res.once('drain', listener);
  }

  end(chunk?: Buffer | string): void {
    if (this.finished) return;
    this.finished = true;
    this.onAbort = null;
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
  }

  destroy(): void {
    this.res.destroy();
    // A finished ServerResponse has let go of its socket, and destroys nothing: the connection must close all the same.
    this.socket?.destroy();
  }

  abandonRequest(): void {
    this.connection.closing = true;
    // Whatever is answered now is the last on this connection, and the rest of the body is never read.
    this.res.once('finish', () => this.socket?.destroy());
    const onAbort = this.onAbort;
    this.onAbort = null;
    onAbort?.();
  }
}

/**
 * node:http's IncomingMessage as a ClientBody: the bytes and the end its parser pushes are counted, and time
 * with the body's buffer full (node:http has stopped reading the socket until the gateway reads on) is left
 * out of the time spent reading, as the llhttp server leaves out time it held reading back.
 */
function measuredBody(req: IncomingMessage): ClientBody {
  const started = Date.now();
  let heldSince = 0;
  let heldMs = 0;
  const body = Object.assign(req, { received: 0, arrived: false }) as IncomingMessage & { received: number; arrived: boolean; readingMs: number };
  Object.defineProperty(body, 'readingMs', { get: () => Date.now() - started - heldMs - (heldSince ? Date.now() - heldSince : 0) });
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk === null) body.arrived = true;
    else body.received += (chunk as Buffer).length;
    const more = push(chunk, encoding);
    if (!more && !heldSince) heldSince = Date.now();
    return more;
  };
  // node:http leaves a body whose answer has been sent unclosed when its connection goes: close it, so that
  // whoever waits for it (the concurrency limit's place) hears that it will not arrive.
  req.socket.once('close', () => {
    if (!req.readableEnded) req.destroy();
  });
  const read = req._read.bind(req);
  req._read = (size: number) => {
    if (heldSince) {
      heldMs += Date.now() - heldSince;
      heldSince = 0;
    }
    read(size);
  };
  return body;
}

function clientRequest(req: IncomingMessage, head: RequestHead): ClientRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    minorVersion: req.httpVersionMinor,
    fields: head.fields,
    headers: head.headers,
    socket: req.socket,
    body: head.hasBody ? measuredBody(req) : null,
  };
}

/** The node:http (or node:https) listener. */
export class NodeClientServer {
  readonly server: HttpServer;
  private readonly connections = new Map<Socket, ConnectionState>();
  private stopping = false;

  constructor(
    private readonly handlers: ClientHandlers,
    tls?: TlsOptions,
  ) {
    if (tls) {
      this.server = createHttpsServer({ ALPNProtocols: ['http/1.1'], ...tls, ...SERVER_OPTIONS });
      // A failed handshake has nothing to answer; its socket is already gone.
      this.server.on('tlsClientError', () => undefined);
    } else this.server = createHttpServer(SERVER_OPTIONS);
    this.server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.track(socket));
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.server.on('request', onRequest);
    // node:http would answer these itself, by looser rules (`Expect: foo, 100-continue` passes); expectation() decides instead.
    this.server.on('checkContinue', onRequest);
    this.server.on('checkExpectation', onRequest);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket as Socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket as Socket));
    // No 'connect' listener: node:http closes a CONNECT's connection, as the llhttp server does.
  }

  private track(socket: Socket): ConnectionState {
    const connection: ConnectionState = { open: 0, closing: this.stopping, reading: null };
    this.connections.set(socket, connection);
    socket.once('close', () => this.connections.delete(socket));
    return connection;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const connection = this.connections.get(socket) ?? this.track(socket);
    // node:http reads pipelined requests on past one whose answer ends the connection (a refusal); none of them
    // is answered, nor may it be acted on (the llhttp server stops reading there).
    if (connection.closing) return;
    connection.open++;
    res.once('close', () => {
      // The last answer owed on a closing connection has been written (one begun before it was closing did not say connection: close).
      if (--connection.open === 0 && connection.closing) socket.end();
    });
    const response = new NodeResponse(res, connection);
    if (!res.shouldKeepAlive) connection.closing = true;
    const head = readRequestHead(req.rawHeaders, req.httpVersionMinor);
    if (head.hasBody) {
      connection.reading = req;
      req.once('end', () => {
        if (connection.reading === req) connection.reading = null;
      });
    }
    if (head.refusal) return this.refuse(response, head.refusal);
    const request = clientRequest(req, head);
    const expected = expectation(head.headers, req.httpVersionMinor, head.hasBody);
    if (expected === 'refuse') return this.refuse(response, 417);
    if (expected === 'continue') res.writeContinue();
    this.handlers.request(request, response);
  }

  private refuse(response: NodeResponse, status: number): void {
    const { text, body } = errorAnswer(status);
    response.closeConnection();
    response.writeHead(status, text, ['content-type', 'application/json', 'content-length', String(body.length), 'cache-control', 'no-store']);
    response.end(body);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // The socket is the upgrade handler's from now on: close() leaves it alone, as the llhttp server does.
    this.connections.delete(socket);
    const checked = readRequestHead(req.rawHeaders, req.httpVersionMinor);
    if (checked.refusal) {
      socket.on('error', () => undefined);
      socket.end(closingErrorAnswer(checked.refusal), 'latin1', () => socket.destroy());
      return;
    }
    this.handlers.upgrade(clientRequest(req, checked), socket, head);
  }

  /**
   * A request node:http's parser refused (bytes after a request that said Connection: close among them), or a
   * time limit. Between requests, as the llhttp server does: answers still owed go first and the connection
   * closes after them, reading nothing more. Inside a body (a bad chunk), the connection closes at once: node:http
   * ends that request only by destroying its socket. With nothing owed, the error is answered first.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const connection = this.connections.get(socket);
    if (connection && connection.open > 0 && !connection.reading && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
      connection.closing = true;
      socket.pause();
      return;
    }
    if (socket.writable && !connection?.open && err.code !== 'ECONNRESET') socket.write(closingErrorAnswer(parseErrorStatus(err.code)), 'latin1');
    socket.destroy();
  }

  /** Stops accepting. Connections with nothing to answer close now, half-sent requests included; the rest once their answers are written. */
  close(): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => {
      if (this.server.listening) this.server.close(() => resolve());
      else resolve();
    });
    for (const [socket, connection] of this.connections) {
      connection.closing = true;
      if (connection.open === 0) socket.destroy();
    }
    return closed;
  }
}
