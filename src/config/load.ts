/**
 * `warden.yaml`: parsed with line positions, validated against the shipped JSON Schema, then turned
 * into the daemon's typed configuration. Every error names the file and line it is about.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { CronExpressionParser } from 'cron-parser';
import { WardenError } from '../errors.js';
import { LocatedYaml, type YamlPath } from '../yaml-schema.js';
import { createTargetSet, parsePorts } from '../scan/index.js';
import { buildRegimes, DEFAULT_MAX_ROWS_PER_TABLE, DEFAULT_RETRIAGE_ROWS, type IncidentRegimes } from '../incident/index.js';
import { isPostgresUrl } from '../store/index.js';
import { parseDuration } from '../duration.js';
import { parseListenAddress, type ListenAddress } from '../listen-address.js';
import type { Severity } from '../detect/index.js';

/** `schema/warden-config.schema.json`, two folders up from both `src/config` and `dist/config`. */
export const CONFIG_SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../schema/warden-config.schema.json', import.meta.url)), 'utf8')) as object;

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 7470 };

export class ConfigError extends WardenError {
  constructor(message: string) {
    super(message, 'CONFIG_INVALID', 2);
  }
}

export type Schedule = { kind: 'interval'; everyMs: number } | { kind: 'cron'; expression: string };

export interface Inventory {
  name: string;
  targets: string[];
  exclude: string[];
  /** Undefined: every probe's default ports. */
  ports?: number[];
  tags: Record<string, string>;
  schedule: Schedule;
  jitterMs: number;
  sample: number;
  timeoutMs: number;
  concurrency?: number;
  rate?: number;
  defaultCredentials: boolean;
}

export interface AlertSinkConfig {
  name: string;
  type: 'webhook' | 'slack';
  /** Read from `urlEnv` at load when the file names a variable instead (Slack URLs are secrets). */
  url: string;
  /** The HMAC secret, read from the variable `secretEnv` names; never written in the file. */
  secret?: string;
  minSeverity: Severity;
  retries: number;
  timeoutMs: number;
}

/** Distributed mode: shards on a NATS JetStream work queue, results in the shared PostgreSQL store. */
export interface DistributedConfig {
  url: string;
  /** Read from the variable `tokenEnv` names; never written in the file. */
  token?: string;
  stream: string;
  /** Shards are published on `<subject>.<runId>.<shardIndex>`. */
  subject: string;
  consumer: string;
  /** Targets per shard. */
  shardSize: number;
  ackWaitMs: number;
  maxDeliver: number;
  /** A run whose shards are not all in by then is recorded partial or failed. */
  deadlineMs: number;
}

/** What the daemon does on a critical exposure (`isCriticalExposure` in warden/incident). */
export interface IncidentPolicy {
  open: boolean;
  /** Only ever true when the file says so. */
  revokeWardenKeys: boolean;
  regimes: IncidentRegimes;
  maxRowsPerTable: number;
  /** Rows each run's incremental re-triage of an open incident reads at most. */
  retriageRows: number;
  /** Each triage stops after this long. */
  triageTimeoutMs: number;
  /** All the triage of one run stops after this long. */
  budgetMs: number;
}

export interface ServeConfig {
  /** The file this came from (for messages). */
  source: string;
  listen: { host: string; port: number };
  /** A SQLite path (relative paths resolved beside the config) or a `postgres://` URL. */
  store: string;
  inventories: Inventory[];
  alerts: AlertSinkConfig[];
  flapWindowMs: number;
  recheck: boolean;
  distributed?: DistributedConfig;
  incidents: IncidentPolicy;
  /** How often planted canaries are checked to be still in place. */
  canaries: { checkEveryMs: number };
}

interface RawInventory {
  name: string;
  targets: string[];
  exclude?: string[];
  ports?: string | number | number[];
  tags?: Record<string, string>;
  every?: string;
  cron?: string;
  jitter?: string;
  sample?: number;
  timeout?: string;
  concurrency?: number;
  rate?: number;
  defaultCredentials?: boolean;
}

interface RawSink {
  name: string;
  type: 'webhook' | 'slack';
  url?: string;
  urlEnv?: string;
  secretEnv?: string;
  minSeverity?: Severity;
  retries?: number;
  timeout?: string;
}

interface RawDistributed {
  nats: string;
  tokenEnv?: string;
  stream?: string;
  subject?: string;
  consumer?: string;
  shardSize?: number;
  ackWait?: string;
  maxDeliver?: number;
  deadline?: string;
}

interface RawIncidents {
  open?: boolean;
  revokeWardenKeys?: boolean;
  regimes?: string[];
  maxRowsPerTable?: number;
  retriageRows?: number;
  triageTimeout?: string;
  budget?: string;
}

interface RawConfig {
  version: 1;
  listen?: string;
  store?: string;
  sample?: number;
  jitter?: string;
  flapWindow?: string;
  recheck?: boolean;
  inventories: RawInventory[];
  alerts?: RawSink[];
  distributed?: RawDistributed;
  incidents?: RawIncidents;
  canaries?: { checkEvery?: string };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<RawConfig>(CONFIG_SCHEMA);

/** A duration the schema already checked (`15m`, `30s`, `500ms`), in milliseconds. */
const durationMs = (text: string): number => parseDuration(text, 'duration');

/** Messages for this schema's oneOf and pattern rules; the rest use the generic wording. */
function explain(error: ErrorObject, at: string): string | undefined {
  if (error.keyword === 'oneOf' && /inventories\/\d+$/.test(error.instancePath))
    return `${at}: give exactly one of "every" (such as 15m) or "cron" (such as "*/15 * * * *")`;
  if (error.keyword === 'oneOf' && /alerts\/\d+$/.test(error.instancePath)) return `${at}: give exactly one of "url" or "urlEnv"`;
  if (error.keyword === 'pattern' && /(every|jitter|timeout|flapWindow|ackWait|deadline|triageTimeout|budget)$/.test(error.instancePath))
    return `${at}: expected a duration such as 30s, 15m or 6h`;
  if (error.keyword === 'pattern' && /distributed\/subject$/.test(error.instancePath))
    return `${at}: expected dot-separated tokens of letters, digits, _ and - (no wildcards), such as warden.scan.shards`;
  if (error.keyword === 'pattern' && /distributed\/(stream|consumer)$/.test(error.instancePath)) return `${at}: expected 1 to 64 letters, digits, _ or -`;
  return undefined;
}

/** `oneOf` reports every failed branch; keep the most specific message per place. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  return errors.filter((e) => e.keyword === 'oneOf' || !(e.keyword === 'required' && oneOfPaths.has(e.instancePath)));
}

/**
 * Parses and validates a configuration text. `source` names it in errors and decides where a
 * relative store path lives; `env` supplies the variables `urlEnv` and `secretEnv` name.
 */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const toError = (message: string) => new ConfigError(message);
  const yaml = LocatedYaml.parse(text, source, toError);
  const raw = yaml.validate(yaml.toJS(), validate, toError, { explain, keep: relevant });
  const fail = (path: YamlPath, message: string, key?: string): never => {
    throw new ConfigError(`${yaml.where(path, key)}: ${message}`);
  };
  const names = new Set<string>();
  const inventories = raw.inventories.map((inv, i): Inventory => {
    const at = (field: string): YamlPath => ['inventories', i, field];
    if (names.has(inv.name)) fail(at('name'), `inventories.${i}.name: ${JSON.stringify(inv.name)} is used twice`);
    names.add(inv.name);
    try {
      createTargetSet(inv.targets, inv.exclude ?? []);
    } catch (err) {
      fail(at('targets'), `inventories.${i}.targets: ${(err as Error).message}`);
    }
    let ports: number[] | undefined;
    if (inv.ports !== undefined) {
      try {
        ports = parsePorts(Array.isArray(inv.ports) ? inv.ports.join(',') : String(inv.ports));
      } catch (err) {
        fail(at('ports'), `inventories.${i}.ports: ${(err as Error).message.replace(/^--ports: /, '')}`);
      }
    }
    let schedule: Schedule;
    if (inv.cron !== undefined) {
      try {
        CronExpressionParser.parse(inv.cron, { strict: false });
      } catch (err) {
        fail(at('cron'), `inventories.${i}.cron: not a cron expression (${(err as Error).message})`);
      }
      schedule = { kind: 'cron', expression: inv.cron };
    } else {
      const everyMs = durationMs(inv.every!);
      if (everyMs < 10_000) fail(at('every'), `inventories.${i}.every: at least 10s between runs`);
      schedule = { kind: 'interval', everyMs };
    }
    return {
      name: inv.name,
      targets: inv.targets,
      exclude: inv.exclude ?? [],
      ...(ports ? { ports } : {}),
      tags: inv.tags ?? {},
      schedule,
      jitterMs: durationMs(inv.jitter ?? raw.jitter ?? '0s'),
      sample: inv.sample ?? raw.sample ?? 0,
      timeoutMs: durationMs(inv.timeout ?? '3s'),
      ...(inv.concurrency !== undefined ? { concurrency: inv.concurrency } : {}),
      ...(inv.rate !== undefined ? { rate: inv.rate } : {}),
      defaultCredentials: inv.defaultCredentials ?? false,
    };
  });
  const sinkNames = new Set<string>();
  const alerts = (raw.alerts ?? []).map((s, i): AlertSinkConfig => {
    if (sinkNames.has(s.name)) fail(['alerts', i, 'name'], `alerts.${i}.name: ${JSON.stringify(s.name)} is used twice`);
    sinkNames.add(s.name);
    const url = s.url ?? env[s.urlEnv!];
    if (!url) fail(['alerts', i, 'urlEnv'], `alerts.${i}.urlEnv: the variable ${s.urlEnv} is not set`);
    if (!/^https?:\/\//.test(url!)) fail(['alerts', i, 'urlEnv'], `alerts.${i}.urlEnv: ${s.urlEnv} does not hold an http(s) URL`);
    const secret = s.secretEnv ? env[s.secretEnv] : undefined;
    if (s.secretEnv && !secret) fail(['alerts', i, 'secretEnv'], `alerts.${i}.secretEnv: the variable ${s.secretEnv} is not set`);
    if (s.type === 'slack' && s.secretEnv) fail(['alerts', i, 'secretEnv'], `alerts.${i}.secretEnv: Slack webhooks take no signing secret`);
    return {
      name: s.name,
      type: s.type,
      url: url!,
      ...(secret ? { secret } : {}),
      minSeverity: s.minSeverity ?? 'medium',
      retries: s.retries ?? 5,
      timeoutMs: durationMs(s.timeout ?? '10s'),
    };
  });
  let listen: ListenAddress = DEFAULT_LISTEN;
  if (raw.listen) {
    try {
      listen = parseListenAddress(raw.listen, 'listen');
    } catch (err) {
      fail(['listen'], (err as Error).message);
    }
  }
  const dir = dirname(resolve(source));
  const store = raw.store
    ? isPostgresUrl(raw.store) || raw.store === ':memory:' || isAbsolute(raw.store)
      ? raw.store
      : join(dir, raw.store)
    : join(dir, 'warden.db');
  let distributed: DistributedConfig | undefined;
  if (raw.distributed) {
    const d = raw.distributed;
    // Workers on other machines write results into the store, so it must be a shared one.
    if (!isPostgresUrl(store)) fail([], 'distributed: needs a shared store; set store to a postgres:// URL', 'distributed');
    const token = d.tokenEnv ? env[d.tokenEnv] : undefined;
    if (d.tokenEnv && !token) fail(['distributed', 'tokenEnv'], `distributed.tokenEnv: the variable ${d.tokenEnv} is not set`);
    const ackWaitMs = durationMs(d.ackWait ?? '60s');
    const deadlineMs = durationMs(d.deadline ?? '1h');
    if (ackWaitMs < 1000) fail(['distributed', 'ackWait'], 'distributed.ackWait: at least 1s');
    if (deadlineMs <= ackWaitMs)
      fail(['distributed', 'deadline'], "distributed.deadline: must be longer than ackWait, or a dead worker's shard could never be redelivered in time");
    distributed = {
      url: d.nats,
      ...(token ? { token } : {}),
      stream: d.stream ?? 'WARDEN_SCAN_SHARDS',
      subject: d.subject ?? 'warden.scan.shards',
      consumer: d.consumer ?? 'warden-workers',
      shardSize: d.shardSize ?? 256,
      ackWaitMs,
      maxDeliver: d.maxDeliver ?? 5,
      deadlineMs,
    };
  }
  const rawIncidents = raw.incidents ?? {};
  return {
    source,
    listen,
    store,
    inventories,
    alerts,
    flapWindowMs: durationMs(raw.flapWindow ?? '24h'),
    recheck: raw.recheck ?? true,
    ...(distributed ? { distributed } : {}),
    incidents: {
      open: rawIncidents.open ?? false,
      revokeWardenKeys: rawIncidents.revokeWardenKeys ?? false,
      regimes: buildRegimes(rawIncidents.regimes ?? ['gdpr']),
      maxRowsPerTable: rawIncidents.maxRowsPerTable ?? DEFAULT_MAX_ROWS_PER_TABLE,
      retriageRows: rawIncidents.retriageRows ?? DEFAULT_RETRIAGE_ROWS,
      triageTimeoutMs: durationMs(rawIncidents.triageTimeout ?? '5m'),
      budgetMs: durationMs(rawIncidents.budget ?? '15m'),
    },
    canaries: { checkEveryMs: durationMs(raw.canaries?.checkEvery ?? '1h') },
  };
}

/** Reads and validates a configuration file. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file (warden init writes a starter one)' : code}`);
  }
  return parseConfig(text, path, env);
}
