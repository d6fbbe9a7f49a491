/** A ProbeContext for probe tests: loopback host, short timeouts, the shipped detector. */
import { getDefaultDetector } from '../../src/detect/index.js';
import type { ProbeContext } from '../../src/scan/types.js';

export function probeContext(port: number, overrides: Partial<ProbeContext> = {}): ProbeContext {
  return {
    host: '127.0.0.1',
    port,
    timeoutMs: 1500,
    maxLevel: 'metadata',
    sample: 0,
    defaultCredentials: false,
    detector: getDefaultDetector(),
    ...overrides,
  };
}
