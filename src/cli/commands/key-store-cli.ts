import { KeyStore } from '../../keys/index.js';
import { UsageError } from '../../errors.js';
import { toJson } from '../../report/index.js';

/**
 * What every `warden keys` subcommand shares (the canary commands too): the store flag, a key store
 * opened for one command, how a result is printed, and a key read from stdin.
 */
export interface StoreFlag {
  store?: string;
}

export async function withKeys<T>(opts: StoreFlag, fn: (keys: KeyStore) => Promise<T>): Promise<T> {
  const keys = await KeyStore.open(opts.store ? { store: opts.store } : {});
  try {
    return await fn(keys);
  } finally {
    await keys.close();
  }
}

export function scopesOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

export function print(data: unknown, json: boolean | undefined, human: () => string): void {
  process.stdout.write(json ? toJson(data) : human() + '\n');
}

/** A key from stdin (never the command line, where it would land in shell history and the process list). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    if (bytes > 4096) throw new UsageError('stdin holds more than one key');
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}
