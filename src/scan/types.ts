/**
 * The probe contract. A probe is data plus two functions: `fingerprint` says whether the peer on
 * host:port is this service (by what it answers, never by port alone), and `assess` proves how far an
 * unauthenticated caller gets, going no further than `ctx.maxLevel`. A probe never writes, executes
 * code, pulls a model or runs inference; every read it makes is capped in bytes and time (use the
 * helpers in `./transports/`), and a peer that misbehaves yields `undefined` or `auth: 'unknown'`,
 * never a thrown error.
 *
 * Probes live one service per file in `src/scan/probes/`; each file exports one or more `Probe`
 * values (named exports) and is found by folder, so adding a probe edits no list.
 */
import type { Detector, Severity } from '../detect/index.js';
import type { TlsPeer } from './transports/tls.js';

export type { Severity };

/**
 * How far a probe may go, in order. Each level includes the ones before it.
 * - port: TCP connect only.
 * - fingerprint: a harmless request that identifies the service (banner, health endpoint, hello).
 * - auth-check: one request that needs authorisation, including a login with no credentials at all.
 * - metadata: names, counts and grants (databases, tables, row counts, privileges).
 * - default-credentials: logins with well-known defaults; only when the user passes --default-credentials.
 * - sample: up to N rows per table through the detector; only when the user passes --sample N.
 */
export const PROBE_LEVELS = ['port', 'fingerprint', 'auth-check', 'metadata', 'default-credentials', 'sample'] as const;
export type ProbeLevel = (typeof PROBE_LEVELS)[number];

/** True when `level` is permitted under `max`. */
export function levelAllowed(level: ProbeLevel, max: ProbeLevel): boolean {
  return PROBE_LEVELS.indexOf(level) <= PROBE_LEVELS.indexOf(max);
}

export type AuthState = 'none' | 'default-credentials' | 'required' | 'unknown';

export interface ProbeContext {
  host: string;
  port: number;
  /** Budget for each network step (connect, one request, one read). */
  timeoutMs: number;
  /** The deepest level the user allowed; default-credentials and sample also need the flags below. */
  maxLevel: ProbeLevel;
  /** Rows per table to pass through the detector (0: never read rows). */
  sample: number;
  /** True only with --default-credentials. */
  defaultCredentials: boolean;
  /** Counts credentials in sampled rows; matches are counted by rule and never kept or printed. */
  detector: Detector;
  /** Aborted when the whole scan is cancelled. */
  signal?: AbortSignal;
  /** Speak TLS to the peer. The scanner sets it for probes with `tlsPorts`, on the attempt that answered. */
  tls?: boolean;
}

/** What the peer said that identifies it. */
export interface Fingerprint {
  service: string;
  version?: string;
  /** Short, non-secret facts from the answer (product name, server display name, TLS, ...). */
  details?: Record<string, string | number | boolean>;
}

export interface CredentialCount {
  total: number;
  /** Rule id to count. */
  byRule: Record<string, number>;
}

export interface TableEvidence {
  name: string;
  rows?: number;
  /** Present when rows were sampled: credentials the detector found in them. */
  credentials?: CredentialCount;
  /** Columns whose names or sampled values look like chat, prompt or completion content. */
  conversationColumns?: string[];
  /** Rows actually sampled. */
  sampledRows?: number;
  /** Which rows the sample read: logs are appended, so the newest rows are the ones holding live keys. */
  sample?: SampleOrder;
}

/**
 * How sampled rows were chosen: `newest-by-column` (ORDER BY `column` DESC, a time column or an integer key),
 * `newest-parts` (ClickHouse: the most recently written parts), `random`, or `first` (the store's own order,
 * when nothing better answered). `randomRows` of `rows` were a random share from the rest of the table.
 */
export interface SampleOrder {
  rows: number;
  order: 'newest-by-column' | 'newest-parts' | 'random' | 'first';
  column?: string;
  randomRows?: number;
}

export interface DatabaseEvidence {
  name: string;
  tables: TableEvidence[];
  /** Set when the listing was cut at the cap. */
  truncated?: boolean;
}

/** Names, counts and facts only: never row values, never a secret. */
export interface Evidence {
  version?: string;
  /** The identity the server says we have (e.g. `default`, `postgres`, `root@localhost`). */
  user?: string;
  /** Grants as the server states them (e.g. `GRANT ALL ON *.* TO default`). */
  privileges?: string[];
  databases?: DatabaseEvidence[];
  /** Present when the service answered over TLS: who its certificate names (any certificate is accepted). */
  tls?: TlsPeer;
  /** With --default-credentials: which well-known login worked, as `user:<password kind>` (no secret values beyond the published default). */
  credentialsAccepted?: string;
  notes: string[];
}

export interface Assessment {
  auth: AuthState;
  severity: Severity;
  title: string;
  evidence: Evidence;
  /** A command a human can run to reproduce the proof, with no secret in it. */
  reproduce?: string;
}

/**
 * How incident response reads a store this probe found open, as the anonymous caller the scan proved works
 * (a user name, never a password): the connection string's scheme, user and path.
 */
export interface StoreReadPath {
  scheme: 'clickhouse' | 'postgres' | 'mysql' | 'redis';
  /** The user the scan got in as (none for Redis). */
  user?: string;
  /** After host:port: `/` for a server, `/0` for Redis's first database. */
  path: string;
  /** Read over the service's HTTP port instead of the scanned one (ClickHouse's native protocol is read over HTTP). */
  overHttpPort?: boolean;
  /** A keyspace, not tables: triage reads it whole, and keys carry no time or order to tell new rows from old. */
  keyspace?: boolean;
}

export interface Probe {
  /** Stable id, e.g. `clickhouse-http`. */
  id: string;
  /** Service family shared by sibling probes, e.g. `clickhouse`. */
  service: string;
  title: string;
  /** Default ports; a port scanned by the user is tried with every probe whatever its default. */
  ports: number[];
  /**
   * For HTTP probes of services that normally serve TLS: the default ports where TLS is tried first. With
   * this set, the scanner fingerprints over TLS and plain HTTP at once on any port and keeps the one that
   * answered (`ctx.tls`); probes without it speak plain only.
   */
  tlsPorts?: number[];
  /** What kind of service it is (`ai`, `data-store`, `broker`, `code-execution`, …): `warden scan --tags` selects by them. */
  tags: string[];
  /** For each level the probe uses, exactly what it sends, in plain language (shown in help and docs). */
  levels: Partial<Record<ProbeLevel, string>>;
  /** A concrete fix for this service. */
  remediation: string;
  /** Set for data stores incident response can triage read-only once the scan finds them open. */
  readPath?: StoreReadPath;
  /** Identify the peer by its answer; undefined when it is not this service. Must not throw. */
  fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined>;
  /** Prove the auth state and gather evidence up to ctx.maxLevel. Must not throw. */
  assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment>;
}

/** One exposure (or its absence) on one host:port. */
export interface Finding {
  /** Stable across scans: `service:host:port`. */
  id: string;
  host: string;
  port: number;
  service: string;
  /** Id of the probe that produced it. */
  probe: string;
  title: string;
  auth: AuthState;
  severity: Severity;
  evidence: Evidence;
  reproduce?: string;
  remediation: string;
}
