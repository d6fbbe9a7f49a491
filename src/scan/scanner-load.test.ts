/**
 * Under load the fleet result must not change: two scans of the machine's real services run side by side
 * (one process per core, with a tight step timeout), and both find the same exposures as a scan alone.
 * A probe whose peer is slow to answer is retried with a longer deadline instead of being dropped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';
import type { ScanReport } from './index.js';

const ARGS = ['scan', '127.0.0.1', '--format', 'json', '--timeout', '100ms', '--concurrency', '128'];

/** What a scan found, as comparable lines: id, auth and severity of each finding. */
async function exposures(): Promise<string[]> {
  const run = await runCli(ARGS, { timeoutMs: 180_000 });
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as ScanReport).findings.map((f) => `${f.id} ${f.auth} ${f.severity}`).sort();
}

describe('scan under load', { timeout: 400_000 }, () => {
  it('two scans side by side on the same services find the same exposures as one alone', async () => {
    const alone = await exposures();
    assert.ok(
      alone.some((line) => line.startsWith('redis:127.0.0.1:6379 none')),
      alone.join('\n'),
    );
    const [first, second] = await Promise.all([exposures(), exposures()]);
    assert.deepEqual(first, alone);
    assert.deepEqual(second, alone);
  });
});
