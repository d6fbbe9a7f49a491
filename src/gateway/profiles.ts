/**
 * Upstream profiles are data (`profiles/<kind>.yaml`): every path a kind of server answers, with
 * the class of what it does. A request whose path no endpoint names is refused, so a path the
 * profile's author never heard of is closed by default.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { WardenError } from '../errors.js';

export const ENDPOINT_CLASSES = ['health', 'read', 'inference', 'write', 'administration', 'ui'] as const;
export type EndpointClass = (typeof ENDPOINT_CLASSES)[number];
export const SHIPPED_PROFILES = ['clickhouse', 'prometheus', 'grafana', 'ollama', 'vllm', 'openai-compatible'] as const;
export const PROFILES_DIR = fileURLToPath(new URL('./profiles/', import.meta.url));

export interface Endpoint {
  name: string;
  /** Exact path, or a prefix ending in `*`. */
  path: string;
  /** The methods it takes: every endpoint names them, so a method its author never listed stays shut. */
  methods: string[];
  class: EndpointClass;
  /** A WebSocket endpoint: the only kind of endpoint a client may upgrade on. */
  websocket?: boolean;
}

export interface Profile {
  kind: string;
  /** Headers and query parameters that carry the upstream's own credentials; removed from every request. */
  credentialHeaders: string[];
  credentialParams: string[];
  endpoints: Endpoint[];
}

export class ProfileError extends WardenError {
  constructor(message: string) {
    super(message, 'GATEWAY_PROFILE_INVALID', 2);
  }
}

const PROFILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'endpoints'],
  properties: {
    kind: { type: 'string', pattern: '^[a-z0-9-]+$' },
    credentialHeaders: { type: 'array', items: { type: 'string' } },
    credentialParams: { type: 'array', items: { type: 'string' } },
    endpoints: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'path', 'methods', 'class'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9-]+$' },
          path: { type: 'string', pattern: '^/[^*?#]*\\*?$' },
          methods: { type: 'array', items: { type: 'string', pattern: '^[A-Z]+$' }, minItems: 1 },
          class: { enum: ENDPOINT_CLASSES },
          websocket: { type: 'boolean' },
        },
      },
    },
  },
};
const validateProfile = new Ajv({ allErrors: true }).compile<Profile>(PROFILE_SCHEMA);

/** Loads a shipped profile by kind, or a profile file by path. */
export function loadProfile(nameOrPath: string): Profile {
  const shipped = (SHIPPED_PROFILES as readonly string[]).includes(nameOrPath);
  const path = shipped ? join(PROFILES_DIR, `${nameOrPath}.yaml`) : nameOrPath;
  let data: unknown;
  try {
    data = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProfileError(
      `profile ${JSON.stringify(nameOrPath)}: ${shipped || /[/.]/.test(nameOrPath) ? (err as Error).message : `not one of ${SHIPPED_PROFILES.join(', ')} and not a readable file`}`,
    );
  }
  if (!validateProfile(data)) {
    const why = (validateProfile.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
    throw new ProfileError(`profile ${path}: ${why}`);
  }
  return {
    kind: data.kind,
    credentialHeaders: (data.credentialHeaders ?? []).map((h) => h.toLowerCase()),
    credentialParams: data.credentialParams ?? [],
    endpoints: data.endpoints,
  };
}

/** What a path resolved to: an endpoint, a named path used with a method it does not take, or nothing. */
export type EndpointMatch = { endpoint: Endpoint } | { wrongMethod: true } | null;

function pathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

export function matchEndpoint(profile: Profile, method: string, path: string): EndpointMatch {
  let named = false;
  for (const endpoint of profile.endpoints) {
    if (!pathMatches(endpoint.path, path)) continue;
    named = true;
    if (endpoint.methods.includes(method)) return { endpoint };
  }
  return named ? { wrongMethod: true } : null;
}

/**
 * Upstreams normalise paths in different ways, so a path that could mean two things is refused
 * rather than matched: dot segments (`..;` too, which Java servers read as `..`), doubled slashes,
 * backslashes, encoded slashes, dots, control characters and percent signs (a second decoding upstream), and escapes
 * that are not UTF-8 (the overlong `%c0%ae` is a dot to some decoders) would let `/v1/../invocations`
 * pass as a /v1 path and run as another.
 */
export function isAmbiguousPath(path: string): boolean {
  if (!path.startsWith('/') || path.includes('\\') || path.includes('//')) return true;
  if (path.includes('%')) {
    if (/%(2f|5c|2e|25|[01][0-9a-f]|7f)/i.test(path)) return true;
    try {
      decodeURIComponent(path);
    } catch {
      return true;
    }
  }
  // A dot segment always follows a slash: most paths need no split.
  return path.includes('/.') && path.split('/').some((segment) => DOT_SEGMENT.test(segment));
}

/** `.` or `..`, alone or with path parameters after a `;`. */
const DOT_SEGMENT = /^\.\.?(?:;|$)/;
