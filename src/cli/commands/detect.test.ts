import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { expandSample } from '../../detect/index.js';
import { runCli } from '../../../test/helpers/cli.js';
import { TestRepo } from '../../../test/helpers/git-repo.js';
import { makeZip } from '../../../test/helpers/zip.js';

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
      assert.deepEqual(
        found.map((f) => [f.ruleId, f.confidence, f.reason]),
        [
          ['github-pat', 'low', 'checksum does not verify'],
          ['generic-password-assignment', 'low', 'weak, default or documentation value'],
        ],
      );
      const sarif = JSON.parse((await runCli(['detect', weakDir, '--format', 'sarif', '--min-confidence', 'low'], { env })).stdout);
      assert.deepEqual(
        sarif.runs[0].results.map((r: { rank: number; level: string }) => [r.rank, r.level]),
        [
          [20, 'note'],
          [20, 'note'],
        ],
      );
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
      assert.deepEqual(
        JSON.parse(fresh.stdout).findings.map((f: { location: { uri: string; line: number } }) => `${f.location.uri}:${f.location.line}`),
        [`${join(dir, 'clean.txt')}:3`],
      );
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
      assert.deepEqual(doc.skipped, { total: 1, binary: 1, unreadable: 0, 'too-large': 0, submodule: 0, limit: 0 });
      assert.deepEqual(
        doc.findings.map((f: { ruleId: string; location: { line: number } }) => `${f.ruleId}:${f.location.line}`),
        ['generic-password-assignment:3'],
      );
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

describe('warden detect --git, --staged, archives and warden:allow', () => {
  const THIRD = 'sk-proj-' + expandSample('{alnum:44}', 25) + 'T3BlbkFJ' + expandSample('{alnum:44}', 26);
  const repo = new TestRepo('warden-detect-cli-git-');
  let added: string;
  before(() => {
    repo.write('README.md', '# app\n').commit('start');
    added = repo.write('app.env', `NAME=x\nOPENAI_API_KEY=${KEY}\n`).commit('add a key');
    repo.write('app.env', 'NAME=x\n').commit('remove it');
  });
  after(() => rmSync(repo.dir, { recursive: true, force: true }));

  it('history: SARIF with the commit, author, date and a partial fingerprint; a key removed since still fails', async () => {
    const r = await runCli(['detect', '--git', repo.dir, '--format', 'sarif'], { env });
    assert.equal(r.code, 1, r.stderr);
    const [result] = JSON.parse(r.stdout).runs[0].results;
    assert.deepEqual(result.locations[0].physicalLocation, {
      artifactLocation: { uri: 'app.env' },
      region: { startLine: 2, startColumn: 16, endLine: 2, endColumn: 16 + KEY.length },
    });
    assert.deepEqual(
      [result.properties.commitSha, result.properties.author, result.properties.date],
      [added, 'Ada Tester <ada@example.test>', repo.dateOf(added)],
    );
    assert.match(result.partialFingerprints['wardenFingerprint/v1'], /^[0-9a-f]{16}$/);
    assert.match(result.message.text, new RegExp(`added in commit ${added.slice(0, 12)}`));
    assert.match(r.stderr, /3 commit\(s\), \d+ file version\(s\) read, 1 finding/);
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
    const table = await runCli(['detect', '--git', repo.dir, '--format', 'table'], { env });
    assert.match(table.stdout, new RegExp(`${added.slice(0, 12)}:app.env:2:16\\s+critical\\s+openai-project-key`));
  });

  it('a range for a pull request; bad usage exits 2', async () => {
    const since = await runCli(['detect', '--git', repo.dir, '--since-commit', added, '--format', 'json'], { env });
    assert.equal(since.code, 0, since.stderr);
    assert.equal(JSON.parse(since.stdout).commitsScanned, 1);
    const opts = await runCli(['detect', '--git', repo.dir, '--log-opts', `${added}~1..${added}`, '--format', 'json'], { env });
    assert.equal(opts.code, 1);
    for (const bad of [
      ['detect', '--git', repo.dir, '--log-opts', '--output=/tmp/x'],
      ['detect', '--git', repo.dir, '--since-commit', 'no-such-rev'],
      ['detect', '--since-commit', 'HEAD', repo.dir],
      ['detect', '--git', repo.dir, dir],
      ['detect'],
      ['detect', '--git', tmpdir()],
    ]) {
      const r = await runCli(bad, { env });
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    }
  });

  it('a baseline from history accepts the same secret added again in a later commit: fingerprints hold across commits', async () => {
    const baseline = join(repo.dir, '..', `${repo.dir.split('/').pop()}-baseline.json`);
    try {
      assert.equal((await runCli(['detect', '--git', repo.dir, '--write-baseline', baseline], { env })).code, 0);
      repo.write('app.env', `NAME=y\nOPENAI_API_KEY=${KEY}\n`).commit('the same key again, another line around it');
      const history = await runCli(['detect', '--git', repo.dir, '--baseline', baseline], { env });
      assert.equal(history.code, 0, history.stdout + history.stderr);
      assert.match(history.stderr, /0 finding\(s\), 2 accepted by the baseline/);
    } finally {
      rmSync(baseline, { force: true });
      repo.write('app.env', 'NAME=x\n').commit('removed again');
    }
  });

  it('a git pre-commit hook running --staged refuses a commit with a key and lets a clean one through', async () => {
    const hooks = parse(readFileSync(new URL('../../../.pre-commit-hooks.yaml', import.meta.url), 'utf8')) as Array<{
      id: string;
      entry: string;
      pass_filenames: boolean;
    }>;
    assert.deepEqual(
      hooks.map((h) => [h.id, h.entry, h.pass_filenames]),
      [
        ['warden-detect', 'warden detect --staged', false],
        ['warden-detect-system', 'warden detect --staged', false],
      ],
    );
    const hook = join(repo.dir, '.git', 'hooks', 'pre-commit');
    const tsx = import.meta.resolve('tsx');
    const main = new URL('../main.ts', import.meta.url).href;
    const script = `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(['detect', '--staged']);`;
    writeFileSync(
      hook,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} --input-type=module -e ${JSON.stringify(script).replace(/\$/g, '\\$')}\n`,
    );
    chmodSync(hook, 0o755);
    try {
      repo.write('new.env', `token: ${THIRD}\n`).git('add', 'new.env');
      assert.throws(
        () => repo.git('-c', `core.hooksPath=${join(repo.dir, '.git', 'hooks')}`, 'commit', '-q', '-m', 'leak'),
        (err: Error & { stderr: string }) => /new\.env/.test(String(err.stderr ?? '')) || /new\.env/.test(String((err as { stdout?: string }).stdout ?? '')),
      );
      repo.write('new.env', `token: ${THIRD} # warden:allow documented test key\n`).git('add', 'new.env');
      repo.git('-c', `core.hooksPath=${join(repo.dir, '.git', 'hooks')}`, 'commit', '-q', '-m', 'allowed');
      assert.equal(repo.git('log', '-1', '--format=%s'), 'allowed');
    } finally {
      rmSync(hook);
    }
  });

  it('files: warden:allow is counted, --no-inline-allow reports it; archives are read member by member', async () => {
    const d = mkdtempSync(join(tmpdir(), 'warden-detect-allow-'));
    try {
      writeFileSync(join(d, 'fixture.env'), `OPENAI_API_KEY=${KEY} # warden:allow: test fixture\n`);
      writeFileSync(join(d, 'bundle.zip'), makeZip([{ name: 'conf/app.ini', data: `x\ntoken = ${SECOND}\n` }]));
      execFileSync('tar', ['-czf', join(d, 'logs.tgz'), '-C', d, 'fixture.env']);
      const r = await runCli(['detect', d, '--format', 'json'], { env });
      assert.equal(r.code, 1, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(
        doc.findings.map((f: { location: { uri: string; line: number } }) => `${f.location.uri}:${f.location.line}`),
        [`${join(d, 'bundle.zip')}!conf/app.ini:2`],
      );
      assert.equal(doc.allowedInline, 2);
      assert.match(r.stderr, /2 allowed inline \(warden:allow\)/);
      const all = await runCli(['detect', d, '--format', 'json', '--no-inline-allow'], { env });
      assert.equal(JSON.parse(all.stdout).findings.length, 3);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('--strict: a submodule in history and an archive nested past its bound are skips (unknown is not clean): exit 3', async () => {
    const sub = new TestRepo('warden-detect-cli-submodule-');
    const d = mkdtempSync(join(tmpdir(), 'warden-detect-deep-'));
    try {
      const first = sub.write('README.md', '# app\n').commit('start');
      sub.git('update-index', '--add', '--cacheinfo', `160000,${first},vendor/lib`);
      sub.git('commit', '-q', '-m', 'submodule pointer');
      const history = await runCli(['detect', '--git', sub.dir, '--format', 'json'], { env });
      assert.equal(history.code, 0, history.stderr);
      assert.deepEqual(JSON.parse(history.stdout).skipped, { total: 1, binary: 0, unreadable: 0, 'too-large': 0, submodule: 1, limit: 0 });
      assert.match(history.stderr, /skipped vendor\/lib in commit [0-9a-f]{12}: submodule \(a submodule is another repository/);
      const strictHistory = await runCli(['detect', '--git', sub.dir, '--strict'], { env });
      assert.equal(strictHistory.code, 3, strictHistory.stderr);
      assert.match(strictHistory.stderr, /--strict: 1 file\(s\) skipped/);

      let nested = makeZip([{ name: 'core.txt', data: 'nothing here\n' }]);
      for (let i = 0; i < 5; i++) nested = makeZip([{ name: `level${i}.zip`, data: nested }]);
      writeFileSync(join(d, 'deep.zip'), nested);
      const archive = await runCli(['detect', d, '--format', 'json'], { env });
      assert.equal(archive.code, 0, archive.stderr);
      assert.deepEqual(JSON.parse(archive.stdout).skipped, { total: 1, binary: 0, unreadable: 0, 'too-large': 0, submodule: 0, limit: 1 });
      assert.equal((await runCli(['detect', d, '--strict'], { env })).code, 3);
    } finally {
      rmSync(sub.dir, { recursive: true, force: true });
      rmSync(d, { recursive: true, force: true });
    }
  });
});
