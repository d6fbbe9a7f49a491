import type { KeyEnvironment } from './format.js';
import type { Quota, RateLimit } from './limits.js';

/** What a leaked key does when a report proves it genuine. */
export type LeakPolicy = 'revoke' | 'disable' | 'notify';
export const LEAK_POLICIES: readonly LeakPolicy[] = ['revoke', 'disable', 'notify'];

export type VerifyReason = 'unknown' | 'revoked' | 'disabled' | 'expired' | 'scope' | 'ip' | 'rate_limited' | 'quota_exhausted' | 'unavailable';

/**
 * Every verification answers with these fields, valid or not. An unknown key, a malformed one and
 * another tenant's key all answer `unknown` with every other field null.
 */
export interface Verification {
  valid: boolean;
  reason: VerifyReason | null;
  keyId: string | null;
  owner: string | null;
  name: string | null;
  scopes: readonly string[] | null;
  expiresAt: number | null;
}

export interface VerifyRequest {
  /** Scopes the caller needs; each must be granted by one of the key's scopes. */
  scopes?: readonly string[];
  /** The client's address; required when the key has allowed ranges. */
  ip?: string;
  /** When set, a key of any other owner answers exactly like an unknown key. */
  tenant?: string;
  /** Recorded only when a canary is used: the client's user agent, */
  userAgent?: string;
  /** the route it asked for (`GET clickhouse.internal/?query=…`), */
  route?: string;
  /** and what verified it (`gateway`, `authz`, `keys-api`, `serve`, `cli`). */
  via?: string;
}

export interface CreateKeyOptions {
  owner: string;
  name: string;
  scopes: readonly string[];
  env?: KeyEnvironment;
  /** Absolute expiry (epoch ms). */
  expiresAt?: number | null;
  /** CIDR ranges or single addresses (IPv4 or IPv6) the key may be used from. */
  allowedIps?: readonly string[] | null;
  rateLimit?: RateLimit | null;
  quota?: Quota | null;
  leakPolicy?: LeakPolicy;
}

export type KeyChanges = Partial<Pick<CreateKeyOptions, 'name' | 'scopes' | 'expiresAt' | 'allowedIps' | 'rateLimit' | 'quota' | 'leakPolicy'>>;

export type KeyStatus = 'active' | 'rotating' | 'revoked' | 'disabled' | 'expired' | 'canary';

/** A key as lists and APIs show it: never the key, never its hash. */
export interface KeyInfo {
  id: string;
  /** `wdn_live_…Ab3x`: prefix, environment and the last 4 characters. */
  display: string;
  owner: string;
  name: string;
  scopes: string[];
  status: KeyStatus;
  allowedIps: string[] | null;
  expiresAt: number | null;
  rateLimit: RateLimit | null;
  quota: { total: number | null; used: number; perPeriod: { limit: number; period: string; used: number } | null } | null;
  leakPolicy: LeakPolicy;
  revokedAt: number | null;
  revokeReason: string | null;
  disabledAt: number | null;
  rotatedTo: string | null;
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
}

/** Who did something and from where, for the audit log. */
export interface ActionContext {
  actor?: string;
  source?: string;
}

export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  source: string | null;
  action: string;
  keyId: string | null;
  details: Record<string, unknown>;
}

export interface LeakReport {
  token: string;
  url: string;
  source?: string;
}

export interface LeakOutcome {
  /** SHA-256 of the reported token, hex: how a reporter matches answers without secrets echoed back. */
  tokenHash: string;
  label: 'true_positive' | 'false_positive';
  /** The key reported, for the operator; reporters are answered with tokenHash and label only. */
  keyId: string | null;
  /** What this report did: the policy applied, or null (not a key of ours, or reported before). */
  action: LeakPolicy | null;
}

/** Raised to `onLeak` once per new (key, reporter, url); never carries the key. */
export interface LeakEvent {
  keyId: string;
  owner: string;
  reporter: string;
  url: string;
  source: string | null;
  action: LeakPolicy;
}

export interface CreateCanaryOptions {
  /** Where the canary is (or will be) planted, in the operator's words: `analytics ClickHouse logs table`. */
  where: string;
  /** What a holder would see as the key's owner and name; ordinary defaults, so nothing says "canary". */
  owner?: string;
  name?: string;
  scopes?: readonly string[];
  env?: KeyEnvironment;
}

/** A place a canary was written by `plant`, and whether the last check found it still there. */
export interface CanaryPlanting {
  /** `clickhouse:default.request_log.api_key`, `env-file:/srv/app/.env`, `log:/var/log/app.log`. */
  target: string;
  plantedAt: number;
  checkedAt: number | null;
  /** Null until checked. */
  present: boolean | null;
}

export interface CanaryInfo {
  id: string;
  display: string;
  where: string;
  createdAt: number;
  lastSeenAt: number | null;
  lastSeenIp: string | null;
  uses: number;
  plantings: CanaryPlanting[];
}

/** One use of a canary: proof that the place it was planted leaked and is being read. */
export interface CanaryTrip {
  seq: number;
  keyId: string;
  where: string;
  at: number;
  ip: string | null;
  userAgent: string | null;
  route: string | null;
  via: string;
}
