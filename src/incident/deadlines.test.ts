import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addBusinessDays, addMonths, buildRegimes, computeDeadlines, parseDeadlineRule } from './index.js';

const t = (s: string) => Date.parse(s);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('deadlines', () => {
  // Hand-computed: 2025-01-29 is a Wednesday; 2025-01-31 a Friday; 2025-02-03 a Monday.
  it('GDPR Art. 33: 72 hours from awareness, not from detection', () => {
    const [gdpr] = computeDeadlines(
      { detectedAt: t('2025-01-27T08:00:00Z'), awareAt: t('2025-01-29T09:30:00Z'), materialityAt: null, regimes: buildRegimes(['gdpr']) },
      new Map(),
      t('2025-01-30T00:00:00Z'),
    );
    assert.equal(iso(gdpr!.dueAt), '2025-02-01T09:30:00.000Z');
    assert.equal(gdpr!.state, 'due');
  });

  it('NIS2: 24 h early warning, 72 h notification, final report a month after the notification (due, then as filed)', () => {
    const incident = { detectedAt: t('2025-01-29T09:30:00Z'), awareAt: t('2025-01-29T09:30:00Z'), materialityAt: null, regimes: buildRegimes(['nis2']) };
    const [early, notification, final] = computeDeadlines(incident, new Map(), t('2025-01-31T00:00:00Z'));
    assert.equal(iso(early!.dueAt), '2025-01-30T09:30:00.000Z');
    assert.equal(early!.state, 'overdue');
    assert.equal(iso(notification!.dueAt), '2025-02-01T09:30:00.000Z');
    assert.equal(iso(final!.dueAt), '2025-03-01T09:30:00.000Z');
    const filed = computeDeadlines(incident, new Map([['nis2-notification', t('2025-01-31T16:00:00Z')]]), t('2025-02-02T00:00:00Z'));
    assert.equal(filed[1]!.state, 'met');
    assert.equal(iso(filed[2]!.dueAt), '2025-02-28T16:00:00.000Z');
  });

  it('SEC 8-K: four business days from materiality, skipping the weekend', () => {
    // Thursday 2025-01-30 → Fri 31, Mon 3, Tue 4, Wed 5 February.
    const incident = {
      detectedAt: t('2025-01-29T09:30:00Z'),
      awareAt: t('2025-01-29T09:30:00Z'),
      materialityAt: t('2025-01-30T15:00:00Z'),
      regimes: buildRegimes(['sec']),
    };
    assert.equal(iso(computeDeadlines(incident)[0]!.dueAt), '2025-02-05T23:59:59.999Z');
    // Friday 2025-01-31 → Mon 3, Tue 4, Wed 5, Thu 6.
    assert.equal(iso(addBusinessDays(t('2025-01-31T10:00:00Z'), 4)), '2025-02-06T23:59:59.999Z');
    // Determined on a Saturday: the clock's first day is Monday.
    assert.equal(iso(addBusinessDays(t('2025-02-01T10:00:00Z'), 4)), '2025-02-06T23:59:59.999Z');
  });

  it('SEC 8-K skips configured holidays (Presidents Day 2025-02-17)', () => {
    // Thursday 2025-02-13 → Fri 14, (Sat, Sun, holiday Mon 17), Tue 18, Wed 19, Thu 20.
    const regimes = buildRegimes(['sec'], [], ['2025-02-17']);
    const [sec] = computeDeadlines({ detectedAt: 0, awareAt: 0, materialityAt: t('2025-02-13T12:00:00Z'), regimes });
    assert.equal(iso(sec!.dueAt), '2025-02-20T23:59:59.999Z');
  });

  it('a clock whose start event has not happened is not started', () => {
    const [sec] = computeDeadlines({ detectedAt: 0, awareAt: 0, materialityAt: null, regimes: buildRegimes(['sec']) });
    assert.equal(sec!.dueAt, null);
    assert.equal(sec!.state, 'not-started');
  });

  it('custom deadlines from the command line; months clamp to the month end', () => {
    const rule = parseDeadlineRule('ai-act-art73:EU AI Act Art. 73 serious incident:15d:aware');
    assert.deepEqual(rule.within, { days: 15 });
    const state = parseDeadlineRule('colorado:Colorado residents:30d');
    assert.equal(state.from, 'aware');
    assert.deepEqual(parseDeadlineRule('x-bd:Business:4bd:materiality').within, { businessDays: 4 });
    assert.throws(() => parseDeadlineRule('bad:title:72'), /duration/);
    assert.throws(() => parseDeadlineRule('xy:t:72h:whenever'), /starts from/);
    assert.throws(() => buildRegimes(['gdpr', 'gdpr']), /given twice/);
    assert.throws(() => buildRegimes(['hipaa']), /unknown regime/);
    assert.throws(() => buildRegimes([], [], ['2025-13-45x']), /holiday/);
    assert.equal(iso(addMonths(t('2025-01-31T10:00:00Z'), 1)), '2025-02-28T10:00:00.000Z');
    assert.equal(iso(addMonths(t('2024-01-31T10:00:00Z'), 1)), '2024-02-29T10:00:00.000Z');
  });
});
