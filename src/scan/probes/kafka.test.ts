// Kafka is not packaged by Debian: these tests run against test/servers/kafka.ts, written from the documented
// Kafka protocol (ApiVersions, Metadata, SaslHandshake). Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTestKafka, type TestKafka } from '../../../test/servers/kafka.js';
import { kafkaProbe } from './kafka.js';

describe('kafka probe', () => {
  let open: TestKafka;
  let locked: TestKafka;
  before(async () => {
    open = await startTestKafka({ mode: 'open', topics: { 'llm-requests': 3, audit: 1 }, port: 19092 });
    locked = await startTestKafka({ mode: 'locked', topics: { 'llm-requests': 3 } });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints a broker with ApiVersions on a non-default port', async () => {
    const fp = await kafkaProbe.fingerprint(probeContext(open.port));
    assert.deepEqual(fp, { service: 'kafka', details: { apis: 6, maxMetadataVersion: 12 } });
  });

  it('reports a PLAINTEXT broker as high with brokers and topics, sending no Fetch or Produce', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await kafkaProbe.assess(ctx, (await kafkaProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [{ name: 'topics', tables: [{ name: 'llm-requests' }, { name: 'audit' }] }]);
    assert.match(a.evidence.notes.join('\n'), /advertised brokers: kafka-0\.internal\.example:9092/);
    assert.equal(a.reproduce, 'kcat -b 127.0.0.1:19092 -L');
    assert.deepEqual(
      [...new Set(open.apiKeys)].sort((x, y) => x - y),
      [3, 18],
    );
  });

  it('reports a SASL listener as requiring authentication, naming its mechanisms', async () => {
    const ctx = probeContext(locked.port);
    const fp = await kafkaProbe.fingerprint(ctx);
    assert.equal(fp?.service, 'kafka');
    const a = await kafkaProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.match(a.evidence.notes.join(' '), /requires SASL \(PLAIN, SCRAM-SHA-256\)/);
    assert.equal(a.evidence.databases, undefined);
  });

  itFindsNothingOnHostilePeers(kafkaProbe, () => startTestKafka({ mode: 'garbage' }));
});
