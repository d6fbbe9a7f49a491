/**
 * Bearer JWTs from OIDC issuers. Each issuer's JWKS is fetched (from its discovery document unless
 * given) and cached; a token signed with a key id the cache does not know triggers one refetch, at
 * most once a second, which is how an issuer's key rotation is picked up without a restart.
 */
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { decodeJwt, importJwk, jwkAlgorithm, verifyJwtSignature, type JwtAlgorithm } from './jwt.js';
import type { Identity } from './identity.js';
import { fetchWithoutRedirects } from '../../outbound-fetch.js';

export interface OidcIssuerConfig {
  issuer: string;
  jwksUri?: string;
  audience: string | string[];
  algorithms?: JwtAlgorithm[];
  subjectClaim?: string;
  scopesClaim?: string;
  clockToleranceSeconds?: number;
  jwksCacheSeconds?: number;
}

export type JwtRejection = 'malformed' | 'issuer' | 'audience' | 'expired' | 'not_yet_valid' | 'algorithm' | 'unknown_key' | 'signature' | 'unavailable';
export type JwtOutcome = { ok: true; identity: Identity; expiresAt: number } | { ok: false; reason: JwtRejection };

const REFETCH_MIN_MS = 1000;
const FETCH_TIMEOUT_MS = 5000;
const TOKEN_CACHE_SIZE = 10_000;

interface CachedJwk {
  key: KeyObject;
  alg: JwtAlgorithm;
}

class IssuerKeys {
  private keys = new Map<string, CachedJwk>();
  private fetchedAt = 0;
  private lastAttempt = 0;
  private inflight: Promise<void> | null = null;

  constructor(private readonly config: OidcIssuerConfig) {}

  private async jwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const discovery = (await getJson(`${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)) as { jwks_uri?: unknown };
    if (typeof discovery.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
    return discovery.jwks_uri;
  }

  private refresh(): Promise<void> {
    this.inflight ??= (async () => {
      this.lastAttempt = Date.now();
      try {
        const set = (await getJson(await this.jwksUri())) as { keys?: unknown };
        if (!Array.isArray(set.keys)) throw new Error('JWKS has no keys array');
        const next = new Map<string, CachedJwk>();
        for (const jwk of set.keys as JsonWebKey[]) {
          if (jwk.use !== undefined && jwk.use !== 'sig') continue;
          const alg = jwkAlgorithm(jwk);
          const key = alg ? importJwk(jwk) : null;
          if (alg && key) next.set(typeof jwk.kid === 'string' ? jwk.kid : '', { key, alg });
        }
        this.keys = next;
        this.fetchedAt = Date.now();
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  /** The key for `kid`: cached, or after a refetch when stale or unknown. Null when unknown; throws when unreachable with nothing cached. */
  async get(kid: string): Promise<CachedJwk | null> {
    const now = Date.now();
    const stale = now - this.fetchedAt > (this.config.jwksCacheSeconds ?? 600) * 1000;
    if ((stale || !this.keys.has(kid)) && now - this.lastAttempt >= REFETCH_MIN_MS) {
      try {
        await this.refresh();
      } catch (err) {
        if (this.keys.size === 0) throw err;
      }
    } else if (this.inflight) {
      await this.inflight.catch(() => undefined);
    }
    if (this.fetchedAt === 0) throw new Error('JWKS not fetched yet');
    return this.keys.get(kid) ?? null;
  }
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetchWithoutRedirects(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as unknown;
}

function scopesOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export class OidcVerifier {
  private readonly issuers = new Map<string, { config: OidcIssuerConfig; keys: IssuerKeys }>();
  /** Verified tokens until they expire: the signature check stays off the hot path. */
  private readonly verified = new Map<string, { identity: Identity; expiresAt: number; notBefore: number }>();

  constructor(configs: readonly OidcIssuerConfig[]) {
    for (const config of configs) this.issuers.set(config.issuer, { config, keys: new IssuerKeys(config) });
  }

  get size(): number {
    return this.issuers.size;
  }

  async verify(token: string, now = Date.now()): Promise<JwtOutcome> {
    const hit = this.verified.get(token);
    if (hit) {
      if (now < hit.expiresAt && now >= hit.notBefore) return { ok: true, identity: hit.identity, expiresAt: hit.expiresAt };
      this.verified.delete(token);
    }
    const jwt = decodeJwt(token);
    if (!jwt) return { ok: false, reason: 'malformed' };
    const claims = jwt.claims;
    const issuer = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (!issuer) return { ok: false, reason: 'issuer' };
    const { config } = issuer;
    const alg = jwt.header.alg;
    if (alg !== 'RS256' && alg !== 'ES256') return { ok: false, reason: 'algorithm' };
    if (!(config.algorithms ?? ['RS256', 'ES256']).includes(alg)) return { ok: false, reason: 'algorithm' };
    let jwk: CachedJwk | null;
    try {
      jwk = await issuer.keys.get(typeof jwt.header.kid === 'string' ? jwt.header.kid : '');
    } catch {
      return { ok: false, reason: 'unavailable' };
    }
    if (!jwk) return { ok: false, reason: 'unknown_key' };
    if (jwk.alg !== alg || !verifyJwtSignature(jwt, alg, jwk.key)) return { ok: false, reason: 'signature' };
    const tolerance = (config.clockToleranceSeconds ?? 30) * 1000;
    const audiences = Array.isArray(config.audience) ? config.audience : [config.audience];
    if (!scopesOf(claims.aud).some((a) => audiences.includes(a))) return { ok: false, reason: 'audience' };
    if (typeof claims.exp !== 'number') return { ok: false, reason: 'expired' };
    const expiresAt = claims.exp * 1000 + tolerance;
    if (now >= expiresAt) return { ok: false, reason: 'expired' };
    const notBefore = typeof claims.nbf === 'number' ? claims.nbf * 1000 - tolerance : 0;
    if (now < notBefore) return { ok: false, reason: 'not_yet_valid' };
    const subject = claims[config.subjectClaim ?? 'sub'];
    if (typeof subject !== 'string' || !subject) return { ok: false, reason: 'malformed' };
    const scopes = config.scopesClaim ? scopesOf(claims[config.scopesClaim]) : [...scopesOf(claims.scope), ...scopesOf(claims.scp)];
    const identity: Identity = { kind: 'jwt', subject, scopes, issuer: config.issuer };
    if (this.verified.size >= TOKEN_CACHE_SIZE) this.verified.clear();
    this.verified.set(token, { identity, expiresAt, notBefore });
    return { ok: true, identity, expiresAt };
  }
}
