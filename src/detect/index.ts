/** warden/detect: the secret detection engine every part of Warden shares. */
export { Detector, compileRule, RuleCompileError, type CompiledRule, type DetectorAllowlist, type DetectorOptions } from './engine.js';
export {
  getDefaultDetector,
  loadDetector,
  loadRuleFile,
  loadShippedRuleFiles,
  loadShippedRules,
  regexSafety,
  RuleFileError,
  RULE_FILE_SCHEMA,
  SHIPPED_RULES_DIR,
  type DetectorConfig,
  type LoadedDetector,
  type LoadedRuleFile,
} from './load.js';
export { FIELD_NAME_HINTS } from './field-hints.js';
export { CUT_CONTEXT_BYTES, contextAfter, contextBefore } from './cut-context.js';
export { fingerprintSecret, loadFingerprintKey, defaultFingerprintKeyPath } from './fingerprint.js';
export { DetectionPool } from './pool.js';
export { expandSample } from './samples.js';
export { shannonEntropy } from './entropy.js';
export { crc32, crc32Base62, base62, base62Value } from './checksum.js';
export { CONFIDENCES, type Confidence, type RuleSpec, type RuleFile, type SecretMatch, type BlockSpec } from './types.js';
// The scale every capability shares lives in src/severity.ts; rules declare their severity on it.
export { SEVERITIES, type Severity } from '../severity.js';
