// `warden keys canary` as a user runs it: the real CLI in a child process, a SQLite store and files in a temp folder.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';

describe('warden keys canary', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-canary-cli-'));
  const store = join(dir, 'warden.db');
  const env = { WARDEN_KEY_SECRET: `1:${randomBytes(24).toString('hex')}` };
  const cli = (args: string[], input?: string) => runCli([...args, '--store', store], { env, ...(input !== undefined ? { input } : {}) });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('plants into an env file, answers verify as revoked, lists the use, and checks the planting', async () => {
    const envFile = join(dir, 'staging.env');
    writeFileSync(envFile, 'DEBUG=0\nOPENAI_API_KEY=sk-placeholder\n');
    const created = await cli(['keys', 'canary', 'create', '--where', 'staging env file', '--into-env', envFile, '--var', 'OPENAI_API_KEY', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: string };
    assert.doesNotMatch(created.stdout, /wdn_live_/, 'a planted canary is not printed');
    const planted = readFileSync(envFile, 'utf8');
    assert.match(planted, /^DEBUG=0\nOPENAI_API_KEY=wdn_live_[A-Za-z0-9]{38}\n$/);
    const key = planted.split('OPENAI_API_KEY=')[1]!.trim();

    const verify = await cli(['keys', 'verify', '--json'], key);
    assert.equal(verify.code, 1);
    assert.equal((JSON.parse(verify.stdout) as { reason: string }).reason, 'revoked');

    const listed = JSON.parse((await cli(['keys', 'canary', 'list', '--json'])).stdout) as Array<{
      id: string;
      where: string;
      uses: number;
      lastSeenAt: string | null;
    }>;
    assert.deepEqual(
      listed.map((c) => [c.id, c.where, c.uses]),
      [[id, 'staging env file', 1]],
    );
    assert.match(String(listed[0]!.lastSeenAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal((await cli(['keys', 'list', '--json'])).stdout.includes(id), false);

    assert.equal((await cli(['keys', 'canary', 'check'])).code, 0);
    writeFileSync(envFile, 'DEBUG=0\n');
    const gone = await cli(['keys', 'canary', 'check', '--json']);
    assert.equal(gone.code, 1);
    assert.equal((JSON.parse(gone.stdout) as Array<{ present: boolean }>)[0]!.present, false);
    rmSync(envFile);
    const unreadable = await cli(['keys', 'canary', 'check']);
    assert.equal(unreadable.code, 3, 'a place that cannot be read is unknown, not clean');
  });

  it('plants a line into a log stream: warden scrub --keep-lines passes that line and redacts the canary anywhere else', async () => {
    const keepList = join(dir, 'planted-lines');
    const made = await cli([
      'keys',
      'canary',
      'create',
      '--where',
      'gateway log stream',
      '--into-stream',
      '--keep-list',
      keepList,
      '--line',
      '{"level":"info","msg":"upstream call","authorization":"Bearer {key}"}',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const planted = made.stdout.trimEnd();
    assert.match(planted, /^\{"level":"info","msg":"upstream call","authorization":"Bearer wdn_live_[A-Za-z0-9]{38}"\}$/);
    assert.match(made.stderr, /planted canary key_\w+ in log stream kept by /);
    const key = /wdn_live_\w+/.exec(planted)![0];
    const stream = `{"msg":"before"}\n${planted}\n{"msg":"copied","authorization":"Bearer ${key}"}\n`;
    const scrubbed = await runCli(['scrub', '--format', 'ndjson', '--keep-lines', keepList], { env, input: stream });
    assert.equal(scrubbed.code, 0, scrubbed.stderr);
    const [before, kept, copied] = scrubbed.stdout.split('\n');
    assert.equal(before, '{"msg":"before"}');
    assert.equal(kept, planted, 'the planted line passes unchanged');
    assert.doesNotMatch(copied!, /wdn_live_/, 'the canary anywhere else is redacted');
    assert.doesNotMatch(
      (await runCli(['scrub', '--format', 'ndjson'], { env, input: stream })).stdout,
      /wdn_live_/,
      'without the keep list it is redacted everywhere',
    );
    const id = /planted canary (key_\w+)/.exec(made.stderr)![1]!;
    const check = await cli(['keys', 'canary', 'check', '--id', id, '--json']);
    assert.equal(check.code, 0, 'a stream planting is not checked, so not unknown');
    assert.deepEqual(JSON.parse(check.stdout), []);
  });

  it('prints an unplanted canary once, and refuses half-given or double plant targets', async () => {
    const made = await cli(['keys', 'canary', 'create', '--where', 'base image layer']);
    assert.equal(made.code, 0);
    assert.match(made.stdout, /^wdn_live_[A-Za-z0-9]{38}\n$/);
    assert.equal((await cli(['keys', 'canary', 'create', '--where', 'x', '--into-env', join(dir, 'a.env')])).code, 2);
    assert.equal(
      (
        await cli([
          'keys',
          'canary',
          'create',
          '--where',
          'x',
          '--into-env',
          join(dir, 'a.env'),
          '--var',
          'A',
          '--into-log',
          join(dir, 'l.log'),
          '--line',
          '{key}',
        ])
      ).code,
      2,
    );
    const line = await cli(['keys', 'canary', 'plant', 'key_nope', '--into-log', join(dir, 'l.log'), '--line', 'token={key}'], made.stdout);
    assert.equal(line.code, 3);
    assert.match(line.stderr, /no canary with id/);
  });
});
