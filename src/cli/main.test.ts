// Every command of the real CLI, run in a child process the way a user would: with its stdout closed
// before it writes (`warden … | head`), with a store nothing answers on (a loopback port with nothing
// listening), and on a port already taken. Each ends with its normal exit code or one line naming what
// failed; none prints a stack trace or "this is a bug". The table must name every command the CLI has.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../../test/helpers/cli.js';
import { buildProgram } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-main-'));
const store = join(dir, 'warden.db');
const UNREACHABLE = 'postgres://127.0.0.1:1/x';
const env = {
  HOME: dir,
  XDG_CONFIG_HOME: join(dir, 'config'),
  XDG_DATA_HOME: join(dir, 'data'),
  WARDEN_STORE: '',
  WARDEN_KEY_SECRET: '1:main-test-secret-0123456789abcdef',
  WARDEN_INGEST_TOKEN: 'main-test-ingest-token-0123456789',
};
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const POLICY = file('policy.yaml', 'version: 1\ncategories:\n  chat-transcript: 30d\n');
const serveConfig = (storeAt: string, listen: string, extra = '') =>
  `version: 1\nlisten: ${listen}\nstore: ${storeAt}\ninventories: [{name: a, targets: [127.0.0.1], every: 1h}]\n${extra}`;
const gatewayConfig = (storeAt: string, port: number) =>
  `listen: { port: ${port} }\nkeys: { store: ${storeAt} }\nroutes:\n  - name: llm\n    upstream: { url: "http://127.0.0.1:1", profile: openai-compatible }\n    allow: [{ endpoints: [models], scopes: ["llm:inference"] }]\n`;

/**
 * Filled in `before`: in the SQLite store a key (shown, updated, verified), a spare one (disabled and
 * enabled while the first is verified: tests run two at a time) and an incident; a file holding the first.
 */
const seeded = { key: '', keyId: '', spareId: '', incidentId: '', leak: '' };
let busy: Server;
let busyPort = 0;

/**
 * Per command: `pipe`, arguments for a run whose stdout is closed, and the exit code it normally has
 * (none for a daemon: it writes nothing to stdout and does not end by itself); `unreachable`, arguments that point it
 * at a store or peer nothing answers on, with the exit code and the line it must print; `busyPort`, the
 * same for a server whose port is taken. Functions, because the seeded ids exist only once `before` ran.
 */
interface Case {
  pipe?: () => { args: string[]; code: number; input?: string };
  unreachable?: () => { args: string[]; code: number; line: RegExp };
  busyPort?: () => { args: string[]; line: RegExp };
}

const storeDown = (args: string[]) => () => ({
  args: [...args, '--store', UNREACHABLE],
  code: 3,
  line: /^warden: cannot open the store postgres:\/\/127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
});
const busyLine = () => new RegExp(`^warden: cannot listen on 127\\.0\\.0\\.1:${busyPort}( for \\w+)?: EADDRINUSE$`);
const ALERT_CONFIG = () => file('alert.yaml', serveConfig(store, '127.0.0.1:0', 'alerts: [{name: hook, type: webhook, url: "http://127.0.0.1:1/hook"}]\n'));

const COMMANDS: Record<string, Case> = {
  detect: { pipe: () => ({ args: ['detect', seeded.leak], code: 1 }) },
  scrub: {
    pipe: () => ({ args: ['scrub', seeded.leak], code: 0 }),
    busyPort: () => ({ args: ['scrub', '--listen', `127.0.0.1:${busyPort}`, '--forward', 'http://127.0.0.1:1/'], line: busyLine() }),
  },
  'keys create': {
    pipe: () => ({ args: ['keys', 'create', '--owner', 'o', '--name', 'n', '--scopes', 'a:b', '--store', store], code: 0 }),
    unreachable: storeDown(['keys', 'create', '--owner', 'o', '--name', 'n', '--scopes', 'a:b']),
  },
  'keys list': { pipe: () => ({ args: ['keys', 'list', '--store', store], code: 0 }), unreachable: storeDown(['keys', 'list']) },
  'keys show': { pipe: () => ({ args: ['keys', 'show', seeded.keyId, '--store', store], code: 0 }), unreachable: storeDown(['keys', 'show', 'key_x']) },
  'keys update': {
    pipe: () => ({ args: ['keys', 'update', seeded.keyId, '--name', 'renamed', '--store', store], code: 0 }),
    unreachable: storeDown(['keys', 'update', 'key_x', '--name', 'y']),
  },
  'keys revoke': {
    pipe: () => ({ args: ['keys', 'revoke', 'key_missing', '--reason', 'r', '--store', store], code: 2 }),
    unreachable: storeDown(['keys', 'revoke', 'key_x', '--reason', 'r']),
  },
  'keys disable': {
    pipe: () => ({ args: ['keys', 'disable', seeded.spareId, '--reason', 'r', '--store', store], code: 0 }),
    unreachable: storeDown(['keys', 'disable', 'key_x', '--reason', 'r']),
  },
  'keys enable': { pipe: () => ({ args: ['keys', 'enable', seeded.spareId, '--store', store], code: 0 }), unreachable: storeDown(['keys', 'enable', 'key_x']) },
  'keys rotate': { pipe: () => ({ args: ['keys', 'rotate', 'key_missing', '--store', store], code: 2 }), unreachable: storeDown(['keys', 'rotate', 'key_x']) },
  'keys verify': { pipe: () => ({ args: ['keys', 'verify', '--store', store], code: 0, input: seeded.key }), unreachable: storeDown(['keys', 'verify']) },
  'keys audit': { pipe: () => ({ args: ['keys', 'audit', '--store', store], code: 0 }), unreachable: storeDown(['keys', 'audit']) },
  'keys canary create': {
    pipe: () => ({ args: ['keys', 'canary', 'create', '--where', 'ci', '--store', store], code: 0 }),
    unreachable: storeDown(['keys', 'canary', 'create', '--where', 'ci']),
  },
  'keys canary list': { pipe: () => ({ args: ['keys', 'canary', 'list', '--store', store], code: 0 }), unreachable: storeDown(['keys', 'canary', 'list']) },
  'keys canary check': { pipe: () => ({ args: ['keys', 'canary', 'check', '--store', store], code: 0 }), unreachable: storeDown(['keys', 'canary', 'check']) },
  'keys canary plant': {
    unreachable: () => storeDown(['keys', 'canary', 'plant', 'key_x', '--into-env', file('plant.env', ''), '--var', 'A'])(),
  },
  'keys revoke-found': {
    pipe: () => ({ args: ['keys', 'revoke-found', POLICY, '--store', store], code: 0 }),
    unreachable: storeDown(['keys', 'revoke-found', POLICY]),
  },
  'keys serve': {
    unreachable: storeDown(['keys', 'serve', '--listen', '127.0.0.1:0']),
    busyPort: () => ({ args: ['keys', 'serve', '--listen', `127.0.0.1:${busyPort}`, '--store', store], line: busyLine() }),
  },
  classify: {
    pipe: () => ({ args: ['classify', `sqlite://${store}`], code: 0 }),
    // The DSN is the input being examined: an unreachable one is exit 2, as `classify --help` says.
    unreachable: () => ({
      args: ['classify', UNREACHABLE],
      code: 2,
      line: /^warden: cannot connect to postgres:\/\/.*127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
  },
  'retention plan': {
    pipe: () => ({ args: ['retention', 'plan', `sqlite://${store}`, '--policy', POLICY], code: 0 }),
    unreachable: () => ({
      args: ['retention', 'plan', UNREACHABLE, '--policy', POLICY],
      code: 2,
      line: /^warden: cannot connect to postgres:\/\/.*127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
  },
  'retention apply': {
    pipe: () => ({ args: ['retention', 'apply', `sqlite://${store}`, '--policy', POLICY, '--dry-run'], code: 0 }),
    unreachable: () => ({
      args: ['retention', 'apply', UNREACHABLE, '--policy', POLICY],
      code: 2,
      line: /^warden: cannot connect to postgres:\/\/.*127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
  },
  scan: { pipe: () => ({ args: ['scan', '--list-probes'], code: 0 }) },
  init: { pipe: () => ({ args: ['init', join(dir, 'init.yaml'), '--force'], code: 0 }) },
  serve: {
    unreachable: () => ({
      args: ['serve', '--config', file('serve-down.yaml', serveConfig(UNREACHABLE, '127.0.0.1:0'))],
      code: 3,
      line: /^warden: cannot open the store postgres:\/\/127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
    busyPort: () => ({ args: ['serve', '--config', file('serve-busy.yaml', serveConfig(join(dir, 'serve.db'), `127.0.0.1:${busyPort}`))], line: busyLine() }),
  },
  worker: {
    unreachable: () => ({
      args: ['worker', '--config', file('worker-down.yaml', serveConfig(UNREACHABLE, '127.0.0.1:0', 'distributed: {nats: "nats://127.0.0.1:1"}\n'))],
      code: 3,
      line: /^warden: cannot open the store postgres:\/\/127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
  },
  'alert test': {
    pipe: () => ({ args: ['alert', 'test', '--config', ALERT_CONFIG()], code: 3 }),
    unreachable: () => ({ args: ['alert', 'test', '--config', ALERT_CONFIG()], code: 3, line: /^warden: 1 of 1 sink did not accept the test alert$/ }),
  },
  'incident open': {
    pipe: () => ({ args: ['incident', 'open', '--kind', 'leaked-api-key', '--store', store], code: 0 }),
    unreachable: storeDown(['incident', 'open', '--kind', 'leaked-api-key']),
  },
  'incident list': { pipe: () => ({ args: ['incident', 'list', '--store', store], code: 0 }), unreachable: storeDown(['incident', 'list']) },
  'incident triage': {
    pipe: () => ({ args: ['incident', 'triage', seeded.incidentId, seeded.leak, '--store', store], code: 1 }),
    unreachable: storeDown(['incident', 'triage', 'inc_x', POLICY]),
  },
  'incident note': {
    pipe: () => ({ args: ['incident', 'note', seeded.incidentId, 'checked', '--store', store], code: 0 }),
    unreachable: storeDown(['incident', 'note', 'inc_x', 'm']),
  },
  'incident status': {
    pipe: () => ({ args: ['incident', 'status', seeded.incidentId, '--store', store], code: 0 }),
    unreachable: storeDown(['incident', 'status', 'inc_x']),
  },
  'incident report': {
    pipe: () => ({ args: ['incident', 'report', seeded.incidentId, '--store', store], code: 0 }),
    unreachable: storeDown(['incident', 'report', 'inc_x']),
  },
  'incident playbook': { pipe: () => ({ args: ['incident', 'playbook', 'leaked-api-key'], code: 0 }) },
  gateway: {
    unreachable: () => ({
      args: ['gateway', '--config', file('gateway-down.yaml', gatewayConfig(UNREACHABLE, 0))],
      code: 3,
      line: /^warden: cannot open the store postgres:\/\/127\.0\.0\.1:1\/x: connect ECONNREFUSED/,
    }),
    busyPort: () => ({ args: ['gateway', '--config', file('gateway-busy.yaml', gatewayConfig(store, busyPort))], line: busyLine() }),
  },
};

function assertNoBug(r: CliResult, what: string): void {
  assert.doesNotMatch(r.stderr, /this is a bug|unexpected error|EPIPE|\n\s+at /, `${what}: ${r.stderr}`);
}

describe('every command: closed stdout, unreachable store, busy port (CLI)', { concurrency: 2, timeout: 240_000 }, () => {
  before(async () => {
    const created = await runCli(['keys', 'create', '--owner', 'acme', '--name', 'ci', '--scopes', 'a:b', '--json', '--store', store], { env });
    assert.equal(created.code, 0, created.stderr);
    ({ key: seeded.key, id: seeded.keyId } = JSON.parse(created.stdout) as { key: string; id: string });
    const spare = await runCli(['keys', 'create', '--owner', 'acme', '--name', 'spare', '--scopes', 'a:b', '--json', '--store', store], { env });
    seeded.spareId = (JSON.parse(spare.stdout) as { id: string }).id;
    seeded.leak = file('leak.log', `request auth="Bearer ${seeded.key}"\n`);
    const opened = await runCli(['incident', 'open', '--kind', 'leaked-api-key', '--json', '--store', store], { env });
    assert.equal(opened.code, 0, opened.stderr);
    seeded.incidentId = (JSON.parse(opened.stdout) as { id: string }).id;
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => busy.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every command the CLI registers', async () => {
    const program = await buildProgram([]);
    const leaves = (cmd: typeof program, prefix: string[]): string[] =>
      cmd.commands.flatMap((c) => (c.commands.length ? leaves(c, [...prefix, c.name()]) : [[...prefix, c.name()].join(' ')]));
    assert.deepEqual(leaves(program, []).sort(), Object.keys(COMMANDS).sort());
  });

  // Help is written by one piece of code (commander's) for every command; these cover the program, a
  // group and a command.
  for (const args of [['--help'], ['keys', '--help'], ['scan', '--help']]) {
    it(`warden ${args.join(' ')} with its stdout closed exits 0 quietly`, async () => {
      const r = await runCli(args, { env, closedStdout: true });
      assertNoBug(r, args.join(' '));
      assert.equal(r.code, 0);
    });
  }

  for (const [name, c] of Object.entries(COMMANDS)) {
    if (c.pipe) {
      it(`${name}: a run with stdout closed ends quietly with the normal exit code`, async () => {
        const run = c.pipe!();
        const r = await runCli(run.args, { env, closedStdout: true, ...(run.input !== undefined ? { input: run.input } : {}) });
        assertNoBug(r, name);
        assert.equal(r.code, run.code, r.stderr);
      });
    }
    if (c.unreachable) {
      it(`${name}: an unreachable store is one line and exit 2 or 3`, async () => {
        const { args, code, line } = c.unreachable!();
        const r = await runCli(args, { env, timeoutMs: 30_000 });
        assertNoBug(r, name);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr.trimEnd().split('\n').at(-1)!, line);
        assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('warden: ')).length, 1, r.stderr);
      });
    }
    if (c.busyPort) {
      it(`${name}: a port in use is one line and exit 3`, async () => {
        const { args, line } = c.busyPort!();
        const r = await runCli(args, { env, timeoutMs: 30_000 });
        assertNoBug(r, name);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr.trimEnd().split('\n').at(-1)!, line);
      });
    }
  }
});
