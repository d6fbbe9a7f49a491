/**
 * warden: every capability's public entry, one namespace each. Import a capability directly
 * (`warden/scan`, `warden/keys`, ...) to load only what you use.
 */
export * as detect from './detect/index.js';
export * as scrub from './scrub/index.js';
export * as report from './report/index.js';
export * as scan from './scan/index.js';
export * as keys from './keys/index.js';
export * as store from './store/index.js';
export * as classify from './classify/index.js';
export * as retention from './retention/index.js';
export * as incident from './incident/index.js';
