/** Mutual TLS: the verified client certificate's subject CN or a SAN entry names the identity. */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Identity } from './identity.js';

export type CertificateIdentitySource = 'subject-cn' | 'san-dns' | 'san-email' | 'san-uri';

export interface MtlsConfig {
  identityFrom?: CertificateIdentitySource;
  /** identity -> scopes; an identity not listed is authenticated but holds no scope. */
  identities?: Record<string, string[]>;
}

const SAN_PREFIX: Record<Exclude<CertificateIdentitySource, 'subject-cn'>, string> = { 'san-dns': 'DNS:', 'san-email': 'email:', 'san-uri': 'URI:' };

function identityName(cert: PeerCertificate, from: CertificateIdentitySource): string | null {
  if (from === 'subject-cn') {
    const cn = cert.subject?.CN;
    return typeof cn === 'string' && cn ? cn : null;
  }
  const prefix = SAN_PREFIX[from];
  const entry = (cert.subjectaltname ?? '').split(', ').find((e) => e.startsWith(prefix));
  return entry ? entry.slice(prefix.length) : null;
}

/**
 * The identity of an authorised TLS peer, or null: no certificate, or one the listener's client CA
 * did not verify (the listener asks for certificates without requiring them, so other credentials
 * still work on the same port).
 */
export function certificateIdentity(socket: TLSSocket, config: MtlsConfig): Identity | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject) return null;
  const name = identityName(cert, config.identityFrom ?? 'subject-cn');
  if (!name) return null;
  return { kind: 'mtls', subject: name, scopes: config.identities?.[name] ?? [] };
}
