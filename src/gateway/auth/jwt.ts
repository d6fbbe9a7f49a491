/** Compact JWS (RS256, ES256) with node:crypto: enough for OIDC access tokens and the gateway's own assertions. */
import { createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export type JwtAlgorithm = 'RS256' | 'ES256';

export interface DecodedJwt {
  header: { alg?: unknown; kid?: unknown; typ?: unknown };
  claims: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Splits and parses a token; null when it is not a well-formed compact JWS. Does not verify. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split('.');
  if (parts.length !== 3 || token.length > 16_384) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object' || Array.isArray(claims)) return null;
    return {
      header: header as DecodedJwt['header'],
      claims: claims as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return null;
  }
}

export function verifyJwtSignature(jwt: DecodedJwt, alg: JwtAlgorithm, key: KeyObject): boolean {
  try {
    const data = Buffer.from(jwt.signingInput);
    // JWS carries ECDSA signatures as r||s, not DER.
    return alg === 'ES256' ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature) : verify('sha256', data, key, jwt.signature);
  } catch {
    return false;
  }
}

export function signJwt(claims: Record<string, unknown>, alg: JwtAlgorithm, key: KeyObject, kid: string): string {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
  const signature = alg === 'ES256' ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(signature)}`;
}

/** The JWS algorithm a JWK can verify, or null for key types this gateway does not accept. */
export function jwkAlgorithm(jwk: JsonWebKey): JwtAlgorithm | null {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  return null;
}

export function importJwk(jwk: JsonWebKey): KeyObject | null {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return null;
  }
}
