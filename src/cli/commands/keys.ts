import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import {
  createKeyServer,
  KeyStore,
  LEAK_POLICIES,
  parseGithubPublicKeys,
  parseQuota,
  parseRateLimit,
  type KeyChanges,
  type KeyInfo,
  type LeakPolicy,
  type Quota,
  type ReporterPublicKey,
  wardenKeysIn,
} from '../../keys/index.js';
import { hostPort } from '../../host-port.js';
import { listenAt } from '../../listen-address.js';
import { alignColumns } from '../../report/index.js';
import { parseDuration, parseListenAddress, parsePositiveInt, STORE_HELP } from '../parse.js';
import { registerCanary } from './canary.js';
import { print, readStdin, scopesOf, time, withKeys, type StoreFlag } from './key-store-cli.js';

function rateOf(text: string): KeyChanges['rateLimit'] {
  if (text === 'none') return null;
  const rate = parseRateLimit(text);
  if (!rate) throw new UsageError(`--rate: expected requests per window such as 100/min, got ${JSON.stringify(text)}`);
  return rate;
}

/** Several --quota values combine: a lifetime total and one per-period limit. */
function quotaOf(texts: string[]): Quota | null {
  if (texts.length === 1 && texts[0] === 'none') return null;
  const quota: Quota = {};
  for (const text of texts) {
    const q = parseQuota(text);
    if (!q) throw new UsageError(`--quota: expected 10000/month or a lifetime total such as 50000, got ${JSON.stringify(text)}`);
    Object.assign(quota, q);
  }
  return quota;
}

function changesFrom(opts: {
  scopes?: string;
  expires?: string;
  rate?: string;
  quota?: string[];
  allowIp?: string;
  leakPolicy?: LeakPolicy;
  name?: string;
}): KeyChanges {
  const changes: KeyChanges = {};
  if (opts.name !== undefined) changes.name = opts.name;
  if (opts.scopes !== undefined) changes.scopes = scopesOf(opts.scopes);
  if (opts.expires !== undefined) changes.expiresAt = opts.expires === 'never' ? null : Date.now() + parseDuration(opts.expires, '--expires');
  if (opts.rate !== undefined) changes.rateLimit = rateOf(opts.rate);
  if (opts.quota !== undefined) changes.quota = quotaOf(opts.quota);
  if (opts.allowIp !== undefined) changes.allowedIps = opts.allowIp === 'any' ? null : scopesOf(opts.allowIp);
  if (opts.leakPolicy !== undefined) changes.leakPolicy = opts.leakPolicy;
  return changes;
}

function describeKey(k: KeyInfo): string {
  const lines = [
    `${k.id}  ${k.display}  ${k.status}`,
    `  owner ${k.owner}  name ${JSON.stringify(k.name)}`,
    `  scopes ${k.scopes.join(', ')}`,
    `  expires ${time(k.expiresAt)}  leak policy ${k.leakPolicy}`,
  ];
  if (k.allowedIps) lines.push(`  allowed from ${k.allowedIps.join(', ')}`);
  if (k.rateLimit) lines.push(`  rate ${k.rateLimit.limit} per ${k.rateLimit.windowMs / 1000}s`);
  if (k.quota)
    lines.push(
      `  quota ${k.quota.total !== null ? `${k.quota.used}/${k.quota.total} total` : ''}${k.quota.perPeriod ? ` ${k.quota.perPeriod.used}/${k.quota.perPeriod.limit} per ${k.quota.perPeriod.period}` : ''}`.trimEnd(),
    );
  if (k.disabledAt !== null) lines.push(`  disabled ${time(k.disabledAt)}`);
  if (k.revokedAt !== null)
    lines.push(
      `  ${k.status === 'rotating' ? 'stops' : 'revoked'} ${time(k.revokedAt)}${k.revokeReason ? ` (${k.revokeReason})` : ''}${k.rotatedTo ? ` successor ${k.rotatedTo}` : ''}`,
    );
  lines.push(`  created ${time(k.createdAt)} by ${k.createdBy}  last used ${time(k.lastUsedAt)}${k.lastUsedIp ? ` from ${k.lastUsedIp}` : ''}`);
  return lines.join('\n');
}

const leakPolicyOption = () => new Option('--leak-policy <policy>', 'what a confirmed leak report does').choices([...LEAK_POLICIES]);

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('Warden API keys: create, verify, rotate, revoke, audit, and act on leaks.')
    .addHelpText(
      'after',
      `
Keys are hashed with HMAC-SHA-256 under WARDEN_KEY_SECRET, or a secret file created on first use
(~/.config/warden/key-secret, mode 0600). A key is printed once, by create or rotate; never again.`,
    );

  registerCanary(keys);

  keys
    .command('create')
    .description('Issue a key; prints it once')
    .requiredOption('--owner <owner>', 'owner or tenant')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--scopes <scopes>', 'comma-separated resource:action scopes, e.g. models:read,chat:write or admin:*')
    .addOption(new Option('--env <env>', 'environment in the key').choices(['live', 'test']).default('live'))
    .option('--expires <duration>', 'lifetime such as 90d or 12h')
    .option('--rate <limit>', 'requests per window, e.g. 100/min')
    .option('--quota <quota...>', 'requests per period (10000/month) and/or a lifetime total (50000)')
    .option('--allow-ip <ranges>', 'comma-separated CIDR ranges the key may be used from')
    .addOption(leakPolicyOption().default('revoke'))
    .option('--json', 'print id, key and settings as JSON')
    .option('--store <location>', STORE_HELP)
    .action(
      async (
        opts: StoreFlag & {
          owner: string;
          name: string;
          scopes: string;
          env: 'live' | 'test';
          expires?: string;
          rate?: string;
          quota?: string[];
          allowIp?: string;
          leakPolicy: LeakPolicy;
          json?: boolean;
        },
      ) => {
        const changes = changesFrom(opts);
        await withKeys(opts, async (ks) => {
          const { key, info } = await ks.create({ ...changes, owner: opts.owner, name: opts.name, scopes: changes.scopes ?? [], env: opts.env });
          if (opts.json) return print({ key, ...info }, true, () => '');
          process.stderr.write(`${describeKey(info)}\n\nThe key follows on stdout. It is shown this once; store it now.\n`);
          process.stdout.write(`${key}\n`);
        });
      },
    );

  keys
    .command('list')
    .description('List keys (never the keys themselves)')
    .option('--owner <owner>', 'only this owner')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { owner?: string; json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const list = await ks.list(opts.owner ? { owner: opts.owner } : {});
        print(list, opts.json, () =>
          list.length
            ? alignColumns([
                ['ID', 'KEY', 'STATUS', 'OWNER', 'NAME', 'SCOPES'],
                ...list.map((k) => [k.id, k.display, k.status, k.owner, k.name, k.scopes.join(',')]),
              ])
            : '(no keys)',
        );
      });
    });

  keys
    .command('show')
    .description('Show one key')
    .argument('<id>', 'key id (key_…)')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & { json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const info = await ks.show(id);
        print(info, opts.json, () => describeKey(info));
      });
    });

  keys
    .command('update')
    .description("Change a key's name, scopes, limits, expiry, address ranges or leak policy")
    .argument('<id>', 'key id')
    .option('--name <name>', 'new name')
    .option('--scopes <scopes>', 'replace the scopes')
    .option('--expires <duration>', 'new lifetime from now (90d), or never')
    .option('--rate <limit>', 'requests per window (100/min), or none')
    .option('--quota <quota...>', 'new quota (10000/month, 50000), or none')
    .option('--allow-ip <ranges>', 'replace the allowed ranges, or any')
    .addOption(leakPolicyOption())
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & Parameters<typeof changesFrom>[0] & { json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const info = await ks.update(id, changesFrom(opts));
        print(info, opts.json, () => describeKey(info));
      });
    });

  // Revoking ends a key for good; disabling suspends it until `enable`. Both need a reason for the audit log.
  const stops = [
    { name: 'revoke', description: 'Revoke a key now', stop: (ks: KeyStore, id: string, reason: string) => ks.revoke(id, reason) },
    {
      name: 'disable',
      description: 'Suspend a key until enable (what the disable leak policy does); unlike revoke, reversible',
      stop: (ks: KeyStore, id: string, reason: string) => ks.disable(id, reason),
    },
  ];
  for (const { name, description, stop } of stops) {
    keys
      .command(name)
      .description(description)
      .argument('<id>', 'key id')
      .requiredOption('--reason <reason>', 'why, for the audit log')
      .option('--json', 'JSON output')
      .option('--store <location>', STORE_HELP)
      .action(async (id: string, opts: StoreFlag & { reason: string; json?: boolean }) => {
        await withKeys(opts, async (ks) => {
          const info = await stop(ks, id, opts.reason);
          print(info, opts.json, () => describeKey(info));
        });
      });
  }

  keys
    .command('enable')
    .description('Lift a disable; a revoked or expired key stays refused')
    .argument('<id>', 'key id')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & { json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const info = await ks.enable(id);
        print(info, opts.json, () => describeKey(info));
      });
    });

  keys
    .command('rotate')
    .description('Issue a successor; the old key keeps working for the overlap, then stops by itself')
    .argument('<id>', 'key id')
    .option('--overlap <duration>', 'how long the old key keeps working, e.g. 24h', '0s')
    .option('--json', 'print the successor (with its key) as JSON')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & { overlap: string; json?: boolean }) => {
      const overlapMs = parseDuration(opts.overlap, '--overlap');
      await withKeys(opts, async (ks) => {
        const { key, info, previous } = await ks.rotate(id, { overlapMs });
        if (opts.json) return print({ key, ...info, previous }, true, () => '');
        process.stderr.write(
          `${describeKey(info)}\n\n${previous.id} stops at ${time(previous.revokedAt)}.\nThe new key follows on stdout. It is shown this once; store it now.\n`,
        );
        process.stdout.write(`${key}\n`);
      });
    });

  keys
    .command('verify')
    .description('Verify a key read from stdin (never from the command line); exit 0 valid, 1 with the reason')
    .option('--scopes <scopes>', 'scopes the key must grant')
    .option('--ip <address>', 'client address to check against the allowed ranges')
    .option('--tenant <owner>', 'answer unknown unless the key belongs to this owner')
    .option('--json', 'print the verification as JSON')
    .option('--store <location>', STORE_HELP)
    // A key given as an argument gets a refusal that says where it goes, not commander's "too many arguments".
    .allowExcessArguments()
    .action(async (opts: StoreFlag & { scopes?: string; ip?: string; tenant?: string; json?: boolean }, cmd: Command) => {
      if (cmd.args.length) {
        throw new UsageError(
          'verify: pass the key on stdin, not as an argument (a key on the command line lands in shell history and the process list): printf %s "$KEY" | warden keys verify',
        );
      }
      const token = await readStdin();
      await withKeys({ ...opts }, async (ks) => {
        const check = await ks.verify(token, {
          ...(opts.scopes ? { scopes: scopesOf(opts.scopes) } : {}),
          ...(opts.ip ? { ip: opts.ip } : {}),
          ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
          via: 'cli',
        });
        print(check, opts.json, () => (check.valid ? `valid ${check.keyId} (${check.owner})` : `invalid: ${check.reason}`));
        if (!check.valid) process.exitCode = 1;
      });
    });

  keys
    .command('audit')
    .description('Show the append-only audit log (oldest first)')
    .option('--key <id>', 'only entries about this key')
    .option('--limit <n>', 'most recent N entries', '100')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { key?: string; limit: string; json?: boolean }) => {
      const limit = parsePositiveInt(opts.limit, '--limit');
      await withKeys(opts, async (ks) => {
        const entries = await ks.auditLog({ ...(opts.key ? { keyId: opts.key } : {}), limit });
        print(entries, opts.json, () =>
          entries.length
            ? alignColumns([
                ['TIME', 'ACTOR', 'ACTION', 'KEY', 'DETAILS'],
                ...entries.map((e) => [time(e.at), `${e.actor}${e.source ? `@${e.source}` : ''}`, e.action, e.keyId ?? '-', JSON.stringify(e.details)]),
              ])
            : '(empty)',
        );
      });
    });

  keys
    .command('revoke-found')
    .description('Revoke every Warden key of this store that the detection engine finds in a file or dump')
    .argument('<file>', 'file to scan')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (file: string, opts: StoreFlag & { json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const found = wardenKeysIn(text);
      await withKeys(opts, async (ks) => {
        const outcomes = await ks.reportLeaks(
          found.map((token) => ({ token, url: `file:${file}` })),
          'revoke-found',
          { source: 'local' },
          'revoke',
        );
        const revoked = outcomes.filter((o) => o.action === 'revoke').map((o) => o.keyId);
        const summary = { found: found.length, ours: outcomes.filter((o) => o.label === 'true_positive').length, revoked };
        print(
          summary,
          opts.json,
          () =>
            `found ${summary.found} Warden key(s) in ${file}; ${summary.ours} belong to this store; revoked ${revoked.length}${revoked.length ? `: ${revoked.join(', ')}` : ''}`,
        );
      });
    });

  keys
    .command('serve')
    .description('Serve the key HTTP API (OpenAPI at /openapi.json)')
    .option('--listen <host:port>', 'address to bind', '127.0.0.1:8787')
    .option('--github-keys <file>', "GitHub's secret-scanning public keys (JSON from api.github.com/meta/public_keys/secret_scanning)")
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { listen: string; githubKeys?: string }) => {
      const { host, port } = parseListenAddress(opts.listen);
      let githubPublicKeys: ReporterPublicKey[] | undefined;
      if (opts.githubKeys) {
        try {
          githubPublicKeys = parseGithubPublicKeys(readFileSync(opts.githubKeys, 'utf8'));
        } catch (err) {
          throw new UsageError(`--github-keys: ${(err as Error).message}`);
        }
      }
      await withKeys(opts, async (ks) => {
        const server = createKeyServer({ keys: ks, ...(githubPublicKeys ? { githubPublicKeys } : {}) });
        await listenAt(server, { host, port });
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : port;
        process.stderr.write(`warden keys: serving on http://${hostPort(host, bound)} (store ${ks.store.location})\n`);
        await new Promise<void>((resolve) => {
          const stop = () => server.close(() => resolve());
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      });
    });
}
