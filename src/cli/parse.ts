import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** The one count parser for flags (`--sample`, `--concurrency`, `--max-rows`, …): digits only, from 1 to `max`. */
export function parsePositiveInt(text: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) {
    throw new UsageError(`${flag}: expected a whole number ${max === Number.MAX_SAFE_INTEGER ? 'above 0' : `from 1 to ${max}`}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** `--store`, for every command that keeps state: where Warden's keys, incidents and history live. */
export const STORE_HELP = 'SQLite file, :memory: or postgres://… holding incidents and keys (default: WARDEN_STORE, else ~/.local/share/warden/warden.db)';

/** Parses sizes such as `8MB`, `512k`, `1048576`. */
export function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${flag}: expected a size such as 8MB, got ${JSON.stringify(text)}`);
  return Math.floor(Number(m[1]) * unit);
}

// One duration and one listen-address parser for flags and `warden.yaml`; imported from their own
// modules, not config/index.ts, so a command that parses a flag does not load the daemon's code.
export { parseDuration } from '../duration.js';
export { parseListenAddress } from '../listen-address.js';
