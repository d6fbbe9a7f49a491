import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { expandSample, getDefaultDetector } from '../index.js';
import { fingerprintSecret } from '../fingerprint.js';
import { findSecretsInPaths, findSecretsInStream, newFindings, readBaseline, STDIN_PATH, writeBaseline, type FindOptions } from './index.js';
import { writeUnder } from '../../../test/helpers/files.js';

const KEY = 'sk-proj-' + expandSample('{alnum_-:40}') + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 7);
const OTHER_KEY = 'sk-proj-' + expandSample('{alnum:50}', 11) + 'T3BlbkFJ' + expandSample('{alnum:50}', 12);
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${expandSample('{base64:64}', 3)}\n${expandSample('{base64:64}', 4)}\n-----END RSA PRIVATE KEY-----`;
const fingerprintKey = Buffer.from('test-fingerprint-key');
const base = (): FindOptions => ({ detector: getDefaultDetector(), fingerprintKey });

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'warden-detect-'));
  const w = (rel: string, data: string | Buffer) => writeUnder(root, rel, data);
  w('.gitignore', 'build/\n*.secret\n');
  w('app/config.env', `# settings\nNAME=gateway\nOPENAI_API_KEY=${KEY}\n`);
  w('app/keys/id_rsa', `header\n${PEM}\n`);
  w('app/notes.secret', `${KEY}\n`);
  w('app/.gitignore', '!keep.secret\n');
  w('app/keep.secret', `x ${KEY}\n`);
  w('build/out.js', `const k = "${KEY}";\n`);
  w('vendor/lib.js', `const k = "${KEY}";\n`);
  w('logs/old.log.gz', gzipSync(`{"msg":"start"}\n{"headers":{"authorization":"Bearer ${OTHER_KEY}"}}\n`));
  w('assets/logo.bin', Buffer.concat([Buffer.from([0x89, 0x50, 0x00, 0x01]), Buffer.from(KEY)]));
  w('.git/config', `token = ${KEY}\n`);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('findSecretsInPaths', () => {
  it('walks a folder: exact line and column, gitignore (with re-include), gzip read, binary noted, .git skipped', async () => {
    const result = await findSecretsInPaths([root], { ...base(), cwd: root, concurrency: 3 });
    const where = result.findings.map((f) => `${f.path}:${f.line}:${f.column}-${f.endLine}:${f.endColumn} ${f.ruleId}`);
    const pemLines = PEM.split('\n');
    assert.deepEqual(where, [
      `app/config.env:3:16-3:${16 + KEY.length} openai-project-key`,
      `app/keep.secret:1:3-1:${3 + KEY.length} openai-project-key`,
      `app/keys/id_rsa:2:1-${1 + pemLines.length}:${pemLines.at(-1)!.length + 1} private-key`,
      `logs/old.log.gz:2:37-2:${37 + OTHER_KEY.length} openai-project-key`,
      `vendor/lib.js:1:12-1:${12 + KEY.length} openai-project-key`,
    ]);
    assert.deepEqual(result.notes, [{ path: 'assets/logo.bin', reason: 'binary' }]);
    assert.equal(result.findings[0]!.fingerprint, fingerprintSecret('openai-project-key', KEY, fingerprintKey));
    assert.equal(result.findings[0]!.severity, 'critical');
    const serialised = JSON.stringify(result);
    assert.ok(!serialised.includes(KEY) && !serialised.includes(OTHER_KEY) && !serialised.includes(pemLines[1]!), 'no secret in the result');
  });

  it('honours --exclude, allowlisted paths and fingerprints; gitignore can be turned off', async () => {
    const result = await findSecretsInPaths([root], {
      ...base(),
      cwd: root,
      excludes: ['vendor/', '*.gz'],
      ignoredPaths: [/^app\/keys\//],
      ignoredFingerprints: new Set([fingerprintSecret('openai-project-key', KEY, fingerprintKey)]),
    });
    assert.deepEqual(result.findings, []);
    const all = await findSecretsInPaths([join(root, 'build')], { ...base(), cwd: root, gitignore: false });
    assert.deepEqual(
      all.findings.map((f) => f.path),
      ['build/out.js'],
    );
  });

  it('reads a named file even when gitignored, and `-` from stdin; unreadable files are notes', async () => {
    const result = await findSecretsInPaths([join(root, 'app/notes.secret'), '-', join(root, 'missing.txt')], {
      ...base(),
      cwd: root,
      stdin: Readable.from([Buffer.from(`a\nb ${OTHER_KEY}`)]),
    });
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
      [`${STDIN_PATH}:2:3`, 'app/notes.secret:1:1'],
    );
    assert.deepEqual(result.notes, [{ path: 'missing.txt', reason: 'unreadable', detail: 'ENOENT' }]);
  });
});

describe('findSecretsInStream', () => {
  it('finds a key once, at the right column, wherever a cut of an overlong line falls', async () => {
    const maxLineChars = 4096;
    for (const at of [0, 1000, 3000, 3050, 3072, 3100, 4000, 4095, 6100, 9000]) {
      const line = 'x'.repeat(at) + ' ' + KEY + ' ' + 'y'.repeat(10_000);
      const chunks = [Buffer.from('first line\n' + line.slice(0, 2000)), Buffer.from(line.slice(2000) + '\nlast\n')];
      const { findings } = await findSecretsInStream(Readable.from(chunks), 'cut.txt', { ...base(), maxLineChars });
      assert.deepEqual(
        findings.map((f) => `${f.line}:${f.column}:${f.endColumn}`),
        [`2:${at + 2}:${at + 2 + KEY.length}`],
        `key at ${at}`,
      );
    }
  });

  it('keeps memory bounded on a large newline-free stream', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    const total = 96;
    let produced = 0;
    let peak = 0;
    const source = Readable.from(
      (function* () {
        for (; produced < total; produced++) {
          peak = Math.max(peak, process.memoryUsage().heapUsed);
          yield produced === total / 2 ? Buffer.from(` ${KEY} `) : chunk;
        }
      })(),
    );
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const { findings } = await findSecretsInStream(source, 'big.txt', base());
    assert.equal(findings.length, 1);
    assert.ok(peak - before < 64 * 1024 * 1024, `heap grew by ${Math.round((peak - before) / 1e6)} MB for ${total} MB of input`);
  });
});

describe('baseline', () => {
  it('accepts known findings by fingerprint, rule and path; the file holds no secret', async () => {
    const result = await findSecretsInPaths([root], { ...base(), cwd: root });
    const file = join(root, 'baseline.json');
    writeBaseline(file, result.findings.slice(1));
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(KEY) && !text.includes(OTHER_KEY));
    const accepted = readBaseline(file);
    assert.deepEqual(newFindings(result.findings, accepted), result.findings.slice(0, 1));
    const moved = result.findings.slice(1).map((f) => ({ ...f, path: 'elsewhere/' + f.path }));
    assert.equal(newFindings(moved, accepted).length, moved.length, 'the same secret in a new file is new');
    writeFileSync(file, '{"version":2}');
    assert.throws(() => readBaseline(file), /expected/);
  });
});
