/**
 * The gateway's upstream client on node:http (`listen.engine: node`), for a Node whose `_http_common` parser
 * the gateway's own client (upstream.ts) cannot use. Same contract: keep-alive connections per origin, at
 * most `maxSockets`; `headersTimeoutMs` from dispatch (queueing and connecting included) and `bodyTimeoutMs`
 * of silence; hop-by-hop response fields stripped and a Transfer-Encoding other than chunked alone refused
 * (clientHeaders); a bodiless GET, HEAD or OPTIONS retried once when a reused connection turns out closed.
 * node:http follows no redirect, reads no proxy setting from the environment, and destroys a connection on
 * which a second response arrives; a byte on an idle connection closes it here, as upstream.ts does.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest as HttpClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import {
  clientHeaders,
  DEFAULT_IDLE_MS,
  followBody,
  RETRYABLE_METHODS,
  type ResponseHandler,
  type UpstreamFailure,
  type UpstreamOrigin,
  type UpstreamRequestMessage,
} from './upstream.js';

/** Methods node:http sends without framing when no body is given; for any other, it would add chunked coding. */
const BODILESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * The fields with the gateway's framing: chunked coding when the client's body is chunked, and for a request
 * without a body whose method node:http would frame as an empty chunked body, `content-length: 0` instead
 * (as RFC 9110 §8.6 asks of a client), so the upstream reads the same request on either engine.
 */
function framedFields({ method, fields, body, chunked }: UpstreamRequestMessage): string[] {
  if (chunked) return [...fields, 'transfer-encoding', 'chunked'];
  let hasLength = false;
  for (let i = 0; i < fields.length && !hasLength; i += 2) hasLength = fields[i] === 'content-length';
  return body === null && !hasLength && !BODILESS_BY_DEFAULT.has(method) ? [...fields, 'content-length', '0'] : [...fields];
}

/** One request, from dispatch to its end (a retry is the same exchange on another connection). */
class NodeExchange {
  private req: HttpClientRequest | null = null;
  private res: IncomingMessage | null = null;
  private answered = false;
  /** The request body has been written in full (or there was none). */
  private sent: boolean;
  finished = false;
  private retried = false;
  private readonly headersTimer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | null = null;
  private detachBody: (() => void) | null = null;

  constructor(
    private readonly pool: NodeUpstreamPool,
    private readonly message: UpstreamRequestMessage,
    private readonly handler: ResponseHandler,
  ) {
    this.sent = message.body === null;
    this.headersTimer = setTimeout(() => this.fail('upstream_timeout'), message.headersTimeoutMs);
  }

  /**
   * Sends the request through the pool's agent. A retry goes there too: unlike upstream.ts, the agent cannot be
   * asked for a new connection, so a retry may take another idle one (and fails if that is stale as well).
   */
  dispatch(): void {
    const { origin } = this.pool;
    const { method, target } = this.message;
    const options: RequestOptions = {
      agent: this.pool.agent,
      host: origin.host,
      port: origin.port,
      method,
      path: target,
      // As a list, the fields go out as they are: node:http adds no Host of its own.
      headers: framedFields(this.message),
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
      // node:https sends the host as the TLS server name, except for an IP address.
      ...(origin.tls ? { ALPNProtocols: ['http/1.1'], ...(origin.ca ? { ca: origin.ca } : {}) } : {}),
    };
    const req = (origin.tls ? httpsRequest : httpRequest)(options);
    this.req = req;
    req.on('socket', (socket: Socket) => this.pool.busy(socket));
    req.on('response', (res: IncomingMessage) => this.onResponse(res));
    req.on('error', () => this.onError(req));
    this.sendBody(req);
  }

  /** Streams the client's body with backpressure both ways. */
  private sendBody(req: HttpClientRequest): void {
    const body = this.message.body;
    if (!body) {
      req.end();
      return;
    }
    const onData = (chunk: Buffer) => {
      // An empty chunk would read as the end of a chunked body.
      if (chunk.length > 0 && !req.write(chunk)) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      detach();
      this.sent = true;
      req.end();
    };
    // A client that leaves mid-body leaves the upstream with half a request: that connection is finished.
    const onAborted = () => {
      detach();
      if (this.finished) req.destroy();
      else this.fail('upstream_aborted');
    };
    const unfollow = followBody(body, onData, onEnd, onAborted);
    const detach = () => {
      this.detachBody = null;
      unfollow();
      req.off('drain', onDrain);
    };
    this.detachBody = detach;
    req.on('drain', onDrain);
  }

  private onResponse(res: IncomingMessage): void {
    if (this.finished) {
      res.destroy();
      return;
    }
    this.res = res;
    clearTimeout(this.headersTimer);
    const { headers, hasLength, relayable } = clientHeaders(res.rawHeaders);
    // As a malformed answer: 502 to the client, as nginx answers an "unknown Transfer-Encoding".
    if (!relayable) return this.fail('upstream_unreachable');
    try {
      this.handler.headers(res.statusCode ?? 502, res.statusMessage ?? '', headers, hasLength);
    } catch {
      // Headers the client side will not carry: a bad answer.
      return this.fail('upstream_unreachable');
    }
    this.answered = true;
    this.bodyProgress();
    res.on('data', (chunk: Buffer) => {
      if (this.finished) return;
      this.bodyProgress();
      if (!this.handler.body(chunk)) res.pause();
    });
    res.on('end', () => this.complete());
    res.on('error', () => this.fail('upstream_aborted'));
    res.on('close', () => {
      if (!res.complete) this.fail('upstream_aborted');
    });
  }

  /** Body bytes arrived (or the headers, with the body still to come): the silence allowed starts again. */
  private bodyProgress(): void {
    if (this.bodyTimer) this.bodyTimer.refresh();
    else this.bodyTimer = setTimeout(() => this.fail('upstream_timeout'), this.message.bodyTimeoutMs);
  }

  /** Marks the exchange over and stops its timers; false if it already was. */
  private end(): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.pool.ended(this);
    clearTimeout(this.headersTimer);
    if (this.bodyTimer) clearTimeout(this.bodyTimer);
    return true;
  }

  private complete(): void {
    if (!this.end()) return;
    this.pool.idle(this.req!.socket);
    // Answered before the body was all sent (an early 413): that connection is mid-request, and closes.
    if (!this.sent) {
      this.detachBody?.();
      this.req!.destroy();
    }
    this.handler.complete();
  }

  /** The connection failed under the exchange: a stale reused one is retried once for a safe bodiless request. */
  private onError(req: HttpClientRequest): void {
    if (this.finished || req !== this.req) return;
    if (req.reusedSocket && !this.answered && !this.retried && this.message.body === null && RETRYABLE_METHODS.has(this.message.method)) {
      this.retried = true;
      this.dispatch();
      return;
    }
    this.fail(this.answered ? 'upstream_aborted' : 'upstream_unreachable');
  }

  fail(failure: UpstreamFailure): void {
    if (!this.end()) return;
    this.detachBody?.();
    this.req?.destroy();
    this.handler.fail(this.answered && failure === 'upstream_unreachable' ? 'upstream_aborted' : failure);
  }

  /** The client went away: drop the exchange without telling the handler. */
  abandon(): void {
    if (!this.end()) return;
    this.detachBody?.();
    this.req?.destroy();
  }

  /** Reading the response goes on after the handler asked for a pause. */
  resume(): void {
    if (!this.finished) this.res?.resume();
  }
}

/** Keep-alive connections to one upstream through a node:http(s) Agent, at most `maxSockets` at a time. */
export class NodeUpstreamPool {
  readonly agent: HttpAgent;
  private readonly open = new Set<NodeExchange>();
  /** Connections between exchanges: any byte arriving on one is not an answer to anything. */
  private readonly idleSockets = new WeakSet<Socket>();
  private readonly guarded = new WeakSet<Socket>();
  private destroyed = false;

  constructor(readonly origin: UpstreamOrigin) {
    // lifo: requests take the warmest connection, and the coldest expire. An idle connection is kept 4 s, or
    // until 1 s before the upstream's advertised Keep-Alive timeout (node:http's own rule), as upstream.ts does.
    const options = {
      keepAlive: true,
      maxSockets: origin.maxSockets,
      maxFreeSockets: origin.maxSockets,
      scheduling: 'lifo' as const,
      timeout: DEFAULT_IDLE_MS,
    };
    this.agent = origin.tls ? new HttpsAgent(options) : new HttpAgent(options);
  }

  request(message: UpstreamRequestMessage, handler: ResponseHandler): Pick<NodeExchange, 'abandon' | 'resume'> {
    const exchange = new NodeExchange(this, message, handler);
    if (this.destroyed) {
      exchange.fail('upstream_unreachable');
      return exchange;
    }
    this.open.add(exchange);
    exchange.dispatch();
    return exchange;
  }

  ended(exchange: NodeExchange): void {
    this.open.delete(exchange);
  }

  /** A connection starts carrying an exchange. */
  busy(socket: Socket): void {
    this.idleSockets.delete(socket);
    if (this.guarded.has(socket)) return;
    this.guarded.add(socket);
    socket.on('data', () => {
      if (this.idleSockets.has(socket)) socket.destroy();
    });
  }

  /** An exchange's response has ended; its connection, if kept, is idle until the next one. */
  idle(socket: Socket | null): void {
    if (socket) this.idleSockets.add(socket);
  }

  destroy(): void {
    this.destroyed = true;
    for (const exchange of [...this.open]) exchange.fail('upstream_unreachable');
    this.agent.destroy();
  }
}
