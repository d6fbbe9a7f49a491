import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../errors.js';
import { defaultPorts, loadProbes, probesForPort, probeTags, selectProbes } from './registry.js';
import { PROBE_LEVELS } from './types.js';

describe('probe registry', () => {
  it('finds every probe in the folder, each fully declared, with unique ids', async () => {
    const probes = await loadProbes();
    const ids = probes.map((p) => p.id);
    for (const id of ['clickhouse-http', 'clickhouse-native', 'mysql', 'postgresql', 'redis']) assert.ok(ids.includes(id), id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of probes) {
      assert.ok(p.ports.length && p.remediation && p.title && p.service, p.id);
      assert.ok(
        Object.keys(p.levels).every((l) => (PROBE_LEVELS as readonly string[]).includes(l)),
        `${p.id} declares only known levels`,
      );
      assert.ok(p.levels['auth-check'] ?? p.levels.fingerprint, `${p.id} says what it sends`);
    }
  });
  it("covers every probe port by default and tries a port's own probes first", async () => {
    const probes = await loadProbes();
    const ports = defaultPorts(probes);
    for (const port of [8123, 9000, 6379, 5432, 3306]) assert.ok(ports.includes(port));
    const order = probesForPort(probes, 6379);
    assert.equal(order[0]?.id, 'redis');
    assert.equal(order.length, probes.length, 'the rest still follow, for services on odd ports');
  });
  it('selects probes by tag (any one of them) and by id (both filters when both are given); unknown ones are bad usage', async () => {
    const probes = await loadProbes();
    for (const p of probes) assert.ok(p.tags.length, `${p.id} declares its tags`);
    const ai = selectProbes(probes, { tags: ['ai'] });
    assert.ok(ai.length > 0 && ai.every((p) => p.tags.includes('ai')));
    assert.ok(ai.some((p) => p.id === 'ollama') && !ai.some((p) => p.id === 'redis'));
    const either = selectProbes(probes, { tags: ['ai', 'cache'] });
    assert.ok(either.some((p) => p.id === 'redis') && either.some((p) => p.id === 'ollama'));
    assert.deepEqual(
      selectProbes(probes, { ids: ['redis', 'ollama'], tags: ['ai'] }).map((p) => p.id),
      ['ollama'],
    );
    assert.equal(selectProbes(probes, {}).length, probes.length);
    assert.ok(probeTags(probes).includes('data-store'));
    assert.throws(
      () => selectProbes(probes, { tags: ['no-such-tag'] }),
      (err) => err instanceof UsageError && /--tags: unknown no-such-tag \(known: .*data-store/.test(err.message),
    );
    assert.throws(() => selectProbes(probes, { tags: [] }), /--tags: give at least one/, 'an empty --tags would scan with no probe at all');
    assert.throws(
      () => selectProbes(probes, { ids: ['nope'] }),
      (err) => err instanceof UsageError && /--probe: unknown nope/.test(err.message),
    );
  });
  it('declares how incident response reads each store it can triage', async () => {
    const readable = (await loadProbes()).filter((p) => p.readPath).map((p) => [p.id, p.readPath!.scheme]);
    assert.deepEqual(readable, [
      ['clickhouse-http', 'clickhouse'],
      ['clickhouse-native', 'clickhouse'],
      ['mysql', 'mysql'],
      ['postgresql', 'postgres'],
      ['redis', 'redis'],
    ]);
  });
});
