// Runs against real Mosquitto brokers (Debian's mosquitto) started here on chosen loopback ports with temporary
// configs: one with allow_anonymous true, one with allow_anonymous false and a password file.
// Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { spawnListening } from '../../../test/helpers/spawn-listening.js';
import { mqttProbe } from './mqtt.js';

const OPEN_PORT = 21884;
const LOCKED_PORT = 21883;

async function startMosquitto(dir: string, port: number, lines: string[]): Promise<ChildProcess> {
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'persistence false', ...lines, ''].join('\n'));
  chmodSync(conf, 0o644);
  return spawnListening('mosquitto', ['-c', conf], port);
}

describe('mqtt probe against real Mosquitto brokers', { timeout: 30_000 }, () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'warden-mqtt-'));
  before(async () => {
    // Mosquitto drops to its own user when started as root, so the folder and files must be readable by it.
    chmodSync(dir, 0o755);
    const passwords = join(dir, 'passwords');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwords, 'ops', 'locked-test-password']);
    chmodSync(passwords, 0o644);
    children.push(
      await startMosquitto(dir, OPEN_PORT, ['allow_anonymous true']),
      await startMosquitto(dir, LOCKED_PORT, ['allow_anonymous false', `password_file ${passwords}`]),
    );
  });
  after(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('fingerprints a broker by its CONNACK on non-default ports', async () => {
    assert.deepEqual(await mqttProbe.fingerprint(probeContext(OPEN_PORT)), { service: 'mqtt', details: { connack: 'accepted' } });
    assert.deepEqual(await mqttProbe.fingerprint(probeContext(LOCKED_PORT)), { service: 'mqtt', details: { connack: 'not authorised' } });
  });

  it('reports a broker accepting anonymous clients as high', async () => {
    const a = await mqttProbe.assess(probeContext(OPEN_PORT), { service: 'mqtt' });
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
  });

  it('reports allow_anonymous false as requiring authentication', async () => {
    const a = await mqttProbe.assess(probeContext(LOCKED_PORT), { service: 'mqtt' });
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.match(a.evidence.notes.join(), /CONNACK 5: not authorised/);
  });

  itFindsNothingOnHostilePeers(mqttProbe);
});
