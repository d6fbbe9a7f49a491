/** warden/incident: AI-specific incident response, from an exposed dump or store to revoked keys, deadlines and a report. */
export { INCIDENT_KINDS, INCIDENT_STATUSES, SUBJECT_KINDS } from './types.js';
export type {
  AtlasTag,
  ClockStart,
  Deadline,
  DeadlineRule,
  ExposedCategory,
  Incident,
  IncidentKind,
  IncidentRegimes,
  IncidentStatus,
  ProviderCredentials,
  SubjectKind,
  SubjectSummary,
  TimelineEntry,
  TriageResult,
  TriageStatus,
  WardenKeyFinding,
} from './types.js';
export {
  IncidentStore,
  IncidentNotFoundError,
  IncidentOptionsError,
  type IncidentStatusView,
  type OpenIncidentOptions,
  type ProgressNote,
  type RecordEntry,
} from './incident-store.js';
export { recordCanaryTrip, canaryOrigin } from './canary.js';
export {
  loadPlaybooks,
  getPlaybook,
  parsePlaybook,
  toCacao,
  PlaybookError,
  PLAYBOOK_SCHEMA,
  PLAYBOOKS_DIR,
  type Playbook,
  type PlaybookStep,
  type PlaybookPhase,
  type AutomatedAction,
} from './playbook.js';
export { REGIMES, buildRegimes, parseDeadlineRule, computeDeadlines, addBusinessDays, addMonths, timeLeft } from './deadlines.js';
export {
  triage,
  retriage,
  withoutSubjectIds,
  TriageFailedError,
  type TriageOptions,
  type RetriageOptions,
  type RetriageResult,
  type NewCredential,
} from './triage.js';
export type { TableCursor, TableCursors } from './cursors.js';
export { isLiveSource, identifySource, TriageSourceError, DEFAULT_MAX_ROWS_PER_TABLE, type DumpFormat, type SourceIdentity } from './sources.js';
export { renderHtml, renderMarkdown, type ReportInput } from './report.js';
export { triageFindings } from './findings.js';
export {
  respondToExposure,
  retriageExposure,
  isCriticalExposure,
  startDeadline,
  DEFAULT_TRIAGE_TIMEOUT_MS,
  DEFAULT_RETRIAGE_ROWS,
  type AbortDeadline,
  type ExposureResponse,
  type ExposureResponseOptions,
  type ExposureRetriage,
} from './respond.js';
