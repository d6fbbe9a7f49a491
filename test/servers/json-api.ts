/**
 * The HTTP plumbing shared by the test servers of REST services (Grafana, Docker, Kubernetes, the AI stack):
 * each service file supplies its documented routes; this file records requests, decides whether a request is
 * authorised (open mode: always; locked mode: only with the configured Authorization header), and in
 * garbage mode answers with bytes that are not HTTP. With `tls` it serves HTTPS, like the services that only
 * speak TLS (the Kubernetes API server, the kubelet, Docker on 2376).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { listenLoopback, type TestServer } from './hostile.js';

export type ApiMode = 'open' | 'locked' | 'garbage';

export interface ApiRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
  /** Open mode, or locked mode with the accepted Authorization header. */
  authorised: boolean;
}

export interface ApiAnswer {
  status?: number;
  /** Serialised as JSON unless it is a string. */
  body: unknown;
  headers?: Record<string, string>;
}

export type ApiRoutes = (req: ApiRequest) => ApiAnswer;

export interface TestApi extends TestServer {
  /** `METHOD path?query` of every request received. */
  requests: string[];
}

export interface TestApiOptions {
  mode: ApiMode;
  /** Locked mode: the one Authorization header value accepted. */
  authorization?: string;
  port?: number;
  /** Serve HTTPS with this key and certificate (PEM), as services that only speak TLS do. */
  tls?: { key: string; cert: string };
}

export const notFound: ApiAnswer = { status: 404, body: { detail: 'Not Found' } };

export async function startTestApi(opts: TestApiOptions, routes: ApiRoutes): Promise<TestApi> {
  const requests: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (opts.mode === 'garbage') {
      req.socket.end('\x00\xff garbage, not HTTP\r\n\r\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const authorised = opts.mode === 'open' || (opts.authorization !== undefined && req.headers.authorization === opts.authorization);
      const answer = routes({
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://localhost'),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        authorised,
      });
      const text = typeof answer.body === 'string';
      res.writeHead(answer.status ?? 200, { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', ...answer.headers });
      res.end(text ? (answer.body as string) : JSON.stringify(answer.body));
    });
  };
  const listening = await listenLoopback(opts.tls ? createTlsServer(opts.tls, handle) : createServer(handle), opts.port);
  return { ...listening, requests };
}
