/**
 * The authorization server's HTTP front door, on the gateway's own HTTP engine: `/auth` for nginx
 * `auth_request`, Caddy `forward_auth` and Traefik `forwardAuth`, `/envoy/…` for Envoy's HTTP ext_authz
 * service. A 2xx answer lets the request through with identity headers for the proxy to copy upstream; a
 * refusal is the gateway's status and JSON body, also in `X-Warden-Refusal` for nginx, which shows its own
 * error page. Anything else (a 404 here, a 500) is an error to the proxy, which then refuses: it fails closed.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ClientListener, HttpEngine } from '../engine.js';
import { refusalBody, type Refusal } from '../policy.js';
import { closeUpgrade } from '../proxy.js';
import type { ClientRequest, ClientResponse } from '../server.js';
import type { AuthzAnswer, OriginalRequest } from './authorize.js';
import { envoyHttpReport, forwardAuthReport, ReportedFields } from './report.js';

export const FORWARD_AUTH_PATH = '/auth';
/** Envoy's `http_service.path_prefix`: the original path follows it. */
export const ENVOY_HTTP_PREFIX = '/envoy';
/** Envoy's HTTP ext_authz client removes the request headers this response field lists before forwarding. */
const ENVOY_HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

/** Judges a report and records the exchange (gateway.ts). */
export type Judge = (report: OriginalRequest | Refusal) => AuthzAnswer | Promise<AuthzAnswer>;

type Answer = { status: number; fields: string[]; body: string };

function fieldsOf(req: ClientRequest): ReportedFields {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < req.fields.length; i += 2) pairs.push([req.fields[i]!, req.fields[i + 1]!]);
  return new ReportedFields(pairs);
}

function reportOf(req: ClientRequest): OriginalRequest | Refusal | null {
  const target = req.url;
  if (target === FORWARD_AUTH_PATH || target.startsWith(`${FORWARD_AUTH_PATH}?`)) return forwardAuthReport(fieldsOf(req));
  if (target.startsWith(`${ENVOY_HTTP_PREFIX}/`)) return envoyHttpReport(fieldsOf(req), req.method, target, ENVOY_HTTP_PREFIX);
  return null;
}

function toHttp(answer: AuthzAnswer, envoy: boolean): Answer {
  const refusal = answer.refusal;
  if (!refusal) {
    const fields = answer.set.flat();
    if (envoy) fields.push(ENVOY_HEADERS_TO_REMOVE, answer.remove.join(','));
    // Empty, not absent: Caddy 2.6's copy_headers sets a header the answer lacks to its placeholder's literal text.
    else for (const name of answer.unset) fields.push(name, '');
    return { status: 200, fields: [...fields, 'cache-control', 'no-store', 'content-length', '0'], body: '' };
  }
  const body = JSON.stringify(refusalBody(refusal, answer.decision?.route.name ?? null));
  const fields = ['content-type', 'application/json', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(body)), 'x-warden-refusal', body];
  for (const [name, value] of Object.entries(refusal.headers ?? {})) fields.push(name, value);
  return { status: refusal.status, fields, body };
}

const NOT_FOUND: Answer = (() => {
  const body = JSON.stringify({ error: 'not_found', message: `ask ${FORWARD_AUTH_PATH} (nginx, Caddy, Traefik) or ${ENVOY_HTTP_PREFIX}/<path> (Envoy)` });
  return { status: 404, fields: ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))], body };
})();

const INTERNAL_ERROR: Answer = { status: 500, fields: ['content-type', 'application/json', 'content-length', '26'], body: '{"error":"internal_error"}' };

export class AuthzHttpServer {
  private readonly listener: ClientListener;

  constructor(
    engine: HttpEngine,
    private readonly judge: Judge,
    private readonly log: (message: string) => void,
  ) {
    this.listener = engine.listen({ request: (req, res) => void this.handle(req, res), upgrade: (req, socket) => void this.handleUpgrade(req, socket) });
  }

  get server(): ClientListener['server'] {
    return this.listener.server;
  }

  private async answer(req: ClientRequest): Promise<Answer> {
    try {
      const report = reportOf(req);
      if (!report) return NOT_FOUND;
      const judged = this.judge(report);
      return toHttp(judged instanceof Promise ? await judged : judged, req.url.startsWith(`${ENVOY_HTTP_PREFIX}/`));
    } catch (err) {
      // A bug must not become an allow: the proxy reads a 500 as an error and refuses.
      this.log(`gateway: authz: internal error: ${(err as Error).message}`);
      return INTERNAL_ERROR;
    }
  }

  private async handle(req: ClientRequest, res: ClientResponse): Promise<void> {
    // Only the head is judged; a body (Envoy may send one) is read and dropped.
    req.body?.resume();
    const a = await this.answer(req);
    res.writeHead(a.status, STATUS_CODES[a.status] ?? '', a.fields, true);
    res.end(a.body);
  }

  /** A proxy that passes a WebSocket handshake on to its authorizer gets the same answer, and the connection closes. */
  private async handleUpgrade(req: ClientRequest, socket: Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    const a = await this.answer(req);
    let head = `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ''}\r\n`;
    for (let i = 0; i < a.fields.length; i += 2) head += `${a.fields[i]}: ${a.fields[i + 1]}\r\n`;
    closeUpgrade(socket, `${head}connection: close\r\n\r\n${a.body}`);
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}
