// The finding state machine on its own: no store, every transition from plain values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { transitionRun, type KnownFinding, type Sighting, type TransitionRules } from './finding-transitions.js';
import { syntheticFinding } from './test-support.js';

const HOUR = 3_600_000;
const T = 1_760_000_000_000;
const rules: TransitionRules = { now: T, flapWindowMs: HOUR, partial: false };

function seen(host: string, severity: Sighting['finding']['severity'] = 'high', evidenceHash = 'h1', auth: Sighting['finding']['auth'] = 'none'): Sighting {
  return { finding: { ...syntheticFinding(host, 6379, severity), auth }, evidenceHash };
}

function known(sighting: Sighting, over: Partial<KnownFinding> = {}): [string, KnownFinding] {
  const f = sighting.finding;
  const base: KnownFinding = {
    id: f.id,
    state: 'open',
    severity: f.severity,
    auth: f.auth,
    evidenceHash: sighting.evidenceHash,
    firstSeen: T - 10 * HOUR,
    openedAt: T - 10 * HOUR,
    resolvedAt: null,
    flappingSince: null,
    ack: null,
  };
  return [f.id, { ...base, ...over }];
}

const kinds = (t: ReturnType<typeof transitionRun>) => ({
  events: t.events.map((e) => `${e.kind} ${e.findingId}`),
  alerts: t.alerts.map((a) => `${a.kind} ${a.finding.id}`),
});

describe('transitionRun', () => {
  it('opens a finding never seen, with an alert, first seen now', () => {
    const a = seen('10.0.0.1');
    const t = transitionRun('inv', [a], new Map(), rules);
    assert.deepEqual(kinds(t), { events: [`opened ${a.finding.id}`], alerts: [`new ${a.finding.id}`] });
    assert.deepEqual(t.counts, { new: 1, changed: 0, resolved: 0 });
    assert.deepEqual(
      t.open.map((o) => [o.firstSeen, o.openedAt, o.flappingSince]),
      [[T, T, null]],
    );
    assert.equal(t.alerts[0]!.inventory, 'inv');
  });

  it('keeps a finding seen again unchanged quietly, and resolves one not seen', () => {
    const a = seen('10.0.0.1');
    const b = seen('10.0.0.2');
    const t = transitionRun('inv', [a], new Map([known(a), known(b)]), rules);
    assert.deepEqual(kinds(t), { events: [`resolved ${b.finding.id}`], alerts: [] });
    assert.deepEqual(t.resolved, [b.finding.id]);
    assert.equal(t.open[0]!.firstSeen, T - 10 * HOUR);
  });

  it('resolves nothing after a partial run', () => {
    const b = seen('10.0.0.2');
    const t = transitionRun('inv', [], new Map([known(b)]), { ...rules, partial: true });
    assert.deepEqual([t.resolved, t.events, t.counts.resolved], [[], [], 0]);
  });

  it('alerts on escalation only; a lower severity, new evidence or auth is a quiet change', () => {
    const up = seen('10.0.0.1', 'critical');
    const down = seen('10.0.0.2', 'low');
    const evidence = seen('10.0.0.3', 'high', 'h2');
    const auth = seen('10.0.0.4', 'high', 'h1', 'default-credentials');
    const before = new Map([
      known(up, { severity: 'high' }),
      known(down, { severity: 'high' }),
      known(evidence, { evidenceHash: 'h1' }),
      known(auth, { auth: 'none' }),
    ]);
    const t = transitionRun('inv', [up, down, evidence, auth], before, rules);
    assert.deepEqual(kinds(t).events, [
      `escalated ${up.finding.id}`,
      `changed ${down.finding.id}`,
      `changed ${evidence.finding.id}`,
      `changed ${auth.finding.id}`,
    ]);
    assert.deepEqual(kinds(t).alerts, [`escalated ${up.finding.id}`]);
    assert.equal(t.alerts[0]!.previousSeverity, 'high');
    assert.equal(t.counts.changed, 4);
    assert.deepEqual(t.events[2]!.detail, { from: { severity: 'high', auth: 'none' }, to: { severity: 'high', auth: 'none' }, evidenceChanged: true });
  });

  it('suppression silences escalation; acknowledgement does not', () => {
    const up = seen('10.0.0.1', 'critical');
    const suppressed = transitionRun('inv', [up], new Map([known(up, { severity: 'high', ack: 'suppress' })]), rules);
    assert.deepEqual(kinds(suppressed).alerts, []);
    const acknowledged = transitionRun('inv', [up], new Map([known(up, { severity: 'high', ack: 'acknowledge' })]), rules);
    assert.deepEqual(kinds(acknowledged).alerts, [`escalated ${up.finding.id}`]);
  });

  it('reopens a resolved finding with an alert unless acknowledged', () => {
    const a = seen('10.0.0.1');
    const resolved = { state: 'resolved' as const, openedAt: T - 5 * HOUR, resolvedAt: T - 2 * HOUR };
    const t = transitionRun('inv', [a], new Map([known(a, resolved)]), rules);
    assert.deepEqual(kinds(t), { events: [`reopened ${a.finding.id}`], alerts: [`reopened ${a.finding.id}`] });
    assert.equal(t.counts.new, 1);
    assert.deepEqual([t.open[0]!.openedAt, t.open[0]!.resolvedAt], [T, T - 2 * HOUR]);
    const acked = transitionRun('inv', [a], new Map([known(a, { ...resolved, ack: 'acknowledge' })]), rules);
    assert.deepEqual(kinds(acked).alerts, []);
  });

  it('reopened within the window is flapping: one alert (none when suppressed), then quiet until stable', () => {
    const a = seen('10.0.0.1');
    const flapped = { state: 'resolved' as const, openedAt: T - HOUR / 2, resolvedAt: T - HOUR / 4 };
    const t = transitionRun('inv', [a], new Map([known(a, flapped)]), rules);
    assert.deepEqual(kinds(t), { events: [`reopened ${a.finding.id}`, `flapping ${a.finding.id}`], alerts: [`flapping ${a.finding.id}`] });
    assert.equal(t.open[0]!.flappingSince, T);
    assert.deepEqual(kinds(transitionRun('inv', [a], new Map([known(a, { ...flapped, ack: 'suppress' })]), rules)).alerts, []);

    const again = transitionRun('inv', [a], new Map([known(a, { ...flapped, flappingSince: T - HOUR / 2 })]), rules);
    assert.deepEqual(kinds(again), { events: [`reopened ${a.finding.id}`], alerts: [] }, 'already flapping: no second alert');
    const up = seen('10.0.0.1', 'critical');
    assert.deepEqual(
      kinds(transitionRun('inv', [up], new Map([known(up, { severity: 'high', flappingSince: T - HOUR / 2, openedAt: T - HOUR / 2 })]), rules)).alerts,
      [],
      'no escalation alert while flapping',
    );
  });

  it('calls a flapping finding stable once it stayed open longer than the window', () => {
    const a = seen('10.0.0.1');
    const t = transitionRun('inv', [a], new Map([known(a, { flappingSince: T - 3 * HOUR, openedAt: T - 2 * HOUR, resolvedAt: T - 3 * HOUR })]), rules);
    assert.deepEqual(kinds(t).events, [`stable ${a.finding.id}`]);
    assert.equal(t.open[0]!.flappingSince, null);
    const young = transitionRun('inv', [a], new Map([known(a, { flappingSince: T - 3 * HOUR, openedAt: T - HOUR / 2 })]), rules);
    assert.deepEqual([young.events, young.open[0]!.flappingSince], [[], T - 3 * HOUR]);
  });
});
