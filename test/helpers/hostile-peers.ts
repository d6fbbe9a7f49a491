/**
 * The hostile-peer cases every probe test runs: each misbehaving peer of test/servers/hostile.ts (and the
 * probe's own test server in garbage mode, when it has one) must yield no fingerprint, within the timeout.
 * A probe with TLS ports meets them over TLS as well, plus the peers that break the TLS handshake. Probes
 * tested against a real server also scan all the peers at once, as a scan meets them.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { scan } from '../../src/scan/index.js';
import type { Probe } from '../../src/scan/types.js';
import { HOSTILE_MODES, startHostilePeers, startHostileServer, TLS_HOSTILE_MODES, type TestServer } from '../servers/hostile.js';
import { probeContext } from './probe-context.js';

const TIMEOUT_MS = 500;

async function assertNothingFound(probe: Probe, server: TestServer, tls = false): Promise<void> {
  try {
    const started = Date.now();
    assert.equal(await probe.fingerprint(probeContext(server.port, { timeoutMs: TIMEOUT_MS, tls })), undefined);
    // A probe may take a few steps, each within the timeout, but never hang on one peer.
    assert.ok(Date.now() - started < 3 * TIMEOUT_MS, `took ${Date.now() - started} ms`);
  } finally {
    await server.close();
  }
}

export function itFindsNothingOnHostilePeers(probe: Probe, startGarbageServer?: () => Promise<TestServer>): void {
  if (startGarbageServer) it('finds nothing on its test server in garbage mode', async () => assertNothingFound(probe, await startGarbageServer()));
  for (const mode of HOSTILE_MODES) {
    it(`finds nothing on a ${mode} peer, within the timeout`, async () => assertNothingFound(probe, await startHostileServer(mode)));
  }
  if (!probe.tlsPorts) return;
  if (startGarbageServer)
    it('finds nothing over TLS on its test server in garbage mode', async () => assertNothingFound(probe, await startGarbageServer(), true));
  for (const mode of [...HOSTILE_MODES, ...TLS_HOSTILE_MODES]) {
    it(`finds nothing over TLS on a ${mode} peer, within the timeout`, async () => assertNothingFound(probe, await startHostileServer(mode), true));
  }
}

/** Scans one peer of each hostile mode with `probes`: every open port is listed as an unidentified service, never as `service`. */
export function itScansHostilePeersAsUnknown(service: string, probes: Probe[]): void {
  it(`garbage, floods, silence, early close and TLS yield no ${service} finding, only unidentified open ports`, async () => {
    const hostile = await startHostilePeers();
    try {
      const report = await scan({ targets: hostile.ports.map((p) => `127.0.0.1:${p}`), probes, timeoutMs: 500 });
      assert.deepEqual(
        report.findings.map((f) => `${f.service}/${f.auth}`),
        hostile.ports.map(() => 'unknown/unknown'),
        JSON.stringify(report.findings),
      );
      assert.equal(report.stats.open, hostile.ports.length);
    } finally {
      await hostile.close();
    }
  });
}
