// warden serve: per-run scheduler overhead, store write rate for a run of 10,000 findings on SQLite
// and PostgreSQL, and dashboard load time in headless Chromium with 100,000 stored findings.
// Usage: npx tsx bench/serve.bench.ts [--findings 10000] [--dashboard 100000] [--runs 50]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { parseConfig } from '../src/config/index.js';
import { parseKeySecrets } from '../src/keys/index.js';
import { createScrubber } from '../src/scrub/index.js';
import { SEVERITIES } from '../src/severity.js';
import { startServe, ServeHistory } from '../src/serve/index.js';
import { syntheticFinding } from '../src/serve/test-support.js';
import { CHROMIUM_LAUNCH } from '../test/helpers/chromium.js';
import { STORE_KINDS } from '../test/helpers/store-kinds.js';
import { openStore } from '../src/store/index.js';
import { machineLine, median } from './measure.js';

const { values } = parseArgs({
  options: { findings: { type: 'string', default: '10000' }, dashboard: { type: 'string', default: '100000' }, runs: { type: 'string', default: '50' } },
});
const FINDINGS = Number(values.findings);
const DASHBOARD_FINDINGS = Number(values.dashboard);
const RUNS = Number(values.runs);
const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'bench', (s) => Buffer.from(s, 'base64'));
const scrubber = createScrubber({ format: 'text' });
const redact = (s: string) => scrubber.scrubLines(s);

const findingsOf = (n: number, severityFor = (i: number) => SEVERITIES[i % SEVERITIES.length]!) =>
  Array.from({ length: n }, (_, i) => syntheticFinding(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 6379, severityFor(i), [`bench ${i % 7}`]));

const config = parseConfig('version: 1\ninventories:\n  - {name: bench, targets: [127.0.0.1], every: 1h}\n', '/tmp/warden.yaml', {});
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

console.log(`# warden serve benchmark\n${machineLine()}\n`);

for (const kind of STORE_KINDS) {
  const where = await kind.make();
  const store = openStore(where.location);
  try {
    // Scheduler overhead: a full run (claim, re-check bookkeeping, diff, finish) around a scan that returns at once.
    const daemon = await startServe({
      config,
      store,
      secrets,
      schedule: false,
      announceKey: () => undefined,
      listen: { host: '127.0.0.1', port: 0 },
      scanRunner: async () => ({ findings: [], stats: { endpoints: 0, open: 0 } }),
    });
    const overhead: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      await daemon.trigger('bench');
      await daemon.settled();
      overhead.push(seconds(t0) * 1000);
    }
    await daemon.close();
    console.log(`${kind.name}: scheduler overhead per run (empty scan, ${RUNS} runs): median ${median(overhead).toFixed(2)} ms`);

    const history = await ServeHistory.open(store);
    const all = findingsOf(FINDINGS);
    const phases: Array<[string, typeof all]> = [
      ['all new', all],
      ['all still open', all],
      ['all changed (evidence moved)', all.map((f) => ({ ...f, evidence: { ...f.evidence, notes: ['moved'] } }))],
      ['all resolved', []],
    ];
    for (const [label, findings] of phases) {
      const run = (await history.claimRun('writes', 'bench', 'bench:1'))!;
      const t0 = process.hrtime.bigint();
      await history.completeRun(run.id, 'writes', {
        findings,
        stats: { endpoints: FINDINGS, open: findings.length },
        unconfirmed: 0,
        flapWindowMs: 86_400_000,
        redact,
      });
      const s = seconds(t0);
      console.log(
        `${kind.name}: run of ${FINDINGS.toLocaleString('en')} findings, ${label}: ${s.toFixed(2)} s (${Math.round(FINDINGS / s).toLocaleString('en')} findings/s)`,
      );
    }
  } finally {
    await store.close();
    await where.cleanup();
  }
}

// Dashboard with many stored findings (SQLite, the default store).
{
  const where = await STORE_KINDS[0]!.make();
  const store = openStore(where.location);
  const history = await ServeHistory.open(store);
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < 4; r++) {
    const run = (await history.claimRun('dash', 'bench', 'bench:1', Date.now() - (4 - r) * 3_600_000))!;
    // Each run closes a slice, so the chart has a shape.
    await history.completeRun(run.id, 'dash', {
      findings: findingsOf(DASHBOARD_FINDINGS - r * 5000),
      stats: { endpoints: DASHBOARD_FINDINGS, open: DASHBOARD_FINDINGS },
      unconfirmed: 0,
      flapWindowMs: 86_400_000,
      redact,
      now: Date.now() - (4 - r) * 3_600_000 + 1000,
    });
  }
  console.log(`\ndashboard: seeded ${DASHBOARD_FINDINGS.toLocaleString('en')} findings over 4 runs in ${seconds(t0).toFixed(1)} s`);
  let adminKey = '';
  const daemon = await startServe({ config, store, secrets, schedule: false, announceKey: (k) => (adminKey = k), listen: { host: '127.0.0.1', port: 0 } });
  const browser = await chromium.launch(CHROMIUM_LAUNCH);
  const page = await browser.newPage();
  await page.goto(`${daemon.url}/login`);
  await page.fill('#key', adminKey);
  await page.click('button[type=submit]');
  await page.waitForURL(`${daemon.url}/`);
  const loads: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = process.hrtime.bigint();
    await page.goto(`${daemon.url}/`, { waitUntil: 'load' });
    loads.push(seconds(t) * 1000);
  }
  const detail: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = process.hrtime.bigint();
    await page.goto(`${daemon.url}/findings/dash/${encodeURIComponent(`redis:10.0.0.${i}:6379`)}`, { waitUntil: 'load' });
    detail.push(seconds(t) * 1000);
  }
  console.log(`dashboard overview load with ${DASHBOARD_FINDINGS.toLocaleString('en')} stored findings: median ${median(loads).toFixed(0)} ms (7 loads)`);
  console.log(`finding page load: median ${median(detail).toFixed(0)} ms (7 loads)`);
  await browser.close();
  await daemon.close();
  await store.close();
  await where.cleanup();
}
