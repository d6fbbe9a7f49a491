// Detection quality per credential family, on the small seeded corpus of bench/detect-quality (the
// bench runs the same measurement on a larger one): recall must not fall below the committed floors
// (bench/detect-quality/floors.json; raise them with `npx tsx bench/detect-quality/run.ts --write-floors`),
// and scrub must leave every clean log line as it was.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { belowFloors, measureQuality, TEST_CORPUS, type Floors } from '../../bench/detect-quality/measure.js';
import { Detector } from './engine.js';

const FLOORS = JSON.parse(readFileSync(new URL('../../bench/detect-quality/floors.json', import.meta.url), 'utf8')) as Floors;

describe('detection quality on the labelled corpus', () => {
  it('keeps every family at or above its recall floor, and changes no clean log line', async () => {
    const report = await measureQuality(TEST_CORPUS);
    assert.deepEqual(belowFloors(report, FLOORS), [], 'recall fell below the committed floor');
    assert.equal(report.cleanLinesChanged, 0, 'scrub changed clean log lines');
    assert.equal(report.cleanFindings, 0, 'the detector reported clean log lines');
  });
  it('counts what a detector misses: with no rules, provider tokens stay in the logs and floors fail', async () => {
    const report = await measureQuality({ ...TEST_CORPUS, logsPerFamily: 20, filesPerFamily: 2, cleanLines: 50 }, new Detector([]));
    assert.ok(report.logs.find((f) => f.family === 'provider-token')!.recall < 0.5);
    assert.ok(belowFloors(report, FLOORS).some((f) => f.startsWith('logs/provider-token')));
  });
});
