/**
 * The daemon: runs each inventory on its schedule (never two runs of one inventory at once),
 * records and diffs every run, alerts in the background, and serves the API and dashboard.
 */
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { ServeConfig, Inventory } from '../config/index.js';
import { defaultKeySecretPath, KeyStore, scopesAllow, type KeySecrets } from '../keys/index.js';
import { loadFingerprintKey } from '../detect/index.js';
import { hostPort } from '../host-port.js';
import { IncidentStore } from '../incident/index.js';
import { scan, type Finding, type ScanOptions } from '../scan/index.js';
import { createScrubber } from '../scrub/index.js';
import { isPostgresUrl, openStore, type Store } from '../store/index.js';
import { writeSecretFile } from '../secret-file.js';
import { AlertDispatcher } from './alerts.js';
import { startCanaryWatch, type CanaryWatch } from './canary-watch.js';
import { createDistributedRunner, type DistributedRunner } from './distributed.js';
import { ServeHistory, type RunOutcome, type RunRecord } from './history.js';
import { startHttpServer, type HttpServer } from './http.js';
import { respondToCriticalExposures, type IncidentResponder } from './incident-response.js';
import { nextRunAt, runAt, type Timer } from './scheduler.js';

export const ADMIN_SCOPES = ['serve:admin', 'serve:read', 'metrics:read'] as const;
const HEARTBEAT_MS = 10_000;
/** A running run whose heartbeat is older than this belongs to a process that is gone. */
const STALE_MS = 6 * HEARTBEAT_MS;

/** What one pass of a run (the scan, or the re-check) saw. */
export interface ScanPass {
  findings: Finding[];
  stats: { endpoints: number; open: number };
  /** Distributed mode: shards whose results did not come in before the deadline. */
  missingShards?: { missing: number; total: number };
}

/** How a run's endpoints get scanned: in this process, or sharded to workers (distributed mode). */
export type ScanRunner = (inventory: Inventory, run: RunRecord, options: ScanOptions) => Promise<ScanPass>;

export interface ServeOptions {
  config: ServeConfig;
  /** Default: the store the configuration names. */
  store?: Store;
  /** Key-hashing secrets; default WARDEN_KEY_SECRET or the secret file. */
  secrets?: KeySecrets;
  /** Overrides the configured listen address (`warden serve --listen`). */
  listen?: { host: string; port: number };
  /** Start the schedules (default true); tests trigger runs by hand instead. */
  schedule?: boolean;
  /** Receives the admin key created on first start, once; default: it is written to `adminKeyFile`. */
  announceKey?: (key: string) => void;
  /** Where the first-start admin key is written (mode 0600); default `adminKeyFileFor(config.store)`. */
  adminKeyFile?: string;
  log?: (line: string) => void;
  alertBackoffMs?: number;
  /** Default: scan in this process, or through workers when the configuration has a `distributed` section. */
  scanRunner?: ScanRunner;
  /** Key for credential fingerprints in incidents (default `loadFingerprintKey()`, read only when the incident policy is on). */
  fingerprintKey?: Buffer | string;
}

export interface ServeDaemon {
  readonly url: string;
  readonly history: ServeHistory;
  readonly keys: KeyStore;
  readonly alerts: AlertDispatcher;
  /** Canary trips and plantings: `checkNow()` checks every planting as the schedule does. */
  readonly canaries: CanaryWatch;
  /** Starts a run now; undefined when the inventory is unknown or a run of it is in progress. */
  trigger(inventory: string, trigger?: string): Promise<RunRecord | undefined>;
  /** Resolves when the runs started so far have finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const localScan: ScanRunner = async (_inventory, _run, options): Promise<ScanPass> => {
  const report = await scan(options);
  return { findings: report.findings, stats: { endpoints: report.stats.endpoints, open: report.stats.open } };
};

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** host:port as a scan target (IPv6 in brackets). */
const endpoint = (f: Finding) => hostPort(f.host, f.port);

/**
 * Where the first-start admin key goes by default: beside a SQLite store, else beside the key-hashing
 * secret file (~/.config/warden), the daemon's own data either way.
 */
function adminKeyFileFor(store: string): string {
  const dir = isPostgresUrl(store) || store === ':memory:' ? dirname(defaultKeySecretPath()) : dirname(store);
  return join(dir, 'warden-admin-key');
}

export function scanOptionsFor(inventory: Inventory): ScanOptions {
  return {
    targets: inventory.targets,
    exclude: inventory.exclude,
    ...(inventory.ports ? { ports: inventory.ports } : {}),
    sample: inventory.sample,
    timeoutMs: inventory.timeoutMs,
    defaultCredentials: inventory.defaultCredentials,
    ...(inventory.concurrency ? { concurrency: inventory.concurrency } : {}),
    ...(inventory.rate ? { rate: inventory.rate } : {}),
  };
}

/**
 * Makes an admin key when the store has no active one (first start) and hands it over: to
 * `announceKey`, or written where only this user can read it. A key that cannot be handed over is
 * revoked, never logged.
 */
async function ensureAdminKey(keys: KeyStore, options: ServeOptions, log: (line: string) => void): Promise<void> {
  const admins = (await keys.list()).filter((k) => k.status === 'active' && scopesAllow(k.scopes, ['serve:admin']));
  if (admins.length) return;
  const { key, info } = await keys.create(
    { owner: 'warden-serve', name: 'serve admin (created on first start)', scopes: [...ADMIN_SCOPES] },
    { actor: 'warden-serve' },
  );
  if (options.announceKey) return options.announceKey(key);
  const path = options.adminKeyFile ?? adminKeyFileFor(options.config.store);
  try {
    writeSecretFile(path, `${key}\n`);
    log(`created admin key ${info.id} (${ADMIN_SCOPES.join(', ')}) and wrote it to ${path} (mode 0600); keep it elsewhere and delete the file`);
  } catch (err) {
    await keys.revoke(info.id, 'the first-start admin key could not be written', { actor: 'warden-serve' });
    log(
      `${(err as Error).message}; the admin key made for it is revoked. Make one with: warden keys create --store <this store> --owner <you> --name serve-admin --scopes ${ADMIN_SCOPES.join(',')}`,
    );
  }
}

/** A finding not open before is seen twice before anyone is told about it: scans its endpoints again and keeps those seen again. */
async function confirmNewFindings(
  scanRunner: ScanRunner,
  history: ServeHistory,
  inventory: Inventory,
  run: RunRecord,
  scanOptions: ScanOptions,
  findings: Finding[],
  log: (line: string) => void,
): Promise<{ findings: Finding[]; unconfirmed: number }> {
  const open = await history.openIds(inventory.name);
  const candidates = findings.filter((f) => !open.has(f.id));
  if (!candidates.length) return { findings, unconfirmed: 0 };
  const again = await scanRunner(inventory, run, { ...scanOptions, targets: [...new Set(candidates.map(endpoint))], exclude: [] });
  // A re-check shard that never came back leaves its findings unconfirmed: they wait for the next run.
  if (again.missingShards)
    log(
      `run ${run.id} (${inventory.name}): ${again.missingShards.missing} of ${again.missingShards.total} re-check shards did not come back before the deadline`,
    );
  const confirmed = new Set(again.findings.map((f) => f.id));
  return { findings: findings.filter((f) => open.has(f.id) || confirmed.has(f.id)), unconfirmed: candidates.filter((f) => !confirmed.has(f.id)).length };
}

export async function startServe(options: ServeOptions): Promise<ServeDaemon> {
  const { config } = options;
  const log = options.log ?? (() => undefined);
  const store = options.store ?? openStore(config.store);
  const ownsStore = !options.store;
  const owner = `${hostname()}:${process.pid}`;
  const scrubber = createScrubber({ format: 'text' });
  const redact = (text: string) => scrubber.scrubLines(text);
  const inventories = new Map(config.inventories.map((i) => [i.name, i]));
  const timers = new Map<string, Timer>();
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;
  /** Aborts scans and triage in progress on close; their runs are recorded as interrupted, never as complete. */
  const shutdown = new AbortController();

  const history = await ServeHistory.open(store);
  const keys = await KeyStore.open({ store, ...(options.secrets ? { secrets: options.secrets } : {}) });
  const alerts = new AlertDispatcher(config.alerts, { ...(options.alertBackoffMs !== undefined ? { backoffMs: options.alertBackoffMs } : {}), log });
  let distributed: DistributedRunner | undefined;
  let responder: IncidentResponder | undefined;
  let canaryWatch: CanaryWatch | undefined;
  const release = async () => {
    await canaryWatch?.close();
    await distributed?.close();
    await keys.close();
    if (ownsStore) await store.close();
  };
  try {
    if (!options.scanRunner && config.distributed) distributed = await createDistributedRunner({ config: config.distributed, history, log });
    if (config.incidents.open) {
      const incidents = await IncidentStore.open(store);
      responder = { incidents, keys, fingerprintKey: options.fingerprintKey ?? loadFingerprintKey(), policy: config.incidents, log, shutdown: shutdown.signal };
    }
    // A canary's use is an incident whether or not exposures open them: the canary was planted to be told.
    canaryWatch = await startCanaryWatch({
      store,
      keys,
      incidents: responder?.incidents ?? (await IncidentStore.open(store)),
      alerts,
      regimes: config.incidents.regimes,
      checkEveryMs: config.canaries.checkEveryMs,
      log,
    });
  } catch (err) {
    await release();
    throw err;
  }
  const scanRunner = options.scanRunner ?? distributed?.runner ?? localScan;

  const interrupted = await history.markInterrupted((o) => {
    const [host, pid] = o.split(':');
    return host === hostname() && !pidAlive(Number(pid));
  }, Date.now() - STALE_MS);
  if (interrupted) log(`marked ${interrupted} run${interrupted === 1 ? '' : 's'} interrupted by a stopped process`);

  await ensureAdminKey(keys, options, log);

  async function execute(inventory: Inventory, run: RunRecord): Promise<RunOutcome | undefined> {
    const beat = setInterval(() => void history.heartbeat(run.id).catch(() => undefined), HEARTBEAT_MS);
    beat.unref();
    try {
      const scanOptions = { ...scanOptionsFor(inventory), signal: shutdown.signal };
      const result = await scanRunner(inventory, run, scanOptions);
      if (shutdown.signal.aborted) {
        await history.failRun(run.id, 'the daemon stopped during the run', 'interrupted');
        return undefined;
      }
      const missing = result.missingShards;
      if (missing && missing.missing === missing.total) throw new Error(`none of the ${missing.total} shards came back from the workers before the deadline`);
      const partial = missing
        ? `${missing.missing} of ${missing.total} shards did not come back before the deadline; nothing was resolved by this run`
        : undefined;
      const { findings, unconfirmed } = config.recheck
        ? await confirmNewFindings(scanRunner, history, inventory, run, scanOptions, result.findings, log)
        : { findings: result.findings, unconfirmed: 0 };
      if (shutdown.signal.aborted) {
        await history.failRun(run.id, 'the daemon stopped during the run', 'interrupted');
        return undefined;
      }
      const outcome = await history.completeRun(run.id, inventory.name, {
        findings,
        stats: result.stats,
        unconfirmed,
        flapWindowMs: config.flapWindowMs,
        redact,
        ...(partial ? { partial } : {}),
      });
      if (outcome.alerts.length) alerts.dispatch({ inventory: inventory.name, runId: run.id, test: false, alerts: outcome.alerts });
      const r = outcome.run;
      log(
        `run ${r.id} (${inventory.name}): ${r.findings} findings, ${r.newCount} new, ${r.changedCount} changed, ${r.resolvedCount} resolved${unconfirmed ? `, ${unconfirmed} not confirmed on re-check` : ''}${partial ? ` (partial: ${partial})` : ''}`,
      );
      if (responder) await respondToCriticalExposures(responder, run, findings, outcome.alerts);
      return outcome;
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      log(`run ${run.id} (${inventory.name}) failed: ${message}`);
      await history.failRun(run.id, message).catch(() => undefined);
      return undefined;
    } finally {
      clearInterval(beat);
    }
  }

  async function trigger(name: string, kind = 'manual'): Promise<RunRecord | undefined> {
    const inventory = inventories.get(name);
    if (!inventory || closing) return undefined;
    const run = await history.claimRun(name, kind, owner);
    if (!run) return undefined;
    const work = execute(inventory, run);
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return run;
  }

  async function schedule(inventory: Inventory): Promise<void> {
    if (closing) return;
    const [last] = await history.listRuns({ inventory: inventory.name, limit: 1 }).catch(() => []);
    const at = nextRunAt(inventory.schedule, Date.now(), last?.startedAt) + Math.floor(Math.random() * inventory.jitterMs);
    timers.set(
      inventory.name,
      runAt(at, () => {
        void (async () => {
          try {
            const run = await trigger(inventory.name, 'schedule');
            if (!run) log(`inventory ${inventory.name}: a run is still in progress; skipped this one`);
          } catch (err) {
            log(`inventory ${inventory.name}: could not start a run: ${(err as Error).message}`);
          }
          // The next slot counts from this start, whether or not this run was skipped.
          await schedule(inventory).catch((err: Error) => log(`inventory ${inventory.name}: scheduling failed: ${err.message}`));
        })();
      }),
    );
  }

  let http: HttpServer;
  try {
    http = await startHttpServer({ listen: options.listen ?? config.listen, history, keys, inventories: config.inventories, trigger, redact, log });
  } catch (err) {
    await release();
    throw err;
  }
  if (options.schedule !== false) for (const inventory of config.inventories) await schedule(inventory);
  log(`listening on ${http.url} with ${config.inventories.length} inventor${config.inventories.length === 1 ? 'y' : 'ies'}; store ${store.location}`);

  return {
    url: http.url,
    history,
    keys,
    alerts,
    canaries: canaryWatch!,
    trigger,
    async settled() {
      while (inFlight.size) await Promise.all([...inFlight]);
    },
    async close() {
      closing = true;
      for (const t of timers.values()) t.cancel();
      shutdown.abort(new Error('the daemon is stopping'));
      await http.close();
      while (inFlight.size) await Promise.all([...inFlight]);
      await alerts.idle();
      await release();
    },
  };
}
