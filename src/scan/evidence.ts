/**
 * Shared evidence helpers for probes: counting credentials in sampled rows (counts only, never values),
 * spotting chat and prompt columns, and the one severity scale every probe applies.
 */
import type { Detector } from '../detect/index.js';
import type { AuthState, CredentialCount, DatabaseEvidence, Evidence, Severity, TableEvidence } from './types.js';

/** Column names that usually hold chat, prompt or completion text. */
const CONVERSATION_NAME = /(prompt|completion|message|chat|conversation|dialog|transcript|assistant|utterance|reply|response_text|user_input|instruction)/i;
/** Values shaped like chat turns: `{"role":"user", ...}` or a `messages` array. */
const CONVERSATION_VALUE = /"role"\s*:\s*"(user|assistant|system|tool)"|"messages"\s*:\s*\[/;

export interface RowInspection {
  credentials: CredentialCount;
  conversationColumns: string[];
  sampledRows: number;
}

/**
 * Passes sampled rows through the detector. Each value is scanned on its own so a credential is
 * attributed to a column; only counts by rule and column names leave this function.
 */
export function inspectRows(rows: Iterable<Record<string, unknown>>, detector: Detector, knownColumns: string[] = []): RowInspection {
  const byRule: Record<string, number> = {};
  let total = 0;
  let sampledRows = 0;
  const conversation = new Set(knownColumns.filter((c) => CONVERSATION_NAME.test(c)));
  for (const row of rows) {
    sampledRows++;
    for (const [column, value] of Object.entries(row)) {
      if (value === null || value === undefined) continue;
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (CONVERSATION_NAME.test(column) || CONVERSATION_VALUE.test(text)) conversation.add(column);
      for (const match of detector.scan(text)) {
        byRule[match.ruleId] = (byRule[match.ruleId] ?? 0) + 1;
        total++;
      }
    }
  }
  return { credentials: { total, byRule }, conversationColumns: [...conversation].sort(), sampledRows };
}

/** Column names that look like chat content, from names alone (no rows read). */
export function conversationColumnsByName(columns: string[]): string[] {
  return columns.filter((c) => CONVERSATION_NAME.test(c));
}

/** What kind of surface a probe looks at; decides how bad open access is. */
export type SurfaceKind = 'data-store' | 'code-execution' | 'broker' | 'dashboard' | 'metadata';

/**
 * The one severity scale (issue 3): critical when data is readable without auth and sampled rows hold
 * credentials or conversation data; high for any unauthenticated data store or code-execution surface;
 * medium for default credentials on brokers and dashboards; low for unauthenticated metadata; info when
 * auth is required or the answer was unclear.
 */
export function rateExposure(auth: AuthState, kind: SurfaceKind, evidence?: Evidence): Severity {
  if (auth === 'required' || auth === 'unknown') return 'info';
  if (kind === 'data-store' || kind === 'code-execution') {
    if (kind === 'data-store' && evidence?.databases && sensitiveTables(evidence.databases, 'sampled').length) return 'critical';
    return 'high';
  }
  if (kind === 'broker' || kind === 'dashboard') return auth === 'default-credentials' ? 'medium' : 'high';
  return 'low';
}

/**
 * The one answer to "does this table hold credentials or chat?", read by the severity above, the scan table
 * and incident response alike: `sampled` when its sampled rows held a credential or its chat columns were
 * sampled (proof: what makes an open store critical), `by-name` when only column names say chat (worth
 * showing and triaging, not proof), false otherwise.
 */
export function secretsOrChat(table: TableEvidence): 'sampled' | 'by-name' | false {
  if ((table.credentials?.total ?? 0) > 0) return 'sampled';
  if (!table.conversationColumns?.length) return false;
  return table.sampledRows !== undefined ? 'sampled' : 'by-name';
}

/** The tables holding credentials or chat: proven by sampled rows only, or (`by-name`) named so as well. */
export function sensitiveTables(databases: readonly DatabaseEvidence[], proof: 'sampled' | 'by-name'): Array<{ database: string; table: TableEvidence }> {
  return databases.flatMap((db) =>
    db.tables
      .filter((t) => {
        const held = secretsOrChat(t);
        return held === 'sampled' || (held === 'by-name' && proof === 'by-name');
      })
      .map((table) => ({ database: db.name, table })),
  );
}

/** Caps for metadata listings, so a huge server yields a bounded report. */
export const MAX_DATABASES = 50;
export const MAX_TABLES_PER_DATABASE = 100;
