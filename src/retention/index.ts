/** warden/retention: policies that map data categories to windows, plans, bounded deletion, verification and audit. */
export {
  loadPolicy,
  parsePolicy,
  PolicyError,
  RETENTION_POLICY_SCHEMA,
  DEFAULT_TIMESTAMP_COLUMNS,
  type LegalHold,
  type RetentionPolicy,
  type RetentionRule,
} from './policy.js';
export { planRetention, type DeletionMethod, type PlanOptions, type RetentionPlan, type TablePlan } from './plan.js';
export { applyRetention, DEFAULT_APPLY_OPTIONS, type ApplyOptions, type ApplyResult, type TableResult } from './apply.js';
export { createAuditLog, defaultAuditPath, currentActor, type AuditLog, type AuditRecord } from './audit.js';
export { cutoffFor, timestampKind, type TimestampKind } from './target.js';
export { supportsNativeTtl } from './clickhouse.js';
export { deletionSummary, formatPlanTable, formatApplyTable, planToJson } from './format.js';
