import { WardenError } from '../errors.js';

/**
 * The store could not be opened or reached (a refused connection, a rejected login, a database that does
 * not exist, an unwritable file): a run that failed, not a bug. Names the store (password redacted).
 */
export class StoreUnavailableError extends WardenError {
  constructor(location: string, cause: unknown) {
    const e = cause as NodeJS.ErrnoException | undefined;
    super(`cannot open the store ${location}: ${e?.message || e?.code || String(cause)}`, 'STORE_UNAVAILABLE', 3);
  }
}
