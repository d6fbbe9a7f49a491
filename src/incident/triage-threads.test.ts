/**
 * Triage on detection workers: a dump of many batches counts the same on one thread and on two, and a
 * batch whose detection fails makes the triage partial, never complete with fewer credentials. Real files,
 * real worker threads.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Detector, getDefaultDetector, type RuleSpec } from '../detect/index.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { triage, type TriageResult } from './index.js';
import { seedLogs, THIRD_PARTY_RULES } from './test-fixtures.js';

const FP_KEY = 'incident-threads-test-fingerprint-key';
/** Rows seeded; the dump holds them twice, so each credential occurs in two batches far apart. */
const SEEDED_ROWS = 20_000;
const ROWS = 2 * SEEDED_ROWS;
/** Third-party key seeds: rows 11s + 5 carry one key of each THIRD_PARTY_RULES rule. */
const KEY_SEEDS = 1500;

/** Counts the rows this thread scans: those it did not, a worker did. */
class CountingDetector extends Detector {
  scans = 0;
  override scan(text: string) {
    this.scans++;
    return super.scan(text);
  }
}

const withoutDuration = ({ durationMs: _durationMs, ...rest }: TriageResult) => rest;

describe('incident triage on detection workers', { timeout: 120_000 }, () => {
  let dir: string;
  let keys: KeyStore;
  let dump: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-triage-threads-'));
    keys = await KeyStore.open({
      store: join(dir, 'warden.db'),
      secrets: parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64')),
      notifications: false,
    });
    const tokens: string[] = [];
    for (const owner of ['alice', 'bob', 'carol']) tokens.push((await keys.create({ owner, name: 'k', scopes: ['chat:write'] })).key);
    const lines = seedLogs(SEEDED_ROWS, 9, tokens, KEY_SEEDS).rows.map((r) => JSON.stringify(r));
    dump = join(dir, 'logs.ndjson');
    writeFileSync(dump, [...lines, ...lines].join('\n') + '\n');
  });
  after(async () => {
    await keys.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one thread and two count the same credentials, Warden keys and subjects', async () => {
    const one = await triage(dump, { fingerprintKey: FP_KEY, keys, threads: 1 });
    const detector = new CountingDetector(getDefaultDetector().definition.specs);
    const two = await triage(dump, { fingerprintKey: FP_KEY, keys, detector, threads: 2, workersFromChars: 0 });
    assert.equal(one.status, 'complete');
    assert.equal(one.rows, ROWS);
    assert.equal(one.credentials.distinct, 3 + THIRD_PARTY_RULES.length * KEY_SEEDS);
    assert.equal(one.credentials.occurrences, 2 * one.credentials.distinct, 'each credential twice');
    assert.deepEqual(
      one.credentials.warden.map((w) => [w.owner, w.occurrences, w.action]),
      [
        ['alice', 2, 'would-revoke'],
        ['bob', 2, 'would-revoke'],
        ['carol', 2, 'would-revoke'],
      ],
    );
    // The main thread takes a batch no worker has room for: a worker scanned some rows, not necessarily most.
    assert.ok(detector.scans < ROWS, `a worker scanned rows (this thread scanned ${detector.scans} of ${ROWS})`);
    assert.deepEqual(withoutDuration(two), withoutDuration(one));
  });

  it('a batch whose detection fails: partial, the rows not searched said, never complete', async () => {
    // A rule carrying what cannot be sent to a thread: starting the detection workers fails (DataCloneError).
    const unsendable = { ...getDefaultDetector().definition.specs[0]!, id: 'unsendable', onMatch: () => undefined } as RuleSpec;
    const detector = new Detector([...getDefaultDetector().definition.specs, unsendable]);
    const result = await triage(dump, { fingerprintKey: FP_KEY, keys, detector, threads: 2, workersFromChars: 0 });
    assert.equal(result.status, 'partial');
    assert.equal(result.rows, ROWS, 'the rows read are counted');
    assert.equal(result.credentials.occurrences, 0, 'no row was searched');
    assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
    assert.match(result.errors[0]!.message, new RegExp(`^credentials not looked for in ${ROWS} rows: .*could not be cloned`));
  });
});
