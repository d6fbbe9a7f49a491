import { startServe, type ServeDaemon, type ServeOptions } from '../../src/serve/index.js';

/**
 * `warden serve` as the tests start it: on a loopback port of its own, and with the first-start admin key
 * handed to `announceKey` (default no one: tests that need a key issue their own). The rest is the test's.
 */
export function startTestServe(options: Omit<ServeOptions, 'listen'>): Promise<ServeDaemon> {
  return startServe({ announceKey: () => undefined, ...options, listen: { host: '127.0.0.1', port: 0 } });
}
