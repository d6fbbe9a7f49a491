/**
 * The scan loop's honesty: targets that could not be scanned say so, open ports no probe identifies are
 * listed, and a slow peer is retried rather than dropped. Real sockets on loopback; the machine's Redis.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../../test/helpers/free-port.js';
import { startTcpRelay } from '../../test/helpers/tcp-relay.js';
import { listenLoopback, startHostileServer, type TestServer } from '../../test/servers/hostile.js';
import { redis } from './probes/redis.js';
import { SARIF_FINGERPRINT_KEY, WARDEN_TOOL } from '../report/index.js';
import { formatScanSarif, renderTable } from './report.js';
import { scan, type ScanProgress } from './scanner.js';

/** A port that answers a line no probe knows, and counts its connections. */
async function startChattyServer(): Promise<TestServer & { connections: () => number }> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.end('HELLO from nothing you know\r\n');
  });
  return { ...(await listenLoopback(server)), connections: () => connections };
}

describe('scan: nothing unknown is called clean', { timeout: 120_000 }, () => {
  let chatty: Awaited<ReturnType<typeof startChattyServer>>;
  before(async () => {
    chatty = await startChattyServer();
  });
  after(() => chatty.close());

  it('reports a name that does not resolve as unresolved, and scans the rest', async () => {
    const report = await scan({ targets: ['nosuchhost.invalid', `127.0.0.1:${chatty.port}`], probes: [redis], timeoutMs: 500 });
    assert.deepEqual(report.targets, [
      { target: 'nosuchhost.invalid', status: 'unresolved', error: 'name does not resolve (ENOTFOUND)' },
      { target: `127.0.0.1:${chatty.port}`, status: 'scanned' },
    ]);
    assert.deepEqual(report.ports, [chatty.port], 'only the ports actually tried');
  });

  it('never contacts a name that resolves to an excluded address', async () => {
    const before = chatty.connections();
    const report = await scan({ targets: [`localhost:${chatty.port}`], exclude: ['127.0.0.0/8', '::1'], probes: [redis], timeoutMs: 500 });
    assert.equal(report.targets[0]?.status, 'excluded');
    assert.match(report.targets[0]?.error ?? '', /resolves to excluded address/);
    assert.equal(chatty.connections(), before);
    assert.equal(report.stats.endpoints, 0);
  });

  it('lists an open port no probe identifies as service unknown, in JSON, SARIF and the table', async () => {
    const report = await scan({ targets: [`127.0.0.1:${chatty.port}`], timeoutMs: 500 });
    const [f] = report.findings;
    assert.equal(report.findings.length, 1, JSON.stringify(report.findings));
    assert.deepEqual([f?.id, f?.service, f?.auth, f?.severity], [`unknown:127.0.0.1:${chatty.port}`, 'unknown', 'unknown', 'info']);
    const [run] = JSON.parse(formatScanSarif(report)).runs as Array<{
      tool: { driver: { name: string; informationUri?: string } };
      results: Array<{ ruleId: string; level: string; partialFingerprints: Record<string, string> }>;
    }>;
    assert.equal(run!.results[0]!.partialFingerprints[SARIF_FINGERPRINT_KEY], f!.id);
    // One SARIF writer for every capability: info is a note, as for detect (scan's own writer said `none`), and
    // the tool names Warden's home page from package.json, not a placeholder.
    assert.equal(run!.results[0]!.level, 'note');
    assert.deepEqual([run!.tool.driver.name, run!.tool.driver.informationUri], [WARDEN_TOOL.name, WARDEN_TOOL.informationUri]);
    assert.notEqual(run!.tool.driver.informationUri, 'https://github.com/warden');
    assert.match(renderTable(report), new RegExp(`info\\s+127\\.0\\.0\\.1:${chatty.port}\\s+unknown\\s+unknown`));
  });

  it('--level port lists every open port instead of an empty table', async () => {
    const report = await scan({ targets: [`127.0.0.1:${chatty.port}`], maxLevel: 'port' });
    assert.equal(report.findings[0]?.service, 'unknown');
    assert.match(report.findings[0]?.evidence.notes[0] ?? '', /level port/);
    assert.match(renderTable(report), /unknown/);
  });

  it('progress totals leave out exclusions and count a host:port target once', async () => {
    // Two free ports, closed again: nothing answers there.
    const free = await freePorts(2);
    const seen: ScanProgress[] = [];
    await scan({
      targets: ['127.0.0.0/30', `127.0.0.1:${chatty.port}`],
      exclude: ['127.0.0.2'],
      ports: free,
      probes: [redis],
      timeoutMs: 500,
      onProgress: (p) => seen.push(p),
    });
    const last = seen[seen.length - 1]!;
    assert.equal(last.total, 3n * 2n + 1n, '3 addresses left × 2 ports, and the one host:port');
    assert.equal(BigInt(last.checked), last.total);
  });

  it('retries a slow peer with a longer deadline: a loaded Redis is still an open Redis', async () => {
    const slow = await startTcpRelay({ targetPort: 6379, replyDelayMs: 450 });
    try {
      const report = await scan({ targets: [`127.0.0.1:${slow.port}`], probes: [redis], timeoutMs: 300 });
      const [f] = report.findings;
      assert.deepEqual([f?.id, f?.auth, f?.severity], [`redis:127.0.0.1:${slow.port}`, 'none', 'high'], JSON.stringify(report.findings));
    } finally {
      await slow.close();
    }
  });

  it('reports a peer that accepts and never answers as unknown, naming the probes that waited', async () => {
    const silent = await startHostileServer('silent');
    try {
      const report = await scan({ targets: [`127.0.0.1:${silent.port}`], probes: [redis], timeoutMs: 200 });
      const [f] = report.findings;
      assert.equal(f?.service, 'unknown');
      assert.match(f?.evidence.notes[0] ?? '', /no complete answer within 400 ms \(retried\) to: redis/);
    } finally {
      await silent.close();
    }
  });
});
