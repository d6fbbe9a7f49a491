/** warden/scrub: streaming secret redaction on the shared detection engine. */
export { readKeepLines, plantedLineHash, KeepLinesError } from './keep-lines.js';
export {
  scrub,
  createScrubStream,
  createScrubber,
  ScrubStream,
  withheldMarker,
  DEFAULT_MAX_LINE_BYTES,
  type ScrubOptions,
  type MarkerShape,
} from './stream.js';
export { Scrubber, FIELD_RULE_ID, emptyStats, type ScrubFormat, type ScrubStats } from './scrubber.js';
export { maskSecret, MASK_STYLES, type MaskStyle, type MaskContext } from './mask.js';
export { isSensitiveFieldName, sensitiveFieldSpans } from './fields.js';
export {
  createParallelScrubStream,
  createScrubPool,
  defaultScrubThreads,
  ParallelScrubStream,
  ScrubPool,
  ScrubWorkerError,
  WORKERS_FROM_BYTES,
  type ParallelScrubOptions,
  type ScrubPoolOptions,
  type SharedPoolScrubOptions,
} from './parallel.js';
