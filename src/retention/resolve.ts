import type { Database, TableInfo } from '../db/index.js';
import { PolicyError, type LegalHold, type RetentionPolicy } from './policy.js';

/** `schema.table` or `table`, as policies name tables. */
export const nameMatches = (pattern: string, t: TableInfo) => pattern === `${t.schema}.${t.name}` || pattern === t.name;

/** Holds still in force at the run clock; lapsed ones bind nothing and are not checked. */
export const liveHolds = (policy: RetentionPolicy, now: Date): Array<LegalHold & { index: number }> =>
  policy.legalHolds.map((h, index) => ({ ...h, index })).filter((h) => h.expires.getTime() > now.getTime());

/** Levenshtein distance, two rows at a time. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Up to three candidates within a third of the name's length (at least 2 edits) or containing it (`tenant` for
 * `tenant_id`), nearest first; case is ignored.
 */
export function nearestNames(name: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const wanted = name.toLowerCase();
  const scored = [...new Set(candidates)]
    .filter((c) => c !== '')
    .map((c) => ({ c, lower: c.toLowerCase() }))
    .map(({ c, lower }) => ({ c, d: editDistance(wanted, lower), within: wanted.length >= 3 && lower.includes(wanted) }))
    .filter((x) => x.d <= limit || x.within);
  return scored
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => x.c);
}

/** A table's name compared the way the policy wrote it: qualified when the policy qualified it. */
const tableCandidates = (pattern: string, tables: readonly TableInfo[]) => tables.map((t) => (pattern.includes('.') ? `${t.schema}.${t.name}` : t.name));

function tableProblem(where: string, pattern: string, tables: readonly TableInfo[]): string | undefined {
  if (tables.some((t) => nameMatches(pattern, t))) return undefined;
  const near = nearestNames(pattern, tableCandidates(pattern, tables));
  return `${where}: no table ${JSON.stringify(pattern)}${near.length ? `; nearest: ${near.join(', ')}` : ''}`;
}

/** The tenant column compared as text, so a numeric tenant id and a quoted one in YAML mean the same. */
function asText(db: Database, column: string): string {
  const c = db.quoteIdent(column);
  switch (db.engine) {
    case 'postgres':
      return `CAST(${c} AS text)`;
    case 'mysql':
      return `CAST(${c} AS CHAR)`;
    case 'clickhouse':
      return `toString(${c})`;
    case 'sqlite':
      return `CAST(${c} AS TEXT)`;
  }
}

const TENANT_SUGGESTION_SAMPLE = 1000;

async function tenantProblem(db: Database, hold: LegalHold & { index: number }, tables: readonly TableInfo[]): Promise<string | undefined> {
  const where = `legalHolds.${hold.index}`;
  if (!hold.tenantColumn) return `${where}: tenant hold ${JSON.stringify(hold.target)} names no tenantColumn (set it on the hold or the policy)`;
  const scope = tables.filter((t) => !hold.tables || hold.tables.some((p) => nameMatches(p, t)));
  const withColumn = scope.filter((t) => t.columns.some((c) => c.name === hold.tenantColumn));
  if (withColumn.length === 0) {
    const near = nearestNames(
      hold.tenantColumn,
      scope.flatMap((t) => t.columns.map((c) => c.name)),
    );
    return `${where}.tenantColumn: no table${hold.tables ? ' in the hold' : ''} has a column ${JSON.stringify(hold.tenantColumn)}${near.length ? `; nearest: ${near.join(', ')}` : ''}`;
  }
  const column = asText(db, hold.tenantColumn);
  for (const t of withColumn) {
    const rows = await db.query(`SELECT 1 AS one FROM ${db.qualified(t)} WHERE ${column} = ? LIMIT 1`, [hold.target]);
    if (rows.length > 0) return undefined;
  }
  const seen: string[] = [];
  for (const t of withColumn) {
    const rows = await db.query<{ v: unknown }>(
      `SELECT DISTINCT ${column} AS v FROM ${db.qualified(t)} WHERE ${db.quoteIdent(hold.tenantColumn)} IS NOT NULL LIMIT ${TENANT_SUGGESTION_SAMPLE}`,
    );
    for (const r of rows) seen.push(String(r.v));
  }
  const near = nearestNames(hold.target, seen);
  return `${where}.tenant: no row has ${hold.tenantColumn} = ${JSON.stringify(hold.target)} in ${withColumn.map((t) => `${t.schema}.${t.name}`).join(', ')}${near.length ? `; nearest: ${near.join(', ')}` : ''}`;
}

/**
 * Every table, hold scope and held tenant the policy names must exist in this store: a misspelt hold
 * (`public.chat_log` for `chat_logs`) would otherwise hold nothing and let its rows be deleted. Throws one
 * PolicyError listing each unknown name with the nearest existing ones; nothing is planned or deleted then.
 */
export async function checkPolicyNames(db: Database, policy: RetentionPolicy, tables: readonly TableInfo[], now: Date): Promise<void> {
  const problems: Array<string | undefined> = policy.tables.map((r, i) => tableProblem(`tables.${i}.table`, r.table, tables));
  for (const hold of liveHolds(policy, now)) {
    if (hold.kind === 'table') {
      problems.push(tableProblem(`legalHolds.${hold.index}.table`, hold.target, tables));
      continue;
    }
    const scopes = (hold.tables ?? []).map((p, j) => tableProblem(`legalHolds.${hold.index}.tables.${j}`, p, tables));
    problems.push(...scopes);
    // An unknown scope already fails the run; looking for the tenant in what is left of it would only add noise.
    if (scopes.every((p) => p === undefined)) problems.push(await tenantProblem(db, hold, tables));
  }
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length) {
    throw new PolicyError(
      `${policy.source}: ${found.length === 1 ? 'a name matches' : 'names match'} nothing in ${db.dsn.display}, so nothing was planned or deleted:\n  ${found.join('\n  ')}`,
    );
  }
}
