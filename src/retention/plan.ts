import { classifyStore, type Category, type ClassifyColumnOptions } from '../classify/index.js';
import type { Database, TableInfo } from '../db/index.js';
import { partitionedByTimestamp, supportsNativeTtl, surveyPartitions } from './clickhouse.js';
import type { LegalHold, RetentionPolicy, RetentionRule } from './policy.js';
import { checkPolicyNames, liveHolds, nameMatches } from './resolve.js';
import { countWhere, cutoffFor, deletablePredicate, olderThanCutoff, timestampKind, type RetentionTarget } from './target.js';

export type DeletionMethod =
  | 'batched-delete-by-primary-key'
  | 'batched-delete-by-ctid'
  | 'batched-delete-with-limit'
  | 'batched-delete-by-rowid'
  | 'drop-partitions-then-mutation'
  | 'mutation'
  | 'native-ttl'
  | 'none';

export interface TablePlan {
  table: string;
  /** Why this table is in scope: an explicit `tables` entry, or the categories classification found. */
  basis: 'table' | 'categories';
  categories: Category[];
  windowDays: number;
  timestampColumn?: string;
  tenantColumn?: string;
  /** ISO-8601; rows strictly older are past the window. */
  cutoff?: string;
  oldest?: string | null;
  rows?: number;
  /** Rows past the window that will be deleted. */
  pastWindow?: number;
  /** Rows past the window a tenant hold keeps. */
  heldRows?: number;
  holds: Array<Pick<LegalHold, 'kind' | 'target' | 'reason'> & { expires: string }>;
  method: DeletionMethod;
  methodDetail: string;
  /** Why nothing will be deleted here (no timestamp column, a 0-day window not allowed, a table hold). */
  refused?: string;
  /** Not serialised: what `apply` acts on. */
  target?: RetentionTarget;
}

export interface RetentionPlan {
  store: string;
  engine: string;
  /** The one clock reading every cutoff of this run derives from. */
  now: string;
  tables: TablePlan[];
}

export interface PlanOptions {
  /** The run's clock; read once. */
  now: Date;
  allowZeroWindow?: boolean;
  /** ClickHouse: plan a native TTL clause instead of deleting. */
  nativeTtl?: boolean;
  /** For category rules: the classifier's detector, fingerprint key and sample size. */
  classify: ClassifyColumnOptions & { sampleSize?: number };
}

function activeHolds(policy: RetentionPolicy, now: Date, t: TableInfo) {
  const live = liveHolds(policy, now);
  return {
    table: live.filter((h) => h.kind === 'table' && nameMatches(h.target, t)),
    tenant: live.filter((h) => h.kind === 'tenant' && (!h.tables || h.tables.some((p) => nameMatches(p, t)))),
  };
}

const holdView = (h: LegalHold) => ({ kind: h.kind, target: h.target, reason: h.reason, expires: h.expires.toISOString() });

function methodFor(db: Database, t: TableInfo): { method: DeletionMethod; detail: string } {
  switch (db.engine) {
    case 'postgres':
      return t.primaryKey.length
        ? {
            method: 'batched-delete-by-primary-key',
            detail: `DELETE … WHERE (${t.primaryKey.join(', ')}) IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED), one transaction per batch`,
          }
        : { method: 'batched-delete-by-ctid', detail: 'DELETE … WHERE ctid = ANY(ARRAY(SELECT ctid … LIMIT n)), one transaction per batch' };
    case 'mysql':
      return {
        method: 'batched-delete-with-limit',
        detail: `DELETE … ${t.primaryKey.length ? `ORDER BY ${t.primaryKey.join(', ')} ` : ''}LIMIT n, one statement per batch`,
      };
    case 'sqlite':
      return { method: 'batched-delete-by-rowid', detail: 'DELETE … WHERE rowid IN (SELECT rowid … LIMIT n)' };
    case 'clickhouse':
      return { method: 'mutation', detail: 'ALTER TABLE … DELETE WHERE …, then wait for system.mutations is_done' };
  }
}

/** The rule for a table: an explicit `tables` entry wins; else the shortest window among its categories. */
function ruleFor(
  policy: RetentionPolicy,
  t: TableInfo,
  found: Set<Category>,
): { rule: RetentionRule; basis: 'table' | 'categories'; categories: Category[] } | undefined {
  const explicit = policy.tables.find((r) => nameMatches(r.table, t));
  if (explicit) return { rule: explicit, basis: 'table', categories: [...found] };
  const matched = [...found].filter((c) => policy.categories[c]);
  if (matched.length === 0) return undefined;
  matched.sort((a, b) => policy.categories[a]!.windowDays - policy.categories[b]!.windowDays);
  return { rule: policy.categories[matched[0]!]!, basis: 'categories', categories: matched };
}

/**
 * Reads the store and says, per table, what retention would delete and how. Changes nothing. Throws a
 * PolicyError when the policy names a table, hold scope or held tenant this store does not have.
 */
export async function planRetention(db: Database, policy: RetentionPolicy, options: PlanOptions): Promise<RetentionPlan> {
  const now = options.now;
  const tables = await db.listTables();
  await checkPolicyNames(db, policy, tables, now);
  const found = new Map<string, Set<Category>>();
  if (Object.keys(policy.categories).length > 0) {
    const report = await classifyStore(db, { ...options.classify, includeTable: (t) => !policy.tables.some((r) => nameMatches(r.table, t)) });
    for (const t of report.tables) {
      const cats = new Set<Category>();
      for (const c of t.columns) for (const d of c.categories) if (d.confidence >= policy.minConfidence) cats.add(d.category);
      found.set(`${t.schema}.${t.name}`, cats);
    }
  }
  const plan: RetentionPlan = { store: db.dsn.display, engine: db.engine, now: now.toISOString(), tables: [] };
  const version = db.engine === 'clickhouse' ? await db.serverVersion() : '';
  for (const info of tables) {
    const name = `${info.schema}.${info.name}`;
    const chosen = ruleFor(policy, info, found.get(name) ?? new Set());
    if (!chosen) continue;
    const { rule } = chosen;
    const holds = activeHolds(policy, now, info);
    const entry: TablePlan = {
      table: name,
      basis: chosen.basis,
      categories: chosen.categories,
      windowDays: rule.windowDays,
      holds: [...holds.table, ...holds.tenant].map(holdView),
      method: 'none',
      methodDetail: '',
    };
    plan.tables.push(entry);
    const column = rule.timestampColumns.map((c) => info.columns.find((x) => x.name === c)).find((c) => c !== undefined);
    if (!column) {
      entry.refused = `no timestamp column (looked for ${rule.timestampColumns.join(', ')}); name one with timestampColumn`;
      continue;
    }
    entry.timestampColumn = column.name;
    const kind = timestampKind(db.engine, column.type);
    if (!kind) {
      entry.refused = `timestamp column ${column.name} has type ${column.type}, which does not hold a point in time`;
      continue;
    }
    const tenantColumn = holds.tenant.map((h) => h.tenantColumn).find(Boolean) ?? rule.tenantColumn;
    const target: RetentionTarget = {
      info,
      timestampColumn: column.name,
      kind,
      cutoff: cutoffFor(now, rule.windowDays, kind),
      heldTenants: holds.tenant.map((h) => h.target),
      ...(tenantColumn ? { tenantColumn } : {}),
    };
    entry.cutoff = target.cutoff.toISOString();
    if (tenantColumn) entry.tenantColumn = tenantColumn;
    const ts = db.quoteIdent(column.name);
    const [stats] = await db.query<{ oldest: unknown; n: unknown }>(
      `SELECT ${db.engine === 'clickhouse' ? `toUnixTimestamp(toDateTime(min(${ts})))` : `min(${ts})`} AS oldest, count(*) AS n FROM ${db.qualified(info)}`,
    );
    entry.rows = Number(stats?.n ?? 0);
    entry.oldest = entry.rows === 0 ? null : toIso(stats?.oldest, db.engine);
    const past = await countWhere(db, target, olderThanCutoff(db, target));
    if (holds.table.length) {
      entry.pastWindow = 0;
      entry.heldRows = past;
      entry.refused = `legal hold on the table: ${holds.table.map((h) => `${h.reason} (until ${h.expires.toISOString().slice(0, 10)})`).join('; ')}`;
      continue;
    }
    if (holds.tenant.length && !info.columns.some((c) => c.name === tenantColumn)) {
      entry.refused = `a tenant legal hold applies but the table has no tenant column${tenantColumn ? ` ${tenantColumn}` : ''}; set tenantColumn or scope the hold with tables:`;
      continue;
    }
    entry.pastWindow = await countWhere(db, target, deletablePredicate(db, target));
    entry.heldRows = past - entry.pastWindow;
    if (rule.windowDays === 0 && !options.allowZeroWindow) {
      entry.refused = 'a 0-day window deletes every row older than now; pass --allow-zero-window to mean it';
      continue;
    }
    entry.target = target;
    if (db.engine === 'clickhouse' && options.nativeTtl) {
      entry.method = 'native-ttl';
      entry.methodDetail = `ALTER TABLE … MODIFY TTL ${column.name} + INTERVAL ${rule.windowDays} DAY`;
      if (!supportsNativeTtl(version))
        entry.refused = `ClickHouse ${version} has no TTL clause (added in 19.6); run without --native-ttl to delete by partition or mutation, or upgrade`;
      else if (holds.tenant.length) entry.refused = 'a native TTL cannot honour tenant legal holds; run without --native-ttl';
      continue;
    }
    const m = methodFor(db, info);
    entry.method = m.method;
    entry.methodDetail = m.detail;
    if (db.engine === 'clickhouse' && (await partitionedByTimestamp(db, target))) {
      const survey = await surveyPartitions(db, target);
      entry.method = 'drop-partitions-then-mutation';
      entry.methodDetail = `DROP PARTITION for ${survey.expired.length} fully expired partition(s) (${survey.expired.reduce((n, p) => n + p.rows, 0)} rows); ${survey.mixed} partition(s) straddle the cutoff or hold kept rows and go to ALTER TABLE … DELETE`;
    }
  }
  return plan;
}

function toIso(value: unknown, engine: string): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (engine === 'clickhouse') return new Date(Number(value) * 1000).toISOString();
  const d = new Date(String(value));
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
}
