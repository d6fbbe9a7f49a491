/**
 * Gateway configuration: YAML checked against `schema/gateway-config.schema.json`, then compiled
 * into what the request path needs (profiles loaded, files read, environment resolved). Every error
 * names the file and line.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { WardenError } from '../errors.js';
import { LocatedYaml, type YamlPath } from '../yaml-schema.js';
import type { AssertionOptions } from './assertion.js';
import type { EngineSetting } from './engine.js';
import type { CredentialKind, Identity } from './auth/identity.js';
import type { MtlsConfig } from './auth/mtls.js';
import type { OidcIssuerConfig } from './auth/oidc.js';
import { ENDPOINT_CLASSES, loadProfile, ProfileError, type EndpointClass, type Profile } from './profiles.js';

/** `schema/gateway-config.schema.json`, two folders up from both `src/gateway` and `dist/gateway`. */
export const GATEWAY_CONFIG_SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../schema/gateway-config.schema.json', import.meta.url)), 'utf8'),
) as object;

export class GatewayConfigError extends WardenError {
  constructor(message: string) {
    super(message, 'GATEWAY_CONFIG_INVALID', 2);
  }
}

export type IdentityField = 'subject' | 'kind' | 'keyId' | 'owner' | 'scopes' | 'issuer';

export interface AllowRule {
  endpoints: ReadonlySet<string>;
  classes: ReadonlySet<EndpointClass>;
  methods: ReadonlySet<string> | null;
  scopes: readonly string[];
}

/** What one client may take of a route's upstream; see docs/gateway.md, "Concurrency limits and the body-rate floor". */
export interface RouteLimits {
  /** Upstream exchanges one identity (on a public endpoint: one client address) may have in flight on this route's upstream pool. */
  inFlightPerIdentity: number;
  /** A request body that arrives slower than this, over a window of time the gateway was reading, is cut off (408); 0: no floor. */
  bodyRate: { minBytesPerSecond: number; windowMs: number };
}

/** A client of the 1990s on a modem still sends faster; a body slower than this is holding a connection, not uploading. */
const DEFAULT_BODY_RATE = { minBytesPerSecond: 1024, windowMs: 10_000 };

export interface RouteConfig {
  name: string;
  /** Exact host, or a suffix such as `.example.com` from `*.example.com`. */
  host: { exact: string } | { suffix: string } | null;
  pathPrefix: string;
  stripPrefix: boolean;
  upstream: {
    url: URL;
    timeoutMs: number;
    idleTimeoutMs: number;
    maxSockets: number;
    ca?: Buffer;
    /** Header name (lower case) -> value taken from the environment at load time. */
    inject: ReadonlyArray<[string, string]>;
  };
  profile: Profile;
  credentials: ReadonlySet<CredentialKind>;
  public: ReadonlySet<string>;
  allow: readonly AllowRule[];
  identityHeaders: ReadonlyArray<[string, IdentityField]>;
  assertion: boolean;
  limits: RouteLimits;
}

export interface GatewayConfig {
  listen: { host: string; port: number; engine: EngineSetting; tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer } };
  keys: { store?: string; maxStalenessMs?: number; prefix?: string };
  oidc: OidcIssuerConfig[];
  mtls: MtlsConfig;
  assertion: AssertionOptions | null;
  accessLog: { path: string } | null;
  metrics: { host: string; port: number; scope: string } | null;
  /** The authorization server's listeners (authz/), for a proxy already in front; null: none. */
  authz: { http: ListenAddress | null; grpc: ListenAddress | null } | null;
  routes: RouteConfig[];
}

export interface ListenAddress {
  host: string;
  port: number;
}

interface RawRoute {
  name: string;
  match?: { host?: string; pathPrefix?: string };
  stripPrefix?: boolean;
  upstream: {
    url: string;
    profile: string;
    timeoutMs?: number;
    idleTimeoutMs?: number;
    maxSockets?: number;
    ca?: string;
    injectHeaders?: Record<string, { env: string }>;
  };
  credentials?: CredentialKind[];
  public?: string[];
  allow: Array<{ endpoints?: string[]; classes?: EndpointClass[]; methods?: string[]; scopes: string[] }>;
  identityHeaders?: Record<string, IdentityField>;
  assertion?: boolean;
  limits?: RawLimits;
}

interface RawLimits {
  inFlightPerIdentity?: number;
  bodyRate?: Partial<RouteLimits['bodyRate']>;
}

interface RawConfig {
  listen?: { host?: string; port?: number; engine?: EngineSetting; tls?: { cert: string; key: string; clientCa?: string } };
  keys?: GatewayConfig['keys'];
  oidc?: OidcIssuerConfig[];
  mtls?: MtlsConfig;
  assertion?: AssertionOptions;
  accessLog?: { path?: string };
  metrics?: { host?: string; port: number; scope?: string };
  authz?: { listen?: { host?: string; port: number }; grpc?: { host?: string; port: number } };
  limits?: RawLimits;
  routes: RawRoute[];
}

const validate = new Ajv({ allErrors: true, strict: false }).compile<RawConfig>(GATEWAY_CONFIG_SCHEMA);

/** Headers a client may never set itself: the gateway's own would otherwise be forgeable. */
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'upgrade']);

type Located = YamlPath;

/** Messages for this schema's own rules; the rest use the generic wording. */
function explain(error: ErrorObject, at: string): string | undefined {
  if (error.keyword === 'anyOf' && /allow\/\d+$/.test(error.instancePath)) return `${at}: name endpoints or classes to allow`;
  return undefined;
}

/** `oneOf`/`anyOf` report every failed branch: keep the most specific error per place. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter(
    (e) =>
      !['oneOf', 'type', 'if'].includes(e.keyword) &&
      !(e.keyword === 'required' && errors.some((o) => o.keyword === 'anyOf' && o.instancePath === e.instancePath)),
  );
  return specific.length ? specific : errors;
}

/** Parses, validates and compiles a config text; `source` names it in errors; relative paths resolve against `baseDir`. */
export function parseGatewayConfig(text: string, source: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const toError = (message: string) => new GatewayConfigError(message);
  const yaml = LocatedYaml.parse(text, source, toError);
  const raw = yaml.validate(yaml.toJS(), validate, toError, { explain, keep: relevant });
  const fail = (path: Located, message: string): never => {
    throw new GatewayConfigError(`${yaml.where(path)}: ${path.join('.')}: ${message}`);
  };
  const readPem = (file: string, path: Located): Buffer => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      return fail(path, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };

  const tls = raw.listen?.tls;
  const oidc = raw.oidc ?? [];
  const names = new Set<string>();
  const routes = raw.routes.map((r, i): RouteConfig => {
    const at = (...rest: Located): Located => ['routes', i, ...rest];
    if (names.has(r.name)) fail(at('name'), `route name ${JSON.stringify(r.name)} is used twice`);
    names.add(r.name);
    let profile: Profile;
    try {
      profile = loadProfile(/[/.]/.test(r.upstream.profile) ? resolve(baseDir, r.upstream.profile) : r.upstream.profile);
    } catch (err) {
      return fail(at('upstream', 'profile'), err instanceof ProfileError ? err.message : String(err));
    }
    const known = new Set<string>([...profile.endpoints.map((e) => e.name), ...ENDPOINT_CLASSES]);
    r.public?.forEach(
      (name, j) => known.has(name) || fail(at('public', j), `${JSON.stringify(name)} is neither an endpoint of profile ${profile.kind} nor a class`),
    );
    r.allow.forEach((rule, j) =>
      rule.endpoints?.forEach(
        (name, k) =>
          profile.endpoints.some((e) => e.name === name) ||
          fail(at('allow', j, 'endpoints', k), `profile ${profile.kind} has no endpoint ${JSON.stringify(name)}`),
      ),
    );
    const credentials = new Set<CredentialKind>(r.credentials ?? ['key']);
    if (credentials.has('jwt') && oidc.length === 0) fail(at('credentials'), 'accepts jwt but no oidc issuer is configured');
    if (credentials.has('mtls') && !tls?.clientCa) fail(at('credentials'), 'accepts mtls but listen.tls.clientCa is not set');
    const inject = Object.entries(r.upstream.injectHeaders ?? {}).map(([header, { env: name }]): [string, string] => {
      const value = env[name];
      if (value === undefined || value === '') fail(at('upstream', 'injectHeaders', header), `environment variable ${name} is not set`);
      return [header.toLowerCase(), value!];
    });
    const identityHeaders = Object.entries(r.identityHeaders ?? {}).map(([header, field]): [string, IdentityField] => {
      if (RESERVED_HEADERS.has(header.toLowerCase())) fail(at('identityHeaders', header), `${header} cannot carry an identity`);
      return [header.toLowerCase(), field];
    });
    const host = r.match?.host?.toLowerCase();
    const prefix = r.match?.pathPrefix ?? '/';
    const maxSockets = r.upstream.maxSockets ?? 256;
    return {
      name: r.name,
      host: host === undefined ? null : host.startsWith('*.') ? { suffix: host.slice(1) } : { exact: host },
      pathPrefix: prefix.length > 1 ? prefix.replace(/\/$/, '') : prefix,
      stripPrefix: r.stripPrefix ?? false,
      upstream: {
        url: new URL(r.upstream.url),
        timeoutMs: r.upstream.timeoutMs ?? 30_000,
        idleTimeoutMs: r.upstream.idleTimeoutMs ?? 300_000,
        maxSockets,
        ...(r.upstream.ca ? { ca: readPem(r.upstream.ca, at('upstream', 'ca')) } : {}),
        inject,
      },
      profile,
      credentials,
      public: new Set(r.public ?? []),
      allow: r.allow.map((rule) => ({
        endpoints: new Set(rule.endpoints ?? []),
        classes: new Set(rule.classes ?? []),
        methods: rule.methods ? new Set(rule.methods) : null,
        scopes: rule.scopes,
      })),
      identityHeaders,
      assertion: r.assertion ?? false,
      limits: {
        // A quarter of the pool by default: one identity can never hold every connection to an upstream.
        inFlightPerIdentity: r.limits?.inFlightPerIdentity ?? raw.limits?.inFlightPerIdentity ?? Math.max(1, Math.floor(maxSockets / 4)),
        bodyRate: { ...DEFAULT_BODY_RATE, ...raw.limits?.bodyRate, ...r.limits?.bodyRate },
      },
    };
  });
  if (routes.some((r) => r.assertion) && !raw.assertion)
    fail(['routes'], 'a route asks for an identity assertion but the top-level assertion section is missing');
  return {
    listen: {
      host: raw.listen?.host ?? '127.0.0.1',
      port: raw.listen?.port ?? 8480,
      engine: raw.listen?.engine ?? 'auto',
      ...(tls
        ? {
            tls: {
              cert: readPem(tls.cert, ['listen', 'tls', 'cert']),
              key: readPem(tls.key, ['listen', 'tls', 'key']),
              ...(tls.clientCa ? { clientCa: readPem(tls.clientCa, ['listen', 'tls', 'clientCa']) } : {}),
            },
          }
        : {}),
    },
    keys: raw.keys ?? {},
    oidc,
    mtls: raw.mtls ?? {},
    assertion: raw.assertion ?? null,
    accessLog: raw.accessLog ? { path: raw.accessLog.path ?? '-' } : null,
    metrics: raw.metrics ? { host: raw.metrics.host ?? '127.0.0.1', port: raw.metrics.port, scope: raw.metrics.scope ?? 'gateway:metrics' } : null,
    authz: raw.authz ? { http: loopbackUnlessTold(raw.authz.listen), grpc: loopbackUnlessTold(raw.authz.grpc) } : null,
    routes,
  };
}

function loopbackUnlessTold(address: { host?: string; port: number } | undefined): ListenAddress | null {
  return address ? { host: address.host ?? '127.0.0.1', port: address.port } : null;
}

export function loadGatewayConfig(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseGatewayConfig(text, path, dirname(resolve(path)), env);
}

/** The value an identity header carries. */
export function identityValue(identity: Identity, field: IdentityField): string | undefined {
  if (field === 'scopes') return identity.scopes.join(' ');
  const value = identity[field];
  return value === undefined ? undefined : String(value);
}
