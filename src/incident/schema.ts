import type { Migration } from '../store/index.js';

const tables = (seq: string) => `CREATE TABLE warden_incidents (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  playbook_version INTEGER NOT NULL,
  detected_at BIGINT NOT NULL,
  aware_at BIGINT NOT NULL,
  materiality_at BIGINT,
  regimes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  origin TEXT
);
CREATE INDEX warden_incidents_by_origin ON warden_incidents (origin, status);
CREATE TABLE warden_incident_events (
  seq ${seq},
  incident_id TEXT NOT NULL,
  happened_at BIGINT NOT NULL,
  recorded_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL,
  details TEXT NOT NULL
);
CREATE INDEX warden_incident_events_by_incident ON warden_incident_events (incident_id, seq);
CREATE TABLE warden_incident_triage (
  seq ${seq},
  incident_id TEXT NOT NULL,
  recorded_at BIGINT NOT NULL,
  result TEXT NOT NULL
);
CREATE INDEX warden_incident_triage_by_incident ON warden_incident_triage (incident_id, seq);`;

/**
 * Incidents, their timeline and their triage results. The timeline is append-only (enforced by
 * triggers): a correction is a new entry, so what was known when stays visible.
 */
export const INCIDENT_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'incidents, timeline, triage',
    sql: {
      sqlite: `${tables('INTEGER PRIMARY KEY AUTOINCREMENT')}
CREATE TRIGGER warden_incident_events_no_update BEFORE UPDATE ON warden_incident_events BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
CREATE TRIGGER warden_incident_events_no_delete BEFORE DELETE ON warden_incident_events BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;`,
      postgres: `${tables('BIGSERIAL PRIMARY KEY')}
CREATE FUNCTION warden_incident_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the incident timeline is append-only'; END $$;
CREATE TRIGGER warden_incident_events_no_change BEFORE UPDATE OR DELETE ON warden_incident_events
  FOR EACH ROW EXECUTE FUNCTION warden_incident_events_append_only();`,
    },
  },
];
