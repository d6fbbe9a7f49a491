import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { generateKey } from './format.js';
import { hashKey } from './secret.js';

it('hashKey is exactly HMAC-SHA-256, for short, long and non-ASCII input and long secrets', () => {
  for (const keyLength of [16, 32, 64, 65, 100]) {
    const secret = { version: 1, key: randomBytes(keyLength) };
    for (const token of [
      generateKey(),
      generateKey(),
      generateKey('acme', 'test'),
      '',
      'x'.repeat(64),
      'y'.repeat(65),
      'wdn_live_é∂',
      generateKey() + generateKey(),
    ]) {
      assert.equal(hashKey(token, secret), createHmac('sha256', secret.key).update(token).digest('hex'), `secret ${keyLength} B, token length ${token.length}`);
    }
  }
});
