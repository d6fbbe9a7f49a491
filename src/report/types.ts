import type { Confidence, Severity } from '../detect/index.js';

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

/** The one shape every formatter reads; `warden detect` and the exposure scanner both map onto it. */
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
  /** The commit that added the line, for findings in git history. */
  commit?: ReportCommit;
}

export interface ReportCommit {
  sha: string;
  /** `Name <email>` as git records it. */
  author: string;
  /** ISO 8601 author date. */
  date: string;
}

/** What a formatter may say about a rule beyond its id and title. */
export interface ReportRule {
  id: string;
  title: string;
  severity: Severity;
  description?: string;
  helpUri?: string;
}

export interface ReportTool {
  name: string;
  version: string;
  informationUri?: string;
}
