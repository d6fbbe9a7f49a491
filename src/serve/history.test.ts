// The same history tests on a real SQLite file and a real PostgreSQL server (127.0.0.1:5432, a
// scratch database per run).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../store/index.js';
import { ServeHistory } from './history.js';
import { syntheticFinding } from './test-support.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';

const HOUR = 3_600_000;
const redactNothing = (s: string) => s;

for (const kind of STORE_KINDS) {
  describe(`serve history on ${kind.name}`, () => {
    let where: StoreLocation;
    let store: Store;
    let history: ServeHistory;
    before(async () => {
      where = await kind.make();
      store = openStore(where.location);
      history = await ServeHistory.open(store);
    });
    after(async () => {
      await store?.close();
      await where?.cleanup();
    });

    async function runAt(inventory: string, at: number, findings: ReturnType<typeof syntheticFinding>[], flapWindowMs = HOUR) {
      const run = await history.claimRun(inventory, 'schedule', 'test:1', at);
      assert.ok(run);
      return history.completeRun(run.id, inventory, {
        findings,
        stats: { endpoints: 10, open: findings.length },
        unconfirmed: 0,
        flapWindowMs,
        redact: redactNothing,
        now: at + 1000,
      });
    }

    it('never starts two runs of the same inventory at once', async () => {
      const first = await history.claimRun('inv-claim', 'schedule', 'test:1');
      assert.ok(first);
      assert.equal(await history.claimRun('inv-claim', 'manual', 'test:2'), undefined);
      assert.ok(await history.claimRun('other-inventory', 'schedule', 'test:1'));
      await history.failRun(first.id, 'scan failed: boom');
      assert.equal((await history.run(first.id))!.status, 'failed');
      assert.ok(await history.claimRun('inv-claim', 'schedule', 'test:1'));
    });

    it('marks runs of a dead owner or with a stale heartbeat as interrupted', async () => {
      const t = Date.now();
      const dead = await history.claimRun('inv-crash-a', 'schedule', 'host:dead', t);
      const stale = await history.claimRun('inv-crash-b', 'schedule', 'otherhost:1', t - 10 * 60_000);
      const live = await history.claimRun('inv-crash-c', 'schedule', 'host:live', t);
      const n = await history.markInterrupted((owner) => owner === 'host:dead', t - 60_000);
      assert.ok(n >= 2);
      assert.equal((await history.run(dead!.id))!.status, 'interrupted');
      assert.equal((await history.run(stale!.id))!.status, 'interrupted');
      assert.equal((await history.run(live!.id))!.status, 'running');
    });

    it('diffs runs: new, still open, changed, escalated, resolved, with first and last seen', async () => {
      const t0 = 1_760_000_000_000;
      const a = syntheticFinding('10.0.0.1', 6379, 'medium');
      const b = syntheticFinding('10.0.0.2', 6379, 'high');
      const first = await runAt('diff', t0, [a, b]);
      assert.deepEqual(
        first.alerts.map((x) => [x.kind, x.finding.id]),
        [
          ['new', a.id],
          ['new', b.id],
        ],
      );
      assert.equal(first.run.newCount, 2);

      const second = await runAt('diff', t0 + HOUR * 2, [{ ...a, severity: 'critical' }, b]);
      assert.deepEqual(
        second.alerts.map((x) => [x.kind, x.finding.id, x.previousSeverity]),
        [['escalated', a.id, 'medium']],
      );
      assert.equal(second.run.changedCount, 1);

      const third = await runAt('diff', t0 + HOUR * 4, [{ ...a, severity: 'critical', evidence: { ...a.evidence, notes: ['keyspace grew'] } }]);
      assert.equal(third.alerts.length, 0, 'evidence moving or a finding closing does not alert');
      assert.equal(third.run.changedCount, 1);
      assert.equal(third.run.resolvedCount, 1);

      const { finding, events } = (await history.finding('diff', a.id))!;
      assert.equal(finding.firstSeen, t0 + 1000);
      assert.equal(finding.lastSeen, t0 + HOUR * 4 + 1000);
      assert.equal(finding.severity, 'critical');
      assert.deepEqual(
        events.map((e) => e.kind),
        ['changed', 'escalated', 'opened'],
      );
      const gone = (await history.finding('diff', b.id))!.finding;
      assert.equal(gone.state, 'resolved');
      assert.equal(gone.resolvedAt, t0 + HOUR * 4 + 1000);
    });

    it('reports a finding that opens, closes and opens again within the window as flapping, once', async () => {
      const t0 = 1_770_000_000_000;
      const f = syntheticFinding('10.0.1.1', 6379);
      const step = 10 * 60_000;
      const kinds: string[][] = [];
      for (let i = 0; i < 6; i++) kinds.push((await runAt('flap', t0 + i * step, i % 2 === 0 ? [f] : [])).alerts.map((x) => x.kind));
      assert.deepEqual(kinds, [['new'], [], ['flapping'], [], [], []]);
      assert.equal((await history.finding('flap', f.id))!.finding.flapping, true);
      // Quiet for longer than the window: flapping clears, and a later reopening alerts again.
      await runAt('flap', t0 + 6 * step + 2 * HOUR, [f]);
      await runAt('flap', t0 + 6 * step + 4 * HOUR, [f]);
      assert.equal((await history.finding('flap', f.id))!.finding.flapping, false);
      await runAt('flap', t0 + 6 * step + 6 * HOUR, []);
      assert.deepEqual(
        (await runAt('flap', t0 + 6 * step + 9 * HOUR, [f])).alerts.map((x) => x.kind),
        ['reopened'],
      );
    });

    it('acknowledges and suppresses with a reason and expiry; suppressed findings leave the counts', async () => {
      const t0 = Date.now();
      const f = syntheticFinding('10.0.2.1', 6379, 'high');
      await runAt('ack', t0, [f]);
      const before = await history.openBySeverity();
      assert.equal(
        await history.acknowledge('ack', f.id, { kind: 'suppress', reason: 'honeypot, expected', expiresAt: t0 + HOUR, createdBy: 'key_test' }),
        true,
      );
      assert.equal(await history.acknowledge('ack', 'redis:nowhere:1', { kind: 'acknowledge', reason: 'x', expiresAt: null, createdBy: 'key_test' }), false);
      const during = await history.openBySeverity();
      assert.equal(during.high, before.high! - 1);
      const shown = (await history.finding('ack', f.id))!;
      assert.equal(shown.finding.acknowledgement?.reason, 'honeypot, expected');
      assert.equal(shown.events[0]!.kind, 'suppressed');
      const escalated = await runAt('ack', t0 + 60_000, [{ ...f, severity: 'critical' }]);
      assert.deepEqual(escalated.alerts, [], 'a suppressed finding never alerts');
      // Past its expiry the suppression no longer applies.
      assert.equal((await history.finding('ack', f.id, t0 + 2 * HOUR))!.finding.acknowledgement, null);
      assert.equal(await history.unacknowledge('ack', f.id, 'key_test'), true);
      assert.equal((await history.finding('ack', f.id))!.events[0]!.kind, 'unacknowledged');
    });

    it('writes a run of 2,000 findings and resolves them all in the next run', async () => {
      const many = Array.from({ length: 2000 }, (_, i) => syntheticFinding(`10.1.${i >> 8}.${i & 255}`, 6379, 'low'));
      const first = await runAt('bulk', Date.now(), many);
      assert.equal(first.run.newCount, 2000);
      assert.equal(first.run.findings, 2000);
      const second = await runAt('bulk', Date.now() + 1, []);
      assert.equal(second.run.resolvedCount, 2000);
      assert.equal((await history.listFindings({ inventory: 'bulk', state: 'open' })).length, 0);
    });
  });
}
