/**
 * The gateway's HTTP/1.1 client for its upstreams: keep-alive connections per upstream, each request
 * written as one head, each response read by Node's own llhttp parser (the parser node:http runs, with
 * its strict defaults: conflicting lengths, bad chunk sizes and oversized heads are errors). A reverse
 * proxy needs only this much of a client; undici's general machinery cost about half of the gateway's
 * time per request (docs/gateway.md, Speed).
 *
 * A connection is only reused after a response that ended cleanly with nothing after it: any byte the
 * upstream sends outside an exchange (a second response, garbage) closes the connection, so it can
 * never be read as the answer to the next client's request.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connectionTokens, HOP_BY_HOP, ONLY_CHUNKED } from './http-syntax.js';
import { llhttp, type LlhttpParser } from './llhttp.js';

/** How long an idle connection is kept when the upstream does not say (undici's default too). */
export const DEFAULT_IDLE_MS = 4_000;
/** Released this long before the upstream's advertised keep-alive timeout, so both ends do not race to use and close it. */
const IDLE_MARGIN_MS = 1_000;
/** Methods a client may safely have sent twice (RFC 9110 §9.2.2), retried once when a reused connection turns out closed. */
export const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type UpstreamFailure = 'upstream_timeout' | 'upstream_unreachable' | 'upstream_aborted';

/** What the proxy does with one response; the client calls these in order, then exactly one of complete/fail. */
export interface ResponseHandler {
  /** Final status and the headers for the client (hop-by-hop fields removed, names lower case); hasLength: the body is framed by Content-Length. */
  headers(status: number, statusText: string, headers: string[], hasLength: boolean): void;
  /** A piece of the body; false asks the client to stop reading until `resume()`. */
  body(chunk: Buffer): boolean;
  complete(): void;
  fail(failure: UpstreamFailure): void;
}

export interface UpstreamRequestMessage {
  method: string;
  /** Path and query. */
  target: string;
  /** Header fields, lower-case names: name, value, name, value… (the framing is added from `chunked`). */
  fields: readonly string[];
  /** A body to stream after the head, framed by the Content-Length in `head` or, with `chunked`, by chunked coding. */
  body: NodeJS.ReadableStream | null;
  chunked: boolean;
  /** No response headers within this long (from dispatch, queueing and connecting included): 504. */
  headersTimeoutMs: number;
  /** No body bytes for this long once the headers are in: the exchange is abandoned. */
  bodyTimeoutMs: number;
}

/**
 * The response headers for the client, without hop-by-hop fields; what the upstream said about keeping the
 * connection; and whether the gateway can pass the body on: a Transfer-Encoding other than chunked alone
 * (gzip, chunked) would reach the client re-chunked and still gzipped, with nothing saying so.
 */
export function clientHeaders(raw: readonly string[]): { headers: string[]; hasLength: boolean; idleMs: number; relayable: boolean } {
  let headers: string[] = [];
  let listed: string[] | null = null;
  let hasLength = false;
  let idleMs = DEFAULT_IDLE_MS;
  let coding: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'connection') listed = connectionTokens(value);
    else if (name === 'transfer-encoding') coding = coding === null ? value : `${coding}, ${value}`;
    else if (name === 'keep-alive') {
      const timeout = /(?:^|[\s,])timeout=(\d+)/i.exec(value);
      if (timeout) idleMs = Math.min(DEFAULT_IDLE_MS, Number(timeout[1]) * 1000 - IDLE_MARGIN_MS);
    }
    if (HOP_BY_HOP.has(name)) continue;
    if (name === 'content-length') hasLength = true;
    headers.push(name, value);
  }
  if (listed) {
    const tokens = listed;
    headers = headers.filter((_, i, all) => !tokens.includes(all[i - (i % 2)]!));
    hasLength &&= !tokens.includes('content-length');
  }
  return { headers, hasLength, idleMs, relayable: coding === null || ONLY_CHUNKED.test(coding) };
}

/**
 * Follows a client's request body as it is sent upstream: `onAborted` if it ends without its end (the client
 * left). The function returned stops following, and lets whatever the client still sends be read and dropped,
 * so its connection can carry its next request.
 */
export function followBody(body: NodeJS.ReadableStream, onData: (chunk: Buffer) => void, onEnd: () => void, onAborted: () => void): () => void {
  body.on('data', onData);
  body.on('end', onEnd);
  body.on('error', onAborted);
  body.on('close', onAborted);
  return () => {
    body.resume();
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onAborted);
    body.off('close', onAborted);
  };
}

/** The request line and header lines, ending in the blank line. */
function requestHead({ method, target, fields, chunked }: UpstreamRequestMessage): string {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i < fields.length; i += 2) head += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`;
}

/** One request on one connection, from dispatch to its end. */
class Exchange {
  connection: UpstreamConnection | null = null;
  /** Response headers have reached the handler. */
  answered = false;
  /** The request body has been written in full (or there was none). */
  sent: boolean;
  finished = false;
  retried = false;
  /** Until the response headers: the whole wait, queueing and connecting included. */
  readonly headersTimer: NodeJS.Timeout;
  /** After them, while the body is still coming: the longest silence allowed, restarted by each read. */
  bodyTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly pool: UpstreamPool,
    readonly message: UpstreamRequestMessage,
    readonly handler: ResponseHandler,
  ) {
    this.sent = message.body === null;
    this.headersTimer = setTimeout(() => this.fail('upstream_timeout'), message.headersTimeoutMs);
  }

  /** Body bytes arrived (or the headers, with the body still to come): the silence allowed starts again. */
  bodyProgress(): void {
    if (this.bodyTimer) this.bodyTimer.refresh();
    else this.bodyTimer = setTimeout(() => this.fail('upstream_timeout'), this.message.bodyTimeoutMs);
  }

  /** Marks the exchange over and stops its timers; false if it already was. */
  end(): boolean {
    if (this.finished) return false;
    this.finished = true;
    clearTimeout(this.headersTimer);
    if (this.bodyTimer) clearTimeout(this.bodyTimer);
    return true;
  }

  /** Ends the exchange with a failure; the connection, if any, is closed. */
  fail(failure: UpstreamFailure): void {
    if (!this.end()) return;
    this.letGo();
    this.handler.fail(this.answered && failure === 'upstream_unreachable' ? 'upstream_aborted' : failure);
  }

  /** The client went away: drop the exchange without telling the handler. */
  abandon(): void {
    if (this.end()) this.letGo();
  }

  /** Mid-exchange, its connection cannot carry another request: closed. Not yet sent: out of the queue. */
  private letGo(): void {
    const connection = this.connection;
    this.connection = null;
    if (connection) connection.close();
    else this.pool.cancel(this);
  }

  /** Reading the response goes on after the handler asked for a pause (a late call, once the exchange is over, does nothing). */
  resume(): void {
    if (!this.finished) this.connection?.socket.resume();
  }
}

/** One keep-alive connection to an upstream and its parser. */
class UpstreamConnection {
  readonly socket: Socket;
  private readonly parser: LlhttpParser;
  exchange: Exchange | null = null;
  /** Whether this connection has carried an exchange before the current one. */
  used = false;
  /** While idle in the pool: when it must no longer be used (the upstream may close it at any moment after). */
  idleUntil = 0;
  private status = 0;
  private pendingHeaders: string[] = [];
  private keepAlive = false;
  private idleMs = DEFAULT_IDLE_MS;
  /** The current response has ended; anything more in the same read is not an answer to anything. */
  private responseDone = false;
  /** Something arrived that is not a clean answer (a second response, a protocol switch): never reuse. */
  private unusable = false;
  private closed = false;

  /** Opens a connection for `first`, which is sent as soon as it is up (unless it has ended by then). */
  constructor(
    private readonly pool: UpstreamPool,
    first: Exchange,
  ) {
    const { host, port, tls, ca } = pool.origin;
    this.exchange = first;
    first.connection = this;
    const onConnect = () => {
      if (this.exchange) this.send(this.exchange);
    };
    this.socket = tls
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}), ALPNProtocols: ['http/1.1'] }, onConnect)
      : netConnect({ host, port }, onConnect);
    this.socket.setNoDelay(true);
    const { HTTPParser } = llhttp();
    this.parser = new HTTPParser();
    this.parser.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    this.parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
      // llhttp hands over long header blocks in parts of 32 pairs.
      for (const h of headers) this.pendingHeaders.push(h);
    };
    this.parser[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete.bind(this);
    this.parser[HTTPParser.kOnBody] = this.onBody.bind(this);
    this.parser[HTTPParser.kOnMessageComplete] = this.onMessageComplete.bind(this);
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.onClose());
  }

  /** Writes one request: the head at once, then the body as it comes, with backpressure both ways. */
  send(exchange: Exchange): void {
    this.exchange = exchange;
    exchange.connection = this;
    this.status = 0;
    this.responseDone = false;
    const { body, chunked } = exchange.message;
    this.socket.write(requestHead(exchange.message), 'latin1');
    if (!body) return;
    const socket = this.socket;
    const onData = (chunk: Buffer) => {
      let more: boolean;
      if (!chunked) more = socket.write(chunk);
      else {
        // An empty chunk would read as the end of the body.
        if (chunk.length === 0) return;
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        more = socket.write('\r\n', 'latin1');
        socket.uncork();
      }
      if (!more) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      detach();
      if (chunked) socket.write('0\r\n\r\n');
      exchange.sent = true;
      this.releaseIfDone();
    };
    // A client that leaves mid-body leaves the upstream with half a request: that connection is finished.
    const onAborted = () => {
      detach();
      if (this.exchange !== exchange) return;
      if (exchange.finished) this.close();
      else exchange.fail('upstream_aborted');
    };
    const unfollow = followBody(body, onData, onEnd, onAborted);
    const detach = () => {
      unfollow();
      socket.off('drain', onDrain);
      socket.off('close', detach);
    };
    socket.on('drain', onDrain);
    socket.on('close', detach);
  }

  /** Closes the connection and gives up its place in the pool at once (the socket's close event comes later). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.exchange = null;
    this.socket.destroy();
    this.pool.forget(this);
  }

  private onHeadersComplete(
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    statusText: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const exchange = this.exchange;
    if (!exchange || this.responseDone || upgrade) {
      // A response nobody asked for, or a protocol switch nobody asked for.
      this.unusable = true;
      return 1;
    }
    const raw = headers ?? this.pendingHeaders;
    this.pendingHeaders = [];
    this.status = status;
    // Informational answers (100, 103) are not relayed; the final answer follows on the same connection.
    if (status < 200) return 1;
    clearTimeout(exchange.headersTimer);
    this.keepAlive = keepAlive;
    const { headers: forClient, hasLength, idleMs, relayable } = clientHeaders(raw);
    if (!relayable) {
      // As a malformed answer: 502 to the client, as nginx answers an "unknown Transfer-Encoding".
      this.unusable = true;
      return 1;
    }
    this.idleMs = idleMs;
    try {
      exchange.handler.headers(status, statusText ?? '', forClient, hasLength);
    } catch {
      // Headers the client side will not carry (node:http checks them again): a bad answer.
      this.unusable = true;
      return 1;
    }
    exchange.answered = true;
    // 1: llhttp is told this response has no body, which only the request method can tell it.
    return exchange.message.method === 'HEAD' ? 1 : 0;
  }

  private onBody(chunk: Buffer): void {
    const exchange = this.exchange;
    if (!exchange || this.responseDone || this.status < 200) return;
    if (!exchange.handler.body(chunk)) this.socket.pause();
  }

  private onMessageComplete(): void {
    if (!this.exchange || this.responseDone || this.unusable) {
      this.unusable = true;
      return;
    }
    if (this.status < 200) return;
    this.responseDone = true;
  }

  private onData(data: Buffer): void {
    const exchange = this.exchange;
    if (!exchange || exchange.finished) {
      // Bytes on an idle connection, or after the answer: nothing may read them as an answer.
      this.close();
      return;
    }
    const parsed = this.parser.execute(data);
    if (this.exchange !== exchange || exchange.finished) return; // the exchange ended meanwhile (the client left)
    if (parsed instanceof Error || this.unusable) {
      // A whole answer followed by anything else still goes to its client; the connection does not survive.
      if (this.responseDone) this.finish(false);
      else exchange.fail(exchange.answered ? 'upstream_aborted' : 'upstream_unreachable');
      this.close();
      return;
    }
    if (this.responseDone) this.finish(true);
    else if (exchange.answered) exchange.bodyProgress();
  }

  /** The response ended: the handler completes, then the connection goes back to the pool if it can be trusted. */
  private finish(reusable: boolean): void {
    const exchange = this.exchange!;
    exchange.end();
    // The last write may have asked for a pause; the next exchange must find the connection reading.
    this.socket.resume();
    exchange.handler.complete();
    if (!reusable || !this.keepAlive || this.idleMs <= 0) {
      this.close();
      return;
    }
    this.releaseIfDone();
  }

  /** Back to the pool once both the response and the request body are done. */
  private releaseIfDone(): void {
    const exchange = this.exchange;
    if (!exchange || !exchange.finished || !exchange.sent || this.closed) return;
    this.exchange = null;
    this.used = true;
    this.idleUntil = Date.now() + this.idleMs;
    this.pool.release(this);
  }

  private onEnd(): void {
    const exchange = this.exchange;
    if (exchange && !this.responseDone) {
      // A body that runs until the connection closes ends here; any other response is cut short.
      const ended = this.parser.finish();
      if (!(ended instanceof Error) && this.responseDone) {
        this.keepAlive = false;
        this.finish(false);
        return;
      }
    }
    this.failOrRetry();
    this.close();
  }

  private onClose(): void {
    this.parser.close();
    if (this.closed) return;
    // Closed by the upstream or by an error: the place is free for a retry or a waiting request.
    this.closed = true;
    this.pool.forget(this);
    this.failOrRetry();
  }

  /**
   * The connection went away under an exchange. A reused connection that closed before any answer was
   * most likely closed idle by the upstream as the request went out: a request without a body and of a
   * safe method goes once more on a new connection. Anything else fails.
   */
  private failOrRetry(): void {
    const exchange = this.exchange;
    this.exchange = null;
    if (!exchange || exchange.finished) return;
    exchange.connection = null;
    if (this.used && !exchange.answered && !exchange.retried && exchange.message.body === null && RETRYABLE_METHODS.has(exchange.message.method)) {
      exchange.retried = true;
      this.pool.dispatchFresh(exchange);
      return;
    }
    exchange.fail(exchange.answered ? 'upstream_aborted' : 'upstream_unreachable');
  }
}

export interface UpstreamOrigin {
  host: string;
  port: number;
  tls: boolean;
  ca?: Buffer;
  maxSockets: number;
}

/** How often idle connections past their time are closed (they are also never reused past it). */
const IDLE_SWEEP_MS = 1_000;

/** Keep-alive connections to one upstream, at most `maxSockets` at a time; requests beyond that wait their turn. */
export class UpstreamPool {
  /** Most recently used last: requests take the warmest connection, and the coldest expire. */
  private readonly idle: UpstreamConnection[] = [];
  private readonly waiting: Exchange[] = [];
  private readonly connections = new Set<UpstreamConnection>();
  private sweeper: NodeJS.Timeout | null = null;
  private destroyed = false;

  constructor(readonly origin: UpstreamOrigin) {}

  /** Sends one request; the handler hears how it went. The exchange can be abandoned, or resumed after a pause. */
  request(message: UpstreamRequestMessage, handler: ResponseHandler): Pick<Exchange, 'abandon' | 'resume'> {
    const exchange = new Exchange(this, message, handler);
    this.dispatch(exchange, false);
    return exchange;
  }

  /** A retry: never on an idle connection, which may be as stale as the one that failed. */
  dispatchFresh(exchange: Exchange): void {
    this.dispatch(exchange, true);
  }

  private dispatch(exchange: Exchange, fresh: boolean): void {
    if (this.destroyed) return exchange.fail('upstream_unreachable');
    const now = fresh ? Infinity : Date.now();
    let idle = this.idle.pop();
    while (idle && idle.idleUntil <= now) {
      idle.close();
      idle = this.idle.pop();
    }
    if (idle) return idle.send(exchange);
    if (this.connections.size < this.origin.maxSockets) {
      this.connections.add(new UpstreamConnection(this, exchange));
      return;
    }
    this.waiting.push(exchange);
  }

  /** The longest-waiting exchange that has not given up meanwhile. */
  private nextWaiting(): Exchange | undefined {
    let next = this.waiting.shift();
    while (next?.finished) next = this.waiting.shift();
    return next;
  }

  /** A connection free for the next request: the longest-waiting one takes it, or it waits idle. */
  release(connection: UpstreamConnection): void {
    const next = this.nextWaiting();
    if (next) return connection.send(next);
    this.idle.push(connection);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), IDLE_SWEEP_MS);
      this.sweeper.unref();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.idle.filter((c) => c.idleUntil <= now)) connection.close();
    if (this.idle.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** An exchange gave up while waiting for a connection. */
  cancel(exchange: Exchange): void {
    const i = this.waiting.indexOf(exchange);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** A connection closed: its slot goes to a waiting request, if any. */
  forget(connection: UpstreamConnection): void {
    this.connections.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.nextWaiting();
    if (next) this.dispatch(next, false);
  }

  destroy(): void {
    this.destroyed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const exchange of this.waiting.splice(0)) exchange.fail('upstream_unreachable');
    this.idle.length = 0;
    for (const connection of this.connections) connection.close();
  }
}
