import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { WardenError } from '../errors.js';
import type { Category } from '../classify/index.js';

/** `schema/retention-policy.schema.json`, two folders up from both `src/retention` and `dist/retention`. */
export const RETENTION_POLICY_SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../schema/retention-policy.schema.json', import.meta.url)), 'utf8')) as object;

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

function lineOf(doc: Document, counter: LineCounter, error: ErrorObject): number | undefined {
  const path = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const extra = (error.params as { additionalProperty?: string }).additionalProperty ?? (error.keyword === 'propertyNames' ? (error.params as { propertyName?: string }).propertyName : undefined);
  let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  if (extra !== undefined && isMap(node)) {
    const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === extra);
    node = (pair?.key as { range?: [number, number, number] }) ?? node;
  }
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function explain(error: ErrorObject): string {
  const at = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the policy';
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${at}: unknown field ${JSON.stringify(p.additionalProperty)}`;
  if (error.keyword === 'propertyNames') return `${at}: unknown category ${JSON.stringify(p.propertyName)}`;
  if (error.keyword === 'pattern') return `${at}: ${/expires$/.test(error.instancePath) ? 'expected an ISO-8601 date such as 2026-06-30' : 'expected a window in whole days such as 30d'}`;
  return `${at}: ${error.message ?? 'invalid'}`;
}

/** Errors worth showing: `oneOf` branches report every failed alternative, so keep the most specific one per place. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'type' && e.keyword !== 'if');
  const chosen = specific.length ? specific : errors;
  const seen = new Set<string>();
  return chosen.filter((e) => {
    const key = `${e.instancePath}:${e.keyword}:${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Parses and validates a YAML (or JSON) policy text; `source` names it in errors. */
export function parsePolicy(text: string, source: string): RetentionPolicy {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new PolicyError(`${source}:${counter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() as unknown;
  if (!validate(raw)) {
    const lines = relevant(validate.errors ?? []).map((e) => {
      const line = lineOf(doc, counter, e);
      return `${source}${line ? `:${line}` : ''}: ${explain(e)}`;
    });
    throw new PolicyError(lines.join('\n'));
  }
  const policy = raw as RawPolicy;
  const defaultColumns = list(policy.timestampColumn) ?? DEFAULT_TIMESTAMP_COLUMNS;
  const toRule = (r: RawRule): RetentionRule => {
    const o = typeof r === 'string' ? { window: r } : r;
    const tenantColumn = (typeof r === 'string' ? undefined : r.tenantColumn) ?? policy.tenantColumn;
    return { windowDays: days(o.window), timestampColumns: list(typeof r === 'string' ? undefined : r.timestampColumn) ?? defaultColumns, ...(tenantColumn ? { tenantColumn } : {}) };
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
