/**
 * The assessments every service probe returns when it stops short of proving access: not checked (the
 * user's level ended at fingerprint), no usable answer, or credentials required. One wording for all
 * probes, so reports read the same whatever the service. Also the one proof of a SQL login.
 */
import { randomInt } from 'node:crypto';
import type { Assessment, Evidence } from './types.js';

export function accessNotChecked(product: string, evidence: Evidence): Assessment {
  return { auth: 'unknown', severity: 'info', title: `${product} found (access not checked)`, evidence };
}

/** The request that needs authorisation gave no answer or one the probe does not understand. */
export function accessUnclear(product: string, evidence: Evidence, why: string): Assessment {
  evidence.notes.push(why);
  return { auth: 'unknown', severity: 'info', title: `${product} found, access could not be checked`, evidence };
}

export function authRequired(product: string, evidence: Evidence, why: string, reproduce?: string): Assessment {
  evidence.notes.push(why);
  return { auth: 'required', severity: 'info', title: `${product} requires authentication`, evidence, ...(reproduce ? { reproduce } : {}) };
}

/** Bytes as a short human size (model files, collections): `4.7 GB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * A SQL login is proven by an answer only a server that ran the query can give: the product of two random
 * numbers. A login OK (PostgreSQL's AuthenticationOk and ReadyForQuery, MySQL's OK packet) is a few
 * plausible bytes a look-alike can send to anyone. Throws when the answer is wrong.
 */
export async function proveSession(ask: (sql: string) => Promise<string | undefined>): Promise<void> {
  // Both under 46,341: the product fits a 32-bit integer, PostgreSQL's type for these literals.
  const [a, b] = [randomInt(1000, 46_000), randomInt(1000, 46_000)];
  const answer = await ask(`SELECT CAST(${a} * ${b} AS CHAR(20)) AS p`);
  if (answer?.trim() !== String(a * b)) throw new Error('no proof of a session: the product of two random numbers was not answered');
}
