import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPorts, loadProbes, probesForPort } from './registry.js';
import { PROBE_LEVELS } from './types.js';

describe('probe registry', () => {
  it('finds every probe in the folder, each fully declared, with unique ids', async () => {
    const probes = await loadProbes();
    const ids = probes.map((p) => p.id);
    for (const id of ['clickhouse-http', 'clickhouse-native', 'mysql', 'postgresql', 'redis']) assert.ok(ids.includes(id), id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of probes) {
      assert.ok(p.ports.length && p.remediation && p.title && p.service, p.id);
      assert.ok(Object.keys(p.levels).every((l) => (PROBE_LEVELS as readonly string[]).includes(l)), `${p.id} declares only known levels`);
      assert.ok(p.levels['auth-check'] ?? p.levels.fingerprint, `${p.id} says what it sends`);
    }
  });
  it('covers every probe port by default and tries a port\'s own probes first', async () => {
    const probes = await loadProbes();
    const ports = defaultPorts(probes);
    for (const port of [8123, 9000, 6379, 5432, 3306]) assert.ok(ports.includes(port));
    const order = probesForPort(probes, 6379);
    assert.equal(order[0]?.id, 'redis');
    assert.equal(order.length, probes.length, 'the rest still follow, for services on odd ports');
  });
});
