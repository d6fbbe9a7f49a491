// Runs against real Prometheus servers (Debian's prometheus) started here on chosen loopback ports with temporary
// configs and storage: one open, whose scrape config carries an API key in `params` (a field Prometheus does not
// mask), and one with --web.config.file basic auth (bcrypt hash made with the system crypt through perl).
// Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { expandSample } from '../../detect/index.js';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { httpGet } from '../transports/http.js';
import { isFailure } from '../transports/result.js';
import { prometheusProbe } from './prometheus.js';

const OPEN_PORT = 19091;
const LOCKED_PORT = 19092;
const KEY = expandSample('sk-proj-{alnum_-:58}T3BlbkFJ{alnum_-:58}', 11);

async function startPrometheus(dir: string, port: number, config: string, webConfig?: string): Promise<ChildProcess> {
  const conf = join(dir, `prometheus-${port}.yml`);
  writeFileSync(conf, config);
  const args = [`--config.file=${conf}`, `--storage.tsdb.path=${join(dir, `data-${port}`)}`, `--web.listen-address=127.0.0.1:${port}`];
  if (webConfig) {
    writeFileSync(join(dir, `web-${port}.yml`), webConfig);
    args.push(`--web.config.file=${join(dir, `web-${port}.yml`)}`);
  }
  const child = spawn('prometheus', args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await httpGet({ host: '127.0.0.1', port, path: '/-/ready', timeoutMs: 500 });
    if (!isFailure(r) && (r.status === 200 || r.status === 401)) return child;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`prometheus on ${port} did not start`);
}

describe('prometheus probe against real servers', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'warden-prometheus-'));
  before(async () => {
    const scrape = [
      'global: { scrape_interval: 1h }',
      'scrape_configs:',
      '  - job_name: llm-gateway',
      `    params: { api_key: ['${KEY}'] }`,
      "    static_configs: [{ targets: ['127.0.0.1:9', '127.0.0.1:10'] }]",
      '  - job_name: self',
      `    static_configs: [{ targets: ['127.0.0.1:${OPEN_PORT}'] }]`,
      '',
    ].join('\n');
    const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], "\\$2b\\$10\\$" . $ARGV[1])', 'locked-test-password', 'wardenwardenwardenward']).toString();
    assert.match(hash, /^\$2b\$10\$/, 'the system crypt makes bcrypt hashes');
    children.push(
      await startPrometheus(dir, OPEN_PORT, scrape),
      await startPrometheus(dir, LOCKED_PORT, 'global: { scrape_interval: 1h }\n', `basic_auth_users:\n  ops: '${hash}'\n`),
    );
    // Ready comes before the scrape manager has loaded the targets.
    for (let i = 0; i < 100; i++) {
      const r = await httpGet({ host: '127.0.0.1', port: OPEN_PORT, path: '/api/v1/targets?state=active', timeoutMs: 500 });
      if (!isFailure(r) && (JSON.parse(r.body.toString()) as { data: { activeTargets: unknown[] } }).data.activeTargets.length === 3) break;
      await sleep(100);
    }
  });
  after(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('fingerprints Prometheus by its build info on a non-default port', async () => {
    const fp = await prometheusProbe.fingerprint(probeContext(OPEN_PORT));
    assert.equal(fp?.service, 'prometheus');
    assert.match(fp?.version ?? '', /^2\./);
  });

  it('counts credentials in the loaded configuration by rule, without the value, and rates them high', async () => {
    const ctx = probeContext(OPEN_PORT);
    const a = await prometheusProbe.assess(ctx, (await prometheusProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.ok(a.evidence.notes.includes('3 active scrape target(s) in 2 job(s); target addresses name internal hosts'), a.evidence.notes.join('\n'));
    assert.deepEqual(a.evidence.databases?.[0]?.tables[0]?.credentials, { total: 1, byRule: { 'openai-project-key': 1 } });
    assert.doesNotMatch(JSON.stringify(a), /T3BlbkFJ/);
  });

  it('rates an open Prometheus low when the configuration is not read (auth-check level)', async () => {
    const ctx = probeContext(OPEN_PORT, { maxLevel: 'auth-check' });
    const a = await prometheusProbe.assess(ctx, { service: 'prometheus' });
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'low');
  });

  it('does not claim a Prometheus behind basic auth (its 401 names nothing), and its API refuses', async () => {
    assert.equal(await prometheusProbe.fingerprint(probeContext(LOCKED_PORT)), undefined);
    const a = await prometheusProbe.assess(probeContext(LOCKED_PORT), { service: 'prometheus' });
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(prometheusProbe);
});
