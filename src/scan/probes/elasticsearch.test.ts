// Elasticsearch and OpenSearch are not packaged by Debian: these tests run against
// test/servers/elasticsearch.ts, written from the documented REST API. Hostile peers come from
// test/servers/hostile.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { chatLogWithKey, probeContext } from '../../../test/helpers/probe-context.js';
import { startTestSearch, type TestSearch } from '../../../test/servers/elasticsearch.js';
import { elasticsearchProbe } from './elasticsearch.js';

const indices = {
  'llm-requests': [
    { prompt: chatLogWithKey(5), model: 'gpt' },
    { prompt: 'hello', model: 'gpt' },
  ],
  metrics: [{ cpu: 1 }],
};

describe('elasticsearch probe', () => {
  let open: TestSearch;
  let opensearch: TestSearch;
  let locked: TestSearch;
  let lockedDefault: TestSearch;
  before(async () => {
    open = await startTestSearch({ mode: 'open', indices, port: 19200 });
    opensearch = await startTestSearch({ mode: 'open', flavor: 'opensearch', indices });
    locked = await startTestSearch({ mode: 'locked', indices, credentials: 'elastic:a-real-password' });
    lockedDefault = await startTestSearch({ mode: 'locked', indices, credentials: 'elastic:changeme' });
  });
  after(async () => {
    await Promise.all([open, opensearch, locked, lockedDefault].map((s) => s?.close()));
  });

  it('fingerprints Elasticsearch and OpenSearch on non-default ports', async () => {
    const es = await elasticsearchProbe.fingerprint(probeContext(open.port));
    assert.deepEqual(es, { service: 'elasticsearch', version: '8.13.0', details: { product: 'Elasticsearch', cluster: 'ai-logs' } });
    const os = await elasticsearchProbe.fingerprint(probeContext(opensearch.port));
    assert.equal(os?.details?.product, 'OpenSearch');
  });

  it('reports an open cluster as high with index names and counts, reading no document', async () => {
    const ctx = probeContext(open.port);
    const a = await elasticsearchProbe.assess(ctx, (await elasticsearchProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'ai-logs',
        tables: [
          { name: 'llm-requests', rows: 2 },
          { name: 'metrics', rows: 1 },
        ],
      },
    ]);
    assert.ok(!open.requests.some((r) => r.includes('_search')));
    assert.equal(a.reproduce, `curl -s 'http://127.0.0.1:19200/_cat/indices?format=json&h=index,docs.count,store.size&bytes=b'`);
  });

  it('with --sample reports critical with credential counts and chat fields, keeping no value', async () => {
    const ctx = probeContext(opensearch.port, { maxLevel: 'sample', sample: 3 });
    const a = await elasticsearchProbe.assess(ctx, (await elasticsearchProbe.fingerprint(ctx))!);
    assert.equal(a.severity, 'critical');
    const table = a.evidence.databases?.[0]?.tables[0];
    assert.deepEqual(table?.credentials, { total: 1, byRule: { 'openai-project-key': 1 } });
    assert.deepEqual(table?.conversationColumns, ['prompt']);
    assert.doesNotMatch(JSON.stringify(a), /sk-proj-/);
    assert.ok(opensearch.requests.every((r) => r.startsWith('GET ')));
  });

  it('reports a secured cluster as requiring authentication, and tries no password without --default-credentials', async () => {
    const ctx = probeContext(locked.port, { maxLevel: 'sample', sample: 3 });
    const fp = await elasticsearchProbe.fingerprint(ctx);
    assert.equal(fp?.details?.authRequired, true);
    const a = await elasticsearchProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(locked.requests.length, 2);
  });

  it('with --default-credentials reports the published default login that worked, without printing it', async () => {
    const ctx = probeContext(lockedDefault.port, { maxLevel: 'default-credentials', defaultCredentials: true });
    const a = await elasticsearchProbe.assess(ctx, (await elasticsearchProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.evidence.credentialsAccepted, 'elastic:published default password');
    assert.equal(a.evidence.databases?.[0]?.tables.length, 2);
    assert.doesNotMatch(JSON.stringify(a), /changeme/);
    const refused = await elasticsearchProbe.assess(probeContext(locked.port, { maxLevel: 'default-credentials', defaultCredentials: true }), {
      service: 'elasticsearch',
    });
    assert.equal(refused.auth, 'required');
  });

  itFindsNothingOnHostilePeers(elasticsearchProbe, () => startTestSearch({ mode: 'garbage' }));
});
