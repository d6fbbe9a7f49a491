// Runs against the machine's real RabbitMQ (127.0.0.1:5672, which keeps the default guest user, allowed over
// loopback), directly and through a loopback TCP relay on another port for the non-default-port fingerprint.
// The AMQP codec is checked on its own against hand-built frames. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTcpRelay, type TcpRelay } from '../../../test/helpers/tcp-relay.js';
import { amqpFrame, connectionStartOk, parseMethodFrame, readTable } from '../transports/amqp.js';
import { rabbitmqAmqpProbe } from './rabbitmq-amqp.js';

const BROKER_PORT = 5672;

describe('AMQP codec', () => {
  it('round-trips the Start-Ok it builds: one method frame, class 10 method 11, a readable client table', () => {
    const frame = connectionStartOk('PLAIN', Buffer.from('\0u\0p'));
    assert.equal(amqpFrame(frame), frame.length);
    const method = parseMethodFrame(frame);
    assert.deepEqual([method?.classId, method?.methodId], [10, 11]);
    assert.deepEqual(readTable(method!.args, 0)?.table, { product: 'warden-scan', capabilities: { authentication_failure_close: true } });
  });

  it('rejects a table whose length runs past the frame', () => {
    assert.equal(readTable(Buffer.from([0, 0, 0, 9, 1, 0x61, 0x53]), 0), undefined);
  });
});

describe('rabbitmq AMQP probe against the real broker', { timeout: 30_000 }, () => {
  let relay: TcpRelay;
  before(async () => {
    relay = await startTcpRelay({ targetPort: BROKER_PORT });
  });
  after(() => relay.close());

  it('fingerprints RabbitMQ by Connection.Start, on a non-default port through a relay', async () => {
    const fp = await rabbitmqAmqpProbe.fingerprint(probeContext(relay.port));
    assert.equal(fp?.service, 'rabbitmq');
    assert.equal(fp?.details?.product, 'RabbitMQ');
    assert.match(fp?.version ?? '', /^\d+\.\d+/);
    assert.match(String(fp?.details?.mechanisms), /PLAIN/);
  });

  it('reports the broker as requiring authentication without --default-credentials', async () => {
    const ctx = probeContext(BROKER_PORT);
    const a = await rabbitmqAmqpProbe.assess(ctx, (await rabbitmqAmqpProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  it('with --default-credentials reports guest/guest as medium, noting it is allowed over loopback only by default', async () => {
    const ctx = probeContext(BROKER_PORT, { maxLevel: 'default-credentials', defaultCredentials: true });
    const a = await rabbitmqAmqpProbe.assess(ctx, (await rabbitmqAmqpProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.severity, 'medium');
    assert.equal(a.evidence.credentialsAccepted, 'guest:published default password');
    assert.match(a.evidence.notes.join(), /accepted over loopback/);
  });

  itFindsNothingOnHostilePeers(rabbitmqAmqpProbe);
});
