import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandSample } from '../../src/detect/index.js';
import { runCli } from '../helpers/cli.js';

const OPENAI = expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}');
const PEM = ['-----BEGIN PRIVATE KEY-----', expandSample('{base64:64}'), expandSample('{base64:40}=='), '-----END PRIVATE KEY-----'].join('\n');

let dir: string;
let file: string;
let input: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-threads-'));
  // Several batches (256 KiB each), so the workers start: NDJSON with keys and credential-named fields, text, CRLF, keys.
  const lines: string[] = [];
  for (let i = 0; lines.join('\n').length < 1_500_000; i++) {
    if (i % 50 === 0) lines.push(JSON.stringify({ i, headers: { authorization: `Bearer ${OPENAI}` }, password: i }));
    else if (i % 333 === 0) lines.push(PEM);
    else if (i % 7 === 0) lines.push(`plain ${i} api_key=${OPENAI}\r`);
    else lines.push(JSON.stringify({ i, msg: 'hello '.repeat(i % 200), usage: { prompt_tokens: i } }));
  }
  input = lines.join('\n') + '\n';
  file = join(dir, 'app.log');
  writeFileSync(file, input);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('warden scrub --threads', () => {
  it('writes the same bytes and stats with 2 threads as with 1, from a file and from stdin', async () => {
    const one = await runCli(['scrub', '--threads', '1', '--stats', '--mask', 'fingerprint', file], { env: { WARDEN_FINGERPRINT_KEY: 'k'.repeat(32) } });
    const two = await runCli(['scrub', '--threads', '2', '--stats', '--mask', 'fingerprint', file], { env: { WARDEN_FINGERPRINT_KEY: 'k'.repeat(32) } });
    const piped = await runCli(['scrub', '--threads', '2', '--format', 'ndjson'], { input });
    const pipedOne = await runCli(['scrub', '--threads', '1', '--format', 'ndjson'], { input });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(one.stdout === two.stdout, 'file output differs between 1 and 2 threads');
    assert.ok(piped.stdout === pipedOne.stdout, 'stdin output differs between 1 and 2 threads');
    assert.ok(!two.stdout.includes(OPENAI) && !piped.stdout.includes(OPENAI));
    // The stats line but its MB/s figure.
    const counts = (stderr: string) => stderr.replace(/ [\d.]+ MB\/s/, '');
    assert.equal(counts(two.stderr), counts(one.stderr));
    assert.match(two.stderr, /^lines \d+ {2}bytes \d+/);
  });

  it('ends with its own exit code when the reader stops early', async () => {
    const r = await runCli(['scrub', '--threads', '2', file], { closedStdout: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('refuses a count that is not a whole number from 1, with files and with --listen (exit 2)', async () => {
    for (const bad of ['0', '-1', 'two', '1.5']) {
      const r = await runCli(['scrub', '--threads', bad, file]);
      assert.equal(r.code, 2, `--threads ${bad}`);
      assert.match(r.stderr, /--threads/);
    }
    const listen = await runCli(['scrub', '--threads', '0', '--listen', '127.0.0.1:0', '--forward', join(dir, 'out.ndjson'), '--no-auth']);
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /--threads/);
  });
});
