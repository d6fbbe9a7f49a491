import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { WardenError } from '../errors.js';
import { LocatedYaml } from '../yaml-schema.js';
import type { Category } from '../classify/index.js';

/** `schema/retention-policy.schema.json`, two folders up from both `src/retention` and `dist/retention`. */
export const RETENTION_POLICY_SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../schema/retention-policy.schema.json', import.meta.url)), 'utf8'),
) as object;

const validate = new Ajv({ allErrors: true, strict: false }).compile(RETENTION_POLICY_SCHEMA);

/** A policy that does not parse or fails its schema; the message names the file, line and field. */
export class PolicyError extends WardenError {
  constructor(message: string) {
    super(message, 'RETENTION_POLICY', 2);
    this.name = 'PolicyError';
  }
}

export interface RetentionRule {
  windowDays: number;
  /** Candidates tried in order; the first the table has wins. */
  timestampColumns: string[];
  tenantColumn?: string;
}

export interface LegalHold {
  kind: 'table' | 'tenant';
  /** The table (`schema.table` or `table`) or the tenant id held. */
  target: string;
  tenantColumn?: string;
  /** A tenant hold only in these tables (all tables when absent). */
  tables?: string[];
  reason: string;
  expires: Date;
}

export interface RetentionPolicy {
  source: string;
  categories: Partial<Record<Category, RetentionRule>>;
  tables: Array<RetentionRule & { table: string }>;
  legalHolds: LegalHold[];
  minConfidence: number;
}

/** Column names tried when a policy names none: the usual ways log tables call their row time. */
export const DEFAULT_TIMESTAMP_COLUMNS = ['created_at', 'timestamp', 'ts', 'event_time', 'time', 'logged_at', 'inserted_at'];
export const DEFAULT_POLICY_MIN_CONFIDENCE = 0.6;

type RawRule = string | { window: string; timestampColumn?: string | string[]; tenantColumn?: string };
interface RawPolicy {
  version: 1;
  timestampColumn?: string | string[];
  tenantColumn?: string;
  minConfidence?: number;
  categories?: Record<string, RawRule>;
  tables?: Array<{ table: string; window: string; timestampColumn?: string | string[]; tenantColumn?: string }>;
  legalHolds?: Array<{ table?: string; tenant?: string; tenantColumn?: string; tables?: string[]; reason: string; expires: string }>;
}

const days = (window: string) => Number(window.slice(0, -1));
const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** Messages for this schema's category names and patterns; the rest use the generic wording. */
function explain(error: ErrorObject, at: string): string | undefined {
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'propertyNames') return `${at}: unknown category ${JSON.stringify(p.propertyName)}`;
  if (error.keyword === 'pattern')
    return `${at}: ${/expires$/.test(error.instancePath) ? 'expected an ISO-8601 date such as 2026-06-30' : 'expected a window in whole days such as 30d'}`;
  return undefined;
}

/** Errors worth showing: `oneOf` branches report every failed alternative, so keep the most specific one per place. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'type' && e.keyword !== 'if');
  return specific.length ? specific : errors;
}

/** Parses and validates a YAML (or JSON) policy text; `source` names it in errors. */
export function parsePolicy(text: string, source: string): RetentionPolicy {
  const toError = (message: string) => new PolicyError(message);
  const yaml = LocatedYaml.parse(text, source, toError);
  const policy = yaml.validate(yaml.toJS(), validate, toError, { explain, keep: relevant }) as RawPolicy;
  const defaultColumns = list(policy.timestampColumn) ?? DEFAULT_TIMESTAMP_COLUMNS;
  const toRule = (r: RawRule): RetentionRule => {
    const o = typeof r === 'string' ? { window: r } : r;
    const tenantColumn = (typeof r === 'string' ? undefined : r.tenantColumn) ?? policy.tenantColumn;
    return {
      windowDays: days(o.window),
      timestampColumns: list(typeof r === 'string' ? undefined : r.timestampColumn) ?? defaultColumns,
      ...(tenantColumn ? { tenantColumn } : {}),
    };
  };
  const holds = (policy.legalHolds ?? []).map((h, i): LegalHold => {
    const expires = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(h.expires) || h.expires.length === 10 ? h.expires : `${h.expires}Z`);
    if (Number.isNaN(expires.getTime())) throw new PolicyError(`${source}: legalHolds.${i}.expires: not a valid date`);
    const tenantColumn = h.tenantColumn ?? policy.tenantColumn;
    return {
      kind: h.table ? 'table' : 'tenant',
      target: (h.table ?? h.tenant)!,
      reason: h.reason,
      expires,
      ...(tenantColumn && h.tenant ? { tenantColumn } : {}),
      ...(h.tables ? { tables: h.tables } : {}),
    };
  });
  return {
    source,
    categories: Object.fromEntries(Object.entries(policy.categories ?? {}).map(([c, r]) => [c, toRule(r)])),
    tables: (policy.tables ?? []).map((t) => ({ table: t.table, ...toRule(t) })),
    legalHolds: holds,
    minConfidence: policy.minConfidence ?? DEFAULT_POLICY_MIN_CONFIDENCE,
  };
}

export function loadPolicy(path: string): RetentionPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parsePolicy(text, path);
}
