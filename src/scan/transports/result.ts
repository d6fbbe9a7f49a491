/** Why a network step gave nothing usable. Transports return this instead of throwing. */
export interface TransportFailure {
  ok: false;
  reason: 'refused' | 'timeout' | 'closed' | 'too-large' | 'aborted' | 'protocol' | 'error';
  message: string;
}

export function failure(reason: TransportFailure['reason'], message: string): TransportFailure {
  return { ok: false, reason, message };
}

export function isFailure(value: unknown): value is TransportFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/** First bytes of a TLS record (alert 0x15 or handshake 0x16, version 3.x): a TLS server on a plain port. */
export function looksLikeTls(data: Buffer): boolean {
  return data.length >= 2 && (data[0] === 0x15 || data[0] === 0x16) && data[1] === 0x03;
}
