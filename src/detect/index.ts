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
export { fingerprintSecret, loadFingerprintKey, defaultFingerprintKeyPath } from './fingerprint.js';
export { expandSample } from './samples.js';
export { shannonEntropy } from './entropy.js';
export { crc32, crc32Base62, base62, base62Value } from './checksum.js';
export { CONFIDENCES, SEVERITIES, type Confidence, type RuleSpec, type RuleFile, type SecretMatch, type Severity, type BlockSpec } from './types.js';
