// MinIO is not packaged by Debian: these tests run against test/servers/minio.ts, written from the S3 REST API
// documentation and checking AWS SigV4 signatures. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTestMinio, type TestMinio } from '../../../test/servers/minio.js';
import { minioProbe } from './minio.js';

const buckets = { langfuse: ['events/1.json', 'events/2.json', 'media/a.png'], private: ['x'] };

describe('minio probe', () => {
  let open: TestMinio;
  let locked: TestMinio;
  let lockedDefault: TestMinio;
  before(async () => {
    open = await startTestMinio({ mode: 'open', buckets, publicBuckets: ['langfuse'], port: 19900 });
    locked = await startTestMinio({ mode: 'locked', buckets, credentials: { accessKey: 'ops', secretKey: 'a-real-secret-key' } });
    lockedDefault = await startTestMinio({ mode: 'locked', buckets, credentials: { accessKey: 'minioadmin', secretKey: 'minioadmin' } });
  });
  after(async () => {
    await Promise.all([open, locked, lockedDefault].map((s) => s?.close()));
  });

  it('fingerprints MinIO on a non-default port', async () => {
    assert.deepEqual(await minioProbe.fingerprint(probeContext(open.port)), { service: 'minio', details: { product: 'MinIO' } });
  });

  it('reports a publicly listable bucket as high with its object count, reading no object', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await minioProbe.assess(ctx, (await minioProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [{ name: 'buckets', tables: [{ name: 'langfuse', rows: 3 }] }]);
    assert.equal(a.reproduce, "curl -s 'http://127.0.0.1:19900/langfuse?list-type=2&max-keys=1000'");
    assert.ok(open.requests.every((r) => r.startsWith('GET ') && (r.includes('list-type=2') || r === 'GET /' || r === 'GET /minio/health/live')));
  });

  it('reports a server that denies anonymous access as requiring authentication', async () => {
    const ctx = probeContext(locked.port, { maxLevel: 'default-credentials', defaultCredentials: true });
    const a = await minioProbe.assess(ctx, (await minioProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(a.evidence.databases, undefined);
  });

  it('tries minioadmin only with --default-credentials, and reports it without the secret', async () => {
    const without = await minioProbe.assess(probeContext(lockedDefault.port), { service: 'minio' });
    assert.equal(without.auth, 'required');
    const ctx = probeContext(lockedDefault.port, { maxLevel: 'default-credentials', defaultCredentials: true });
    const a = await minioProbe.assess(ctx, { service: 'minio', details: { product: 'MinIO' } });
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.evidence.credentialsAccepted, 'minioadmin:published default secret key');
    assert.deepEqual(a.evidence.databases?.[0]?.tables, [
      { name: 'langfuse', rows: 3 },
      { name: 'private', rows: 1 },
    ]);
    assert.doesNotMatch(a.reproduce ?? '', /minioadmin/);
  });

  itFindsNothingOnHostilePeers(minioProbe, () => startTestMinio({ mode: 'garbage' }));
});
