/**
 * TLS for the scanner's transports. Any certificate is accepted: a scan proves that a service answers,
 * not that it can be trusted. Only public certificate facts (subject, issuer) are ever reported.
 */
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { failure, type TransportFailure } from './result.js';

/** Who the server's certificate says it is. */
export interface TlsPeer {
  /** e.g. `CN=kube-apiserver, O=system:masters`. */
  subject: string;
  issuer: string;
}

/** SNI carries a host name only; an address is sent without one (RFC 6066). */
export function tlsClientOptions(host: string): ConnectionOptions {
  return { rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) };
}

/** The peer did not complete a TLS handshake: it speaks plain, garbage, or closed mid-handshake. */
export function isHandshakeFailure(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /before secure TLS connection/.test(err.message);
}

const NAME_FIELDS = ['CN', 'O', 'OU', 'L', 'ST', 'C'] as const;

/** A certificate name as `CN=…, O=…`: standard fields only, each capped, so a hostile certificate stays short. */
function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  const fields = name as unknown as Record<string, string | string[] | undefined>;
  return NAME_FIELDS.flatMap((field) => {
    const value = fields[field];
    return value === undefined ? [] : [`${field}=${[value].flat().join('+').slice(0, 128)}`];
  }).join(', ');
}

export function tlsPeer(socket: TLSSocket): TlsPeer {
  const cert = socket.getPeerCertificate();
  return { subject: distinguishedName(cert.subject), issuer: distinguishedName(cert.issuer) };
}

/** One handshake, within the deadline, for the peer's certificate; nothing is sent after it. */
export function readTlsPeer(host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<TlsPeer | TransportFailure> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: TlsPeer | TransportFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(value);
    };
    const socket = connect({ host, port, ...tlsClientOptions(host) }, () => settle(tlsPeer(socket)));
    const onAbort = () => settle(failure('aborted', 'scan cancelled'));
    const timer = setTimeout(() => settle(failure('timeout', `no TLS handshake within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return settle(failure('refused', err.code));
      settle(failure(isHandshakeFailure(err) ? 'protocol' : 'error', `no TLS handshake (${err.code ?? err.message})`));
    });
  });
}
