/**
 * The gateway's signed identity assertion: a short-lived ES256 JWT in a header, so an upstream can
 * check who called it instead of trusting plain identity headers anyone on the network could set.
 * The signing key lives only in memory and rotates; the JWKS keeps the previous key until every
 * assertion it signed has expired.
 */
import { generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { signJwt } from './auth/jwt.js';
import type { Identity } from './auth/identity.js';

export interface AssertionOptions {
  issuer?: string;
  header?: string;
  ttlSeconds?: number;
  rotateSeconds?: number;
  jwksPath?: string;
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
  createdAt: number;
}

function newKey(now: number): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomBytes(9).toString('base64url');
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }, createdAt: now };
}

export class AssertionSigner {
  readonly header: string;
  readonly jwksPath: string;
  private readonly issuer: string;
  private readonly ttlMs: number;
  private readonly rotateMs: number;
  private current: SigningKey;
  private previous: SigningKey | null = null;

  constructor(options: AssertionOptions = {}) {
    this.issuer = options.issuer ?? 'warden-gateway';
    this.header = (options.header ?? 'X-Warden-Assertion').toLowerCase();
    this.ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.rotateMs = (options.rotateSeconds ?? 3600) * 1000;
    this.jwksPath = options.jwksPath ?? '/.well-known/warden-gateway/jwks.json';
    this.current = newKey(Date.now());
  }

  private rotateIfDue(now: number): void {
    if (now - this.current.createdAt < this.rotateMs) return;
    this.previous = this.current;
    this.current = newKey(now);
  }

  /** Signs an assertion for one request to `audience` (the route name). */
  sign(identity: Identity, audience: string, now = Date.now()): string {
    this.rotateIfDue(now);
    const iat = Math.floor(now / 1000);
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      aud: audience,
      sub: identity.subject,
      iat,
      exp: iat + Math.ceil(this.ttlMs / 1000),
      warden: {
        kind: identity.kind,
        scopes: identity.scopes,
        ...(identity.keyId ? { keyId: identity.keyId } : {}),
        ...(identity.owner ? { owner: identity.owner } : {}),
        ...(identity.issuer ? { issuer: identity.issuer } : {}),
      },
    };
    return signJwt(claims, 'ES256', this.current.privateKey, this.current.kid);
  }

  /** The public keys upstreams verify with. */
  jwks(now = Date.now()): { keys: JsonWebKey[] } {
    this.rotateIfDue(now);
    const keys = [this.current.publicJwk];
    if (this.previous && now - this.current.createdAt < this.ttlMs * 2) keys.push(this.previous.publicJwk);
    return { keys };
  }
}
