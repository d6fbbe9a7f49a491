/** `warden scan` end to end: the CLI as a child process against the machine's real services. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { SARIF_FINGERPRINT_KEY } from '../../report/index.js';
import type { ScanReport } from '../../scan/index.js';

const ENTRY = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
const warden = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ENTRY, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('warden scan (CLI)', { timeout: 120_000 }, () => {
  it("finds the machine's open PostgreSQL, Redis and MariaDB and emits schema-valid JSON", () => {
    const run = warden('scan', '127.0.0.1', '--format', 'json', '--probe', 'postgresql', 'redis', 'mysql');
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ScanReport;
    const ajv = new Ajv({ allErrors: true, validateFormats: false });
    const validate = ajv.compile(JSON.parse(readFileSync('schema/scan-report.schema.json', 'utf8')));
    assert.ok(validate(report), JSON.stringify(validate.errors));
    const ids = report.findings.map((f) => f.id).sort();
    assert.deepEqual(ids, ['mysql:127.0.0.1:3306', 'postgresql:127.0.0.1:5432', 'redis:127.0.0.1:6379']);
    assert.ok(report.findings.every((f) => f.auth === 'none' && f.severity === 'high'));
    assert.equal(run.stderr, '', 'no progress on stderr when it is not a TTY');
  });

  it('--fail-on makes the exit code 1 when a finding reaches it; SARIF is 2.1.0', () => {
    const run = warden('scan', '127.0.0.1:6379', '--format', 'sarif', '--fail-on', 'high');
    assert.equal(run.status, 1, run.stderr);
    const sarif = JSON.parse(run.stdout);
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.runs[0].results[0].ruleId, 'redis');
    assert.equal(sarif.runs[0].results[0].partialFingerprints[SARIF_FINGERPRINT_KEY], 'redis:127.0.0.1:6379');
  });

  it("--tags runs only the probes carrying one of them, and --list-probes shows each probe's tags", () => {
    const cache = JSON.parse(warden('scan', '127.0.0.1:6379', '--tags', 'cache', '--format', 'json').stdout) as ScanReport;
    assert.deepEqual(
      cache.findings.map((f) => f.service),
      ['redis'],
    );
    // No AI probe speaks Redis: the open port is listed, unidentified, never taken for clean.
    const ai = JSON.parse(warden('scan', '127.0.0.1:6379', '--tags', 'ai', '--format', 'json').stdout) as ScanReport;
    assert.deepEqual(
      ai.findings.map((f) => f.service),
      ['unknown'],
    );
    assert.match(warden('scan', '--list-probes').stdout, /^redis \(Redis; ports [^)]*; tags data-store, cache, queue\)$/m);
  });

  it('bad usage exits 2 before sending anything', () => {
    for (const args of [
      ['scan'],
      ['scan', 'not a host'],
      ['scan', '127.0.0.1', '--ports', '0-5'],
      ['scan', '127.0.0.1', '--timeout', 'soon'],
      ['scan', '127.0.0.1', '--probe', 'nope'],
      ['scan', '127.0.0.1', '--tags', 'nope'],
    ]) {
      const run = warden(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    }
  });

  it('a name that does not resolve is reported, and exits 3 when no target could be scanned', () => {
    const run = warden('scan', 'nosuchhost.invalid', '--format', 'json');
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /target "nosuchhost\.invalid" not scanned \(unresolved\)/);
    const report = JSON.parse(run.stdout) as ScanReport;
    assert.deepEqual(
      report.targets.map((t) => t.status),
      ['unresolved'],
    );
    assert.deepEqual(report.ports, []);
  });

  it('some targets scanned and some not: the scan stands (exit 0), with a warning and the status', () => {
    const run = warden('scan', '127.0.0.1:6379', 'nosuchhost.invalid:6379', '--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /target "nosuchhost\.invalid:6379" not scanned \(unresolved\)/);
    const report = JSON.parse(run.stdout) as ScanReport;
    assert.deepEqual(
      report.targets.map((t) => t.status),
      ['scanned', 'unresolved'],
    );
    assert.deepEqual(report.ports, [6379]);
  });

  it('a malformed address is bad usage (exit 2), not a host with nothing open', () => {
    const run = warden('scan', '999.1.1.1');
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /not a valid IPv4 address/);
  });

  it('--level port prints every open port in the table', () => {
    const run = warden('scan', '127.0.0.1:6379', '--level', 'port', '--format', 'table');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /info\s+127\.0\.0\.1:6379\s+unknown\s+unknown/);
  });

  it('prints a table with the exposure and a summary line', () => {
    const run = warden('scan', '127.0.0.1:6379', '--format', 'table');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /high\s+127\.0\.0\.1:6379\s+redis\s+none/);
    assert.match(run.stdout, /1 endpoints checked, 1 open, 1 identified/);
  });
});
