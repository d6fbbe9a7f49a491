import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandSample } from '../../detect/index.js';
import { runCli } from '../../../test/helpers/cli.js';

const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 21) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 22);
const SECOND = 'sk-proj-' + expandSample('{alnum:44}', 23) + 'T3BlbkFJ' + expandSample('{alnum:44}', 24);
const env = { WARDEN_FINGERPRINT_KEY: 'cli-test-key' };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-detect-cli-'));
  writeFileSync(join(dir, 'app.env'), `NAME=x\nOPENAI_API_KEY=${KEY}\n`);
  writeFileSync(join(dir, 'clean.txt'), 'nothing here\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('warden detect', () => {
  it('table: exits 1 and names file, line, column, rule and fingerprint, never the key', async () => {
    const r = await runCli(['detect', dir, '--format', 'table'], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`${join(dir, 'app.env')}:2:16\\s+critical\\s+openai-project-key\\s+[0-9a-f]{16}`));
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
    assert.match(r.stderr, /2 file\(s\) read, 1 finding/);
  });

  it('prints JSON when stdout is not a terminal, as scan and classify do', async () => {
    const r = await runCli(['detect', dir], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).findings[0].ruleId, 'openai-project-key');
  });

  it('exits 0 on clean input, 2 on a missing path or bad option', async () => {
    assert.equal((await runCli(['detect', join(dir, 'clean.txt')], { env })).code, 0);
    const missing = await runCli(['detect', join(dir, 'nope')], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file or folder/);
    assert.equal((await runCli(['detect', dir, '--format', 'xml'], { env })).code, 2);
  });

  it('json and sarif from stdin', async () => {
    const json = await runCli(['detect', '-', '--format', 'json'], { env, input: `a\n  token: ${KEY}\n` });
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(doc.findings[0].location, { uri: '<stdin>', line: 2, column: 10, endLine: 2, endColumn: 10 + KEY.length });
    const sarif = await runCli(['detect', dir, '--format', 'sarif'], { env });
    const log = JSON.parse(sarif.stdout);
    assert.equal(log.version, '2.1.0');
    assert.equal(log.runs[0].results[0].ruleId, 'openai-project-key');
    assert.equal(log.runs[0].tool.driver.rules[0].helpUri, 'https://platform.openai.com/api-keys');
    assert.ok(!sarif.stdout.includes(KEY));
  });

  it('reports low-confidence findings only when asked, and counts them otherwise', async () => {
    const bad = expandSample('ghp_{alnum:36}');
    const weakDir = mkdtempSync(join(tmpdir(), 'warden-detect-weak-'));
    try {
      writeFileSync(join(weakDir, 'weak.env'), `GITHUB_TOKEN=${bad}\nDB_PASSWORD=hunter2\n`);
      const quiet = await runCli(['detect', weakDir, '--format', 'json'], { env });
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.deepEqual(JSON.parse(quiet.stdout).findings, []);
      assert.equal(JSON.parse(quiet.stdout).belowMinConfidence, 2);
      assert.match(quiet.stderr, /2 below --min-confidence medium not shown/);
      const all = await runCli(['detect', weakDir, '--format', 'json', '--min-confidence', 'low'], { env });
      assert.equal(all.code, 1);
      const found = JSON.parse(all.stdout).findings as Array<{ ruleId: string; confidence: string; reason: string }>;
      assert.deepEqual(found.map((f) => [f.ruleId, f.confidence, f.reason]), [
        ['github-pat', 'low', 'checksum does not verify'],
        ['generic-password-assignment', 'low', 'weak, default or documentation value'],
      ]);
      const sarif = JSON.parse((await runCli(['detect', weakDir, '--format', 'sarif', '--min-confidence', 'low'], { env })).stdout);
      assert.deepEqual(sarif.runs[0].results.map((r: { rank: number; level: string }) => [r.rank, r.level]), [[20, 'note'], [20, 'note']]);
      assert.ok(!all.stdout.includes(bad) && !all.stdout.includes('hunter2'));
      assert.equal((await runCli(['detect', weakDir, '--min-confidence', 'sure'], { env })).code, 2);
    } finally {
      rmSync(weakDir, { recursive: true, force: true });
    }
  });

  it('a baseline accepts known findings once; only a new one fails', async () => {
    const baseline = join(dir, '..', `${dir.split('/').pop()}-baseline.json`);
    try {
      const write = await runCli(['detect', dir, '--write-baseline', baseline], { env });
      assert.equal(write.code, 0, write.stderr);
      assert.ok(!readFileSync(baseline, 'utf8').includes(KEY));
      const known = await runCli(['detect', dir, '--baseline', baseline], { env });
      assert.equal(known.code, 0, known.stdout);
      assert.match(known.stderr, /0 finding\(s\), 1 accepted by the baseline/);
      appendFileSync(join(dir, 'clean.txt'), `ANTHROPIC=1\nkey=${SECOND}\n`);
      const fresh = await runCli(['detect', dir, '--baseline', baseline, '--format', 'json'], { env });
      assert.equal(fresh.code, 1);
      assert.deepEqual(JSON.parse(fresh.stdout).findings.map((f: { location: { uri: string; line: number } }) => `${f.location.uri}:${f.location.line}`), [`${join(dir, 'clean.txt')}:3`]);
      const otherKey = await runCli(['detect', dir, '--baseline', baseline], { env: { WARDEN_FINGERPRINT_KEY: 'another-key' } });
      assert.equal(otherKey.code, 1, 'fingerprints are keyed: another key sees everything as new');
    } finally {
      rmSync(baseline, { force: true });
      writeFileSync(join(dir, 'clean.txt'), 'nothing here\n');
    }
  });

  it('counts skipped files by reason in the summary and table; --strict makes a skip exit 3', async () => {
    const binDir = mkdtempSync(join(tmpdir(), 'warden-detect-skip-'));
    try {
      writeFileSync(join(binDir, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
      writeFileSync(join(binDir, 'sftp-config.json'), `{\n  // deploy\n  "password": "${expandSample('{alnum:14}', 3)}",\n}\n`);
      const json = await runCli(['detect', binDir, '--format', 'json'], { env });
      assert.equal(json.code, 1, json.stderr);
      const doc = JSON.parse(json.stdout);
      assert.deepEqual(doc.skipped, { total: 1, binary: 1, unreadable: 0, 'too-large': 0 });
      assert.deepEqual(doc.findings.map((f: { ruleId: string; location: { line: number } }) => `${f.ruleId}:${f.location.line}`), ['generic-password-assignment:3']);
      assert.match(json.stderr, /skipped .*logo\.png: binary file with no reader/);
      const table = await runCli(['detect', binDir, '--format', 'table'], { env });
      assert.match(table.stdout, /skipped 1 file\(s\): 1 binary/);
      const strict = await runCli(['detect', binDir, '--strict'], { env });
      assert.equal(strict.code, 3, strict.stderr);
      assert.match(strict.stderr, /--strict: 1 file\(s\) skipped/);
      assert.equal((await runCli(['detect', join(binDir, 'sftp-config.json'), '--strict'], { env })).code, 1, 'nothing skipped: findings decide');
    } finally {
      rmSync(binDir, { recursive: true, force: true });
    }
  });
});
