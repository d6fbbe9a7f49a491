/**
 * The assessments every service probe returns when it stops short of proving access: not checked (the
 * user's level ended at fingerprint), no usable answer, or credentials required. One wording for all
 * probes, so reports read the same whatever the service.
 */
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
