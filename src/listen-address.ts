import type { Server } from 'node:net';
import { UsageError } from './errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses where a server binds: `HOST:PORT`, `[v6]:PORT`, or a bare `PORT` (on 127.0.0.1, so leaving the
 * host out never exposes anything). `label` names the flag or field in the error.
 */
export function parseListenAddress(text: string, label = '--listen'): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new UsageError(`${label}: expected HOST:PORT such as 127.0.0.1:7470 (or a port alone for 127.0.0.1), got ${JSON.stringify(text)}`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/**
 * Binds `server` and resolves once it listens; rejects with the bind error (EADDRINUSE, EACCES, …). A later
 * error of the listening server (an accept failing with EMFILE when descriptors run out, say) leaves it
 * listening, and is reported as a process warning on stderr rather than crashing the process or going unseen.
 */
export function listenAt(server: Server, address: ListenAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      server.on('error', (err: NodeJS.ErrnoException) =>
        process.emitWarning(`server on ${address.host}:${address.port}: ${err.code ?? err.message}`, 'WardenServerWarning'),
      );
      resolve();
    });
  });
}
