// Shared by this folder's tests: a fresh hashing secret.
import { randomBytes } from 'node:crypto';
import { parseKeySecrets, type KeySecrets } from './secret.js';

export function testSecrets(): KeySecrets {
  return parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
}
