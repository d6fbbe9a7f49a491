import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, parseListenAddress, STARTER_CONFIG } from '../../config/index.js';
import { UsageError, WardenError } from '../../errors.js';
import { AlertDispatcher, runWorker, ServeHistory, startServe } from '../../serve/index.js';
import { openStore } from '../../store/index.js';

const CONFIG_HELP = 'configuration file (schema/warden-config.schema.json)';

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
}

export function registerServe(program: Command): void {
  program
    .command('init')
    .description('Write a commented starter warden.yaml for warden serve.')
    .argument('[path]', 'where to write it', 'warden.yaml')
    .option('--force', 'overwrite an existing file')
    .action((path: string, opts: { force?: boolean }) => {
      try {
        writeFileSync(path, STARTER_CONFIG, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} exists; pass --force to overwrite it`);
        throw new UsageError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code}`);
      }
      process.stderr.write(`warden: wrote ${path}; edit the inventories, then run: warden serve --config ${path}\n`);
    });

  program
    .command('serve')
    .description('Scan inventories on a schedule, remember and diff what was seen, alert, and serve an authenticated API and dashboard.')
    .option('-c, --config <file>', CONFIG_HELP, 'warden.yaml')
    .option('--listen <host:port>', 'override the configured listen address (default 127.0.0.1:7470)')
    .option('--admin-key-file <path>', 'where the first-start admin key is written (default: warden-admin-key beside a SQLite store, else in ~/.config/warden)')
    .addHelpText(
      'after',
      `
On first start, when no key with serve:admin exists, one is created and written to a file readable
only by this user (mode 0600); the log names the file, never the key. A lost admin key is replaced with
  warden keys create --store <the store> --owner <you> --name serve-admin --scopes serve:admin,serve:read,metrics:read
run as the same user (or with the same WARDEN_KEY_SECRET).
Every API, dashboard and /metrics request needs a Warden key (serve:read, serve:admin, metrics:read).
Key hashing uses WARDEN_KEY_SECRET or ~/.config/warden/key-secret.

Examples:
  warden init && warden serve
  warden serve --config /etc/warden/warden.yaml --listen 10.0.0.5:7470`,
    )
    .action(async (opts: { config: string; listen?: string; adminKeyFile?: string }) => {
      const config = loadConfig(opts.config);
      const listen = opts.listen ? parseListenAddress(opts.listen) : undefined;
      const daemon = await startServe({
        config,
        ...(listen ? { listen } : {}),
        ...(opts.adminKeyFile ? { adminKeyFile: opts.adminKeyFile } : {}),
        log: (line) => process.stderr.write(`warden serve: ${line}\n`),
      });
      await untilSignal();
      process.stderr.write('warden serve: stopping (runs in progress are recorded as interrupted)\n');
      await daemon.close();
    });

  program
    .command('worker')
    .description('Scan shards of distributed warden serve runs, pulled from NATS JetStream, and write the results to the shared store.')
    .option('-c, --config <file>', `${CONFIG_HELP}; needs a distributed section and a postgres:// store`, 'warden.yaml')
    .addHelpText(
      'after',
      `
A worker takes one shard at a time and acknowledges it only after its results are committed. If the
worker dies, the shard is redelivered to another after distributed.ackWait. SIGINT/SIGTERM hand the
shard in progress back at once.

Example:
  warden worker --config /etc/warden/warden.yaml`,
    )
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      if (!config.distributed) throw new UsageError(`${opts.config} has no distributed section; warden worker needs one`);
      const log = (line: string) => process.stderr.write(`warden worker: ${line}\n`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);
      const store = openStore(config.store);
      try {
        const history = await ServeHistory.open(store);
        const stats = await runWorker({ config: config.distributed, history, signal: stop.signal, log });
        log(`stopped: ${stats.recorded} shards recorded, ${stats.duplicates} duplicates, ${stats.dropped} dropped, ${stats.failed} failed`);
      } finally {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
        await store.close();
      }
    });

  const alert = program.command('alert').description('Alert sinks of warden serve.');
  alert
    .command('test')
    .description('Send a test alert to every configured sink (or one) and report whether it arrived.')
    .option('-c, --config <file>', CONFIG_HELP, 'warden.yaml')
    .option('--sink <name>', 'only this sink')
    .action(async (opts: { config: string; sink?: string }) => {
      const config = loadConfig(opts.config);
      const sinks = config.alerts.filter((s) => !opts.sink || s.name === opts.sink);
      if (!sinks.length) throw new UsageError(opts.sink ? `no alert sink named ${JSON.stringify(opts.sink)}` : `${opts.config} configures no alert sinks`);
      const dispatcher = new AlertDispatcher(sinks);
      const now = Date.now();
      const batch = {
        inventory: 'warden-test',
        runId: null,
        test: true,
        alerts: [
          {
            kind: 'new' as const,
            inventory: 'warden-test',
            finding: {
              id: 'redis:192.0.2.1:6379',
              service: 'redis',
              host: '192.0.2.1',
              port: 6379,
              title: 'Test alert from warden alert test',
              auth: 'none',
              severity: 'high' as const,
              firstSeen: now,
              lastSeen: now,
            },
          },
        ],
      };
      let failed = 0;
      for (const sink of sinks) {
        const result = await dispatcher.deliver({ ...sink, retries: Math.min(sink.retries, 1) }, batch);
        process.stdout.write(
          `${sink.name}\t${sink.type}\t${result.ok ? 'delivered' : 'FAILED'}\t${result.status}\t${result.attempts} attempt${result.attempts === 1 ? '' : 's'}\n`,
        );
        if (!result.ok) failed++;
      }
      if (failed)
        throw new WardenError(`${failed} of ${sinks.length} sink${sinks.length === 1 ? '' : 's'} did not accept the test alert`, 'ALERT_DELIVERY_FAILED', 3);
    });
}
