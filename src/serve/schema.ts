import type { Migration } from '../store/index.js';

/** The first migration's tables; the engines differ only in how an auto-incrementing key is spelled. */
const tables = (serial: string) => `
CREATE TABLE serve_runs (
  id TEXT PRIMARY KEY, inventory TEXT NOT NULL, status TEXT NOT NULL, trigger_kind TEXT NOT NULL, owner TEXT NOT NULL,
  started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL, finished_at BIGINT, endpoints INTEGER, open_ports INTEGER,
  findings INTEGER, new_count INTEGER, changed_count INTEGER, resolved_count INTEGER, unconfirmed_count INTEGER,
  open_after TEXT, error TEXT);
CREATE UNIQUE INDEX serve_runs_one_running ON serve_runs (inventory) WHERE status = 'running';
CREATE INDEX serve_runs_by_start ON serve_runs (started_at);
CREATE INDEX serve_runs_by_inventory ON serve_runs (inventory, started_at);
CREATE TABLE serve_findings (
  inventory TEXT NOT NULL, id TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
  probe TEXT NOT NULL, title TEXT NOT NULL, auth TEXT NOT NULL, severity TEXT NOT NULL, evidence TEXT NOT NULL,
  evidence_hash TEXT NOT NULL, reproduce TEXT, remediation TEXT NOT NULL, state TEXT NOT NULL,
  first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, opened_at BIGINT NOT NULL, resolved_at BIGINT,
  flapping_since BIGINT, last_run TEXT NOT NULL, PRIMARY KEY (inventory, id));
CREATE INDEX serve_findings_by_state ON serve_findings (state, severity);
CREATE TABLE serve_finding_events (
  seq ${serial}, inventory TEXT NOT NULL, finding_id TEXT NOT NULL, run_id TEXT,
  at BIGINT NOT NULL, kind TEXT NOT NULL, severity TEXT, detail TEXT);
CREATE INDEX serve_finding_events_by_finding ON serve_finding_events (inventory, finding_id, seq);
CREATE TABLE serve_acknowledgements (
  inventory TEXT NOT NULL, finding_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL,
  expires_at BIGINT, created_at BIGINT NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (inventory, finding_id));
CREATE TABLE serve_sessions (
  token_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, scopes TEXT NOT NULL, csrf TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);`;

/**
 * The daemon's tables. One running run per inventory is a unique partial index, so two daemons
 * sharing a PostgreSQL store cannot both start the same inventory.
 */
export const SERVE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'runs-findings-history-acknowledgements',
    sql: {
      sqlite: tables('INTEGER PRIMARY KEY AUTOINCREMENT'),
      postgres: tables('BIGSERIAL PRIMARY KEY'),
    },
  },
  {
    version: 2,
    name: 'distributed-shards',
    // One row per (run, shard): a redelivered shard's second write is a no-op, so it is never counted twice.
    sql: `
ALTER TABLE serve_runs ADD COLUMN shards INTEGER;
CREATE TABLE serve_shard_results (
  run_id TEXT NOT NULL, shard_index INTEGER NOT NULL, worker TEXT NOT NULL, delivery INTEGER NOT NULL,
  endpoints INTEGER NOT NULL, open_ports INTEGER NOT NULL, findings TEXT NOT NULL, completed_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, shard_index));`,
  },
  {
    version: 3,
    name: 'sessions-without-scopes',
    // Scopes copied at login outlived a narrowed key; a session now checks its key at each request.
    sql: 'ALTER TABLE serve_sessions DROP COLUMN scopes;',
  },
];
