import { fingerprintSecret } from '../detect/index.js';

export type MaskStyle = 'full' | 'partial' | 'fingerprint';
export const MASK_STYLES: readonly MaskStyle[] = ['full', 'partial', 'fingerprint'];

export interface MaskContext {
  style: MaskStyle;
  /** Required for `fingerprint`. */
  fingerprintKey?: Buffer;
}

/** Characters safe inside a JSON string and a shell word; anything kept from a secret must be one. */
const SAFE = /^[A-Za-z0-9_.-]*$/;
const KEEP_LAST = 4;
/** Below this a secret keeps nothing: its last characters would be too large a share of it. */
const MIN_LENGTH_FOR_PARTIAL = 20;

/**
 * The text that replaces a secret. It never contains `"` or `\`, so a redacted JSON line stays valid.
 * `partial` keeps only a rule's declared non-secret prefix and the last 4 characters.
 */
export function maskSecret(ruleId: string, secret: string, ctx: MaskContext, keepPrefix?: string): string {
  if (ctx.style === 'fingerprint') {
    if (!ctx.fingerprintKey) throw new Error('fingerprint masking needs a key');
    return `[REDACTED:${ruleId}:${fingerprintSecret(ruleId, secret, ctx.fingerprintKey)}]`;
  }
  const full = `[REDACTED:${ruleId}]`;
  if (ctx.style === 'full' || secret.length < MIN_LENGTH_FOR_PARTIAL) return full;
  const prefix = keepPrefix && secret.startsWith(keepPrefix) && SAFE.test(keepPrefix) ? keepPrefix : '';
  const last = secret.slice(-KEEP_LAST);
  return `${prefix}${full}${SAFE.test(last) ? last : ''}`;
}
