import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration } from './duration.js';

const HOUR = 3_600_000;

describe('formatDuration', () => {
  it('reads days as days from a day up, hours below, minutes below an hour', () => {
    assert.equal(formatDuration(800 * HOUR), '33 d 8 h');
    assert.equal(formatDuration(-800 * HOUR), '33 d 8 h', 'the sign is the caller’s to word');
    assert.equal(formatDuration(72 * HOUR), '3 d');
    assert.equal(formatDuration(24 * HOUR - 20 * 60_000), '1 d', 'rounded to the hour first');
    assert.equal(formatDuration(23 * HOUR), '23 h');
    assert.equal(formatDuration(59.7 * 60_000), '1 h');
    assert.equal(formatDuration(45 * 60_000), '45 min');
    assert.equal(formatDuration(10_000), 'under 1 min');
  });
});
