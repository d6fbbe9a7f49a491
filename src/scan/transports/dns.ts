import { lookup } from 'node:dns/promises';
import { failure, type TransportFailure } from './result.js';

/** Every address a host name resolves to, within the deadline, or why not. */
export async function resolveHost(host: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<string[] | TransportFailure> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      lookup(host, { all: true, verbatim: true }).then(
        (found) => (found.length ? found.map((a) => a.address) : failure('error', 'no address')),
        (err: NodeJS.ErrnoException) =>
          failure('error', err.code === 'ENOTFOUND' ? 'name does not resolve (ENOTFOUND)' : `name lookup failed (${err.code ?? err.message})`),
      ),
      new Promise<TransportFailure>((resolve) => {
        timer = setTimeout(() => resolve(failure('timeout', `name lookup timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
        onAbort = () => resolve(failure('aborted', 'scan cancelled'));
        opts.signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
  }
}
