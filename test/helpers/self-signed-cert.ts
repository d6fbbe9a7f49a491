/** A throwaway self-signed certificate made by `openssl` in a temporary folder, for TLS test servers. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  key: string;
  cert: string;
}

/**
 * `subject` as openssl writes it, e.g. `/CN=kube-apiserver/O=warden-test`; `altNames` as openssl's
 * subjectAltName, e.g. `IP:127.0.0.1`, for a client that checks the name it connected to.
 */
export function makeSelfSignedCert(subject: string, altNames?: string): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  try {
    const san = altNames ? ['-addext', `subjectAltName=${altNames}`] : [];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '1',
        '-subj',
        subject,
        ...san,
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
