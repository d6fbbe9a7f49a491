/** A ProbeContext for probe tests: loopback host, short timeouts, the shipped detector. */
import { expandSample, getDefaultDetector } from '../../src/detect/index.js';
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

/** A chat-log record carrying an OpenAI-shaped key generated from the rule's sample template (never a real key). */
export function chatLogWithKey(seed: number): string {
  const key = expandSample('sk-proj-{alnum_-:58}T3BlbkFJ{alnum_-:58}', seed);
  return JSON.stringify({ messages: [{ role: 'user', content: `my key is ${key}, why does it fail?` }] });
}
