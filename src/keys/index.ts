/** warden/keys: API keys whose leak is rare, recognisable, narrow and short-lived. */
export { KeyStore, KeyNotFoundError, KeyOptionsError, type KeyStoreOptions } from './key-store.js';
export type { KeyVerifier, KeyVerifierOptions } from './verifier.js';
export type { KeyAdmin } from './key-admin.js';
export type { LeakIntake } from './leak-intake.js';
export { generateKey, parseKey, wardenKeysIn, DEFAULT_KEY_PREFIX, KEY_ENVIRONMENTS, type KeyEnvironment } from './format.js';
export { loadKeySecrets, parseKeySecrets, defaultKeySecretPath, KeySecretError, type KeySecret, type KeySecrets } from './secret.js';
export { parseRateLimit, parseQuota, QUOTA_PERIODS, type Quota, type QuotaPeriod, type RateLimit } from './limits.js';
export { scopeAllows, scopesAllow } from './scopes.js';
export { createKeyServer, type KeyServerOptions } from './server.js';
export { parseGithubPublicKeys, verifyGithubSignature, type ReporterPublicKey } from './leak-signature.js';
export { LEAK_POLICIES } from './types.js';
export { CanaryLedger, CANARY_TOPIC } from './canary.js';
export { plantCanary, checkPlantings, CanaryPlantError, type PlantTarget, type PlantingCheck } from './canary-plant.js';
export type {
  ActionContext,
  AuditEntry,
  CanaryInfo,
  CanaryPlanting,
  CanaryTrip,
  CreateCanaryOptions,
  CreateKeyOptions,
  KeyChanges,
  KeyInfo,
  KeyStatus,
  LeakEvent,
  LeakOutcome,
  LeakPolicy,
  LeakReport,
  Verification,
  VerifyReason,
  VerifyRequest,
} from './types.js';
