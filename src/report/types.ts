import type { Confidence } from '../detect/index.js';
import type { Severity } from '../severity.js';

/**
 * Where a finding sits: a file path (relative paths stay relative) or any URI (a scanned endpoint).
 * Lines and columns are 1-based; columns count UTF-16 code units; the end column is exclusive.
 */
export interface ReportLocation {
  uri: string;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
}

/**
 * The one finding shape every formatter reads. Each capability maps its own findings onto it (`warden detect`'s
 * file findings, the scanner's exposures) and keeps what only it knows in `details`.
 */
export interface ReportFinding {
  ruleId: string;
  title: string;
  severity: Severity;
  location: ReportLocation;
  /** Keyed fingerprint that identifies the finding across runs without revealing any secret. */
  fingerprint: string;
  /** How sure a credential finding is (`warden detect`); absent where it does not apply. */
  confidence?: Confidence;
  /** Why that confidence ("checksum does not verify"); never holds a secret. */
  reason?: string;
  /** Extra sentence for the reader; never holds a secret. Defaults to the title. */
  message?: string;
  /** Full id of the commit that added the line, for findings in git history: the table and message name it. */
  commit?: string;
  /**
   * What the capability knows beyond the shared fields (the scanner: auth state, evidence, remediation; history:
   * commit, author, date), as SARIF result properties; the JSON a capability prints is its own document. Never
   * holds a secret.
   */
  details?: Record<string, unknown>;
}

/** What a formatter may say about a rule beyond its id and title. */
export interface ReportRule {
  id: string;
  title: string;
  severity: Severity;
  description?: string;
  helpUri?: string;
  /** What to do about it (a probe's remediation); default: the description, and where to rotate (`helpUri`). */
  help?: string;
}

export interface ReportTool {
  name: string;
  version: string;
  informationUri?: string;
}

/** One run of a tool as SARIF `invocations` records it (the scanner's start and end). */
export interface ReportInvocation {
  startTimeUtc: string;
  endTimeUtc: string;
  executionSuccessful: boolean;
}
