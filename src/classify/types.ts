import type { Confidence } from '../detect/index.js';

/** What a column holds, as far as retention and exposure are concerned. */
export const CATEGORIES = [
  'credential',
  'password-hash',
  'prompt',
  'completion',
  'chat-transcript',
  'embedding',
  'tool-call',
  'pii.email',
  'pii.phone',
  'pii.ip-address',
  'pii.person-name',
  'payment-card',
  'request-metadata',
  'free-text',
] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * Which evidence a decision rests on: the column's name, its declared type, the sampled values, or its
 * table (sibling columns and their values, the table's name).
 */
export type EvidenceSource = 'name' | 'type' | 'value' | 'context';

export interface Reason {
  source: EvidenceSource;
  /** A sentence about the evidence; never a sampled value. */
  detail: string;
}

export interface CategoryDecision {
  category: Category;
  /** 0…1: name, type and value evidence combined (see docs/classify-and-retention.md). */
  confidence: number;
  /** `name`, `type`, `value`, or a `+`-joined mix: which evidence decided. */
  basis: string;
  reasons: Reason[];
}

/** A secret the detection engine found in a sampled value: its rule and keyed fingerprint, never the secret. */
export interface CredentialSighting {
  ruleId: string;
  fingerprint: string;
  /** The engine's confidence (`low`: a weak value or a checksum that does not verify) and why. */
  confidence: Confidence;
  reason: string;
  /** How many sampled values held it. */
  count: number;
}

export interface ColumnClassification {
  column: string;
  type: string;
  /** Non-null values read. */
  sampled: number;
  categories: CategoryDecision[];
  credentials: CredentialSighting[];
}

export interface TableClassification {
  schema: string;
  name: string;
  columns: ColumnClassification[];
}

export interface StoreClassification {
  /** The connection string without any password. */
  store: string;
  engine: string;
  serverVersion: string;
  tables: TableClassification[];
  /** Tables or columns that could not be read, with the server's message. */
  errors: Array<{ table: string; column?: string; message: string }>;
  sampleSize: number;
  durationMs: number;
}
