import { startServe, type ServeDaemon, type ServeOptions } from '../../src/serve/index.js';

/**
 * `warden serve` as the tests start it: on a loopback port of its own, with the first-start admin key
 * handed to no one (tests issue their own keys). The rest is the test's.
 */
export function startTestServe(options: Omit<ServeOptions, 'listen' | 'announceKey'>): Promise<ServeDaemon> {
  return startServe({ ...options, announceKey: () => undefined, listen: { host: '127.0.0.1', port: 0 } });
}
