// Runs against a real memcached (Debian package, started per test on a chosen port); the locked variant
// uses memcached's auth file (-Y). Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { chatLogWithKey, probeContext } from '../../../test/helpers/probe-context.js';
import { startTestMemcached, type TestMemcached } from '../../../test/helpers/memcached.js';
import { memcachedProbe } from './memcached.js';

describe('memcached probe', () => {
  let open: TestMemcached;
  let locked: TestMemcached;
  before(async () => {
    open = await startTestMemcached({ port: 21211 });
    locked = await startTestMemcached({ port: 21212, password: 'not-a-default-pw' });
    for (const [i, value] of [chatLogWithKey(1), 'plain cached page', chatLogWithKey(2)].entries()) {
      await open.command(`set session:${i} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`);
    }
    await locked.command('set secret 0 0 5\r\nhello\r\n');
  });
  after(async () => {
    await open?.stop();
    await locked?.stop();
  });

  it('fingerprints memcached on a non-default port', async () => {
    const fp = await memcachedProbe.fingerprint(probeContext(open.port));
    assert.equal(fp?.service, 'memcached');
    assert.match(fp?.version ?? '', /^\d+\.\d+/);
  });

  it('reports an open memcached as high with its item count, and reads no value without --sample', async () => {
    const ctx = probeContext(open.port);
    const before = await open.command('stats\r\n');
    const a = await memcachedProbe.assess(ctx, (await memcachedProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.equal(a.evidence.databases?.[0]?.tables[0]?.rows, 3);
    assert.equal(a.evidence.databases?.[0]?.tables[0]?.sampledRows, undefined);
    assert.match(a.reproduce ?? '', /nc 127\.0\.0\.1 21211/);
    const hits = (s: string) => /STAT get_hits (\d+)/.exec(s)?.[1];
    assert.equal(hits(await open.command('stats\r\n')), hits(before));
  });

  it('with --sample counts credentials and chat content without keeping values, and changes nothing', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 10 });
    const a = await memcachedProbe.assess(ctx, (await memcachedProbe.fingerprint(ctx))!);
    assert.equal(a.severity, 'critical');
    const table = a.evidence.databases?.[0]?.tables[0];
    assert.equal(table?.sampledRows, 3);
    assert.deepEqual(table?.credentials, { total: 2, byRule: { 'openai-project-key': 2 } });
    assert.deepEqual(table?.conversationColumns, ['value']);
    assert.doesNotMatch(JSON.stringify(a), /sk-proj-/);
    assert.match(await open.command('get session:0\r\n'), /sk-proj-/);
    assert.match(await open.command('stats\r\n'), /STAT curr_items 3\r/);
  });

  it('reports a memcached with an auth file as requiring authentication', async () => {
    const ctx = probeContext(locked.port, { maxLevel: 'sample', sample: 10 });
    const fp = await memcachedProbe.fingerprint(ctx);
    assert.equal(fp?.service, 'memcached');
    const a = await memcachedProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(a.evidence.databases, undefined);
  });

  itFindsNothingOnHostilePeers(memcachedProbe);
});
