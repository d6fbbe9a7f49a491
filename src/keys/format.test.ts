import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base62, base62Value, getDefaultDetector } from '../detect/index.js';
import { generateKey, parseKey } from './format.js';
import { parseQuota, parseRateLimit, periodStart } from './limits.js';
import { scopeAllows, scopesAllow } from './scopes.js';

describe('key format', () => {
  it('is <prefix>_<env>_<32 random><6 checksum> and parses back', () => {
    const key = generateKey('wdn', 'test');
    assert.match(key, /^wdn_test_[A-Za-z0-9]{38}$/);
    assert.deepEqual(parseKey(key), { prefix: 'wdn', env: 'test' });
    assert.notEqual(generateKey(), generateKey());
  });

  it('refuses a key with one character changed, offline', () => {
    const key = generateKey();
    const i = 20;
    const altered = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
    assert.equal(parseKey(altered), null);
    assert.equal(parseKey(key.replace('_live_', '_prod_')), null);
    assert.equal(parseKey(key + 'x'), null);
  });

  it('reads base62 back to the value it encodes', () => {
    for (const v of [0, 61, 62, 0xffffffff, 123456789]) assert.equal(base62Value(base62(v, 6)), v);
    assert.ok(Number.isNaN(base62Value('00_000')));
  });

  it('draws random characters evenly from all of base62', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) for (const c of generateKey().slice(9, 41)) counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(counts.size, 62);
    const expected = (400 * 32) / 62;
    for (const n of counts.values()) assert.ok(n > expected * 0.6 && n < expected * 1.4, `skewed count ${n}`);
  });

  it('is found by the shared detection engine, with the checksum checked', () => {
    const key = generateKey('acme', 'live');
    const hits = getDefaultDetector().scan(`config: {"token": "${key}"}`);
    assert.deepEqual(
      hits.filter((h) => h.ruleId === 'warden-api-key').map((h) => h.secret),
      [key],
    );
    const fake = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    // A key whose checksum does not verify is still found (and so redacted), at low confidence.
    assert.deepEqual(
      getDefaultDetector()
        .scan(`token ${fake}`)
        .filter((h) => h.ruleId === 'warden-api-key')
        .map((h) => [h.confidence, h.reason]),
      [['low', 'checksum does not verify']],
    );
  });
});

describe('scopes', () => {
  it('match literally, by whole-segment wildcard, and by trailing wildcard', () => {
    assert.ok(scopeAllows('models:read', 'models:read'));
    assert.ok(!scopeAllows('models:read', 'models:write'));
    assert.ok(scopeAllows('admin:*', 'admin:keys'));
    assert.ok(scopeAllows('admin:*', 'admin:keys:rotate'));
    assert.ok(!scopeAllows('admin:*', 'admin'));
    assert.ok(scopeAllows('*:read', 'chat:read'));
    assert.ok(!scopeAllows('*:read', 'chat:write'));
    assert.ok(scopeAllows('*', 'anything:at:all'));
    assert.ok(!scopeAllows('models:read', 'models:read:extra'));
    assert.ok(scopesAllow(['models:read', 'chat:*'], ['models:read', 'chat:write']));
    assert.ok(!scopesAllow(['models:read'], ['models:read', 'chat:write']));
  });
});

describe('limits notation', () => {
  it('parses rates and quotas as the CLI writes them', () => {
    assert.deepEqual(parseRateLimit('100/min'), { limit: 100, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit('5/10s'), { limit: 5, windowMs: 10_000 });
    assert.equal(parseRateLimit('100 per minute'), null);
    assert.deepEqual(parseQuota('10000/month'), { perPeriod: { limit: 10000, period: 'month' } });
    assert.deepEqual(parseQuota('50000'), { total: 50000 });
    assert.equal(parseQuota('10/fortnight'), null);
  });

  it('starts months and weeks on UTC calendar boundaries', () => {
    const t = Date.UTC(2025, 0, 29, 13, 5); // a Wednesday
    assert.equal(periodStart('month', t), Date.UTC(2025, 0, 1));
    assert.equal(periodStart('week', t), Date.UTC(2025, 0, 27));
    assert.equal(periodStart('day', t), Date.UTC(2025, 0, 29));
  });
});
