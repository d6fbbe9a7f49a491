import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** A reporter's signing key, as GitHub publishes them (`key_identifier`, PEM `key`). */
export interface ReporterPublicKey {
  identifier: string;
  key: KeyObject;
}

/**
 * Reads GitHub's public-key document (the JSON served at
 * api.github.com/meta/public_keys/secret_scanning): `{ public_keys: [{ key_identifier, key }] }`.
 */
export function parseGithubPublicKeys(json: string): ReporterPublicKey[] {
  const doc = JSON.parse(json) as { public_keys?: Array<{ key_identifier?: unknown; key?: unknown }> };
  if (!Array.isArray(doc.public_keys)) throw new Error('expected an object with a public_keys array');
  return doc.public_keys.map((k, i) => {
    if (typeof k.key_identifier !== 'string' || typeof k.key !== 'string') throw new Error(`public_keys[${i}] needs key_identifier and key`);
    return { identifier: k.key_identifier, key: createPublicKey(k.key) };
  });
}

/**
 * Verifies an ECDSA (SHA-256, DER, base64) signature over the raw request body against the key the
 * request names. The raw bytes, never re-serialised JSON: any reformatting breaks the signature.
 */
export function verifyGithubSignature(
  rawBody: Buffer,
  identifier: string | undefined,
  signature: string | undefined,
  keys: readonly ReporterPublicKey[],
): boolean {
  if (!identifier || !signature) return false;
  const key = keys.find((k) => k.identifier === identifier);
  if (!key) return false;
  try {
    return verify('sha256', rawBody, key.key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
