import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultStorePath } from '../store/index.js';

/**
 * One line of the retention audit log (JSON Lines, append-only): what was deleted, where, when and by
 * whom, and how it was verified. Counts, names and cutoffs only: never a row value.
 */
export interface AuditRecord {
  event: 'start' | 'finish';
  runId: string;
  at: string;
  actor: string;
  host: string;
  store: string;
  table: string;
  windowDays: number;
  timestampColumn: string;
  cutoff: string;
  method: string;
  heldTenants: number;
  status?: 'done' | 'incomplete' | 'failed';
  rowsDeleted?: number;
  partitionsDropped?: string[];
  mutationIds?: string[];
  verification?: { pastWindowRemaining: number; mutationsPending: string[]; ok: boolean };
  error?: string;
}

/** `$XDG_DATA_HOME/warden/retention-audit.jsonl`, beside Warden's default store. */
export function defaultAuditPath(): string {
  return join(dirname(defaultStorePath()), 'retention-audit.jsonl');
}

/** WARDEN_ACTOR (a CI job, a ticket) when set, else the operating-system user. */
export function currentActor(): string {
  if (process.env.WARDEN_ACTOR) return process.env.WARDEN_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

export function createAuditLog(path = defaultAuditPath()) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return {
    path,
    /** Appended synchronously so a record written before a crash is on disk. */
    write(record: Omit<AuditRecord, 'at' | 'actor' | 'host'>): void {
      const line: AuditRecord = { ...record, at: new Date().toISOString(), actor: currentActor(), host: hostname() } as AuditRecord;
      appendFileSync(path, JSON.stringify(line) + '\n', { mode: 0o600 });
    },
  };
}
export type AuditLog = ReturnType<typeof createAuditLog>;
