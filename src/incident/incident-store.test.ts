import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRegimes, IncidentNotFoundError, IncidentOptionsError, IncidentStore, triage } from './index.js';

describe('IncidentStore.recordProgress', () => {
  it('records a note, a playbook step done or a deadline met, then materiality and status; refuses what the incident does not have', async () => {
    const incidents = await IncidentStore.open(':memory:');
    try {
      const incident = await incidents.open({ kind: 'exposed-log-store', regimes: buildRegimes(['gdpr']) }, 'test');
      const note = await incidents.recordProgress(incident.id, { message: 'looked' });
      assert.deepEqual([note.type, note.details], ['note', {}]);
      const step = await incidents.recordProgress(incident.id, { message: 'closed the port', step: 'close-store', happenedAt: Date.UTC(2026, 0, 2) });
      assert.deepEqual([step.type, step.details, step.happenedAt], ['step-done', { step: 'close-store' }, Date.UTC(2026, 0, 2)]);
      const met = await incidents.recordProgress(incident.id, {
        message: 'notified',
        deadlineMet: 'gdpr-art33',
        status: 'contained',
        materialityAt: Date.UTC(2026, 0, 3),
      });
      assert.deepEqual([met.type, met.details], ['deadline-met', { deadline: 'gdpr-art33' }]);
      const after = await incidents.get(incident.id);
      assert.deepEqual([after.status, after.materialityAt], ['contained', Date.UTC(2026, 0, 3)]);
      await assert.rejects(
        incidents.recordProgress(incident.id, { message: 'x', step: 'no-such-step' }),
        (err) => err instanceof IncidentOptionsError && /has no step no-such-step/.test(err.message),
      );
      await assert.rejects(
        incidents.recordProgress(incident.id, { message: 'x', deadlineMet: 'sec-8k' }),
        (err) => err instanceof IncidentOptionsError && /no deadline sec-8k/.test(err.message),
      );
      assert.equal((await incidents.timeline(incident.id)).filter((e) => e.message === 'x').length, 0, 'a refused note records nothing');
    } finally {
      await incidents.close();
    }
  });

  it('triage refuses an incident that does not exist before reading the source', async () => {
    const incidents = await IncidentStore.open(':memory:');
    try {
      await assert.rejects(triage('/no/such/dump.ndjson', { fingerprintKey: 'k', incident: { store: incidents, id: 'inc_missing' } }), IncidentNotFoundError);
    } finally {
      await incidents.close();
    }
  });
});
