/**
 * The two HTTP engines the gateway runs on, behind one small interface: `llhttp`, its own server and client
 * on Node's `_http_common` parser (server.ts, upstream.ts; the faster), and `node`, node:http's server and
 * client (node-server.ts, node-upstream.ts), for a Node that no longer exposes that parser. The gateway picks
 * one as it starts: `listen.engine` (default `auto`), or WARDEN_GATEWAY_ENGINE over it.
 */
import type { Server } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { WardenError } from '../errors.js';
import { llhttpUnavailable } from './llhttp.js';
import { NodeClientServer } from './node-server.js';
import { NodeUpstreamPool } from './node-upstream.js';
import { ClientServer, type ClientHandlers } from './server.js';
import { UpstreamPool, type ResponseHandler, type UpstreamOrigin, type UpstreamRequestMessage } from './upstream.js';

export const ENGINE_SETTINGS = ['auto', 'llhttp', 'node'] as const;
export type EngineSetting = (typeof ENGINE_SETTINGS)[number];

/** The client-facing listener: the server to bind, and a close that lets queued answers finish. */
export interface ClientListener {
  readonly server: Server;
  close(): Promise<void>;
}

/** Requests to one upstream origin. */
export interface UpstreamClient {
  request(message: UpstreamRequestMessage, handler: ResponseHandler): { abandon(): void; resume(): void };
  destroy(): void;
}

export interface HttpEngine {
  readonly name: 'llhttp' | 'node';
  listen(handlers: ClientHandlers, tls?: TlsOptions): ClientListener;
  upstream(origin: UpstreamOrigin): UpstreamClient;
}

const LLHTTP_ENGINE: HttpEngine = {
  name: 'llhttp',
  listen: (handlers, tls) => new ClientServer(handlers, tls),
  upstream: (origin) => new UpstreamPool(origin),
};

const NODE_ENGINE: HttpEngine = {
  name: 'node',
  listen: (handlers, tls) => new NodeClientServer(handlers, tls),
  upstream: (origin) => new NodeUpstreamPool(origin),
};

/**
 * The engine for a `listen.engine` setting, WARDEN_GATEWAY_ENGINE taking precedence. `auto` is llhttp when
 * Node's parser can be loaded, else node:http with a one-line warning; an explicit `llhttp` without the parser
 * is an error that says so (exit 3), never a stack trace on the first request.
 */
export function selectEngine(configured: EngineSetting, env: NodeJS.ProcessEnv, warn: (message: string) => void): HttpEngine {
  const override = env.WARDEN_GATEWAY_ENGINE;
  if (override && !(ENGINE_SETTINGS as readonly string[]).includes(override))
    throw new WardenError(`WARDEN_GATEWAY_ENGINE must be one of ${ENGINE_SETTINGS.join(', ')}, not ${JSON.stringify(override)}`, 'GATEWAY_ENGINE_INVALID', 2);
  const setting = (override || configured) as EngineSetting;
  if (setting === 'node') return NODE_ENGINE;
  const missing = llhttpUnavailable(env);
  if (!missing) return LLHTTP_ENGINE;
  if (setting === 'llhttp')
    throw new WardenError(`listen.engine llhttp cannot run: ${missing}; set listen.engine to node or auto`, 'GATEWAY_NO_HTTP_PARSER', 3);
  warn(`gateway: ${missing}; serving with node:http instead (listen.engine: node)`);
  return NODE_ENGINE;
}
