// Runs against real nats-server processes (Debian's nats-server) started here on chosen loopback ports: one open
// with JetStream, one with --user/--pass. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { spawnListening } from '../../../test/helpers/spawn-listening.js';
import { natsProbe } from './nats.js';

const OPEN_PORT = 24223;
const LOCKED_PORT = 24222;

const startNats = (port: number, extra: string[]) => spawnListening('nats-server', ['-a', '127.0.0.1', '-p', String(port), ...extra], port);

describe('nats probe against real servers', { timeout: 30_000 }, () => {
  const children: ChildProcess[] = [];
  const store = mkdtempSync(join(tmpdir(), 'warden-nats-'));
  before(async () => {
    children.push(await startNats(OPEN_PORT, ['-js', '-sd', store]), await startNats(LOCKED_PORT, ['--user', 'u', '--pass', 'locked-test-password']));
  });
  after(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    rmSync(store, { recursive: true, force: true });
  });

  it('fingerprints NATS by its INFO greeting on a non-default port', async () => {
    const fp = await natsProbe.fingerprint(probeContext(OPEN_PORT));
    assert.equal(fp?.service, 'nats');
    assert.match(fp?.version ?? '', /^2\./);
    assert.deepEqual(fp?.details, { authRequired: false, jetstream: true });
  });

  it('reports an open server as high, with JetStream account counts', async () => {
    const ctx = probeContext(OPEN_PORT);
    const a = await natsProbe.assess(ctx, (await natsProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes, [
      'CONNECT without credentials accepted (a message to a private inbox came back): anyone can publish and subscribe',
      'JetStream enabled: 0 stream(s), 0 consumer(s)',
    ]);
  });

  it('reports a server with user/password as requiring authentication', async () => {
    const ctx = probeContext(LOCKED_PORT);
    const fp = await natsProbe.fingerprint(ctx);
    assert.equal(fp?.details?.authRequired, true);
    const a = await natsProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(natsProbe);
});
