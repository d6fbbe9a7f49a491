import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, parseDuration, parseListenAddress, STARTER_CONFIG } from './index.js';

const base = `version: 1
inventories:
  - name: lab
    targets: [127.0.0.1]
    every: 15m
`;

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, '/etc/warden/warden.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('warden.yaml', () => {
  it('parses the starter file warden init writes', () => {
    const config = parseConfig(STARTER_CONFIG, '/srv/warden/warden.yaml', {});
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 7470 });
    assert.equal(config.store, '/srv/warden/warden.db');
    assert.equal(config.inventories[0]!.name, 'local-datastores');
    assert.deepEqual(config.inventories[0]!.ports, [5432, 6379, 8123, 9000, 9200]);
    assert.deepEqual(config.inventories[0]!.schedule, { kind: 'interval', everyMs: 900_000 });
    assert.equal(config.inventories[0]!.jitterMs, 30_000);
    assert.deepEqual(config.alerts, []);
  });

  it('takes ports as one number, a quoted string or a list', () => {
    for (const [written, ports] of [
      ['8123', [8123]],
      ['"8123"', [8123]],
      ['"6379, 9000-9001"', [6379, 9000, 9001]],
      ['[6379, 8123]', [6379, 8123]],
    ] as const) {
      const config = parseConfig(`${base}    ports: ${written}\n`, 'w.yaml', {});
      assert.deepEqual(config.inventories[0]!.ports, ports, written);
    }
    assert.match(errorOf(`${base}    ports: 70000\n`), /warden\.yaml:6: inventories\.0\.ports: must be <= 65535/);
  });

  it('reads intervals, cron expressions, sinks and secrets from the environment', () => {
    const config = parseConfig(
      `version: 1
store: postgres://warden@127.0.0.1/warden
inventories:
  - {name: a, targets: [10.0.0.0/30], every: 90s, ports: [6379, 8123]}
  - {name: b, targets: [db.internal:8123], cron: "*/5 * * * *"}
alerts:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/x", secretEnv: HOOK_SECRET, minSeverity: high}
  - {name: chat, type: slack, urlEnv: SLACK_URL}
`,
      'w.yaml',
      { HOOK_SECRET: 's3cr3t-value', SLACK_URL: 'http://127.0.0.1:9/slack' },
    );
    assert.equal(config.store, 'postgres://warden@127.0.0.1/warden');
    assert.deepEqual(config.inventories[0]!.schedule, { kind: 'interval', everyMs: 90_000 });
    assert.deepEqual(config.inventories[1]!.schedule, { kind: 'cron', expression: '*/5 * * * *' });
    assert.equal(config.alerts[0]!.secret, 's3cr3t-value');
    assert.equal(config.alerts[0]!.minSeverity, 'high');
    assert.equal(config.alerts[1]!.url, 'http://127.0.0.1:9/slack');
    assert.equal(config.alerts[1]!.minSeverity, 'medium');
  });

  it('names the line of an unknown field, a bad duration and a missing schedule', () => {
    assert.equal(errorOf(base + '    colour: blue\n'), '/etc/warden/warden.yaml:6: inventories.0: unknown field "colour"');
    assert.equal(
      errorOf(base.replace('every: 15m', 'every: soon')),
      '/etc/warden/warden.yaml:5: inventories.0.every: expected a duration such as 30s, 15m or 6h',
    );
    assert.match(errorOf(base.replace('    every: 15m\n', '')), /^\/etc\/warden\/warden\.yaml:3: inventories\.0: give exactly one of "every"/);
  });

  it('names the line of a bad cron expression, target, port range and duplicate name', () => {
    assert.match(errorOf(base.replace('every: 15m', 'cron: "61 * * * *"')), /warden\.yaml:5: inventories\.0\.cron: not a cron expression/);
    assert.match(errorOf(base.replace('[127.0.0.1]', '["10.0.0.0/99"]')), /warden\.yaml:4: inventories\.0\.targets: target "10\.0\.0\.0\/99"/);
    assert.match(errorOf(base + '    ports: "9000-80"\n'), /warden\.yaml:6: inventories\.0\.ports: bad port or range "9000-80"/);
    assert.match(errorOf(base + '  - {name: lab, targets: [127.0.0.2], every: 1h}\n'), /warden\.yaml:6: inventories\.1\.name: "lab" is used twice/);
  });

  it('reports YAML syntax errors and unset secret variables by line, without any value', () => {
    assert.match(errorOf('version: 1\ninventories: [\n'), /^\/etc\/warden\/warden\.yaml:\d+: /);
    const message = errorOf(base + 'alerts:\n  - {name: h, type: webhook, url: "http://127.0.0.1:9/", secretEnv: HOOK_SECRET}\n');
    assert.equal(message, '/etc/warden/warden.yaml:7: alerts.0.secretEnv: the variable HOOK_SECRET is not set');
  });

  it('refuses runs closer than 10 s apart and a malformed listen address', () => {
    assert.match(errorOf(base.replace('every: 15m', 'every: 2s')), /:5: inventories\.0\.every: at least 10s/);
    assert.match(errorOf('listen: "0.0.0.0"\n' + base), /:1: listen: /);
  });

  it('shares one duration and one listen-address parser with the CLI', () => {
    assert.equal(parseDuration('500ms', '--timeout'), 500);
    assert.equal(parseDuration('1.5h', '--timeout'), 5_400_000);
    assert.equal(parseDuration('2w', '--expires'), 1_209_600_000);
    assert.throws(() => parseDuration('soon', '--expires'), { code: 'USAGE', message: /^--expires: expected a duration/ });
    assert.deepEqual(parseListenAddress('10.0.0.5:7470'), { host: '10.0.0.5', port: 7470 });
    assert.deepEqual(parseListenAddress('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseListenAddress('7470'), { host: '127.0.0.1', port: 7470 });
    assert.throws(() => parseListenAddress('host:99999', 'listen'), { code: 'USAGE', message: /^listen: expected HOST:PORT/ });
    assert.throws(() => parseListenAddress('a:b:1'), /--listen/);
  });

  it('reads the distributed section with defaults, and refuses it without a shared store', () => {
    const pg = 'store: postgres://warden@127.0.0.1/warden\n';
    const config = parseConfig(`${pg}${base}distributed:\n  nats: nats://127.0.0.1:4222\n  tokenEnv: NATS_TOKEN\n  shardSize: 64\n  ackWait: 30s\n`, 'w.yaml', {
      NATS_TOKEN: 'nats-token-value',
    });
    assert.deepEqual(config.distributed, {
      url: 'nats://127.0.0.1:4222',
      token: 'nats-token-value',
      stream: 'WARDEN_SCAN_SHARDS',
      subject: 'warden.scan.shards',
      consumer: 'warden-workers',
      shardSize: 64,
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadlineMs: 3_600_000,
    });
    assert.equal(parseConfig(base, 'w.yaml', {}).distributed, undefined);
    assert.equal(
      errorOf(`${base}distributed:\n  nats: nats://127.0.0.1:4222\n`),
      '/etc/warden/warden.yaml:6: distributed: needs a shared store; set store to a postgres:// URL',
    );
    assert.match(
      errorOf(`${pg}${base}distributed:\n  nats: nats://127.0.0.1:4222\n  subject: "warden.>"\n`),
      /:9: distributed\.subject: expected dot-separated tokens/,
    );
    assert.match(
      errorOf(`${pg}${base}distributed:\n  nats: nats://127.0.0.1:4222\n  ackWait: 10m\n  deadline: 5m\n`),
      /:10: distributed\.deadline: must be longer than ackWait/,
    );
    assert.match(errorOf(`${pg}${base}distributed:\n  nats: nats://127.0.0.1:4222\n  shardSize: 0\n`), /:9: distributed\.shardSize: must be >= 1/);
  });

  it('takes an incident policy that revokes only when it says so', () => {
    const quiet = parseConfig(base, 'w.yaml', {});
    assert.equal(quiet.incidents.open, false);
    assert.equal(quiet.incidents.revokeWardenKeys, false);
    const policy = parseConfig(`${base}incidents: {open: true, regimes: [gdpr, nis2]}\n`, 'w.yaml', {}).incidents;
    assert.equal(policy.open, true);
    assert.equal(policy.revokeWardenKeys, false, 'revocation needs its own explicit setting');
    assert.ok(
      policy.regimes.rules.some((r) => r.id.startsWith('nis2')),
      JSON.stringify(policy.regimes),
    );
    assert.equal(parseConfig(`${base}incidents: {open: true, revokeWardenKeys: true}\n`, 'w.yaml', {}).incidents.revokeWardenKeys, true);
    assert.match(errorOf(`${base}incidents: {open: yes please}\n`), /:6: incidents\.open: must be boolean/);
  });
});
