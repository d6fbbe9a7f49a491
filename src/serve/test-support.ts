// Shared by this folder's tests and bench/serve: finding fixtures.
import type { Finding } from '../scan/index.js';
import type { Severity } from '../detect/index.js';

/** A finding as the scanner reports one, for tests that exercise history without a network. */
export function syntheticFinding(host: string, port: number, severity: Severity = 'high', notes: string[] = []): Finding {
  return {
    id: `redis:${host}:${port}`,
    host,
    port,
    service: 'redis',
    probe: 'redis',
    title: 'Redis answers without authentication',
    auth: 'none',
    severity,
    evidence: { version: '7.0.15', databases: [{ name: 'db0', tables: [{ name: 'keys', rows: 12 }] }], notes },
    reproduce: `redis-cli -h ${host} -p ${port} INFO`,
    remediation: 'Set requirepass or ACL users and bind to a private address.',
  };
}
