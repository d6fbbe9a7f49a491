import type { Migration } from '../store/index.js';

const KEYS_TABLE = `CREATE TABLE warden_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  hash_version INTEGER NOT NULL,
  prefix TEXT NOT NULL,
  last4 TEXT NOT NULL,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  allowed_ips TEXT,
  expires_at BIGINT,
  rate_limit INTEGER,
  rate_window_ms BIGINT,
  quota_total BIGINT,
  quota_used BIGINT NOT NULL DEFAULT 0,
  quota_period TEXT,
  quota_period_limit BIGINT,
  quota_period_start BIGINT NOT NULL DEFAULT 0,
  quota_period_used BIGINT NOT NULL DEFAULT 0,
  leak_policy TEXT NOT NULL DEFAULT 'revoke',
  disabled_at BIGINT,
  revoked_at BIGINT,
  revoke_reason TEXT,
  rotated_to TEXT,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  last_used_at BIGINT,
  last_used_ip TEXT
);
CREATE INDEX warden_keys_owner ON warden_keys (owner);
CREATE TABLE warden_key_leaks (
  key_id TEXT NOT NULL,
  reporter TEXT NOT NULL,
  url TEXT NOT NULL,
  source TEXT,
  reported_at BIGINT NOT NULL,
  PRIMARY KEY (key_id, reporter, url)
);`;

const auditTable = (seq: string) => `CREATE TABLE warden_key_audit (
  seq ${seq},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  source TEXT,
  action TEXT NOT NULL,
  key_id TEXT,
  details TEXT NOT NULL
);`;

/**
 * A canary is a key no legitimate client holds: its row says so (read with the key on every verify, so
 * the hot path needs no second lookup), where it was planted, and every use, kept until handled.
 */
const CANARY_TABLES = (seq: string) => `ALTER TABLE warden_keys ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;
CREATE TABLE warden_canaries (
  key_id TEXT PRIMARY KEY,
  planted_where TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT,
  last_seen_ip TEXT,
  uses BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE warden_canary_plantings (
  key_id TEXT NOT NULL,
  target TEXT NOT NULL,
  locator TEXT NOT NULL,
  planted_at BIGINT NOT NULL,
  checked_at BIGINT,
  present INTEGER,
  PRIMARY KEY (key_id, target)
);
CREATE TABLE warden_canary_trips (
  seq ${seq},
  key_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  route TEXT,
  via TEXT NOT NULL,
  handled_at BIGINT
);
CREATE INDEX warden_canary_trips_pending ON warden_canary_trips (handled_at);`;

/** Keys, their append-only audit log (enforced by triggers, not by convention), and leak reports. */
export const KEY_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'keys, audit, leaks',
    sql: {
      sqlite: `${KEYS_TABLE}
${auditTable('INTEGER PRIMARY KEY AUTOINCREMENT')}
CREATE TRIGGER warden_key_audit_no_update BEFORE UPDATE ON warden_key_audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER warden_key_audit_no_delete BEFORE DELETE ON warden_key_audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
      postgres: `${KEYS_TABLE}
${auditTable('BIGSERIAL PRIMARY KEY')}
CREATE FUNCTION warden_key_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER warden_key_audit_no_change BEFORE UPDATE OR DELETE ON warden_key_audit
  FOR EACH ROW EXECUTE FUNCTION warden_key_audit_append_only();`,
    },
  },
  {
    version: 2,
    name: 'canary keys',
    sql: {
      sqlite: CANARY_TABLES('INTEGER PRIMARY KEY AUTOINCREMENT'),
      postgres: CANARY_TABLES('BIGSERIAL PRIMARY KEY'),
    },
  },
];
