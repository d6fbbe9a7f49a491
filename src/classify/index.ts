/** warden/classify: which columns hold prompts, chats, embeddings, credentials and PII, by name, type and sampled values. */
export {
  CATEGORIES,
  type Category,
  type CategoryDecision,
  type ColumnClassification,
  type CredentialSighting,
  type EvidenceSource,
  type Reason,
  type StoreClassification,
  type TableClassification,
} from './types.js';
export { classifyColumn, DEFAULT_MIN_CONFIDENCE, type ClassifyColumnOptions } from './classifier.js';
export { classifyStore, DEFAULT_SAMPLE_SIZE, type ClassifyStoreOptions } from './store.js';
export { tableContext, type ContextEvidence, type SampledColumn } from './context.js';
export { classifiedColumns, columnsWith, credentialFindings, formatClassificationMarkdown, formatClassificationTable } from './format.js';
export { luhnValid } from './shapes.js';
export { normalizeColumnName } from './names.js';
